/* augment.c - colour jitter, Gaussian blur and flips on RGB images. */
#include "dacs/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/simd.h"

/* ---- colour jitter ---- */

static double factor_range(dx_rng *r, double strength)
{
    double lo = 1 - strength < 0 ? 0 : 1 - strength;
    return dx_rng_range(r, lo, 1 + strength);
}

void dx_jitter_draw(dx_jitter *j, dx_rng *r, double sb, double sc,
                    double ss, double sh)
{
    j->brightness = factor_range(r, sb);
    j->contrast = factor_range(r, sc);
    j->saturation = factor_range(r, ss);
    j->hue = dx_rng_range(r, -sh, sh);
    uint32_t ord[4] = {DX_JIT_BRIGHTNESS, DX_JIT_CONTRAST, DX_JIT_SATURATION,
                       DX_JIT_HUE};
    dx_rng_shuffle(r, ord, 4);
    for (int k = 0; k < 4; k++)
        j->order[k] = (int)ord[k];
}

static float clamp01(float x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

static float gray(const float *p)
{
    return 0.2989f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

/* RGB in [0,1] to HSV with H in [0,1). */
static void rgb_to_hsv(const float *p, float *h, float *s, float *v)
{
    float r = p[0], g = p[1], b = p[2];
    /* comparisons, not fmaxf (a libm call on baseline x86-64): the values
     * are never NaN */
    float mx = r > g ? r : g, mn = r < g ? r : g;
    mx = mx > b ? mx : b;
    mn = mn < b ? mn : b;
    float cr = mx - mn;
    *v = mx;
    if (cr <= 0) {
        *h = 0;
        *s = 0;
        return;
    }
    *s = cr / mx;
    float rc = (mx - r) / cr, gc = (mx - g) / cr, bc = (mx - b) / cr;
    float hh;
    if (mx == r)
        hh = bc - gc;
    else if (mx == g)
        hh = 2 + rc - bc;
    else
        hh = 4 + gc - rc;
    hh = hh / 6 + 1;
    *h = hh - floorf(hh);
}

static void hsv_to_rgb(float h, float s, float v, float *p)
{
    float h6 = h * 6;
    float fi = floorf(h6);
    float f = h6 - fi;
    int i = (int)fi % 6;
    if (i < 0)
        i += 6;
    float a = clamp01(v * (1 - s));
    float q = clamp01(v * (1 - s * f));
    float t = clamp01(v * (1 - s * (1 - f)));
    float r, g, b;
    switch (i) {
    case 0: r = v; g = t; b = a; break;
    case 1: r = q; g = v; b = a; break;
    case 2: r = a; g = v; b = t; break;
    case 3: r = a; g = q; b = v; break;
    case 4: r = t; g = a; b = v; break;
    default: r = v; g = a; b = q; break;
    }
    p[0] = r;
    p[1] = g;
    p[2] = b;
}

/* img[i] = clamp01(a * img[i] + b) over n floats (brightness: b = 0,
 * which adds nothing) */
DX_WIDE static void scale_clamp(float *img, size_t n, float a, float b)
{
    for (size_t i = 0; i < n; i++)
        img[i] = clamp01(a * img[i] + b);
}

DX_WIDE static void saturate(float *img, size_t pixels, float s)
{
    for (size_t p = 0; p < pixels; p++) {
        float *q = img + 3 * p;
        float g = gray(q);
        for (int ch = 0; ch < 3; ch++)
            q[ch] = clamp01(s * q[ch] + (1 - s) * g);
    }
}

void dx_jitter_apply(float *img, size_t pixels, const dx_jitter *j)
{
    size_t n3 = pixels * 3;
    for (int k = 0; k < 4; k++) {
        switch (j->order[k]) {
        case DX_JIT_BRIGHTNESS:
            scale_clamp(img, n3, (float)j->brightness, 0);
            break;
        case DX_JIT_CONTRAST: {
            double sum = 0;
            for (size_t p = 0; p < pixels; p++)
                sum += gray(img + 3 * p);
            float m = pixels ? (float)(sum / (double)pixels) : 0;
            float c = (float)j->contrast;
            scale_clamp(img, n3, c, (1 - c) * m);
            break;
        }
        case DX_JIT_SATURATION:
            saturate(img, pixels, (float)j->saturation);
            break;
        default: {
            float shift = (float)j->hue;
            for (size_t p = 0; p < pixels; p++) {
                float h, s, v;
                rgb_to_hsv(img + 3 * p, &h, &s, &v);
                h += shift;
                h -= floorf(h);
                hsv_to_rgb(h, s, v, img + 3 * p);
            }
            break;
        }
        }
    }
}

/* 8-bit values to [0, 1] and back, rounded to nearest */
DX_WIDE static void u8_to_float(float *f, const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f[i] = v[i] / 255.0f;
}

DX_WIDE static void float_to_u8(uint8_t *v, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)floorf(clamp01(f[i]) * 255.0f + 0.5f);
}

/* ---- Gaussian blur ---- */

int dx_blur_side(int side, double frac)
{
    int c = (int)ceil(frac * side);
    int k = c % 2 ? c : c - 1;
    return k < 1 ? 1 : k;
}

void dx_gauss_kernel(float *kern, int k, double sigma)
{
    double w[k], sum = 0;
    for (int i = 0; i < k; i++) {
        double d = i - (k - 1) / 2;
        w[i] = exp(-d * d / (2 * sigma * sigma));
        sum += w[i];
    }
    for (int i = 0; i < k; i++)
        kern[i] = (float)(w[i] / sum);
}

/* Index i reflected into [0, n) without repeating the edge. */
static int reflect(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

/* dst[i] += kt * src[i] over n floats: the blur's inner loop, built for
 * AVX2 and AVX-512 too (the same operations in the same order, so the
 * same bits, on any of them). */
DX_WIDE static void axpy(float *restrict dst, const float *restrict src,
                         float kt, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += kt * src[i];
}

/* The horizontal pass over one row of len pixels of c channels: every
 * output is 0 + kern[0]*src[..] + kern[1]*src[..] + ..., in that order,
 * with the taps beyond the ends reflected.  The pixels whose taps are all
 * inside run as whole-row products. */
static void blur_row(float *dst, const float *src, int len, int c,
                     const float *kern, int k)
{
    int r = k / 2;
    int lo = r < len ? r : len, hi = len - r > lo ? len - r : lo;
    for (int x = 0; x < len; x++) {
        if (x == lo && hi > lo)
            x = hi; /* the whole-row part, below */
        for (int ch = 0; ch < c && x < len; ch++) {
            float acc = 0;
            for (int t = 0; t < k; t++) {
                int sx = x + t - r;
                if (sx < 0 || sx >= len)
                    sx = reflect(sx, len);
                acc += kern[t] * src[(size_t)sx * c + (size_t)ch];
            }
            dst[(size_t)x * c + (size_t)ch] = acc;
        }
    }
    if (hi > lo) {
        size_t n = (size_t)(hi - lo) * c;
        float *d = dst + (size_t)lo * c;
        memset(d, 0, n * sizeof *d);
        for (int t = 0; t < k; t++)
            axpy(d, src + (size_t)(lo + t - r) * c, kern[t], n);
    }
}

int dx_blur_f32(float *img, int h, int w, int c, int kh, int kw,
                double sigma, float *tmp, dx_err *err)
{
    if (h < 1 || w < 1 || c < 1 || kh < 1 || kw < 1 || kh % 2 == 0 ||
        kw % 2 == 0 || !(sigma > 0))
        return dx_fail(err, "blur: bad arguments: image %dx%dx%d, kernel "
                       "%dx%d, sigma %g (expected odd kernel sides and "
                       "sigma > 0)", h, w, c, kh, kw, sigma);
    if (kh == 1 && kw == 1)
        return 0;
    float *own = NULL;
    size_t total = (size_t)h * w * c;
    if (!tmp) {
        tmp = own = malloc(total * sizeof *tmp);
        if (!tmp)
            return dx_fail(err, "blur: out of memory");
    }
    float kx[kw], ky[kh];
    dx_gauss_kernel(kx, kw, sigma);
    dx_gauss_kernel(ky, kh, sigma);
    size_t row = (size_t)w * c;
    for (int y = 0; y < h; y++) /* rows: img -> tmp */
        blur_row(tmp + y * row, img + y * row, w, c, kx, kw);
    /* columns, tmp -> img, a whole row of outputs at a time: the same sums
     * in the same order as one column at a time */
    int r = kh / 2;
    for (int y = 0; y < h; y++) {
        float *d = img + y * row;
        memset(d, 0, row * sizeof *d);
        for (int t = 0; t < kh; t++) {
            int sy = y + t - r;
            if (sy < 0 || sy >= h)
                sy = reflect(sy, h);
            axpy(d, tmp + (size_t)sy * row, ky[t], row);
        }
    }
    free(own);
    return 0;
}

int dx_blur_u8(uint8_t *img, int h, int w, int c, int kh, int kw,
               double sigma, dx_err *err)
{
    if (h < 1 || w < 1 || c < 1)
        return dx_fail(err, "blur: bad image size %dx%dx%d", h, w, c);
    size_t total = (size_t)h * w * c;
    float *f = malloc(2 * total * sizeof *f);
    if (!f)
        return dx_fail(err, "blur: out of memory");
    u8_to_float(f, img, total);
    int rc = dx_blur_f32(f, h, w, c, kh, kw, sigma, f + total, err);
    if (rc == 0)
        float_to_u8(img, f, total);
    free(f);
    return rc;
}

/* ---- the DACS strong augmentation ---- */

void dx_aug_defaults(dx_aug_opts *o)
{
    memset(o, 0, sizeof *o);
    o->jitter = 1;
    o->jitter_p = 0.8;
    o->brightness = o->contrast = o->saturation = o->hue = 0.25;
    o->blur = 1;
    o->blur_p = 0.5;
    o->sigma_min = 0.15;
    o->sigma_max = 1.15;
    o->blur_frac = 0.1;
    o->flip = 0;
    o->flip_p = 0.5;
}

int dx_aug_option(dx_aug_opts *o, int code, const char *arg)
{
    switch (code) {
    case DX_OPT_AUG:
        o->jitter = o->blur = 0;
        return 1;
    case DX_OPT_AUG_NOJIT:
        o->jitter = 0;
        return 1;
    case DX_OPT_AUG_JIT:
        o->brightness = o->contrast = o->saturation =
            dx_arg_double("--jitter", arg, 0, 0.5);
        o->hue = o->brightness;
        return 1;
    case DX_OPT_AUG_JITP:
        o->jitter_p = dx_arg_double("--jitter-p", arg, 0, 1);
        return 1;
    case DX_OPT_AUG_BRI:
        o->brightness = dx_arg_double("--brightness", arg, 0, 10);
        return 1;
    case DX_OPT_AUG_CON:
        o->contrast = dx_arg_double("--contrast", arg, 0, 10);
        return 1;
    case DX_OPT_AUG_SAT:
        o->saturation = dx_arg_double("--saturation", arg, 0, 10);
        return 1;
    case DX_OPT_AUG_HUE:
        o->hue = dx_arg_double("--hue", arg, 0, 0.5);
        return 1;
    case DX_OPT_AUG_NOBLUR:
        o->blur = 0;
        return 1;
    case DX_OPT_AUG_BLURP:
        o->blur_p = dx_arg_double("--blur-p", arg, 0, 1);
        return 1;
    case DX_OPT_AUG_SIGMA:
        dx_arg_range("--sigma", arg, 1e-3, 100, &o->sigma_min, &o->sigma_max);
        return 1;
    case DX_OPT_AUG_BLURF:
        o->blur_frac = dx_arg_double("--blur-frac", arg, 0, 1);
        return 1;
    case DX_OPT_AUG_FLIP:
        o->flip = 1;
        return 1;
    case DX_OPT_AUG_FLIPP:
        o->flip_p = dx_arg_double("--flip-p", arg, 0, 1);
        return 1;
    }
    return 0;
}

int dx_strong_augment(uint8_t *image, uint8_t *label, float *weight,
                      uint8_t *mask, int n, int h, int w,
                      const dx_aug_opts *o, const dx_rng *r,
                      dx_aug_draw *draw, dx_err *err)
{
    dx_rng batch = *r;
    dx_aug_draw d = {0};
    d.jitter = dx_rng_uniform(&batch) < o->jitter_p && o->jitter;
    d.blur = dx_rng_uniform(&batch) < o->blur_p && o->blur;
    d.flip = dx_rng_uniform(&batch) < o->flip_p && o->flip;
    d.kh = dx_blur_side(h, o->blur_frac);
    d.kw = dx_blur_side(w, o->blur_frac);
    if (draw)
        *draw = d;
    size_t hw = (size_t)h * (size_t)w;
    float *f = NULL;
    if ((d.jitter || d.blur) && n > 0) {
        f = malloc(2 * hw * 3 * sizeof *f);
        if (!f)
            return dx_fail(err, "augment: out of memory for a %dx%d image",
                           h, w);
    }
    for (int i = 0; i < n && f; i++) {
        dx_rng item = dx_rng_item(r, &o->share, i);
        dx_jitter j;
        dx_jitter_draw(&j, &item, o->brightness, o->contrast, o->saturation,
                       o->hue);
        double sigma = dx_rng_range(&item, o->sigma_min, o->sigma_max);
        uint8_t *img = image + (size_t)i * hw * 3;
        u8_to_float(f, img, hw * 3);
        if (d.jitter)
            dx_jitter_apply(f, hw, &j);
        if (d.blur &&
            dx_blur_f32(f, h, w, 3, d.kh, d.kw, sigma, f + hw * 3, err)) {
            free(f);
            return -1;
        }
        float_to_u8(img, f, hw * 3);
    }
    free(f);
    if (d.flip) {
        size_t rows = (size_t)n * (size_t)h;
        dx_flip_rows(image, rows, (size_t)w, 3);
        if (label)
            dx_flip_rows(label, rows, (size_t)w, 1);
        if (weight)
            dx_flip_rows(weight, rows, (size_t)w, sizeof *weight);
        if (mask)
            dx_flip_rows(mask, rows, (size_t)w, 1);
    }
    return 0;
}
