/* sampler.c - deterministic batch draws and per-item geometry. */
#include "data/sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/classes.h"
#include "data/item.h"
#include "io/pngio.h"
#include "data/resize.h"
#include "base/rng.h"

void dx_sampler_init(dx_sampler *s, const dx_dataset *ds,
                     const dx_labelmap *map, uint64_t seed,
                     const char *purpose)
{
    memset(s, 0, sizeof *s);
    s->ds = ds;
    s->map = map;
    s->seed = seed;
    snprintf(s->purpose, sizeof s->purpose, "%s",
             purpose ? purpose : "seg-batch");
    s->scale_lo = s->scale_hi = 1;
    s->cat_max_ratio = 1;
}

static void keyed(dx_rng *r, const dx_sampler *s, const char *what,
                  uint64_t iter)
{
    char p[128];
    snprintf(p, sizeof p, "%s:%s", s->purpose, what);
    dx_rng_init(r, s->seed, p, iter);
}

/* perm = the shuffle of epoch e. */
static void epoch_perm(const dx_sampler *s, uint64_t e, uint32_t *perm)
{
    dx_rng r;
    keyed(&r, s, "epoch", e);
    for (int i = 0; i < s->ds->n; i++)
        perm[i] = (uint32_t)i;
    dx_rng_shuffle(&r, perm, (uint32_t)s->ds->n);
}

int dx_sampler_draw(const dx_sampler *s, uint64_t iter, int batch, int *idx,
                    int *cls, dx_err *err)
{
    if (s->rcs) {
        dx_rng r;
        keyed(&r, s, "rcs", iter);
        for (int i = 0; i < batch; i++) {
            dx_rng c = dx_rng_child(&r, (uint64_t)i);
            idx[i] = dx_rcs_draw(s->rcs, &c, cls ? &cls[i] : NULL);
        }
        return 0;
    }
    for (int i = 0; cls && i < batch; i++)
        cls[i] = -1;
    uint64_t n = (uint64_t)s->ds->n;
    uint32_t *perm = malloc(n * sizeof *perm);
    if (!perm)
        return dx_fail(err, "out of memory");
    uint64_t have = UINT64_MAX;
    for (int i = 0; i < batch; i++) {
        uint64_t k = iter * (uint64_t)batch + (uint64_t)i;
        if (k / n != have)
            epoch_perm(s, have = k / n, perm);
        idx[i] = (int)perm[k % n];
        if (dx_dataset_excluded(s->ds, idx[i])) {
            /* a stand-in, keyed by the iteration and the place in the
             * batch, so that no other draw changes */
            dx_rng r;
            keyed(&r, s, "exclude", iter);
            dx_rng c = dx_rng_child(&r, (uint64_t)i);
            do
                idx[i] = (int)dx_rng_below(&c, n);
            while (dx_dataset_excluded(s->ds, idx[i]));
        }
    }
    free(perm);
    return 0;
}

/* One loaded item. */
typedef struct item {
    uint8_t *img, *lbl;
    int w, h;   /* the image's size */
    int lw, lh; /* the label's: the image's, or the stored size */
    int32_t box[DX_BOX_LEN];
} item;

static void item_free(item *it)
{
    free(it->img);
    free(it->lbl);
    memset(it, 0, sizeof *it);
}

int dx_box_col(const int32_t box[DX_BOX_LEN], int w, int c)
{
    int64_t u = box[DX_BOX_X] + (box[DX_BOX_FLIP] ? w - 1 - c : c);
    if (u < 0 || u >= box[DX_BOX_SW])
        return -1;
    return (int)((2 * u + 1) * box[DX_BOX_FW] / (2 * (int64_t)box[DX_BOX_SW]));
}

int dx_box_row(const int32_t box[DX_BOX_LEN], int r)
{
    int64_t u = (int64_t)box[DX_BOX_Y] + r;
    if (u < 0 || u >= box[DX_BOX_SH])
        return -1;
    return (int)((2 * u + 1) * box[DX_BOX_FH] / (2 * (int64_t)box[DX_BOX_SH]));
}

/* Item index's label as train ids, of the size of its image img. */
static int read_label(const dx_sampler *s, int index, const dx_png *img,
                      uint8_t **train, dx_err *err)
{
    int w, h;
    if (dx_item_label(s->ds, index, s->map, train, &w, &h, err))
        return -1;
    if (w == img->width && h == img->height)
        return 0;
    free(*train);
    *train = NULL;
    return dx_fail(err, "label %s is %dx%d, but its image %s is %dx%d",
                   s->ds->label[index], w, h, s->ds->image[index],
                   img->width, img->height);
}

/* The random part of one item's geometry. */
typedef struct geom {
    int vw, vh; /* the resized and scaled image */
    int ox, oy; /* the window's top-left in it */
    int flip;
} geom;

/* The labels of window g (ow x oh) of the stored label (sw x sh) into
 * buf, counted per value into n[256]. */
static void window_counts(const uint8_t *lbl, int sw, int sh, const geom *g,
                          int ow, int oh, uint8_t *buf, long n[256])
{
    dx_resample_nearest(buf, ow, oh, lbl, sw, sh, 1, g->vw, g->vh, g->ox,
                        g->oy, DX_IGNORE);
    memset(n, 0, 256 * sizeof *n);
    for (size_t i = 0; i < (size_t)ow * oh; i++)
        n[buf[i]]++;
}

/* mmseg's RandomCrop test: at least two classes, the largest below
 * ratio of the labelled pixels. */
static int mixed_enough(const long n[256], double ratio)
{
    long most = 0, sum = 0;
    int classes = 0;
    for (int v = 0; v < 256; v++)
        if (v != DX_IGNORE && n[v]) {
            classes++;
            sum += n[v];
            most = n[v] > most ? n[v] : most;
        }
    return classes > 1 && (double)most / (double)sum < ratio;
}

/* Draw steps 3-5 of the geometry for a bw x bh image (the crop window
 * redrawn for cat_max_ratio when lbl is not NULL). */
static void draw_geom(const dx_sampler *s, dx_rng *r, int bw, int bh,
                      const uint8_t *lbl, int sw, int sh, uint8_t *buf,
                      geom *g)
{
    double scale = 1;
    if (s->scale_hi != s->scale_lo || s->scale_lo != 1)
        scale = dx_rng_range(r, s->scale_lo, s->scale_hi);
    int vw = (int)lround(bw * scale), vh = (int)lround(bh * scale);
    g->vw = vw < 1 ? 1 : vw > DX_MAX_IMAGE_SIDE ? DX_MAX_IMAGE_SIDE : vw;
    g->vh = vh < 1 ? 1 : vh > DX_MAX_IMAGE_SIDE ? DX_MAX_IMAGE_SIDE : vh;
    g->ox = g->oy = 0;
    if (s->crop_w) {
        int ow = s->crop_w, oh = s->crop_h;
        /* window left edge uniform in [min(0, vw-ow), max(0, vw-ow)] */
        int a = g->vw - ow < 0 ? g->vw - ow : 0;
        int b = g->vw - ow > 0 ? g->vw - ow : 0;
        int c = g->vh - oh < 0 ? g->vh - oh : 0;
        int e = g->vh - oh > 0 ? g->vh - oh : 0;
        for (int k = 0;; k++) {
            g->ox = a + (int)dx_rng_below(r, (uint64_t)(b - a) + 1);
            g->oy = c + (int)dx_rng_below(r, (uint64_t)(e - c) + 1);
            if (!lbl || s->cat_max_ratio >= 1 || k == 10)
                break;
            long n[256];
            window_counts(lbl, sw, sh, g, ow, oh, buf, n);
            if (mixed_enough(n, s->cat_max_ratio))
                break;
        }
    }
    g->flip = s->flip && dx_rng_bernoulli(r, 0.5);
}

/* Load item index; cls is the class rare-class sampling drew it for, or
 * -1. */
static int load_item(const dx_sampler *s, int index, int cls, dx_rng *r,
                     int labels, item *out, dx_err *err)
{
    memset(out, 0, sizeof *out);
    const dx_dataset *d = s->ds;
    dx_png img = {0};
    uint8_t *mapped = NULL, *buf = NULL;
    if (dx_item_image(d, index, &img, err))
        return -1;
    int sw = img.width, sh = img.height;
    if (labels && read_label(s, index, &img, &mapped, err))
        goto fail;
    /* steps 2-5: the virtual (resized, scaled) size, the window, the flip */
    int bw = s->resize_w ? s->resize_w : sw;
    int bh = s->resize_h ? s->resize_h : sh;
    int ow = s->crop_w ? s->crop_w : 0, oh = s->crop_h ? s->crop_h : 0;
    int redraw = labels && s->crop_w &&
                 (s->cat_max_ratio < 1 ||
                  (cls >= 0 && s->rcs && s->rcs_min_crop_ratio > 0));
    if (redraw && !(buf = malloc((size_t)ow * oh))) {
        dx_fail(err, "out of memory");
        goto fail;
    }
    geom g;
    for (int k = 0;; k++) {
        draw_geom(s, r, bw, bh, redraw ? mapped : NULL, sw, sh, buf, &g);
        if (!redraw || cls < 0 || !s->rcs || s->rcs_min_crop_ratio <= 0 ||
            k == 10)
            break;
        long n[256];
        window_counts(mapped, sw, sh, &g, ow, oh, buf, n);
        if ((double)n[cls] > (double)s->rcs->min_pixels *
                                 s->rcs_min_crop_ratio)
            break;
    }
    if (!s->crop_w) {
        ow = g.vw;
        oh = g.vh;
    }
    out->w = ow;
    out->h = oh;
    out->lw = s->full_label ? sw : ow;
    out->lh = s->full_label ? sh : oh;
    int32_t box[DX_BOX_LEN] = {g.ox, g.oy, g.vw, g.vh, sw, sh, g.flip};
    memcpy(out->box, box, sizeof box);
    out->img = malloc((size_t)ow * oh * 3);
    out->lbl = labels ? malloc((size_t)out->lw * out->lh) : NULL;
    if (!out->img || (labels && !out->lbl)) {
        dx_fail(err, "out of memory");
        goto fail;
    }
    if (dx_resample_bilinear(out->img, ow, oh, img.px, sw, sh, 3, g.vw, g.vh,
                             g.ox, g.oy, 0, err))
        goto fail;
    if (labels && s->full_label)
        memcpy(out->lbl, mapped, (size_t)sw * sh);
    else if (labels)
        dx_resample_nearest(out->lbl, ow, oh, mapped, sw, sh, 1, g.vw, g.vh,
                            g.ox, g.oy, DX_IGNORE);
    if (g.flip) {
        dx_flip_rows(out->img, (size_t)oh, (size_t)ow, 3);
        if (labels)
            dx_flip_rows(out->lbl, (size_t)oh, (size_t)ow, 1);
    }
    dx_png_free(&img);
    free(mapped);
    free(buf);
    return 0;
fail:
    dx_png_free(&img);
    free(mapped);
    free(buf);
    item_free(out);
    return -1;
}

static void sample_free(dx_sample *o)
{
    tns_frame_free(&o->image);
    tns_frame_free(&o->label);
    tns_frame_free(&o->box);
}

int dx_sampler_fill(const dx_sampler *s, uint64_t iter, const int *idx,
                    const int *cls, int n, dx_sample *out, dx_err *err)
{
    memset(&out->image, 0, sizeof out->image);
    memset(&out->label, 0, sizeof out->label);
    memset(&out->box, 0, sizeof out->box);
    int labels = out->label_name != NULL;
    if (labels && !s->ds->label)
        return dx_fail(err, "labels were asked for but not enumerated");
    if (s->full_label && (s->crop_w || s->flip || s->scale_lo != 1 ||
                          s->scale_hi != 1))
        return dx_fail(err, "full-size labels go with whole images: no "
                       "crop, scale or flip");
    item *items = calloc((size_t)n, sizeof *items);
    if (!items)
        return dx_fail(err, "out of memory");
    dx_rng r;
    keyed(&r, s, "geometry", iter);
    int rc = -1;
    for (int i = 0; i < n; i++) {
        dx_rng c = dx_rng_item(&r, &s->share, i);
        if (load_item(s, idx[i], cls ? cls[i] : -1, &c, labels, &items[i],
                      err))
            goto done;
        if (i > 0 && (items[i].w != items[0].w || items[i].h != items[0].h)) {
            dx_fail(err, "image %s is %dx%d, but %s in the same batch is "
                    "%dx%d; use --resize or --crop to make them one size",
                    s->ds->image[idx[i]], items[i].w, items[i].h,
                    s->ds->image[idx[0]], items[0].w, items[0].h);
            goto done;
        }
        if (i > 0 && labels &&
            (items[i].lw != items[0].lw || items[i].lh != items[0].lh)) {
            dx_fail(err, "label %s is %dx%d, but %s in the same batch is "
                    "%dx%d; full-size labels of one batch must be one size "
                    "(use --batch 1)", s->ds->label[idx[i]], items[i].lw,
                    items[i].lh, s->ds->label[idx[0]], items[0].lw,
                    items[0].lh);
            goto done;
        }
    }
    int64_t dims[4] = {n, items[0].h, items[0].w, 3};
    int64_t ldims[3] = {n, items[0].lh, items[0].lw};
    int64_t bdims[2] = {n, DX_BOX_LEN};
    if (tns_frame_alloc(&out->image, out->image_name, DX_U8, 4, dims, err) ||
        (labels && tns_frame_alloc(&out->label, out->label_name, DX_U8, 3,
                                   ldims, err)) ||
        (out->box_name && tns_frame_alloc(&out->box, out->box_name, DX_I32,
                                          2, bdims, err)))
        goto done;
    size_t plane = (size_t)items[0].w * items[0].h;
    size_t lplane = (size_t)items[0].lw * items[0].lh;
    for (int i = 0; i < n; i++) {
        memcpy((uint8_t *)out->image.data + (size_t)i * plane * 3,
               items[i].img, plane * 3);
        if (labels)
            memcpy((uint8_t *)out->label.data + (size_t)i * lplane,
                   items[i].lbl, lplane);
        if (out->box_name)
            memcpy((int32_t *)out->box.data + (size_t)i * DX_BOX_LEN,
                   items[i].box, sizeof items[i].box);
    }
    rc = 0;
done:
    for (int i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    if (rc)
        sample_free(out);
    return rc;
}

int dx_sampler_load(const dx_sampler *s, uint64_t iter, const int *idx,
                    int n, const char *image_name, const char *label_name,
                    tns_frame *image, tns_frame *label, dx_err *err)
{
    dx_sample o = {.image_name = image_name,
                   .label_name = label ? label_name : NULL};
    int rc = dx_sampler_fill(s, iter, idx, NULL, n, &o, err);
    *image = o.image;
    if (label)
        *label = o.label;
    return rc;
}

int dx_sampler_check(const dx_sampler *s, const int *idx, int n, int labels,
                     dx_err *err)
{
    const dx_dataset *d = s->ds;
    if (labels && !d->label)
        return dx_fail(err, "labels were asked for but not enumerated");
    uint8_t *seen = calloc((size_t)d->n, 1);
    if (!seen)
        return dx_fail(err, "out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int k = idx[i];
        if (k < 0 || k >= d->n) {
            rc = dx_fail(err, "item %d outside the dataset's %d", k, d->n);
            break;
        }
        if (seen[k])
            continue;
        seen[k] = 1;
        dx_png img;
        uint8_t *train = NULL;
        if (dx_item_image(d, k, &img, err)) {
            rc = -1;
            break;
        }
        if (labels)
            rc = read_label(s, k, &img, &train, err);
        free(train);
        dx_png_free(&img);
    }
    free(seen);
    return rc;
}
