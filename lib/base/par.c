/* par.c - fork-join over a few persistent threads; see par.h. */
#include "base/par.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int started; /* the pool has been started */

/* Between two jobs a step often spends only microseconds of serial work,
 * and a wake-up through the kernel costs about as much (a futex call on
 * each side and a context switch: some 1750 a deeplab-mini iteration).
 * So a thread that has finished its part first watches for the next job,
 * or for the others to finish, for up to SPIN_NS, and only then sleeps on
 * the condition variable.  The spin is short so that nothing spins while
 * another process (a stage of the ring) needs the core; there is none
 * when the threads outnumber the cores. */
enum { SPIN_NS = 50000 };

static struct {
    int wanted; /* dx_par_set_threads, 0: none */
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int threads;
    long spin_ns;        /* SPIN_NS, or 0 when threads > cores */
    unsigned long gen;   /* bumped for each job (atomic) */
    int pending;         /* workers still running the current job (atomic) */
    dx_par_fn fn;
    void *ctx;
    long n;
} P = {0, PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER, 1, 0, 0, 0, NULL, NULL, 0};

static void range(long n, int parts, int i, long *lo, long *hi)
{
    *lo = n * i / parts;
    *hi = n * (i + 1) / parts;
}

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static int gen_moved(unsigned long seen)
{
    return __atomic_load_n(&P.gen, __ATOMIC_ACQUIRE) != seen;
}

static int all_done(unsigned long unused)
{
    (void)unused;
    return __atomic_load_n(&P.pending, __ATOMIC_ACQUIRE) == 0;
}

/* Spin for up to P.spin_ns until ready(arg); whether it became so. */
static int spin_until(int (*ready)(unsigned long), unsigned long arg)
{
    if (P.spin_ns <= 0)
        return ready(arg);
    long until = now_ns() + P.spin_ns;
    for (int i = 1;; i++) {
        if (ready(arg))
            return 1;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if (i % 64 == 0 && now_ns() > until)
            return 0;
    }
}

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(gen_moved, seen)) {
            pthread_mutex_lock(&P.mu);
            while (!gen_moved(seen))
                pthread_cond_wait(&P.go, &P.mu);
            pthread_mutex_unlock(&P.mu);
        }
        seen = __atomic_load_n(&P.gen, __ATOMIC_ACQUIRE);
        long lo, hi;
        range(P.n, P.threads, me, &lo, &hi);
        if (hi > lo)
            P.fn(P.ctx, lo, hi);
        if (__atomic_sub_fetch(&P.pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&P.mu);
            pthread_cond_signal(&P.done);
            pthread_mutex_unlock(&P.mu);
        }
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
    /* the cores this process may run on (taskset, cpusets), not the
     * machine's */
    cpu_set_t cpus;
    long cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0
                     ? CPU_COUNT(&cpus)
                     : sysconf(_SC_NPROCESSORS_ONLN);
    P.spin_ns = cores >= t ? SPIN_NS : 0;
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

/* A job is published by bumping P.gen after its fields are set (release);
 * a worker reads them after it sees the new gen (acquire).  The broadcast
 * is made under the mutex, so a worker that checked gen under the mutex
 * and went to sleep is woken; one that is spinning sees gen change. */
void dx_par_for(long n, dx_par_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    int t = dx_par_threads();
    if (t == 1 || n == 1) {
        fn(ctx, 0, n);
        return;
    }
    P.fn = fn;
    P.ctx = ctx;
    P.n = n;
    __atomic_store_n(&P.pending, t - 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&P.mu);
    __atomic_add_fetch(&P.gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    long lo, hi;
    range(n, t, 0, &lo, &hi);
    if (hi > lo)
        fn(ctx, lo, hi);
    if (!spin_until(all_done, 0)) {
        pthread_mutex_lock(&P.mu);
        while (!all_done(0))
            pthread_cond_wait(&P.done, &P.mu);
        pthread_mutex_unlock(&P.mu);
    }
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
