/* ema-merge - update the mean teacher from the student.
 *
 *   ema-merge [OPTIONS] TEACHER STUDENT
 *   ema-merge --stream [OPTIONS] TEACHER [STUDENT]
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
#include "io/ckptset.h"
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
    "                      (default %s)\n"                                     \
    "\n"                                                                      \
    "a stream of merges (a long-lived stage of a run, dacs-train(1)):\n"     \
    "  --stream            keep the teacher in memory: write TEACHER (which\n" \
    "                      must exist) to the output first, then read\n"     \
    "                      STUDENT (default stdin) segment by segment, one\n" \
    "                      student per step, each of meta.iter one more\n"   \
    "                      than the teacher's, and write the new teacher\n"  \
    "                      after each; the output (default stdout) is\n"     \
    "                      written live\n"                                   \
    "  --checkpoint-dir RUN  a student segment that carries opt.* is a\n"    \
    "                      whole checkpoint: write it with the new teacher\n" \
    "                      as the set RUN/ckpt/NNNNNN/{student,teacher}.tns\n" \
    "                      and link RUN/student.tns and RUN/teacher.tns to\n" \
    "                      it (ckptset: fsynced, renamed, older sets\n"      \
    "                      removed)\n"

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

static long meta_iter(const tns_stream *s)
{
    const tns_frame *f = tns_stream_cget(s, "meta.iter");
    return f && f->dtype == DX_I32 && f->rank == 0 ? *(int32_t *)f->data
                                                   : -1;
}

/* Write the set of this step: the student as it came, the teacher. */
static void save_set(const char *run, long iter, const tns_stream *student,
                     const tns_stream *teacher)
{
    static const char *const names[] = {"student.tns", "teacher.tns"};
    dx_ckptset set;
    dx_err err;
    if (dx_ckptset_begin(&set, run, iter, &err))
        dx_die_err(&err);
    if (tns_stream_save(student, dx_ckptset_file(&set, names[0]), &err) ||
        tns_stream_save(teacher, dx_ckptset_file(&set, names[1]), &err)) {
        dx_ckptset_abort(&set);
        dx_die("checkpoint set %06ld abandoned, the previous set is kept: "
               "%s", iter, err.msg);
    }
    if (dx_ckptset_commit(&set, names, 2, &err))
        dx_die_err(&err);
}

static void write_segment(tns_writer *w, const tns_stream *s)
{
    dx_err err;
    for (int i = 0; i < s->n; i++)
        if (tns_write(w, &s->v[i], &err))
            goto fail;
    if (!tns_end_segment(w, &err))
        return;
fail:
    tns_abort(w);
    dx_die_err(&err);
}

/* --stream: the teacher kept, one merge per student segment. */
static int stream(const char *tpath, const char *spath, const char *out,
                  const char *run, const dx_ema_opts *o, int quiet)
{
    dx_err err;
    tns_stream teacher, student;
    if (tns_stream_load(&teacher, tpath, &err))
        dx_die("%s (--stream starts from an existing teacher)", err.msg);
    tns_stream_drop(&teacher, "opt.*");
    tns_reader r;
    tns_writer w;
    tns_set_live(1);
    if (tns_create(&w, out, &err))
        dx_die_err(&err);
    write_segment(&w, &teacher);
    if (tns_open(&r, spath, &err))
        dx_die_err(&err);
    int got;
    while ((got = tns_read_segment(&r, &student, &err)) == 1) {
        long ti = meta_iter(&teacher), si = meta_iter(&student);
        if (si != ti + 1) {
            tns_abort(&w);
            dx_die("%s: student segment %ld has meta.iter %ld, expected %ld "
                   "(one step past the teacher's)", r.src, r.segment - 1,
                   si, ti + 1);
        }
        dx_ema_report rep;
        if (dx_ema_merge_segment(&teacher, &student, o, &rep, &err)) {
            tns_abort(&w);
            dx_die("iteration %ld: %s", si, err.msg);
        }
        write_segment(&w, &teacher);
        if (run && rep.skipped)
            save_set(run, si, &student, &teacher);
        tns_stream_free(&student);
        if (!quiet)
            dx_note("t=%llu alpha=%.6g iter=%lld frames=%ld averaged=%ld "
                    "copied=%ld skipped=%ld", (unsigned long long)rep.t,
                    rep.alpha, (long long)rep.iter, rep.frames, rep.averaged,
                    rep.copied, rep.skipped);
    }
    tns_close(&r);
    if (got < 0) {
        tns_abort(&w);
        dx_die("after iteration %ld: %s", meta_iter(&teacher), err.msg);
    }
    if (tns_finish(&w, &err))
        dx_die_err(&err);
    tns_stream_free(&teacher);
    return 0;
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_ema_opts o;
    dx_ema_defaults(&o);
    dx_cli cli = {.take = DX_CLI_OUTPUT | DX_CLI_QUIET};
    enum { O_AMAX = DX_OPT_TOOL, O_ALPHA, O_ITER, O_BN, O_STREAM, O_CKPT };
    static const struct option longopts[] = {
        {"alpha-max", required_argument, NULL, O_AMAX},
        {"alpha", required_argument, NULL, O_ALPHA},
        {"iter", required_argument, NULL, O_ITER},
        {"bn-stats", required_argument, NULL, O_BN},
        {"stream", no_argument, NULL, O_STREAM},
        {"checkpoint-dir", required_argument, NULL, O_CKPT},
        {0, 0, 0, 0}};
    int ch, streaming = 0;
    const char *run = NULL;
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
        case O_STREAM:
            streaming = 1;
            break;
        case O_CKPT:
            run = optarg;
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
    if (run && !streaming)
        dx_die("--checkpoint-dir is for --stream");
    if (streaming) {
        if (o.have_t)
            dx_die("--iter fixes t for one merge; --stream takes t from "
                   "each student");
        if (argc - optind < 1 || argc - optind > 2)
            dx_die("--stream: expected TEACHER [STUDENT], got %d "
                   "argument%s (see --help)", argc - optind,
                   argc - optind == 1 ? "" : "s");
        o.teacher_name = argv[optind];
        return stream(argv[optind], argc - optind == 2 ? argv[optind + 1]
                                                       : "-",
                      out, run, &o, quiet);
    }
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
