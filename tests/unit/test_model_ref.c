/* test_model_ref.c - the whole network against PyTorch.
 *
 * tests/fixtures/net_w4.tns was written by tests/ref/make_net_fixture.py:
 * deeplab-mini at width 4 on a 2x32x64 batch, one training step computed
 * by PyTorch in float64.  Every tensor is compared with the scale-free
 * error max|got - want| / max|want|.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/model.h"
#include "io/tns.h"
#include "dacs/train.h"

/* Tolerances: float32 against a float64 reference.  Observed errors
 * (x86-64, OpenBLAS): logits 4e-7, probabilities 9e-7, losses 1e-7,
 * gradients 7e-6, momentum 8e-6, parameters 1e-7, running statistics
 * 1.2e-7.  Each tolerance is 5-10 times that; a wrong BN eps, a biased
 * running variance, a missing weight decay or a wrong interpolation grid
 * exceeds them by orders of magnitude. */
#define TOL_LOGITS 5e-6
#define TOL_PROB 1e-5
#define TOL_LOSS 2e-6
#define TOL_GRAD 5e-5
#define TOL_AFTER 1e-6
#define TOL_MOM 5e-5
#define TOL_STAT 1e-6

static tns_stream fx;

static const tns_frame *need(const char *name)
{
    const tns_frame *f = tns_stream_get(&fx, name);
    if (!f) {
        fprintf(stderr, "fixture has no frame '%s'\n", name);
        exit(1);
    }
    return f;
}

/* max|a-b| / max|b| over n values */
static double relerr(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d))
            d = e; /* NaN sticks */
        if (fabs(b[i]) > s)
            s = fabs(b[i]);
    }
    return d / (s > 0 ? s : 1e-30);
}

static double worst_grad;
static void cmp(const char *what, const float *got, const float *want,
                size_t n, double tol)
{
    double e = relerr(got, want, n);
    if (!strncmp(what, "ref.grad.", 9) && !(e <= worst_grad))
        worst_grad = e;
    CHECK(e <= tol, "%s: error %.3g (tolerance %.0e)", what, e, tol);
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

int main(void)
{
    dx_err err;
    const char *path = "tests/fixtures/net_w4.tns"; /* run from the top */
    if (tns_stream_load(&fx, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
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
            return 1;
    }
    dx_model m;
    int ok = dx_model_load(&m, &ck, &err) == 0;
    CHECK(ok, "fixture checkpoint loads: %s", ok ? "" : err.msg);
    if (!ok)
        return check_done();
    const int C = m.arch.classes, N = 2, H = 32, W = 64;
    const tns_frame *si = need("src.image"), *sl = need("src.label");
    const tns_frame *mi = need("mix.image"), *ml = need("mix.label");
    const tns_frame *mw = need("mix.weight");
    const float *hy = need("ref.hyper")->data;

    /* eval mode (running statistics), as seg-infer --bn running */
    ok = dx_model_plan(&m, N, H, W, 0, &err) == 0;
    CHECK(ok, "plan inference");
    dx_model_forward(&m, si->data, DX_BN_RUNNING);
    size_t lo = (size_t)m.hs[DX_UNITS] * m.ws[DX_UNITS];
    float *l = to_nchw(m.logits, C, N, lo);
    const tns_frame *le = need("ref.logits.eval");
    CHECK(le->count == (size_t)C * N * lo, "eval logits shape");
    cmp("logits, running statistics", l, le->data, le->count, TOL_LOGITS);
    free(l);
    float *prob = malloc(sizeof *prob * C * H * W);
    ok = dx_model_predict(&m, prob, si->data, 1, H, W, DX_BN_RUNNING,
                          &err) == 0;
    CHECK(ok, "predict runs");
    cmp("probabilities of image 0, running statistics", prob,
        need("ref.prob.eval")->data, (size_t)C * H * W, TOL_PROB);
    free(prob);

    /* batch statistics, as seg-infer --bn batch: the train-mode logits */
    float rm0 = m.u[0].rmean[0];
    CHECK(dx_model_plan(&m, N, H, W, 0, &err) == 0, "plan again");
    dx_model_forward(&m, si->data, DX_BN_BATCH);
    CHECK(m.u[0].rmean[0] == rm0, "--bn batch leaves running stats alone");
    l = to_nchw(m.logits, C, N, lo);
    cmp("logits, batch statistics (source pass)", l,
        need("ref.logits.src")->data, (size_t)C * N * lo, TOL_LOGITS);
    free(l);

    /* the step */
    dx_batch src = {si->data, sl->data, NULL, N, H, W};
    dx_batch mix = {mi->data, ml->data, mw->data, N, H, W};
    dx_hyper h = {hy[0], (long)hy[1], hy[2], hy[3], hy[4], hy[5], 1};
    dx_step_result r;
    ok = dx_train_step(&m, &src, &mix, NULL, &h, &r, &err) == 0;
    CHECK(ok, "training step: %s", ok ? "ok" : err.msg);
    const float *rl = need("ref.loss")->data;
    CHECK_CLOSE(r.loss_src, rl[0], 0, TOL_LOSS, "loss_src %.7f vs %.7f",
                r.loss_src, (double)rl[0]);
    CHECK_CLOSE(r.loss_mix, rl[1], 0, TOL_LOSS, "loss_mix %.7f vs %.7f",
                r.loss_mix, (double)rl[1]);
    CHECK(m.iter == 6, "meta.iter 5 -> %ld", m.iter);
    l = to_nchw(m.logits, C, N, lo);
    cmp("logits, mixed pass", l, need("ref.logits.mix")->data,
        (size_t)C * N * lo, TOL_LOGITS);
    free(l);
    char name[96];
    for (int i = 0; i < m.nt; i++) {
        dx_tensor *t = &m.t[i];
        if (t->grad) {
            snprintf(name, sizeof name, "ref.grad.%s", t->name);
            cmp(name, t->grad, need(name)->data, t->count, TOL_GRAD);
            snprintf(name, sizeof name, "ref.after.opt.%s", t->name);
            cmp(name, t->mom, need(name)->data, t->count, TOL_MOM);
        }
        snprintf(name, sizeof name, "ref.after.%s", t->name);
        cmp(name, t->data, need(name)->data, t->count,
            t->grad ? TOL_AFTER : TOL_STAT);
    }
    printf("# worst gradient error %.3g\n", worst_grad);
    dx_model_free(&m);
    tns_stream_free(&ck);
    tns_stream_free(&fx);
    return check_done();
}
