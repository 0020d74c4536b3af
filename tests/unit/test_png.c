/* test_png.c - PNG round trips in every supported layout, label reading of
 * palette and 16-bit files, and corrupt files. */
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "io/pngio.h"

static char dir[] = "/tmp/dacs-png-XXXXXX";

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void round_trip(int channels, int depth)
{
    int w = 7, h = 5;
    size_t n = (size_t)w * h * channels;
    size_t bytes = n * (depth / 8);
    unsigned char *px = malloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        px[i] = (unsigned char)(i * 37 + 11);
    char path[256];
    path_of(path, sizeof path, "rt.png");
    dx_err err;
    int rc = dx_png_write(path, w, h, channels, depth, px, &err);
    dx_png p;
    rc = rc ? rc : dx_png_read(path, DX_PNG_RAW, &p, &err);
    CHECK(rc == 0 && p.width == w && p.height == h &&
              p.channels == channels && p.depth == depth &&
              memcmp(p.px, px, bytes) == 0,
          "raw round trip of %d channels at %d bits", channels, depth);
    if (rc == 0)
        dx_png_free(&p);
    free(px);
}

/* Write a palette PNG with libpng directly, as GTA5 labels are stored. */
static void write_palette(const char *path, int w, int h,
                          const unsigned char *idx)
{
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
                                              NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_PALETTE,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color pal[256];
    for (int i = 0; i < 256; i++) {
        pal[i].red = (png_byte)(255 - i);
        pal[i].green = (png_byte)(i * 3);
        pal[i].blue = (png_byte)(i * 7);
    }
    png_set_PLTE(png, info, pal, 256);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(idx + y * w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

static void test_labels(void)
{
    char path[256];
    dx_err err;
    dx_png p;
    int w = 6, h = 4;
    unsigned char idx[24];
    for (int i = 0; i < 24; i++)
        idx[i] = (unsigned char)(i % 34);
    path_of(path, sizeof path, "pal.png");
    write_palette(path, w, h, idx);
    int rc = dx_png_read(path, DX_PNG_LABEL, &p, &err);
    CHECK(rc == 0 && p.channels == 1 && p.depth == 8 &&
              memcmp(p.px, idx, 24) == 0,
          "a palette PNG read as labels gives its indices (GTA5)");
    if (rc == 0)
        dx_png_free(&p);
    rc = dx_png_read(path, DX_PNG_RGB8, &p, &err);
    CHECK(rc == 0 && p.channels == 3 &&
              ((unsigned char *)p.px)[3 * 5] == 255 - 5 &&
              ((unsigned char *)p.px)[3 * 5 + 2] == 35,
          "a palette PNG read as RGB expands the palette");
    if (rc == 0)
        dx_png_free(&p);

    /* SYNTHIA: 16-bit RGB, class in the red channel */
    uint16_t rgb16[24 * 3];
    for (int i = 0; i < 24; i++) {
        rgb16[3 * i] = (uint16_t)(i % 23);
        rgb16[3 * i + 1] = 1000;
        rgb16[3 * i + 2] = 65535;
    }
    path_of(path, sizeof path, "synthia.png");
    rc = dx_png_write(path, w, h, 3, 16, rgb16, &err);
    rc = rc ? rc : dx_png_read(path, DX_PNG_LABEL, &p, &err);
    int ok = rc == 0 && p.channels == 1 && p.depth == 16;
    for (int i = 0; ok && i < 24; i++)
        ok = ((uint16_t *)p.px)[i] == i % 23;
    CHECK(ok, "a 16-bit RGB PNG read as labels gives its red samples "
              "(SYNTHIA)");
    if (rc == 0)
        dx_png_free(&p);

    /* 8-bit RGB and grey+alpha are no label format: refused, not read as
     * their first channel; the stored encoding is reported */
    uint8_t rgb8[24 * 4];
    for (int i = 0; i < 24 * 4; i++)
        rgb8[i] = (uint8_t)(i % 4 == 3 ? 255 : 40 + i % 4);
    path_of(path, sizeof path, "rgb8.png");
    rc = dx_png_write(path, w, h, 3, 8, rgb8, &err);
    CHECK(rc == 0 && dx_png_read(path, DX_PNG_LABEL, &p, &err) == -1 &&
              strstr(err.msg, "rgb8.png: a label PNG is palette, grey or "
                     "16-bit RGB (the class in the first channel), found "
                     "8-bit RGB"),
          "an 8-bit RGB label refused: %s", err.msg);
    path_of(path, sizeof path, "ga.png");
    rc = dx_png_write(path, w, h, 2, 8, rgb8, &err);
    CHECK(rc == 0 && dx_png_read(path, DX_PNG_LABEL, &p, &err) == -1 &&
              strstr(err.msg, "found 8-bit grey+alpha"),
          "a grey+alpha label refused: %s", err.msg);
    dx_png_info info;
    CHECK(dx_png_probe(path, &info, &err) == 0 && info.width == w &&
              info.height == h && info.color_type == DX_PNG_GREY_ALPHA &&
              info.bit_depth == 8,
          "the header alone gives size, colour type and depth");
    CHECK(dx_png_read(path, DX_PNG_RAW, &p, &err) == 0 &&
              p.color_type == DX_PNG_GREY_ALPHA && p.bit_depth == 8 &&
              p.channels == 2,
          "a read reports the stored colour type and depth");
    dx_png_free(&p);

    /* grey 8-bit labels (Cityscapes) */
    path_of(path, sizeof path, "grey.png");
    rc = dx_png_write(path, w, h, 1, 8, idx, &err);
    rc = rc ? rc : dx_png_read(path, DX_PNG_LABEL, &p, &err);
    CHECK(rc == 0 && memcmp(p.px, idx, 24) == 0,
          "an 8-bit grey PNG read as labels is unchanged (Cityscapes)");
    if (rc == 0)
        dx_png_free(&p);
    rc = dx_png_read(path, DX_PNG_RGB8, &p, &err);
    CHECK(rc == 0 && p.channels == 3 && ((unsigned char *)p.px)[3 * 7] == 7 &&
              ((unsigned char *)p.px)[3 * 7 + 2] == 7,
          "grey read as RGB replicates the channel");
    if (rc == 0)
        dx_png_free(&p);

    /* RGBA read as RGB drops alpha */
    unsigned char rgba[24 * 4];
    for (int i = 0; i < 24 * 4; i++)
        rgba[i] = (unsigned char)i;
    path_of(path, sizeof path, "rgba.png");
    rc = dx_png_write(path, w, h, 4, 8, rgba, &err);
    rc = rc ? rc : dx_png_read(path, DX_PNG_RGB8, &p, &err);
    CHECK(rc == 0 && p.channels == 3 && ((unsigned char *)p.px)[3] == 4 &&
              ((unsigned char *)p.px)[5] == 6,
          "RGBA read as RGB drops alpha");
    if (rc == 0)
        dx_png_free(&p);
}

static void test_bad(void)
{
    char path[256], msg[DX_ERRLEN];
    dx_err err;
    dx_png p;
    unsigned char px[64 * 3];
    for (int i = 0; i < 64 * 3; i++)
        px[i] = (unsigned char)(i * 5);
    path_of(path, sizeof path, "ok.png");
    dx_png_write(path, 8, 8, 3, 8, px, &err);
    FILE *fp = fopen(path, "rb");
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);

    int caught = 1;
    for (size_t cut = 0; cut < len; cut++) {
        if (dx_png_read_mem(buf, cut, "cut.png", DX_PNG_RGB8, &p, &err) == 0) {
            /* the IEND chunk may be cut without losing pixels */
            if (cut < len - 12) {
                printf("# cut at %zu of %zu loaded\n", cut, len);
                caught = 0;
            }
            dx_png_free(&p);
        }
    }
    CHECK(caught, "a PNG cut anywhere before IEND is an error");

    buf[50] ^= 0xff; /* inside the IDAT data */
    int rc = dx_png_read_mem(buf, len, "flip.png", DX_PNG_RGB8, &p, &err);
    snprintf(msg, sizeof msg, "%s", rc ? err.msg : "(loaded)");
    CHECK(rc == -1 && strstr(msg, "flip.png: corrupt or truncated PNG"),
          "a corrupt PNG is a clear error: %s", msg);
    if (rc == 0)
        dx_png_free(&p);

    path_of(path, sizeof path, "text.png");
    fp = fopen(path, "w");
    fputs("this is not a png\n", fp);
    fclose(fp);
    rc = dx_png_read(path, DX_PNG_RGB8, &p, &err);
    CHECK(rc == -1 && strstr(err.msg, "not a PNG file"),
          "a text file named .png: %s", err.msg);
    rc = dx_png_read(dir, DX_PNG_RGB8, &p, &err);
    CHECK(rc == -1 && strstr(err.msg, "is a directory"),
          "a directory: %s", err.msg);
    path_of(path, sizeof path, "missing.png");
    rc = dx_png_read(path, DX_PNG_RGB8, &p, &err);
    CHECK(rc == -1 && strstr(err.msg, "cannot open"), "a missing file: %s",
          err.msg);
    rc = dx_png_write(path, 0, 0, 3, 8, px, &err);
    CHECK(rc == -1 && strstr(err.msg, "0x0"), "writing 0x0 is refused: %s",
          err.msg);

    /* a 0x0 PNG: a valid signature and an IHDR with zero width */
    unsigned char zero[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
        'D', 'R', 0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    uint32_t crc = (uint32_t)crc32(0, zero + 12, 17);
    for (int i = 0; i < 4; i++)
        zero[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    rc = dx_png_read_mem(zero, sizeof zero, "zero.png", DX_PNG_RGB8, &p, &err);
    CHECK(rc == -1 && strstr(err.msg, "zero.png") && strstr(err.msg, "is zero in IHDR"),
          "a 0x0 PNG: %s", err.msg);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    round_trip(1, 8);
    round_trip(2, 8);
    round_trip(3, 8);
    round_trip(4, 8);
    round_trip(1, 16);
    round_trip(3, 16);
    round_trip(4, 16);
    test_labels();
    test_bad();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_done();
}
