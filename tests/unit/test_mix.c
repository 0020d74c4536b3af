/* test_mix.c - ClassMix masks and mixing. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "data/classes.h"
#include "dacs/mix.h"

/* The 4x4 golden: pasting classes {1, 3} of the source label
 *   0 0 1 1        mask  0 0 1 1
 *   0 3 1 1              0 1 1 1
 *   2 3 3 255            0 1 1 0
 *   2 2 255 255          0 0 0 0
 * onto a target whose pseudo-labels are all 5 and weights all 0.25. */
static const uint8_t SRC_LABEL[16] = {0, 0, 1, 1, 0, 3, 1, 1,
                                      2, 3, 3, 255, 2, 2, 255, 255};
static const uint8_t WANT_MASK[16] = {0, 0, 1, 1, 0, 1, 1, 1,
                                      0, 1, 1, 0, 0, 0, 0, 0};
static const uint8_t WANT_LABEL[16] = {5, 5, 1, 1, 5, 3, 1, 1,
                                       5, 3, 3, 5, 5, 5, 5, 5};

static void test_golden_4x4(void)
{
    uint8_t picked[256] = {0};
    picked[1] = picked[3] = 1;
    uint8_t mask[16], lab[16], tl[16], si[48], ti[48], img[48];
    float tw[16], w[16];
    memset(tl, 5, sizeof tl);
    for (int i = 0; i < 16; i++) {
        tw[i] = 0.25f;
        for (int c = 0; c < 3; c++) {
            si[3 * i + c] = (uint8_t)(100 + i);
            ti[3 * i + c] = (uint8_t)(200 + c);
        }
    }
    dx_class_mask(mask, SRC_LABEL, 16, picked);
    CHECK(memcmp(mask, WANT_MASK, 16) == 0, "4x4 mask = [y_s in {1,3}]");
    dx_mix_u8(lab, mask, SRC_LABEL, tl, 16, 1);
    CHECK(memcmp(lab, WANT_LABEL, 16) == 0, "4x4 mixed label");
    dx_mix_u8(img, mask, si, ti, 16, 3);
    int ok = 1;
    for (int i = 0; i < 16; i++)
        for (int c = 0; c < 3; c++)
            ok &= img[3 * i + c] ==
                  (WANT_MASK[i] ? 100 + i : 200 + c);
    CHECK(ok, "4x4 mixed image: source where M = 1, target elsewhere");
    dx_mix_f32(w, mask, NULL, tw, 16);
    ok = 1;
    for (int i = 0; i < 16; i++)
        ok &= w[i] == (WANT_MASK[i] ? 1.0f : 0.25f);
    CHECK(ok, "4x4 mixed weight: 1 where pasted, 0.25 elsewhere");
}

static void test_all_ones(void)
{
    uint8_t mask[8], a[24], b[24], out[24];
    memset(mask, 1, sizeof mask);
    for (int i = 0; i < 24; i++) {
        a[i] = (uint8_t)i;
        b[i] = (uint8_t)(255 - i);
    }
    dx_mix_u8(out, mask, a, b, 8, 3);
    CHECK(memcmp(out, a, 24) == 0, "an all-ones mask returns the source");
    memset(mask, 0, sizeof mask);
    dx_mix_u8(out, mask, a, b, 8, 3);
    CHECK(memcmp(out, b, 24) == 0, "an all-zeros mask returns the target");
}

static void test_pick(void)
{
    uint8_t pool[256] = {0}, picked[256];
    dx_rng r;
    dx_rng_init(&r, 1, "test", 0);
    CHECK(dx_classes_pick(picked, pool, &r) == 0, "empty pool picks none");
    pool[7] = 1;
    CHECK(dx_classes_pick(picked, pool, &r) == 1 && picked[7],
          "one class: picked (ceil(1/2) = 1)");
    /* 5 classes: ceil(5/2) = 3; the 10 subsets should come up evenly */
    uint8_t cls[5] = {0, 2, 4, 9, 255};
    memset(pool, 0, sizeof pool);
    for (int k = 0; k < 5; k++)
        pool[cls[k]] = 1;
    int subsets[32] = {0}, bad = 0, total = 5000;
    for (int it = 0; it < total; it++) {
        int n = dx_classes_pick(picked, pool, &r), code = 0;
        for (int k = 0; k < 5; k++)
            code |= picked[cls[k]] << k;
        for (int v = 0; v < 256; v++)
            if (picked[v] && !pool[v])
                bad = 1;
        if (n != 3 || __builtin_popcount((unsigned)code) != 3)
            bad = 1;
        subsets[code]++;
    }
    CHECK(!bad, "always 3 of the 5 pool classes");
    int lo = total, hi = 0, kinds = 0;
    for (int c = 0; c < 32; c++)
        if (subsets[c]) {
            kinds++;
            lo = subsets[c] < lo ? subsets[c] : lo;
            hi = subsets[c] > hi ? subsets[c] : hi;
        }
    /* expected 500 each; sd ~ 21 */
    CHECK(kinds == 10 && lo > 400 && hi < 600,
          "uniform over the 10 subsets (counts %d..%d)", lo, hi);
}

/* A batch of 2 items of 2x4, with two classes per source item. */
static void batch(dx_mix_batch *b, uint8_t *mem, float *wmem)
{
    static const uint8_t sl[16] = {0, 0, 1, 1, 0, 0, 255, 1,
                                   2, 2, 2, 4, 4, 4, 255, 255};
    static const uint8_t tl[16] = {7, 7, 7, 7, 7, 7, 7, 7,
                                   8, 8, 8, 8, 9, 9, 9, 9};
    memset(b, 0, sizeof *b);
    b->n = 2;
    b->h = 2;
    b->w = 4;
    uint8_t *si = mem, *ti = mem + 48, *slab = mem + 96, *tlab = mem + 112;
    for (int i = 0; i < 48; i++) {
        si[i] = (uint8_t)i;
        ti[i] = (uint8_t)(128 + i);
    }
    memcpy(slab, sl, 16);
    memcpy(tlab, tl, 16);
    for (int i = 0; i < 16; i++)
        wmem[i] = i < 8 ? 0.5f : 0.75f;
    b->src_image = si;
    b->tgt_image = ti;
    b->src_label = slab;
    b->tgt_plabel = tlab;
    b->tgt_weight = wmem;
    b->image = mem + 128;
    b->label = mem + 176;
    b->mask = mem + 192;
    b->weight = wmem + 16;
}

static void test_classmix(void)
{
    uint8_t mem[256];
    float wmem[32];
    uint8_t picked[2][256];
    dx_mix_batch b;
    dx_mix_opts o = {.mode = DX_MIX_CLASS, .pool = DX_POOL_IMAGE};
    dx_rng r;
    dx_err err;
    dx_rng_init(&r, 42, "classmix", 3);
    batch(&b, mem, wmem);
    b.picked = picked;
    CHECK(dx_classmix(&b, &o, &r, &err) == 0, "class mode runs");
    int ok = 1, pasted_weight = 1;
    for (int i = 0; i < 2; i++) {
        int n = 0;
        for (int v = 0; v < 256; v++)
            n += picked[i][v];
        ok &= n == 1 && !picked[i][255];
        for (int p = 0; p < 8; p++) {
            int q = 8 * i + p, m = picked[i][b.src_label[q]];
            ok &= b.mask[q] == m;
            ok &= b.label[q] == (m ? b.src_label[q] : b.tgt_plabel[q]);
            ok &= memcmp(b.image + 3 * q,
                         (m ? b.src_image : b.tgt_image) + 3 * q, 3) == 0;
            ok &= b.weight[q] == (m ? 1.0f : b.tgt_weight[q]);
            if (m)
                pasted_weight &= b.weight[q] == 1.0f;
        }
    }
    CHECK(ok, "class mode: one of two classes per item, 255 never drawn, "
              "outputs follow the mask");
    CHECK(pasted_weight, "the mixed weight is 1 on every pasted pixel");

    /* the same key gives the same draw; 20 other seeds give other draws */
    uint8_t first[2][256];
    memcpy(first, picked, sizeof first);
    CHECK(dx_classmix(&b, &o, &r, &err) == 0 &&
              memcmp(first, picked, sizeof first) == 0,
          "same key, same draw");
    int differ = 0;
    for (uint64_t s = 0; s < 20; s++) {
        dx_rng r2;
        dx_rng_init(&r2, s, "classmix", 3);
        dx_classmix(&b, &o, &r2, &err);
        differ |= memcmp(first, picked, sizeof first) != 0;
    }
    CHECK(differ, "other seeds give other draws");

    /* keep_ignore: item 0 has classes {0, 1, 255}: ceil(3/2) = 2 */
    o.keep_ignore = 1;
    int saw255 = 0, twos = 1;
    for (uint64_t s = 0; s < 40; s++) {
        dx_rng r2;
        dx_rng_init(&r2, s, "classmix", 0);
        dx_classmix(&b, &o, &r2, &err);
        int n = 0;
        for (int v = 0; v < 256; v++)
            n += picked[0][v];
        twos &= n == 2;
        saw255 |= picked[0][255];
    }
    CHECK(twos && saw255, "--keep-ignore: 2 of {0, 1, 255}, 255 drawn too");
    o.keep_ignore = 0;

    /* pool batch: classes {0,1,2,4} of the batch: 2 picked per item */
    o.pool = DX_POOL_BATCH;
    int n2 = 1, cross = 0;
    for (uint64_t s = 0; s < 40; s++) {
        dx_rng r2;
        dx_rng_init(&r2, s, "classmix", 0);
        dx_classmix(&b, &o, &r2, &err);
        for (int i = 0; i < 2; i++) {
            int n = 0;
            for (int v = 0; v < 256; v++)
                n += picked[i][v];
            n2 &= n == 2;
        }
        cross |= picked[0][2] || picked[0][4];
    }
    CHECK(n2 && cross, "pool batch: 2 of the batch's 4 classes, item 0 may "
                       "draw item 1's classes");
    o.pool = DX_POOL_IMAGE;
}

static void test_naive_none(void)
{
    uint8_t mem[256];
    float wmem[32];
    uint8_t picked[2][256];
    dx_mix_batch b;
    dx_mix_opts o = {.mode = DX_MIX_NAIVE, .pool = DX_POOL_IMAGE};
    dx_rng r;
    dx_err err;
    dx_rng_init(&r, 5, "classmix", 0);
    batch(&b, mem, wmem);
    b.picked = picked;
    CHECK(dx_classmix(&b, &o, &r, &err) == 0, "naive mode runs");
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        int j = (i + 1) % 2;
        for (int p = 0; p < 8; p++) {
            int q = 8 * i + p, qj = 8 * j + p;
            int m = picked[i][b.tgt_plabel[q]];
            ok &= b.mask[q] == m;
            ok &= b.label[q] == (m ? b.tgt_plabel[q] : b.tgt_plabel[qj]);
            ok &= memcmp(b.image + 3 * q, b.tgt_image + 3 * (m ? q : qj),
                         3) == 0;
            ok &= b.weight[q] ==
                  (m ? b.tgt_weight[q] : b.tgt_weight[qj]);
        }
    }
    CHECK(ok, "naive: target i pasted onto target (i+1) mod N");
    /* item 0's pseudo-labels are all 7: the one class is pasted */
    CHECK(picked[0][7] && b.mask[0] == 1, "naive: item 0 pastes class 7");

    o.mode = DX_MIX_NONE;
    CHECK(dx_classmix(&b, &o, &r, &err) == 0, "none mode runs");
    CHECK(memcmp(b.image, b.tgt_image, 48) == 0 &&
              memcmp(b.label, b.tgt_plabel, 16) == 0 &&
              memcmp(b.weight, b.tgt_weight, 16 * sizeof(float)) == 0,
          "none: the target image, pseudo-labels and weights as they are");
    int zero = 1;
    for (int q = 0; q < 16; q++)
        zero &= b.mask[q] == 0;
    CHECK(zero, "none: mask all 0");
}

static int load(const char *name, tns_frame *f)
{
    return fixture_npy("cowmask", name, f);
}

/* Cow masks against ClassMix's recipe run by scipy
 * (tests/ref/cowmask_ref.py), then their statistics over seeds. */
static void test_cow(void)
{
    static const double SIGMA[3] = {2.5, 8.3, 30}, P[3] = {0.5, 0.3, 0.7};
    tns_frame noise, smooth, mask;
    if (load("noise.npy", &noise) || load("smooth.npy", &smooth) ||
        load("mask.npy", &mask))
        return;
    enum { H = 40, W = 56 };
    double nz[H * W], sm[H * W];
    uint8_t m[H * W];
    for (int i = 0; i < H * W; i++)
        nz[i] = ((const float *)noise.data)[i];
    dx_err err;
    for (int k = 0; k < 3; k++) {
        int rc = dx_cow_mask_of(m, sm, nz, H, W, SIGMA[k], P[k], &err);
        double worst = 0;
        int wrong = 0, ones = 0;
        for (int i = 0; i < H * W; i++) {
            double e = fabs(sm[i] - ((const float *)smooth.data)[k * H * W + i]);
            worst = e > worst ? e : worst;
            wrong += m[i] != ((const uint8_t *)mask.data)[k * H * W + i];
            ones += m[i];
        }
        CHECK(rc == 0 && worst < 1e-6 && wrong == 0,
              "cow sigma %g p %g = scipy's gaussian_filter and ClassMix's "
              "threshold (smoothing off by %.1g, %d mask pixels differ, "
              "%d of %d are 1)", SIGMA[k], P[k], worst, wrong, ones, H * W);
    }
    CHECK(dx_cow_mask_of(m, NULL, nz, H, W, 8, 1, &err) == -1 &&
              dx_cow_mask_of(m, NULL, nz, H, W, 0, 0.5, &err) == -1,
          "p outside (0, 1) or sigma 0 refused: %s", err.msg);
    tns_frame_free(&noise);
    tns_frame_free(&smooth);
    tns_frame_free(&mask);

    /* over seeds: 1 - p of the pixels on average, and smooth (neighbours
     * mostly agree, unlike a coin per pixel) */
    enum { h = 64, w = 96 };
    static uint8_t mm[h * w];
    double share = 0, agree = 0;
    int runs = 40, same = 1;
    for (int t = 0; t < runs; t++) {
        dx_rng r;
        dx_rng_init(&r, (uint64_t)t, "test-cow", 0);
        if (dx_cow_mask(mm, h, w, 8, 32, 0.5, &r, &err)) {
            CHECK(0, "cow: %s", err.msg);
            return;
        }
        long ones = 0, eq = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                ones += mm[y * w + x];
                if (x + 1 < w)
                    eq += mm[y * w + x] == mm[y * w + x + 1];
            }
        share += (double)ones / (h * w) / runs;
        agree += (double)eq / (h * (w - 1)) / runs;
        if (t == 3) {
            static uint8_t again[h * w];
            dx_rng_init(&r, 3, "test-cow", 0);
            dx_cow_mask(again, h, w, 8, 32, 0.5, &r, &err);
            same = memcmp(again, mm, sizeof mm) == 0;
        }
    }
    CHECK(fabs(share - 0.5) < 0.05 && agree > 0.9 && same,
          "cow p 0.5 over %d seeds: %.3f of the pixels are 1, neighbours "
          "agree %.3f, the same seed gives the same mask", runs, share,
          agree);
}

/* Cut masks: a box of half the area, its width uniform over
 * [w/2, w], anywhere in the image. */
static void test_cut(void)
{
    enum { h = 30, w = 41 };
    uint8_t m[h * w];
    int bad = 0, wmin = w, wmax = 0, left = 0, right = 0;
    for (int t = 0; t < 2000; t++) {
        dx_rng r;
        dx_rng_init(&r, (uint64_t)t, "test-cut", 0);
        dx_cut_mask(m, h, w, &r);
        int x0 = w, x1 = -1, y0 = h, y1 = -1, zeros = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (!m[y * w + x]) {
                    zeros++;
                    x0 = x < x0 ? x : x0;
                    x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0;
                    y1 = y > y1 ? y : y1;
                }
        int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
        /* a full box of round(h*w/2 / bw) rows */
        bad += zeros != bw * bh || bh != (int)nearbyint(h * w / 2.0 / bw);
        wmin = bw < wmin ? bw : wmin;
        wmax = bw > wmax ? bw : wmax;
        left += x0 == 0;
        right += x1 == w - 1;
    }
    CHECK(bad == 0 && wmin == (w + 1) / 2 && wmax == w && left > 50 && right > 50,
          "cut: 2000 boxes of half the area (%d wrong), widths %d..%d, "
          "touching either side", bad, wmin, wmax);
}

/* classmix --mode cut and cow: source where the mask is 1, target
 * elsewhere, the source's labels and weight 1 there. */
static void test_mask_modes(void)
{
    for (int mode = DX_MIX_CUT; mode <= DX_MIX_COW; mode++) {
        uint8_t mem[256];
        float wmem[32];
        dx_mix_batch b;
        batch(&b, mem, wmem);
        dx_mix_opts o = dx_mix_defaults();
        o.mode = mode;
        o.cow_sigma_lo = o.cow_sigma_hi = 1;
        dx_rng r;
        dx_rng_init(&r, 5, "classmix", 0);
        dx_err err;
        int rc = dx_classmix(&b, &o, &r, &err), bad = 0, ones = 0;
        for (int i = 0; i < 16; i++) {
            int s = b.mask[i];
            ones += s;
            bad += b.label[i] != (s ? b.src_label[i] : b.tgt_plabel[i]) ||
                   b.weight[i] != (s ? 1.0f : b.tgt_weight[i]);
            for (int c = 0; c < 3; c++)
                bad += b.image[3 * i + c] != (s ? b.src_image[3 * i + c]
                                                : b.tgt_image[3 * i + c]);
        }
        CHECK(rc == 0 && bad == 0 && ones > 0 && ones < 16,
              "mode %s: the source where the mask is 1 (%d of 16), the "
              "target elsewhere", dx_mix_mode_names[mode], ones);
        dx_mix_batch nb = b;
        nb.src_image = NULL;
        CHECK(dx_classmix(&nb, &o, &r, &err) == -1 &&
                  strstr(err.msg, dx_mix_mode_names[mode]),
              "mode %s needs the source: %s", dx_mix_mode_names[mode],
              err.msg);
    }
}

int main(void)
{
    test_cow();
    test_cut();
    test_mask_modes();
    test_golden_4x4();
    test_all_ones();
    test_pick();
    test_classmix();
    test_naive_none();
    return check_done();
}
