/* tns_format.h - the tensor stream's wire format: one encoder and one
 * decoder of record headers (tns(5) gives the byte layout).
 *
 * A record is a frame or an end marker.  Both start with the same 8-byte
 * prefix (magic 0x89 'T' 'N' 'S', version, kind, flags, reserved).  A
 * frame's header goes on with dtype, rank, name length, the dims, the name
 * and a CRC-32 of all of that; its payload and the payload's CRC-32 follow
 * the header.  An end marker is 20 bytes: the prefix, the frame count of
 * the segment it closes (u64) and a CRC-32 of the first 16 bytes.
 *
 * The codec works on memory only; the streams (tns_stream.h) move the bytes.
 * It needs a little-endian host, since payloads are stored in host order.
 */
#ifndef DACS_TNS_FORMAT_H
#define DACS_TNS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "io/tns_frame.h"

#define TNS_VERSION 1

enum { TNS_KIND_FRAME = 'F', TNS_KIND_END = 'E' };
enum {
    TNS_PREFIX_LEN = 8,
    TNS_END_LEN = 20,
    /* the longest frame header: prefix, fixed fields, dims, name, CRC */
    TNS_HEADER_MAX = TNS_PREFIX_LEN + 4 + 8 * TNS_MAX_RANK + TNS_MAX_NAME + 4
};

/* What a record header says. */
typedef struct tns_record {
    int kind; /* TNS_KIND_FRAME or TNS_KIND_END */
    /* an end marker */
    int final;       /* the stream's last record */
    int tail;        /* with final: closes no segment (a live stream's
                        end, after its last segment's own marker) */
    uint64_t frames; /* frames of the segment it closes */
    /* a frame */
    int dtype, rank;
    uint64_t dims[TNS_MAX_RANK];
    char name[TNS_MAX_NAME + 1]; /* "" until decoded */
    size_t count, nbytes;        /* elements and payload bytes */
} tns_record;

/* Encode rec's header into buf (TNS_HEADER_MAX bytes) and return its
 * length: a frame header with its CRC (the payload and payload CRC are not
 * part of it), or a whole end marker.  rec must be valid (a frame from
 * tns_record_of). */
size_t tns_record_encode(unsigned char *buf, const tns_record *rec);

/* The header of frame f, checked: name, dtype, rank and size.  -1 with
 * err when f is malformed. */
int tns_record_of(tns_record *rec, const tns_frame *f, dx_err *err);

/* Decode the header at buf[0..have).  Returns 0 when it is complete (*need
 * is then its length and rec holds it), 1 when more bytes are needed
 * (*need > have: read up to *need and call again with the same buf), -1 on
 * the first fault, in the order magic, version, reserved bits, kind, dtype,
 * rank, name length, header CRC (frame) or CRC (end marker), name
 * characters, size (overflow and TNS_MAX_BYTES).  err then says what was
 * wrong, without a file or frame index; rec->name is set once the name is
 * known.  A bad magic gives TNS_BAD_MAGIC instead of -1. */
enum { TNS_BAD_MAGIC = -2 };
int tns_record_decode(const unsigned char *buf, size_t have, size_t *need,
                      tns_record *rec, dx_err *err);

/* The 4 bytes stored after a payload: its CRC-32 (zlib's). */
void tns_payload_tail(unsigned char tail[4], const void *data, size_t n);
/* Does tail hold the CRC of data[0..n)?  *stored and *computed get both
 * values for the message. */
int tns_payload_ok(const unsigned char tail[4], const void *data, size_t n,
                   uint32_t *stored, uint32_t *computed);

#endif
