/* tns.h - the tensor stream, the one format every dacs tool reads and
 * writes (tns(5)), in four parts:
 *
 *   tns_frame.h   frames: dtypes, names, shapes, owned or borrowed payloads
 *   tns_format.h  the wire format: one encoder and one decoder of record
 *                 headers, and the payload checksum
 *   tns_stream.h  readers and writers over a FILE, and segments in memory
 *   tns_filter.h  the filter skeleton: segment in, outputs appended,
 *                 segment out
 *
 * Include this header for all of them, or a part alone.
 */
#ifndef DACS_TNS_H
#define DACS_TNS_H

#include "io/tns_filter.h"
#include "io/tns_format.h"
#include "io/tns_frame.h"
#include "io/tns_stream.h"

#endif
