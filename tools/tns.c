/* tns - inspect and convert tensor streams.
 *
 *   tns info [FILE...]
 *   tns select|drop [-i IN] [-o OUT] GLOB...
 *   tns rename [-i IN] [-o OUT] OLD=NEW...
 *   tns cat [-o OUT] [--replace] FILE...
 *   tns zip [-o OUT] [--replace] [--live] FILE...
 *   tns get [-i IN] NAME
 *   tns png-in [-i IN] [-o OUT] [--name NAME] [--as rgb|label|raw] PNG...
 *   tns png-out [-i IN] [--color] [--range LO,HI] NAME PATTERN
 *   tns png-out [-i IN] [--labelids] --names FRAME NAME DIR
 *   tns npy-in [-i IN] [-o OUT] [--name NAME] NPY...
 *   tns npy-out [-i IN] NAME FILE.npy | --dir DIR
 *   tns tile [-i IN] OUT.png FRAME[:color|:mask]...
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/classes.h"
#include "base/cli.h"
#include "data/batch.h"
#include "data/labelmap.h"
#include "io/atomic.h"
#include "io/npy.h"
#include "io/pngio.h"
#include "io/tns.h"

static const char USAGE[] =
    "usage: tns COMMAND [OPTIONS] [ARGS]\n"
    "Inspect and convert dacs tensor streams (see tns(5)).\n"
    "\n"
    "commands:\n"
    "  info [FILE...]            one line per frame: index, name, dtype, shape,\n"
    "                            min, max, mean (FILE '-' or none: stdin);\n"
    "                            a line '# segment K' starts each later batch\n"
    "  select GLOB...            keep only frames whose name matches a glob\n"
    "  drop GLOB...              remove frames whose name matches a glob\n"
    "  rename OLD=NEW...         rename frames\n"
    "                            (select, drop and rename work batch by batch)\n"
    "  cat FILE...               merge the frames of streams into one batch\n"
    "                            ('-' is stdin)\n"
    "  zip FILE...               merge streams batch by batch: batch k of the\n"
    "                            output holds the frames of batch k of every\n"
    "                            input, in order; the inputs must have as many\n"
    "                            batches each (FILE may be a FIFO or '-')\n"
    "  get NAME                  write the raw payload of one frame to stdout\n"
    "                            (e.g. the text of meta.arch)\n"
    "  png-in PNG...             PNG files of one size to one u8/u16 frame,\n"
    "                            batched along the first dim\n"
    "  png-out NAME PATTERN      one PNG per batch item of frame NAME, over\n"
    "                            every batch; PATTERN holds %d or %0Nd for the\n"
    "                            item index\n"
    "  png-out --names F NAME DIR  the same, item i as DIR/FOLDER/STEM.png\n"
    "                            from line i of text frame F (a path: its\n"
    "                            last folder and base name, less\n"
    "                            _leftImg8bit.png or its extension)\n"
    "  npy-in NPY...             NumPy .npy files to frames\n"
    "  npy-out NAME FILE.npy     one frame to a .npy file\n"
    "  npy-out --dir DIR         every frame to DIR/NAME.npy\n"
    "  tile OUT.png FRAME...     one picture of several frames side by side,\n"
    "                            a row per batch item; FRAME:color paints labels,\n"
    "                            FRAME:mask shows 0/1 as black/white\n"
    "\n"
    "options (each command takes only its own):\n"
    "  -i, --input FILE    every command but info and cat: input stream\n"
    "                      (default stdin; png-in and npy-in: start from it,\n"
    "                      default an empty stream)\n"
    "  -o, --output FILE   select, drop, rename, cat, zip, png-in, npy-in:\n"
    "                      output stream, written atomically (default stdout)\n"
    "  --replace           cat, zip, rename, png-in, npy-in: a frame may\n"
    "                      replace one of the same name instead of being an\n"
    "                      error\n"
    "  --live              select, drop, rename, zip: write stdout live, each\n"
    "                      batch closed and flushed at once (a ring of pipes;\n"
    "                      tns(5))\n"
    "  --name NAME         png-in, npy-in: frame name (default: image for\n"
    "                      png-in, the file's base name for npy-in)\n"
    "  --as MODE           png-in: rgb (u8 NxHxWx3, the default), label\n"
    "                      (NxHxW of the first channel, u8 or u16, palette\n"
    "                      indices kept) or raw (as stored)\n"
    "  --color             png-out: colour label maps with the Cityscapes\n"
    "                      palette (255 black)\n"
    "  --range LO,HI       png-out, tile: map f32 values LO..HI to grey 0..255\n"
    "                      (default 0,1)\n"
    "  --start K           png-out: number files from K (default 0)\n"
    "  --labelids          png-out: train ids 0..18 to Cityscapes label ids,\n"
    "                      255 to 0 (unlabeled); with --names the files are\n"
    "                      STEM_labelIds.png, as the Cityscapes scripts and\n"
    "                      test server read them\n"
    "  --names FRAME       png-out: name each item's file by its line of\n"
    "                      FRAME (seg-batch --emit-names); the second\n"
    "                      argument is a directory\n"
    "  --dir DIR           npy-out: write every frame into DIR\n"
    "  -h, --help          show this help\n";

static struct {
    const char *in, *out, *name, *dir, *names;
    int as, color, replace, labelids;
    double lo, hi;
    long start;
} opt = {.lo = 0, .hi = 1};

static void load(tns_stream *s, const char *path)
{
    dx_err err;
    if (tns_stream_load(s, path, &err))
        dx_die_err(&err);
}

static void save(tns_stream *s)
{
    dx_err err;
    if (tns_stream_save(s, opt.out, &err))
        dx_die_err(&err);
    tns_stream_free(s);
}

static double value_at(const tns_frame *f, size_t i)
{
    switch (f->dtype) {
    case DX_U8:
        return ((const uint8_t *)f->data)[i];
    case DX_U16:
        return ((const uint16_t *)f->data)[i];
    case DX_I32:
        return ((const int32_t *)f->data)[i];
    default:
        return ((const float *)f->data)[i];
    }
}

static int cmd_info(int argc, char **argv)
{
    int nfiles = argc > 0 ? argc : 1;
    for (int k = 0; k < nfiles; k++) {
        const char *path = argc > 0 ? argv[k] : "-";
        tns_reader r;
        tns_frame f;
        dx_err err;
        if (tns_open(&r, path, &err))
            dx_die_err(&err);
        int got;
        long seg = 0;
        while ((got = tns_read(&r, &f, &err)) == 1) {
            char shape[160];
            if (r.segment != seg)
                printf("# segment %ld\n", seg = r.segment);
            double mn = 0, mx = 0, sum = 0;
            size_t bad = 0;
            int first = 1;
            for (size_t i = 0; i < f.count; i++) {
                double v = value_at(&f, i);
                if (v != v || v - v != 0) { /* NaN or Inf */
                    bad++;
                    continue;
                }
                if (first || v < mn)
                    mn = v;
                if (first || v > mx)
                    mx = v;
                first = 0;
                sum += v;
            }
            size_t good = f.count - bad;
            printf("%ld\t%s\t%s\t%s", r.index - 1, f.name,
                   dx_dtype_name(f.dtype),
                   tns_shape_str(&f, shape, sizeof shape));
            if (good)
                printf("\tmin %.6g\tmax %.6g\tmean %.6g", mn, mx,
                       sum / (double)good);
            else
                printf("\tmin -\tmax -\tmean -");
            if (bad)
                printf("\tnonfinite %zu", bad);
            printf("\n");
            tns_frame_free(&f);
        }
        tns_close(&r);
        if (got < 0)
            dx_die_err(&err);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static int matches(const char *name, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (fnmatch(argv[i], name, 0) == 0)
            return 1;
    return 0;
}

/* The globs or renames of a command line, for tns_filter. */
struct args {
    int argc;
    char **argv;
};

static int select_fn(void *ctx, tns_stream *s, long seg, dx_err *err)
{
    (void)seg;
    (void)err;
    const struct args *a = ctx;
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (matches(s->v[i].name, a->argc, a->argv))
            s->v[n++] = s->v[i];
        else
            tns_frame_free(&s->v[i]);
    s->n = n;
    return 0;
}

static int cmd_select_keep(int argc, char **argv, int keep)
{
    if (argc < 1)
        dx_die("%s: expected at least one GLOB", keep ? "select" : "drop");
    struct args a = {argc, argv};
    dx_err err;
    /* drop is select's complement: tns_filter drops what matches */
    if (tns_filter(opt.in, opt.out, keep ? select_fn : NULL, &a,
                   keep ? NULL : (const char *const *)argv, keep ? 0 : argc,
                   &err))
        dx_die_err(&err);
    return 0;
}

static int cmd_select(int argc, char **argv)
{
    return cmd_select_keep(argc, argv, 1);
}

static int cmd_drop(int argc, char **argv)
{
    return cmd_select_keep(argc, argv, 0);
}

static int rename_fn(void *ctx, tns_stream *s, long seg, dx_err *err)
{
    (void)seg;
    const struct args *a = ctx;
    for (int i = 0; i < a->argc; i++) {
        const char *eq = strchr(a->argv[i], '=');
        char from[TNS_MAX_NAME + 1];
        snprintf(from, sizeof from, "%.*s", (int)(eq - a->argv[i]),
                 a->argv[i]);
        int at = tns_stream_find(s, from);
        if (at < 0)
            return dx_fail(err, "rename: no frame '%s' in the input stream",
                           from);
        tns_frame f = s->v[at];
        memmove(&s->v[at], &s->v[at + 1], (size_t)(s->n - at - 1) * sizeof f);
        s->n--;
        snprintf(f.name, sizeof f.name, "%s", eq + 1);
        if (tns_stream_put(s, &f, opt.replace, err)) {
            tns_frame_free(&f);
            return dx_fail(err, "rename: frame '%s' is already in the "
                           "stream (use --replace to overwrite it)", eq + 1);
        }
    }
    return 0;
}

static int cmd_rename(int argc, char **argv)
{
    if (argc < 1)
        dx_die("rename: expected at least one OLD=NEW");
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i] || !tns_name_ok(eq + 1))
            dx_die("rename: expected OLD=NEW with NEW a valid frame name, "
                   "got '%s'", argv[i]);
    }
    struct args a = {argc, argv};
    dx_err err;
    if (tns_filter(opt.in, opt.out, rename_fn, &a, NULL, 0, &err))
        dx_die_err(&err);
    return 0;
}

static int cmd_cat(int argc, char **argv)
{
    if (argc < 1)
        dx_die("cat: expected at least one FILE");
    tns_stream all = {0};
    dx_err err;
    for (int k = 0; k < argc; k++) {
        tns_stream s;
        load(&s, argv[k]);
        for (int i = 0; i < s.n; i++)
            if (tns_stream_put(&all, &s.v[i], opt.replace, &err))
                dx_die("cat: %s: %s (use --replace to keep the later one)",
                       argv[k], err.msg);
        tns_stream_free(&s);
    }
    save(&all);
    return 0;
}

/* Batch k of every input, merged into batch k of the output. */
static int cmd_zip(int argc, char **argv)
{
    if (argc < 1)
        dx_die("zip: expected at least one FILE");
    tns_reader *r = calloc((size_t)argc, sizeof *r);
    if (!r)
        dx_die("zip: out of memory");
    dx_err err;
    tns_writer w;
    int nstdin = 0;
    for (int k = 0; k < argc; k++) {
        nstdin += !strcmp(argv[k], "-");
        if (nstdin > 1)
            dx_die("zip: stdin ('-') may be given once");
        if (tns_open(&r[k], argv[k], &err))
            dx_die("zip: %s", err.msg);
    }
    if (tns_create(&w, opt.out, &err))
        dx_die_err(&err);
    for (long seg = 0;; seg++) {
        tns_stream all = {0};
        int ended = 0;
        for (int k = 0; k < argc; k++) {
            tns_stream s;
            int got = tns_read_segment(&r[k], &s, &err);
            if (got < 0)
                goto fail;
            if (got == 0 && k > 0 && !ended) {
                dx_fail(&err, "%s ends after %ld batches, but %s goes on",
                        argv[k], seg, argv[0]);
                goto fail;
            }
            if (got == 1 && ended) {
                tns_stream_free(&s);
                dx_fail(&err, "%s ends after %ld batches, but %s goes on",
                        argv[0], seg, argv[k]);
                goto fail;
            }
            ended |= got == 0;
            for (int i = 0; i < s.n; i++)
                if (tns_stream_put(&all, &s.v[i], opt.replace, &err)) {
                    tns_stream_free(&s);
                    tns_stream_free(&all);
                    tns_abort(&w);
                    dx_die("zip: batch %ld of %s: %s (use --replace to keep "
                           "the later one)", seg, argv[k], err.msg);
                }
            tns_stream_free(&s);
        }
        if (ended)
            break;
        for (int i = 0; i < all.n; i++)
            if (tns_write(&w, &all.v[i], &err)) {
                tns_stream_free(&all);
                goto fail;
            }
        tns_stream_free(&all);
        if (tns_end_segment(&w, &err))
            goto fail;
    }
    for (int k = 0; k < argc; k++)
        tns_close(&r[k]);
    free(r);
    if (tns_finish(&w, &err))
        dx_die_err(&err);
    return 0;
fail:
    tns_abort(&w);
    dx_die("zip: %s", err.msg);
}

static int cmd_get(int argc, char **argv)
{
    if (argc != 1)
        dx_die("get: expected one frame NAME");
    tns_stream s;
    load(&s, opt.in);
    tns_frame *f = tns_stream_get(&s, argv[0]);
    if (!f)
        dx_die("get: no frame '%s' in the input stream", argv[0]);
    if (f->nbytes && fwrite(f->data, 1, f->nbytes, stdout) != f->nbytes)
        dx_die("get: write failed");
    tns_stream_free(&s);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Start with the input stream when -i was given, else an empty one. */
static void base_stream(tns_stream *s)
{
    if (opt.in)
        load(s, opt.in);
    else
        memset(s, 0, sizeof *s);
}

static int cmd_png_in(int argc, char **argv)
{
    if (argc < 1)
        dx_die("png-in: expected at least one PNG file");
    static const int modes[] = {DX_PNG_RGB8, DX_PNG_LABEL, DX_PNG_RAW};
    tns_stream s;
    tns_frame f = {0};
    dx_err err;
    base_stream(&s);
    const char *name = opt.name ? opt.name : "image";
    for (int k = 0; k < argc; k++) {
        dx_png p;
        if (dx_png_read(argv[k], modes[opt.as], &p, &err))
            dx_die_err(&err);
        int dtype = p.depth == 16 ? DX_U16 : DX_U8;
        if (k == 0) {
            int64_t dims[4] = {argc, p.height, p.width, p.channels};
            int rank = opt.as == 1 ? 3 : 4;
            if (tns_frame_alloc(&f, name, dtype, rank, dims, &err))
                dx_die_err(&err);
        } else if (f.dims[1] != p.height || f.dims[2] != p.width ||
                   (f.rank == 4 && f.dims[3] != p.channels) ||
                   f.dtype != dtype) {
            dx_die("png-in: %s is %dx%d with %d %d-bit channels, but %s is "
                   "%lldx%lld with %lld %d-bit channels; a batch needs one "
                   "size", argv[k], p.width, p.height, p.channels, p.depth,
                   argv[0], (long long)f.dims[2], (long long)f.dims[1],
                   f.rank == 4 ? (long long)f.dims[3] : 1LL,
                   f.dtype == DX_U16 ? 16 : 8);
        }
        size_t item = f.nbytes / (size_t)argc;
        memcpy((char *)f.data + (size_t)k * item, p.px, item);
        dx_png_free(&p);
    }
    if (tns_stream_put(&s, &f, opt.replace, &err))
        dx_die_err(&err);
    save(&s);
    return 0;
}

/* Expand PATTERN with item index i: "%d" or "%0Nd" (N one digit). */
static void item_path(char *out, size_t len, const char *pat, long i, int n)
{
    const char *p = strchr(pat, '%');
    if (!p) {
        if (n > 1)
            dx_die("png-out: PATTERN '%s' needs %%d for more than one item",
                   pat);
        snprintf(out, len, "%s", pat);
        return;
    }
    int width = 0;
    const char *q = p + 1;
    if (q[0] == '0' && q[1] >= '1' && q[1] <= '9') {
        width = q[1] - '0';
        q += 2;
    }
    if (*q != 'd' || strchr(q, '%'))
        dx_die("png-out: PATTERN '%s' may hold one %%d or %%0Nd and no other "
               "%%", pat);
    snprintf(out, len, "%.*s%0*ld%s", (int)(p - pat), pat, width, i, q + 1);
}

/* The file of the item named name (a path, e.g. leftImg8bit/test/berlin/
 * berlin_000000_000019_leftImg8bit.png) under dir: dir/FOLDER/STEM plus
 * the suffix, FOLDER being the name's last folder (none if it has none),
 * STEM its base name less "_leftImg8bit.png" or else its extension. */
static void named_path(char *out, size_t len, const char *dir,
                       const char *name, size_t nlen, const char *suffix)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)nlen, name);
    char *base = strrchr(buf, '/'), *folder = NULL;
    if (base) {
        *base++ = 0;
        folder = strrchr(buf, '/');
        folder = folder ? folder + 1 : buf;
    } else {
        base = buf;
    }
    size_t bl = strlen(base), kl = strlen("_leftImg8bit.png");
    if (bl > kl && strcmp(base + bl - kl, "_leftImg8bit.png") == 0)
        base[bl - kl] = 0;
    else if (strrchr(base, '.') && strrchr(base, '.') != base)
        *strrchr(base, '.') = 0;
    if (!*base || (folder && (!*folder || !strcmp(folder, "..") ||
                              !strcmp(folder, "."))) ||
        !strcmp(base, "..") || !strcmp(base, "."))
        dx_die("png-out: item name '%.*s' gives no file name", (int)nlen,
               name);
    int n = folder && *folder
                ? snprintf(out, len, "%s/%s/%s%s", dir, folder, base, suffix)
                : snprintf(out, len, "%s/%s%s", dir, base, suffix);
    if (n < 0 || (size_t)n >= len)
        dx_die("png-out: the path for item '%.*s' is too long", (int)nlen,
               name);
}

/* Item k's line of the names frame (n lines), or die naming the frame. */
static const char *item_name(const tns_frame *names, int k, int n,
                             size_t *len)
{
    const char *t = names->data, *end = t + names->nbytes;
    int lines = 0;
    for (const char *q = t; q < end; q++)
        lines += *q == '\n';
    if (lines != n || (names->nbytes && end[-1] != '\n'))
        dx_die("png-out: frame '%s' holds %d name lines, expected one per "
               "item: %d", names->name, lines, n);
    for (int i = 0; i < k; i++)
        t = memchr(t, '\n', (size_t)(end - t)) + 1;
    *len = (size_t)((const char *)memchr(t, '\n', (size_t)(end - t)) - t);
    return t;
}

static int cmd_png_out(int argc, char **argv)
{
    if (argc != 2)
        dx_die("png-out: expected NAME and %s",
               opt.names ? "DIR (with --names)" : "PATTERN");
    tns_reader r;
    tns_stream s = {0};
    dx_err err;
    uint16_t ids[256];
    if (opt.labelids) {
        dx_labelmap cs;
        if (dx_labelmap_builtin(&cs, "cityscapes", &err) ||
            dx_labelmap_invert(&cs, ids, &err))
            dx_die_err(&err);
    }
    if (opt.names && dx_mkdirs(argv[1], &err))
        dx_die("png-out: %s", err.msg);
    if (tns_open(&r, opt.in, &err))
        dx_die_err(&err);
    long done = 0;
    int got;
    while ((got = tns_read_segment(&r, &s, &err)) == 1) {
        tns_frame *f = tns_stream_get(&s, argv[0]);
        const tns_frame *names = NULL;
        char shape[160];
        if (!f)
            dx_die("png-out: no frame '%s' in segment %ld of the input "
                   "stream", argv[0], r.segment - 1);
        if (opt.names && !(names = tns_stream_need(&s, opt.names, DX_U8, 1,
                                                   &err)))
            dx_die("png-out: %s (seg-batch --emit-names writes it)",
                   err.msg);
        tns_shape_str(f, shape, sizeof shape);
        /* rank 2: one HxW map; rank 3: NxHxW maps; rank 4: NxHxWxC */
        int n = 1, h, w, c = 1;
        if (f->rank == 2) {
            h = (int)f->dims[0];
            w = (int)f->dims[1];
        } else if (f->rank == 3 || f->rank == 4) {
            n = (int)f->dims[0];
            h = (int)f->dims[1];
            w = (int)f->dims[2];
            c = f->rank == 4 ? (int)f->dims[3] : 1;
        } else {
            dx_die("png-out: frame '%s' has shape %s, expected HxW, NxHxW or "
                   "NxHxWxC", f->name, shape);
        }
        if (c < 1 || c > 4 || f->dtype == DX_I32 ||
            (f->dtype == DX_F32 && c != 1))
            dx_die("png-out: frame '%s' is %s %s, expected u8/u16 with 1-4 "
                   "channels or f32 with one", f->name,
                   dx_dtype_name(f->dtype), shape);
        if ((opt.color || opt.labelids) && (c != 1 || f->dtype == DX_F32))
            dx_die("png-out: %s needs a label map (u8 or u16 NxHxW), frame "
                   "'%s' is %s %s", opt.color ? "--color" : "--labelids",
                   f->name, dx_dtype_name(f->dtype), shape);
        if (opt.labelids && dx_check_labels(f, DX_NUM_CLASSES, &err))
            dx_die("png-out: --labelids maps the 19 Cityscapes train ids: "
                   "%s", err.msg);
        if (h < 1 || w < 1 || h > DX_MAX_IMAGE_SIDE || w > DX_MAX_IMAGE_SIDE)
            dx_die("png-out: frame '%s' is %s: each side must be in [1, %d]",
                   f->name, shape, DX_MAX_IMAGE_SIDE);
        size_t plane = (size_t)h * w * c;
        int depth = f->dtype == DX_U16 && !opt.color && !opt.labelids ? 16
                                                                      : 8;
        int outc = opt.color ? 3 : c;
        void *buf = malloc(plane * 3 * 2);
        if (!buf)
            dx_die("png-out: out of memory");
        for (int k = 0; k < n; k++) {
            size_t base = (size_t)k * plane;
            for (size_t i = 0; i < plane; i++) {
                double v = value_at(f, base + i);
                if (opt.color) {
                    uint8_t rgb[3];
                    dx_class_color((int)v, rgb);
                    memcpy((uint8_t *)buf + 3 * i, rgb, 3);
                } else if (opt.labelids) {
                    ((uint8_t *)buf)[i] = (uint8_t)ids[(int)v];
                } else if (f->dtype == DX_F32) {
                    double g = (v - opt.lo) / (opt.hi - opt.lo) * 255.0 + 0.5;
                    g = v != v ? 0 : g < 0 ? 0 : g > 255 ? 255 : g;
                    ((uint8_t *)buf)[i] = (uint8_t)g;
                } else if (depth == 16) {
                    ((uint16_t *)buf)[i] = (uint16_t)v;
                } else {
                    ((uint8_t *)buf)[i] = (uint8_t)v;
                }
            }
            char path[4096];
            if (names) {
                size_t len;
                const char *nm = item_name(names, k, n, &len);
                named_path(path, sizeof path, argv[1], nm, len,
                           opt.labelids ? "_labelIds.png" : ".png");
                char *slash = strrchr(path, '/');
                *slash = 0;
                if (dx_mkdirs(path, &err))
                    dx_die("png-out: %s", err.msg);
                *slash = '/';
            } else {
                item_path(path, sizeof path, argv[1], opt.start + done + k,
                          done > 0 ? 2 : n);
            }
            if (dx_png_write(path, w, h, outc, depth, buf, &err))
                dx_die_err(&err);
        }
        done += n;
        free(buf);
        tns_stream_free(&s);
    }
    if (got < 0)
        dx_die_err(&err);
    tns_close(&r);
    return 0;
}

/* How one frame of a tile sheet becomes RGB. */
enum { AS_AUTO, AS_COLOR, AS_MASK };

/* The colour of element p (a pixel index over the whole batch). */
static void tile_rgb(const tns_frame *f, int as, size_t p, uint8_t rgb[3])
{
    if (f->rank == 4) {
        for (int c = 0; c < 3; c++)
            rgb[c] = ((const uint8_t *)f->data)[3 * p + (size_t)c];
        return;
    }
    double v = value_at(f, p);
    if (as == AS_COLOR) {
        dx_class_color(v >= 0 && v <= 65535 ? (int)v : DX_IGNORE, rgb);
        return;
    }
    double g = as == AS_MASK ? (v != 0) * 255.0
               : f->dtype == DX_F32
                   ? (v - opt.lo) / (opt.hi - opt.lo) * 255.0 + 0.5
                   : v;
    g = v != v ? 0 : g < 0 ? 0 : g > 255 ? 255 : g;
    rgb[0] = rgb[1] = rgb[2] = (uint8_t)g;
}

static int cmd_tile(int argc, char **argv)
{
    if (argc < 2)
        dx_die("tile: expected OUT.png and at least one FRAME");
    enum { GAP = 4 };
    int nf = argc - 1;
    tns_stream s;
    dx_err err;
    load(&s, opt.in);
    const tns_frame **f = calloc((size_t)nf, sizeof *f);
    int *as = calloc((size_t)nf, sizeof *as);
    if (!f || !as)
        dx_die("tile: out of memory");
    for (int k = 0; k < nf; k++) {
        char name[TNS_MAX_NAME + 8], shape[160];
        snprintf(name, sizeof name, "%s", argv[k + 1]);
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = 0;
            if (strcmp(colon + 1, "color") == 0)
                as[k] = AS_COLOR;
            else if (strcmp(colon + 1, "mask") == 0)
                as[k] = AS_MASK;
            else
                dx_die("tile: '%s': expected NAME, NAME:color or NAME:mask",
                       argv[k + 1]);
        }
        f[k] = tns_stream_get(&s, name);
        if (!f[k])
            dx_die("tile: no frame '%s' in the input stream", name);
        tns_shape_str(f[k], shape, sizeof shape);
        int image = f[k]->rank == 4 && f[k]->dims[3] == 3 &&
                    f[k]->dtype == DX_U8;
        if (!(image || f[k]->rank == 3) || (image && as[k]) ||
            f[k]->dtype == DX_I32)
            dx_die("tile: frame '%s' is %s %s, expected u8 NxHxWx3 images "
                   "or NxHxW maps", name, dx_dtype_name(f[k]->dtype), shape);
        if (k > 0 && dx_same_nhw(f[k], f[0], &err))
            dx_die("tile: %s", err.msg);
    }
    int64_t n = f[0]->dims[0], h = f[0]->dims[1], w = f[0]->dims[2];
    int64_t W = nf * w + (nf - 1) * GAP, H = n * h + (n - 1) * GAP;
    if (n < 1 || W > DX_MAX_IMAGE_SIDE || H > DX_MAX_IMAGE_SIDE)
        dx_die("tile: a sheet of %lldx%lld pixels is outside [1, %d]",
               (long long)W, (long long)H, DX_MAX_IMAGE_SIDE);
    uint8_t *sheet = malloc((size_t)(W * H * 3));
    if (!sheet)
        dx_die("tile: out of memory");
    memset(sheet, 255, (size_t)(W * H * 3));
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nf; k++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    size_t at = (size_t)(((i * (h + GAP) + y) * W +
                                          k * (w + GAP) + x) * 3);
                    tile_rgb(f[k], as[k], (size_t)((i * h + y) * w + x),
                             sheet + at);
                }
    if (dx_png_write(argv[0], (int)W, (int)H, 3, 8, sheet, &err))
        dx_die_err(&err);
    free(sheet);
    free(f);
    free(as);
    tns_stream_free(&s);
    return 0;
}

static int cmd_npy_in(int argc, char **argv)
{
    if (argc < 1)
        dx_die("npy-in: expected at least one .npy file");
    if (opt.name && argc > 1)
        dx_die("npy-in: --name needs exactly one file, got %d", argc);
    tns_stream s;
    dx_err err;
    base_stream(&s);
    for (int k = 0; k < argc; k++) {
        char name[TNS_MAX_NAME + 1];
        if (opt.name) {
            snprintf(name, sizeof name, "%s", opt.name);
        } else {
            const char *b = strrchr(argv[k], '/');
            b = b ? b + 1 : argv[k];
            size_t len = strlen(b);
            if (len > 4 && strcmp(b + len - 4, ".npy") == 0)
                len -= 4;
            snprintf(name, sizeof name, "%.*s", (int)len, b);
        }
        tns_frame f;
        if (dx_npy_read(argv[k], name, &f, &err))
            dx_die_err(&err);
        if (tns_stream_put(&s, &f, opt.replace, &err))
            dx_die_err(&err);
    }
    save(&s);
    return 0;
}

static int cmd_npy_out(int argc, char **argv)
{
    tns_stream s;
    dx_err err;
    if (opt.dir) {
        if (argc != 0)
            dx_die("npy-out: --dir takes no other arguments");
        load(&s, opt.in);
        if (mkdir(opt.dir, 0777) != 0) {
            struct stat st;
            if (stat(opt.dir, &st) != 0 || !S_ISDIR(st.st_mode))
                dx_die("npy-out: cannot create directory %s", opt.dir);
        }
        for (int i = 0; i < s.n; i++) {
            char path[4096];
            if (strchr(s.v[i].name, '/'))
                dx_die("npy-out: frame name '%s' holds '/', which cannot be "
                       "a file name; rename it first", s.v[i].name);
            snprintf(path, sizeof path, "%s/%s.npy", opt.dir, s.v[i].name);
            if (dx_npy_write(path, &s.v[i], &err))
                dx_die_err(&err);
        }
    } else {
        if (argc != 2)
            dx_die("npy-out: expected NAME and FILE.npy, or --dir DIR");
        load(&s, opt.in);
        tns_frame *f = tns_stream_get(&s, argv[0]);
        if (!f)
            dx_die("npy-out: no frame '%s' in the input stream", argv[0]);
        if (dx_npy_write(argv[1], f, &err))
            dx_die_err(&err);
    }
    tns_stream_free(&s);
    return 0;
}

/* Each command's options: the shared ones (DX_CLI_* bits) and its own
 * (OWN_* bits).  Any other option is refused, naming the command. */
enum { O_NAME = DX_OPT_TOOL, O_AS, O_COLOR, O_RANGE, O_START, O_DIR,
       O_LABELIDS, O_NAMES };
enum { OWN_NAME = 1, OWN_AS = 2, OWN_COLOR = 4, OWN_RANGE = 8, OWN_START = 16,
       OWN_DIR = 32, OWN_LABELIDS = 64, OWN_NAMES = 128 };
enum { IO = DX_CLI_INPUT | DX_CLI_OUTPUT };

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    unsigned take, own;
} COMMANDS[] = {
    {"info", cmd_info, 0, 0},
    {"select", cmd_select, IO | DX_CLI_LIVE, 0},
    {"drop", cmd_drop, IO | DX_CLI_LIVE, 0},
    {"rename", cmd_rename, IO | DX_CLI_REPLACE | DX_CLI_LIVE, 0},
    {"cat", cmd_cat, DX_CLI_OUTPUT | DX_CLI_REPLACE, 0},
    {"zip", cmd_zip, DX_CLI_OUTPUT | DX_CLI_REPLACE | DX_CLI_LIVE, 0},
    {"get", cmd_get, DX_CLI_INPUT, 0},
    {"png-in", cmd_png_in, IO | DX_CLI_REPLACE, OWN_NAME | OWN_AS},
    {"png-out", cmd_png_out, DX_CLI_INPUT,
     OWN_COLOR | OWN_RANGE | OWN_START | OWN_LABELIDS | OWN_NAMES},
    {"npy-in", cmd_npy_in, IO | DX_CLI_REPLACE, OWN_NAME},
    {"npy-out", cmd_npy_out, DX_CLI_INPUT, OWN_DIR},
    {"tile", cmd_tile, DX_CLI_INPUT, OWN_RANGE},
};
enum { NCOMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static const struct {
    struct option opt;
    unsigned own;
} OWN[] = {
    {{"name", required_argument, NULL, O_NAME}, OWN_NAME},
    {{"as", required_argument, NULL, O_AS}, OWN_AS},
    {{"color", no_argument, NULL, O_COLOR}, OWN_COLOR},
    {{"colour", no_argument, NULL, O_COLOR}, OWN_COLOR},
    {{"range", required_argument, NULL, O_RANGE}, OWN_RANGE},
    {{"start", required_argument, NULL, O_START}, OWN_START},
    {{"dir", required_argument, NULL, O_DIR}, OWN_DIR},
    {{"labelids", no_argument, NULL, O_LABELIDS}, OWN_LABELIDS},
    {{"names", required_argument, NULL, O_NAMES}, OWN_NAMES},
};
enum { NOWN = sizeof OWN / sizeof OWN[0] };

/* An option of another command given to cmd: refused, saying whose it
 * is, before getopt would call it merely unknown. */
static void refuse_foreign(const struct command *cmd, int argc, char **argv)
{
    static const struct {
        const char *shorts, *longs;
        unsigned bit;
    } SHARED[] = {{"-i", "--input", DX_CLI_INPUT},
                  {"-o", "--output", DX_CLI_OUTPUT},
                  {"", "--replace", DX_CLI_REPLACE},
                  {"", "--live", DX_CLI_LIVE}};
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        const char *a = argv[i];
        size_t n = strcspn(a, "=");
        const char *owner = NULL;
        for (size_t k = 0; k < sizeof SHARED / sizeof SHARED[0]; k++)
            if (!(cmd->take & SHARED[k].bit) &&
                ((*SHARED[k].shorts && !strncmp(a, SHARED[k].shorts, 2)) ||
                 (n > 2 && !strncmp(a, SHARED[k].longs, n) &&
                  !SHARED[k].longs[n])))
                owner = SHARED[k].longs;
        for (int k = 0; k < NOWN && !owner; k++)
            if (!(cmd->own & OWN[k].own) && n > 2 && !strncmp(a, "--", 2) &&
                !strncmp(a + 2, OWN[k].opt.name, n - 2) &&
                !OWN[k].opt.name[n - 2])
                owner = a;
        if (owner)
            dx_die("%s: option '%.*s' is not one of this command's (see "
                   "--help)", cmd->name, (int)n, a);
    }
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    if (argc < 2)
        dx_die("expected a command (see --help)");
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0)
        dx_help(USAGE);
    const struct command *cmd = NULL;
    for (int k = 0; k < NCOMMANDS; k++)
        if (strcmp(name, COMMANDS[k].name) == 0)
            cmd = &COMMANDS[k];
    if (!cmd)
        dx_die("unknown command '%s' (see --help)", name);
    argv++;
    argc--;
    refuse_foreign(cmd, argc, argv);
    struct option longopts[NOWN + 1];
    int n = 0;
    for (int k = 0; k < NOWN; k++)
        if (cmd->own & OWN[k].own)
            longopts[n++] = OWN[k].opt;
    memset(&longopts[n], 0, sizeof longopts[n]);
    static const char *const as_words[] = {"rgb", "label", "raw", NULL};
    dx_cli cli = {.take = cmd->take};
    int c;
    while ((c = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case O_NAME:
            opt.name = dx_arg_frame("--name", optarg, tns_name_ok);
            break;
        case O_AS:
            opt.as = dx_arg_enum("--as", optarg, as_words);
            break;
        case O_COLOR:
            opt.color = 1;
            break;
        case O_RANGE: {
            char *comma = strchr(optarg, ',');
            if (!comma)
                dx_die("--range: expected LO,HI, got '%s'", optarg);
            *comma = 0;
            opt.lo = dx_arg_double("--range", optarg, -1e30, 1e30);
            opt.hi = dx_arg_double("--range", comma + 1, -1e30, 1e30);
            if (!(opt.hi > opt.lo))
                dx_die("--range: HI must be above LO");
            break;
        }
        case O_START:
            opt.start = dx_arg_long("--start", optarg, 0, 1000000000);
            break;
        case O_DIR:
            opt.dir = optarg;
            break;
        case O_LABELIDS:
            opt.labelids = 1;
            break;
        case O_NAMES:
            opt.names = dx_arg_frame("--names", optarg, tns_name_ok);
            break;
        case 'h':
            dx_help(USAGE);
        }
    }
    if (opt.color && opt.labelids)
        dx_die("png-out: --color and --labelids are two encodings; give "
               "one");
    opt.in = cli.in;
    opt.out = cli.out;
    opt.replace = cli.replace;
    tns_set_live(cli.live);
    return cmd->run(argc - optind, argv + optind);
}
