/* fuzz_png.c - the PNG reader on arbitrary bytes, in every mode. */
#include "io/pngio.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const int modes[] = {DX_PNG_RGB8, DX_PNG_LABEL, DX_PNG_RAW};
    for (int m = 0; m < 3; m++) {
        dx_png p;
        dx_err err;
        if (dx_png_read_mem(data, size, "fuzz.png", modes[m], &p, &err) == 0)
            dx_png_free(&p);
    }
    return 0;
}
