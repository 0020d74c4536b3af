/* raster.h - drawing primitives for the synthetic benchmark.
 *
 * A canvas holds a float RGB image and a label map side by side.  Every
 * primitive decides coverage once per pixel (its centre inside the shape)
 * and writes the colour and the label of that pixel together, so labels are
 * pixel-exact: the label map is the geometry the image was drawn from.
 * Later primitives overwrite earlier ones (painter's order).
 */
#ifndef DACS_RASTER_H
#define DACS_RASTER_H

#include <stdint.h>

typedef struct dx_canvas {
    int w, h;
    float *rgb;  /* h x w x 3, 0..255 (may leave the range until the end) */
    uint8_t *id; /* h x w */
} dx_canvas;

/* How covered pixels are coloured: base colour, times a vertical shading
 * ramp over the shape's height (top..bottom), plus value noise. */
typedef struct dx_paint {
    float rgb[3];
    uint8_t id;
    float noise;      /* amplitude of the noise, in 0..255 units */
    float grain;      /* noise cell size, pixels (>= 0.5) */
    uint32_t seed;
    float top, bottom; /* brightness factors at the top and bottom */
} dx_paint;

/* A paint of one colour and label, no noise, no shading. */
dx_paint dx_paint_flat(float r, float g, float b, uint8_t id);

/* Polygon of n points (xy[2k], xy[2k+1]), even-odd rule, any shape. */
void dx_fill_polygon(dx_canvas *c, const float *xy, int n,
                     const dx_paint *p);
void dx_fill_ellipse(dx_canvas *c, float cx, float cy, float rx, float ry,
                     const dx_paint *p);
void dx_fill_rect(dx_canvas *c, float x0, float y0, float x1, float y1,
                  const dx_paint *p);

/* Smooth value noise in [-1, 1] (cells of size 1) and a sum of octaves. */
float dx_vnoise(float x, float y, uint32_t seed);
float dx_fbm(float x, float y, uint32_t seed, int octaves);
/* Hash of integers to [0, 1). */
float dx_hash01(int32_t a, int32_t b, uint32_t seed);

/* Separable Gaussian blur of an h x w x c float image, in place; sigma in
 * pixels (<= 0: nothing).  Edges are clamped. */
int dx_gauss_blur(float *px, int w, int h, int c, float sigma);

#endif
