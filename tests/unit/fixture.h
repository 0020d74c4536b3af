/* fixture.h - the reference fixtures of the C unit tests
 * (tests/fixtures/DIR, made by the scripts in tests/ref).
 *
 * Paths are taken from $DACS_TOP (set by tests/run), else from the
 * current folder (the top of the checkout).  A fixture that cannot be
 * read is a failed check, never a skipped one. */
#ifndef DACS_FIXTURE_H
#define DACS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "io/npy.h"

/* tests/fixtures/dir/name into buf. */
static inline const char *fixture_path(char *buf, size_t len, const char *dir,
                                       const char *name)
{
    const char *top = getenv("DACS_TOP");
    snprintf(buf, len, "%s/tests/fixtures/%s/%s", top ? top : ".", dir, name);
    return buf;
}

/* Read tests/fixtures/dir/name (a .npy file) into f: 0, or -1 after a
 * failed check naming it. */
static inline int fixture_npy(const char *dir, const char *name, tns_frame *f)
{
    char path[4096];
    dx_err err;
    if (dx_npy_read(fixture_path(path, sizeof path, dir, name), name, f,
                    &err)) {
        CHECK(0, "load %s: %s", path, err.msg);
        return -1;
    }
    return 0;
}

#endif
