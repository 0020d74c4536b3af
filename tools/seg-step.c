/* seg-step - one SGD step of the student on a source batch and, when
 * present, a mixed batch; writes the new checkpoint atomically.
 *
 *   seg-step -m CKPT -o CKPT [-i IN] [--lr LR] [--iters T] [--log FILE] ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/coll.h"
#include "data/batch.h"
#include "nn/model.h"
#include "io/tns.h"
#include "dacs/train.h"

#define USAGE                                                                 \
    "usage: seg-step -m CKPT -o CKPT [OPTIONS] < BATCH\n"                     \
    "One SGD step of the student (DACS steps 7-8, dacs-method(7)): loss\n"    \
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
    "  --lr LR             base learning rate lr0 (default %g, for training\n" \
    "                      from scratch)\n"                                   \
    "  --iters T           schedule length: lr = lr0*(1-t/T)^power at step\n" \
    "                      t = meta.iter; t must be < T (default %ld)\n"      \
    "  --power P           poly exponent (default %g)\n"                      \
    "  --momentum M        SGD momentum (default %g)\n"                       \
    "  --weight-decay D    weight decay, on every trained parameter (default\n" \
    "                      %g)\n"                                             \
    "  --head-lr-mult K    learning-rate multiplier of the classifier (head.*\n" \
    "                      of deeplab-mini, layer5.* of deeplabv2) (default\n" \
    "                      %g)\n"                                             \
    "  --log FILE          append a TSV row: iter loss loss_src loss_mix lr\n" \
    "                      lr_head loss_mic (a header line first if FILE is\n" \
    "                      new)\n"                                           \
    "  -i, --input FILE    the batch stream (default: stdin); all its\n"      \
    "                      segments are read as one batch\n"                   \
    "  --mpi SOCKET        data parallelism (dacs-train --mpi): the batch is\n" \
    "                      this rank's share; batch-norm statistics, loss\n"  \
    "                      denominators, losses and gradients are summed\n"  \
    "                      over the ranks by the rank's mpi-hub(1) at SOCKET,\n" \
    "                      so every rank takes the step of the global batch\n"

/* The reference DACS schedule (dacs-method(7)), lr0 for training from
 * scratch. */
static const dx_hyper HYPER = {0.01, 250000, 0.9, 0.9, 5e-4, 10, 1};

static const char *const FRAMES[8] = {"src.image", "src.label", "mix.image",
                                      "mix.label", "mix.weight", "mic.image",
                                      "mic.label", "mic.weight"};

static struct {
    dx_cli cli;
    const char *model, *out, *log, *mpi;
    const char *si, *sl, *mi, *ml, *mw, *ki, *kl, *kw;
    int no_mix, no_mic;
    dx_hyper h;
} opt = {.cli.take = DX_CLI_QUIET | DX_CLI_THREADS};

static void append_log(const dx_step_result *r)
{
    FILE *fp = fopen(opt.log, "a");
    if (!fp)
        dx_die("--log %s: cannot open for appending", opt.log);
    if (ftell(fp) == 0)
        fprintf(fp, "iter\tloss\tloss_src\tloss_mix\tlr\tlr_head\t"
                "loss_mic\n");
    fprintf(fp, "%ld\t%.6f\t%.6f\t%.6f\t%.6g\t%.6g\t%.6f\n", r->iter,
            r->loss_src + r->loss_mix + r->loss_mic, r->loss_src,
            r->loss_mix, r->lr, r->lr * opt.h.head_mult, r->loss_mic);
    if (fclose(fp) != 0)
        dx_die("--log %s: write failed", opt.log);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    opt.h = HYPER;
    opt.si = FRAMES[0], opt.sl = FRAMES[1], opt.mi = FRAMES[2];
    opt.ml = FRAMES[3], opt.mw = FRAMES[4];
    opt.ki = FRAMES[5], opt.kl = FRAMES[6], opt.kw = FRAMES[7];
    enum { O_SI = DX_OPT_TOOL, O_SL, O_MI, O_ML, O_MW, O_NOMIX, O_LR,
           O_ITERS, O_POWER, O_MOM, O_DECAY, O_HEAD, O_LOG, O_KI, O_KL, O_KW,
           O_NOMIC, O_MICL, O_MPI };
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
        {"mpi", required_argument, NULL, O_MPI},
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
        case O_KI: opt.ki = dx_arg_frame("--mic-image", optarg, tns_name_ok); break;
        case O_KL: opt.kl = dx_arg_frame("--mic-label", optarg, tns_name_ok); break;
        case O_KW: opt.kw = dx_arg_frame("--mic-weight", optarg, tns_name_ok); break;
        case O_NOMIC: opt.no_mic = 1; break;
        case O_MICL:
            opt.h.mic_lambda = dx_arg_double("--mic-lambda", optarg, 0, 1e3);
            break;
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
        case O_MPI: opt.mpi = optarg; break;
        case 'h':
            dx_cli_help(&opt.cli, USAGE, FRAMES[0], FRAMES[1], FRAMES[2],
                        FRAMES[3], FRAMES[4], FRAMES[5], FRAMES[6],
                        FRAMES[7], HYPER.mic_lambda, HYPER.lr, HYPER.iters,
                        HYPER.power, HYPER.momentum, HYPER.decay,
                        HYPER.head_mult);
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    if (!opt.model)
        dx_die("no model: give the checkpoint with -m CKPT");
    if (!opt.out)
        dx_die("no output: give the new checkpoint with -o CKPT (it may "
               "equal -m)");
    dx_err err;
    dx_model m;
    if (dx_model_read(&m, opt.model, &err))
        dx_die_err(&err);
    tns_stream s;
    if (tns_stream_load(&s, opt.cli.in, &err))
        dx_die_err(&err);
    int C = m.arch.classes;
    const tns_frame *si, *sl = NULL, *mi = NULL, *ml = NULL, *mw = NULL;
    if (!(si = dx_need_image(&s, opt.si, &err)) ||
        !(sl = dx_need_label(&s, opt.sl, si, C, &err)))
        dx_die_err(&err);
    int has_mix = !opt.no_mix && (tns_stream_find(&s, opt.mi) >= 0 ||
                                  tns_stream_find(&s, opt.ml) >= 0 ||
                                  tns_stream_find(&s, opt.mw) >= 0);
    if (has_mix && (!(mi = dx_need_image(&s, opt.mi, &err)) ||
                    !(ml = dx_need_label(&s, opt.ml, mi, C, &err)) ||
                    !(mw = dx_need_weight(&s, opt.mw, mi, &err))))
        dx_die_err(&err);
    const tns_frame *ki = NULL, *kl = NULL, *kw = NULL;
    int has_mic = !opt.no_mic && (tns_stream_find(&s, opt.ki) >= 0 ||
                                  tns_stream_find(&s, opt.kl) >= 0 ||
                                  tns_stream_find(&s, opt.kw) >= 0);
    if (has_mic && (!(ki = dx_need_image(&s, opt.ki, &err)) ||
                    !(kl = dx_need_label(&s, opt.kl, ki, C, &err)) ||
                    !(kw = dx_need_weight(&s, opt.kw, ki, &err))))
        dx_die_err(&err);
    tns_frame ys = {0}, ym = {0}, yk = {0};
    if (dx_labels_u8(&ys, sl, &err) ||
        (has_mix && dx_labels_u8(&ym, ml, &err)) ||
        (has_mic && dx_labels_u8(&yk, kl, &err)))
        dx_die_err(&err);
    dx_batch src = {si->data, ys.data, NULL, (int)si->dims[0],
                    (int)si->dims[1], (int)si->dims[2]};
    dx_batch mix = {0};
    if (has_mix)
        mix = (dx_batch){mi->data, ym.data, mw->data, (int)mi->dims[0],
                         (int)mi->dims[1], (int)mi->dims[2]};
    dx_batch mic = {0};
    if (has_mic)
        mic = (dx_batch){ki->data, yk.data, kw->data, (int)ki->dims[0],
                         (int)ki->dims[1], (int)ki->dims[2]};
    dx_coll coll;
    if (opt.mpi) {
        if (dx_coll_open(&coll, opt.mpi, "seg-step", &err))
            dx_die_err(&err);
        m.coll = &coll;
    }
    dx_step_result r;
    if (dx_train_step(&m, &src, has_mix ? &mix : NULL, has_mic ? &mic : NULL,
                      &opt.h, &r, &err) ||
        dx_model_save(&m, opt.out, 1, &err))
        dx_die_err(&err);
    if (!opt.cli.quiet && has_mic)
        dx_note("iter %ld loss %.4f src %.4f mix %.4f mic %.4f lr %.4g",
                r.iter, r.loss_src + r.loss_mix + r.loss_mic, r.loss_src,
                r.loss_mix, r.loss_mic, r.lr);
    else if (!opt.cli.quiet)
        dx_note("iter %ld loss %.4f src %.4f mix %.4f lr %.4g", r.iter,
                r.loss_src + r.loss_mix, r.loss_src, r.loss_mix, r.lr);
    if (opt.log)
        append_log(&r);
    dx_coll_close(m.coll);
    tns_frame_free(&ys);
    tns_frame_free(&ym);
    tns_frame_free(&yk);
    tns_stream_free(&s);
    dx_model_free(&m);
    return 0;
}
