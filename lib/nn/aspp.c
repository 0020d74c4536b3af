/* aspp.c - the ASPP classifier as one product; see aspp.h. */
#include "nn/aspp.h"

#include <string.h>

#include "base/par.h"
#include "nn/conv.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise the copies at any -O */
#endif

/* rows of Wall and Z */
static size_t rows_of(const dx_aspp *a)
{
    return (size_t)a->nb * 9 * a->cout;
}

/* the 1x1 product of Wall (R, Cin) with x */
static dx_conv product(const dx_aspp *a)
{
    dx_conv c = {a->cin, (int)rows_of(a), 1, 1, 0, 1};
    return c;
}

/* Scratch: Wall, dWall (R x Cin), Z (R x P), then the product's own. */
typedef struct aspp_job {
    float *y, *wall, *z, *dwall;
    float *const *dw, *const *db;
    const float *const *wt, *const *bias;
    const float *dy;
    const dx_aspp *a;
    int n, h, w;
} aspp_job;

static void carve(aspp_job *j, float *ws)
{
    size_t R = rows_of(j->a), K = (size_t)j->a->cin;
    j->wall = ws;
    j->dwall = ws + R * K;
    j->z = ws + 2 * R * K;
}

static float *product_ws(const aspp_job *j, size_t P)
{
    return j->z + rows_of(j->a) * P;
}

size_t dx_aspp_ws_floats(const dx_aspp *a, int n, int h, int w)
{
    size_t P = (size_t)n * h * w, R = rows_of(a);
    dx_conv c = product(a);
    return 2 * R * a->cin + R * P + dx_conv_ws_floats(&c, n, h, w);
}

/* Wall rows [r0, r1) from the weights: row (b, t, o), t = kh*3 + kw. */
static void gather_part(void *arg, long r0, long r1)
{
    const aspp_job *j = arg;
    int C = j->a->cout, K = j->a->cin;
    for (long r = r0; r < r1; r++) {
        int b = (int)(r / (9 * C)), t = (int)(r / C % 9), o = (int)(r % C);
        const float *src = j->wt[b] + (size_t)o * K * 9 + t;
        float *dst = j->wall + (size_t)r * K;
        for (int c = 0; c < K; c++)
            dst[c] = src[(size_t)c * 9];
    }
}

/* dw[b][o, c, t] += dWall[(b, t, o), c], for output channels [o0, o1). */
static void scatter_part(void *arg, long o0, long o1)
{
    const aspp_job *j = arg;
    int C = j->a->cout, K = j->a->cin;
    for (int b = 0; b < j->a->nb; b++)
        for (long o = o0; o < o1; o++)
            for (int t = 0; t < 9; t++) {
                const float *src =
                    j->dwall + ((size_t)(b * 9 + t) * C + (size_t)o) * K;
                float *dst = j->dw[b] + (size_t)o * K * 9 + t;
                for (int c = 0; c < K; c++)
                    dst[(size_t)c * 9] += src[c];
            }
}

/* Tap t = kh*3 + kw of branch b: its offset (dr, dc), and the rows
 * [lo, hi) and columns [clo, chi) of an h x w plane whose neighbour at
 * that offset is inside the plane (none if the tap never falls inside). */
typedef struct tap {
    int dr, dc, lo, hi, clo, chi;
} tap;

static tap tap_of(const dx_aspp *a, int b, int t, int h, int w)
{
    tap p;
    p.dr = (t / 3 - 1) * a->dil[b];
    p.dc = (t % 3 - 1) * a->dil[b];
    p.lo = p.dr < 0 ? -p.dr : 0;
    p.hi = p.dr > 0 ? h - p.dr : h;
    p.clo = p.dc < 0 ? -p.dc : 0;
    p.chi = p.dc > 0 ? w - p.dc : w;
    if (p.hi < p.lo || p.chi < p.clo)
        p.hi = p.lo = p.chi = p.clo = 0;
    return p;
}

/* y planes q = o*n + i: the biases, then every tap's plane of Z at its
 * offset. */
static void shift_add_part(void *arg, long q0, long q1)
{
    const aspp_job *j = arg;
    const dx_aspp *a = j->a;
    int h = j->h, w = j->w, C = a->cout;
    size_t hw = (size_t)h * w, P = (size_t)j->n * hw;
    for (long q = q0; q < q1; q++) {
        int o = (int)(q / j->n), i = (int)(q % j->n);
        float *y = j->y + (size_t)o * P + (size_t)i * hw;
        float bias = 0;
        for (int b = 0; b < a->nb; b++)
            bias += j->bias[b][o];
        for (size_t k = 0; k < hw; k++)
            y[k] = bias;
        for (int b = 0; b < a->nb; b++)
            for (int t = 0; t < 9; t++) {
                tap p = tap_of(a, b, t, h, w);
                const float *z = j->z + ((size_t)(b * 9 + t) * C + o) * P +
                                 (size_t)i * hw;
                for (int r = p.lo; r < p.hi; r++) {
                    float *yr = y + (size_t)r * w;
                    const float *zr = z + (size_t)(r + p.dr) * w + p.dc;
                    for (int c = p.clo; c < p.chi; c++)
                        yr[c] += zr[c];
                }
            }
    }
}

void dx_aspp_forward(float *y, const float *x, const float *const *wt,
                     const float *const *bias, const dx_aspp *a, int n,
                     int h, int w, float *ws)
{
    size_t P = (size_t)n * h * w;
    aspp_job j = {.y = y, .wt = wt, .bias = bias, .a = a, .n = n, .h = h,
                  .w = w};
    carve(&j, ws);
    dx_par_for((long)rows_of(a), gather_part, &j);
    dx_conv c = product(a);
    dx_conv_forward(j.z, x, j.wall, NULL, &c, n, h, w, 0, product_ws(&j, P));
    dx_par_for((long)a->cout * n, shift_add_part, &j);
}

/* dZ planes q = (b, t, o)*n + i: dy at the tap's offset, 0 where the tap
 * falls outside. */
static void unshift_part(void *arg, long q0, long q1)
{
    const aspp_job *j = arg;
    const dx_aspp *a = j->a;
    int h = j->h, w = j->w, C = a->cout;
    size_t hw = (size_t)h * w, P = (size_t)j->n * hw;
    for (long q = q0; q < q1; q++) {
        long row = q / j->n;
        int i = (int)(q % j->n), o = (int)(row % C), t = (int)(row / C % 9);
        tap p = tap_of(a, (int)(row / C / 9), t, h, w);
        float *z = j->z + (size_t)row * P + (size_t)i * hw;
        const float *dy = j->dy + (size_t)o * P + (size_t)i * hw;
        memset(z, 0, sizeof *z * hw);
        for (int r = p.lo; r < p.hi; r++)
            memcpy(z + (size_t)(r + p.dr) * w + p.dc + p.clo,
                   dy + (size_t)r * w + p.clo, sizeof *z * (p.chi - p.clo));
    }
}

/* db[b][o] += sum of dy[o] over all pixels, for [o0, o1). */
static void bias_part(void *arg, long o0, long o1)
{
    const aspp_job *j = arg;
    size_t P = (size_t)j->n * j->h * j->w;
    for (long o = o0; o < o1; o++) {
        const float *g = j->dy + (size_t)o * P;
        double s = 0;
        for (size_t k = 0; k < P; k++)
            s += g[k];
        for (int b = 0; b < j->a->nb; b++)
            j->db[b][o] += (float)s;
    }
}

void dx_aspp_backward(float *dx, float *const *dw, float *const *db,
                      const float *dy, const float *x,
                      const float *const *wt, const dx_aspp *a, int n, int h,
                      int w, float *ws)
{
    size_t P = (size_t)n * h * w, R = rows_of(a);
    aspp_job j = {.dw = dw, .db = db, .wt = wt, .dy = dy, .a = a, .n = n,
                  .h = h, .w = w};
    carve(&j, ws);
    dx_par_for(a->cout, bias_part, &j);
    dx_par_for((long)R, gather_part, &j);
    dx_par_for((long)R * n, unshift_part, &j);
    dx_par_zero(j.dwall, R * a->cin);
    dx_conv c = product(a);
    dx_conv_backward(dx, j.dwall, NULL, j.z, x, j.wall, &c, n, h, w,
                     product_ws(&j, P));
    dx_par_for(a->cout, scatter_part, &j);
}
