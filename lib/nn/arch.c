/* arch.c - parse and write the meta.arch record; see arch.h. */
#include "nn/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    K_NET, K_VERSION, K_DEPTH, K_BLOCKS, K_WIDTH, K_STYLE, K_HEADS, K_BN,
    K_CLASSES, K_ORDER, K_MEAN, K_STD, K_END
};
static const char *const KEYS[] = {
    [K_NET] = "net",         [K_VERSION] = "version", [K_DEPTH] = "depth",
    [K_BLOCKS] = "blocks",   [K_WIDTH] = "width",     [K_STYLE] = "style",
    [K_HEADS] = "heads",     [K_BN] = "bn",           [K_CLASSES] = "classes",
    [K_ORDER] = "order",     [K_MEAN] = "mean",       [K_STD] = "std",
};
_Static_assert(sizeof KEYS / sizeof KEYS[0] == K_END,
               "KEYS must name every key");

/* Each network: its name, its record version and its keys (bit k set:
 * key k belongs to the record). */
#define BIT(k) (1u << (k))
static const struct net_record {
    const char *name;
    int version;
    unsigned keys;
} NETS[] = {
    [DX_NET_MINI] = {"deeplab-mini", 1,
                     BIT(K_NET) | BIT(K_VERSION) | BIT(K_WIDTH) |
                         BIT(K_CLASSES) | BIT(K_MEAN) | BIT(K_STD)},
    [DX_NET_DEEPLABV2] = {"deeplabv2", 2, BIT(K_END) - 1},
};
_Static_assert(sizeof NETS / sizeof NETS[0] == DX_NET_END,
               "NETS must describe every network");

static const char *const STYLES[] = {[DX_STYLE_CAFFE] = "caffe",
                                     [DX_STYLE_PYTORCH] = "pytorch"};
_Static_assert(sizeof STYLES / sizeof STYLES[0] == DX_STYLE_END,
               "STYLES must name every style");
static const char *const ORDERS[] = {[DX_ORDER_RGB] = "rgb",
                                     [DX_ORDER_BGR] = "bgr"};
_Static_assert(sizeof ORDERS / sizeof ORDERS[0] == DX_ORDER_END,
               "ORDERS must name every order");

/* ResNet depths: blocks per layer, bottleneck or basic (He et al. 2016,
 * table 1). */
static const struct depth_row {
    int depth, blocks[4], bottleneck;
} DEPTHS[] = {
    {18, {2, 2, 2, 2}, 0},   {34, {3, 4, 6, 3}, 0},
    {50, {3, 4, 6, 3}, 1},   {101, {3, 4, 23, 3}, 1},
    {152, {3, 8, 36, 3}, 1},
};
enum { NDEPTHS = sizeof DEPTHS / sizeof DEPTHS[0] };

/* Longest value we look at; longer ones are an error, not a truncation. */
enum { MAXVAL = 127 };

const char *dx_arch_net_name(int net)
{
    return net >= 0 && net < DX_NET_END ? NETS[net].name : "?";
}

int dx_arch_net_parse(const char *name)
{
    for (int i = 0; i < DX_NET_END; i++)
        if (strcmp(name, NETS[i].name) == 0)
            return i;
    return -1;
}

const char *dx_arch_style_name(int style)
{
    return style >= 0 && style < DX_STYLE_END ? STYLES[style] : "?";
}

const char *dx_arch_order_name(int order)
{
    return order >= 0 && order < DX_ORDER_END ? ORDERS[order] : "?";
}

static int word_index(const char *v, const char *const *words, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, words[i]) == 0)
            return i;
    return -1;
}

int dx_arch_depth_blocks(int depth, int blocks[4])
{
    for (int i = 0; i < NDEPTHS; i++)
        if (DEPTHS[i].depth == depth) {
            memcpy(blocks, DEPTHS[i].blocks, sizeof DEPTHS[i].blocks);
            return 0;
        }
    return -1;
}

int dx_arch_bottleneck(const dx_arch *a)
{
    for (int i = 0; i < NDEPTHS; i++)
        if (DEPTHS[i].depth == a->depth)
            return DEPTHS[i].bottleneck;
    return 0;
}

void dx_arch_norm_of(int order, float mean[3], float std[3])
{
    /* ImageNet (torchvision); the Caffe mean of the DeepLab-v2 model in
     * B,G,R order, 0..255, no scaling (std 1/255 of x/255) */
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    static const double caffe_mean[3] = {104.00698793, 116.66876762,
                                         122.67891434};
    for (int i = 0; i < 3; i++) {
        if (order == DX_ORDER_BGR) {
            mean[i] = (float)(caffe_mean[i] / 255.0);
            std[i] = (float)(1.0 / 255.0);
        } else {
            mean[i] = imagenet_mean[i];
            std[i] = imagenet_std[i];
        }
    }
}

void dx_arch_defaults(dx_arch *a, int net)
{
    memset(a, 0, sizeof *a);
    a->net = net;
    a->classes = 19;
    if (net == DX_NET_DEEPLABV2) {
        a->depth = 101;
        dx_arch_depth_blocks(a->depth, a->blocks);
        a->width = 64;
        a->style = DX_STYLE_CAFFE;
        a->heads = 2;
        a->bn_trainable = 0;
        a->order = DX_ORDER_BGR;
    } else {
        a->width = 32;
        a->order = DX_ORDER_RGB;
    }
    dx_arch_norm_of(a->order, a->mean, a->std);
}

void dx_arch_default(dx_arch *a)
{
    dx_arch_defaults(a, DX_NET_MINI);
}

int dx_arch_check(const dx_arch *a, dx_err *err)
{
    if (a->net < 0 || a->net >= DX_NET_END)
        return dx_fail(err, "network %d, expected 0..%d", a->net,
                       DX_NET_END - 1);
    if (a->width < 1 || a->width > DX_ARCH_MAX_WIDTH)
        return dx_fail(err, "width %d, expected 1..%d", a->width,
                       DX_ARCH_MAX_WIDTH);
    if (a->classes < 1 || a->classes > DX_ARCH_MAX_CLASSES)
        return dx_fail(err, "classes %d, expected 1..%d", a->classes,
                       DX_ARCH_MAX_CLASSES);
    for (int i = 0; i < 3; i++) {
        if (!isfinite(a->mean[i]))
            return dx_fail(err, "mean[%d] is not finite", i);
        if (!isfinite(a->std[i]) || !(a->std[i] > 0))
            return dx_fail(err, "std[%d] is %g, expected a finite number "
                           "> 0", i, (double)a->std[i]);
    }
    if (a->net == DX_NET_MINI) {
        if (a->depth || a->blocks[0] || a->blocks[1] || a->blocks[2] ||
            a->blocks[3] || a->style || a->heads || a->bn_trainable ||
            a->order != DX_ORDER_RGB)
            return dx_fail(err, "deeplab-mini has no depth, blocks, style, "
                           "heads, bn or order (RGB input only)");
        return 0;
    }
    int b[4];
    if (dx_arch_depth_blocks(a->depth, b))
        return dx_fail(err, "depth %d, expected 18, 34, 50, 101 or 152",
                       a->depth);
    for (int i = 0; i < 4; i++)
        if (a->blocks[i] < 1 || a->blocks[i] > DX_ARCH_MAX_BLOCKS)
            return dx_fail(err, "layer%d has %d blocks, expected 1..%d",
                           i + 1, a->blocks[i], DX_ARCH_MAX_BLOCKS);
    if (a->style < 0 || a->style >= DX_STYLE_END)
        return dx_fail(err, "style %d, expected caffe or pytorch", a->style);
    if (a->heads < 1 || a->heads > 4)
        return dx_fail(err, "heads %d, expected 1..4", a->heads);
    if (a->bn_trainable != 0 && a->bn_trainable != 1)
        return dx_fail(err, "bn %d, expected frozen or train",
                       a->bn_trainable);
    if (a->order < 0 || a->order >= DX_ORDER_END)
        return dx_fail(err, "order %d, expected rgb or bgr", a->order);
    return 0;
}

/* A whole decimal integer in [lo, hi], digits only. */
static int parse_int(const char *v, int lo, int hi, int *out)
{
    size_t n = strlen(v);
    if (n < 1 || n > 9)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    if (x < lo || x > hi)
        return -1;
    *out = (int)x;
    return 0;
}

/* The next of k comma-separated fields of a value (the last one ends the
 * value) into buf; returns where the field after it starts, or NULL if
 * the field is empty, too long or wrongly ended. */
static const char *next_field(const char *p, char *buf, size_t cap,
                              int last)
{
    size_t n = strcspn(p, ",");
    if (n == 0 || n >= cap)
        return NULL;
    memcpy(buf, p, n);
    buf[n] = 0;
    p += n;
    if (last)
        return *p ? NULL : p;
    return *p == ',' ? p + 1 : NULL;
}

/* Four comma-separated integers in [lo, hi]. */
static int parse_blocks(const char *v, int lo, int hi, int out[4])
{
    char num[16];
    for (int i = 0; i < 4; i++)
        if (!(v = next_field(v, num, sizeof num, i == 3)) ||
            parse_int(num, lo, hi, &out[i]))
            return -1;
    return 0;
}

/* Three comma-separated finite numbers that stay finite as floats. */
static int parse_triple(const char *v, float out[3])
{
    char num[MAXVAL + 1];
    for (int i = 0; i < 3; i++) {
        char *end;
        if (!(v = next_field(v, num, sizeof num, i == 2)))
            return -1;
        double d = strtod(num, &end);
        if (*end || !isfinite(d) || !isfinite((float)d))
            return -1;
        out[i] = (float)d;
    }
    return 0;
}

/* One value into a; 0, or -1 if it is bad. */
static int parse_value(dx_arch *a, int k, const char *v)
{
    switch (k) {
    case K_DEPTH: {
        int b[4];
        return parse_int(v, 1, 999, &a->depth) ||
               dx_arch_depth_blocks(a->depth, b);
    }
    case K_BLOCKS:
        return parse_blocks(v, 1, DX_ARCH_MAX_BLOCKS, a->blocks);
    case K_WIDTH:
        return parse_int(v, 1, DX_ARCH_MAX_WIDTH, &a->width);
    case K_STYLE:
        return (a->style = word_index(v, STYLES, DX_STYLE_END)) < 0;
    case K_HEADS:
        return parse_int(v, 1, 4, &a->heads);
    case K_BN:
        return (a->bn_trainable = word_index(
                    v, (const char *const[]){"frozen", "train"}, 2)) < 0;
    case K_CLASSES:
        return parse_int(v, 1, DX_ARCH_MAX_CLASSES, &a->classes);
    case K_ORDER:
        return (a->order = word_index(v, ORDERS, DX_ORDER_END)) < 0;
    case K_MEAN:
        return parse_triple(v, a->mean);
    case K_STD:
        return parse_triple(v, a->std) ||
               !(a->std[0] > 0 && a->std[1] > 0 && a->std[2] > 0);
    }
    return -1;
}

static const char *const WANT[K_END] = {
    [K_DEPTH] = "18, 34, 50, 101 or 152",
    [K_BLOCKS] = "four integers in 1..64, one per layer",
    [K_WIDTH] = "an integer in 1..512",
    [K_STYLE] = "caffe or pytorch",
    [K_HEADS] = "an integer in 1..4",
    [K_BN] = "frozen or train",
    [K_CLASSES] = "an integer in 1..255",
    [K_ORDER] = "rgb or bgr",
    [K_MEAN] = "three finite numbers, one per input channel",
    [K_STD] = "three finite numbers, one per input channel, each > 0",
};

int dx_arch_parse(dx_arch *a, const char *text, size_t len, dx_err *err)
{
    memset(a, 0, sizeof *a);
    if (len > DX_ARCH_MAX_TEXT)
        return dx_fail(err, "meta.arch is %zu bytes, expected at most %d",
                       len, DX_ARCH_MAX_TEXT);
    /* the lines, checked one by one; values kept for after the scan, when
     * the network (and so its keys) is known */
    int line_of[K_END] = {0};
    char val[K_END][MAXVAL + 1];
    size_t at = 0;
    int line = 0;
    while (at < len) {
        line++;
        size_t end = at;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - at;
        const char *s = text + at;
        at = end + 1; /* past the '\n' (or past len: loop ends) */
        if (n == 0)
            return dx_fail(err, "meta.arch line %d is empty", line);
        for (size_t i = 0; i < n; i++)
            if (s[i] < 0x21 || s[i] > 0x7e)
                return dx_fail(err, "meta.arch line %d: byte 0x%02x is not "
                               "printable ASCII (no spaces allowed)", line,
                               (unsigned char)s[i]);
        const char *eq = memchr(s, '=', n);
        if (!eq)
            return dx_fail(err, "meta.arch line %d: expected key=value",
                           line);
        size_t klen = (size_t)(eq - s), vlen = n - klen - 1;
        int k = 0;
        while (k < K_END && !(strlen(KEYS[k]) == klen &&
                              memcmp(KEYS[k], s, klen) == 0))
            k++;
        if (k == K_END)
            return dx_fail(err, "meta.arch line %d: unknown key '%.*s'",
                           line, (int)(klen > 40 ? 40 : klen), s);
        if (line_of[k])
            return dx_fail(err, "meta.arch line %d: key '%s' given twice",
                           line, KEYS[k]);
        line_of[k] = line;
        if (vlen > MAXVAL)
            return dx_fail(err, "meta.arch line %d: value of '%s' is %zu "
                           "bytes, expected at most %d", line, KEYS[k], vlen,
                           MAXVAL);
        memcpy(val[k], eq + 1, vlen);
        val[k][vlen] = 0;
    }
    if (!line_of[K_NET])
        return dx_fail(err, "meta.arch has no 'net' line (not a dacs "
                       "network checkpoint?)");
    a->net = dx_arch_net_parse(val[K_NET]);
    if (a->net < 0)
        return dx_fail(err, "checkpoint is of network '%s', this dacs "
                       "builds deeplab-mini and deeplabv2", val[K_NET]);
    const struct net_record *nr = &NETS[a->net];
    int version = 0;
    if (line_of[K_VERSION] &&
        (parse_int(val[K_VERSION], 0, 999999, &version) ||
         version != nr->version))
        return dx_fail(err, "meta.arch version '%s' for %s, this dacs reads "
                       "version %d", val[K_VERSION], nr->name, nr->version);
    for (int k = 0; k < K_END; k++)
        if (line_of[k] && !(nr->keys & BIT(k)))
            return dx_fail(err, "meta.arch line %d: unknown key '%s' for %s "
                           "(version %d)", line_of[k], KEYS[k], nr->name,
                           nr->version);
    for (int k = 0; k < K_END; k++)
        if ((nr->keys & BIT(k)) && !line_of[k])
            return dx_fail(err, "meta.arch has no '%s' line", KEYS[k]);
    for (int k = K_VERSION + 1; k < K_END; k++)
        if (line_of[k] && parse_value(a, k, val[k]))
            return dx_fail(err, "meta.arch line %d: bad value '%s' for '%s', "
                           "expected %s", line_of[k], val[k], KEYS[k],
                           WANT[k]);
    return dx_arch_check(a, err);
}

/* The shortest %.Ng (N <= 9) that reads back as the same float. */
static void shortest(char *buf, size_t cap, float v)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, cap, "%.*g", digits, (double)v);
        if ((float)strtod(buf, NULL) == v)
            return;
    }
}

int dx_arch_format(const dx_arch *a, char *buf, size_t cap)
{
    char m[3][32], s[3][32];
    for (int i = 0; i < 3; i++) {
        shortest(m[i], sizeof m[i], a->mean[i]);
        shortest(s[i], sizeof s[i], a->std[i]);
    }
    int n;
    if (a->net == DX_NET_DEEPLABV2)
        n = snprintf(buf, cap,
                     "net=%s\nversion=%d\ndepth=%d\nblocks=%d,%d,%d,%d\n"
                     "width=%d\nstyle=%s\nheads=%d\nbn=%s\nclasses=%d\n"
                     "order=%s\nmean=%s,%s,%s\nstd=%s,%s,%s\n",
                     NETS[a->net].name, NETS[a->net].version, a->depth,
                     a->blocks[0], a->blocks[1], a->blocks[2], a->blocks[3],
                     a->width, dx_arch_style_name(a->style), a->heads,
                     a->bn_trainable ? "train" : "frozen", a->classes,
                     dx_arch_order_name(a->order), m[0], m[1], m[2], s[0],
                     s[1], s[2]);
    else
        n = snprintf(buf, cap,
                     "net=%s\nversion=%d\nwidth=%d\nclasses=%d\n"
                     "mean=%s,%s,%s\nstd=%s,%s,%s\n",
                     NETS[DX_NET_MINI].name, NETS[DX_NET_MINI].version,
                     a->width, a->classes, m[0], m[1], m[2], s[0], s[1],
                     s[2]);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

void dx_arch_describe(const dx_arch *a, char *buf, size_t cap)
{
    if (a->net == DX_NET_DEEPLABV2)
        snprintf(buf, cap, "deeplabv2 depth=%d blocks=%d,%d,%d,%d width=%d "
                 "style=%s classes=%d", a->depth, a->blocks[0], a->blocks[1],
                 a->blocks[2], a->blocks[3], a->width,
                 dx_arch_style_name(a->style), a->classes);
    else
        snprintf(buf, cap, "deeplab-mini width=%d classes=%d", a->width,
                 a->classes);
}

/* ---- the architecture as command-line options ---- */

/* The options, in the order of KEYS without version. */
enum {
    O_NET, O_DEPTH, O_BLOCKS, O_WIDTH, O_STYLE, O_HEADS, O_BN, O_CLASSES,
    O_ORDER, O_MEAN, O_STD
};
_Static_assert(O_STD + 1 == DX_ARCH_NOPTS && K_END == DX_ARCH_NOPTS + 1,
               "one option per key of meta.arch but version");
const char *const dx_arch_opt_names[DX_ARCH_NOPTS + 1] = {
    "net",   "depth",   "blocks", "width", "style", "heads",
    "bn",    "classes", "order",  "mean",  "std",   NULL};

static int key_of_opt(int k)
{
    return k == O_NET ? K_NET : k + 1;
}

void dx_arch_longopts(struct option *out, int code0)
{
    for (int k = 0; k < DX_ARCH_NOPTS; k++)
        out[k] = (struct option){dx_arch_opt_names[k], required_argument,
                                 NULL, code0 + k};
    out[DX_ARCH_NOPTS] = (struct option){0, 0, 0, 0};
}

int dx_arch_opt_set(dx_arch_opts *o, int k, const char *value, dx_err *err)
{
    static const char *const want[DX_ARCH_NOPTS] = {
        [O_NET] = "one of deeplab-mini, deeplabv2",
        [O_DEPTH] = "18, 34, 50, 101 or 152",
        [O_BLOCKS] = "four integers B1,B2,B3,B4, each in [1, 64]",
        [O_WIDTH] = "an integer in [1, 512]",
        [O_STYLE] = "one of caffe, pytorch",
        [O_HEADS] = "an integer in [1, 4]",
        [O_BN] = "one of frozen, train",
        [O_CLASSES] = "an integer in [1, 255]",
        [O_ORDER] = "one of rgb, bgr",
        [O_MEAN] = "three finite numbers A,B,C",
        [O_STD] = "three finite numbers A,B,C, each > 0",
    };
    _Static_assert(DX_ARCH_MAX_BLOCKS == 64 && DX_ARCH_MAX_WIDTH == 512 &&
                       DX_ARCH_MAX_CLASSES == 255,
                   "the messages above give these limits");
    if (k < 0 || k >= DX_ARCH_NOPTS)
        return dx_fail(err, "architecture option %d, expected 0..%d", k,
                       DX_ARCH_NOPTS - 1);
    int bad = strlen(value) > MAXVAL;
    if (!bad && k == O_NET)
        bad = (o->v.net = dx_arch_net_parse(value)) < 0;
    else if (!bad)
        bad = parse_value(&o->v, key_of_opt(k), value) != 0;
    if (bad)
        return dx_fail(err, "--%s: expected %s, got '%.*s'",
                       dx_arch_opt_names[k], want[k], MAXVAL, value);
    o->given |= 1u << k;
    return 0;
}

int dx_arch_opt_given(const dx_arch_opts *o, const char *name)
{
    for (int k = 0; k < DX_ARCH_NOPTS; k++)
        if (!strcmp(name, dx_arch_opt_names[k]))
            return (o->given >> k) & 1;
    return 0;
}

int dx_arch_opts_apply(const dx_arch_opts *o, dx_arch *a, dx_err *err)
{
#define GIVEN(k) ((o->given >> (k)) & 1)
    const dx_arch *v = &o->v;
    if (GIVEN(O_NET) && v->net != a->net)
        dx_arch_defaults(a, v->net);
    if (a->net == DX_NET_MINI) {
        static const int v2only[] = {O_DEPTH, O_BLOCKS, O_STYLE, O_HEADS,
                                     O_BN, O_ORDER};
        for (size_t i = 0; i < sizeof v2only / sizeof v2only[0]; i++)
            if (GIVEN(v2only[i]))
                return dx_fail(err, "--%s is an option of deeplabv2 (--net "
                               "deeplabv2)%s", dx_arch_opt_names[v2only[i]],
                               v2only[i] == O_ORDER ? "; deeplab-mini takes "
                                                      "RGB"
                                                    : "");
    } else {
        if (GIVEN(O_DEPTH)) {
            a->depth = v->depth;
            dx_arch_depth_blocks(a->depth, a->blocks);
        }
        if (GIVEN(O_BLOCKS))
            memcpy(a->blocks, v->blocks, sizeof a->blocks);
        if (GIVEN(O_STYLE))
            a->style = v->style;
        if (GIVEN(O_HEADS))
            a->heads = v->heads;
        if (GIVEN(O_BN))
            a->bn_trainable = v->bn_trainable;
        if (GIVEN(O_ORDER)) {
            a->order = v->order;
            dx_arch_norm_of(a->order, a->mean, a->std);
        }
    }
    if (GIVEN(O_WIDTH))
        a->width = v->width;
    if (GIVEN(O_CLASSES))
        a->classes = v->classes;
    if (GIVEN(O_MEAN))
        memcpy(a->mean, v->mean, sizeof a->mean);
    if (GIVEN(O_STD))
        memcpy(a->std, v->std, sizeof a->std);
#undef GIVEN
    return dx_arch_check(a, err);
}
