/* fuzz_labelmap.c - the label-map table parser on arbitrary bytes: never a
 * crash, and a table that parses maps every id to a train id or 255. */
#include "data/labelmap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static dx_labelmap m; /* 64 KiB: not on the stack */
    dx_err err;
    if (dx_labelmap_parse(&m, (const char *)data, size, "fuzz.map", &err))
        return 0;
    for (int i = 0; i < DX_LABEL_IDS; i++)
        if (m.lut[i] != 255 && m.lut[i] >= m.classes)
            __builtin_trap();
    return 0;
}
