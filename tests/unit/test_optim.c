/* test_optim.c - AdamW with warmup against PyTorch, the schedule, resuming
 * from a checkpoint, and the refusal to mix optimisers' state.
 *
 * The fixture (tests/ref/make_adamw_fixture.py) holds three training steps
 * of deeplab-mini (width 2) with torch.optim.AdamW (PyTorch 1.13) in
 * float64, DAFormer's parameter groups (head x10, no decay on batch-norm)
 * and mmcv's linear warmup and poly schedule.  Tensors are compared with
 * the scale-free error max|got - want| / max|want|.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dacs/train.h"
#include "fixture.h"
#include "io/tns.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "nn/sgd.h"

/* float32 against the float64 reference over three steps.  Observed
 * (x86-64, OpenBLAS): rates 2.5e-8 (the float32 of ref.lr), losses
 * 1.4e-7, parameters 2.1e-7, exp_avg 1.7e-6, exp_avg_sq 2.8e-6.  Decay on
 * batch-norm weights gives 1.3e-5 on them; a missing bias correction, a
 * head without its multiplier or a warmup off by one step exceed the
 * tolerances by orders of magnitude. */
#define TOL_LR 1e-7
#define TOL_LOSS 1e-6
#define TOL_PARAM 2e-6
#define TOL_MOMENT 1e-5
#define TOL_STAT 1e-6

static tns_stream fx;

static const tns_frame *need(const char *name)
{
    const tns_frame *f = tns_stream_get(&fx, name);
    if (!f) {
        fprintf(stderr, "the fixture has no frame '%s'\n", name);
        exit(1);
    }
    return f;
}


/* The model of the fixture (its frames that are not batch or reference). */
static void load_model(dx_model *m)
{
    dx_err err;
    tns_stream ck = {0};
    for (int i = 0; i < fx.n; i++) {
        const char *nm = fx.v[i].name;
        if (nm[0] == 'b' || !strncmp(nm, "ref.", 4))
            continue;
        tns_frame f;
        if (tns_frame_copy(&f, &fx.v[i], NULL, &err) ||
            tns_stream_put(&ck, &f, 0, &err))
            exit(1);
    }
    int ok = dx_model_load(m, &ck, &err) == 0;
    CHECK(ok, "the fixture's checkpoint loads: %s", ok ? "" : err.msg);
    tns_stream_free(&ck);
    if (!ok)
        exit(1);
}

/* The shortest decimal that reads back as f, in double: the settings the
 * reference used (0.999, not float 0.99900001). */
static double decimal(float f)
{
    char buf[32];
    for (int digits = 6; digits < 10; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return strtod(buf, NULL);
}

static dx_hyper hyper(void)
{
    const float *hy = need("ref.hyper")->data;
    dx_hyper h = {.mic_lambda = 1};
    dx_optim_defaults(&h.opt, DX_OPTIM_ADAMW);
    h.opt.lr = decimal(hy[0]);
    h.opt.iters = (long)hy[1];
    h.opt.power = decimal(hy[2]);
    h.opt.warmup = (long)hy[3];
    h.opt.warmup_ratio = decimal(hy[4]);
    h.opt.beta1 = decimal(hy[5]);
    h.opt.beta2 = decimal(hy[6]);
    h.opt.eps = decimal(hy[7]);
    h.opt.decay = decimal(hy[8]);
    h.opt.head_mult = decimal(hy[9]);
    return h;
}

/* Step k of the fixture on m. */
static int step(dx_model *m, const dx_hyper *h, int k, dx_step_result *r,
                dx_err *err)
{
    char n[5][32];
    const char *what[5] = {"src.image", "src.label", "mix.image",
                           "mix.label", "mix.weight"};
    for (int i = 0; i < 5; i++)
        snprintf(n[i], sizeof n[i], "b%d.%s", k, what[i]);
    const tns_frame *si = need(n[0]);
    int N = (int)si->dims[0], H = (int)si->dims[1], W = (int)si->dims[2];
    dx_batch src = {si->data, need(n[1])->data, NULL, N, H, W};
    dx_batch mix = {need(n[2])->data, need(n[3])->data, need(n[4])->data, N,
                    H, W};
    return dx_train_step(m, &src, &mix, NULL, h, r, err);
}

static void against_pytorch(void)
{
    dx_model m;
    dx_err err;
    load_model(&m);
    CHECK(m.optim == DX_OPTIM_NONE, "the fixture starts with no state");
    dx_hyper h = hyper();
    const float *rlr = need("ref.lr")->data, *rl = need("ref.loss")->data;
    for (int k = 0; k < 3; k++) {
        dx_step_result r;
        int ok = step(&m, &h, k, &r, &err) == 0;
        CHECK(ok, "AdamW step %d: %s", k, ok ? "ok" : err.msg);
        if (!ok)
            exit(1);
        CHECK_CLOSE(r.lr, rlr[k], 0, TOL_LR, "step %d: lr %.9g vs %.9g", k,
                    r.lr, (double)rlr[k]);
        CHECK_CLOSE(r.loss_src, rl[2 * k], 0, TOL_LOSS,
                    "step %d: loss_src %.7f vs %.7f", k, r.loss_src,
                    (double)rl[2 * k]);
        CHECK_CLOSE(r.loss_mix, rl[2 * k + 1], 0, TOL_LOSS,
                    "step %d: loss_mix %.7f vs %.7f", k, r.loss_mix,
                    (double)rl[2 * k + 1]);
    }
    CHECK(m.iter == 3 && m.optim == DX_OPTIM_ADAMW && m.optim_step == 3,
          "after three steps: meta.iter %ld, AdamW, step count %ld", m.iter,
          m.optim_step);
    double worst[3] = {0, 0, 0};
    char name[160];
    for (int i = 0; i < m.nt; i++) {
        dx_tensor *t = &m.t[i];
        snprintf(name, sizeof name, "ref.after.%s", t->name);
        double e = check_relerr(t->data, need(name)->data, t->count);
        CHECK(e <= (t->trainable ? TOL_PARAM : TOL_STAT),
              "%s after three steps: error %.3g", t->name, e);
        worst[0] = fmax(worst[0], t->trainable ? e : 0);
        if (!t->trainable)
            continue;
        snprintf(name, sizeof name, "ref.after.opt.%s", t->name);
        e = check_relerr(t->state[0], need(name)->data, t->count);
        CHECK(e <= TOL_MOMENT, "exp_avg of %s: error %.3g", t->name, e);
        worst[1] = fmax(worst[1], e);
        snprintf(name, sizeof name, "ref.after.opt.exp_avg_sq.%s", t->name);
        e = check_relerr(t->state[1], need(name)->data, t->count);
        CHECK(e <= TOL_MOMENT, "exp_avg_sq of %s: error %.3g", t->name, e);
        worst[2] = fmax(worst[2], e);
    }
    printf("# worst errors: parameters %.3g, exp_avg %.3g, exp_avg_sq "
           "%.3g\n", worst[0], worst[1], worst[2]);
    dx_model_free(&m);
}

static int same_bytes(const dx_model *a, const dx_model *b)
{
    size_t n = a->nparam + a->nfixed;
    return a->nparam == b->nparam && a->nfixed == b->nfixed &&
           !memcmp(a->param, b->param, n * sizeof *a->param) &&
           !memcmp(a->state[0], b->state[0], a->nparam * sizeof(float)) &&
           !memcmp(a->state[1], b->state[1], a->nparam * sizeof(float)) &&
           a->iter == b->iter && a->optim_step == b->optim_step &&
           a->optim == b->optim;
}

/* Steps 0-2 in one process == step 0, save, load, steps 1-2. */
static void resume(void)
{
    dx_model a, b;
    dx_err err;
    dx_step_result r;
    dx_hyper h = hyper();
    load_model(&a);
    load_model(&b);
    int ok = 1;
    for (int k = 0; k < 3; k++)
        ok &= step(&a, &h, k, &r, &err) == 0;
    ok &= step(&b, &h, 0, &r, &err) == 0;
    char path[] = "/tmp/dacs-test-optim-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ok &= dx_model_save(&b, path, 1, &err) == 0;
    dx_model_free(&b);
    ok &= dx_model_read(&b, path, &err) == 0;
    CHECK(ok && b.optim == DX_OPTIM_ADAMW && b.optim_step == 1 &&
              b.iter == 1,
          "an AdamW checkpoint saves and loads with its step count (%s)",
          ok ? "ok" : err.msg);
    tns_stream s;
    if (tns_stream_load(&s, path, &err) == 0) {
        const tns_frame *fo = tns_stream_get(&s, "opt.optimizer");
        const tns_frame *fs = tns_stream_get(&s, "opt.step");
        CHECK(fo && fo->count == 5 && !memcmp(fo->data, "adamw", 5) && fs &&
                  *(const int32_t *)fs->data == 1 &&
                  tns_stream_get(&s, "opt.exp_avg_sq.head.0.weight") &&
                  tns_stream_get(&s, "opt.head.0.weight"),
              "the checkpoint names its optimiser and holds both moments");
        tns_stream_free(&s);
    }
    unlink(path);
    for (int k = 1; k < 3 && ok; k++)
        ok &= step(&b, &h, k, &r, &err) == 0;
    CHECK(ok && same_bytes(&a, &b),
          "steps 0-2 in one go and 0, save, load, 1-2 give the same bytes");
    /* optimisers do not mix */
    dx_hyper sgd = {.mic_lambda = 1};
    dx_optim_defaults(&sgd.opt, DX_OPTIM_SGD);
    sgd.opt.iters = 10;
    long it = b.iter;
    ok = step(&b, &sgd, 1, &r, &err) != 0;
    CHECK(ok && strstr(err.msg, "holds adamw optimizer state") &&
              b.iter == it,
          "SGD refuses an AdamW checkpoint: %s", ok ? err.msg : "accepted");
    dx_model_free(&a);
    dx_model_free(&b);
    /* an SGD checkpoint that has stepped is refused by AdamW; a fresh one
     * (zero momentum, as seg-init writes) is taken */
    dx_arch arch = {0};
    load_model(&a);
    arch = a.arch;
    dx_model_free(&a);
    ok = dx_model_init(&a, &arch, 3, &err) == 0;
    CHECK(ok && a.optim == DX_OPTIM_SGD && dx_optim_check(&a,
                                                          DX_OPTIM_ADAMW,
                                                          &err) == 0,
          "zero SGD momentum counts as no state");
    ok = step(&a, &sgd, 0, &r, &err) == 0;
    CHECK(ok, "an SGD step");
    ok = step(&a, &h, 1, &r, &err) != 0;
    CHECK(ok && strstr(err.msg, "holds sgd optimizer state") &&
              strstr(err.msg, "seg-init --from"),
          "AdamW refuses an SGD checkpoint: %s", ok ? err.msg : "accepted");
    dx_model_free(&a);
}

static void schedule(void)
{
    dx_optim o;
    dx_optim_defaults(&o, DX_OPTIM_ADAMW);
    CHECK(o.lr == 6e-5 && o.beta1 == 0.9 && o.beta2 == 0.999 &&
              o.decay == 0.01 && o.head_mult == 10 && o.warmup == 1500 &&
              o.warmup_ratio == 1e-6 && o.power == 1.0 &&
              o.norm_decay_mult == 0,
          "AdamW's defaults are DAFormer's");
    o.iters = 40000;
    CHECK_CLOSE(dx_optim_lr(&o, 0), 6e-5 * 1e-6, 0, 1e-9,
                "warmup starts at lr0 * ratio");
    /* mmcv: regular lr times 1 - (1 - t/N)(1 - ratio) */
    double want = 6e-5 * (1 - 750.0 / 40000) * (1 - 0.5 * (1 - 1e-6));
    CHECK_CLOSE(dx_optim_lr(&o, 750), want, 0, 1e-12,
                "half-way through the warmup: %.9g vs %.9g",
                dx_optim_lr(&o, 750), want);
    CHECK(dx_optim_lr(&o, 1500) == dx_poly_lr(6e-5, 1500, 40000, 1.0),
          "from step N on, the poly rate alone");
    dx_optim_defaults(&o, DX_OPTIM_SGD);
    CHECK(o.warmup == 0 && o.power == 0.9 && o.norm_decay_mult == 1 &&
              dx_optim_lr(&o, 77) == dx_poly_lr(0.01, 77, 250000, 0.9),
          "SGD's defaults: DACS's poly schedule, no warmup");
    CHECK(!strcmp(dx_optim_name(DX_OPTIM_ADAMW), "adamw") &&
              !strcmp(dx_optim_name(DX_OPTIM_SGD), "sgd") &&
              !dx_optim_name(DX_OPTIM_END),
          "optimiser names");
}

/* One AdamW update by hand: the first step moves a parameter by lr times
 * the sign of its gradient (bias correction), after the decoupled decay. */
static void first_step(void)
{
    float p[3] = {1, -2, 0.5f}, m1[3] = {0}, m2[3] = {0};
    float g[3] = {0.3f, -4, 0};
    dx_adamw_step(p, m1, m2, g, 3, 0.1, 0.9, 0.999, 1e-8, 0.01, 1);
    CHECK_CLOSE(p[0], 1 * (1 - 0.001) - 0.1, 0, 1e-6, "p0 %.7f", p[0]);
    CHECK_CLOSE(p[1], -2 * (1 - 0.001) + 0.1, 0, 1e-6, "p1 %.7f", p[1]);
    CHECK_CLOSE(p[2], 0.5 * (1 - 0.001), 0, 1e-7, "p2 %.7f: a zero "
                "gradient only decays", p[2]);
    CHECK_CLOSE(m1[1], -0.4, 0, 1e-6, "exp_avg (1 - beta1) g");
    CHECK_CLOSE(m2[1], 0.016, 0, 1e-5, "exp_avg_sq (1 - beta2) g^2");
}

int main(void)
{
    char path[4096];
    dx_err err;
    fixture_path(path, sizeof path, "adamw", "w2.tns");
    if (tns_stream_load(&fx, path, &err)) {
        CHECK(0, "load %s: %s", path, err.msg);
        return check_done();
    }
    schedule();
    first_step();
    against_pytorch();
    resume();
    tns_stream_free(&fx);
    return check_done();
}
