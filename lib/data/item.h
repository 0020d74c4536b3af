/* item.h - reading one item of a dataset, its image and its label, in the
 * encodings its dataset kind specifies; any other encoding is refused with
 * an error naming the file and what it is, never read as something else.
 *
 *   images, every kind   8-bit RGB, or 8-bit RGBA whose every pixel is
 *                        opaque (the alpha then carries nothing)
 *   labels, cityscapes   palette or grey PNG: the indices or grey values
 *           and gta5     are label ids (Cityscapes' gtFine labelIds are
 *                        8-bit grey, GTA5's labels 8-bit palette)
 *           synthia      16-bit RGB or RGBA, the class id in the first
 *                        channel (SYNTHIA RAND-CITYSCAPES GT/LABELS)
 *           list         any of these
 *
 * A truecolour 8-bit label is what an image editor or OpenCV leaves after
 * re-saving a palette label in its colours; read as ids it would give the
 * red channel.  With the dataset's label_colors set, such a label (RGB, or
 * RGBA opaque) of a cityscapes, gta5 or list dataset is instead mapped back
 * to label ids by its Cityscapes colours (dx_cityscapes_color_id), exactly:
 * a colour outside that table is an error naming the pixel.
 *
 * A label id above the label map's max_id (labelmap.h) is an error naming
 * the file, the pixel and the id: a file of another dataset, or one that
 * holds train ids, would otherwise turn into silent ignore.
 */
#ifndef DACS_ITEM_H
#define DACS_ITEM_H

#include <stdint.h>

#include "base/err.h"
#include "data/dataset.h"
#include "data/labelmap.h"
#include "io/pngio.h"

/* Is a file of this colour type and bit depth (as stored) an image
 * (label 0) or a label (label 1) of d?  path names it in the message. */
int dx_item_encoding_ok(const dx_dataset *d, int label, const char *path,
                        int color_type, int bit_depth, dx_err *err);

/* Item i's image as 8-bit RGB (out->channels 3, out->depth 8). */
int dx_item_image(const dx_dataset *d, int i, dx_png *out, dx_err *err);

/* Item i's label as train ids through map: *train gets w*h bytes
 * (malloc'd; free it), *w and *h its size. */
int dx_item_label(const dx_dataset *d, int i, const dx_labelmap *map,
                  uint8_t **train, int *w, int *h, dx_err *err);

/* Check item i before a run: its files from their PNG headers (encodings
 * as above, the label of its image's size); its image decoded whole (a
 * truncated or corrupt PNG fails here); then, with map given, its label
 * decoded: every id the map's (max_id) and every train id below classes
 * or DX_IGNORE.  An excluded item (dataset.h) passes unread.  -1
 * with err naming the file and, for a pixel, where it is. */
int dx_item_check(const dx_dataset *d, int i, const dx_labelmap *map,
                  int classes, dx_err *err);

/* Every item's files from their PNG headers alone (no decoding): each a
 * PNG of an encoding above, a label of its image's size.  Lets a tool
 * check a whole split in a fraction of the time of reading it, before its
 * first batch. */
int dx_dataset_check(const dx_dataset *d, dx_err *err);

#endif
