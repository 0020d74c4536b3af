/* fuzz_arch.c - the meta.arch text parser on arbitrary bytes; what parses
 * must format and parse back to the same record. */
#include <string.h>

#include "nn/arch.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dx_arch a, b;
    dx_err err;
    if (dx_arch_parse(&a, (const char *)data, size, &err) != 0)
        return 0;
    char buf[DX_ARCH_MAX_TEXT];
    int n = dx_arch_format(&a, buf, sizeof buf);
    if (n < 0 || dx_arch_parse(&b, buf, (size_t)n, &err) != 0 ||
        memcmp(&a, &b, sizeof a) != 0)
        __builtin_trap();
    return 0;
}
