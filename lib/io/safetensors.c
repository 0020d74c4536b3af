/* safetensors.c - safetensors files through Jansson; see safetensors.h. */
#include "io/safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors data is written from little-endian memory");

/* The byte range of one tensor in the data. */
typedef struct range {
    int entry;
    uint64_t begin, end;
} range;

static int by_begin(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* A JSON integer in [0, max] into *v. */
static int uint_of(const json_t *j, uint64_t max, uint64_t *v)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        (uint64_t)json_integer_value(j) > max)
        return -1;
    *v = (uint64_t)json_integer_value(j);
    return 0;
}

static int read_metadata(dx_tset *ts, const json_t *meta, dx_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(meta))
        return dx_fail(err, "__metadata__ is not an object");
    json_object_foreach((json_t *)meta, k, v) {
        char name[DX_TS_MAX_NAME + 64];
        if (!json_is_string(v))
            return dx_fail(err, "__metadata__ '%.60s' is not a string", k);
        snprintf(name, sizeof name, "__metadata__.%s", k);
        dx_tentry *e = dx_tset_add(ts, "__metadata__", name, DX_TE_STR, err);
        if (!e)
            return -1;
        e->s = strdup(json_string_value(v));
        if (!e->s)
            return dx_fail(err, "out of memory");
    }
    return 0;
}

/* One tensor's header: its entry and its byte range. */
static int read_tensor(dx_tset *ts, const char *name, const json_t *t,
                       uint64_t dlen, range *r, dx_err *err)
{
    if (!json_is_object(t))
        return dx_fail(err, "header entry '%.60s' is not an object", name);
    const json_t *jd = json_object_get(t, "dtype"),
                 *js = json_object_get(t, "shape"),
                 *jo = json_object_get(t, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) ||
        json_array_size(jo) != 2)
        return dx_fail(err, "tensor '%.60s' lacks a dtype string, a shape "
                       "array or data_offsets [begin, end]", name);
    int dtype = dx_ttype_from_safetensors(json_string_value(jd));
    if (!dtype)
        return dx_fail(err, "tensor '%.60s' has dtype '%.20s', not one of "
                       "F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL", name,
                       json_string_value(jd));
    size_t rank = json_array_size(js);
    int64_t dims[DX_TS_MAX_RANK];
    if (rank > DX_TS_MAX_RANK)
        return dx_fail(err, "tensor '%.60s' has rank %zu, at most %d is "
                       "supported", name, rank, DX_TS_MAX_RANK);
    for (size_t i = 0; i < rank; i++) {
        uint64_t d;
        if (uint_of(json_array_get(js, i), INT64_MAX, &d))
            return dx_fail(err, "tensor '%.60s' shape item %zu is not a "
                           "non-negative integer", name, i);
        dims[i] = (int64_t)d;
    }
    if (uint_of(json_array_get(jo, 0), dlen, &r->begin) ||
        uint_of(json_array_get(jo, 1), dlen, &r->end) || r->end < r->begin)
        return dx_fail(err, "tensor '%.60s' data_offsets are not within the "
                       "%llu data bytes (truncated?)", name,
                       (unsigned long long)dlen);
    dx_tentry *e = dx_tset_add(ts, "", name, DX_TE_TENSOR, err);
    if (!e || dx_tentry_shape(e, dtype, (int)rank, dims, dlen, err))
        return -1;
    uint64_t want = (uint64_t)e->count * dx_ttype_size(dtype);
    if (r->end - r->begin != want) {
        char sh[128];
        return dx_fail(err, "tensor '%.60s' %s %s takes %llu bytes, its "
                       "data_offsets give %llu", name,
                       dx_ttype_safetensors(dtype),
                       dx_tentry_shape_str(e, sh, sizeof sh),
                       (unsigned long long)want,
                       (unsigned long long)(r->end - r->begin));
    }
    r->entry = ts->n - 1;
    return 0;
}

/* The ranges must tile [0, dlen) exactly. */
static int check_tiling(const dx_tset *ts, range *r, size_t n, uint64_t dlen,
                        dx_err *err)
{
    qsort(r, n, sizeof *r, by_begin);
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        if (r[k].begin != at)
            return dx_fail(err, "tensor '%.60s' starts at data byte %llu, "
                           "expected %llu (a gap or an overlap)",
                           ts->v[r[k].entry].name,
                           (unsigned long long)r[k].begin,
                           (unsigned long long)at);
        at = r[k].end;
    }
    if (at != dlen)
        return dx_fail(err, "%llu data bytes after the last tensor",
                       (unsigned long long)(dlen - at));
    return 0;
}

int dx_safetensors_read(dx_tset *ts, const unsigned char *buf, size_t len,
                        int flags, dx_err *err)
{
    if (len < 8)
        return dx_fail(err, "safetensors file of %zu bytes (truncated)", len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | buf[i];
    if (n > DX_ST_MAX_HEADER || n > len - 8)
        return dx_fail(err, "safetensors header of %llu bytes, the file has "
                       "%zu after the length and at most %llu are allowed",
                       (unsigned long long)n, len - 8,
                       (unsigned long long)DX_ST_MAX_HEADER);
    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)n,
                              JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dx_fail(err, "safetensors header: %s (line %d, column %d)",
                       je.text, je.line, je.column);
    const unsigned char *data = buf + 8 + n;
    uint64_t dlen = len - 8 - n;
    size_t cnt = json_is_object(root) ? json_object_size(root) : 0, nr = 0;
    range *r = calloc(cnt ? cnt : 1, sizeof *r);
    int rc = -1;
    const char *key;
    json_t *val;
    if (!json_is_object(root)) {
        dx_fail(err, "safetensors header is not a JSON object");
        goto out;
    }
    if (!r) {
        dx_fail(err, "out of memory");
        goto out;
    }
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (read_metadata(ts, val, err))
                goto out;
        } else if (read_tensor(ts, key, val, dlen, &r[nr++], err)) {
            goto out;
        }
    }
    if (check_tiling(ts, r, nr, dlen, err))
        goto out;
    for (size_t k = 0; k < nr && !(flags & DX_TS_LIST); k++) {
        dx_tentry *e = &ts->v[r[k].entry];
        if (dx_tentry_alloc(e, err))
            goto out;
        if (e->f)
            dx_ttype_to_f32(e->f, data + r[k].begin, e->dtype, e->count);
        else
            dx_ttype_to_i64(e->i, data + r[k].begin, e->dtype, e->count);
    }
    rc = 0;
out:
    free(r);
    json_decref(root);
    return rc;
}

/* ---- writing ---- */

static size_t bytes_of(const dx_tentry *e)
{
    return e->kind == DX_TE_INT ? 8 : e->count * (e->f ? 4 : 8);
}

static json_t *header(const dx_tset *ts)
{
    json_t *root = json_object(), *meta = json_object();
    int bad = !root || !meta ||
              json_object_set_new(meta, "format", json_string("pt")) ||
              json_object_set_new(root, "__metadata__", meta);
    uint64_t at = 0;
    for (int k = 0; k < ts->n && !bad; k++) {
        const dx_tentry *e = &ts->v[k];
        json_t *t = json_object(), *shape = json_array(),
               *offs = json_array();
        int scalar = e->kind == DX_TE_INT;
        for (int i = 0; i < e->rank && !scalar && shape; i++)
            bad |= json_array_append_new(shape, json_integer(e->dims[i]));
        bad |= !t || !shape || !offs ||
               json_array_append_new(offs, json_integer((json_int_t)at)) ||
               json_array_append_new(
                   offs, json_integer((json_int_t)(at + bytes_of(e))));
        bad |= !t || json_object_set_new(t, "dtype",
                                         json_string(e->f ? "F32" : "I64")) ||
               json_object_set_new(t, "shape", shape) ||
               json_object_set_new(t, "data_offsets", offs) ||
               json_object_set_new(root, e->name, t);
        at += bytes_of(e);
    }
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int dx_safetensors_write(const dx_tset *ts, const char *path, dx_err *err)
{
    json_t *root = header(ts);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return dx_fail(err, "%s: cannot build the safetensors header", path);
    size_t n = strlen(text), pad = (8 - n % 8) % 8;
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)(n + pad) >> (8 * i));
    dx_atomic a;
    if (dx_atomic_open(&a, path, err)) {
        free(text);
        return -1;
    }
    int ok = fwrite(len, 1, 8, a.fp) == 8 && fwrite(text, 1, n, a.fp) == n;
    for (size_t i = 0; i < pad && ok; i++)
        ok = fputc(' ', a.fp) != EOF;
    for (int k = 0; k < ts->n && ok; k++) {
        const dx_tentry *e = &ts->v[k];
        const void *d = e->f ? (const void *)e->f : (const void *)e->i;
        ok = fwrite(d, 1, bytes_of(e), a.fp) == bytes_of(e);
    }
    free(text);
    if (!ok) {
        int e = errno;
        dx_atomic_abort(&a);
        return dx_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return dx_atomic_commit(&a, err);
}
