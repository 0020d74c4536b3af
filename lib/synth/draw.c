/* synth_draw.c - drawing a laid-out scene: the static scene (ground,
 * facades, side walls of buildings, the wall closing the street, sky)
 * ray-cast per pixel, then trees, poles, signs, lights, persons, vehicles,
 * walls and fences projected and painted far to near, then the hood. */
#include "synth/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int cross = synth_in_cross(s, z);
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
            const block *b = synth_block_at(sd->b, sd->nb, zf);
            float y = s->hc + dy * zf;
            if (b && b->h > 0 && y >= 0 && y <= b->h && !synth_in_cross(s, zf)) {
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
            const block *b = synth_block_at(sd->k, sd->nk, zb);
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

void synth_draw(dx_canvas *c, scene *s)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            cast_ray(s, x, y, c->rgb + 3 * ((size_t)y * c->w + x),
                     c->id + (size_t)y * c->w + x);
    qsort(s->o, (size_t)s->no, sizeof *s->o, cmp_obj);
    for (int i = 0; i < s->no; i++) {
        const obj *o = &s->o[i];
        if (o->z < 1)
            continue;
        switch (o->kind) {
        case O_TREE: draw_tree(c, s, o); break;
        case O_LAMP: draw_lamp(c, s, o); break;
        case O_SIGN: draw_sign(c, s, o); break;
        case O_TLIGHT: draw_tlight(c, s, o); break;
        case O_PERSON: draw_person(c, s, o); break;
        case O_WALL:
        case O_FENCE: draw_barrier(c, s, o); break;
        default: draw_vehicle(c, s, o); break;
        }
    }
    if (s->st->hood)
        draw_hood(c, s);
}
