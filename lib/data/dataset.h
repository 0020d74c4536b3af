/* dataset.h - the files of a dataset as downloaded: image and label paths.
 *
 * A dataset is enumerated once into two parallel lists of paths, sorted by
 * path (byte order), so that item i is the same file on every machine.
 * Layouts:
 *
 *   cityscapes  ROOT/leftImg8bit/SPLIT/CITY/NAME_leftImg8bit.png
 *               ROOT/gtFine/SPLIT/CITY/NAME_gtFine_labelIds.png
 *   gta5        ROOT/images/NAME.png, ROOT/labels/NAME.png
 *               (8-bit palette PNGs whose indices are Cityscapes ids)
 *   synthia     ROOT/RGB/NAME.png, ROOT/GT/LABELS/NAME.png
 *               (RAND_CITYSCAPES; 16-bit, class id in the first channel)
 *   list        a text file of lines 'IMAGE LABEL' (or 'IMAGE' alone when
 *               labels are not wanted); '#' starts a comment; relative
 *               paths are taken from ROOT, or from the list file's folder
 *               when no ROOT is given.  Paths cannot hold blanks.
 *
 * Opening checks that every file exists, so a missing label is reported
 * before any image is decoded.  What the files must hold, and how they are
 * read, is item.h.
 *
 * Known-bad items can be excluded by an exclude file: one item per line,
 * named by its image or its label, as a path relative to the root (for a
 * list: as the list writes it) or as the full path; '#' starts a comment.
 * An excluded item keeps its place in the list, so item i is the same file
 * with or without exclusions and the other items are drawn as before
 * (sampler.h says what replaces an excluded one); its files need not exist
 * and are never read.  A line that names no item is an error.
 */
#ifndef DACS_DATASET_H
#define DACS_DATASET_H

#include "base/err.h"

enum dx_dataset_kind {
    DX_DS_CITYSCAPES,
    DX_DS_GTA5,
    DX_DS_SYNTHIA,
    DX_DS_LIST,
    DX_DS_KINDS
};

/* "cityscapes", "gta5", "synthia", "list"; NULL past the end. */
const char *dx_dataset_kind_name(int kind);

typedef struct dx_dataset_spec {
    int kind;
    const char *root;  /* dataset root; for list: base of relative paths */
    const char *split; /* cityscapes only: "train", "val", ... */
    const char *list;  /* list only: the list file */
    int labels;        /* enumerate labels too */
    int label_colors;  /* labels may be RGB in the Cityscapes colours
                          (item.h) */
    const char *exclude; /* an exclude file, or NULL */
    int keep_missing;  /* an item whose file is missing is kept, for a
                          check of every item that reports them all
                          (dx_item_check); otherwise opening fails */
} dx_dataset_spec;

typedef struct dx_dataset {
    int kind;
    int label_colors; /* from the spec */
    int n;
    char **image; /* n full paths */
    char **label; /* n full paths, or NULL when labels were not wanted */
    char **key;   /* n names of the items, relative to the root (the label
                     path when there are labels, else the image path) */
    unsigned char *excluded; /* n flags, or NULL when nothing is excluded */
    int nexcluded;
} dx_dataset;

/* Is item i excluded? */
int dx_dataset_excluded(const dx_dataset *d, int i);

int dx_dataset_open(dx_dataset *d, const dx_dataset_spec *spec, dx_err *err);
/* Keep k items evenly spaced over the sorted list: items floor(i*n/k),
 * i = 0..k-1.  k >= n keeps everything.  Exclusions stay with their
 * items. */
void dx_dataset_limit(dx_dataset *d, int k);
void dx_dataset_free(dx_dataset *d);

#endif
