/* test_confusion.c - confusion matrix and IoU by the Cityscapes rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "data/confusion.h"

static tns_frame labels(const char *name, int dtype, int n, const int *v)
{
    tns_frame f;
    dx_err err;
    int64_t dims[3] = {1, 1, n};
    if (tns_frame_alloc(&f, name, dtype, 3, dims, &err))
        abort();
    for (int i = 0; i < n; i++) {
        if (dtype == DX_U8)
            ((uint8_t *)f.data)[i] = (uint8_t)v[i];
        else
            ((uint16_t *)f.data)[i] = (uint16_t)v[i];
    }
    return f;
}

/* 4 classes.  Ground truth and prediction, pixel by pixel:
 *   gt   0 0 0 1 1 2 2 255 255 0
 *   pred 0 0 1 1 3 2 255 0 3   3
 * class 0: TP 2, FN 2 (a 1 and a 3), FP 0       -> IoU 2/4
 * class 1: TP 1, FN 1 (a 3), FP 1 (gt 0)        -> IoU 1/3
 * class 2: TP 1, FN 1 (void prediction 255)     -> IoU 1/2
 * class 3: TP 0, FP 2 (gt 1, gt 0), no gt       -> IoU 0
 * (predictions on gt 255 count nowhere) */
static const int GT[10] = {0, 0, 0, 1, 1, 2, 2, 255, 255, 0};
static const int PRED[10] = {0, 0, 1, 1, 3, 2, 255, 0, 3, 3};

static void test_known_pair(void)
{
    dx_confusion cm;
    dx_err err;
    CHECK(dx_confusion_init(&cm, 4, &err) == 0, "init 4 classes");
    tns_frame g = labels("gt", DX_U8, 10, GT), p = labels("pred", DX_U8, 10,
                                                          PRED);
    CHECK(dx_confusion_add(&cm, &p, &g, &err) == 0, "add a pair");
    CHECK(*dx_confusion_at(&cm, 0, 0) == 2 && *dx_confusion_at(&cm, 0, 1) == 1
              && *dx_confusion_at(&cm, 0, 3) == 1 &&
              *dx_confusion_at(&cm, 2, 4) == 1 && cm.ignored == 2,
          "matrix entries, void column, ignored count");
    double iou[4], acc[4];
    uint64_t tp[4], fp[4], fn[4];
    dx_confusion_scores(&cm, iou, acc, tp, fp, fn);
    CHECK(iou[0] == 0.5 && tp[0] == 2 && fp[0] == 0 && fn[0] == 2,
          "class 0: IoU 2/4");
    CHECK_CLOSE(iou[1], 1.0 / 3, 1e-15, 0, "class 1: IoU 1/3");
    CHECK(iou[2] == 0.5 && fn[2] == 1 && fp[2] == 0,
          "class 2: a void prediction is a miss, not a false positive");
    CHECK(iou[3] == 0 && fp[3] == 2 && isnan(acc[3]),
          "class 3: predicted but absent from the ground truth: IoU 0");
    CHECK(acc[0] == 0.5 && acc[1] == 0.5 && acc[2] == 0.5, "accuracies");
    int used;
    double m = dx_mean_defined(iou, NULL, 4, &used);
    CHECK_CLOSE(m, (0.5 + 1.0 / 3 + 0.5 + 0) / 4, 1e-15, 0,
                "mIoU averages all 4 (class 3 counts as 0)");
    CHECK_CLOSE(dx_confusion_pixel_acc(&cm), 4.0 / 8, 1e-15, 0,
                "pixel accuracy 4/8");

    /* a fifth class with neither ground truth nor prediction is left out */
    dx_confusion c5;
    dx_confusion_init(&c5, 5, &err);
    dx_confusion_add(&c5, &p, &g, &err);
    double iou5[5];
    dx_confusion_scores(&c5, iou5, NULL, NULL, NULL, NULL);
    CHECK(isnan(iou5[4]), "absent from ground truth and prediction: NaN");
    CHECK(dx_mean_defined(iou5, NULL, 5, &used) == m && used == 4,
          "... and left out of the mean");
    static const int ids[2] = {1, 4};
    CHECK_CLOSE(dx_mean_defined(iou5, ids, 2, &used), 1.0 / 3, 1e-15, 0,
                "a subset mean skips NaN too");
    static const int none[1] = {4};
    CHECK(isnan(dx_mean_defined(iou5, none, 1, &used)) && used == 0,
          "a mean of nothing is NaN");

    /* the same pair twice doubles every count: accumulation */
    dx_confusion_add(&cm, &p, &g, &err);
    CHECK(*dx_confusion_at(&cm, 0, 0) == 4 && cm.ignored == 4,
          "counts accumulate across pairs");

    /* save and load round-trip, and merge */
    char path[] = "/tmp/dacs-confusion-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    dx_confusion back;
    CHECK(dx_confusion_save(&cm, path, &err) == 0 &&
              dx_confusion_load(&back, path, &err) == 0 &&
              back.classes == 4 && back.ignored == cm.ignored &&
              memcmp(back.m, cm.m, 4 * 5 * sizeof *cm.m) == 0,
          "save and load give the same matrix");
    CHECK(dx_confusion_merge(&back, &cm, &err) == 0 &&
              *dx_confusion_at(&back, 0, 0) == 8,
          "merge adds counts");
    CHECK(dx_confusion_merge(&back, &c5, &err) != 0,
          "merging 4 and 5 classes is refused: %s", err.msg);
    /* 64-bit counts: a count past 2^32 survives the file */
    *dx_confusion_at(&back, 3, 2) = 5000000000ull;
    dx_confusion big;
    CHECK(dx_confusion_save(&back, path, &err) == 0 &&
              dx_confusion_load(&big, path, &err) == 0 &&
              *dx_confusion_at(&big, 3, 2) == 5000000000ull,
          "counts above 2^32 are kept");
    dx_confusion_free(&big);
    FILE *out = fopen(path, "w");
    fputs("classes 2\nignored 0\n1 2 3\n4 5\n", out);
    fclose(out);
    CHECK(dx_confusion_load(&big, path, &err) != 0 &&
              strstr(err.msg, "line 4"),
          "a short row is refused: %s", err.msg);
    unlink(path);
    dx_confusion_free(&back);
    dx_confusion_free(&cm);
    dx_confusion_free(&c5);
    tns_frame_free(&g);
    tns_frame_free(&p);
}

static void test_errors(void)
{
    dx_confusion cm;
    dx_err err;
    dx_confusion_init(&cm, 19, &err);
    static const int ok[3] = {0, 18, 255}, bad[3] = {0, 19, 255};
    static const int big[3] = {0, 1000, 255};
    tns_frame g = labels("tgt.label", DX_U16, 3, ok);
    tns_frame p = labels("tgt.pred", DX_U8, 3, bad);
    CHECK(dx_confusion_add(&cm, &p, &g, &err) != 0 &&
              strstr(err.msg, "frame 'tgt.pred' has 19 at image 0 row 0 column 1"),
          "prediction 19 of 19 classes: %s", err.msg);
    tns_frame_free(&g);
    tns_frame_free(&p);
    g = labels("tgt.label", DX_U16, 3, big);
    p = labels("tgt.pred", DX_U8, 3, ok);
    CHECK(dx_confusion_add(&cm, &p, &g, &err) != 0 &&
              strstr(err.msg, "frame 'tgt.label' has 1000 at image 0 row 0 column 1"),
          "u16 ground truth 1000: %s", err.msg);
    tns_frame_free(&g);
    g = labels("tgt.label", DX_U16, 3, ok);
    CHECK(dx_confusion_add(&cm, &p, &g, &err) == 0 &&
              *dx_confusion_at(&cm, 18, 18) == 1,
          "u16 ground truth with u8 prediction");
    tns_frame q = labels("tgt.pred", DX_U8, 2, ok);
    CHECK(dx_confusion_add(&cm, &q, &g, &err) != 0 &&
              strstr(err.msg, "1x1x2") && strstr(err.msg, "1x1x3"),
          "shape mismatch: %s", err.msg);
    tns_frame_free(&g);
    tns_frame_free(&p);
    tns_frame_free(&q);
    dx_confusion_free(&cm);
}

int main(void)
{
    test_known_pair();
    test_errors();
    return check_done();
}
