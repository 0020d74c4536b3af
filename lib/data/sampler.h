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
 */
#ifndef DACS_SAMPLER_H
#define DACS_SAMPLER_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/err.h"
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
} dx_sampler;

/* Set defaults: no geometry, uniform order, purpose "seg-batch". */
void dx_sampler_init(dx_sampler *s, const dx_dataset *ds,
                     const dx_labelmap *map, uint64_t seed,
                     const char *purpose);

/* idx[0..batch) = the dataset items of iteration iter. */
int dx_sampler_draw(const dx_sampler *s, uint64_t iter, int batch, int *idx,
                    dx_err *err);

/* Load items idx[0..n) with the geometry of iteration iter into the frames
 * image (u8 n x H x W x 3, named image_name) and, if label is not NULL,
 * label (u8 n x H x W of train ids, named label_name).  All items must come
 * out the same size.  Every file is read and checked before returning;
 * on failure no frame is left allocated and err names the file. */
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
