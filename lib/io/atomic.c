/* atomic.c - temporary file, fsync, rename. */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dirname_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

int dx_atomic_open(dx_atomic *a, const char *path, dx_err *err)
{
    memset(a, 0, sizeof *a);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return dx_fail(err, "%s: is a directory, expected a file name", path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        a->fp = fopen(path, "wb");
        a->path = strdup(path);
        if (!a->fp || !a->path) {
            int e = errno;
            if (a->fp)
                fclose(a->fp);
            free(a->path);
            memset(a, 0, sizeof *a);
            return dx_fail(err, "%s: cannot open for writing: %s", path,
                           strerror(e));
        }
        return 0;
    }
    char *dir = dirname_of(path);
    char *copy = strdup(path);
    if (!dir || !copy) {
        free(dir);
        free(copy);
        return dx_fail(err, "%s: out of memory", path);
    }
    const char *base = basename(copy);
    size_t len = strlen(dir) + strlen(base) + 16;
    a->tmppath = malloc(len);
    a->path = strdup(path);
    if (!a->tmppath || !a->path) {
        free(dir);
        free(copy);
        free(a->tmppath);
        free(a->path);
        return dx_fail(err, "%s: out of memory", path);
    }
    snprintf(a->tmppath, len, "%s/.%s.XXXXXX", dir, base);
    free(dir);
    free(copy);
    int fd = mkstemp(a->tmppath);
    if (fd < 0) {
        int e = errno;
        free(a->tmppath);
        free(a->path);
        a->tmppath = a->path = NULL;
        return dx_fail(err, "%s: cannot create a temporary file beside it: %s",
                       path, strerror(e));
    }
    /* mkstemp makes 0600; give the file the usual mode under the umask. */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    a->fp = fdopen(fd, "wb");
    if (!a->fp) {
        int e = errno;
        close(fd);
        unlink(a->tmppath);
        free(a->tmppath);
        free(a->path);
        a->tmppath = a->path = NULL;
        return dx_fail(err, "%s: %s", path, strerror(e));
    }
    return 0;
}

static void release(dx_atomic *a)
{
    free(a->path);
    free(a->tmppath);
    a->path = a->tmppath = NULL;
    a->fp = NULL;
}

int dx_atomic_commit(dx_atomic *a, dx_err *err)
{
    int e = 0;
    if (!a->tmppath) { /* a device or FIFO: nothing to rename */
        if (fflush(a->fp) != 0 || ferror(a->fp))
            e = errno ? errno : EIO;
        if (fclose(a->fp) != 0 && !e)
            e = errno ? errno : EIO;
        if (e)
            dx_fail(err, "%s: write failed: %s", a->path, strerror(e));
        release(a);
        return e ? -1 : 0;
    }
    if (fflush(a->fp) != 0 || ferror(a->fp))
        e = errno ? errno : EIO;
    if (!e && fsync(fileno(a->fp)) != 0)
        e = errno;
    if (fclose(a->fp) != 0 && !e)
        e = errno ? errno : EIO;
    a->fp = NULL;
    if (!e && rename(a->tmppath, a->path) != 0)
        e = errno;
    if (e) {
        unlink(a->tmppath);
        struct stat st;
        int kept = stat(a->path, &st) == 0;
        dx_fail(err, "%s: write failed: %s; %s", a->path, strerror(e),
                kept ? "the old file is kept unchanged" : "nothing was written");
        release(a);
        return -1;
    }
    char *dir = dirname_of(a->path);
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    release(a);
    return 0;
}

void dx_atomic_abort(dx_atomic *a)
{
    if (a->fp)
        fclose(a->fp);
    if (a->tmppath)
        unlink(a->tmppath);
    release(a);
}

int dx_atomic_write(const char *path, const void *buf, size_t len,
                    dx_err *err)
{
    dx_atomic a;
    if (dx_atomic_open(&a, path, err))
        return -1;
    if (len && fwrite(buf, 1, len, a.fp) != len) {
        int e = errno;
        dx_atomic_abort(&a);
        return dx_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return dx_atomic_commit(&a, err);
}

int dx_mkdirs(const char *path, dx_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return dx_fail(err, "directory name too long: %.64s...", path);
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char c = *p;
        *p = 0;
        struct stat st;
        if (mkdir(buf, 0777) != 0 &&
            (errno != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)))
            return dx_fail(err, "cannot create directory %s: %s", buf,
                           errno == EEXIST ? "a file is in the way"
                                           : strerror(errno));
        if (!c)
            return 0;
        *p = c;
    }
}
