/* tns_stream.h - tensor streams: reading and writing records through a
 * FILE, and a segment held in memory.
 *
 * A stream is a sequence of records read to end of file.  A record is
 * either a frame or an end marker that closes a segment and states how
 * many frames it held.  A segment is one batch: the frames that travel
 * together, with names unique within it.  A stream ends with a final end
 * marker; a stream that stops anywhere else, even between two segments,
 * was cut short, and the reader says so.  Concatenating whole streams
 * (cat a b) gives a valid stream of their segments.  The wire format is
 * tns_format.h; tns(5) specifies it.
 *
 * Every read validates before it allocates: magic, version, kind, dtype,
 * rank, name, header checksum, then the size implied by the dims (overflow
 * and TNS_MAX_BYTES), then the payload length and its checksum.
 */
#ifndef DACS_TNS_STREAM_H
#define DACS_TNS_STREAM_H

#include <stdio.h>

#include "base/err.h"
#include "io/atomic.h"
#include "io/tns_format.h"
#include "io/tns_frame.h"

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
    int live;        /* close each segment at once (tns_set_live) */
} tns_writer;

/* The pipe buffer a live writer asks for (fcntl F_SETPIPE_SZ; the
 * unprivileged limit is /proc/sys/fs/pipe-max-size, 1 MiB by default). */
#define TNS_PIPE_BYTES (1 << 20)

/* Live writing, for stdout writers created from now on (a tool's --live).
 * A writer normally holds back a segment's end marker until it knows
 * whether the stream goes on, so that the last segment's marker can be
 * the final one.  A reader that must answer each segment before the next
 * one can exist (the stages of a ring of pipes, dacs-train(1)) would wait
 * for it forever.  A live writer instead closes every segment at once with
 * an ordinary marker, flushes it, and ends the stream with a closing
 * marker that closes no segment (tns(5)); it also asks for a pipe buffer
 * of TNS_PIPE_BYTES.  Readers take both forms. */
void tns_set_live(int on);

/* path NULL or "-" writes stdout.  A named file is written to a temporary
 * file beside it and only appears under its name at tns_finish. */
int tns_create(tns_writer *w, const char *path, dx_err *err);
/* Write one frame, owned or borrowed, of the open segment. */
int tns_write(tns_writer *w, const tns_frame *f, dx_err *err);
/* Close the current segment (batch).  Its end marker is written when the
 * next frame or tns_finish tells whether it is the final one; a live
 * writer writes it at once and flushes. */
int tns_end_segment(tns_writer *w, dx_err *err);
/* Writes the final end marker, which closes the last segment (the one
 * just ended, or the open one, empty if nothing was written); then
 * flushes, and for a file: fsync, rename, fsync the directory.  On failure
 * the temporary file is removed and any old file under the final name is
 * left untouched. */
int tns_finish(tns_writer *w, dx_err *err);
/* Abandon: remove the temporary file; on stdout no end marker is written,
 * so a reader downstream sees a truncated stream. */
void tns_abort(tns_writer *w);

/* ---- a segment in memory, for filters ---- */

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
/* Append *f, taking it over (f is left empty; a borrowed frame stays
 * borrowed, and its memory must outlive s).  A name already present is an
 * error unless replace is set, in which case the old frame is freed and
 * the new one takes its place. */
int tns_stream_put(tns_stream *s, tns_frame *f, int replace, dx_err *err);
/* Index of the frame called name, or -1. */
int tns_stream_find(const tns_stream *s, const char *name);
/* The frame called name, or NULL: to change (get) or only to read (cget). */
tns_frame *tns_stream_get(tns_stream *s, const char *name);
const tns_frame *tns_stream_cget(const tns_stream *s, const char *name);
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

#endif
