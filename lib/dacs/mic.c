/* mic.c - MIC's block mask; see mic.h. */
#include "dacs/mic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dx_mic_opts dx_mic_defaults(void)
{
    return (dx_mic_opts){.block = 64, .ratio = 0.7, .fill = {124, 116, 104}};
}

void dx_mic_aug_defaults(dx_aug_opts *o)
{
    dx_aug_defaults(o);
    o->jitter_p = 0.8;
    o->brightness = o->contrast = o->saturation = o->hue = 0.2;
    o->flip = 0;
}

/* PyTorch's nearest source index of output i (upsample_nearest2d). */
static int nearest(int i, int in, int out)
{
    if (in == out)
        return i;
    float scale = (float)in / (float)out;
    int k = (int)floorf((float)i * scale);
    return k < in - 1 ? k : in - 1;
}

int dx_mic_mask_of(uint8_t *mask, const float *u, int gh, int gw, int h,
                   int w, double ratio, dx_err *err)
{
    if (gh < 1 || gw < 1 || gh > h || gw > w)
        return dx_fail(err, "a mask grid of %dx%d cells does not fit an "
                       "image of %dx%d", gw, gh, w, h);
    float r = (float)ratio;
    for (int y = 0; y < h; y++) {
        const float *row = u + (size_t)nearest(y, gh, h) * gw;
        for (int x = 0; x < w; x++)
            mask[(size_t)y * w + x] = row[nearest(x, gw, w)] > r;
    }
    return 0;
}

int dx_mic_mask(uint8_t *mask, int h, int w, int block, double ratio,
                dx_rng *r, dx_err *err)
{
    if (block < 1)
        return dx_fail(err, "mask block %d, expected at least 1", block);
    int gh = (int)nearbyint((double)h / block);
    int gw = (int)nearbyint((double)w / block);
    if (gh < 1 || gw < 1)
        return dx_fail(err, "an image of %dx%d holds no mask block of %d "
                       "pixels (round(side / block) is 0); use a smaller "
                       "block", w, h, block);
    float *u = malloc(sizeof *u * (size_t)gh * gw);
    if (!u)
        return dx_fail(err, "out of memory");
    for (size_t i = 0; i < (size_t)gh * gw; i++)
        u[i] = (float)dx_rng_uniform(r);
    int rc = dx_mic_mask_of(mask, u, gh, gw, h, w, ratio, err);
    free(u);
    return rc;
}

void dx_mic_apply(uint8_t *img, const uint8_t *mask, size_t pixels,
                  const uint8_t fill[3])
{
    for (size_t p = 0; p < pixels; p++)
        if (!mask[p])
            memcpy(img + 3 * p, fill, 3);
}
