/* tns_filter.h - the filter skeleton every stage of the pipeline shares:
 * read a segment (batch), check it, compute, pass every frame on with the
 * stage's outputs appended, one output segment per input segment (tns(5),
 * "Filters").
 */
#ifndef DACS_TNS_FILTER_H
#define DACS_TNS_FILTER_H

#include "base/err.h"
#include "io/tns_stream.h"

/* Called once per segment (batch) with its frames; it validates, computes
 * and appends its outputs to s.  segment counts from 0. */
typedef int (*tns_segment_fn)(void *ctx, tns_stream *s, long segment,
                              dx_err *err);

/* Read in (NULL or "-": stdin) segment by segment; for each, call fn (if
 * not NULL), drop the frames whose names match any of the ndrop globs, and
 * write what is left as one segment of out (NULL or "-": stdout; a file
 * atomically).  On any error nothing more is written and the output is
 * abandoned (tns_abort: a file keeps its old contents, stdout gets no
 * final marker), and -1 returns with err naming the batch when fn failed. */
int tns_filter(const char *in, const char *out, tns_segment_fn fn,
               void *ctx, const char *const *drop, int ndrop, dx_err *err);

#endif
