/* raster.c - scanline polygons, ellipses, value noise and a blur. */
#include "synth/raster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dx_paint dx_paint_flat(float r, float g, float b, uint8_t id)
{
    dx_paint p = {{r, g, b}, id, 0, 1, 0, 1, 1};
    return p;
}

static uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^
                 (c + 0x165667B1u) * 0xC2B2AE3Du;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

float dx_hash01(int32_t a, int32_t b, uint32_t seed)
{
    return (float)(hash3((uint32_t)a, (uint32_t)b, seed) >> 8) *
           (1.0f / 16777216.0f);
}

float dx_vnoise(float x, float y, uint32_t seed)
{
    float fx = floorf(x), fy = floorf(y);
    int32_t ix = (int32_t)fx, iy = (int32_t)fy;
    float tx = x - fx, ty = y - fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    float a = dx_hash01(ix, iy, seed), b = dx_hash01(ix + 1, iy, seed);
    float c = dx_hash01(ix, iy + 1, seed), d = dx_hash01(ix + 1, iy + 1, seed);
    float v = a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
    return 2 * v - 1;
}

float dx_fbm(float x, float y, uint32_t seed, int octaves)
{
    float sum = 0, amp = 0.5f, norm = 0;
    for (int o = 0; o < octaves; o++) {
        sum += amp * dx_vnoise(x, y, seed + 101u * (uint32_t)o);
        norm += amp;
        x *= 2.03f;
        y *= 2.03f;
        amp *= 0.5f;
    }
    return sum / norm;
}

static void put(dx_canvas *c, int x, int y, const dx_paint *p, float ytop,
                float ybot)
{
    float t = ybot > ytop ? ((float)y + 0.5f - ytop) / (ybot - ytop) : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float k = p->top + (p->bottom - p->top) * t;
    float n = 0;
    if (p->noise > 0)
        n = p->noise * dx_vnoise((float)x / p->grain, (float)y / p->grain,
                                 p->seed);
    float *o = c->rgb + ((size_t)y * c->w + x) * 3;
    for (int i = 0; i < 3; i++)
        o[i] = p->rgb[i] * k + n;
    c->id[(size_t)y * c->w + x] = p->id;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

void dx_fill_polygon(dx_canvas *c, const float *xy, int n,
                     const dx_paint *p)
{
    if (n < 3)
        return;
    float ymin = xy[1], ymax = xy[1];
    for (int i = 1; i < n; i++) {
        ymin = xy[2 * i + 1] < ymin ? xy[2 * i + 1] : ymin;
        ymax = xy[2 * i + 1] > ymax ? xy[2 * i + 1] : ymax;
    }
    int y0 = (int)floorf(ymin), y1 = (int)ceilf(ymax);
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > c->h ? c->h : y1;
    float xs[64];
    for (int y = y0; y < y1; y++) {
        float yc = (float)y + 0.5f;
        int k = 0;
        for (int i = 0; i < n && k < 64; i++) {
            float ax = xy[2 * i], ay = xy[2 * i + 1];
            float bx = xy[2 * ((i + 1) % n)], by = xy[2 * ((i + 1) % n) + 1];
            if ((ay <= yc && by > yc) || (by <= yc && ay > yc))
                xs[k++] = ax + (yc - ay) * (bx - ax) / (by - ay);
        }
        qsort(xs, (size_t)k, sizeof *xs, cmp_float);
        for (int j = 0; j + 1 < k; j += 2) {
            /* pixels whose centre x + 0.5 lies in [xs[j], xs[j+1]) */
            int xa = (int)ceilf(xs[j] - 0.5f), xb = (int)ceilf(xs[j + 1] - 0.5f);
            xa = xa < 0 ? 0 : xa;
            xb = xb > c->w ? c->w : xb;
            for (int x = xa; x < xb; x++)
                put(c, x, y, p, ymin, ymax);
        }
    }
}

void dx_fill_ellipse(dx_canvas *c, float cx, float cy, float rx, float ry,
                     const dx_paint *p)
{
    if (rx <= 0 || ry <= 0)
        return;
    int y0 = (int)floorf(cy - ry), y1 = (int)ceilf(cy + ry);
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > c->h ? c->h : y1;
    for (int y = y0; y < y1; y++) {
        float dy = ((float)y + 0.5f - cy) / ry;
        if (dy * dy >= 1)
            continue;
        float half = rx * sqrtf(1 - dy * dy);
        int xa = (int)ceilf(cx - half - 0.5f), xb = (int)ceilf(cx + half - 0.5f);
        xa = xa < 0 ? 0 : xa;
        xb = xb > c->w ? c->w : xb;
        for (int x = xa; x < xb; x++)
            put(c, x, y, p, cy - ry, cy + ry);
    }
}

void dx_fill_rect(dx_canvas *c, float x0, float y0, float x1, float y1,
                  const dx_paint *p)
{
    float xy[8] = {x0, y0, x1, y0, x1, y1, x0, y1};
    dx_fill_polygon(c, xy, 4, p);
}

int dx_gauss_blur(float *px, int w, int h, int c, float sigma)
{
    if (!(sigma > 0))
        return 0;
    int r = (int)ceilf(3 * sigma);
    float *k = malloc((size_t)(2 * r + 1) * sizeof *k);
    float *tmp = malloc((size_t)w * h * c * sizeof *tmp);
    if (!k || !tmp) {
        free(k);
        free(tmp);
        return -1;
    }
    float sum = 0;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = expf(-(float)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i <= 2 * r; i++)
        k[i] /= sum;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                    acc += k[i + r] * px[((size_t)y * w + xx) * c + ch];
                }
                tmp[((size_t)y * w + x) * c + ch] = acc;
            }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
                    acc += k[i + r] * tmp[((size_t)yy * w + x) * c + ch];
                }
                px[((size_t)y * w + x) * c + ch] = acc;
            }
    free(k);
    free(tmp);
    return 0;
}
