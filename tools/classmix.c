/* classmix - cross-domain ClassMix and strong augmentation.
 *
 *   classmix [OPTIONS] [FILE]
 *
 * Reads SRC.image, SRC.label, TGT.image, TGT.plabel, TGT.weight from every
 * segment, passes every frame through and appends OUT.image, OUT.label,
 * OUT.weight and OUT.mask.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dacs/augment.h"
#include "data/classes.h"
#include "base/cli.h"
#include "data/batch.h"
#include "dacs/mix.h"
#include "base/rng.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: classmix [OPTIONS] [FILE]\n"                                      \
    "Cross-domain ClassMix (DACS steps 4-6, dacs-method(7)).  Reads a tensor\n" \
    "stream (FILE, or stdin); for every segment reads SRC.image (u8\n"       \
    "NxHxWx3), SRC.label (u8 or u16 NxHxW), TGT.image, TGT.plabel (u8 or\n"  \
    "u16 NxHxW) and TGT.weight (f32 NxHxW, finite and >= 0), passes every\n" \
    "frame through and appends OUT.image (u8 NxHxWx3), OUT.label (u8\n"      \
    "NxHxW), OUT.weight (f32 NxHxW) and OUT.mask (u8 NxHxW, 1 where the\n"   \
    "pixel comes from the pasted image).\n"                                  \
    "\n"                                                                      \
    "mixing:\n"                                                               \
    "  --mode MODE         class: for pair i, half of the classes of\n"       \
    "                      SRC.label[i], rounded up, pasted onto TGT image i;\n" \
    "                      naive: the same within the target, classes of\n"   \
    "                      TGT.plabel[i] pasted onto target (i+1) mod N;\n"   \
    "                      none: the target image and pseudo-labels as they\n" \
    "                      are; cut: the source pasted but for a box of half\n" \
    "                      the image's area; cow: the source pasted where a\n" \
    "                      smooth noise is above its threshold (ClassMix's\n" \
    "                      CutMix and CowMix masks) (default %s)\n"         \
    "  --pool POOL         image: draw from the classes of image i; batch:\n" \
    "                      from the classes of the whole batch (default %s)\n" \
    "  --keep-ignore       255 may be drawn as a class, as the reference code\n" \
    "                      does (default: never)\n"                           \
    "  --cow-sigma LO,HI   cow: noise smoothing sigma, log-uniform in\n"    \
    "                      [LO, HI] pixels per image (default %g,%g)\n"     \
    "  --cow-p P           cow: threshold at the P-quantile, so about 1-P\n" \
    "                      of the pixels are pasted (default %g)\n"         \
    "  --classes N         labels hold classes 0..N-1 and 255 (default %d)\n" \
    "  --seed S            random seed (default 0)\n"                         \
    "  --iter T            iteration, keys the draws with the seed (default\n" \
    "                      0); segment k of the input uses iteration T+k\n"   \
    "  --share R/K         the batches are share R of K of the global ones\n" \
    "                      (seg-batch --share): item i draws as item R+i*K\n" \
    "                      (default 0/1: whole batches)\n"                  \
    "\n"                                                                      \
    "strong augmentation of OUT.image (labels, weights and mask only flip):\n" \
    DX_AUG_USAGE                                                              \
    DX_AUG_FLIP_USAGE                                                         \
    "\n"                                                                      \
    "frames and output:\n"                                                    \
    "  --src P             source prefix (default %s)\n"                      \
    "  --tgt P             target prefix (default %s)\n"                      \
    "  --prefix P          output prefix (default %s)\n"                      \
    "  -v, --verbose       one line per segment on stderr: classes pasted and\n" \
    "                      augmentations applied\n"

#define DEFAULT_SRC "src"
#define DEFAULT_TGT "tgt"
#define DEFAULT_OUT "mix"

static struct {
    dx_cli cli;
    const char *src, *tgt, *prefix;
    int classes, verbose;
    uint64_t seed, iter;
    dx_mix_opts mix;
    dx_aug_opts aug;
} opt = {.cli.take = DX_CLI_INPUT | DX_CLI_FILE | DX_CLI_OUTPUT |
                     DX_CLI_REPLACE | DX_CLI_DROP | DX_CLI_LIVE,
         .src = DEFAULT_SRC, .tgt = DEFAULT_TGT, .prefix = DEFAULT_OUT,
         .classes = DX_NUM_CLASSES};

static _Noreturn void help(void)
{
    dx_aug_opts a;
    dx_aug_defaults(&a);
    dx_mix_opts m = dx_mix_defaults();
    dx_cli_help(&opt.cli, USAGE, dx_mix_mode_names[m.mode],
                dx_mix_pool_names[m.pool], m.cow_sigma_lo, m.cow_sigma_hi,
                m.cow_p, DX_NUM_CLASSES, DX_AUG_USAGE_ARGS(a),
                DX_AUG_FLIP_USAGE_ARGS(a), DEFAULT_SRC, DEFAULT_TGT,
                DEFAULT_OUT);
}

static void report(long seg, int n, uint8_t (*picked)[256],
                   const dx_aug_draw *d)
{
    char buf[4096];
    size_t at = 0;
    at += (size_t)snprintf(buf, sizeof buf, "segment=%ld", seg);
    for (int i = 0; i < n && at < sizeof buf; i++) {
        at += (size_t)snprintf(buf + at, sizeof buf - at, " picked%d=", i);
        int first = 1;
        for (int v = 0; v < 256 && at < sizeof buf; v++)
            if (picked[i][v]) {
                at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%d",
                                       first ? "" : ",", v);
                first = 0;
            }
        if (first && at < sizeof buf)
            at += (size_t)snprintf(buf + at, sizeof buf - at, "-");
    }
    if (at < sizeof buf)
        snprintf(buf + at, sizeof buf - at,
                 " jitter=%d blur=%d kernel=%dx%d flip=%d", d->jitter,
                 d->blur, d->kh, d->kw, d->flip);
    dx_note("%s", buf);
}

static int process(tns_stream *s, long seg, char names[9][TNS_MAX_NAME + 1],
                   dx_err *err)
{
    int cls = opt.mix.mode == DX_MIX_CLASS || opt.mix.mode == DX_MIX_CUT ||
              opt.mix.mode == DX_MIX_COW;
    const tns_frame *si = NULL, *sl = NULL, *ti, *tl, *tw;
    if (cls && (!(si = dx_need_image(s, names[0], err)) ||
                !(sl = dx_need_label(s, names[1], si, opt.classes, err))))
        return -1;
    if (!(ti = dx_need_image(s, names[2], err)) ||
        !(tl = dx_need_label(s, names[3], ti, opt.classes, err)) ||
        !(tw = dx_need_weight(s, names[4], ti, err)) ||
        (cls && dx_same_nhw(ti, si, err)))
        return -1;
    tns_frame sl8 = {0}, tl8 = {0};
    if ((cls && dx_labels_u8(&sl8, sl, err)) || dx_labels_u8(&tl8, tl, err)) {
        tns_frame_free(&sl8);
        return -1;
    }

    int64_t n = ti->dims[0], h = ti->dims[1], w = ti->dims[2];
    int64_t dims[4] = {n, h, w, 3};
    tns_frame out[4];
    memset(out, 0, sizeof out);
    uint8_t(*picked)[256] = calloc(n ? (size_t)n : 1, sizeof *picked);
    if (!picked) {
        dx_fail(err, "out of memory");
        goto fail;
    }
    if (tns_frame_alloc(&out[0], names[5], DX_U8, 4, dims, err) ||
        tns_frame_alloc(&out[1], names[6], DX_U8, 3, dims, err) ||
        tns_frame_alloc(&out[2], names[7], DX_F32, 3, dims, err) ||
        tns_frame_alloc(&out[3], names[8], DX_U8, 3, dims, err))
        goto fail;
    dx_mix_batch b = {
        .n = (int)n, .h = (int)h, .w = (int)w,
        .src_image = cls ? si->data : NULL,
        .src_label = sl8.data,
        .tgt_image = ti->data, .tgt_plabel = tl8.data,
        .tgt_weight = tw->data,
        .image = out[0].data, .label = out[1].data, .weight = out[2].data,
        .mask = out[3].data, .picked = picked};
    dx_rng rmix, raug;
    /* segment k of the stream is iteration T + k */
    dx_rng_init(&rmix, opt.seed, "classmix", opt.iter + (uint64_t)seg);
    dx_rng_init(&raug, opt.seed, "classmix.augment",
                opt.iter + (uint64_t)seg);
    dx_aug_draw d;
    if (dx_classmix(&b, &opt.mix, &rmix, err) ||
        dx_strong_augment(b.image, b.label, b.weight, b.mask, b.n, b.h, b.w,
                          &opt.aug, &raug, &d, err))
        goto fail;
    for (int k = 0; k < 4; k++)
        if (tns_stream_put(s, &out[k], opt.cli.replace, err))
            goto fail;
    if (opt.verbose)
        report(seg, (int)n, picked, &d);
    free(picked);
    tns_frame_free(&sl8);
    tns_frame_free(&tl8);
    return 0;
fail:
    for (int k = 0; k < 4; k++)
        tns_frame_free(&out[k]);
    free(picked);
    tns_frame_free(&sl8);
    tns_frame_free(&tl8);
    return -1;
}

/* tns_filter's view of process(): ctx is the table of output names. */
static int segment(void *ctx, tns_stream *s, long seg, dx_err *err)
{
    return process(s, seg, ctx, err);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_aug_defaults(&opt.aug);
    opt.mix = dx_mix_defaults();
    enum { O_MODE = DX_OPT_TOOL, O_POOL, O_KEEP, O_COWS, O_COWP, O_CLASSES,
           O_SEED, O_ITER, O_SRC, O_TGT, O_PREFIX, O_SHARE };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, O_MODE},
        {"pool", required_argument, NULL, O_POOL},
        {"keep-ignore", no_argument, NULL, O_KEEP},
        {"cow-sigma", required_argument, NULL, O_COWS},
        {"cow-p", required_argument, NULL, O_COWP},
        {"classes", required_argument, NULL, O_CLASSES},
        {"seed", required_argument, NULL, O_SEED},
        {"iter", required_argument, NULL, O_ITER},
        {"share", required_argument, NULL, O_SHARE},
        DX_AUG_LONGOPTS,
        DX_AUG_FLIP_LONGOPTS,
        {"src", required_argument, NULL, O_SRC},
        {"tgt", required_argument, NULL, O_TGT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"verbose", no_argument, NULL, 'v'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = dx_cli_next(&opt.cli, argc, argv, "v", longopts)) != -1) {
        if (dx_aug_option(&opt.aug, ch, optarg))
            continue;
        switch (ch) {
        case O_MODE:
            opt.mix.mode = dx_arg_enum("--mode", optarg, dx_mix_mode_names);
            break;
        case O_POOL:
            opt.mix.pool = dx_arg_enum("--pool", optarg, dx_mix_pool_names);
            break;
        case O_KEEP:
            opt.mix.keep_ignore = 1;
            break;
        case O_COWS:
            dx_arg_range("--cow-sigma", optarg, 0.1, 1e4, &opt.mix.cow_sigma_lo,
                         &opt.mix.cow_sigma_hi);
            break;
        case O_COWP:
            opt.mix.cow_p = dx_arg_double("--cow-p", optarg, 1e-6, 1 - 1e-6);
            break;
        case O_CLASSES:
            opt.classes = (int)dx_arg_long("--classes", optarg, 1,
                                           DX_MAX_CLASSES);
            break;
        case O_SEED:
            opt.seed = dx_arg_u64("--seed", optarg);
            break;
        case O_ITER:
            opt.iter = dx_arg_u64("--iter", optarg);
            break;
        case O_SHARE:
            dx_arg_share("--share", optarg, &opt.mix.share.part,
                         &opt.mix.share.parts);
            opt.aug.share = opt.mix.share;
            break;
        case O_SRC:
            opt.src = optarg;
            break;
        case O_TGT:
            opt.tgt = optarg;
            break;
        case O_PREFIX:
            opt.prefix = optarg;
            break;
        case 'v':
            opt.verbose = 1;
            break;
        case 'h':
            help();
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    static const struct {
        const char *opt, *suffix;
    } NAMES[9] = {{"--src", "image"},    {"--src", "label"},
                  {"--tgt", "image"},    {"--tgt", "plabel"},
                  {"--tgt", "weight"},   {"--prefix", "image"},
                  {"--prefix", "label"}, {"--prefix", "weight"},
                  {"--prefix", "mask"}};
    char names[9][TNS_MAX_NAME + 1];
    for (int k = 0; k < 9; k++)
        dx_arg_prefixed(names[k], sizeof names[k], NAMES[k].opt,
                        k < 2 ? opt.src : k < 5 ? opt.tgt : opt.prefix,
                        NAMES[k].suffix, tns_name_ok);

    tns_set_live(opt.cli.live);
    dx_err err;
    if (tns_filter(opt.cli.in, opt.cli.out, segment, names, opt.cli.drop,
                   opt.cli.ndrop, &err))
        dx_die_err(&err);
    return 0;
}
