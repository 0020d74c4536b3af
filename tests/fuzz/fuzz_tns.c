/* fuzz_tns.c - the tensor stream reader on arbitrary bytes: every segment
 * read, every frame freed, never a crash or a leak. */
#include <stdio.h>

#include "io/tns.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    FILE *fp = fmemopen((void *)data, size ? size : 1, "rb");
    if (!fp)
        return 0;
    if (!size)
        fgetc(fp); /* an empty input: fmemopen needs one byte */
    tns_reader r;
    tns_stream s;
    dx_err err;
    tns_open_file(&r, fp, "fuzz");
    while (tns_read_segment(&r, &s, &err) == 1) {
        for (int i = 0; i < s.n; i++)
            tns_check_finite(&s.v[i], &err);
        tns_stream_free(&s);
    }
    fclose(fp);
    return 0;
}
