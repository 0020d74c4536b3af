/* tns_filter.c - the filter skeleton; see tns_filter.h. */
#include "io/tns_filter.h"

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
