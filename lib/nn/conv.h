/* conv.h - 2-D convolution, forward and backward: im2col + sgemm, or
 * direct for thin stride-1 layers on AVX-512.
 *
 * Activations are channel-major: x is (Cin, N, H, W), i.e. one plane of
 * N*H*W values per channel, so that a convolution of the whole batch is
 * one matrix product  y (Cout, N*Ho*Wo) = w (Cout, Cin*k*k) * col  and
 * batch-norm statistics are contiguous per channel.  Weights are
 * (Cout, Cin, k, k) as PyTorch stores them.
 *
 * The column matrix is built in chunks of whole output rows, so the
 * scratch space is bounded (DX_CONV_CHUNK floats per matrix, or 448
 * columns for a kernel too large for that: products of fewer columns run
 * slowly) whatever the image size.  A 1x1 convolution of stride 1 and no
 * padding needs no column matrix: x is already one, and the product runs
 * on it directly, in parts of its columns.
 *
 * A stride-1 layer of at most 64 input and 64 output channels runs
 * directly on a CPU with AVX-512 (forward, dx and dw):
 * each output row is summed in registers from zero-padded input rows,
 * with no column matrix and no packing, about twice the speed of the
 * product for 16 channels (deeplab-mini's stem) and level with it at 64.
 * Other CPUs take the product; the two differ in the last bits.
 *
 * The chunks, parts and tasks depend only on the shapes, so results are
 * the same bytes on every run and for any number of threads.
 *
 * Output size: Ho = (H + 2*pad - dil*(k-1) - 1) / stride + 1, as PyTorch.
 */
#ifndef DACS_CONV_H
#define DACS_CONV_H

#include <stddef.h>

/* Floats in one column-matrix chunk of one thread (a chunk is never less
 * than one output row, so a very wide image may use more). */
#define DX_CONV_CHUNK ((size_t)1 << 18)

typedef struct dx_conv {
    int cin, cout;
    int k;      /* kernel side, k x k */
    int stride; /* >= 1 */
    int pad;    /* zero padding on every side */
    int dil;    /* dilation, >= 1 */
} dx_conv;

/* Output side for an input side; < 1 if the kernel does not fit. */
int dx_conv_out(const dx_conv *c, int in);
/* Floats of scratch that dx_conv_forward / _backward need for an input of
 * n x h x w (two chunk matrices per thread, see par.h, and a partial
 * weight gradient per part of the rows; for a 1x1 stride-1 convolution, a
 * partial weight gradient per part of the columns; for the direct path,
 * the padded input rows and the rearranged weights). */
size_t dx_conv_ws_floats(const dx_conv *c, int n, int h, int w);

/* y (Cout, n, Ho, Wo) = conv(x) + bias, or y += conv(x) + bias when
 * accumulate is set.  x is (Cin, n, h, w); wt (Cout, Cin, k, k); bias
 * (Cout) or NULL.  ws: dx_conv_ws_floats() floats of scratch. */
void dx_conv_forward(float *y, const float *x, const float *wt,
                     const float *bias, const dx_conv *c, int n, int h,
                     int w, int accumulate, float *ws);

/* Given dy (Cout, n, Ho, Wo), add the gradients into dw (Cout, Cin, k, k),
 * db (Cout) and dx (Cin, n, h, w).  dx or db may be NULL when not wanted
 * (e.g. dx of the first layer).  x and wt as in the forward pass. */
void dx_conv_backward(float *dx, float *dw, float *db, const float *dy,
                      const float *x, const float *wt, const dx_conv *c,
                      int n, int h, int w, float *ws);

#endif
