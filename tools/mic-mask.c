/* mic-mask - the masked target image of masked image consistency (MIC).
 *
 *   mic-mask [OPTIONS] [FILE]
 *
 * Reads TGT.image, TGT.plabel and TGT.weight from every segment, passes
 * every frame through and appends MIC.image (colour-augmented, then
 * block-masked), MIC.label, MIC.weight (the pseudo-labels and weights of
 * the unmasked image) and MIC.mask.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/rng.h"
#include "dacs/augment.h"
#include "dacs/mic.h"
#include "data/batch.h"
#include "data/classes.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: mic-mask [OPTIONS] [FILE]\n"                                      \
    "Masked image consistency (MIC, Hoyer et al. 2023): the target image\n"  \
    "with random square blocks dropped, for the student to segment as the\n" \
    "teacher segmented the whole image.  Reads a tensor stream (FILE, or\n"  \
    "stdin); for every segment reads TGT.image (u8 NxHxWx3), TGT.plabel\n"  \
    "(u8 or u16 NxHxW) and TGT.weight (f32 NxHxW), passes every frame\n"    \
    "through and appends OUT.image (the target, colour-augmented, then\n"    \
    "masked), OUT.label and OUT.weight (the pseudo-labels and weights of\n" \
    "the unmasked image, as they are) and OUT.mask (u8 NxHxW, 1 where\n"     \
    "kept).  seg-step trains on OUT.* as its third pair (--mic-lambda).\n"  \
    "\n"                                                                      \
    "mask:\n"                                                                 \
    "  --block B           block side in pixels (default %d, MIC's at full\n" \
    "                      resolution; 32 at DAFormer's half resolution)\n"  \
    "  --ratio R           probability that a block is dropped (default %g)\n" \
    "  --fill R,G,B        colour of dropped pixels: the network's input\n"  \
    "                      mean x 255, which MIC's mask of the normalised\n" \
    "                      image gives (default %d,%d,%d, ImageNet's)\n"     \
    "  --seed S            random seed (default 0)\n"                         \
    "  --iter T            iteration, keys the draws with the seed (default\n" \
    "                      0); segment k of the input uses iteration T+k\n"   \
    "  --share R/K         the batches are share R of K of the global ones\n" \
    "                      (seg-batch --share): item i draws as item R+i*K\n" \
    "                      (default 0/1: whole batches)\n"                  \
    "  --classes N         labels hold classes 0..N-1 and 255 (default %d)\n" \
    "\n"                                                                      \
    "colour augmentation before the mask (MIC's separatetrgaug):\n"          \
    DX_AUG_USAGE                                                              \
    "\n"                                                                      \
    "frames and output:\n"                                                    \
    "  --tgt P             target prefix (default %s)\n"                      \
    "  --prefix P          output prefix (default %s)\n"                      \
    "  -v, --verbose       one line per segment on stderr: blocks dropped\n" \
    "                      and augmentations applied\n"

#define DEFAULT_TGT "tgt"
#define DEFAULT_OUT "mic"

static struct {
    dx_cli cli;
    const char *tgt, *prefix;
    int classes, verbose;
    uint64_t seed, iter;
    dx_mic_opts mic;
    dx_aug_opts aug;
} opt = {.cli.take = DX_CLI_INPUT | DX_CLI_FILE | DX_CLI_OUTPUT |
                     DX_CLI_REPLACE | DX_CLI_DROP | DX_CLI_LIVE,
         .tgt = DEFAULT_TGT, .prefix = DEFAULT_OUT,
         .classes = DX_NUM_CLASSES};

static _Noreturn void help(void)
{
    dx_mic_opts m = dx_mic_defaults();
    dx_aug_opts a;
    dx_mic_aug_defaults(&a);
    dx_cli_help(&opt.cli, USAGE, m.block, m.ratio, m.fill[0], m.fill[1],
                m.fill[2], DX_NUM_CLASSES, DX_AUG_USAGE_ARGS(a), DEFAULT_TGT,
                DEFAULT_OUT);
}

/* The frames in: image, plabel, weight; out: image, label, weight, mask. */
enum { TI, TL, TW, OI, OL, OW, OM, NNAMES };

static int process(tns_stream *s, long seg, char names[NNAMES][TNS_MAX_NAME + 1],
                   dx_err *err)
{
    const tns_frame *ti, *tl, *tw;
    if (!(ti = dx_need_image(s, names[TI], err)) ||
        !(tl = dx_need_label(s, names[TL], ti, opt.classes, err)) ||
        !(tw = dx_need_weight(s, names[TW], ti, err)))
        return -1;
    int n = (int)ti->dims[0], h = (int)ti->dims[1], w = (int)ti->dims[2];
    size_t hw = (size_t)h * w;
    tns_frame out[4], lab = {0};
    memset(out, 0, sizeof out);
    int64_t dims[4] = {n, h, w, 3};
    if (dx_labels_u8(&lab, tl, err) ||
        tns_frame_alloc(&out[0], names[OI], DX_U8, 4, dims, err) ||
        tns_frame_alloc(&out[1], names[OL], DX_U8, 3, dims, err) ||
        tns_frame_alloc(&out[2], names[OW], DX_F32, 3, dims, err) ||
        tns_frame_alloc(&out[3], names[OM], DX_U8, 3, dims, err))
        goto fail;
    memcpy(out[0].data, ti->data, ti->nbytes);
    memcpy(out[1].data, lab.data, lab.nbytes);
    memcpy(out[2].data, tw->data, tw->nbytes);
    dx_rng rmask, raug;
    /* segment k of the stream is iteration T + k */
    dx_rng_init(&rmask, opt.seed, "mic-mask", opt.iter + (uint64_t)seg);
    dx_rng_init(&raug, opt.seed, "mic-mask.augment",
                opt.iter + (uint64_t)seg);
    dx_aug_draw d;
    /* MIC: the colour augmentation first, then the mask */
    if (dx_strong_augment(out[0].data, NULL, NULL, NULL, n, h, w, &opt.aug,
                          &raug, &d, err))
        goto fail;
    size_t dropped = 0;
    for (int i = 0; i < n; i++) {
        dx_rng item = dx_rng_item(&rmask, &opt.aug.share, i);
        uint8_t *m = (uint8_t *)out[3].data + (size_t)i * hw;
        if (dx_mic_mask(m, h, w, opt.mic.block, opt.mic.ratio, &item, err))
            goto fail;
        dx_mic_apply((uint8_t *)out[0].data + (size_t)i * hw * 3, m, hw,
                     opt.mic.fill);
        for (size_t p = 0; p < hw; p++)
            dropped += !m[p];
    }
    for (int k = 0; k < 4; k++)
        if (tns_stream_put(s, &out[k], opt.cli.replace, err))
            goto fail;
    if (opt.verbose)
        dx_note("segment=%ld dropped=%.4f jitter=%d blur=%d kernel=%dx%d",
                seg, (double)dropped / ((double)n * (double)hw), d.jitter,
                d.blur, d.kh, d.kw);
    tns_frame_free(&lab);
    return 0;
fail:
    for (int k = 0; k < 4; k++)
        tns_frame_free(&out[k]);
    tns_frame_free(&lab);
    return -1;
}

/* tns_filter's view of process(): ctx is the table of frame names. */
static int segment(void *ctx, tns_stream *s, long seg, dx_err *err)
{
    return process(s, seg, ctx, err);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    opt.mic = dx_mic_defaults();
    dx_mic_aug_defaults(&opt.aug);
    enum { O_BLOCK = DX_OPT_TOOL, O_RATIO, O_FILL, O_SEED, O_ITER,
           O_CLASSES, O_TGT, O_PREFIX, O_SHARE };
    static const struct option longopts[] = {
        {"block", required_argument, NULL, O_BLOCK},
        {"ratio", required_argument, NULL, O_RATIO},
        {"fill", required_argument, NULL, O_FILL},
        {"seed", required_argument, NULL, O_SEED},
        {"iter", required_argument, NULL, O_ITER},
        {"share", required_argument, NULL, O_SHARE},
        {"classes", required_argument, NULL, O_CLASSES},
        DX_AUG_LONGOPTS,
        {"tgt", required_argument, NULL, O_TGT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"verbose", no_argument, NULL, 'v'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = dx_cli_next(&opt.cli, argc, argv, "v", longopts)) != -1) {
        if (dx_aug_option(&opt.aug, ch, optarg))
            continue;
        switch (ch) {
        case O_BLOCK:
            opt.mic.block = (int)dx_arg_long("--block", optarg, 1, 4096);
            break;
        case O_RATIO:
            opt.mic.ratio = dx_arg_double("--ratio", optarg, 0, 1);
            break;
        case O_FILL: {
            char *a = optarg, *b = strchr(a, ','), *c = b ? strchr(b + 1, ',')
                                                          : NULL;
            if (!b || !c)
                dx_die("--fill: expected R,G,B, got '%s'", optarg);
            *b++ = 0;
            *c++ = 0;
            opt.mic.fill[0] = (uint8_t)dx_arg_long("--fill", a, 0, 255);
            opt.mic.fill[1] = (uint8_t)dx_arg_long("--fill", b, 0, 255);
            opt.mic.fill[2] = (uint8_t)dx_arg_long("--fill", c, 0, 255);
            break;
        }
        case O_SEED:
            opt.seed = dx_arg_u64("--seed", optarg);
            break;
        case O_ITER:
            opt.iter = dx_arg_u64("--iter", optarg);
            break;
        case O_SHARE:
            dx_arg_share("--share", optarg, &opt.aug.share.part,
                         &opt.aug.share.parts);
            break;
        case O_CLASSES:
            opt.classes = (int)dx_arg_long("--classes", optarg, 1,
                                           DX_MAX_CLASSES);
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
    static const char *const SUFFIX[NNAMES] = {"image", "plabel", "weight",
                                               "image", "label", "weight",
                                               "mask"};
    char names[NNAMES][TNS_MAX_NAME + 1];
    for (int k = 0; k < NNAMES; k++)
        dx_arg_prefixed(names[k], sizeof names[k], k < OI ? "--tgt" : "--prefix",
                        k < OI ? opt.tgt : opt.prefix, SUFFIX[k], tns_name_ok);
    if (!strcmp(opt.tgt, opt.prefix))
        dx_die("--tgt and --prefix are both '%s': the outputs would replace "
               "the inputs", opt.tgt);

    tns_set_live(opt.cli.live);
    dx_err err;
    if (tns_filter(opt.cli.in, opt.cli.out, segment, names, opt.cli.drop,
                   opt.cli.ndrop, &err))
        dx_die_err(&err);
    return 0;
}
