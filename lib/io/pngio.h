/* pngio.h - PNG files in and out, through libpng.
 *
 * Reading checks the signature, limits each side to DX_MAX_IMAGE_SIDE and
 * turns every libpng error (corrupt data, truncation, bad CRC) into a dx_err
 * naming the file.  Pixels come back row-major and interleaved, 16-bit
 * samples in host order.
 */
#ifndef DACS_PNGIO_H
#define DACS_PNGIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The largest width or height accepted, in pixels. */
#define DX_MAX_IMAGE_SIDE 16384

enum dx_png_mode {
    /* Any PNG as 8-bit RGB: palettes expanded, grey replicated, alpha
     * dropped, 16-bit samples reduced to their high byte. */
    DX_PNG_RGB8,
    /* A label map: one channel holding the first channel's raw values.
     * Palette PNGs give their indices (GTA5), grey gives its values
     * (Cityscapes), 16-bit RGB or RGBA gives its red samples (SYNTHIA).
     * Depth stays 8 or 16; depths below 8 become 8 without scaling.  An
     * 8-bit RGB or RGBA PNG, or grey+alpha, is refused: no label format
     * stores ids so, and one re-saved by an image editor would give the
     * red channel of its colours. */
    DX_PNG_LABEL,
    /* As stored: palettes expanded to RGB(A), grey below 8 bits scaled to
     * 8; channels (1-4) and depth (8 or 16) kept. */
    DX_PNG_RAW,
};

/* PNG colour types, as the IHDR chunk stores them (the PNG
 * specification, 11.2.2). */
enum dx_png_color {
    DX_PNG_GREY = 0,
    DX_PNG_TRUECOLOR = 2,
    DX_PNG_PALETTE = 3,
    DX_PNG_GREY_ALPHA = 4,
    DX_PNG_TRUECOLOR_ALPHA = 6,
};
/* "grey", "RGB", "palette", "grey+alpha", "RGBA"; "unknown" otherwise. */
const char *dx_png_color_name(int color_type);

typedef struct dx_png {
    int width, height;
    int channels; /* 1..4 */
    int depth;    /* 8 or 16 */
    void *px;     /* height*width*channels samples: uint8_t or uint16_t */
    /* the file as stored: colour type (dx_png_color) and bit depth (1, 2,
     * 4, 8 or 16), before any conversion */
    int color_type, bit_depth;
} dx_png;

/* What a PNG file is, from its signature and IHDR chunk alone (no
 * decoding): the cheap check of a whole dataset before a long run. */
typedef struct dx_png_info {
    long width, height;
    int color_type, bit_depth;
} dx_png_info;
int dx_png_probe(const char *path, dx_png_info *info, dx_err *err);

int dx_png_read(const char *path, int mode, dx_png *out, dx_err *err);
/* The same from memory; name is used in messages. */
int dx_png_read_mem(const void *buf, size_t len, const char *name, int mode,
                    dx_png *out, dx_err *err);
void dx_png_free(dx_png *p);

/* Write a PNG atomically (temporary file, fsync, rename).  channels 1 (grey),
 * 2 (grey+alpha), 3 (RGB) or 4 (RGBA); depth 8 or 16. */
int dx_png_write(const char *path, int width, int height, int channels,
                 int depth, const void *px, dx_err *err);

/* Write an 8-bit palette PNG atomically: px holds one palette index per
 * pixel, pal holds npal (1..256) RGB entries.  Every index must be below
 * npal.  This is how GTA5 stores its label maps. */
int dx_png_write_palette(const char *path, int width, int height,
                         const uint8_t *px, const uint8_t *pal, int npal,
                         dx_err *err);

#endif
