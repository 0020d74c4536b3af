/* model.h - the dacs segmentation network (deeplab-mini), its parameters,
 * its checkpoint frames, and its forward and backward passes.
 *
 * The network, for width w and C classes (defined in full in seg-init(1), ARCHITECTURE):
 *
 *   input   u8 RGB (N,H,W,3) -> (x/255 - mean)/std, channel-major
 *   stem.0  conv3x3 s2  3->w   BN ReLU            H/2
 *   stem.1  conv3x3     w->w   BN ReLU
 *   s2.down conv3x3 s2  w->2w  BN ReLU            H/4
 *   s2.res0 residual block (2w, dilation 1)
 *   s3.down conv3x3 s2  2w->4w BN ReLU            H/8
 *   s3.res0 residual block (4w, dilation 2)
 *   s3.res1 residual block (4w, dilation 4)
 *   head.k  conv3x3 4w->C with bias, dilation 1,2,4,6 (k = 0..3), summed
 *   output  bilinear, align_corners=True, to (H, W)
 *
 * A residual block (c, d) is conv3x3(dil d) BN ReLU conv3x3(dil d) BN, plus
 * the block input, then ReLU; padding equals dilation everywhere.  Only the
 * head convolutions have a bias.
 *
 * Parameters live in one allocation: the trainable values, their
 * gradients and their momentum buffers as three flat arrays in checkpoint
 * order (the head last), then the batch-norm running statistics.  The
 * optimizer and the EMA are single loops over these arrays.
 */
#ifndef DACS_MODEL_H
#define DACS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/arch.h"
#include "nn/conv.h"
#include "base/err.h"
#include "io/tns.h"
#include "nn/upsample.h"

/* How batch-norm normalises. */
enum dx_bnmode {
    DX_BN_TRAIN,   /* batch statistics, running estimates updated, and the
                      activations kept for backward */
    DX_BN_BATCH,   /* batch statistics; the model is not changed */
    DX_BN_RUNNING, /* the stored running statistics (eval mode) */
    DX_BN_END
};

#define DX_UNITS 10 /* conv + BN units of the body */
#define DX_HEADS 4  /* parallel classifier convolutions */
#define DX_MAX_TENSORS (DX_UNITS * 5 + DX_HEADS * 2)

/* One named tensor of the checkpoint. */
typedef struct dx_tensor {
    char name[40];
    int rank;
    int64_t dims[4];
    size_t count;
    int trainable; /* a parameter; else a running statistic */
    int head;      /* part of the classifier (learning-rate multiplier) */
    size_t off;    /* offset in its group (param/grad/mom or stat) */
    float *data;
    float *grad;   /* NULL for running statistics */
    float *mom;    /* NULL for running statistics */
} dx_tensor;

/* A convolution followed by batch-norm (and ReLU). */
typedef struct dx_unit {
    dx_conv conv;
    float *w, *gw;                 /* (Cout, Cin, 3, 3) */
    float *gamma, *beta, *gg, *gb; /* (Cout) */
    float *rmean, *rvar;           /* (Cout) */
    float *mean, *var, *invstd;    /* statistics of the current pass */
    int res;  /* 1: first conv of a residual block, 2: second (adds the
                 block input before its ReLU), 0: plain */
} dx_unit;

typedef struct dx_model {
    dx_arch arch;
    long iter; /* completed SGD steps (meta.iter) */

    int nt;
    dx_tensor t[DX_MAX_TENSORS];
    float *mem;                 /* the one parameter allocation */
    float *param, *grad, *mom;  /* nparam each, checkpoint order */
    size_t nparam, head_off;    /* [head_off, nparam) is the classifier */
    float *stat;                /* running statistics, nstat */
    size_t nstat;
    float *bnstat;              /* per-pass mean/var/invstd of all units */

    dx_unit u[DX_UNITS];
    dx_conv hc[DX_HEADS];
    float *hw[DX_HEADS], *hb[DX_HEADS], *hgw[DX_HEADS], *hgb[DX_HEADS];
    float lut[3][256]; /* input normalisation of each u8 value */

    /* Buffers for one shape and mode (dx_model_plan). */
    int n, H, W, train;
    int hs[DX_UNITS + 1], ws[DX_UNITS + 1]; /* sides: [0] input, [u+1] out */
    float *act;          /* the one activation allocation */
    float *x0;           /* (3, n, H, W) normalised input */
    float *xhat[DX_UNITS], *y[DX_UNITS]; /* train: per unit */
    float *buf[3];       /* inference: rotating buffers; train: gradients */
    float *logits;       /* (C, n, h3, w3) */
    float *up;           /* train: (C, n, H, W) */
    float *dlogits;      /* train: (C, n, h3, w3) */
    float *scratch;      /* conv workspace */
    float *upscratch;    /* upsampling workspace, h3 x W per thread */
    dx_interp interp;
} dx_model;

/* Build an untrained model of architecture a: He-uniform weights drawn
 * from seed, BN weight 1, bias 0, running mean 0, var 1, head bias 0,
 * momentum 0, iter 0. */
int dx_model_init(dx_model *m, const dx_arch *a, uint64_t seed, dx_err *err);
void dx_model_free(dx_model *m);

/* Load a checkpoint from the frames of s.  Every parameter must be there
 * with its exact shape, f32 and finite; frames it does not know are an
 * error.  opt.* frames are all present or all absent (absent: zero
 * momentum, as a fresh PyTorch optimizer). */
int dx_model_load(dx_model *m, const tns_stream *s, dx_err *err);
/* Write meta.arch, meta.iter, the parameters and (with_opt) opt.*, in
 * checkpoint order, without ending the segment. */
int dx_model_write(const dx_model *m, tns_writer *w, int with_opt,
                   dx_err *err);

/* dx_model_load from a file (NULL or "-": stdin); messages name it. */
int dx_model_read(dx_model *m, const char *path, dx_err *err);
/* A whole checkpoint (one segment) to path, atomically (NULL or "-":
 * stdout).  On failure an old file under path is left untouched. */
int dx_model_save(const dx_model *m, const char *path, int with_opt,
                  dx_err *err);

/* Prepare buffers for batches of n images of H x W, for training
 * (forward with activations kept, then backward) or inference. */
int dx_model_plan(dx_model *m, int n, int H, int W, int train, dx_err *err);

/* Forward pass of img (n, H, W, 3) u8 as planned; leaves the logits
 * (C, n, h3, w3) in m->logits.  mode DX_BN_TRAIN needs a training plan. */
void dx_model_forward(dx_model *m, const uint8_t *img, int mode);

/* Backward pass after a DX_BN_TRAIN forward: given dup (C, n, H, W), the
 * gradient of the loss with respect to the upsampled logits, add the
 * parameter gradients into m->grad.  dup may be m->up. */
void dx_model_backward(dx_model *m, const float *dup);

/* The upsampled logits (C, n, H, W) of the last forward into up. */
void dx_model_upsample(dx_model *m, float *up);

/* Softmax probabilities (n, C, H, W) of img (n, H, W, 3) into prob, with
 * batch-norm by mode (DX_BN_BATCH or DX_BN_RUNNING).  Plans as needed. */
int dx_model_predict(dx_model *m, float *prob, const uint8_t *img, int n,
                     int H, int W, int mode, dx_err *err);

void dx_model_zero_grad(dx_model *m);

/* Multiply-adds x 2 of the forward convolutions for n images of H x W. */
double dx_model_flops(const dx_arch *a, int n, int H, int W);
/* Bytes that dx_model_plan allocates for this shape. */
size_t dx_model_plan_bytes(const dx_arch *a, int n, int H, int W, int train);

#endif
