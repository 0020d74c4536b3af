/* npy.c - the .npy header: a magic, a version, and a Python dict literal. */
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic.h"

static const char *const DESCR[DX_DTYPE_END] = {
    [DX_U8] = "|u1", [DX_U16] = "<u2", [DX_I32] = "<i4", [DX_F32] = "<f4"};

/* Find 'key': in the dict text and return a pointer just after the colon
 * and any spaces. */
static const char *dict_value(const char *d, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(d, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

/* The header's dict text (NUL-terminated, free it) and where the data
 * starts, after the magic, version and length checks. */
static int header_dict(const unsigned char *buf, size_t len, char **dict,
                       size_t *datapos, dx_err *err)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return dx_fail(err, "not a .npy file (bad magic)");
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return dx_fail(err, "truncated .npy header");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        start = 12;
    } else {
        return dx_fail(err, ".npy format version %d.%d, expected 1.0 or 2.0",
                       major, buf[7]);
    }
    if (hlen > 65536 || start + hlen > len)
        return dx_fail(err, "truncated .npy header (%zu bytes declared)", hlen);
    char *d = malloc(hlen + 1);
    if (!d)
        return dx_fail(err, "out of memory");
    memcpy(d, buf + start, hlen);
    d[hlen] = 0;
    if (strlen(d) != hlen) {
        free(d);
        return dx_fail(err, ".npy header holds a NUL byte");
    }
    *dict = d;
    *datapos = start + hlen;
    return 0;
}

/* The 'shape' tuple of the dict text d. */
static int parse_shape(const char *d, int *rank, int64_t *dims, dx_err *err)
{
    const char *v = dict_value(d, "shape");
    if (!v || *v != '(')
        return dx_fail(err, ".npy header has no shape tuple");
    v++;
    *rank = 0;
    for (;;) {
        while (*v == ' ')
            v++;
        if (*v == ')')
            break;
        if (*rank == TNS_MAX_RANK)
            return dx_fail(err, ".npy array has rank above %d",
                           TNS_MAX_RANK);
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || errno || x < 0)
            return dx_fail(err, ".npy shape is malformed");
        dims[(*rank)++] = x;
        v = end;
        while (*v == ' ')
            v++;
        if (*v == ',')
            v++;
        else if (*v != ')')
            return dx_fail(err, ".npy shape is malformed");
    }
    return 0;
}

/* 1 for fortran_order True, 0 for False, -1 otherwise. */
static int fortran_order(const char *d)
{
    const char *v = dict_value(d, "fortran_order");
    return !v ? -1 : !strncmp(v, "False", 5) ? 0 : !strncmp(v, "True", 4)
                                                       ? 1
                                                       : -1;
}

int dx_npy_parse(const unsigned char *buf, size_t len, int *dtype, int *rank,
                 int64_t *dims, size_t *datapos, dx_err *err)
{
    char *d;
    if (header_dict(buf, len, &d, datapos, err))
        return -1;
    int rc = -1;
    const char *v = dict_value(d, "descr");
    *dtype = 0;
    /* v[0] is checked first: v may point at the terminating NUL */
    for (int t = 1; v && v[0] == '\'' && t < DX_DTYPE_END; t++)
        if (strncmp(v + 1, DESCR[t], 3) == 0 && v[4] == '\'')
            *dtype = t;
    /* '<u1' is also a valid spelling of bytes */
    if (v && strncmp(v, "'<u1'", 5) == 0)
        *dtype = DX_U8;
    if (!*dtype) {
        int n = 0;
        if (v && v[0] == '\'')
            while (n < 16 && v[n + 1] && v[n + 1] != '\'')
                n++;
        dx_fail(err, ".npy dtype '%.*s' is not supported (expected '|u1', "
                "'<u2', '<i4' or '<f4')", n, v ? v + 1 : "");
        goto out;
    }
    if (fortran_order(d) != 0) {
        dx_fail(err, ".npy array is not in C order (fortran_order must be "
                "False)");
        goto out;
    }
    rc = parse_shape(d, rank, dims, err);
out:
    free(d);
    return rc;
}

int dx_npy_header(const unsigned char *buf, size_t len, char *descr,
                  int *fortran, int *rank, int64_t *dims, size_t *datapos,
                  dx_err *err)
{
    char *d;
    if (header_dict(buf, len, &d, datapos, err))
        return -1;
    const char *v = dict_value(d, "descr");
    size_t n = 0;
    if (v && v[0] == '\'')
        while (n < DX_NPY_DESCR - 1 && v[n + 1] && v[n + 1] != '\'')
            n++;
    memcpy(descr, v && n ? v + 1 : "", n);
    descr[n] = 0;
    *fortran = fortran_order(d);
    int rc = parse_shape(d, rank, dims, err);
    free(d);
    return rc;
}

size_t dx_npy_header_text(unsigned char *out, const char *descr, int rank,
                          const int64_t *dims)
{
    char dict[DX_NPY_HEADER];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < rank; i++) /* as NumPy: (5,) and (2, 3) */
        n += snprintf(dict + n, sizeof dict - n, "%lld%s",
                      (long long)dims[i],
                      rank == 1 ? "," : i + 1 < rank ? ", " : "");
    n += snprintf(dict + n, sizeof dict - n, "), }");
    /* pad with spaces so that the data starts on a 64-byte boundary */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = hlen & 0xff;
    out[9] = (hlen >> 8) & 0xff;
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', pad);
    out[10 + hlen - 1] = '\n';
    return 10 + hlen;
}

int dx_npy_read(const char *path, const char *name, tns_frame *f,
                dx_err *err)
{
    memset(f, 0, sizeof *f);
    struct stat st;
    if (stat(path, &st) != 0)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return dx_fail(err, "%s: not a regular file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[12];
    size_t got = fread(head, 1, sizeof head, fp);
    size_t hlen = 0;
    if (got >= 10 && memcmp(head, "\x93NUMPY", 6) == 0) {
        hlen = head[6] == 1 ? 10 + ((size_t)head[8] | (size_t)head[9] << 8)
                            : 12 + ((size_t)head[8] | (size_t)head[9] << 8 |
                                    (size_t)head[10] << 16 |
                                    (size_t)head[11] << 24);
    }
    if (hlen == 0 || hlen > 65536 + 12) {
        fclose(fp);
        return dx_fail(err, "%s: not a .npy file (bad magic or header)",
                       path);
    }
    unsigned char *buf = malloc(hlen);
    if (!buf) {
        fclose(fp);
        return dx_fail(err, "%s: out of memory", path);
    }
    rewind(fp);
    got = fread(buf, 1, hlen, fp);
    int dtype, rank;
    int64_t dims[TNS_MAX_RANK];
    size_t datapos;
    if (dx_npy_parse(buf, got, &dtype, &rank, dims, &datapos, err)) {
        free(buf);
        fclose(fp);
        return dx_wrap(err, "%s: ", path);
    }
    free(buf);
    if (tns_frame_alloc(f, name, dtype, rank, dims, err)) {
        fclose(fp);
        return dx_wrap(err, "%s: ", path);
    }
    if (fseek(fp, (long)datapos, SEEK_SET) != 0 ||
        fread(f->data, 1, f->nbytes, fp) != f->nbytes) {
        size_t want = f->nbytes;
        fclose(fp);
        tns_frame_free(f);
        return dx_fail(err, "%s: truncated .npy data (expected %zu bytes)",
                       path, want);
    }
    int extra = fgetc(fp) != EOF;
    fclose(fp);
    if (extra) {
        tns_frame_free(f);
        return dx_fail(err, "%s: trailing bytes after the .npy data", path);
    }
    return 0;
}

int dx_npy_write(const char *path, const tns_frame *f, dx_err *err)
{
    unsigned char head[DX_NPY_HEADER + 64];
    size_t hl = dx_npy_header_text(head, DESCR[f->dtype], f->rank, f->dims);
    dx_atomic a;
    if (dx_atomic_open(&a, path, err))
        return -1;
    if (fwrite(head, 1, hl, a.fp) != hl ||
        (f->nbytes && fwrite(f->data, 1, f->nbytes, a.fp) != f->nbytes)) {
        int e = errno;
        dx_atomic_abort(&a);
        return dx_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return dx_atomic_commit(&a, err);
}
