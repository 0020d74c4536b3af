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
/* The longest descr dx_npy_header returns (with its NUL), and the room
 * dx_npy_header_text needs (a header of rank TNS_MAX_RANK, padded). */
#define DX_NPY_DESCR 17
#define DX_NPY_HEADER 512
/* The header of any .npy (for NumPy files of other dtypes, such as the
 * members of a .npz): its descr text ("<f8", at most DX_NPY_DESCR - 1
 * characters), fortran_order (1 True, 0 False, -1 missing or other), the
 * shape and where the data starts.  Types are left to the caller. */
int dx_npy_header(const unsigned char *buf, size_t len, char *descr,
                  int *fortran, int *rank, int64_t *dims, size_t *datapos,
                  dx_err *err);
/* Format the header of a C-order array of descr and shape into out (room
 * for DX_NPY_HEADER + 64 bytes), padded as NumPy pads it so the data
 * starts on a 64-byte boundary; returns its length. */
size_t dx_npy_header_text(unsigned char *out, const char *descr, int rank,
                          const int64_t *dims);
/* Read path into a new frame called name. */
int dx_npy_read(const char *path, const char *name, tns_frame *f,
                dx_err *err);
/* Write f to path atomically. */
int dx_npy_write(const char *path, const tns_frame *f, dx_err *err);

#endif
