/* tns_frame.c - frames: dtypes, names, shapes, owned and borrowed
 * payloads. */
#include "io/tns_frame.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One table of dtypes, indexed by wire code. */
static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [0] = {"?", 0},
    [DX_U8] = {"u8", 1},
    [DX_U16] = {"u16", 2},
    [DX_I32] = {"i32", 4},
    [DX_F32] = {"f32", 4},
};
_Static_assert(sizeof DTYPES / sizeof DTYPES[0] == DX_DTYPE_END,
               "DTYPES must list every dx_dtype");

size_t dx_dtype_size(int dtype)
{
    return dtype > 0 && dtype < DX_DTYPE_END ? DTYPES[dtype].size : 0;
}

const char *dx_dtype_name(int dtype)
{
    return DTYPES[dtype > 0 && dtype < DX_DTYPE_END ? dtype : 0].name;
}

int dx_dtype_parse(const char *s)
{
    for (int d = 1; d < DX_DTYPE_END; d++)
        if (strcmp(s, DTYPES[d].name) == 0)
            return d;
    return 0;
}

int tns_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > TNS_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("._:/+-", c)))
            return 0;
    }
    return 1;
}

int tns_shape_size(int dtype, int rank, const uint64_t *dims, size_t *count,
                   size_t *nbytes, dx_err *err)
{
    uint64_t c = 1;
    int over = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > (uint64_t)INT64_MAX)
            over = 1;
        else if (dims[i] && c > UINT64_MAX / dims[i])
            over = 1;
        else
            c *= dims[i];
    }
    uint64_t es = dx_dtype_size(dtype);
    if (!over && c > TNS_MAX_BYTES / es)
        over = 1;
    if (over) {
        char buf[8 * 24] = "";
        size_t len = 0;
        for (int i = 0; i < rank; i++)
            len += snprintf(buf + len, sizeof buf - len, "%s%llu", i ? "x" : "",
                            (unsigned long long)dims[i]);
        return dx_fail(err,
                       "shape %s of %s is larger than the %llu-byte limit "
                       "for one frame",
                       buf, dx_dtype_name(dtype),
                       (unsigned long long)TNS_MAX_BYTES);
    }
    *count = (size_t)c;
    *nbytes = (size_t)(c * es);
    return 0;
}

/* Fill f's header (name, dtype, rank, dims, sizes) after checking them;
 * no payload. */
static int frame_header(tns_frame *f, const char *name, int dtype, int rank,
                        const int64_t *dims, dx_err *err)
{
    memset(f, 0, sizeof *f);
    if (!name || !tns_name_ok(name))
        return dx_fail(err, "bad frame name '%s': expected 1-%d characters "
                       "from [A-Za-z0-9._:/+-]", name ? name : "(null)",
                       TNS_MAX_NAME);
    if (!dx_dtype_size(dtype))
        return dx_fail(err, "frame '%s': unknown dtype code %d", name, dtype);
    if (rank < 0 || rank > TNS_MAX_RANK)
        return dx_fail(err, "frame '%s': rank %d, expected 0..%d", name, rank,
                       TNS_MAX_RANK);
    uint64_t ud[TNS_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return dx_fail(err, "frame '%s': negative dim %lld", name,
                           (long long)dims[i]);
        ud[i] = (uint64_t)dims[i];
    }
    if (tns_shape_size(dtype, rank, ud, &f->count, &f->nbytes, err))
        return dx_wrap(err, "frame '%s': ", name);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->dtype = dtype;
    f->rank = rank;
    for (int i = 0; i < rank; i++)
        f->dims[i] = dims[i];
    return 0;
}

int tns_frame_alloc(tns_frame *f, const char *name, int dtype, int rank,
                    const int64_t *dims, dx_err *err)
{
    if (frame_header(f, name, dtype, rank, dims, err)) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    if (f->nbytes) {
        f->data = calloc(1, f->nbytes);
        if (!f->data) {
            size_t n = f->nbytes;
            memset(f, 0, sizeof *f);
            return dx_fail(err, "frame '%s': cannot allocate %zu bytes",
                           name, n);
        }
    }
    return 0;
}

int tns_frame_borrow(tns_frame *f, const char *name, int dtype, int rank,
                     const int64_t *dims, void *data, dx_err *err)
{
    if (frame_header(f, name, dtype, rank, dims, err)) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    if (f->nbytes && !data) {
        memset(f, 0, sizeof *f);
        return dx_fail(err, "frame '%s': no memory to borrow", name);
    }
    f->data = f->nbytes ? data : NULL;
    f->borrowed = 1;
    return 0;
}

void tns_frame_free(tns_frame *f)
{
    if (!f->borrowed)
        free(f->data);
    memset(f, 0, sizeof *f);
}

int tns_frame_copy(tns_frame *dst, const tns_frame *src, const char *name,
                   dx_err *err)
{
    if (tns_frame_alloc(dst, name ? name : src->name, src->dtype, src->rank,
                        src->dims, err))
        return -1;
    if (src->nbytes)
        memcpy(dst->data, src->data, src->nbytes);
    return 0;
}

int tns_frame_text(tns_frame *f, const char *name, const char *text,
                   dx_err *err)
{
    int64_t len = (int64_t)strlen(text);
    if (tns_frame_alloc(f, name, DX_U8, 1, &len, err))
        return -1;
    if (len)
        memcpy(f->data, text, (size_t)len);
    return 0;
}

char *tns_shape_str(const tns_frame *f, char *buf, size_t len)
{
    if (f->rank == 0) {
        snprintf(buf, len, "scalar");
        return buf;
    }
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < f->rank && at < len; i++)
        at += snprintf(buf + at, len - at, "%s%lld", i ? "x" : "",
                       (long long)f->dims[i]);
    return buf;
}

int tns_same_shape(const tns_frame *a, const tns_frame *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

int tns_check_finite(const tns_frame *f, dx_err *err)
{
    if (f->dtype != DX_F32)
        return 0;
    const float *x = f->data;
    for (size_t i = 0; i < f->count; i++) {
        if (!isfinite(x[i]))
            return dx_fail(err, "frame '%s': element %zu is %s, expected a "
                           "finite number", f->name, i,
                           isnan(x[i]) ? "NaN" : "infinite");
    }
    return 0;
}
