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

static struct {
    const char *from;
    uint64_t seed;
    dx_arch_opts arch;
} opt;

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_cli cli = {.take = DX_CLI_OUTPUT};
    enum { O_SEED = DX_OPT_TOOL, O_FROM, O_ARCH };
    struct option longopts[2 + DX_ARCH_NOPTS + 1] = {
        {"seed", required_argument, NULL, O_SEED},
        {"from", required_argument, NULL, O_FROM}};
    dx_arch_longopts(longopts + 2, O_ARCH);
    dx_err err;
    int arch_opts = 0, c;
    while ((c = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        if (c >= O_ARCH && c < O_ARCH + DX_ARCH_NOPTS) {
            if (dx_arch_opt_set(&opt.arch, c - O_ARCH, optarg, &err))
                dx_die_err(&err);
            arch_opts++;
        } else if (c == O_SEED) {
            opt.seed = dx_arg_u64("--seed", optarg);
            arch_opts++;
        } else if (c == O_FROM) {
            opt.from = optarg;
        } else if (c == 'h') {
            dx_arch mini, v2;
            dx_arch_defaults(&mini, DX_NET_MINI);
            dx_arch_defaults(&v2, DX_NET_DEEPLABV2);
            dx_cli_help(&cli, USAGE, mini.width, v2.width, DX_ARCH_MAX_WIDTH,
                        mini.classes, DX_ARCH_MAX_CLASSES, mini.mean[0],
                        mini.mean[1], mini.mean[2], mini.std[0], mini.std[1],
                        mini.std[2], DX_ARCH_MAX_BLOCKS);
        }
    }
    dx_cli_end(&cli, argc, argv);
    if (opt.from && arch_opts)
        dx_die("--from takes the architecture and weights of its checkpoint; "
               "it excludes every option but -o");
    dx_model m;
    if (opt.from) {
        if (dx_model_read(&m, opt.from, &err) ||
            dx_model_alloc_state(&m, 0, &err))
            dx_die_err(&err);
        m.iter = 0;
        memset(m.state[0], 0, m.nparam * sizeof *m.state[0]);
    } else {
        dx_arch a;
        dx_arch_default(&a);
        if (dx_arch_opts_apply(&opt.arch, &a, &err) ||
            dx_model_init(&m, &a, opt.seed, &err))
            dx_die_err(&err);
    }
    if (dx_model_save(&m, cli.out, 1, &err))
        dx_die_err(&err);
    dx_model_free(&m);
    return 0;
}
