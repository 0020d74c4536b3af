/* mix.c - ClassMix: class masks and mixing. */
#include "dacs/mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/classes.h"

const char *const dx_mix_mode_names[DX_MIX_END + 1] = {
    [DX_MIX_CLASS] = "class", [DX_MIX_NAIVE] = "naive",
    [DX_MIX_NONE] = "none", [DX_MIX_CUT] = "cut", [DX_MIX_COW] = "cow",
    [DX_MIX_END] = NULL};
const char *const dx_mix_pool_names[DX_POOL_END + 1] = {
    [DX_POOL_IMAGE] = "image", [DX_POOL_BATCH] = "batch",
    [DX_POOL_END] = NULL};

dx_mix_opts dx_mix_defaults(void)
{
    return (dx_mix_opts){.mode = DX_MIX_CLASS, .pool = DX_POOL_IMAGE,
                         .keep_ignore = 0, .cow_sigma_lo = 8,
                         .cow_sigma_hi = 32, .cow_p = 0.5};
}

void dx_classes_present(uint8_t present[256], const uint8_t *label,
                        size_t count)
{
    memset(present, 0, 256);
    for (size_t i = 0; i < count; i++)
        present[label[i]] = 1;
}

int dx_classes_pick(uint8_t picked[256], const uint8_t pool[256],
                    dx_rng *r)
{
    uint32_t cls[256], idx[256], n = 0;
    for (int v = 0; v < 256; v++)
        if (pool[v])
            cls[n++] = (uint32_t)v;
    uint32_t k = (n + 1) / 2;
    memset(picked, 0, 256);
    if (k == 0)
        return 0;
    dx_rng_choose(r, n, k, idx);
    for (uint32_t j = 0; j < k; j++)
        picked[cls[idx[j]]] = 1;
    return (int)k;
}

void dx_class_mask(uint8_t *mask, const uint8_t *label, size_t count,
                   const uint8_t picked[256])
{
    for (size_t i = 0; i < count; i++)
        mask[i] = picked[label[i]];
}

void dx_mix_u8(uint8_t *out, const uint8_t *mask, const uint8_t *a,
               const uint8_t *b, size_t pixels, int ch)
{
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *from = mask[p] ? a : b;
        memcpy(out + p * (size_t)ch, from + p * (size_t)ch, (size_t)ch);
    }
}

void dx_mix_f32(float *out, const uint8_t *mask, const float *a,
                const float *b, size_t pixels)
{
    for (size_t p = 0; p < pixels; p++)
        out[p] = mask[p] ? (a ? a[p] : 1.0f) : b[p];
}

void dx_cut_mask(uint8_t *mask, int h, int w, dx_rng *r)
{
    int lo = (w + 1) / 2;
    int bw = lo + (int)dx_rng_below(r, (uint64_t)(w - lo) + 1);
    int bh = (int)nearbyint((double)h * w / 2 / bw);
    int x = (int)dx_rng_below(r, (uint64_t)(w - bw) + 1);
    int y = (int)dx_rng_below(r, (uint64_t)(h - bh) + 1);
    memset(mask, 1, (size_t)h * w);
    for (int i = y; i < y + bh; i++)
        memset(mask + (size_t)i * w + x, 0, (size_t)bw);
}

/* erf^-1(y) for |y| < 1: Newton's method on erf from a first guess. */
static double erfinv(double y)
{
    double x = 0;
    if (y != 0) {
        /* Winitzki's approximation, within 2e-3 */
        double a = 0.147, l = log(1 - y * y), t = 2 / (M_PI * a) + l / 2;
        x = copysign(sqrt(sqrt(t * t - l / a) - t), y);
    }
    for (int k = 0; k < 50; k++) {
        double step = (erf(x) - y) / (2 / sqrt(M_PI) * exp(-x * x));
        x -= step;
        if (fabs(step) < 1e-15 * (1 + fabs(x)))
            break;
    }
    return x;
}

/* Index i of a side of n samples, reflected with the edge repeated. */
static int reflect(long i, int n)
{
    long period = 2L * n;
    i %= period;
    if (i < 0)
        i += period;
    return (int)(i < n ? i : period - 1 - i);
}

/* One axis of scipy's gaussian_filter1d: n lines of len samples, stride
 * apart along the axis and step apart between lines. */
static void gauss_axis(double *out, const double *in, int lines, int len,
                       long stride, long step, const double *k, int radius)
{
    for (int l = 0; l < lines; l++)
        for (int i = 0; i < len; i++) {
            double acc = 0;
            for (int j = -radius; j <= radius; j++)
                acc += k[j + radius] *
                       in[l * step + reflect(i + j, len) * stride];
            out[l * step + (long)i * stride] = acc;
        }
}

int dx_cow_mask_of(uint8_t *mask, double *smooth, const double *noise,
                   int h, int w, double sigma, double p, dx_err *err)
{
    if (!(p > 0 && p < 1) || !(sigma > 0))
        return dx_fail(err, "cow mask: p must be in (0, 1) and sigma > 0, "
                       "got p %g, sigma %g", p, sigma);
    int radius = (int)(4 * sigma + 0.5);
    size_t n = (size_t)h * w;
    double *k = malloc(sizeof *k * (2 * (size_t)radius + 1));
    double *tmp = malloc(sizeof *tmp * n);
    double *s = smooth ? smooth : malloc(sizeof *s * n);
    if (!k || !tmp || !s) {
        free(k);
        free(tmp);
        if (!smooth)
            free(s);
        return dx_fail(err, "out of memory");
    }
    double ksum = 0;
    for (int j = -radius; j <= radius; j++)
        ksum += k[j + radius] = exp(-0.5 / (sigma * sigma) * j * j);
    for (int j = 0; j <= 2 * radius; j++)
        k[j] /= ksum;
    /* axis 0 (down the columns), then axis 1 (along the rows) */
    gauss_axis(tmp, noise, w, h, w, 1, k, radius);
    gauss_axis(s, tmp, h, w, 1, w, k, radius);
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += s[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (s[i] - mean) * (s[i] - mean);
    double t = erfinv(2 * p - 1) * sqrt(2.0) * sqrt(var / (double)n) + mean;
    for (size_t i = 0; i < n; i++)
        mask[i] = s[i] > t;
    free(k);
    free(tmp);
    if (!smooth)
        free(s);
    return 0;
}

int dx_cow_mask(uint8_t *mask, int h, int w, double lo, double hi, double p,
                dx_rng *r, dx_err *err)
{
    if (!(lo > 0) || !(hi >= lo))
        return dx_fail(err, "cow mask: sigma range [%g, %g], expected "
                       "0 < lo <= hi", lo, hi);
    double sigma = exp(dx_rng_range(r, log(lo), log(hi)));
    size_t n = (size_t)h * w;
    double *noise = malloc(sizeof *noise * n);
    if (!noise)
        return dx_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        noise[i] = dx_rng_normal(r);
    int rc = dx_cow_mask_of(mask, NULL, noise, h, w, sigma, p, err);
    free(noise);
    return rc;
}

int dx_classmix(dx_mix_batch *b, const dx_mix_opts *o, const dx_rng *r,
                dx_err *err)
{
    if (o->mode < 0 || o->mode >= DX_MIX_END || o->pool < 0 ||
        o->pool >= DX_POOL_END)
        return dx_fail(err, "unknown mix mode %d or pool %d", o->mode,
                       o->pool);
    if (o->pool == DX_POOL_BATCH && o->share.parts > 1 &&
        (o->mode == DX_MIX_CLASS || o->mode == DX_MIX_NAIVE))
        return dx_fail(err, "pool batch draws from the classes of the "
                       "whole batch, and this is share %d of %d of it",
                       o->share.part, o->share.parts);
    int cross = o->mode == DX_MIX_CLASS || o->mode == DX_MIX_CUT ||
                o->mode == DX_MIX_COW;
    if (cross && (!b->src_image || !b->src_label))
        return dx_fail(err, "mode %s needs the source image and label",
                       dx_mix_mode_names[o->mode]);
    size_t hw = (size_t)b->h * (size_t)b->w;
    int n = b->n;
    /* the labels the classes are drawn from */
    const uint8_t *cls_label =
        o->mode == DX_MIX_CLASS ? b->src_label : b->tgt_plabel;
    uint8_t pool[256];
    if (o->pool == DX_POOL_BATCH)
        dx_classes_present(pool, cls_label, (size_t)n * hw);
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * hw;
        uint8_t picked[256];
        /* item i draws from its own generator, whatever the mode */
        dx_rng item = dx_rng_item(r, &o->share, i);
        if (o->mode == DX_MIX_NONE || o->mode == DX_MIX_CUT ||
            o->mode == DX_MIX_COW) {
            memset(picked, 0, sizeof picked);
        } else {
            if (o->pool == DX_POOL_IMAGE)
                dx_classes_present(pool, cls_label + off, hw);
            uint8_t use[256];
            memcpy(use, pool, sizeof use);
            if (!o->keep_ignore)
                use[DX_IGNORE] = 0;
            dx_classes_pick(picked, use, &item);
        }
        if (b->picked)
            memcpy(b->picked[i], picked, sizeof picked);
        if (o->mode == DX_MIX_CUT) {
            dx_cut_mask(b->mask + off, b->h, b->w, &item);
        } else if (o->mode == DX_MIX_COW) {
            if (dx_cow_mask(b->mask + off, b->h, b->w, o->cow_sigma_lo,
                            o->cow_sigma_hi, o->cow_p, &item, err))
                return -1;
        } else {
            dx_class_mask(b->mask + off, cls_label + off, hw, picked);
        }
        const uint8_t *m = b->mask + off;
        if (cross) {
            dx_mix_u8(b->image + 3 * off, m, b->src_image + 3 * off,
                      b->tgt_image + 3 * off, hw, 3);
            dx_mix_u8(b->label + off, m, b->src_label + off,
                      b->tgt_plabel + off, hw, 1);
            dx_mix_f32(b->weight + off, m, NULL, b->tgt_weight + off, hw);
        } else {
            /* naive pastes item i onto item j = i+1 mod N; none has M = 0
             * and keeps item i as it is */
            int j = o->mode == DX_MIX_NAIVE ? (i + 1) % n : i;
            size_t joff = (size_t)j * hw;
            dx_mix_u8(b->image + 3 * off, m, b->tgt_image + 3 * off,
                      b->tgt_image + 3 * joff, hw, 3);
            dx_mix_u8(b->label + off, m, b->tgt_plabel + off,
                      b->tgt_plabel + joff, hw, 1);
            dx_mix_f32(b->weight + off, m, b->tgt_weight + off,
                       b->tgt_weight + joff, hw);
        }
    }
    return 0;
}
