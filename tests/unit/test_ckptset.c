/* test_ckptset.c - checkpoint sets: a set appears whole or not at all, the
 * run's files follow it, older sets go, a failed write keeps the previous
 * set. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/atomic.h"
#include "io/ckptset.h"

static char run[64];

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return buf;
}

static const char *at(const char *rel)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", run, rel);
    return p;
}

/* The entries of RUN/ckpt, sorted, joined by spaces. */
static const char *sets(void)
{
    static char out[512];
    char names[16][256];
    int n = 0;
    DIR *d = opendir(at("ckpt"));
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 16)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(names[n++], 256, "%s", e->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    out[0] = 0;
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s",
                 i ? " " : "", names[i]);
    return out;
}

/* A set of iteration iter holding two files of the given texts. */
static int put_set(long iter, const char *a, const char *b, dx_err *err)
{
    static const char *const names[] = {"student.tns", "teacher.tns"};
    dx_ckptset c;
    if (dx_ckptset_begin(&c, run, iter, err))
        return -1;
    if (dx_atomic_write(dx_ckptset_file(&c, names[0]), a, strlen(a), err) ||
        dx_atomic_write(dx_ckptset_file(&c, names[1]), b, strlen(b), err)) {
        dx_ckptset_abort(&c);
        return -1;
    }
    return dx_ckptset_commit(&c, names, 2, err);
}

int main(void)
{
    snprintf(run, sizeof run, "/tmp/dacs-ckpt-XXXXXX");
    if (!mkdtemp(run))
        return 1;
    dx_err err;
    err.msg[0] = 0;
    CHECK(put_set(4, "s4", "t4", &err) == 0, "the first set: %s",
          err.msg);
    CHECK(!strcmp(sets(), "000004"), "RUN/ckpt holds 000004: '%s'", sets());
    CHECK(!strcmp(slurp(at("student.tns")), "s4") &&
              !strcmp(slurp(at("teacher.tns")), "t4"),
          "RUN/student.tns and RUN/teacher.tns are the set's");
    struct stat a, b;
    stat(at("student.tns"), &a);
    stat(at("ckpt/000004/student.tns"), &b);
    CHECK(a.st_ino == b.st_ino, "a hard link, not a copy");

    CHECK(put_set(8, "s8", "t8", &err) == 0, "the next set");
    CHECK(!strcmp(sets(), "000008"), "the older set is gone: '%s'", sets());
    CHECK(!strcmp(slurp(at("student.tns")), "s8") &&
              !strcmp(slurp(at("teacher.tns")), "t8"),
          "the run's files follow the newest set");

    /* the same iteration again (a resumed run writing it anew) */
    CHECK(put_set(8, "s8b", "t8b", &err) == 0 &&
              !strcmp(sets(), "000008") &&
              !strcmp(slurp(at("ckpt/000008/student.tns")), "s8b"),
          "a set of the same iteration replaces it whole");

    /* a full disk: files may not grow past 1 KiB; the second file fails */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1024;
    signal(SIGXFSZ, SIG_IGN);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    setrlimit(RLIMIT_FSIZE, &lim);
    int rc = put_set(12, "s12", big, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(rc == -1 && strstr(err.msg, "File too large"),
          "a set whose file cannot be written fails: %s", err.msg);
    CHECK(!strcmp(sets(), "000008"), "nothing of it is left, the previous "
          "set is: '%s'", sets());
    CHECK(!strcmp(slurp(at("student.tns")), "s8b") &&
              !strcmp(slurp(at("teacher.tns")), "t8b"),
          "the run's files are the previous set's");

    /* a set that cannot be completed (its directory gone) is abandoned */
    static const char *const one[] = {"student.tns"};
    dx_ckptset c;
    dx_ckptset_begin(&c, run, 16, &err);
    dx_atomic_write(dx_ckptset_file(&c, one[0]), "s16", 3, &err);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", dx_ckptset_file(&c, "student.tns"));
    unlink(tmp);
    rmdir(c.tmp);
    CHECK(dx_ckptset_commit(&c, one, 1, &err) == -1 &&
              strstr(err.msg, "abandoned, the previous set is kept"),
          "an incomplete set is abandoned: %s", err.msg);
    CHECK(!strcmp(sets(), "000008"), "and the previous kept: '%s'", sets());
    CHECK(dx_ckptset_begin(&c, run, -1, &err) == -1,
          "a negative iteration is refused");

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run);
    if (system(cmd) != 0)
        return 1;
    return check_done();
}
