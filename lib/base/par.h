/* par.h - a tiny fork-join for the element-wise work around the BLAS
 * calls (im2col, batch-norm, ReLU, upsampling, the loss).
 *
 * dx_par_for(n, fn, ctx) calls fn(ctx, lo, hi) on a partition of [0, n)
 * into contiguous ranges, one per thread, and returns when all are done.
 * The threads are dacs's own setting: dx_par_set_threads(n) before the
 * first use (the tools' --threads N, or the environment variable
 * DACS_THREADS, read by dx_cli_init), 1 to DX_PAR_MAX, and allowed to
 * exceed the cores; without one, as many as OpenBLAS would use
 * (OPENBLAS_NUM_THREADS, which OpenBLAS caps at the cores).  They are
 * started on first use and live until exit.  From then on OpenBLAS itself
 * runs single-threaded: the convolutions split their matrix products
 * among these threads instead.
 *
 * A thread that has finished its part watches for the next job, or for
 * the other threads to finish, for up to 50 microseconds, then sleeps on
 * a condition variable: the gaps between the jobs of a training step are
 * mostly shorter than a wake-up through the kernel.  It does not watch
 * when the threads outnumber the cores it may run on.
 *
 * Results never depend on the number of threads: every caller partitions
 * so that each output value is computed by one thread in a fixed order
 * (reductions run over fixed parts, summed in order).
 */
#ifndef DACS_PAR_H
#define DACS_PAR_H

#include <stddef.h>

#include "base/err.h"

#define DX_PAR_MAX 64

typedef void (*dx_par_fn)(void *ctx, long lo, long hi);

void dx_par_for(long n, dx_par_fn fn, void *ctx);
/* Use n threads (1..DX_PAR_MAX).  Fails when n is out of range, or when
 * the threads have already started with another count. */
int dx_par_set_threads(int n, dx_err *err);
/* The number of threads dx_par_for uses. */
int dx_par_threads(void);

/* dst = 0 and dst = src over n floats, shared among the threads (for
 * the large activation-gradient buffers). */
void dx_par_zero(float *dst, size_t n);
void dx_par_copy(float *dst, const float *src, size_t n);

#endif
