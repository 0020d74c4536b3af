/* act.h - the element-wise layers: ReLU and the residual add.
 *
 * In the network's forward pass both are fused into the batch-norm
 * epilogue (dx_bn_forward); these are the same maps on their own, and
 * their backward passes, which the network uses as they are.
 */
#ifndef DACS_ACT_H
#define DACS_ACT_H

#include <stddef.h>

/* y = max(x, 0), n values; y may alias x. */
void dx_relu_forward(float *y, const float *x, size_t n);
/* dy = dy where y > 0, else 0 (in place), given the forward output y. */
void dx_relu_backward(float *dy, const float *y, size_t n);

/* y = a + b, n values; y may alias a or b. */
void dx_add_forward(float *y, const float *a, const float *b, size_t n);
/* Both inputs of an add receive dy: da += dy (call once per input). */
void dx_add_backward(float *da, const float *dy, size_t n);

#endif
