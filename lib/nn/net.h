/* net.h - a network as a description: its named tensors and a list of
 * layers, built by one short function per architecture and run, forward
 * and backward, by one executor (model.h) whatever the list.
 *
 * Values are the activations between layers, numbered from 0, the
 * normalised input (3 channels).  Every layer reads one value (a BN layer
 * also a skip value) and writes one new value; the list is in execution
 * order, so a value is written before it is read.  The last layer's value
 * is the logits.  Every value is channel-major, (C, n, h, w); its sides
 * follow from the input size (dx_net_sides).
 *
 * The tensors are in checkpoint order, the order of the PyTorch state_dict
 * of the same network, with the same names.
 */
#ifndef DACS_NET_H
#define DACS_NET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "nn/arch.h"
#include "nn/aspp.h"
#include "nn/conv.h"
#include "nn/pool.h"

/* Optimiser state buffers a model can hold per parameter: SGD uses slot 0
 * (its momentum buffer, frames opt.NAME); an optimiser with two moments
 * uses both. */
#define DX_OPT_SLOTS 2

/* One named tensor of the checkpoint. */
typedef struct dx_tensor {
    char name[64];   /* the PyTorch state_dict name */
    int rank;
    int64_t dims[4]; /* conv weights (Cout, Cin, k, k); vectors (C) */
    size_t count;
    int trainable;   /* updated by the optimiser (has grad and state) */
    int head;        /* the classifier: the head learning-rate multiplier */
    int norm;        /* a batch-norm weight or bias (no weight decay for
                        optimisers that exempt them) */
    int running;     /* a batch-norm running statistic */
    size_t off;      /* offset in its group: trainable ones in param, grad
                        and state; the others in fixed */
    float *data;
    float *grad;                /* NULL unless trainable and allocated */
    float *state[DX_OPT_SLOTS]; /* NULL unless trainable and allocated */
} dx_tensor;

/* The kinds of layer; LAYER_NAMES in net.c names each. */
enum dx_layer_kind {
    DX_LAYER_CONV,    /* convolution, no bias (conv.h) */
    DX_LAYER_BN,      /* batch-norm, + a skip value, then ReLU (bn.h) */
    DX_LAYER_MAXPOOL, /* max-pool (pool.h) */
    DX_LAYER_ASPP,    /* parallel biased convolutions of one value, summed
                         (DeepLab's classifier) */
    DX_LAYER_END
};
typedef struct dx_layer {
    int kind;
    char name[48]; /* the module, "layer1.0.conv1"; for messages */
    int in, out;   /* values read and written */
    /* DX_LAYER_CONV */
    dx_conv conv;
    int weight;    /* tensor index of the weight */
    /* DX_LAYER_BN */
    int bn;        /* tensor index of its weight; bias, running_mean and
                      running_var follow it */
    int skip;      /* value added before the ReLU, or -1 */
    int relu;
    size_t stat;   /* offset of its mean, var, invstd in the model's
                      per-pass statistics (3 * C floats) */
    /* DX_LAYER_MAXPOOL */
    dx_pool pool;
    /* DX_LAYER_ASPP: branch k is conv branch[k] with the tensors weight
     * branch_weight[k] and bias branch_weight[k] + 1; the first `run` of
     * the `branches` stored are summed, by one product (aspp.h) when
     * fused, else each by its own convolution */
    int branches, run, fused;
    dx_conv branch[DX_ASPP_MAX];
    int branch_weight[DX_ASPP_MAX];
} dx_layer;

typedef struct dx_net {
    dx_tensor *t;
    int nt, t_cap;
    dx_layer *layer;
    int nlayer, layer_cap;
    int *channels; /* channels of each value */
    int nvalue, value_cap;
    size_t bn_channels; /* sum of the BN layers' channels */
    int failed;         /* an allocation failed while building */
} dx_net;

/* The layer list and tensors of architecture a (checked by the caller).
 * Allocates only the description, never the tensors' values. */
int dx_net_build(dx_net *net, const dx_arch *a, dx_err *err);
void dx_net_free(dx_net *net);
/* "conv", "bn", "maxpool", "aspp". */
const char *dx_layer_kind_name(int kind);

/* Sides of every value for an input of H x W: h[v], w[v] (nvalue each).
 * Fails naming the first layer whose output would be empty, and the
 * smallest input side the network takes. */
int dx_net_sides(const dx_net *net, int H, int W, int *h, int *w,
                 dx_err *err);
/* Multiply-adds x 2 of the convolutions for n images of H x W (the ASPP
 * branches that run); 0 if the input is too small. */
double dx_net_flops(const dx_net *net, int n, int H, int W);
/* The parameters as PyTorch counts them (every weight and bias, trained
 * or frozen, not the running statistics); *stored, if not NULL, gets the
 * values of every tensor. */
size_t dx_net_params(const dx_net *net, size_t *stored);

/* ---- building blocks, for the network files ----
 * Each adds tensors (named prefix.weight etc.) and/or a layer and returns
 * the new value or tensor index; after a failed allocation they return 0
 * and set net->failed, which dx_net_build reports. */

/* A convolution without bias: tensor PREFIX.weight (cout, cin, k, k). */
int dx_net_conv(dx_net *net, int in, const char *prefix, int cout, int k,
                int stride, int pad, int dil);
/* The four tensors of a batch-norm of c channels: PREFIX.weight, .bias
 * (trainable unless frozen), .running_mean, .running_var.  Returns the
 * index of the weight. */
int dx_net_bn_tensors(dx_net *net, const char *prefix, int c, int frozen);
/* A batch-norm layer over in with the tensors from dx_net_bn_tensors;
 * skip is a value of the same shape added before the ReLU, or -1. */
int dx_net_bn(dx_net *net, int in, int tensors, int skip, int relu);
/* Both of the above at once (the common case). */
int dx_net_bn_relu(dx_net *net, int in, const char *prefix, int frozen,
                   int relu);
int dx_net_maxpool(dx_net *net, int in, const char *name, int k, int stride,
                   int pad, int ceil);
/* DeepLab's classifier: `branches` 3x3 convolutions with bias, cin ->
 * classes, dilation and padding dil[b], tensors named printf(pattern, b)
 * + ".weight" / ".bias" (marked head); the first `run` are summed, as one
 * product if fused (aspp.h). */
int dx_net_aspp(dx_net *net, int in, const char *name, const char *pattern,
                int classes, const int *dil, int branches, int run,
                int fused);

/* The network files. */
int dx_build_deeplab_mini(dx_net *net, const dx_arch *a);
int dx_build_deeplabv2(dx_net *net, const dx_arch *a);

#endif
