/* net.c - building and measuring a network description; see net.h. */
#include "nn/net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LAYER_NAMES[] = {
    [DX_LAYER_CONV] = "conv",
    [DX_LAYER_BN] = "bn",
    [DX_LAYER_MAXPOOL] = "maxpool",
    [DX_LAYER_ASPP] = "aspp",
};
_Static_assert(sizeof LAYER_NAMES / sizeof LAYER_NAMES[0] == DX_LAYER_END,
               "LAYER_NAMES must name every kind of layer");

const char *dx_layer_kind_name(int kind)
{
    return kind >= 0 && kind < DX_LAYER_END ? LAYER_NAMES[kind] : "?";
}

/* Room for one more element of an array that grows by doubling. */
static int grow(dx_net *net, void **v, int n, int *cap, size_t size)
{
    if (net->failed)
        return -1;
    if (n < *cap)
        return 0;
    int nc = *cap ? 2 * *cap : 64;
    void *p = realloc(*v, (size_t)nc * size);
    if (!p) {
        net->failed = 1;
        return -1;
    }
    *v = p;
    *cap = nc;
    return 0;
}

static int new_value(dx_net *net, int channels)
{
    if (grow(net, (void **)&net->channels, net->nvalue, &net->value_cap,
             sizeof *net->channels))
        return 0;
    net->channels[net->nvalue] = channels;
    return net->nvalue++;
}

static dx_layer *new_layer(dx_net *net, int kind, int in, const char *name)
{
    if (grow(net, (void **)&net->layer, net->nlayer, &net->layer_cap,
             sizeof *net->layer))
        return NULL;
    dx_layer *l = &net->layer[net->nlayer++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->in = in;
    l->skip = -1;
    if ((size_t)snprintf(l->name, sizeof l->name, "%s", name) >=
        sizeof l->name)
        net->failed = 1;
    return l;
}

/* A tensor named prefix.leaf of the given shape; returns its index. */
static int new_tensor(dx_net *net, const char *prefix, const char *leaf,
                      int rank, const int64_t *dims, int trainable)
{
    if (grow(net, (void **)&net->t, net->nt, &net->t_cap, sizeof *net->t))
        return 0;
    dx_tensor *t = &net->t[net->nt];
    memset(t, 0, sizeof *t);
    if ((size_t)snprintf(t->name, sizeof t->name, "%s.%s", prefix, leaf) >=
        sizeof t->name) {
        net->failed = 1;
        return 0;
    }
    t->rank = rank;
    t->count = 1;
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->count *= (size_t)dims[i];
    }
    t->trainable = trainable;
    return net->nt++;
}

int dx_net_conv(dx_net *net, int in, const char *prefix, int cout, int k,
                int stride, int pad, int dil)
{
    if (net->failed)
        return 0;
    int cin = net->channels[in];
    int64_t dims[4] = {cout, cin, k, k};
    int w = new_tensor(net, prefix, "weight", 4, dims, 1);
    dx_layer *l = new_layer(net, DX_LAYER_CONV, in, prefix);
    if (!l)
        return 0;
    l->conv = (dx_conv){cin, cout, k, stride, pad, dil};
    l->weight = w;
    return l->out = new_value(net, cout);
}

int dx_net_bn_tensors(dx_net *net, const char *prefix, int c, int frozen)
{
    int64_t dims[1] = {c};
    int w = new_tensor(net, prefix, "weight", 1, dims, !frozen);
    new_tensor(net, prefix, "bias", 1, dims, !frozen);
    new_tensor(net, prefix, "running_mean", 1, dims, 0);
    new_tensor(net, prefix, "running_var", 1, dims, 0);
    if (net->failed)
        return 0;
    net->t[w].norm = net->t[w + 1].norm = 1;
    net->t[w + 2].running = net->t[w + 3].running = 1;
    return w;
}

int dx_net_bn(dx_net *net, int in, int tensors, int skip, int relu)
{
    if (net->failed)
        return 0;
    /* the module name: the tensors' prefix */
    char name[64];
    snprintf(name, sizeof name, "%s", net->t[tensors].name);
    *strrchr(name, '.') = 0;
    int c = net->channels[in];
    dx_layer *l = new_layer(net, DX_LAYER_BN, in, name);
    if (!l)
        return 0;
    l->bn = tensors;
    l->skip = skip;
    l->relu = relu;
    l->stat = 3 * net->bn_channels;
    net->bn_channels += (size_t)c;
    return l->out = new_value(net, c);
}

int dx_net_bn_relu(dx_net *net, int in, const char *prefix, int frozen,
                   int relu)
{
    if (net->failed)
        return 0;
    int t = dx_net_bn_tensors(net, prefix, net->channels[in], frozen);
    return dx_net_bn(net, in, t, -1, relu);
}

int dx_net_maxpool(dx_net *net, int in, const char *name, int k, int stride,
                   int pad, int ceil)
{
    if (net->failed)
        return 0;
    dx_layer *l = new_layer(net, DX_LAYER_MAXPOOL, in, name);
    if (!l)
        return 0;
    l->pool = (dx_pool){k, stride, pad, ceil};
    return l->out = new_value(net, net->channels[in]);
}

int dx_net_aspp(dx_net *net, int in, const char *name, const char *pattern,
                int classes, const int *dil, int branches, int run,
                int fused)
{
    if (net->failed)
        return 0;
    int cin = net->channels[in];
    int w[DX_ASPP_MAX];
    for (int b = 0; b < branches; b++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, pattern, b);
        int64_t wd[4] = {classes, cin, 3, 3}, bd[1] = {classes};
        /* a branch that never runs is never trained either (PyTorch's
         * SGD skips a parameter without a gradient) */
        w[b] = new_tensor(net, prefix, "weight", 4, wd, b < run);
        new_tensor(net, prefix, "bias", 1, bd, b < run);
        if (net->failed)
            return 0;
        net->t[w[b]].head = net->t[w[b] + 1].head = 1;
    }
    dx_layer *l = new_layer(net, DX_LAYER_ASPP, in, name);
    if (!l)
        return 0;
    l->branches = branches;
    l->run = run;
    l->fused = fused;
    for (int b = 0; b < branches; b++) {
        l->branch[b] = (dx_conv){cin, classes, 3, 1, dil[b], dil[b]};
        l->branch_weight[b] = w[b];
    }
    return l->out = new_value(net, classes);
}

int dx_net_build(dx_net *net, const dx_arch *a, dx_err *err)
{
    memset(net, 0, sizeof *net);
    new_value(net, 3); /* the input */
    if (a->net == DX_NET_DEEPLABV2)
        dx_build_deeplabv2(net, a);
    else
        dx_build_deeplab_mini(net, a);
    if (net->failed) {
        dx_net_free(net);
        return dx_fail(err, "out of memory for the description of the "
                       "network");
    }
    return 0;
}

void dx_net_free(dx_net *net)
{
    free(net->t);
    free(net->layer);
    free(net->channels);
    memset(net, 0, sizeof *net);
}

/* The output side of layer l for an input side s. */
static int side_out(const dx_layer *l, int s)
{
    switch (l->kind) {
    case DX_LAYER_CONV:
        return dx_conv_out(&l->conv, s);
    case DX_LAYER_MAXPOOL:
        return dx_pool_out(&l->pool, s);
    case DX_LAYER_ASPP:
        return dx_conv_out(&l->branch[0], s);
    default:
        return s;
    }
}

/* Sides of every value along one dimension; the index of the first layer
 * whose output is empty, or -1. */
static int sides_1d(const dx_net *net, int S, int *s)
{
    s[0] = S;
    for (int i = 0; i < net->nlayer; i++) {
        const dx_layer *l = &net->layer[i];
        s[l->out] = side_out(l, s[l->in]);
        if (s[l->out] < 1)
            return i;
    }
    return -1;
}

int dx_net_sides(const dx_net *net, int H, int W, int *h, int *w,
                 dx_err *err)
{
    int bad = sides_1d(net, H, h), dim = 0;
    if (bad < 0) {
        bad = sides_1d(net, W, w);
        dim = 1;
    }
    if (bad < 0)
        return 0;
    int *s = dim ? w : h, min = 1;
    while (min < 1 << 20 && sides_1d(net, min, s) >= 0)
        min++;
    const dx_layer *l = &net->layer[bad];
    return dx_fail(err, "an input of %dx%d is too small for this network: "
                   "%s '%s' would have no output %s; the smallest input "
                   "side is %d", W, H, dx_layer_kind_name(l->kind), l->name,
                   dim ? "columns" : "rows", min);
}

static double conv_flops(const dx_conv *c, double pixels)
{
    return 2.0 * c->cout * c->cin * c->k * c->k * pixels;
}

double dx_net_flops(const dx_net *net, int n, int H, int W)
{
    int *h = malloc(sizeof *h * 2 * (size_t)net->nvalue);
    if (!h)
        return 0;
    int *w = h + net->nvalue;
    double f = 0;
    if (dx_net_sides(net, H, W, h, w, NULL) == 0)
        for (int i = 0; i < net->nlayer; i++) {
            const dx_layer *l = &net->layer[i];
            double px = (double)n * h[l->out] * w[l->out];
            if (l->kind == DX_LAYER_CONV)
                f += conv_flops(&l->conv, px);
            for (int b = 0; l->kind == DX_LAYER_ASPP && b < l->run; b++)
                f += conv_flops(&l->branch[b], px);
        }
    free(h);
    return f;
}

size_t dx_net_params(const dx_net *net, size_t *stored)
{
    size_t p = 0, s = 0;
    for (int i = 0; i < net->nt; i++) {
        s += net->t[i].count;
        if (!net->t[i].running)
            p += net->t[i].count;
    }
    if (stored)
        *stored = s;
    return p;
}
