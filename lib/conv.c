/* conv.c - convolution as im2col + OpenBLAS sgemm; see conv.h. */
#include "conv.h"

#include <cblas.h>
#include <string.h>

#include "par.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise the copies at any -O */
#endif

int dx_conv_out(const dx_conv *c, int in)
{
    long span = (long)c->dil * (c->k - 1) + 1;
    long room = (long)in + 2L * c->pad - span;
    return room < 0 ? 0 : (int)(room / c->stride + 1);
}

/* Output rows (of all images) per chunk: r = img*Ho + ho. */
static int chunk_rows(const dx_conv *c, int n, int ho, int wo)
{
    size_t kk = (size_t)c->cin * c->k * c->k;
    size_t rows = DX_CONV_CHUNK / (kk * (size_t)wo);
    size_t total = (size_t)n * ho;
    if (rows < 1)
        rows = 1;
    return (int)(rows < total ? rows : total);
}

size_t dx_conv_ws_floats(const dx_conv *c, int n, int h, int w)
{
    int ho = dx_conv_out(c, h), wo = dx_conv_out(c, w);
    if (ho < 1 || wo < 1)
        return 0;
    size_t kk = (size_t)c->cin * c->k * c->k;
    return 2 * kk * (size_t)chunk_rows(c, n, ho, wo) * wo;
}

/* Valid output columns [lo, hi) for kernel column offset `off`: those
 * with 0 <= wo*stride - pad + off < w. */
static void valid_span(int off, int stride, int pad, int w, int wo, int *lo,
                       int *hi)
{
    int a = pad - off; /* need wo*stride >= a */
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int b = w + pad - off; /* need wo*stride < b */
    int h = b <= 0 ? 0 : (b - 1) / stride + 1;
    if (h > wo)
        h = wo;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* What im2col and col2im need; the threads split the input channels. */
typedef struct cols_job {
    float *col;       /* im2col: out; col2im: in (dcol) */
    const float *x;   /* im2col: the input */
    float *dx;        /* col2im: out */
    const dx_conv *c;
    int n, h, w, ho, wo, r0, r1;
} cols_job;

/* col (Cin*k*k, (r1-r0)*wo) from x (Cin, n, h, w) for output rows
 * [r0, r1), input channels [c0, c1). */
static void im2col_part(void *arg, long c0, long c1)
{
    const cols_job *j = arg;
    float *col = j->col;
    const float *x = j->x;
    const dx_conv *c = j->c;
    int n = j->n, h = j->h, w = j->w, ho = j->ho, wo = j->wo;
    int r0 = j->r0, r1 = j->r1;
    size_t ncols = (size_t)(r1 - r0) * wo;
    size_t plane = (size_t)h * w;
    int s = c->stride;
    for (int ci = (int)c0; ci < c1; ci++)
        for (int kh = 0; kh < c->k; kh++)
            for (int kw = 0; kw < c->k; kw++) {
                float *row = col + (((size_t)ci * c->k + kh) * c->k + kw) *
                                       ncols;
                int off = kw * c->dil, lo, hi;
                valid_span(off, s, c->pad, w, wo, &lo, &hi);
                for (int r = r0; r < r1; r++) {
                    int img = r / ho, oh = r % ho;
                    int ih = oh * s - c->pad + kh * c->dil;
                    float *d = row + (size_t)(r - r0) * wo;
                    if (ih < 0 || ih >= h || lo >= hi) {
                        memset(d, 0, sizeof *d * wo);
                        continue;
                    }
                    /* input column of output o: o*s + sh (>= 0 in span) */
                    const float *src = x + ((size_t)ci * n + img) * plane +
                                       (size_t)ih * w;
                    int sh = off - c->pad;
                    memset(d, 0, sizeof *d * lo);
                    if (s == 1) {
                        memcpy(d + lo, src + lo + sh, sizeof *d * (hi - lo));
                    } else {
                        for (int o = lo; o < hi; o++)
                            d[o] = src[o * s + sh];
                    }
                    memset(d + hi, 0, sizeof *d * (wo - hi));
                }
            }
}

/* dx (Cin, n, h, w) += the scatter of dcol, the adjoint of im2col, for
 * input channels [c0, c1) (so threads never write the same value). */
static void col2im_part(void *arg, long c0, long c1)
{
    const cols_job *j = arg;
    float *dx = j->dx;
    const float *dcol = j->col;
    const dx_conv *c = j->c;
    int n = j->n, h = j->h, w = j->w, ho = j->ho, wo = j->wo;
    int r0 = j->r0, r1 = j->r1;
    size_t ncols = (size_t)(r1 - r0) * wo;
    size_t plane = (size_t)h * w;
    int s = c->stride;
    for (int ci = (int)c0; ci < c1; ci++)
        for (int kh = 0; kh < c->k; kh++)
            for (int kw = 0; kw < c->k; kw++) {
                const float *row =
                    dcol + (((size_t)ci * c->k + kh) * c->k + kw) * ncols;
                int off = kw * c->dil, lo, hi;
                valid_span(off, s, c->pad, w, wo, &lo, &hi);
                if (lo >= hi)
                    continue;
                for (int r = r0; r < r1; r++) {
                    int img = r / ho, oh = r % ho;
                    int ih = oh * s - c->pad + kh * c->dil;
                    if (ih < 0 || ih >= h)
                        continue;
                    const float *g = row + (size_t)(r - r0) * wo;
                    float *d = dx + ((size_t)ci * n + img) * plane +
                               (size_t)ih * w;
                    int sh = off - c->pad;
                    if (s == 1) {
                        float *ds = d + lo + sh;
                        const float *gs = g + lo;
                        for (int o = 0; o < hi - lo; o++)
                            ds[o] += gs[o];
                    } else {
                        for (int o = lo; o < hi; o++)
                            d[o * s + sh] += g[o];
                    }
                }
            }
}

static void im2col(float *col, const float *x, const dx_conv *c, int n,
                   int h, int w, int ho, int wo, int r0, int r1)
{
    cols_job j = {col, x, NULL, c, n, h, w, ho, wo, r0, r1};
    dx_par_for(c->cin, im2col_part, &j);
}

static void col2im(float *dx, const float *dcol, const dx_conv *c, int n,
                   int h, int w, int ho, int wo, int r0, int r1)
{
    cols_job j = {(float *)dcol, NULL, dx, c, n, h, w, ho, wo, r0, r1};
    dx_par_for(c->cin, col2im_part, &j);
}

/* db[o] += sum of dy[o] over P, for channels [o0, o1). */
typedef struct bias_job {
    float *db;
    const float *dy;
    size_t P;
} bias_job;

static void bias_part(void *arg, long o0, long o1)
{
    const bias_job *j = arg;
    for (long o = o0; o < o1; o++) {
        const float *g = j->dy + (size_t)o * j->P;
        double s = 0;
        size_t i = 0;
        /* blocks of 512 in 16 float lanes, each block total in double */
        for (; i + 512 <= j->P; i += 512) {
            float acc[16] = {0};
            for (size_t b = 0; b < 512; b += 16)
                for (int l = 0; l < 16; l++)
                    acc[l] += g[i + b + l];
            for (int l = 0; l < 16; l++)
                s += acc[l];
        }
        for (; i < j->P; i++)
            s += g[i];
        j->db[o] += (float)s;
    }
}

void dx_conv_forward(float *y, const float *x, const float *wt,
                     const float *bias, const dx_conv *c, int n, int h,
                     int w, int accumulate, float *ws)
{
    int ho = dx_conv_out(c, h), wo = dx_conv_out(c, w);
    int kk = c->cin * c->k * c->k;
    size_t P = (size_t)n * ho * wo;
    int step = chunk_rows(c, n, ho, wo);
    for (int r0 = 0; r0 < n * ho; r0 += step) {
        int r1 = r0 + step < n * ho ? r0 + step : n * ho;
        int cols = (r1 - r0) * wo;
        float *yc = y + (size_t)r0 * wo;
        im2col(ws, x, c, n, h, w, ho, wo, r0, r1);
        if (bias) {
            for (int o = 0; o < c->cout; o++) {
                float *yo = yc + (size_t)o * P;
                if (accumulate)
                    for (int j = 0; j < cols; j++)
                        yo[j] += bias[o];
                else
                    for (int j = 0; j < cols; j++)
                        yo[j] = bias[o];
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, cols,
                    kk, 1.0f, wt, kk, ws, cols,
                    bias || accumulate ? 1.0f : 0.0f, yc, (int)P);
    }
}

void dx_conv_backward(float *dx, float *dw, float *db, const float *dy,
                      const float *x, const float *wt, const dx_conv *c,
                      int n, int h, int w, float *ws)
{
    int ho = dx_conv_out(c, h), wo = dx_conv_out(c, w);
    int kk = c->cin * c->k * c->k;
    size_t P = (size_t)n * ho * wo;
    int step = chunk_rows(c, n, ho, wo);
    float *col = ws, *dcol = ws + (size_t)kk * step * wo;
    if (db) {
        bias_job bj = {db, dy, P};
        dx_par_for(c->cout, bias_part, &bj);
    }
    for (int r0 = 0; r0 < n * ho; r0 += step) {
        int r1 = r0 + step < n * ho ? r0 + step : n * ho;
        int cols = (r1 - r0) * wo;
        const float *dyc = dy + (size_t)r0 * wo;
        im2col(col, x, c, n, h, w, ho, wo, r0, r1);
        /* dw (Cout, kk) += dy_chunk (Cout, cols) * col^T (cols, kk) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, kk,
                    cols, 1.0f, dyc, (int)P, col, cols, 1.0f, dw, kk);
        if (!dx)
            continue;
        /* dcol (kk, cols) = wt^T (kk, Cout) * dy_chunk (Cout, cols) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, cols,
                    c->cout, 1.0f, wt, kk, dyc, (int)P, 0.0f, dcol, cols);
        col2im(dx, dcol, c, n, h, w, ho, wo, r0, r1);
    }
}
