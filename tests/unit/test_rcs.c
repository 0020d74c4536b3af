/* test_rcs.c - rare-class sampling follows P(c) = softmax((1 - f_c)/T),
 * then a uniform image among those with more than min pixels of c (as
 * DAFormer's samples_with_class); statistics are
 * counted, saved, loaded and matched to their dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "data/labelmap.h"
#include "io/pngio.h"
#include "data/rcs.h"

enum { NI = 6, NC = 4 };
static int32_t counts[NI][NC] = {
    {10000, 0, 0, 0},   {8000, 4000, 0, 0}, {9000, 0, 3500, 0},
    {7000, 2000, 0, 100}, {5000, 0, 0, 3000}, {6000, 0, 5000, 0}};

/* Expected P(image) under a class weighting w(f) (normalised over the
 * classes that have members with more than minpx). */
static void expected(double (*w)(double f, double T), double T, long minpx,
                     double *pimg, double *pcls)
{
    double f[NC] = {0}, tot = 0;
    for (int i = 0; i < NI; i++)
        for (int c = 0; c < NC; c++) {
            f[c] += counts[i][c];
            tot += counts[i][c];
        }
    double z = 0;
    int nm[NC] = {0};
    for (int c = 0; c < NC; c++) {
        f[c] /= tot;
        for (int i = 0; i < NI; i++)
            nm[c] += counts[i][c] > minpx;
        pcls[c] = nm[c] ? w(f[c], T) : 0;
        z += pcls[c];
    }
    for (int i = 0; i < NI; i++)
        pimg[i] = 0;
    for (int c = 0; c < NC; c++) {
        pcls[c] /= z;
        for (int i = 0; i < NI; i++)
            if (counts[i][c] > minpx)
                pimg[i] += pcls[c] / nm[c];
    }
}

static double w_daformer(double f, double T) { return exp((1 - f) / T); }
static double w_no_one_minus(double f, double T) { return exp(f / T); }
static double w_uniform(double f, double T) { (void)f; (void)T; return 1; }
static double w_inverse(double f, double T) { (void)T; return 1 / f; }

static double chi2(const long *obs, const double *p, int n, long draws)
{
    double x = 0;
    for (int i = 0; i < n; i++) {
        double e = p[i] * (double)draws;
        if (e > 0)
            x += (obs[i] - e) * (obs[i] - e) / e;
        else if (obs[i])
            x += 1e9;
    }
    return x;
}

static void statistical(double T, long minpx)
{
    dx_rcs_stats st = {.n = NI, .classes = NC, .counts = &counts[0][0]};
    dx_rcs r;
    dx_err err;
    if (dx_rcs_init(&r, &st, T, minpx, &err)) {
        CHECK(0, "init: %s", err.msg);
        return;
    }
    double pimg[NI], pcls[NC];
    expected(w_daformer, T, minpx, pimg, pcls);
    int okp = 1;
    for (int c = 0; c < NC; c++)
        okp &= fabs(r.prob[c] - pcls[c]) < 1e-12;
    CHECK(okp, "T=%g: P(c) = softmax((1-f_c)/T) over drawable classes "
          "(%.4f %.4f %.4f %.4f)", T, r.prob[0], r.prob[1], r.prob[2],
          r.prob[3]);
    long obs[NI] = {0}, ocls[NC] = {0};
    const long draws = 200000;
    dx_rng rng;
    dx_rng_init(&rng, 5, "test-rcs", 0);
    for (long k = 0; k < draws; k++) {
        int c;
        int i = dx_rcs_draw(&r, &rng, &c);
        obs[i]++;
        ocls[c]++;
        if (counts[i][c] <= minpx)
            obs[0] += 1000000; /* an image without the class: fail below */
    }
    /* chi-square, 5 degrees of freedom: 20.5 is p = 0.001 */
    double x = chi2(obs, pimg, NI, draws);
    CHECK(x < 20.5, "T=%g min %ld: image frequencies follow the "
          "distribution (chi2 %.2f, df 5)", T, minpx, x);
    double xc = chi2(ocls, pcls, NC, draws);
    CHECK(xc < 16.3, "T=%g: class frequencies follow P(c) (chi2 %.2f)", T,
          xc);
    /* the test can fail: other formulas are rejected */
    double (*wrong[3])(double, double) = {w_no_one_minus, w_uniform,
                                          w_inverse};
    const char *names[3] = {"softmax(f/T)", "uniform classes", "1/f"};
    for (int k = 0; k < 3; k++) {
        double q[NI], qc[NC];
        expected(wrong[k], T, minpx, q, qc);
        double y = chi2(obs, q, NI, draws);
        CHECK(y > 100, "T=%g: the draws reject %s (chi2 %.0f)", T, names[k],
              y);
    }
    dx_rcs_free(&r);
}

int main(void)
{
    statistical(0.1, 3000);
    statistical(0.5, 3000);
    statistical(0.3, 1); /* class 3 of image 3 joins in */
    {
        dx_rcs_stats st = {.n = NI, .classes = NC, .counts = &counts[0][0]};
        dx_rcs r;
        dx_err err;
        CHECK(dx_rcs_init(&r, &st, 0.01, 2999, &err) == 0 &&
                  r.prob[3] > 0.98 && r.prob[1] > r.prob[2] &&
                  r.prob[0] < 1e-6,
              "T=0.01: the rarest class dominates, the commonest vanishes");
        dx_rcs_free(&r);
        /* image 4 holds exactly 3000 pixels of class 3: not more */
        CHECK(dx_rcs_init(&r, &st, 0.01, 3000, &err) == 0 &&
                  r.nmembers[3] == 0 && r.prob[3] == 0 &&
                  r.nmembers[2] == 2 && r.min_pixels == 3000,
              "an image needs more than min_pixels of a class, not as many");
        dx_rcs_free(&r);
        CHECK(dx_rcs_init(&r, &st, 0.01, 20000, &err) == -1 &&
                  strstr(err.msg, "20000"),
              "no class with enough pixels: %s", err.msg);
        CHECK(dx_rcs_init(&r, &st, 0, 3000, &err) == -1,
              "temperature 0 refused");
    }

    /* counting a real tree, saving, loading, matching */
    char root[256] = "/tmp/dacs-test-rcs.XXXXXX", p[512];
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/labels", root);
    mkdir(p, 0777);
    dx_err err;
    uint8_t img[4 * 4 * 3] = {0}, lbl[3][16];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 16; i++) /* k+1 pixels of road (7), rest car (26) */
            lbl[k][i] = i <= k ? 7 : i == 15 ? 1 : 26;
        snprintf(p, sizeof p, "%s/images/%d.png", root, k);
        dx_png_write(p, 4, 4, 3, 8, img, &err);
        snprintf(p, sizeof p, "%s/labels/%d.png", root, k);
        dx_png_write(p, 4, 4, 1, 8, lbl[k], &err);
    }
    dx_dataset d;
    dx_dataset_spec spec = {DX_DS_GTA5, root, NULL, NULL, 1, 0, NULL, 0};
    dx_labelmap map, other;
    dx_labelmap_builtin(&map, "gta5", &err);
    dx_labelmap_builtin(&other, "synthia", &err);
    if (dx_dataset_open(&d, &spec, &err)) {
        CHECK(0, "open: %s", err.msg);
        return check_done();
    }
    dx_rcs_stats st, back;
    int rc = dx_rcs_count(&st, &d, &map, NULL, NULL, &err);
    CHECK(rc == 0 && st.n == 3 && st.classes == 19 &&
              st.counts[0 * 19 + 0] == 1 && st.counts[2 * 19 + 0] == 3 &&
              st.counts[1 * 19 + 13] == 13 && st.counts[1 * 19 + 1] == 0,
          "counts per image and train id (ego vehicle not counted)");
    snprintf(p, sizeof p, "%s/stats.tns", root);
    CHECK(rc == 0 && dx_rcs_save(&st, p, &err) == 0, "save");
    rc = dx_rcs_load(&back, p, &err);
    CHECK(rc == 0 && back.n == 3 && back.classes == 19 &&
              memcmp(back.counts, st.counts, 3 * 19 * sizeof(int32_t)) == 0 &&
              strcmp(back.keys[2], "labels/2.png") == 0 &&
              strcmp(back.kind, "gta5") == 0,
          "load gives back what was saved %s", rc ? err.msg : "");
    CHECK(dx_rcs_match(&back, &d, &map, &err) == 0, "matches its dataset");
    CHECK(dx_rcs_match(&back, &d, &other, &err) == -1 &&
              strstr(err.msg, "label map"),
          "another label map: %s", err.msg);
    free(back.keys[1]);
    back.keys[1] = strdup("labels/9.png");
    CHECK(dx_rcs_match(&back, &d, &map, &err) == -1 &&
              strstr(err.msg, "labels/9.png"),
          "another file list: %s", err.msg);
    dx_dataset_limit(&d, 2);
    CHECK(dx_rcs_match(&st, &d, &map, &err) == -1 &&
              strstr(err.msg, "cover 3 images, the dataset has 2"),
          "another size: %s", err.msg);
    dx_rcs_stats_free(&back);
    dx_rcs_stats_free(&st);
    snprintf(p, sizeof p, "%s/labels/0.png", root);
    CHECK(dx_rcs_load(&back, p, &err) == -1 && strstr(err.msg, "labels/0.png"),
          "a PNG is not a statistics file: %s", err.msg);
    dx_dataset_free(&d);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return check_done();
}
