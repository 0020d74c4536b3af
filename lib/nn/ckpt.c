/* ckpt.c - checkpoints: a model to and from the frames of a tns segment;
 * see model.h and tns(5). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "nn/model.h"

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

static void opt_name(char *buf, size_t cap, const dx_tensor *t)
{
    snprintf(buf, cap, "opt.%s", t->name);
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
    int nopt = 0, nparams = 0;
    char on[96];
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
        if (!t->trainable)
            continue;
        opt_name(on, sizeof on, t);
        nparams++;
        nopt += tns_stream_find(s, on) >= 0;
    }
    if (nopt != 0 && nopt != nparams) {
        for (int i = 0; i < m->nt; i++) {
            opt_name(on, sizeof on, &m->t[i]);
            if (m->t[i].trainable && tns_stream_find(s, on) < 0) {
                dx_fail(err, "checkpoint has %d of %d optimizer frames: "
                        "'%s' is missing", nopt, nparams, on);
                goto fail;
            }
        }
    }
    if (nopt && dx_model_alloc_state(m, 0, err))
        goto fail;
    for (int i = 0; i < m->nt && nopt; i++) {
        dx_tensor *t = &m->t[i];
        opt_name(on, sizeof on, t);
        if (t->trainable && take(s, on, t, t->state[0], desc, err))
            goto fail;
    }
    /* Anything else means another architecture or a corrupt file. */
    for (int j = 0; j < s->n; j++) {
        const char *name = s->v[j].name;
        int known = !strcmp(name, "meta.arch") || !strcmp(name, "meta.iter");
        const char *base = strncmp(name, "opt.", 4) == 0 ? name + 4 : name;
        int i = known ? -1 : dx_model_find(m, base);
        known |= i >= 0 && (base == name || m->t[i].trainable);
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
    if (with_opt && !m->state[0])
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
    for (int i = 0; i < m->nt && with_opt; i++) {
        const dx_tensor *t = &m->t[i];
        char on[96];
        if (!t->trainable)
            continue;
        opt_name(on, sizeof on, t);
        f = view(on, DX_F32, t->rank, t->dims, t->count, t->state[0]);
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
