/* fuzz_npy.c - the .npy header parser on arbitrary bytes. */
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int dtype, rank;
    int64_t dims[TNS_MAX_RANK];
    size_t pos;
    dx_err err;
    if (dx_npy_parse(data, size, &dtype, &rank, dims, &pos, &err) == 0 &&
        pos > size)
        __builtin_trap(); /* the data cannot start past the end */
    return 0;
}
