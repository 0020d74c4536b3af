/* pseudo.c - argmax pseudo-labels, confidences and the lambda weight. */
#include "dacs/pseudo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/sampler.h"

const char *const dx_weight_mode_names[DX_WEIGHT_END + 1] = {
    [DX_WEIGHT_THRESHOLD_UNIFORM] = "threshold_uniform",
    [DX_WEIGHT_THRESHOLD] = "threshold",
    [DX_WEIGHT_NONE] = "none",
    [DX_WEIGHT_END] = NULL};

void dx_pseudo_defaults(dx_pseudo_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mode = DX_WEIGHT_THRESHOLD_UNIFORM;
    o->tau = 0.968;
}

/* Probabilities may exceed 1 by rounding only. */
#define PROB_SLACK 1e-3f

static const char *fmt(float v, char *buf)
{
    snprintf(buf, 32, "%g", (double)v);
    return buf;
}

static int check_scores(const float *score, int n, int c, size_t hw,
                        int logits, dx_err *err)
{
    size_t total = (size_t)n * (size_t)c * hw;
    for (size_t i = 0; i < total; i++) {
        float v = score[i];
        const char *why = NULL;
        char num[32];
        if (!isfinite(v))
            why = "expected a finite number";
        else if (!logits && v < 0)
            why = "negative: probabilities are in [0, 1] (use --logits for "
                  "raw scores)";
        else if (!logits && v > 1 + PROB_SLACK)
            why = "above 1: probabilities are in [0, 1] (use --logits for "
                  "raw scores)";
        if (why) {
            size_t item = i / ((size_t)c * hw);
            size_t cls = i / hw % (size_t)c;
            return dx_fail(err, "item %zu, class %zu, pixel %zu is %s, %s",
                           item, cls, i % hw,
                           isnan(v) ? "NaN" : isinf(v) ? "Inf" : fmt(v, num),
                           why);
        }
    }
    return 0;
}

/* The statistics of plabel and the confidences in weight (px pixels),
 * then the weights in their place. */
static void weigh(const uint8_t *plabel, float *weight, dx_pseudo_stats *st,
                  size_t px, float ftau, int mode)
{
    for (size_t p = 0; p < px; p++) {
        st->hist[plabel[p]]++;
        if (weight[p] >= ftau)
            st->confident++;
    }
    st->pixels = (uint64_t)px;
    for (size_t p = 0; p < px && mode != DX_WEIGHT_THRESHOLD_UNIFORM; p++)
        weight[p] = mode == DX_WEIGHT_THRESHOLD
                        ? (weight[p] >= ftau ? 1.0f : 0.0f)
                        : 1.0f;
    dx_pseudo_lambda(st, weight, px, mode);
}

int dx_pseudolabel(uint8_t *plabel, float *weight, dx_pseudo_stats *st,
                   const float *score, int n, int c, size_t hw, int logits,
                   double tau, int mode, dx_err *err)
{
    if (n < 0 || c < 1 || c > DX_MAX_CLASSES)
        return dx_fail(err, "%d classes, expected 1..%d (u8 labels keep 255 "
                       "for ignore)", c, DX_MAX_CLASSES);
    if (mode < 0 || mode >= DX_WEIGHT_END)
        return dx_fail(err, "unknown weight mode %d", mode);
    if (check_scores(score, n, c, hw, logits, err))
        return -1;
    memset(st, 0, sizeof *st);
    const float ftau = (float)tau;
    for (int b = 0; b < n; b++) {
        const float *s = score + (size_t)b * (size_t)c * hw;
        uint8_t *lab = plabel + (size_t)b * hw;
        float *conf = weight + (size_t)b * hw; /* c first, weight later */
        /* class-outer loops walk each plane contiguously */
        for (size_t p = 0; p < hw; p++) {
            lab[p] = 0;
            conf[p] = s[p];
        }
        for (int k = 1; k < c; k++) {
            const float *plane = s + (size_t)k * hw;
            for (size_t p = 0; p < hw; p++)
                if (plane[p] > conf[p]) {
                    conf[p] = plane[p];
                    lab[p] = (uint8_t)k;
                }
        }
        if (logits) {
            /* conf holds the max logit; turn it into 1 / sum exp(l - max) */
            for (size_t p = 0; p < hw; p++) {
                double sum = 0;
                for (int k = 0; k < c; k++)
                    sum += exp((double)s[(size_t)k * hw + p] -
                               (double)conf[p]);
                conf[p] = (float)(1.0 / sum);
            }
        }
    }
    weigh(plabel, weight, st, (size_t)n * hw, ftau, mode);
    return 0;
}

int dx_pseudolabel_argmax(uint8_t *plabel, float *weight, dx_pseudo_stats *st,
                          const uint8_t *pred, const float *conf, size_t px,
                          double tau, int mode, dx_err *err)
{
    if (mode < 0 || mode >= DX_WEIGHT_END)
        return dx_fail(err, "unknown weight mode %d", mode);
    memset(st, 0, sizeof *st);
    memcpy(plabel, pred, px);
    memcpy(weight, conf, px * sizeof *weight);
    weigh(plabel, weight, st, px, (float)tau, mode);
    return 0;
}

size_t dx_pseudo_margins(float *weight, int n, int h, int w,
                         const int32_t *box, const dx_margins *m)
{
    size_t in = 0;
    for (int i = 0; i < n; i++) {
        int32_t own[DX_BOX_LEN] = {0, 0, w, h, w, h, 0};
        const int32_t *b = box ? box + (size_t)i * DX_BOX_LEN : own;
        float *wt = weight + (size_t)i * h * w;
        for (int y = 0; y < h; y++) {
            int r = dx_box_row(b, y);
            if (r < 0)
                continue;
            int row_in = r < m->top || r >= b[DX_BOX_FH] - m->bottom;
            for (int x = 0; x < w; x++) {
                int c = dx_box_col(b, w, x);
                if (c >= 0 && (row_in || c < m->left ||
                               c >= b[DX_BOX_FW] - m->right)) {
                    wt[(size_t)y * w + x] = 0;
                    in++;
                }
            }
        }
    }
    return in;
}

void dx_pseudo_lambda(dx_pseudo_stats *st, float *weight, size_t count,
                      int mode)
{
    st->lambda = st->pixels ? (double)st->confident / (double)st->pixels : 0;
    for (size_t p = 0; p < count && mode == DX_WEIGHT_THRESHOLD_UNIFORM; p++)
        weight[p] = (float)st->lambda;
}
