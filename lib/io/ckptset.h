/* ckptset.h - a run's checkpoints written as one consistent set.
 *
 * A training run keeps several files that must agree with each other: the
 * student with its optimiser state and the teacher, all of one iteration.
 * Replacing each atomically (atomic.h) is not enough: a run killed between
 * two replacements would leave a student of one iteration beside a
 * teacher of another.  So a set is written as a directory:
 *
 *   RUN/ckpt/.NNNNNN.tmp/   every file of the set is written here, each
 *                           flushed and fsynced (atomic.h)
 *   RUN/ckpt/NNNNNN/        then the directory is fsynced and renamed to
 *                           this name, and RUN/ckpt fsynced: from here on
 *                           the set is complete, for iteration NNNNNN
 *   RUN/NAME                then each file is linked (a hard link, or a
 *                           copy where links fail) to a temporary name in
 *                           RUN and renamed over RUN/NAME, and RUN fsynced
 *   older sets              renamed to RUN/ckpt/.NNNNNN.old, then removed
 *
 * A directory named by six digits alone is always complete; anything
 * starting with '.' is a leftover of a writer that died, which a reader
 * ignores and may remove.  A reader that finds RUN/NAME
 * older than the newest complete set (the writer died between the rename
 * and the links) takes the set.  On any failure before the rename (a full
 * disk, a file too large) the temporary directory is removed and the
 * previous set and RUN/NAME are left as they were.
 */
#ifndef DACS_CKPTSET_H
#define DACS_CKPTSET_H

#include "base/err.h"

#define DX_CKPTSET_PATH 4096

typedef struct dx_ckptset {
    char run[DX_CKPTSET_PATH];
    char tmp[DX_CKPTSET_PATH];   /* RUN/ckpt/.NNNNNN.tmp */
    char final[DX_CKPTSET_PATH]; /* RUN/ckpt/NNNNNN */
    char path[DX_CKPTSET_PATH + 256]; /* scratch for dx_ckptset_file */
    long iter;
} dx_ckptset;

/* Start the set of iteration iter (0..999999999) in run: creates
 * RUN/ckpt if needed and an empty RUN/ckpt/.NNNNNN.tmp. */
int dx_ckptset_begin(dx_ckptset *c, const char *run, long iter, dx_err *err);
/* The path where the set's file name is to be written (atomically, e.g.
 * with tns_create or dx_model_save); valid until the next call. */
const char *dx_ckptset_file(dx_ckptset *c, const char *name);
/* Complete the set: fsync, rename, link RUN/name for each of the n names,
 * remove the older sets.  On failure before the set is complete it is
 * abandoned as by dx_ckptset_abort, and err says the previous set is
 * kept. */
int dx_ckptset_commit(dx_ckptset *c, const char *const *names, int n,
                      dx_err *err);
/* Remove the temporary directory. */
void dx_ckptset_abort(dx_ckptset *c);

#endif
