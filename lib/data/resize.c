/* resize.c - windowed bilinear (triangle) and nearest resampling. */
#include "data/resize.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"

/* Filter taps of one axis: for output position j (virtual coordinate
 * o + j), the source range [first[j], first[j] + n[j]) with weights
 * w[j * maxn ...], summing to 1.  n[j] == 0 marks a padded position. */
typedef struct taps {
    int *first, *n;
    float *w;
    int maxn;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->n);
    free(t->w);
}

static int taps_make(taps *t, int dn, int sn, int vn, int o)
{
    double scale = (double)sn / vn;
    double support = scale > 1 ? scale : 1; /* triangle radius, source px */
    t->maxn = (int)ceil(support) * 2 + 3;
    t->first = malloc((size_t)dn * sizeof *t->first);
    t->n = malloc((size_t)dn * sizeof *t->n);
    t->w = malloc((size_t)dn * t->maxn * sizeof *t->w);
    if (!t->first || !t->n || !t->w)
        return -1;
    for (int j = 0; j < dn; j++) {
        long v = (long)o + j;
        t->first[j] = 0;
        t->n[j] = 0;
        if (v < 0 || v >= vn)
            continue;
        double centre = (v + 0.5) * scale;
        int lo = (int)floor(centre - support);
        int hi = (int)ceil(centre + support);
        if (lo < 0)
            lo = 0;
        if (hi > sn)
            hi = sn;
        double sum = 0, w[64 + 3];
        double *wp = t->maxn <= 67 ? w : malloc((size_t)t->maxn * sizeof *wp);
        if (!wp)
            return -1;
        int n = 0;
        for (int i = lo; i < hi && n < t->maxn; i++) {
            double d = fabs(i + 0.5 - centre) / support;
            double k = d < 1 ? 1 - d : 0;
            wp[n++] = k;
            sum += k;
        }
        if (sum <= 0) { /* cannot happen for support >= 1; be safe */
            int i = (int)floor(centre);
            lo = i < 0 ? 0 : i >= sn ? sn - 1 : i;
            wp[0] = 1;
            n = 1;
            sum = 1;
        }
        /* drop zero taps at both ends */
        int a = 0, b = n;
        while (a < b - 1 && wp[a] == 0)
            a++;
        while (b > a + 1 && wp[b - 1] == 0)
            b--;
        t->first[j] = lo + a;
        t->n[j] = b - a;
        for (int i = a; i < b; i++)
            t->w[(size_t)j * t->maxn + (i - a)] = (float)(wp[i] / sum);
        if (wp != w)
            free(wp);
    }
    return 0;
}

int dx_resample_bilinear(uint8_t *dst, int dw, int dh, const uint8_t *src,
                         int sw, int sh, int c, int vw, int vh, int ox,
                         int oy, uint8_t fill, dx_err *err)
{
    if (dw < 1 || dh < 1 || sw < 1 || sh < 1 || vw < 1 || vh < 1 || c < 1)
        return dx_fail(err, "resample: bad sizes %dx%d -> %dx%d window %dx%d",
                       sw, sh, vw, vh, dw, dh);
    taps tx = {0}, ty = {0};
    float *rows = NULL;
    if (taps_make(&tx, dw, sw, vw, ox) || taps_make(&ty, dh, sh, vh, oy))
        goto oom;
    /* the source rows any output row needs */
    int r0 = sh, r1 = 0;
    for (int j = 0; j < dh; j++)
        if (ty.n[j]) {
            if (ty.first[j] < r0)
                r0 = ty.first[j];
            if (ty.first[j] + ty.n[j] > r1)
                r1 = ty.first[j] + ty.n[j];
        }
    if (r1 > r0) {
        /* horizontal pass: rows r0..r1 of the source, dw x c each */
        rows = malloc((size_t)(r1 - r0) * dw * c * sizeof *rows);
        if (!rows)
            goto oom;
        for (int y = r0; y < r1; y++) {
            const uint8_t *s = src + (size_t)y * sw * c;
            float *o = rows + (size_t)(y - r0) * dw * c;
            for (int x = 0; x < dw; x++) {
                const float *w = tx.w + (size_t)x * tx.maxn;
                for (int k = 0; k < c; k++) {
                    float acc = 0;
                    for (int i = 0; i < tx.n[x]; i++)
                        acc += w[i] * s[(size_t)(tx.first[x] + i) * c + k];
                    o[(size_t)x * c + k] = acc;
                }
            }
        }
    }
    for (int y = 0; y < dh; y++) {
        uint8_t *o = dst + (size_t)y * dw * c;
        const float *w = ty.w + (size_t)y * ty.maxn;
        for (int x = 0; x < dw; x++)
            for (int k = 0; k < c; k++) {
                if (!ty.n[y] || !tx.n[x]) {
                    o[(size_t)x * c + k] = fill;
                    continue;
                }
                float acc = 0;
                for (int i = 0; i < ty.n[y]; i++)
                    acc += w[i] * rows[((size_t)(ty.first[y] + i - r0) * dw +
                                        x) * c + k];
                int v = (int)(acc + 0.5f);
                o[(size_t)x * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255
                                                                       : v);
            }
    }
    free(rows);
    taps_free(&tx);
    taps_free(&ty);
    return 0;
oom:
    free(rows);
    taps_free(&tx);
    taps_free(&ty);
    return dx_fail(err, "resample: out of memory");
}

/* Nearest source index of virtual position v, or -1 outside [0, vn). */
static int nearest(long v, int sn, int vn)
{
    if (v < 0 || v >= vn)
        return -1;
    long long i = ((2LL * v + 1) * sn) / (2LL * vn);
    return (int)(i >= sn ? sn - 1 : i);
}

void dx_resample_nearest(uint8_t *dst, int dw, int dh, const uint8_t *src,
                         int sw, int sh, int c, int vw, int vh, int ox,
                         int oy, uint8_t fill)
{
    for (int y = 0; y < dh; y++) {
        int sy = nearest((long)oy + y, sh, vh);
        uint8_t *o = dst + (size_t)y * dw * c;
        for (int x = 0; x < dw; x++) {
            int sx = nearest((long)ox + x, sw, vw);
            if (sx < 0 || sy < 0)
                memset(o + (size_t)x * c, fill, (size_t)c);
            else
                memcpy(o + (size_t)x * c,
                       src + ((size_t)sy * sw + sx) * c, (size_t)c);
        }
    }
}

void dx_flip_rows(void *data, size_t rows, size_t w, size_t pixel_bytes)
{
    unsigned char tmp[16], *d = data;
    if (pixel_bytes > sizeof tmp || w < 2)
        return;
    for (size_t y = 0; y < rows; y++) {
        unsigned char *row = d + y * w * pixel_bytes;
        for (size_t a = 0, b = w - 1; a < b; a++, b--) {
            memcpy(tmp, row + a * pixel_bytes, pixel_bytes);
            memcpy(row + a * pixel_bytes, row + b * pixel_bytes, pixel_bytes);
            memcpy(row + b * pixel_bytes, tmp, pixel_bytes);
        }
    }
}

/* One axis of an align_corners=False bilinear resize of n to N: source
 * index i0[j], its neighbour i1[j] and the neighbour's weight l1[j]. */
static void half_pixel_axis(int *i0, int *i1, float *l1, int n, int N)
{
    float scale = (float)n / (float)N;
    for (int j = 0; j < N; j++) {
        float src = scale * ((float)j + 0.5f) - 0.5f;
        if (src < 0)
            src = 0;
        int a = (int)src;
        i0[j] = a;
        i1[j] = a < n - 1 ? a + 1 : a;
        l1[j] = src - (float)a;
    }
}

/* The work of dx_prob_resize, shared by rows among the threads. */
typedef struct prob_job {
    float *out, *conf;
    uint8_t *pred;
    const float *lp; /* (h, w, c) log-probabilities */
    int c, h, w, H, W;
    const int *y0, *y1, *x0, *x1;
    const float *ly, *lx;
} prob_job;

static void prob_rows(void *arg, long r0, long r1)
{
    const prob_job *j = arg;
    size_t HW = (size_t)j->H * j->W;
    float v[255];
    for (long Y = r0; Y < r1; Y++)
        for (int X = 0; X < j->W; X++) {
            float a = 1 - j->ly[Y], b = j->ly[Y], e = 1 - j->lx[X],
                  f = j->lx[X];
            /* the four neighbours' class vectors */
            size_t c = (size_t)j->c;
            const float *p00 = j->lp + ((size_t)j->y0[Y] * j->w + j->x0[X]) * c;
            const float *p01 = j->lp + ((size_t)j->y0[Y] * j->w + j->x1[X]) * c;
            const float *p10 = j->lp + ((size_t)j->y1[Y] * j->w + j->x0[X]) * c;
            const float *p11 = j->lp + ((size_t)j->y1[Y] * j->w + j->x1[X]) * c;
            float top = -INFINITY;
            int best = 0;
            for (int k = 0; k < j->c; k++) {
                v[k] = a * (e * p00[k] + f * p01[k]) +
                       b * (e * p10[k] + f * p11[k]);
                if (v[k] > top) {
                    top = v[k];
                    best = k;
                }
            }
            double sum = 0;
            for (int k = 0; k < j->c; k++)
                sum += v[k] = expf(v[k] - top);
            size_t Q = (size_t)Y * j->W + X;
            if (j->out)
                for (int k = 0; k < j->c; k++)
                    j->out[(size_t)k * HW + Q] = (float)(v[k] / sum);
            if (j->pred)
                j->pred[Q] = (uint8_t)best;
            if (j->conf)
                j->conf[Q] = (float)(1 / sum);
        }
}

int dx_prob_resize(float *out, uint8_t *pred, float *conf, const float *p,
                   int c, int h, int w, int H, int W, dx_err *err)
{
    if (c < 1 || c > 255 || h < 1 || w < 1 || H < 1 || W < 1)
        return dx_fail(err, "cannot resize %d classes of %dx%d to %dx%d", c,
                       w, h, W, H);
    size_t hw = (size_t)h * w;
    float *lp = malloc(sizeof *lp * hw * (size_t)c);
    int *ix = malloc(sizeof *ix * 2 * ((size_t)H + W));
    float *lx = malloc(sizeof *lx * ((size_t)H + W));
    if (!lp || !ix || !lx) {
        free(lp);
        free(ix);
        free(lx);
        return dx_fail(err, "out of memory resizing %d classes of %dx%d",
                       c, w, h);
    }
    /* log-probabilities, pixel-major (h, w, C): a pixel's classes side by
     * side */
    for (int k = 0; k < c; k++)
        for (size_t q = 0; q < hw; q++) {
            float x = p[(size_t)k * hw + q];
            lp[q * (size_t)c + k] = logf(x > FLT_MIN ? x : FLT_MIN);
        }
    prob_job j = {out, conf, pred, lp, c, h, w, H, W,
                  ix, ix + H, ix + 2 * H, ix + 2 * H + W, lx, lx + H};
    half_pixel_axis(ix, ix + H, lx, h, H);
    half_pixel_axis(ix + 2 * H, ix + 2 * H + W, lx + H, w, W);
    dx_par_for(H, prob_rows, &j);
    free(lp);
    free(ix);
    free(lx);
    return 0;
}
