/* seg-init - write a new, untrained deeplab-mini checkpoint.
 *
 *   seg-init [-o FILE] [--width W] [--classes C] [--seed S]
 *            [--mean R,G,B] [--std R,G,B]
 *   seg-init [-o FILE] --from CKPT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/arch.h"
#include "base/cli.h"
#include "nn/model.h"

#define USAGE                                                                 \
    "usage: seg-init [OPTIONS]\n"                                             \
    "Write a new deeplab-mini checkpoint (the network: seg-init(1)): He-uniform\n" \
    "weights drawn from --seed, meta.iter 0 and zero optimizer state.\n"      \
    "With --from, the weights and batch-norm statistics of a trained\n"       \
    "checkpoint instead, with meta.iter 0 and zero optimizer state: a new\n"  \
    "run that starts from a trained model.\n"                                 \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --width W           stem width w; stages have w, 2w, 4w channels\n"   \
    "                      (default %d, 1..%d)\n"                             \
    "  --classes C         output classes (default %d, 1..%d)\n"             \
    "  --seed S            seed of the initial weights (default 0)\n"        \
    "  --mean R,G,B        input normalisation mean, of x/255\n"             \
    "                      (default %g,%g,%g, ImageNet)\n"                    \
    "  --std R,G,B         input normalisation std, each > 0\n"              \
    "                      (default %g,%g,%g, ImageNet)\n"                    \
    "  --from CKPT         start from the parameters of CKPT (its\n"         \
    "                      architecture; excludes the options above)\n"

static void triple(const char *opt, const char *s, float out[3], int pos)
{
    char buf[256], *p = buf;
    if (strlen(s) >= sizeof buf)
        dx_die("%s: value too long", opt);
    strcpy(buf, s);
    for (int i = 0; i < 3; i++) {
        char *comma = strchr(p, ',');
        if ((i < 2) != (comma != NULL))
            dx_die("%s: expected three numbers R,G,B, got '%s'", opt, s);
        if (comma)
            *comma = 0;
        out[i] = (float)dx_arg_double(opt, p, pos ? 1e-30 : -1e30, 1e30);
        p = comma ? comma + 1 : p;
    }
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_cli cli = {.take = DX_CLI_OUTPUT};
    static const struct option longopts[] = {
        {"width", required_argument, NULL, 'w'},
        {"classes", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 's'},
        {"mean", required_argument, NULL, 'M'},
        {"std", required_argument, NULL, 'S'},
        {"from", required_argument, NULL, 'F'},
        {0, 0, 0, 0}};
    const char *from = NULL;
    int arch_opts = 0;
    uint64_t seed = 0;
    dx_arch a;
    dx_arch_default(&a);
    int c;
    while ((c = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case 'w':
            a.width = (int)dx_arg_long("--width", optarg, 1,
                                       DX_ARCH_MAX_WIDTH);
            break;
        case 'c':
            a.classes = (int)dx_arg_long("--classes", optarg, 1,
                                         DX_ARCH_MAX_CLASSES);
            break;
        case 's':
            seed = dx_arg_u64("--seed", optarg);
            break;
        case 'M':
            triple("--mean", optarg, a.mean, 0);
            break;
        case 'S':
            triple("--std", optarg, a.std, 1);
            break;
        case 'F':
            from = optarg;
            break;
        case 'h': {
            dx_arch d;
            dx_arch_default(&d);
            dx_cli_help(&cli, USAGE, d.width, DX_ARCH_MAX_WIDTH, d.classes,
                        DX_ARCH_MAX_CLASSES, d.mean[0], d.mean[1], d.mean[2],
                        d.std[0], d.std[1], d.std[2]);
        }
        }
        arch_opts += c == 'w' || c == 'c' || c == 's' || c == 'M' || c == 'S';
    }
    dx_cli_end(&cli, argc, argv);
    if (from && arch_opts)
        dx_die("--from takes the architecture and weights of its checkpoint; "
               "it excludes --width, --classes, --seed, --mean and --std");
    dx_err err;
    dx_model m;
    if (from) {
        if (dx_model_read(&m, from, &err))
            dx_die_err(&err);
        m.iter = 0;
        memset(m.mom, 0, m.nparam * sizeof *m.mom);
    } else if (dx_model_init(&m, &a, seed, &err)) {
        dx_die_err(&err);
    }
    if (dx_model_save(&m, cli.out, 1, &err))
        dx_die_err(&err);
    dx_model_free(&m);
    return 0;
}
