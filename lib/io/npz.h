/* npz.h - NumPy .npz files (numpy.savez and savez_compressed): a zip of
 * one NAME.npy per array, read and written through io/zipfile.h and the
 * .npy header of io/npy.h.
 *
 * Read: every member must be a C-order little-endian .npy of a type of
 * io/tensorset.h (<f4, <f2, <f8, <i8, <i4, <i2, |i1, |u1, |b1), holding
 * exactly its shape's bytes; stored or deflated.  Written: f32 and int64
 * tensors and INT entries (as 0-d <i8 arrays), stored, in set order, as
 * numpy.savez writes them.
 */
#ifndef DACS_NPZ_H
#define DACS_NPZ_H

#include <stddef.h>

#include "base/err.h"
#include "io/tensorset.h"

int dx_npz_read(dx_tset *ts, const unsigned char *buf, size_t len,
                int flags, dx_err *err);
int dx_npz_write(const dx_tset *ts, const char *path, dx_err *err);

#endif
