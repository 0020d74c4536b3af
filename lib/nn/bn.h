/* bn.h - batch normalisation of channel-major activations, as PyTorch's
 * BatchNorm2d: eps 1e-5, momentum 0.1, the biased variance to normalise
 * and the unbiased variance (P/(P-1)) in the running estimate.
 *
 * x is (C, P): one contiguous run of P = N*H*W values per channel.  In
 * train and "batch" mode the statistics are those of x itself; in
 * "running" mode they are the stored running estimates.
 *
 * Batch statistics are per-channel sums, in double, then finalised: the
 * forward pass needs sum x (for the mean) and then sum (x - mean)^2 (for
 * the variance, two passes as PyTorch's CPU kernel); the backward pass
 * needs sum dy and sum dy*xhat.  Between computing the sums and using them
 * a caller may add up the sums of other processes (synchronised BN); the
 * *_sums functions and the finishing functions are split for that.
 * dx_bn_stats and dx_bn_backward are the whole of it in one process.
 */
#ifndef DACS_BN_H
#define DACS_BN_H

#include <stddef.h>

#define DX_BN_EPS 1e-5
#define DX_BN_MOMENTUM 0.1

/* sum[c] = sum over P of x[c, :], in double. */
void dx_bn_sums(double *sum, const float *x, int C, size_t P);
/* sq[c] = sum over P of (x[c, :] - mean[c])^2, in double. */
void dx_bn_sq_sums(double *sq, const float *x, const float *mean, int C,
                   size_t P);
/* mean[c] and the biased var[c] of x (C, P): the two sums above, over
 * count = P values per channel. */
void dx_bn_stats(float *mean, float *var, const float *x, int C, size_t P);
/* running = (1-m)*running + m*batch, with var made unbiased by
 * count/(count-1); count >= 2 values per channel. */
void dx_bn_update_running(float *rmean, float *rvar, const float *mean,
                          const float *var, int C, size_t count);
/* invstd[c] = 1/sqrt(var[c] + eps). */
void dx_bn_invstd(float *invstd, const float *var, int C);

/* The normalisation and its epilogue, in one pass over x (C, P):
 *     xhat = (x - mean) * invstd
 *     y    = gamma * xhat + beta  (+ skip, if skip)  (then ReLU, if relu)
 * xhat (C, P) is stored when non-NULL (training keeps it for backward);
 * xhat may alias x, y may alias x or skip. */
void dx_bn_forward(float *y, float *xhat, const float *x, const float *skip,
                   const float *gamma, const float *beta, const float *mean,
                   const float *invstd, int relu, int C, size_t P);

/* The backward sums of dy = dL/d(gamma*xhat+beta) (the ReLU mask already
 * applied): sdy[c] = sum dy, sdyh[c] = sum dy*xhat, in double. */
void dx_bn_grad_sums(double *sdy, double *sdyh, const float *dy,
                     const float *xhat, int C, size_t P);
/* Given those sums over count values per channel:
 *     dx = gamma*invstd * (dy - sdy/count - xhat*sdyh/count)
 * (the backward of the normalisation with batch statistics, train mode).
 * dx may alias dy. */
void dx_bn_backward_apply(float *dx, const float *dy, const float *xhat,
                          const float *gamma, const float *invstd,
                          const double *sdy, const double *sdyh,
                          double count, int C, size_t P);
/* All of the backward in one process: dgamma[c] += sum dy*xhat and
 * dbeta[c] += sum dy (either may be NULL: a frozen affine), then dx as
 * dx_bn_backward_apply.  dx may alias dy. */
void dx_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *xhat, const float *gamma,
                    const float *invstd, int C, size_t P);

#endif
