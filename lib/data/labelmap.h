/* labelmap.h - label id -> train id tables.
 *
 * A dataset stores label maps in its own ids (Cityscapes label ids 0..33,
 * SYNTHIA class ids, ...).  Training uses train ids 0..C-1 with 255 meaning
 * "ignore".  A dx_labelmap is a full lookup table over every 16-bit id;
 * an id the table does not name maps to 255.
 *
 * The three standard tables (Cityscapes, GTA5, SYNTHIA) are built in, and
 * the same tables ship as text under pipelines/maps/.  The text form is one
 * mapping per line:
 *
 *     # comment
 *     7   0     # road
 *     8   1
 *
 * i.e. an id in [0, 65535], white space, a train id in [0, 255], and an
 * optional comment.  Blank lines and lines starting with '#' are skipped.
 * Parsing is strict: anything else (signs, garbage, numbers out of range,
 * an id given twice, NUL bytes, a table with no mappings) is an error
 * naming the line.  It never reads outside the given buffer.
 */
#ifndef DACS_LABELMAP_H
#define DACS_LABELMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define DX_LABEL_IDS 65536
/* The largest table file accepted, in bytes. */
#define DX_LABELMAP_MAX_BYTES (1 << 20)

typedef struct dx_labelmap {
    uint8_t lut[DX_LABEL_IDS]; /* id -> train id; 255 = ignore */
    int classes;               /* 1 + the largest train id below 255 */
    /* The largest id of the dataset the table is for: a stored id above
     * it is no id of that dataset (a file of another dataset, or of train
     * ids) and an error, not ignore; 255, the void of 8-bit label files,
     * always maps to ignore.  Cityscapes and GTA5: 33, SYNTHIA: 22; a
     * table from text: DX_LABEL_IDS - 1 (every id not named is ignore). */
    int max_id;
    char name[16]; /* "Cityscapes", "GTA5", "SYNTHIA" or "" (text) */
} dx_labelmap;

/* The built-in tables: "cityscapes", "gta5" (the same ids), "synthia". */
int dx_labelmap_builtin(dx_labelmap *m, const char *name, dx_err *err);

/* Parse a table from text[0..len).  src names it in messages ("file.map").
 * On failure *m is left all-ignore. */
int dx_labelmap_parse(dx_labelmap *m, const char *text, size_t len,
                      const char *src, dx_err *err);
/* Read and parse a table file (at most DX_LABELMAP_MAX_BYTES). */
int dx_labelmap_load(dx_labelmap *m, const char *path, dx_err *err);

/* Index of the first of n ids (8 or 16 bits, depth) above m->max_id and
 * not 255, or -1 when every id is the dataset's. */
long dx_labelmap_stray(const dx_labelmap *m, const void *ids, int depth,
                       size_t n);

/* out[i] = lut[ids[i]] for n ids of 8 or 16 bits (depth). */
void dx_labelmap_apply(const dx_labelmap *m, const void *ids, int depth,
                       size_t n, uint8_t *out);

/* The way back, train id -> label id, for predictions a dataset's own
 * tools read (the Cityscapes test server wants label ids):
 * ids[t] for every train id t < m->classes is the smallest id the table
 * maps to t; ids[255] is the smallest id it maps to ignore (Cityscapes: 0,
 * "unlabeled"); other entries are 0.  Fails naming a train id below
 * m->classes that no id maps to. */
int dx_labelmap_invert(const dx_labelmap *m, uint16_t ids[256],
                       dx_err *err);

/* A 64-bit fingerprint of the table, to tie saved statistics to it. */
uint64_t dx_labelmap_hash(const dx_labelmap *m);

#endif
