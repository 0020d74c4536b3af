/* tns_frame.h - a frame: one named, typed, n-dimensional array, the unit
 * every tensor stream carries (tns(5)).
 *
 * A frame's elements are row-major (C order) over dims, outermost first,
 * little-endian.  A frame owns its payload, or borrows it: a borrowed frame
 * points at memory it does not own (a model's parameters, a caller's
 * buffer), so that a frame only passed on to a writer needs no copy;
 * tns_frame_free then leaves the memory alone.
 */
#ifndef DACS_TNS_FRAME_H
#define DACS_TNS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define TNS_MAX_RANK 8
#define TNS_MAX_NAME 255
/* The largest payload one frame may carry: 4 GiB. */
#define TNS_MAX_BYTES ((uint64_t)1 << 32)

/* Element types.  The numeric values are the codes on the wire. */
enum dx_dtype {
    DX_U8 = 1,
    DX_U16 = 2,
    DX_I32 = 3,
    DX_F32 = 4,
    DX_DTYPE_END /* one past the last code */
};

size_t dx_dtype_size(int dtype);        /* 0 for an unknown code */
const char *dx_dtype_name(int dtype);   /* "u8", ...; "?" if unknown */
int dx_dtype_parse(const char *s);      /* code, or 0 if not a dtype name */

typedef struct tns_frame {
    char name[TNS_MAX_NAME + 1];
    int dtype;
    int rank;
    int64_t dims[TNS_MAX_RANK];
    size_t count;  /* elements: product of dims (1 for rank 0) */
    size_t nbytes; /* count * element size */
    void *data;    /* NULL only when nbytes == 0 */
    int borrowed;  /* data is not the frame's: tns_frame_free keeps it */
} tns_frame;

/* Names are 1..255 characters from [A-Za-z0-9._:/+-]. */
int tns_name_ok(const char *name);

/* Element count and byte size of dtype over rank dims, checked for
 * overflow and against TNS_MAX_BYTES; the message names the shape. */
int tns_shape_size(int dtype, int rank, const uint64_t *dims, size_t *count,
                   size_t *nbytes, dx_err *err);

/* Allocate a zeroed frame.  Validates name, dtype, rank, dims and size. */
int tns_frame_alloc(tns_frame *f, const char *name, int dtype, int rank,
                    const int64_t *dims, dx_err *err);
/* A frame over data, which it does not own: the same checks as
 * tns_frame_alloc, no allocation.  data must hold the frame's nbytes and
 * outlive every use of the frame (a stream it is put in, a write). */
int tns_frame_borrow(tns_frame *f, const char *name, int dtype, int rank,
                     const int64_t *dims, void *data, dx_err *err);
/* Free an owned payload (a borrowed one is left alone) and clear *f. */
void tns_frame_free(tns_frame *f);
/* Deep copy under a new name (NULL keeps the name); the copy owns its
 * payload, also when src borrows. */
int tns_frame_copy(tns_frame *dst, const tns_frame *src, const char *name,
                   dx_err *err);
/* A rank-1 u8 frame holding the bytes of text (no terminating NUL). */
int tns_frame_text(tns_frame *f, const char *name, const char *text,
                   dx_err *err);
/* "2x256x512x3", or "scalar" for rank 0.  Returns buf. */
char *tns_shape_str(const tns_frame *f, char *buf, size_t len);
/* Same shape (rank and every dim)? */
int tns_same_shape(const tns_frame *a, const tns_frame *b);
/* Fails naming the frame and the first NaN or Inf element, if any. */
int tns_check_finite(const tns_frame *f, dx_err *err);

#endif
