/* deeplabv2.c - the layer list of DeepLabv2 on a dilated ResNet, as the
 * DACS reference code builds it (its model/deeplabv2.py, the DeepLab-v2
 * network of AdaptSegNet), with torchvision's state_dict names.
 *
 *   conv1    conv7x7 s2 pad 3, 3->w, BN, ReLU             H/2
 *   maxpool  3x3 s2 pad 1 (ceil mode in the caffe style)  H/4
 *   layer1   blocks[0] blocks, planes w,   stride 1, dilation 1
 *   layer2   blocks[1] blocks, planes 2w,  stride 2, dilation 1   H/8
 *   layer3   blocks[2] blocks, planes 4w,  stride 1, dilation 2
 *   layer4   blocks[3] blocks, planes 8w,  stride 1, dilation 4
 *   layer5   ASPP: four conv3x3 with bias, 32w (8w basic) -> C, dilation
 *            and padding 6, 12, 18, 24; the first `heads` summed
 *
 * A bottleneck block (planes p, out 4p): conv1 1x1 p, BN, ReLU; conv2 3x3
 * p at the layer's dilation (padding = dilation), BN, ReLU; conv3 1x1 4p,
 * BN; plus the residual, then ReLU.  A basic block (out p): conv1 3x3, BN,
 * ReLU; conv2 3x3, BN; plus the residual, then ReLU; both 3x3 convs at the
 * layer's dilation.  The residual of block 0 is a projection, downsample.0
 * (1x1 conv, the block's stride) and downsample.1 (BN), whenever the block
 * strides, changes the channels or is dilated (the DACS rule; only basic
 * layer1 has none); the other blocks add their input.  The block's stride
 * sits in conv1 in the caffe style (for a bottleneck, the 1x1) and in
 * conv2 in the pytorch style (the 3x3, torchvision v1.5); basic blocks put
 * it in conv1 in both.
 */
#include "nn/net.h"

#include <stdio.h>

/* conv PREFIX.convN + BN PREFIX.bnN (+ ReLU) */
static int conv_bn(dx_net *net, int x, const char *prefix, int n, int cout,
                   int k, int stride, int dil, int frozen)
{
    char conv[48], bn[48];
    snprintf(conv, sizeof conv, "%s.conv%d", prefix, n);
    snprintf(bn, sizeof bn, "%s.bn%d", prefix, n);
    x = dx_net_conv(net, x, conv, cout, k, stride, k == 1 ? 0 : dil, dil);
    return dx_net_bn_relu(net, x, bn, frozen, 1);
}

/* One residual block; the last conv's BN adds the residual. */
static int block(dx_net *net, const dx_arch *a, int x, int L, int b,
                 int planes, int stride, int dil)
{
    char prefix[32], name[48];
    snprintf(prefix, sizeof prefix, "layer%d.%d", L, b);
    int frozen = !a->bn_trainable, bottleneck = dx_arch_bottleneck(a);
    int caffe = a->style == DX_STYLE_CAFFE;
    int cin = net->channels[x], cout = bottleneck ? 4 * planes : planes;
    int y, last;
    if (bottleneck) {
        y = conv_bn(net, x, prefix, 1, planes, 1, caffe ? stride : 1, 1,
                    frozen);
        y = conv_bn(net, y, prefix, 2, planes, 3, caffe ? 1 : stride, dil,
                    frozen);
        snprintf(name, sizeof name, "%s.conv3", prefix);
        y = dx_net_conv(net, y, name, cout, 1, 1, 0, 1);
        snprintf(name, sizeof name, "%s.bn3", prefix);
    } else {
        y = conv_bn(net, x, prefix, 1, planes, 3, stride, dil, frozen);
        snprintf(name, sizeof name, "%s.conv2", prefix);
        y = dx_net_conv(net, y, name, cout, 3, 1, dil, dil);
        snprintf(name, sizeof name, "%s.bn2", prefix);
    }
    last = dx_net_bn_tensors(net, name, cout, frozen);
    int skip = x;
    if (b == 0 && (stride != 1 || cin != cout || dil > 1)) {
        snprintf(name, sizeof name, "%s.downsample.0", prefix);
        skip = dx_net_conv(net, x, name, cout, 1, stride, 0, 1);
        snprintf(name, sizeof name, "%s.downsample.1", prefix);
        skip = dx_net_bn_relu(net, skip, name, frozen, 0);
    }
    return dx_net_bn(net, y, last, skip, 1);
}

int dx_build_deeplabv2(dx_net *net, const dx_arch *a)
{
    static const int head_dil[4] = {6, 12, 18, 24};
    int w = a->width, x = 0;
    x = dx_net_conv(net, x, "conv1", w, 7, 2, 3, 1);
    x = dx_net_bn_relu(net, x, "bn1", !a->bn_trainable, 1);
    x = dx_net_maxpool(net, x, "maxpool", 3, 2, 1,
                       a->style == DX_STYLE_CAFFE);
    for (int L = 1; L <= 4; L++) {
        int planes = w << (L - 1), stride = L == 2 ? 2 : 1;
        int dil = L == 3 ? 2 : L == 4 ? 4 : 1;
        for (int b = 0; b < a->blocks[L - 1]; b++)
            x = block(net, a, x, L, b, planes, b ? 1 : stride, dil);
    }
    return dx_net_aspp(net, x, "layer5", "layer5.conv2d_list.%d",
                       a->classes, head_dil, 4, a->heads, 1);
}
