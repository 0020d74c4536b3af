/* err.h - how the library reports failure.
 *
 * Library functions never print and never exit.  A function that can fail
 * returns 0 on success and -1 on failure, and fills a dx_err with one line
 * saying what was wrong, with the values found and expected.  Only tools/
 * turn a dx_err into a message on stderr and an exit status.
 */
#ifndef DACS_ERR_H
#define DACS_ERR_H

#define DX_ERRLEN 512

typedef struct dx_err {
    char msg[DX_ERRLEN];
} dx_err;

/* Set err->msg from a printf-style format.  Always returns -1, so that
 * `return dx_fail(err, ...)` reads naturally.  err may be NULL. */
int dx_fail(dx_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix err->msg with a context, e.g. the file or frame being handled:
 * "frame 3 'src.image': " + old message.  Returns -1. */
int dx_wrap(dx_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
