/* safetensors.h - the safetensors format (huggingface/safetensors,
 * docs "Format"): an unsigned little-endian 64-bit header length N, N
 * bytes of UTF-8 JSON, then the tensor data.
 *
 * The JSON is an object: for each tensor, name -> {"dtype": "F32",
 * "shape": [d0, ...], "data_offsets": [begin, end]}, the offsets relative
 * to the first data byte; an optional "__metadata__" maps strings to
 * strings.  The tensors' byte ranges must tile the data exactly (no gap,
 * no overlap, nothing after), and each must hold product(shape) elements.
 * The JSON is parsed by Jansson (duplicate keys refused); the header may
 * be at most 100 MB, as the reference implementation allows.
 *
 * Read: tensors in the order of the JSON, the metadata as STR entries
 * "__metadata__.KEY".  Written: f32 and int64 tensors and INT entries (as
 * 0-d I64 tensors) in set order, metadata {"format": "pt"}, the header
 * padded with spaces to a multiple of 8 bytes.
 */
#ifndef DACS_SAFETENSORS_H
#define DACS_SAFETENSORS_H

#include <stddef.h>

#include "base/err.h"
#include "io/tensorset.h"

#define DX_ST_MAX_HEADER ((uint64_t)100 << 20)

int dx_safetensors_read(dx_tset *ts, const unsigned char *buf, size_t len,
                        int flags, dx_err *err);
int dx_safetensors_write(const dx_tset *ts, const char *path, dx_err *err);

#endif
