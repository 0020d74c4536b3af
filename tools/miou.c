/* miou - mean intersection over union of label maps.
 *
 *   miou [OPTIONS] [FILE]
 *   miou [OPTIONS] --pred FILE --gt FILE
 *
 * Accumulates one confusion matrix over every segment and reports
 * per-class IoU and accuracy and the mIoU over 19, 16 and 13 classes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "data/classes.h"
#include "base/cli.h"
#include "data/confusion.h"
#include "io/tns.h"

#define USAGE                                                                 \
    "usage: miou [OPTIONS] [FILE]\n"                                          \
    "       miou [OPTIONS] --pred FILE --gt FILE\n"                           \
    "Mean intersection over union, by the rules of the Cityscapes scripts.\n" \
    "Reads predicted labels (u8/u16 NxHxW) and ground truth (u8/u16 NxHxW)\n" \
    "from every segment of one stream (FILE, or stdin), or segment by\n"      \
    "segment from two streams, and accumulates one confusion matrix over\n"   \
    "all of them.  Ground truth 255 is ignored; a prediction of 255 counts\n" \
    "as a miss.  IoU_c = TP/(TP+FP+FN); a class with no ground truth and no\n" \
    "prediction has no IoU and is left out of the means; one predicted but\n" \
    "absent from the ground truth has IoU 0.  Scores are percentages.\n"      \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --pred-frame NAME   prediction frame (default %s)\n"                   \
    "  --gt-frame NAME     ground-truth frame (default %s)\n"                 \
    "  --pred FILE         read predictions from this stream ...\n"           \
    "  --gt FILE           ... and the ground truth from this one\n"          \
    "  --classes N         classes 0..N-1 (default %d, the Cityscapes train\n" \
    "                      ids; mIoU over 16 and 13 classes only for these)\n" \
    "  --names FILE        class names, one per line (sets N)\n"              \
    "  --format FMT        text, tsv or json (default %s)\n"                  \
    "  --confusion FILE    also save the confusion matrix as text (rows\n"    \
    "                      ground truth, columns prediction then 255; see\n"  \
    "                      miou(1))\n"

#define DEFAULT_PRED "tgt.pred"
#define DEFAULT_GT "tgt.label"
static const char *const FORMATS[] = {"text", "tsv", "json", NULL};

/* SYNTHIA has no terrain (9), truck (14) or train (16); the 13-class mIoU
 * also leaves out wall (3), fence (4) and pole (5). */
static const int SYN16[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15,
                            17, 18};
static const int SYN13[] = {0, 1, 2, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18};

#define NAME_MAX_LEN 64

static struct {
    dx_cli cli;
    const char *pred_file, *gt_file, *names_file, *confusion;
    const char *pred, *gt;
    int classes, format;
    char names[DX_MAX_CLASSES][NAME_MAX_LEN];
    int cityscapes; /* the default label set: report 16 and 13 too */
} opt = {.cli.take = DX_CLI_INPUT | DX_CLI_FILE | DX_CLI_OUTPUT,
         .pred = DEFAULT_PRED, .gt = DEFAULT_GT, .classes = -1};

static void read_names(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        dx_die("--names: cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int n = 0;
    long no = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        no++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        if (len == 0)
            dx_die("--names: %s: line %ld is empty, expected a class name",
                   path, no);
        if (len >= NAME_MAX_LEN || strpbrk(line, "\t\"\\"))
            dx_die("--names: %s: line %ld: expected a name of 1-%d "
                   "characters without tabs, quotes or backslashes", path, no,
                   NAME_MAX_LEN - 1);
        if (n == DX_MAX_CLASSES)
            dx_die("--names: %s: more than %d names", path, DX_MAX_CLASSES);
        snprintf(opt.names[n++], NAME_MAX_LEN, "%s", line);
    }
    free(line);
    fclose(fp);
    if (n == 0)
        dx_die("--names: %s holds no names", path);
    if (opt.classes > 0 && opt.classes != n)
        dx_die("--names: %s holds %d names, but --classes is %d", path, n,
               opt.classes);
    opt.classes = n;
}

static void add_segment(dx_confusion *cm, const tns_stream *ps,
                        const tns_stream *gs, const char *where)
{
    dx_err err;
    const tns_frame *p = tns_stream_cget(ps, opt.pred);
    const tns_frame *g = tns_stream_cget(gs, opt.gt);
    if (!p || !g)
        dx_die("%s: missing frame '%s' in the input stream", where,
               p ? opt.gt : opt.pred);
    if (dx_confusion_add(cm, p, g, &err))
        dx_die("%s: %s", where, err.msg);
}

static void accumulate(dx_confusion *cm)
{
    tns_reader a, b;
    tns_stream sa, sb;
    dx_err err;
    char where[300];
    long seg = 0;
    if (!opt.pred_file) {
        if (tns_open(&a, opt.cli.in, &err))
            dx_die_err(&err);
        int got;
        while ((got = tns_read_segment(&a, &sa, &err)) == 1) {
            snprintf(where, sizeof where, "%s: segment %ld", a.src, seg++);
            add_segment(cm, &sa, &sa, where);
            tns_stream_free(&sa);
        }
        if (got < 0)
            dx_die_err(&err);
        tns_close(&a);
        return;
    }
    if (tns_open(&a, opt.pred_file, &err) || tns_open(&b, opt.gt_file, &err))
        dx_die_err(&err);
    for (;; seg++) {
        int ga = tns_read_segment(&a, &sa, &err);
        if (ga < 0)
            dx_die_err(&err);
        int gb = tns_read_segment(&b, &sb, &err);
        if (gb < 0)
            dx_die_err(&err);
        if (ga != gb)
            dx_die("%s has %ld segments, %s has more: expected one ground "
                   "truth per prediction", ga ? opt.gt_file : opt.pred_file,
                   seg, ga ? opt.pred_file : opt.gt_file);
        if (ga == 0)
            break;
        snprintf(where, sizeof where, "segment %ld", seg);
        add_segment(cm, &sa, &sb, where);
        tns_stream_free(&sa);
        tns_stream_free(&sb);
    }
    tns_close(&a);
    tns_close(&b);
}

/* Append to a growing report buffer. */
static char *rep;
static size_t rep_len, rep_cap;

__attribute__((format(printf, 1, 2))) static void put(const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(rep + rep_len, rep_cap - rep_len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < rep_cap - rep_len) {
            rep_len += (size_t)n;
            return;
        }
        rep_cap = rep_cap ? 2 * rep_cap + (size_t)n : 4096 + (size_t)n;
        if (!(rep = realloc(rep, rep_cap)))
            dx_die("out of memory");
    }
}

/* A score as a percentage, or the format's word for "none". */
static void score(double v, const char *fmt, const char *none)
{
    if (isnan(v))
        put("%s", none);
    else
        put(fmt, 100 * v);
}

enum { F_TEXT, F_TSV, F_JSON };

static void report(const dx_confusion *cm)
{
    int c = cm->classes;
    double iou[DX_MAX_CLASSES], acc[DX_MAX_CLASSES];
    uint64_t tp[DX_MAX_CLASSES], fp[DX_MAX_CLASSES], fn[DX_MAX_CLASSES];
    dx_confusion_scores(cm, iou, acc, tp, fp, fn);
    int used, used16 = 0, used13 = 0;
    double m = dx_mean_defined(iou, NULL, c, &used), m16 = NAN, m13 = NAN;
    if (opt.cityscapes) {
        m16 = dx_mean_defined(iou, SYN16, 16, &used16);
        m13 = dx_mean_defined(iou, SYN13, 13, &used13);
    }
    double pa = dx_confusion_pixel_acc(cm);
    uint64_t counted = 0;
    for (int k = 0; k < c; k++)
        counted += tp[k] + fn[k];
    if (opt.format == F_TEXT) {
        int wid = 14;
        for (int k = 0; k < c; k++)
            if ((int)strlen(opt.names[k]) > wid)
                wid = (int)strlen(opt.names[k]);
        put("%-*s %7s %7s\n", wid, "class", "IoU", "acc");
        for (int k = 0; k < c; k++) {
            put("%-*s ", wid, opt.names[k]);
            score(iou[k], "%7.2f", "    n/a");
            put(" ");
            score(acc[k], "%7.2f", "    n/a");
            put("\n");
        }
        put("mIoU (%d classes): ", c);
        score(m, "%.2f", "n/a");
        put(" (%d with data)\n", used);
        if (opt.cityscapes) {
            put("mIoU (16 SYNTHIA classes): ");
            score(m16, "%.2f", "n/a");
            put(" (%d with data)\nmIoU (13 classes): ", used16);
            score(m13, "%.2f", "n/a");
            put(" (%d with data)\n", used13);
        }
        put("pixel accuracy: ");
        score(pa, "%.2f", "n/a");
        put("\npixels: %llu counted, %llu ignored\n",
            (unsigned long long)counted, (unsigned long long)cm->ignored);
    } else if (opt.format == F_TSV) {
        put("id\tclass\tiou\tacc\ttp\tfp\tfn\n");
        for (int k = 0; k < c; k++) {
            put("%d\t%s\t", k, opt.names[k]);
            score(iou[k], "%.4f", "nan");
            put("\t");
            score(acc[k], "%.4f", "nan");
            put("\t%llu\t%llu\t%llu\n", (unsigned long long)tp[k],
                (unsigned long long)fp[k], (unsigned long long)fn[k]);
        }
        put("miou\t");
        score(m, "%.4f", "nan");
        if (opt.cityscapes) {
            put("\nmiou16\t");
            score(m16, "%.4f", "nan");
            put("\nmiou13\t");
            score(m13, "%.4f", "nan");
        }
        put("\npixel_acc\t");
        score(pa, "%.4f", "nan");
        put("\npixels\t%llu\nignored\t%llu\n", (unsigned long long)counted,
            (unsigned long long)cm->ignored);
    } else {
        put("{\"classes\": %d, \"miou\": ", c);
        score(m, "%.4f", "null");
        put(", \"miou_classes\": %d", used);
        if (opt.cityscapes) {
            put(", \"miou16\": ");
            score(m16, "%.4f", "null");
            put(", \"miou13\": ");
            score(m13, "%.4f", "null");
        }
        put(", \"pixel_acc\": ");
        score(pa, "%.4f", "null");
        put(", \"pixels\": %llu, \"ignored\": %llu,\n \"per_class\": [\n",
            (unsigned long long)counted, (unsigned long long)cm->ignored);
        for (int k = 0; k < c; k++) {
            put("  {\"id\": %d, \"name\": \"%s\", \"iou\": ", k,
                opt.names[k]);
            score(iou[k], "%.4f", "null");
            put(", \"acc\": ");
            score(acc[k], "%.4f", "null");
            put(", \"tp\": %llu, \"fp\": %llu, \"fn\": %llu}%s\n",
                (unsigned long long)tp[k], (unsigned long long)fp[k],
                (unsigned long long)fn[k], k + 1 < c ? "," : "");
        }
        put(" ]}\n");
    }
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    enum { O_PF = DX_OPT_TOOL, O_GF, O_PRED, O_GT, O_CLASSES, O_NAMES,
           O_FORMAT, O_CONF };
    static const struct option longopts[] = {
        {"pred-frame", required_argument, NULL, O_PF},
        {"gt-frame", required_argument, NULL, O_GF},
        {"pred", required_argument, NULL, O_PRED},
        {"gt", required_argument, NULL, O_GT},
        {"classes", required_argument, NULL, O_CLASSES},
        {"names", required_argument, NULL, O_NAMES},
        {"format", required_argument, NULL, O_FORMAT},
        {"confusion", required_argument, NULL, O_CONF},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = dx_cli_next(&opt.cli, argc, argv, "", longopts)) != -1) {
        switch (ch) {
        case O_PF:
            opt.pred = dx_arg_frame("--pred-frame", optarg, tns_name_ok);
            break;
        case O_GF:
            opt.gt = dx_arg_frame("--gt-frame", optarg, tns_name_ok);
            break;
        case O_PRED:
            opt.pred_file = optarg;
            break;
        case O_GT:
            opt.gt_file = optarg;
            break;
        case O_CLASSES:
            opt.classes = (int)dx_arg_long("--classes", optarg, 1,
                                           DX_MAX_CLASSES);
            break;
        case O_NAMES:
            opt.names_file = optarg;
            break;
        case O_FORMAT:
            opt.format = dx_arg_enum("--format", optarg, FORMATS);
            break;
        case O_CONF:
            opt.confusion = optarg;
            break;
        case 'h':
            dx_cli_help(&opt.cli, USAGE, DEFAULT_PRED, DEFAULT_GT,
                        DX_NUM_CLASSES, FORMATS[0]);
        }
    }
    dx_cli_end(&opt.cli, argc, argv);
    if (!opt.pred_file != !opt.gt_file)
        dx_die("--pred and --gt go together");
    if (opt.pred_file && opt.cli.in)
        dx_die("give either an input stream or --pred and --gt, not both");
    if (opt.names_file) {
        read_names(opt.names_file);
    } else {
        if (opt.classes < 0)
            opt.classes = DX_NUM_CLASSES;
        opt.cityscapes = opt.classes == DX_NUM_CLASSES;
        for (int k = 0; k < opt.classes; k++) {
            if (opt.cityscapes)
                snprintf(opt.names[k], NAME_MAX_LEN, "%s", dx_class_name(k));
            else
                snprintf(opt.names[k], NAME_MAX_LEN, "class%d", k);
        }
    }

    dx_confusion cm;
    dx_err err;
    if (dx_confusion_init(&cm, opt.classes, &err))
        dx_die_err(&err);
    accumulate(&cm);
    report(&cm);
    if (opt.confusion && dx_confusion_save(&cm, opt.confusion, &err))
        dx_die_err(&err);
    if (opt.cli.out) {
        if (dx_atomic_write(opt.cli.out, rep, rep_len, &err))
            dx_die_err(&err);
    } else if (fwrite(rep, 1, rep_len, stdout) != rep_len ||
               fflush(stdout) != 0) {
        dx_die("stdout: write failed");
    }
    free(rep);
    dx_confusion_free(&cm);
    return 0;
}
