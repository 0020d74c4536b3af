/* test_net.c - network descriptions: the full-size DeepLabv2-ResNets
 * (parameter counts, logit sizes, names) and the input-size checks,
 * without allocating the networks. */
#include <string.h>

#include "check.h"
#include "nn/net.h"

static void build(dx_net *net, int depth, int style, int classes)
{
    dx_arch a;
    dx_err err;
    dx_arch_defaults(&a, DX_NET_DEEPLABV2);
    a.depth = depth;
    dx_arch_depth_blocks(depth, a.blocks);
    a.style = style;
    a.classes = classes;
    CHECK(dx_net_build(net, &a, &err) == 0, "build deeplabv2-r%d", depth);
}

static void logits(const dx_net *net, int H, int W, int want_h, int want_w,
                   const char *what)
{
    int h[2048], w[2048];
    dx_err err;
    int ok = net->nvalue <= 2048 && dx_net_sides(net, H, W, h, w, &err) == 0;
    CHECK(ok && h[net->nvalue - 1] == want_h && w[net->nvalue - 1] == want_w,
          "%s: %dx%d (HxW) gives %dx%d logits (want %dx%d)", what, H, W,
          ok ? h[net->nvalue - 1] : -1, ok ? w[net->nvalue - 1] : -1, want_h,
          want_w);
}

static int find(const dx_net *net, const char *name)
{
    for (int i = 0; i < net->nt; i++)
        if (!strcmp(net->t[i].name, name))
            return i;
    return -1;
}

int main(void)
{
    dx_net net;
    size_t stored, frozen = 0, head_trained = 0;
    /* the DACS model: 43,901,068 parameters with all four head branches,
     * 105,344 of them the frozen BN affine */
    build(&net, 101, DX_STYLE_CAFFE, 19);
    CHECK(dx_net_params(&net, &stored) == 43901068,
          "R101, 19 classes: %zu parameters, as the DACS model",
          dx_net_params(&net, NULL));
    for (int i = 0; i < net.nt; i++) {
        const dx_tensor *t = &net.t[i];
        frozen += t->norm && !t->trainable ? t->count : 0;
        head_trained += t->head && t->trainable ? t->count : 0;
    }
    CHECK(frozen == 105344, "R101: %zu frozen BN affine values", frozen);
    CHECK(head_trained == 2 * (19 * 2048 * 9 + 19),
          "R101: two of the four head branches are trained (%zu values)",
          head_trained);
    /* conv1 + bn1 (5); 33 blocks of 3 convs + 3 BN (15 each); 4
     * projections (5 each); 4 head branches (2 each) */
    CHECK(net.nt == 5 + 33 * 15 + 4 * 5 + 8, "R101: %d tensors", net.nt);
    logits(&net, 512, 512, 65, 65, "R101 caffe");
    logits(&net, 512, 1024, 65, 129, "R101 caffe");
    double f = dx_net_flops(&net, 1, 512, 512);
    CHECK(f > 370.5e9 && f < 370.7e9, "R101 at 512x512: %.1f GFLOP "
          "(370.6, with the two summed head branches)", f * 1e-9);
    static const char *const names[] = {
        "conv1.weight", "bn1.weight", "bn1.running_mean",
        "layer3.12.conv2.weight", "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_var", "layer5.conv2d_list.3.bias",
        "layer4.2.bn3.bias"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(find(&net, names[i]) >= 0, "R101 has '%s'", names[i]);
    CHECK(find(&net, "layer3.23.conv1.weight") < 0 &&
              find(&net, "layer2.1.downsample.0.weight") < 0,
          "R101 has 23 blocks in layer3 and one projection per layer");
    int c3 = find(&net, "layer3.12.conv2.weight");
    CHECK(c3 >= 0 && net.t[c3].dims[0] == 256 && net.t[c3].dims[1] == 256 &&
              net.t[c3].dims[2] == 3,
          "layer3.12.conv2.weight is 256x256x3x3");
    /* the stride of layer2: in conv1 (caffe) */
    int l2 = -1;
    for (int i = 0; i < net.nlayer && l2 < 0; i++)
        if (!strcmp(net.layer[i].name, "layer2.0.conv1"))
            l2 = i;
    CHECK(l2 >= 0 && net.layer[l2].conv.stride == 2 &&
              net.layer[l2].conv.k == 1,
          "caffe: layer2.0.conv1 is the 1x1 with stride 2");
    int h[2048], w[2048];
    CHECK(dx_net_sides(&net, 1, 1, h, w, NULL) == 0 &&
              h[net.nvalue - 1] == 1,
          "R101 takes any input (padding keeps every side >= 1)");
    dx_net_free(&net);

    build(&net, 101, DX_STYLE_PYTORCH, 19);
    CHECK(dx_net_params(&net, NULL) == 43901068, "R101 pytorch style: "
          "the same parameters");
    logits(&net, 512, 512, 64, 64, "R101 pytorch");
    for (int i = 0; i < net.nlayer; i++)
        if (!strcmp(net.layer[i].name, "layer2.0.conv2"))
            CHECK(net.layer[i].conv.stride == 2, "pytorch: layer2.0.conv2 "
                  "(the 3x3) has the stride");
    dx_net_free(&net);

    build(&net, 50, DX_STYLE_CAFFE, 19);
    CHECK(dx_net_params(&net, NULL) == 24908940, "R50: %zu parameters",
          dx_net_params(&net, NULL));
    f = dx_net_flops(&net, 1, 512, 512);
    CHECK(f > 210.4e9 && f < 210.8e9, "R50 at 512x512: %.1f GFLOP (105.3 "
          "GMAC)", f * 1e-9);
    dx_net_free(&net);

    /* a layer that shrinks its input: deeplab-mini and a 7x7 conv
     * without padding */
    dx_arch a;
    dx_err err;
    dx_arch_default(&a);
    dx_net_build(&net, &a, &err);
    int v = dx_net_conv(&net, net.nvalue - 1, "extra", 4, 7, 1, 0, 1);
    CHECK(v > 0 && dx_net_sides(&net, 64, 32, h, w, &err) == -1 &&
              strstr(err.msg, "32x64 is too small") &&
              strstr(err.msg, "conv 'extra' would have no output columns") &&
              strstr(err.msg, "smallest input side is 49"),
          "an input too small is refused: %s", err.msg);
    CHECK(dx_net_sides(&net, 49, 49, h, w, &err) == 0 && h[v] == 1,
          "and the smallest side it names is taken");
    dx_net_free(&net);

    build(&net, 18, DX_STYLE_CAFFE, 19);
    CHECK(find(&net, "layer1.0.downsample.0.weight") < 0 &&
              find(&net, "layer2.0.downsample.0.weight") >= 0 &&
              find(&net, "layer1.0.conv3.weight") < 0,
          "R18: basic blocks, no projection in layer1");
    logits(&net, 512, 512, 65, 65, "R18 caffe");
    dx_net_free(&net);
    return check_done();
}
