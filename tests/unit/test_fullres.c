/* test_fullres.c - full-resolution evaluation: probabilities resized to
 * the full-size label as mmsegmentation resizes logits (bilinear,
 * align_corners=False), then scored by the Cityscapes rules, against
 * PyTorch and the rules restated in tests/ref/fullres_ref.py
 * (tests/fixtures/fullres). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "data/confusion.h"
#include "data/resize.h"

static int load(const char *name, tns_frame *f)
{
    return fixture_npy("fullres", name, f);
}

int main(void)
{
    tns_frame prob, up, want, gt;
    if (load("prob.npy", &prob) || load("up.npy", &up) ||
        load("pred.npy", &want) || load("gt.npy", &gt))
        return check_done();
    int n = (int)prob.dims[0], c = (int)prob.dims[1], h = (int)prob.dims[2],
        w = (int)prob.dims[3], H = (int)gt.dims[1], W = (int)gt.dims[2];
    size_t HW = (size_t)H * W;
    dx_err err;
    tns_frame pred, near;
    int64_t d[3] = {n, H, W};
    tns_frame_alloc(&pred, "tgt.pred", DX_U8, 3, d, &err);
    tns_frame_alloc(&near, "tgt.pred", DX_U8, 3, d, &err);
    float *out = malloc(sizeof *out * (size_t)c * HW);
    float *conf = malloc(sizeof *conf * HW);
    uint8_t *pr2 = malloc(HW);
    double worst = 0, worst_conf = 0;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const float *p = (const float *)prob.data + (size_t)i * c * h * w;
        uint8_t *pr = (uint8_t *)pred.data + (size_t)i * HW;
        rc = dx_prob_resize(out, pr, conf, p, c, h, w, H, W, &err) ||
             dx_prob_resize(NULL, pr2, NULL, p, c, h, w, H, W, &err);
        const float *u = (const float *)up.data + (size_t)i * c * HW;
        for (size_t q = 0; q < (size_t)c * HW; q++) {
            double e = fabs((double)out[q] - (double)u[q]);
            worst = e > worst ? e : worst;
        }
        for (size_t q = 0; q < HW; q++) {
            double e = fabs((double)conf[q] - (double)u[pr[q] * HW + q]);
            worst_conf = e > worst_conf ? e : worst_conf;
            rc |= pr2[q] != pr[q];
        }
        /* the naive alternative: the arg-max at low resolution, then
         * nearest up to the label (it must disagree, or the fixture could
         * not tell) */
        uint8_t *nr = (uint8_t *)near.data + (size_t)i * HW;
        for (int Y = 0; Y < H; Y++)
            for (int X = 0; X < W; X++) {
                int y = Y * h / H, x = X * w / W, best = 0;
                for (int k = 1; k < c; k++)
                    if (p[(size_t)k * h * w + y * w + x] >
                        p[(size_t)best * h * w + y * w + x])
                        best = k;
                nr[Y * W + X] = (uint8_t)best;
            }
    }
    CHECK(rc == 0, "resize runs; the arg-max alone equals the arg-max with "
          "the probabilities");
    CHECK(worst < 2e-6, "resized probabilities = softmax of PyTorch's "
          "bilinear resize of the logits, align_corners=False (max error "
          "%.2g)", worst);
    CHECK(worst_conf < 2e-6, "confidence = the arg-max's probability (max "
          "error %.2g)", worst_conf);
    size_t diff = 0, naive = 0;
    for (size_t q = 0; q < (size_t)n * HW; q++) {
        diff += ((uint8_t *)pred.data)[q] != ((uint8_t *)want.data)[q];
        naive += ((uint8_t *)near.data)[q] != ((uint8_t *)want.data)[q];
    }
    CHECK(diff == 0 && naive > 20, "arg-max at full size = PyTorch's "
          "(%zu of %zu differ; nearest-upsampled low-resolution arg-max: "
          "%zu)", diff, (size_t)n * HW, naive);

    /* scored by the Cityscapes rules */
    dx_confusion cm;
    double iou[19];
    if (dx_confusion_init(&cm, 19, &err) ||
        dx_confusion_add(&cm, &pred, &gt, &err)) {
        CHECK(0, "confusion: %s", err.msg);
        return check_done();
    }
    dx_confusion_scores(&cm, iou, NULL, NULL, NULL, NULL);
    char path[4096], key[32], val[32];
    FILE *f = fopen(fixture_path(path, sizeof path, "fullres", "expected.tsv"),
                    "r");
    int rows = 0, bad = 0;
    while (f && fscanf(f, "%31s %31s", key, val) == 2) {
        double e = strcmp(val, "nan") ? atof(val) : NAN;
        double got = strcmp(key, "miou") ? 100 * iou[atoi(key)]
                                         : 100 * dx_mean_defined(iou, NULL,
                                                                 19, NULL);
        bad += isnan(e) ? !isnan(got) : !(fabs(got - e) < 1e-4);
        rows++;
    }
    if (f)
        fclose(f);
    CHECK(rows == 20 && bad == 0, "per-class IoU and mIoU at full size "
          "equal the Cityscapes scripts' rules (%d of %d rows differ)", bad,
          rows);
    /* bad sizes are refused */
    CHECK(dx_prob_resize(out, NULL, NULL, prob.data, 0, h, w, H, W, &err) ==
              -1 && strstr(err.msg, "0 classes"),
          "no classes refused: %s", err.msg);
    dx_confusion_free(&cm);
    free(out);
    free(conf);
    free(pr2);
    tns_frame_free(&prob);
    tns_frame_free(&up);
    tns_frame_free(&want);
    tns_frame_free(&gt);
    tns_frame_free(&pred);
    tns_frame_free(&near);
    return check_done();
}
