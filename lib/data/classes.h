/* classes.h - the Cityscapes train-id classes: names and colours.
 *
 * Train ids 0..18 are the 19 evaluated classes (road .. bicycle); 255 is
 * "ignore".  Label maps in dacs hold train ids.
 */
#ifndef DACS_CLASSES_H
#define DACS_CLASSES_H

#include <stdint.h>

#define DX_NUM_CLASSES 19
/* The label of a pixel that is neither learned from nor scored.  This is
 * the one definition: every wing above data takes it from here. */
#define DX_IGNORE 255
/* The most classes a label map can hold: u8 labels with 255 reserved. */
#define DX_MAX_CLASSES 255

/* The Cityscapes label id (0..33) whose colour is rgb, in the colour table
 * of the Cityscapes scripts (labels.py), which GTA5's label palettes also
 * use; -1 for any other colour.  Where ids share a colour the first is
 * taken: black is 0 (unlabeled), (153,153,153) 17 (pole, not polegroup);
 * either way the train id is the same. */
int dx_cityscapes_color_id(const uint8_t rgb[3]);

/* "road", ...; NULL for ids outside 0..18. */
const char *dx_class_name(int id);
/* RGB colour for a label value: the Cityscapes palette for 0..18, black for
 * 255, and fixed distinct colours for any other value. */
void dx_class_color(int id, uint8_t rgb[3]);

#endif
