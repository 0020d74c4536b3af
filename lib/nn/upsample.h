/* upsample.h - bilinear resizing with align_corners=True, as PyTorch's
 * F.interpolate(mode='bilinear', align_corners=True) (DeepLab's interp).
 *
 * Output pixel (Y, X) of an (H, W) plane samples the (h, w) input at
 * (Y*(h-1)/(H-1), X*(w-1)/(W-1)): the corner pixels of input and output
 * coincide.  A side of 1 samples index 0.
 */
#ifndef DACS_UPSAMPLE_H
#define DACS_UPSAMPLE_H

#include "base/err.h"

/* Per output row and column: the two source indices and the weight of the
 * second; built once per shape, then read-only (threads may share it). */
typedef struct dx_interp {
    int h, w, H, W;
    int *i0;     /* H row indices then W column indices */
    int *i1;
    float *l1;   /* weight of i1; the weight of i0 is 1 - l1 */
} dx_interp;

int dx_interp_init(dx_interp *t, int h, int w, int H, int W, dx_err *err);
void dx_interp_free(dx_interp *t);

/* One plane: y (H, W) from x (h, w).  tmp: h*W floats of scratch (the
 * resize is separable: along rows, then along columns). */
void dx_upsample_forward(float *y, const float *x, const dx_interp *t,
                         float *tmp);
/* One plane: dx (h, w) += the adjoint applied to dy (H, W).  tmp: h*W
 * floats of scratch. */
void dx_upsample_backward(float *dx, const float *dy, const dx_interp *t,
                          float *tmp);

#endif
