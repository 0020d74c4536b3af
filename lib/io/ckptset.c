/* ckptset.c - checkpoint sets: a directory written, fsynced, renamed;
 * see ckptset.h. */
#include "io/ckptset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"

static int say_path(char *dst, const char *fmt, const char *a, long n,
                    dx_err *err)
{
    int k = snprintf(dst, DX_CKPTSET_PATH, fmt, a, n);
    if (k < 0 || k >= DX_CKPTSET_PATH)
        return dx_fail(err, "%s: path too long", a);
    return 0;
}

static int fsync_dir(const char *dir, dx_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return dx_fail(err, "%s: cannot open: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return dx_fail(err, "%s: fsync failed: %s", dir, strerror(e));
    return 0;
}

/* Remove dir and the files in it (one level, as a set holds). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[DX_CKPTSET_PATH + 256];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int dx_ckptset_begin(dx_ckptset *c, const char *run, long iter, dx_err *err)
{
    memset(c, 0, sizeof *c);
    if (iter < 0 || iter > 999999999)
        return dx_fail(err, "checkpoint set: iteration %ld outside "
                       "0..999999999", iter);
    c->iter = iter;
    char dir[DX_CKPTSET_PATH];
    if (say_path(c->run, "%s", run, 0, err) ||
        say_path(dir, "%s/ckpt", run, 0, err) ||
        say_path(c->tmp, "%s/ckpt/.%06ld.tmp", run, iter, err) ||
        say_path(c->final, "%s/ckpt/%06ld", run, iter, err))
        return -1;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dx_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    remove_dir(c->tmp); /* a leftover of a writer that died */
    if (mkdir(c->tmp, 0777) != 0)
        return dx_fail(err, "%s: cannot create: %s", c->tmp,
                       strerror(errno));
    return 0;
}

const char *dx_ckptset_file(dx_ckptset *c, const char *name)
{
    snprintf(c->path, sizeof c->path, "%s/%s", c->tmp, name);
    return c->path;
}

void dx_ckptset_abort(dx_ckptset *c)
{
    if (c->tmp[0])
        remove_dir(c->tmp);
}

/* A copy of src as dst, atomically: where a hard link cannot be made. */
static int copy_file(const char *src, const char *dst, dx_err *err)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return dx_fail(err, "%s: cannot open: %s", src, strerror(errno));
    dx_atomic a;
    if (dx_atomic_open(&a, dst, err)) {
        fclose(in);
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, a.fp) != n)
            break;
    int bad = ferror(in) || ferror(a.fp);
    fclose(in);
    if (bad) {
        dx_atomic_abort(&a);
        return dx_fail(err, "%s: copy to %s failed", src, dst);
    }
    return dx_atomic_commit(&a, err);
}

/* RUN/name becomes the set's file: a link under a temporary name, renamed
 * over it. */
static int point(dx_ckptset *c, const char *name, dx_err *err)
{
    char src[DX_CKPTSET_PATH + 256], dst[DX_CKPTSET_PATH + 256],
        tmp[DX_CKPTSET_PATH + 256];
    snprintf(src, sizeof src, "%s/%s", c->final, name);
    snprintf(dst, sizeof dst, "%s/%s", c->run, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.link", c->run, name);
    unlink(tmp);
    if (link(src, tmp) != 0)
        return copy_file(src, dst, err);
    if (rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return dx_fail(err, "%s: cannot rename to %s: %s", tmp, dst,
                       strerror(e));
    }
    return 0;
}

/* Remove every complete set but this one. */
static void prune(dx_ckptset *c)
{
    char dir[DX_CKPTSET_PATH + 8];
    snprintf(dir, sizeof dir, "%s/ckpt", c->run);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strlen(n) < 6 || strspn(n, "0123456789") != strlen(n) ||
            strtol(n, NULL, 10) == c->iter)
            continue;
        char from[DX_CKPTSET_PATH + 300], to[DX_CKPTSET_PATH + 300];
        snprintf(from, sizeof from, "%s/%s", dir, n);
        snprintf(to, sizeof to, "%s/.%s.old", dir, n);
        remove_dir(to);
        if (rename(from, to) == 0)
            remove_dir(to);
    }
    closedir(d);
}

int dx_ckptset_commit(dx_ckptset *c, const char *const *names, int n,
                      dx_err *err)
{
    char dir[DX_CKPTSET_PATH + 64], old[DX_CKPTSET_PATH + 64];
    snprintf(dir, sizeof dir, "%s/ckpt", c->run);
    if (fsync_dir(c->tmp, err))
        goto abandon;
    /* a set of this iteration already there (written again after a
     * resume) goes aside first: rename cannot replace a full directory */
    snprintf(old, sizeof old, "%s/ckpt/.%06ld.old", c->run, c->iter);
    remove_dir(old);
    if (rename(c->final, old) != 0 && errno != ENOENT) {
        dx_fail(err, "%s: cannot move aside: %s", c->final, strerror(errno));
        goto abandon;
    }
    if (rename(c->tmp, c->final) != 0) {
        dx_fail(err, "%s: cannot rename to %s: %s", c->tmp, c->final,
                strerror(errno));
        goto abandon;
    }
    remove_dir(old);
    if (fsync_dir(dir, err))
        return dx_wrap(err, "checkpoint set %06ld: ", c->iter);
    for (int i = 0; i < n; i++)
        if (point(c, names[i], err))
            return dx_wrap(err, "checkpoint set %06ld is complete, but: ",
                           c->iter);
    if (fsync_dir(c->run, err))
        return -1;
    prune(c);
    return 0;
abandon:
    dx_ckptset_abort(c);
    return dx_wrap(err, "checkpoint set %06ld abandoned, the previous set "
                   "is kept: ", c->iter);
}
