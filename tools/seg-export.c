/* seg-export - a dacs checkpoint to a PyTorch state_dict, a safetensors or
 * a NumPy .npz file.
 *
 *   seg-export [OPTIONS] CKPT -o FILE
 */
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "io/tensorset.h"
#include "nn/model.h"
#include "nn/statedict.h"

static const char USAGE[] =
    "usage: seg-export [OPTIONS] CKPT -o FILE\n"
    "Write the parameters and batch-norm statistics of a dacs checkpoint as\n"
    "a state_dict that torch.load and load_state_dict(strict=True) accept\n"
    "for the network's PyTorch module, with PyTorch's num_batches_tracked\n"
    "buffers (0); or as safetensors or NumPy .npz with the same names.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   the file, written atomically (required)\n"
    "  --format F          torch (zip format, as torch.save), safetensors or\n"
    "                      npz (default: by FILE's extension: .pth .pt .bin,\n"
    "                      .safetensors, .npz)\n"
    "  --teacher CKPT      write a DACS training checkpoint instead: a dict\n"
    "                      {'iteration', 'model', 'ema_model'} with CKPT as\n"
    "                      the EMA teacher (safetensors, npz: the same names\n"
    "                      joined with '.')\n"
    "  --prefix P          put P before every key (e.g. 'module.' for\n"
    "                      DataParallel)\n"
    "  -h, --help          show this help\n";

static void check_prefix(const char *p)
{
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == 0x7f)
            dx_die("--prefix: '%s' holds a blank or a control character", p);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"teacher", required_argument, NULL, 'T'},
        {"prefix", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    static const char *const formats[] = {"torch", "safetensors", "npz",
                                          NULL};
    static const int format_of[] = {DX_TF_TORCH, DX_TF_SAFETENSORS,
                                    DX_TF_NPZ};
    const char *out = NULL, *teacher = NULL, *prefix = "", *in = NULL;
    int format = DX_TF_NONE, c;
    while ((c = dx_getopt(argc, argv, "o:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'f':
            format = format_of[dx_arg_enum("--format", optarg, formats)];
            break;
        case 'T':
            teacher = optarg;
            break;
        case 'p':
            check_prefix(optarg);
            prefix = optarg;
            break;
        case 'h':
            dx_help(USAGE);
        }
    }
    dx_arg_input(argc, argv, optind, &in);
    if (!in)
        dx_die("no checkpoint: give CKPT (see --help)");
    if (!out || !strcmp(out, "-"))
        dx_die("no output file: give -o FILE (a zip or safetensors file is "
               "not written to a pipe)");
    if (format == DX_TF_NONE && (format = dx_tformat_of_path(out)) ==
                                    DX_TF_NONE)
        dx_die("%s: cannot tell the format from the extension (expected "
               ".pth, .pt, .bin, .safetensors or .npz); give --format", out);
    dx_err err;
    dx_model m, t;
    dx_tset ts;
    dx_tset_init(&ts);
    if (dx_model_read(&m, in, &err))
        dx_die_err(&err);
    if (!teacher) {
        if (dx_sd_export(&m, &ts, "", prefix, &err))
            dx_die_err(&err);
    } else {
        if (dx_model_read(&t, teacher, &err))
            dx_die_err(&err);
        char a[DX_ARCH_MAX_TEXT], b[DX_ARCH_MAX_TEXT];
        if (dx_arch_format(&m.arch, a, sizeof a) < 0 ||
            dx_arch_format(&t.arch, b, sizeof b) < 0 || strcmp(a, b))
            dx_die("%s: the teacher's architecture differs from the "
                   "student's (%s)", teacher, in);
        /* DACS saves the index of the last step taken */
        dx_tentry *e = dx_tset_add(&ts, "", "iteration", DX_TE_INT, &err);
        if (!e || !(e->i = malloc(sizeof *e->i)))
            dx_die("out of memory");
        e->i[0] = m.iter - 1;
        if (dx_sd_export(&m, &ts, "model", prefix, &err) ||
            dx_sd_export(&t, &ts, "ema_model", prefix, &err))
            dx_die_err(&err);
        dx_model_free(&t);
    }
    if (dx_tset_write(&ts, out, format, &err))
        dx_die_err(&err);
    dx_tset_free(&ts);
    dx_model_free(&m);
    return 0;
}
