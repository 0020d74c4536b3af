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

enum dx_mix_mode { DX_MIX_CLASS, DX_MIX_NAIVE, DX_MIX_NONE, DX_MIX_END };
enum dx_mix_pool { DX_POOL_IMAGE, DX_POOL_BATCH, DX_POOL_END };

/* Word lists indexed by the enums, NULL-terminated (for dx_arg_enum). */
extern const char *const dx_mix_mode_names[DX_MIX_END + 1];
extern const char *const dx_mix_pool_names[DX_POOL_END + 1];

typedef struct dx_mix_opts {
    int mode;        /* dx_mix_mode */
    int pool;        /* dx_pool */
    int keep_ignore; /* 255 may be drawn as a class (the reference code) */
} dx_mix_opts;

/* The reference settings: class mixing, classes drawn per image, 255
 * never drawn. */
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

/* The whole mixing step for a batch, as described above.  Fails only on a
 * bad option. */
int dx_classmix(dx_mix_batch *b, const dx_mix_opts *o, const dx_rng *r,
                dx_err *err);

#endif
