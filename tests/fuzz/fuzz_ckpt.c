/* fuzz_ckpt.c - loading a checkpoint from arbitrary bytes: the stream
 * reader, then the meta.arch record, meta.iter and every parameter frame's
 * name, dtype and shape against the architecture. */
#include <stdio.h>

#include "nn/model.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    FILE *fp = fmemopen((void *)data, size ? size : 1, "rb");
    if (!fp)
        return 0;
    if (!size)
        fgetc(fp);
    tns_reader r;
    tns_stream s;
    dx_err err;
    tns_open_file(&r, fp, "fuzz");
    if (tns_read_segment(&r, &s, &err) == 1) {
        dx_model m;
        if (dx_model_load(&m, &s, &err) == 0)
            dx_model_free(&m);
        tns_stream_free(&s);
    }
    fclose(fp);
    return 0;
}
