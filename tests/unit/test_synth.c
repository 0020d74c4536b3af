/* test_synth.c - the benchmark generator: determinism, label ids, class
 * coverage and imbalance, the ego hood of the target. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "synth/city.h"

enum { W = 128, H = 64, N = W * H };

static int allowed(int id)
{
    for (int i = 0; i < dx_synth_nids; i++)
        if (dx_synth_ids[i] == id)
            return 1;
    return 0;
}

int main(void)
{
    dx_err err;
    dx_synth s = {W, H, 42, DX_GAP_FULL, 0.7f};
    static uint8_t a[N * 3], b[N * 3], la[N], lb[N];
    CHECK(dx_synth_render(&s, DX_SYNTH_SOURCE, "", 3, a, la, &err) == 0 &&
              dx_synth_render(&s, DX_SYNTH_SOURCE, "", 3, b, lb, &err) == 0 &&
              memcmp(a, b, sizeof a) == 0 && memcmp(la, lb, sizeof la) == 0,
          "same seed and index: same bytes");
    dx_synth_render(&s, DX_SYNTH_SOURCE, "", 4, b, lb, &err);
    CHECK(memcmp(la, lb, sizeof la) != 0, "another index: another scene");
    s.seed = 43;
    dx_synth_render(&s, DX_SYNTH_SOURCE, "", 3, b, lb, &err);
    CHECK(memcmp(la, lb, sizeof la) != 0, "another seed: another scene");
    s.seed = 42;
    dx_synth_render(&s, DX_SYNTH_TARGET, "train", 3, b, lb, &err);
    CHECK(memcmp(la, lb, sizeof la) != 0, "target differs from source");

    long hist[2][256] = {{0}};
    int bad = 0, hood = 0, nohood = 1;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 30; i++) {
            dx_synth_render(&s, d, d ? "train" : "", (uint64_t)i, a, la, &err);
            for (int k = 0; k < N; k++) {
                hist[d][la[k]]++;
                bad += !allowed(la[k]);
            }
            if (d == 1)
                hood += la[N - W / 2] == 1; /* bottom centre */
            else
                for (int k = 0; k < N; k++)
                    nohood &= la[k] != 1;
        }
    CHECK(bad == 0, "only the listed Cityscapes ids occur (%d others)", bad);
    CHECK(hood == 30 && nohood, "the target has the ego hood (id 1) at the "
          "bottom, the source none");
    for (int d = 0; d < 2; d++) {
        int classes = 0;
        long tot = 0;
        for (int id = 0; id < 256; id++)
            tot += id != 1 ? hist[d][id] : 0;
        for (int id = 2; id < 256; id++)
            classes += hist[d][id] > 0;
        CHECK(classes >= 13, "%s: %d classes over 30 scenes (>= 13)",
              d ? "target" : "source", classes);
        double big = (double)(hist[d][7] + hist[d][11] + hist[d][21] +
                              hist[d][23] + hist[d][26]) / (double)tot;
        double small = (double)(hist[d][17] + hist[d][19] + hist[d][20] +
                                hist[d][24]) / (double)tot;
        CHECK(big > 0.6 && small < 0.08 && hist[d][19] < hist[d][7] / 50,
              "%s: road, building, vegetation, sky, car %.0f%%; pole, "
              "light, sign, person %.1f%%", d ? "target" : "source",
              100 * big, 100 * small);
    }
    CHECK(dx_synth_synthia_id(7) == 3 && dx_synth_synthia_id(23) == 1 &&
              dx_synth_synthia_id(1) == 0,
          "SYNTHIA ids of road, sky, ego vehicle");
    s.class_shift = 2;
    CHECK(dx_synth_render(&s, 1, "", 0, a, la, &err) == -1,
          "class shift outside [0, 1] refused");
    s.class_shift = 1;
    s.width = 8;
    CHECK(dx_synth_render(&s, 1, "", 0, a, la, &err) == -1,
          "tiny size refused");
    return check_done();
}
