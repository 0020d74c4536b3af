/* synth.c - the benchmark generator: a scene per (seed, domain, index),
 * drawn, then seen through the domain's camera.  The look of the domains
 * is in synth_style.c, the layout in synth_scene.c, the drawing in
 * synth_draw.c.
 */
#include "synth/city.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/classes.h"
#include "data/labelmap.h"
#include "synth/raster.h"
#include "base/rng.h"
#include "synth/scene.h"

const uint8_t dx_synth_ids[] = {ID_EGO, ID_ROAD, ID_SIDEWALK, ID_BUILDING,
                                ID_WALL, ID_FENCE, ID_POLE, ID_LIGHT,
                                ID_SIGN, ID_VEG, ID_TERRAIN, ID_SKY,
                                ID_PERSON, ID_CAR, ID_TRUCK, ID_BUS};
const int dx_synth_nids = (int)sizeof dx_synth_ids;

int dx_synth_synthia_id(int id)
{
    switch (id) {
    case ID_ROAD: return 3;
    case ID_SIDEWALK: return 4;
    case ID_BUILDING: return 2;
    case ID_WALL: return 21;
    case ID_FENCE: return 5;
    case ID_POLE: return 7;
    case ID_LIGHT: return 15;
    case ID_SIGN: return 9;
    case ID_VEG: return 6;
    case ID_TERRAIN: return 16;
    case ID_SKY: return 1;
    case ID_PERSON: return 10;
    case ID_CAR: return 8;
    case ID_TRUCK: return 18;
    case ID_BUS: return 19;
    default: return 0;
    }
}

void dx_synth_colorize(const uint8_t *ids, size_t n, uint8_t *rgb)
{
    static dx_labelmap map;
    static int ready;
    if (!ready) {
        dx_labelmap_builtin(&map, "cityscapes", NULL);
        ready = 1;
    }
    for (size_t i = 0; i < n; i++)
        dx_class_color(map.lut[ids[i]], rgb + 3 * i);
}

/* ---- the camera: colour, blur, noise ---- */

/* An approximately normal deviate (mean 0, sd 1) from one 64-bit draw:
 * the sum of four 16-bit uniforms (Irwin-Hall), cheap enough for every
 * pixel and channel. */
static float gauss(dx_rng *r)
{
    uint64_t u = dx_rng_u64(r);
    float s = (float)(u & 0xffff) + (float)((u >> 16) & 0xffff) +
              (float)((u >> 32) & 0xffff) + (float)(u >> 48);
    return (s / 65536.0f - 2.0f) * 1.7320508f;
}

static int camera(float *rgb, int w, int h, const style *st, float scale,
                  dx_rng *r)
{
    float exposure = 1 + (float)dx_rng_range(r, -st->exposure, st->exposure);
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        float *p = rgb + 3 * i;
        float l = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
        for (int k = 0; k < 3; k++) {
            float v = l + (p[k] - l) * st->sat;
            v = v * st->cast[k] * exposure;
            p[k] = 128 + (v - 128) * st->contrast;
        }
    }
    if (st->blur > 0 && dx_gauss_blur(rgb, w, h, 3, st->blur * scale))
        return -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = rgb + 3 * ((size_t)y * w + x);
            float v = 1;
            if (st->vignette > 0) {
                float dx = ((float)x + 0.5f) / (float)w - 0.5f;
                float dy = ((float)y + 0.5f) / (float)h - 0.5f;
                v = 1 - st->vignette * (dx * dx + dy * dy) * 2;
            }
            for (int k = 0; k < 3; k++)
                p[k] = p[k] * v + st->noise * gauss(r);
        }
    return 0;
}

/* The target's materials moved a fraction t of the way from the source's
 * (t = 1: the target's own).  Colour k of the target list starts from
 * colour k mod n of the source list. */
static void shift_materials(style *t, float f)
{
    for (int m = 0; m < M_COUNT; m++) {
        const material *a = &synth_source.m[m], *b = &synth_target.m[m];
        material *o = &t->m[m];
        for (int k = 0; k < b->n; k++)
            for (int i = 0; i < 3; i++)
                o->c[k][i] = a->c[k % a->n][i] +
                             (b->c[k][i] - a->c[k % a->n][i]) * f;
        o->n = b->n;
        o->noise = a->noise + (b->noise - a->noise) * f;
    }
}

static style target_for(int gap, float shift)
{
    if (gap == DX_GAP_NONE)
        return synth_source;
    if (gap == DX_GAP_GLOBAL) {
        style t = synth_source;
        t.sat = synth_target.sat;
        t.contrast = synth_target.contrast;
        memcpy(t.cast, synth_target.cast, sizeof t.cast);
        t.exposure = synth_target.exposure;
        t.blur = synth_target.blur;
        t.noise = synth_target.noise;
        t.vignette = synth_target.vignette;
        return t;
    }
    style t = synth_target;
    shift_materials(&t, shift);
    return t;
}

void dx_synth_defaults(dx_synth *s)
{
    *s = (dx_synth){.width = 512, .height = 256, .seed = 0,
                    .gap = DX_GAP_FULL, .class_shift = 0.4f};
}

int dx_synth_render(const dx_synth *cfg, int domain, const char *stream,
                    uint64_t index, uint8_t *rgb, uint8_t *ids, dx_err *err)
{
    if (!(cfg->class_shift >= 0 && cfg->class_shift <= 1))
        return dx_fail(err, "synth: class shift %g is outside [0, 1]",
                       cfg->class_shift);
    if (cfg->width < 16 || cfg->height < 16)
        return dx_fail(err, "synth: image size %dx%d is below 16x16",
                       cfg->width, cfg->height);
    style st = domain == DX_SYNTH_SOURCE ? synth_source
                                         : target_for(cfg->gap, cfg->class_shift);
    char purpose[96];
    snprintf(purpose, sizeof purpose, "synth-city:%s:%s",
             domain == DX_SYNTH_SOURCE ? "source" : "target",
             stream ? stream : "");
    dx_rng r;
    dx_rng_init(&r, cfg->seed, purpose, index);
    dx_rng rs = dx_rng_child(&r, 0), rc = dx_rng_child(&r, 1);
    scene *s = malloc(sizeof *s);
    float *buf = malloc((size_t)cfg->width * cfg->height * 3 * sizeof *buf);
    if (!s || !buf) {
        free(s);
        free(buf);
        return dx_fail(err, "synth: out of memory");
    }
    synth_make_scene(s, cfg, &st, &rs);
    dx_canvas c = {cfg->width, cfg->height, buf, ids};
    synth_draw(&c, s);
    int rc_ = camera(buf, c.w, c.h, &st, s->scale, &rc);
    for (size_t i = 0; i < (size_t)c.w * c.h * 3; i++) {
        float v = buf[i] + 0.5f;
        rgb[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    free(s);
    free(buf);
    if (rc_)
        return dx_fail(err, "synth: out of memory");
    return 0;
}
