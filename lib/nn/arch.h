/* arch.h - the architecture record of a checkpoint (the meta.arch frame).
 *
 * meta.arch is text: one "key=value" line per key, every key of its
 * version exactly once, in any order, '\n' line ends (the last one
 * optional), no blank lines, no spaces, printable ASCII only.  Two
 * networks, each with its own version of the record (seg-init(1) defines
 * both networks layer by layer):
 *
 *   version 1, net=deeplab-mini:
 *     net=deeplab-mini
 *     version=1
 *     width=32              w, the stem width (1..DX_ARCH_MAX_WIDTH)
 *     classes=19            output classes (1..DX_ARCH_MAX_CLASSES)
 *     mean=0.485,0.456,0.406   per-channel input mean (R,G,B), finite
 *     std=0.229,0.224,0.225    per-channel input std, finite, > 0
 *
 *   version 2, net=deeplabv2 (DeepLabv2 on a dilated ResNet, output
 *   stride 8, as the DACS reference code builds it):
 *     net=deeplabv2
 *     version=2
 *     depth=101             18 or 34 (basic blocks), 50, 101 or 152
 *                           (bottleneck blocks)
 *     blocks=3,4,23,3       blocks of layer1..layer4 (1..DX_ARCH_MAX_BLOCKS
 *                           each); the depth's own by default, fewer for
 *                           reduced test networks
 *     width=64              stem width w; layer L has w*2^(L-1) planes
 *     style=caffe           caffe: layer2's stride in the 1x1 conv1 and a
 *                           ceil-mode max-pool (DACS, AdaptSegNet);
 *                           pytorch: the stride in the 3x3 conv2 and a
 *                           floor-mode max-pool (torchvision v1.5)
 *     heads=2               ASPP branches summed (1..4; dilations 6, 12,
 *                           18, 24 in that order); all four are stored
 *     bn=frozen             frozen: batch-norm weight and bias are not
 *                           trained (DACS); train: they are
 *     classes=19
 *     order=bgr             channel order fed to conv1: rgb or bgr
 *     mean=0.407870522,0.457524955,0.481094241   per channel of x/255, in
 *                           the given order
 *     std=0.00392156886,0.00392156886,0.00392156886
 *
 * The parser is strict and bounded: it never allocates, never reads past
 * the given length, and rejects anything else with a message naming the
 * line.  A record of another network, or a key of another version, is an
 * error that says so.
 */
#ifndef DACS_ARCH_H
#define DACS_ARCH_H

#include <getopt.h>
#include <stddef.h>

#include "base/err.h"

#define DX_ARCH_MAX_WIDTH 512
/* Predictions are u8 and 255 means "ignore". */
#define DX_ARCH_MAX_CLASSES 255
#define DX_ARCH_MAX_BLOCKS 64
/* meta.arch longer than this is refused before it is looked at. */
#define DX_ARCH_MAX_TEXT 4096

/* The networks, by the name in meta.arch and its record version. */
enum dx_net_id {
    DX_NET_MINI,      /* "deeplab-mini", version 1 */
    DX_NET_DEEPLABV2, /* "deeplabv2", version 2 */
    DX_NET_END
};
enum dx_style { DX_STYLE_CAFFE, DX_STYLE_PYTORCH, DX_STYLE_END };
enum dx_order { DX_ORDER_RGB, DX_ORDER_BGR, DX_ORDER_END };

typedef struct dx_arch {
    int net;     /* enum dx_net_id */
    int width;
    int classes;
    float mean[3]; /* of x/255, per conv1 input channel (in `order`) */
    float std[3];
    /* deeplabv2 only; 0 for deeplab-mini */
    int depth;
    int blocks[4];
    int style;        /* enum dx_style */
    int heads;        /* ASPP branches summed */
    int bn_trainable; /* 1: BN weight and bias are trained; 0: frozen */
    int order;        /* enum dx_order; RGB for deeplab-mini */
} dx_arch;

/* The deeplab-mini defaults: width 32, 19 classes, ImageNet mean and std. */
void dx_arch_default(dx_arch *a);
/* The defaults of network net (enum dx_net_id).  deeplabv2: depth 101,
 * blocks 3,4,23,3, width 64, caffe, 2 heads (what the DACS code sums),
 * BN frozen, 19 classes, BGR with the Caffe mean (104.00698793,
 * 116.66876762, 122.67891434)/255 and std 1/255. */
void dx_arch_defaults(dx_arch *a, int net);
/* Blocks per layer of a ResNet depth (18, 34, 50, 101, 152) into
 * blocks[4]; -1 for any other depth. */
int dx_arch_depth_blocks(int depth, int blocks[4]);
/* 1 when depth has bottleneck blocks (50 and deeper), 0 for basic. */
int dx_arch_bottleneck(const dx_arch *a);
/* The mean and std of x/255 that go with a channel order: ImageNet's for
 * RGB (torchvision's weights), Caffe's for BGR (DACS's weights). */
void dx_arch_norm_of(int order, float mean[3], float std[3]);

/* "deeplab-mini", "deeplabv2"; "?" for others. */
const char *dx_arch_net_name(int net);
/* The enum of a name, or -1. */
int dx_arch_net_parse(const char *name);
const char *dx_arch_style_name(int style);
const char *dx_arch_order_name(int order);

/* Check ranges of a filled-in record (e.g. from options). */
int dx_arch_check(const dx_arch *a, dx_err *err);
/* Parse len bytes of text (not NUL-terminated). */
int dx_arch_parse(dx_arch *a, const char *text, size_t len, dx_err *err);
/* Format as text into buf (NUL-terminated), the keys in the order listed
 * above; returns the length, or -1 if buf is too small.  Floats are
 * written as the shortest decimal that reads back as the same float, so
 * parse(format(a)) == a exactly. */
int dx_arch_format(const dx_arch *a, char *buf, size_t cap);
/* ---- the architecture as command-line options ----
 *
 * The tools that make a network (seg-init over the defaults, seg-import
 * over what it recognised in a file) take every key of meta.arch but
 * version as an option of the same name, parsed and applied here once:
 *
 *   --net NAME       deeplab-mini or deeplabv2
 *   --depth D        18, 34, 50, 101 or 152; sets the depth's blocks
 *   --blocks B1,B2,B3,B4   1..DX_ARCH_MAX_BLOCKS each
 *   --width W        1..DX_ARCH_MAX_WIDTH
 *   --style S        caffe or pytorch
 *   --heads K        1..4
 *   --bn MODE        frozen or train
 *   --classes C      1..DX_ARCH_MAX_CLASSES
 *   --order O        rgb or bgr; sets the order's mean and std
 *                    (dx_arch_norm_of)
 *   --mean A,B,C     of x/255, finite
 *   --std A,B,C      finite, each > 0
 *
 * depth, blocks, style, heads, bn and order are deeplabv2's only. */
#define DX_ARCH_NOPTS 11
extern const char *const dx_arch_opt_names[DX_ARCH_NOPTS + 1];

typedef struct dx_arch_opts {
    unsigned given; /* bit k: option dx_arch_opt_names[k] was given */
    dx_arch v;      /* the values given; the others 0 */
} dx_arch_opts;

/* getopt_long entries for the options, each with a required argument and
 * the code code0 + k (k its index in dx_arch_opt_names), then the
 * terminating zero entry: out holds DX_ARCH_NOPTS + 1 entries. */
void dx_arch_longopts(struct option *out, int code0);
/* Parse the value of option k (an index in dx_arch_opt_names) into o;
 * a bad value fails with "--depth: expected 18, 34, 50, 101 or 152, got
 * '42'". */
int dx_arch_opt_set(dx_arch_opts *o, int k, const char *value, dx_err *err);
/* Was the option called name ("depth") given? */
int dx_arch_opt_given(const dx_arch_opts *o, const char *name);
/* Apply the options given over *a (the defaults, or a recognised record):
 * --net, when it names another network than a->net, first resets *a to
 * that network's defaults; --depth also sets the depth's blocks unless
 * --blocks is given, --order its mean and std unless --mean, --std are;
 * a deeplabv2 option for deeplab-mini fails ("--depth is an option of
 * deeplabv2 (--net deeplabv2)"); the result is checked (dx_arch_check). */
int dx_arch_opts_apply(const dx_arch_opts *o, dx_arch *a, dx_err *err);

/* "deeplab-mini width=32 classes=19" or "deeplabv2 depth=101
 * blocks=3,4,23,3 width=64 style=caffe classes=19", for messages. */
void dx_arch_describe(const dx_arch *a, char *buf, size_t cap);

#endif
