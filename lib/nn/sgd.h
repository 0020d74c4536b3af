/* sgd.h - stochastic gradient descent with momentum and weight decay, as
 * PyTorch's torch.optim.SGD (dampening 0, not Nesterov), and the poly
 * learning-rate schedule of DeepLab and DACS.
 */
#ifndef DACS_SGD_H
#define DACS_SGD_H

#include <stddef.h>

/* lr0 * (1 - t/T)^power, for 0 <= t < T. */
double dx_poly_lr(double lr0, long t, long T, double power);

/* For each of n values, in float as PyTorch does:
 *     d = g + wd * p;  buf = momentum * buf + d;  p = p - lr * buf
 * A zero buffer gives buf = d on the first step, as PyTorch's fresh
 * buffer does. */
void dx_sgd_step(float *p, float *buf, const float *g, size_t n, float lr,
                 float momentum, float wd);

#endif
