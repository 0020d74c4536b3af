/* torchfile.h - PyTorch's torch.save files, read into a tensor set
 * (io/tensorset.h) and written from one.
 *
 * The zip format (torch.save since PyTorch 1.6): a zip whose entries all
 * sit in one folder P: P/data.pkl, the pickle of the saved object, whose
 * tensors refer by persistent id to the raw little-endian storages
 * P/data/KEY; P/version holds the format version (1 to 10 are read; 3 is
 * written; a P/byteorder entry, when present, must say "little").  A
 * TorchScript archive (P/constants.pkl) is refused.
 *
 * The legacy format (before 1.6; torch.save(...,
 * _use_new_zipfile_serialization=False)): five pickles in a row - the
 * magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, the
 * system info dict (little_endian must be True), the saved object with
 * persistent ids, and the list of storage keys - then, per key in that
 * order, the storage's element count as an int64 and its raw bytes, to
 * the end of the file.
 *
 * In both, every storage's size must be the element count its persistent
 * id states times the element size, every tensor's elements (storage
 * offset plus strides, non-contiguous views included) must lie inside its
 * storage, and two ids of one storage must agree on type and count.  The
 * pickles are read by io/pickle.h, which runs nothing.
 */
#ifndef DACS_TORCHFILE_H
#define DACS_TORCHFILE_H

#include <stddef.h>

#include "base/err.h"
#include "io/tensorset.h"

/* Does the zip at buf look like a torch.save file (an entry P/data.pkl)? */
int dx_torch_is_zip(const unsigned char *buf, size_t len);
int dx_torch_read_zip(dx_tset *ts, const unsigned char *buf, size_t len,
                      int flags, dx_err *err);
int dx_torch_read_legacy(dx_tset *ts, const unsigned char *buf, size_t len,
                         int flags, dx_err *err);

/* Write the zip format, as torch.save of PyTorch 1.13 does, to path
 * atomically.  Entries of group "" make the top level; if they are all
 * tensors the file holds a state_dict (an OrderedDict), else a dict.
 * Entries of another group G (one level, no '.') go into an OrderedDict
 * under key G, named without their "G." prefix.  torch.load, also with
 * weights_only=True, reads it. */
int dx_torch_write(const dx_tset *ts, const char *path, dx_err *err);

#endif
