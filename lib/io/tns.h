/* tns.h - the tensor stream: the one format every dacs tool reads and writes.
 *
 * A stream is a sequence of records read to end of file.  A record is either
 * a frame (a named, typed, n-dimensional array with checksums) or an end
 * marker that closes a segment and states how many frames it held.  A
 * segment is one batch: the frames that travel together, with names unique
 * within it.  A stream ends with a final end marker; a stream that stops
 * anywhere else, even between two segments, was cut short, and the reader
 * says so.  Concatenating whole
 * streams (cat a b) gives a valid stream of their segments.  The byte
 * layout is specified in tns(5).
 *
 * Every read validates before it allocates: magic, version, kind, dtype,
 * rank, name, header checksum, then the size implied by the dims (overflow
 * and TNS_MAX_BYTES), then the payload length and its checksum.
 */
#ifndef DACS_TNS_H
#define DACS_TNS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/atomic.h"
#include "base/err.h"

#define TNS_VERSION 1
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
    void *data;    /* owned; NULL only when nbytes == 0 */
} tns_frame;

/* Names are 1..255 characters from [A-Za-z0-9._:/+-]. */
int tns_name_ok(const char *name);

/* Allocate a zeroed frame.  Validates name, dtype, rank, dims and size. */
int tns_frame_alloc(tns_frame *f, const char *name, int dtype, int rank,
                    const int64_t *dims, dx_err *err);
void tns_frame_free(tns_frame *f);
/* Deep copy under a new name (NULL keeps the name). */
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

/* ---- reading, one frame at a time, from a file or a pipe ---- */

typedef struct tns_reader {
    FILE *fp;
    char src[256];   /* "stdin" or the path, for messages */
    long index;      /* stream-wide index of the next frame */
    long seg_frames; /* frames read since the last end marker */
    long segment;    /* index of the segment being read */
    int ended;       /* last record: 0 a frame, 1 an end marker, 2 a final
                        end marker */
    int own;         /* fp is ours to close */
    char last[TNS_MAX_NAME + 1]; /* name of the last frame read */
} tns_reader;

/* path NULL or "-" reads stdin. */
int tns_open(tns_reader *r, const char *path, dx_err *err);
/* Read an open FILE (not closed by tns_close); name is for messages. */
void tns_open_file(tns_reader *r, FILE *fp, const char *name);
/* 1: *f holds the next frame (free it with tns_frame_free);
 * 0: clean end of stream; -1: error, with err naming the frame.
 * Segment boundaries are passed over (r->segment counts them). */
int tns_read(tns_reader *r, tns_frame *f, dx_err *err);
void tns_close(tns_reader *r);

/* ---- writing, to stdout or atomically to a named file ---- */

typedef struct tns_writer {
    FILE *fp;
    dx_atomic file; /* the temporary file, when writing a named file */
    int to_file;
    long seg_frames; /* frames of the open segment */
    long segments;   /* segments closed */
    int pending;     /* a closed segment's marker is not yet written */
    long pending_frames;
} tns_writer;

/* path NULL or "-" writes stdout.  A named file is written to a temporary
 * file beside it and only appears under its name at tns_finish. */
int tns_create(tns_writer *w, const char *path, dx_err *err);
int tns_write(tns_writer *w, const tns_frame *f, dx_err *err);
/* Close the current segment (batch).  Its end marker is written when the
 * next frame or tns_finish tells whether it is the final one. */
int tns_end_segment(tns_writer *w, dx_err *err);
/* Writes the final end marker, which closes the last segment (the one
 * just ended, or the open one, empty if nothing was written); then
 * flushes, and for a file: fsync, rename, fsync the directory.  On failure the temporary file is removed and any old file
 * under the final name is left untouched. */
int tns_finish(tns_writer *w, dx_err *err);
/* Abandon: remove the temporary file; on stdout no end marker is written,
 * so a reader downstream sees a truncated stream. */
void tns_abort(tns_writer *w);

/* ---- a whole stream in memory, for filters ---- */

typedef struct tns_stream {
    tns_frame *v;
    int n, cap;
} tns_stream;

/* Read the next segment (one batch) of r into s.  1: s holds it (possibly
 * no frames); 0: clean end of stream; -1: error.  Two frames of one name
 * in a segment are an error. */
int tns_read_segment(tns_reader *r, tns_stream *s, dx_err *err);
/* Read a whole stream as one batch: the frames of every segment, in order.
 * Two frames of one name are an error. */
int tns_stream_load(tns_stream *s, const char *path, dx_err *err);
/* Append *f, taking ownership (f is left empty).  A name already present
 * is an error unless replace is set, in which case the old frame is freed
 * and the new one takes its place. */
int tns_stream_put(tns_stream *s, tns_frame *f, int replace, dx_err *err);
/* Index of the frame called name, or -1. */
int tns_stream_find(const tns_stream *s, const char *name);
tns_frame *tns_stream_get(tns_stream *s, const char *name);
/* The frame called name, checked: present, of the given dtype (0: any) and
 * rank (-1: any).  NULL with err set otherwise. */
tns_frame *tns_stream_need(tns_stream *s, const char *name, int dtype,
                           int rank, dx_err *err);
/* Remove every frame whose name matches the glob; returns how many. */
int tns_stream_drop(tns_stream *s, const char *glob);
/* Write every frame and an end marker to path (NULL or "-": stdout), as
 * one segment. */
int tns_stream_save(const tns_stream *s, const char *path, dx_err *err);
void tns_stream_free(tns_stream *s);

/* ---- the filter skeleton ---- */

/* Called once per segment (batch) with its frames; it validates, computes
 * and appends its outputs to s.  segment counts from 0. */
typedef int (*tns_segment_fn)(void *ctx, tns_stream *s, long segment,
                              dx_err *err);

/* Read in (NULL or "-": stdin) segment by segment; for each, call fn (if
 * not NULL), drop
 * the frames whose names match any of the ndrop globs, and write what is
 * left as one segment of out (NULL or "-": stdout; a file atomically).  On
 * any error nothing more is written and the output is abandoned (tns_abort:
 * a file keeps its old contents, stdout gets no final marker), and -1
 * returns with err naming the batch when fn failed. */
int tns_filter(const char *in, const char *out, tns_segment_fn fn,
               void *ctx, const char *const *drop, int ndrop, dx_err *err);

#endif
