/* test_grad.c - every layer's backward pass against finite differences,
 * and the chunked convolution against a direct one.
 *
 * Each check takes L = sum_i r_i * y_i (r fixed and random, the sum in
 * double) and compares the analytic gradient g with central differences
 * d over every input, by the scale-free error |d - g| / max(|d|, |g|)
 * (2-norms).  Linear layers are exact up to rounding, so they get a large
 * step and a tight tolerance; the others a small step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"
#include "nn/act.h"
#include "nn/aspp.h"
#include "nn/bn.h"
#include "check.h"
#include "nn/conv.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "base/rng.h"
#include "nn/upsample.h"

static dx_rng rng;

static float *rnd(size_t n, double lo, double hi)
{
    float *x = malloc(sizeof *x * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)dx_rng_range(&rng, lo, hi);
    return x;
}

static float *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

static double dotd(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double scale_free(const double *d, const float *g, size_t n)
{
    double e = 0, nd = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        e += (d[i] - g[i]) * (d[i] - g[i]);
        nd += d[i] * d[i];
        ng += (double)g[i] * g[i];
    }
    double s = sqrt(nd > ng ? nd : ng);
    return s > 0 ? sqrt(e) / s : sqrt(e);
}

/* The loss as a function of whatever the context says. */
typedef double (*loss_fn)(void *ctx);

/* Central differences of f over x[0..n) with step h, against g. */
static void fd(const char *what, loss_fn f, void *ctx, float *x,
               const float *g, size_t n, float h, double tol)
{
    double *d = malloc(sizeof *d * n);
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double up = f(ctx);
        x[i] = keep - h;
        double dn = f(ctx);
        x[i] = keep;
        d[i] = (up - dn) / (2.0 * h);
    }
    double e = scale_free(d, g, n);
    CHECK(e <= tol, "%s: scale-free error %.2e (tolerance %.0e)", what, e,
          tol);
    free(d);
}

/* ---- convolution ---- */

typedef struct conv_ctx {
    dx_conv c;
    int n, h, w, ho, wo;
    float *x, *wt, *b, *y, *r, *ws;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *t = p;
    dx_conv_forward(t->y, t->x, t->wt, t->b, &t->c, t->n, t->h, t->w, 0,
                    t->ws);
    return dotd(t->y, t->r, (size_t)t->c.cout * t->n * t->ho * t->wo);
}

static void check_conv(int k, int cin, int cout, int stride, int pad,
                       int dil, int n, int h, int w, int bias)
{
    conv_ctx t = {.c = {cin, cout, k, stride, pad, dil}, .n = n, .h = h,
                  .w = w};
    t.ho = dx_conv_out(&t.c, h), t.wo = dx_conv_out(&t.c, w);
    size_t nx = (size_t)cin * n * h * w, nw = (size_t)cout * cin * k * k;
    size_t ny = (size_t)cout * n * t.ho * t.wo;
    t.x = rnd(nx, -1, 1), t.wt = rnd(nw, -1, 1);
    t.b = bias ? rnd(cout, -1, 1) : NULL;
    t.y = zeros(ny), t.r = rnd(ny, -1, 1);
    t.ws = zeros(dx_conv_ws_floats(&t.c, n, h, w));
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(cout);
    dx_conv_backward(dx, dw, bias ? db : NULL, t.r, t.x, t.wt, &t.c, n, h, w,
                     t.ws);
    char what[160];
    snprintf(what, sizeof what, "conv%dx%d %d->%d stride %d pad %d dil %d "
             "on %dx%dx%d%s", k, k, cin, cout, stride, pad, dil, n, h, w,
             bias ? " +bias" : "");
    char s[200];
    snprintf(s, sizeof s, "%s: dx", what);
    fd(s, conv_loss, &t, t.x, dx, nx, 0.25f, 1e-5);
    snprintf(s, sizeof s, "%s: dw", what);
    fd(s, conv_loss, &t, t.wt, dw, nw, 0.25f, 1e-5);
    if (bias) {
        snprintf(s, sizeof s, "%s: db", what);
        fd(s, conv_loss, &t, t.b, db, cout, 0.25f, 1e-5);
    }
    free(t.x), free(t.wt), free(t.b), free(t.y), free(t.r), free(t.ws);
    free(dx), free(dw), free(db);
}

/* A 3x3 convolution cut into several chunks, against direct loops in
 * double: forward, and backward against the adjoint.  Run on 3 threads
 * (main), so that the backward pass's tasks run side by side. */
static void check_conv_chunked(dx_conv c, int n, int h, int w)
{
    int ho = dx_conv_out(&c, h), wo = dx_conv_out(&c, w);
    size_t nx = (size_t)c.cin * n * h * w, nw = (size_t)c.cout * c.cin * 9;
    size_t ny = (size_t)c.cout * n * ho * wo;
    float *x = rnd(nx, -1, 1), *wt = rnd(nw, -1, 1), *y = zeros(ny);
    float *dy = rnd(ny, -1, 1), *dx = zeros(nx), *dw = zeros(nw);
    float *ws = zeros(dx_conv_ws_floats(&c, n, h, w));
    char what[96];
    snprintf(what, sizeof what, "conv3x3 %d->%d stride %d dil %d on %dx%dx%d",
             c.cin, c.cout, c.stride, c.dil, n, h, w);
    dx_conv_forward(y, x, wt, NULL, &c, n, h, w, 0, ws);
    dx_conv_backward(dx, dw, NULL, dy, x, wt, &c, n, h, w, ws);
    double *ry = calloc(ny, sizeof *ry), *rdx = calloc(nx, sizeof *rdx);
    double *rdw = calloc(nw, sizeof *rdw);
    for (int o = 0; o < c.cout; o++)
        for (int i = 0; i < n; i++)
            for (int a = 0; a < ho; a++)
                for (int b = 0; b < wo; b++) {
                    size_t yi = (((size_t)o * n + i) * ho + a) * wo + b;
                    for (int ci = 0; ci < c.cin; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = a * c.stride - c.pad + kh * c.dil;
                                int iw = b * c.stride - c.pad + kw * c.dil;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= w)
                                    continue;
                                size_t xi = (((size_t)ci * n + i) * h + ih) *
                                                w + iw;
                                size_t wi = (((size_t)o * c.cin + ci) * 3 +
                                             kh) * 3 + kw;
                                ry[yi] += (double)wt[wi] * x[xi];
                                rdx[xi] += (double)wt[wi] * dy[yi];
                                rdw[wi] += (double)x[xi] * dy[yi];
                            }
                }
    CHECK(scale_free(ry, y, ny) < 1e-6, "%s: forward = loops in double (%.2e)", what,
          scale_free(ry, y, ny));
    CHECK(scale_free(rdx, dx, nx) < 1e-6, "%s: dx = loops in double (%.2e)", what,
          scale_free(rdx, dx, nx));
    CHECK(scale_free(rdw, dw, nw) < 1e-6, "%s: dw = loops in double (%.2e)", what,
          scale_free(rdw, dw, nw));
    free(x), free(wt), free(y), free(dy), free(dx), free(dw), free(ws);
    free(ry), free(rdx), free(rdw);
}

/* A kernel that does not fit (no output rows, or no output columns):
 * no scratch, and the passes leave everything as it was. */
static void check_conv_empty(void)
{
    static const struct { dx_conv c; int h, w; } cases[] = {
        {{4, 4, 3, 1, 0, 1}, 2, 10}, /* 0 x 8 outputs (direct path) */
        {{4, 4, 3, 2, 0, 1}, 2, 10}, /* 0 x 4, stride 2 (product) */
        {{80, 4, 3, 1, 0, 1}, 10, 2}, /* 8 x 0, 80 channels (product) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const dx_conv *c = &cases[k].c;
        int h = cases[k].h, w = cases[k].w;
        size_t nx = (size_t)c->cin * h * w, nw = (size_t)c->cout * c->cin * 9;
        float *x = rnd(nx, -1, 1), *wt = rnd(nw, -1, 1), y[1] = {7};
        float *dx = zeros(nx), *dw = zeros(nw), dy[1] = {0}, db[4] = {0};
        size_t ws = dx_conv_ws_floats(c, 1, h, w);
        dx_conv_forward(y, x, wt, NULL, c, 1, h, w, 0, NULL);
        dx_conv_backward(dx, dw, db, dy, x, wt, c, 1, h, w, NULL);
        int same = y[0] == 7 && db[0] == 0;
        for (size_t i = 0; i < nx; i++)
            same &= dx[i] == 0;
        for (size_t i = 0; i < nw; i++)
            same &= dw[i] == 0;
        CHECK(ws == 0 && same, "conv%d stride %d, %d->%d on %dx%d (no "
              "output): no scratch (%zu floats), nothing written", c->k,
              c->stride, c->cin, c->cout, h, w, ws);
        free(x), free(wt), free(dx), free(dw);
    }
}

/* ---- max-pooling ---- */

/* Output sides against PyTorch 1.13's nn.MaxPool2d for inputs 1, 2, 3,
 * 4, 5, 8, 9, 16, 17, 255, 256 (k2 s2 p1 in ceil mode drops a window
 * that would start in the padding). */
static void check_pool_sides(void)
{
    static const int in[11] = {1, 2, 3, 4, 5, 8, 9, 16, 17, 255, 256};
    static const struct {
        dx_pool p;
        int out[11];
    } cases[] = {
        {{3, 2, 1, 0}, {1, 1, 2, 2, 3, 4, 5, 8, 9, 128, 128}},
        {{3, 2, 1, 1}, {1, 2, 2, 3, 3, 5, 5, 9, 9, 128, 129}},
        {{2, 2, 1, 1}, {1, 2, 2, 3, 3, 5, 5, 9, 9, 128, 129}},
        {{3, 3, 1, 0}, {1, 1, 1, 2, 2, 3, 3, 6, 6, 85, 86}},
        {{3, 3, 1, 1}, {1, 1, 2, 2, 2, 3, 4, 6, 6, 86, 86}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ok = 1;
        for (int i = 0; i < 11; i++)
            ok &= dx_pool_out(&cases[c].p, in[i]) == cases[c].out[i];
        CHECK(ok, "max-pool k%d s%d p%d %s mode: output sides as PyTorch's",
              cases[c].p.k, cases[c].p.stride, cases[c].p.pad,
              cases[c].p.ceil ? "ceil" : "floor");
    }
    dx_pool p = {3, 2, 0, 0};
    CHECK(dx_pool_out(&p, 2) < 1, "max-pool: a window larger than the "
          "input gives no output");
}

typedef struct pool_ctx {
    dx_pool p;
    int C, n, h, w, ho, wo;
    float *x, *y, *r;
} pool_ctx;

static double pool_loss(void *v)
{
    pool_ctx *t = v;
    dx_maxpool_forward(t->y, NULL, t->x, &t->p, t->C, t->n, t->h, t->w);
    return dotd(t->y, t->r, (size_t)t->C * t->n * t->ho * t->wo);
}

static void check_pool(int ceil, int C, int n, int h, int w)
{
    pool_ctx t = {{3, 2, 1, ceil}, C, n, h, w, 0, 0, NULL, NULL, NULL};
    t.ho = dx_pool_out(&t.p, h), t.wo = dx_pool_out(&t.p, w);
    size_t nx = (size_t)C * n * h * w, ny = (size_t)C * n * t.ho * t.wo;
    /* distinct values 1/64 apart, steps of 1/256: no step crosses another
     * value, and every perturbed value is exact */
    uint32_t *perm = malloc(sizeof *perm * nx);
    for (size_t i = 0; i < nx; i++)
        perm[i] = (uint32_t)i;
    dx_rng_shuffle(&rng, perm, (uint32_t)nx);
    t.x = zeros(nx), t.y = zeros(ny), t.r = rnd(ny, -1, 1);
    for (size_t i = 0; i < nx; i++)
        t.x[i] = ((float)perm[i] - (float)(nx / 2)) / 64.0f;
    int32_t *am = malloc(sizeof *am * ny);
    float *dx = zeros(nx);
    dx_maxpool_forward(t.y, am, t.x, &t.p, C, n, h, w);
    dx_maxpool_backward(dx, t.r, am, &t.p, C, n, h, w);
    char s[120];
    snprintf(s, sizeof s, "max-pool 3x3 s2 p1 %s mode on %dx%dx%dx%d "
             "(out %dx%d): dx", ceil ? "ceil" : "floor", C, n, h, w, t.ho,
             t.wo);
    fd(s, pool_loss, &t, t.x, dx, nx, 1.0f / 256, 1e-6);
    free(perm), free(t.x), free(t.y), free(t.r), free(am), free(dx);
}

/* ---- the ASPP classifier as one product ---- */

typedef struct aspp_ctx {
    dx_aspp a;
    int n, h, w;
    float *x, *wt[DX_ASPP_MAX], *b[DX_ASPP_MAX], *y, *r, *ws;
} aspp_ctx;

static double aspp_loss(void *v)
{
    aspp_ctx *t = v;
    dx_aspp_forward(t->y, t->x, (const float *const *)t->wt,
                    (const float *const *)t->b, &t->a, t->n, t->h, t->w,
                    t->ws);
    return dotd(t->y, t->r, (size_t)t->a.cout * t->n * t->h * t->w);
}

/* FD of every input, and the forward pass against the branches as
 * separate convolutions (conv.h), summed. */
static void check_aspp(int nb, int cin, int cout, int n, int h, int w)
{
    static const int dil[DX_ASPP_MAX] = {1, 2, 4, 6};
    aspp_ctx t = {{cin, cout, nb, {0}}, n, h, w, NULL, {0}, {0}, NULL,
                  NULL, NULL};
    size_t nx = (size_t)cin * n * h * w, ny = (size_t)cout * n * h * w;
    size_t nw = (size_t)cout * cin * 9;
    t.x = rnd(nx, -1, 1), t.y = zeros(ny), t.r = rnd(ny, -1, 1);
    t.ws = zeros(dx_aspp_ws_floats(&t.a, n, h, w));
    float *dx = zeros(nx), *dw[DX_ASPP_MAX], *db[DX_ASPP_MAX];
    for (int b = 0; b < nb; b++) {
        t.a.dil[b] = dil[b];
        t.wt[b] = rnd(nw, -1, 1), t.b[b] = rnd(cout, -1, 1);
        dw[b] = zeros(nw), db[b] = zeros(cout);
    }
    aspp_loss(&t);
    /* the same sum, one convolution per branch */
    float *ref = zeros(ny);
    size_t cws = 0;
    for (int b = 0; b < nb; b++) {
        dx_conv c = {cin, cout, 3, 1, dil[b], dil[b]};
        size_t s = dx_conv_ws_floats(&c, n, h, w);
        cws = s > cws ? s : cws;
    }
    float *ws = zeros(cws);
    double err = 0, scale = 0;
    for (int b = 0; b < nb; b++) {
        dx_conv c = {cin, cout, 3, 1, dil[b], dil[b]};
        dx_conv_forward(ref, t.x, t.wt[b], t.b[b], &c, n, h, w, b > 0, ws);
    }
    for (size_t i = 0; i < ny; i++) {
        err = fmax(err, fabs((double)ref[i] - t.y[i]));
        scale = fmax(scale, fabs((double)ref[i]));
    }
    CHECK(err <= 1e-6 * scale, "ASPP %d branches %d->%d on %dx%dx%d: one "
          "product = the branches' convolutions summed (%.2e)", nb, cin,
          cout, n, h, w, err / scale);
    dx_aspp_backward(dx, dw, db, t.r, t.x, (const float *const *)t.wt,
                     &t.a, n, h, w, t.ws);
    char s[160];
    snprintf(s, sizeof s, "ASPP %d branches %d->%d on %dx%dx%d: dx", nb,
             cin, cout, n, h, w);
    fd(s, aspp_loss, &t, t.x, dx, nx, 0.25f, 1e-5);
    for (int b = 0; b < nb; b++) {
        snprintf(s, sizeof s, "ASPP branch %d (dilation %d): dw", b, dil[b]);
        fd(s, aspp_loss, &t, t.wt[b], dw[b], nw, 0.25f, 1e-5);
        snprintf(s, sizeof s, "ASPP branch %d (dilation %d): db", b, dil[b]);
        fd(s, aspp_loss, &t, t.b[b], db[b], (size_t)cout, 0.25f, 1e-5);
    }
    for (int b = 0; b < nb; b++)
        free(t.wt[b]), free(t.b[b]), free(dw[b]), free(db[b]);
    free(t.x), free(t.y), free(t.r), free(t.ws), free(dx), free(ref);
    free(ws);
}

/* ---- batch-norm in train mode, with the epilogue ---- */

typedef struct bn_ctx {
    int C;
    size_t P;
    float *x, *gamma, *beta, *skip, *y, *xhat, *r;
    float mean[8], var[8], invstd[8];
    int relu;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *t = p;
    dx_bn_stats(t->mean, t->var, t->x, t->C, t->P);
    dx_bn_invstd(t->invstd, t->var, t->C);
    dx_bn_forward(t->y, t->xhat, t->x, t->skip, t->gamma, t->beta, t->mean,
                  t->invstd, t->relu, t->C, t->P);
    return dotd(t->y, t->r, (size_t)t->C * t->P);
}

/* Whether a pre-activation (gamma * xhat + beta, plus skip) lies within
 * 0.05 of ReLU's kink, where a finite difference of step 1e-3 would cross
 * it. */
static int near_kink(const bn_ctx *t)
{
    for (size_t i = 0; i < (size_t)t->C * t->P; i++) {
        size_t c = i / t->P;
        float pre = t->gamma[c] * t->xhat[i] + t->beta[c] +
                    (t->skip ? t->skip[i] : 0);
        if (fabsf(pre) < 0.05f)
            return 1;
    }
    return 0;
}

static void check_bn(int C, size_t P, int skip, int relu)
{
    size_t n = (size_t)C * P;
    bn_ctx t = {C, P, rnd(n, -2, 2), rnd(C, 0.5, 1.5), rnd(C, -0.5, 0.5),
                skip ? rnd(n, -1, 1) : NULL, zeros(n), zeros(n),
                rnd(n, -1, 1), {0}, {0}, {0}, relu};
    bn_loss(&t);
    if (relu) {
        /* keep every pre-activation away from the kink: move the skip
         * input, or without one draw x again */
        for (size_t i = 0; i < n && skip; i++) {
            size_t c = i / P;
            float pre = t.gamma[c] * t.xhat[i] + t.beta[c] + t.skip[i];
            if (fabsf(pre) < 0.05f)
                t.skip[i] += 0.2f;
        }
        bn_loss(&t);
        for (int tries = 0; !skip && tries < 1000 && near_kink(&t); tries++) {
            free(t.x);
            t.x = rnd(n, -2, 2);
            bn_loss(&t);
        }
        CHECK(!near_kink(&t), "BN%s+ReLU C=%d P=%zu: every pre-activation "
              "0.05 or more from the kink", skip ? "+add" : "", C, P);
    }
    float *g = malloc(sizeof *g * n), *dx = zeros(n), *dskip = zeros(n);
    float *dg = zeros(C), *db = zeros(C);
    memcpy(g, t.r, sizeof *g * n);
    if (relu)
        dx_relu_backward(g, t.y, n);
    if (skip)
        dx_add_backward(dskip, g, n);
    dx_bn_backward(dx, dg, db, g, t.xhat, t.gamma, t.invstd, C, P);
    char s[160];
    const char *kind = skip ? (relu ? "BN+add+ReLU" : "BN+add")
                            : (relu ? "BN+ReLU" : "BN");
    snprintf(s, sizeof s, "%s train mode C=%d P=%zu: dx", kind, C, P);
    fd(s, bn_loss, &t, t.x, dx, n, 1e-3f, 2e-3);
    snprintf(s, sizeof s, "%s train mode C=%d P=%zu: dgamma", kind, C, P);
    fd(s, bn_loss, &t, t.gamma, dg, C, 1e-3f, 2e-3);
    snprintf(s, sizeof s, "%s train mode C=%d P=%zu: dbeta", kind, C, P);
    fd(s, bn_loss, &t, t.beta, db, C, 1e-3f, 2e-3);
    if (skip) {
        snprintf(s, sizeof s, "%s: dskip (residual add)", kind);
        fd(s, bn_loss, &t, t.skip, dskip, n, 1e-3f, 2e-3);
    }
    free(t.x), free(t.gamma), free(t.beta), free(t.skip), free(t.y);
    free(t.xhat), free(t.r), free(g), free(dx), free(dskip), free(dg);
    free(db);
}

static void check_bn_running(void)
{
    /* running update: unbiased variance, momentum 0.1 */
    float x[4] = {1, 2, 3, 6}, mean, var, rm = 1, rv = 2;
    dx_bn_stats(&mean, &var, x, 1, 4);
    CHECK(mean == 3.0f && var == 3.5f, "BN batch mean 3 var 3.5 (biased): "
          "%g %g", (double)mean, (double)var);
    dx_bn_update_running(&rm, &rv, &mean, &var, 1, 4);
    CHECK(fabsf(rm - 1.2f) < 1e-6f && fabsf(rv - (0.9f * 2 + 0.1f * 3.5f *
                                                  4 / 3)) < 1e-6f,
          "BN running update: mean %g var %g", (double)rm, (double)rv);
}

/* ---- ReLU and add on their own ---- */

typedef struct ew_ctx {
    size_t n;
    float *a, *b, *y, *r;
    int relu;
} ew_ctx;

static double ew_loss(void *p)
{
    ew_ctx *t = p;
    if (t->relu)
        dx_relu_forward(t->y, t->a, t->n);
    else
        dx_add_forward(t->y, t->a, t->b, t->n);
    return dotd(t->y, t->r, t->n);
}

static void check_elementwise(void)
{
    size_t n = 50;
    ew_ctx t = {n, rnd(n, -1, 1), rnd(n, -1, 1), zeros(n), rnd(n, -1, 1), 1};
    for (size_t i = 0; i < n; i++)
        if (fabsf(t.a[i]) < 0.05f)
            t.a[i] = 0.3f;
    ew_loss(&t);
    float *g = malloc(sizeof *g * n);
    memcpy(g, t.r, sizeof *g * n);
    dx_relu_backward(g, t.y, n);
    fd("ReLU: dx", ew_loss, &t, t.a, g, n, 1e-2f, 1e-5);
    t.relu = 0;
    float *da = zeros(n), *db = zeros(n);
    dx_add_backward(da, t.r, n);
    dx_add_backward(db, t.r, n);
    fd("residual add: da", ew_loss, &t, t.a, da, n, 0.25f, 1e-6);
    fd("residual add: db", ew_loss, &t, t.b, db, n, 0.25f, 1e-6);
    free(t.a), free(t.b), free(t.y), free(t.r), free(g), free(da), free(db);
}

/* ---- bilinear upsampling ---- */

typedef struct up_ctx {
    dx_interp it;
    float *x, *y, *r, *tmp;
} up_ctx;

static double up_loss(void *p)
{
    up_ctx *t = p;
    dx_upsample_forward(t->y, t->x, &t->it, t->tmp);
    return dotd(t->y, t->r, (size_t)t->it.H * t->it.W);
}

static void check_upsample(int h, int w, int H, int W)
{
    up_ctx t;
    dx_err err;
    CHECK(dx_interp_init(&t.it, h, w, H, W, &err) == 0, "interp %dx%d",
          H, W);
    size_t nx = (size_t)h * w, ny = (size_t)H * W;
    t.x = rnd(nx, -1, 1), t.y = zeros(ny), t.r = rnd(ny, -1, 1);
    t.tmp = zeros((size_t)h * W);
    float *dx = zeros(nx);
    dx_upsample_backward(dx, t.r, &t.it, t.tmp);
    char s[120];
    snprintf(s, sizeof s, "bilinear %dx%d -> %dx%d: dx", h, w, H, W);
    fd(s, up_loss, &t, t.x, dx, nx, 0.25f, 1e-5);
    free(t.x), free(t.y), free(t.r), free(t.tmp), free(dx);
    dx_interp_free(&t.it);
}

static void check_upsample_values(void)
{
    /* align_corners=True: corners coincide, midpoints average */
    dx_interp it;
    dx_err err;
    float x[4] = {0, 1, 2, 3}, y[9], tmp[6];
    dx_interp_init(&it, 2, 2, 3, 3, &err);
    dx_upsample_forward(y, x, &it, tmp);
    CHECK(y[0] == 0 && y[2] == 1 && y[6] == 2 && y[8] == 3 && y[4] == 1.5f &&
              y[1] == 0.5f,
          "bilinear 2x2->3x3 corners and centre (%g %g %g)", (double)y[0],
          (double)y[4], (double)y[8]);
    dx_interp_free(&it);
}

/* ---- cross-entropy ---- */

typedef struct ce_ctx {
    int C;
    size_t Q;
    float *z, *w;
    uint8_t *y;
    float scale;
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *t = p;
    return t->scale * dx_ce_forward_backward(NULL, t->z, t->y, t->w, t->C,
                                             t->Q, t->scale);
}

static void check_ce(int weighted)
{
    int C = 5;
    size_t Q = 37;
    ce_ctx t = {C, Q, rnd((size_t)C * Q, -3, 3),
                weighted ? rnd(Q, 0, 1) : NULL, malloc(Q), 0};
    size_t valid = 0;
    for (size_t q = 0; q < Q; q++) {
        t.y[q] = q % 7 == 3 ? DX_IGNORE : (uint8_t)dx_rng_below(&rng, C);
        valid += t.y[q] != DX_IGNORE;
    }
    t.scale = weighted ? 1.0f / Q : 1.0f / valid;
    float *dz = zeros((size_t)C * Q);
    double sum = dx_ce_forward_backward(dz, t.z, t.y, t.w, C, Q, t.scale);
    /* the value, directly */
    double want = 0;
    for (size_t q = 0; q < Q; q++) {
        if (t.y[q] == DX_IGNORE)
            continue;
        double m = -1e30, s = 0;
        for (int c = 0; c < C; c++)
            m = fmax(m, t.z[c * Q + q]);
        for (int c = 0; c < C; c++)
            s += exp(t.z[c * Q + q] - m);
        want += (weighted ? t.w[q] : 1) *
                (log(s) + m - t.z[t.y[q] * Q + q]);
    }
    CHECK(fabs(sum - want) <= 1e-5 * fabs(want), "%s CE value %.6f vs %.6f",
          weighted ? "weighted" : "plain", sum, want);
    float *zero_at_ignored = dz + 3; /* pixel 3 is ignored */
    int zero = 1;
    for (int c = 0; c < C; c++)
        zero &= zero_at_ignored[c * Q] == 0;
    CHECK(zero, "ignored pixels get no gradient");
    fd(weighted ? "weighted ignore-aware CE: dz" : "ignore-aware CE: dz",
       ce_loss, &t, t.z, dz, (size_t)C * Q, 1e-2f, 1e-3);
    free(t.z), free(t.w), free(t.y), free(dz);
}

static void check_softmax(void)
{
    float z[6] = {1, 2, 3, 1, 1000, -1000}; /* C=2, Q=3 */
    float p[6];
    uint8_t pred[3];
    float conf[3];
    dx_softmax(p, z, 2, 3);
    CHECK(fabsf(p[0] + p[3] - 1) < 1e-6f && p[1] == 0 && p[4] == 1,
          "softmax sums to 1 and does not overflow");
    dx_argmax(pred, conf, p, 2, 3);
    CHECK(pred[0] == 0 && pred[1] == 1 && pred[2] == 0 && conf[1] == 1 &&
              conf[0] == 0.5f,
          "argmax and confidence (first class on ties)");
}

int main(void)
{
    dx_err err;
    CHECK(dx_par_set_threads(3, &err) == 0, "3 threads");
    dx_rng_init(&rng, 7, "test_grad", 0);
    check_conv(3, 3, 4, 2, 1, 1, 2, 7, 9, 0);
    check_conv(3, 2, 3, 1, 2, 2, 2, 6, 7, 1);
    check_conv(3, 3, 2, 1, 0, 1, 1, 5, 6, 0);
    check_conv(3, 2, 3, 2, 3, 3, 2, 9, 8, 1);
    check_conv(3, 4, 2, 1, 6, 6, 1, 5, 4, 1);
    /* 5x5 and 2x2 of stride 1 (direct on AVX-512: taps beyond a
     * multiple of 3, an even kernel) */
    check_conv(5, 3, 4, 1, 2, 1, 2, 8, 9, 1);
    check_conv(2, 3, 5, 1, 1, 2, 1, 7, 6, 0);
    /* 1x1 stride 1: the plain product, in one part and (2640 columns)
     * in two, whose weight gradients are summed */
    check_conv(1, 3, 4, 1, 0, 1, 2, 5, 7, 1);
    check_conv(1, 3, 4, 1, 0, 1, 2, 33, 40, 0);
    /* 1x1 stride 2 (a caffe-style layer2 conv1 and its downsample) */
    check_conv(1, 3, 2, 2, 0, 1, 2, 7, 8, 0);
    /* the 7x7 stride-2 stem, on odd and even sides */
    check_conv(7, 3, 4, 2, 3, 1, 2, 13, 10, 0);
    /* many chunks of a wide layer (4 channel groups; more than 64 input
     * channels, so the product, not the direct path) */
    dx_conv wide = {72, 8, 3, 1, 2, 2};
    CHECK((size_t)wide.cin * 9 * 146 * 2 * 19 > DX_CONV_CHUNK,
          "the wide case spans several chunks");
    check_conv_chunked(wide, 2, 19, 150);
    /* thin layers (one channel group): parts of the rows, their weight
     * gradients summed; stride 2: even parts' dx then odd parts'; stride
     * 1: forward and dx directly where the CPU has AVX-512 (widths not a
     * multiple of the 32-pixel tile, dilations, more outputs than one
     * block of 8) */
    check_conv_chunked((dx_conv){8, 16, 3, 1, 1, 1}, 2, 40, 33);
    check_conv_chunked((dx_conv){8, 16, 3, 2, 1, 1}, 2, 41, 30);
    check_conv_chunked((dx_conv){16, 8, 3, 1, 4, 4}, 1, 37, 20);
    /* dilation 6 on a few rows: parts two apart would overlap, so fewer */
    check_conv_chunked((dx_conv){4, 4, 3, 1, 6, 6}, 2, 9, 12);
    check_conv_empty();
    check_pool_sides();
    check_pool(1, 2, 2, 9, 7);  /* odd sides */
    check_pool(1, 2, 1, 8, 6);  /* even: ceil mode adds a window */
    check_pool(0, 2, 2, 8, 7);
    check_aspp(2, 3, 4, 2, 7, 9); /* dilation 2 taps partly outside */
    check_aspp(4, 2, 3, 1, 5, 6); /* dilations 4 and 6: some taps never
                                     inside */
    check_bn(3, 24, 0, 0);
    check_bn(2, 30, 0, 1);
    check_bn(3, 20, 1, 1);
    check_bn_running();
    check_elementwise();
    check_upsample(3, 5, 7, 11);
    check_upsample(4, 8, 32, 64);
    check_upsample(1, 3, 4, 1);
    check_upsample(5, 6, 3, 4);
    check_upsample_values();
    check_ce(0);
    check_ce(1);
    check_softmax();
    return check_done();
}
