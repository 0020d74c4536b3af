/* tns_format.c - encoding and decoding record headers; see tns(5). */
#include "io/tns_format.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dacs stores payloads in host order and needs a little-endian host"
#endif

static const unsigned char MAGIC[4] = {0x89, 'T', 'N', 'S'};
/* End-marker flags.  FINAL: the writer's last record.  A stream must end
 * with one, so a writer that stops between two segments is still caught.
 * TAIL (only with FINAL, 0 frames): the marker closes no segment; a live
 * writer (tns_stream.h), which closed its last segment at once, ends the
 * stream with it. */
enum { END_FINAL = 1, END_TAIL = 2 };

/* A fuzzing build checks no CRC, so that the fuzzer reaches the checks
 * behind them (dims, names, sizes) instead of stopping at the checksum. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CRC_OK(stored, computed) ((void)(stored), (void)(computed), 1)
#else
#define CRC_OK(stored, computed) ((stored) == (computed))
#endif

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

int tns_record_of(tns_record *rec, const tns_frame *f, dx_err *err)
{
    memset(rec, 0, sizeof *rec);
    if (!tns_name_ok(f->name) || !dx_dtype_size(f->dtype) || f->rank < 0 ||
        f->rank > TNS_MAX_RANK)
        return dx_fail(err, "refusing to write malformed frame '%s'",
                       f->name);
    rec->kind = TNS_KIND_FRAME;
    rec->dtype = f->dtype;
    rec->rank = f->rank;
    for (int i = 0; i < f->rank; i++)
        rec->dims[i] = (uint64_t)f->dims[i];
    snprintf(rec->name, sizeof rec->name, "%s", f->name);
    rec->count = f->count;
    rec->nbytes = f->nbytes;
    return 0;
}

size_t tns_record_encode(unsigned char *buf, const tns_record *rec)
{
    memcpy(buf, MAGIC, 4);
    buf[4] = TNS_VERSION;
    buf[5] = (unsigned char)rec->kind;
    buf[7] = 0;
    if (rec->kind == TNS_KIND_END) {
        buf[6] = (unsigned char)((rec->final ? END_FINAL : 0) |
                                 (rec->final && rec->tail ? END_TAIL : 0));
        put64(buf + 8, rec->frames);
        put32(buf + 16, (uint32_t)crc32(0, buf, 16));
        return TNS_END_LEN;
    }
    size_t namelen = strlen(rec->name);
    buf[6] = 0;
    buf[8] = (unsigned char)rec->dtype;
    buf[9] = (unsigned char)rec->rank;
    put16(buf + 10, (uint32_t)namelen);
    for (int i = 0; i < rec->rank; i++)
        put64(buf + 12 + 8 * i, rec->dims[i]);
    memcpy(buf + 12 + 8 * rec->rank, rec->name, namelen);
    size_t hlen = 12 + 8 * (size_t)rec->rank + namelen;
    put32(buf + hlen, (uint32_t)crc32(0, buf, (uInt)hlen));
    return hlen + 4;
}

/* The prefix: magic, version, reserved bits, kind. */
static int decode_prefix(const unsigned char *b, tns_record *rec,
                         dx_err *err)
{
    if (memcmp(b, MAGIC, 4) != 0) {
        dx_fail(err, "bad magic %02x %02x %02x %02x, expected 89 54 4e 53",
                b[0], b[1], b[2], b[3]);
        return TNS_BAD_MAGIC;
    }
    if (b[4] != TNS_VERSION)
        return dx_fail(err, "format version %d, this dacs reads version %d",
                       b[4], TNS_VERSION);
    if (b[7] != 0 ||
        (b[6] & ~(b[5] == TNS_KIND_END ? END_FINAL | END_TAIL : 0)) ||
        (b[6] & (END_FINAL | END_TAIL)) == END_TAIL)
        return dx_fail(err, "reserved header bits are not zero (corrupt "
                       "stream)");
    if (b[5] != TNS_KIND_END && b[5] != TNS_KIND_FRAME)
        return dx_fail(err, "unknown record kind 0x%02x", b[5]);
    rec->kind = b[5];
    return 0;
}

int tns_record_decode(const unsigned char *b, size_t have, size_t *need,
                      tns_record *rec, dx_err *err)
{
    memset(rec, 0, sizeof *rec);
    *need = TNS_PREFIX_LEN;
    if (have < *need)
        return 1;
    int k = decode_prefix(b, rec, err);
    if (k)
        return k;
    if (rec->kind == TNS_KIND_END) {
        *need = TNS_END_LEN;
        if (have < *need)
            return 1;
        if (!CRC_OK(get32(b + 16), (uint32_t)crc32(0, b, 16)))
            return dx_fail(err, "checksum mismatch");
        rec->final = (b[6] & END_FINAL) != 0;
        rec->tail = (b[6] & END_TAIL) != 0;
        rec->frames = get64(b + 8);
        if (rec->tail && rec->frames != 0)
            return dx_fail(err, "a stream's closing marker counts %llu "
                           "frames, expected 0 (it closes no segment)",
                           (unsigned long long)rec->frames);
        return 0;
    }
    *need = TNS_PREFIX_LEN + 4;
    if (have < *need)
        return 1;
    int dtype = b[8], rank = b[9];
    unsigned namelen = get16(b + 10);
    if (!dx_dtype_size(dtype))
        return dx_fail(err, "unknown dtype code %d, expected 1 (u8), 2 "
                       "(u16), 3 (i32) or 4 (f32)", dtype);
    if (rank > TNS_MAX_RANK)
        return dx_fail(err, "rank %d, expected at most %d", rank,
                       TNS_MAX_RANK);
    if (namelen < 1 || namelen > TNS_MAX_NAME)
        return dx_fail(err, "name length %u, expected 1..%d", namelen,
                       TNS_MAX_NAME);
    size_t hlen = 12 + 8 * (size_t)rank + namelen;
    *need = hlen + 4;
    if (have < *need)
        return 1;
    if (!CRC_OK(get32(b + hlen), (uint32_t)crc32(0, b, (uInt)hlen)))
        return dx_fail(err, "header checksum mismatch (corrupt stream)");
    char name[TNS_MAX_NAME + 1];
    memcpy(name, b + 12 + 8 * rank, namelen);
    name[namelen] = 0;
    if (!tns_name_ok(name))
        return dx_fail(err, "bad name (expected characters from "
                       "[A-Za-z0-9._:/+-])");
    memcpy(rec->name, name, namelen + 1);
    rec->dtype = dtype;
    rec->rank = rank;
    for (int i = 0; i < rank; i++)
        rec->dims[i] = get64(b + 12 + 8 * i);
    return tns_shape_size(dtype, rank, rec->dims, &rec->count, &rec->nbytes,
                          err);
}

void tns_payload_tail(unsigned char tail[4], const void *data, size_t n)
{
    put32(tail, (uint32_t)crc32_z(0, data, n));
}

int tns_payload_ok(const unsigned char tail[4], const void *data, size_t n,
                   uint32_t *stored, uint32_t *computed)
{
    *stored = get32(tail);
    *computed = (uint32_t)crc32_z(0, data, n);
    return CRC_OK(*stored, *computed);
}
