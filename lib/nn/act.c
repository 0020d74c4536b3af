/* act.c - ReLU and the residual add; see act.h. */
#include "nn/act.h"

#include "base/par.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3") /* vectorise the loops at any -O */
#endif

/* Element ranges in blocks of 4096, shared among the threads. */
enum { BLK = 4096 };

typedef struct ew_job {
    float *y;
    const float *a, *b;
    size_t n;
} ew_job;

static void relu_fwd_part(void *arg, long b0, long b1)
{
    const ew_job *j = arg;
    size_t hi = (size_t)b1 * BLK < j->n ? (size_t)b1 * BLK : j->n;
    for (size_t i = (size_t)b0 * BLK; i < hi; i++)
        j->y[i] = j->a[i] < 0 ? 0 : j->a[i]; /* NaN stays NaN */
}

static void relu_bwd_part(void *arg, long b0, long b1)
{
    const ew_job *j = arg;
    size_t hi = (size_t)b1 * BLK < j->n ? (size_t)b1 * BLK : j->n;
    for (size_t i = (size_t)b0 * BLK; i < hi; i++)
        j->y[i] = j->a[i] > 0 ? j->y[i] : 0;
}

static void add_fwd_part(void *arg, long b0, long b1)
{
    const ew_job *j = arg;
    size_t hi = (size_t)b1 * BLK < j->n ? (size_t)b1 * BLK : j->n;
    for (size_t i = (size_t)b0 * BLK; i < hi; i++)
        j->y[i] = j->a[i] + j->b[i];
}

static void add_bwd_part(void *arg, long b0, long b1)
{
    const ew_job *j = arg;
    size_t hi = (size_t)b1 * BLK < j->n ? (size_t)b1 * BLK : j->n;
    for (size_t i = (size_t)b0 * BLK; i < hi; i++)
        j->y[i] += j->a[i];
}

static long blocks(size_t n)
{
    return (long)((n + BLK - 1) / BLK);
}

void dx_relu_forward(float *y, const float *x, size_t n)
{
    ew_job j = {y, x, NULL, n};
    dx_par_for(blocks(n), relu_fwd_part, &j);
}

void dx_relu_backward(float *dy, const float *y, size_t n)
{
    ew_job j = {dy, y, NULL, n};
    dx_par_for(blocks(n), relu_bwd_part, &j);
}

void dx_add_forward(float *y, const float *a, const float *b, size_t n)
{
    ew_job j = {y, a, b, n};
    dx_par_for(blocks(n), add_fwd_part, &j);
}

void dx_add_backward(float *da, const float *dy, size_t n)
{
    ew_job j = {da, dy, NULL, n};
    dx_par_for(blocks(n), add_bwd_part, &j);
}
