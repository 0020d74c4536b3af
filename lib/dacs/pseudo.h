/* pseudo.h - pseudo-labels and their weights from teacher probabilities
 * (DACS steps 2 and 3).
 *
 * Per pixel the pseudo-label is the argmax over classes of the teacher's
 * softmax p (the lowest class index wins a tie) and the confidence is
 * c = max_k p_k.  From logits, c = 1 / sum_k exp(l_k - max_j l_j), which is
 * the same softmax computed without overflow.  A pixel is confident when
 * c >= tau, compared in single precision as PyTorch compares a float32
 * tensor with a Python number.  lambda is the fraction of the batch's
 * pixels that are confident.  The weight of a pixel is
 *   threshold_uniform  lambda, the same for every pixel of the batch;
 *   threshold          1 if the pixel is confident, else 0;
 *   none               1.
 */
#ifndef DACS_PSEUDO_H
#define DACS_PSEUDO_H

#include <stddef.h>
#include <stdint.h>

#include "data/classes.h"
#include "base/err.h"

enum dx_weight_mode {
    DX_WEIGHT_THRESHOLD_UNIFORM,
    DX_WEIGHT_THRESHOLD,
    DX_WEIGHT_NONE,
    DX_WEIGHT_END
};

/* "threshold_uniform", "threshold", "none": indexed by dx_weight_mode,
 * NULL-terminated (for dx_arg_enum). */
extern const char *const dx_weight_mode_names[DX_WEIGHT_END + 1];

/* The settings of dx_pseudolabel. */
typedef struct dx_pseudo_opts {
    int mode;   /* dx_weight_mode */
    double tau; /* confidence threshold */
    int logits; /* the scores are logits, not probabilities */
} dx_pseudo_opts;

/* The reference DACS settings: threshold_uniform, tau 0.968, from
 * probabilities (Tranheden et al., WACV 2021; vikolss/DACS). */
void dx_pseudo_defaults(dx_pseudo_opts *o);

typedef struct dx_pseudo_stats {
    uint64_t pixels;    /* N*H*W */
    uint64_t confident; /* pixels with c >= tau */
    double lambda;      /* confident / pixels (0 for an empty batch) */
    uint64_t hist[DX_MAX_CLASSES]; /* pseudo-label counts, classes 0..C-1 */
} dx_pseudo_stats;

/* plabel is (N,H,W) u8, weight is (N,H,W) f32, score is (N,C,H,W) f32:
 * probabilities, or logits when logits is set.  hw = H*W, 1 <= C <= 255.
 * Validates every score before writing: NaN or Inf is an error, and so,
 * for probabilities, is a value below 0 or above 1 + 1e-3.  The error
 * gives the batch item, class and pixel index of the first bad value. */
int dx_pseudolabel(uint8_t *plabel, float *weight, dx_pseudo_stats *st,
                   const float *score, int n, int c, size_t hw, int logits,
                   double tau, int mode, dx_err *err);

/* Data parallelism: after st's pixels, confident and hist have been
 * summed over the ranks (each holding a share of the batch), lambda from
 * those sums and, in threshold_uniform mode, the weights of this rank's
 * count pixels set to it: the lambda of one process with the whole batch.
 * The other modes' weights do not depend on the batch. */
void dx_pseudo_lambda(dx_pseudo_stats *st, float *weight, size_t count,
                      int mode);

/* The same from the arg-max already taken (seg-infer --argmax, the same
 * rule: the first class of the largest probability): pred (px pixels, u8)
 * is the class, conf (f32) its probability, checked by the caller
 * (batch.h).  plabel, weight and st come out as dx_pseudolabel's from the
 * probabilities would, byte for byte. */
int dx_pseudolabel_argmax(uint8_t *plabel, float *weight, dx_pseudo_stats *st,
                          const uint8_t *pred, const float *conf, size_t px,
                          double tau, int mode, dx_err *err);

/* Margins of the full-size image whose pseudo-labels are not trusted, in
 * its pixels: DAFormer zeroes the weight of the top 15 and bottom 120 rows
 * of its 1024x512 target crops (the ego car and the rectification border;
 * lhoyer/DAFormer, dacs.py, pseudo_weight_ignore_top/bottom), MIC with
 * HRDA the margins 30, 240, 30, 30 (top, bottom, left, right) of the
 * 2048x1024 image, before the crop (lhoyer/MIC, crop_pseudo_margins):
 * the same rows at twice the resolution. */
typedef struct dx_margins {
    int top, bottom, left, right;
} dx_margins;

/* Zero weight (n, h, w) where its crop pixel shows a stored pixel within
 * the margins m.  box holds n crop boxes (sampler.h, DX_BOX_LEN each),
 * which map crop pixels to stored ones; NULL: each image is its own
 * full-size image.  Pixels past the stored image's border (padding) keep
 * their weight.  Returns the number of pixels in the margins. */
size_t dx_pseudo_margins(float *weight, int n, int h, int w,
                         const int32_t *box, const dx_margins *m);

#endif
