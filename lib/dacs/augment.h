/* augment.h - photometric augmentation and flips (DACS step 6).
 *
 * Images here are interleaved RGB, (H,W,3) per image.  The float functions
 * work on values in [0, 1]; the u8 functions map 0..255 to [0, 1], work in
 * float and round back once, to nearest (floor(255 x + 0.5)).
 *
 * Colour jitter (torchvision's ColorJitter semantics, on [0, 1]):
 *   factors   b ~ U[max(0, 1-sb), 1+sb], c ~ U[max(0, 1-sc), 1+sc],
 *             s ~ U[max(0, 1-ss), 1+ss], h ~ U[-sh, sh]
 *   gray(x)   = 0.2989 R + 0.587 G + 0.114 B
 *   brightness  x <- clamp(b x)
 *   contrast    x <- clamp(c x + (1-c) m), m = mean of gray over the image
 *   saturation  x <- clamp(s x + (1-s) gray(x)), per pixel
 *   hue         RGB -> HSV, H <- (H + h) mod 1, HSV -> RGB
 *   clamp to [0, 1] after each step; the four steps run in a random order.
 * Gaussian blur: a separable kernel of odd side k, weights
 *   g(d) = exp(-d^2 / (2 sigma^2)) for d = -(k-1)/2 .. (k-1)/2, normalised
 *   to sum 1, rows then columns, borders reflected without repeating the
 *   edge pixel (... 2 1 | 0 1 2 ...), as kornia's GaussianBlur2d.
 */
#ifndef DACS_AUGMENT_H
#define DACS_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "data/resize.h"
#include "base/rng.h"

/* ---- colour jitter ---- */

enum { DX_JIT_BRIGHTNESS, DX_JIT_CONTRAST, DX_JIT_SATURATION, DX_JIT_HUE };

typedef struct dx_jitter {
    double brightness, contrast, saturation; /* factors, 1 = unchanged */
    double hue;                              /* shift in turns, 0 = none */
    int order[4];                            /* DX_JIT_* in the order run */
} dx_jitter;

/* Draw the factors for strengths sb, sc, ss, sh (in this order: b, c, s,
 * h, one uniform each) and then the order (a Fisher-Yates shuffle). */
void dx_jitter_draw(dx_jitter *j, dx_rng *r, double sb, double sc,
                    double ss, double sh);
/* img is (pixels, 3) float RGB in [0, 1], changed in place. */
void dx_jitter_apply(float *img, size_t pixels, const dx_jitter *j);

/* ---- Gaussian blur ---- */

/* The DACS kernel side for an image side: c = ceil(frac * side), then c if
 * c is odd, else c - 1 (at least 1).  frac 0.1: 512 -> 51, 256 -> 25. */
int dx_blur_side(int side, double frac);
/* kern[0..k) for odd k >= 1 and sigma > 0. */
void dx_gauss_kernel(float *kern, int k, double sigma);
/* Blur img, (h, w, c) float, in place with a kh x kw kernel (odd sides).
 * tmp: h*w*c floats of scratch, or NULL to allocate. */
int dx_blur_f32(float *img, int h, int w, int c, int kh, int kw,
                double sigma, float *tmp, dx_err *err);
/* The same on one u8 image (h, w, c), rounding to nearest once. */
int dx_blur_u8(uint8_t *img, int h, int w, int c, int kh, int kw,
               double sigma, dx_err *err);

/* ---- the DACS strong augmentation of a batch ---- */

typedef struct dx_aug_opts {
    int jitter;        /* on by default */
    double jitter_p;   /* 0.8 */
    double brightness, contrast, saturation, hue; /* 0.25 each */
    int blur;          /* on by default */
    double blur_p;     /* 0.5 */
    double sigma_min, sigma_max; /* 0.15, 1.15 */
    double blur_frac;  /* 0.1: kernel side ~ 10% of the image side */
    int flip;          /* off by default */
    double flip_p;     /* 0.5 */
    dx_share share;    /* the batch is this share of the global one (item
                          i draws as item part + i*parts, base/rng.h) */
} dx_aug_opts;

void dx_aug_defaults(dx_aug_opts *o);

/* What was drawn for a batch (for reports and tests). */
typedef struct dx_aug_draw {
    int jitter, blur, flip; /* applied to this batch */
    int kh, kw;             /* blur kernel sides */
} dx_aug_draw;

/* Strong augmentation of a batch of n images (N,H,W,3) u8, in place, as in
 * the reference code: one draw per batch decides whether jitter, blur and
 * flip apply (u_j < jitter_p, u_b < blur_p, u_f < flip_p, drawn in this
 * order from r, always all three); each image i then draws its own jitter
 * factors and blur sigma ~ U[sigma_min, sigma_max) from dx_rng_child(r, i),
 * always, so switching one part off leaves the draws of the others as they
 * were.  Jitter runs before blur, both in float, rounded once.  A flip
 * reverses the rows of the image and of label (u8), weight (f32) and mask
 * (u8), (N,H,W) each, where not NULL.  draw may be NULL. */
int dx_strong_augment(uint8_t *image, uint8_t *label, float *weight,
                      uint8_t *mask, int n, int h, int w,
                      const dx_aug_opts *o, const dx_rng *r,
                      dx_aug_draw *draw, dx_err *err);

#endif
