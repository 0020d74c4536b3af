/* pool.h - max-pooling of channel-major activations, forward and backward,
 * as PyTorch's nn.MaxPool2d (dilation 1).
 *
 * x is (C, n, h, w), y is (C, n, ho, wo): every plane (channel c, image i)
 * is pooled on its own.  Output side, as PyTorch computes it:
 *     floor mode: ho = floor((h + 2*pad - k) / stride) + 1
 *     ceil mode:  ho = ceil((h + 2*pad - k) / stride) + 1, less one if the
 *                 last window would start in the right padding
 * A window's padding never wins (it is -inf); in ceil mode the last window
 * may be cut short by the edge.  The maximum is the first one in the
 * window's row-major order, and a NaN wins over any number (as PyTorch's
 * CPU kernel); its index is what the backward pass routes the gradient to.
 */
#ifndef DACS_POOL_H
#define DACS_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct dx_pool {
    int k;      /* window side, k x k */
    int stride; /* >= 1 */
    int pad;    /* -inf padding on every side, <= k/2 */
    int ceil;   /* 1: ceil mode (DeepLab's Caffe pool), 0: floor mode */
} dx_pool;

/* Output side for an input side; < 1 if no window fits. */
int dx_pool_out(const dx_pool *p, int in);

/* y (C, n, ho, wo) = the window maxima of x (C, n, h, w).  argmax, if not
 * NULL, gets for every output value the index (row*w + column) of its
 * maximum within its input plane, for the backward pass. */
void dx_maxpool_forward(float *y, int32_t *argmax, const float *x,
                        const dx_pool *p, int C, int n, int h, int w);

/* dx (C, n, h, w) += dy (C, n, ho, wo) routed to the argmax of each
 * output value (the adjoint of the forward pass). */
void dx_maxpool_backward(float *dx, const float *dy, const int32_t *argmax,
                         const dx_pool *p, int C, int n, int h, int w);

#endif
