/* deeplab_mini.c - the layer list of deeplab-mini (seg-init(1)): a small
 * DeepLabv2-style network of 3x3 convolutions, width w, output stride 8.
 *
 *   stem.0  conv3x3 s2  3->w   BN ReLU            H/2
 *   stem.1  conv3x3     w->w   BN ReLU
 *   s2.down conv3x3 s2  w->2w  BN ReLU            H/4
 *   s2.res0 residual block (2w, dilation 1)
 *   s3.down conv3x3 s2  2w->4w BN ReLU            H/8
 *   s3.res0 residual block (4w, dilation 2)
 *   s3.res1 residual block (4w, dilation 4)
 *   head.k  conv3x3 4w->C with bias, dilation 1,2,4,6 (k = 0..3), summed
 *
 * A residual block (c, d) is conv3x3(dil d) BN ReLU conv3x3(dil d) BN, plus
 * the block input, then ReLU; padding equals dilation everywhere.  The
 * state_dict names are those of the PyTorch module in tests/ref/dacsref.py.
 */
#include "nn/net.h"

#include <stdio.h>

/* conv3x3 + BN + ReLU named P.conv and P.bn; with skip >= 0, the BN adds
 * skip before the ReLU */
static int unit(dx_net *net, int x, const char *conv, const char *bn,
                int cout, int stride, int dil, int skip)
{
    x = dx_net_conv(net, x, conv, cout, 3, stride, dil, dil);
    int t = dx_net_bn_tensors(net, bn, cout, 0);
    return dx_net_bn(net, x, t, skip, 1);
}

static int residual(dx_net *net, int x, const char *prefix, int c, int dil)
{
    char conv[48], bn[48];
    snprintf(conv, sizeof conv, "%s.conv1", prefix);
    snprintf(bn, sizeof bn, "%s.bn1", prefix);
    int y = unit(net, x, conv, bn, c, 1, dil, -1);
    snprintf(conv, sizeof conv, "%s.conv2", prefix);
    snprintf(bn, sizeof bn, "%s.bn2", prefix);
    return unit(net, y, conv, bn, c, 1, dil, x);
}

int dx_build_deeplab_mini(dx_net *net, const dx_arch *a)
{
    static const int head_dil[4] = {1, 2, 4, 6};
    int w = a->width, x = 0;
    x = unit(net, x, "stem.0.conv", "stem.0.bn", w, 2, 1, -1);
    x = unit(net, x, "stem.1.conv", "stem.1.bn", w, 1, 1, -1);
    x = unit(net, x, "s2.down.conv", "s2.down.bn", 2 * w, 2, 1, -1);
    x = residual(net, x, "s2.res0", 2 * w, 1);
    x = unit(net, x, "s3.down.conv", "s3.down.bn", 4 * w, 2, 1, -1);
    x = residual(net, x, "s3.res0", 4 * w, 2);
    x = residual(net, x, "s3.res1", 4 * w, 4);
    /* four convolutions, not one product: the same bytes as ever */
    return dx_net_aspp(net, x, "head", "head.%d", a->classes, head_dil, 4,
                       4, 0);
}
