/* npy.h - NumPy .npy files (format 1.0; 2.0 read too), so that data and
 * weights move between dacs and Python.
 *
 * Supported: little-endian u1, u2, i4, f4 ('|u1', '<u2', '<i4', '<f4'),
 * C order, rank 0..8.  Anything else is a clear error.
 */
#ifndef DACS_NPY_H
#define DACS_NPY_H

#include <stddef.h>

#include "base/err.h"
#include "io/tns.h"

/* Parse the header at the start of buf.  On success sets dtype, rank, dims
 * and *datapos, the offset of the array data. */
int dx_npy_parse(const unsigned char *buf, size_t len, int *dtype, int *rank,
                 int64_t *dims, size_t *datapos, dx_err *err);
/* Read path into a new frame called name. */
int dx_npy_read(const char *path, const char *name, tns_frame *f,
                dx_err *err);
/* Write f to path atomically. */
int dx_npy_write(const char *path, const tns_frame *f, dx_err *err);

#endif
