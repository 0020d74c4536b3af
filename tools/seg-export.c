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

#define USAGE                                                                 \
    "usage: seg-export [OPTIONS] CKPT -o FILE\n"                             \
    "Write the parameters and batch-norm statistics of a dacs checkpoint as\n" \
    "a state_dict that torch.load and load_state_dict(strict=True) accept\n" \
    "for the network's PyTorch module, with PyTorch's num_batches_tracked\n" \
    "buffers (0); or as safetensors or NumPy .npz with the same names.\n"    \
    "What was written is said on stderr.  -o FILE is required: a zip or\n" \
    "safetensors file is not written to a pipe.\n"                         \
    "\n"                                                                     \
    "options:\n"                                                             \
    "  --format F          torch (zip format, as torch.save), safetensors or\n" \
    "                      npz (default: by FILE's extension: .pth .pt .bin,\n" \
    "                      .safetensors, .npz)\n"                            \
    "  --teacher CKPT      write a DACS training checkpoint instead: a dict\n" \
    "                      {'iteration', 'model', 'ema_model'} with CKPT as\n" \
    "                      the EMA teacher (safetensors, npz: the same names\n" \
    "                      joined with '.')\n"                               \
    "  --prefix P          put P before every key (e.g. 'module.' for\n"     \
    "                      DataParallel)\n"                                  \
    "  CKPT                the checkpoint (a student or a teacher)\n"

static void check_prefix(const char *p)
{
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == 0x7f)
            dx_die("--prefix: '%s' holds a blank or a control character", p);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    enum { O_FORMAT = DX_OPT_TOOL, O_TEACHER, O_PREFIX };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, O_FORMAT},
        {"teacher", required_argument, NULL, O_TEACHER},
        {"prefix", required_argument, NULL, O_PREFIX},
        {0, 0, 0, 0}};
    static const char *const formats[] = {"torch", "safetensors", "npz",
                                          NULL};
    static const int format_of[] = {DX_TF_TORCH, DX_TF_SAFETENSORS,
                                    DX_TF_NPZ};
    dx_cli cli = {.take = DX_CLI_OUTPUT | DX_CLI_QUIET};
    const char *teacher = NULL, *prefix = "", *in = NULL;
    int format = DX_TF_NONE, c;
    while ((c = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case O_FORMAT:
            format = format_of[dx_arg_enum("--format", optarg, formats)];
            break;
        case O_TEACHER:
            teacher = optarg;
            break;
        case O_PREFIX:
            check_prefix(optarg);
            prefix = optarg;
            break;
        case 'h':
            dx_cli_help(&cli, USAGE);
        }
    }
    dx_arg_input(argc, argv, optind, &in);
    if (!in)
        dx_die("no checkpoint: give CKPT (see --help)");
    const char *out = cli.out;
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
    if (!cli.quiet) {
        char desc[128];
        int tensors = 0, counters = 0;
        for (int k = 0; k < ts.n; k++) {
            tensors += ts.v[k].kind == DX_TE_TENSOR;
            counters += ts.v[k].kind == DX_TE_TENSOR &&
                        ts.v[k].dtype == DX_TT_I64;
        }
        dx_arch_describe(&m.arch, desc, sizeof desc);
        dx_note("%s: %s, %s%s: %d tensors, %d of them num_batches_tracked",
                out, dx_tformat_name(format), desc,
                teacher ? ", student 'model.' and teacher 'ema_model.'" : "",
                tensors, counters);
    }
    dx_tset_free(&ts);
    dx_model_free(&m);
    return 0;
}
