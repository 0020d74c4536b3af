/* fuzz_pickle.c - the data-only pickle reader on arbitrary bytes, with and
 * without torch's persistent ids: it must refuse or build, never crash,
 * leak or run past its input. */
#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dx_pickle p;
    dx_err err;
    for (int flags = 0; flags <= DX_PK_TORCH; flags += DX_PK_TORCH)
        if (dx_pickle_load(&p, data, size, flags, &err) == 0)
            dx_pickle_free(&p);
    return 0;
}
