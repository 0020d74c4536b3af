/* test_mic.c - MIC's block masks: against PyTorch (tests/ref/
 * micmask_ref.py, tests/fixtures/micmask), the share of blocks dropped
 * over many seeds, and the fill. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "dacs/mic.h"

static void test_torch(void)
{
    char path[4096], name[32];
    FILE *f = fopen(fixture_path(path, sizeof path, "micmask", "cases.txt"), "r");
    int k, h, w, gh, gw, cases = 0;
    double ratio;
    dx_err err;
    while (f && fscanf(f, "%d %d %d %d %d %lf", &k, &h, &w, &gh, &gw,
                       &ratio) == 6) {
        tns_frame u, want;
        snprintf(name, sizeof name, "u%d.npy", k);
        if (fixture_npy("micmask", name, &u))
            break;
        snprintf(name, sizeof name, "mask%d.npy", k);
        if (fixture_npy("micmask", name, &want)) {
            tns_frame_free(&u);
            break;
        }
        uint8_t *m = malloc((size_t)h * w);
        int bad = dx_mic_mask_of(m, u.data, gh, gw, h, w, ratio, &err) != 0;
        int wrong = 0, kept = 0;
        for (int i = 0; i < h * w && !bad; i++) {
            wrong += m[i] != ((uint8_t *)want.data)[i];
            kept += m[i];
        }
        CHECK(!bad && wrong == 0 && kept > 0 && kept < h * w,
              "%dx%d image, %dx%d grid: PyTorch's nearest resize of "
              "[u > %g] (%d pixels differ, %d of %d kept)", w, h, gw, gh,
              ratio, wrong, kept, h * w);
        free(m);
        tns_frame_free(&u);
        tns_frame_free(&want);
        cases++;
    }
    if (f)
        fclose(f);
    CHECK(cases == 5, "five PyTorch cases read");
}

static void test_statistics(void)
{
    enum { H = 128, W = 96, B = 16 };
    static uint8_t m[H * W];
    long dropped = 0, cells = 0, same = 1, partial = 0;
    dx_err err;
    for (int t = 0; t < 400; t++) {
        dx_rng r;
        dx_rng_init(&r, (uint64_t)t, "test-mic", 0);
        if (dx_mic_mask(m, H, W, B, 0.7, &r, &err)) {
            CHECK(0, "mask: %s", err.msg);
            return;
        }
        /* every 16x16 block is one value */
        for (int by = 0; by < H / B; by++)
            for (int bx = 0; bx < W / B; bx++) {
                uint8_t v = m[by * B * W + bx * B];
                for (int y = 0; y < B; y++)
                    for (int x = 0; x < B; x++)
                        partial += m[(by * B + y) * W + bx * B + x] != v;
                dropped += !v;
                cells++;
            }
        if (t == 7) {
            static uint8_t again[H * W];
            dx_rng_init(&r, 7, "test-mic", 0);
            dx_mic_mask(again, H, W, B, 0.7, &r, &err);
            same = memcmp(again, m, sizeof m) == 0;
        }
    }
    double share = (double)dropped / (double)cells;
    /* 19200 cells: the standard error of the share is 0.0033 */
    CHECK(partial == 0 && fabs(share - 0.7) < 0.015 && same,
          "400 seeds: %.4f of %ld blocks dropped (ratio 0.7), whole blocks, "
          "the same seed gives the same mask", share, cells);
    long low = 0;
    for (int t = 0; t < 100; t++) {
        dx_rng r;
        dx_rng_init(&r, (uint64_t)t, "test-mic", 0);
        dx_mic_mask(m, H, W, B, 0.2, &r, &err);
        for (int i = 0; i < H * W; i += B)
            low += !m[i];
    }
    double s2 = (double)low / (100.0 * H * W / B);
    CHECK(fabs(s2 - 0.2) < 0.02, "ratio 0.2: %.3f dropped", s2);
    CHECK(dx_mic_mask(m, 20, 40, 64, 0.7, NULL, &err) == -1 &&
              strstr(err.msg, "no mask block of 64"),
          "an image smaller than half a block refused: %s", err.msg);
}

static void test_apply(void)
{
    uint8_t img[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const uint8_t mask[4] = {1, 0, 1, 0};
    dx_mic_opts o = dx_mic_defaults();
    dx_mic_apply(img, mask, 4, o.fill);
    static const uint8_t want[12] = {1, 2, 3, 124, 116, 104,
                                     7, 8, 9, 124, 116, 104};
    CHECK(memcmp(img, want, 12) == 0 && o.block == 64 && o.ratio == 0.7,
          "dropped pixels take the fill (ImageNet's mean); defaults 64, "
          "0.7");
}

int main(void)
{
    test_torch();
    test_statistics();
    test_apply();
    return check_done();
}
