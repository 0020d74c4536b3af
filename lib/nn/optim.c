/* optim.c - the optimisers behind one interface, and the schedule; see
 * optim.h. */
#include "nn/optim.h"

#include <math.h>

#include "nn/sgd.h"

static const char *const NAMES[DX_OPTIM_END] = {"sgd", "adamw"};

const char *dx_optim_name(int kind)
{
    return kind >= 0 && kind < DX_OPTIM_END ? NAMES[kind] : NULL;
}

void dx_optim_defaults(dx_optim *o, int kind)
{
    int adamw = kind == DX_OPTIM_ADAMW;
    *o = (dx_optim){
        .kind = kind,
        .lr = adamw ? 6e-5 : 0.01,
        .iters = 250000,
        .power = adamw ? 1.0 : 0.9,
        .warmup = adamw ? 1500 : 0,
        .warmup_ratio = 1e-6,
        .momentum = 0.9,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .eps = 1e-8,
        .decay = adamw ? 0.01 : 5e-4,
        .head_mult = 10,
        .norm_decay_mult = adamw ? 0 : 1,
    };
}

double dx_optim_lr(const dx_optim *o, long t)
{
    double lr = dx_poly_lr(o->lr, t, o->iters, o->power);
    if (t < o->warmup)
        lr *= 1.0 - (1.0 - (double)t / (double)o->warmup) *
                        (1.0 - o->warmup_ratio);
    return lr;
}

/* State that has taken no step: zero momentum, or AdamW at step 0. */
static int state_fresh(const dx_model *m)
{
    if (m->optim == DX_OPTIM_NONE)
        return 1;
    if (m->optim == DX_OPTIM_ADAMW)
        return m->optim_step == 0;
    for (size_t i = 0; i < m->nparam; i++)
        if (m->state[0][i] != 0)
            return 0;
    return 1;
}

int dx_optim_check(const dx_model *m, int kind, dx_err *err)
{
    if (m->optim == kind || state_fresh(m))
        return 0;
    return dx_fail(err, "the checkpoint holds %s optimizer state (%s), "
                   "expected %s: a run cannot change optimizer; start "
                   "from its weights alone with seg-init --from",
                   dx_optim_name(m->optim),
                   m->optim == DX_OPTIM_SGD
                       ? "momentum buffers"
                       : "exp_avg, exp_avg_sq and a step count",
                   dx_optim_name(kind));
}

void dx_adamw_step(float *p, float *m1, float *m2, const float *g, size_t n,
                   double lr, double beta1, double beta2, double eps,
                   double wd, long step)
{
    float shrink = (float)(1.0 - lr * wd);
    float b1 = (float)beta1, a1 = (float)(1.0 - beta1);
    float b2 = (float)beta2, a2 = (float)(1.0 - beta2);
    double bc1 = 1.0 - pow(beta1, (double)step);
    double bc2 = 1.0 - pow(beta2, (double)step);
    float step_size = (float)(lr / bc1);
    float root2 = (float)sqrt(bc2), e = (float)eps;
    for (size_t i = 0; i < n; i++) {
        float x = p[i] * shrink;
        float u = m1[i] * b1 + a1 * g[i];
        float v = m2[i] * b2 + a2 * g[i] * g[i];
        m1[i] = u;
        m2[i] = v;
        p[i] = x - step_size * (u / (sqrtf(v) / root2 + e));
    }
}

int dx_optim_step(dx_model *m, const dx_optim *o, double lr, dx_err *err)
{
    if (dx_optim_check(m, o->kind, err))
        return -1;
    int adamw = o->kind == DX_OPTIM_ADAMW;
    if (m->optim != o->kind) {
        /* a fresh optimiser of this kind: zero state */
        m->optim_step = 0;
        for (int k = 0; k <= adamw; k++) {
            if (dx_model_alloc_state(m, k, err))
                return -1;
            for (size_t i = 0; i < m->nparam; i++)
                m->state[k][i] = 0;
        }
        m->optim = o->kind;
    }
    long step = m->optim_step + 1;
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        if (!t->trainable)
            continue;
        double rate = t->head ? lr * o->head_mult : lr;
        double wd = t->norm ? o->decay * o->norm_decay_mult : o->decay;
        if (adamw)
            dx_adamw_step(t->data, t->state[0], t->state[1], t->grad,
                          t->count, rate, o->beta1, o->beta2, o->eps, wd,
                          step);
        else
            dx_sgd_step(t->data, t->state[0], t->grad, t->count,
                        (float)rate, (float)o->momentum, (float)wd);
    }
    if (adamw)
        m->optim_step = step;
    return 0;
}
