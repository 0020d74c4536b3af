/* synth_scene.h - inside the scene generator (synth.h): the look and
 * layout of a domain, the scene a seed lays out, and the two halves that
 * lay it out (synth_scene.c) and draw it (synth_draw.c).  Not a public
 * API: only lib/synth*.c include it.
 *
 * World: X to the right, Y up, Z forward, metres; the road runs along Z
 * from X = 0 (left curb) to X = road_w (right curb); the camera sits at
 * (xcam, hc, 0) looking along +Z.
 */
#ifndef DACS_SYNTH_SCENE_H
#define DACS_SYNTH_SCENE_H

#include <stdint.h>

#include "synth/raster.h"
#include "base/rng.h"
#include "synth/city.h"

/* Cityscapes label ids */
enum { ID_EGO = 1, ID_ROAD = 7, ID_SIDEWALK = 8, ID_BUILDING = 11,
       ID_WALL = 12, ID_FENCE = 13, ID_POLE = 17, ID_LIGHT = 19,
       ID_SIGN = 20, ID_VEG = 21, ID_TERRAIN = 22, ID_SKY = 23,
       ID_PERSON = 24, ID_CAR = 26, ID_TRUCK = 27, ID_BUS = 28 };

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

/* The two domains (synth_style.c). */
extern const style synth_source, synth_target;

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
} side;

enum { O_TREE, O_LAMP, O_SIGN, O_TLIGHT, O_PERSON, O_CAR, O_TRUCK, O_BUS,
       O_WALL, O_FENCE };

typedef struct obj {
    int kind;
    float x, z, zkey; /* position (foot / near face) and painter's key */
    float a, b, c;    /* by kind: tree trunk height, crown radius; lamp
                         height, arm side; sign height, radius; light
                         height, arm length; person height, stride;
                         vehicle width, height, length; wall/fence far
                         end, height */
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
    float z_end, h_end; /* the wall closing the street (h_end 0: none) */
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

/* Lay out scene of domain style st from r. */
void synth_make_scene(scene *s, const dx_synth *cfg, const style *st,
                      dx_rng *r);
/* Is z inside a cross street? */
int synth_in_cross(const scene *s, float z);
/* The block of a row that covers z, or NULL. */
const block *synth_block_at(const block *b, int n, float z);
/* Draw the scene: the static part ray-cast per pixel, then the objects far
 * to near (sorting s->o), then the hood.  Colours and labels together. */
void synth_draw(dx_canvas *c, scene *s);

#endif
