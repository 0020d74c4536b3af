/* bn.h - batch normalisation of channel-major activations, as PyTorch's
 * BatchNorm2d: eps 1e-5, momentum 0.1, the biased variance to normalise
 * and the unbiased variance (P/(P-1)) in the running estimate.
 *
 * x is (C, P): one contiguous run of P = N*H*W values per channel.  In
 * train and "batch" mode the statistics are those of x itself; in
 * "running" mode they are the stored running estimates.
 */
#ifndef DACS_BN_H
#define DACS_BN_H

#include <stddef.h>

#define DX_BN_EPS 1e-5
#define DX_BN_MOMENTUM 0.1

/* mean[c] and the biased var[c] of x (C, P).  Sums in double. */
void dx_bn_stats(float *mean, float *var, const float *x, int C, size_t P);
/* running = (1-m)*running + m*batch, with var made unbiased; P >= 2. */
void dx_bn_update_running(float *rmean, float *rvar, const float *mean,
                          const float *var, int C, size_t P);
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

/* Backward of the normalisation with batch statistics (train mode), given
 * dy = dL/d(gamma*xhat+beta) (the ReLU mask already applied):
 *     dgamma[c] += sum dy*xhat,  dbeta[c] += sum dy,
 *     dx = gamma*invstd * (dy - mean(dy) - xhat*mean(dy*xhat)).
 * dx may alias dy. */
void dx_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *xhat, const float *gamma,
                    const float *invstd, int C, size_t P);

#endif
