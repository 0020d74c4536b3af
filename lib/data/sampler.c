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
                    dx_err *err)
{
    if (s->rcs) {
        dx_rng r;
        keyed(&r, s, "rcs", iter);
        for (int i = 0; i < batch; i++) {
            dx_rng c = dx_rng_child(&r, (uint64_t)i);
            idx[i] = dx_rcs_draw(s->rcs, &c, NULL);
        }
        return 0;
    }
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
    int w, h;
} item;

static void item_free(item *it)
{
    free(it->img);
    free(it->lbl);
    memset(it, 0, sizeof *it);
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

static int load_item(const dx_sampler *s, int index, dx_rng *r, int labels,
                     item *out, dx_err *err)
{
    memset(out, 0, sizeof *out);
    const dx_dataset *d = s->ds;
    dx_png img = {0};
    uint8_t *mapped = NULL;
    if (dx_item_image(d, index, &img, err))
        return -1;
    int sw = img.width, sh = img.height;
    if (labels && read_label(s, index, &img, &mapped, err))
        goto fail;
    /* steps 2-4: the virtual (resized, scaled) size and the window */
    int bw = s->resize_w ? s->resize_w : sw;
    int bh = s->resize_h ? s->resize_h : sh;
    double scale = 1;
    if (s->scale_hi != s->scale_lo || s->scale_lo != 1)
        scale = dx_rng_range(r, s->scale_lo, s->scale_hi);
    int vw = (int)lround(bw * scale), vh = (int)lround(bh * scale);
    vw = vw < 1 ? 1 : vw > DX_MAX_IMAGE_SIDE ? DX_MAX_IMAGE_SIDE : vw;
    vh = vh < 1 ? 1 : vh > DX_MAX_IMAGE_SIDE ? DX_MAX_IMAGE_SIDE : vh;
    int ow = s->crop_w ? s->crop_w : vw, oh = s->crop_h ? s->crop_h : vh;
    int ox = 0, oy = 0;
    if (s->crop_w) {
        /* window left edge uniform in [min(0, vw-ow), max(0, vw-ow)] */
        int a = vw - ow < 0 ? vw - ow : 0, b = vw - ow > 0 ? vw - ow : 0;
        int c = vh - oh < 0 ? vh - oh : 0, e = vh - oh > 0 ? vh - oh : 0;
        ox = a + (int)dx_rng_below(r, (uint64_t)(b - a) + 1);
        oy = c + (int)dx_rng_below(r, (uint64_t)(e - c) + 1);
    }
    int flip = s->flip && dx_rng_bernoulli(r, 0.5);
    out->w = ow;
    out->h = oh;
    out->img = malloc((size_t)ow * oh * 3);
    out->lbl = labels ? malloc((size_t)ow * oh) : NULL;
    if (!out->img || (labels && !out->lbl)) {
        dx_fail(err, "out of memory");
        goto fail;
    }
    if (dx_resample_bilinear(out->img, ow, oh, img.px, sw, sh, 3, vw, vh, ox,
                             oy, 0, err))
        goto fail;
    if (labels)
        dx_resample_nearest(out->lbl, ow, oh, mapped, sw, sh, 1, vw, vh, ox,
                            oy, DX_IGNORE);
    if (flip) {
        dx_flip_rows(out->img, (size_t)oh, (size_t)ow, 3);
        if (labels)
            dx_flip_rows(out->lbl, (size_t)oh, (size_t)ow, 1);
    }
    dx_png_free(&img);
    free(mapped);
    return 0;
fail:
    dx_png_free(&img);
    free(mapped);
    item_free(out);
    return -1;
}

int dx_sampler_load(const dx_sampler *s, uint64_t iter, const int *idx,
                    int n, const char *image_name, const char *label_name,
                    tns_frame *image, tns_frame *label, dx_err *err)
{
    memset(image, 0, sizeof *image);
    if (label)
        memset(label, 0, sizeof *label);
    if (label && !s->ds->label)
        return dx_fail(err, "labels were asked for but not enumerated");
    item *items = calloc((size_t)n, sizeof *items);
    if (!items)
        return dx_fail(err, "out of memory");
    dx_rng r;
    keyed(&r, s, "geometry", iter);
    int rc = -1;
    for (int i = 0; i < n; i++) {
        dx_rng c = dx_rng_child(&r, (uint64_t)i);
        if (load_item(s, idx[i], &c, label != NULL, &items[i], err))
            goto done;
        if (i > 0 && (items[i].w != items[0].w || items[i].h != items[0].h)) {
            dx_fail(err, "image %s is %dx%d, but %s in the same batch is "
                    "%dx%d; use --resize or --crop to make them one size",
                    s->ds->image[idx[i]], items[i].w, items[i].h,
                    s->ds->image[idx[0]], items[0].w, items[0].h);
            goto done;
        }
    }
    int64_t dims[4] = {n, items[0].h, items[0].w, 3};
    if (tns_frame_alloc(image, image_name, DX_U8, 4, dims, err) ||
        (label && tns_frame_alloc(label, label_name, DX_U8, 3, dims, err)))
        goto done;
    size_t plane = (size_t)items[0].w * items[0].h;
    for (int i = 0; i < n; i++) {
        memcpy((uint8_t *)image->data + (size_t)i * plane * 3, items[i].img,
               plane * 3);
        if (label)
            memcpy((uint8_t *)label->data + (size_t)i * plane, items[i].lbl,
                   plane);
    }
    rc = 0;
done:
    for (int i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    if (rc) {
        tns_frame_free(image);
        if (label)
            tns_frame_free(label);
    }
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
