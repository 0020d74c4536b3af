/* model.c - the deeplab-mini network; see model.h and seg-init(1). */
#include "nn/model.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "nn/bn.h"
#include "nn/loss.h"
#include "base/par.h"
#include "base/rng.h"

/* The body, in order.  Channel counts are multiples of the width w
 * (cin 0 means the 3 input channels). */
static const struct unit_spec {
    const char *conv, *bn;
    int cin, cout, stride, dil, res;
} NET[DX_UNITS] = {
    {"stem.0.conv", "stem.0.bn", 0, 1, 2, 1, 0},
    {"stem.1.conv", "stem.1.bn", 1, 1, 1, 1, 0},
    {"s2.down.conv", "s2.down.bn", 1, 2, 2, 1, 0},
    {"s2.res0.conv1", "s2.res0.bn1", 2, 2, 1, 1, 1},
    {"s2.res0.conv2", "s2.res0.bn2", 2, 2, 1, 1, 2},
    {"s3.down.conv", "s3.down.bn", 2, 4, 2, 1, 0},
    {"s3.res0.conv1", "s3.res0.bn1", 4, 4, 1, 2, 1},
    {"s3.res0.conv2", "s3.res0.bn2", 4, 4, 1, 2, 2},
    {"s3.res1.conv1", "s3.res1.bn1", 4, 4, 1, 4, 1},
    {"s3.res1.conv2", "s3.res1.bn2", 4, 4, 1, 4, 2},
};
static const int HEAD_DIL[DX_HEADS] = {1, 2, 4, 6};
#define HEAD_CIN 4 /* the head reads 4w channels */

static dx_conv unit_conv(const dx_arch *a, int u)
{
    const struct unit_spec *s = &NET[u];
    dx_conv c = {s->cin ? s->cin * a->width : 3, s->cout * a->width, 3,
                 s->stride, s->dil, s->dil};
    return c;
}

static dx_conv head_conv(const dx_arch *a, int k)
{
    dx_conv c = {HEAD_CIN * a->width, a->classes, 3, 1, HEAD_DIL[k],
                 HEAD_DIL[k]};
    return c;
}

/* ---- the tensor table and the parameter allocation ---- */

enum { T_PARAM, T_STAT };

/* Appends a tensor at the next offset of its group; the pointers are set
 * once the groups are allocated. */
static void add(dx_model *m, const char *prefix, const char *leaf, int kind,
                int rank, const int64_t *dims, int head, size_t *np,
                size_t *ns)
{
    dx_tensor *t = &m->t[m->nt++];
    snprintf(t->name, sizeof t->name, "%s.%s", prefix, leaf);
    t->rank = rank;
    t->count = 1;
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->count *= (size_t)dims[i];
    }
    t->head = head;
    t->trainable = kind == T_PARAM;
    size_t *at = t->trainable ? np : ns;
    t->off = *at;
    *at += t->count;
}

static int shape_is(const tns_frame *f, int rank, const int64_t *dims)
{
    if (f->rank != rank)
        return 0;
    for (int i = 0; i < rank; i++)
        if (f->dims[i] != dims[i])
            return 0;
    return 1;
}

static void dims_str(char *buf, size_t cap, int rank, const int64_t *dims)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && at < cap; i++)
        at += snprintf(buf + at, cap - at, "%s%lld", i ? "x" : "",
                       (long long)dims[i]);
}

/* Every tensor of the table must be in s as f32 of its exact shape;
 * checked before the parameters are allocated, so a hostile meta.arch in
 * a small file cannot make us allocate for a large network. */
static int check_frames(const dx_model *m, const tns_stream *s,
                        const char *arch, dx_err *err)
{
    char got[128], want[128];
    for (int i = 0; i < m->nt; i++) {
        const dx_tensor *t = &m->t[i];
        const tns_frame *f = tns_stream_get((tns_stream *)s, t->name);
        if (!f)
            return dx_fail(err, "checkpoint has no frame '%s' (expected for "
                           "%s)", t->name, arch);
        dims_str(want, sizeof want, t->rank, t->dims);
        if (f->dtype != DX_F32 || !shape_is(f, t->rank, t->dims))
            return dx_fail(err, "checkpoint frame '%s' is %s %s, expected "
                           "f32 %s for %s", t->name, dx_dtype_name(f->dtype),
                           tns_shape_str(f, got, sizeof got), want, arch);
    }
    return 0;
}

/* Build the table for m->arch, check it against the frames of s (if not
 * NULL), allocate, and point everything into the allocation. */
static int build(dx_model *m, const tns_stream *s, dx_err *err)
{
    const dx_arch *a = &m->arch;
    size_t np = 0, ns = 0, nb = 0;
    m->nt = 0;
    for (int u = 0; u < DX_UNITS; u++) {
        dx_conv c = unit_conv(a, u);
        int64_t wd[4] = {c.cout, c.cin, 3, 3}, cd[1] = {c.cout};
        add(m, NET[u].conv, "weight", T_PARAM, 4, wd, 0, &np, &ns);
        add(m, NET[u].bn, "weight", T_PARAM, 1, cd, 0, &np, &ns);
        add(m, NET[u].bn, "bias", T_PARAM, 1, cd, 0, &np, &ns);
        add(m, NET[u].bn, "running_mean", T_STAT, 1, cd, 0, &np, &ns);
        add(m, NET[u].bn, "running_var", T_STAT, 1, cd, 0, &np, &ns);
        nb += 3 * (size_t)c.cout;
    }
    m->head_off = np;
    for (int k = 0; k < DX_HEADS; k++) {
        dx_conv c = head_conv(a, k);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "head.%d", k);
        int64_t wd[4] = {c.cout, c.cin, 3, 3}, bd[1] = {c.cout};
        add(m, prefix, "weight", T_PARAM, 4, wd, 1, &np, &ns);
        add(m, prefix, "bias", T_PARAM, 1, bd, 1, &np, &ns);
    }
    m->nparam = np;
    m->nstat = ns;
    if (s) {
        char desc[96];
        dx_arch_describe(a, desc, sizeof desc);
        if (check_frames(m, s, desc, err))
            return -1;
    }
    m->mem = calloc(3 * np + ns + nb, sizeof *m->mem);
    if (!m->mem)
        return dx_fail(err, "out of memory for %zu parameters", np);
    m->param = m->mem;
    m->grad = m->param + np;
    m->mom = m->grad + np;
    m->stat = m->mom + np;
    m->bnstat = m->stat + ns;
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        t->data = (t->trainable ? m->param : m->stat) + t->off;
        t->grad = t->trainable ? m->grad + t->off : NULL;
        t->mom = t->trainable ? m->mom + t->off : NULL;
    }
    float *bs = m->bnstat;
    for (int u = 0; u < DX_UNITS; u++) {
        dx_unit *U = &m->u[u];
        dx_tensor *t = &m->t[5 * u];
        U->conv = unit_conv(a, u);
        U->res = NET[u].res;
        U->w = t[0].data, U->gw = t[0].grad;
        U->gamma = t[1].data, U->gg = t[1].grad;
        U->beta = t[2].data, U->gb = t[2].grad;
        U->rmean = t[3].data, U->rvar = t[4].data;
        int c = U->conv.cout;
        U->mean = bs, U->var = bs + c, U->invstd = bs + 2 * c;
        bs += 3 * c;
    }
    for (int k = 0; k < DX_HEADS; k++) {
        dx_tensor *t = &m->t[5 * DX_UNITS + 2 * k];
        m->hc[k] = head_conv(a, k);
        m->hw[k] = t[0].data, m->hgw[k] = t[0].grad;
        m->hb[k] = t[1].data, m->hgb[k] = t[1].grad;
    }
    /* (v/255 - mean)/std in float, as numpy/PyTorch float32 would */
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            m->lut[c][v] = ((float)v / 255.0f - a->mean[c]) / a->std[c];
    return 0;
}

static int setup(dx_model *m, const dx_arch *a, const tns_stream *s,
                 dx_err *err)
{
    memset(m, 0, sizeof *m);
    if (dx_arch_check(a, err))
        return -1;
    m->arch = *a;
    if (build(m, s, err)) {
        dx_model_free(m);
        return -1;
    }
    return 0;
}

int dx_model_init(dx_model *m, const dx_arch *a, uint64_t seed, dx_err *err)
{
    if (setup(m, a, NULL, err))
        return -1;
    dx_rng root;
    dx_rng_init(&root, seed, "seg-init", 0);
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        const char *leaf = strrchr(t->name, '.') + 1;
        float fill = strcmp(leaf, "running_var") == 0 ? 1.0f : 0.0f;
        if (t->rank == 1 && !t->head && strcmp(leaf, "weight") == 0)
            fill = 1.0f; /* BN weight */
        if (t->rank != 4) {
            for (size_t j = 0; j < t->count; j++)
                t->data[j] = fill;
            continue;
        }
        /* He uniform: var = 2/fan_in.  The head's four summed convs share
         * var = 1/(4*fan_in), so the logits start at unit variance. */
        double fan = (double)t->dims[1] * 9;
        double bound = t->head ? sqrt(3.0 / (DX_HEADS * fan))
                               : sqrt(6.0 / fan);
        dx_rng r = dx_rng_child(&root, (uint64_t)i);
        for (size_t j = 0; j < t->count; j++)
            t->data[j] = (float)dx_rng_range(&r, -bound, bound);
    }
    return 0;
}

void dx_model_free(dx_model *m)
{
    free(m->mem);
    free(m->act);
    dx_interp_free(&m->interp);
    memset(m, 0, sizeof *m);
}

/* ---- checkpoints ---- */

/* Copy the f32 frame called name of exactly the tensor's shape into dst. */
static int take(const tns_stream *s, const char *name, const dx_tensor *t,
                float *dst, const char *arch, dx_err *err)
{
    const tns_frame *f = tns_stream_get((tns_stream *)s, name);
    char got[128], want[128];
    if (!f)
        return dx_fail(err, "checkpoint has no frame '%s' (expected for %s)",
                       name, arch);
    dims_str(want, sizeof want, t->rank, t->dims);
    if (f->dtype != DX_F32 || !shape_is(f, t->rank, t->dims))
        return dx_fail(err, "checkpoint frame '%s' is %s %s, expected f32 "
                       "%s for %s", name, dx_dtype_name(f->dtype),
                       tns_shape_str(f, got, sizeof got), want, arch);
    if (tns_check_finite(f, err))
        return dx_wrap(err, "checkpoint: ");
    memcpy(dst, f->data, t->count * sizeof *dst);
    return 0;
}

int dx_model_load(dx_model *m, const tns_stream *s, dx_err *err)
{
    memset(m, 0, sizeof *m);
    tns_stream *ms = (tns_stream *)s;
    tns_frame *fa = tns_stream_need(ms, "meta.arch", DX_U8, 1, err);
    if (!fa)
        return dx_wrap(err, "not a network checkpoint: ");
    dx_arch a;
    if (dx_arch_parse(&a, fa->data, fa->count, err))
        return dx_wrap(err, "checkpoint: ");
    tns_frame *fi = tns_stream_need(ms, "meta.iter", DX_I32, 0, err);
    if (!fi)
        return dx_wrap(err, "checkpoint: ");
    int32_t iter = *(const int32_t *)fi->data;
    if (iter < 0)
        return dx_fail(err, "checkpoint: meta.iter is %d, expected >= 0",
                       (int)iter);
    if (setup(m, &a, s, err))
        return -1;
    m->iter = iter;
    char desc[96];
    dx_arch_describe(&a, desc, sizeof desc);
    int nopt = 0, nparams = 0;
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        if (take(s, t->name, t, t->data, desc, err))
            goto fail;
        if (!t->grad) {
            const char *leaf = strrchr(t->name, '.') + 1;
            for (size_t j = 0; j < t->count && strcmp(leaf, "running_var")
                 == 0; j++)
                if (t->data[j] < 0) {
                    dx_fail(err, "checkpoint frame '%s' element %zu is %g, "
                            "expected a variance >= 0", t->name, j,
                            (double)t->data[j]);
                    goto fail;
                }
            continue;
        }
        char on[64];
        snprintf(on, sizeof on, "opt.%s", t->name);
        nparams++;
        nopt += tns_stream_find(s, on) >= 0;
    }
    if (nopt != 0 && nopt != nparams) {
        for (int i = 0; i < m->nt; i++) {
            char on[64];
            snprintf(on, sizeof on, "opt.%s", m->t[i].name);
            if (m->t[i].grad && tns_stream_find(s, on) < 0) {
                dx_fail(err, "checkpoint has %d of %d optimizer frames: "
                        "'%s' is missing", nopt, nparams, on);
                goto fail;
            }
        }
    }
    for (int i = 0; i < m->nt && nopt; i++) {
        dx_tensor *t = &m->t[i];
        char on[64];
        snprintf(on, sizeof on, "opt.%s", t->name);
        if (t->grad && take(s, on, t, t->mom, desc, err))
            goto fail;
    }
    /* Anything else means another architecture or a corrupt file. */
    for (int j = 0; j < s->n; j++) {
        const char *name = s->v[j].name;
        int known = !strcmp(name, "meta.arch") || !strcmp(name, "meta.iter");
        const char *base = strncmp(name, "opt.", 4) == 0 ? name + 4 : name;
        for (int i = 0; i < m->nt && !known; i++)
            known = !strcmp(base, m->t[i].name) &&
                    (base == name || m->t[i].grad);
        if (!known) {
            dx_fail(err, "checkpoint has frame '%s', which %s does not "
                    "have (another architecture?)", name, desc);
            goto fail;
        }
    }
    return 0;
fail:
    dx_model_free(m);
    return -1;
}

/* A frame header over memory we own: written, never freed. */
static tns_frame view(const char *name, int dtype, int rank,
                      const int64_t *dims, size_t count, const void *data)
{
    tns_frame f;
    memset(&f, 0, sizeof f);
    snprintf(f.name, sizeof f.name, "%s", name);
    f.dtype = dtype;
    f.rank = rank;
    for (int i = 0; i < rank; i++)
        f.dims[i] = dims[i];
    f.count = count;
    f.nbytes = count * dx_dtype_size(dtype);
    f.data = (void *)data;
    return f;
}

int dx_model_write(const dx_model *m, tns_writer *w, int with_opt,
                   dx_err *err)
{
    char text[512];
    int len = dx_arch_format(&m->arch, text, sizeof text);
    if (len < 0)
        return dx_fail(err, "meta.arch text too long");
    int64_t tl = len;
    int32_t iter = m->iter > INT32_MAX ? INT32_MAX : (int32_t)m->iter;
    tns_frame f = view("meta.arch", DX_U8, 1, &tl, (size_t)len, text);
    if (tns_write(w, &f, err))
        return -1;
    f = view("meta.iter", DX_I32, 0, NULL, 1, &iter);
    if (tns_write(w, &f, err))
        return -1;
    for (int i = 0; i < m->nt; i++) {
        const dx_tensor *t = &m->t[i];
        f = view(t->name, DX_F32, t->rank, t->dims, t->count, t->data);
        if (tns_write(w, &f, err))
            return -1;
    }
    for (int i = 0; i < m->nt && with_opt; i++) {
        const dx_tensor *t = &m->t[i];
        char on[64];
        if (!t->grad)
            continue;
        snprintf(on, sizeof on, "opt.%s", t->name);
        f = view(on, DX_F32, t->rank, t->dims, t->count, t->mom);
        if (tns_write(w, &f, err))
            return -1;
    }
    return 0;
}

int dx_model_read(dx_model *m, const char *path, dx_err *err)
{
    tns_stream s;
    const char *name = path && strcmp(path, "-") ? path : "stdin";
    if (tns_stream_load(&s, path, err))
        return -1;
    int rc = dx_model_load(m, &s, err);
    tns_stream_free(&s);
    return rc ? dx_wrap(err, "%s: ", name) : 0;
}

int dx_model_save(const dx_model *m, const char *path, int with_opt,
                  dx_err *err)
{
    tns_writer w;
    if (tns_create(&w, path, err))
        return -1;
    if (dx_model_write(m, &w, with_opt, err)) {
        tns_abort(&w);
        return -1;
    }
    return tns_finish(&w, err);
}

/* ---- buffers for a shape ---- */

/* Sides of every stage, and the sizes the plan needs. */
typedef struct plan_sizes {
    int hs[DX_UNITS + 1], ws[DX_UNITS + 1];
    size_t x0, act[DX_UNITS], maxact, logits, up, scratch, upscratch, total;
} plan_sizes;

static void plan_sizes_of(const dx_arch *a, int n, int H, int W, int train,
                          plan_sizes *p)
{
    memset(p, 0, sizeof *p);
    p->hs[0] = H, p->ws[0] = W;
    for (int u = 0; u < DX_UNITS; u++) {
        dx_conv c = unit_conv(a, u);
        p->hs[u + 1] = dx_conv_out(&c, p->hs[u]);
        p->ws[u + 1] = dx_conv_out(&c, p->ws[u]);
        size_t P = (size_t)n * p->hs[u + 1] * p->ws[u + 1];
        p->act[u] = (size_t)c.cout * P;
        if (p->act[u] > p->maxact)
            p->maxact = p->act[u];
        size_t s = dx_conv_ws_floats(&c, n, p->hs[u], p->ws[u]);
        if (s > p->scratch)
            p->scratch = s;
    }
    int h3 = p->hs[DX_UNITS], w3 = p->ws[DX_UNITS];
    for (int k = 0; k < DX_HEADS; k++) {
        dx_conv c = head_conv(a, k);
        size_t s = dx_conv_ws_floats(&c, n, h3, w3);
        if (s > p->scratch)
            p->scratch = s;
    }
    p->x0 = 3 * (size_t)n * H * W;
    p->upscratch = (size_t)dx_par_threads() * h3 * W;
    p->logits = (size_t)a->classes * n * h3 * w3;
    p->up = (size_t)a->classes * n * H * W;
    size_t t = p->x0 + 3 * p->maxact + p->logits + p->scratch + p->upscratch;
    if (train) {
        for (int u = 0; u < DX_UNITS; u++)
            t += 2 * p->act[u];
        t += p->up + p->logits; /* up, dlogits */
    }
    p->total = t;
}

size_t dx_model_plan_bytes(const dx_arch *a, int n, int H, int W, int train)
{
    plan_sizes p;
    plan_sizes_of(a, n, H, W, train, &p);
    return p.total * sizeof(float);
}

int dx_model_plan(dx_model *m, int n, int H, int W, int train, dx_err *err)
{
    if (m->act && m->n == n && m->H == H && m->W == W && m->train == train)
        return 0;
    free(m->act);
    m->act = NULL;
    dx_interp_free(&m->interp);
    if (n < 1 || H < 1 || W < 1)
        return dx_fail(err, "empty batch %dx%dx%d", n, H, W);
    if ((size_t)n * H * W > INT_MAX / 4)
        return dx_fail(err, "batch %dx%dx%d is too large (more than %d "
                       "pixels)", n, H, W, INT_MAX / 4);
    plan_sizes p;
    plan_sizes_of(&m->arch, n, H, W, train, &p);
    size_t h3 = (size_t)p.hs[DX_UNITS], w3 = (size_t)p.ws[DX_UNITS];
    m->act = malloc(p.total * sizeof(float));
    if (!m->act)
        return dx_fail(err, "cannot allocate %zu MiB of activations for "
                       "%d images of %dx%d", (p.total * 4) >> 20, n, W, H);
    if (dx_interp_init(&m->interp, (int)h3, (int)w3, H, W, err)) {
        free(m->act);
        m->act = NULL;
        return -1;
    }
    m->n = n, m->H = H, m->W = W, m->train = train;
    memcpy(m->hs, p.hs, sizeof p.hs);
    memcpy(m->ws, p.ws, sizeof p.ws);
    float *q = m->act;
    m->x0 = q, q += p.x0;
    for (int i = 0; i < 3; i++)
        m->buf[i] = q, q += p.maxact;
    m->logits = q, q += p.logits;
    m->scratch = q, q += p.scratch;
    m->upscratch = q, q += p.upscratch;
    for (int u = 0; u < DX_UNITS; u++)
        m->xhat[u] = m->y[u] = NULL;
    m->up = m->dlogits = NULL;
    if (train) {
        for (int u = 0; u < DX_UNITS; u++) {
            m->xhat[u] = q, q += p.act[u];
            m->y[u] = q, q += p.act[u];
        }
        m->up = q, q += p.up;
        m->dlogits = q, q += p.logits;
    }
    return 0;
}

/* ---- forward and backward ---- */

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
        const float *lut = j->m->lut[c];
        for (size_t i = i0; i < i1; i++)
            x[i] = lut[j->img[3 * i + c]];
    }
}

/* The planes [p0, p1) of thread t's share, with its slice of scratch. */
static void share(const plane_job *j, long t, long *p0, long *p1,
                  float **tmp)
{
    long planes = (long)j->C * j->m->n, T = dx_par_threads();
    *p0 = planes * t / T;
    *p1 = planes * (t + 1) / T;
    *tmp = j->m->upscratch + (size_t)t * j->m->hs[DX_UNITS] * j->m->W;
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

void dx_model_forward(dx_model *m, const uint8_t *img, int mode)
{
    int n = m->n;
    size_t hw = (size_t)m->H * m->W, N = (size_t)n * hw;
    /* (n, H, W, 3) u8 -> (3, n, H, W) normalised */
    plane_job nj = {.dst = m->x0, .img = img, .m = m, .hi = N};
    dx_par_for((long)((N + 4095) / 4096), normalise_part, &nj);
    const float *in = m->x0, *block_in = NULL;
    for (int u = 0; u < DX_UNITS; u++) {
        dx_unit *U = &m->u[u];
        int C = U->conv.cout;
        size_t P = (size_t)n * m->hs[u + 1] * m->ws[u + 1];
        float *cv, *out;
        if (U->res == 1)
            block_in = in;
        if (mode == DX_BN_TRAIN) {
            cv = m->xhat[u];
            out = m->y[u];
        } else {
            int b = 0;
            while (m->buf[b] == in || m->buf[b] == block_in)
                b++;
            cv = out = m->buf[b];
        }
        dx_conv_forward(cv, in, U->w, NULL, &U->conv, n, m->hs[u], m->ws[u],
                        0, m->scratch);
        const float *mean = U->mean;
        if (mode == DX_BN_RUNNING) {
            mean = U->rmean;
            dx_bn_invstd(U->invstd, U->rvar, C);
        } else {
            dx_bn_stats(U->mean, U->var, cv, C, P);
            if (mode == DX_BN_TRAIN)
                dx_bn_update_running(U->rmean, U->rvar, U->mean, U->var, C,
                                     P);
            dx_bn_invstd(U->invstd, U->var, C);
        }
        dx_bn_forward(out, mode == DX_BN_TRAIN ? cv : NULL, cv,
                      U->res == 2 ? block_in : NULL, U->gamma, U->beta, mean,
                      U->invstd, 1, C, P);
        if (U->res == 2)
            block_in = NULL;
        in = out;
    }
    for (int k = 0; k < DX_HEADS; k++)
        dx_conv_forward(m->logits, in, m->hw[k], m->hb[k], &m->hc[k], n,
                        m->hs[DX_UNITS], m->ws[DX_UNITS], k > 0, m->scratch);
}

void dx_model_upsample(dx_model *m, float *up)
{
    plane_job j = {up, m->logits, NULL, m,
                   (size_t)m->hs[DX_UNITS] * m->ws[DX_UNITS],
                   (size_t)m->H * m->W, 0, m->arch.classes};
    dx_par_for(dx_par_threads(), up_part, &j);
}

void dx_model_backward(dx_model *m, const float *dup)
{
    int n = m->n;
    size_t planes = (size_t)m->arch.classes * n;
    size_t lo = (size_t)m->hs[DX_UNITS] * m->ws[DX_UNITS];
    size_t hi = (size_t)m->H * m->W;
    dx_par_zero(m->dlogits, planes * lo);
    plane_job dj = {m->dlogits, dup, NULL, m, lo, hi, 0, m->arch.classes};
    dx_par_for(dx_par_threads(), down_part, &dj);

    /* gout: d/d(output of the current unit); gskip: d/d(block input),
     * built up across a residual block; gt: scratch. */
    float *gout = m->buf[0], *gskip = m->buf[1], *gt = m->buf[2];
    const float *top = m->y[DX_UNITS - 1];
    dx_par_zero(gout, (size_t)m->u[DX_UNITS - 1].conv.cout * n * lo);
    for (int k = 0; k < DX_HEADS; k++)
        dx_conv_backward(gout, m->hgw[k], m->hgb[k], m->dlogits, top,
                         m->hw[k], &m->hc[k], n, m->hs[DX_UNITS],
                         m->ws[DX_UNITS], m->scratch);
    for (int u = DX_UNITS - 1; u >= 0; u--) {
        dx_unit *U = &m->u[u];
        size_t cnt = (size_t)U->conv.cout * n * m->hs[u + 1] * m->ws[u + 1];
        size_t P = cnt / U->conv.cout;
        const float *in = u ? m->y[u - 1] : m->x0;
        dx_relu_backward(gout, m->y[u], cnt);
        if (U->res == 2)
            dx_par_copy(gskip, gout, cnt);
        dx_bn_backward(gout, U->gg, U->gb, gout, m->xhat[u], U->gamma,
                       U->invstd, U->conv.cout, P);
        if (u == 0) {
            dx_conv_backward(NULL, U->gw, NULL, gout, in, U->w, &U->conv, n,
                             m->hs[u], m->ws[u], m->scratch);
            break;
        }
        float *dx = gt;
        if (U->res == 1) {
            dx = gskip; /* the conv path adds to the skip path */
        } else {
            size_t incnt = (size_t)U->conv.cin * n * m->hs[u] * m->ws[u];
            dx_par_zero(gt, incnt);
        }
        dx_conv_backward(dx, U->gw, NULL, gout, in, U->w, &U->conv, n,
                         m->hs[u], m->ws[u], m->scratch);
        float *done = gout;
        gout = dx;
        if (U->res == 1)
            gskip = done;
        else
            gt = done;
    }
}

void dx_model_zero_grad(dx_model *m)
{
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
    if (mode == DX_BN_BATCH &&
        (size_t)n * m->hs[DX_UNITS] * m->ws[DX_UNITS] < 2)
        return dx_fail(err, "batch statistics need more than one value per "
                       "channel: %d image(s) of %dx%d give 1", n, W, H);
    dx_model_forward(m, img, mode);
    int C = m->arch.classes;
    size_t lo = (size_t)m->hs[DX_UNITS] * m->ws[DX_UNITS];
    size_t hi = (size_t)H * W;
    plane_job j = {prob, m->logits, NULL, m, lo, hi, n, C};
    dx_par_for(dx_par_threads(), up_part, &j);
    for (int i = 0; i < n; i++) {
        float *p = prob + (size_t)i * C * hi;
        dx_softmax(p, p, C, hi);
    }
    return 0;
}

double dx_model_flops(const dx_arch *a, int n, int H, int W)
{
    double f = 0;
    int h = H, w = W;
    for (int u = 0; u < DX_UNITS; u++) {
        dx_conv c = unit_conv(a, u);
        h = dx_conv_out(&c, h), w = dx_conv_out(&c, w);
        f += 2.0 * c.cout * c.cin * 9 * (double)n * h * w;
    }
    for (int k = 0; k < DX_HEADS; k++) {
        dx_conv c = head_conv(a, k);
        f += 2.0 * c.cout * c.cin * 9 * (double)n * h * w;
    }
    return f;
}
