/* test_resize.c - bilinear and nearest resampling, windows, padding. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/resize.h"

static uint32_t seed = 1;
static uint8_t rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return (uint8_t)(seed >> 24);
}

int main(void)
{
    dx_err err;
    enum { W = 37, H = 23 };
    uint8_t src[H * W * 3], dst[H * W * 3];
    for (int i = 0; i < H * W * 3; i++)
        src[i] = rnd();

    /* same size: an exact copy */
    CHECK(dx_resample_bilinear(dst, W, H, src, W, H, 3, W, H, 0, 0, 0, &err)
              == 0 && memcmp(dst, src, sizeof src) == 0,
          "bilinear at scale 1 copies");
    dx_resample_nearest(dst, W, H, src, W, H, 3, W, H, 0, 0, 0);
    CHECK(memcmp(dst, src, sizeof src) == 0, "nearest at scale 1 copies");

    /* halving: the triangle filter of radius 2 source pixels, weights
     * 1,3,3,1 (renormalised at the borders) */
    {
        enum { SW = 16, SH = 8 };
        uint8_t s[SH * SW], d[(SH / 2) * (SW / 2)];
        for (int i = 0; i < SH * SW; i++)
            s[i] = rnd();
        dx_resample_bilinear(d, SW / 2, SH / 2, s, SW, SH, 1, SW / 2, SH / 2,
                             0, 0, 0, &err);
        int bad = 0;
        for (int y = 0; y < SH / 2; y++)
            for (int x = 0; x < SW / 2; x++) {
                double acc = 0, wsum = 0;
                static const double w[4] = {1, 3, 3, 1};
                for (int j = 0; j < 4; j++)
                    for (int i = 0; i < 4; i++) {
                        int sy = 2 * y - 1 + j, sx = 2 * x - 1 + i;
                        if (sy < 0 || sy >= SH || sx < 0 || sx >= SW)
                            continue;
                        acc += w[j] * w[i] * s[sy * SW + sx];
                        wsum += w[j] * w[i];
                    }
                int want = (int)(acc / wsum + 0.5);
                if (abs(want - d[y * (SW / 2) + x]) > 1)
                    bad++;
            }
        CHECK(bad == 0, "halving = 1,3,3,1 triangle filter (%d off)", bad);
    }

    /* enlarging a linear ramp stays linear: value at centre */
    {
        uint8_t ramp[1 * 50];
        for (int x = 0; x < 50; x++)
            ramp[x] = (uint8_t)(2 * x);
        uint8_t big[1 * 125];
        dx_resample_bilinear(big, 125, 1, ramp, 50, 1, 1, 125, 1, 0, 0, 0,
                             &err);
        int bad = 0;
        for (int x = 3; x < 122; x++) {
            double u = (x + 0.5) * 50.0 / 125 - 0.5;
            if (abs(big[x] - (int)(2 * u + 0.5)) > 1)
                bad++;
        }
        CHECK(bad == 0, "x2.5 enlargement of a ramp is a ramp (%d off)", bad);
    }

    /* nearest: source pixel floor((x + 0.5) * sw / vw), values never mixed */
    {
        enum { SW = 7, VW = 19 };
        uint8_t s[SW], d[VW];
        for (int x = 0; x < SW; x++)
            s[x] = (uint8_t)(x * 30);
        dx_resample_nearest(d, VW, 1, s, SW, 1, 1, VW, 1, 0, 0, 0);
        int bad = 0;
        for (int x = 0; x < VW; x++)
            if (d[x] != s[(2 * x + 1) * SW / (2 * VW)])
                bad++;
        CHECK(bad == 0, "nearest index formula (%d off)", bad);
    }

    /* a window of the virtual image equals the crop of the full one,
     * padding outside it */
    {
        enum { VW = 53, VH = 31, DW = 20, DH = 17 };
        uint8_t full[VH * VW * 3], win[DH * DW * 3], lfull[VH * VW],
            lwin[DH * DW], lsrc[H * W];
        for (int i = 0; i < H * W; i++)
            lsrc[i] = (uint8_t)(rnd() % 19);
        dx_resample_bilinear(full, VW, VH, src, W, H, 3, VW, VH, 0, 0, 0, &err);
        dx_resample_nearest(lfull, VW, VH, lsrc, W, H, 1, VW, VH, 0, 0, 0);
        int offs[4][2] = {{0, 0}, {30, 10}, {-5, -3}, {40, 20}};
        for (int k = 0; k < 4; k++) {
            int ox = offs[k][0], oy = offs[k][1], bad = 0, badl = 0;
            dx_resample_bilinear(win, DW, DH, src, W, H, 3, VW, VH, ox, oy, 7,
                                 &err);
            dx_resample_nearest(lwin, DW, DH, lsrc, W, H, 1, VW, VH, ox, oy,
                                255);
            for (int y = 0; y < DH; y++)
                for (int x = 0; x < DW; x++) {
                    int vx = ox + x, vy = oy + y;
                    int in = vx >= 0 && vx < VW && vy >= 0 && vy < VH;
                    for (int c = 0; c < 3; c++) {
                        int want = in ? full[(vy * VW + vx) * 3 + c] : 7;
                        bad += win[(y * DW + x) * 3 + c] != want;
                    }
                    int lw = in ? lfull[vy * VW + vx] : 255;
                    badl += lwin[y * DW + x] != lw;
                }
            CHECK(bad == 0 && badl == 0,
                  "window at (%d,%d) = crop of the full resample, padded",
                  ox, oy);
        }
    }

    /* flip */
    {
        uint8_t px[2 * 3 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        dx_flip_rows(px, 2, 3, 2);
        static const uint8_t want[12] = {5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8};
        CHECK(memcmp(px, want, 12) == 0, "flip mirrors rows, keeps channels");
    }
    CHECK(dx_resample_bilinear(dst, 0, 1, src, W, H, 3, 1, 1, 0, 0, 0, &err)
              == -1,
          "bad sizes are an error");
    return check_done();
}
