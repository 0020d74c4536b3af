/* train.c - one DACS training step; see train.h. */
#include "dacs/train.h"

#include <math.h>
#include <stdlib.h>

#include "nn/loss.h"

int dx_train_pass(dx_model *m, const dx_batch *b, int weighted, double *loss,
                  dx_err *err)
{
    if (dx_model_plan(m, b->n, b->H, b->W, 1, err))
        return -1;
    if (dx_model_min_bn_values(m) < 2)
        return dx_fail(err, "training needs more than one value per channel "
                       "at the smallest stage: %d image(s) of %dx%d give 1",
                       b->n, b->W, b->H);
    dx_model_forward(m, b->image, DX_BN_TRAIN);
    if (dx_model_coll_check(m, err))
        return -1;
    dx_model_upsample(m, m->up);
    size_t Q = (size_t)b->n * b->H * b->W;
    double denom = (double)Q;
    if (!weighted) {
        size_t valid = 0;
        for (size_t q = 0; q < Q; q++)
            valid += b->label[q] != DX_IGNORE;
        denom = (double)valid;
    }
    /* data parallelism: the denominator of the global batch, so that the
     * ranks' gradients add up to that of one process with all of it */
    if (dx_coll_sum_f64(m->coll, &denom, 1, "denominator", err))
        return -1;
    if (denom == 0) {
        /* nothing to learn from: no loss, no gradient (on every rank) */
        *loss = 0;
        return 0;
    }
    float scale = (float)(1.0 / denom);
    double sum = dx_ce_forward_backward(m->up, m->up, b->label,
                                        weighted ? b->weight : NULL,
                                        m->arch.classes, Q, scale);
    *loss = sum / denom;
    dx_model_backward(m, m->up);
    return dx_model_coll_check(m, err);
}

static int all_finite(const float *x, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            *at = i;
            return 0;
        }
    return 1;
}

/* The trainable tensor holding flat parameter index i, for messages. */
static const char *tensor_at(const dx_model *m, size_t i)
{
    for (int k = 0; k < m->nt; k++) {
        const dx_tensor *t = &m->t[k];
        if (t->trainable && i >= t->off && i < t->off + t->count)
            return t->name;
    }
    return "?";
}

/* The masked pass: its weights times lambda, so that the gradient is
 * lambda times the term's. */
static int mic_pass(dx_model *m, const dx_batch *b, double lambda,
                    double *loss, dx_err *err)
{
    size_t q = (size_t)b->n * b->H * b->W;
    float *w = malloc(sizeof *w * q);
    if (!w)
        return dx_fail(err, "out of memory");
    for (size_t i = 0; i < q; i++)
        w[i] = (float)(lambda * b->weight[i]);
    dx_batch scaled = *b;
    scaled.weight = w;
    int rc = dx_train_pass(m, &scaled, 1, loss, err);
    free(w);
    return rc;
}

int dx_train_step(dx_model *m, const dx_batch *src, const dx_batch *mix,
                  const dx_batch *mic, const dx_hyper *h, dx_step_result *r,
                  dx_err *err)
{
    long t = m->iter;
    r->iter = t;
    r->loss_src = r->loss_mix = r->loss_mic = 0;
    if (t >= h->opt.iters)
        return dx_fail(err, "iteration %ld: the checkpoint has done %ld "
                       "steps, the schedule has --iters %ld", t, t,
                       h->opt.iters);
    if (dx_optim_check(m, h->opt.kind, err) ||
        dx_model_alloc_grad(m, err))
        return -1;
    dx_model_zero_grad(m);
    if (dx_train_pass(m, src, 0, &r->loss_src, err))
        return -1;
    if (mix && dx_train_pass(m, mix, 1, &r->loss_mix, err))
        return -1;
    if (mic && mic_pass(m, mic, h->mic_lambda, &r->loss_mic, err))
        return -1;
    /* data parallelism: every rank's share of the loss and its gradient,
     * summed; every rank then takes the same step */
    double loss[3] = {r->loss_src, r->loss_mix, r->loss_mic};
    if (dx_coll_sum_f64(m->coll, loss, 3, "loss", err) ||
        dx_coll_sum_f32(m->coll, m->grad, m->nparam, "gradient", err))
        return -1;
    r->loss_src = loss[0], r->loss_mix = loss[1], r->loss_mic = loss[2];
    size_t at;
    if (!isfinite(r->loss_src) || !isfinite(r->loss_mix) ||
        !isfinite(r->loss_mic))
        return dx_fail(err, "iteration %ld: loss is not finite (source %g, "
                       "mixed %g, masked %g); checkpoint not written", t,
                       r->loss_src, r->loss_mix, r->loss_mic);
    if (!all_finite(m->grad, m->nparam, &at))
        return dx_fail(err, "iteration %ld: gradient of '%s' is not "
                       "finite; checkpoint not written", t,
                       tensor_at(m, at));
    r->lr = dx_optim_lr(&h->opt, t);
    if (dx_optim_step(m, &h->opt, r->lr, err))
        return -1;
    int bad = !all_finite(m->param, m->nparam, &at);
    for (int k = 0; k < DX_OPT_SLOTS && !bad; k++)
        bad = m->state[k] && !all_finite(m->state[k], m->nparam, &at);
    if (bad)
        return dx_fail(err, "iteration %ld: the update of '%s' is not "
                       "finite; checkpoint not written", t,
                       tensor_at(m, at));
    if (!all_finite(m->fixed, m->nfixed, &at))
        return dx_fail(err, "iteration %ld: a batch-norm running statistic "
                       "is not finite; checkpoint not written", t);
    m->iter = t + 1;
    return 0;
}
