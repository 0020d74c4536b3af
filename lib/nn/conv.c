/* conv.c - convolution as im2col + OpenBLAS sgemm; see conv.h. */
#include "nn/conv.h"

#include <cblas.h>
#include <string.h>

#include "base/par.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise the copies at any -O */
#endif

int dx_conv_out(const dx_conv *c, int in)
{
    long span = (long)c->dil * (c->k - 1) + 1;
    long room = (long)in + 2L * c->pad - span;
    return room < 0 ? 0 : (int)(room / c->stride + 1);
}

/* Output rows (of all images) per chunk: r = img*Ho + ho.  At least
 * MIN_CHUNKS chunks when there are that many rows, so that threads can
 * share even a small layer; within that, chunks of DX_CONV_CHUNK floats,
 * but at least MIN_COLS columns: a product of fewer columns runs at two
 * thirds of the speed (OpenBLAS sgemm, 512x4608 weights: 51 GFLOPS for 65
 * columns, 76 for 455, one core), which is what a large kernel (a
 * DeepLabv2 layer4 conv) would otherwise get. */
enum { MIN_CHUNKS = 8, MIN_COLS = 448 };

static int chunk_rows(const dx_conv *c, int n, int ho, int wo)
{
    size_t kk = (size_t)c->cin * c->k * c->k;
    size_t rows = DX_CONV_CHUNK / (kk * (size_t)wo);
    size_t total = (size_t)n * ho;
    size_t share = (total + MIN_CHUNKS - 1) / MIN_CHUNKS;
    size_t least = (MIN_COLS + (size_t)wo - 1) / (size_t)wo;
    if (rows < least)
        rows = least;
    if (rows > share)
        rows = share;
    if (rows < 1)
        rows = 1;
    return (int)(rows < total ? rows : total);
}

/* Input-channel groups of the backward pass: a function of cin only. */
static int channel_groups(const dx_conv *c)
{
    int g = c->cin / 16;
    return g < 1 ? 1 : g > 4 ? 4 : g;
}

/* The backward pass has groups x parts tasks: parts of the output rows
 * (whole chunks) are added so that a thin layer, with one or two channel
 * groups, still gives MIN_TASKS tasks to share among the threads. */
enum { MIN_TASKS = 4 };

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

/* col (Kt, (r1-r0)*wo), Kt = (c1-c0)*k*k, from input channels [c0, c1) of
 * x (Cin, n, h, w), for output rows [r0, r1) (r = image*ho + row). */
static void im2col(float *col, const float *x, const dx_conv *c, int n,
                   int h, int w, int ho, int wo, int r0, int r1, int c0,
                   int c1)
{
    size_t ncols = (size_t)(r1 - r0) * wo;
    size_t plane = (size_t)h * w;
    int s = c->stride;
    for (int ci = c0; ci < c1; ci++)
        for (int kh = 0; kh < c->k; kh++)
            for (int kw = 0; kw < c->k; kw++) {
                float *row = col + (((size_t)(ci - c0) * c->k + kh) * c->k +
                                    kw) * ncols;
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
                    } else if (s == 2) { /* a constant stride vectorises */
                        const float *s2 = src + sh;
                        for (int o = lo; o < hi; o++)
                            d[o] = s2[2 * o];
                    } else {
                        for (int o = lo; o < hi; o++)
                            d[o] = src[o * s + sh];
                    }
                    memset(d + hi, 0, sizeof *d * (wo - hi));
                }
            }
}

/* dx (input channels [c0, c1) of (Cin, n, h, w)) += the scatter of dcol
 * (Kt, (r1-r0)*wo): the adjoint of im2col. */
static void col2im(float *dx, const float *dcol, const dx_conv *c, int n,
                   int h, int w, int ho, int wo, int r0, int r1, int c0,
                   int c1)
{
    size_t ncols = (size_t)(r1 - r0) * wo;
    size_t plane = (size_t)h * w;
    int s = c->stride;
    for (int ci = c0; ci < c1; ci++)
        for (int kh = 0; kh < c->k; kh++)
            for (int kw = 0; kw < c->k; kw++) {
                const float *row = dcol + (((size_t)(ci - c0) * c->k + kh) *
                                               c->k + kw) * ncols;
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
                    } else if (s == 2) {
                        float *d2 = d + sh;
                        for (int o = lo; o < hi; o++)
                            d2[2 * o] += g[o];
                    } else {
                        for (int o = lo; o < hi; o++)
                            d[o * s + sh] += g[o];
                    }
                }
            }
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

/* Work is split among the threads so that no two write the same value at
 * the same time.  The forward pass goes by chunks of output rows (each
 * thread its own columns of y).  The backward pass goes by tasks, each an
 * input-channel group (its own columns of dw, its own channels of dx) and
 * a part of the output rows (whole chunks).  A part's dw goes to its own
 * buffer, the first part's straight into dw, and the buffers are added to
 * dw after, in part order.  Parts of one group scatter into neighbouring
 * rows of dx, so even parts run first and odd parts after them: parts two
 * apart never touch the same input row (job() makes sure of it).  Each
 * thread has its own slice of ws and calls a single-threaded sgemm.  The
 * chunks, groups and parts depend on the shapes only, so every product and
 * every sum is the same whatever the number of threads, and so are the
 * results, bit for bit. */
typedef struct conv_job {
    float *y, *dx, *dw, *ws;
    const float *x, *wt, *bias, *dy;
    const dx_conv *c;
    int n, h, w, ho, wo, step, threads, accumulate;
    int chunks, groups, parts, phase; /* backward pass */
} conv_job;

static size_t slice_floats(const conv_job *j)
{
    return 2 * (size_t)j->c->cin * j->c->k * j->c->k * j->step * j->wo;
}

/* dw of row parts 1.. (part 0 adds into dw itself) */
static float *part_dw(const conv_job *j, int part)
{
    size_t nw = (size_t)j->c->cout * j->c->cin * j->c->k * j->c->k;
    return j->ws + (size_t)j->threads * slice_floats(j) +
           (size_t)(part - 1) * nw;
}

static void forward_part(void *arg, long t0, long t1)
{
    const conv_job *j = arg;
    const dx_conv *c = j->c;
    int kk = c->cin * c->k * c->k, R = j->n * j->ho, wo = j->wo;
    size_t P = (size_t)R * wo;
    long chunks = (R + j->step - 1) / j->step;
    for (long t = t0; t < t1; t++) {
        float *col = j->ws + (size_t)t * slice_floats(j);
        long a = chunks * t / j->threads, b = chunks * (t + 1) / j->threads;
        for (long q = a; q < b; q++) {
            int r0 = (int)(q * j->step);
            int r1 = r0 + j->step < R ? r0 + j->step : R;
            int cols = (r1 - r0) * wo;
            float *yc = j->y + (size_t)r0 * wo;
            im2col(col, j->x, c, j->n, j->h, j->w, j->ho, wo, r0, r1, 0,
                   c->cin);
            if (j->bias)
                for (int o = 0; o < c->cout; o++) {
                    float *yo = yc + (size_t)o * P, bo = j->bias[o];
                    if (j->accumulate)
                        for (int i = 0; i < cols; i++)
                            yo[i] += bo;
                    else
                        for (int i = 0; i < cols; i++)
                            yo[i] = bo;
                }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout,
                        cols, kk, 1.0f, j->wt, kk, col, cols,
                        j->bias || j->accumulate ? 1.0f : 0.0f, yc, (int)P);
        }
    }
}

/* Chunks [*q0, *q1) of row part p. */
static void part_chunks(const conv_job *j, int p, int *q0, int *q1)
{
    *q0 = (int)((long)j->chunks * p / j->parts);
    *q1 = (int)((long)j->chunks * (p + 1) / j->parts);
}

/* The backward pass of one task: channel group g, row part p. */
static void backward_task(const conv_job *j, int g, int p, float *col)
{
    const dx_conv *c = j->c;
    int kk = c->cin * c->k * c->k, k2 = c->k * c->k;
    int R = j->n * j->ho, wo = j->wo;
    size_t P = (size_t)R * wo;
    float *dcol = col + slice_floats(j) / 2;
    int c0 = (int)((long)c->cin * g / j->groups);
    int c1 = (int)((long)c->cin * (g + 1) / j->groups);
    int kt = (c1 - c0) * k2, k0 = c0 * k2, q0, q1;
    part_chunks(j, p, &q0, &q1);
    float *dw = p ? part_dw(j, p) : j->dw;
    for (int q = q0; q < q1; q++) {
        int r0 = q * j->step;
        int r1 = r0 + j->step < R ? r0 + j->step : R;
        int cols = (r1 - r0) * wo;
        const float *dyc = j->dy + (size_t)r0 * wo;
        im2col(col, j->x, c, j->n, j->h, j->w, j->ho, wo, r0, r1, c0, c1);
        /* dw[:, k0:k0+kt] += dy_chunk (Cout, cols) * col^T; a part's own
         * buffer starts from its first chunk */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, kt,
                    cols, 1.0f, dyc, (int)P, col, cols,
                    p && q == q0 ? 0.0f : 1.0f, dw + k0, kk);
        if (!j->dx)
            continue;
        /* dcol (kt, cols) = wt[:, k0:k0+kt]^T * dy_chunk */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kt, cols,
                    c->cout, 1.0f, j->wt + k0, kk, dyc, (int)P, 0.0f, dcol,
                    cols);
        col2im(j->dx, dcol, c, j->n, j->h, j->w, j->ho, wo, r0, r1, c0, c1);
    }
}

/* Tasks of the current phase (parts of parity j->phase, or all parts when
 * phase is -1), task i = group i / per, part from i % per. */
static void backward_part(void *arg, long t0, long t1)
{
    const conv_job *j = arg;
    int all = j->phase < 0, first = all ? 0 : j->phase;
    int per = all ? j->parts : (j->parts - first + 1) / 2;
    long tasks = (long)j->groups * per;
    for (long t = t0; t < t1; t++) {
        float *col = j->ws + (size_t)t * slice_floats(j);
        long a = tasks * t / j->threads, b = tasks * (t + 1) / j->threads;
        for (long i = a; i < b; i++) {
            int p = (int)(i % per);
            backward_task(j, (int)(i / per), all ? p : first + 2 * p, col);
        }
    }
}

/* Input rows (image-major, r = image*h + row) that output row r reads. */
static long first_in_row(const conv_job *j, int r)
{
    int img = r / j->ho, ih = r % j->ho * j->c->stride - j->c->pad;
    return (long)img * j->h + (ih < 0 ? 0 : ih);
}

static long last_in_row(const conv_job *j, int r)
{
    int img = r / j->ho;
    int ih = r % j->ho * j->c->stride - j->c->pad + j->c->dil * (j->c->k - 1);
    return (long)img * j->h + (ih >= j->h ? j->h - 1 : ih);
}

/* Whether row parts two apart read (and scatter into) disjoint input rows,
 * so that all the parts of one parity can run at once. */
static int parts_apart(const conv_job *j)
{
    int R = j->n * j->ho;
    for (int p = 0; p + 2 < j->parts; p++) {
        int a0, a1, b0, b1;
        part_chunks(j, p, &a0, &a1);
        part_chunks(j, p + 2, &b0, &b1);
        int last = a1 * j->step < R ? a1 * j->step - 1 : R - 1;
        if (last_in_row(j, last) >= first_in_row(j, b0 * j->step))
            return 0;
    }
    return 1;
}

/* dst += the partial weight gradients src[0..n), in order, split by rows
 * of dst (rows of `row` floats; the partials `stride` floats apart). */
typedef struct sum_job {
    float *dst;
    const float *src;
    int n;
    size_t row, stride;
} sum_job;

static void sum_part(void *arg, long r0, long r1)
{
    const sum_job *j = arg;
    for (long r = r0; r < r1; r++) {
        float *d = j->dst + (size_t)r * j->row;
        for (int q = 0; q < j->n; q++) {
            const float *s = j->src + (size_t)q * j->stride +
                             (size_t)r * j->row;
            for (size_t i = 0; i < j->row; i++)
                d[i] += s[i];
        }
    }
}

/* ---- 1x1 stride-1 convolutions: the activations are already the matrix ----
 *
 * x (Cin, n*h*w) is the column matrix itself, so these are plain products
 * with no copy.  The forward pass and dx split the columns into parts of at
 * least PW_COLS; dw (a product over all the columns) splits them the same
 * way into partial products, summed in part order.  The parts are a
 * function of the shape, so the results do not depend on the threads. */
enum { PW_COLS = 1024, PW_MAX_PARTS = 16 };

static int pointwise(const dx_conv *c)
{
    return c->k == 1 && c->stride == 1 && c->pad == 0;
}

static int pw_parts(size_t P)
{
    size_t k = P / PW_COLS;
    return k < 1 ? 1 : k > PW_MAX_PARTS ? PW_MAX_PARTS : (int)k;
}

typedef struct pw_job {
    float *y, *dx, *dw, *ws;
    const float *x, *wt, *bias, *dy;
    const dx_conv *c;
    size_t P;
    int parts, accumulate;
} pw_job;

static void pw_span(const pw_job *j, long q, size_t *c0, size_t *c1)
{
    *c0 = j->P * (size_t)q / (size_t)j->parts;
    *c1 = j->P * (size_t)(q + 1) / (size_t)j->parts;
}

static void pw_forward_part(void *arg, long q0, long q1)
{
    const pw_job *j = arg;
    const dx_conv *c = j->c;
    for (long q = q0; q < q1; q++) {
        size_t a, b;
        pw_span(j, q, &a, &b);
        int cols = (int)(b - a);
        float *yc = j->y + a;
        if (j->bias)
            for (int o = 0; o < c->cout; o++) {
                float *yo = yc + (size_t)o * j->P, bo = j->bias[o];
                for (int i = 0; i < cols; i++)
                    yo[i] = j->accumulate ? yo[i] + bo : bo;
            }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, cols,
                    c->cin, 1.0f, j->wt, c->cin, j->x + a, (int)j->P,
                    j->bias || j->accumulate ? 1.0f : 0.0f, yc, (int)j->P);
    }
}

static void pw_backward_part(void *arg, long q0, long q1)
{
    const pw_job *j = arg;
    const dx_conv *c = j->c;
    size_t nw = (size_t)c->cout * c->cin;
    for (long q = q0; q < q1; q++) {
        size_t a, b;
        pw_span(j, q, &a, &b);
        int cols = (int)(b - a);
        /* partial dw of these columns: dy (Cout, cols) * x^T (cols, Cin) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, c->cin,
                    cols, 1.0f, j->dy + a, (int)j->P, j->x + a, (int)j->P,
                    0.0f, j->ws + (size_t)q * nw, c->cin);
        /* dx (Cin, cols) += wt^T (Cin, Cout) * dy (Cout, cols) */
        if (j->dx)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c->cin,
                        cols, c->cout, 1.0f, j->wt, c->cin, j->dy + a,
                        (int)j->P, 1.0f, j->dx + a, (int)j->P);
    }
}

/* ---- thin stride-1 convolutions, direct, on AVX-512 ----
 *
 * For few channels the column matrix costs as much as the product: im2col
 * writes k*k copies of the input, OpenBLAS packs them again, and then runs
 * a product whose rows (Cout) are few.  Here each output row of 32 pixels
 * and 8 output channels is summed in 16 registers straight from the input
 * rows: for each input channel and tap, two loads and 16 multiply-adds.
 * The input is first copied once into rows padded on both sides
 * (DIRECT_TILE-aligned, zeros outside), so that no tap needs a test; taps
 * of rows above or below the image are skipped.  dx of such a layer is the
 * same kind of convolution of dy, with the weights transposed and turned
 * by 180 degrees and padding d*(k-1) - pad.  dw sums, for 8 outputs, one
 * input channel and 3 taps of a kernel row, dy times the shifted input
 * rows in 24 registers of 16 pixels' partial sums.  Each output value is one
 * task's, summed over (input channel, kh, kw) in that order, so results
 * do not depend on the threads; they do differ in the last bits from the
 * im2col path, which machines without AVX-512 take. */
enum { DIRECT_OB = 8, DIRECT_TILE = 32 };

/* One direct pass: the forward (or dx) into y, or dw from dy. */
typedef struct direct_job {
    float *y;            /* forward: (Cout, n, Ho, Wo) */
    const float *bias;   /* forward: or NULL */
    const float *wt;     /* forward: (Cin, k, k, cop) */
    float *dw;           /* dw: (Cout, Cin, k, k) */
    const float *dy;     /* dw: (Cout, n, ho, wo) */
    const float *xp;     /* padded input rows (Cin, n, h, wp) */
    int cin, cout, cop, k, dil, pad, n, h, ho, wo, wp, accumulate;
} direct_job;

/* Blocks of DIRECT_OB output channels. */
static int out_blocks(int cout)
{
    return (cout + DIRECT_OB - 1) / DIRECT_OB;
}

static int direct_cpu(void)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    static int ok = -1; /* the same value whoever stores it first */
    int v = __atomic_load_n(&ok, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") != 0;
        __atomic_store_n(&ok, v, __ATOMIC_RELAXED);
    }
    return v;
#else
    return 0;
#endif
}

/* Whether a layer takes the direct path: stride 1, a square kernel, a
 * padding at most the span, and few channels (the wide layers of
 * DeepLabv2-ResNet stay with the product, where it runs near its peak). */
static int direct(const dx_conv *c)
{
    return c->stride == 1 && c->k > 1 && c->pad <= c->dil * (c->k - 1) &&
           c->cin <= 64 && c->cout <= 64 && direct_cpu();
}

static int round_up(int v, int m)
{
    return (v + m - 1) / m * m;
}

/* Padded row length for an output width wo. */
static int direct_wp(const dx_conv *c, int wo)
{
    return round_up(wo, DIRECT_TILE) + c->dil * (c->k - 1);
}

/* Floats of ws: the padded input of the forward pass or of dx (whose input
 * is dy, Cout channels of ho x wo), and the rearranged weights. */
static size_t direct_ws_floats(const dx_conv *c, int n, int h, int w)
{
    int ho = dx_conv_out(c, h), wo = dx_conv_out(c, w);
    int ch = c->cin > c->cout ? c->cin : c->cout;
    size_t fwd = (size_t)c->cin * n * h * direct_wp(c, wo);
    size_t bwd = (size_t)c->cout * n * ho * direct_wp(c, w);
    size_t wts = (size_t)ch * c->k * c->k * round_up(ch, DIRECT_OB);
    return (fwd > bwd ? fwd : bwd) + wts;
}

typedef struct pad_job {
    float *xp;
    const float *x;
    int w, wp, pad;
} pad_job;

/* Rows [r0, r1) of (C, n, h) into the padded rows. */
static void pad_part(void *arg, long r0, long r1)
{
    const pad_job *j = arg;
    for (long r = r0; r < r1; r++) {
        float *d = j->xp + (size_t)r * j->wp;
        const float *s = j->x + (size_t)r * j->w;
        memset(d, 0, sizeof *d * j->pad);
        memcpy(d + j->pad, s, sizeof *d * j->w);
        memset(d + j->pad + j->w, 0, sizeof *d * (j->wp - j->pad - j->w));
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>

/* The outputs of the block from o0 (the last may hold fewer). */
static int block_outs(int cout, int o0)
{
    return cout - o0 < DIRECT_OB ? cout - o0 : DIRECT_OB;
}

/* Tasks [t0, t1): task t = ((img * ho) + oh) * blocks + output block. */
__attribute__((target("avx512f"))) static void direct_part(void *arg,
                                                          long t0, long t1)
{
    const direct_job *j = arg;
    int blocks = out_blocks(j->cout), k = j->k;
    size_t P = (size_t)j->n * j->ho * j->wo;
    for (long t = t0; t < t1; t++) {
        int ob = (int)(t % blocks), r = (int)(t / blocks);
        int img = r / j->ho, oh = r % j->ho, o0 = ob * DIRECT_OB;
        int nout = block_outs(j->cout, o0);
        for (int c0 = 0; c0 < j->wo; c0 += DIRECT_TILE) {
            /* every index into a[] a constant (loops unrolled), so the
             * 16 sums stay in registers */
            __m512 a[DIRECT_OB][2];
#pragma GCC unroll 8
            for (int o = 0; o < DIRECT_OB; o++)
                a[o][0] = a[o][1] = _mm512_setzero_ps();
            for (int ci = 0; ci < j->cin; ci++)
                for (int kh = 0; kh < k; kh++) {
                    int ih = oh - j->pad + kh * j->dil;
                    if (ih < 0 || ih >= j->h)
                        continue;
                    const float *row = j->xp +
                        (((size_t)ci * j->n + img) * j->h + ih) * j->wp + c0;
                    const float *wk = j->wt +
                        ((size_t)ci * k + kh) * k * j->cop + o0;
                    for (int kw = 0; kw < k; kw++) {
                        const float *xs = row + kw * j->dil;
                        __m512 x0 = _mm512_loadu_ps(xs);
                        __m512 x1 = _mm512_loadu_ps(xs + 16);
                        const float *wv = wk + (size_t)kw * j->cop;
#pragma GCC unroll 8
                        for (int o = 0; o < DIRECT_OB; o++) {
                            __m512 b = _mm512_set1_ps(wv[o]);
                            a[o][0] = _mm512_fmadd_ps(b, x0, a[o][0]);
                            a[o][1] = _mm512_fmadd_ps(b, x1, a[o][1]);
                        }
                    }
                }
            int left = j->wo - c0;
            __mmask16 m0 = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            __mmask16 m1 = left >= 32 ? 0xffff
                           : left <= 16 ? 0
                                        : (__mmask16)((1u << (left - 16)) - 1);
#pragma GCC unroll 8
            for (int o = 0; o < DIRECT_OB; o++) {
                if (o >= nout)
                    break;
                float *yo = j->y + (size_t)(o0 + o) * P +
                            ((size_t)img * j->ho + oh) * j->wo + c0;
                __m512 v0 = a[o][0], v1 = a[o][1];
                if (j->bias) {
                    __m512 b = _mm512_set1_ps(j->bias[o0 + o]);
                    v0 = _mm512_add_ps(v0, b);
                    v1 = _mm512_add_ps(v1, b);
                }
                if (j->accumulate) {
                    v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, yo), v0);
                    v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, yo + 16), v1);
                }
                _mm512_mask_storeu_ps(yo, m0, v0);
                _mm512_mask_storeu_ps(yo + 16, m1, v1);
            }
        }
    }
}

/* dw of the direct path, tasks [t0, t1): task t = input channel t / blocks
 * and output block t % blocks; dw[o][ci][kh][kw] += the sum over pixels of
 * dy[o] times the input shifted by the tap, for 8 outputs and 3 taps of a
 * row at a time in 24 registers of 16 pixels' partial sums, added up at
 * the end (a fixed tree). */
enum { DW_TAPS = 3 };

__attribute__((target("avx512f"))) static void direct_dw_part(void *arg,
                                                             long t0, long t1)
{
    const direct_job *j = arg;
    int blocks = out_blocks(j->cout), k = j->k;
    size_t P = (size_t)j->n * j->ho * j->wo;
    for (long t = t0; t < t1; t++) {
        int ob = (int)(t % blocks), ci = (int)(t / blocks);
        int o0 = ob * DIRECT_OB;
        int nout = block_outs(j->cout, o0);
        for (int kh = 0; kh < k; kh++)
            for (int kw0 = 0; kw0 < k; kw0 += DW_TAPS) {
                int taps = k - kw0 < DW_TAPS ? k - kw0 : DW_TAPS;
                __m512 a[DIRECT_OB][DW_TAPS]; /* constant indices only */
#pragma GCC unroll 8
                for (int o = 0; o < DIRECT_OB; o++)
#pragma GCC unroll 3
                    for (int q = 0; q < DW_TAPS; q++)
                        a[o][q] = _mm512_setzero_ps();
                for (int img = 0; img < j->n; img++)
                    for (int oh = 0; oh < j->ho; oh++) {
                        int ih = oh - j->pad + kh * j->dil;
                        if (ih < 0 || ih >= j->h)
                            continue;
                        const float *row = j->xp +
                            (((size_t)ci * j->n + img) * j->h + ih) * j->wp +
                            kw0 * j->dil;
                        const float *g = j->dy + (size_t)o0 * P +
                                         ((size_t)img * j->ho + oh) * j->wo;
                        for (int c0 = 0; c0 < j->wo; c0 += 16) {
                            int left = j->wo - c0;
                            __mmask16 m = left >= 16
                                ? 0xffff : (__mmask16)((1u << left) - 1);
                            __m512 x[DW_TAPS];
#pragma GCC unroll 3
                            for (int q = 0; q < DW_TAPS; q++) /* past
                                 * the kernel (k not a multiple of 3): tap
                                 * kw0 again, never stored */
                                x[q] = _mm512_loadu_ps(
                                    row + c0 + (q < taps ? q : 0) * j->dil);
#pragma GCC unroll 8
                            for (int o = 0; o < DIRECT_OB; o++) {
                                /* past the layer's outputs: row o0, read
                                 * again and never stored */
                                __m512 d = _mm512_maskz_loadu_ps(
                                    m, g + (size_t)(o < nout ? o : 0) * P + c0);
#pragma GCC unroll 3
                                for (int q = 0; q < DW_TAPS; q++)
                                    a[o][q] = _mm512_fmadd_ps(d, x[q], a[o][q]);
                            }
                        }
                    }
#pragma GCC unroll 8
                for (int o = 0; o < DIRECT_OB; o++)
#pragma GCC unroll 3
                    for (int q = 0; q < DW_TAPS; q++)
                        if (o < nout && q < taps)
                            j->dw[(((size_t)(o0 + o) * j->cin + ci) * k + kh) *
                                      k + kw0 + q] +=
                                _mm512_reduce_add_ps(a[o][q]);
            }
    }
}
#else
static void direct_part(void *arg, long t0, long t1)
{
    (void)arg, (void)t0, (void)t1; /* direct() is never true here */
}
static void direct_dw_part(void *arg, long t0, long t1)
{
    (void)arg, (void)t0, (void)t1;
}
#endif

typedef struct wt_job {
    float *wt;
    const float *w;
    const dx_conv *c;
    int cop, flip;
} wt_job;

/* Rearranged weights, input channel i of the direct convolution:
 * forward wt[i][kh][kw][o] = w[o][i][kh][kw]; for dx (flip), whose input
 * channels are the layer's outputs, wt[i][kh][kw][o] =
 * w[i][o][k-1-kh][k-1-kw]; zeros for o up to cop. */
static void wt_part(void *arg, long i0, long i1)
{
    const wt_job *j = arg;
    const dx_conv *c = j->c;
    int k = c->k, k2 = k * k;
    int nout = j->flip ? c->cin : c->cout;
    for (long i = i0; i < i1; i++)
        for (int t = 0; t < k2; t++) {
            float *d = j->wt + ((size_t)i * k2 + t) * j->cop;
            for (int o = 0; o < j->cop; o++) {
                if (o >= nout) {
                    d[o] = 0;
                    continue;
                }
                d[o] = j->flip
                    ? j->w[((size_t)i * c->cin + o) * k2 + (k2 - 1 - t)]
                    : j->w[((size_t)o * c->cin + i) * k2 + t];
            }
        }
}

/* y (nout, n, ho, wo) [+]= the direct convolution of x (nin, n, h, w) as
 * the layer c (flip: dx of c, from dy). */
static void direct_run(float *y, const float *x, const float *w,
                       const float *bias, const dx_conv *c, int flip, int n,
                       int h, int wd, int accumulate, float *ws)
{
    int nin = flip ? c->cout : c->cin, nout = flip ? c->cin : c->cout;
    int pad = flip ? c->dil * (c->k - 1) - c->pad : c->pad;
    dx_conv as = {nin, nout, c->k, 1, pad, c->dil};
    int ho = dx_conv_out(&as, h), wo = dx_conv_out(&as, wd);
    if (ho < 1 || wo < 1)
        return;
    direct_job j = {.y = y, .bias = bias, .cin = nin, .cout = nout,
                    .cop = round_up(nout, DIRECT_OB), .k = c->k,
                    .dil = c->dil, .pad = pad, .n = n, .h = h, .ho = ho,
                    .wo = wo, .wp = direct_wp(&as, wo),
                    .accumulate = accumulate};
    size_t rows = (size_t)nin * n * h;
    float *xp = ws, *wt = ws + rows * j.wp;
    pad_job pj = {xp, x, wd, j.wp, pad};
    dx_par_for((long)rows, pad_part, &pj);
    wt_job wj = {wt, w, c, j.cop, flip};
    dx_par_for(nin, wt_part, &wj);
    j.xp = xp, j.wt = wt;
    long blocks = out_blocks(nout);
    dx_par_for((long)n * ho * blocks, direct_part, &j);
}

/* dw (Cout, Cin, k, k) += the weight gradient of the direct layer c, from
 * x (Cin, n, h, w) and dy (Cout, n, ho, wo). */
static void direct_dw(float *dw, const float *dy, const float *x,
                      const dx_conv *c, int n, int h, int w, float *ws)
{
    int ho = dx_conv_out(c, h), wo = dx_conv_out(c, w);
    direct_job j = {.dw = dw, .dy = dy, .xp = ws, .cin = c->cin,
                       .cout = c->cout, .k = c->k, .dil = c->dil,
                       .pad = c->pad, .n = n, .h = h, .ho = ho, .wo = wo,
                       .wp = direct_wp(c, wo)};
    size_t rows = (size_t)c->cin * n * h;
    pad_job pj = {ws, x, w, j.wp, c->pad};
    dx_par_for((long)rows, pad_part, &pj);
    long blocks = out_blocks(c->cout);
    dx_par_for(blocks * c->cin, direct_dw_part, &j);
}

static conv_job job(const dx_conv *c, int n, int h, int w)
{
    conv_job j = {0};
    j.c = c;
    j.n = n, j.h = h, j.w = w;
    j.ho = dx_conv_out(c, h), j.wo = dx_conv_out(c, w);
    j.threads = dx_par_threads();
    if (n < 1 || j.ho < 1 || j.wo < 1) { /* nothing to compute */
        j.step = j.parts = 1;
        return j;
    }
    j.step = chunk_rows(c, n, j.ho, j.wo);
    j.chunks = (n * j.ho + j.step - 1) / j.step;
    j.groups = channel_groups(c);
    /* the most parts up to MIN_TASKS tasks whose even and odd parts can
     * each run at once */
    j.parts = (MIN_TASKS + j.groups - 1) / j.groups;
    if (j.parts > j.chunks)
        j.parts = j.chunks;
    while (j.parts > 1 && !parts_apart(&j))
        j.parts--;
    if (j.parts < 1)
        j.parts = 1;
    return j;
}

size_t dx_conv_ws_floats(const dx_conv *c, int n, int h, int w)
{
    if (pointwise(c))
        return (size_t)pw_parts((size_t)n * h * w) * c->cout * c->cin;
    conv_job j = job(c, n, h, w);
    if (n < 1 || j.ho < 1 || j.wo < 1)
        return 0;
    size_t gemm = (size_t)j.threads * slice_floats(&j) +
                  (size_t)(j.parts - 1) * c->cout * c->cin * c->k * c->k;
    size_t d = direct(c) ? direct_ws_floats(c, n, h, w) : 0;
    return gemm > d ? gemm : d;
}

void dx_conv_forward(float *y, const float *x, const float *wt,
                     const float *bias, const dx_conv *c, int n, int h,
                     int w, int accumulate, float *ws)
{
    if (pointwise(c)) {
        size_t P = (size_t)n * h * w;
        pw_job pj = {.y = y, .x = x, .wt = wt, .bias = bias, .c = c, .P = P,
                     .parts = pw_parts(P), .accumulate = accumulate};
        dx_par_for(pj.parts, pw_forward_part, &pj);
        return;
    }
    if (direct(c)) {
        direct_run(y, x, wt, bias, c, 0, n, h, w, accumulate, ws);
        return;
    }
    conv_job j = job(c, n, h, w);
    if (n < 1 || j.ho < 1 || j.wo < 1)
        return;
    j.y = y, j.x = x, j.wt = wt, j.bias = bias, j.ws = ws;
    j.accumulate = accumulate;
    dx_par_for(j.threads, forward_part, &j);
}

void dx_conv_backward(float *dx, float *dw, float *db, const float *dy,
                      const float *x, const float *wt, const dx_conv *c,
                      int n, int h, int w, float *ws)
{
    conv_job j = job(c, n, h, w);
    j.dx = dx, j.dw = dw, j.dy = dy, j.x = x, j.wt = wt, j.ws = ws;
    if (db) {
        bias_job bj = {db, dy, (size_t)n * j.ho * j.wo};
        dx_par_for(c->cout, bias_part, &bj);
    }
    if (pointwise(c)) {
        size_t P = (size_t)n * h * w;
        pw_job pj = {.dx = dx, .dw = dw, .ws = ws, .x = x, .wt = wt,
                     .dy = dy, .c = c, .P = P, .parts = pw_parts(P)};
        dx_par_for(pj.parts, pw_backward_part, &pj);
        sum_job sj = {dw, ws, pj.parts, (size_t)c->cin,
                      (size_t)c->cout * c->cin};
        dx_par_for(c->cout, sum_part, &sj);
        return;
    }
    if (n < 1 || j.ho < 1 || j.wo < 1)
        return;
    if (direct(c)) {
        direct_dw(dw, dy, x, c, n, h, w, ws);
        if (dx)
            direct_run(dx, dy, wt, NULL, c, 1, n, j.ho, j.wo, 1, ws);
        return;
    }
    if (dx && j.parts > 1) { /* even parts, then odd parts */
        j.phase = 0;
        dx_par_for(j.threads, backward_part, &j);
        j.phase = 1;
        dx_par_for(j.threads, backward_part, &j);
    } else {
        j.phase = -1;
        dx_par_for(j.threads, backward_part, &j);
    }
    if (j.parts > 1) {
        sum_job sj = {dw, part_dw(&j, 1), j.parts - 1,
                      (size_t)c->cin * c->k * c->k,
                      (size_t)c->cout * c->cin * c->k * c->k};
        dx_par_for(c->cout, sum_part, &sj);
    }
}
