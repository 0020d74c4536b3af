/* aspp.h - DeepLab's classifier (atrous spatial pyramid pooling) as one
 * matrix product.
 *
 * nb parallel 3x3 convolutions with bias, stride 1, padding equal to their
 * dilations d_b, of one input x (Cin, n, h, w), summed into y (Cout, n, h,
 * w).  Computed as nb im2col products, each would have Cout rows (19
 * classes): a product that thin runs at a third of sgemm's speed.  Here
 * instead one 1x1 product of all the branches' taps,
 *     Z (R, n*h*w) = Wall (R, Cin) * x,  R = nb*9*Cout,
 * row (b, kh, kw, o) of Wall being W_b[o, :, kh, kw], then every tap's
 * plane of Z added at its offset:
 *     y[o,i,r,q] = sum_b bias_b[o]
 *                + sum_{b,kh,kw} Z[(b,kh,kw,o), i, r + (kh-1)d_b, q + (kw-1)d_b]
 * over the taps that fall inside the image (zero padding).  The backward
 * pass is the adjoint: dZ is dy at each tap's offset, then the 1x1
 * product's backward gives dx and dWall.  (The "kn2row" form of a
 * convolution: Vasudevan, Anderson, Gregg, "Parallel multi channel
 * convolution using general matrix multiplication", ASAP 2017.)
 *
 * The sums run in a fixed order (branch, tap), so results do not depend
 * on the number of threads; they differ from nb separate convolutions by
 * rounding only.
 */
#ifndef DACS_ASPP_H
#define DACS_ASPP_H

#include <stddef.h>

#define DX_ASPP_MAX 4

typedef struct dx_aspp {
    int cin, cout;
    int nb;               /* branches summed, 1..DX_ASPP_MAX */
    int dil[DX_ASPP_MAX]; /* dilation (= padding) of each */
} dx_aspp;

/* Floats of scratch for an input of n x h x w. */
size_t dx_aspp_ws_floats(const dx_aspp *a, int n, int h, int w);

/* y (Cout, n, h, w) = sum over b < nb of conv_b(x) + bias_b.  wt[b] is
 * (Cout, Cin, 3, 3), bias[b] (Cout). */
void dx_aspp_forward(float *y, const float *x, const float *const *wt,
                     const float *const *bias, const dx_aspp *a, int n,
                     int h, int w, float *ws);

/* Given dy (Cout, n, h, w), add the gradients into dw[b] (Cout, Cin, 3,
 * 3), db[b] (Cout) and dx (Cin, n, h, w). */
void dx_aspp_backward(float *dx, float *const *dw, float *const *db,
                      const float *dy, const float *x,
                      const float *const *wt, const dx_aspp *a, int n, int h,
                      int w, float *ws);

#endif
