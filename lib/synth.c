/* synth.c - street scenes of two domains, with pixel-exact labels.
 *
 * World: X to the right, Y up, Z forward, metres; the road runs along Z
 * from X = 0 (left curb) to X = road_w (right curb); the camera sits at
 * (xcam, hc, 0) looking along +Z.  The static scene (ground, facades, side
 * walls of buildings, the wall closing the street, sky) is ray-cast per
 * pixel; objects (trees, poles, signs, lights, persons, vehicles, walls,
 * fences) are projected and painted far to near on top.
 */
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "labelmap.h"
#include "raster.h"
#include "rng.h"

/* Cityscapes label ids */
enum { ID_EGO = 1, ID_ROAD = 7, ID_SIDEWALK = 8, ID_BUILDING = 11,
       ID_WALL = 12, ID_FENCE = 13, ID_POLE = 17, ID_LIGHT = 19,
       ID_SIGN = 20, ID_VEG = 21, ID_TERRAIN = 22, ID_SKY = 23,
       ID_PERSON = 24, ID_CAR = 26, ID_TRUCK = 27, ID_BUS = 28 };

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

/* ---- appearance and layout of a domain ---- */

enum { M_SKY_TOP, M_SKY_LOW, M_CLOUD, M_ROAD, M_MARK, M_SIDEWALK, M_CURB,
       M_BUILDING, M_GLASS, M_WALL, M_FENCE, M_VEG, M_TRUNK, M_TERRAIN,
       M_POLE, M_LIGHT, M_SIGN, M_TOP, M_LEGS, M_SKIN, M_CAR, M_TRUCK,
       M_BUS, M_HOOD, M_COUNT };

#define MAXC 7
typedef struct material {
    float c[MAXC][3]; /* candidate colours */
    int n;
    float noise;      /* texture amplitude */
} material;

typedef struct style {
    /* layout: ranges [lo, hi] */
    float cam_h[2], horizon[2], focal[2];
    int lanes[2];
    float lane_w, parking_p, park_fill;
    float side_w[2], setback[2], terrain_p;
    float bld_h[2], bld_len[2], gap_p, end_p, street_len[2];
    float tree_p, tree_step, lamp_step[2];
    int signs[2], movers[2], persons[2];
    float truck_p, bus_p, cross_p, wall_p, fence_p, cloud;
    float verge_p; /* a grass strip between curb and footpath */
    float tile, obj_scale[2];
    int hood, edge_lines;
    material m[M_COUNT];
    /* camera */
    float sat, contrast, cast[3], exposure, blur, noise, vignette;
} style;

#define RGB(r, g, b) {r, g, b}
#define MAT(noise, ...) {{__VA_ARGS__}, sizeof((float[][3]){__VA_ARGS__}) / sizeof(float[3]), noise}

/* The source: a game engine's sunny, saturated, sharp city, with a camera
 * that varies in height and pitch, wide roads, open space, trucks. */
static const style SOURCE = {
    .cam_h = {1.6f, 3.0f}, .horizon = {0.30f, 0.50f}, .focal = {0.70f, 0.95f},
    .lanes = {2, 4}, .lane_w = 3.6f, .parking_p = 0.25f, .park_fill = 0.4f,
    .side_w = {2.0f, 3.5f}, .setback = {0, 9}, .terrain_p = 0.7f,
    .bld_h = {5, 28}, .bld_len = {10, 30}, .gap_p = 0.35f, .end_p = 0.4f,
    .street_len = {70, 200}, .tree_p = 0.25f, .tree_step = 11,
    .lamp_step = {25, 40}, .signs = {1, 4}, .movers = {1, 6},
    .persons = {0, 3}, .truck_p = 0.45f, .bus_p = 0.3f, .cross_p = 0.5f,
    .wall_p = 0.3f, .fence_p = 0.3f, .cloud = 0.35f, .tile = 0.9f,
    .verge_p = 0.1f,
    .obj_scale = {1.0f, 1.15f}, .hood = 0, .edge_lines = 1,
    .m = {
        [M_SKY_TOP] = MAT(0, RGB(55, 115, 215), RGB(70, 130, 225)),
        [M_SKY_LOW] = MAT(0, RGB(175, 205, 240), RGB(190, 215, 240)),
        [M_CLOUD] = MAT(0, RGB(245, 245, 250)),
        [M_ROAD] = MAT(14, RGB(72, 72, 78), RGB(82, 80, 84), RGB(64, 66, 70)),
        [M_MARK] = MAT(0, RGB(235, 235, 225), RGB(225, 185, 40)),
        [M_SIDEWALK] = MAT(10, RGB(168, 163, 152), RGB(178, 174, 165),
                           RGB(158, 155, 150)),
        [M_CURB] = MAT(6, RGB(195, 195, 190)),
        [M_BUILDING] = MAT(10, RGB(205, 175, 135), RGB(185, 140, 100),
                           RGB(165, 85, 65), RGB(215, 205, 185),
                           RGB(140, 150, 165)),
        [M_GLASS] = MAT(0, RGB(50, 80, 125), RGB(70, 110, 155),
                        RGB(40, 60, 95)),
        [M_WALL] = MAT(10, RGB(160, 155, 140), RGB(140, 140, 135)),
        [M_FENCE] = MAT(4, RGB(80, 80, 85), RGB(115, 100, 80)),
        [M_VEG] = MAT(40, RGB(55, 140, 40), RGB(70, 155, 50),
                      RGB(45, 120, 35)),
        [M_TRUNK] = MAT(8, RGB(90, 65, 45)),
        [M_TERRAIN] = MAT(22, RGB(175, 155, 85), RGB(160, 140, 75),
                          RGB(185, 165, 100)),
        [M_POLE] = MAT(3, RGB(55, 60, 58), RGB(45, 70, 55)),
        [M_LIGHT] = MAT(3, RGB(215, 180, 30)),
        [M_SIGN] = MAT(0, RGB(200, 30, 30), RGB(30, 80, 190),
                       RGB(30, 130, 60)),
        [M_TOP] = MAT(8, RGB(220, 40, 40), RGB(40, 90, 220),
                      RGB(240, 200, 40), RGB(240, 240, 240),
                      RGB(60, 180, 90), RGB(230, 120, 30)),
        [M_LEGS] = MAT(6, RGB(40, 60, 140), RGB(50, 50, 55),
                       RGB(200, 180, 140)),
        [M_SKIN] = MAT(0, RGB(230, 190, 160), RGB(190, 140, 100),
                       RGB(120, 80, 60)),
        [M_CAR] = MAT(4, RGB(190, 25, 25), RGB(25, 60, 190),
                      RGB(230, 200, 30), RGB(235, 235, 235), RGB(25, 25, 28),
                      RGB(30, 150, 60), RGB(230, 120, 20)),
        [M_TRUCK] = MAT(4, RGB(235, 235, 230), RGB(200, 40, 40),
                        RGB(60, 90, 160)),
        [M_BUS] = MAT(4, RGB(235, 180, 20), RGB(220, 140, 20)),
        [M_HOOD] = MAT(0, RGB(40, 45, 55)),
    },
    .sat = 1.25f, .contrast = 1.1f, .cast = {1.05f, 1.0f, 0.93f},
    .exposure = 0.08f, .blur = 0, .noise = 2, .vignette = 0,
};

/* The target: a car camera in a European city on an overcast day: fixed
 * low camera and hood, narrow streets with parked cars, tall continuous
 * facades, many trees and pedestrians; class colours reshuffled. */
static const style TARGET = {
    .cam_h = {1.2f, 1.3f}, .horizon = {0.38f, 0.44f}, .focal = {0.78f, 0.85f},
    .lanes = {2, 2}, .lane_w = 3.0f, .parking_p = 0.9f, .park_fill = 0.75f,
    .side_w = {3.0f, 5.0f}, .setback = {1.0f, 4.0f}, .terrain_p = 0.65f,
    .bld_h = {10, 25}, .bld_len = {8, 20}, .gap_p = 0.1f, .end_p = 0.7f,
    .street_len = {40, 120}, .tree_p = 0.75f, .tree_step = 8,
    .lamp_step = {15, 25}, .signs = {2, 6}, .movers = {0, 3},
    .persons = {3, 12}, .truck_p = 0.15f, .bus_p = 0.15f, .cross_p = 0.6f,
    .wall_p = 0.2f, .fence_p = 0.25f, .cloud = 0.08f, .tile = 0.35f,
    .verge_p = 0.5f,
    .obj_scale = {0.9f, 1.0f}, .hood = 1, .edge_lines = 0,
    .m = {
        [M_SKY_TOP] = MAT(0, RGB(170, 185, 205), RGB(185, 192, 205)),
        [M_SKY_LOW] = MAT(0, RGB(210, 215, 222), RGB(222, 224, 228)),
        [M_CLOUD] = MAT(0, RGB(235, 235, 238)),
        [M_ROAD] = MAT(6, RGB(140, 135, 142), RGB(150, 145, 150),
                       RGB(132, 130, 138)),
        [M_MARK] = MAT(0, RGB(205, 205, 200)),
        [M_SIDEWALK] = MAT(8, RGB(140, 100, 90), RGB(150, 115, 95),
                           RGB(125, 95, 85)),
        [M_CURB] = MAT(5, RGB(165, 160, 155)),
        [M_BUILDING] = MAT(6, RGB(170, 170, 165), RGB(120, 118, 115),
                           RGB(185, 175, 155), RGB(95, 95, 100),
                           RGB(200, 185, 160), RGB(150, 140, 125)),
        [M_GLASS] = MAT(0, RGB(60, 65, 70), RGB(45, 50, 55), RGB(80, 85, 90)),
        [M_WALL] = MAT(8, RGB(120, 115, 105)),
        [M_FENCE] = MAT(4, RGB(60, 70, 60)),
        [M_VEG] = MAT(28, RGB(70, 90, 45), RGB(60, 80, 40), RGB(85, 95, 50)),
        [M_TRUNK] = MAT(6, RGB(70, 60, 50)),
        [M_TERRAIN] = MAT(18, RGB(95, 150, 55), RGB(105, 160, 60),
                          RGB(85, 140, 50)),
        [M_POLE] = MAT(3, RGB(135, 135, 135), RGB(120, 125, 125)),
        [M_LIGHT] = MAT(3, RGB(30, 30, 32)),
        [M_SIGN] = MAT(0, RGB(20, 70, 160), RGB(200, 30, 30),
                       RGB(230, 200, 50)),
        [M_TOP] = MAT(6, RGB(40, 40, 50), RGB(70, 60, 55), RGB(60, 70, 90),
                      RGB(110, 30, 40), RGB(150, 150, 150)),
        [M_LEGS] = MAT(5, RGB(30, 30, 40), RGB(60, 55, 50)),
        [M_SKIN] = MAT(0, RGB(230, 190, 160), RGB(190, 140, 100),
                       RGB(120, 80, 60)),
        [M_CAR] = MAT(4, RGB(165, 165, 170), RGB(35, 35, 40),
                      RGB(215, 215, 215), RGB(40, 50, 80), RGB(110, 110, 115),
                      RGB(120, 30, 30)),
        [M_TRUCK] = MAT(4, RGB(70, 80, 90), RGB(200, 200, 200)),
        [M_BUS] = MAT(4, RGB(225, 225, 220), RGB(200, 40, 40)),
        [M_HOOD] = MAT(0, RGB(30, 32, 38)),
    },
    .sat = 0.6f, .contrast = 0.9f, .cast = {0.96f, 1.02f, 1.0f},
    .exposure = 0.2f, .blur = 0.8f, .noise = 5, .vignette = 0.25f,
};

/* ---- a scene ---- */

#define MAXB 48
#define MAXO 256

typedef struct block {
    float z0, z1, h; /* h = 0: a gap */
    float rgb[3];
    float bay, floor_h, win_w, win_h;
    int glass;
    uint32_t seed;
} block;

typedef struct side {
    float facade;  /* X of the facade plane */
    float back;    /* X of the second row */
    float sw, sb;  /* sidewalk and setback widths */
    int terrain;
    float ter_z0, ter_z1;
    float verge; /* width of a grass strip after the curb, 0: none */
    block b[MAXB], k[MAXB]; /* front row (with gaps), back row */
    int nb, nk;
    float side_rgb[3];
} side;

enum { O_TREE, O_LAMP, O_SIGN, O_TLIGHT, O_PERSON, O_CAR, O_TRUCK, O_BUS,
       O_WALL, O_FENCE };

typedef struct obj {
    int kind;
    float x, z, zkey; /* position (foot / near face) and painter's key */
    float a, b, c;    /* sizes, by kind */
    float rgb[3], rgb2[3], rgb3[3];
    int var;
    uint32_t seed;
} obj;

typedef struct scene {
    const style *st;
    int W, H;
    float f, cx, yh, hc, xcam, road_w, scale;
    side L, R;
    int lanes;
    float lane_w, park_l, park_r; /* parking strip widths */
    float z_end, h_end, end_rgb[3];
    block end;
    float cross[4][2];
    int ncross;
    float road_rgb[3], walk_rgb[3], curb_rgb[3], ter_rgb[3], sky_top[3],
        sky_low[3];
    int mark_yellow;
    uint32_t seed;
    obj o[MAXO];
    int no;
} scene;

static float U(dx_rng *r, float lo, float hi)
{
    return (float)dx_rng_range(r, lo, hi);
}

static int I(dx_rng *r, int lo, int hi) /* inclusive */
{
    return lo + (int)dx_rng_below(r, (uint64_t)(hi - lo + 1));
}

static void pick(dx_rng *r, const material *m, float jitter, float out[3])
{
    int k = (int)dx_rng_below(r, (uint64_t)m->n);
    for (int i = 0; i < 3; i++)
        out[i] = m->c[k][i] * (1 + U(r, -jitter, jitter));
}

static int in_cross(const scene *s, float z)
{
    for (int i = 0; i < s->ncross; i++)
        if (z >= s->cross[i][0] && z < s->cross[i][1])
            return 1;
    return 0;
}

static void make_blocks(scene *s, dx_rng *r, block *b, int *nb, int gaps)
{
    const style *st = s->st;
    float z = U(r, -5, 2);
    int n = 0;
    while (z < s->z_end + 5 && n < MAXB) {
        block *k = &b[n++];
        k->z0 = z;
        float len = U(r, st->bld_len[0], st->bld_len[1]);
        k->z1 = z + len;
        int gap = gaps && dx_rng_bernoulli(r, st->gap_p);
        k->h = gap ? 0 : U(r, st->bld_h[0], st->bld_h[1]);
        if (gap)
            k->z1 = z + U(r, 4, 12);
        pick(r, &st->m[M_BUILDING], 0.08f, k->rgb);
        k->bay = U(r, 2.6f, 4.0f);
        k->floor_h = U(r, 2.9f, 3.6f);
        k->win_w = U(r, 0.35f, 0.7f);
        k->win_h = U(r, 0.4f, 0.65f);
        k->glass = (int)dx_rng_below(r, (uint64_t)st->m[M_GLASS].n);
        k->seed = (uint32_t)dx_rng_u64(r);
        z = k->z1;
    }
    /* cross streets cut the front row */
    if (gaps)
        for (int i = 0; i < n; i++)
            for (int c = 0; c < s->ncross; c++)
                if (b[i].z0 < s->cross[c][1] && b[i].z1 > s->cross[c][0]) {
                    if (b[i].z0 >= s->cross[c][0] && b[i].z1 <= s->cross[c][1])
                        b[i].h = 0;
                    else if (b[i].z0 < s->cross[c][0])
                        b[i].z1 = s->cross[c][0];
                    else
                        b[i].z0 = s->cross[c][1];
                }
    *nb = n;
}

static const block *block_at(const block *b, int n, float z)
{
    for (int i = 0; i < n; i++)
        if (z >= b[i].z0 && z < b[i].z1)
            return &b[i];
    return NULL;
}

static void add(scene *s, obj o)
{
    if (s->no < MAXO)
        s->o[s->no++] = o;
}

static void make_scene(scene *s, const dx_synth *cfg, const style *st,
                       dx_rng *r)
{
    memset(s, 0, sizeof *s);
    s->st = st;
    s->W = cfg->width;
    s->H = cfg->height;
    s->scale = (float)cfg->width / 512.0f;
    s->f = U(r, st->focal[0], st->focal[1]) * (float)s->W;
    s->cx = (float)s->W * 0.5f;
    s->yh = U(r, st->horizon[0], st->horizon[1]) * (float)s->H;
    s->hc = U(r, st->cam_h[0], st->cam_h[1]);
    s->seed = (uint32_t)dx_rng_u64(r);
    s->lanes = I(r, st->lanes[0], st->lanes[1]);
    s->lane_w = st->lane_w * U(r, 0.95f, 1.05f);
    s->park_l = dx_rng_bernoulli(r, st->parking_p) ? 2.2f : 0;
    s->park_r = dx_rng_bernoulli(r, st->parking_p) ? 2.2f : 0;
    s->road_w = s->lanes * s->lane_w + s->park_l + s->park_r;
    /* the camera drives in one of the right-hand lanes */
    int lane = s->lanes - 1 - I(r, 0, (s->lanes - 1) / 2);
    s->xcam = s->park_l + (lane + 0.5f) * s->lane_w + U(r, -0.3f, 0.3f);
    s->z_end = U(r, st->street_len[0], st->street_len[1]);
    s->h_end = dx_rng_bernoulli(r, st->end_p) ? U(r, st->bld_h[0],
                                                  st->bld_h[1])
                                              : 0;
    pick(r, &st->m[M_BUILDING], 0.08f, s->end.rgb);
    s->end.bay = U(r, 2.6f, 4.0f);
    s->end.floor_h = U(r, 2.9f, 3.6f);
    s->end.win_w = 0.5f;
    s->end.win_h = 0.5f;
    s->end.seed = (uint32_t)dx_rng_u64(r);
    s->end.h = s->h_end;
    float z = U(r, 12, 30);
    while (s->ncross < 4 && z < s->z_end - 15) {
        if (dx_rng_bernoulli(r, st->cross_p)) {
            s->cross[s->ncross][0] = z;
            s->cross[s->ncross][1] = z + U(r, 8, 14);
            z = s->cross[s->ncross][1];
            s->ncross++;
        }
        z += U(r, 25, 60);
    }
    pick(r, &st->m[M_ROAD], 0.06f, s->road_rgb);
    pick(r, &st->m[M_SIDEWALK], 0.06f, s->walk_rgb);
    pick(r, &st->m[M_CURB], 0.04f, s->curb_rgb);
    pick(r, &st->m[M_TERRAIN], 0.08f, s->ter_rgb);
    pick(r, &st->m[M_SKY_TOP], 0.05f, s->sky_top);
    pick(r, &st->m[M_SKY_LOW], 0.03f, s->sky_low);
    s->mark_yellow = st->m[M_MARK].n > 1 && dx_rng_bernoulli(r, 0.4);
    for (int k = 0; k < 2; k++) {
        side *sd = k ? &s->R : &s->L;
        sd->sw = U(r, st->side_w[0], st->side_w[1]);
        sd->sb = dx_rng_bernoulli(r, 0.6) ? U(r, st->setback[0],
                                               st->setback[1])
                                           : 0;
        sd->terrain = sd->sb > 0.8f && dx_rng_bernoulli(r, st->terrain_p);
        sd->ter_z0 = U(r, -10, 20);
        sd->ter_z1 = sd->ter_z0 + U(r, 20, 120);
        sd->verge = dx_rng_bernoulli(r, st->verge_p) ? U(r, 0.8f, 1.6f) : 0;
        if (sd->verge > sd->sw - 1.2f)
            sd->verge = 0;
        float out = sd->sw + sd->sb;
        sd->facade = k ? s->road_w + out : -out;
        float depth = U(r, 12, 30);
        sd->back = k ? sd->facade + depth : sd->facade - depth;
        make_blocks(s, r, sd->b, &sd->nb, 1);
        make_blocks(s, r, sd->k, &sd->nk, 0);
        for (int i = 0; i < sd->nk; i++)
            sd->k[i].h += 4; /* the second row stands above the first */
    }

    /* ---- objects ---- */
    float zmin = st->hood ? 5 : 3.5f, zfar = s->z_end < 90 ? s->z_end : 90;
    float os = U(r, st->obj_scale[0], st->obj_scale[1]);
    for (int k = 0; k < 2; k++) {
        side *sd = k ? &s->R : &s->L;
        float curb = k ? s->road_w : 0, dir = k ? 1 : -1;
        /* trees along the outer part of the sidewalk or the setback */
        for (float tz = U(r, 2, 8); tz < zfar; tz += st->tree_step * U(r, 0.8f, 1.3f)) {
            if (in_cross(s, tz) || !dx_rng_bernoulli(r, st->tree_p))
                continue;
            obj o = {.kind = O_TREE, .z = tz, .seed = (uint32_t)dx_rng_u64(r)};
            o.x = curb + dir * (sd->verge > 0 ? 0.25f + sd->verge * 0.5f
                                : sd->sb > 2 ? sd->sw + sd->sb * U(r, 0.3f, 0.7f)
                                             : sd->sw * U(r, 0.55f, 0.8f));
            o.a = U(r, 2.5f, 4.0f) * os;          /* trunk height */
            o.b = U(r, 1.6f, 3.0f) * os;          /* crown radius */
            o.var = I(r, 3, 6);
            pick(r, &st->m[M_VEG], 0.1f, o.rgb);
            pick(r, &st->m[M_TRUNK], 0.1f, o.rgb2);
            o.zkey = o.z;
            add(s, o);
        }
        /* trees in building gaps */
        for (int i = 0; i < sd->nb; i++)
            if (sd->b[i].h == 0 && !in_cross(s, sd->b[i].z0 + 0.5f) &&
                dx_rng_bernoulli(r, 0.6)) {
                obj o = {.kind = O_TREE, .seed = (uint32_t)dx_rng_u64(r)};
                o.z = (sd->b[i].z0 + sd->b[i].z1) * 0.5f;
                o.x = sd->facade + dir * U(r, 2, 5);
                o.a = U(r, 3, 5) * os;
                o.b = U(r, 2.5f, 4) * os;
                o.var = I(r, 4, 6);
                pick(r, &st->m[M_VEG], 0.1f, o.rgb);
                pick(r, &st->m[M_TRUNK], 0.1f, o.rgb2);
                o.zkey = o.z;
                if (o.z > zmin)
                    add(s, o);
            }
        /* street lamps at the curb */
        for (float lz = U(r, 4, 20); lz < zfar; lz += U(r, st->lamp_step[0], st->lamp_step[1])) {
            obj o = {.kind = O_LAMP, .z = lz, .x = curb + dir * 0.5f};
            o.a = U(r, 6.5f, 9); /* height */
            o.b = dir;            /* arm points over the road */
            pick(r, &st->m[M_POLE], 0.05f, o.rgb);
            o.zkey = o.z;
            add(s, o);
        }
        /* walls and fences along the outer sidewalk edge */
        for (int w = 0; w < 2; w++) {
            float p = w ? st->fence_p : st->wall_p;
            if (!dx_rng_bernoulli(r, p))
                continue;
            obj o = {.kind = w ? O_FENCE : O_WALL};
            o.x = curb + dir * (sd->sw + (sd->sb > 0 ? 0.2f : 0.05f));
            o.z = U(r, zmin, 30);
            o.a = o.z + U(r, 6, 30); /* far end */
            o.b = w ? U(r, 1.0f, 1.8f) : U(r, 0.8f, 2.0f); /* height */
            pick(r, &st->m[w ? M_FENCE : M_WALL], 0.06f, o.rgb);
            o.seed = (uint32_t)dx_rng_u64(r);
            o.zkey = o.a; /* a long thing: behind what stands beside it */
            if (!in_cross(s, o.z))
                add(s, o);
        }
    }
    /* sign poles */
    int nsigns = I(r, st->signs[0], st->signs[1]);
    for (int i = 0; i < nsigns; i++) {
        int k = I(r, 0, 1);
        obj o = {.kind = O_SIGN, .z = U(r, zmin + 1, 45)};
        o.x = k ? s->road_w + 0.4f : -0.4f;
        o.a = U(r, 2.2f, 3.0f);  /* height */
        o.b = U(r, 0.3f, 0.45f); /* sign radius */
        o.var = I(r, 0, 3);      /* shape */
        pick(r, &st->m[M_POLE], 0.05f, o.rgb);
        pick(r, &st->m[M_SIGN], 0.05f, o.rgb2);
        o.zkey = o.z;
        add(s, o);
    }
    /* traffic lights at the corners of cross streets */
    for (int c = 0; c < s->ncross; c++)
        for (int k = 0; k < 2; k++) {
            if (!dx_rng_bernoulli(r, 0.8))
                continue;
            obj o = {.kind = O_TLIGHT, .z = s->cross[c][0] - U(r, 0.5f, 2)};
            o.x = k ? s->road_w + 0.6f : -0.6f;
            o.a = U(r, 3.2f, 4.5f);
            o.b = dx_rng_bernoulli(r, 0.5) ? (k ? -1 : 1) * U(r, 2.5f, 4.5f)
                                           : 0; /* arm over the road */
            o.var = I(r, 0, 2); /* which lamp is lit */
            pick(r, &st->m[M_POLE], 0.05f, o.rgb);
            pick(r, &st->m[M_LIGHT], 0.05f, o.rgb2);
            o.zkey = o.z;
            if (o.z > zmin)
                add(s, o);
        }
    /* persons: on the sidewalks, a few crossing */
    int np = I(r, st->persons[0], st->persons[1]);
    for (int i = 0; i < np; i++) {
        int k = I(r, 0, 1);
        const side *sd = k ? &s->R : &s->L;
        obj o = {.kind = O_PERSON, .z = U(r, zmin, 45)};
        float in = U(r, 0.3f, sd->sw - 0.3f);
        o.x = k ? s->road_w + in : -in;
        if (s->ncross && dx_rng_bernoulli(r, 0.15)) {
            o.z = s->cross[0][0] - U(r, 1, 3);
            o.x = U(r, 0, s->road_w);
        }
        o.a = U(r, 1.55f, 1.95f) * os; /* height */
        o.b = U(r, -1, 1);             /* stride */
        pick(r, &st->m[M_TOP], 0.08f, o.rgb);
        pick(r, &st->m[M_LEGS], 0.08f, o.rgb2);
        pick(r, &st->m[M_SKIN], 0.05f, o.rgb3);
        o.zkey = o.z;
        add(s, o);
    }
    /* parked cars along the curbs (in the parking strips) */
    for (int k = 0; k < 2; k++) {
        float strip = k ? s->park_r : s->park_l;
        if (strip <= 0)
            continue;
        for (float pz = U(r, zmin, zmin + 6); pz < 70; pz += U(r, 5.2f, 7)) {
            if (in_cross(s, pz) || in_cross(s, pz + 4.5f) ||
                !dx_rng_bernoulli(r, st->park_fill))
                continue;
            obj o = {.kind = O_CAR, .z = pz};
            o.a = U(r, 1.7f, 1.95f); /* width */
            o.b = U(r, 1.4f, 1.65f); /* height */
            o.c = U(r, 3.9f, 4.8f);  /* length */
            o.x = k ? s->road_w - 0.2f - o.a : 0.2f;
            pick(r, &st->m[M_CAR], 0.06f, o.rgb);
            o.zkey = o.z;
            add(s, o);
        }
    }
    /* moving vehicles in the lanes */
    int nm = I(r, st->movers[0], st->movers[1]);
    float lane_next[8] = {0};
    for (int i = 0; i < nm; i++) {
        int lane_i = I(r, 0, s->lanes - 1);
        float lx = s->park_l + (lane_i + 0.5f) * s->lane_w;
        int own = fabsf(lx - s->xcam) < s->lane_w * 0.5f;
        float z0 = (own ? 9 : zmin + 1) + lane_next[lane_i] + U(r, 0, 25);
        obj o = {.z = z0};
        float u = (float)dx_rng_uniform(r);
        if (u < st->bus_p * 0.5f) {
            o.kind = O_BUS;
            o.a = 2.5f;
            o.b = U(r, 3.0f, 3.3f);
            o.c = U(r, 10.5f, 12.5f);
            pick(r, &st->m[M_BUS], 0.05f, o.rgb);
        } else if (u < (st->bus_p + st->truck_p) * 0.5f) {
            o.kind = O_TRUCK;
            o.a = U(r, 2.3f, 2.5f);
            o.b = U(r, 2.8f, 3.8f);
            o.c = U(r, 6.5f, 9.5f);
            pick(r, &st->m[M_TRUCK], 0.05f, o.rgb);
            pick(r, &st->m[M_TRUCK], 0.05f, o.rgb2);
        } else {
            o.kind = O_CAR;
            o.a = U(r, 1.7f, 1.95f);
            o.b = U(r, 1.4f, 1.65f);
            o.c = U(r, 3.9f, 4.8f);
            pick(r, &st->m[M_CAR], 0.06f, o.rgb);
        }
        o.x = lx - o.a * 0.5f + U(r, -0.3f, 0.3f);
        lane_next[lane_i] = z0 - (own ? 9 : zmin + 1) + o.c + U(r, 3, 12);
        o.zkey = o.z;
        if (o.z + o.c < s->z_end)
            add(s, o);
    }
}

/* ---- the static scene, per pixel ---- */

static void mix3(float out[3], const float a[3], const float b[3], float t)
{
    for (int i = 0; i < 3; i++)
        out[i] = a[i] + (b[i] - a[i]) * t;
}

/* Facade colour at along-coordinate u, height y, seen at depth z. */
static void facade_rgb(const scene *s, const block *b, float u, float y,
                       float z, float out[3])
{
    const style *st = s->st;
    float n = dx_fbm(u * 2.1f, y * 2.1f, b->seed, 2) * st->m[M_BUILDING].noise;
    float wall[3], glass[3];
    for (int i = 0; i < 3; i++)
        wall[i] = b->rgb[i] + n;
    const float *g = st->m[M_GLASS].c[b->glass];
    float bay = floorf(u / b->bay), fl = floorf(y / b->floor_h);
    float shade = 0.85f + 0.3f * dx_hash01((int32_t)bay, (int32_t)fl, b->seed);
    for (int i = 0; i < 3; i++)
        glass[i] = g[i] * shade + 25 * (y / (b->h + 1));
    float cell = s->f * b->floor_h / z; /* pixels per floor */
    float fu = u / b->bay - bay, fy = y / b->floor_h - fl;
    float win;
    if (y < 3.4f) /* ground floor: shop windows */
        win = (fu > 0.1f && fu < 0.9f && y > 0.6f && y < 2.8f) ? 1 : 0;
    else
        win = (fabsf(fu - 0.5f) < b->win_w * 0.5f &&
               fabsf(fy - 0.5f) < b->win_h * 0.5f) ? 1 : 0;
    if (cell < 3) { /* windows below a few pixels blur into the wall */
        float area = b->win_w * b->win_h;
        float t = (3 - cell) / 3;
        win = win * (1 - t) + area * t;
    }
    if (fy > 0.96f && cell >= 3)
        win = 0, wall[0] *= 0.8f, wall[1] *= 0.8f, wall[2] *= 0.8f;
    mix3(out, wall, glass, win);
}

static void ground_rgb(const scene *s, float x, float z, float out[3],
                       uint8_t *id)
{
    const style *st = s->st;
    float fade = 1 / (1 + z / 25);
    float n;
    const side *sd = x < 0 ? &s->L : &s->R;
    float d = x < 0 ? -x : x - s->road_w; /* distance beyond the curb */
    int cross = in_cross(s, z);
    if (d <= 0 || (cross && d < 60)) {
        *id = ID_ROAD;
        n = dx_fbm(x * 3.3f, z * 3.3f, s->seed, 2) * st->m[M_ROAD].noise * fade;
        for (int i = 0; i < 3; i++)
            out[i] = s->road_rgb[i] + n;
        const float *mark = st->m[M_MARK].c[0];
        float lw = 0.15f, dash = fmodf(z + 100, 9) < 3;
        int painted = 0;
        if (!cross) {
            for (int l = 1; l < s->lanes; l++) {
                float lx = s->park_l + l * s->lane_w;
                if (fabsf(x - lx) < lw * 0.5f) {
                    int centre = l == s->lanes / 2 && s->lanes > 2;
                    if (centre && s->mark_yellow)
                        mark = st->m[M_MARK].c[1];
                    painted = centre || dash;
                }
            }
            if (st->edge_lines && (fabsf(x - s->park_l - 0.25f) < 0.08f ||
                                   fabsf(x - (s->road_w - s->park_r) + 0.25f) < 0.08f))
                painted = 1;
            /* a zebra crossing before each cross street */
            for (int c = 0; c < s->ncross; c++)
                if (z > s->cross[c][0] - 4 && z < s->cross[c][0] - 1 && d <= 0 &&
                    fmodf(x + 50, 1.0f) < 0.5f)
                    painted = 1;
        }
        if (painted) {
            float t = 0.85f * (fade * 2 > 1 ? 1 : fade * 2);
            mix3(out, out, mark, t + 0.15f);
        }
        return;
    }
    if (d < 0.25f) { /* curb stones */
        *id = ID_SIDEWALK;
        for (int i = 0; i < 3; i++)
            out[i] = s->curb_rgb[i] +
                     dx_vnoise(z * 4, x * 4, s->seed + 7) * st->m[M_CURB].noise;
        return;
    }
    int verge = d < 0.25f + sd->verge && z > sd->ter_z0 - 20;
    if (verge || (d > sd->sw && sd->terrain && z > sd->ter_z0 &&
                  z < sd->ter_z1)) {
        *id = ID_TERRAIN;
        n = dx_fbm(x * 6, z * 6, s->seed + 3, 3) * st->m[M_TERRAIN].noise;
        for (int i = 0; i < 3; i++)
            out[i] = s->ter_rgb[i] + n * (i == 2 ? 0.5f : 1);
        return;
    }
    *id = ID_SIDEWALK;
    n = dx_fbm(x * 2.5f, z * 2.5f, s->seed + 5, 2) * st->m[M_SIDEWALK].noise;
    float tx = fmodf(d, st->tile) / st->tile, tz = fmodf(z + 100, st->tile) / st->tile;
    float px = s->f * st->tile / z; /* tile size, pixels */
    float line = (tx < 0.08f || tz < 0.08f) ? 1 : 0;
    if (px < 4)
        line = 0.16f * (1 - px / 4) + line * px / 4;
    for (int i = 0; i < 3; i++)
        out[i] = (s->walk_rgb[i] + n) * (1 - 0.25f * line);
}

static void sky_rgb(const scene *s, int x, int y, float out[3])
{
    float t = (s->yh - (float)y) / (s->yh + 1);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    mix3(out, s->sky_low, s->sky_top, sqrtf(t));
    float c = dx_fbm((float)x / (40 * s->scale), (float)y / (18 * s->scale),
                     s->seed + 11, 4);
    float cover = s->st->cloud;
    float k = (c + 0.4f - (1 - cover)) * 2.5f;
    k = k < 0 ? 0 : k > 1 ? 1 : k;
    mix3(out, out, s->st->m[M_CLOUD].c[0], k * 0.9f);
}

/* Cast one pixel's ray into the static scene. */
static void cast_ray(const scene *s, int px, int py, float out[3],
                     uint8_t *id)
{
    float dx = ((float)px + 0.5f - s->cx) / s->f;
    float dy = (s->yh - ((float)py + 0.5f)) / s->f;
    float best = INFINITY;
    const block *hit = NULL;
    float hu = 0, hy = 0;
    /* ground */
    if (dy < 0)
        best = s->hc / -dy;
    /* facades, building side walls and second rows of both sides */
    for (int k = 0; k < 2; k++) {
        const side *sd = k ? &s->R : &s->L;
        if ((k == 0 && dx >= 0) || (k == 1 && dx <= 0))
            continue;
        float zf = (sd->facade - s->xcam) / dx;
        if (zf > 0 && zf < best) {
            const block *b = block_at(sd->b, sd->nb, zf);
            float y = s->hc + dy * zf;
            if (b && b->h > 0 && y >= 0 && y <= b->h && !in_cross(s, zf)) {
                best = zf;
                hit = b;
                hu = zf;
                hy = y;
            }
        }
        /* walls at block starts facing the camera */
        for (int i = 1; i < sd->nb; i++) {
            const block *b = &sd->b[i];
            float hp = sd->b[i - 1].h;
            if (b->h <= hp)
                continue;
            float z = b->z0;
            if (z <= 0 || z >= best)
                continue;
            float x = s->xcam + dx * z, y = s->hc + dy * z;
            int beyond = k ? (x > sd->facade && x < sd->back)
                           : (x < sd->facade && x > sd->back);
            if (beyond && y >= 0 && y <= b->h) {
                best = z;
                hit = b;
                hu = x;
                hy = y;
            }
        }
        float zb = (sd->back - s->xcam) / dx;
        if (zb > 0 && zb < best) {
            const block *b = block_at(sd->k, sd->nk, zb);
            float y = s->hc + dy * zb;
            if (b && y >= 0 && y <= b->h) {
                best = zb;
                hit = b;
                hu = zb;
                hy = y;
            }
        }
    }
    /* the wall that closes the street */
    if (s->h_end > 0 && s->z_end < best) {
        float x = s->xcam + dx * s->z_end, y = s->hc + dy * s->z_end;
        if (y >= 0 && y <= s->h_end && x > s->L.back && x < s->R.back) {
            best = s->z_end;
            hit = &s->end;
            hu = x;
            hy = y;
        }
    }
    if (hit) {
        *id = ID_BUILDING;
        facade_rgb(s, hit, hu, hy, best, out);
        return;
    }
    if (best < INFINITY) {
        ground_rgb(s, s->xcam + dx * best, best, out, id);
        return;
    }
    *id = ID_SKY;
    sky_rgb(s, px, py, out);
}

/* ---- objects ---- */

typedef struct pt {
    float x, y;
} pt;

static pt proj(const scene *s, float x, float y, float z)
{
    pt p = {s->cx + s->f * (x - s->xcam) / z, s->yh - s->f * (y - s->hc) / z};
    return p;
}

static dx_paint paint(const float rgb[3], uint8_t id, float noise, float grain,
                      uint32_t seed)
{
    dx_paint p = {{rgb[0], rgb[1], rgb[2]}, id, noise, grain, seed, 1, 1};
    return p;
}

/* A vertical quad along z (constant x), from z0 to z1, y0 to y1. */
static void quad_x(dx_canvas *c, const scene *s, float x, float z0, float z1,
                   float y0, float y1, const dx_paint *p)
{
    pt a = proj(s, x, y0, z0), b = proj(s, x, y0, z1), d = proj(s, x, y1, z1),
       e = proj(s, x, y1, z0);
    float xy[8] = {a.x, a.y, b.x, b.y, d.x, d.y, e.x, e.y};
    dx_fill_polygon(c, xy, 4, p);
}

/* A quad facing the camera (constant z). */
static void quad_z(dx_canvas *c, const scene *s, float x0, float x1, float y0,
                   float y1, float z, const dx_paint *p)
{
    pt a = proj(s, x0, y0, z), b = proj(s, x1, y1, z);
    dx_fill_rect(c, a.x, b.y, b.x, a.y, p);
}

/* A box: the faces the camera sees. */
static void box(dx_canvas *c, const scene *s, float x0, float x1, float y0,
                float y1, float z0, float z1, const float rgb[3], uint8_t id,
                float noise)
{
    float dark[3], top[3];
    for (int i = 0; i < 3; i++) {
        dark[i] = rgb[i] * 0.72f;
        top[i] = rgb[i] * 1.1f;
    }
    dx_paint ps = paint(dark, id, noise, 2, 1), pt_ = paint(top, id, noise, 2, 2),
             pf = paint(rgb, id, noise, 2, 3);
    if (x1 < s->xcam)
        quad_x(c, s, x1, z0, z1, y0, y1, &ps);
    if (x0 > s->xcam)
        quad_x(c, s, x0, z0, z1, y0, y1, &ps);
    if (y1 < s->hc) {
        pt a = proj(s, x0, y1, z0), b = proj(s, x1, y1, z0),
           d = proj(s, x1, y1, z1), e = proj(s, x0, y1, z1);
        float xy[8] = {a.x, a.y, b.x, b.y, d.x, d.y, e.x, e.y};
        dx_fill_polygon(c, xy, 4, &pt_);
    }
    quad_z(c, s, x0, x1, y0, y1, z0, &pf);
}

static void draw_tree(dx_canvas *c, const scene *s, const obj *o)
{
    const style *st = s->st;
    dx_paint trunk = paint(o->rgb2, ID_VEG, st->m[M_TRUNK].noise, 1.5f, o->seed);
    trunk.top = 1.0f;
    trunk.bottom = 0.8f;
    quad_z(c, s, o->x - 0.15f, o->x + 0.15f, 0, o->a + o->b * 0.5f, o->z, &trunk);
    float k = s->f / o->z;
    float grain = 0.12f * k;
    dx_paint crown = paint(o->rgb, ID_VEG, st->m[M_VEG].noise,
                           grain < 0.7f ? 0.7f : grain, o->seed + 1);
    crown.top = 1.2f;
    crown.bottom = 0.75f;
    uint32_t h = o->seed;
    for (int i = 0; i < o->var; i++) {
        float ox = (dx_hash01((int32_t)i, 1, h) - 0.5f) * o->b * 1.2f;
        float oy = (dx_hash01((int32_t)i, 2, h) - 0.3f) * o->b * 0.9f;
        float rr = o->b * (0.55f + 0.4f * dx_hash01((int32_t)i, 3, h));
        pt p = proj(s, o->x + ox, o->a + o->b * 0.8f + oy, o->z);
        dx_fill_ellipse(c, p.x, p.y, rr * k, rr * k * 0.9f, &crown);
    }
}

static void draw_lamp(dx_canvas *c, const scene *s, const obj *o)
{
    dx_paint p = paint(o->rgb, ID_POLE, s->st->m[M_POLE].noise, 2, 5);
    quad_z(c, s, o->x - 0.09f, o->x + 0.09f, 0, o->a, o->z, &p);
    float ax = o->x + o->b * 1.8f; /* arm end, over the road */
    pt a = proj(s, o->x, o->a, o->z), b = proj(s, ax, o->a - 0.1f, o->z);
    float t = 0.08f * s->f / o->z + 0.5f;
    float xy[8] = {a.x, a.y - t, b.x, b.y - t, b.x, b.y + t, a.x, a.y + t};
    dx_fill_polygon(c, xy, 4, &p);
    quad_z(c, s, fminf(ax, ax + o->b * 0.6f), fmaxf(ax, ax + o->b * 0.6f),
           o->a - 0.35f, o->a, o->z, &p);
}

static void draw_sign(dx_canvas *c, const scene *s, const obj *o)
{
    dx_paint pole = paint(o->rgb, ID_POLE, 2, 2, 6);
    quad_z(c, s, o->x - 0.04f, o->x + 0.04f, 0, o->a, o->z, &pole);
    float k = s->f / o->z, r = o->b;
    pt m = proj(s, o->x, o->a + r * 0.8f, o->z);
    float white[3] = {235, 235, 230};
    dx_paint rim = paint(o->rgb2, ID_SIGN, 0, 1, 0),
             face = paint(white, ID_SIGN, 0, 1, 0);
    switch (o->var) {
    case 0: /* round: rim and face */
        dx_fill_ellipse(c, m.x, m.y, r * k, r * k, &rim);
        dx_fill_ellipse(c, m.x, m.y, r * k * 0.72f, r * k * 0.72f, &face);
        break;
    case 1: { /* triangle */
        float xy[6] = {m.x - r * k, m.y + r * k * 0.8f, m.x + r * k,
                       m.y + r * k * 0.8f, m.x, m.y - r * k};
        dx_fill_polygon(c, xy, 3, &rim);
        float q = 0.6f;
        float in[6] = {m.x - r * k * q, m.y + r * k * 0.55f, m.x + r * k * q,
                       m.y + r * k * 0.55f, m.x, m.y - r * k * q};
        dx_fill_polygon(c, in, 3, &face);
        break;
    }
    case 2: /* square, plain face */
        dx_fill_rect(c, m.x - r * k, m.y - r * k, m.x + r * k, m.y + r * k, &rim);
        dx_fill_rect(c, m.x - r * k * 0.3f, m.y - r * k * 0.6f, m.x + r * k * 0.3f,
                     m.y + r * k * 0.6f, &face);
        break;
    default: /* wide plate */
        dx_fill_rect(c, m.x - 1.6f * r * k, m.y - 0.6f * r * k, m.x + 1.6f * r * k,
                     m.y + 0.6f * r * k, &rim);
    }
}

static void draw_tlight(dx_canvas *c, const scene *s, const obj *o)
{
    dx_paint pole = paint(o->rgb, ID_POLE, 2, 2, 7);
    quad_z(c, s, o->x - 0.08f, o->x + 0.08f, 0, o->a, o->z, &pole);
    float hx = o->x;
    if (o->b != 0) { /* arm over the road, light hanging from it */
        hx = o->x + o->b;
        pt a = proj(s, o->x, o->a, o->z), b = proj(s, hx, o->a, o->z);
        float t = 0.07f * s->f / o->z + 0.5f;
        float xy[8] = {a.x, a.y - t, b.x, b.y - t, b.x, b.y + t, a.x, a.y + t};
        dx_fill_polygon(c, xy, 4, &pole);
    }
    float top = o->b != 0 ? o->a : o->a + 0.95f;
    dx_paint box_ = paint(o->rgb2, ID_LIGHT, 3, 2, 8);
    quad_z(c, s, hx - 0.17f, hx + 0.17f, top - 0.95f, top, o->z, &box_);
    static const float lamps[3][3] = {{230, 40, 30}, {240, 180, 30}, {40, 220, 90}};
    float k = s->f / o->z;
    for (int i = 0; i < 3; i++) {
        float dim[3];
        for (int j = 0; j < 3; j++)
            dim[j] = i == o->var ? lamps[i][j] : lamps[i][j] * 0.25f + 15;
        dx_paint lp = paint(dim, ID_LIGHT, 0, 1, 0);
        pt p = proj(s, hx, top - 0.17f - 0.3f * (float)i, o->z);
        dx_fill_ellipse(c, p.x, p.y, 0.1f * k, 0.1f * k, &lp);
    }
}

static void draw_person(dx_canvas *c, const scene *s, const obj *o)
{
    float h = o->a, k = s->f / o->z;
    pt foot = proj(s, o->x, 0, o->z);
    float u = h * k; /* pixels per person height */
    dx_paint legs = paint(o->rgb2, ID_PERSON, s->st->m[M_LEGS].noise, 1.5f, 9),
             top = paint(o->rgb, ID_PERSON, s->st->m[M_TOP].noise, 1.5f, 10),
             skin = paint(o->rgb3, ID_PERSON, 0, 1, 0);
    float st = o->b * 0.06f * u; /* stride */
    float xy[8];
    /* legs: two slanted quads */
    for (int l = -1; l <= 1; l += 2) {
        float fx = foot.x + l * (st + 0.035f * u), hx = foot.x + l * 0.045f * u;
        float w = 0.055f * u;
        float q[8] = {fx - w, foot.y, fx + w, foot.y, hx + w, foot.y - 0.48f * u,
                      hx - w, foot.y - 0.48f * u};
        dx_fill_polygon(c, q, 4, &legs);
    }
    /* torso: a trapezoid, wider at the shoulders */
    float ty0 = foot.y - 0.46f * u, ty1 = foot.y - 0.82f * u;
    float q[8] = {foot.x - 0.12f * u, ty0, foot.x + 0.12f * u, ty0,
                  foot.x + 0.15f * u, ty1, foot.x - 0.15f * u, ty1};
    memcpy(xy, q, sizeof q);
    dx_fill_polygon(c, xy, 4, &top);
    /* arms */
    for (int l = -1; l <= 1; l += 2) {
        float sx = foot.x + l * 0.15f * u, hx = sx + l * 0.02f * u - st * 0.5f * l;
        float a[8] = {sx - 0.035f * u, ty1, sx + 0.035f * u, ty1,
                      hx + 0.03f * u, foot.y - 0.5f * u, hx - 0.03f * u,
                      foot.y - 0.5f * u};
        dx_fill_polygon(c, a, 4, &top);
    }
    /* neck and head */
    dx_fill_rect(c, foot.x - 0.03f * u, ty1 - 0.04f * u, foot.x + 0.03f * u,
                 ty1 + 0.01f * u, &skin);
    dx_fill_ellipse(c, foot.x, foot.y - 0.9f * u, 0.065f * u, 0.08f * u, &skin);
    float hair[3] = {o->rgb2[0] * 0.6f, o->rgb2[1] * 0.5f, o->rgb2[2] * 0.4f};
    dx_paint ph = paint(hair, ID_PERSON, 0, 1, 0);
    dx_fill_ellipse(c, foot.x, foot.y - 0.94f * u, 0.066f * u, 0.045f * u, &ph);
}

static void wheels_side(dx_canvas *c, const scene *s, float x, float z0,
                        float z1, float r, uint8_t id)
{
    float tire[3] = {25, 25, 27};
    dx_paint p = paint(tire, id, 0, 1, 0);
    float zs[2] = {z0 + 0.8f, z1 - 0.8f};
    for (int i = 0; i < 2; i++) {
        pt m = proj(s, x, r, zs[i]);
        pt e = proj(s, x, r, zs[i] + r);
        pt g = proj(s, x, 0, zs[i]);
        dx_fill_ellipse(c, m.x, m.y, fabsf(e.x - m.x) + 0.5f, g.y - m.y, &p);
    }
}

static void draw_vehicle(dx_canvas *c, const scene *s, const obj *o)
{
    uint8_t id = o->kind == O_CAR ? ID_CAR : o->kind == O_TRUCK ? ID_TRUCK
                                                                 : ID_BUS;
    float x0 = o->x, x1 = o->x + o->a, z0 = o->z, z1 = o->z + o->c;
    float glass[3] = {45, 55, 65};
    const float *g = s->st->m[M_GLASS].c[0];
    for (int i = 0; i < 3; i++)
        glass[i] = (glass[i] + g[i]) * 0.5f;
    float tire[3] = {25, 25, 27};
    dx_paint pg = paint(glass, id, 0, 1, 0), ptire = paint(tire, id, 0, 1, 0);
    if (o->kind == O_CAR) {
        float hb = o->b * 0.55f;
        box(c, s, x0, x1, 0.12f, hb, z0, z1, o->rgb, id, 3);
        float in = 0.12f;
        box(c, s, x0 + in, x1 - in, hb, o->b, z0 + 1.0f, z1 - 1.1f, o->rgb, id, 3);
        quad_z(c, s, x0 + in + 0.08f, x1 - in - 0.08f, hb + 0.08f, o->b - 0.1f,
               z0 + 1.0f, &pg);
        if (x1 < s->xcam)
            quad_x(c, s, x1 - in, z0 + 1.1f, z1 - 1.2f, hb + 0.06f, o->b - 0.1f, &pg);
        if (x0 > s->xcam)
            quad_x(c, s, x0 + in, z0 + 1.1f, z1 - 1.2f, hb + 0.06f, o->b - 0.1f, &pg);
        float red[3] = {200, 20, 20};
        dx_paint pr = paint(red, id, 0, 1, 0);
        quad_z(c, s, x0 + 0.1f, x0 + 0.35f, hb - 0.2f, hb - 0.05f, z0, &pr);
        quad_z(c, s, x1 - 0.35f, x1 - 0.1f, hb - 0.2f, hb - 0.05f, z0, &pr);
    } else if (o->kind == O_TRUCK) {
        float cab = 2.2f;
        box(c, s, x0 + 0.05f, x1 - 0.05f, 0.3f, o->b * 0.75f, z1 - cab, z1,
            o->rgb2, id, 3);
        box(c, s, x0, x1, 0.5f, o->b, z0, z1 - cab - 0.2f, o->rgb, id, 4);
        quad_z(c, s, x0 + 0.1f, x1 - 0.1f, 0.3f, 0.5f, z0, &ptire);
    } else {
        box(c, s, x0, x1, 0.25f, o->b, z0, z1, o->rgb, id, 3);
        quad_z(c, s, x0 + 0.15f, x1 - 0.15f, o->b * 0.55f, o->b - 0.25f, z0, &pg);
        if (x1 < s->xcam)
            quad_x(c, s, x1, z0 + 0.5f, z1 - 0.5f, o->b * 0.5f, o->b - 0.3f, &pg);
        if (x0 > s->xcam)
            quad_x(c, s, x0, z0 + 0.5f, z1 - 0.5f, o->b * 0.5f, o->b - 0.3f, &pg);
    }
    float r = o->kind == O_CAR ? 0.33f : 0.5f;
    if (x1 < s->xcam)
        wheels_side(c, s, x1 + 0.01f, z0, z1, r, id);
    if (x0 > s->xcam)
        wheels_side(c, s, x0 - 0.01f, z0, z1, r, id);
    quad_z(c, s, x0 + 0.1f, x0 + 0.35f, 0, r * 0.9f, z0 + 0.6f, &ptire);
    quad_z(c, s, x1 - 0.35f, x1 - 0.1f, 0, r * 0.9f, z0 + 0.6f, &ptire);
}

static void draw_barrier(dx_canvas *c, const scene *s, const obj *o)
{
    if (o->kind == O_WALL) {
        dx_paint p = paint(o->rgb, ID_WALL, s->st->m[M_WALL].noise, 2, o->seed);
        p.top = 1.05f;
        p.bottom = 0.85f;
        quad_x(c, s, o->x, o->z, o->a, 0, o->b, &p);
        return;
    }
    dx_paint p = paint(o->rgb, ID_FENCE, 3, 2, o->seed);
    for (float z = o->z; z <= o->a; z += 1.5f)
        quad_z(c, s, o->x - 0.04f, o->x + 0.04f, 0, o->b, z, &p);
    float rails[3] = {0.15f, o->b * 0.5f, o->b - 0.08f};
    for (int i = 0; i < 3; i++)
        quad_x(c, s, o->x, o->z, o->a, rails[i], rails[i] + 0.07f, &p);
}

static int cmp_obj(const void *a, const void *b)
{
    float x = ((const obj *)a)->zkey, y = ((const obj *)b)->zkey;
    return x > y ? -1 : x < y; /* far first */
}

static void draw_hood(dx_canvas *c, const scene *s)
{
    float W = (float)s->W, H = (float)s->H;
    float top = H * 0.88f;
    float xy[2 * 34];
    int n = 0;
    for (int i = 0; i <= 30; i++) {
        float t = (float)i / 30;
        float x = -0.02f * W + t * 1.04f * W;
        float dx = (t - 0.5f) * 2;
        xy[2 * n] = x;
        xy[2 * n + 1] = top + (H - top) * 0.55f * dx * dx;
        n++;
    }
    xy[2 * n] = 1.02f * W;
    xy[2 * n + 1] = H + 1;
    n++;
    xy[2 * n] = -0.02f * W;
    xy[2 * n + 1] = H + 1;
    n++;
    dx_paint p = paint(s->st->m[M_HOOD].c[0], ID_EGO, 4, 3, 12);
    p.top = 1.6f; /* the sky reflected near the edge */
    p.bottom = 0.8f;
    dx_fill_polygon(c, xy, n, &p);
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
    float exposure = 1 + U(r, -st->exposure, st->exposure);
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
        const material *a = &SOURCE.m[m], *b = &TARGET.m[m];
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
        return SOURCE;
    if (gap == DX_GAP_GLOBAL) {
        style t = SOURCE;
        t.sat = TARGET.sat;
        t.contrast = TARGET.contrast;
        memcpy(t.cast, TARGET.cast, sizeof t.cast);
        t.exposure = TARGET.exposure;
        t.blur = TARGET.blur;
        t.noise = TARGET.noise;
        t.vignette = TARGET.vignette;
        return t;
    }
    style t = TARGET;
    shift_materials(&t, shift);
    return t;
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
    style st = domain == DX_SYNTH_SOURCE ? SOURCE
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
    make_scene(s, cfg, &st, &rs);
    dx_canvas c = {cfg->width, cfg->height, buf, ids};
    for (int y = 0; y < c.h; y++)
        for (int x = 0; x < c.w; x++)
            cast_ray(s, x, y, buf + 3 * ((size_t)y * c.w + x),
                     ids + (size_t)y * c.w + x);
    qsort(s->o, (size_t)s->no, sizeof *s->o, cmp_obj);
    for (int i = 0; i < s->no; i++) {
        const obj *o = &s->o[i];
        if (o->z < 1)
            continue;
        switch (o->kind) {
        case O_TREE: draw_tree(&c, s, o); break;
        case O_LAMP: draw_lamp(&c, s, o); break;
        case O_SIGN: draw_sign(&c, s, o); break;
        case O_TLIGHT: draw_tlight(&c, s, o); break;
        case O_PERSON: draw_person(&c, s, o); break;
        case O_WALL:
        case O_FENCE: draw_barrier(&c, s, o); break;
        default: draw_vehicle(&c, s, o); break;
        }
    }
    if (st.hood)
        draw_hood(&c, s);
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
