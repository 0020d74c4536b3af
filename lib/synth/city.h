/* synth.h - the built-in two-domain street-scene benchmark.
 *
 * dx_synth_render draws one street scene and its label map (Cityscapes
 * label ids) from a seed, a domain and an index alone, so the same
 * arguments give the same bytes and image k does not depend on how many
 * images are made.  Labels are pixel-exact: both come from one geometry
 * (raster.h); only the image then goes through the camera model (colour,
 * blur, noise).
 *
 * Scenes: a perspective street with road (lane and crossing markings),
 * sidewalks with curbs, building facades with windows and gaps, cross
 * streets, terrain strips, trees, walls, fences, street lamps, sign poles
 * with signs, traffic lights, persons, cars, trucks and buses, and sky;
 * painter's order by depth.
 *
 * The two domains differ the way GTA5 and Cityscapes do:
 *   - globally: the source is saturated, warm and sharp; the target is
 *     desaturated, cooler, blurred, noisier, vignetted, with varying
 *     exposure;
 *   - per class: colours and textures change so that the source look of
 *     one class is the target look of another (source sidewalk ~ target
 *     road and road darker than sidewalk only in the source; source
 *     vegetation ~ target terrain; source trucks ~ target buses; vivid
 *     source cars and clothes, grey target ones; blue source sky, overcast
 *     target sky);
 *   - in layout: camera height, pitch and focal length, road width,
 *     building heights and gaps, object sizes and densities (the target
 *     has more persons, parked cars and trees, fewer trucks and buses, and
 *     an ego-vehicle hood, label id 1, at the bottom).
 * class_shift scales the per-class change.  The gap level DX_GAP_GLOBAL keeps only the global change, DX_GAP_NONE
 * makes both domains the same.
 */
#ifndef DACS_SYNTH_H
#define DACS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum dx_synth_domain { DX_SYNTH_SOURCE, DX_SYNTH_TARGET };
enum dx_synth_gap { DX_GAP_FULL, DX_GAP_GLOBAL, DX_GAP_NONE };

/* The Cityscapes label ids a scene may hold, and how many. */
extern const uint8_t dx_synth_ids[];
extern const int dx_synth_nids;

typedef struct dx_synth {
    int width, height; /* >= 16 each */
    uint64_t seed;
    int gap;
    /* DX_GAP_FULL: how far the target's class colours and textures move
     * from the source's toward their own, in [0, 1]; 1 is the full
     * class-conditional shift. */
    float class_shift;
} dx_synth;

/* The benchmark as the demo uses it: 512x256, seed 0, the full gap at
 * class shift 0.4. */
void dx_synth_defaults(dx_synth *s);

/* Draw scene `index` of `domain`; stream names an independent sequence
 * (e.g. "train", "val").  rgb: height x width x 3; ids: height x width. */
int dx_synth_render(const dx_synth *s, int domain, const char *stream,
                    uint64_t index, uint8_t *rgb, uint8_t *ids, dx_err *err);

/* The SYNTHIA class id of a Cityscapes label id (0, void, if none). */
int dx_synth_synthia_id(int cityscapes_id);

/* Colour a map of Cityscapes label ids with the train-id palette
 * (classes.h); ids without a train id are black. */
void dx_synth_colorize(const uint8_t *ids, size_t n, uint8_t *rgb);

#endif
