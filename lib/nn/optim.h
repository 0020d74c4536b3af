/* optim.h - the optimisers and the learning-rate schedule: one interface
 * for SGD (sgd.h) and AdamW, applied to a model's trainable tensors with
 * their parameter groups (head, norm).
 *
 * Schedule (mmcv 1.x LrUpdaterHook, policy 'poly' with warmup 'linear',
 * as DACS and DAFormer configure it), at step t = meta.iter:
 *     regular(t) = lr0 * (1 - t/T)^power                      (poly)
 *     lr(t)      = regular(t) * (1 - (1 - t/N) * (1 - ratio))  for t < N
 *     lr(t)      = regular(t)                                  for t >= N
 * so the warmup multiplies the poly rate; N = 0 is no warmup.  DACS: SGD,
 * power 0.9, no warmup.  DAFormer (configs/_base_/schedules/adamw.py,
 * poly10warm.py): AdamW, power 1.0, N 1500, ratio 1e-6.
 *
 * Parameter groups: a head tensor (dx_tensor.head) learns at head_mult
 * times the rate (DACS and DAFormer: 10); a norm tensor (batch-norm
 * weight or bias) has weight decay times norm_decay_mult (DAFormer's
 * paramwise_cfg custom_keys norm decay_mult 0 for AdamW; DACS decays
 * every trained parameter, 1 for SGD).  Biases are decayed in both, as
 * in mmcv's default constructor.  mmcv matches "norm" in parameter names;
 * here the flag marks every batch-norm parameter, whatever its name.
 */
#ifndef DACS_OPTIM_H
#define DACS_OPTIM_H

#include <stddef.h>

#include "base/err.h"
#include "nn/model.h"

typedef struct dx_optim {
    int kind;            /* DX_OPTIM_SGD or DX_OPTIM_ADAMW (model.h) */
    double lr;           /* lr0 */
    long iters;          /* T, the schedule's length */
    double power;        /* poly exponent */
    long warmup;         /* N, iterations of linear warmup; 0: none */
    double warmup_ratio; /* the warmup's starting factor */
    double momentum;     /* SGD */
    double beta1, beta2; /* AdamW's moment decays */
    double eps;          /* AdamW's denominator term */
    double decay;        /* weight decay */
    double head_mult;    /* head learning-rate multiplier */
    double norm_decay_mult; /* decay multiplier of norm tensors */
} dx_optim;

/* The defaults of kind: SGD as DACS (lr 0.01 for training from scratch;
 * DACS's pretrained rate is 2.5e-4), momentum 0.9, decay 5e-4, power 0.9,
 * no warmup, norm decayed; AdamW as DAFormer: lr 6e-5, betas (0.9,
 * 0.999), eps 1e-8, decay 0.01, power 1.0, warmup 1500 from 1e-6, norm
 * not decayed.  Both: head x10, T = 250000 (DACS's). */
void dx_optim_defaults(dx_optim *o, int kind);
/* "sgd", "adamw"; NULL for another value. */
const char *dx_optim_name(int kind);

/* lr(t) of the schedule above, for 0 <= t < T. */
double dx_optim_lr(const dx_optim *o, long t);

/* Fails if m holds the state of another optimiser than o->kind, saying
 * which and how to start afresh.  State that has taken no step (SGD
 * momentum all zero, as seg-init writes; AdamW at step 0) counts as no
 * state. */
int dx_optim_check(const dx_model *m, int kind, dx_err *err);

/* One update of every trainable tensor of m from m->grad, at body rate
 * lr (the head's times head_mult): allocates the state slots the kind
 * uses (zero: a fresh optimiser), sets m->optim and, for AdamW, counts
 * m->optim_step.  Fails as dx_optim_check does, or out of memory. */
int dx_optim_step(dx_model *m, const dx_optim *o, double lr, dx_err *err);

/* AdamW (Loshchilov & Hutter, ICLR 2019) as PyTorch 1.13's
 * torch.optim.AdamW (single-tensor path, not amsgrad), for n values at
 * step count `step` (1 on the first step):
 *     p   = p * (1 - lr * wd)
 *     m1  = beta1 * m1 + (1 - beta1) * g
 *     m2  = beta2 * m2 + (1 - beta2) * g * g
 *     p   = p - lr / (1 - beta1^step) * m1 / (sqrt(m2) / sqrt(1 - beta2^step) + eps)
 * in float, the scalar factors in double as PyTorch's Python floats. */
void dx_adamw_step(float *p, float *m1, float *m2, const float *g, size_t n,
                   double lr, double beta1, double beta2, double eps,
                   double wd, long step);

#endif
