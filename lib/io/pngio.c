/* pngio.c - libpng with its longjmp error path contained here. */
#include "io/pngio.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic.h"

typedef struct png_ctx {
    jmp_buf jb;
    char msg[200];
    char warning[200]; /* libpng explains some errors in a warning first */
    /* memory source */
    const unsigned char *buf;
    size_t len, pos;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c->warning[0])
        snprintf(c->msg, sizeof c->msg, "%.90s (%.90s)", msg, c->warning);
    else
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->warning, sizeof c->warning, "%s", msg);
}

static void read_mem(png_structp png, png_bytep out, png_size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos)
        png_error(png, "file is truncated");
    memcpy(out, c->buf + c->pos, n);
    c->pos += n;
}

static void read_file(png_structp png, png_bytep out, png_size_t n)
{
    FILE *fp = png_get_io_ptr(png);
    if (fread(out, 1, n, fp) != n)
        png_error(png, ferror(fp) ? "read error" : "file is truncated");
}

/* Decode with the source already set up.  Everything the longjmp can skip
 * over lives in volatile locals or in ctx. */
static int decode(png_ctx *ctx, FILE *fp, const char *name, int mode,
                  dx_png *out, dx_err *err)
{
    memset(out, 0, sizeof *out);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx,
                                             on_error, on_warning);
    if (!png)
        return dx_fail(err, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    unsigned char *volatile red = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return dx_fail(err, "%s: out of memory", name);
    }
    if (setjmp(ctx->jb)) {
        free(px);
        free(rows);
        free(red);
        png_destroy_read_struct(&png, &info, NULL);
        return dx_fail(err, "%s: corrupt or truncated PNG: %s", name,
                       ctx->msg);
    }
    if (fp)
        png_set_read_fn(png, fp, read_file);
    else
        png_set_read_fn(png, ctx, read_mem);
    png_set_user_limits(png, DX_MAX_IMAGE_SIDE, DX_MAX_IMAGE_SIDE);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* let the fuzzer past the chunk CRCs into the decoder */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
    png_read_info(png, info);

    int ct = png_get_color_type(png, info);
    int bd = png_get_bit_depth(png, info);
    int label_from_rgb = 0;
    switch (mode) {
    case DX_PNG_RGB8:
        png_set_expand(png);
        png_set_strip_16(png);
        png_set_strip_alpha(png);
        png_set_gray_to_rgb(png);
        break;
    case DX_PNG_LABEL:
        if (ct == PNG_COLOR_TYPE_GRAY_ALPHA ||
            ((ct & PNG_COLOR_MASK_COLOR) && ct != PNG_COLOR_TYPE_PALETTE &&
             bd == 8)) {
            png_destroy_read_struct(&png, &info, NULL);
            return dx_fail(err, "%s: a label PNG is palette, grey or 16-bit "
                           "RGB (the class in the first channel), found "
                           "%d-bit %s", name, bd, dx_png_color_name(ct));
        }
        if (bd < 8)
            png_set_packing(png);
        if (bd == 16)
            png_set_swap(png);
        label_from_rgb = (ct & PNG_COLOR_MASK_COLOR) && ct != PNG_COLOR_TYPE_PALETTE;
        break;
    default:
        if (ct == PNG_COLOR_TYPE_PALETTE)
            png_set_palette_to_rgb(png);
        if (ct == PNG_COLOR_TYPE_GRAY && bd < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS))
            png_set_tRNS_to_alpha(png);
        if (bd == 16)
            png_set_swap(png);
        break;
    }
    int stored_type = ct, stored_depth = bd;
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    png_uint_32 w = png_get_image_width(png, info);
    png_uint_32 h = png_get_image_height(png, info);
    int ch = png_get_channels(png, info);
    int depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (w < 1 || h < 1)
        png_error(png, "image has no pixels");
    if (depth != 8 && depth != 16)
        png_error(png, "unsupported bit depth after conversion");
    if (rowbytes != (size_t)w * ch * (depth / 8))
        png_error(png, "unexpected row size");
    px = malloc((size_t)h * rowbytes);
    rows = malloc((size_t)h * sizeof *rows);
    if (!px || !rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = px + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    if (label_from_rgb) {
        size_t bytes = depth / 8;
        red = malloc((size_t)w * h * bytes);
        if (!red)
            png_error(png, "out of memory");
        for (size_t i = 0; i < (size_t)w * h; i++)
            memcpy(red + i * bytes, px + i * ch * bytes, bytes);
        free(px);
        px = red;
        red = NULL;
        ch = 1;
    }
    free(rows);
    rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = ch;
    out->depth = depth;
    out->px = px;
    out->color_type = stored_type;
    out->bit_depth = stored_depth;
    return 0;
}

const char *dx_png_color_name(int color_type)
{
    switch (color_type) {
    case DX_PNG_GREY: return "grey";
    case DX_PNG_TRUECOLOR: return "RGB";
    case DX_PNG_PALETTE: return "palette";
    case DX_PNG_GREY_ALPHA: return "grey+alpha";
    case DX_PNG_TRUECOLOR_ALPHA: return "RGBA";
    default: return "unknown";
    }
}

int dx_png_probe(const char *path, dx_png_info *info, dx_err *err)
{
    unsigned char b[26];
    memset(info, 0, sizeof *info);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(b, 1, sizeof b, fp);
    fclose(fp);
    if (got < 8 || png_sig_cmp(b, 0, 8) != 0)
        return dx_fail(err, "%s: not a PNG file (%s)", path,
                       got == 0 ? "empty" : "bad signature");
    if (got < 26 || memcmp(b + 12, "IHDR", 4) != 0)
        return dx_fail(err, "%s: corrupt or truncated PNG: no IHDR chunk",
                       path);
    info->width = (long)b[16] << 24 | (long)b[17] << 16 | (long)b[18] << 8 |
                  b[19];
    info->height = (long)b[20] << 24 | (long)b[21] << 16 | (long)b[22] << 8 |
                   b[23];
    info->bit_depth = b[24];
    info->color_type = b[25];
    return 0;
}

int dx_png_read_mem(const void *buf, size_t len, const char *name, int mode,
                    dx_png *out, dx_err *err)
{
    memset(out, 0, sizeof *out);
    if (len < 8 || png_sig_cmp((png_const_bytep)buf, 0, 8) != 0)
        return dx_fail(err, "%s: not a PNG file (bad signature)", name);
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.buf = buf;
    ctx.len = len;
    return decode(&ctx, NULL, name, mode, out, err);
}

int dx_png_read(const char *path, int mode, dx_png *out, dx_err *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return dx_fail(err, "%s: is a directory, expected a PNG file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, 8, fp);
    if (got != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(fp);
        return dx_fail(err, "%s: not a PNG file (%s)", path,
                       got == 0 ? "empty" : "bad signature");
    }
    rewind(fp);
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    int rc = decode(&ctx, fp, path, mode, out, err);
    fclose(fp);
    return rc;
}

void dx_png_free(dx_png *p)
{
    free(p->px);
    memset(p, 0, sizeof *p);
}

/* Encode rows of rowbytes each with the given IHDR colour type; pal is
 * set for palette images. */
static int write_png(const char *path, int width, int height, int ctype,
                     int depth, size_t rowbytes, const void *px,
                     const uint8_t *pal, int npal, dx_err *err)
{
    dx_atomic a;
    if (dx_atomic_open(&a, path, err))
        return -1;
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx,
                                              on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        dx_atomic_abort(&a);
        return dx_fail(err, "%s: out of memory", path);
    }
    if (setjmp(ctx.jb)) {
        free(rows);
        png_destroy_write_struct(&png, &info);
        dx_atomic_abort(&a);
        return dx_fail(err, "%s: cannot write PNG: %s", path, ctx.msg);
    }
    png_init_io(png, a.fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth,
                 ctype, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) {
        png_color colors[256];
        for (int i = 0; i < npal; i++) {
            colors[i].red = pal[3 * i];
            colors[i].green = pal[3 * i + 1];
            colors[i].blue = pal[3 * i + 2];
        }
        png_set_PLTE(png, info, colors, npal);
    }
    png_set_compression_level(png, 3);
    png_write_info(png, info);
    if (depth == 16)
        png_set_swap(png);
    rows = malloc((size_t)height * sizeof *rows);
    if (!rows)
        png_error(png, "out of memory");
    for (int y = 0; y < height; y++)
        rows[y] = (png_bytep)px + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    rows = NULL;
    png_destroy_write_struct(&png, &info);
    return dx_atomic_commit(&a, err);
}

static int check_side(const char *path, int width, int height, dx_err *err)
{
    if (width < 1 || height < 1 || width > DX_MAX_IMAGE_SIDE ||
        height > DX_MAX_IMAGE_SIDE)
        return dx_fail(err, "%s: cannot write a %dx%d PNG: each side must "
                       "be in [1, %d]", path, width, height,
                       DX_MAX_IMAGE_SIDE);
    return 0;
}

int dx_png_write(const char *path, int width, int height, int channels,
                 int depth, const void *px, dx_err *err)
{
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY,
                                PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
    if (check_side(path, width, height, err))
        return -1;
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16))
        return dx_fail(err, "%s: cannot write %d channels at depth %d", path,
                       channels, depth);
    return write_png(path, width, height, types[channels], depth,
                     (size_t)width * channels * (depth / 8), px, NULL, 0,
                     err);
}

int dx_png_write_palette(const char *path, int width, int height,
                         const uint8_t *px, const uint8_t *pal, int npal,
                         dx_err *err)
{
    if (check_side(path, width, height, err))
        return -1;
    if (npal < 1 || npal > 256)
        return dx_fail(err, "%s: a palette holds 1 to 256 colours, got %d",
                       path, npal);
    for (size_t i = 0; i < (size_t)width * height; i++)
        if (px[i] >= npal)
            return dx_fail(err, "%s: pixel %zu has palette index %d, but "
                           "the palette has %d colours", path, i, px[i],
                           npal);
    return write_png(path, width, height, PNG_COLOR_TYPE_PALETTE, 8,
                     (size_t)width, px, pal, npal, err);
}
