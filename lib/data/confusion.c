/* confusion.c - confusion matrix, IoU and its text file. */
#include "data/confusion.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "data/batch.h"
#include "data/classes.h"

int dx_confusion_init(dx_confusion *cm, int classes, dx_err *err)
{
    memset(cm, 0, sizeof *cm);
    if (classes < 1 || classes > DX_MAX_CLASSES)
        return dx_fail(err, "%d classes, expected 1..%d", classes,
                       DX_MAX_CLASSES);
    cm->m = calloc((size_t)classes * (size_t)(classes + 1), sizeof *cm->m);
    if (!cm->m)
        return dx_fail(err, "out of memory");
    cm->classes = classes;
    return 0;
}

void dx_confusion_free(dx_confusion *cm)
{
    free(cm->m);
    memset(cm, 0, sizeof *cm);
}

static unsigned value_at(const tns_frame *f, size_t i)
{
    return f->dtype == DX_U8 ? ((const uint8_t *)f->data)[i]
                             : ((const uint16_t *)f->data)[i];
}

int dx_confusion_add(dx_confusion *cm, const tns_frame *pred,
                     const tns_frame *gt, dx_err *err)
{
    if (dx_check_labels(pred, cm->classes, err) ||
        dx_check_labels(gt, cm->classes, err) || dx_same_nhw(pred, gt, err))
        return -1;
    int c = cm->classes;
    for (size_t i = 0; i < gt->count; i++) {
        unsigned g = value_at(gt, i), p = value_at(pred, i);
        if (g == DX_IGNORE) {
            cm->ignored++;
            continue;
        }
        (*dx_confusion_at(cm, (int)g, p == DX_IGNORE ? c : (int)p))++;
    }
    return 0;
}

void dx_confusion_scores(const dx_confusion *cm, double *iou, double *acc,
                         uint64_t *tp, uint64_t *fp, uint64_t *fn)
{
    int c = cm->classes;
    for (int k = 0; k < c; k++) {
        uint64_t t = *dx_confusion_at(cm, k, k), row = 0, col = 0;
        for (int j = 0; j <= c; j++)
            row += *dx_confusion_at(cm, k, j);
        for (int g = 0; g < c; g++)
            col += *dx_confusion_at(cm, g, k);
        uint64_t f_n = row - t, f_p = col - t, den = t + f_p + f_n;
        if (iou)
            iou[k] = den ? (double)t / (double)den : NAN;
        if (acc)
            acc[k] = row ? (double)t / (double)row : NAN;
        if (tp)
            tp[k] = t;
        if (fp)
            fp[k] = f_p;
        if (fn)
            fn[k] = f_n;
    }
}

double dx_mean_defined(const double *v, const int *ids, int n, int *used)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        double x = v[ids ? ids[i] : i];
        if (!isnan(x)) {
            sum += x;
            k++;
        }
    }
    if (used)
        *used = k;
    return k ? sum / k : NAN;
}

double dx_confusion_pixel_acc(const dx_confusion *cm)
{
    uint64_t good = 0, all = 0;
    for (int g = 0; g < cm->classes; g++)
        for (int p = 0; p <= cm->classes; p++) {
            uint64_t v = *dx_confusion_at(cm, g, p);
            all += v;
            if (g == p)
                good += v;
        }
    return all ? (double)good / (double)all : NAN;
}

int dx_confusion_save(const dx_confusion *cm, const char *path, dx_err *err)
{
    int c = cm->classes;
    /* at most 20 digits and a separator per count */
    size_t cap = 256 + (size_t)c * (size_t)(c + 1) * 21;
    char *buf = malloc(cap);
    if (!buf)
        return dx_fail(err, "out of memory");
    size_t at = (size_t)snprintf(
        buf, cap,
        "# dacs confusion matrix: rows ground truth 0..%d, columns "
        "prediction\n# 0..%d then 255 (void); pixels with ground truth 255 "
        "not counted\nclasses %d\nignored %" PRIu64 "\n",
        c - 1, c - 1, c, cm->ignored);
    for (int g = 0; g < c; g++)
        for (int p = 0; p <= c; p++)
            at += (size_t)snprintf(buf + at, cap - at, "%" PRIu64 "%c",
                                   *dx_confusion_at(cm, g, p),
                                   p == c ? '\n' : ' ');
    int rc = dx_atomic_write(path, buf, at, err);
    free(buf);
    return rc;
}

/* The next line that is not a comment, without its newline; NULL at end. */
static char *next_line(FILE *fp, char **line, size_t *cap, long *lineno)
{
    ssize_t len;
    while ((len = getline(line, cap, fp)) >= 0) {
        (*lineno)++;
        if (len > 0 && (*line)[len - 1] == '\n')
            (*line)[len - 1] = 0;
        if ((*line)[0] != '#')
            return *line;
    }
    return NULL;
}

int dx_confusion_load(dx_confusion *cm, const char *path, dx_err *err)
{
    memset(cm, 0, sizeof *cm);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int classes;
    uint64_t ignored;
    char *l = next_line(fp, &line, &cap, &no);
    if (!l || sscanf(l, "classes %d", &classes) != 1) {
        dx_fail(err, "%s: line %ld: expected 'classes C'", path, no);
        goto fail;
    }
    if (dx_confusion_init(cm, classes, err)) {
        dx_wrap(err, "%s: ", path);
        goto fail;
    }
    l = next_line(fp, &line, &cap, &no);
    if (!l || sscanf(l, "ignored %" SCNu64, &ignored) != 1) {
        dx_fail(err, "%s: line %ld: expected 'ignored K'", path, no);
        goto fail;
    }
    cm->ignored = ignored;
    for (int g = 0; g < classes; g++) {
        l = next_line(fp, &line, &cap, &no);
        if (!l) {
            dx_fail(err, "%s: ends after %d of %d rows", path, g, classes);
            goto fail;
        }
        char *p = l;
        for (int q = 0; q <= classes; q++) {
            char *end;
            errno = 0;
            while (*p == ' ')
                p++;
            if (*p < '0' || *p > '9') {
                dx_fail(err, "%s: line %ld: expected %d counts", path, no,
                        classes + 1);
                goto fail;
            }
            unsigned long long v = strtoull(p, &end, 10);
            if (errno) {
                dx_fail(err, "%s: line %ld: count %d out of range", path, no,
                        q);
                goto fail;
            }
            *dx_confusion_at(cm, g, q) = v;
            p = end;
        }
        while (*p == ' ')
            p++;
        if (*p) {
            dx_fail(err, "%s: line %ld: expected %d counts, found more", path,
                    no, classes + 1);
            goto fail;
        }
    }
    if (next_line(fp, &line, &cap, &no)) {
        dx_fail(err, "%s: line %ld: unexpected text after the matrix", path,
                no);
        goto fail;
    }
    free(line);
    fclose(fp);
    return 0;
fail:
    free(line);
    fclose(fp);
    dx_confusion_free(cm);
    return -1;
}

int dx_confusion_merge(dx_confusion *cm, const dx_confusion *other,
                       dx_err *err)
{
    if (cm->classes != other->classes)
        return dx_fail(err, "confusion matrices of %d and %d classes",
                       cm->classes, other->classes);
    size_t n = (size_t)cm->classes * (size_t)(cm->classes + 1);
    for (size_t i = 0; i < n; i++)
        cm->m[i] += other->m[i];
    cm->ignored += other->ignored;
    return 0;
}
