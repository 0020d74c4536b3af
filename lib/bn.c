/* bn.c - batch normalisation; see bn.h. */
#include "bn.h"

#include <math.h>

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

void dx_bn_stats(float *mean, float *var, const float *x, int C, size_t P)
{
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * P;
        float m = (float)(sum1(xc, P) / (double)P);
        mean[c] = m;
        var[c] = (float)(sumsq(xc, m, P) / (double)P);
    }
}

void dx_bn_update_running(float *rmean, float *rvar, const float *mean,
                          const float *var, int C, size_t P)
{
    double unbias = (double)P / (double)(P - 1);
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

void dx_bn_forward(float *y, float *xhat, const float *x, const float *skip,
                   const float *gamma, const float *beta, const float *mean,
                   const float *invstd, int relu, int C, size_t P)
{
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * P;
        const float *xc = x + o;
        float *yc = y + o;
        float m = mean[c], is = invstd[c], g = gamma[c], b = beta[c];
        if (xhat) {
            float *hc = xhat + o;
            for (size_t i = 0; i < P; i++) {
                float h = (xc[i] - m) * is;
                hc[i] = h;
                yc[i] = g * h + b;
            }
        } else {
            /* y = x*a + (b - m*a), as PyTorch evaluates it */
            float a = g * is, b2 = b - m * a;
            for (size_t i = 0; i < P; i++)
                yc[i] = xc[i] * a + b2;
        }
        if (skip) {
            const float *sc = skip + o;
            for (size_t i = 0; i < P; i++)
                yc[i] += sc[i];
        }
        if (relu)
            for (size_t i = 0; i < P; i++)
                yc[i] = yc[i] > 0 ? yc[i] : 0;
    }
}

void dx_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                    const float *xhat, const float *gamma,
                    const float *invstd, int C, size_t P)
{
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * P;
        const float *g = dy + o, *h = xhat + o;
        double sg = sum1(g, P), sgh = dot(g, h, P);
        dgamma[c] += (float)sgh;
        dbeta[c] += (float)sg;
        float k = gamma[c] * invstd[c];
        float mg = (float)(sg / (double)P), mgh = (float)(sgh / (double)P);
        float *d = dx + o;
        for (size_t i = 0; i < P; i++)
            d[i] = k * (g[i] - mg - h[i] * mgh);
    }
}
