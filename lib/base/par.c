/* par.c - fork-join over a few persistent threads; see par.h. */
#include "base/par.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

static int started; /* the pool has been started */

static struct {
    int wanted; /* dx_par_set_threads, 0: none */
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int threads;
    unsigned long gen;  /* bumped for each job */
    int pending;        /* workers still running the current job */
    dx_par_fn fn;
    void *ctx;
    long n;
} P = {0, PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER, 1, 0, 0, NULL, NULL, 0};

static void range(long n, int parts, int i, long *lo, long *hi)
{
    *lo = n * i / parts;
    *hi = n * (i + 1) / parts;
}

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&P.mu);
    for (;;) {
        while (P.gen == seen)
            pthread_cond_wait(&P.go, &P.mu);
        seen = P.gen;
        dx_par_fn fn = P.fn;
        void *ctx = P.ctx;
        long n = P.n;
        pthread_mutex_unlock(&P.mu);
        long lo, hi;
        range(n, P.threads, me, &lo, &hi);
        if (hi > lo)
            fn(ctx, lo, hi);
        pthread_mutex_lock(&P.mu);
        if (--P.pending == 0)
            pthread_cond_signal(&P.done);
    }
    return NULL;
}

static void start(void)
{
    int t = P.wanted ? P.wanted : openblas_get_num_threads();
    if (t > DX_PAR_MAX)
        t = DX_PAR_MAX;
    if (t < 1)
        t = 1;
    /* From now on our threads call a single-threaded sgemm each, so that
     * OpenBLAS's own threads do not spin beside ours. */
    openblas_set_num_threads(1);
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    P.threads = 1;
    for (int i = 1; i < t; i++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, worker, (void *)(long)i) == 0)
            P.threads++;
        pthread_attr_destroy(&at);
        if (P.threads != i + 1)
            break;
    }
}

int dx_par_set_threads(int n, dx_err *err)
{
    if (n < 1 || n > DX_PAR_MAX)
        return dx_fail(err, "%d threads, expected 1..%d", n, DX_PAR_MAX);
    if (__atomic_load_n(&started, __ATOMIC_ACQUIRE) && n != P.threads)
        return dx_fail(err, "the threads have started: %d of them, not %d",
                       P.threads, n);
    P.wanted = n;
    return 0;
}

int dx_par_threads(void)
{
    pthread_once(&P.once, start);
    return P.threads;
}

void dx_par_for(long n, dx_par_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    int t = dx_par_threads();
    if (t == 1 || n == 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&P.mu);
    P.fn = fn;
    P.ctx = ctx;
    P.n = n;
    P.pending = t - 1;
    P.gen++;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    long lo, hi;
    range(n, t, 0, &lo, &hi);
    if (hi > lo)
        fn(ctx, lo, hi);
    pthread_mutex_lock(&P.mu);
    while (P.pending > 0)
        pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
}

typedef struct fill_job {
    float *dst;
    const float *src;
    size_t n;
} fill_job;

enum { FILL_BLK = 1 << 14 };

static void fill_part(void *arg, long b0, long b1)
{
    const fill_job *j = arg;
    size_t lo = (size_t)b0 * FILL_BLK, hi = (size_t)b1 * FILL_BLK;
    if (hi > j->n)
        hi = j->n;
    if (j->src)
        memcpy(j->dst + lo, j->src + lo, (hi - lo) * sizeof *j->dst);
    else
        memset(j->dst + lo, 0, (hi - lo) * sizeof *j->dst);
}

void dx_par_zero(float *dst, size_t n)
{
    fill_job j = {dst, NULL, n};
    dx_par_for((long)((n + FILL_BLK - 1) / FILL_BLK), fill_part, &j);
}

void dx_par_copy(float *dst, const float *src, size_t n)
{
    fill_job j = {dst, src, n};
    dx_par_for((long)((n + FILL_BLK - 1) / FILL_BLK), fill_part, &j);
}
