/* allreduce.c - the time of one sum over the ranks (base/coll.h through
 * mpi-hub) of a buffer the size of a network's gradient, for make bench.
 *
 *   allreduce NET REPS      (as a rank: DACS_COLL_SOCKET set)
 *
 * NET: mini (deeplab-mini, width 32) or r101 (DeepLabv2-R101, caffe).
 * Prints "params N", "bytes B", "sum_ms M" (the median of REPS sums,
 * after one) and "ranks K" on rank 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/coll.h"
#include "nn/model.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *path = getenv("DACS_COLL_SOCKET");
    if (argc != 3 || !path) {
        fprintf(stderr, "usage: allreduce mini|r101 REPS, as a rank with "
                "DACS_COLL_SOCKET set\n");
        return 2;
    }
    int reps = atoi(argv[2]);
    dx_err err;
    dx_arch a;
    dx_arch_defaults(&a, strcmp(argv[1], "r101") == 0 ? DX_NET_DEEPLABV2
                                                       : DX_NET_MINI);
    dx_model m;
    dx_coll c;
    if (dx_model_create(&m, &a, &err) || dx_model_alloc_grad(&m, &err) ||
        dx_coll_open(&c, path, "bench", &err)) {
        fprintf(stderr, "allreduce: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < m.nparam; i++)
        m.grad[i] = (float)(i % 1000) * 1e-3f;
    double *t = malloc(sizeof *t * (size_t)(reps + 1));
    for (int k = 0; k <= reps; k++) {
        double t0 = now_ms();
        if (dx_coll_sum_f32(&c, m.grad, m.nparam, "gradient", &err)) {
            fprintf(stderr, "allreduce: %s\n", err.msg);
            return 1;
        }
        t[k] = now_ms() - t0;
    }
    qsort(t + 1, (size_t)reps, sizeof *t, cmp);
    if (c.rank == 0)
        printf("params %zu\nbytes %zu\nsum_ms %.1f\nranks %d\n", m.nparam,
               m.nparam * sizeof(float), t[1 + reps / 2], c.size);
    dx_coll_close(&c);
    dx_model_free(&m);
    free(t);
    return 0;
}
