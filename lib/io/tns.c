/* tns.c - reading and writing tensor streams; the layout is in tns(5). */
#include "io/tns.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dacs stores payloads in host order and needs a little-endian host"
#endif

static const unsigned char MAGIC[4] = {0x89, 'T', 'N', 'S'};

/* A fuzzing build checks no CRC, so that the fuzzer reaches the checks
 * behind them (dims, names, sizes) instead of stopping at the checksum. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CRC_OK(stored, computed) ((void)(stored), (void)(computed), 1)
#else
#define CRC_OK(stored, computed) ((stored) == (computed))
#endif
enum { KIND_FRAME = 'F', KIND_END = 'E' };
enum { PREFIX_LEN = 8, END_LEN = 20 };
/* End-marker flag: the writer's last record.  A stream must end with one,
 * so a writer that stops between two segments is still caught. */
enum { END_FINAL = 1 };

/* One table of dtypes, indexed by wire code. */
static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [0] = {"?", 0},
    [DX_U8] = {"u8", 1},
    [DX_U16] = {"u16", 2},
    [DX_I32] = {"i32", 4},
    [DX_F32] = {"f32", 4},
};
_Static_assert(sizeof DTYPES / sizeof DTYPES[0] == DX_DTYPE_END,
               "DTYPES must list every dx_dtype");

size_t dx_dtype_size(int dtype)
{
    return dtype > 0 && dtype < DX_DTYPE_END ? DTYPES[dtype].size : 0;
}

const char *dx_dtype_name(int dtype)
{
    return DTYPES[dtype > 0 && dtype < DX_DTYPE_END ? dtype : 0].name;
}

int dx_dtype_parse(const char *s)
{
    for (int d = 1; d < DX_DTYPE_END; d++)
        if (strcmp(s, DTYPES[d].name) == 0)
            return d;
    return 0;
}

static void put16(unsigned char *p, uint32_t v)
{
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (v >> (8 * i)) & 0xff;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (v >> (8 * i)) & 0xff;
}

static uint32_t get16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int tns_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > TNS_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("._:/+-", c)))
            return 0;
    }
    return 1;
}

/* Element count and byte size of a shape, checked for overflow and against
 * TNS_MAX_BYTES.  Fails with a message naming the shape. */
static int shape_size(int dtype, int rank, const uint64_t *dims,
                      size_t *count, size_t *nbytes, dx_err *err)
{
    uint64_t c = 1;
    int over = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > (uint64_t)INT64_MAX)
            over = 1;
        else if (dims[i] && c > UINT64_MAX / dims[i])
            over = 1;
        else
            c *= dims[i];
    }
    uint64_t es = dx_dtype_size(dtype);
    if (!over && c > TNS_MAX_BYTES / es)
        over = 1;
    if (over) {
        char buf[8 * 24] = "";
        size_t len = 0;
        for (int i = 0; i < rank; i++)
            len += snprintf(buf + len, sizeof buf - len, "%s%llu", i ? "x" : "",
                            (unsigned long long)dims[i]);
        return dx_fail(err,
                       "shape %s of %s is larger than the %llu-byte limit "
                       "for one frame",
                       buf, dx_dtype_name(dtype),
                       (unsigned long long)TNS_MAX_BYTES);
    }
    *count = (size_t)c;
    *nbytes = (size_t)(c * es);
    return 0;
}

int tns_frame_alloc(tns_frame *f, const char *name, int dtype, int rank,
                    const int64_t *dims, dx_err *err)
{
    memset(f, 0, sizeof *f);
    if (!name || !tns_name_ok(name))
        return dx_fail(err, "bad frame name '%s': expected 1-%d characters "
                       "from [A-Za-z0-9._:/+-]", name ? name : "(null)",
                       TNS_MAX_NAME);
    if (!dx_dtype_size(dtype))
        return dx_fail(err, "frame '%s': unknown dtype code %d", name, dtype);
    if (rank < 0 || rank > TNS_MAX_RANK)
        return dx_fail(err, "frame '%s': rank %d, expected 0..%d", name, rank,
                       TNS_MAX_RANK);
    uint64_t ud[TNS_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return dx_fail(err, "frame '%s': negative dim %lld", name,
                           (long long)dims[i]);
        ud[i] = (uint64_t)dims[i];
    }
    if (shape_size(dtype, rank, ud, &f->count, &f->nbytes, err))
        return dx_wrap(err, "frame '%s': ", name);
    if (f->nbytes) {
        f->data = calloc(1, f->nbytes);
        if (!f->data)
            return dx_fail(err, "frame '%s': cannot allocate %zu bytes", name,
                           f->nbytes);
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    f->dtype = dtype;
    f->rank = rank;
    for (int i = 0; i < rank; i++)
        f->dims[i] = dims[i];
    return 0;
}

void tns_frame_free(tns_frame *f)
{
    free(f->data);
    memset(f, 0, sizeof *f);
}

int tns_frame_copy(tns_frame *dst, const tns_frame *src, const char *name,
                   dx_err *err)
{
    if (tns_frame_alloc(dst, name ? name : src->name, src->dtype, src->rank,
                        src->dims, err))
        return -1;
    if (src->nbytes)
        memcpy(dst->data, src->data, src->nbytes);
    return 0;
}

int tns_frame_text(tns_frame *f, const char *name, const char *text,
                   dx_err *err)
{
    int64_t len = (int64_t)strlen(text);
    if (tns_frame_alloc(f, name, DX_U8, 1, &len, err))
        return -1;
    if (len)
        memcpy(f->data, text, (size_t)len);
    return 0;
}

char *tns_shape_str(const tns_frame *f, char *buf, size_t len)
{
    if (f->rank == 0) {
        snprintf(buf, len, "scalar");
        return buf;
    }
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < f->rank && at < len; i++)
        at += snprintf(buf + at, len - at, "%s%lld", i ? "x" : "",
                       (long long)f->dims[i]);
    return buf;
}

int tns_same_shape(const tns_frame *a, const tns_frame *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

int tns_check_finite(const tns_frame *f, dx_err *err)
{
    if (f->dtype != DX_F32)
        return 0;
    const float *x = f->data;
    for (size_t i = 0; i < f->count; i++) {
        if (!isfinite(x[i]))
            return dx_fail(err, "frame '%s': element %zu is %s, expected a "
                           "finite number", f->name, i,
                           isnan(x[i]) ? "NaN" : "infinite");
    }
    return 0;
}

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

/* Returns 2: the marker closes a segment. */
static int read_end_marker(tns_reader *r, const unsigned char *prefix,
                           dx_err *err)
{
    unsigned char b[END_LEN];
    memcpy(b, prefix, PREFIX_LEN);
    if (read_some(r, b + PREFIX_LEN, END_LEN - PREFIX_LEN) !=
        END_LEN - PREFIX_LEN)
        return dx_fail(err, "%s: truncated end marker after frame %ld",
                       r->src, r->index - 1);
    if (!CRC_OK(get32(b + 16), (uint32_t)crc32(0, b, 16)))
        return dx_fail(err, "%s: end marker after frame %ld: checksum "
                       "mismatch", r->src, r->index - 1);
    uint64_t n = get64(b + 8);
    if (n != (uint64_t)r->seg_frames && r->index == 0 && !r->ended)
        return dx_fail(err, "%s: not a tns stream (it starts with an end "
                       "marker for %llu frames)", r->src,
                       (unsigned long long)n);
    if (n != (uint64_t)r->seg_frames)
        return dx_fail(err, "%s: end marker says %llu frames, but %ld were "
                       "read since the last one", r->src,
                       (unsigned long long)n, r->seg_frames);
    r->seg_frames = 0;
    r->ended = b[6] & END_FINAL ? 2 : 1;
    return 2;
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

/* 1: a frame; 2: an end marker; 0: clean end of stream; -1: error. */
static int read_record(tns_reader *r, tns_frame *f, dx_err *err)
{
    memset(f, 0, sizeof *f);
    unsigned char pre[PREFIX_LEN];
    size_t got = read_some(r, pre, PREFIX_LEN);
    if (got == 0 && ferror(r->fp))
        return dx_fail(err, "%s: read error: %s", r->src, strerror(errno));
    if (got == 0) {
        if (r->ended == 2)
            return 0;
        if (r->ended == 1)
            return dx_fail(err, "%s: stream ends after batch %ld without "
                           "its final end marker (truncated: the writer "
                           "died or was cut off)", r->src, r->segment);
        if (r->index == 0)
            return dx_fail(err, "%s: empty input, expected a tns stream",
                           r->src);
        return dx_fail(err, "%s: stream ends after frame %ld '%s' "
                       "without an end marker (truncated: the writer "
                       "died or was cut off)", r->src, r->index - 1,
                       r->last);
    }
    if (got < PREFIX_LEN)
        return dx_fail(err, "%s: frame %ld: truncated record header "
                       "(%zu of %d bytes)", r->src, r->index, got,
                       PREFIX_LEN);
    if (memcmp(pre, MAGIC, 4) != 0) {
        if (r->index == 0 && !r->ended)
            return dx_fail(err, "%s: not a tns stream (bad magic "
                           "%02x %02x %02x %02x, expected 89 54 4e 53)",
                           r->src, pre[0], pre[1], pre[2], pre[3]);
        return dx_fail(err, "%s: frame %ld: bad magic %02x %02x %02x "
                       "%02x, expected 89 54 4e 53 (corrupt stream)",
                       r->src, r->index, pre[0], pre[1], pre[2], pre[3]);
    }
    if (pre[4] != TNS_VERSION)
        return dx_fail(err, "%s: frame %ld: format version %d, this dacs "
                       "reads version %d", r->src, r->index, pre[4],
                       TNS_VERSION);
    if (pre[7] != 0 || (pre[6] & ~(pre[5] == KIND_END ? END_FINAL : 0)))
        return dx_fail(err, "%s: frame %ld: reserved header bits are "
                       "not zero (corrupt stream)", r->src, r->index);
    if (pre[5] == KIND_END)
        return read_end_marker(r, pre, err);
    if (pre[5] != KIND_FRAME)
        return dx_fail(err, "%s: frame %ld: unknown record kind 0x%02x",
                       r->src, r->index, pre[5]);
    r->ended = 0;

    /* The fixed part, then dims and name, then the header checksum. */
    unsigned char h[PREFIX_LEN + 4 + 8 * TNS_MAX_RANK + TNS_MAX_NAME + 4];
    memcpy(h, MAGIC, 4);
    h[4] = TNS_VERSION;
    h[5] = KIND_FRAME;
    put16(h + 6, 0);
    long idx = r->index;
    if (read_some(r, h + 8, 4) != 4)
        return dx_fail(err, "%s: frame %ld: truncated header", r->src, idx);
    int dtype = h[8], rank = h[9];
    unsigned namelen = get16(h + 10);
    if (!dx_dtype_size(dtype))
        return dx_fail(err, "%s: frame %ld: unknown dtype code %d, expected "
                       "1 (u8), 2 (u16), 3 (i32) or 4 (f32)", r->src, idx,
                       dtype);
    if (rank > TNS_MAX_RANK)
        return dx_fail(err, "%s: frame %ld: rank %d, expected at most %d",
                       r->src, idx, rank, TNS_MAX_RANK);
    if (namelen < 1 || namelen > TNS_MAX_NAME)
        return dx_fail(err, "%s: frame %ld: name length %u, expected 1..%d",
                       r->src, idx, namelen, TNS_MAX_NAME);
    size_t rest = 8 * (size_t)rank + namelen + 4;
    if (read_some(r, h + 12, rest) != rest)
        return dx_fail(err, "%s: frame %ld: truncated header", r->src, idx);
    size_t hlen = 12 + rest - 4;
    if (!CRC_OK(get32(h + hlen), (uint32_t)crc32(0, h, (uInt)hlen)))
        return dx_fail(err, "%s: frame %ld: header checksum mismatch "
                       "(corrupt stream)", r->src, idx);
    char name[TNS_MAX_NAME + 1];
    memcpy(name, h + 12 + 8 * rank, namelen);
    name[namelen] = 0;
    if (!tns_name_ok(name))
        return dx_fail(err, "%s: frame %ld: bad name (expected characters "
                       "from [A-Za-z0-9._:/+-])", r->src, idx);
    uint64_t ud[TNS_MAX_RANK];
    for (int i = 0; i < rank; i++)
        ud[i] = get64(h + 12 + 8 * i);
    size_t count, nbytes;
    if (shape_size(dtype, rank, ud, &count, &nbytes, err))
        return dx_wrap(err, "%s: frame %ld '%s': ", r->src, idx, name);

    void *data = NULL;
    size_t have = 0;
    if (read_payload(r, nbytes, &data, &have)) {
        free(data);
        return dx_fail(err, "%s: frame %ld '%s': cannot allocate %zu bytes",
                       r->src, idx, name, nbytes);
    }
    unsigned char tail[4];
    size_t tgot = have == nbytes ? read_some(r, tail, 4) : 0;
    if (have != nbytes || tgot != 4) {
        free(data);
        if (have != nbytes)
            return dx_fail(err, "%s: frame %ld '%s': payload truncated: %zu "
                           "of %zu bytes present", r->src, idx, name, have,
                           nbytes);
        return dx_fail(err, "%s: frame %ld '%s': truncated before its "
                       "payload checksum", r->src, idx, name);
    }
    uint32_t want = get32(tail);
    uint32_t crc = (uint32_t)crc32_z(0, data, nbytes);
    if (!CRC_OK(want, crc)) {
        free(data);
        return dx_fail(err, "%s: frame %ld '%s': payload checksum mismatch "
                       "(stored %08x, computed %08x): the data is corrupt",
                       r->src, idx, name, want, crc);
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    f->dtype = dtype;
    f->rank = rank;
    for (int i = 0; i < rank; i++)
        f->dims[i] = (int64_t)ud[i];
    f->count = count;
    f->nbytes = nbytes;
    f->data = data;
    snprintf(r->last, sizeof r->last, "%s", name);
    r->index++;
    r->seg_frames++;
    return 1;
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

int tns_create(tns_writer *w, const char *path, dx_err *err)
{
    memset(w, 0, sizeof *w);
    if (!path || strcmp(path, "-") == 0) {
        w->fp = stdout;
        return 0;
    }
    if (dx_atomic_open(&w->file, path, err))
        return -1;
    w->fp = w->file.fp;
    w->to_file = 1;
    return 0;
}

static const char *wname(const tns_writer *w)
{
    return w->to_file ? w->file.path : "stdout";
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
    return dx_fail(err, "%s: write failed: %s; %s", wname(w), strerror(e),
                   old ? "the old file is kept unchanged"
                       : "nothing was written");
}

static int flush_pending(tns_writer *w, dx_err *err);

int tns_write(tns_writer *w, const tns_frame *f, dx_err *err)
{
    if (flush_pending(w, err))
        return -1;
    if (!tns_name_ok(f->name) || !dx_dtype_size(f->dtype) || f->rank < 0 ||
        f->rank > TNS_MAX_RANK)
        return dx_fail(err, "refusing to write malformed frame '%s'",
                       f->name);
    unsigned char h[PREFIX_LEN + 4 + 8 * TNS_MAX_RANK + TNS_MAX_NAME + 4];
    size_t namelen = strlen(f->name);
    memcpy(h, MAGIC, 4);
    h[4] = TNS_VERSION;
    h[5] = KIND_FRAME;
    put16(h + 6, 0);
    h[8] = (unsigned char)f->dtype;
    h[9] = (unsigned char)f->rank;
    put16(h + 10, (uint32_t)namelen);
    for (int i = 0; i < f->rank; i++)
        put64(h + 12 + 8 * i, (uint64_t)f->dims[i]);
    memcpy(h + 12 + 8 * f->rank, f->name, namelen);
    size_t hlen = 12 + 8 * (size_t)f->rank + namelen;
    put32(h + hlen, (uint32_t)crc32(0, h, (uInt)hlen));
    unsigned char tail[4];
    put32(tail, (uint32_t)crc32_z(0, f->data, f->nbytes));
    if (put(w, h, hlen + 4, err) || put(w, f->data, f->nbytes, err) ||
        put(w, tail, 4, err))
        return -1;
    w->seg_frames++;
    return 0;
}

static int end_marker(tns_writer *w, uint64_t count, int flags,
                      dx_err *err)
{
    unsigned char b[END_LEN];
    memcpy(b, MAGIC, 4);
    b[4] = TNS_VERSION;
    b[5] = KIND_END;
    b[6] = (unsigned char)flags;
    b[7] = 0;
    put64(b + 8, count);
    put32(b + 16, (uint32_t)crc32(0, b, 16));
    return put(w, b, END_LEN, err);
}

/* A closed segment's marker waits until the writer knows whether another
 * record follows: then it is an ordinary marker, at tns_finish the final
 * one.  So every stream has exactly one encoding. */
static int flush_pending(tns_writer *w, dx_err *err)
{
    if (!w->pending)
        return 0;
    w->pending = 0;
    return end_marker(w, (uint64_t)w->pending_frames, 0, err);
}

int tns_end_segment(tns_writer *w, dx_err *err)
{
    if (flush_pending(w, err))
        return -1;
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
    if (end_marker(w, count, END_FINAL, err)) {
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

/* ---- whole streams ---- */

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

/* ---- the filter skeleton ---- */

int tns_filter(const char *in, const char *out, tns_segment_fn fn,
               void *ctx, const char *const *drop, int ndrop, dx_err *err)
{
    tns_reader r;
    tns_writer w;
    tns_stream s = {0};
    if (tns_open(&r, in, err))
        return -1;
    if (tns_create(&w, out, err)) {
        tns_close(&r);
        return -1;
    }
    int got;
    long seg = 0;
    while ((got = tns_read_segment(&r, &s, err)) == 1) {
        if (fn && fn(ctx, &s, seg, err)) {
            if (seg > 0 || r.ended != 2) /* name the batch of a stream of several */
                dx_wrap(err, "batch %ld: ", seg);
            goto fail;
        }
        for (int k = 0; k < ndrop; k++)
            tns_stream_drop(&s, drop[k]);
        for (int i = 0; i < s.n; i++)
            if (tns_write(&w, &s.v[i], err))
                goto fail;
        if (tns_end_segment(&w, err))
            goto fail;
        tns_stream_free(&s);
        seg++;
    }
    if (got < 0)
        goto fail;
    tns_close(&r);
    return tns_finish(&w, err);
fail:
    tns_stream_free(&s);
    tns_close(&r);
    tns_abort(&w);
    return -1;
}
