/* seg-step - one optimiser step (SGD or AdamW) of the student on a source
 * batch and, when present, a mixed and a masked batch; writes the new
 * checkpoint atomically.
 *
 *   seg-step -m CKPT -o CKPT [-i IN] [--lr LR] [--iters T] [--log FILE] ...
 *   seg-step --stream -m CKPT [-o OUT] [--until T] [--checkpoint-every K]
 *            [--checkpoint-dir RUN] ...     one step per segment
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/coll.h"
#include "data/batch.h"
#include "nn/model.h"
#include "io/ckptset.h"
#include "io/tns.h"
#include "dacs/train.h"

#define USAGE                                                                 \
    "usage: seg-step -m CKPT -o CKPT [OPTIONS] < BATCH\n"                     \
    "One step of the student (DACS steps 7-8, dacs-method(7)): loss\n"       \
    "CE(src) over non-ignored pixels + mean(weight * CE(mix)) over all\n"     \
    "pixels [+ mic-lambda * mean(weight * CE(mic)), MIC's masked target],\n" \
    "one train-mode pass each, gradients summed, one update.  stderr gets\n" \
    "one line: iter, total loss, the terms, lr.\n"                          \
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
    "  --mic-image NAME    masked target images, mic-mask's (default %s)\n" \
    "  --mic-label NAME    the pseudo-labels of the unmasked images\n"      \
    "                      (default %s)\n"                                    \
    "  --mic-weight NAME   their weights (default %s)\n"                     \
    "  --no-mic            ignore the masked frames even if present\n"       \
    "  --mic-lambda L      weight of the masked term (default %g, MIC's)\n"  \
    "  --optimizer KIND    sgd (DACS) or adamw (DAFormer) (default sgd);\n" \
    "                      a checkpoint holding the other's state is refused\n" \
    "  --lr LR             base learning rate lr0 (default sgd %g, for\n"    \
    "                      training from scratch; adamw %g)\n"              \
    "  --iters T           schedule length: lr = lr0*(1-t/T)^power at step\n" \
    "                      t = meta.iter; t must be < T (default %ld)\n"      \
    "  --power P           poly exponent (default sgd %g, adamw %g)\n"       \
    "  --warmup N          linear warmup over the first N steps, as mmcv's:\n" \
    "                      lr times 1-(1-t/N)*(1-ratio) for t < N (default\n" \
    "                      sgd %ld, adamw %ld)\n"                            \
    "  --warmup-ratio R    the warmup's starting factor (default %g)\n"      \
    "  --momentum M        SGD momentum (default %g)\n"                       \
    "  --betas B1,B2       AdamW's moment decays (default %g,%g)\n"          \
    "  --eps E             AdamW's denominator term (default %g)\n"          \
    "  --weight-decay D    weight decay (default sgd %g, on every trained\n" \
    "                      parameter; adamw %g, decoupled, none on\n"       \
    "                      batch-norm weights and biases)\n"               \
    "  --head-lr-mult K    learning-rate multiplier of the classifier (head.*\n" \
    "                      of deeplab-mini, layer5.* of deeplabv2) (default\n" \
    "                      %g)\n"                                             \
    "  --log FILE          append a TSV row: iter loss loss_src loss_mix lr\n" \
    "                      lr_head loss_mic (a header line first if FILE is\n" \
    "                      new)\n"                                           \
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
    "                      RUN/student.tns to it (when no later stage does)\n" \
    "\n"                                                                      \
    "data parallelism (dacs-train --mpi):\n"                                \
    "  --mpi SOCKET        the batch is this rank's share; batch-norm\n"   \
    "                      statistics, loss denominators, losses and\n"   \
    "                      gradients are summed over the ranks by the rank's\n" \
    "                      mpi-hub(1) at SOCKET, so every rank takes the\n" \
    "                      step of the global batch\n"

/* MIC's weight of the masked term; the optimisers' defaults are
 * dx_optim_defaults's (DACS's SGD schedule with lr0 for training from
 * scratch, DAFormer's AdamW). */
static const double MIC_LAMBDA = 1;

static const char *const FRAMES[8] = {"src.image", "src.label", "mix.image",
                                      "mix.label", "mix.weight", "mic.image",
                                      "mic.label", "mic.weight"};

static struct {
    dx_cli cli;
    const char *model, *out, *log, *ckpt_dir, *mpi;
    const char *si, *sl, *mi, *ml, *mw, *ki, *kl, *kw;
    int no_mix, no_mic, stream;
    long ckpt_every, until;
    dx_hyper h;
    /* the optimiser options given, applied over the kind's defaults */
    int kind;
    dx_optim given;
    int has_lr, has_power, has_warmup, has_ratio, has_mom, has_betas,
        has_eps, has_decay, has_head;
} opt = {.cli.take = DX_CLI_QUIET | DX_CLI_THREADS, .until = -1};

/* --betas B1,B2, each in [0, 1). */
static void betas(const char *s, double *b1, double *b2)
{
    char *end;
    *b1 = strtod(s, &end);
    if (end == s || *end != ',' || !(*b1 >= 0 && *b1 < 1))
        dx_die("--betas: '%s' is not B1,B2 with 0 <= B < 1", s);
    const char *t = end + 1;
    *b2 = strtod(t, &end);
    if (end == t || *end || !(*b2 >= 0 && *b2 < 1))
        dx_die("--betas: '%s' is not B1,B2 with 0 <= B < 1", s);
}

/* The kind's defaults (dx_optim_defaults), then the options given; an
 * option of the other optimiser is an error. */
static void settle_optimizer(void)
{
    long iters = opt.h.opt.iters;
    dx_optim *o = &opt.h.opt, *g = &opt.given;
    dx_optim_defaults(o, opt.kind);
    if (iters)
        o->iters = iters;
    if (opt.kind == DX_OPTIM_SGD && (opt.has_betas || opt.has_eps))
        dx_die("--%s is AdamW's: give --optimizer adamw, or leave it out",
               opt.has_betas ? "betas" : "eps");
    if (opt.kind == DX_OPTIM_ADAMW && opt.has_mom)
        dx_die("--momentum is SGD's: AdamW takes --betas B1,B2");
    if (opt.has_lr) o->lr = g->lr;
    if (opt.has_power) o->power = g->power;
    if (opt.has_warmup) o->warmup = g->warmup;
    if (opt.has_ratio) o->warmup_ratio = g->warmup_ratio;
    if (opt.has_mom) o->momentum = g->momentum;
    if (opt.has_betas) o->beta1 = g->beta1, o->beta2 = g->beta2;
    if (opt.has_eps) o->eps = g->eps;
    if (opt.has_decay) o->decay = g->decay;
    if (opt.has_head) o->head_mult = g->head_mult;
}

/* The log, open for appending; a header line first if it is new. */
static FILE *open_log(void)
{
    FILE *fp = fopen(opt.log, "a");
    if (!fp)
        dx_die("--log %s: cannot open for appending", opt.log);
    if (ftell(fp) == 0)
        fprintf(fp, "iter\tloss\tloss_src\tloss_mix\tlr\tlr_head\t"
                "loss_mic\n");
    return fp;
}

/* One row, flushed: a reader of the log sees each step as it ends. */
static void log_row(FILE *fp, const dx_step_result *r)
{
    fprintf(fp, "%ld\t%.6f\t%.6f\t%.6f\t%.6g\t%.6g\t%.6f\n", r->iter,
            r->loss_src + r->loss_mix + r->loss_mic, r->loss_src,
            r->loss_mix, r->lr, r->lr * opt.h.opt.head_mult, r->loss_mic);
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

/* A weighted pair (image, label, weight) of s, if any of its frames is
 * there (and off is not set): 1 with p filled (labels as u8 in *y, freed
 * by the caller), 0 when absent, -1 on error. */
static int weighted_pair(tns_stream *s, const char *img, const char *lbl,
                         const char *wt, int off, int C, dx_batch *p,
                         tns_frame *y, dx_err *err)
{
    if (off || (tns_stream_find(s, img) < 0 && tns_stream_find(s, lbl) < 0 &&
                tns_stream_find(s, wt) < 0))
        return 0;
    const tns_frame *i, *l, *w;
    if (!(i = dx_need_image(s, img, err)) ||
        !(l = dx_need_label(s, lbl, i, C, err)) ||
        !(w = dx_need_weight(s, wt, i, err)) || dx_labels_u8(y, l, err))
        return -1;
    *p = (dx_batch){i->data, y->data, w->data, (int)i->dims[0],
                    (int)i->dims[1], (int)i->dims[2]};
    return 1;
}

/* One step of m on the batch in s: the source pair, the mixed pair and
 * MIC's masked pair where they are in s. */
static int step(dx_model *m, const tns_stream *bs, dx_step_result *r,
                int *with_mic, dx_err *err)
{
    int C = m->arch.classes;
    tns_stream *s = (tns_stream *)bs;
    const tns_frame *si, *sl;
    *with_mic = 0;
    if (!(si = dx_need_image(s, opt.si, err)) ||
        !(sl = dx_need_label(s, opt.sl, si, C, err)))
        return -1;
    tns_frame ys = {0}, ym = {0}, yk = {0};
    dx_batch src, mix, mic;
    int rc = -1, has_mix = 0, has_mic = 0;
    if ((has_mix = weighted_pair(s, opt.mi, opt.ml, opt.mw, opt.no_mix, C,
                                 &mix, &ym, err)) < 0 ||
        (has_mic = weighted_pair(s, opt.ki, opt.kl, opt.kw, opt.no_mic, C,
                                 &mic, &yk, err)) < 0 ||
        dx_labels_u8(&ys, sl, err))
        goto done;
    *with_mic = has_mic;
    src = (dx_batch){si->data, ys.data, NULL, (int)si->dims[0],
                     (int)si->dims[1], (int)si->dims[2]};
    rc = dx_train_step(m, &src, has_mix ? &mix : NULL, has_mic ? &mic : NULL,
                       &opt.h, r, err);
done:
    tns_frame_free(&ys);
    tns_frame_free(&ym);
    tns_frame_free(&yk);
    return rc;
}

/* The line of losses on stderr (the mic term where there was a pair). */
static void report(const dx_step_result *r, int with_mic)
{
    if (with_mic)
        dx_note("iter %ld loss %.4f src %.4f mix %.4f mic %.4f lr %.4g",
                r->iter, r->loss_src + r->loss_mix + r->loss_mic,
                r->loss_src, r->loss_mix, r->loss_mic, r->lr);
    else
        dx_note("iter %ld loss %.4f src %.4f mix %.4f lr %.4g", r->iter,
                r->loss_src + r->loss_mix, r->loss_src, r->loss_mix, r->lr);
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
        int with_mic;
        if (step(m, &s, &res, &with_mic, &err)) {
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
            report(&res, with_mic);
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
    opt.h.mic_lambda = MIC_LAMBDA;
    opt.si = FRAMES[0], opt.sl = FRAMES[1], opt.mi = FRAMES[2];
    opt.ml = FRAMES[3], opt.mw = FRAMES[4];
    opt.ki = FRAMES[5], opt.kl = FRAMES[6], opt.kw = FRAMES[7];
    enum { O_SI = DX_OPT_TOOL, O_SL, O_MI, O_ML, O_MW, O_NOMIX, O_LR,
           O_ITERS, O_POWER, O_MOM, O_DECAY, O_HEAD, O_LOG, O_KI, O_KL, O_KW,
           O_NOMIC, O_MICL, O_STREAM, O_CKPT_EVERY, O_UNTIL, O_CKPT_DIR,
           O_OPTIM, O_WARMUP, O_RATIO, O_BETAS, O_EPS, O_MPI };
    static const char *const KINDS[] = {"sgd", "adamw", NULL};
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
        {"mic-image", required_argument, NULL, O_KI},
        {"mic-label", required_argument, NULL, O_KL},
        {"mic-weight", required_argument, NULL, O_KW},
        {"no-mic", no_argument, NULL, O_NOMIC},
        {"mic-lambda", required_argument, NULL, O_MICL},
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
        {"optimizer", required_argument, NULL, O_OPTIM},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"warmup-ratio", required_argument, NULL, O_RATIO},
        {"betas", required_argument, NULL, O_BETAS},
        {"eps", required_argument, NULL, O_EPS},
        {"mpi", required_argument, NULL, O_MPI},
        {0, 0, 0, 0}};
    dx_optim *g = &opt.given;
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
        case O_KI: opt.ki = dx_arg_frame("--mic-image", optarg, tns_name_ok); break;
        case O_KL: opt.kl = dx_arg_frame("--mic-label", optarg, tns_name_ok); break;
        case O_KW: opt.kw = dx_arg_frame("--mic-weight", optarg, tns_name_ok); break;
        case O_NOMIC: opt.no_mic = 1; break;
        case O_MICL:
            opt.h.mic_lambda = dx_arg_double("--mic-lambda", optarg, 0, 1e3);
            break;
        case O_LR:
            g->lr = dx_arg_double("--lr", optarg, 0, 1e3);
            opt.has_lr = 1;
            break;
        case O_ITERS:
            opt.h.opt.iters = dx_arg_long("--iters", optarg, 1, INT32_MAX);
            break;
        case O_POWER:
            g->power = dx_arg_double("--power", optarg, 0, 100);
            opt.has_power = 1;
            break;
        case O_WARMUP:
            g->warmup = dx_arg_long("--warmup", optarg, 0, INT32_MAX);
            opt.has_warmup = 1;
            break;
        case O_RATIO:
            g->warmup_ratio = dx_arg_double("--warmup-ratio", optarg, 0, 1);
            opt.has_ratio = 1;
            break;
        case O_MOM:
            g->momentum = dx_arg_double("--momentum", optarg, 0, 1);
            opt.has_mom = 1;
            break;
        case O_BETAS:
            betas(optarg, &g->beta1, &g->beta2);
            opt.has_betas = 1;
            break;
        case O_EPS:
            g->eps = dx_arg_double("--eps", optarg, 1e-30, 1);
            opt.has_eps = 1;
            break;
        case O_DECAY:
            g->decay = dx_arg_double("--weight-decay", optarg, 0, 1);
            opt.has_decay = 1;
            break;
        case O_HEAD:
            g->head_mult = dx_arg_double("--head-lr-mult", optarg, 0, 1e6);
            opt.has_head = 1;
            break;
        case O_OPTIM: opt.kind = dx_arg_enum("--optimizer", optarg, KINDS); break;
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
        case O_MPI: opt.mpi = optarg; break;
        case 'h': {
            dx_optim sgd, adamw;
            dx_optim_defaults(&sgd, DX_OPTIM_SGD);
            dx_optim_defaults(&adamw, DX_OPTIM_ADAMW);
            dx_cli_help(&opt.cli, USAGE, FRAMES[0], FRAMES[1], FRAMES[2],
                        FRAMES[3], FRAMES[4], FRAMES[5], FRAMES[6],
                        FRAMES[7], MIC_LAMBDA, sgd.lr, adamw.lr, sgd.iters,
                        sgd.power, adamw.power, sgd.warmup, adamw.warmup,
                        sgd.warmup_ratio, sgd.momentum, adamw.beta1,
                        adamw.beta2, adamw.eps, sgd.decay, adamw.decay,
                        sgd.head_mult);
        }
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    settle_optimizer();
    if (!opt.model)
        dx_die("no model: give the checkpoint with -m CKPT");
    if (!opt.stream && (opt.ckpt_every || opt.until >= 0 || opt.ckpt_dir))
        dx_die("--checkpoint-every, --until and --checkpoint-dir are for "
               "--stream");
    if (!opt.out && !opt.stream)
        dx_die("no output: give the new checkpoint with -o CKPT (it may "
               "equal -m)");
    if (opt.stream && opt.until > opt.h.opt.iters)
        dx_die("--until %ld is past the schedule's end, --iters %ld",
               opt.until, opt.h.opt.iters);
    dx_err err;
    dx_model m;
    if (dx_model_read(&m, opt.model, &err))
        dx_die_err(&err);
    if (dx_optim_check(&m, opt.h.opt.kind, &err))
        dx_die("%s: %s", opt.model, err.msg);
    dx_coll coll;
    if (opt.mpi) {
        if (dx_coll_open(&coll, opt.mpi, "seg-step", &err))
            dx_die_err(&err);
        m.coll = &coll;
    }
    if (opt.stream)
        return stream(&m);
    tns_stream s;
    if (tns_stream_load(&s, opt.cli.in, &err))
        dx_die_err(&err);
    dx_step_result r;
    int with_mic;
    if (step(&m, &s, &r, &with_mic, &err) ||
        dx_model_save(&m, opt.out, 1, &err))
        dx_die_err(&err);
    if (!opt.cli.quiet)
        report(&r, with_mic);
    if (opt.log)
        append_log(&r);
    dx_coll_close(m.coll);
    tns_stream_free(&s);
    dx_model_free(&m);
    return 0;
}
