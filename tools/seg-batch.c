/* seg-batch - draw training batches, or stream a split, from a dataset.
 *
 *   seg-batch --dataset KIND --root DIR [options]      batches to stdout
 *   seg-batch ... --sequential                         a whole split
 *   seg-batch ... --make-rcs-stats FILE                class statistics
 *   seg-batch ... --check                              every item checked
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/par.h"
#include "data/classes.h"
#include "data/dataset.h"
#include "data/item.h"
#include "data/labelmap.h"
#include "data/rcs.h"
#include "data/sampler.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: seg-batch --dataset KIND --root DIR [OPTIONS]\n"                  \
    "Read images and label maps of a dataset as downloaded and write them as\n" \
    "batches: frames PREFIX.image (u8 NxHxWx3) and PREFIX.label (u8 NxHxW,\n"  \
    "train ids, 255 = ignore), one segment per batch.\n"                      \
    "\n"                                                                      \
    "dataset:\n"                                                              \
    "  --dataset KIND      cityscapes, gta5, synthia or list (required)\n"   \
    "  --root DIR          dataset root (for list: base of relative paths,\n" \
    "                      default the list file's folder)\n"                \
    "  --split NAME        cityscapes split folder (default %s)\n"           \
    "  --list FILE         list: a file of 'IMAGE LABEL' lines\n"            \
    "  --map TABLE         label id -> train id table: a file, or a built-in\n" \
    "                      name cityscapes, gta5, synthia (default: the\n"   \
    "                      dataset's own; required for list)\n"              \
    "  --label-colors      labels may also be RGB in the Cityscapes colours\n" \
    "                      (an image editor's re-save of a palette label):\n" \
    "                      each colour is mapped back to its label id, any\n" \
    "                      other colour is an error (not for synthia)\n"    \
    "  --no-labels         read images only (the unlabelled target); writes\n" \
    "                      no PREFIX.label\n"                                 \
    "  --limit K           use K images evenly spaced over the sorted list\n" \
    "                      (default 0: all)\n"                                \
    "  --exclude FILE      known-bad items, one a line, named by image or\n" \
    "                      label (relative to the root, or in full); they\n" \
    "                      are never read, and an iteration that would draw\n" \
    "                      one draws a stand-in, keyed by the iteration:\n"  \
    "                      every other draw stays as it was\n"              \
    "\n"                                                                      \
    "batches:\n"                                                              \
    "  --prefix P          frame name prefix (default %s); it also keys the\n" \
    "                      random draws\n"                                    \
    "  --batch N           images per batch (default %d; 1 with --sequential)\n" \
    "  --seed S            seed of every random choice (default 0)\n"        \
    "  --iter T            iteration of the first batch (default 0)\n"       \
    "  --iters K           write K batches, iterations T..T+K-1 (default 1),\n" \
    "                      the same bytes as K runs with --iter T, T+1, ...;\n" \
    "                      every item they draw is decoded and checked before\n" \
    "                      the first batch goes out, unless --no-check\n"    \
    "  --no-check          write batches as they are drawn, without that\n"  \
    "                      check (a stream of a whole run, checked before\n" \
    "                      with --check); a bad file then stops the stream\n" \
    "                      at its batch\n"                                   \
    "  --share R/K         write share R of K of each batch: its items R,\n" \
    "                      R+K, R+2K, ..., drawn exactly as in the whole\n" \
    "                      batch (rank R of K of a data-parallel run,\n"   \
    "                      dacs-train --mpi) (default 0/1: all)\n"          \
    "  --emit-index        also write PREFIX.index (i32 N): dataset items\n" \
    "  --emit-box          also write PREFIX.box (i32 Nx7): each crop's\n"   \
    "                      place in its stored image, x y sw sh fw fh flip\n" \
    "                      (see seg-batch(1); pseudolabel --ignore-* reads\n" \
    "                      it)\n"                                            \
    "  --emit-names        also write PREFIX.names (u8 text): each image's\n" \
    "                      path under --root, one per line\n"              \
    "\n"                                                                      \
    "geometry (applied in this order):\n"                                     \
    "  --resize WxH        resize: image bilinear, label nearest (default:\n" \
    "                      keep)\n"                                           \
    "  --scale LO,HI       random rescale by s in [LO, HI] (default %g,%g);\n" \
    "                      needs --crop\n"                                    \
    "  --crop WxH          random crop; past the border pads image 0, label\n" \
    "                      255\n"                                             \
    "  --flip              random horizontal flip, probability 1/2\n"        \
    "  --cat-max-ratio R   redraw a crop whose largest class covers R or\n"  \
    "                      more of its labelled pixels, up to 10 times\n"    \
    "                      (mmseg's RandomCrop; DAFormer: 0.75) (default\n"  \
    "                      %g: off)\n"                                       \
    "\n"                                                                      \
    "checking a dataset before a run:\n"                                       \
    "  --check             check every item and exit: its files exist, are\n" \
    "                      PNGs of the dataset's encodings, the label has its\n" \
    "                      image's size (headers only), and, with labels,\n" \
    "                      every label id is the map's and maps below\n"   \
    "                      --classes; prints every problem, one a line, and\n" \
    "                      exits 1 if there was any; labels are decoded on\n" \
    "                      --threads threads\n"                               \
    "  --classes C         with --check: the model's classes (default: the\n" \
    "                      map's)\n"                                          \
    "\n"                                                                      \
    "evaluation:\n"                                                           \
    "  --sequential        stream every image in order, uncropped (resized\n" \
    "                      if --resize), one segment per --batch images;\n"  \
    "                      progress on stderr\n"                              \
    "  --full-labels       with --sequential: labels at their stored size\n" \
    "                      while images are resized (full-resolution\n"     \
    "                      evaluation: seg-infer --size-of)\n"              \
    "\n"                                                                      \
    "rare-class sampling (DAFormer):\n"                                       \
    "  --make-rcs-stats FILE  count the classes of every label once, write\n" \
    "                      FILE and exit\n"                                   \
    "  --rcs[=T]           draw a class c with P(c) = softmax((1 - f_c)/T),\n" \
    "                      then an image with more than --rcs-min-pixels\n"  \
    "                      of c\n"                                           \
    "                      (T default %g)\n"                                  \
    "  --rcs-stats FILE    the statistics --rcs reads\n"                     \
    "  --rcs-min-pixels N  an image is drawn for c when it holds more than\n" \
    "                      N pixels of c (default %ld)\n"                    \
    "  --rcs-min-crop-ratio R\n"                                              \
    "                      redraw the crop, up to 10 times, while it holds\n" \
    "                      N x R or fewer pixels of c (default %g; 0: off)\n"

#define DEFAULT_SPLIT "train"
#define DEFAULT_PREFIX "src"
enum { DEFAULT_BATCH = 2 };

static struct {
    dx_cli cli;
    int kind;
    const char *root, *split, *list, *map, *prefix;
    const char *make_stats, *stats, *exclude;
    int labels, batch, iters, sequential, flip, emit_index, split_set;
    int label_colors, check, no_check, classes;
    int emit_box, emit_names, full_labels;
    long limit;
    uint64_t seed, iter;
    long resize_w, resize_h, crop_w, crop_h;
    double scale_lo, scale_hi, rcs, cat_max_ratio;
    dx_rcs_opts rcs_opts;
    dx_share share;
} opt = {.cli.take = DX_CLI_OUTPUT | DX_CLI_QUIET | DX_CLI_THREADS |
                     DX_CLI_LIVE, .kind = -1,
         .split = DEFAULT_SPLIT, .prefix = DEFAULT_PREFIX, .labels = 1,
         .iters = 1};

static _Noreturn void help(void)
{
    dx_sampler d;
    dx_sampler_init(&d, NULL, NULL, 0, NULL);
    dx_rcs_opts r = dx_rcs_defaults();
    dx_cli_help(&opt.cli, USAGE, DEFAULT_SPLIT, DEFAULT_PREFIX, DEFAULT_BATCH,
                d.scale_lo, d.scale_hi, d.cat_max_ratio, r.temperature,
                r.min_pixels, r.min_crop_ratio);
}

static void parse(int argc, char **argv)
{
    enum { O_DATASET = DX_OPT_TOOL, O_ROOT, O_SPLIT, O_LIST, O_MAP,
           O_COLORS, O_NOLABELS, O_LIMIT, O_PREFIX, O_BATCH, O_SEED, O_ITER, O_ITERS,
           O_INDEX, O_RESIZE, O_SCALE, O_CROP, O_FLIP, O_SEQ, O_MAKE, O_RCS,
           O_STATS, O_MINPX, O_EXCLUDE, O_CHECK, O_NOCHECK, O_CLASSES,
           O_BOX, O_NAMES, O_FULL, O_CATMAX, O_CROPRATIO,
           O_SHARE };
    static const struct option longopts[] = {
        {"dataset", required_argument, NULL, O_DATASET},
        {"root", required_argument, NULL, O_ROOT},
        {"split", required_argument, NULL, O_SPLIT},
        {"list", required_argument, NULL, O_LIST},
        {"map", required_argument, NULL, O_MAP},
        {"label-colors", no_argument, NULL, O_COLORS},
        {"no-labels", no_argument, NULL, O_NOLABELS},
        {"limit", required_argument, NULL, O_LIMIT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"batch", required_argument, NULL, O_BATCH},
        {"seed", required_argument, NULL, O_SEED},
        {"iter", required_argument, NULL, O_ITER},
        {"iters", required_argument, NULL, O_ITERS},
        {"share", required_argument, NULL, O_SHARE},
        {"emit-index", no_argument, NULL, O_INDEX},
        {"resize", required_argument, NULL, O_RESIZE},
        {"scale", required_argument, NULL, O_SCALE},
        {"crop", required_argument, NULL, O_CROP},
        {"flip", no_argument, NULL, O_FLIP},
        {"sequential", no_argument, NULL, O_SEQ},
        {"make-rcs-stats", required_argument, NULL, O_MAKE},
        {"rcs", optional_argument, NULL, O_RCS},
        {"rcs-stats", required_argument, NULL, O_STATS},
        {"rcs-min-pixels", required_argument, NULL, O_MINPX},
        {"exclude", required_argument, NULL, O_EXCLUDE},
        {"check", no_argument, NULL, O_CHECK},
        {"no-check", no_argument, NULL, O_NOCHECK},
        {"classes", required_argument, NULL, O_CLASSES},
        {"rcs-min-crop-ratio", required_argument, NULL, O_CROPRATIO},
        {"emit-box", no_argument, NULL, O_BOX},
        {"emit-names", no_argument, NULL, O_NAMES},
        {"full-labels", no_argument, NULL, O_FULL},
        {"cat-max-ratio", required_argument, NULL, O_CATMAX},
        {0, 0, 0, 0}};
    static const char *const kinds[] = {"cityscapes", "gta5", "synthia",
                                        "list", NULL};
    dx_sampler geometry;
    dx_sampler_init(&geometry, NULL, NULL, 0, NULL);
    opt.scale_lo = geometry.scale_lo;
    opt.scale_hi = geometry.scale_hi;
    opt.cat_max_ratio = geometry.cat_max_ratio;
    opt.rcs_opts = dx_rcs_defaults();
    int c;
    while ((c = dx_cli_next(&opt.cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case O_DATASET: opt.kind = dx_arg_enum("--dataset", optarg, kinds); break;
        case O_ROOT: opt.root = optarg; break;
        case O_SPLIT: opt.split = optarg; opt.split_set = 1; break;
        case O_LIST: opt.list = optarg; break;
        case O_MAP: opt.map = optarg; break;
        case O_COLORS: opt.label_colors = 1; break;
        case O_NOLABELS: opt.labels = 0; break;
        case O_LIMIT: opt.limit = dx_arg_long("--limit", optarg, 0, 1L << 24); break;
        case O_PREFIX: opt.prefix = optarg; break;
        case O_BATCH: opt.batch = (int)dx_arg_long("--batch", optarg, 1, 4096); break;
        case O_SEED: opt.seed = dx_arg_u64("--seed", optarg); break;
        case O_ITER: opt.iter = dx_arg_u64("--iter", optarg); break;
        case O_ITERS: opt.iters = (int)dx_arg_long("--iters", optarg, 1, 1L << 30); break;
        case O_SHARE:
            dx_arg_share("--share", optarg, &opt.share.part,
                         &opt.share.parts);
            break;
        case O_INDEX: opt.emit_index = 1; break;
        case O_RESIZE:
            dx_arg_size("--resize", optarg, 16384, &opt.resize_w, &opt.resize_h);
            break;
        case O_CROP:
            dx_arg_size("--crop", optarg, 16384, &opt.crop_w, &opt.crop_h);
            break;
        case O_SCALE: {
            char *comma = strchr(optarg, ',');
            if (!comma)
                dx_die("--scale: expected LO,HI, got '%s'", optarg);
            *comma = 0;
            opt.scale_lo = dx_arg_double("--scale", optarg, 0.01, 100);
            opt.scale_hi = dx_arg_double("--scale", comma + 1, 0.01, 100);
            if (opt.scale_hi < opt.scale_lo)
                dx_die("--scale: HI must not be below LO, got %g,%g",
                       opt.scale_lo, opt.scale_hi);
            break;
        }
        case O_FLIP: opt.flip = 1; break;
        case O_SEQ: opt.sequential = 1; break;
        case O_MAKE: opt.make_stats = optarg; break;
        case O_RCS:
            opt.rcs = optarg ? dx_arg_double("--rcs", optarg, 1e-6, 1e6)
                             : opt.rcs_opts.temperature;
            break;
        case O_STATS: opt.stats = optarg; break;
        case O_MINPX:
            opt.rcs_opts.min_pixels = dx_arg_long("--rcs-min-pixels", optarg,
                                                  0, 1L << 30);
            break;
        case O_EXCLUDE: opt.exclude = optarg; break;
        case O_CHECK: opt.check = 1; break;
        case O_NOCHECK: opt.no_check = 1; break;
        case O_CLASSES:
            opt.classes = (int)dx_arg_long("--classes", optarg, 1, 255);
            break;
        case O_CROPRATIO:
            opt.rcs_opts.min_crop_ratio = dx_arg_double(
                "--rcs-min-crop-ratio", optarg, 0, 1e6);
            break;
        case O_BOX: opt.emit_box = 1; break;
        case O_NAMES: opt.emit_names = 1; break;
        case O_FULL: opt.full_labels = 1; break;
        case O_CATMAX:
            opt.cat_max_ratio = dx_arg_double("--cat-max-ratio", optarg, 0.01,
                                              1);
            break;
        case 'h': help();
        }
    }
    if (optind < argc)
        dx_die("unexpected argument '%s'%s", argv[optind],
               opt.rcs ? " (write the temperature as --rcs=T)" : "");
    if (opt.kind < 0)
        dx_die("--dataset is required: cityscapes, gta5, synthia or list");
    if (opt.kind == DX_DS_LIST) {
        if (!opt.list)
            dx_die("--dataset list needs --list FILE");
        if (!opt.map && opt.labels)
            dx_die("--dataset list needs --map TABLE (e.g. "
                   "pipelines/maps/cityscapes.map)");
    } else {
        if (!opt.root)
            dx_die("--dataset %s needs --root DIR", kinds[opt.kind]);
        if (opt.list)
            dx_die("--list is for --dataset list only");
    }
    if (opt.split_set && opt.kind != DX_DS_CITYSCAPES)
        dx_die("--split is for cityscapes only; %s has no split folders "
               "(use --dataset list for a subset)", kinds[opt.kind]);
    if (!opt.batch)
        opt.batch = opt.sequential ? 1 : DEFAULT_BATCH;
    if ((opt.scale_lo != 1 || opt.scale_hi != 1) && !opt.crop_w)
        dx_die("--scale needs --crop: rescaled images differ in size");
    if (opt.sequential && (opt.crop_w || opt.flip || opt.rcs ||
                           opt.scale_lo != 1 || opt.scale_hi != 1))
        dx_die("--sequential streams whole images in order: it takes no "
               "--crop, --scale, --flip or --rcs");
    if (opt.share.parts > 1 && opt.sequential)
        dx_die("--share splits the drawn batches; --sequential streams a "
               "whole split");
    if (opt.share.parts > opt.batch)
        dx_die("--share %d/%d: a batch of %d has no item for every share "
               "(at most --batch shares)", opt.share.part, opt.share.parts,
               opt.batch);
    if (opt.full_labels && (!opt.sequential || !opt.labels))
        dx_die("--full-labels keeps the labels of a --sequential split at "
               "their stored size: it needs --sequential and labels");
    if (opt.cat_max_ratio < 1 && (!opt.crop_w || !opt.labels))
        dx_die("--cat-max-ratio redraws crops by their labels: it needs "
               "--crop and labels");
    if (opt.label_colors && (!opt.labels || opt.kind == DX_DS_SYNTHIA))
        dx_die("--label-colors maps RGB labels of cityscapes, gta5 or list "
               "datasets; %s", !opt.labels ? "it cannot go with --no-labels"
                                           : "SYNTHIA labels are 16-bit "
                                             "class ids, not colours");
    if (opt.rcs && !opt.stats)
        dx_die("--rcs needs --rcs-stats FILE (make it once with "
               "--make-rcs-stats FILE)");
    if (opt.rcs && !opt.labels)
        dx_die("--rcs samples by label class: it cannot go with --no-labels");
    if (opt.make_stats && !opt.labels)
        dx_die("--make-rcs-stats counts labels: it cannot go with "
               "--no-labels");
    if (opt.check && (opt.make_stats || opt.rcs || opt.sequential))
        dx_die("--check checks the dataset and exits: it cannot go with "
               "--make-rcs-stats, --rcs or --sequential");
    if (opt.classes && !opt.check)
        dx_die("--classes is for --check (the ids a model of C classes "
               "takes)");
    char name[TNS_MAX_NAME + 32];
    snprintf(name, sizeof name, "%s.image", opt.prefix);
    if (strlen(opt.prefix) > TNS_MAX_NAME - 8 || !tns_name_ok(name))
        dx_die("--prefix: '%s' does not make valid frame names", opt.prefix);
}

static void progress(int done, int total, void *arg)
{
    const char *what = arg;
    int step = total / 10 > 0 ? total / 10 : 1;
    if (!opt.cli.quiet && (done % step == 0 || done == total))
        dx_note("%s %d/%d images", what, done, total);
}

/* A batch whose labels are all ignore is almost always a data mistake (a
 * label map that names none of the ids, labels of another dataset): say
 * so, naming its label files. */
static void warn_all_ignore(const tns_frame *lbl, const dx_dataset *ds,
                            const int *idx, int n)
{
    const uint8_t *y = lbl->data;
    for (size_t i = 0; i < lbl->count; i++)
        if (y[i] != DX_IGNORE)
            return;
    char files[1536];
    size_t at = 0;
    for (int i = 0; i < n && at < sizeof files; i++)
        at += (size_t)snprintf(files + at, sizeof files - at, "%s%s",
                               i ? ", " : "", ds->label[idx[i]]);
    if (!opt.cli.quiet)
        dx_note("warning: every label pixel of the batch is ignore (255): "
                "%s; is the label map (--map) the one of these labels?",
                files);
}

/* --check: every item, on the pool's threads; one message per bad item. */
typedef struct check_job {
    const dx_dataset *ds;
    const dx_labelmap *map;
    int classes;
    char **msg; /* per item: NULL, or what is wrong */
} check_job;

static void check_range(void *ctx, long lo, long hi)
{
    check_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        dx_err err;
        if (dx_item_check(j->ds, (int)i, j->map, j->classes, &err))
            j->msg[i] = strdup(err.msg); /* NULL if out of memory */
        else
            j->msg[i] = NULL;
    }
}

static int check_all(const dx_dataset *ds, const dx_labelmap *map)
{
    check_job j = {ds, opt.labels ? map : NULL,
                   opt.classes ? opt.classes : map->classes,
                   calloc((size_t)ds->n, sizeof(char *))};
    if (!j.msg)
        dx_die("out of memory");
    dx_par_for(ds->n, check_range, &j);
    int bad = 0;
    for (int i = 0; i < ds->n; i++)
        if (j.msg[i]) {
            dx_note("%s", j.msg[i]);
            free(j.msg[i]);
            bad++;
        }
    free(j.msg);
    const char *where = opt.root ? opt.root : opt.list;
    if (bad)
        dx_note("%d of %d items of %s have problems", bad, ds->n, where);
    else if (!opt.cli.quiet)
        dx_note("%d items of %s checked (%d excluded)%s", ds->n, where,
                ds->nexcluded, opt.labels ? ", labels decoded" : "");
    return bad ? 1 : 0;
}

/* The image paths of items idx[0..n) under the dataset root (as given
 * when outside it), one per line, as the text frame name. */
static int names_frame(tns_frame *f, const char *name, const dx_dataset *ds,
                       const int *idx, int n, dx_err *err)
{
    size_t len = 1, rl = opt.root ? strlen(opt.root) : 0;
    while (rl > 1 && opt.root[rl - 1] == '/')
        rl--;
    for (int i = 0; i < n; i++)
        len += strlen(ds->image[idx[i]]) + 1;
    char *text = malloc(len), *p = text;
    if (!text)
        return dx_fail(err, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *path = ds->image[idx[i]];
        if (rl && strncmp(path, opt.root, rl) == 0 && path[rl] == '/')
            for (path += rl; *path == '/'; path++)
                ;
        p += sprintf(p, "%s\n", path);
    }
    int rc = tns_frame_text(f, name, text, err);
    free(text);
    return rc;
}

/* Write one segment: the frames of b, and the index and names if wanted;
 * frees b's frames. */
static void write_batch(tns_writer *w, dx_sample *b, const dx_dataset *ds,
                        const int *idx, int n)
{
    dx_err err;
    if (b->label.data)
        warn_all_ignore(&b->label, ds, idx, n);
    tns_frame ix = {0}, names = {0};
    char name[TNS_MAX_NAME + 1];
    if (opt.emit_index) {
        snprintf(name, sizeof name, "%s.index", opt.prefix);
        int64_t dims[1] = {n};
        if (tns_frame_alloc(&ix, name, DX_I32, 1, dims, &err))
            goto fail;
        for (int i = 0; i < n; i++)
            ((int32_t *)ix.data)[i] = idx[i];
    }
    snprintf(name, sizeof name, "%s.names", opt.prefix);
    if (opt.emit_names && names_frame(&names, name, ds, idx, n, &err))
        goto fail;
    if (tns_write(w, &b->image, &err) ||
        (b->label.data && tns_write(w, &b->label, &err)) ||
        (b->box.data && tns_write(w, &b->box, &err)) ||
        (opt.emit_index && tns_write(w, &ix, &err)) ||
        (opt.emit_names && tns_write(w, &names, &err)) ||
        tns_end_segment(w, &err))
        goto fail;
    tns_frame_free(&ix);
    tns_frame_free(&names);
    tns_frame_free(&b->image);
    tns_frame_free(&b->label);
    tns_frame_free(&b->box);
    return;
fail:
    tns_abort(w);
    dx_die_err(&err);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    parse(argc, argv);
    dx_err err;
    static dx_labelmap map;
    if (opt.labels) {
        const char *m = opt.map ? opt.map : dx_dataset_kind_name(opt.kind);
        int builtin = !strcmp(m, "cityscapes") || !strcmp(m, "gta5") ||
                      !strcmp(m, "synthia");
        if (builtin ? dx_labelmap_builtin(&map, m, &err)
                    : dx_labelmap_load(&map, m, &err))
            dx_die_err(&err);
    }
    dx_dataset ds;
    dx_dataset_spec spec = {opt.kind, opt.root, opt.split, opt.list,
                            opt.labels, opt.label_colors, opt.exclude,
                            opt.check};
    if (dx_dataset_open(&ds, &spec, &err))
        dx_die_err(&err);
    dx_dataset_limit(&ds, (int)opt.limit);
    if (opt.check) {
        int rc = check_all(&ds, &map);
        dx_dataset_free(&ds);
        return rc;
    }
    tns_set_live(opt.cli.live);

    if (opt.make_stats) {
        dx_rcs_stats st;
        if (dx_rcs_count(&st, &ds, &map, progress, "counted", &err) ||
            dx_rcs_save(&st, opt.make_stats, &err))
            dx_die_err(&err);
        dx_rcs_stats_free(&st);
        dx_dataset_free(&ds);
        return 0;
    }

    char purpose[96], iname[TNS_MAX_NAME + 1], lname[TNS_MAX_NAME + 1],
        bname[TNS_MAX_NAME + 1];
    snprintf(purpose, sizeof purpose, "seg-batch:%s", opt.prefix);
    snprintf(iname, sizeof iname, "%s.image", opt.prefix);
    snprintf(lname, sizeof lname, "%s.label", opt.prefix);
    snprintf(bname, sizeof bname, "%s.box", opt.prefix);
    dx_sampler s;
    dx_sampler_init(&s, &ds, &map, opt.seed, purpose);
    s.resize_w = (int)opt.resize_w;
    s.resize_h = (int)opt.resize_h;
    s.crop_w = (int)opt.crop_w;
    s.crop_h = (int)opt.crop_h;
    s.scale_lo = opt.scale_lo;
    s.scale_hi = opt.scale_hi;
    s.flip = opt.flip;
    s.cat_max_ratio = opt.cat_max_ratio;
    s.rcs_min_crop_ratio = opt.rcs_opts.min_crop_ratio;
    s.full_label = opt.full_labels;
    s.share = opt.share;

    dx_rcs rcs;
    if (opt.rcs) {
        dx_rcs_stats st;
        FILE *probe = fopen(opt.stats, "rb");
        if (!probe)
            dx_die("--rcs needs class statistics, and %s cannot be read; "
                   "make them once with: seg-batch --dataset %s%s%s "
                   "--make-rcs-stats %s", opt.stats,
                   dx_dataset_kind_name(opt.kind),
                   opt.root ? " --root " : " --list ",
                   opt.root ? opt.root : opt.list, opt.stats);
        fclose(probe);
        if (dx_rcs_load(&st, opt.stats, &err))
            dx_die_err(&err);
        if (dx_rcs_match(&st, &ds, &map, &err))
            dx_die("class statistics %s %s; remake them with "
                   "--make-rcs-stats", opt.stats, err.msg);
        if (dx_rcs_init(&rcs, &st, opt.rcs, opt.rcs_opts.min_pixels, &err))
            dx_die("class statistics %s: %s", opt.stats, err.msg);
        for (int c = 0; c < rcs.classes && !opt.cli.quiet; c++)
            if (!rcs.nmembers[c] && rcs.freq[c] > 0)
                dx_note("rcs: class %d (%s) occurs, but in no image with "
                        "more than %ld pixels of it; it is never drawn", c,
                        dx_class_name(c) ? dx_class_name(c) : "custom",
                        opt.rcs_opts.min_pixels);
        dx_rcs_stats_free(&st);
        s.rcs = &rcs;
    }

    tns_writer w;
    if (tns_create(&w, opt.cli.out, &err))
        dx_die_err(&err);
    int *idx = malloc((size_t)opt.batch * sizeof *idx);
    int *cls = malloc((size_t)opt.batch * sizeof *cls);
    if (!idx || !cls)
        dx_die("out of memory");
    dx_sample b = {.image_name = iname,
                   .label_name = opt.labels ? lname : NULL,
                   .box_name = opt.emit_box ? bname : NULL};
    /* the items a sequential pass reads: all but the excluded, in order */
    int *keep = NULL, nkeep = 0;
    if (opt.sequential) {
        if (!(keep = malloc((size_t)ds.n * sizeof *keep)))
            dx_die("out of memory");
        for (int i = 0; i < ds.n; i++)
            if (!dx_dataset_excluded(&ds, i))
                keep[nkeep++] = i;
    }
    /* Several batches: check every file they need before the first one
     * goes out, so that a bad file leaves stdout empty. */
    if (opt.sequential && nkeep > opt.batch && !opt.no_check) {
        if (dx_dataset_check(&ds, &err) ||
            dx_sampler_check(&s, keep, nkeep, opt.labels, &err)) {
            tns_abort(&w);
            dx_die_err(&err);
        }
    } else if (!opt.sequential && opt.iters > 1 && !opt.no_check) {
        size_t total = (size_t)opt.iters * opt.batch;
        int *all = malloc(total * sizeof *all);
        if (!all)
            dx_die("out of memory");
        for (int k = 0; k < opt.iters; k++)
            if (dx_sampler_draw(&s, opt.iter + (uint64_t)k, opt.batch,
                                all + (size_t)k * opt.batch, NULL, &err))
                dx_die_err(&err);
        if (dx_sampler_check(&s, all, (int)total, opt.labels, &err)) {
            tns_abort(&w);
            dx_die_err(&err);
        }
        free(all);
    }
    if (opt.sequential) {
        for (int at = 0; at < nkeep; at += opt.batch) {
            int n = nkeep - at < opt.batch ? nkeep - at : opt.batch;
            for (int i = 0; i < n; i++)
                idx[i] = keep[at + i];
            if (dx_sampler_fill(&s, 0, idx, NULL, n, &b, &err)) {
                tns_abort(&w);
                dx_die_err(&err);
            }
            write_batch(&w, &b, &ds, idx, n);
            progress(at + n, nkeep, "read");
        }
        free(keep);
    } else {
        for (int k = 0; k < opt.iters; k++) {
            uint64_t t = opt.iter + (uint64_t)k;
            if (dx_sampler_draw(&s, t, opt.batch, idx, cls, &err)) {
                tns_abort(&w);
                dx_die_err(&err);
            }
            /* the share: items part, part+parts, ... of the batch */
            int n = dx_share_count(&opt.share, opt.batch);
            for (int i = 0; i < n && opt.share.parts > 1; i++) {
                idx[i] = idx[opt.share.part + i * opt.share.parts];
                cls[i] = cls[opt.share.part + i * opt.share.parts];
            }
            if (dx_sampler_fill(&s, t, idx, cls, n, &b, &err)) {
                tns_abort(&w);
                dx_die_err(&err);
            }
            write_batch(&w, &b, &ds, idx, n);
        }
    }
    if (tns_finish(&w, &err))
        dx_die_err(&err);
    free(idx);
    free(cls);
    if (opt.rcs)
        dx_rcs_free(&rcs);
    dx_dataset_free(&ds);
    return 0;
}
