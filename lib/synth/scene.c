/* synth_scene.c - laying out one street scene from a seed: the camera,
 * the street and its sides, building blocks, cross streets, and the
 * objects with their sizes and colours. */
#include "synth/scene.h"

#include <math.h>
#include <string.h>

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

int synth_in_cross(const scene *s, float z)
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

const block *synth_block_at(const block *b, int n, float z)
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

void synth_make_scene(scene *s, const dx_synth *cfg, const style *st,
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
            if (synth_in_cross(s, tz) || !dx_rng_bernoulli(r, st->tree_p))
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
            if (sd->b[i].h == 0 && !synth_in_cross(s, sd->b[i].z0 + 0.5f) &&
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
            if (!synth_in_cross(s, o.z))
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
            if (synth_in_cross(s, pz) || synth_in_cross(s, pz + 4.5f) ||
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

