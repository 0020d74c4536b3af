/* sampler.h - drawing training batches from a dataset.
 *
 * A batch of iteration t is a pure function of (seed, purpose, t): a
 * resumed run sees exactly the images, crops and flips it would have
 * seen.  Which images:
 *   - uniform: an endless sequence of epochs, each a fresh shuffle of the
 *     dataset (as a shuffling data loader); item i of iteration t is
 *     position t*batch + i of that sequence;
 *   - rare-class sampling (rcs set): independent class-then-image draws.
 * An excluded item (dataset.h) drawn by the uniform order is replaced by
 * a stand-in drawn uniformly from the items not excluded, keyed by the
 * iteration and its place in the batch: every other draw stays what it
 * would be without the exclusion.  Rare-class sampling never draws an
 * excluded item (its statistics count none of its pixels).
 * Geometry of one item, in this order:
 *   1. the label is mapped to train ids at its stored size;
 *   2. resize to resize_w x resize_h (if set): image bilinear, label
 *      nearest;
 *   3. a random scale s in [scale_lo, scale_hi] of that size;
 *   4. a random crop_w x crop_h window of the scaled image (if set); when
 *      the scaled image is smaller, the window reaches past its border and
 *      the outside is padded with 0 (image) and 255 (label);
 *   5. a horizontal flip with probability 1/2 (if flip).
 * Steps 2-4 are one resampling of the stored image (resize.h).
 *
 * Crops that are drawn again (mmsegmentation's RandomCrop and DAFormer's
 * rare-class sampling, both with labels):
 *   - cat_max_ratio < 1: the window of step 4 is redrawn while its largest
 *     class (255 not counted) covers cat_max_ratio or more of its labelled
 *     pixels, or it holds fewer than two classes; at most 10 windows are
 *     checked and the 11th is kept unchecked (mmseg's RandomCrop, v0.16,
 *     as DAFormer configures it with 0.75);
 *   - with rare-class sampling and rcs_min_crop_ratio > 0: when the crop
 *     holds rcs->min_pixels * rcs_min_crop_ratio or fewer pixels of the
 *     class c the image was drawn for, steps 3-5 are drawn again; at most
 *     10 crops are checked and the 11th is kept unchecked
 *     (lhoyer/DAFormer, UDADataset.get_rare_class_sample: min_crop_ratio
 *     0.5, so more than 1500 pixels at 3000 min_pixels).
 *   The redraws come from the item's own generator, after the draws they
 *   replace: the same seed gives the same crops.
 *
 * The crop box of an item (i32, 7 values) says where its pixels come from:
 *   x, y      the crop window's top-left in the resized and scaled image
 *             (negative past its border)
 *   sw, sh    the size of that resized and scaled image
 *   fw, fh    the size of the stored (full-size) image
 *   flip      1 if the crop was flipped
 * Crop column c (of W) shows scaled column u = x + c, or x + W-1-c when
 * flipped, which shows stored column floor((u + 0.5) * fw / sw) when
 * 0 <= u < sw (resize.h's nearest rule); rows likewise, without the flip.
 */
#ifndef DACS_SAMPLER_H
#define DACS_SAMPLER_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/err.h"
#include "base/rng.h"
#include "data/labelmap.h"
#include "data/rcs.h"
#include "io/tns.h"

typedef struct dx_sampler {
    const dx_dataset *ds;
    const dx_labelmap *map; /* needed when labels are loaded */
    const dx_rcs *rcs;      /* NULL: uniform epochs */
    uint64_t seed;
    char purpose[96];       /* keys the generators, e.g. "seg-batch:src" */
    int resize_w, resize_h; /* 0: keep the stored size */
    int crop_w, crop_h;     /* 0: no crop */
    double scale_lo, scale_hi;
    int flip;
    double cat_max_ratio;      /* 1: no redraw */
    double rcs_min_crop_ratio; /* 0: no redraw */
    int full_label; /* labels keep their stored size while images are
                       resized (full-resolution evaluation); no crop,
                       scale or flip */
    dx_share share; /* the items given to dx_sampler_fill are this share
                       of the batch (base/rng.h): item i's geometry is
                       drawn as that of item part + i*parts */
} dx_sampler;

/* The values of a crop box, as above. */
enum { DX_BOX_X, DX_BOX_Y, DX_BOX_SW, DX_BOX_SH, DX_BOX_FW, DX_BOX_FH,
       DX_BOX_FLIP, DX_BOX_LEN };

/* The stored column of crop column c of a crop w wide, or -1 when it lies
 * past the border of the scaled image (padding). */
int dx_box_col(const int32_t box[DX_BOX_LEN], int w, int c);
/* The stored row of crop row r, or -1 (padding). */
int dx_box_row(const int32_t box[DX_BOX_LEN], int r);

/* Set defaults: no geometry, uniform order, purpose "seg-batch", no
 * redrawn crops (cat_max_ratio 1, rcs_min_crop_ratio 0). */
void dx_sampler_init(dx_sampler *s, const dx_dataset *ds,
                     const dx_labelmap *map, uint64_t seed,
                     const char *purpose);

/* idx[0..batch) = the dataset items of iteration iter; cls (may be NULL)
 * gets the class rare-class sampling drew each for, or -1 without it. */
int dx_sampler_draw(const dx_sampler *s, uint64_t iter, int batch, int *idx,
                    int *cls, dx_err *err);

/* The frames of one dx_sampler_fill: names in, frames out.  label_name
 * and box_name NULL: that frame is not made. */
typedef struct dx_sample {
    const char *image_name, *label_name, *box_name;
    tns_frame image; /* u8 (n, H, W, 3) */
    tns_frame label; /* u8 (n, H, W) train ids; with full_label the stored
                        size, which must be the same for every item */
    tns_frame box;   /* i32 (n, DX_BOX_LEN) crop boxes */
} dx_sample;

/* Load items idx[0..n) with the geometry of iteration iter into out.  cls
 * (may be NULL) holds dx_sampler_draw's classes, for the rare-class crop
 * check.  All items must come out the same size.  Every file is read and
 * checked before returning; on failure no frame is left allocated and
 * err names the file. */
int dx_sampler_fill(const dx_sampler *s, uint64_t iter, const int *idx,
                    const int *cls, int n, dx_sample *out, dx_err *err);

/* dx_sampler_fill without classes or boxes: the frames image (named
 * image_name) and, if label is not NULL, label (named label_name). */
int dx_sampler_load(const dx_sampler *s, uint64_t iter, const int *idx,
                    int n, const char *image_name, const char *label_name,
                    tns_frame *image, tns_frame *label, dx_err *err);

/* Decode items idx[0..n) (each once, duplicates skipped) and check that
 * every image and label is a readable PNG of its encoding (item.h), its
 * label ids are the map's, and a label has its image's size.  A tool that will write several batches calls this first, so that
 * a bad file fails it before the first batch is out. */
int dx_sampler_check(const dx_sampler *s, const int *idx, int n, int labels,
                     dx_err *err);

#endif
