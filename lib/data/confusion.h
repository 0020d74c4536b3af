/* confusion.h - the confusion matrix of a segmentation and its scores,
 * by the rules of the Cityscapes evaluation scripts.
 *
 * Rows are ground-truth classes 0..C-1, columns predicted classes 0..C-1
 * and one more column for a prediction of 255 (void).  A pixel whose
 * ground truth is 255 is not counted (only tallied in `ignored`).  A void
 * prediction on a labelled pixel is a miss (a false negative of its class)
 * and a false positive of no class.  For class c:
 *   TP = m[c][c], FN = sum of row c - TP, FP = sum of column c - TP
 *   IoU_c = TP / (TP + FP + FN), NaN when TP + FP + FN = 0
 *   acc_c = TP / (TP + FN), NaN when the class has no ground truth
 * A mean over classes leaves out the NaNs (a class that is neither in the
 * ground truth nor predicted); a class predicted but absent from the ground
 * truth has IoU 0 and counts.  Counts are 64-bit: no overflow before 2^64
 * pixels.
 */
#ifndef DACS_CONFUSION_H
#define DACS_CONFUSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "io/tns.h"

typedef struct dx_confusion {
    int classes;      /* C, 1..255 */
    uint64_t *m;      /* C x (C+1), row-major */
    uint64_t ignored; /* pixels with ground truth 255 */
} dx_confusion;

int dx_confusion_init(dx_confusion *cm, int classes, dx_err *err);
void dx_confusion_free(dx_confusion *cm);

/* m[gt][pred]; pred == C is the void column. */
static inline uint64_t *dx_confusion_at(const dx_confusion *cm, int gt,
                                        int pred)
{
    return cm->m + (size_t)gt * (size_t)(cm->classes + 1) + (size_t)pred;
}

/* Add a prediction and its ground truth: label frames (batch.h) of one N,
 * H and W (rank 2 or 3), u8 or u16 each.  Every prediction and every
 * ground-truth value must be < C or 255; the error names the frame, the
 * element and the value.  Nothing is added unless the whole pair is
 * valid. */
int dx_confusion_add(dx_confusion *cm, const tns_frame *pred,
                     const tns_frame *gt, dx_err *err);

/* Per class: iou[c], acc[c] (NaN when undefined, see above), and the
 * counts tp, fp, fn (any of the arrays may be NULL). */
void dx_confusion_scores(const dx_confusion *cm, double *iou, double *acc,
                         uint64_t *tp, uint64_t *fp, uint64_t *fn);
/* Mean of the non-NaN values v[ids[k]], k < n (ids NULL: v[0..n)); NaN if
 * all are NaN.  *used gets how many were averaged (may be NULL). */
double dx_mean_defined(const double *v, const int *ids, int n, int *used);
/* Correct pixels / counted pixels (NaN if none were counted). */
double dx_confusion_pixel_acc(const dx_confusion *cm);

/* The file format (text, one matrix):
 *   # dacs confusion matrix: rows ground truth 0..C-1, columns prediction
 *   # 0..C-1 then 255 (void); pixels with ground truth 255 not counted
 *   classes C
 *   ignored K
 *   C lines of C+1 unsigned decimal integers, separated by one space
 * Lines starting with '#' are comments.  Written atomically. */
int dx_confusion_save(const dx_confusion *cm, const char *path, dx_err *err);
/* Read a file in that format into a new matrix. */
int dx_confusion_load(dx_confusion *cm, const char *path, dx_err *err);
/* cm += other (same C). */
int dx_confusion_merge(dx_confusion *cm, const dx_confusion *other,
                       dx_err *err);

#endif
