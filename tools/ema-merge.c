/* ema-merge - update the mean teacher from the student.
 *
 *   ema-merge [OPTIONS] TEACHER STUDENT
 *
 * Streams both checkpoints frame by frame and writes the new teacher to
 * stdout or atomically to -o FILE (which may be TEACHER itself).
 */
#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "dacs/ema.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: ema-merge [OPTIONS] TEACHER STUDENT\n"                            \
    "Update the mean teacher (DACS step 9, dacs-method(7)), frame by frame\n" \
    "in constant memory:\n"                                                  \
    "  theta_T <- alpha theta_T + (1 - alpha) theta_S\n"                      \
    "  alpha = min(1 - 1/(t+1), alpha_max)\n"                                 \
    "where t, the index of the step just taken, is the student's meta.iter\n" \
    "minus 1 (at least 0).  The f32 parameters and the batch-norm running\n"  \
    "statistics (*.running_mean, *.running_var) are averaged; meta.* and any\n" \
    "non-f32 frame come from the student; opt.* frames are left out.  The\n"  \
    "two models must have the same frames in the same order, with the same\n" \
    "dtypes and shapes, and identical meta.arch.  A TEACHER that does not\n"  \
    "exist is allowed at t = 0 only: the new teacher is then the student\n"   \
    "without opt.*.  STUDENT (or TEACHER) may be '-' for stdin; -o FILE may\n" \
    "be TEACHER itself.  One line on stderr:\n"                               \
    "  ema-merge: t=T alpha=A iter=I frames=F averaged=N copied=C skipped=S\n" \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --alpha-max A       upper bound of alpha (default %g)\n"               \
    "  --alpha A           use this alpha in [0, 1] instead of the schedule\n" \
    "  --iter T            use t = T (the 0-based index of the step just\n"   \
    "                      taken) instead of the student's meta.iter - 1\n"   \
    "  --bn-stats MODE     average: running statistics are averaged like\n"   \
    "                      the parameters; copy: taken from the student\n"    \
    "                      (default %s)\n"

static const char *const BN_WORDS[] = {"average", "copy", NULL};

static _Noreturn void fail(tns_writer *w, const dx_err *err)
{
    tns_abort(w);
    if (!w->to_file)
        __fpurge(stdout); /* a half teacher must not reach the pipe */
    dx_die_err(err);
}

static int is_stdin(const char *p)
{
    return strcmp(p, "-") == 0;
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_ema_opts o;
    dx_ema_defaults(&o);
    dx_cli cli = {.take = DX_CLI_OUTPUT | DX_CLI_QUIET};
    enum { O_AMAX = DX_OPT_TOOL, O_ALPHA, O_ITER, O_BN };
    static const struct option longopts[] = {
        {"alpha-max", required_argument, NULL, O_AMAX},
        {"alpha", required_argument, NULL, O_ALPHA},
        {"iter", required_argument, NULL, O_ITER},
        {"bn-stats", required_argument, NULL, O_BN},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        switch (ch) {
        case O_AMAX:
            o.alpha_max = dx_arg_double("--alpha-max", optarg, 0, 1);
            break;
        case O_ALPHA:
            o.alpha = dx_arg_double("--alpha", optarg, 0, 1);
            o.have_alpha = 1;
            break;
        case O_ITER:
            o.t = dx_arg_u64("--iter", optarg);
            o.have_t = 1;
            break;
        case O_BN:
            o.copy_bn_stats = dx_arg_enum("--bn-stats", optarg, BN_WORDS);
            break;
        case 'h': {
            dx_ema_opts d;
            dx_ema_defaults(&d);
            dx_cli_help(&cli, USAGE, d.alpha_max, BN_WORDS[d.copy_bn_stats]);
        }
        }
    }
    const char *out = cli.out;
    int quiet = cli.quiet;
    if (argc - optind != 2)
        dx_die("expected TEACHER and STUDENT, got %d argument%s (see --help)",
               argc - optind, argc - optind == 1 ? "" : "s");
    const char *tpath = argv[optind], *spath = argv[optind + 1];
    if (is_stdin(tpath) && is_stdin(spath))
        dx_die("TEACHER and STUDENT cannot both be stdin");

    tns_reader tr, sr;
    tns_writer w = {0};
    dx_err err;
    struct stat st;
    int have_teacher = 1;
    if (!is_stdin(tpath) && stat(tpath, &st) != 0) {
        if (errno != ENOENT)
            dx_die("%s: cannot open: %s", tpath, strerror(errno));
        have_teacher = 0;
    }
    if ((have_teacher && tns_open(&tr, tpath, &err)) ||
        tns_open(&sr, spath, &err) || tns_create(&w, out, &err))
        fail(&w, &err);
    dx_ema_report rep;
    o.teacher_name = tpath;
    if (dx_ema_merge(have_teacher ? &tr : NULL, &sr, &w, &o, &rep, &err))
        fail(&w, &err);
    if (have_teacher)
        tns_close(&tr);
    tns_close(&sr);
    if (tns_finish(&w, &err))
        fail(&w, &err);
    if (!quiet)
        dx_note("t=%llu alpha=%.6g iter=%lld frames=%ld averaged=%ld "
                "copied=%ld skipped=%ld", (unsigned long long)rep.t,
                rep.alpha, (long long)rep.iter, rep.frames, rep.averaged,
                rep.copied, rep.skipped);
    return 0;
}
