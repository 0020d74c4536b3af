/* fuzz_torchfile.c - the weights-file containers on arbitrary bytes:
 * format sniffing, PyTorch zip (libzip) and legacy files, safetensors
 * (Jansson) and .npz, listed and then read in full with every tensor
 * converted. */
#include "io/tensorset.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dx_tset ts;
    dx_err err;
    if (dx_tset_read_mem(&ts, data, size, "fuzz", DX_TS_LIST, &err) == 0)
        dx_tset_free(&ts);
    if (dx_tset_read_mem(&ts, data, size, "fuzz", 0, &err) == 0)
        dx_tset_free(&ts);
    return 0;
}
