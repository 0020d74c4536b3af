/* train.h - one DACS training step of the student (dacs-method(7), steps 7-8).
 *
 * Separate forward passes in train-mode batch-norm (each updates the
 * running statistics: source, mixed, masked, in this order), each followed
 * by its backward pass; the gradients add up; then one optimiser step
 * (SGD or AdamW, optim.h):
 *
 *   L = CE(f(x_s), y_s)               mean over pixels whose label is not 255
 *     + mean(w_m * CE(f(x_m), y_m))   mean over all pixels; 255 adds 0
 *     + lambda_mic * mean(w_t * CE(f(x_mic), yhat))
 *                                     MIC (Hoyer et al., CVPR 2023): the
 *                                     masked target image, the teacher's
 *                                     pseudo-labels of the unmasked image
 *                                     and their weights, mmseg's weighted
 *                                     mean as the mixed term, times
 *                                     mask_lambda (lhoyer/MIC, masking_
 *                                     consistency_module.py)
 *
 * with the logits upsampled bilinearly (align_corners=True) to the label
 * size first.  A source batch whose labels are all 255 contributes 0.
 *
 * Data parallelism (m->coll set, base/coll.h): each rank holds its share
 * of every batch (seg-batch --share).  The denominators (the non-ignored
 * pixels, all the pixels) are those of the global batch, the batch-norm
 * statistics are synchronised (model.h), and the gradients and the loss
 * terms are summed over the ranks before the step, so that every rank
 * takes the step one process with the whole batch would take, up to the
 * order of the sums.
 */
#ifndef DACS_TRAIN_H
#define DACS_TRAIN_H

#include <stdint.h>

#include "base/err.h"
#include "nn/model.h"
#include "nn/optim.h"

/* A batch: images (n, H, W, 3), labels (n, H, W) with 0..C-1 or 255,
 * weights (n, H, W) or NULL. */
typedef struct dx_batch {
    const uint8_t *image;
    const uint8_t *label;
    const float *weight;
    int n, H, W;
} dx_batch;

typedef struct dx_hyper {
    dx_optim opt;      /* the optimiser and its schedule (optim.h): SGD
                          as DACS or AdamW as DAFormer */
    double mic_lambda; /* weight of the masked term, 1 (MIC's) */
} dx_hyper;

typedef struct dx_step_result {
    double loss_src, loss_mix; /* loss_mix 0 without a mixed batch */
    double loss_mic;           /* lambda_mic times its mean; 0 without */
    double lr;                 /* the body's learning rate of this step
                                  (warmup and poly applied) */
    long iter;                 /* index t of the step taken */
} dx_step_result;

/* One training pass (forward, loss, backward) of batch b; adds the
 * gradient of its loss term into m->grad and returns the term in *loss.
 * weighted: the mixed term (mean of w*CE over all pixels); otherwise the
 * source term (mean of CE over non-ignored pixels). */
int dx_train_pass(dx_model *m, const dx_batch *b, int weighted, double *loss,
                  dx_err *err);

/* The whole step on m: zero the gradients, the source pass, the mixed pass
 * (if mix), the masked pass (if mic, whose weights must be there), then
 * the optimiser's update at lr(t), t = m->iter, and m->iter + 1.  Fails
 * before any pass if m holds another optimiser's state (dx_optim_check);
 * fails, naming the iteration, if the loss, a gradient, an updated
 * parameter or the optimiser state is not finite; m is then not fit to be
 * saved. */
int dx_train_step(dx_model *m, const dx_batch *src, const dx_batch *mix,
                  const dx_batch *mic, const dx_hyper *h, dx_step_result *r,
                  dx_err *err);

#endif
