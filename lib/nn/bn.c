/* bn.c - batch normalisation; see bn.h. */
#include "nn/bn.h"

#include <math.h>

#include "base/par.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise the loops at any -O */
#endif

/* Sums of long runs: blocks of 16 independent float lanes (vectorisable,
 * fixed order), each block total added in double. */
enum { LANES = 16, BLOCK = 512 };

static double sum1(const float *x, size_t n)
{
    double total = 0;
    size_t i = 0;
    while (i + BLOCK <= n) {
        float acc[LANES] = {0};
        for (size_t b = 0; b < BLOCK; b += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += x[i + b + l];
        for (int l = 0; l < LANES; l++)
            total += acc[l];
        i += BLOCK;
    }
    for (; i < n; i++)
        total += x[i];
    return total;
}

/* sum (x - m)^2 */
static double sumsq(const float *x, float m, size_t n)
{
    double total = 0;
    size_t i = 0;
    while (i + BLOCK <= n) {
        float acc[LANES] = {0};
        for (size_t b = 0; b < BLOCK; b += LANES)
            for (int l = 0; l < LANES; l++) {
                float d = x[i + b + l] - m;
                acc[l] += d * d;
            }
        for (int l = 0; l < LANES; l++)
            total += acc[l];
        i += BLOCK;
    }
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        total += d * d;
    }
    return total;
}

/* sum a*b */
static double dot(const float *a, const float *b, size_t n)
{
    double total = 0;
    size_t i = 0;
    while (i + BLOCK <= n) {
        float acc[LANES] = {0};
        for (size_t k = 0; k < BLOCK; k += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += a[i + k + l] * b[i + k + l];
        for (int l = 0; l < LANES; l++)
            total += acc[l];
        i += BLOCK;
    }
    for (; i < n; i++)
        total += (double)a[i] * b[i];
    return total;
}

/* Every function below splits the channels among the threads; each
 * channel is one thread's, so results do not depend on the count. */
typedef struct bn_job {
    float *y, *xhat;
    double *s1, *s2;
    const double *cs1, *cs2;
    const float *x, *skip, *gamma, *beta, *cmean, *invstd, *dy, *chat;
    int relu;
    size_t P;
    double count;
} bn_job;

static void sums_part(void *arg, long c0, long c1)
{
    const bn_job *j = arg;
    for (long c = c0; c < c1; c++)
        j->s1[c] = sum1(j->x + (size_t)c * j->P, j->P);
}

void dx_bn_sums(double *sum, const float *x, int C, size_t P)
{
    bn_job j = {.s1 = sum, .x = x, .P = P};
    dx_par_for(C, sums_part, &j);
}

static void sq_part(void *arg, long c0, long c1)
{
    const bn_job *j = arg;
    for (long c = c0; c < c1; c++)
        j->s1[c] = sumsq(j->x + (size_t)c * j->P, j->cmean[c], j->P);
}

void dx_bn_sq_sums(double *sq, const float *x, const float *mean, int C,
                   size_t P)
{
    bn_job j = {.s1 = sq, .x = x, .cmean = mean, .P = P};
    dx_par_for(C, sq_part, &j);
}

/* dx_bn_stats and dx_bn_backward take channels in blocks of this many,
 * with their sums on the stack. */
enum { CBLK = 256 };

void dx_bn_stats(float *mean, float *var, const float *x, int C, size_t P)
{
    double s[CBLK];
    for (int c0 = 0; c0 < C; c0 += CBLK) {
        int nc = C - c0 < CBLK ? C - c0 : CBLK;
        const float *xc = x + (size_t)c0 * P;
        dx_bn_sums(s, xc, nc, P);
        for (int c = 0; c < nc; c++)
            mean[c0 + c] = (float)(s[c] / (double)P);
        dx_bn_sq_sums(s, xc, mean + c0, nc, P);
        for (int c = 0; c < nc; c++)
            var[c0 + c] = (float)(s[c] / (double)P);
    }
}

void dx_bn_update_running(float *rmean, float *rvar, const float *mean,
                          const float *var, int C, size_t count)
{
    double unbias = (double)count / (double)(count - 1);
    for (int c = 0; c < C; c++) {
        rmean[c] = (float)((1 - DX_BN_MOMENTUM) * rmean[c] +
                           DX_BN_MOMENTUM * mean[c]);
        rvar[c] = (float)((1 - DX_BN_MOMENTUM) * rvar[c] +
                          DX_BN_MOMENTUM * var[c] * unbias);
    }
}

void dx_bn_invstd(float *invstd, const float *var, int C)
{
    for (int c = 0; c < C; c++)
        invstd[c] = (float)(1.0 / sqrt((double)var[c] + DX_BN_EPS));
}

static void forward_part(void *arg, long c0, long c1)
{
    const bn_job *j = arg;
    size_t P = j->P;
    for (long c = c0; c < c1; c++) {
        size_t o = (size_t)c * P;
        const float *xc = j->x + o;
        const float *sc = j->skip ? j->skip + o : NULL;
        float *yc = j->y + o;
        float m = j->cmean[c], is = j->invstd[c];
        float g = j->gamma[c], b = j->beta[c];
        if (j->xhat) {
            float *hc = j->xhat + o;
            for (size_t i = 0; i < P; i++) {
                float h = (xc[i] - m) * is;
                hc[i] = h;
                float v = g * h + b;
                if (sc)
                    v += sc[i];
                yc[i] = j->relu && v < 0 ? 0 : v;
            }
        } else {
            /* y = x*a + (b - m*a), as PyTorch evaluates it */
            float a = g * is, b2 = b - m * a;
            if (sc)
                for (size_t i = 0; i < P; i++) {
                    float v = xc[i] * a + b2 + sc[i];
                    yc[i] = j->relu && v < 0 ? 0 : v;
                }
            else
                for (size_t i = 0; i < P; i++) {
                    float v = xc[i] * a + b2;
                    yc[i] = j->relu && v < 0 ? 0 : v;
                }
        }
    }
}

void dx_bn_forward(float *y, float *xhat, const float *x, const float *skip,
                   const float *gamma, const float *beta, const float *mean,
                   const float *invstd, int relu, int C, size_t P)
{
    bn_job j = {.y = y, .xhat = xhat, .x = x, .skip = skip, .gamma = gamma,
                .beta = beta, .cmean = mean, .invstd = invstd, .relu = relu,
                .P = P};
    dx_par_for(C, forward_part, &j);
}

static void grad_sums_part(void *arg, long c0, long c1)
{
    const bn_job *j = arg;
    for (long c = c0; c < c1; c++) {
        size_t o = (size_t)c * j->P;
        j->s1[c] = sum1(j->dy + o, j->P);
        j->s2[c] = dot(j->dy + o, j->chat + o, j->P);
    }
}

void dx_bn_grad_sums(double *sdy, double *sdyh, const float *dy,
                     const float *xhat, int C, size_t P)
{
    bn_job j = {.s1 = sdy, .s2 = sdyh, .dy = dy, .chat = xhat, .P = P};
    dx_par_for(C, grad_sums_part, &j);
}

static void apply_part(void *arg, long c0, long c1)
{
    const bn_job *j = arg;
    size_t P = j->P;
    for (long c = c0; c < c1; c++) {
        size_t o = (size_t)c * P;
        const float *g = j->dy + o, *h = j->chat + o;
        float k = j->gamma[c] * j->invstd[c];
        float mg = (float)(j->cs1[c] / j->count);
        float mgh = (float)(j->cs2[c] / j->count);
        float *d = j->y + o;
        for (size_t i = 0; i < P; i++)
            d[i] = k * (g[i] - mg - h[i] * mgh);
    }
}

void dx_bn_backward_apply(float *dx, const float *dy, const float *xhat,
                          const float *gamma, const float *invstd,
                          const double *sdy, const double *sdyh,
                          double count, int C, size_t P)
{
    bn_job j = {.y = dx, .dy = dy, .chat = xhat, .gamma = gamma,
                .invstd = invstd, .cs1 = sdy, .cs2 = sdyh, .count = count,
                .P = P};
    dx_par_for(C, apply_part, &j);
}

void dx_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *xhat, const float *gamma,
                    const float *invstd, int C, size_t P)
{
    double sdy[CBLK], sdyh[CBLK];
    for (int c0 = 0; c0 < C; c0 += CBLK) {
        int nc = C - c0 < CBLK ? C - c0 : CBLK;
        size_t o = (size_t)c0 * P;
        dx_bn_grad_sums(sdy, sdyh, dy + o, xhat + o, nc, P);
        for (int c = 0; c < nc; c++) {
            if (dgamma)
                dgamma[c0 + c] += (float)sdyh[c];
            if (dbeta)
                dbeta[c0 + c] += (float)sdy[c];
        }
        dx_bn_backward_apply(dx + o, dy + o, xhat + o, gamma + c0,
                             invstd + c0, sdy, sdyh, (double)P, nc, P);
    }
}
