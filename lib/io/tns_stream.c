/* tns_stream.c - reading and writing tensor streams, and segments in
 * memory; the records are coded by tns_format.c. */
#include "io/tns_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- reading ---- */

int tns_open(tns_reader *r, const char *path, dx_err *err)
{
    memset(r, 0, sizeof *r);
    if (!path || strcmp(path, "-") == 0) {
        r->fp = stdin;
        snprintf(r->src, sizeof r->src, "stdin");
        return 0;
    }
    snprintf(r->src, sizeof r->src, "%s", path);
    r->fp = fopen(path, "rb");
    if (!r->fp)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    /* fopen succeeds on a directory; the first read would fail obscurely. */
    int c = fgetc(r->fp);
    if (c == EOF && ferror(r->fp)) {
        int e = errno;
        fclose(r->fp);
        r->fp = NULL;
        return dx_fail(err, "%s: cannot read: %s", path, strerror(e));
    }
    if (c != EOF)
        ungetc(c, r->fp);
    r->own = 1;
    return 0;
}

void tns_open_file(tns_reader *r, FILE *fp, const char *name)
{
    memset(r, 0, sizeof *r);
    r->fp = fp;
    snprintf(r->src, sizeof r->src, "%s", name);
}

void tns_close(tns_reader *r)
{
    if (r->own && r->fp)
        fclose(r->fp);
    r->fp = NULL;
}

/* Read exactly n bytes; returns the number actually read. */
static size_t read_some(tns_reader *r, void *buf, size_t n)
{
    return n ? fread(buf, 1, n, r->fp) : 0;
}

/* Read a payload of nbytes into *data, growing the buffer as the bytes
 * arrive, so that a corrupt header declaring gigabytes in a short stream
 * costs no more memory than the stream holds.  *have gets the bytes read.
 * Returns -1 only when memory runs out. */
static int read_payload(tns_reader *r, size_t nbytes, void **data,
                        size_t *have)
{
    const size_t step = (size_t)64 << 20;
    size_t cap = 0;
    *data = NULL;
    *have = 0;
    while (*have < nbytes) {
        if (*have == cap) {
            size_t want = cap ? 2 * cap : step;
            if (want > nbytes)
                want = nbytes;
            void *p = realloc(*data, want);
            if (!p)
                return -1;
            *data = p;
            cap = want;
        }
        size_t got = read_some(r, (char *)*data + *have, cap - *have);
        *have += got;
        if (got == 0)
            break;
    }
    return 0;
}

/* The input ended before a record: a clean end only after a final end
 * marker.  Returns 0 or -1. */
static int at_eof(tns_reader *r, dx_err *err)
{
    if (ferror(r->fp))
        return dx_fail(err, "%s: read error: %s", r->src, strerror(errno));
    if (r->ended == 2)
        return 0;
    if (r->ended == 1)
        return dx_fail(err, "%s: stream ends after batch %ld without its "
                       "final end marker (truncated: the writer died or "
                       "was cut off)", r->src, r->segment);
    if (r->index == 0)
        return dx_fail(err, "%s: empty input, expected a tns stream",
                       r->src);
    return dx_fail(err, "%s: stream ends after frame %ld '%s' without an "
                   "end marker (truncated: the writer died or was cut off)",
                   r->src, r->index - 1, r->last);
}

/* Put the reader's place in front of a decoder message. */
static int header_fault(tns_reader *r, int k, const tns_record *rec,
                        dx_err *err)
{
    char m[DX_ERRLEN];
    snprintf(m, sizeof m, "%s", err->msg);
    if (k == TNS_BAD_MAGIC && r->index == 0 && !r->ended)
        return dx_fail(err, "%s: not a tns stream (%s)", r->src, m);
    if (k == TNS_BAD_MAGIC)
        return dx_fail(err, "%s: frame %ld: %s (corrupt stream)", r->src,
                       r->index, m);
    if (rec->kind == TNS_KIND_END)
        return dx_fail(err, "%s: end marker after frame %ld: %s", r->src,
                       r->index - 1, m);
    if (rec->name[0])
        return dx_fail(err, "%s: frame %ld '%s': %s", r->src, r->index,
                       rec->name, m);
    return dx_fail(err, "%s: frame %ld: %s", r->src, r->index, m);
}

/* An end marker just decoded: it must count the frames of its segment.
 * Returns 2, or 3 for a live stream's closing marker, which closes no
 * segment. */
static int end_marker_read(tns_reader *r, const tns_record *rec,
                           dx_err *err)
{
    uint64_t n = rec->frames;
    if (rec->tail) {
        if (r->seg_frames != 0)
            return dx_fail(err, "%s: the stream's closing marker comes "
                           "after %ld frames of a batch that was never "
                           "closed", r->src, r->seg_frames);
        r->ended = 2;
        return 3;
    }
    if (n != (uint64_t)r->seg_frames && r->index == 0 && !r->ended)
        return dx_fail(err, "%s: not a tns stream (it starts with an end "
                       "marker for %llu frames)", r->src,
                       (unsigned long long)n);
    if (n != (uint64_t)r->seg_frames)
        return dx_fail(err, "%s: end marker says %llu frames, but %ld were "
                       "read since the last one", r->src,
                       (unsigned long long)n, r->seg_frames);
    r->seg_frames = 0;
    r->ended = rec->final ? 2 : 1;
    return 2;
}

/* 1: a frame; 2: an end marker; 3: a closing marker (no segment); 0:
 * clean end of stream; -1: error. */
static int read_one(tns_reader *r, tns_frame *f, dx_err *err)
{
    memset(f, 0, sizeof *f);
    unsigned char h[TNS_HEADER_MAX];
    size_t have = read_some(r, h, TNS_PREFIX_LEN), need;
    if (have == 0)
        return at_eof(r, err);
    if (have < TNS_PREFIX_LEN)
        return dx_fail(err, "%s: frame %ld: truncated record header (%zu of "
                       "%d bytes)", r->src, r->index, have, TNS_PREFIX_LEN);
    tns_record rec;
    int k;
    while ((k = tns_record_decode(h, have, &need, &rec, err)) == 1) {
        have += read_some(r, h + have, need - have);
        if (have < need && rec.kind == TNS_KIND_END)
            return dx_fail(err, "%s: truncated end marker after frame %ld",
                           r->src, r->index - 1);
        if (have < need)
            return dx_fail(err, "%s: frame %ld: truncated header", r->src,
                           r->index);
    }
    if (k < 0)
        return header_fault(r, k, &rec, err);
    if (rec.kind == TNS_KIND_END)
        return end_marker_read(r, &rec, err);
    r->ended = 0;

    long idx = r->index;
    void *data = NULL;
    size_t got = 0;
    if (read_payload(r, rec.nbytes, &data, &got)) {
        free(data);
        return dx_fail(err, "%s: frame %ld '%s': cannot allocate %zu bytes",
                       r->src, idx, rec.name, rec.nbytes);
    }
    unsigned char tail[4];
    size_t tgot = got == rec.nbytes ? read_some(r, tail, 4) : 0;
    if (got != rec.nbytes || tgot != 4) {
        free(data);
        if (got != rec.nbytes)
            return dx_fail(err, "%s: frame %ld '%s': payload truncated: %zu "
                           "of %zu bytes present", r->src, idx, rec.name,
                           got, rec.nbytes);
        return dx_fail(err, "%s: frame %ld '%s': truncated before its "
                       "payload checksum", r->src, idx, rec.name);
    }
    uint32_t want, crc;
    if (!tns_payload_ok(tail, data, rec.nbytes, &want, &crc)) {
        free(data);
        return dx_fail(err, "%s: frame %ld '%s': payload checksum mismatch "
                       "(stored %08x, computed %08x): the data is corrupt",
                       r->src, idx, rec.name, want, crc);
    }
    snprintf(f->name, sizeof f->name, "%s", rec.name);
    f->dtype = rec.dtype;
    f->rank = rec.rank;
    for (int i = 0; i < rec.rank; i++)
        f->dims[i] = (int64_t)rec.dims[i];
    f->count = rec.count;
    f->nbytes = rec.nbytes;
    f->data = data;
    snprintf(r->last, sizeof r->last, "%s", rec.name);
    r->index++;
    r->seg_frames++;
    return 1;
}

/* read_one, past closing markers: 1, 2, 0 or -1. */
static int read_record(tns_reader *r, tns_frame *f, dx_err *err)
{
    int k;
    while ((k = read_one(r, f, err)) == 3)
        ;
    return k;
}

int tns_read(tns_reader *r, tns_frame *f, dx_err *err)
{
    int k;
    while ((k = read_record(r, f, err)) == 2)
        r->segment++;
    return k;
}

/* Add a frame just read to s, refusing a second frame of one name. */
static int add_read(tns_reader *r, tns_stream *s, tns_frame *f, dx_err *err)
{
    int first = tns_stream_find(s, f->name);
    if (first >= 0) {
        dx_fail(err, "%s: frame %ld '%s': a second frame of this name in one "
                "batch (the first is frame %d of the batch)", r->src,
                r->index - 1, f->name, first);
        tns_frame_free(f);
        return -1;
    }
    if (tns_stream_put(s, f, 0, err)) {
        tns_frame_free(f);
        return -1;
    }
    return 0;
}

int tns_read_segment(tns_reader *r, tns_stream *s, dx_err *err)
{
    memset(s, 0, sizeof *s);
    tns_frame f;
    for (;;) {
        int k = read_record(r, &f, err);
        if (k == 1 && add_read(r, s, &f, err) == 0)
            continue;
        if (k == 2) {
            r->segment++;
            return 1;
        }
        if (k != 0)
            tns_stream_free(s);
        return k == 0 ? 0 : -1;
    }
}

/* ---- writing ---- */

static int stdout_live;

void tns_set_live(int on)
{
    stdout_live = on;
}

/* A pipe or FIFO on fd: ask for a larger buffer, so that a writer runs
 * further ahead of its reader (best effort: the kernel may refuse). */
static void widen_pipe(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
        fcntl(fd, F_GETPIPE_SZ) < TNS_PIPE_BYTES)
        (void)fcntl(fd, F_SETPIPE_SZ, TNS_PIPE_BYTES);
}

int tns_create(tns_writer *w, const char *path, dx_err *err)
{
    memset(w, 0, sizeof *w);
    if (!path || strcmp(path, "-") == 0) {
        w->fp = stdout;
        w->live = stdout_live;
        if (w->live)
            widen_pipe(fileno(stdout));
        return 0;
    }
    if (dx_atomic_open(&w->file, path, err))
        return -1;
    w->fp = w->file.fp;
    w->to_file = 1;
    return 0;
}

static int put(tns_writer *w, const void *buf, size_t n, dx_err *err)
{
    if (!n || fwrite(buf, 1, n, w->fp) == n)
        return 0;
    int e = errno;
    if (!w->to_file)
        return dx_fail(err, "stdout: write failed: %s", strerror(e));
    FILE *old = fopen(w->file.path, "rb");
    if (old)
        fclose(old);
    return dx_fail(err, "%s: write failed: %s; %s", w->file.path,
                   strerror(e), old ? "the old file is kept unchanged"
                                    : "nothing was written");
}

static int end_marker(tns_writer *w, uint64_t count, int final, int tail,
                      dx_err *err)
{
    unsigned char b[TNS_HEADER_MAX];
    tns_record rec = {.kind = TNS_KIND_END, .final = final, .tail = tail,
                      .frames = count};
    return put(w, b, tns_record_encode(b, &rec), err);
}

/* A closed segment's marker waits until the writer knows whether another
 * record follows: then it is an ordinary marker, at tns_finish the final
 * one.  So every stream has exactly one encoding. */
static int flush_pending(tns_writer *w, dx_err *err)
{
    if (!w->pending)
        return 0;
    w->pending = 0;
    return end_marker(w, (uint64_t)w->pending_frames, 0, 0, err);
}

int tns_write(tns_writer *w, const tns_frame *f, dx_err *err)
{
    if (flush_pending(w, err))
        return -1;
    tns_record rec;
    if (tns_record_of(&rec, f, err))
        return -1;
    unsigned char h[TNS_HEADER_MAX], tail[4];
    size_t hlen = tns_record_encode(h, &rec);
    tns_payload_tail(tail, f->data, f->nbytes);
    if (put(w, h, hlen, err) || put(w, f->data, f->nbytes, err) ||
        put(w, tail, 4, err))
        return -1;
    w->seg_frames++;
    return 0;
}

int tns_end_segment(tns_writer *w, dx_err *err)
{
    if (flush_pending(w, err))
        return -1;
    if (w->live) {
        if (end_marker(w, (uint64_t)w->seg_frames, 0, 0, err))
            return -1;
        w->seg_frames = 0;
        w->segments++;
        if (fflush(w->fp) != 0)
            return dx_fail(err, "stdout: write failed: %s",
                           strerror(errno));
        return 0;
    }
    w->pending = 1;
    w->pending_frames = w->seg_frames;
    w->seg_frames = 0;
    w->segments++;
    return 0;
}

int tns_finish(tns_writer *w, dx_err *err)
{
    /* The final marker closes the last segment: the one pending, or the
     * open one (which is empty if nothing was written at all). */
    uint64_t count = (uint64_t)(w->pending ? w->pending_frames
                                           : w->seg_frames);
    w->pending = 0;
    /* live: the open segment, if it has frames, or if it is the only one,
     * is closed at once like the others; then the closing marker */
    int tail = w->live;
    if (w->live && (w->seg_frames > 0 || w->segments == 0) &&
        end_marker(w, count, 0, 0, err)) {
        tns_abort(w);
        return -1;
    }
    if (end_marker(w, tail ? 0 : count, 1, tail, err)) {
        tns_abort(w);
        return -1;
    }
    if (w->to_file) {
        w->fp = NULL;
        return dx_atomic_commit(&w->file, err);
    }
    if (fflush(w->fp) != 0)
        return dx_fail(err, "stdout: write failed: %s", strerror(errno));
    return 0;
}

void tns_abort(tns_writer *w)
{
    if (w->to_file)
        dx_atomic_abort(&w->file);
    else if (w->fp)
        __fpurge(w->fp); /* no partial frame reaches the pipe */
    w->fp = NULL;
}

/* ---- segments in memory ---- */

int tns_stream_find(const tns_stream *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return i;
    return -1;
}

tns_frame *tns_stream_get(tns_stream *s, const char *name)
{
    int i = tns_stream_find(s, name);
    return i < 0 ? NULL : &s->v[i];
}

const tns_frame *tns_stream_cget(const tns_stream *s, const char *name)
{
    int i = tns_stream_find(s, name);
    return i < 0 ? NULL : &s->v[i];
}

int tns_stream_put(tns_stream *s, tns_frame *f, int replace, dx_err *err)
{
    int at = tns_stream_find(s, f->name);
    if (at >= 0) {
        if (!replace)
            return dx_fail(err, "frame '%s' is already in the stream (frame "
                           "%d); two frames may not share a name",
                           f->name, at);
        tns_frame_free(&s->v[at]);
        s->v[at] = *f;
        memset(f, 0, sizeof *f);
        return 0;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        tns_frame *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v)
            return dx_fail(err, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = *f;
    memset(f, 0, sizeof *f);
    return 0;
}

int tns_stream_load(tns_stream *s, const char *path, dx_err *err)
{
    memset(s, 0, sizeof *s);
    tns_reader r;
    if (tns_open(&r, path, err))
        return -1;
    tns_frame f;
    int got;
    while ((got = tns_read(&r, &f, err)) == 1)
        if (add_read(&r, s, &f, err)) {
            got = -1;
            break;
        }
    tns_close(&r);
    if (got < 0) {
        tns_stream_free(s);
        return -1;
    }
    return 0;
}

tns_frame *tns_stream_need(tns_stream *s, const char *name, int dtype,
                           int rank, dx_err *err)
{
    tns_frame *f = tns_stream_get(s, name);
    char shape[128];
    if (!f) {
        dx_fail(err, "missing frame '%s' in the input stream", name);
        return NULL;
    }
    if (dtype && f->dtype != dtype) {
        dx_fail(err, "frame '%s' has dtype %s, expected %s", name,
                dx_dtype_name(f->dtype), dx_dtype_name(dtype));
        return NULL;
    }
    if (rank >= 0 && f->rank != rank) {
        dx_fail(err, "frame '%s' has shape %s (rank %d), expected rank %d",
                name, tns_shape_str(f, shape, sizeof shape), f->rank, rank);
        return NULL;
    }
    return f;
}

int tns_stream_drop(tns_stream *s, const char *glob)
{
    int kept = 0, dropped = 0;
    for (int i = 0; i < s->n; i++) {
        if (fnmatch(glob, s->v[i].name, 0) == 0) {
            tns_frame_free(&s->v[i]);
            dropped++;
        } else {
            s->v[kept++] = s->v[i];
        }
    }
    s->n = kept;
    return dropped;
}

int tns_stream_save(const tns_stream *s, const char *path, dx_err *err)
{
    tns_writer w;
    if (tns_create(&w, path, err))
        return -1;
    for (int i = 0; i < s->n; i++) {
        if (tns_write(&w, &s->v[i], err)) {
            tns_abort(&w);
            return -1;
        }
    }
    return tns_finish(&w, err);
}

void tns_stream_free(tns_stream *s)
{
    for (int i = 0; i < s->n; i++)
        tns_frame_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}
