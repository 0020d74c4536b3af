/* npz.c - NumPy .npz archives; see npz.h. */
#include "io/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "io/zipfile.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               ".npz data is written from little-endian memory");

/* One member: its header checked, its data converted (unless listing). */
static int read_member(dx_tset *ts, const char *member,
                       const unsigned char *b, uint64_t size, int flags,
                       dx_err *err)
{
    char descr[DX_NPY_DESCR], name[DX_TS_MAX_NAME + 1];
    int fortran, rank;
    int64_t dims[TNS_MAX_RANK];
    size_t datapos;
    if (dx_npy_header(b, (size_t)size, descr, &fortran, &rank, dims,
                      &datapos, err))
        return -1;
    int dtype = dx_ttype_from_npy(descr);
    if (!dtype)
        return dx_fail(err, "dtype '%s' is not supported (expected <f4, <f2, "
                       "<f8, <i8, <i4, <i2, |i1, |u1 or |b1, little-endian)",
                       descr);
    if (fortran != 0)
        return dx_fail(err, "array is not in C order (fortran_order must be "
                       "False)");
    size_t n = strlen(member) - 4;
    if (n > DX_TS_MAX_NAME)
        n = DX_TS_MAX_NAME;
    memcpy(name, member, n);
    name[n] = 0;
    dx_tentry *e = dx_tset_add(ts, "", name, DX_TE_TENSOR, err);
    if (!e || dx_tentry_shape(e, dtype, rank, dims, DX_TS_MAX_FILE, err))
        return -1;
    uint64_t want = (uint64_t)e->count * dx_ttype_size(dtype);
    if (size - datapos != want)
        return dx_fail(err, "data holds %llu bytes, shape and dtype need %llu",
                       (unsigned long long)(size - datapos),
                       (unsigned long long)want);
    if (flags & DX_TS_LIST)
        return 0;
    if (dx_tentry_alloc(e, err))
        return -1;
    if (e->f)
        dx_ttype_to_f32(e->f, b + datapos, dtype, e->count);
    else
        dx_ttype_to_i64(e->i, b + datapos, dtype, e->count);
    return 0;
}

int dx_npz_read(dx_tset *ts, const unsigned char *buf, size_t len, int flags,
                dx_err *err)
{
    dx_zip z;
    if (dx_zip_open(&z, buf, len, err))
        return -1;
    for (int64_t i = 0; i < z.n; i++) {
        const char *member = dx_zip_name(&z, i);
        size_t ml = member ? strlen(member) : 0;
        if (ml && member[ml - 1] == '/')
            continue; /* a folder */
        if (ml < 5 || strcmp(member + ml - 4, ".npy") != 0) {
            dx_fail(err, "member '%.60s' is not a .npy file: the zip is "
                    "neither a NumPy .npz nor a torch.save file (FOLDER/"
                    "data.pkl)", member ? member : "?");
            goto fail;
        }
        void *b;
        uint64_t size;
        if (dx_zip_load(&z, i, DX_TS_MAX_FILE, &b, &size, err))
            goto fail;
        int rc = read_member(ts, member, b, size, flags, err);
        free(b);
        if (rc) {
            dx_wrap(err, "member '%.60s': ", member);
            goto fail;
        }
    }
    dx_zip_close(&z);
    return 0;
fail:
    dx_zip_close(&z);
    return -1;
}

int dx_npz_write(const dx_tset *ts, const char *path, dx_err *err)
{
    dx_zipw z;
    size_t n = (size_t)ts->n;
    /* libzip reads the members at commit: they live until then */
    unsigned char **mem = calloc(n ? n : 1, sizeof *mem);
    char(*names)[DX_TS_MAX_NAME + 8] = malloc((n ? n : 1) * sizeof *names);
    int rc = -1;
    if (!mem || !names) {
        free(mem);
        free(names);
        return dx_fail(err, "out of memory");
    }
    if (dx_zipw_open(&z, err))
        goto out;
    for (size_t k = 0; k < n; k++) {
        const dx_tentry *e = &ts->v[k];
        int scalar = e->kind == DX_TE_INT;
        unsigned char head[DX_NPY_HEADER + 64];
        size_t hl = dx_npy_header_text(head, e->f ? "<f4" : "<i8",
                                       scalar ? 0 : e->rank, e->dims);
        size_t dl = scalar ? 8 : e->count * (e->f ? 4 : 8);
        mem[k] = malloc(hl + dl);
        if (!mem[k]) {
            dx_fail(err, "out of memory");
            goto out;
        }
        memcpy(mem[k], head, hl);
        memcpy(mem[k] + hl, e->f ? (const void *)e->f : (const void *)e->i,
               dl);
        snprintf(names[k], sizeof names[k], "%s.npy", e->name);
        if (dx_zipw_add(&z, names[k], mem[k], hl + dl, err))
            goto out;
    }
    rc = dx_zipw_commit(&z, path, err);
out:
    if (rc)
        dx_zipw_abort(&z);
    for (size_t k = 0; k < n; k++)
        free(mem[k]);
    free(mem);
    free(names);
    return rc;
}
