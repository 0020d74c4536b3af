/* seg-init - write a new, untrained network checkpoint.
 *
 *   seg-init [-o FILE] [--net NET] [--depth D] [--blocks B1,B2,B3,B4]
 *            [--width W] [--style S] [--heads K] [--bn MODE] [--order O]
 *            [--classes C] [--seed S] [--mean A,B,C] [--std A,B,C]
 *   seg-init [-o FILE] --from CKPT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "nn/arch.h"
#include "nn/model.h"

/* printf arguments, in order: deeplab-mini's width and deeplabv2's, the
 * largest width, the classes and their largest, ImageNet's mean and std,
 * the largest blocks per layer */
#define USAGE                                                                 \
    "usage: seg-init [OPTIONS]\n"                                             \
    "Write a new checkpoint of a network (each is defined layer by layer in\n" \
    "seg-init(1)), its weights drawn from --seed, meta.iter 0 and zero\n"     \
    "optimizer state.  With --from, the weights and batch-norm statistics of\n" \
    "a trained checkpoint instead, with meta.iter 0 and zero optimizer\n"     \
    "state: a new run that starts from a trained model.\n"                    \
    "\n"                                                                      \
    "networks:\n"                                                             \
    "  deeplab-mini   a small DeepLabv2-style net of 3x3 convolutions, width\n" \
    "                 w (w, 2w, 4w channels), output stride 8; He-uniform\n"  \
    "  deeplabv2      DeepLabv2 on a dilated ResNet as DACS uses it: 7x7 stem,\n" \
    "                 max-pool, layer1-4 (layer3 dilation 2, layer4 4),\n"    \
    "                 output stride 8, ASPP head (layer5) of dilations 6, 12,\n" \
    "                 18, 24; PyTorch state_dict names; normal(0, 0.01)\n"    \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --net NET           deeplab-mini or deeplabv2 (default deeplab-mini)\n" \
    "  --width W           stem width (default %d for deeplab-mini, %d for\n" \
    "                      deeplabv2; 1..%d)\n"                               \
    "  --classes C         output classes (default %d, 1..%d)\n"             \
    "  --seed S            seed of the initial weights (default 0)\n"        \
    "  --mean A,B,C        input mean of x/255, per conv1 input channel\n"   \
    "                      (default: ImageNet's %g,%g,%g for RGB, the Caffe\n" \
    "                      mean (104.00698793,116.66876762,122.67891434)/255\n" \
    "                      for BGR)\n"                                        \
    "  --std A,B,C         input std, each > 0 (default: ImageNet's\n"       \
    "                      %g,%g,%g for RGB, 1/255 for BGR)\n"                \
    "  --from CKPT         start from the parameters of CKPT (its\n"         \
    "                      architecture; excludes every option but -o)\n"    \
    "deeplabv2 only:\n"                                                       \
    "  --depth D           ResNet depth: 18 or 34 (basic blocks), 50, 101 or\n" \
    "                      152 (bottleneck blocks) (default 101)\n"           \
    "  --blocks B1,B2,B3,B4  blocks of layer1..4, 1..%d each (default: the\n" \
    "                      depth's, 101: 3,4,23,3; fewer for small tests)\n" \
    "  --style S           caffe (layer2 strides in its 1x1 conv1, ceil-mode\n" \
    "                      max-pool: 512x512 gives 65x65 logits, DACS) or\n" \
    "                      pytorch (torchvision: the stride in the 3x3,\n"   \
    "                      floor mode: 64x64) (default caffe)\n"             \
    "  --heads K           ASPP branches summed, 1..4; all four are stored\n" \
    "                      (default 2: the DACS code sums only the first two)\n" \
    "  --bn MODE           frozen (batch-norm weight and bias not trained, as\n" \
    "                      DACS) or train (default frozen)\n"                \
    "  --order O           channel order fed to conv1: bgr (Caffe weights,\n" \
    "                      DACS) or rgb (torchvision weights) (default bgr)\n"

static void triple(const char *opt, const char *s, float out[3], int pos)
{
    char buf[256], *p = buf;
    if (strlen(s) >= sizeof buf)
        dx_die("%s: value too long", opt);
    strcpy(buf, s);
    for (int i = 0; i < 3; i++) {
        char *comma = strchr(p, ',');
        if ((i < 2) != (comma != NULL))
            dx_die("%s: expected three numbers, got '%s'", opt, s);
        if (comma)
            *comma = 0;
        out[i] = (float)dx_arg_double(opt, p, pos ? 1e-30 : -1e30, 1e30);
        p = comma ? comma + 1 : p;
    }
}

static void blocks(const char *s, int out[4])
{
    char buf[64], *p = buf;
    if (strlen(s) >= sizeof buf)
        dx_die("--blocks: value too long");
    strcpy(buf, s);
    for (int i = 0; i < 4; i++) {
        char *comma = strchr(p, ',');
        if ((i < 3) != (comma != NULL))
            dx_die("--blocks: expected four numbers B1,B2,B3,B4, got '%s'",
                   s);
        if (comma)
            *comma = 0;
        out[i] = (int)dx_arg_long("--blocks", p, 1, DX_ARCH_MAX_BLOCKS);
        p = comma ? comma + 1 : p;
    }
}

/* The options, as given; 0 or NULL when not. */
static struct {
    const char *from;
    int net, width, classes, depth, heads, style, bn, order;
    int blocks[4], have_blocks, have_mean, have_std, have_seed;
    float mean[3], std[3];
    uint64_t seed;
} opt = {.net = DX_NET_MINI, .style = -1, .bn = -1, .order = -1};

static dx_arch arch_of_options(void)
{
    static const char *const v2only = "is an option of deeplabv2 (--net "
                                       "deeplabv2)";
    dx_arch a;
    dx_arch_defaults(&a, opt.net);
    if (opt.net == DX_NET_MINI) {
        if (opt.depth)
            dx_die("--depth %s", v2only);
        if (opt.have_blocks)
            dx_die("--blocks %s", v2only);
        if (opt.style >= 0)
            dx_die("--style %s", v2only);
        if (opt.heads)
            dx_die("--heads %s", v2only);
        if (opt.bn >= 0)
            dx_die("--bn %s", v2only);
        if (opt.order >= 0)
            dx_die("--order %s; deeplab-mini takes RGB", v2only);
    } else {
        if (opt.depth) {
            a.depth = opt.depth;
            dx_arch_depth_blocks(a.depth, a.blocks);
        }
        if (opt.have_blocks)
            memcpy(a.blocks, opt.blocks, sizeof a.blocks);
        if (opt.style >= 0)
            a.style = opt.style;
        if (opt.heads)
            a.heads = opt.heads;
        if (opt.bn >= 0)
            a.bn_trainable = opt.bn;
        if (opt.order >= 0) {
            a.order = opt.order;
            dx_arch_norm_of(a.order, a.mean, a.std);
        }
    }
    if (opt.width)
        a.width = opt.width;
    if (opt.classes)
        a.classes = opt.classes;
    if (opt.have_mean)
        memcpy(a.mean, opt.mean, sizeof a.mean);
    if (opt.have_std)
        memcpy(a.std, opt.std, sizeof a.std);
    dx_err err;
    if (dx_arch_check(&a, &err))
        dx_die_err(&err);
    return a;
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_cli cli = {.take = DX_CLI_OUTPUT};
    enum { O_NET = DX_OPT_TOOL, O_DEPTH, O_BLOCKS, O_STYLE, O_HEADS, O_BN,
           O_ORDER };
    static const struct option longopts[] = {
        {"net", required_argument, NULL, O_NET},
        {"depth", required_argument, NULL, O_DEPTH},
        {"blocks", required_argument, NULL, O_BLOCKS},
        {"width", required_argument, NULL, 'w'},
        {"style", required_argument, NULL, O_STYLE},
        {"heads", required_argument, NULL, O_HEADS},
        {"bn", required_argument, NULL, O_BN},
        {"order", required_argument, NULL, O_ORDER},
        {"classes", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 's'},
        {"mean", required_argument, NULL, 'M'},
        {"std", required_argument, NULL, 'S'},
        {"from", required_argument, NULL, 'F'},
        {0, 0, 0, 0}};
    static const char *const nets[] = {"deeplab-mini", "deeplabv2", NULL};
    static const char *const styles[] = {"caffe", "pytorch", NULL};
    static const char *const bns[] = {"frozen", "train", NULL};
    static const char *const orders[] = {"rgb", "bgr", NULL};
    int arch_opts = 0, c;
    while ((c = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case O_NET:
            opt.net = dx_arg_enum("--net", optarg, nets);
            break;
        case O_DEPTH: {
            int b[4];
            opt.depth = (int)dx_arg_long("--depth", optarg, 1, 999);
            if (dx_arch_depth_blocks(opt.depth, b))
                dx_die("--depth: expected 18, 34, 50, 101 or 152, got '%s'",
                       optarg);
            break;
        }
        case O_BLOCKS:
            blocks(optarg, opt.blocks);
            opt.have_blocks = 1;
            break;
        case 'w':
            opt.width = (int)dx_arg_long("--width", optarg, 1,
                                         DX_ARCH_MAX_WIDTH);
            break;
        case O_STYLE:
            opt.style = dx_arg_enum("--style", optarg, styles);
            break;
        case O_HEADS:
            opt.heads = (int)dx_arg_long("--heads", optarg, 1, 4);
            break;
        case O_BN:
            opt.bn = dx_arg_enum("--bn", optarg, bns);
            break;
        case O_ORDER:
            opt.order = dx_arg_enum("--order", optarg, orders);
            break;
        case 'c':
            opt.classes = (int)dx_arg_long("--classes", optarg, 1,
                                           DX_ARCH_MAX_CLASSES);
            break;
        case 's':
            opt.seed = dx_arg_u64("--seed", optarg);
            break;
        case 'M':
            triple("--mean", optarg, opt.mean, 0);
            opt.have_mean = 1;
            break;
        case 'S':
            triple("--std", optarg, opt.std, 1);
            opt.have_std = 1;
            break;
        case 'F':
            opt.from = optarg;
            break;
        case 'h': {
            dx_arch mini, v2;
            dx_arch_defaults(&mini, DX_NET_MINI);
            dx_arch_defaults(&v2, DX_NET_DEEPLABV2);
            dx_cli_help(&cli, USAGE, mini.width, v2.width, DX_ARCH_MAX_WIDTH,
                        mini.classes, DX_ARCH_MAX_CLASSES, mini.mean[0],
                        mini.mean[1], mini.mean[2], mini.std[0], mini.std[1],
                        mini.std[2], DX_ARCH_MAX_BLOCKS);
        }
        }
        arch_opts += c != 'F';
    }
    dx_cli_end(&cli, argc, argv);
    if (opt.from && arch_opts)
        dx_die("--from takes the architecture and weights of its checkpoint; "
               "it excludes every option but -o");
    dx_err err;
    dx_model m;
    if (opt.from) {
        if (dx_model_read(&m, opt.from, &err) ||
            dx_model_alloc_state(&m, 0, &err))
            dx_die_err(&err);
        m.iter = 0;
        memset(m.state[0], 0, m.nparam * sizeof *m.state[0]);
    } else {
        dx_arch a = arch_of_options();
        if (dx_model_init(&m, &a, opt.seed, &err))
            dx_die_err(&err);
    }
    if (dx_model_save(&m, cli.out, 1, &err))
        dx_die_err(&err);
    dx_model_free(&m);
    return 0;
}
