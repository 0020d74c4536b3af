/* seg-step - one SGD step of the student on a source batch and, when
 * present, a mixed batch; writes the new checkpoint atomically.
 *
 *   seg-step -m CKPT -o CKPT [-i IN] [--lr LR] [--iters T] [--log FILE] ...
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "nn/loss.h"
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
    "                        (head.* of deeplab-mini, layer5.* of deeplabv2)\n"
    "                        (default 10)\n"
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

/* Image frame: u8 (N, H, W, 3). */
static tns_frame *image(tns_stream *s, const char *name, dx_err *err)
{
    char shape[128];
    tns_frame *f = tns_stream_need(s, name, DX_U8, 4, err);
    if (!f)
        return NULL;
    if (f->dims[3] != 3 || f->dims[0] < 1 || f->dims[1] < 1 ||
        f->dims[2] < 1 || f->dims[0] > INT_MAX || f->dims[1] > INT_MAX ||
        f->dims[2] > INT_MAX) {
        dx_fail(err, "frame '%s' has shape %s, expected NxHxWx3 RGB", name,
                tns_shape_str(f, shape, sizeof shape));
        return NULL;
    }
    return f;
}

/* A (N, H, W) frame matching the image; NULL with err otherwise. */
static tns_frame *per_pixel(tns_stream *s, const char *name,
                            const tns_frame *img, int dtype, dx_err *err)
{
    char a[128], b[128];
    tns_frame *f = tns_stream_get(s, name);
    if (!f) {
        dx_fail(err, "missing frame '%s' in the input stream", name);
        return NULL;
    }
    if (dtype == DX_F32 ? f->dtype != DX_F32
                        : f->dtype != DX_U8 && f->dtype != DX_U16) {
        dx_fail(err, "frame '%s' has dtype %s, expected %s", name,
                dx_dtype_name(f->dtype), dtype == DX_F32 ? "f32" : "u8 or "
                                                                  "u16");
        return NULL;
    }
    if (f->rank != 3 || f->dims[0] != img->dims[0] ||
        f->dims[1] != img->dims[1] || f->dims[2] != img->dims[2]) {
        dx_fail(err, "frame '%s' has shape %s, '%s' has %s", name,
                tns_shape_str(f, a, sizeof a), img->name,
                tns_shape_str(img, b, sizeof b));
        return NULL;
    }
    return f;
}

/* Labels as u8, checked: 0..C-1 or 255.  Returns a new buffer. */
static uint8_t *labels(const tns_frame *f, int C, dx_err *err)
{
    uint8_t *y = malloc(f->count ? f->count : 1);
    if (!y) {
        dx_fail(err, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < f->count; i++) {
        unsigned v = f->dtype == DX_U8 ? ((const uint8_t *)f->data)[i]
                                       : ((const uint16_t *)f->data)[i];
        if (v >= (unsigned)C && v != DX_IGNORE) {
            size_t hw = (size_t)f->dims[1] * f->dims[2];
            dx_fail(err, "frame '%s' has label %u at image %zu row %zu "
                    "column %zu, expected 0..%d or 255", f->name, v, i / hw,
                    i % hw / (size_t)f->dims[2], i % (size_t)f->dims[2],
                    C - 1);
            free(y);
            return NULL;
        }
        y[i] = (uint8_t)v;
    }
    return y;
}

static int weights_ok(const tns_frame *f, dx_err *err)
{
    if (tns_check_finite(f, err))
        return -1;
    const float *w = f->data;
    for (size_t i = 0; i < f->count; i++)
        if (w[i] < 0)
            return dx_fail(err, "frame '%s': element %zu is %g, expected a "
                           "weight >= 0", f->name, i, (double)w[i]);
    return 0;
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
    tns_frame *si = image(&s, opt.si, &err), *sl = NULL;
    if (!si || !(sl = per_pixel(&s, opt.sl, si, DX_U8, &err)))
        dx_die_err(&err);
    int has_mix = !opt.no_mix && (tns_stream_find(&s, opt.mi) >= 0 ||
                                  tns_stream_find(&s, opt.ml) >= 0 ||
                                  tns_stream_find(&s, opt.mw) >= 0);
    tns_frame *mi = NULL, *ml = NULL, *mw = NULL;
    if (has_mix && (!(mi = image(&s, opt.mi, &err)) ||
                    !(ml = per_pixel(&s, opt.ml, mi, DX_U8, &err)) ||
                    !(mw = per_pixel(&s, opt.mw, mi, DX_F32, &err)) ||
                    weights_ok(mw, &err)))
        dx_die_err(&err);
    uint8_t *ys = labels(sl, C, &err), *ym = NULL;
    if (!ys || (has_mix && !(ym = labels(ml, C, &err))))
        dx_die_err(&err);
    dx_batch src = {si->data, ys, NULL, (int)si->dims[0], (int)si->dims[1],
                    (int)si->dims[2]};
    dx_batch mix = {0};
    if (has_mix)
        mix = (dx_batch){mi->data, ym, mw->data, (int)mi->dims[0],
                         (int)mi->dims[1], (int)mi->dims[2]};
    dx_step_result r;
    if (dx_train_step(&m, &src, has_mix ? &mix : NULL, &opt.h, &r, &err) ||
        dx_model_save(&m, opt.out, 1, &err))
        dx_die_err(&err);
    dx_note("iter %ld loss %.4f src %.4f mix %.4f lr %.4g", r.iter,
            r.loss_src + r.loss_mix, r.loss_src, r.loss_mix, r.lr);
    if (opt.log)
        append_log(&r);
    free(ys);
    free(ym);
    tns_stream_free(&s);
    dx_model_free(&m);
    return 0;
}
