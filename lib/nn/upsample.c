/* upsample.c - bilinear align_corners=True resizing; see upsample.h. */
#include "nn/upsample.h"

#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise the loops at any -O */
#endif

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

void dx_upsample_forward(float *y, const float *x, const dx_interp *t,
                         float *tmp)
{
    const int *c0 = t->i0 + t->H, *c1 = t->i1 + t->H;
    const float *cl = t->l1 + t->H;
    /* along rows first: tmp (h, W), then blend two rows per output row;
     * the same expression as PyTorch's h0l*(w0l*a0 + w1l*a1) + h1l*(...) */
    for (int i = 0; i < t->h; i++) {
        const float *a = x + (size_t)i * t->w;
        float *d = tmp + (size_t)i * t->W;
        for (int X = 0; X < t->W; X++)
            d[X] = (1.0f - cl[X]) * a[c0[X]] + cl[X] * a[c1[X]];
    }
    for (int Y = 0; Y < t->H; Y++) {
        const float *a = tmp + (size_t)t->i0[Y] * t->W;
        const float *b = tmp + (size_t)t->i1[Y] * t->W;
        float l1 = t->l1[Y], l0 = 1.0f - l1;
        float *out = y + (size_t)Y * t->W;
        for (int X = 0; X < t->W; X++)
            out[X] = l0 * a[X] + l1 * b[X];
    }
}

void dx_upsample_backward(float *dx, const float *dy, const dx_interp *t,
                          float *tmp)
{
    const int *c0 = t->i0 + t->H, *c1 = t->i1 + t->H;
    const float *cl = t->l1 + t->H;
    memset(tmp, 0, sizeof *tmp * t->h * t->W);
    for (int Y = 0; Y < t->H; Y++) {
        const float *g = dy + (size_t)Y * t->W;
        float *a = tmp + (size_t)t->i0[Y] * t->W;
        float *b = tmp + (size_t)t->i1[Y] * t->W;
        float l1 = t->l1[Y], l0 = 1.0f - l1;
        for (int X = 0; X < t->W; X++)
            a[X] += l0 * g[X];
        for (int X = 0; X < t->W; X++)
            b[X] += l1 * g[X];
    }
    for (int i = 0; i < t->h; i++) {
        const float *g = tmp + (size_t)i * t->W;
        float *d = dx + (size_t)i * t->w;
        for (int X = 0; X < t->W; X++) {
            d[c0[X]] += (1.0f - cl[X]) * g[X];
            d[c1[X]] += cl[X] * g[X];
        }
    }
}
