/* synth-city - write the built-in two-domain benchmark as dataset trees.
 *
 *   synth-city [OPTIONS] OUT
 *
 * OUT/source is laid out like GTA5 (or SYNTHIA), OUT/target like
 * Cityscapes, so seg-batch reads them through the same code as real data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/classes.h"
#include "base/cli.h"
#include "data/labelmap.h"
#include "io/atomic.h"
#include "io/pngio.h"
#include "data/resize.h"
#include "synth/city.h"

#define USAGE                                                                 \
    "usage: synth-city [OPTIONS] OUT\n"                                       \
    "Generate two domains of street scenes with pixel-exact labels, as\n"     \
    "dataset trees: OUT/source like GTA5 (images/, labels/ as palette PNGs\n" \
    "of Cityscapes label ids) and OUT/target like Cityscapes\n"               \
    "(leftImg8bit/{train,val}/CITY/*_leftImg8bit.png and\n"                   \
    "gtFine/{train,val}/CITY/*_gtFine_labelIds.png).  The domain gap is\n"    \
    "global (colour, blur, noise), per class (colours of classes swapped\n"   \
    "between domains) and in layout (camera, sizes, densities).  Same seed,\n" \
    "same bytes.  OUT must not exist; it appears complete or not at all.\n"   \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --size WxH          image size (default %dx%d)\n"                     \
    "  --source N          source images (default %ld)\n"                    \
    "  --train N           target train images (default %ld)\n"              \
    "  --val N             target val images (default %ld)\n"                \
    "  --seed S            seed (default %llu)\n"                            \
    "  --gap LEVEL         full, global (only the global colour, blur and\n" \
    "                      noise change) or none (one domain) (default %s)\n" \
    "  --class-shift F     with --gap full: how far the target's class\n"    \
    "                      colours and textures move from the source's, 0..1\n" \
    "                      (default %g)\n"                                    \
    "  --source-layout L   gta5 or synthia (RGB/, GT/LABELS/ as 16-bit PNGs\n" \
    "                      of SYNTHIA class ids) (default gta5)\n"           \
    "  --sheet FILE        also write a contact sheet PNG: 4 source and 4\n" \
    "                      target images over their coloured labels; with\n" \
    "                      no OUT, write only the sheet\n"

/* The demo's split sizes. */
enum { DEFAULT_SOURCE = 400, DEFAULT_TRAIN = 300, DEFAULT_VAL = 100 };
static const char *const GAPS[] = {"full", "global", "none", NULL};

static const char *const TRAIN_CITIES[] = {"arden", "brill"};
static const char *const VAL_CITIES[] = {"corvo", "dunmore"};

static struct {
    dx_cli cli;
    long w, h, source, train, val;
    uint64_t seed;
    int gap, synthia;
    double shift;
    const char *sheet, *out;
} opt = {.cli.take = DX_CLI_QUIET, .source = DEFAULT_SOURCE,
         .train = DEFAULT_TRAIN, .val = DEFAULT_VAL};

static _Noreturn void help(void)
{
    dx_synth d;
    dx_synth_defaults(&d);
    dx_cli_help(&opt.cli, USAGE, d.width, d.height, (long)DEFAULT_SOURCE,
                (long)DEFAULT_TRAIN, (long)DEFAULT_VAL,
                (unsigned long long)d.seed, GAPS[d.gap],
                (double)d.class_shift);
}

static void parse(int argc, char **argv)
{
    dx_synth d;
    dx_synth_defaults(&d);
    opt.w = d.width, opt.h = d.height, opt.seed = d.seed, opt.gap = d.gap;
    opt.shift = d.class_shift;
    enum { O_SIZE = DX_OPT_TOOL, O_SOURCE, O_TRAIN, O_VAL, O_SEED, O_GAP,
           O_LAYOUT, O_SHEET, O_SHIFT };
    static const struct option longopts[] = {
        {"size", required_argument, NULL, O_SIZE},
        {"source", required_argument, NULL, O_SOURCE},
        {"train", required_argument, NULL, O_TRAIN},
        {"val", required_argument, NULL, O_VAL},
        {"seed", required_argument, NULL, O_SEED},
        {"gap", required_argument, NULL, O_GAP},
        {"source-layout", required_argument, NULL, O_LAYOUT},
        {"sheet", required_argument, NULL, O_SHEET},
        {"class-shift", required_argument, NULL, O_SHIFT},
        {0, 0, 0, 0}};
    static const char *const layouts[] = {"gta5", "synthia", NULL};
    int c;
    while ((c = dx_cli_next(&opt.cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case O_SIZE: dx_arg_size("--size", optarg, 4096, &opt.w, &opt.h); break;
        case O_SOURCE: opt.source = dx_arg_long("--source", optarg, 0, 1000000); break;
        case O_TRAIN: opt.train = dx_arg_long("--train", optarg, 0, 1000000); break;
        case O_VAL: opt.val = dx_arg_long("--val", optarg, 0, 1000000); break;
        case O_SEED: opt.seed = dx_arg_u64("--seed", optarg); break;
        case O_GAP: opt.gap = dx_arg_enum("--gap", optarg, GAPS); break;
        case O_LAYOUT: opt.synthia = dx_arg_enum("--source-layout", optarg, layouts); break;
        case O_SHEET: opt.sheet = optarg; break;
        case O_SHIFT: opt.shift = dx_arg_double("--class-shift", optarg, 0, 1); break;
        case 'h': help();
        }
    }
    if (opt.w < 16 || opt.h < 16)
        dx_die("--size: each side must be at least 16, got %ldx%ld", opt.w,
               opt.h);
    if (optind < argc)
        opt.out = argv[optind++];
    if (optind < argc)
        dx_die("unexpected argument '%s'", argv[optind]);
    if (!opt.out && !opt.sheet)
        dx_die("expected an output directory OUT (or --sheet FILE)");
}

static void mkdirs(const char *path)
{
    dx_err err;
    if (dx_mkdirs(path, &err))
        dx_die_err(&err);
}

static void render(const dx_synth *s, int domain, const char *stream, long i,
                   uint8_t *rgb, uint8_t *ids)
{
    dx_err err;
    if (dx_synth_render(s, domain, stream, (uint64_t)i, rgb, ids, &err))
        dx_die_err(&err);
}

static void write_png(const char *path, int c, int depth, const void *px)
{
    dx_err err;
    if (dx_png_write(path, (int)opt.w, (int)opt.h, c, depth, px, &err))
        dx_die_err(&err);
}

static long done_count, total_count;

static void progress(void)
{
    done_count++;
    long step = total_count / 10 > 0 ? total_count / 10 : 1;
    if (!opt.cli.quiet && (done_count % step == 0 || done_count == total_count))
        dx_note("%ld/%ld images", done_count, total_count);
}

static void write_source(const dx_synth *s, const char *root)
{
    char dir_i[4200], dir_l[4200], path[4400];
    snprintf(dir_i, sizeof dir_i, "%s/source/%s", root,
             opt.synthia ? "RGB" : "images");
    snprintf(dir_l, sizeof dir_l, "%s/source/%s", root,
             opt.synthia ? "GT/LABELS" : "labels");
    mkdirs(dir_i);
    mkdirs(dir_l);
    size_t n = (size_t)opt.w * opt.h;
    uint8_t *rgb = malloc(n * 3), *ids = malloc(n);
    uint16_t *syn = malloc(n * 3 * sizeof *syn);
    if (!rgb || !ids || !syn)
        dx_die("out of memory");
    /* GTA5 palette: each Cityscapes id in its train-id colour */
    dx_labelmap map;
    dx_labelmap_builtin(&map, "cityscapes", NULL);
    uint8_t pal[256 * 3];
    for (int i = 0; i < 256; i++)
        dx_class_color(map.lut[i], pal + 3 * i);
    dx_err err;
    for (long i = 0; i < opt.source; i++) {
        render(s, DX_SYNTH_SOURCE, "", i, rgb, ids);
        snprintf(path, sizeof path, opt.synthia ? "%s/%07ld.png" : "%s/%05ld.png",
                 dir_i, i);
        write_png(path, 3, 8, rgb);
        snprintf(path, sizeof path, opt.synthia ? "%s/%07ld.png" : "%s/%05ld.png",
                 dir_l, i);
        if (opt.synthia) {
            for (size_t k = 0; k < n; k++) {
                syn[3 * k] = (uint16_t)dx_synth_synthia_id(ids[k]);
                syn[3 * k + 1] = 0;
                syn[3 * k + 2] = 0;
            }
            write_png(path, 3, 16, syn);
        } else if (dx_png_write_palette(path, (int)opt.w, (int)opt.h, ids, pal,
                                        256, &err)) {
            dx_die_err(&err);
        }
        progress();
    }
    free(rgb);
    free(ids);
    free(syn);
}

static void write_target(const dx_synth *s, const char *root,
                         const char *split, long count,
                         const char *const cities[2])
{
    size_t n = (size_t)opt.w * opt.h;
    uint8_t *rgb = malloc(n * 3), *ids = malloc(n);
    if (!rgb || !ids)
        dx_die("out of memory");
    char path[4400], dir_i[4200], dir_l[4200];
    for (int c = 0; c < 2 && count > c; c++) {
        snprintf(dir_i, sizeof dir_i, "%s/target/leftImg8bit/%s/%s", root,
                 split, cities[c]);
        snprintf(dir_l, sizeof dir_l, "%s/target/gtFine/%s/%s", root, split,
                 cities[c]);
        mkdirs(dir_i);
        mkdirs(dir_l);
    }
    for (long i = 0; i < count; i++) {
        const char *city = cities[i % 2];
        long frame = i / 2;
        render(s, DX_SYNTH_TARGET, split, i, rgb, ids);
        snprintf(path, sizeof path,
                 "%s/target/leftImg8bit/%s/%s/%s_000000_%06ld_leftImg8bit.png",
                 root, split, city, city, frame);
        write_png(path, 3, 8, rgb);
        snprintf(path, sizeof path,
                 "%s/target/gtFine/%s/%s/%s_000000_%06ld_gtFine_labelIds.png",
                 root, split, city, city, frame);
        write_png(path, 1, 8, ids);
        progress();
    }
    free(rgb);
    free(ids);
}

/* 4 columns; rows: source images, source labels, target images, target
 * labels; each tile half the image size, 4 white pixels apart. */
static void write_sheet(const dx_synth *s, const char *path)
{
    int tw = (int)opt.w / 2, th = (int)opt.h / 2, gap = 4, cols = 4;
    int W = cols * tw + (cols + 1) * gap, H = 4 * th + 5 * gap;
    size_t n = (size_t)opt.w * opt.h;
    uint8_t *sheet = malloc((size_t)W * H * 3), *rgb = malloc(n * 3),
            *ids = malloc(n), *col = malloc(n * 3),
            *tile = malloc((size_t)tw * th * 3);
    if (!sheet || !rgb || !ids || !col || !tile)
        dx_die("out of memory");
    memset(sheet, 255, (size_t)W * H * 3);
    dx_err err;
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < cols; k++) {
            render(s, d ? DX_SYNTH_TARGET : DX_SYNTH_SOURCE, d ? "train" : "",
                   k, rgb, ids);
            dx_synth_colorize(ids, n, col);
            for (int row = 0; row < 2; row++) {
                if (row == 0) {
                    if (dx_resample_bilinear(tile, tw, th, rgb, (int)opt.w,
                                             (int)opt.h, 3, tw, th, 0, 0, 0,
                                             &err))
                        dx_die_err(&err);
                } else {
                    dx_resample_nearest(tile, tw, th, col, (int)opt.w,
                                        (int)opt.h, 3, tw, th, 0, 0, 0);
                }
                int x0 = gap + k * (tw + gap), y0 = gap + (2 * d + row) * (th + gap);
                for (int y = 0; y < th; y++)
                    memcpy(sheet + ((size_t)(y0 + y) * W + x0) * 3,
                           tile + (size_t)y * tw * 3, (size_t)tw * 3);
            }
        }
    if (dx_png_write(path, W, H, 3, 8, sheet, &err))
        dx_die_err(&err);
    free(sheet);
    free(rgb);
    free(ids);
    free(col);
    free(tile);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    parse(argc, argv);
    dx_synth s = {(int)opt.w, (int)opt.h, opt.seed, opt.gap, (float)opt.shift};
    if (opt.out) {
        struct stat st;
        if (stat(opt.out, &st) == 0 || errno != ENOENT)
            dx_die("%s already exists; remove it or choose another OUT",
                   opt.out);
        /* build beside OUT, then rename: OUT is complete or absent */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.partial.%ld", opt.out, (long)getpid());
        mkdirs(tmp);
        total_count = opt.source + opt.train + opt.val;
        write_source(&s, tmp);
        write_target(&s, tmp, "train", opt.train, TRAIN_CITIES);
        write_target(&s, tmp, "val", opt.val, VAL_CITIES);
        char info[4200];
        snprintf(info, sizeof info, "%s/synth-city.txt", tmp);
        FILE *fp = fopen(info, "w");
        if (!fp || fprintf(fp, "size=%ldx%ld\nsource=%ld\ntrain=%ld\nval=%ld\n"
                           "seed=%llu\ngap=%s\nclass_shift=%g\nsource_layout=%s\n",
                           opt.w, opt.h, opt.source, opt.train, opt.val,
                           (unsigned long long)opt.seed,
                           GAPS[opt.gap],
                           opt.shift,
                           opt.synthia ? "synthia" : "gta5") < 0 ||
            fclose(fp) != 0)
            dx_die("cannot write %s", info);
        if (rename(tmp, opt.out) != 0)
            dx_die("cannot rename %s to %s: %s", tmp, opt.out,
                   strerror(errno));
    }
    if (opt.sheet)
        write_sheet(&s, opt.sheet);
    return 0;
}
