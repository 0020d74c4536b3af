/* mix.c - ClassMix: class masks and mixing. */
#include "dacs/mix.h"

#include <string.h>

#include "data/classes.h"

const char *const dx_mix_mode_names[DX_MIX_END + 1] = {
    [DX_MIX_CLASS] = "class", [DX_MIX_NAIVE] = "naive",
    [DX_MIX_NONE] = "none", [DX_MIX_END] = NULL};
const char *const dx_mix_pool_names[DX_POOL_END + 1] = {
    [DX_POOL_IMAGE] = "image", [DX_POOL_BATCH] = "batch",
    [DX_POOL_END] = NULL};

dx_mix_opts dx_mix_defaults(void)
{
    return (dx_mix_opts){.mode = DX_MIX_CLASS, .pool = DX_POOL_IMAGE,
                         .keep_ignore = 0};
}

void dx_classes_present(uint8_t present[256], const uint8_t *label,
                        size_t count)
{
    memset(present, 0, 256);
    for (size_t i = 0; i < count; i++)
        present[label[i]] = 1;
}

int dx_classes_pick(uint8_t picked[256], const uint8_t pool[256],
                    dx_rng *r)
{
    uint32_t cls[256], idx[256], n = 0;
    for (int v = 0; v < 256; v++)
        if (pool[v])
            cls[n++] = (uint32_t)v;
    uint32_t k = (n + 1) / 2;
    memset(picked, 0, 256);
    if (k == 0)
        return 0;
    dx_rng_choose(r, n, k, idx);
    for (uint32_t j = 0; j < k; j++)
        picked[cls[idx[j]]] = 1;
    return (int)k;
}

void dx_class_mask(uint8_t *mask, const uint8_t *label, size_t count,
                   const uint8_t picked[256])
{
    for (size_t i = 0; i < count; i++)
        mask[i] = picked[label[i]];
}

void dx_mix_u8(uint8_t *out, const uint8_t *mask, const uint8_t *a,
               const uint8_t *b, size_t pixels, int ch)
{
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *from = mask[p] ? a : b;
        memcpy(out + p * (size_t)ch, from + p * (size_t)ch, (size_t)ch);
    }
}

void dx_mix_f32(float *out, const uint8_t *mask, const float *a,
                const float *b, size_t pixels)
{
    for (size_t p = 0; p < pixels; p++)
        out[p] = mask[p] ? (a ? a[p] : 1.0f) : b[p];
}

int dx_classmix(dx_mix_batch *b, const dx_mix_opts *o, const dx_rng *r,
                dx_err *err)
{
    if (o->mode < 0 || o->mode >= DX_MIX_END || o->pool < 0 ||
        o->pool >= DX_POOL_END)
        return dx_fail(err, "unknown mix mode %d or pool %d", o->mode,
                       o->pool);
    if (o->mode == DX_MIX_CLASS && (!b->src_image || !b->src_label))
        return dx_fail(err, "mode class needs the source image and label");
    size_t hw = (size_t)b->h * (size_t)b->w;
    int n = b->n;
    /* the labels the classes are drawn from */
    const uint8_t *cls_label =
        o->mode == DX_MIX_CLASS ? b->src_label : b->tgt_plabel;
    uint8_t pool[256];
    if (o->pool == DX_POOL_BATCH)
        dx_classes_present(pool, cls_label, (size_t)n * hw);
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * hw;
        uint8_t picked[256];
        if (o->mode == DX_MIX_NONE) {
            memset(picked, 0, sizeof picked);
        } else {
            if (o->pool == DX_POOL_IMAGE)
                dx_classes_present(pool, cls_label + off, hw);
            uint8_t use[256];
            memcpy(use, pool, sizeof use);
            if (!o->keep_ignore)
                use[DX_IGNORE] = 0;
            dx_rng item = dx_rng_child(r, (uint64_t)i);
            dx_classes_pick(picked, use, &item);
        }
        if (b->picked)
            memcpy(b->picked[i], picked, sizeof picked);
        dx_class_mask(b->mask + off, cls_label + off, hw, picked);
        const uint8_t *m = b->mask + off;
        if (o->mode == DX_MIX_CLASS) {
            dx_mix_u8(b->image + 3 * off, m, b->src_image + 3 * off,
                      b->tgt_image + 3 * off, hw, 3);
            dx_mix_u8(b->label + off, m, b->src_label + off,
                      b->tgt_plabel + off, hw, 1);
            dx_mix_f32(b->weight + off, m, NULL, b->tgt_weight + off, hw);
        } else {
            /* naive pastes item i onto item j = i+1 mod N; none has M = 0
             * and keeps item i as it is */
            int j = o->mode == DX_MIX_NAIVE ? (i + 1) % n : i;
            size_t joff = (size_t)j * hw;
            dx_mix_u8(b->image + 3 * off, m, b->tgt_image + 3 * off,
                      b->tgt_image + 3 * joff, hw, 3);
            dx_mix_u8(b->label + off, m, b->tgt_plabel + off,
                      b->tgt_plabel + joff, hw, 1);
            dx_mix_f32(b->weight + off, m, b->tgt_weight + off,
                       b->tgt_weight + joff, hw);
        }
    }
    return 0;
}
