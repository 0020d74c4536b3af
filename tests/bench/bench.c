/* bench.c - in-process timings for tests/bench/run: the network's forward
 * pass as seg-infer runs it, a whole training step, and OpenBLAS sgemm on
 * this machine.  Prints "key value" lines.
 *
 *   bench NET N H W REPS
 *
 * NET: mini (deeplab-mini, width 32, 19 classes) or r101 (DeepLabv2-R101,
 * caffe, as seg-init --net deeplabv2 builds it).
 */
#include <string.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "nn/model.h"
#include "base/par.h"
#include "base/rng.h"
#include "dacs/train.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* CPU seconds of this process (all threads) */
static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
           (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* sgemm GFLOPS for M x N x K, best of a few runs of ~0.3 s */
static double sgemm_gflops(int M, int N, int K)
{
    float *a = malloc(sizeof *a * M * K), *b = malloc(sizeof *b * K * N);
    float *c = malloc(sizeof *c * M * N);
    for (long i = 0; i < (long)M * K; i++)
        a[i] = (float)(i % 13) * 0.01f;
    for (long i = 0; i < (long)K * N; i++)
        b[i] = (float)(i % 7) * 0.01f;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K,
                        1.0f, a, K, b, N, 0.0f, c, N);
            reps++;
        } while ((t = now() - t0) < 0.3);
        double g = 2.0 * M * N * K * reps / t * 1e-9;
        if (g > best)
            best = g;
    }
    free(a), free(b), free(c);
    return best;
}

/* OpenBLAS sgemm 1024^3 with its own threads, as a user would call it;
 * then back to one thread for the network's own threads (par.h) */
static double sgemm_rate(void)
{
    openblas_set_num_threads(dx_par_threads());
    double g = sgemm_gflops(1024, 1024, 1024);
    openblas_set_num_threads(1);
    return g;
}

int main(int argc, char **argv)
{
    const char *net = argc > 1 ? argv[1] : "mini";
    int n = argc > 2 ? atoi(argv[2]) : 2, H = argc > 3 ? atoi(argv[3]) : 256;
    int W = argc > 4 ? atoi(argv[4]) : 512, reps = argc > 5 ? atoi(argv[5])
                                                            : 5;
    dx_err err;
    dx_arch a;
    dx_arch_defaults(&a, strcmp(net, "r101") == 0 ? DX_NET_DEEPLABV2
                                                  : DX_NET_MINI);
    dx_model m;
    if (dx_model_init(&m, &a, 1, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    size_t pix = (size_t)n * H * W;
    uint8_t *img = malloc(pix * 3), *lab = malloc(pix);
    float *wt = malloc(sizeof *wt * pix);
    float *prob = malloc(sizeof *prob * a.classes * (size_t)H * W);
    dx_rng r;
    dx_rng_init(&r, 1, "bench", 0);
    for (size_t i = 0; i < pix * 3; i++)
        img[i] = (uint8_t)dx_rng_below(&r, 256);
    for (size_t i = 0; i < pix; i++) {
        lab[i] = (uint8_t)dx_rng_below(&r, a.classes);
        wt[i] = 0.5f;
    }
    double *t = malloc(sizeof *t * reps);
    /* the machine's sgemm rate just before the timings (and after them,
     * below): on a shared machine it moves */
    int do_sgemm = !getenv("BENCH_NO_SGEMM");
    double sgemm0 = do_sgemm ? sgemm_rate() : 0;
    /* seg-infer --bn running: one image at a time, with upsample and
     * softmax */
    for (int k = -1; k < reps; k++) {
        double t0 = now();
        for (int i = 0; i < n; i++)
            if (dx_model_predict(&m, prob, img + (size_t)i * H * W * 3, 1, H,
                                 W, DX_BN_RUNNING, &err)) {
                fprintf(stderr, "bench: %s\n", err.msg);
                return 1;
            }
        if (k >= 0)
            t[k] = now() - t0;
    }
    double fwd = median(t, reps);
    double fwd_cpu = 0;
    {
        double c1 = cpu();
        for (int i = 0; i < n; i++)
            dx_model_predict(&m, prob, img + (size_t)i * H * W * 3, 1, H, W,
                             DX_BN_RUNNING, &err);
        fwd_cpu = cpu() - c1;
    }
    dx_batch src = {img, lab, NULL, n, H, W}, mix = {img, lab, wt, n, H, W};
    /* the reference lr for the pretrained-size net, which diverges at a
     * from-scratch 0.01 on random labels */
    dx_hyper h = {.mic_lambda = 1};
    dx_optim_defaults(&h.opt, DX_OPTIM_SGD);
    h.opt.lr = a.net == DX_NET_DEEPLABV2 ? 2.5e-4 : 0.01;
    h.opt.iters = 1000000;
    dx_step_result res;
    double c0 = 0;
    for (int k = -1; k < (getenv("BENCH_NO_STEP") ? -1 : reps); k++) {
        double t0 = now();
        if (k == 0)
            c0 = cpu();
        if (dx_train_step(&m, &src, &mix, NULL, &h, &res, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return 1;
        }
        if (k >= 0)
            t[k] = now() - t0;
    }
    double step_cpu = (cpu() - c0) / reps;
    double step = getenv("BENCH_NO_STEP") ? 1 : median(t, reps);
    double flops = dx_model_flops(&m, n, H, W);
    printf("flops_forward %.0f\n", flops);
    printf("infer_forward_ms %.1f\n", fwd * 1e3);
    printf("infer_cpu_ms %.1f\n", fwd_cpu * 1e3);
    printf("step_inprocess_ms %.1f\n", step * 1e3);
    printf("step_cpu_ms %.1f\n", step_cpu * 1e3);
    printf("infer_gflops %.1f\n", flops / fwd * 1e-9);
    /* two passes, each forward + backward (about twice the forward) */
    printf("step_gflops %.1f\n", 6 * flops / step * 1e-9);
    printf("train_plan_mib %.0f\n",
           dx_model_plan_bytes(&m, n, H, W, 1) / 1048576.0);
    if (do_sgemm) {
        double sgemm1 = sgemm_rate();
        printf("sgemm_before_gflops %.1f\n", sgemm0);
        printf("sgemm_after_gflops %.1f\n", sgemm1);
        printf("sgemm_gflops %.1f\n", sgemm0 > sgemm1 ? sgemm0 : sgemm1);
        openblas_set_num_threads(dx_par_threads());
        printf("sgemm_conv_gflops %.1f\n", sgemm_gflops(128, 4096, 1152));
    }
    free(img), free(lab), free(wt), free(prob), free(t);
    dx_model_free(&m);
    return 0;
}
