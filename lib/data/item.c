/* item.c - one item's image and label, in the encodings of item.h. */
#include "data/item.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/classes.h"

/* The label encodings a kind specifies, as words for messages. */
static const char *label_spec(const dx_dataset *d)
{
    switch (d->kind) {
    case DX_DS_SYNTHIA:
        return "a 16-bit RGB PNG, the class in the first channel";
    case DX_DS_LIST:
        return d->label_colors ? "a palette or grey PNG, a 16-bit RGB one, "
                                 "or RGB in the Cityscapes colours"
                               : "a palette or grey PNG, or a 16-bit RGB "
                                 "one";
    default:
        return d->label_colors ? "a palette or grey PNG, or RGB in the "
                                 "Cityscapes colours"
                               : "a palette or grey PNG";
    }
}

/* An 8-bit truecolour label to map by colour? */
static int by_color(const dx_dataset *d, int color_type, int bit_depth)
{
    return d->label_colors && d->kind != DX_DS_SYNTHIA && bit_depth == 8 &&
           (color_type == DX_PNG_TRUECOLOR ||
            color_type == DX_PNG_TRUECOLOR_ALPHA);
}

int dx_item_encoding_ok(const dx_dataset *d, int label, const char *path,
                        int color_type, int bit_depth, dx_err *err)
{
    int colour = color_type == DX_PNG_TRUECOLOR ||
                 color_type == DX_PNG_TRUECOLOR_ALPHA;
    int ok;
    if (!label)
        ok = colour && bit_depth == 8;
    else if (d->kind == DX_DS_SYNTHIA)
        ok = colour && bit_depth == 16;
    else
        ok = color_type == DX_PNG_PALETTE || color_type == DX_PNG_GREY ||
             (d->kind == DX_DS_LIST && colour && bit_depth == 16) ||
             by_color(d, color_type, bit_depth);
    if (ok)
        return 0;
    const char *kind = dx_dataset_kind_name(d->kind);
    if (!label)
        return dx_fail(err, "%s: a %s image must be an 8-bit RGB PNG, found "
                       "%d-bit %s", path, kind, bit_depth,
                       dx_png_color_name(color_type));
    return dx_fail(err, "%s: a %s label must be %s, found %d-bit %s%s", path,
                   kind, label_spec(d), bit_depth,
                   dx_png_color_name(color_type),
                   colour && bit_depth == 8 && d->kind != DX_DS_SYNTHIA
                       ? " (re-saved in its colours? --label-colors maps the "
                         "Cityscapes colours back to ids)"
                       : "");
}

/* The pixel p of a w-wide image, for messages. */
static void pixel(char *buf, size_t len, size_t p, int w)
{
    snprintf(buf, len, "row %zu column %zu", p / (size_t)w, p % (size_t)w);
}

int dx_item_image(const dx_dataset *d, int i, dx_png *out, dx_err *err)
{
    const char *path = d->image[i];
    if (dx_png_read(path, DX_PNG_RAW, out, err))
        return -1;
    if (dx_item_encoding_ok(d, 0, path, out->color_type, out->bit_depth,
                            err))
        goto fail;
    if (out->channels == 4) {
        /* RGBA: opaque everywhere, then RGB in place */
        uint8_t *px = out->px;
        size_t n = (size_t)out->width * out->height;
        for (size_t p = 0; p < n; p++) {
            if (px[4 * p + 3] != 255) {
                char at[64];
                pixel(at, sizeof at, p, out->width);
                dx_fail(err, "%s: the image has alpha %d at %s, expected "
                        "every pixel opaque (255): its colour there is not "
                        "defined", path, px[4 * p + 3], at);
                goto fail;
            }
            memmove(px + 3 * p, px + 4 * p, 3);
        }
        out->channels = 3;
    }
    return 0;
fail:
    dx_png_free(out);
    return -1;
}

/* Label ids from an 8-bit RGB or RGBA label by its Cityscapes colours:
 * ids[p] for every pixel, or an error naming the first pixel of another
 * colour. */
static int ids_of_colors(const char *path, const dx_png *c, uint8_t *ids,
                         dx_err *err)
{
    const uint8_t *px = c->px;
    size_t n = (size_t)c->width * c->height;
    for (size_t p = 0; p < n; p++) {
        const uint8_t *v = px + (size_t)c->channels * p;
        int id = dx_cityscapes_color_id(v);
        if (id < 0 || (c->channels == 4 && v[3] != 255)) {
            char at[64];
            pixel(at, sizeof at, p, c->width);
            if (id < 0)
                return dx_fail(err, "%s: colour (%d,%d,%d) at %s is no "
                               "Cityscapes label colour", path, v[0], v[1],
                               v[2], at);
            return dx_fail(err, "%s: alpha %d at %s, expected opaque label "
                           "colours", path, v[3], at);
        }
        ids[p] = (uint8_t)id;
    }
    return 0;
}

int dx_item_label(const dx_dataset *d, int i, const dx_labelmap *map,
                  uint8_t **train, int *w, int *h, dx_err *err)
{
    *train = NULL;
    if (!d->label)
        return dx_fail(err, "labels were asked for but not enumerated");
    const char *path = d->label[i];
    dx_png_info info;
    dx_png p;
    if (dx_png_probe(path, &info, err) ||
        dx_item_encoding_ok(d, 1, path, info.color_type, info.bit_depth, err))
        return -1;
    int colors = by_color(d, info.color_type, info.bit_depth);
    if (dx_png_read(path, colors ? DX_PNG_RAW : DX_PNG_LABEL, &p, err))
        return -1;
    size_t n = (size_t)p.width * p.height;
    if (colors) {
        uint8_t *ids = malloc(n ? n : 1);
        if (!ids || ids_of_colors(path, &p, ids, err)) {
            if (!ids)
                dx_fail(err, "out of memory");
            free(ids);
            goto fail;
        }
        free(p.px);
        p.px = ids;
        p.depth = 8;
        p.channels = 1;
    }
    long stray = dx_labelmap_stray(map, p.px, p.depth, n);
    if (stray >= 0) {
        char at[64];
        unsigned v = p.depth == 16 ? ((const uint16_t *)p.px)[stray]
                                   : ((const uint8_t *)p.px)[stray];
        pixel(at, sizeof at, (size_t)stray, p.width);
        dx_fail(err, "%s: label id %u at %s is no %s label id (0..%d): a "
                "label of another dataset, or of train ids?", path, v, at,
                map->name[0] ? map->name : "table", map->max_id);
        goto fail;
    }
    if (!(*train = malloc(n ? n : 1))) {
        dx_fail(err, "out of memory");
        goto fail;
    }
    dx_labelmap_apply(map, p.px, p.depth, n, *train);
    *w = p.width;
    *h = p.height;
    dx_png_free(&p);
    return 0;
fail:
    dx_png_free(&p);
    return -1;
}

/* Item i's files from their headers: encodings and sizes. */
static int check_headers(const dx_dataset *d, int i, dx_err *err)
{
    struct stat st;
    if (stat(d->image[i], &st) != 0 || !S_ISREG(st.st_mode))
        return dx_fail(err, "missing image %s", d->image[i]);
    if (d->label && (stat(d->label[i], &st) != 0 || !S_ISREG(st.st_mode)))
        return dx_fail(err, "missing label %s for image %s", d->label[i],
                       d->image[i]);
    dx_png_info im, lb;
    if (dx_png_probe(d->image[i], &im, err) ||
        dx_item_encoding_ok(d, 0, d->image[i], im.color_type, im.bit_depth,
                            err))
        return -1;
    if (!d->label)
        return 0;
    if (dx_png_probe(d->label[i], &lb, err) ||
        dx_item_encoding_ok(d, 1, d->label[i], lb.color_type, lb.bit_depth,
                            err))
        return -1;
    if (im.width != lb.width || im.height != lb.height)
        return dx_fail(err, "label %s is %ldx%ld, but its image %s is "
                       "%ldx%ld", d->label[i], lb.width, lb.height,
                       d->image[i], im.width, im.height);
    return 0;
}

int dx_item_check(const dx_dataset *d, int i, const dx_labelmap *map,
                  int classes, dx_err *err)
{
    if (dx_dataset_excluded(d, i))
        return 0;
    if (check_headers(d, i, err))
        return -1;
    /* the image decoded whole: a truncated or corrupt file (a download
     * cut short) is found here rather than when a batch first draws it */
    dx_png im;
    if (dx_item_image(d, i, &im, err))
        return -1;
    dx_png_free(&im);
    if (!map || !d->label)
        return 0;
    uint8_t *train;
    int w, h;
    if (dx_item_label(d, i, map, &train, &w, &h, err))
        return -1;
    size_t n = (size_t)w * h;
    for (size_t k = 0; k < n; k++)
        if (train[k] != DX_IGNORE && train[k] >= classes) {
            int v = train[k];
            free(train);
            return dx_fail(err, "label %s: pixel (%zu, %zu) has train id %d, "
                           "but the model has %d classes (0..%d); is the "
                           "label map (--map) or the class count wrong?",
                           d->label[i], k % (size_t)w, k / (size_t)w, v,
                           classes, classes - 1);
        }
    free(train);
    return 0;
}

int dx_dataset_check(const dx_dataset *d, dx_err *err)
{
    for (int i = 0; i < d->n; i++)
        if (dx_item_check(d, i, NULL, 0, err))
            return -1;
    return 0;
}
