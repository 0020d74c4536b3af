/* test_pseudo.c - pseudo-labels, confidences and lambda. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dacs/pseudo.h"
#include "base/rng.h"
#include "data/resize.h"
#include "data/sampler.h"

/* A 1x3x2x2 probability map with known argmax and confidence:
 *   pixel 0: (0.98, 0.01, 0.01) -> 0, confident
 *   pixel 1: (0.2, 0.7, 0.1)    -> 1
 *   pixel 2: (0.0, 0.0, 1.0)    -> 2, confident
 *   pixel 3: (0.3, 0.3, 0.4)    -> 2 */
static const float PROB[12] = {0.98f, 0.2f, 0.0f, 0.3f,  /* class 0 */
                               0.01f, 0.7f, 0.0f, 0.3f,  /* class 1 */
                               0.01f, 0.1f, 1.0f, 0.4f}; /* class 2 */

static void test_modes(void)
{
    uint8_t lab[4];
    float w[4];
    dx_pseudo_stats st;
    dx_err err;
    CHECK(dx_pseudolabel(lab, w, &st, PROB, 1, 3, 4, 0, 0.968,
                         DX_WEIGHT_THRESHOLD_UNIFORM, &err) == 0,
          "threshold_uniform runs");
    CHECK(lab[0] == 0 && lab[1] == 1 && lab[2] == 2 && lab[3] == 2,
          "argmax labels 0 1 2 2 (got %d %d %d %d)", lab[0], lab[1], lab[2],
          lab[3]);
    CHECK(st.pixels == 4 && st.confident == 2 && st.lambda == 0.5,
          "lambda = 2/4 (got %llu/%llu = %g)",
          (unsigned long long)st.confident, (unsigned long long)st.pixels,
          st.lambda);
    CHECK(w[0] == 0.5f && w[1] == 0.5f && w[2] == 0.5f && w[3] == 0.5f,
          "every pixel gets lambda");
    CHECK(st.hist[0] == 1 && st.hist[1] == 1 && st.hist[2] == 2,
          "histogram 1,1,2");
    CHECK(dx_pseudolabel(lab, w, &st, PROB, 1, 3, 4, 0, 0.968,
                         DX_WEIGHT_THRESHOLD, &err) == 0 &&
              w[0] == 1 && w[1] == 0 && w[2] == 1 && w[3] == 0,
          "threshold: 1 0 1 0");
    CHECK(dx_pseudolabel(lab, w, &st, PROB, 1, 3, 4, 0, 0.968,
                         DX_WEIGHT_NONE, &err) == 0 &&
              w[0] == 1 && w[1] == 1 && w[2] == 1 && w[3] == 1 &&
              st.lambda == 0.5,
          "none: all 1, lambda still reported");
}

static void test_boundary_and_ties(void)
{
    /* confidence exactly tau (as f32) counts; the next f32 below does not;
     * a tie goes to the lower class */
    float tau = 0.968f;
    float below = nextafterf(tau, 0);
    float p[6] = {tau, below, 0.5f, 1 - tau, 1 - below, 0.5f};
    uint8_t lab[3];
    float w[3];
    dx_pseudo_stats st;
    dx_err err;
    CHECK(dx_pseudolabel(lab, w, &st, p, 1, 2, 3, 0, 0.968,
                         DX_WEIGHT_THRESHOLD, &err) == 0,
          "boundary runs");
    CHECK(w[0] == 1 && w[1] == 0, "c == tau is confident, c < tau is not");
    CHECK(lab[2] == 0, "a tie goes to the lower class index");
}

static void test_logits(void)
{
    /* logits of a 1x3x1x2 map; pixel 0 softmax = (e^2, 1, 1)/(e^2+2) */
    float l[6] = {2, -1, 0, 3, 0, 0};
    uint8_t lab[2];
    float w[2];
    dx_pseudo_stats st;
    dx_err err;
    CHECK(dx_pseudolabel(lab, w, &st, l, 1, 3, 2, 1, 0.0,
                         DX_WEIGHT_NONE, &err) == 0,
          "logits accepted, negative values included");
    CHECK(lab[0] == 0 && lab[1] == 1, "argmax of logits");
    double c0 = exp(2.0) / (exp(2.0) + 2), c1 = exp(3.0) / (exp(3.0) + 2);
    /* lambda with tau between c0 and c1 tells each confidence apart */
    CHECK(dx_pseudolabel(lab, w, &st, l, 1, 3, 2, 1, (c0 + c1) / 2,
                         DX_WEIGHT_THRESHOLD, &err) == 0 && w[0] == 0 &&
              w[1] == 1,
          "softmax confidences %.6f < tau < %.6f", c0, c1);
    /* large logits do not overflow */
    float big[4] = {1000, 999, -1000, -1000};
    CHECK(dx_pseudolabel(lab, w, &st, big, 1, 2, 2, 1, 0.5,
                         DX_WEIGHT_THRESHOLD, &err) == 0 && lab[0] == 0 &&
              w[0] == 1 && w[1] == 1,
          "logits of 1000 stay finite");
}

static void test_errors(void)
{
    uint8_t lab[4];
    float w[4];
    dx_pseudo_stats st;
    dx_err err;
    float p[12];
    memcpy(p, PROB, sizeof p);
    p[5] = NAN;
    CHECK(dx_pseudolabel(lab, w, &st, p, 1, 3, 4, 0, 0.968, 0, &err) != 0 &&
              strstr(err.msg, "is NaN") && strstr(err.msg, "class 1") &&
              strstr(err.msg, "pixel 1"),
          "NaN named with class and pixel: %s", err.msg);
    memcpy(p, PROB, sizeof p);
    p[0] = -0.5f;
    CHECK(dx_pseudolabel(lab, w, &st, p, 1, 3, 4, 0, 0.968, 0, &err) != 0 &&
              strstr(err.msg, "negative") && strstr(err.msg, "--logits"),
          "negative probability: %s", err.msg);
    p[0] = 3.0f;
    CHECK(dx_pseudolabel(lab, w, &st, p, 1, 3, 4, 0, 0.968, 0, &err) != 0 &&
              strstr(err.msg, "above 1"),
          "probability above 1: %s", err.msg);
    p[0] = INFINITY;
    CHECK(dx_pseudolabel(lab, w, &st, p, 1, 3, 4, 1, 0.968, 0, &err) != 0 &&
              strstr(err.msg, "Inf"),
          "Inf logit: %s", err.msg);
    CHECK(dx_pseudolabel(lab, w, &st, PROB, 1, 256, 0, 0, 0.968, 0, &err) !=
              0 && strstr(err.msg, "256 classes"),
          "256 classes refused: %s", err.msg);
}

/* Margins: a golden case on a whole image, then crops against MIC's way
 * of making them (a full-size mask resized nearest, cropped and flipped
 * with the image; lhoyer/MIC's valid_pseudo_mask). */
static void test_margins(void)
{
    float wt[6 * 5];
    for (int i = 0; i < 30; i++)
        wt[i] = 0.5f;
    dx_margins m = {1, 2, 1, 0};
    size_t k = dx_pseudo_margins(wt, 1, 6, 5, NULL, &m);
    static const char want[] = "00000"
                               "0...."
                               "0...."
                               "0...."
                               "00000"
                               "00000";
    int bad = 0;
    for (int i = 0; i < 30; i++)
        bad += (want[i] == '0') != (wt[i] == 0) ||
               (wt[i] != 0 && wt[i] != 0.5f);
    CHECK(bad == 0 && k == 18, "margins 1 2 1 0 on a 5x6 image: golden "
          "(%d wrong, %zu in the margins)", bad, k);

    dx_rng r;
    dx_rng_init(&r, 1, "test-margins", 0);
    int worst = 0, cases = 0, some = 0;
    enum { W = 23, H = 17, N = 3 };
    for (int t = 0; t < 300; t++) {
        int32_t box[N * DX_BOX_LEN];
        dx_margins mm = {(int)dx_rng_below(&r, 9), (int)dx_rng_below(&r, 20),
                         (int)dx_rng_below(&r, 9), (int)dx_rng_below(&r, 9)};
        float w[N * H * W];
        int ok = 1;
        for (int i = 0; i < N; i++) {
            int32_t *b = box + i * DX_BOX_LEN;
            b[DX_BOX_FW] = 20 + (int)dx_rng_below(&r, 60);
            b[DX_BOX_FH] = 15 + (int)dx_rng_below(&r, 40);
            b[DX_BOX_SW] = 8 + (int)dx_rng_below(&r, 50);
            b[DX_BOX_SH] = 6 + (int)dx_rng_below(&r, 40);
            b[DX_BOX_X] = (int)dx_rng_below(&r, 60) - 20;
            b[DX_BOX_Y] = (int)dx_rng_below(&r, 50) - 20;
            b[DX_BOX_FLIP] = (int)dx_rng_below(&r, 2);
        }
        for (int i = 0; i < N * H * W; i++)
            w[i] = 1;
        dx_pseudo_margins(w, N, H, W, box, &mm);
        for (int i = 0; i < N && ok; i++) {
            const int32_t *b = box + i * DX_BOX_LEN;
            int fw = b[DX_BOX_FW], fh = b[DX_BOX_FH];
            uint8_t full[80 * 60], crop[H * W];
            for (int y = 0; y < fh; y++)
                for (int x = 0; x < fw; x++)
                    full[y * fw + x] = !(y < mm.top || y >= fh - mm.bottom ||
                                         x < mm.left || x >= fw - mm.right);
            /* padding keeps its weight: fill 1 */
            dx_resample_nearest(crop, W, H, full, fw, fh, 1, b[DX_BOX_SW],
                                b[DX_BOX_SH], b[DX_BOX_X], b[DX_BOX_Y], 1);
            if (b[DX_BOX_FLIP])
                dx_flip_rows(crop, H, W, 1);
            int wrong = 0;
            for (int q = 0; q < H * W; q++) {
                wrong += (w[i * H * W + q] != 0) != (crop[q] != 0);
                some += crop[q] == 0;
            }
            worst = wrong > worst ? wrong : worst;
            cases++;
        }
    }
    CHECK(worst == 0 && some > 1000,
          "margins through %d random crop boxes (resized, padded, flipped) "
          "equal the full-size mask resized and cropped (worst %d pixels "
          "off)", cases, worst);
}

int main(void)
{
    test_margins();
    test_modes();
    test_boundary_and_ties();
    test_logits();
    test_errors();
    return check_done();
}
