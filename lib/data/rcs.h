/* rcs.h - rare-class sampling (DAFormer): per-image class statistics and
 * the class-then-image draw.
 *
 * Statistics are counted once over a dataset's labels (mapped to train
 * ids, at their stored resolution) and saved as a tns stream of one
 * segment:
 *   rcs.meta    u8 text: "dataset=KIND\nitems=N\nclasses=C\nmap=HEX\n"
 *   rcs.counts  i32 N x C: pixels of each train id in each label
 *   rcs.keys    u8 text: the N item names (dataset keys), one per line
 * Loading checks that the file matches the dataset and label map at hand.
 *
 * Sampling: with f_c the share of class c among all labelled pixels,
 *   P(c) = softmax_c((1 - f_c) / T),
 * over the classes that occur in at least one image with more than
 * min_pixels pixels of them; then an image uniformly among those images
 * (lhoyer/DAFormer: samples_with_class keeps a file when pixels >
 * min_pixels, counted at the label's stored size).  The crop of the drawn
 * image is then checked for the class: sampler.h.
 */
#ifndef DACS_RCS_H
#define DACS_RCS_H

#include <stdint.h>

#include "data/dataset.h"
#include "base/err.h"
#include "data/labelmap.h"
#include "base/rng.h"

typedef struct dx_rcs_stats {
    int n, classes;
    int32_t *counts; /* n x classes */
    char **keys;     /* n */
    char kind[32];
    uint64_t map_hash;
} dx_rcs_stats;

/* Called after each label counted, e.g. to print progress. */
typedef void (*dx_progress_fn)(int done, int total, void *arg);

/* Count the classes of every label of d (which must have labels). */
int dx_rcs_count(dx_rcs_stats *s, const dx_dataset *d,
                 const dx_labelmap *map, dx_progress_fn progress, void *arg,
                 dx_err *err);
int dx_rcs_save(const dx_rcs_stats *s, const char *path, dx_err *err);
int dx_rcs_load(dx_rcs_stats *s, const char *path, dx_err *err);
/* Do the statistics belong to this dataset (same keys, in order) and
 * label map? */
int dx_rcs_match(const dx_rcs_stats *s, const dx_dataset *d,
                 const dx_labelmap *map, dx_err *err);
void dx_rcs_stats_free(dx_rcs_stats *s);

typedef struct dx_rcs {
    int classes;
    double *freq;   /* classes: f_c */
    double *prob;   /* classes: P(c); 0 for classes left out */
    int **members;  /* classes: the images with >= min_pixels of c */
    int *nmembers;  /* classes */
    int used;       /* classes with prob > 0 */
    long min_pixels; /* as given to dx_rcs_init */
} dx_rcs;

/* DAFormer's settings: temperature T 0.01, min_pixels 3000, min_crop_ratio
 * 0.5 (Hoyer et al., CVPR 2022; lhoyer/DAFormer, rare_class_sampling). */
typedef struct dx_rcs_opts {
    double temperature;
    long min_pixels;
    double min_crop_ratio; /* a crop needs more than min_pixels * this
                              pixels of the class (sampler.h); 0: off */
} dx_rcs_opts;
dx_rcs_opts dx_rcs_defaults(void);

/* Fails when no class has an image with more than min_pixels of it. */
int dx_rcs_init(dx_rcs *r, const dx_rcs_stats *s, double temperature,
                long min_pixels, dx_err *err);
/* Draw a class, then an image holding it; returns the image index and
 * stores the class in *cls (if not NULL). */
int dx_rcs_draw(const dx_rcs *r, dx_rng *rng, int *cls);
void dx_rcs_free(dx_rcs *r);

#endif
