/* ckpt.c - checkpoints: a model to and from the frames of a tns segment;
 * see model.h and tns(5). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "nn/model.h"
#include "nn/optim.h"

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

/* The frame called name must be f32 of exactly the tensor's shape. */
static const tns_frame *frame_of(const tns_stream *s, const char *name,
                                 const dx_tensor *t, const char *arch,
                                 dx_err *err)
{
    const tns_frame *f = tns_stream_get((tns_stream *)s, name);
    char got[128], want[128];
    if (!f) {
        dx_fail(err, "checkpoint has no frame '%s' (expected for %s)", name,
                arch);
        return NULL;
    }
    dims_str(want, sizeof want, t->rank, t->dims);
    if (f->dtype != DX_F32 || !shape_is(f, t->rank, t->dims)) {
        dx_fail(err, "checkpoint frame '%s' is %s %s, expected f32 %s for %s",
                name, dx_dtype_name(f->dtype),
                tns_shape_str(f, got, sizeof got), want, arch);
        return NULL;
    }
    return f;
}

/* Every tensor of architecture a must be in s as f32 of its exact shape;
 * checked on the description alone, before the model is allocated, so
 * that a hostile meta.arch in a small file cannot make us allocate for a
 * large network. */
static int check_frames(const dx_arch *a, const tns_stream *s,
                        const char *desc, dx_err *err)
{
    dx_net net;
    if (dx_net_build(&net, a, err))
        return -1;
    int rc = 0;
    for (int i = 0; i < net.nt && rc == 0; i++)
        if (!frame_of(s, net.t[i].name, &net.t[i], desc, err))
            rc = -1;
    dx_net_free(&net);
    return rc;
}

/* Copy the finite frame called name into dst. */
static int take(const tns_stream *s, const char *name, const dx_tensor *t,
                float *dst, const char *arch, dx_err *err)
{
    const tns_frame *f = frame_of(s, name, t, arch, err);
    if (!f)
        return -1;
    if (tns_check_finite(f, err))
        return dx_wrap(err, "checkpoint: ");
    memcpy(dst, f->data, t->count * sizeof *dst);
    return 0;
}

/* The frame of state slot k of tensor t: opt.NAME (SGD's momentum,
 * AdamW's exp_avg), opt.exp_avg_sq.NAME (AdamW's second moment). */
static void slot_name(char *buf, size_t cap, int k, const dx_tensor *t)
{
    snprintf(buf, cap, k == 0 ? "opt.%s" : "opt.exp_avg_sq.%s", t->name);
}

static int slots_of(int kind)
{
    return kind == DX_OPTIM_ADAMW ? 2 : 1;
}

/* The optimiser's kind from opt.optimizer (absent: SGD, as checkpoints
 * before AdamW). */
static int state_kind(const tns_stream *s, int *kind, dx_err *err)
{
    *kind = DX_OPTIM_SGD;
    if (tns_stream_find(s, "opt.optimizer") < 0)
        return 0;
    tns_frame *f = tns_stream_need((tns_stream *)s, "opt.optimizer", DX_U8,
                                   1, err);
    if (!f)
        return dx_wrap(err, "checkpoint: ");
    for (int k = 0; k < DX_OPTIM_END; k++) {
        const char *nm = dx_optim_name(k);
        if (f->count == strlen(nm) && !memcmp(f->data, nm, f->count)) {
            *kind = k;
            return 0;
        }
    }
    return dx_fail(err, "checkpoint: opt.optimizer is '%.*s', expected "
                   "sgd or adamw", (int)(f->count > 32 ? 32 : f->count),
                   (const char *)f->data);
}

/* The optimiser state of m from s: all of its frames or none. */
static int load_state(dx_model *m, const tns_stream *s, const char *desc,
                      dx_err *err)
{
    int kind;
    if (state_kind(s, &kind, err))
        return -1;
    int slots = slots_of(kind), have = 0, want = 0;
    char on[96];
    for (int i = 0; i < m->nt; i++)
        for (int k = 0; k < slots && m->t[i].trainable; k++) {
            slot_name(on, sizeof on, k, &m->t[i]);
            want++;
            have += tns_stream_find(s, on) >= 0;
        }
    int named = tns_stream_find(s, "opt.optimizer") >= 0;
    if (have == 0 && !named)
        return 0; /* no state */
    for (int i = 0; i < m->nt && have != want; i++)
        for (int k = 0; k < slots && m->t[i].trainable; k++) {
            slot_name(on, sizeof on, k, &m->t[i]);
            if (tns_stream_find(s, on) < 0)
                return dx_fail(err, "checkpoint has %d of %d %s optimizer "
                               "frames: '%s' is missing", have, want,
                               dx_optim_name(kind), on);
        }
    if (kind == DX_OPTIM_ADAMW) {
        tns_frame *fs = tns_stream_need((tns_stream *)s, "opt.step", DX_I32,
                                        0, err);
        if (!fs)
            return dx_wrap(err, "checkpoint: ");
        int32_t step = *(const int32_t *)fs->data;
        if (step < 0)
            return dx_fail(err, "checkpoint: opt.step is %d, expected >= 0",
                           (int)step);
        m->optim_step = step;
    }
    for (int k = 0; k < slots; k++) {
        if (dx_model_alloc_state(m, k, err))
            return -1;
        for (int i = 0; i < m->nt; i++) {
            dx_tensor *t = &m->t[i];
            if (!t->trainable)
                continue;
            slot_name(on, sizeof on, k, t);
            if (take(s, on, t, t->state[k], desc, err))
                return -1;
            for (size_t j = 0; k == 1 && j < t->count; j++)
                if (t->state[k][j] < 0)
                    return dx_fail(err, "checkpoint frame '%s' element %zu "
                                   "is %g, expected a second moment >= 0",
                                   on, j, (double)t->state[k][j]);
        }
    }
    m->optim = kind;
    return 0;
}

/* A frame the checkpoint of m may hold. */
static int known_frame(const dx_model *m, const char *name)
{
    if (!strcmp(name, "meta.arch") || !strcmp(name, "meta.iter") ||
        !strcmp(name, "opt.optimizer"))
        return 1;
    if (!strcmp(name, "opt.step"))
        return m->optim == DX_OPTIM_ADAMW;
    const char *base = name;
    if (m->optim == DX_OPTIM_ADAMW && !strncmp(name, "opt.exp_avg_sq.", 15))
        base = name + 15;
    else if (!strncmp(name, "opt.", 4))
        base = name + 4;
    int i = dx_model_find(m, base);
    return i >= 0 && (base == name || m->t[i].trainable);
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
    char desc[160];
    dx_arch_describe(&a, desc, sizeof desc);
    if (check_frames(&a, s, desc, err) || dx_model_create(m, &a, err))
        return -1;
    m->iter = iter;
    for (int i = 0; i < m->nt; i++) {
        dx_tensor *t = &m->t[i];
        if (take(s, t->name, t, t->data, desc, err))
            goto fail;
        for (size_t j = 0; j < t->count && t->running &&
                           strstr(t->name, ".running_var"); j++)
            if (t->data[j] < 0) {
                dx_fail(err, "checkpoint frame '%s' element %zu is %g, "
                        "expected a variance >= 0", t->name, j,
                        (double)t->data[j]);
                goto fail;
            }
    }
    if (load_state(m, s, desc, err))
        goto fail;
    /* Anything else means another architecture or a corrupt file. */
    for (int j = 0; j < s->n; j++)
        if (!known_frame(m, s->v[j].name)) {
            dx_fail(err, "checkpoint has frame '%s', which %s does not "
                    "have (another architecture?)", s->v[j].name, desc);
            goto fail;
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
    if (with_opt && (m->optim == DX_OPTIM_NONE ||
                     !m->state[slots_of(m->optim) - 1]))
        return dx_fail(err, "the model has no optimizer state to write");
    char text[DX_ARCH_MAX_TEXT];
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
    if (!with_opt)
        return 0;
    if (m->optim == DX_OPTIM_ADAMW) {
        const char *nm = dx_optim_name(m->optim);
        int64_t nl = (int64_t)strlen(nm);
        int32_t step = m->optim_step > INT32_MAX ? INT32_MAX
                                                 : (int32_t)m->optim_step;
        f = view("opt.optimizer", DX_U8, 1, &nl, (size_t)nl, nm);
        if (tns_write(w, &f, err))
            return -1;
        f = view("opt.step", DX_I32, 0, NULL, 1, &step);
        if (tns_write(w, &f, err))
            return -1;
    }
    for (int k = 0; k < slots_of(m->optim); k++)
        for (int i = 0; i < m->nt; i++) {
            const dx_tensor *t = &m->t[i];
            char on[96];
            if (!t->trainable)
                continue;
            slot_name(on, sizeof on, k, t);
            f = view(on, DX_F32, t->rank, t->dims, t->count, t->state[k]);
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
