/* resize.h - resampling images and label maps.
 *
 * Both functions resample a source (sw x sh, c channels, u8, row-major,
 * interleaved) to a virtual image of vw x vh pixels and write the window
 * [ox, ox+dw) x [oy, oy+dh) of it to dst (dh x dw x c).  Window pixels
 * outside the virtual image get the value fill.  So a resize is the window
 * at (0, 0) of size vw x vh, and a rescale followed by a crop (possibly
 * reaching past the border: padding) is one call, without building the
 * rescaled image.
 *
 * Pixel centres are at half-integers: virtual pixel x covers source
 * coordinate (x + 0.5) * sw / vw.
 *
 * Images: bilinear, i.e. a triangle filter whose support widens with the
 * downscale factor (no aliasing when shrinking; plain bilinear when
 * enlarging).  Source pixels past the border are left out and the weights
 * renormalised.
 *
 * Labels: nearest, source pixel floor((x + 0.5) * sw / vw), computed in
 * integers.  A label value is never mixed with another.
 */
#ifndef DACS_RESIZE_H
#define DACS_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Fails only when out of memory or on bad sizes. */
int dx_resample_bilinear(uint8_t *dst, int dw, int dh, const uint8_t *src,
                         int sw, int sh, int c, int vw, int vh, int ox,
                         int oy, uint8_t fill, dx_err *err);
/* Cannot fail on valid sizes (all >= 1). */
void dx_resample_nearest(uint8_t *dst, int dw, int dh, const uint8_t *src,
                         int sw, int sh, int c, int vw, int vh, int ox,
                         int oy, uint8_t fill);

/* ---- predictions ----
 *
 * Probabilities p (C, h, w) of one image, class-major, resized to
 * (H, W) as mmsegmentation resizes the logits to the label's size before
 * the arg-max (DAFormer's and MIC's inference, and so the Cityscapes
 * benchmark's full-resolution protocol):
 *   bilinear with align_corners=False, as PyTorch's F.interpolate: output
 *   pixel X samples input coordinate max(0, (X + 0.5) * w / W - 0.5)
 *   (scale w / W in single precision), between the two nearest pixels,
 *   the second clamped to the border; rows likewise;
 *   then a softmax over the classes.
 * The network's logits are not at hand, only their softmax p; but the
 * log-probabilities log p_k = l_k - logsumexp(l) differ from the logits
 * by one value per pixel, and bilinear weights sum to 1, so resampling
 * log p and taking the softmax gives exactly the softmax of the resampled
 * logits.  A probability that underflowed to 0 is taken as FLT_MIN (a
 * logit 87 below the largest).
 *
 * out (C, H, W) softmax probabilities, pred (H, W) the arg-max (the lowest
 * class wins a tie) and conf (H, W) its probability: each may be NULL.
 * Fails only when out of memory or on bad sizes (all >= 1, C <= 255). */
int dx_prob_resize(float *out, uint8_t *pred, float *conf, const float *p,
                   int c, int h, int w, int H, int W, dx_err *err);

/* Mirror each of rows rows of w pixels of pixel_bytes bytes (at most 16)
 * left-right, in place: a horizontal flip of (N,H,W,...) data with
 * rows = N*H, for images, labels, weights and masks alike. */
void dx_flip_rows(void *data, size_t rows, size_t w, size_t pixel_bytes);

#endif
