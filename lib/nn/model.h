/* model.h - a segmentation network with its values: the tensor table, the
 * parameter allocation, and the one executor that runs any network
 * description (net.h) forward and backward.
 *
 * The networks (seg-init(1) defines each layer by layer): deeplab-mini
 * (deeplab_mini.c) and DeepLabv2 on a dilated ResNet (deeplabv2.c).  The
 * architecture record (arch.h) selects one; checkpoints (ckpt.c) hold the
 * record and the tensors.
 *
 * Memory, one allocation per group:
 *   values    the trainable parameters (nparam floats, checkpoint order),
 *             then the fixed ones (running statistics, frozen batch-norm
 *             affine; nfixed floats)
 *   grad      nparam floats, the gradients of the trainable ones
 *   state[k]  nparam floats each, optimiser state slot k (SGD: slot 0)
 * so the optimiser, the EMA and a gradient all-reduce are flat loops.
 *
 * Activations are channel-major: a value of C channels for n images of
 * h x w is (C, n, h, w), one contiguous plane of n*h*w per channel.
 */
#ifndef DACS_MODEL_H
#define DACS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/coll.h"
#include "base/err.h"
#include "io/tns.h"
#include "nn/arch.h"
#include "nn/net.h"
#include "nn/upsample.h"

/* How batch-norm normalises. */
enum dx_bnmode {
    DX_BN_TRAIN,   /* batch statistics, running estimates updated, and the
                      activations kept for backward */
    DX_BN_BATCH,   /* batch statistics; the model is not changed */
    DX_BN_RUNNING, /* the stored running statistics (eval mode) */
    DX_BN_END
};

/* The optimiser whose state a model holds (optim.h). */
enum dx_optim_kind {
    DX_OPTIM_SGD,   /* slot 0: momentum buffers */
    DX_OPTIM_ADAMW, /* slot 0: exp_avg, slot 1: exp_avg_sq, and a step
                       count */
    DX_OPTIM_END
};
#define DX_OPTIM_NONE (-1) /* no state: a fresh optimiser */

typedef struct dx_model {
    dx_arch arch;
    long iter; /* completed optimiser steps (meta.iter) */
    int optim;        /* DX_OPTIM_* of the state held, or DX_OPTIM_NONE */
    long optim_step;  /* AdamW's step count (opt.step), for its bias
                         correction; 0 otherwise */

    /* the tensor table, checkpoint order (net.t) */
    int nt;
    dx_tensor *t;
    dx_net net; /* the layer list */

    float *param;               /* nparam trainable values, then the fixed */
    float *fixed;               /* nfixed values (inside param's block) */
    size_t nparam, nfixed;
    float *grad;                /* nparam, or NULL before training */
    float *state[DX_OPT_SLOTS]; /* nparam each, or NULL */

    float *bn_stats;  /* per pass: mean, var, invstd of every BN layer */
    double *bn_sums;  /* two per channel of the widest BN, and a count:
                         batch sums */
    /* Data parallelism (base/coll.h): NULL in one process; else every
     * batch-norm layer's batch sums, forward (sum x, then sum (x-mean)^2)
     * and backward (sum dy, sum dy*xhat), and their counts are summed
     * over the ranks before use (synchronised batch-norm), so that the
     * statistics are those of the global batch.  A failed sum is kept in
     * coll_err (the passes cannot fail midway) and reported by
     * dx_model_coll_check. */
    dx_coll *coll;
    int coll_failed;
    dx_err coll_err;
    /* input normalisation: conv1's channel k reads RGB channel
     * input_channel[k], as input_lut[k][u8 value] */
    int input_channel[3];
    float input_lut[3][256];

    /* Buffers for one shape and mode (dx_model_plan). */
    int n, H, W, train;
    int *side_h, *side_w;   /* sides of every value */
    float **value;          /* the buffer of every value */
    float **grad_of;        /* during backward: each value's gradient */
    int *grad_slot;         /* the gradient buffer each value uses */
    float **grad_buf;       /* train: the gradient buffers */
    int32_t **argmax;       /* train: per max-pool layer */
    float *act;             /* the one activation allocation */
    float *logits;          /* (C, n, h, w): the last value */
    float *up;              /* train: (C, n, H, W) */
    float *dlogits;         /* train: (C, n, h, w) */
    float *conv_scratch;    /* conv workspace (dx_conv_ws_floats) */
    float *up_scratch;      /* upsampling, h x W per thread */
    dx_interp interp;
} dx_model;

/* The model of architecture a with every value 0, no gradients and no
 * optimiser state.  Fails if a is out of range. */
int dx_model_create(dx_model *m, const dx_arch *a, dx_err *err);
/* Build an untrained model of architecture a, drawn from seed (seg-init(1)
 * says how for each network), with zero SGD momentum (state slot 0, which
 * counts as no state: optim.h) and iter 0. */
int dx_model_init(dx_model *m, const dx_arch *a, uint64_t seed, dx_err *err);
void dx_model_free(dx_model *m);
/* Allocate the gradients (zero), or optimiser state slot k (zero), if not
 * yet there. */
int dx_model_alloc_grad(dx_model *m, dx_err *err);
int dx_model_alloc_state(dx_model *m, int k, dx_err *err);
/* The index of the tensor called name, or -1. */
int dx_model_find(const dx_model *m, const char *name);

/* ---- checkpoints (ckpt.c) ----
 * A checkpoint is one tns segment: meta.arch, meta.iter, every tensor of
 * the table in order, then the optimiser state, if any:
 *   SGD     opt.NAME (state slot 0, the momentum buffer) of every
 *           trainable tensor
 *   AdamW   opt.optimizer (u8 text "adamw"), opt.step (i32 scalar, the
 *           step count of the bias correction), opt.NAME (slot 0,
 *           exp_avg) of every trainable tensor, then
 *           opt.exp_avg_sq.NAME (slot 1) of every trainable tensor
 * All optimiser frames are named opt.*, so that ema-merge(1) and
 * seg-export(1) leave them out as one group. */

/* Load a checkpoint from the frames of s.  Every tensor must be there
 * with its exact shape, f32 and finite (checked before anything is
 * allocated for it), running variances >= 0; frames it does not know are
 * an error.  The state frames of the optimiser (opt.optimizer absent or
 * "sgd": SGD) are all present or all absent (absent: no state, as a fresh
 * PyTorch optimizer); AdamW's exp_avg_sq must be >= 0. */
int dx_model_load(dx_model *m, const tns_stream *s, dx_err *err);
/* Write meta.arch, meta.iter, the tensors and (with_opt) the optimiser
 * state, in checkpoint order, without ending the segment.  with_opt
 * needs the state (m->optim not DX_OPTIM_NONE). */
int dx_model_write(const dx_model *m, tns_writer *w, int with_opt,
                   dx_err *err);
/* dx_model_load from a file (NULL or "-": stdin); messages name it. */
int dx_model_read(dx_model *m, const char *path, dx_err *err);
/* A whole checkpoint (one segment) to path, atomically (NULL or "-":
 * stdout).  On failure an old file under path is left untouched. */
int dx_model_save(const dx_model *m, const char *path, int with_opt,
                  dx_err *err);

/* ---- running it ---- */

/* Prepare buffers for batches of n images of H x W, for training
 * (forward with activations kept, then backward) or inference.  Fails,
 * saying the smallest side it takes, if the input is too small for the
 * network. */
int dx_model_plan(dx_model *m, int n, int H, int W, int train, dx_err *err);
/* The logits' sides for an input of H x W (after a plan: those of the
 * plan). */
void dx_model_logit_size(const dx_model *m, int *h, int *w);
/* Values per channel of the batch-norm layer that sees the fewest, in the
 * current plan (n times its sides): batch statistics need 2 or more. */
size_t dx_model_min_bn_values(const dx_model *m);

/* Forward pass of img (n, H, W, 3) u8 RGB as planned; leaves the logits
 * (C, n, h, w) in m->logits.  mode DX_BN_TRAIN needs a training plan. */
void dx_model_forward(dx_model *m, const uint8_t *img, int mode);

/* Backward pass after a DX_BN_TRAIN forward: given dup (C, n, H, W), the
 * gradient of the loss with respect to the upsampled logits, add the
 * parameter gradients into m->grad.  dup may be m->up. */
void dx_model_backward(dx_model *m, const float *dup);

/* The upsampled logits (C, n, H, W) of the last forward into up. */
void dx_model_upsample(dx_model *m, float *up);

/* Softmax probabilities (n, C, H, W) of img (n, H, W, 3) into prob, with
 * batch-norm by mode (DX_BN_BATCH or DX_BN_RUNNING; batch with m->coll:
 * the statistics of the global batch, this rank's n images being its
 * share).  Plans as needed. */
int dx_model_predict(dx_model *m, float *prob, const uint8_t *img, int n,
                     int H, int W, int mode, dx_err *err);

void dx_model_zero_grad(dx_model *m);

/* After a forward or backward pass with m->coll set: -1 with the error of
 * the first sum over the ranks that failed in it (the pass's results are
 * then meaningless), else 0. */
int dx_model_coll_check(dx_model *m, dx_err *err);

/* Multiply-adds x 2 of the forward convolutions for n images of H x W. */
double dx_model_flops(const dx_model *m, int n, int H, int W);
/* Bytes that dx_model_plan allocates for this shape; 0 if the input is
 * too small. */
size_t dx_model_plan_bytes(const dx_model *m, int n, int H, int W,
                           int train);

#endif
