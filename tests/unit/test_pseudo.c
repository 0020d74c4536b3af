/* test_pseudo.c - pseudo-labels, confidences and lambda. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dacs/pseudo.h"

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

int main(void)
{
    test_modes();
    test_boundary_and_ties();
    test_logits();
    test_errors();
    return check_done();
}
