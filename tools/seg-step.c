/* seg-step - one SGD step of the student on a source batch and, when
 * present, a mixed batch; writes the new checkpoint atomically.
 *
 *   seg-step -m CKPT -o CKPT [-i IN] [--lr LR] [--iters T] [--log FILE] ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/batch.h"
#include "nn/model.h"
#include "io/tns.h"
#include "dacs/train.h"

static const char USAGE[] =
    "usage: seg-step -m CKPT -o CKPT [OPTIONS] < BATCH\n"
    "One SGD step of the student (DACS, METHOD.md steps 7-8): loss\n"
    "CE(src) over non-ignored pixels + mean(weight * CE(mix)) over all\n"
    "pixels, two train-mode passes, gradients summed, one update.\n"
    "\n"
    "options:\n"
    "  -m, --model CKPT      checkpoint to start from (required)\n"
    "  -o, --output CKPT     new checkpoint, written atomically; may equal -m\n"
    "                        ('-': stdout) (required)\n"
    "  -i, --input FILE      the batch stream (default: stdin); all its\n"
    "                        segments are read as one batch\n"
    "  --src-image NAME      source images, u8 NxHxWx3 (default src.image)\n"
    "  --src-label NAME      source labels, u8/u16 NxHxW, 0..C-1 or 255\n"
    "                        (default src.label)\n"
    "  --mix-image NAME      mixed images (default mix.image)\n"
    "  --mix-label NAME      mixed labels (default mix.label)\n"
    "  --mix-weight NAME     mixed pixel weights, f32 NxHxW, >= 0\n"
    "                        (default mix.weight)\n"
    "  --no-mix              ignore the mixed frames even if present\n"
    "  --lr LR               base learning rate lr0 (default 0.01, for\n"
    "                        training from scratch)\n"
    "  --iters T             schedule length: lr = lr0*(1-t/T)^power at step\n"
    "                        t = meta.iter; t must be < T (default 250000)\n"
    "  --power P             poly exponent (default 0.9)\n"
    "  --momentum M          SGD momentum (default 0.9)\n"
    "  --weight-decay D      weight decay, on every parameter (default 5e-4)\n"
    "  --head-lr-mult K      learning-rate multiplier of the classifier\n"
    "                        head.* (default 10)\n"
    "  --log FILE            append a TSV row: iter loss loss_src loss_mix\n"
    "                        lr lr_head (a header line first if FILE is new)\n"
    "  -h, --help            show this help\n"
    "\n"
    "stderr gets one line: iter, total loss, both terms, lr.\n";

static struct {
    const char *model, *out, *in, *log;
    const char *si, *sl, *mi, *ml, *mw;
    int no_mix;
    dx_hyper h;
} opt = {.si = "src.image", .sl = "src.label", .mi = "mix.image",
         .ml = "mix.label", .mw = "mix.weight",
         .h = {0.01, 250000, 0.9, 0.9, 5e-4, 10}};

static const char *frame_name(const char *o, const char *s)
{
    if (!tns_name_ok(s))
        dx_die("%s: bad frame name '%s'", o, s);
    return s;
}

static void append_log(const dx_step_result *r)
{
    FILE *fp = fopen(opt.log, "a");
    if (!fp)
        dx_die("--log %s: cannot open for appending", opt.log);
    if (ftell(fp) == 0)
        fprintf(fp, "iter\tloss\tloss_src\tloss_mix\tlr\tlr_head\n");
    fprintf(fp, "%ld\t%.6f\t%.6f\t%.6f\t%.6g\t%.6g\n", r->iter,
            r->loss_src + r->loss_mix, r->loss_src, r->loss_mix, r->lr,
            r->lr * opt.h.head_mult);
    if (fclose(fp) != 0)
        dx_die("--log %s: write failed", opt.log);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"input", required_argument, NULL, 'i'},
        {"src-image", required_argument, NULL, 1},
        {"src-label", required_argument, NULL, 2},
        {"mix-image", required_argument, NULL, 3},
        {"mix-label", required_argument, NULL, 4},
        {"mix-weight", required_argument, NULL, 5},
        {"no-mix", no_argument, NULL, 6},
        {"lr", required_argument, NULL, 7},
        {"iters", required_argument, NULL, 8},
        {"power", required_argument, NULL, 9},
        {"momentum", required_argument, NULL, 10},
        {"weight-decay", required_argument, NULL, 11},
        {"head-lr-mult", required_argument, NULL, 12},
        {"log", required_argument, NULL, 13},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = dx_getopt(argc, argv, "m:o:i:h", longopts)) != -1) {
        switch (c) {
        case 'm': opt.model = optarg; break;
        case 'o': opt.out = optarg; break;
        case 'i': opt.in = optarg; break;
        case 1: opt.si = frame_name("--src-image", optarg); break;
        case 2: opt.sl = frame_name("--src-label", optarg); break;
        case 3: opt.mi = frame_name("--mix-image", optarg); break;
        case 4: opt.ml = frame_name("--mix-label", optarg); break;
        case 5: opt.mw = frame_name("--mix-weight", optarg); break;
        case 6: opt.no_mix = 1; break;
        case 7: opt.h.lr = dx_arg_double("--lr", optarg, 0, 1e3); break;
        case 8:
            opt.h.iters = dx_arg_long("--iters", optarg, 1, INT32_MAX);
            break;
        case 9: opt.h.power = dx_arg_double("--power", optarg, 0, 100); break;
        case 10:
            opt.h.momentum = dx_arg_double("--momentum", optarg, 0, 1);
            break;
        case 11:
            opt.h.decay = dx_arg_double("--weight-decay", optarg, 0, 1);
            break;
        case 12:
            opt.h.head_mult = dx_arg_double("--head-lr-mult", optarg, 0,
                                            1e6);
            break;
        case 13: opt.log = optarg; break;
        case 'h': dx_help(USAGE);
        }
    }
    if (optind < argc)
        dx_die("unexpected argument '%s' (see --help)", argv[optind]);
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
    if (tns_stream_load(&s, opt.in, &err))
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
    tns_frame ys = {0}, ym = {0};
    if (dx_labels_u8(&ys, sl, &err) ||
        (has_mix && dx_labels_u8(&ym, ml, &err)))
        dx_die_err(&err);
    dx_batch src = {si->data, ys.data, NULL, (int)si->dims[0],
                    (int)si->dims[1], (int)si->dims[2]};
    dx_batch mix = {0};
    if (has_mix)
        mix = (dx_batch){mi->data, ym.data, mw->data, (int)mi->dims[0],
                         (int)mi->dims[1], (int)mi->dims[2]};
    dx_step_result r;
    if (dx_train_step(&m, &src, has_mix ? &mix : NULL, &opt.h, &r, &err) ||
        dx_model_save(&m, opt.out, 1, &err))
        dx_die_err(&err);
    dx_note("iter %ld loss %.4f src %.4f mix %.4f lr %.4g", r.iter,
            r.loss_src + r.loss_mix, r.loss_src, r.loss_mix, r.lr);
    if (opt.log)
        append_log(&r);
    tns_frame_free(&ys);
    tns_frame_free(&ym);
    tns_stream_free(&s);
    dx_model_free(&m);
    return 0;
}
