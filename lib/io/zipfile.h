/* zipfile.h - zip archives in memory, through libzip: what the PyTorch
 * zip format and NumPy's .npz need (whole entries read and checked, and
 * an archive of stored entries written atomically).
 *
 * Reading opens the archive with libzip's consistency checks (central and
 * local headers agree); only stored and deflated entries are read, and an
 * entry's declared size is checked against what its compressed bytes can
 * hold before anything is allocated for it; its CRC is checked by libzip
 * as it is read to the end.
 */
#ifndef DACS_ZIPFILE_H
#define DACS_ZIPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct dx_zip {
    void *za;  /* zip_t */
    int64_t n; /* entries */
} dx_zip;

/* Open len bytes at buf (which must outlive the dx_zip). */
int dx_zip_open(dx_zip *z, const unsigned char *buf, size_t len,
                dx_err *err);
void dx_zip_close(dx_zip *z);
/* The name of entry i (0 <= i < z->n), or NULL. */
const char *dx_zip_name(const dx_zip *z, int64_t i);
/* Index of the entry called name, or -1. */
int64_t dx_zip_find(const dx_zip *z, const char *name);
/* The uncompressed size of entry i, checked: at most max bytes, and no
 * more than its compression method can produce from its stored bytes. */
int dx_zip_size(const dx_zip *z, int64_t i, uint64_t max, uint64_t *size,
                dx_err *err);
/* Read entry i, exactly size bytes (from dx_zip_size), into dst. */
int dx_zip_read(const dx_zip *z, int64_t i, void *dst, uint64_t size,
                dx_err *err);
/* dx_zip_size, then a new buffer of its bytes (free it), NUL-terminated
 * one byte past *size. */
int dx_zip_load(const dx_zip *z, int64_t i, uint64_t max, void **data,
                uint64_t *size, dx_err *err);

/* ---- writing ---- */

typedef struct dx_zipw {
    void *za;  /* zip_t */
    void *src; /* zip_source_t: the archive's bytes in memory */
} dx_zipw;

int dx_zipw_open(dx_zipw *w, dx_err *err);
/* Add a stored (uncompressed) entry, dated 1980-01-01 00:00 so that the
 * same entries give the same bytes at any time; data must stay valid until
 * dx_zipw_commit or dx_zipw_abort. */
int dx_zipw_add(dx_zipw *w, const char *name, const void *data, size_t len,
                dx_err *err);
/* Write the archive to path atomically (io/atomic.h); w is closed. */
int dx_zipw_commit(dx_zipw *w, const char *path, dx_err *err);
void dx_zipw_abort(dx_zipw *w);

#endif
