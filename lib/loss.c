/* loss.c - softmax, cross-entropy and argmax over channel-major maps. */
#include "loss.h"

#include <math.h>

/* Pixels handled together, so that the inner loops run along pixels. */
enum { BLK = 256 };

double dx_ce_forward_backward(float *dz, const float *z,
                              const uint8_t *label, const float *w, int C,
                              size_t Q, float scale)
{
    double total = 0;
    float m[BLK], s[BLK], zy[BLK];
    for (size_t q0 = 0; q0 < Q; q0 += BLK) {
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
            float *dc = dz ? dz + q0 + (size_t)c * Q : NULL;
            for (int j = 0; j < nb; j++) {
                float e = expf(zc[j] - m[j]);
                s[j] += e;
                if (dc)
                    dc[j] = e;
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

void dx_softmax(float *p, const float *z, int C, size_t Q)
{
    float m[BLK], s[BLK];
    for (size_t q0 = 0; q0 < Q; q0 += BLK) {
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
                float e = expf(zc[j] - m[j]);
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
