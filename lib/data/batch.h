/* batch.h - the batch contract: what the frames of a batch hold, checked
 * in one place, with one wording, for every tool that reads them.
 *
 *   image        u8  (N, H, W, 3), RGB, N, H and W at least 1 and at most
 *                INT_MAX
 *   label        u8 or u16 (N, H, W), train ids 0..C-1 or 255 (ignore)
 *   weight       f32 (N, H, W), finite and >= 0
 *   confidence   f32 (N, H, W), in [0, 1]
 *   probabilities f32 (N, C, H, W), 1 <= C <= DX_MAX_CLASSES
 *   box          i32 (N, 7), a crop box per item (sampler.h): sw, sh, fw
 *                and fh at least 1, flip 0 or 1
 *
 * A frame of a batch has the N, H and W of the frame it is checked
 * against (the batch's image, usually).  The messages are
 *
 *   missing frame 'NAME' in the input stream
 *   frame 'NAME' has dtype D, expected E
 *   frame 'NAME' has shape S, expected NxHxWx3 (RGB images)
 *   frame 'NAME' has shape S, 'OTHER' has T: a batch's frames must agree
 *       in N, H and W
 *   frame 'NAME' has V at image I row Y column X, expected WHAT
 *   frame 'NAME' sums to S over its C classes at image I row Y column X,
 *       expected 1
 *
 * the last naming the first bad element (for probabilities: image, class,
 * row, column; for a single HxW map: row, column).  tns(5) CONVENTIONS
 * lists the same table.
 */
#ifndef DACS_BATCH_H
#define DACS_BATCH_H

#include <stdint.h>

#include "base/err.h"
#include "io/tns.h"

/* The frame called name in s, checked as above; NULL with err set when it
 * is missing or breaks the contract.  like (may be NULL) is the frame
 * whose N, H and W it must have: an image (N, H, W, 3), a per-pixel frame
 * (N, H, W) or probabilities (N, C, H, W). */
const tns_frame *dx_need_image(const tns_stream *s, const char *name,
                               dx_err *err);
const tns_frame *dx_need_label(const tns_stream *s, const char *name,
                               const tns_frame *like, int classes,
                               dx_err *err);
const tns_frame *dx_need_weight(const tns_stream *s, const char *name,
                                const tns_frame *like, dx_err *err);
const tns_frame *dx_need_conf(const tns_stream *s, const char *name,
                              const tns_frame *like, dx_err *err);
const tns_frame *dx_need_prob(const tns_stream *s, const char *name,
                              const tns_frame *like, dx_err *err);
/* The box frame: its N must be like's (any layout above). */
const tns_frame *dx_need_box(const tns_stream *s, const char *name,
                             const tns_frame *like, dx_err *err);

/* The values of a probability frame (N, C, H, W) from dx_need_prob:
 * probabilities each in [0, 1] (1e-3 over, for rounding) and summing to 1
 * over the C classes of each pixel, within 1e-3 (a softmax in f32 is
 * within C * 1e-7); with logits set, any finite value.  Scores that are
 * in [0, 1] but do not sum to 1 (sigmoids, logits squashed some other
 * way) would give wrong confidences, and are refused. */
int dx_check_prob(const tns_frame *f, int logits, dx_err *err);

/* The label checks alone, on a frame of rank 2 (H, W) or 3 (N, H, W):
 * dtype u8 or u16, every value 0..classes-1 or 255. */
int dx_check_labels(const tns_frame *f, int classes, dx_err *err);

/* Do a and b agree in N, H and W (read from either layout above)?  The
 * message names both shapes. */
int dx_same_nhw(const tns_frame *a, const tns_frame *b, dx_err *err);

/* Labels as u8, the type the network and the mixing take: a checked u8
 * frame is borrowed (no copy), a u16 one converted into a frame of its
 * own.  *out is named like f; free it with tns_frame_free. */
int dx_labels_u8(tns_frame *out, const tns_frame *f, dx_err *err);

#endif
