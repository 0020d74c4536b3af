/* test_sampler.c - deterministic draws, shuffled epochs, and geometry that
 * keeps labels aligned with images and never interpolates them.
 *
 * The geometry test uses images whose red and green channels are the
 * source x and y (a linear ramp, which bilinear resampling keeps linear)
 * and labels that are a function of (x, y).  After any resize, rescale,
 * crop and flip, the label of an output pixel must be the label of the
 * source pixel its colour names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "data/dataset.h"
#include "data/labelmap.h"
#include "io/pngio.h"
#include "data/sampler.h"

enum { SW = 200, SH = 120 };
static char root[256];

/* The label id at source pixel (x, y): blocks of 9 x 7 pixels. */
static int block_id(int x, int y)
{
    return 5 + 10 * (((x / 9) + 2 * (y / 7)) % 5);
}

/* Train id of a block id: spaced out, so that any blend of two is not one
 * of them. */
static int train_of(int id)
{
    return (id - 5) / 10 * 40;
}

static int train_at(int x, int y)
{
    x = x < 0 ? 0 : x >= SW ? SW - 1 : x;
    y = y < 0 ? 0 : y >= SH ? SH - 1 : y;
    return train_of(block_id(x, y));
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/dacs-test-sampler.XXXXXX");
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    char p[512];
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/labels", root);
    mkdir(p, 0777);
    dx_err err;
    static uint8_t img[SH * SW * 3], lbl[SH * SW];
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++) {
            uint8_t *q = img + (y * SW + x) * 3;
            q[0] = (uint8_t)x;
            q[1] = (uint8_t)y;
            q[2] = 0;
            lbl[y * SW + x] = (uint8_t)block_id(x, y);
        }
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/images/%d.png", root, i);
        img[2] = (uint8_t)(i + 1); /* pixel (0,0) blue marks the item */
        dx_png_write(p, SW, SH, 3, 8, img, &err);
        snprintf(p, sizeof p, "%s/labels/%d.png", root, i);
        dx_png_write(p, SW, SH, 1, 8, lbl, &err);
    }
    img[2] = 0;
    dx_labelmap map;
    const char *tbl = "5 0\n15 40\n25 80\n35 120\n45 160\n";
    dx_labelmap_parse(&map, tbl, strlen(tbl), "blocks", &err);
    dx_dataset d;
    dx_dataset_spec spec = {DX_DS_GTA5, root, NULL, NULL, 1, 0, NULL, 0};
    if (dx_dataset_open(&d, &spec, &err)) {
        CHECK(0, "open: %s", err.msg);
        return check_done();
    }

    /* ---- which items: shuffled epochs, pure in (seed, iter) ---- */
    dx_sampler s;
    dx_sampler_init(&s, &d, &map, 7, "seg-batch:src");
    int idx[64], again[64];
    int perm_ok = 1;
    for (int e = 0; e < 6; e++) { /* batch 3 over 5 items: epochs straddle */
        int seen[5] = {0};
        for (int k = 0; k < 5; k++) {
            int pos = e * 5 + k, t = pos / 3, i = pos % 3;
            dx_sampler_draw(&s, (uint64_t)t, 3, idx, &err);
            seen[idx[i]]++;
        }
        for (int k = 0; k < 5; k++)
            perm_ok &= seen[k] == 1;
    }
    CHECK(perm_ok, "each epoch visits every item once (batch 3, 5 items)");
    dx_sampler_draw(&s, 11, 3, idx, &err);
    dx_sampler_draw(&s, 2, 3, again, &err);
    dx_sampler_draw(&s, 11, 3, again, &err);
    CHECK(memcmp(idx, again, 3 * sizeof *idx) == 0,
          "iteration 11 draws the same items whatever came before");
    int differ = 0;
    for (int t = 0; t < 20; t++) {
        dx_sampler_draw(&s, (uint64_t)t, 5, idx, &err);
        dx_sampler t2;
        dx_sampler_init(&t2, &d, &map, 8, "seg-batch:src");
        dx_sampler_draw(&t2, (uint64_t)t, 5, again, &err);
        differ += memcmp(idx, again, 5 * sizeof *idx) != 0;
    }
    CHECK(differ >= 15, "another seed gives other orders (%d of 20)", differ);

    /* ---- geometry ---- */
    s.resize_w = 160;
    s.resize_h = 96;
    s.scale_lo = 0.3;
    s.scale_hi = 1.6;
    s.crop_w = 64;
    s.crop_h = 48;
    s.flip = 1;
    tns_frame fi, fl, gi, gl;
    long total = 0, exact = 0, near = 0, flipped = 0, padded = 0,
         padbad = 0, notset = 0;
    for (int t = 0; t < 60; t++) {
        dx_sampler_draw(&s, (uint64_t)t, 2, idx, &err);
        if (dx_sampler_load(&s, (uint64_t)t, idx, 2, "src.image",
                            "src.label", &fi, &fl, &err)) {
            CHECK(0, "load: %s", err.msg);
            break;
        }
        const uint8_t *im = fi.data, *lb = fl.data;
        for (int k = 0; k < 2; k++) {
            const uint8_t *I = im + (size_t)k * 64 * 48 * 3;
            const uint8_t *L = lb + (size_t)k * 64 * 48;
            /* a flip shows as red falling along a row */
            int a = -1, b = -1;
            for (int x = 0; x < 64; x++)
                if (L[24 * 64 + x] != 255) {
                    if (a < 0)
                        a = I[(24 * 64 + x) * 3];
                    b = I[(24 * 64 + x) * 3];
                }
            flipped += a > b;
            for (int i = 0; i < 64 * 48; i++) {
                int l = L[i];
                if (l == 255) {
                    padded++;
                    padbad += I[3 * i] || I[3 * i + 1] || I[3 * i + 2];
                    continue;
                }
                if (l % 40 || l > 160)
                    notset++;
                int x = I[3 * i], y = I[3 * i + 1];
                total++;
                if (l == train_at(x, y)) {
                    exact++;
                    near++;
                    continue;
                }
                int ok = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        ok |= l == train_at(x + dx, y + dy);
                near += ok;
            }
        }
        if (t == 0) {
            /* the same iteration again: the same bytes */
            dx_sampler_load(&s, 0, idx, 2, "src.image", "src.label", &gi, &gl,
                            &err);
            CHECK(memcmp(gi.data, fi.data, fi.nbytes) == 0 &&
                      memcmp(gl.data, fl.data, fl.nbytes) == 0,
                  "same seed and iteration: same crops, scales, flips");
            tns_frame_free(&gi);
            tns_frame_free(&gl);
            dx_sampler_load(&s, 1, idx, 2, "src.image", "src.label", &gi, &gl,
                            &err);
            CHECK(memcmp(gi.data, fi.data, fi.nbytes) != 0,
                  "another iteration: other geometry");
            tns_frame_free(&gi);
            tns_frame_free(&gl);
        }
        tns_frame_free(&fi);
        tns_frame_free(&fl);
    }
    CHECK(notset == 0, "labels only take mapped values or 255 (%ld not)",
          notset);
    CHECK(near == total, "every label names a source pixel within 1 of "
          "the one its colour names (%ld of %ld)", near, total);
    CHECK(exact >= total * 99 / 100, "99%% exactly aligned (%ld of %ld)",
          exact, total);
    CHECK(flipped > 30 && flipped < 90, "about half flipped (%ld of 120)",
          flipped);
    CHECK(padded > 0 && padbad == 0,
          "crops past the border pad label 255 and image 0 (%ld pixels)",
          padded);

    /* no geometry: the stored pixels, untouched */
    dx_sampler_init(&s, &d, &map, 0, "x");
    idx[0] = 3;
    if (dx_sampler_load(&s, 0, idx, 1, "a", "b", &fi, &fl, &err) == 0) {
        img[2] = 4;
        int bad = 0;
        for (int i = 0; i < SW * SH; i++)
            bad += ((uint8_t *)fl.data)[i] != train_of(lbl[i]);
        CHECK(memcmp(fi.data, img, sizeof img) == 0 && bad == 0,
              "without geometry the item comes out as stored");
        tns_frame_free(&fi);
        tns_frame_free(&fl);
    }
    /* resize only: label nearest, no blends */
    s.resize_w = 77;
    s.resize_h = 51;
    if (dx_sampler_load(&s, 0, idx, 1, "a", "b", &fi, NULL, &err) == 0) {
        CHECK(fi.dims[1] == 51 && fi.dims[2] == 77,
              "resize without labels: 77x51 image");
        tns_frame_free(&fi);
    }
    dx_dataset_free(&d);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return check_done();
}
