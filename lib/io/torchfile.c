/* torchfile.c - torch.save files, zip and legacy; see torchfile.h.
 *
 * The layouts follow torch/serialization.py of PyTorch 1.13 (_save,
 * _legacy_save, _load, _legacy_load) and its zip reader
 * (caffe2/serialize/inline_container.cc): the folder of the first entry
 * is the archive's, and P/version must be there.
 */
#include "io/torchfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"
#include "io/zipfile.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "torch files are written from little-endian memory");

#define MAX_PICKLE ((uint64_t)1 << 30)
#define MAX_VERSION 10

/* A tensor of the pickle: its entry, and where its elements are. */
typedef struct view {
    int entry;
    const dx_pv *t;   /* the TENSOR value */
    int st;           /* index into storages, after resolve() */
} view;

typedef struct storage {
    const char *key;
    int dtype;
    int64_t numel;
    const unsigned char *data; /* NULL until read */
    void *owned;               /* data read from a zip entry */
    int listed;                /* legacy: named in the key list */
} storage;

typedef struct walker {
    dx_tset *ts;
    int flags;
    dx_err *err;
    view *v;
    int nv, cv;
    storage *st;
    int nst;
    uint64_t out_bytes; /* converted size of every tensor */
    char path[DX_TS_MAX_NAME + 2];
} walker;

static void walker_free(walker *w)
{
    for (int k = 0; k < w->nst; k++)
        free(w->st[k].owned);
    free(w->st);
    free(w->v);
}

/* ---- from the pickle's tree to entries ---- */

static int add_leaf(walker *w, size_t glen, const dx_pv *v)
{
    char group[DX_TS_MAX_NAME + 2];
    memcpy(group, w->path, glen);
    group[glen] = 0;
    static const int KIND[DX_PV_END] = {
        [DX_PV_NONE] = DX_TE_NONE,   [DX_PV_BOOL] = DX_TE_BOOL,
        [DX_PV_INT] = DX_TE_INT,     [DX_PV_FLOAT] = DX_TE_FLOAT,
        [DX_PV_STR] = DX_TE_STR,     [DX_PV_BYTES] = DX_TE_STR,
        [DX_PV_TENSOR] = DX_TE_TENSOR};
    if (v->kind == DX_PV_GLOBAL || v->kind == DX_PV_STORAGE)
        return dx_fail(w->err, "'%s' is a bare %s, expected a tensor or "
                       "plain data", w->path, dx_pv_kind_name(v->kind));
    if (!w->path[0])
        return dx_fail(w->err, "the file holds a single %s, not a dict of "
                       "tensors (a state_dict)", dx_pv_kind_name(v->kind));
    dx_tentry *e = dx_tset_add(w->ts, group, w->path, KIND[v->kind],
                               w->err);
    if (!e)
        return -1;
    switch (v->kind) {
    case DX_PV_BOOL:
    case DX_PV_INT:
        e->i = malloc(sizeof *e->i);
        if (!e->i)
            return dx_fail(w->err, "out of memory");
        e->i[0] = v->u.i;
        return 0;
    case DX_PV_FLOAT:
        e->x = v->u.f;
        return 0;
    case DX_PV_STR:
    case DX_PV_BYTES:
        e->s = strdup(v->u.str.s);
        return e->s ? 0 : dx_fail(w->err, "out of memory");
    case DX_PV_NONE:
        return 0;
    default:
        break;
    }
    const dx_pv *st = v->u.t.storage;
    if (dx_tentry_shape(e, st->u.st.dtype, v->u.t.rank, v->u.t.size,
                        DX_TS_MAX_FILE, w->err))
        return -1;
    uint64_t out = (uint64_t)e->count * (dx_ttype_is_float(e->dtype) ? 4 : 8);
    w->out_bytes += out;
    if (w->nv == w->cv) {
        int cap = w->cv ? 2 * w->cv : 64;
        view *nv = realloc(w->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return dx_fail(w->err, "out of memory");
        w->v = nv;
        w->cv = cap;
    }
    w->v[w->nv++] = (view){w->ts->n - 1, v, -1};
    return 0;
}

/* Append ".key" (or "key" at the top) to the path. */
static int path_push(walker *w, size_t len, const char *key)
{
    size_t k = strlen(key), sep = len > 0;
    if (len + sep + k > DX_TS_MAX_NAME)
        return dx_fail(w->err, "a key path longer than %d bytes under "
                       "'%.60s'", DX_TS_MAX_NAME, w->path);
    if (sep)
        w->path[len] = '.';
    memcpy(w->path + len + sep, key, k + 1);
    return 0;
}

static int is_container(const dx_pv *v)
{
    return v->kind == DX_PV_DICT || v->kind == DX_PV_LIST ||
           v->kind == DX_PV_TUPLE;
}

/* Entries for every leaf under v, whose path is w->path[0..len). */
static int walk(walker *w, const dx_pv *v, size_t len, int depth)
{
    if (depth > DX_PK_MAX_DEPTH)
        return dx_fail(w->err, "containers nested deeper than %d at "
                       "'%.60s'", DX_PK_MAX_DEPTH, w->path);
    int dict = v->kind == DX_PV_DICT;
    if (!is_container(v))
        return add_leaf(w, len, v); /* the root itself */
    for (size_t i = 0; i < v->u.seq.n; i++) {
        char key[32];
        const char *k = key;
        const dx_pv *child;
        if (dict) {
            const dx_pv *kv = v->u.seq.item[2 * i];
            child = v->u.seq.item[2 * i + 1];
            if (kv->kind == DX_PV_STR || kv->kind == DX_PV_BYTES) {
                k = kv->u.str.s;
                if (strlen(k) != kv->u.str.len)
                    return dx_fail(w->err, "a dict key under '%.60s' holds "
                                   "a NUL byte", w->path);
            } else if (kv->kind == DX_PV_INT) {
                snprintf(key, sizeof key, "%lld", (long long)kv->u.i);
            } else {
                return dx_fail(w->err, "a dict key under '%.60s' is a %s, "
                               "expected a str or an int", w->path,
                               dx_pv_kind_name(kv->kind));
            }
        } else {
            child = v->u.seq.item[i];
            snprintf(key, sizeof key, "%zu", i);
        }
        if (path_push(w, len, k))
            return -1;
        if (is_container(child) ? walk(w, child, strlen(w->path), depth + 1)
                                : add_leaf(w, len, child))
            return -1;
        w->path[len] = 0;
    }
    return 0;
}

/* ---- storages ---- */

static const dx_pv *st_of(const view *v)
{
    return v->t->u.t.storage;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(st_of(a)->u.st.key, st_of(b)->u.st.key);
}

/* One storage per key; ids of one key must agree.  Views end up sorted
 * by storage. */
static int resolve(walker *w)
{
    qsort(w->v, (size_t)w->nv, sizeof *w->v, by_key);
    w->st = calloc((size_t)(w->nv ? w->nv : 1), sizeof *w->st);
    if (!w->st)
        return dx_fail(w->err, "out of memory");
    for (int k = 0; k < w->nv; k++) {
        const dx_pv *s = st_of(&w->v[k]);
        storage *last = w->nst ? &w->st[w->nst - 1] : NULL;
        if (!last || strcmp(last->key, s->u.st.key) != 0) {
            last = &w->st[w->nst++];
            last->key = s->u.st.key;
            last->dtype = s->u.st.dtype;
            last->numel = s->u.st.numel;
            if ((uint64_t)last->numel > DX_TS_MAX_FILE /
                                            dx_ttype_size(last->dtype))
                return dx_fail(w->err, "storage '%s' of %lld elements is "
                               "larger than a file may be", last->key,
                               (long long)last->numel);
        } else if (last->dtype != s->u.st.dtype ||
                   last->numel != s->u.st.numel) {
            return dx_fail(w->err, "storage '%s' is %s of %lld elements in "
                           "one place and %s of %lld in another", last->key,
                           dx_ttype_name(last->dtype), (long long)last->numel,
                           dx_ttype_name(s->u.st.dtype),
                           (long long)s->u.st.numel);
        }
        w->v[k].st = w->nst - 1;
    }
    return 0;
}

/* Every element of each view inside its storage; and the converted
 * tensors no larger than a bound that views repeating a storage (stride
 * 0, or many views of one storage) could otherwise exceed. */
static int check_views(walker *w, size_t file_len)
{
    uint64_t cap = 8 * (uint64_t)file_len + ((uint64_t)1 << 20);
    if (w->out_bytes > cap)
        return dx_fail(w->err, "the tensors would take %llu bytes, more than "
                       "8 times the file's size (views repeating a storage?)",
                       (unsigned long long)w->out_bytes);
    for (int k = 0; k < w->nv; k++) {
        const dx_pv *t = w->v[k].t;
        const storage *s = &w->st[w->v[k].st];
        const dx_tentry *e = &w->ts->v[w->v[k].entry];
        uint64_t last = (uint64_t)t->u.t.offset;
        int ok = last <= (uint64_t)s->numel;
        for (int i = 0; i < t->u.t.rank && ok && e->count; i++) {
            uint64_t span = (uint64_t)(t->u.t.size[i] - 1),
                     str = (uint64_t)t->u.t.stride[i];
            if (span && str > (UINT64_MAX / 2 - last) / span)
                ok = 0;
            else
                last += span * str;
        }
        if (ok && e->count && last >= (uint64_t)s->numel)
            ok = 0;
        if (!ok)
            return dx_fail(w->err, "tensor '%s' (offset %lld) reaches past "
                           "the end of its storage '%s' of %lld elements",
                           e->name, (long long)t->u.t.offset, s->key,
                           (long long)s->numel);
    }
    return 0;
}

/* Convert the elements of view k from its storage into its entry. */
static int gather(walker *w, const view *v)
{
    dx_tentry *e = &w->ts->v[v->entry];
    const storage *s = &w->st[v->st];
    const dx_pv *t = v->t;
    if (dx_tentry_alloc(e, w->err))
        return -1;
    size_t sz = dx_ttype_size(e->dtype);
    int rank = t->u.t.rank, contiguous = 1;
    int64_t expect = 1;
    for (int i = rank - 1; i >= 0; i--) {
        if (t->u.t.size[i] != 1 && t->u.t.stride[i] != expect)
            contiguous = 0;
        expect *= t->u.t.size[i];
    }
    const unsigned char *base = s->data + (size_t)t->u.t.offset * sz;
    int isf = dx_ttype_is_float(e->dtype);
    if (contiguous || e->count == 0) {
        if (isf)
            dx_ttype_to_f32(e->f, base, e->dtype, e->count);
        else
            dx_ttype_to_i64(e->i, base, e->dtype, e->count);
        return 0;
    }
    int64_t idx[DX_TS_MAX_RANK] = {0};
    size_t at = 0; /* element offset from base */
    for (size_t j = 0; j < e->count; j++) {
        if (isf)
            dx_ttype_to_f32(e->f + j, base + at * sz, e->dtype, 1);
        else
            dx_ttype_to_i64(e->i + j, base + at * sz, e->dtype, 1);
        for (int i = rank - 1; i >= 0; i--) { /* row-major odometer */
            at += (size_t)t->u.t.stride[i];
            if (++idx[i] < t->u.t.size[i])
                break;
            at -= (size_t)(t->u.t.stride[i] * t->u.t.size[i]);
            idx[i] = 0;
        }
    }
    return 0;
}

/* Convert every view of storage k, which has data. */
static int gather_storage(walker *w, int k, int *next)
{
    for (; *next < w->nv && w->v[*next].st == k; (*next)++)
        if (gather(w, &w->v[*next]))
            return -1;
    return 0;
}

static int walk_root(walker *w, const dx_pv *root)
{
    w->path[0] = 0;
    if (walk(w, root, 0, 0) || resolve(w))
        return -1;
    return 0;
}

/* ---- the zip format ---- */

/* The folder of the first entry ("archive", or the file's old name). */
static int zip_prefix(const dx_zip *z, char *prefix, size_t cap)
{
    const char *first = z->n > 0 ? dx_zip_name(z, 0) : NULL;
    const char *slash = first ? strchr(first, '/') : NULL;
    if (!slash || (size_t)(slash - first) + 1 >= cap)
        return -1;
    memcpy(prefix, first, (size_t)(slash - first) + 1);
    prefix[slash - first + 1] = 0;
    return 0;
}

static int64_t zip_record(const dx_zip *z, const char *prefix,
                          const char *name)
{
    char full[DX_TS_MAX_NAME + 600];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return dx_zip_find(z, full);
}

int dx_torch_is_zip(const unsigned char *buf, size_t len)
{
    dx_zip z;
    char prefix[256];
    if (dx_zip_open(&z, buf, len, NULL))
        return 0;
    int yes = zip_prefix(&z, prefix, sizeof prefix) == 0 &&
              zip_record(&z, prefix, "data.pkl") >= 0;
    dx_zip_close(&z);
    return yes;
}

/* A small text record (version, byteorder) into buf, without trailing
 * blanks and line ends. */
static int small_record(const dx_zip *z, int64_t i, char *buf, size_t cap,
                        dx_err *err)
{
    uint64_t size;
    if (dx_zip_size(z, i, cap - 1, &size, err) ||
        dx_zip_read(z, i, buf, size, err))
        return -1;
    buf[size] = 0;
    while (size && (buf[size - 1] == '\n' || buf[size - 1] == '\r' ||
                    buf[size - 1] == ' '))
        buf[--size] = 0;
    return 0;
}

static int check_records(const dx_zip *z, const char *prefix, dx_err *err)
{
    char text[64];
    if (zip_record(z, prefix, "constants.pkl") >= 0)
        return dx_fail(err, "a TorchScript archive (torch.jit.save), not a "
                       "torch.save file: save its state_dict() instead");
    int64_t i = zip_record(z, prefix, ".data/version");
    if (i < 0)
        i = zip_record(z, prefix, "version");
    if (i < 0)
        return dx_fail(err, "zip has no %sversion record: not a torch.save "
                       "file", prefix);
    if (small_record(z, i, text, sizeof text, err))
        return -1;
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end || v < 1 || v > MAX_VERSION)
        return dx_fail(err, "format version '%.20s', expected 1 to %d", text,
                       MAX_VERSION);
    i = zip_record(z, prefix, "byteorder");
    if (i >= 0) {
        if (small_record(z, i, text, sizeof text, err))
            return -1;
        if (strcmp(text, "little") != 0)
            return dx_fail(err, "byte order '%.20s': only little-endian "
                           "files are read", text);
    }
    return 0;
}

int dx_torch_read_zip(dx_tset *ts, const unsigned char *buf, size_t len,
                      int flags, dx_err *err)
{
    dx_zip z;
    dx_pickle p = {0};
    walker w = {.ts = ts, .flags = flags, .err = err};
    void *pkl = NULL;
    uint64_t pkl_len;
    char prefix[256];
    int rc = -1;
    if (dx_zip_open(&z, buf, len, err))
        return -1;
    if (zip_prefix(&z, prefix, sizeof prefix)) {
        dx_fail(err, "the zip's first entry is not in a folder: not a "
                "torch.save file");
        goto out;
    }
    int64_t ip = zip_record(&z, prefix, "data.pkl");
    if (ip < 0) {
        dx_fail(err, "zip has no %sdata.pkl: not a torch.save file", prefix);
        goto out;
    }
    if (check_records(&z, prefix, err) ||
        dx_zip_load(&z, ip, MAX_PICKLE, &pkl, &pkl_len, err))
        goto out;
    if (dx_pickle_load(&p, pkl, (size_t)pkl_len, DX_PK_TORCH, err)) {
        dx_wrap(err, "%sdata.pkl: ", prefix);
        goto out;
    }
    if (p.used != pkl_len) {
        dx_fail(err, "%sdata.pkl has %llu bytes after its pickle", prefix,
                (unsigned long long)(pkl_len - p.used));
        goto out;
    }
    if (walk_root(&w, p.root))
        goto out;
    for (int k = 0; k < w.nst; k++) {
        storage *s = &w.st[k];
        char rec[DX_TS_MAX_NAME + 300];
        snprintf(rec, sizeof rec, "data/%s", s->key);
        int64_t i = zip_record(&z, prefix, rec);
        uint64_t want = (uint64_t)s->numel * dx_ttype_size(s->dtype), size;
        if (i < 0) {
            dx_fail(err, "storage %s%s is missing", prefix, rec);
            goto out;
        }
        if (dx_zip_size(&z, i, DX_TS_MAX_FILE, &size, err))
            goto out;
        if (size != want) {
            dx_fail(err, "storage %s%s holds %llu bytes, its tensors' id says "
                    "%lld %s elements (%llu bytes)", prefix, rec,
                    (unsigned long long)size, (long long)s->numel,
                    dx_ttype_name(s->dtype), (unsigned long long)want);
            goto out;
        }
    }
    if (check_views(&w, len))
        goto out;
    for (int k = 0, next = 0; k < w.nst && !(flags & DX_TS_LIST); k++) {
        storage *s = &w.st[k];
        char rec[DX_TS_MAX_NAME + 300];
        uint64_t size;
        snprintf(rec, sizeof rec, "data/%s", s->key);
        if (dx_zip_load(&z, zip_record(&z, prefix, rec), DX_TS_MAX_FILE,
                        &s->owned, &size, err))
            goto out;
        s->data = s->owned;
        if (gather_storage(&w, k, &next))
            goto out;
        free(s->owned);
        s->owned = NULL;
    }
    rc = 0;
out:
    walker_free(&w);
    dx_pickle_free(&p);
    free(pkl);
    dx_zip_close(&z);
    return rc;
}

/* ---- the legacy format ---- */

/* The magic-number pickle: PROTO n, [FRAME], LONG1 of 10 bytes, STOP. */
static int legacy_magic(const unsigned char *buf, size_t len, size_t *pos,
                        dx_err *err)
{
    static const unsigned char MAGIC[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
                                          '.'};
    size_t at = 2;
    if (len >= 11 && buf[0] == 0x80 && buf[2] == 0x95)
        at += 9;
    if (len < at + sizeof MAGIC || buf[0] != 0x80 || buf[1] < 2 ||
        buf[1] > 5 || memcmp(buf + at, MAGIC, sizeof MAGIC) != 0)
        return dx_fail(err, "no legacy torch magic number");
    *pos = at + sizeof MAGIC;
    return 0;
}

/* The next pickle at *pos, which then moves past it. */
static int next_pickle(dx_pickle *p, const unsigned char *buf, size_t len,
                       size_t *pos, int flags, const char *what, dx_err *err)
{
    if (dx_pickle_load(p, buf + *pos, len - *pos, flags, err))
        return dx_wrap(err, "%s (at byte %zu): ", what, *pos);
    *pos += p->used;
    return 0;
}

static int find_storage(const walker *w, const char *key)
{
    int lo = 0, hi = w->nst - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(key, w->st[mid].key);
        if (!c)
            return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* The storage-key list, then each storage: int64 count, raw bytes. */
static int legacy_storages(walker *w, const dx_pv *keys,
                           const unsigned char *buf, size_t len, size_t pos)
{
    if (keys->kind != DX_PV_LIST)
        return dx_fail(w->err, "the storage key list is a %s",
                       dx_pv_kind_name(keys->kind));
    for (size_t j = 0; j < keys->u.seq.n; j++) {
        const dx_pv *kv = keys->u.seq.item[j];
        int k = kv->kind == DX_PV_STR || kv->kind == DX_PV_BYTES
                    ? find_storage(w, kv->u.str.s)
                    : -1;
        if (k < 0)
            return dx_fail(w->err, "storage key %zu is not a storage of the "
                           "saved object", j);
        storage *s = &w->st[k];
        if (s->listed++)
            return dx_fail(w->err, "storage '%s' is listed twice", s->key);
        if (len - pos < 8)
            return dx_fail(w->err, "file ends before storage '%s' (byte %zu; "
                           "truncated)", s->key, pos);
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
            n = n << 8 | buf[pos + (size_t)i];
        pos += 8;
        if (n != (uint64_t)s->numel)
            return dx_fail(w->err, "storage '%s' holds %llu elements, its "
                           "tensors' id says %lld", s->key,
                           (unsigned long long)n, (long long)s->numel);
        uint64_t bytes = n * dx_ttype_size(s->dtype);
        if (bytes > len - pos)
            return dx_fail(w->err, "storage '%s' needs %llu bytes, %zu left "
                           "(truncated)", s->key, (unsigned long long)bytes,
                           len - pos);
        s->data = buf + pos;
        pos += (size_t)bytes;
    }
    for (int k = 0; k < w->nst; k++)
        if (!w->st[k].listed)
            return dx_fail(w->err, "storage '%s' is not in the key list",
                           w->st[k].key);
    if (pos != len)
        return dx_fail(w->err, "%zu bytes after the last storage", len - pos);
    return 0;
}

int dx_torch_read_legacy(dx_tset *ts, const unsigned char *buf, size_t len,
                         int flags, dx_err *err)
{
    dx_pickle ver = {0}, info = {0}, obj = {0}, keys = {0};
    walker w = {.ts = ts, .flags = flags, .err = err};
    size_t pos = 0;
    int rc = -1;
    if (legacy_magic(buf, len, &pos, err) ||
        next_pickle(&ver, buf, len, &pos, 0, "protocol version", err))
        goto out;
    if (ver.root->kind != DX_PV_INT || ver.root->u.i != 1001) {
        dx_fail(err, "legacy protocol version is not 1001");
        goto out;
    }
    if (next_pickle(&info, buf, len, &pos, 0, "system info", err))
        goto out;
    const dx_pv *le = dx_pv_get(info.root, "little_endian");
    if (!le || le->kind != DX_PV_BOOL || !le->u.i) {
        dx_fail(err, "system info does not say little_endian=True: only "
                "little-endian files are read");
        goto out;
    }
    if (next_pickle(&obj, buf, len, &pos, DX_PK_TORCH, "saved object",
                    err) ||
        next_pickle(&keys, buf, len, &pos, 0, "storage keys", err) ||
        walk_root(&w, obj.root) ||
        legacy_storages(&w, keys.root, buf, len, pos) ||
        check_views(&w, len))
        goto out;
    for (int k = 0, next = 0; k < w.nst && !(flags & DX_TS_LIST); k++)
        if (gather_storage(&w, k, &next))
            goto out;
    rc = 0;
out:
    walker_free(&w);
    dx_pickle_free(&ver);
    dx_pickle_free(&info);
    dx_pickle_free(&obj);
    dx_pickle_free(&keys);
    return rc;
}

/* ---- writing the zip format ---- */

/* Top-level items in order of first appearance: a group or an entry. */
static int group_seen(const dx_tset *ts, int k)
{
    for (int j = 0; j < k; j++)
        if (!strcmp(ts->v[j].group, ts->v[k].group))
            return 1;
    return 0;
}

static void write_tensor(dx_pkw *p, const dx_tentry *e, int key)
{
    char name[24];
    snprintf(name, sizeof name, "%d", key);
    dx_pkw_tensor(p, e->f ? DX_TT_F32 : DX_TT_I64, name, e->rank, e->dims);
}

/* An OrderedDict of group g's tensors, keys without the "g." prefix.
 * *key counts storages in pickle order. */
static int write_group(dx_pkw *p, const dx_tset *ts, const char *g,
                       int *key, dx_err *err)
{
    size_t gl = strlen(g);
    dx_pkw_ordered_dict(p);
    dx_pkw_mark(p);
    for (int k = 0; k < ts->n; k++) {
        const dx_tentry *e = &ts->v[k];
        if (strcmp(e->group, g) != 0)
            continue;
        if (e->kind != DX_TE_TENSOR ||
            (gl && (strncmp(e->name, g, gl) != 0 || e->name[gl] != '.')))
            return dx_fail(err, "entry '%s' of group '%s' is not a tensor "
                           "named '%s.*'", e->name, g, g);
        dx_pkw_str(p, e->name + (gl ? gl + 1 : 0));
        write_tensor(p, e, (*key)++);
    }
    dx_pkw_setitems(p);
    return 0;
}

static int write_pickle(dx_pkw *p, const dx_tset *ts, dx_err *err)
{
    int flat = 1, key = 0;
    for (int k = 0; k < ts->n; k++)
        flat &= !ts->v[k].group[0] && ts->v[k].kind == DX_TE_TENSOR;
    dx_pkw_init(p);
    if (flat)
        return write_group(p, ts, "", &key, err) ? -1
                                                   : dx_pkw_finish(p, err);
    dx_pkw_empty_dict(p);
    dx_pkw_mark(p);
    for (int k = 0; k < ts->n; k++) {
        const dx_tentry *e = &ts->v[k];
        if (e->group[0]) {
            if (strchr(e->group, '.'))
                return dx_fail(err, "group '%s' is nested; one level is "
                               "written", e->group);
            if (group_seen(ts, k))
                continue;
            dx_pkw_str(p, e->group);
            if (write_group(p, ts, e->group, &key, err))
                return -1;
            continue;
        }
        dx_pkw_str(p, e->name);
        if (e->kind == DX_TE_INT)
            dx_pkw_int(p, e->i[0]);
        else
            write_tensor(p, e, key++);
    }
    dx_pkw_setitems(p);
    return dx_pkw_finish(p, err);
}

/* The tensors in pickle order (groups gathered at their first entry). */
static int storage_order(const dx_tset *ts, int *order)
{
    int n = 0;
    for (int k = 0; k < ts->n; k++) {
        if (ts->v[k].group[0] && group_seen(ts, k))
            continue;
        for (int j = k; j < ts->n; j++)
            if ((j == k || (ts->v[k].group[0] &&
                            !strcmp(ts->v[j].group, ts->v[k].group))) &&
                ts->v[j].kind == DX_TE_TENSOR)
                order[n++] = j;
    }
    return n;
}

int dx_torch_write(const dx_tset *ts, const char *path, dx_err *err)
{
    dx_pkw p = {0};
    dx_zipw z = {0};
    char(*names)[40] = calloc((size_t)ts->n + 1, sizeof *names);
    int *order = calloc((size_t)ts->n + 1, sizeof *order);
    int rc = -1;
    if (!names || !order) {
        dx_fail(err, "out of memory");
        goto out;
    }
    if (write_pickle(&p, ts, err)) {
        dx_wrap(err, "%s: ", path);
        goto out;
    }
    if (dx_zipw_open(&z, err) ||
        dx_zipw_add(&z, "archive/data.pkl", p.buf, p.len, err))
        goto out;
    int n = storage_order(ts, order);
    for (int s = 0; s < n; s++) {
        const dx_tentry *e = &ts->v[order[s]];
        snprintf(names[s], sizeof names[s], "archive/data/%d", s);
        const void *data = e->f ? (const void *)e->f : (const void *)e->i;
        if (dx_zipw_add(&z, names[s], data, e->count * (e->f ? 4 : 8), err))
            goto out;
    }
    if (dx_zipw_add(&z, "archive/version", "3\n", 2, err))
        goto out;
    rc = dx_zipw_commit(&z, path, err);
out:
    if (rc)
        dx_zipw_abort(&z);
    dx_pkw_free(&p);
    free(names);
    free(order);
    return rc;
}
