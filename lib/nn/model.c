/* model.c - the executor: a network description (net.h) with its values,
 * run forward and backward; see model.h. */
#include "nn/model.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"
#include "base/rng.h"
#include "nn/act.h"
#include "nn/bn.h"
#include "nn/conv.h"
#include "nn/loss.h"
#include "nn/pool.h"

/* ---- creating ---- */

static void free_plan(dx_model *m)
{
    free(m->act);
    free(m->side_h);
    free(m->value);
    free(m->argmax);
    free(m->grad_buf);
    dx_interp_free(&m->interp);
    m->act = NULL;
    m->side_h = m->side_w = NULL;
    m->value = m->grad_of = m->grad_buf = NULL;
    m->grad_slot = NULL;
    m->argmax = NULL;
    m->logits = m->up = m->dlogits = NULL;
    m->conv_scratch = m->up_scratch = NULL;
    m->n = m->H = m->W = m->train = 0;
}

void dx_model_free(dx_model *m)
{
    free_plan(m);
    free(m->param);
    free(m->grad);
    for (int k = 0; k < DX_OPT_SLOTS; k++)
        free(m->state[k]);
    free(m->bn_stats);
    free(m->bn_sums);
    dx_net_free(&m->net);
    memset(m, 0, sizeof *m);
}

int dx_model_create(dx_model *m, const dx_arch *a, dx_err *err)
{
    memset(m, 0, sizeof *m);
    if (dx_arch_check(a, err) || dx_net_build(&m->net, a, err))
        return -1;
    m->arch = *a;
    m->optim = DX_OPTIM_NONE;
    m->t = m->net.t;
    m->nt = m->net.nt;
    size_t np = 0, nf = 0;
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        size_t *at = t->trainable ? &np : &nf;
        t->off = *at;
        *at += t->count;
    }
    m->nparam = np;
    m->nfixed = nf;
    int widest = 1;
    for (int i = 0; i < m->net.nlayer; i++)
        if (m->net.layer[i].kind == DX_LAYER_BN &&
            m->net.channels[m->net.layer[i].out] > widest)
            widest = m->net.channels[m->net.layer[i].out];
    m->param = calloc(np + nf ? np + nf : 1, sizeof *m->param);
    m->bn_stats = calloc(3 * m->net.bn_channels + 1, sizeof *m->bn_stats);
    m->bn_sums = calloc(2 * (size_t)widest + 1, sizeof *m->bn_sums);
    if (!m->param || !m->bn_stats || !m->bn_sums) {
        dx_model_free(m);
        return dx_fail(err, "out of memory for %zu parameters", np + nf);
    }
    m->fixed = m->param + np;
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        t->data = (t->trainable ? m->param : m->fixed) + t->off;
    }
    /* (v/255 - mean)/std in float, as numpy/PyTorch float32 would, for
     * conv1's input channel k from RGB channel input_channel[k] */
    for (int k = 0; k < 3; k++) {
        m->input_channel[k] = a->order == DX_ORDER_BGR ? 2 - k : k;
        for (int v = 0; v < 256; v++)
            m->input_lut[k][v] = ((float)v / 255.0f - a->mean[k]) /
                                 a->std[k];
    }
    return 0;
}

/* A zeroed nparam array, with each trainable tensor's view set by
 * `view` (grad or state slot k). */
static int alloc_group(dx_model *m, float **group, int slot, dx_err *err)
{
    if (*group)
        return 0;
    *group = calloc(m->nparam ? m->nparam : 1, sizeof **group);
    if (!*group)
        return dx_fail(err, "out of memory for %zu %s values", m->nparam,
                       slot < 0 ? "gradient" : "optimizer state");
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        if (!t->trainable)
            continue;
        if (slot < 0)
            t->grad = *group + t->off;
        else
            t->state[slot] = *group + t->off;
    }
    return 0;
}

int dx_model_alloc_grad(dx_model *m, dx_err *err)
{
    return alloc_group(m, &m->grad, -1, err);
}

int dx_model_alloc_state(dx_model *m, int k, dx_err *err)
{
    if (k < 0 || k >= DX_OPT_SLOTS)
        return dx_fail(err, "optimizer state slot %d, expected 0..%d", k,
                       DX_OPT_SLOTS - 1);
    return alloc_group(m, &m->state[k], k, err);
}

int dx_model_find(const dx_model *m, const char *name)
{
    for (int i = 0; i < m->nt; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return i;
    return -1;
}

/* deeplab-mini: He-uniform, var = 2/fan_in; the head's summed branches
 * share var = 1/(branches * fan_in), so the logits start at unit
 * variance.  deeplabv2: normal(0, 0.01), as the DACS code.  Batch-norm
 * weight 1, bias 0, running mean 0, variance 1; head bias 0.  Each weight
 * tensor draws from its own stream (child i of the seed). */
int dx_model_init(dx_model *m, const dx_arch *a, uint64_t seed, dx_err *err)
{
    if (dx_model_create(m, a, err))
        return -1;
    if (dx_model_alloc_state(m, 0, err)) {
        dx_model_free(m);
        return -1;
    }
    m->optim = DX_OPTIM_SGD;
    int summed = m->net.layer[m->net.nlayer - 1].run;
    dx_rng root;
    dx_rng_init(&root, seed, "seg-init", 0);
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        const char *leaf = strrchr(t->name, '.') + 1;
        if (t->rank != 4) {
            float fill = 0.0f;
            if (strcmp(leaf, "running_var") == 0 ||
                (t->norm && strcmp(leaf, "weight") == 0))
                fill = 1.0f;
            for (size_t j = 0; j < t->count; j++)
                t->data[j] = fill;
            continue;
        }
        dx_rng r = dx_rng_child(&root, (uint64_t)i);
        if (a->net == DX_NET_DEEPLABV2) {
            for (size_t j = 0; j < t->count; j++)
                t->data[j] = (float)(0.01 * dx_rng_normal(&r));
            continue;
        }
        double fan = (double)t->dims[1] * t->dims[2] * t->dims[3];
        double bound = t->head ? sqrt(3.0 / (summed * fan))
                               : sqrt(6.0 / fan);
        for (size_t j = 0; j < t->count; j++)
            t->data[j] = (float)dx_rng_range(&r, -bound, bound);
    }
    return 0;
}

/* ---- buffers for a shape ----
 *
 * Forward: the input has its own buffer; in training every value the
 * backward pass reads keeps its own (a conv's output becomes its BN's
 * xhat, a BN's output with ReLU is its mask and the next layer's input);
 * every other value borrows a buffer of the largest value's size while it
 * is live, and a BN at inference writes over its input.  Backward: each
 * value's gradient borrows such a buffer from the first consumer that
 * contributes to it (in reverse order) until its producer has used it; a
 * BN hands its output's gradient to its input.  Both assignments depend
 * only on the list, so they are made once per plan. */

typedef struct layout {
    size_t x0, pinned, maxact, scratch, upscratch, up, dlogits, argmax;
    int slots, grad_slots;
    size_t total; /* floats */
} layout;

/* The fused form of an ASPP layer. */
static dx_aspp aspp_of(const dx_layer *l)
{
    dx_aspp a = {l->branch[0].cin, l->branch[0].cout, l->run, {0}};
    for (int b = 0; b < l->run; b++)
        a.dil[b] = l->branch[b].dil;
    return a;
}

/* Does the backward pass read value o, written by layer i?  A conv or an
 * ASPP reads its input (for the weight gradient), a BN its input (which
 * it overwrote with xhat) and, when it has a ReLU, its output (the mask);
 * the logits are read by the loss. */
static int kept_for_backward(const dx_net *net, int i)
{
    const dx_layer *l = &net->layer[i];
    if (l->out == net->nvalue - 1 || (l->kind == DX_LAYER_BN && l->relu))
        return 1;
    for (int j = i + 1; j < net->nlayer; j++)
        if (net->layer[j].in == l->out &&
            net->layer[j].kind != DX_LAYER_MAXPOOL)
            return 1;
    return 0;
}

/* The layout of plan (n, H, W, train) into L, and the buffer assignment
 * into arrays of nvalue: sides h and w; value_off[v] >= 0 an offset in
 * the kept area, < 0 is -(slot + 1); grad_slot[v] (train) the gradient
 * buffer of v. */
static int lay_out(const dx_model *m, int n, int H, int W, int train,
                   int *h, int *w, long *value_off, int *grad_slot,
                   layout *L, dx_err *err)
{
    const dx_net *net = &m->net;
    int V = net->nvalue, NL = net->nlayer;
    memset(L, 0, sizeof *L);
    if (dx_net_sides(net, H, W, h, w, err))
        return -1;
    int *last = malloc(sizeof *last * 3 * (size_t)V);
    if (!last)
        return dx_fail(err, "out of memory");
    int *readers = last + V, *free_slot = last + 2 * V, nfree = 0;
    for (int v = 0; v < V; v++)
        last[v] = readers[v] = 0;
    last[V - 1] = NL; /* the logits outlive the forward pass */
    for (int i = 0; i < NL; i++) {
        const dx_layer *l = &net->layer[i];
        last[l->in] = i;
        readers[l->in]++;
        if (l->skip >= 0) {
            last[l->skip] = i;
            readers[l->skip]++;
        }
    }
    for (int i = 0; i < NL; i++) {
        const dx_layer *l = &net->layer[i];
        if (l->kind == DX_LAYER_BN && readers[l->in] != 1) {
            int k = readers[l->in];
            free(last);
            return dx_fail(err, "network description: the input of BN '%s' "
                           "is read by %d layers, expected 1", l->name, k);
        }
    }
    L->x0 = 3 * (size_t)n * H * W;
    for (int v = 1; v < V; v++) {
        size_t s = (size_t)net->channels[v] * n * h[v] * w[v];
        if (s > L->maxact)
            L->maxact = s;
    }
    /* forward */
    for (int i = 0; i < NL; i++) {
        const dx_layer *l = &net->layer[i];
        int o = l->out, shared = 0;
        size_t size = (size_t)net->channels[o] * n * h[o] * w[o];
        if (train && kept_for_backward(net, i)) {
            value_off[o] = (long)L->pinned;
            L->pinned += size;
        } else if (!train && l->kind == DX_LAYER_BN && l->in != 0 &&
                   last[l->in] == i) {
            value_off[o] = value_off[l->in]; /* in place */
            shared = 1;
        } else {
            int s = nfree ? free_slot[--nfree] : L->slots++;
            value_off[o] = -(long)s - 1;
        }
        if (train && l->kind == DX_LAYER_MAXPOOL)
            L->argmax += size;
        /* free the borrowed buffers read here for the last time */
        int rd[2] = {l->in, l->skip};
        for (int k = 0; k < 2; k++)
            if (rd[k] > 0 && last[rd[k]] == i && value_off[rd[k]] < 0 &&
                !(shared && k == 0))
                free_slot[nfree++] = (int)(-value_off[rd[k]] - 1);
    }
    /* backward: a value's gradient is taken by its first contributor */
    if (train) {
        int used = 0;
        nfree = 0;
        for (int v = 0; v < V; v++)
            grad_slot[v] = -1;
        for (int i = NL - 1; i >= 0; i--) {
            const dx_layer *l = &net->layer[i];
            int take[2] = {l->kind == DX_LAYER_BN ? -1 : l->in, l->skip};
            for (int k = 0; k < 2; k++)
                if (take[k] > 0 && grad_slot[take[k]] < 0)
                    grad_slot[take[k]] = nfree ? free_slot[--nfree] : used++;
            if (l->kind == DX_LAYER_BN)
                grad_slot[l->in] = grad_slot[l->out]; /* handed on */
            else if (l->kind != DX_LAYER_ASPP && grad_slot[l->out] >= 0)
                free_slot[nfree++] = grad_slot[l->out];
        }
        L->grad_slots = used;
    }
    free(last);
    for (int i = 0; i < NL; i++) {
        const dx_layer *l = &net->layer[i];
        int nconv = l->kind == DX_LAYER_CONV ? 1
                    : l->kind == DX_LAYER_ASPP && !l->fused ? l->run : 0;
        if (l->kind == DX_LAYER_ASPP && l->fused) {
            dx_aspp as = aspp_of(l);
            size_t s = dx_aspp_ws_floats(&as, n, h[l->in], w[l->in]);
            if (s > L->scratch)
                L->scratch = s;
        }
        for (int b = 0; b < nconv; b++) {
            const dx_conv *c = l->kind == DX_LAYER_CONV ? &l->conv
                                                        : &l->branch[b];
            size_t s = dx_conv_ws_floats(c, n, h[l->in], w[l->in]);
            if (s > L->scratch)
                L->scratch = s;
        }
    }
    int lh = h[V - 1], lw = w[V - 1];
    L->upscratch = (size_t)dx_par_threads() * lh * W;
    if (train) {
        L->up = (size_t)m->arch.classes * n * H * W;
        L->dlogits = (size_t)m->arch.classes * n * lh * lw;
    }
    L->total = L->x0 + L->pinned + (L->slots + L->grad_slots) * L->maxact +
               L->argmax + L->scratch + L->upscratch + L->up + L->dlogits;
    return 0;
}

size_t dx_model_plan_bytes(const dx_model *m, int n, int H, int W,
                           int train)
{
    int V = m->net.nvalue;
    int *h = malloc(sizeof *h * 3 * (size_t)V);
    long *off = malloc(sizeof *off * (size_t)V);
    layout L = {0};
    if (h && off)
        lay_out(m, n, H, W, train, h, h + V, off, h + 2 * V, &L, NULL);
    free(h);
    free(off);
    return L.total * sizeof(float);
}

int dx_model_plan(dx_model *m, int n, int H, int W, int train, dx_err *err)
{
    if (m->act && m->n == n && m->H == H && m->W == W && m->train == train)
        return 0;
    free_plan(m);
    if (n < 1 || H < 1 || W < 1)
        return dx_fail(err, "empty batch %dx%dx%d", n, H, W);
    if ((size_t)n * H * W > INT_MAX / 4)
        return dx_fail(err, "batch %dx%dx%d is too large (more than %d "
                       "pixels)", n, H, W, INT_MAX / 4);
    if (train && dx_model_alloc_grad(m, err))
        return -1;
    int V = m->net.nvalue, NL = m->net.nlayer;
    /* the small per-value and per-layer arrays */
    m->side_h = malloc(sizeof(int) * 3 * (size_t)V);
    m->value = malloc(sizeof(float *) * 2 * (size_t)V);
    m->argmax = calloc((size_t)NL, sizeof *m->argmax);
    long *off = malloc(sizeof *off * (size_t)V);
    if (!m->side_h || !m->value || !m->argmax || !off) {
        free(off);
        free_plan(m);
        return dx_fail(err, "out of memory");
    }
    m->side_w = m->side_h + V;
    m->grad_slot = m->side_h + 2 * V;
    m->grad_of = m->value + V;
    layout L;
    if (lay_out(m, n, H, W, train, m->side_h, m->side_w, off, m->grad_slot,
                &L, err)) {
        free(off);
        free_plan(m);
        char desc[160];
        dx_arch_describe(&m->arch, desc, sizeof desc);
        return dx_wrap(err, "%s: ", desc);
    }
    m->act = malloc(L.total * sizeof(float));
    m->grad_buf = malloc(sizeof *m->grad_buf * (size_t)(L.grad_slots + 1));
    if (!m->act || !m->grad_buf) {
        free(off);
        free_plan(m);
        return dx_fail(err, "cannot allocate %zu MiB of activations for "
                       "%d images of %dx%d", (L.total * 4) >> 20, n, W, H);
    }
    int lh = m->side_h[V - 1], lw = m->side_w[V - 1];
    if (dx_interp_init(&m->interp, lh, lw, H, W, err)) {
        free(off);
        free_plan(m);
        return -1;
    }
    m->n = n, m->H = H, m->W = W, m->train = train;
    float *q = m->act;
    float *pinned = q + L.x0, *slots = pinned + L.pinned;
    m->value[0] = q;
    for (int v = 1; v < V; v++)
        m->value[v] = off[v] >= 0 ? pinned + off[v]
                                  : slots + (size_t)(-off[v] - 1) * L.maxact;
    free(off);
    q = slots + (size_t)L.slots * L.maxact;
    for (int s = 0; s < L.grad_slots; s++)
        m->grad_buf[s] = q, q += L.maxact;
    for (int i = 0; i < NL && train; i++) {
        const dx_layer *l = &m->net.layer[i];
        if (l->kind != DX_LAYER_MAXPOOL)
            continue;
        m->argmax[i] = (int32_t *)q;
        q += (size_t)m->net.channels[l->out] * n * m->side_h[l->out] *
             m->side_w[l->out];
    }
    m->conv_scratch = q, q += L.scratch;
    m->up_scratch = q, q += L.upscratch;
    m->up = train ? q : NULL, q += L.up;
    m->dlogits = train ? q : NULL, q += L.dlogits;
    m->logits = m->value[V - 1];
    return 0;
}

void dx_model_logit_size(const dx_model *m, int *h, int *w)
{
    int V = m->net.nvalue;
    *h = m->side_h ? m->side_h[V - 1] : 0;
    *w = m->side_w ? m->side_w[V - 1] : 0;
}

size_t dx_model_min_bn_values(const dx_model *m)
{
    size_t least = SIZE_MAX;
    for (int i = 0; i < m->net.nlayer && m->side_h; i++) {
        const dx_layer *l = &m->net.layer[i];
        size_t p = (size_t)m->n * m->side_h[l->out] * m->side_w[l->out];
        if (l->kind == DX_LAYER_BN && p < least)
            least = p;
    }
    return least;
}

/* ---- batch statistics ----
 *
 * The one place where the per-channel sums of a batch are added up across
 * processes (synchronised batch-norm, as PyTorch's SyncBatchNorm: the
 * statistics of the global batch, the unbiased running variance from the
 * global count): sums[0..n) in place, with count after them (bn_sums has
 * room for it); returns the number of values they cover, over all ranks. */
static double batch_reduce(dx_model *m, double *sums, int n, double count)
{
    if (!m->coll || m->coll_failed)
        return count;
    sums[n] = count;
    if (dx_coll_sum_f64(m->coll, sums, (size_t)n + 1, "bn",
                        &m->coll_err)) {
        m->coll_failed = 1;
        return count;
    }
    return sums[n];
}

int dx_model_coll_check(dx_model *m, dx_err *err)
{
    if (!m->coll_failed)
        return 0;
    m->coll_failed = 0;
    *err = m->coll_err;
    return -1;
}

/* mean and biased var of x (C, P) from the batch sums, and the running
 * estimates updated when rmean is not NULL */
static void batch_stats(dx_model *m, const float *x, int C, size_t P,
                        float *mean, float *var, float *rmean, float *rvar)
{
    double *s = m->bn_sums;
    dx_bn_sums(s, x, C, P);
    double count = batch_reduce(m, s, C, (double)P);
    for (int c = 0; c < C; c++)
        mean[c] = (float)(s[c] / count);
    dx_bn_sq_sums(s, x, mean, C, P);
    batch_reduce(m, s, C, (double)P);
    for (int c = 0; c < C; c++)
        var[c] = (float)(s[c] / count);
    if (rmean)
        dx_bn_update_running(rmean, rvar, mean, var, C, (size_t)count);
}

/* ---- forward ---- */

/* Planes of the upsampling, and pixel ranges of the input conversion,
 * shared among the threads. */
typedef struct plane_job {
    float *dst;
    const float *src;
    const uint8_t *img;
    const dx_model *m;
    size_t lo, hi;  /* plane sizes: logits, full resolution */
    int n, C;       /* dst is (n, C, ...) per image when n > 0 */
} plane_job;

static void normalise_part(void *arg, long b0, long b1)
{
    const plane_job *j = arg;
    size_t N = j->hi;
    size_t i0 = (size_t)b0 * 4096, i1 = (size_t)b1 * 4096;
    if (i1 > N)
        i1 = N;
    for (int c = 0; c < 3; c++) {
        float *x = j->dst + c * N;
        const float *lut = j->m->input_lut[c];
        const uint8_t *src = j->img + j->m->input_channel[c];
        for (size_t i = i0; i < i1; i++)
            x[i] = lut[src[3 * i]];
    }
}

static void bn_forward(dx_model *m, const dx_layer *l, int mode)
{
    const dx_tensor *t = &m->t[l->bn];
    int o = l->out, C = m->net.channels[o];
    size_t P = (size_t)m->n * m->side_h[o] * m->side_w[o];
    float *x = m->value[l->in];
    float *mean = m->bn_stats + l->stat, *var = mean + C, *invstd = var + C;
    const float *use_mean = mean;
    if (mode == DX_BN_RUNNING) {
        use_mean = t[2].data;
        dx_bn_invstd(invstd, t[3].data, C);
    } else {
        batch_stats(m, x, C, P, mean, var,
                    mode == DX_BN_TRAIN ? t[2].data : NULL, t[3].data);
        dx_bn_invstd(invstd, var, C);
    }
    dx_bn_forward(m->value[o], mode == DX_BN_TRAIN ? x : NULL, x,
                  l->skip >= 0 ? m->value[l->skip] : NULL, t[0].data,
                  t[1].data, use_mean, invstd, l->relu, C, P);
}

static void aspp_forward(dx_model *m, const dx_layer *l, int n, int h,
                         int w)
{
    const float *wt[DX_ASPP_MAX], *bias[DX_ASPP_MAX];
    for (int b = 0; b < l->run; b++) {
        const dx_tensor *t = &m->t[l->branch_weight[b]];
        wt[b] = t[0].data;
        bias[b] = t[1].data;
        if (!l->fused)
            dx_conv_forward(m->value[l->out], m->value[l->in], wt[b],
                            bias[b], &l->branch[b], n, h, w, b > 0,
                            m->conv_scratch);
    }
    if (l->fused) {
        dx_aspp as = aspp_of(l);
        dx_aspp_forward(m->value[l->out], m->value[l->in], wt, bias, &as, n,
                        h, w, m->conv_scratch);
    }
}

void dx_model_forward(dx_model *m, const uint8_t *img, int mode)
{
    int n = m->n;
    size_t N = (size_t)n * m->H * m->W;
    /* (n, H, W, 3) u8 -> (3, n, H, W) normalised */
    plane_job nj = {.dst = m->value[0], .img = img, .m = m, .hi = N};
    dx_par_for((long)((N + 4095) / 4096), normalise_part, &nj);
    for (int i = 0; i < m->net.nlayer; i++) {
        const dx_layer *l = &m->net.layer[i];
        int in = l->in, h = m->side_h[in], w = m->side_w[in];
        switch (l->kind) {
        case DX_LAYER_CONV:
            dx_conv_forward(m->value[l->out], m->value[in],
                            m->t[l->weight].data, NULL, &l->conv, n, h, w, 0,
                            m->conv_scratch);
            break;
        case DX_LAYER_BN:
            bn_forward(m, l, mode);
            break;
        case DX_LAYER_MAXPOOL:
            dx_maxpool_forward(m->value[l->out],
                               mode == DX_BN_TRAIN ? m->argmax[i] : NULL,
                               m->value[in], &l->pool, m->net.channels[in],
                               n, h, w);
            break;
        case DX_LAYER_ASPP:
            aspp_forward(m, l, n, h, w);
            break;
        }
    }
}

/* The planes [p0, p1) of thread t's share, with its slice of scratch. */
static void share(const plane_job *j, long t, long *p0, long *p1,
                  float **tmp)
{
    long planes = (long)j->C * j->m->n, T = dx_par_threads();
    int lh, lw;
    dx_model_logit_size(j->m, &lh, &lw);
    *p0 = planes * t / T;
    *p1 = planes * (t + 1) / T;
    *tmp = j->m->up_scratch + (size_t)t * lh * j->m->W;
}

/* plane p = c*n + i of the logits -> dst plane p, or plane (i, c) when
 * j->n > 0 (the prediction output, image-major). */
static void up_part(void *arg, long t0, long t1)
{
    const plane_job *j = arg;
    for (long t = t0; t < t1; t++) {
        long p0, p1;
        float *tmp;
        share(j, t, &p0, &p1, &tmp);
        for (long p = p0; p < p1; p++) {
            size_t q = (size_t)p;
            if (j->n > 0)
                q = (size_t)(p % j->n) * j->C + (size_t)(p / j->n);
            dx_upsample_forward(j->dst + q * j->hi,
                                j->src + (size_t)p * j->lo, &j->m->interp,
                                tmp);
        }
    }
}

static void down_part(void *arg, long t0, long t1)
{
    const plane_job *j = arg;
    for (long t = t0; t < t1; t++) {
        long p0, p1;
        float *tmp;
        share(j, t, &p0, &p1, &tmp);
        for (long p = p0; p < p1; p++)
            dx_upsample_backward(j->dst + (size_t)p * j->lo,
                                 j->src + (size_t)p * j->hi, &j->m->interp,
                                 tmp);
    }
}

static size_t logit_plane(const dx_model *m)
{
    int lh, lw;
    dx_model_logit_size(m, &lh, &lw);
    return (size_t)lh * lw;
}

void dx_model_upsample(dx_model *m, float *up)
{
    plane_job j = {up, m->logits, NULL, m, logit_plane(m),
                   (size_t)m->H * m->W, 0, m->arch.classes};
    dx_par_for(dx_par_threads(), up_part, &j);
}

/* ---- backward ---- */

static size_t value_size(const dx_model *m, int v)
{
    return (size_t)m->net.channels[v] * m->n * m->side_h[v] * m->side_w[v];
}

/* The gradient of value v, to be added into: its buffer, zeroed on the
 * first contribution. */
static float *grad_zeroed(dx_model *m, int v)
{
    if (!m->grad_of[v]) {
        m->grad_of[v] = m->grad_buf[m->grad_slot[v]];
        dx_par_zero(m->grad_of[v], value_size(m, v));
    }
    return m->grad_of[v];
}

static void bn_backward(dx_model *m, const dx_layer *l)
{
    const dx_tensor *t = &m->t[l->bn];
    int o = l->out, C = m->net.channels[o];
    size_t P = (size_t)m->n * m->side_h[o] * m->side_w[o];
    size_t cnt = (size_t)C * P;
    float *g = m->grad_of[o];
    const float *xhat = m->value[l->in];
    const float *invstd = m->bn_stats + l->stat + 2 * (size_t)C;
    if (l->relu)
        dx_relu_backward(g, m->value[o], cnt);
    if (l->skip >= 0) {
        if (m->grad_of[l->skip]) {
            dx_add_backward(m->grad_of[l->skip], g, cnt);
        } else {
            m->grad_of[l->skip] = m->grad_buf[m->grad_slot[l->skip]];
            dx_par_copy(m->grad_of[l->skip], g, cnt);
        }
    }
    double *sdy = m->bn_sums, *sdyh = sdy + C;
    dx_bn_grad_sums(sdy, sdyh, g, xhat, C, P);
    /* the affine gradients of this process's values */
    if (t[0].grad)
        for (int c = 0; c < C; c++) {
            t[0].grad[c] += (float)sdyh[c];
            t[1].grad[c] += (float)sdy[c];
        }
    double count = batch_reduce(m, sdy, 2 * C, (double)P);
    dx_bn_backward_apply(g, g, xhat, t[0].data, invstd, sdy, sdyh, count, C,
                         P);
    m->grad_of[l->in] = g;
    m->grad_of[o] = NULL;
}

static void aspp_backward(dx_model *m, const dx_layer *l, int n, int h,
                          int w)
{
    float *dx = grad_zeroed(m, l->in), *dw[DX_ASPP_MAX], *db[DX_ASPP_MAX];
    const float *wt[DX_ASPP_MAX];
    for (int b = 0; b < l->run; b++) {
        const dx_tensor *t = &m->t[l->branch_weight[b]];
        wt[b] = t[0].data;
        dw[b] = t[0].grad;
        db[b] = t[1].grad;
        if (!l->fused)
            dx_conv_backward(dx, dw[b], db[b], m->dlogits, m->value[l->in],
                             wt[b], &l->branch[b], n, h, w, m->conv_scratch);
    }
    if (l->fused) {
        dx_aspp as = aspp_of(l);
        dx_aspp_backward(dx, dw, db, m->dlogits, m->value[l->in], wt, &as, n,
                         h, w, m->conv_scratch);
    }
}

void dx_model_backward(dx_model *m, const float *dup)
{
    int n = m->n;
    size_t planes = (size_t)m->arch.classes * n, lo = logit_plane(m);
    size_t hi = (size_t)m->H * m->W;
    dx_par_zero(m->dlogits, planes * lo);
    plane_job dj = {m->dlogits, dup, NULL, m, lo, hi, 0, m->arch.classes};
    dx_par_for(dx_par_threads(), down_part, &dj);
    for (int v = 0; v < m->net.nvalue; v++)
        m->grad_of[v] = NULL;
    for (int i = m->net.nlayer - 1; i >= 0; i--) {
        const dx_layer *l = &m->net.layer[i];
        int in = l->in, h = m->side_h[in], w = m->side_w[in];
        switch (l->kind) {
        case DX_LAYER_ASPP:
            aspp_backward(m, l, n, h, w);
            break;
        case DX_LAYER_BN:
            bn_backward(m, l);
            break;
        case DX_LAYER_CONV: {
            const dx_tensor *t = &m->t[l->weight];
            dx_conv_backward(in ? grad_zeroed(m, in) : NULL, t->grad, NULL,
                             m->grad_of[l->out], m->value[in], t->data,
                             &l->conv, n, h, w, m->conv_scratch);
            m->grad_of[l->out] = NULL;
            break;
        }
        case DX_LAYER_MAXPOOL:
            dx_maxpool_backward(grad_zeroed(m, in), m->grad_of[l->out],
                                m->argmax[i], &l->pool, m->net.channels[in],
                                n, h, w);
            m->grad_of[l->out] = NULL;
            break;
        }
    }
}

void dx_model_zero_grad(dx_model *m)
{
    if (m->grad)
        memset(m->grad, 0, m->nparam * sizeof *m->grad);
}

int dx_model_predict(dx_model *m, float *prob, const uint8_t *img, int n,
                     int H, int W, int mode, dx_err *err)
{
    if (mode != DX_BN_BATCH && mode != DX_BN_RUNNING)
        return dx_fail(err, "predict: batch-norm mode must be batch or "
                       "running");
    if (dx_model_plan(m, n, H, W, 0, err))
        return -1;
    if (mode == DX_BN_BATCH && dx_model_min_bn_values(m) < 2)
        return dx_fail(err, "batch statistics need more than one value per "
                       "channel: %d image(s) of %dx%d give 1", n, W, H);
    dx_model_forward(m, img, mode);
    if (dx_model_coll_check(m, err))
        return -1;
    int C = m->arch.classes;
    size_t hi = (size_t)H * W;
    plane_job j = {prob, m->logits, NULL, m, logit_plane(m), hi, n, C};
    dx_par_for(dx_par_threads(), up_part, &j);
    for (int i = 0; i < n; i++) {
        float *p = prob + (size_t)i * C * hi;
        dx_softmax(p, p, C, hi);
    }
    return 0;
}

double dx_model_flops(const dx_model *m, int n, int H, int W)
{
    return dx_net_flops(&m->net, n, H, W);
}
