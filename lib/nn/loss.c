/* loss.c - softmax, cross-entropy and argmax over channel-major maps. */
#include "nn/loss.h"

#include <math.h>

#include "base/par.h"
#include "base/simd.h"

#if defined(__GNUC__) && !defined(__clang__)
/* vectorise the loops at any -O; no-trapping-math lets the clamp in
 * exp_neg become a vector select (we never use FP exceptions; values are
 * unchanged) */
#pragma GCC optimize("O3", "no-trapping-math")
#endif

/* exp(x) for x <= 0 (a logit minus its pixel's maximum), with plain float
 * operations so the loops vectorise and give the same bits everywhere:
 * x = k*ln2 + r, |r| <= ln2/2, e^r by its Taylor series to r^7 (relative
 * error below 1e-7), times 2^k built in the exponent bits.  Below -87
 * (e^-87 = 1.6e-38, near the smallest normal float) it returns 0. */
static inline float exp_neg(float x0)
{
    /* clamped to [-87, 0]; NaN goes to -87 here, so that the conversion
     * to an integer below is always defined */
    float x = x0 >= -87.0f ? x0 : -87.0f;
    x = x <= 0.0f ? x : 0.0f;
    float k = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round */
    float r = (x - k * 0.693145752f) - k * 1.42860677e-06f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        float f;
        int32_t i;
    } two = {.i = ((int32_t)k + 127) << 23};
    float keep = (float)(x0 >= -87.0f);
    return p * two.f * keep + (x0 - x0); /* 0 below -87; NaN stays NaN */
}

/* Pixels handled together, so that the inner loops run along pixels. */
enum { BLK = 256 };
/* The loss is summed over this many fixed parts of the pixels, then the
 * parts in order: the same bits whatever the number of threads. */
enum { PARTS = 64 };

typedef struct ce_job {
    float *dz, *p, *conf;
    uint8_t *pred;
    const float *z, *w;
    const uint8_t *label;
    int C;
    size_t Q;
    float scale;
    double part[PARTS];
} ce_job;

/* Pixel blocks [b0, b1) of BLK pixels. */
DX_WIDE static double ce_blocks(ce_job *jb, size_t b0, size_t b1)
{
    float *dz = jb->dz;
    const float *z = jb->z, *w = jb->w;
    const uint8_t *label = jb->label;
    int C = jb->C;
    size_t Q = jb->Q;
    float scale = jb->scale;
    double total = 0;
    float m[BLK], s[BLK], zy[BLK];
    size_t qend = b1 * BLK < Q ? b1 * BLK : Q;
    for (size_t q0 = b0 * BLK; q0 < qend; q0 += BLK) {
        int nb = Q - q0 < BLK ? (int)(Q - q0) : BLK;
        const float *z0 = z + q0;
        const uint8_t *y = label + q0;
        for (int j = 0; j < nb; j++) {
            m[j] = z0[j];
            s[j] = 0;
            zy[j] = y[j] == DX_IGNORE ? 0 : z0[(size_t)y[j] * Q + j];
        }
        for (int c = 1; c < C; c++) {
            const float *zc = z0 + (size_t)c * Q;
            for (int j = 0; j < nb; j++)
                m[j] = zc[j] > m[j] ? zc[j] : m[j];
        }
        for (int c = 0; c < C; c++) {
            const float *zc = z0 + (size_t)c * Q;
            if (dz) {
                float *dc = dz + q0 + (size_t)c * Q;
                for (int j = 0; j < nb; j++) {
                    float e = exp_neg(zc[j] - m[j]);
                    s[j] += e;
                    dc[j] = e;
                }
            } else {
                for (int j = 0; j < nb; j++)
                    s[j] += exp_neg(zc[j] - m[j]);
            }
        }
        for (int j = 0; j < nb; j++) {
            if (y[j] == DX_IGNORE)
                continue;
            double ce = log((double)s[j]) + m[j] - zy[j];
            total += (w ? w[q0 + j] : 1.0) * ce;
        }
        if (!dz)
            continue;
        for (int j = 0; j < nb; j++) {
            /* s[j] becomes the factor scale * w / sum */
            float k = y[j] == DX_IGNORE ? 0.0f : scale / s[j];
            s[j] = w ? k * w[q0 + j] : k;
        }
        for (int c = 0; c < C; c++) {
            float *dc = dz + q0 + (size_t)c * Q;
            for (int j = 0; j < nb; j++)
                dc[j] *= s[j];
        }
        for (int j = 0; j < nb; j++) {
            if (y[j] == DX_IGNORE)
                continue;
            float k = w ? scale * w[q0 + j] : scale;
            dz[q0 + (size_t)y[j] * Q + j] -= k;
        }
    }
    return total;
}

static void ce_part(void *arg, long p0, long p1)
{
    ce_job *j = arg;
    size_t nb = (j->Q + BLK - 1) / BLK;
    for (long p = p0; p < p1; p++)
        j->part[p] = ce_blocks(j, nb * p / PARTS, nb * (p + 1) / PARTS);
}

double dx_ce_forward_backward(float *dz, const float *z,
                              const uint8_t *label, const float *w, int C,
                              size_t Q, float scale)
{
    ce_job j = {.dz = dz, .z = z, .w = w, .label = label, .C = C, .Q = Q,
                .scale = scale};
    dx_par_for(PARTS, ce_part, &j);
    double total = 0;
    for (int p = 0; p < PARTS; p++)
        total += j.part[p];
    return total;
}

DX_WIDE static void softmax_part(void *arg, long b0, long b1)
{
    const ce_job *jb = arg;
    float *p = jb->p;
    const float *z = jb->z;
    int C = jb->C;
    size_t Q = jb->Q;
    float m[BLK], s[BLK];
    size_t qend = (size_t)b1 * BLK < Q ? (size_t)b1 * BLK : Q;
    for (size_t q0 = (size_t)b0 * BLK; q0 < qend; q0 += BLK) {
        int nb = Q - q0 < BLK ? (int)(Q - q0) : BLK;
        for (int j = 0; j < nb; j++) {
            m[j] = z[q0 + j];
            s[j] = 0;
        }
        for (int c = 1; c < C; c++) {
            const float *zc = z + q0 + (size_t)c * Q;
            for (int j = 0; j < nb; j++)
                m[j] = zc[j] > m[j] ? zc[j] : m[j];
        }
        for (int c = 0; c < C; c++) {
            const float *zc = z + q0 + (size_t)c * Q;
            float *pc = p + q0 + (size_t)c * Q;
            for (int j = 0; j < nb; j++) {
                float e = exp_neg(zc[j] - m[j]);
                s[j] += e;
                pc[j] = e;
            }
        }
        for (int j = 0; j < nb; j++)
            s[j] = 1.0f / s[j];
        for (int c = 0; c < C; c++) {
            float *pc = p + q0 + (size_t)c * Q;
            for (int j = 0; j < nb; j++)
                pc[j] *= s[j];
        }
    }
}

void dx_softmax(float *p, const float *z, int C, size_t Q)
{
    ce_job j = {.p = p, .z = z, .C = C, .Q = Q};
    dx_par_for((long)((Q + BLK - 1) / BLK), softmax_part, &j);
}

void dx_argmax(uint8_t *pred, float *conf, const float *p, int C, size_t Q)
{
    for (size_t q = 0; q < Q; q++) {
        pred[q] = 0;
        conf[q] = p[q];
    }
    for (int c = 1; c < C; c++) {
        const float *pc = p + (size_t)c * Q;
        for (size_t q = 0; q < Q; q++)
            if (pc[q] > conf[q]) {
                conf[q] = pc[q];
                pred[q] = (uint8_t)c;
            }
    }
}
