/* mic.h - masked image consistency (MIC; Hoyer et al., CVPR 2023): the
 * target image with random square blocks dropped, which the student
 * learns to segment as the teacher segments the whole image.
 *
 * The block mask of an image of h x w pixels (lhoyer/MIC,
 * mmseg/models/utils/masking_transforms.py, BlockMaskGenerator):
 *   - a grid of gh x gw cells, gh = round(h / block), gw = round(w / block)
 *     (Python's round: half to even);
 *   - one uniform u in [0, 1) per cell (single precision), drawn in
 *     row-major order; a cell is kept (1) when u > ratio, so each cell is
 *     dropped with probability ratio;
 *   - the grid resized to h x w as F.interpolate(mode='nearest'): pixel
 *     (y, x) shows cell (floor(y * s), floor(x * t)), s = gh / h and
 *     t = gw / w in single precision, at most gh - 1 and gw - 1 (the
 *     blocks are block x block pixels when block divides the sides).
 * MIC multiplies the normalised image by the mask, which sets a dropped
 * pixel to the network's input mean; on u8 images that is a fill colour,
 * the mean times 255 (ImageNet's: 124, 116, 104).  MIC masks the target
 * after its colour augmentation (mask_mode separatetrgaug: colour jitter
 * and blur as DACS's, then the mask).
 */
#ifndef DACS_MIC_H
#define DACS_MIC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "dacs/augment.h"

/* MIC's settings: block 64 at its full resolution (DAFormer's half
 * resolution: 32), ratio 0.7, and the ImageNet mean as the fill. */
typedef struct dx_mic_opts {
    int block;
    double ratio;
    uint8_t fill[3];
} dx_mic_opts;
dx_mic_opts dx_mic_defaults(void);

/* MIC's colour augmentation of the target before the mask: DAFormer's
 * DACS settings (lhoyer/DAFormer, configs/_base_/uda/dacs.py): colour
 * jitter of strength 0.2 in brightness, contrast, saturation and hue,
 * applied when u > color_jitter_probability 0.2, i.e. with probability
 * 0.8; Gaussian blur with probability 0.5 as DACS's; no flip. */
void dx_mic_aug_defaults(dx_aug_opts *o);

/* The mask (h, w) of a grid u (gh, gw) as above.  Fails when a grid side
 * is 0 or exceeds its image side. */
int dx_mic_mask_of(uint8_t *mask, const float *u, int gh, int gw, int h,
                   int w, double ratio, dx_err *err);

/* The mask (h, w) of a fresh grid drawn from r.  Fails when the image is
 * smaller than half a block (no cell). */
int dx_mic_mask(uint8_t *mask, int h, int w, int block, double ratio,
                dx_rng *r, dx_err *err);

/* img (pixels, 3) RGB: every pixel whose mask is 0 becomes fill. */
void dx_mic_apply(uint8_t *img, const uint8_t *mask, size_t pixels,
                  const uint8_t fill[3]);

#endif
