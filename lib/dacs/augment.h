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

#include "base/cli.h"
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

/* ---- its command-line options ----
 *
 * Spelt, parsed and described once for the tools that apply the
 * augmentation (classmix, mic-mask).  A tool puts DX_AUG_LONGOPTS (and
 * DX_AUG_FLIP_LONGOPTS when it flips) in its getopt_long table, hands
 * every option code it gets to dx_aug_option first, and has DX_AUG_USAGE
 * (DX_AUG_FLIP_USAGE) in its --help format with DX_AUG_USAGE_ARGS(a)
 * (DX_AUG_FLIP_USAGE_ARGS(a)) as the arguments, a holding its defaults.
 * The codes lie above any tool's own (DX_OPT_TOOL + 0x100 up). */
enum { DX_OPT_AUG = DX_OPT_TOOL + 0x100, DX_OPT_AUG_NOJIT, DX_OPT_AUG_JIT,
       DX_OPT_AUG_JITP, DX_OPT_AUG_BRI, DX_OPT_AUG_CON, DX_OPT_AUG_SAT,
       DX_OPT_AUG_HUE, DX_OPT_AUG_NOBLUR, DX_OPT_AUG_BLURP,
       DX_OPT_AUG_SIGMA, DX_OPT_AUG_BLURF, DX_OPT_AUG_FLIP,
       DX_OPT_AUG_FLIPP };

#define DX_AUG_LONGOPTS                                                    \
    {"no-augment", no_argument, NULL, DX_OPT_AUG},                         \
    {"no-jitter", no_argument, NULL, DX_OPT_AUG_NOJIT},                    \
    {"jitter", required_argument, NULL, DX_OPT_AUG_JIT},                   \
    {"jitter-p", required_argument, NULL, DX_OPT_AUG_JITP},                \
    {"brightness", required_argument, NULL, DX_OPT_AUG_BRI},               \
    {"contrast", required_argument, NULL, DX_OPT_AUG_CON},                 \
    {"saturation", required_argument, NULL, DX_OPT_AUG_SAT},               \
    {"hue", required_argument, NULL, DX_OPT_AUG_HUE},                      \
    {"no-blur", no_argument, NULL, DX_OPT_AUG_NOBLUR},                     \
    {"blur-p", required_argument, NULL, DX_OPT_AUG_BLURP},                 \
    {"sigma", required_argument, NULL, DX_OPT_AUG_SIGMA},                  \
    {"blur-frac", required_argument, NULL, DX_OPT_AUG_BLURF}
#define DX_AUG_FLIP_LONGOPTS                                               \
    {"flip", no_argument, NULL, DX_OPT_AUG_FLIP},                          \
    {"flip-p", required_argument, NULL, DX_OPT_AUG_FLIPP}

#define DX_AUG_USAGE                                                       \
    "  --no-augment        no colour jitter and no blur\n"                 \
    "  --no-jitter         no colour jitter\n"                             \
    "  --jitter S          the four strengths below at once\n"             \
    "  --jitter-p P        probability of colour jitter (default %g)\n"    \
    "  --brightness S      jitter strength of brightness (default %g)\n"   \
    "  --contrast S        ... of contrast (default %g)\n"                 \
    "  --saturation S      ... of saturation (default %g)\n"               \
    "  --hue S             ... of hue, at most 0.5 (default %g)\n"         \
    "  --no-blur           no Gaussian blur\n"                             \
    "  --blur-p P          probability of blur (default %g)\n"             \
    "  --sigma LO,HI       blur sigma ~ U(LO, HI) (default %g,%g)\n"       \
    "  --blur-frac F       kernel side ~ F x image side, odd (default %g)\n"
#define DX_AUG_USAGE_ARGS(a)                                               \
    (a).jitter_p, (a).brightness, (a).contrast, (a).saturation, (a).hue,  \
        (a).blur_p, (a).sigma_min, (a).sigma_max, (a).blur_frac
#define DX_AUG_FLIP_USAGE                                                  \
    "  --flip              horizontal flip of image, label, weight and mask\n" \
    "                      (default off)\n"                                \
    "  --flip-p P          probability of the flip when on (default %g)\n"
#define DX_AUG_FLIP_USAGE_ARGS(a) (a).flip_p

/* Apply option code (a DX_OPT_AUG* code) with its argument arg (NULL for
 * those without) to o.  Returns 1 when code is one of them, 0 when it is
 * not (the tool's own); a value out of range ends the tool with one line
 * naming the option (base/cli.h). */
int dx_aug_option(dx_aug_opts *o, int code, const char *arg);

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
