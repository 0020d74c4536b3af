/* test_tns.c - the tensor stream format: round trips and every corruption
 * the reader must catch. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

#include "check.h"
#include "io/tns.h"

/* Write frames to a memory buffer via a tmpfile and return its bytes. */
static unsigned char *stream_bytes(const tns_stream *s, size_t *len)
{
    char path[] = "/tmp/dacs-test-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    dx_err err;
    if (tns_stream_save(s, path, &err)) {
        printf("# save failed: %s\n", err.msg);
        unlink(path);
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *buf = malloc(*len);
    if (fread(buf, 1, *len, fp) != *len)
        *len = 0;
    fclose(fp);
    unlink(path);
    return buf;
}

/* Read a whole stream from bytes: 0 ok, -1 error (message in err). */
static int load_bytes(const unsigned char *buf, size_t len, tns_stream *s,
                      dx_err *err)
{
    char path[] = "/tmp/dacs-test-XXXXXX";
    int fd = mkstemp(path);
    if (len && write(fd, buf, len) != (ssize_t)len)
        return -1;
    close(fd);
    int rc = tns_stream_load(s, path, err);
    unlink(path);
    return rc;
}

static void fill(tns_frame *f, unsigned seed)
{
    unsigned char *p = f->data;
    for (size_t i = 0; i < f->nbytes; i++)
        p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static void test_round_trips(void)
{
    tns_stream s = {0};
    dx_err err;
    int n = 0;
    for (int d = 1; d < DX_DTYPE_END; d++) {
        for (int rank = 0; rank <= TNS_MAX_RANK; rank++) {
            int64_t dims[TNS_MAX_RANK];
            for (int i = 0; i < rank; i++)
                dims[i] = 1 + (i + d) % 3;
            char name[64];
            snprintf(name, sizeof name, "t.%s.r%d", dx_dtype_name(d), rank);
            tns_frame f;
            if (tns_frame_alloc(&f, name, d, rank, dims, &err)) {
                CHECK(0, "alloc %s: %s", name, err.msg);
                continue;
            }
            fill(&f, (unsigned)n++);
            tns_stream_put(&s, &f, 0, &err);
        }
    }
    /* a zero-sized frame too */
    int64_t zero[2] = {3, 0};
    tns_frame z;
    tns_frame_alloc(&z, "empty", DX_F32, 2, zero, &err);
    tns_stream_put(&s, &z, 0, &err);

    size_t len;
    unsigned char *buf = stream_bytes(&s, &len);
    tns_stream back;
    int rc = load_bytes(buf, len, &back, &err);
    CHECK(rc == 0, "round trip of %d frames loads (%s)", s.n,
          rc ? err.msg : "ok");
    int same = rc == 0 && back.n == s.n;
    for (int i = 0; same && i < s.n; i++) {
        const tns_frame *a = &s.v[i], *b = &back.v[i];
        same = strcmp(a->name, b->name) == 0 && a->dtype == b->dtype &&
               tns_same_shape(a, b) && a->nbytes == b->nbytes &&
               (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
        if (!same)
            printf("# frame %d '%s' differs after the round trip\n", i,
                   a->name);
    }
    CHECK(same, "every dtype and rank 0..8 survives a round trip bit-exact");
    if (rc == 0)
        tns_stream_free(&back);

    /* Every truncation, at every byte, is an error; only the full length
     * loads. */
    int truncs_caught = 1;
    for (size_t cut = 0; cut < len; cut++) {
        tns_stream t;
        if (load_bytes(buf, cut, &t, &err) == 0) {
            printf("# a stream cut at byte %zu of %zu loaded\n", cut, len);
            truncs_caught = 0;
            tns_stream_free(&t);
            break;
        }
    }
    CHECK(truncs_caught, "a stream cut at any of its %zu bytes is an error",
          len);

    /* Every single flipped bit anywhere is an error. */
    int flips_caught = 1;
    for (size_t i = 0; i < len && flips_caught; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (unsigned char)(1 << bit);
            tns_stream t;
            if (load_bytes(buf, len, &t, &err) == 0) {
                printf("# flipping bit %d of byte %zu went unnoticed\n", bit,
                       i);
                flips_caught = 0;
                tns_stream_free(&t);
            }
            buf[i] ^= (unsigned char)(1 << bit);
        }
    }
    CHECK(flips_caught, "a flipped bit in any byte is an error");
    free(buf);
    tns_stream_free(&s);
}

/* A one-frame stream, for the targeted corruption cases. */
static unsigned char *one_frame(size_t *len)
{
    tns_stream s = {0};
    tns_frame f;
    dx_err err;
    int64_t dims[2] = {2, 3};
    tns_frame_alloc(&f, "src.label", DX_U8, 2, dims, &err);
    fill(&f, 1);
    tns_stream_put(&s, &f, 0, &err);
    unsigned char *buf = stream_bytes(&s, len);
    tns_stream_free(&s);
    return buf;
}

static int fails_with(const unsigned char *buf, size_t len, const char *want,
                      char *got, size_t gotlen)
{
    tns_stream s;
    dx_err err;
    if (load_bytes(buf, len, &s, &err) == 0) {
        tns_stream_free(&s);
        snprintf(got, gotlen, "(loaded)");
        return 0;
    }
    snprintf(got, gotlen, "%s", err.msg);
    return strstr(err.msg, want) != NULL;
}

static void test_messages(void)
{
    size_t len;
    unsigned char *buf = one_frame(&len);
    char got[DX_ERRLEN];

    buf[1] = 'X';
    CHECK(fails_with(buf, len, "not a tns stream", got, sizeof got),
          "bad magic: %s", got);
    buf[1] = 'T';
    buf[4] = 2;
    CHECK(fails_with(buf, len, "format version 2", got, sizeof got),
          "wrong version: %s", got);
    buf[4] = 1;
    /* payload byte 0 is after prefix(8)+fixed(4)+dims(16)+name(9)+hcrc(4) */
    size_t payload = 8 + 4 + 16 + 9 + 4;
    buf[payload] ^= 0x40;
    CHECK(fails_with(buf, len, "frame 0 'src.label': payload checksum", got,
                     sizeof got),
          "flipped payload byte names the frame: %s", got);
    buf[payload] ^= 0x40;
    CHECK(fails_with(buf, payload + 3, "frame 0 'src.label': payload "
                     "truncated: 3 of 6", got, sizeof got),
          "truncated payload names the frame: %s", got);
    CHECK(fails_with(buf, len - 20, "without an end marker", got, sizeof got),
          "missing end marker: %s", got);
    CHECK(fails_with(buf, 0, "empty input", got, sizeof got),
          "empty input: %s", got);
    free(buf);

    /* Absurd dims with a valid header checksum: caught before allocating. */
    unsigned char h[64] = {0x89, 'T', 'N', 'S', 1, 'F', 0, 0, DX_F32, 3, 1, 0};
    uint64_t dims[3] = {1u << 20, 1u << 20, 1u << 20};
    memcpy(h + 12, dims, sizeof dims);
    h[36] = 'x';
    uint32_t c = (uint32_t)crc32(0, h, 37);
    memcpy(h + 37, &c, 4);
    CHECK(fails_with(h, 41, "larger than the 4294967296-byte limit", got,
                     sizeof got),
          "absurd dims refused: %s", got);
    dims[0] = UINT64_MAX;
    memcpy(h + 12, dims, sizeof dims);
    c = (uint32_t)crc32(0, h, 37);
    memcpy(h + 37, &c, 4);
    CHECK(fails_with(h, 41, "larger than", got, sizeof got),
          "overflowing dims refused: %s", got);
    h[8] = 9;
    c = (uint32_t)crc32(0, h, 37);
    memcpy(h + 37, &c, 4);
    CHECK(fails_with(h, 41, "unknown dtype code 9", got, sizeof got),
          "unknown dtype refused: %s", got);
    h[8] = DX_F32;
    h[9] = 9;
    CHECK(fails_with(h, 41, "rank 9", got, sizeof got),
          "rank 9 refused: %s", got);
}

static void test_segments(void)
{
    dx_err err;
    tns_stream a = {0};
    tns_frame f;
    int64_t d = 4;
    tns_frame_alloc(&f, "x", DX_I32, 1, &d, &err);
    tns_stream_put(&a, &f, 0, &err);
    size_t len;
    unsigned char *one = stream_bytes(&a, &len);
    unsigned char *two = malloc(2 * len);
    memcpy(two, one, len);
    memcpy(two + len, one, len);

    /* cat a a: two segments, each a batch with its own 'x' */
    char path[] = "/tmp/dacs-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(write(fd, two, 2 * len) == (ssize_t)(2 * len), "wrote two segments");
    close(fd);
    tns_reader r;
    tns_stream s;
    int segs = 0, got;
    tns_open(&r, path, &err);
    while ((got = tns_read_segment(&r, &s, &err)) == 1) {
        segs += s.n == 1 && strcmp(s.v[0].name, "x") == 0;
        tns_stream_free(&s);
    }
    tns_close(&r);
    CHECK(got == 0 && segs == 2, "cat of two streams reads as two batches");
    /* as one batch, the two x frames collide */
    char got_msg[DX_ERRLEN];
    CHECK(fails_with(two, 2 * len, "a second frame of this name", got_msg,
                     sizeof got_msg),
          "the same name twice in one batch is an error: %s", got_msg);
    unlink(path);

    /* replace */
    tns_frame g;
    tns_frame_alloc(&g, "x", DX_U8, 1, &d, &err);
    CHECK(tns_stream_put(&a, &g, 0, &err) == -1 &&
              strstr(err.msg, "already in the stream"),
          "put of a duplicate name is refused: %s", err.msg);
    CHECK(tns_stream_put(&a, &g, 1, &err) == 0 && a.n == 1 &&
              a.v[0].dtype == DX_U8,
          "put with replace swaps the frame");
    tns_frame_free(&g);
    tns_stream_free(&a);
    free(one);
    free(two);

    /* An empty stream (no frames) is one end marker and loads as empty. */
    tns_stream e = {0};
    unsigned char *eb = stream_bytes(&e, &len);
    tns_stream back;
    CHECK(len == 20 && load_bytes(eb, len, &back, &err) == 0 && back.n == 0,
          "an empty stream is a 20-byte end marker and loads");
    tns_stream_free(&back);
    free(eb);
}

/* Three segments of one 3-byte frame "y" written to path (live or not);
 * the bytes of the file in buf, their count returned. */
static size_t three_segments(const char *path, int live, unsigned char *buf,
                             size_t cap)
{
    dx_err err;
    tns_writer w;
    tns_frame f;
    int64_t d = 3;
    tns_frame_alloc(&f, "y", DX_U8, 1, &d, &err);
    tns_create(&w, path, &err);
    w.live = live;
    for (int k = 0; k < 3; k++) {
        tns_write(&w, &f, &err);
        tns_end_segment(&w, &err);
    }
    CHECK(tns_finish(&w, &err) == 0, "three segments written (live %d)",
          live);
    tns_frame_free(&f);
    FILE *fp = fopen(path, "rb");
    size_t len = fread(buf, 1, cap, fp);
    fclose(fp);
    return len;
}

/* A writer of several segments: the reader sees exactly those segments, and
 * a stream cut after any of them but the last is an error. */
static void test_final_marker(void)
{
    dx_err err;
    char path[] = "/tmp/dacs-test-XXXXXX";
    close(mkstemp(path));
    unsigned char buf[512];
    size_t len = three_segments(path, 0, buf, sizeof buf);
    unlink(path);
    /* each segment: frame (8+4+8+1+4 header, 3 payload, 4 crc) + marker */
    size_t seg = 8 + 4 + 8 + 1 + 4 + 3 + 4 + 20;
    CHECK(len == 3 * seg, "three segments, each closed by one marker: %zu "
          "bytes", len);
    CHECK(buf[seg - 20 + 6] == 0 && buf[2 * seg - 20 + 6] == 0 &&
              buf[3 * seg - 20 + 6] == 1,
          "only the last marker is final");

    char p2[] = "/tmp/dacs-test-XXXXXX";
    int fd = mkstemp(p2);
    CHECK(write(fd, buf, len) == (ssize_t)len, "wrote");
    close(fd);
    tns_reader r;
    tns_stream s;
    int n = 0, got;
    tns_open(&r, p2, &err);
    while ((got = tns_read_segment(&r, &s, &err)) == 1) {
        n += s.n == 1;
        tns_stream_free(&s);
    }
    tns_close(&r);
    unlink(p2);
    CHECK(got == 0 && n == 3, "read back as three batches");

    for (int k = 1; k <= 2; k++) {
        char p3[] = "/tmp/dacs-test-XXXXXX";
        fd = mkstemp(p3);
        CHECK(write(fd, buf, k * seg) == (ssize_t)(k * seg), "wrote");
        close(fd);
        tns_open(&r, p3, &err);
        while ((got = tns_read_segment(&r, &s, &err)) == 1)
            tns_stream_free(&s);
        tns_close(&r);
        unlink(p3);
        CHECK(got == -1 && strstr(err.msg, "without its final end marker"),
              "a stream cut after batch %d of 3 is an error: %s", k,
              got == -1 ? err.msg : "(read)");
    }
}

/* Read path to its end: the number of batches, or -1 (err set). */
static int count_segments(const char *path, dx_err *err)
{
    tns_reader r;
    tns_stream s;
    int n = 0, got;
    if (tns_open(&r, path, err))
        return -1;
    while ((got = tns_read_segment(&r, &s, err)) == 1) {
        n++;
        tns_stream_free(&s);
    }
    tns_close(&r);
    return got < 0 ? -1 : n;
}

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(buf, 1, len, fp) == len;
    if (fp)
        fclose(fp);
    return ok;
}

/* A live writer closes each segment at once and ends with a closing
 * marker that closes no segment; readers take it, and still catch a
 * stream cut between two segments. */
static void test_live(void)
{
    dx_err err;
    char path[] = "/tmp/dacs-test-XXXXXX";
    close(mkstemp(path));
    unsigned char buf[512];
    size_t len = three_segments(path, 1, buf, sizeof buf);
    size_t seg = 8 + 4 + 8 + 1 + 4 + 3 + 4 + 20;
    CHECK(len == 3 * seg + 20, "three segments and a closing marker: %zu "
          "bytes", len);
    CHECK(buf[seg - 20 + 6] == 0 && buf[3 * seg - 20 + 6] == 0 &&
              buf[3 * seg + 6] == 3 && buf[3 * seg + 8] == 0,
          "every segment closed by an ordinary marker, the stream by a "
          "final closing one of 0 frames");
    CHECK(count_segments(path, &err) == 3, "read back as three batches");
    for (int k = 1; k <= 3; k++) {
        write_file(path, buf, k * seg);
        CHECK(count_segments(path, &err) == -1 &&
                  strstr(err.msg, "without its final end marker"),
              "a live stream cut after batch %d is an error: %s", k,
              err.msg);
    }
    /* two live streams one after the other: six batches */
    unsigned char two[1024];
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    write_file(path, two, 2 * len);
    CHECK(count_segments(path, &err) == 6, "cat of two live streams: six "
          "batches");
    /* the closing marker must count 0 frames and follow a closed batch */
    unsigned char bad[512];
    memcpy(bad, buf, len);
    bad[3 * seg + 8] = 1;
    uint32_t crc = (uint32_t)crc32(0, bad + 3 * seg, 16);
    for (int i = 0; i < 4; i++)
        bad[3 * seg + 16 + i] = (unsigned char)(crc >> (8 * i));
    write_file(path, bad, len);
    CHECK(count_segments(path, &err) == -1 && strstr(err.msg, "expected 0"),
          "a closing marker that counts frames is refused: %s", err.msg);
    memcpy(bad, buf, 3 * seg - 20);
    memcpy(bad + 3 * seg - 20, buf + 3 * seg, 20);
    write_file(path, bad, 3 * seg);
    CHECK(count_segments(path, &err) == -1 &&
              strstr(err.msg, "never closed"),
          "a closing marker after an open batch is refused: %s", err.msg);
    memcpy(bad, buf, len);
    bad[3 * seg + 6] = 2;
    crc = (uint32_t)crc32(0, bad + 3 * seg, 16);
    for (int i = 0; i < 4; i++)
        bad[3 * seg + 16 + i] = (unsigned char)(crc >> (8 * i));
    write_file(path, bad, len);
    CHECK(count_segments(path, &err) == -1 && strstr(err.msg, "reserved"),
          "the closing flag without the final one is refused: %s", err.msg);
    /* a live writer of nothing: one empty batch, as a plain empty stream */
    tns_writer w;
    tns_create(&w, path, &err);
    w.live = 1;
    CHECK(tns_finish(&w, &err) == 0 && count_segments(path, &err) == 1,
          "an empty live stream is one empty batch");
    unlink(path);
}

static void test_atomic(void)
{
    dx_err err;
    char dir[] = "/tmp/dacs-atomic-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[256];
    snprintf(path, sizeof path, "%s/ckpt.tns", dir);
    FILE *fp = fopen(path, "w");
    fputs("old", fp);
    fclose(fp);

    tns_writer w;
    tns_frame f;
    int64_t d = 8;
    tns_frame_alloc(&f, "w", DX_F32, 1, &d, &err);
    CHECK(tns_create(&w, path, &err) == 0, "create writer over old file");
    tns_write(&w, &f, &err);
    struct stat st;
    stat(path, &st);
    CHECK(st.st_size == 3, "before finish the old file is untouched");
    tns_abort(&w);
    stat(path, &st);
    CHECK(st.st_size == 3, "after abort the old file is untouched");
    int leftovers = 0;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A %s | grep -vc '^ckpt.tns$'", dir);
    FILE *p = popen(cmd, "r");
    CHECK(fscanf(p, "%d", &leftovers) == 1 && leftovers == 0,
          "abort leaves no temporary file");
    pclose(p);

    CHECK(tns_create(&w, path, &err) == 0 && tns_write(&w, &f, &err) == 0 &&
              tns_finish(&w, &err) == 0,
          "write and finish");
    tns_stream s;
    CHECK(tns_stream_load(&s, path, &err) == 0 && s.n == 1,
          "finished file replaces the old one and loads");
    tns_stream_free(&s);
    tns_frame_free(&f);

    CHECK(tns_create(&w, dir, &err) == -1 && strstr(err.msg, "directory"),
          "a directory as output is refused: %s", err.msg);

    /* A device is written, never replaced (a rename over /dev/null would
     * turn it into a regular file). */
    tns_frame_alloc(&f, "w", DX_F32, 1, &d, &err);
    CHECK(tns_create(&w, "/dev/null", &err) == 0 &&
              tns_write(&w, &f, &err) == 0 && tns_finish(&w, &err) == 0,
          "writing to /dev/null works");
    tns_frame_free(&f);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
          "/dev/null is still a character device");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_misc(void)
{
    dx_err err;
    tns_frame f;
    int64_t d[2] = {2, 2};
    CHECK(tns_frame_alloc(&f, "bad name", DX_U8, 2, d, &err) == -1,
          "a name with a space is refused");
    CHECK(tns_frame_alloc(&f, "", DX_U8, 2, d, &err) == -1,
          "an empty name is refused");
    CHECK(tns_frame_alloc(&f, "ok", 0, 2, d, &err) == -1,
          "dtype 0 is refused");
    tns_frame_alloc(&f, "p", DX_F32, 2, d, &err);
    ((float *)f.data)[3] = NAN;
    CHECK(tns_check_finite(&f, &err) == -1 && strstr(err.msg, "element 3 is NaN"),
          "NaN found: %s", err.msg);
    ((float *)f.data)[3] = -INFINITY;
    CHECK(tns_check_finite(&f, &err) == -1 && strstr(err.msg, "infinite"),
          "Inf found: %s", err.msg);
    tns_frame_free(&f);
    CHECK(dx_dtype_parse("u16") == DX_U16 && dx_dtype_parse("f64") == 0,
          "dtype names parse");
}

/* A borrowed frame: written like an owned one, never freed by the frame
 * or a stream holding it; const lookups find it. */
static void test_borrowed(void)
{
    dx_err err;
    float mem[6] = {1, 2, 3, 4, 5, 6};
    int64_t d[2] = {2, 3};
    tns_frame f, owned;
    CHECK(tns_frame_borrow(&f, "b.w", DX_F32, 2, d, mem, &err) == 0 &&
              f.borrowed && f.data == (void *)mem && f.nbytes == 24,
          "a frame borrows 24 bytes without copying");
    CHECK(tns_frame_borrow(&owned, "bad name", DX_F32, 2, d, mem, &err) ==
              -1 && strstr(err.msg, "bad frame name"),
          "borrowing checks the name like alloc: %s", err.msg);
    CHECK(tns_frame_borrow(&owned, "b.x", DX_F32, 2, d, NULL, &err) == -1,
          "borrowing nothing for a non-empty frame is refused");
    tns_frame_alloc(&owned, "b.o", DX_U8, 1, d, &err);
    tns_stream s = {0};
    CHECK(tns_stream_put(&s, &f, 0, &err) == 0 &&
              tns_stream_put(&s, &owned, 0, &err) == 0,
          "a stream holds a borrowed and an owned frame");
    const tns_stream *cs = &s;
    const tns_frame *g = tns_stream_cget(cs, "b.w");
    CHECK(g && g->data == (void *)mem && !tns_stream_cget(cs, "b.none"),
          "tns_stream_cget finds the borrowed frame through a const stream");
    size_t len;
    unsigned char *bytes = stream_bytes(&s, &len);
    tns_stream back;
    CHECK(load_bytes(bytes, len, &back, &err) == 0 && back.n == 2 &&
              !back.v[0].borrowed && memcmp(back.v[0].data, mem, 24) == 0,
          "a borrowed frame is written and read back as its memory");
    tns_stream_free(&back);
    free(bytes);
    tns_frame copy;
    CHECK(tns_frame_copy(&copy, tns_stream_cget(cs, "b.w"), "b.c", &err) ==
              0 && !copy.borrowed && copy.data != (void *)mem,
          "a copy of a borrowed frame owns its payload");
    tns_frame_free(&copy);
    tns_stream_drop(&s, "b.w");
    tns_stream_free(&s);
    /* Freed twice over (drop, then free) would crash or, under ASan,
     * report; the memory is the caller's and still readable. */
    CHECK(mem[5] == 6, "dropping and freeing the stream left the memory");
}

/* The header codec alone: encode, then decode byte by byte as a reader
 * that asks for *need bytes at a time. */
static void test_codec(void)
{
    dx_err err;
    int64_t d[3] = {2, 0, 7};
    tns_frame f;
    tns_frame_alloc(&f, "codec.x", DX_U16, 3, d, &err);
    tns_record rec, back;
    unsigned char buf[TNS_HEADER_MAX];
    CHECK(tns_record_of(&rec, &f, &err) == 0, "a frame's record");
    size_t len = tns_record_encode(buf, &rec), need = 0, have = 0;
    CHECK(len == 8 + 4 + 24 + 7 + 4, "frame header is %zu bytes", len);
    int k, asks = 0;
    while ((k = tns_record_decode(buf, have, &need, &back, &err)) == 1) {
        CHECK(need > have && need <= len, "asks for %zu bytes", need);
        have = need;
        asks++;
    }
    CHECK(k == 0 && need == len && asks == 3 && back.kind == TNS_KIND_FRAME &&
              back.dtype == DX_U16 && back.rank == 3 && back.dims[2] == 7 &&
              back.nbytes == 0 && strcmp(back.name, "codec.x") == 0,
          "decoded in three reads: prefix, fixed part, rest");
    tns_record end = {.kind = TNS_KIND_END, .final = 1, .frames = 5};
    len = tns_record_encode(buf, &end);
    CHECK(len == TNS_END_LEN &&
              tns_record_decode(buf, len, &need, &back, &err) == 0 &&
              back.kind == TNS_KIND_END && back.final && back.frames == 5,
          "an end marker round-trips");
    buf[0] = 'P';
    CHECK(tns_record_decode(buf, len, &need, &back, &err) == TNS_BAD_MAGIC,
          "a bad magic is told apart: %s", err.msg);
    f.name[0] = ' ';
    CHECK(tns_record_of(&rec, &f, &err) == -1, "a malformed frame has no "
          "record");
    f.name[0] = 'c';
    tns_frame_free(&f);
}

int main(void)
{
    test_round_trips();
    test_messages();
    test_segments();
    test_final_marker();
    test_live();
    test_atomic();
    test_misc();
    test_borrowed();
    test_codec();
    return check_done();
}
