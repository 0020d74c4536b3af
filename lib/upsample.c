/* upsample.c - bilinear align_corners=True resizing; see upsample.h. */
#include "upsample.h"

#include <stdlib.h>
#include <string.h>

/* Source index pair and weight for each of n outputs over an input of m,
 * as PyTorch computes them in float. */
static void axis(int *i0, int *i1, float *l1, int m, int n)
{
    float scale = n > 1 ? (float)(m - 1) / (float)(n - 1) : 0.0f;
    for (int j = 0; j < n; j++) {
        float src = scale * (float)j;
        int a = (int)src;
        if (a > m - 1)
            a = m - 1;
        i0[j] = a;
        i1[j] = a < m - 1 ? a + 1 : a;
        l1[j] = src - (float)a;
    }
}

int dx_interp_init(dx_interp *t, int h, int w, int H, int W, dx_err *err)
{
    memset(t, 0, sizeof *t);
    if (h < 1 || w < 1 || H < 1 || W < 1)
        return dx_fail(err, "cannot resize %dx%d to %dx%d", h, w, H, W);
    size_t n = (size_t)H + W;
    t->i0 = malloc(n * sizeof *t->i0);
    t->i1 = malloc(n * sizeof *t->i1);
    t->l1 = malloc(n * sizeof *t->l1);
    if (!t->i0 || !t->i1 || !t->l1) {
        dx_interp_free(t);
        return dx_fail(err, "out of memory for a %dx%d resize", H, W);
    }
    t->h = h, t->w = w, t->H = H, t->W = W;
    axis(t->i0, t->i1, t->l1, h, H);
    axis(t->i0 + H, t->i1 + H, t->l1 + H, w, W);
    return 0;
}

void dx_interp_free(dx_interp *t)
{
    free(t->i0);
    free(t->i1);
    free(t->l1);
    memset(t, 0, sizeof *t);
}

void dx_upsample_forward(float *y, const float *x, const dx_interp *t)
{
    const int *c0 = t->i0 + t->H, *c1 = t->i1 + t->H;
    const float *cl = t->l1 + t->H;
    for (int Y = 0; Y < t->H; Y++) {
        const float *a = x + (size_t)t->i0[Y] * t->w;
        const float *b = x + (size_t)t->i1[Y] * t->w;
        float l1 = t->l1[Y], l0 = 1.0f - l1;
        float *out = y + (size_t)Y * t->W;
        /* PyTorch's order: h0l * (w0l*a0 + w1l*a1) + h1l * (...) */
        for (int X = 0; X < t->W; X++) {
            float r1 = cl[X], r0 = 1.0f - r1;
            out[X] = l0 * (r0 * a[c0[X]] + r1 * a[c1[X]]) +
                     l1 * (r0 * b[c0[X]] + r1 * b[c1[X]]);
        }
    }
}

void dx_upsample_backward(float *dx, const float *dy, const dx_interp *t)
{
    const int *c0 = t->i0 + t->H, *c1 = t->i1 + t->H;
    const float *cl = t->l1 + t->H;
    for (int Y = 0; Y < t->H; Y++) {
        const float *g = dy + (size_t)Y * t->W;
        float *a = dx + (size_t)t->i0[Y] * t->w;
        float *b = dx + (size_t)t->i1[Y] * t->w;
        float l1 = t->l1[Y], l0 = 1.0f - l1;
        for (int X = 0; X < t->W; X++) {
            float r1 = cl[X], r0 = 1.0f - r1;
            float ga = l0 * g[X], gb = l1 * g[X];
            a[c0[X]] += r0 * ga;
            a[c1[X]] += r1 * ga;
            b[c0[X]] += r0 * gb;
            b[c1[X]] += r1 * gb;
        }
    }
}
