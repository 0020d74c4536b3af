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
#include "data/rcs.h"
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

/* Pixels of train id v in item k of a (n, H, W) label frame. */
static long count_of(const tns_frame *l, int k, int v)
{
    size_t hw = (size_t)l->dims[1] * l->dims[2];
    const uint8_t *y = (const uint8_t *)l->data + (size_t)k * hw;
    long c = 0;
    for (size_t i = 0; i < hw; i++)
        c += y[i] == v;
    return c;
}

/* Crop boxes, redrawn crops and full-size labels. */
static void redraws(const dx_dataset *d, const dx_labelmap *map)
{
    dx_err err;
    dx_sampler s;
    dx_sampler_init(&s, d, map, 3, "seg-batch:src");
    s.resize_w = 160;
    s.resize_h = 96;
    s.scale_lo = 0.1; /* small enough to pad */
    s.scale_hi = 1.8;
    s.crop_w = 30;
    s.crop_h = 20;
    s.flip = 1;
    int idx[2] = {1, 3};
    /* ---- the box names the stored pixel of every label ---- */
    long mism = 0, pads = 0, padmism = 0, flips = 0;
    for (int t = 0; t < 40; t++) {
        dx_sample o = {.image_name = "i", .label_name = "l", .box_name = "b"};
        if (dx_sampler_fill(&s, (uint64_t)t, idx, NULL, 2, &o, &err)) {
            CHECK(0, "fill: %s", err.msg);
            return;
        }
        for (int k = 0; k < 2; k++) {
            const int32_t *box = (const int32_t *)o.box.data + k * DX_BOX_LEN;
            const uint8_t *L = (const uint8_t *)o.label.data + k * 30 * 20;
            flips += box[DX_BOX_FLIP];
            mism += box[DX_BOX_FW] != SW || box[DX_BOX_FH] != SH;
            for (int r = 0; r < 20; r++)
                for (int c = 0; c < 30; c++) {
                    int y = dx_box_row(box, r), x = dx_box_col(box, 30, c);
                    if (x < 0 || y < 0) {
                        pads++;
                        padmism += L[r * 30 + c] != 255;
                    } else {
                        mism += L[r * 30 + c] != train_of(block_id(x, y));
                    }
                }
        }
        tns_frame_free(&o.image);
        tns_frame_free(&o.label);
        tns_frame_free(&o.box);
    }
    CHECK(mism == 0 && padmism == 0 && pads > 0 && flips > 10 && flips < 70,
          "the box maps every crop pixel to its stored pixel, flips and "
          "padding included (%ld wrong, %ld padded, %ld flipped)", mism, pads,
          flips);

    /* ---- rare-class crops: redrawn until they hold the class ---- */
    dx_rcs rcs = {.classes = 256, .min_pixels = 240};
    s.rcs = &rcs;
    s.rcs_min_crop_ratio = 0.5; /* more than 120 pixels of the class */
    s.scale_lo = 2.5; /* blocks of 14 to 30 pixels: counts vary */
    s.scale_hi = 4;
    s.flip = 0;
    int cls[2] = {160, 160};
    long pass_plain = 0, pass_rcs = 0, same_first = 0, n = 0;
    for (int t = 0; t < 100; t++) {
        dx_sample a = {.image_name = "i", .label_name = "l"};
        dx_sample b = {.image_name = "i", .label_name = "l"};
        if (dx_sampler_fill(&s, (uint64_t)t, idx, NULL, 2, &a, &err) ||
            dx_sampler_fill(&s, (uint64_t)t, idx, cls, 2, &b, &err)) {
            CHECK(0, "fill: %s", err.msg);
            return;
        }
        for (int k = 0; k < 2; k++) {
            long ca = count_of(&a.label, k, 160), cb = count_of(&b.label, k, 160);
            pass_plain += ca > 120;
            pass_rcs += cb > 120;
            /* a first crop that holds the class is kept as it is */
            if (ca > 120)
                same_first += memcmp((uint8_t *)a.label.data + k * 600,
                                     (uint8_t *)b.label.data + k * 600,
                                     600) == 0;
            n++;
        }
        tns_frame_free(&a.image);
        tns_frame_free(&a.label);
        tns_frame_free(&b.image);
        tns_frame_free(&b.label);
    }
    CHECK(pass_plain < n * 6 / 10 && pass_rcs > n * 95 / 100 &&
              same_first == pass_plain,
          "rcs crops: %ld of %ld hold > 120 pixels of the class without the "
          "redraw, %ld with it; a first crop that does is kept (%ld of %ld)",
          pass_plain, n, pass_rcs, same_first, pass_plain);
    /* a class no crop can hold: 11 crops drawn, the last kept */
    int none[2] = {200, 200};
    dx_sample c1 = {.image_name = "i", .label_name = "l"};
    dx_sample c2 = {.image_name = "i", .label_name = "l"};
    CHECK(dx_sampler_fill(&s, 5, idx, none, 2, &c1, &err) == 0 &&
              dx_sampler_fill(&s, 5, idx, none, 2, &c2, &err) == 0 &&
              memcmp(c1.image.data, c2.image.data, c1.image.nbytes) == 0,
          "an absent class: the redraws give up, the same way every time");
    tns_frame_free(&c1.image);
    tns_frame_free(&c1.label);
    tns_frame_free(&c2.image);
    tns_frame_free(&c2.label);
    s.rcs = NULL;

    /* ---- cat_max_ratio: crops dominated by one class are redrawn ---- */
    s.crop_w = 12;
    s.crop_h = 10;
    long dom[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) {
        s.cat_max_ratio = pass ? 0.6 : 1;
        for (int t = 0; t < 100; t++) {
            dx_sample a = {.image_name = "i", .label_name = "l"};
            if (dx_sampler_fill(&s, (uint64_t)t, idx, NULL, 2, &a, &err)) {
                CHECK(0, "fill: %s", err.msg);
                return;
            }
            for (int k = 0; k < 2; k++) {
                long most = 0;
                for (int v = 0; v <= 160; v += 40) {
                    long c = count_of(&a.label, k, v);
                    most = c > most ? c : most;
                }
                dom[pass] += most >= 0.6 * 120;
            }
            tns_frame_free(&a.image);
            tns_frame_free(&a.label);
        }
    }
    CHECK(dom[0] > 60 && dom[1] < 10,
          "cat_max_ratio 0.6: crops with one class over 60%% fall from %ld "
          "to %ld of 200", dom[0], dom[1]);
    s.cat_max_ratio = 1;

    /* ---- full-size labels beside resized images ---- */
    dx_sampler_init(&s, d, map, 0, "x");
    s.resize_w = 77;
    s.resize_h = 51;
    s.full_label = 1;
    dx_sample f = {.image_name = "i", .label_name = "l", .box_name = "b"};
    if (dx_sampler_fill(&s, 0, idx, NULL, 2, &f, &err) == 0) {
        int bad = 0;
        for (int i = 0; i < SW * SH; i++)
            bad += ((uint8_t *)f.label.data)[SW * SH + i] !=
                   train_of(block_id(i % SW, i / SW));
        const int32_t *b = f.box.data;
        CHECK(f.image.dims[1] == 51 && f.image.dims[2] == 77 &&
                  f.label.dims[1] == SH && f.label.dims[2] == SW && bad == 0 &&
                  b[DX_BOX_SW] == 77 && b[DX_BOX_FW] == SW && b[DX_BOX_X] == 0,
              "full labels: 77x51 images, the stored %dx%d labels as they "
              "are (%d wrong)", SW, SH, bad);
        tns_frame_free(&f.image);
        tns_frame_free(&f.label);
        tns_frame_free(&f.box);
    } else {
        CHECK(0, "full labels: %s", err.msg);
    }
    s.crop_w = s.crop_h = 40;
    CHECK(dx_sampler_fill(&s, 0, idx, NULL, 2, &f, &err) == -1 &&
              strstr(err.msg, "no crop") && !f.image.data,
          "full labels refuse a crop: %s", err.msg);
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
            dx_sampler_draw(&s, (uint64_t)t, 3, idx, NULL, &err);
            seen[idx[i]]++;
        }
        for (int k = 0; k < 5; k++)
            perm_ok &= seen[k] == 1;
    }
    CHECK(perm_ok, "each epoch visits every item once (batch 3, 5 items)");
    dx_sampler_draw(&s, 11, 3, idx, NULL, &err);
    dx_sampler_draw(&s, 2, 3, again, NULL, &err);
    dx_sampler_draw(&s, 11, 3, again, NULL, &err);
    CHECK(memcmp(idx, again, 3 * sizeof *idx) == 0,
          "iteration 11 draws the same items whatever came before");
    int differ = 0;
    for (int t = 0; t < 20; t++) {
        dx_sampler_draw(&s, (uint64_t)t, 5, idx, NULL, &err);
        dx_sampler t2;
        dx_sampler_init(&t2, &d, &map, 8, "seg-batch:src");
        dx_sampler_draw(&t2, (uint64_t)t, 5, again, NULL, &err);
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
        dx_sampler_draw(&s, (uint64_t)t, 2, idx, NULL, &err);
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
    redraws(&d, &map);
    dx_dataset_free(&d);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return check_done();
}
