/* bench_loop.c - a whole DACS iteration in one process, for tests/bench/loop:
 * the same work as the ring's stages (dacs-train(1)), without pipes,
 * streams or processes, timed stage by stage.  Prints "key value" lines:
 * the median milliseconds per iteration of each stage and of the whole.
 *
 *   bench_loop SOURCE_ROOT TARGET_ROOT CKPT CROP_W CROP_H ITERS WARMUP
 *
 * SOURCE_ROOT is a gta5 tree, TARGET_ROOT a cityscapes one (synth-city
 * writes both); CKPT the starting model, which is also the first teacher.
 * Settings as the demo: batch 2, seed 0, tau 0.9, lr 0.01, head x1,
 * ClassMix with the strong augmentation, alpha_max 0.99.  Threads: as
 * the tools, DACS_THREADS when set, else OpenBLAS's count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/par.h"
#include "base/rng.h"
#include "dacs/augment.h"
#include "dacs/ema.h"
#include "dacs/mix.h"
#include "dacs/pseudo.h"
#include "dacs/train.h"
#include "data/dataset.h"
#include "data/labelmap.h"
#include "data/sampler.h"
#include "nn/model.h"

enum { DATA, TEACHER, PSEUDO, MIX, STEP, EMA, NSTAGE };
static const char *const STAGE[NSTAGE] = {"data", "teacher", "pseudolabel",
                                          "mix", "step", "ema"};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void check(int rc, const dx_err *err)
{
    if (rc) {
        fprintf(stderr, "bench_loop: %s\n", err->msg);
        exit(1);
    }
}

static void open_set(dx_dataset *d, int kind, const char *root, int labels)
{
    dx_err err;
    dx_dataset_spec spec = {kind, root, "train", NULL, labels, 0, NULL, 0};
    check(dx_dataset_open(d, &spec, &err), &err);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: bench_loop SOURCE TARGET CKPT CROP_W CROP_H "
                        "ITERS WARMUP\n");
        return 2;
    }
    int cw = atoi(argv[4]), ch = atoi(argv[5]), iters = atoi(argv[6]);
    int warm = atoi(argv[7]), n = 2;
    dx_err err;
    const char *threads = getenv("DACS_THREADS");
    if (threads && *threads)
        check(dx_par_set_threads(atoi(threads), &err), &err);
    printf("inproc_threads %d\n", dx_par_threads());
    dx_dataset src, tgt;
    open_set(&src, DX_DS_GTA5, argv[1], 1);
    open_set(&tgt, DX_DS_CITYSCAPES, argv[2], 0);
    static dx_labelmap map;
    check(dx_labelmap_builtin(&map, "gta5", &err), &err);
    dx_sampler ss, ts;
    dx_sampler_init(&ss, &src, &map, 0, "seg-batch:src");
    dx_sampler_init(&ts, &tgt, NULL, 0, "seg-batch:tgt");
    ss.crop_w = ts.crop_w = cw;
    ss.crop_h = ts.crop_h = ch;
    dx_model s, t;
    check(dx_model_read(&s, argv[3], &err), &err);
    check(dx_model_read(&t, argv[3], &err), &err);
    /* dacs-train's settings in the loop bench: SGD, lr 0.01, head x1 */
    dx_hyper h = {.mic_lambda = 1};
    dx_optim_defaults(&h.opt, DX_OPTIM_SGD);
    h.opt.lr = 0.01;
    h.opt.iters = 1000000;
    h.opt.head_mult = 1;
    int C = s.arch.classes;
    size_t hw = (size_t)cw * ch, px = (size_t)n * hw;
    float *prob = malloc(sizeof *prob * px * C);
    uint8_t *plabel = malloc(px), *mimg = malloc(px * 3), *mlab = malloc(px);
    uint8_t *mask = malloc(px);
    float *pw = malloc(sizeof *pw * px), *mw = malloc(sizeof *mw * px);
    double *ms[NSTAGE + 1];
    for (int k = 0; k <= NSTAGE; k++)
        ms[k] = calloc((size_t)iters, sizeof **ms);
    dx_mix_opts mo = dx_mix_defaults();
    dx_aug_opts ao;
    dx_aug_defaults(&ao);
    for (int it = -warm; it < iters; it++) {
        uint64_t iter = (uint64_t)(it + warm);
        double tk[NSTAGE + 1];
        int idx[2];
        tns_frame si, sl, ti;
        tk[0] = now();
        check(dx_sampler_draw(&ss, iter, n, idx, NULL, &err) ||
                  dx_sampler_load(&ss, iter, idx, n, "src.image",
                                  "src.label", &si, &sl, &err) ||
                  dx_sampler_draw(&ts, iter, n, idx, NULL, &err) ||
                  dx_sampler_load(&ts, iter, idx, n, "tgt.image", "x", &ti,
                                  NULL, &err),
              &err);
        tk[1] = now();
        check(dx_model_predict(&t, prob, ti.data, n, ch, cw, DX_BN_BATCH,
                               &err),
              &err);
        tk[2] = now();
        dx_pseudo_stats st;
        check(dx_pseudolabel(plabel, pw, &st, prob, n, C, hw, 0, 0.9,
                             DX_WEIGHT_THRESHOLD_UNIFORM, &err),
              &err);
        tk[3] = now();
        dx_mix_batch b = {.n = n, .h = ch, .w = cw, .src_image = si.data,
                          .src_label = sl.data, .tgt_image = ti.data,
                          .tgt_plabel = plabel, .tgt_weight = pw,
                          .image = mimg, .label = mlab, .weight = mw,
                          .mask = mask};
        dx_rng rmix, raug;
        dx_rng_init(&rmix, 0, "classmix", iter);
        dx_rng_init(&raug, 0, "classmix.augment", iter);
        check(dx_classmix(&b, &mo, &rmix, &err) ||
                  dx_strong_augment(mimg, mlab, mw, mask, n, ch, cw, &ao,
                                    &raug, NULL, &err),
              &err);
        tk[4] = now();
        dx_batch sb = {si.data, sl.data, NULL, n, ch, cw};
        dx_batch mb = {mimg, mlab, mw, n, ch, cw};
        dx_step_result r;
        check(dx_train_step(&s, &sb, &mb, NULL, &h, &r, &err), &err);
        tk[5] = now();
        double alpha = dx_ema_alpha((uint64_t)r.iter, 0.99);
        for (int i = 0; i < s.nt; i++)
            dx_ema_update(t.t[i].data, s.t[i].data, s.t[i].count, alpha);
        tk[6] = now();
        tns_frame_free(&si);
        tns_frame_free(&sl);
        tns_frame_free(&ti);
        if (it < 0)
            continue;
        for (int k = 0; k < NSTAGE; k++)
            ms[k][it] = (tk[k + 1] - tk[k]) * 1e3;
        ms[NSTAGE][it] = (tk[NSTAGE] - tk[0]) * 1e3;
    }
    for (int k = 0; k < NSTAGE; k++)
        printf("inproc_%s_ms %.2f\n", STAGE[k], median(ms[k], iters));
    printf("inproc_iteration_ms %.2f\n", median(ms[NSTAGE], iters));
    return 0;
}
