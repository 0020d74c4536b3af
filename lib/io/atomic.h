/* atomic.h - replace a file only with a complete new one.
 *
 * dx_atomic_open creates a temporary file in the same directory as the
 * final path.  dx_atomic_commit flushes it, fsyncs it, renames it over the
 * final path and fsyncs the directory; on any failure it removes the
 * temporary file and leaves the old file under the final name untouched.
 * A process killed at any moment leaves either the old file or the new one
 * under the final name, never a part of one.
 *
 * A path that names something other than a regular file or a directory (a
 * device such as /dev/null, a FIFO) is written directly: it cannot be
 * replaced, only written to.
 */
#ifndef DACS_ATOMIC_H
#define DACS_ATOMIC_H

#include <stdio.h>

#include "base/err.h"

typedef struct dx_atomic {
    FILE *fp;
    char *path;
    char *tmppath; /* NULL when writing a device or FIFO directly */
} dx_atomic;

int dx_atomic_open(dx_atomic *a, const char *path, dx_err *err);
int dx_atomic_commit(dx_atomic *a, dx_err *err);
void dx_atomic_abort(dx_atomic *a);

/* Write a whole buffer atomically to path. */
int dx_atomic_write(const char *path, const void *buf, size_t len,
                    dx_err *err);

/* Create directory path and the directories above it that are missing
 * (mkdir -p); an existing directory is fine. */
int dx_mkdirs(const char *path, dx_err *err);

#endif
