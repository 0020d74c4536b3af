/* mix.h - ClassMix masks and the mixing of images, labels and weights
 * (DACS steps 4 and 5).
 *
 * Mode class (DACS, cross-domain), for each pair i of the batch:
 *   C_i    = the classes present in the source label y_s[i] (without 255
 *            unless keep_ignore; with pool batch: present anywhere in y_s)
 *   picked = ceil(|C_i| / 2) classes of C_i, uniformly without replacement
 *   M_i    = [y_s[i] in picked]                       (1 = source pixel)
 *   x_m    = M x_s[i] + (1-M) x_t[i]
 *   y_m    = M y_s[i] + (1-M) yhat[i]
 *   w_m    = M * 1    + (1-M) w_t[i]
 * Mode naive (ClassMix within the target, with the pseudo-labels): pair i
 * takes its classes from yhat[i] and pastes them onto target j = (i+1) mod N:
 *   M_i = [yhat[i] in picked], x_m = M x_t[i] + (1-M) x_t[j],
 *   y_m = M yhat[i] + (1-M) yhat[j], w_m = M w_t[i] + (1-M) w_t[j].
 * Mode none: M = 0, so x_m = x_t, y_m = yhat, w_m = w_t.
 * Modes cut and cow (ClassMix's other masks, WilhelmT/ClassMix,
 * utils/transformmasks.py and trainSSL.py): cross-domain as class, with
 * M from a mask that ignores the labels:
 *   cut  0 in a box of half the image's area, 1 outside (dx_cut_mask);
 *   cow  a thresholded smooth noise (French et al., "Milking CowMask",
 *        2020; dx_cow_mask), sigma drawn log-uniform in [cow_sigma_lo,
 *        cow_sigma_hi] per image, about 1 - cow_p of the pixels 1.
 *
 * Randomness: the generator r is keyed by the caller (seed, iteration);
 * item i draws its classes from dx_rng_child(r, i), so an item's draw does
 * not depend on the batch size.
 */
#ifndef DACS_MIX_H
#define DACS_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

enum dx_mix_mode { DX_MIX_CLASS, DX_MIX_NAIVE, DX_MIX_NONE, DX_MIX_CUT,
                   DX_MIX_COW, DX_MIX_END };
enum dx_mix_pool { DX_POOL_IMAGE, DX_POOL_BATCH, DX_POOL_END };

/* Word lists indexed by the enums, NULL-terminated (for dx_arg_enum). */
extern const char *const dx_mix_mode_names[DX_MIX_END + 1];
extern const char *const dx_mix_pool_names[DX_POOL_END + 1];

typedef struct dx_mix_opts {
    int mode;        /* dx_mix_mode */
    int pool;        /* dx_pool */
    int keep_ignore; /* 255 may be drawn as a class (the reference code) */
    double cow_sigma_lo, cow_sigma_hi; /* cow: sigma's range, pixels */
    double cow_p;                      /* cow: threshold quantile */
    dx_share share; /* the batch is this share of the global one: item i
                       draws as item share.part + i*share.parts would
                       (base/rng.h); pool batch needs the whole batch */
} dx_mix_opts;

/* The reference settings: class mixing, classes drawn per image, 255
 * never drawn; for cow ClassMix's sigma in [8, 32] and p 0.5. */
dx_mix_opts dx_mix_defaults(void);

/* One batch: n items of h x w.  Inputs are read only; outputs are written
 * whole.  Images are (N,H,W,3) u8, labels and the mask (N,H,W) u8, weights
 * (N,H,W) f32.  src_* may be NULL unless mode is class. */
typedef struct dx_mix_batch {
    int n, h, w;
    const uint8_t *src_image, *src_label;
    const uint8_t *tgt_image, *tgt_plabel;
    const float *tgt_weight;
    uint8_t *image, *label, *mask;
    float *weight;
    /* filled by dx_classmix: for item i, picked[i][k] is 1 if class k was
     * pasted.  May be NULL. */
    uint8_t (*picked)[256];
} dx_mix_batch;

/* present[v] = 1 for every value v in label[0..count). */
void dx_classes_present(uint8_t present[256], const uint8_t *label,
                        size_t count);

/* Choose ceil(n/2) of the n classes marked in pool, uniformly without
 * replacement, into picked (cleared first).  Returns how many. */
int dx_classes_pick(uint8_t picked[256], const uint8_t pool[256],
                    dx_rng *r);

/* mask[p] = picked[label[p]] (0 or 1). */
void dx_class_mask(uint8_t *mask, const uint8_t *label, size_t count,
                   const uint8_t picked[256]);

/* out = M a + (1-M) b per pixel, for u8 maps of ch channels per pixel. */
void dx_mix_u8(uint8_t *out, const uint8_t *mask, const uint8_t *a,
               const uint8_t *b, size_t pixels, int ch);
/* out = M a + (1-M) b per pixel; a NULL means 1 everywhere. */
void dx_mix_f32(float *out, const uint8_t *mask, const float *a,
                const float *b, size_t pixels);

/* ClassMix's cut mask (generate_cutout_mask) into mask (h, w): a box
 * of width bw uniform in [ceil(w/2), w], height bh = round(h*w/2 / bw)
 * (half to even, as NumPy), left x uniform in [0, w-bw], top y uniform in
 * [0, h-bh], drawn in this order from r; mask 0 in the box, 1 outside.
 * (ClassMix starts the width at w/2, which NumPy truncates: for an odd w
 * the narrowest box would be taller than the image and its draw fail.) */
void dx_cut_mask(uint8_t *mask, int h, int w, dx_rng *r);

/* ClassMix's cow mask (generate_cow_mask) of given noise (h, w): the
 * noise smoothed by a Gaussian of sigma pixels (scipy.ndimage's
 * gaussian_filter: truncate 4, radius int(4 sigma + 0.5), borders
 * reflected with the edge pixel repeated, d c b a | a b c d), then
 * mask = [s > t] with t = erfinv(2p - 1) sqrt(2) std(s) + mean(s) (std of
 * the population): the p-quantile of a normal of the smoothed noise's
 * mean and spread, so that about 1 - p of the pixels are 1.  smooth (h, w)
 * gets the smoothed noise (may be NULL).  Fails on p outside (0, 1),
 * sigma <= 0, or out of memory. */
int dx_cow_mask_of(uint8_t *mask, double *smooth, const double *noise,
                   int h, int w, double sigma, double p, dx_err *err);
/* The same of fresh noise: sigma = exp(U(log lo, log hi)), then h*w
 * standard normals in row-major order, from r. */
int dx_cow_mask(uint8_t *mask, int h, int w, double lo, double hi, double p,
                dx_rng *r, dx_err *err);

/* The whole mixing step for a batch, as described above.  Fails only on a
 * bad option or out of memory. */
int dx_classmix(dx_mix_batch *b, const dx_mix_opts *o, const dx_rng *r,
                dx_err *err);

#endif
