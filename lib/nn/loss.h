/* loss.h - softmax, weighted ignore-aware cross-entropy, argmax.
 *
 * Logits and probabilities are channel-major: z is (C, Q), the score of
 * class c at pixel q is z[c*Q + q].  Labels are train ids 0..C-1 or
 * DX_IGNORE; a pixel with DX_IGNORE contributes nothing (loss 0, gradient
 * 0) but still counts in a mean over all pixels.
 */
#ifndef DACS_LOSS_H
#define DACS_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "data/classes.h" /* DX_IGNORE */

/* Returns sum_q w[q] * ce_q, where ce_q = logsumexp(z[:,q]) - z[y_q, q]
 * (0 at ignored pixels), summed in double.  When dz is not NULL it gets
 * the gradient of scale * (that sum):
 *     dz[c,q] = scale * w[q] * (softmax(z[:,q])[c] - [c == y_q]),
 * 0 at ignored pixels.  w NULL means 1 everywhere.  dz may alias z. */
double dx_ce_forward_backward(float *dz, const float *z,
                              const uint8_t *label, const float *w, int C,
                              size_t Q, float scale);

/* p (C, Q) = softmax of z over classes; p may alias z. */
void dx_softmax(float *p, const float *z, int C, size_t Q);

/* pred[q] = argmax_c p[c,q] (the first on ties), conf[q] = its value. */
void dx_argmax(uint8_t *pred, float *conf, const float *p, int C, size_t Q);

#endif
