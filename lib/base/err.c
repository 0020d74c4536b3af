/* err.c - one-line error messages carried back to the tool. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dx_fail(dx_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int dx_wrap(dx_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[DX_ERRLEN], old[DX_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    size_t p = strlen(prefix), o = strlen(old);
    if (p + o > sizeof err->msg - 1)
        o = sizeof err->msg - 1 - p;
    memcpy(err->msg, prefix, p);
    memcpy(err->msg + p, old, o);
    err->msg[p + o] = 0;
    return -1;
}
