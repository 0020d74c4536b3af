/* seg-step - one SGD step of the student on a source batch and, when
 * present, a mixed batch; writes the new checkpoint atomically.
 *
 *   seg-step -m CKPT -o CKPT [-i IN] [--lr LR] [--iters T] [--log FILE] ...
 *   seg-step --stream -m CKPT [-o OUT] [--until T] [--checkpoint-every K]
 *            [--checkpoint-dir RUN] ...     one step per segment
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/batch.h"
#include "nn/model.h"
#include "io/ckptset.h"
#include "io/tns.h"
#include "dacs/train.h"

#define USAGE                                                                 \
    "usage: seg-step -m CKPT -o CKPT [OPTIONS] < BATCH\n"                     \
    "One SGD step of the student (DACS steps 7-8, dacs-method(7)): loss\n"    \
    "CE(src) over non-ignored pixels + mean(weight * CE(mix)) over all\n"     \
    "pixels, two train-mode passes, gradients summed, one update.  stderr\n"  \
    "gets one line: iter, total loss, both terms, lr.\n"                      \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  -m, --model CKPT    checkpoint to start from (required)\n"            \
    "  -o, --output CKPT   new checkpoint, written atomically; may equal -m\n" \
    "                      ('-': stdout) (required)\n"                        \
    "  --src-image NAME    source images, u8 NxHxWx3 (default %s)\n"          \
    "  --src-label NAME    source labels, u8/u16 NxHxW, 0..C-1 or 255\n"      \
    "                      (default %s)\n"                                    \
    "  --mix-image NAME    mixed images (default %s)\n"                       \
    "  --mix-label NAME    mixed labels (default %s)\n"                       \
    "  --mix-weight NAME   mixed pixel weights, f32 NxHxW, >= 0 (default\n"   \
    "                      %s)\n"                                             \
    "  --no-mix            ignore the mixed frames even if present\n"         \
    "  --lr LR             base learning rate lr0 (default %g, for training\n" \
    "                      from scratch)\n"                                   \
    "  --iters T           schedule length: lr = lr0*(1-t/T)^power at step\n" \
    "                      t = meta.iter; t must be < T (default %ld)\n"      \
    "  --power P           poly exponent (default %g)\n"                      \
    "  --momentum M        SGD momentum (default %g)\n"                       \
    "  --weight-decay D    weight decay, on every parameter (default %g)\n"   \
    "  --head-lr-mult K    learning-rate multiplier of the classifier head.*\n" \
    "                      (default %g)\n"                                    \
    "  --log FILE          append a TSV row: iter loss loss_src loss_mix lr\n" \
    "                      lr_head (a header line first if FILE is new)\n"    \
    "  -i, --input FILE    the batch stream (default: stdin); all its\n"      \
    "                      segments are read as one batch\n"                 \
    "\n"                                                                      \
    "a stream of steps (a long-lived stage of a run, dacs-train(1)):\n"      \
    "  --stream            one step per segment of the input, the model kept\n" \
    "                      in memory; after each step the student (meta.*,\n" \
    "                      parameters, running statistics) goes to -o (default\n" \
    "                      stdout, written live) as one segment\n"           \
    "  --checkpoint-every K  the segment of every iteration that is a\n"     \
    "                      multiple of K also carries opt.*: a whole\n"      \
    "                      checkpoint (default 0: only at --until)\n"        \
    "  --until T           the step to iteration T is the last: its segment\n" \
    "                      carries opt.*, and the input must end there\n"    \
    "  --checkpoint-dir RUN  write every whole checkpoint as the set\n"      \
    "                      RUN/ckpt/NNNNNN/student.tns and link\n"           \
    "                      RUN/student.tns to it (when no later stage does)\n"

/* The reference DACS schedule (dacs-method(7)), lr0 for training from
 * scratch. */
static const dx_hyper HYPER = {0.01, 250000, 0.9, 0.9, 5e-4, 10};

static const char *const FRAMES[5] = {"src.image", "src.label", "mix.image",
                                      "mix.label", "mix.weight"};

static struct {
    dx_cli cli;
    const char *model, *out, *log, *ckpt_dir;
    const char *si, *sl, *mi, *ml, *mw;
    int no_mix, stream;
    long ckpt_every, until;
    dx_hyper h;
} opt = {.cli.take = DX_CLI_QUIET | DX_CLI_THREADS, .until = -1};

/* The log, open for appending; a header line first if it is new. */
static FILE *open_log(void)
{
    FILE *fp = fopen(opt.log, "a");
    if (!fp)
        dx_die("--log %s: cannot open for appending", opt.log);
    if (ftell(fp) == 0)
        fprintf(fp, "iter\tloss\tloss_src\tloss_mix\tlr\tlr_head\n");
    return fp;
}

/* One row, flushed: a reader of the log sees each step as it ends. */
static void log_row(FILE *fp, const dx_step_result *r)
{
    fprintf(fp, "%ld\t%.6f\t%.6f\t%.6f\t%.6g\t%.6g\n", r->iter,
            r->loss_src + r->loss_mix, r->loss_src, r->loss_mix, r->lr,
            r->lr * opt.h.head_mult);
    if (fflush(fp) != 0)
        dx_die("--log %s: write failed", opt.log);
}

static void append_log(const dx_step_result *r)
{
    FILE *fp = open_log();
    log_row(fp, r);
    if (fclose(fp) != 0)
        dx_die("--log %s: write failed", opt.log);
}

/* One step of m on the batch in s. */
static int step(dx_model *m, const tns_stream *bs, dx_step_result *r,
                dx_err *err)
{
    int C = m->arch.classes;
    tns_stream *s = (tns_stream *)bs;
    const tns_frame *si, *sl = NULL, *mi = NULL, *ml = NULL, *mw = NULL;
    if (!(si = dx_need_image(s, opt.si, err)) ||
        !(sl = dx_need_label(s, opt.sl, si, C, err)))
        return -1;
    int has_mix = !opt.no_mix && (tns_stream_find(s, opt.mi) >= 0 ||
                                  tns_stream_find(s, opt.ml) >= 0 ||
                                  tns_stream_find(s, opt.mw) >= 0);
    if (has_mix && (!(mi = dx_need_image(s, opt.mi, err)) ||
                    !(ml = dx_need_label(s, opt.ml, mi, C, err)) ||
                    !(mw = dx_need_weight(s, opt.mw, mi, err))))
        return -1;
    tns_frame ys = {0}, ym = {0};
    int rc = -1;
    if (dx_labels_u8(&ys, sl, err) ||
        (has_mix && dx_labels_u8(&ym, ml, err)))
        goto done;
    dx_batch src = {si->data, ys.data, NULL, (int)si->dims[0],
                    (int)si->dims[1], (int)si->dims[2]};
    dx_batch mix = {0};
    if (has_mix)
        mix = (dx_batch){mi->data, ym.data, mw->data, (int)mi->dims[0],
                         (int)mi->dims[1], (int)mi->dims[2]};
    rc = dx_train_step(m, &src, has_mix ? &mix : NULL, &opt.h, r, err);
done:
    tns_frame_free(&ys);
    tns_frame_free(&ym);
    return rc;
}

/* Does the student of iteration it go out whole (with opt.*)? */
static int whole(long it)
{
    return it == opt.until || (opt.ckpt_every > 0 && it % opt.ckpt_every == 0);
}

/* --stream: a step per segment, the student out after each. */
static int stream(dx_model *m)
{
    dx_err err;
    tns_reader r;
    tns_writer w;
    tns_set_live(1);
    if (tns_open(&r, opt.cli.in, &err) || tns_create(&w, opt.out, &err))
        dx_die_err(&err);
    if (opt.until >= 0 && m->iter >= opt.until)
        dx_die("--until %ld: the model is at iteration %ld already",
               opt.until, m->iter);
    FILE *log = opt.log ? open_log() : NULL;
    tns_stream s;
    int got;
    while ((got = tns_read_segment(&r, &s, &err)) == 1) {
        if (opt.until >= 0 && m->iter >= opt.until) {
            tns_stream_free(&s);
            tns_abort(&w);
            dx_die("the input has a batch past iteration %ld (--until)",
                   opt.until);
        }
        dx_step_result res;
        long at = m->iter;
        if (step(m, &s, &res, &err)) {
            tns_abort(&w);
            /* the step's own failures name the iteration already */
            if (!strncmp(err.msg, "iteration ", 10))
                dx_die_err(&err);
            dx_die("batch of iteration %ld: %s", at, err.msg);
        }
        tns_stream_free(&s);
        int all = whole(m->iter);
        if (dx_model_write(m, &w, all, &err) || tns_end_segment(&w, &err)) {
            tns_abort(&w);
            dx_die_err(&err);
        }
        if (log)
            log_row(log, &res);
        if (!opt.cli.quiet)
            dx_note("iter %ld loss %.4f src %.4f mix %.4f lr %.4g", res.iter,
                    res.loss_src + res.loss_mix, res.loss_src, res.loss_mix,
                    res.lr);
        if (all && opt.ckpt_dir) {
            static const char *const names[] = {"student.tns"};
            dx_ckptset set;
            if (dx_ckptset_begin(&set, opt.ckpt_dir, m->iter, &err))
                dx_die_err(&err);
            if (dx_model_save(m, dx_ckptset_file(&set, names[0]), 1, &err)) {
                dx_ckptset_abort(&set);
                dx_die("checkpoint set %06ld abandoned, the previous set is "
                       "kept: %s", m->iter, err.msg);
            }
            if (dx_ckptset_commit(&set, names, 1, &err))
                dx_die_err(&err);
        }
    }
    tns_close(&r);
    if (got < 0) {
        tns_abort(&w);
        dx_die("after iteration %ld: %s", m->iter, err.msg);
    }
    if (opt.until >= 0 && m->iter < opt.until) {
        tns_abort(&w);
        dx_die("the input ended at iteration %ld, before --until %ld",
               m->iter, opt.until);
    }
    if (tns_finish(&w, &err))
        dx_die_err(&err);
    if (log && fclose(log) != 0)
        dx_die("--log %s: write failed", opt.log);
    dx_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    opt.h = HYPER;
    opt.si = FRAMES[0], opt.sl = FRAMES[1], opt.mi = FRAMES[2];
    opt.ml = FRAMES[3], opt.mw = FRAMES[4];
    enum { O_SI = DX_OPT_TOOL, O_SL, O_MI, O_ML, O_MW, O_NOMIX, O_LR,
           O_ITERS, O_POWER, O_MOM, O_DECAY, O_HEAD, O_LOG, O_STREAM,
           O_CKPT_EVERY, O_UNTIL, O_CKPT_DIR };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"input", required_argument, NULL, 'i'},
        {"src-image", required_argument, NULL, O_SI},
        {"src-label", required_argument, NULL, O_SL},
        {"mix-image", required_argument, NULL, O_MI},
        {"mix-label", required_argument, NULL, O_ML},
        {"mix-weight", required_argument, NULL, O_MW},
        {"no-mix", no_argument, NULL, O_NOMIX},
        {"lr", required_argument, NULL, O_LR},
        {"iters", required_argument, NULL, O_ITERS},
        {"power", required_argument, NULL, O_POWER},
        {"momentum", required_argument, NULL, O_MOM},
        {"weight-decay", required_argument, NULL, O_DECAY},
        {"head-lr-mult", required_argument, NULL, O_HEAD},
        {"log", required_argument, NULL, O_LOG},
        {"stream", no_argument, NULL, O_STREAM},
        {"checkpoint-every", required_argument, NULL, O_CKPT_EVERY},
        {"until", required_argument, NULL, O_UNTIL},
        {"checkpoint-dir", required_argument, NULL, O_CKPT_DIR},
        {0, 0, 0, 0}};
    int c;
    while ((c = dx_cli_next(&opt.cli, argc, argv, "m:o:i:", longopts)) != -1) {
        switch (c) {
        case 'm': opt.model = optarg; break;
        case 'o': opt.out = optarg; break;
        case 'i': opt.cli.in = optarg; break;
        case O_SI: opt.si = dx_arg_frame("--src-image", optarg, tns_name_ok); break;
        case O_SL: opt.sl = dx_arg_frame("--src-label", optarg, tns_name_ok); break;
        case O_MI: opt.mi = dx_arg_frame("--mix-image", optarg, tns_name_ok); break;
        case O_ML: opt.ml = dx_arg_frame("--mix-label", optarg, tns_name_ok); break;
        case O_MW: opt.mw = dx_arg_frame("--mix-weight", optarg, tns_name_ok); break;
        case O_NOMIX: opt.no_mix = 1; break;
        case O_LR: opt.h.lr = dx_arg_double("--lr", optarg, 0, 1e3); break;
        case O_ITERS:
            opt.h.iters = dx_arg_long("--iters", optarg, 1, INT32_MAX);
            break;
        case O_POWER: opt.h.power = dx_arg_double("--power", optarg, 0, 100); break;
        case O_MOM:
            opt.h.momentum = dx_arg_double("--momentum", optarg, 0, 1);
            break;
        case O_DECAY:
            opt.h.decay = dx_arg_double("--weight-decay", optarg, 0, 1);
            break;
        case O_HEAD:
            opt.h.head_mult = dx_arg_double("--head-lr-mult", optarg, 0,
                                            1e6);
            break;
        case O_LOG: opt.log = optarg; break;
        case O_STREAM: opt.stream = 1; break;
        case O_CKPT_EVERY:
            opt.ckpt_every = dx_arg_long("--checkpoint-every", optarg, 0,
                                         INT32_MAX);
            break;
        case O_UNTIL:
            opt.until = dx_arg_long("--until", optarg, 1, INT32_MAX);
            break;
        case O_CKPT_DIR: opt.ckpt_dir = optarg; break;
        case 'h':
            dx_cli_help(&opt.cli, USAGE, FRAMES[0], FRAMES[1], FRAMES[2],
                        FRAMES[3], FRAMES[4], HYPER.lr, HYPER.iters,
                        HYPER.power, HYPER.momentum, HYPER.decay,
                        HYPER.head_mult);
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    if (!opt.model)
        dx_die("no model: give the checkpoint with -m CKPT");
    if (!opt.stream && (opt.ckpt_every || opt.until >= 0 || opt.ckpt_dir))
        dx_die("--checkpoint-every, --until and --checkpoint-dir are for "
               "--stream");
    if (!opt.out && !opt.stream)
        dx_die("no output: give the new checkpoint with -o CKPT (it may "
               "equal -m)");
    if (opt.stream && opt.until > opt.h.iters)
        dx_die("--until %ld is past the schedule's end, --iters %ld",
               opt.until, opt.h.iters);
    dx_err err;
    dx_model m;
    if (dx_model_read(&m, opt.model, &err))
        dx_die_err(&err);
    if (opt.stream)
        return stream(&m);
    tns_stream s;
    if (tns_stream_load(&s, opt.cli.in, &err))
        dx_die_err(&err);
    dx_step_result r;
    if (step(&m, &s, &r, &err) || dx_model_save(&m, opt.out, 1, &err))
        dx_die_err(&err);
    if (!opt.cli.quiet)
        dx_note("iter %ld loss %.4f src %.4f mix %.4f lr %.4g", r.iter,
                r.loss_src + r.loss_mix, r.loss_src, r.loss_mix, r.lr);
    if (opt.log)
        append_log(&r);
    tns_stream_free(&s);
    dx_model_free(&m);
    return 0;
}
