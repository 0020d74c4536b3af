/* test_dataset.c - tiny PNG trees of each dataset layout, read through the
 * dataset enumeration and the batch loader: golden label mapping, file
 * order, and the errors for missing, mismatched and corrupt files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "data/classes.h"
#include "data/dataset.h"
#include "data/item.h"
#include "data/labelmap.h"
#include "io/pngio.h"
#include "data/sampler.h"

enum { W = 5, H = 3, N = W * H };
static char root[256];

static void mkdirs(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *q = p + strlen(root) + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(p, 0777);
            *q = '/';
        }
    mkdir(p, 0777);
}

static const char *at(const char *rel)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", root, rel);
    return p[k];
}

/* A copy that lives until the end of the test. */
static char *kept[32];
static int nkept;
static char *keep(const char *s)
{
    return kept[nkept++] = strdup(s);
}

/* An image whose red channel is the item number k and green the pixel. */
static void write_image(const char *rel, int k, int w, int h)
{
    uint8_t px[64 * 3];
    for (int i = 0; i < w * h; i++) {
        px[3 * i] = (uint8_t)k;
        px[3 * i + 1] = (uint8_t)i;
        px[3 * i + 2] = 9;
    }
    dx_err err;
    if (dx_png_write(at(rel), w, h, 3, 8, px, &err))
        printf("# %s\n", err.msg);
}

/* Label pixels: ids[i], written as grey (depth 8), 16-bit RGB with junk
 * in G and B, or palette. */
static void write_label(const char *rel, const uint16_t *ids, int kind)
{
    dx_err err;
    int rc;
    if (kind == 0) {
        uint8_t px[N];
        for (int i = 0; i < N; i++)
            px[i] = (uint8_t)ids[i];
        rc = dx_png_write(at(rel), W, H, 1, 8, px, &err);
    } else if (kind == 1) {
        uint16_t px[N * 3];
        for (int i = 0; i < N; i++) {
            px[3 * i] = ids[i];
            px[3 * i + 1] = 77; /* an instance id: must be ignored */
            px[3 * i + 2] = 1000;
        }
        rc = dx_png_write(at(rel), W, H, 3, 16, px, &err);
    } else if (kind == 2) {
        uint8_t px[N], pal[256 * 3];
        for (int i = 0; i < 256 * 3; i++)
            pal[i] = (uint8_t)(i * 7); /* colours that mean nothing */
        for (int i = 0; i < N; i++)
            px[i] = (uint8_t)ids[i];
        rc = dx_png_write_palette(at(rel), W, H, px, pal, 256, &err);
    } else {
        uint16_t px[N];
        memcpy(px, ids, sizeof px);
        rc = dx_png_write(at(rel), W, H, 1, 16, px, &err);
    }
    if (rc)
        printf("# %s\n", err.msg);
}

/* Read all items in order without geometry and compare with the golden
 * train ids; the image's red channel must be the item number. */
static void golden(const char *what, const dx_dataset *d,
                   const dx_labelmap *map, const uint8_t *want,
                   const int *items)
{
    dx_sampler s;
    dx_sampler_init(&s, d, map, 0, "test");
    int idx[8];
    for (int i = 0; i < d->n; i++)
        idx[i] = i;
    tns_frame img, lbl;
    dx_err err;
    int rc = dx_sampler_load(&s, 0, idx, d->n, "x.image", "x.label", &img,
                             &lbl, &err);
    CHECK(rc == 0, "%s: load %s", what, rc ? err.msg : "");
    if (rc)
        return;
    CHECK(img.rank == 4 && img.dims[0] == d->n && img.dims[1] == H &&
              img.dims[2] == W && img.dims[3] == 3 && lbl.rank == 3 &&
              lbl.dims[1] == H && lbl.dims[2] == W,
          "%s: shapes", what);
    int bad = 0, badi = 0;
    for (int k = 0; k < d->n; k++) {
        for (int i = 0; i < N; i++) {
            bad += ((uint8_t *)lbl.data)[k * N + i] != want[i];
            badi += ((uint8_t *)img.data)[(k * N + i) * 3] != items[k] ||
                    ((uint8_t *)img.data)[(k * N + i) * 3 + 1] != i;
        }
    }
    CHECK(bad == 0, "%s: golden train ids (%d wrong)", what, bad);
    CHECK(badi == 0, "%s: images in sorted order, pixels in place", what);
    tns_frame_free(&img);
    tns_frame_free(&lbl);
}

/* Open a one-item dataset of kind at dir (images/ and labels/ for gta5,
 * RGB/ and GT/LABELS/ for synthia) and load it: 0, or -1 with err. */
static int load_one(int kind, const char *dir, int colors,
                    const dx_labelmap *map, tns_frame *lbl, dx_err *err)
{
    dx_dataset d;
    dx_dataset_spec spec = {kind, keep(at(dir)), NULL, NULL, 1, colors, NULL, 0};
    if (dx_dataset_open(&d, &spec, err))
        return -1;
    dx_sampler s;
    dx_sampler_init(&s, &d, map, 0, "t");
    tns_frame img;
    int rc = dx_dataset_check(&d, err);
    if (rc == 0)
        rc = dx_sampler_load(&s, 0, (int[]){0}, 1, "i", "l", &img, lbl, err);
    else
        memset(lbl, 0, sizeof *lbl);
    if (rc == 0)
        tns_frame_free(&img);
    dx_dataset_free(&d);
    return rc;
}

/* A PNG of w x h pixels of c channels at depth 8 or 16, every sample
 * v (alpha: a) but pixel 7's first sample, which is v7. */
static void write_flat(const char *rel, int c, int depth, int v, int v7,
                       int a)
{
    uint16_t px16[N * 4];
    uint8_t px8[N * 4];
    for (int i = 0; i < N * c; i++) {
        int s = i % c == 3 ? a : i == 7 * c ? v7 : v;
        px16[i] = (uint16_t)s;
        px8[i] = (uint8_t)s;
    }
    dx_err err;
    if (dx_png_write(at(rel), W, H, c, depth, depth == 16 ? (void *)px16
                                                          : (void *)px8,
                     &err))
        printf("# %s\n", err.msg);
}

/* Files outside their dataset's encoding (item.h) are refused, naming the
 * file and what it is, from the header check and from the loader alike;
 * with label_colors an RGB label in the Cityscapes colours is read back. */
static void test_encodings(void)
{
    dx_err err;
    dx_labelmap cs, sy;
    dx_labelmap_builtin(&cs, "gta5", &err);
    dx_labelmap_builtin(&sy, "synthia", &err);
    tns_frame l;
    mkdirs("enc/images");
    mkdirs("enc/labels");
    write_image("enc/images/0.png", 1, W, H);

    /* a GTA5 label re-saved as RGB in its colours: road (7) everywhere,
     * car (26) at pixel 7 */
    uint8_t rgb[N * 3];
    for (int i = 0; i < N; i++) {
        rgb[3 * i] = 128, rgb[3 * i + 1] = 64, rgb[3 * i + 2] = 128;
        if (i == 7)
            rgb[3 * i] = 0, rgb[3 * i + 1] = 0, rgb[3 * i + 2] = 142;
    }
    dx_png_write(at("enc/labels/0.png"), W, H, 3, 8, rgb, &err);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "enc/labels/0.png: a gta5 label must be a "
                     "palette or grey PNG, found 8-bit RGB") &&
              strstr(err.msg, "--label-colors"),
          "truecolour GTA5 label refused, by its header: %s", err.msg);
    CHECK(load_one(DX_DS_GTA5, "enc", 1, &cs, &l, &err) == 0 &&
              ((uint8_t *)l.data)[0] == 0 && ((uint8_t *)l.data)[7] == 13 &&
              ((uint8_t *)l.data)[14] == 0,
          "with label_colors: road and car back as train ids 0 and 13");
    tns_frame_free(&l);
    rgb[3 * 8] = 1; /* (1, 64, 128) is no Cityscapes colour */
    dx_png_write(at("enc/labels/0.png"), W, H, 3, 8, rgb, &err);
    CHECK(load_one(DX_DS_GTA5, "enc", 1, &cs, &l, &err) == -1 &&
              strstr(err.msg, "colour (1,64,128) at row 1 column 3 is no "
                     "Cityscapes label colour"),
          "an unknown colour is named with its pixel: %s", err.msg);
    /* every train-id colour is the colour of a label id of that class */
    int same = 0;
    for (int t = 0; t < DX_NUM_CLASSES; t++) {
        uint8_t c[3];
        dx_class_color(t, c);
        int id = dx_cityscapes_color_id(c);
        same += id >= 0 && cs.lut[id] == t;
    }
    CHECK(same == DX_NUM_CLASSES, "the 19 class colours map back to their "
          "classes (%d)", same);

    write_flat("enc/labels/0.png", 3, 16, 7, 7, 0);
    CHECK(load_one(DX_DS_GTA5, "enc", 1, &cs, &l, &err) == -1 &&
              strstr(err.msg, "found 16-bit RGB"),
          "16-bit RGB GTA5 label refused: %s", err.msg);
    write_flat("enc/labels/0.png", 2, 8, 7, 7, 255);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "found 8-bit grey+alpha"),
          "grey+alpha label refused: %s", err.msg);
    write_flat("enc/labels/0.png", 1, 8, 7, 40, 0);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "label id 40 at row 1 column 2 is no GTA5 "
                     "label id (0..33)"),
          "an id outside the dataset's is named: %s", err.msg);

    /* images: 8-bit RGB, or RGBA opaque */
    write_flat("enc/labels/0.png", 1, 8, 7, 7, 0);
    write_flat("enc/images/0.png", 1, 8, 50, 50, 0);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "enc/images/0.png: a gta5 image must be an "
                     "8-bit RGB PNG, found 8-bit grey"),
          "a grey image refused: %s", err.msg);
    write_flat("enc/images/0.png", 3, 16, 50, 50, 0);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "found 16-bit RGB"),
          "a 16-bit image refused: %s", err.msg);
    write_flat("enc/images/0.png", 4, 8, 50, 50, 255);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == 0,
          "an opaque RGBA image is read: %s", err.msg);
    tns_frame_free(&l);
    uint8_t rgba[N * 4];
    memset(rgba, 255, sizeof rgba);
    rgba[4 * 9 + 3] = 0;
    dx_png_write(at("enc/images/0.png"), W, H, 4, 8, rgba, &err);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "alpha 0 at row 1 column 4"),
          "a transparent pixel refused: %s", err.msg);
    uint8_t idx[N] = {0}, pal[3] = {1, 2, 3};
    dx_png_write_palette(at("enc/images/0.png"), W, H, idx, pal, 1, &err);
    CHECK(load_one(DX_DS_GTA5, "enc", 0, &cs, &l, &err) == -1 &&
              strstr(err.msg, "found 8-bit palette"),
          "a palette image (a label in the image column?) refused: %s",
          err.msg);

    /* SYNTHIA: 16-bit RGB labels only */
    mkdirs("syn8/RGB");
    mkdirs("syn8/GT/LABELS");
    write_image("syn8/RGB/0.png", 1, W, H);
    write_flat("syn8/GT/LABELS/0.png", 3, 8, 3, 3, 0);
    CHECK(load_one(DX_DS_SYNTHIA, "syn8", 0, &sy, &l, &err) == -1 &&
              strstr(err.msg, "a synthia label must be a 16-bit RGB PNG, "
                     "the class in the first channel, found 8-bit RGB"),
          "8-bit SYNTHIA label refused: %s", err.msg);
    write_flat("syn8/GT/LABELS/0.png", 3, 16, 3, 23, 0);
    CHECK(load_one(DX_DS_SYNTHIA, "syn8", 0, &sy, &l, &err) == -1 &&
              strstr(err.msg, "label id 23 at row 1 column 2 is no SYNTHIA "
                     "label id (0..22)"),
          "SYNTHIA id 23 refused: %s", err.msg);
    write_flat("syn8/GT/LABELS/0.png", 3, 16, 3, 21, 0);
    CHECK(load_one(DX_DS_SYNTHIA, "syn8", 0, &sy, &l, &err) == 0 &&
              ((uint8_t *)l.data)[0] == 0 && ((uint8_t *)l.data)[7] == 3,
          "SYNTHIA road (3) and wall (21): train ids 0 and 3");
    tns_frame_free(&l);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/dacs-test-dataset.XXXXXX");
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    dx_err err;
    dx_dataset d;
    dx_labelmap cs, sy, custom;
    dx_labelmap_builtin(&cs, "cityscapes", &err);
    dx_labelmap_builtin(&sy, "synthia", &err);

    /* Cityscapes label ids, incl. unlabeled 0, ego vehicle 1, parking 9,
     * rectification border 2, and 255, the void of 8-bit label files */
    const uint16_t cs_ids[N] = {0, 1, 7, 8, 11, 12, 17, 21, 23, 24, 26,
                                33, 9, 2, 255};
    const uint8_t cs_want[N] = {255, 255, 0, 1, 2, 3, 5, 8, 10, 11, 13,
                                18, 255, 255, 255};

    /* ---- cityscapes: two cities, out of order on disk ---- */
    mkdirs("cs/leftImg8bit/val/bonn");
    mkdirs("cs/leftImg8bit/val/aachen");
    mkdirs("cs/gtFine/val/bonn");
    mkdirs("cs/gtFine/val/aachen");
    write_image("cs/leftImg8bit/val/bonn/bonn_000000_000001_leftImg8bit.png", 3, W, H);
    write_image("cs/leftImg8bit/val/aachen/aachen_000000_000002_leftImg8bit.png", 2, W, H);
    write_image("cs/leftImg8bit/val/aachen/aachen_000000_000001_leftImg8bit.png", 1, W, H);
    write_label("cs/gtFine/val/bonn/bonn_000000_000001_gtFine_labelIds.png", cs_ids, 0);
    write_label("cs/gtFine/val/aachen/aachen_000000_000002_gtFine_labelIds.png", cs_ids, 0);
    write_label("cs/gtFine/val/aachen/aachen_000000_000001_gtFine_labelIds.png", cs_ids, 0);
    /* files that are not part of the dataset */
    write_label("cs/gtFine/val/aachen/aachen_000000_000001_gtFine_color.png", cs_ids, 0);
    write_image("cs/leftImg8bit/val/aachen/notes.png", 9, W, H);
    dx_dataset_spec spec = {DX_DS_CITYSCAPES, keep(at("cs")), "val", NULL, 1, 0, NULL, 0};
    int rc = dx_dataset_open(&d, &spec, &err);
    CHECK(rc == 0 && d.n == 3, "cityscapes: 3 items %s", rc ? err.msg : "");
    if (!rc) {
        CHECK(strstr(d.image[0], "aachen_000000_000001_leftImg8bit.png") &&
                  strstr(d.image[2], "bonn_000000_000001") &&
                  strstr(d.label[0], "gtFine/val/aachen/aachen_000000_000001_gtFine_labelIds.png") &&
                  strcmp(d.key[1], "gtFine/val/aachen/aachen_000000_000002_gtFine_labelIds.png") == 0,
              "cityscapes: sorted by city then name, label paths paired");
        CHECK(dx_dataset_check(&d, &err) == 0, "cityscapes: headers agree");
        golden("cityscapes", &d, &cs, cs_want, (int[]){1, 2, 3});
        dx_dataset_free(&d);
    }
    spec.split = "train";
    CHECK(dx_dataset_open(&d, &spec, &err) == -1 &&
              strstr(err.msg, "leftImg8bit/train"),
          "cityscapes: missing split named: %s", err.msg);
    spec.split = "val";
    spec.labels = 0;
    rc = dx_dataset_open(&d, &spec, &err);
    CHECK(rc == 0 && d.n == 3 && d.label == NULL &&
              strstr(d.key[0], "leftImg8bit/"),
          "cityscapes without labels");
    if (!rc)
        dx_dataset_free(&d);

    /* ---- gta5: palette PNGs whose indices are the ids ---- */
    mkdirs("gta/images");
    mkdirs("gta/labels");
    write_image("gta/images/00002.png", 2, W, H);
    write_image("gta/images/00001.png", 1, W, H);
    write_label("gta/labels/00002.png", cs_ids, 2);
    write_label("gta/labels/00001.png", cs_ids, 2);
    dx_dataset_spec gspec = {DX_DS_GTA5, keep(at("gta")), NULL, NULL, 1, 0, NULL, 0};
    rc = dx_dataset_open(&d, &gspec, &err);
    CHECK(rc == 0 && d.n == 2, "gta5: 2 items %s", rc ? err.msg : "");
    if (!rc) {
        golden("gta5 (palette indices)", &d, &cs, cs_want, (int[]){1, 2});
        dx_dataset_free(&d);
    }

    /* ---- synthia: 16-bit RGB, class in the first channel ---- */
    const uint16_t sy_ids[N] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 22,
                                14, 255, 22};
    const uint8_t sy_want[N] = {255, 10, 2, 0, 1, 4, 8, 5, 13, 11, 255,
                                255, 255, 255, 255};
    mkdirs("syn/RGB");
    mkdirs("syn/GT/LABELS");
    write_image("syn/RGB/0000001.png", 4, W, H);
    write_label("syn/GT/LABELS/0000001.png", sy_ids, 1);
    dx_dataset_spec sspec = {DX_DS_SYNTHIA, keep(at("syn")), NULL, NULL, 1, 0, NULL, 0};
    rc = dx_dataset_open(&d, &sspec, &err);
    CHECK(rc == 0 && d.n == 1, "synthia: 1 item %s", rc ? err.msg : "");
    if (!rc) {
        golden("synthia (16-bit, first channel)", &d, &sy, sy_want,
               (int[]){4});
        dx_dataset_free(&d);
    }

    /* ---- list with a custom table, 16-bit grey labels ---- */
    mkdirs("lst/a");
    write_image("lst/a/i1.png", 5, W, H);
    write_image("lst/a/i2.png", 6, W, H);
    const uint16_t l_ids[N] = {5, 9, 300, 1000, 5, 9, 300, 0, 0, 0, 5, 5,
                               5, 5, 7};
    const uint8_t l_want[N] = {0, 1, 2, 255, 0, 1, 2, 255, 255, 255, 0, 0,
                               0, 0, 255};
    write_label("lst/a/l1.png", l_ids, 3);
    write_label("lst/a/l2.png", l_ids, 3);
    const char *tbl = "# custom\n5 0\n9 1\n300 2\n";
    CHECK(dx_labelmap_parse(&custom, tbl, strlen(tbl), "custom", &err) == 0,
          "custom table");
    FILE *fp = fopen(at("lst/list.txt"), "w");
    fprintf(fp, "# image label\n a/i2.png\ta/l2.png \n\n%s %s # absolute\n",
            at("lst/a/i1.png"), at("lst/a/l1.png"));
    fclose(fp);
    dx_dataset_spec lspec = {DX_DS_LIST, NULL, NULL, keep(at("lst/list.txt")), 1, 0, NULL, 0};
    rc = dx_dataset_open(&d, &lspec, &err);
    CHECK(rc == 0 && d.n == 2, "list: 2 items %s", rc ? err.msg : "");
    if (!rc) {
        CHECK(strcmp(d.key[0], "a/l2.png") == 0,
              "list: order as listed, relative to the list's folder");
        golden("list + custom table", &d, &custom, l_want, (int[]){6, 5});
        dx_dataset_free(&d);
    }
    lspec.root = keep(at("lst/a"));
    CHECK(dx_dataset_open(&d, &lspec, &err) == -1 &&
              strstr(err.msg, "line 2: missing image") &&
              strstr(err.msg, "lst/a/a/i2.png"),
          "list: --root changes the base: %s", err.msg);
    lspec.root = NULL;
    fp = fopen(at("lst/bad.txt"), "w");
    fprintf(fp, "a/i1.png a/l1.png\na/i2.png a/l2.png extra\n");
    fclose(fp);
    lspec.list = keep(at("lst/bad.txt"));
    CHECK(dx_dataset_open(&d, &lspec, &err) == -1 &&
              strstr(err.msg, "line 2") && strstr(err.msg, "third field"),
          "list: third field: %s", err.msg);
    fp = fopen(at("lst/bad.txt"), "w");
    fprintf(fp, "a/i1.png\n");
    fclose(fp);
    CHECK(dx_dataset_open(&d, &lspec, &err) == -1 &&
              strstr(err.msg, "line 1: expected 'IMAGE LABEL'"),
          "list: label missing: %s", err.msg);
    lspec.labels = 0;
    rc = dx_dataset_open(&d, &lspec, &err);
    CHECK(rc == 0 && d.n == 1, "list: images alone without labels");
    if (!rc)
        dx_dataset_free(&d);

    /* ---- limit: evenly spaced ---- */
    mkdirs("many/images");
    mkdirs("many/labels");
    for (int i = 0; i < 10; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "many/images/%02d.png", i);
        snprintf(b, sizeof b, "many/labels/%02d.png", i);
        write_image(a, i, W, H);
        write_label(b, cs_ids, 0);
    }
    dx_dataset_spec mspec = {DX_DS_GTA5, keep(at("many")), NULL, NULL, 1, 0, NULL, 0};
    rc = dx_dataset_open(&d, &mspec, &err);
    if (!rc) {
        dx_dataset_limit(&d, 4); /* floor(i*10/4) = 0, 2, 5, 7 */
        CHECK(d.n == 4 && strstr(d.image[0], "/00.png") &&
                  strstr(d.image[1], "/02.png") && strstr(d.image[2], "/05.png") &&
                  strstr(d.image[3], "/07.png") && strstr(d.label[3], "labels/07.png"),
              "limit 4 of 10 keeps items 0, 2, 5, 7");
        dx_dataset_free(&d);
    }

    /* ---- errors ---- */
    unlink(at("gta/labels/00002.png"));
    CHECK(dx_dataset_open(&d, &gspec, &err) == -1 &&
              strstr(err.msg, "missing label") &&
              strstr(err.msg, "gta/labels/00002.png"),
          "missing label named: %s", err.msg);
    write_label("gta/labels/00002.png", cs_ids, 2);
    write_image("gta/images/00002.png", 2, W + 1, H); /* wrong size */
    rc = dx_dataset_open(&d, &gspec, &err);
    if (!rc) {
        CHECK(dx_dataset_check(&d, &err) == -1 &&
                  strstr(err.msg, "labels/00002.png is 5x3") &&
                  strstr(err.msg, "images/00002.png is 6x3"),
              "header check: size mismatch named: %s", err.msg);
        dx_sampler s;
        dx_sampler_init(&s, &d, &cs, 0, "t");
        tns_frame img, lbl;
        CHECK(dx_sampler_load(&s, 0, (int[]){1}, 1, "i", "l", &img, &lbl,
                              &err) == -1 &&
                  strstr(err.msg, "labels/00002.png is 5x3, but its image"),
              "load: size mismatch named: %s", err.msg);
        CHECK(img.data == NULL && lbl.data == NULL, "no frames left on error");
        dx_dataset_free(&d);
    }
    write_image("gta/images/00002.png", 2, W, H);
    /* a corrupt PNG: cut in half */
    {
        FILE *f = fopen(at("gta/labels/00002.png"), "rb");
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        f = fopen(at("gta/labels/00002.png"), "wb");
        fwrite(buf, 1, n / 2, f);
        fclose(f);
        rc = dx_dataset_open(&d, &gspec, &err);
        if (!rc) {
            dx_sampler s;
            dx_sampler_init(&s, &d, &cs, 0, "t");
            tns_frame img, lbl;
            CHECK(dx_sampler_load(&s, 0, (int[]){0, 1}, 2, "i", "l", &img,
                                  &lbl, &err) == -1 &&
                      strstr(err.msg, "labels/00002.png") &&
                      strstr(err.msg, "corrupt or truncated"),
                  "corrupt PNG named: %s", err.msg);
            dx_dataset_free(&d);
        }
        f = fopen(at("gta/labels/00002.png"), "wb");
        fwrite("not a png at all", 1, 16, f);
        fclose(f);
        rc = dx_dataset_open(&d, &gspec, &err);
        if (!rc) {
            CHECK(dx_dataset_check(&d, &err) == -1 &&
                      strstr(err.msg, "not a PNG"),
                  "header check: not a PNG: %s", err.msg);
            dx_dataset_free(&d);
        }
    }
    mkdirs("empty/images");
    mkdirs("empty/labels");
    dx_dataset_spec espec = {DX_DS_GTA5, keep(at("empty")), NULL, NULL, 1, 0, NULL, 0};
    CHECK(dx_dataset_open(&d, &espec, &err) == -1 &&
              strstr(err.msg, "no images found"),
          "empty dataset: %s", err.msg);
    espec.root = keep(at("nowhere"));
    CHECK(dx_dataset_open(&d, &espec, &err) == -1 &&
              strstr(err.msg, "nowhere/images"),
          "missing root named: %s", err.msg);

    test_encodings();
    while (nkept > 0)
        free(kept[--nkept]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return check_done();
}
