/* tensorset.c - the neutral form of a foreign weights file, its element
 * types, and the dispatch to the formats; see tensorset.h. */
#include "io/tensorset.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npz.h"
#include "io/safetensors.h"
#include "io/torchfile.h"
#include "io/zipfile.h"

/* ---- element types ---- */

static const struct ttype {
    const char *name;
    size_t size;
    int is_float;
    const char *torch; /* torch.<torch> typed storage */
    const char *st;    /* safetensors dtype */
    const char *npy;   /* NumPy descr (NULL: NumPy has no such type) */
} TT[] = {
    [0] = {"?", 0, 0, NULL, NULL, NULL},
    [DX_TT_F32] = {"f32", 4, 1, "FloatStorage", "F32", "<f4"},
    [DX_TT_F16] = {"f16", 2, 1, "HalfStorage", "F16", "<f2"},
    [DX_TT_BF16] = {"bf16", 2, 1, "BFloat16Storage", "BF16", NULL},
    [DX_TT_F64] = {"f64", 8, 1, "DoubleStorage", "F64", "<f8"},
    [DX_TT_I64] = {"i64", 8, 0, "LongStorage", "I64", "<i8"},
    [DX_TT_I32] = {"i32", 4, 0, "IntStorage", "I32", "<i4"},
    [DX_TT_I16] = {"i16", 2, 0, "ShortStorage", "I16", "<i2"},
    [DX_TT_I8] = {"i8", 1, 0, "CharStorage", "I8", "|i1"},
    [DX_TT_U8] = {"u8", 1, 0, "ByteStorage", "U8", "|u1"},
    [DX_TT_BOOL] = {"bool", 1, 0, "BoolStorage", "BOOL", "|b1"},
};
_Static_assert(sizeof TT / sizeof TT[0] == DX_TT_END,
               "one row of TT per dx_ttype");

static int tt_ok(int t)
{
    return t > 0 && t < DX_TT_END;
}

size_t dx_ttype_size(int t)
{
    return tt_ok(t) ? TT[t].size : 0;
}

const char *dx_ttype_name(int t)
{
    return tt_ok(t) ? TT[t].name : "?";
}

int dx_ttype_is_float(int t)
{
    return tt_ok(t) && TT[t].is_float;
}

const char *dx_ttype_torch(int t)
{
    return tt_ok(t) ? TT[t].torch : NULL;
}

const char *dx_ttype_safetensors(int t)
{
    return tt_ok(t) ? TT[t].st : NULL;
}

const char *dx_ttype_npy(int t)
{
    return tt_ok(t) ? TT[t].npy : NULL;
}

int dx_ttype_from_torch(const char *s)
{
    for (int t = 1; t < DX_TT_END; t++)
        if (!strcmp(s, TT[t].torch))
            return t;
    return 0;
}

int dx_ttype_from_safetensors(const char *s)
{
    for (int t = 1; t < DX_TT_END; t++)
        if (!strcmp(s, TT[t].st))
            return t;
    return 0;
}

int dx_ttype_from_npy(const char *d)
{
    for (int t = 1; t < DX_TT_END; t++) {
        const char *n = TT[t].npy;
        if (!n)
            continue;
        /* one-byte types may be spelt with any byte-order mark */
        if (!strcmp(d, n) ||
            (TT[t].size == 1 && strlen(d) == 3 && strchr("<|=", d[0]) &&
             !strcmp(d + 1, n + 1)))
            return t;
    }
    return 0;
}

/* IEEE half to float, subnormals, infinities and NaN included. */
static float half(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (e == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    if (e == 31)
        u = sign | 0x7f800000u | man << 13;
    else
        u = sign | (e + 112) << 23 | man << 13;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint64_t le_bytes(const unsigned char *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

void dx_ttype_to_f32(float *dst, const void *src, int t, size_t count)
{
    const unsigned char *s = src;
    size_t sz = dx_ttype_size(t);
    for (size_t j = 0; j < count; j++, s += sz) {
        uint64_t u = le_bytes(s, sz);
        switch (t) {
        case DX_TT_F32: {
            uint32_t w = (uint32_t)u;
            memcpy(&dst[j], &w, 4);
            break;
        }
        case DX_TT_F16:
            dst[j] = half((uint16_t)u);
            break;
        case DX_TT_BF16: {
            uint32_t w = (uint32_t)u << 16;
            memcpy(&dst[j], &w, 4);
            break;
        }
        case DX_TT_F64: {
            double d;
            memcpy(&d, &u, 8);
            dst[j] = (float)d;
            break;
        }
        default:
            dst[j] = 0;
        }
    }
}

void dx_ttype_to_i64(int64_t *dst, const void *src, int t, size_t count)
{
    const unsigned char *s = src;
    size_t sz = dx_ttype_size(t);
    for (size_t j = 0; j < count; j++, s += sz) {
        uint64_t u = le_bytes(s, sz);
        if (t == DX_TT_U8 || t == DX_TT_BOOL || sz == 8)
            memcpy(&dst[j], &u, 8);
        else /* sign-extend i8, i16, i32 */
            dst[j] = (int64_t)(u << (64 - 8 * sz)) >> (64 - 8 * sz);
        if (t == DX_TT_BOOL)
            dst[j] = dst[j] != 0;
    }
}

/* ---- entries ---- */

static const char *const FORMAT[DX_TF_END] = {
    [DX_TF_NONE] = "unknown",
    [DX_TF_TORCH] = "PyTorch zip",
    [DX_TF_TORCH_LEGACY] = "PyTorch legacy",
    [DX_TF_SAFETENSORS] = "safetensors",
    [DX_TF_NPZ] = "NumPy .npz"};

const char *dx_tformat_name(int f)
{
    return f >= 0 && f < DX_TF_END ? FORMAT[f] : "unknown";
}

void dx_tset_init(dx_tset *ts)
{
    memset(ts, 0, sizeof *ts);
}

void dx_tset_free(dx_tset *ts)
{
    for (int k = 0; k < ts->n; k++) {
        dx_tentry *e = &ts->v[k];
        free(e->name);
        free(e->group);
        free(e->f);
        free(e->i);
        free(e->s);
    }
    free(ts->v);
    memset(ts, 0, sizeof *ts);
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DX_TS_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

dx_tentry *dx_tset_add(dx_tset *ts, const char *group, const char *name,
                       int kind, dx_err *err)
{
    if (!name_ok(name)) {
        size_t n = strlen(name);
        dx_fail(err, "entry name '%.60s' is %s", name,
                n == 0 ? "empty"
                : n > DX_TS_MAX_NAME ? "too long"
                                     : "not printable text");
        return NULL;
    }
    if (ts->n == INT32_MAX / 2) {
        dx_fail(err, "too many entries");
        return NULL;
    }
    if (ts->n == ts->cap) {
        int cap = ts->cap ? 2 * ts->cap : 64;
        dx_tentry *v = realloc(ts->v, (size_t)cap * sizeof *v);
        if (!v) {
            dx_fail(err, "out of memory");
            return NULL;
        }
        ts->v = v;
        ts->cap = cap;
    }
    dx_tentry *e = &ts->v[ts->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->group = strdup(group ? group : "");
    if (!e->name || !e->group) {
        free(e->name);
        free(e->group);
        dx_fail(err, "out of memory");
        return NULL;
    }
    e->kind = kind;
    e->count = 1;
    ts->n++;
    return e;
}

int dx_tentry_shape(dx_tentry *e, int dtype, int rank, const int64_t *dims,
                    uint64_t max_bytes, dx_err *err)
{
    if (!tt_ok(dtype))
        return dx_fail(err, "tensor '%s': unknown element type", e->name);
    if (rank < 0 || rank > DX_TS_MAX_RANK)
        return dx_fail(err, "tensor '%s' has rank %d, at most %d is "
                       "supported", e->name, rank, DX_TS_MAX_RANK);
    uint64_t count = 1, zero = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return dx_fail(err, "tensor '%s' dim %d is %lld", e->name, i,
                           (long long)dims[i]);
        if (dims[i] == 0)
            zero = 1;
        else if ((uint64_t)dims[i] > max_bytes / TT[dtype].size / count)
            return dx_fail(err, "tensor '%s' dim %d of %lld makes it larger "
                           "than the %llu bytes the file can hold", e->name,
                           i, (long long)dims[i],
                           (unsigned long long)max_bytes);
        else
            count *= (uint64_t)dims[i];
    }
    e->dtype = dtype;
    e->rank = rank;
    for (int i = 0; i < rank; i++)
        e->dims[i] = dims[i];
    e->count = zero ? 0 : (size_t)count;
    return 0;
}

int dx_tentry_alloc(dx_tentry *e, dx_err *err)
{
    size_t n = e->count ? e->count : 1;
    if (dx_ttype_is_float(e->dtype))
        e->f = malloc(n * sizeof *e->f);
    else
        e->i = malloc(n * sizeof *e->i);
    if (!e->f && !e->i)
        return dx_fail(err, "out of memory for tensor '%s' (%zu elements)",
                       e->name, e->count);
    return 0;
}

int dx_tset_find(const dx_tset *ts, const char *name)
{
    for (int k = 0; k < ts->n; k++)
        if (!strcmp(ts->v[k].name, name))
            return k;
    return -1;
}

char *dx_tentry_shape_str(const dx_tentry *e, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = 0;
    if (e->rank == 0)
        snprintf(buf, cap, "scalar");
    for (int i = 0; i < e->rank && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? "x" : "",
                               (long long)e->dims[i]);
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const dx_tentry *const *)a)->name,
                  (*(const dx_tentry *const *)b)->name);
}

/* Two entries of one name are an error (a JSON or pickle dict with a
 * repeated key, or two .npy members of one name). */
static int check_unique(const dx_tset *ts, dx_err *err)
{
    if (ts->n < 2)
        return 0;
    const dx_tentry **p = malloc((size_t)ts->n * sizeof *p);
    if (!p)
        return dx_fail(err, "out of memory");
    for (int k = 0; k < ts->n; k++)
        p[k] = &ts->v[k];
    qsort(p, (size_t)ts->n, sizeof *p, by_name);
    int rc = 0;
    for (int k = 1; k < ts->n && !rc; k++)
        if (!strcmp(p[k]->name, p[k - 1]->name))
            rc = dx_fail(err, "two entries are called '%s'", p[k]->name);
    free(p);
    return rc;
}

/* ---- formats ---- */

/* torch's legacy magic: pickle protocol 2, LONG1 of 10 bytes
 * 0x1950a86a20f9469cfc6c little-endian, STOP. */
static const unsigned char LEGACY_MAGIC[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                             0x46, 0xf9, 0x20, 0x6a, 0xa8,
                                             0x50, 0x19};

int dx_tformat_sniff(const unsigned char *buf, size_t len)
{
    if (len >= 4 && (!memcmp(buf, "PK\x03\x04", 4) ||
                     !memcmp(buf, "PK\x05\x06", 4)))
        return dx_torch_is_zip(buf, len) ? DX_TF_TORCH : DX_TF_NPZ;
    if (len >= 2 + sizeof LEGACY_MAGIC && buf[0] == 0x80 &&
        !memcmp(buf + 2, LEGACY_MAGIC, sizeof LEGACY_MAGIC))
        return DX_TF_TORCH_LEGACY;
    if (len >= 10) {
        uint64_t n = le_bytes(buf, 8);
        if (n >= 2 && n <= len - 8 && buf[8] == '{')
            return DX_TF_SAFETENSORS;
    }
    return DX_TF_NONE;
}

int dx_tformat_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return DX_TF_NONE;
    if (!strcmp(dot, ".pth") || !strcmp(dot, ".pt") || !strcmp(dot, ".bin"))
        return DX_TF_TORCH;
    if (!strcmp(dot, ".safetensors"))
        return DX_TF_SAFETENSORS;
    if (!strcmp(dot, ".npz"))
        return DX_TF_NPZ;
    return DX_TF_NONE;
}

int dx_tset_read_mem(dx_tset *ts, const unsigned char *buf, size_t len,
                     const char *name, int flags, dx_err *err)
{
    dx_tset_init(ts);
    int f = dx_tformat_sniff(buf, len), rc;
    switch (f) {
    case DX_TF_TORCH:
        rc = dx_torch_read_zip(ts, buf, len, flags, err);
        break;
    case DX_TF_TORCH_LEGACY:
        rc = dx_torch_read_legacy(ts, buf, len, flags, err);
        break;
    case DX_TF_SAFETENSORS:
        rc = dx_safetensors_read(ts, buf, len, flags, err);
        break;
    case DX_TF_NPZ:
        rc = dx_npz_read(ts, buf, len, flags, err);
        break;
    default:
        if (len > 262 && !memcmp(buf + 257, "ustar", 5))
            rc = dx_fail(err, "a tar archive: the PyTorch format before 0.4 "
                         "is not supported (load and save it again with a "
                         "newer PyTorch)");
        else
            rc = dx_fail(err, "not a PyTorch (.pth, zip or legacy), "
                         "safetensors or NumPy .npz file (%zu bytes, "
                         "unknown magic)", len);
    }
    if (!rc)
        rc = check_unique(ts, err);
    if (rc) {
        dx_tset_free(ts);
        return dx_wrap(err, "%s: ", name);
    }
    ts->format = f;
    return 0;
}

int dx_tset_read(dx_tset *ts, const char *path, int flags, dx_err *err)
{
    dx_tset_init(ts);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dx_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size == 0 || (uint64_t)st.st_size > DX_TS_MAX_FILE) {
        close(fd);
        return dx_fail(err, "%s: %lld bytes, expected 1 to %llu", path,
                       (long long)st.st_size,
                       (unsigned long long)DX_TS_MAX_FILE);
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return dx_fail(err, "%s: cannot map: %s", path, strerror(errno));
    int rc = dx_tset_read_mem(ts, map, len, path, flags, err);
    munmap(map, len);
    return rc;
}

int dx_tset_write(const dx_tset *ts, const char *path, int format,
                  dx_err *err)
{
    int rc = check_unique(ts, err);
    if (rc)
        return rc;
    for (int k = 0; k < ts->n; k++) {
        const dx_tentry *e = &ts->v[k];
        if (e->kind == DX_TE_TENSOR ? !(e->f && e->dtype == DX_TT_F32) &&
                                          !(e->i && e->dtype == DX_TT_I64)
                                    : e->kind != DX_TE_INT)
            return dx_fail(err, "%s: entry '%s' is neither an f32 or int64 "
                           "tensor nor an int", path, e->name);
    }
    switch (format) {
    case DX_TF_TORCH:
        return dx_torch_write(ts, path, err);
    case DX_TF_SAFETENSORS:
        return dx_safetensors_write(ts, path, err);
    case DX_TF_NPZ:
        return dx_npz_write(ts, path, err);
    default:
        return dx_fail(err, "%s: cannot write the %s format", path,
                       dx_tformat_name(format));
    }
}
