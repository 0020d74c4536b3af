/* pool.c - max-pooling; see pool.h. */
#include "nn/pool.h"

#include <math.h>

#include "base/par.h"

int dx_pool_out(const dx_pool *p, int in)
{
    long room = (long)in + 2L * p->pad - p->k;
    if (room < 0)
        return 0;
    long out = (room + (p->ceil ? p->stride - 1 : 0)) / p->stride + 1;
    /* the last window must start inside the input or its left padding
     * (PyTorch's pooling_output_shape) */
    if (p->ceil && (out - 1) * p->stride >= (long)in + p->pad)
        out--;
    return (int)out;
}

/* Planes (channel, image) shared among the threads; each plane is one
 * thread's, so results do not depend on the count. */
typedef struct pool_job {
    float *y, *dx;
    int32_t *am;
    const float *x, *dy;
    const int32_t *cam;
    const dx_pool *p;
    int h, w, ho, wo;
} pool_job;

static void forward_part(void *arg, long q0, long q1)
{
    const pool_job *j = arg;
    const dx_pool *p = j->p;
    size_t in = (size_t)j->h * j->w, out = (size_t)j->ho * j->wo;
    for (long q = q0; q < q1; q++) {
        const float *x = j->x + (size_t)q * in;
        float *y = j->y + (size_t)q * out;
        int32_t *am = j->am ? j->am + (size_t)q * out : NULL;
        for (int oh = 0; oh < j->ho; oh++) {
            int h0 = oh * p->stride - p->pad, h1 = h0 + p->k;
            h0 = h0 < 0 ? 0 : h0;
            h1 = h1 > j->h ? j->h : h1;
            for (int ow = 0; ow < j->wo; ow++) {
                int w0 = ow * p->stride - p->pad, w1 = w0 + p->k;
                w0 = w0 < 0 ? 0 : w0;
                w1 = w1 > j->w ? j->w : w1;
                int best = h0 * j->w + w0;
                float m = -INFINITY;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        float v = x[ih * j->w + iw];
                        if (v > m || isnan(v)) {
                            m = v;
                            best = ih * j->w + iw;
                        }
                    }
                y[oh * j->wo + ow] = m;
                if (am)
                    am[oh * j->wo + ow] = best;
            }
        }
    }
}

void dx_maxpool_forward(float *y, int32_t *argmax, const float *x,
                        const dx_pool *p, int C, int n, int h, int w)
{
    pool_job j = {.y = y, .am = argmax, .x = x, .p = p, .h = h, .w = w,
                  .ho = dx_pool_out(p, h), .wo = dx_pool_out(p, w)};
    dx_par_for((long)C * n, forward_part, &j);
}

static void backward_part(void *arg, long q0, long q1)
{
    const pool_job *j = arg;
    size_t in = (size_t)j->h * j->w, out = (size_t)j->ho * j->wo;
    for (long q = q0; q < q1; q++) {
        float *dx = j->dx + (size_t)q * in;
        const float *dy = j->dy + (size_t)q * out;
        const int32_t *am = j->cam + (size_t)q * out;
        for (size_t o = 0; o < out; o++)
            dx[am[o]] += dy[o];
    }
}

void dx_maxpool_backward(float *dx, const float *dy, const int32_t *argmax,
                         const dx_pool *p, int C, int n, int h, int w)
{
    pool_job j = {.dx = dx, .dy = dy, .cam = argmax, .p = p, .h = h, .w = w,
                  .ho = dx_pool_out(p, h), .wo = dx_pool_out(p, w)};
    dx_par_for((long)C * n, backward_part, &j);
}
