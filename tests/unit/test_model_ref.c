/* test_model_ref.c - whole networks against PyTorch.
 *
 * The fixtures were written by tests/ref/make_net_fixtures.py: one
 * training step computed by PyTorch in float64, of deeplab-mini (width 4,
 * with momentum) and of three reduced DeepLabv2-ResNets (bottleneck caffe
 * with frozen BN and two heads, bottleneck pytorch with trained BN and
 * four heads, basic blocks caffe).  Every tensor is compared with the
 * scale-free error max|got - want| / max|want|.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dacs/train.h"
#include "io/tns.h"
#include "nn/model.h"

/* Tolerances: float32 against a float64 reference.  Observed errors
 * (x86-64, OpenBLAS), deeplab-mini / the deeplabv2 nets: logits 4e-7 /
 * 6e-7, probabilities 9e-7 / 1.8e-5 (logits up to 521), losses 1e-7 /
 * 1e-7, gradients 7.6e-6 / 4.6e-5 (PyTorch itself in float32: 2e-5),
 * momentum 8e-6, parameters 1e-7 / 1e-7, running statistics 1.2e-7 /
 * 1.6e-7.  Each tolerance is 4-10 times the larger; a wrong BN
 * eps, a biased running variance, a missing weight decay, a wrong
 * interpolation grid, a floor-mode pool in place of ceil mode or a stride
 * in the wrong conv exceeds them by orders of magnitude. */
#define TOL_LOGITS 5e-6
#define TOL_PROB 1e-5
#define TOL_LOSS 2e-6
#define TOL_GRAD 5e-5      /* deeplab-mini */
#define TOL_GRAD_DEEP 2e-4 /* the deeper deeplabv2 nets (4.6e-5 seen) */
/* A gradient tensor whose largest value is below this share of the
 * network's largest gradient is compared at that scale: its values are
 * sums that cancel (net_r50_pytorch's bn1.bias is (2.7e-4, 1.6e-16), on
 * which PyTorch in float32 is off by 4.8e-4 of its own scale). */
#define GRAD_FLOOR 1e-2
#define TOL_AFTER 1e-6
#define TOL_MOM 5e-5
#define TOL_STAT 1e-6

static tns_stream fx;
static const char *fixture;

static const tns_frame *need(const char *name)
{
    const tns_frame *f = tns_stream_get(&fx, name);
    if (!f) {
        fprintf(stderr, "%s has no frame '%s'\n", fixture, name);
        exit(1);
    }
    return f;
}


/* The largest gradient of the fixture's network: the scale below which a
 * tensor's own gradient is a sum that cancels (see GRAD_FLOOR). */
static double grad_scale;
static double worst_grad;
static void cmp(const char *what, const float *got, const float *want,
                size_t n, double tol)
{
    double e = check_relerr(got, want, n);
    if (!strncmp(what, "ref.grad.", 9)) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s = fabs(want[i]) > s ? fabs(want[i]) : s;
        if (s < GRAD_FLOOR * grad_scale)
            e *= s / (GRAD_FLOOR * grad_scale);
    }
    if (!strncmp(what, "ref.grad.", 9) && !(e <= worst_grad))
        worst_grad = e;
    CHECK(e <= tol, "%s: %s: error %.3g (tolerance %.0e)", fixture, what, e,
          tol);
}

/* channel-major (C, n, hw) -> (n, C, hw) */
static float *to_nchw(const float *x, int C, int n, size_t hw)
{
    float *y = malloc(sizeof *y * C * n * hw);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < n; i++)
            memcpy(y + ((size_t)i * C + c) * hw, x + ((size_t)c * n + i) * hw,
                   sizeof *y * hw);
    return y;
}

/* The current logits against a reference frame of (N, C, h, w). */
static void cmp_logits(const dx_model *m, const char *ref, const char *what)
{
    int lh, lw, C = m->arch.classes;
    dx_model_logit_size(m, &lh, &lw);
    const tns_frame *f = need(ref);
    CHECK(f->rank == 4 && f->dims[0] == m->n && f->dims[1] == C &&
              f->dims[2] == lh && f->dims[3] == lw,
          "%s: %s: logits are %dx%d, as PyTorch's", fixture, what, lh, lw);
    if (f->count != (size_t)C * m->n * lh * lw)
        return;
    float *l = to_nchw(m->logits, C, m->n, (size_t)lh * lw);
    cmp(what, l, f->data, f->count, TOL_LOGITS);
    free(l);
}

static void run(const char *path, double tol_grad)
{
    dx_err err;
    fixture = path;
    worst_grad = 0;
    if (tns_stream_load(&fx, path, &err)) {
        CHECK(0, "%s loads: %s", path, err.msg);
        return;
    }
    /* the checkpoint: every frame that is not data or reference */
    tns_stream ck = {0};
    for (int i = 0; i < fx.n; i++) {
        const char *nm = fx.v[i].name;
        if (!strncmp(nm, "src.", 4) || !strncmp(nm, "mix.", 4) ||
            !strncmp(nm, "ref.", 4))
            continue;
        tns_frame f;
        if (tns_frame_copy(&f, &fx.v[i], NULL, &err) ||
            tns_stream_put(&ck, &f, 0, &err))
            exit(1);
    }
    dx_model m;
    int ok = dx_model_load(&m, &ck, &err) == 0;
    CHECK(ok, "%s: checkpoint loads: %s", path, ok ? "" : err.msg);
    if (!ok)
        return;
    const tns_frame *si = need("src.image"), *sl = need("src.label");
    const tns_frame *mi = need("mix.image"), *ml = need("mix.label");
    const tns_frame *mw = need("mix.weight");
    const float *hy = need("ref.hyper")->data;
    const int C = m.arch.classes, N = (int)si->dims[0];
    grad_scale = 0;
    for (int i = 0; i < fx.n; i++)
        if (!strncmp(fx.v[i].name, "ref.grad.", 9)) {
            const float *g = fx.v[i].data;
            for (size_t j = 0; j < fx.v[i].count; j++)
                if (fabs(g[j]) > grad_scale)
                    grad_scale = fabs(g[j]);
        }
    const int H = (int)si->dims[1], W = (int)si->dims[2];

    /* eval mode (running statistics), as seg-infer --bn running */
    ok = dx_model_plan(&m, N, H, W, 0, &err) == 0;
    CHECK(ok, "%s: plan inference", path);
    dx_model_forward(&m, si->data, DX_BN_RUNNING);
    cmp_logits(&m, "ref.logits.eval", "logits, running statistics");
    float *prob = malloc(sizeof *prob * C * H * W);
    ok = dx_model_predict(&m, prob, si->data, 1, H, W, DX_BN_RUNNING,
                          &err) == 0;
    CHECK(ok, "%s: predict runs", path);
    /* a softmax moves by at most half the largest change of its logits,
     * so large logits (net_r50_caffe's reach 521) allow as much */
    const tns_frame *le = need("ref.logits.eval");
    double zmax = 0;
    for (size_t i = 0; i < le->count / (size_t)N; i++)
        zmax = fmax(zmax, fabs(((const float *)le->data)[i]));
    cmp("probabilities of image 0, running statistics", prob,
        need("ref.prob.eval")->data, (size_t)C * H * W,
        fmax(TOL_PROB, 0.5 * TOL_LOGITS * zmax));
    free(prob);

    /* batch statistics, as seg-infer --bn batch: the train-mode logits */
    int rm = -1;
    for (int i = 0; i < m.nt && rm < 0; i++)
        rm = m.t[i].running ? i : -1;
    float rm0 = m.t[rm].data[0];
    CHECK(dx_model_plan(&m, N, H, W, 0, &err) == 0, "%s: plan again", path);
    dx_model_forward(&m, si->data, DX_BN_BATCH);
    CHECK(m.t[rm].data[0] == rm0, "%s: --bn batch leaves running stats "
          "alone", path);
    cmp_logits(&m, "ref.logits.src", "logits, batch statistics (source)");

    /* the step */
    dx_batch src = {si->data, sl->data, NULL, N, H, W};
    dx_batch mix = {mi->data, ml->data, mw->data, N, H, W};
    dx_hyper h = {.mic_lambda = 1};
    dx_optim_defaults(&h.opt, DX_OPTIM_SGD);
    h.opt.lr = hy[0];
    h.opt.iters = (long)hy[1];
    h.opt.power = hy[2];
    h.opt.momentum = hy[3];
    h.opt.decay = hy[4];
    h.opt.head_mult = hy[5];
    long iter0 = m.iter;
    dx_step_result r;
    ok = dx_train_step(&m, &src, &mix, NULL, &h, &r, &err) == 0;
    CHECK(ok, "%s: training step: %s", path, ok ? "ok" : err.msg);
    const float *rl = need("ref.loss")->data;
    CHECK_CLOSE(r.loss_src, rl[0], 0, TOL_LOSS, "%s: loss_src %.7f vs %.7f",
                path, r.loss_src, (double)rl[0]);
    CHECK_CLOSE(r.loss_mix, rl[1], 0, TOL_LOSS, "%s: loss_mix %.7f vs %.7f",
                path, r.loss_mix, (double)rl[1]);
    CHECK(m.iter == iter0 + 1, "%s: meta.iter %ld -> %ld", path, iter0,
          m.iter);
    cmp_logits(&m, "ref.logits.mix", "logits, mixed pass");
    char name[128];
    int trained = 0, frozen = 0;
    for (int i = 0; i < m.nt; i++) {
        dx_tensor *t = &m.t[i];
        snprintf(name, sizeof name, "ref.grad.%s", t->name);
        /* PyTorch has a gradient exactly for what dacs trains */
        CHECK((tns_stream_find(&fx, name) >= 0) == t->trainable,
              "%s: '%s' is %s, as in PyTorch", path, t->name,
              t->trainable ? "trained" : "not trained");
        if (t->trainable) {
            trained++;
            cmp(name, t->grad, need(name)->data, t->count, tol_grad);
            snprintf(name, sizeof name, "ref.after.opt.%s", t->name);
            if (tns_stream_find(&fx, name) >= 0)
                cmp(name, t->state[0], need(name)->data, t->count, TOL_MOM);
        } else if (!t->running) {
            frozen++;
        }
        snprintf(name, sizeof name, "ref.after.%s", t->name);
        const float *want = need(name)->data;
        cmp(name, t->data, want, t->count,
            t->trainable ? TOL_AFTER : TOL_STAT);
        if (!t->trainable && !t->running)
            CHECK(!memcmp(t->data, want, t->count * sizeof *want),
                  "%s: '%s' is untouched by the step", path, t->name);
    }
    printf("# %s: %d trained tensors, %d frozen, worst gradient error "
           "%.3g\n", path, trained, frozen, worst_grad);
    dx_model_free(&m);
    tns_stream_free(&ck);
    tns_stream_free(&fx);
}

int main(void)
{
    /* run from the top of the tree */
    run("tests/fixtures/net_w4.tns", TOL_GRAD);
    run("tests/fixtures/net_r50_caffe.tns", TOL_GRAD_DEEP);
    run("tests/fixtures/net_r50_pytorch.tns", TOL_GRAD_DEEP);
    run("tests/fixtures/net_r18_caffe.tns", TOL_GRAD_DEEP);
    return check_done();
}
