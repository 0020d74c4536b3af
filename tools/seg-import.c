/* seg-import - a PyTorch, safetensors or NumPy weights file to a dacs
 * checkpoint.
 *
 *   seg-import [OPTIONS] FILE [-o CKPT] [--teacher-out CKPT]
 *   seg-import --list FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "io/tensorset.h"
#include "nn/keymap.h"
#include "nn/model.h"
#include "nn/statedict.h"

#define USAGE                                                                 \
    "usage: seg-import [OPTIONS] FILE [-o CKPT] [--teacher-out CKPT]\n"     \
    "       seg-import --list FILE\n"                                        \
    "Read a PyTorch checkpoint (.pth/.pt, zip or legacy format), a\n"        \
    "safetensors or a NumPy .npz file and write the dacs checkpoint of the\n" \
    "network it holds.  The pickle is read without running anything: a\n"    \
    "file that names any function but PyTorch's tensor rebuilders is\n"      \
    "refused.  The network, the key map and the state_dict's place in the\n" \
    "file are recognised from names and shapes (said on stderr); the\n"      \
    "match is exact: every tensor of the file and of the network must be\n"  \
    "accounted for (seg-import(1)).\n"                                       \
    "\n"                                                                     \
    "options:\n"                                                             \
    "  --teacher-out CKPT  also the teacher (EMA) state_dict of a DACS\n"    \
    "                      training checkpoint ('ema_model')\n"              \
    "  --list              print the file's entries (name, type, shape or\n" \
    "                      value) to stdout, converting nothing\n"           \
    "  --map NAME          key map: dacs, torchvision or mmseg (default:\n"  \
    "                      whichever fits)\n"                                \
    "  --rules FILE        more key-map rules, after the map's\n"            \
    "  --init PATTERN      network tensors matching PATTERN may be left to\n" \
    "                      initialise (rule 'init'; repeatable)\n"           \
    "  --drop PATTERN      file keys matching PATTERN are left out (rule\n"  \
    "                      'drop'; repeatable)\n"                            \
    "  --key PREFIX        the state_dict to import, by its key path (e.g.\n" \
    "                      model, state_dict; '' the top; default: found)\n" \
    "  --teacher-key PREFIX  the teacher's key path (default: found)\n"      \
    "  --seed S            seed of tensors left to initialise, as seg-init\n" \
    "                      (default 0)\n"                                    \
    "  --iter N            meta.iter (default: the file's DACS 'iteration'\n" \
    "                      + 1, else 0)\n"                                   \
    "architecture (default: recognised; seg-init(1) defines each):\n"       \
    "  --net NET           deeplab-mini or deeplabv2: only that one is tried\n" \
    "  --depth D, --blocks B1,B2,B3,B4, --width W\n"                         \
    "                      the ResNet, as the file's shapes give it\n"       \
    "  --style S           caffe or pytorch (default: caffe for the dacs\n"  \
    "                      map, pytorch for torchvision and mmseg)\n"        \
    "  --heads K           ASPP branches summed (default: 2; mmseg: the\n"   \
    "                      branches in the file)\n"                          \
    "  --bn MODE           frozen or train (default frozen)\n"               \
    "  --classes C         output classes (default: the file's head; other\n" \
    "                      classes leave the head to initialise)\n"         \
    "  --order O           bgr or rgb, with that order's mean and std\n"     \
    "                      (default: bgr and the Caffe mean for the dacs\n"  \
    "                      map, rgb and ImageNet's for the others)\n"        \
    "  --mean A,B,C, --std A,B,C   input normalisation of x/255\n"

static struct {
    const char *teacher_out, *map, *key, *teacher_key;
    int list;
    uint64_t seed;
    long iter;
    dx_arch_opts arch;
    dx_keymap extra;
    dx_cli cli;
} opt = {.iter = -1, .cli.take = DX_CLI_OUTPUT | DX_CLI_QUIET};

static void add_rule(int kind, const char *pattern, const char *o)
{
    dx_err err;
    if (dx_keymap_add(&opt.extra, kind, pattern, NULL, o, &err))
        dx_die_err(&err);
}

static void list(const dx_tset *ts, const char *file)
{
    printf("# %s: %s, %d entries\n", file, dx_tformat_name(ts->format),
           ts->n);
    for (int k = 0; k < ts->n; k++) {
        const dx_tentry *e = &ts->v[k];
        char sh[256];
        switch (e->kind) {
        case DX_TE_TENSOR:
            printf("%s\t%s\t%s\n", e->name, dx_ttype_name(e->dtype),
                   dx_tentry_shape_str(e, sh, sizeof sh));
            break;
        case DX_TE_INT:
            printf("%s\tint\t%lld\n", e->name, (long long)e->i[0]);
            break;
        case DX_TE_BOOL:
            printf("%s\tbool\t%s\n", e->name, e->i[0] ? "True" : "False");
            break;
        case DX_TE_FLOAT:
            printf("%s\tfloat\t%.9g\n", e->name, e->x);
            break;
        case DX_TE_STR:
            printf("%s\tstr\t%.60s%s\n", e->name, e->s,
                   strlen(e->s) > 60 ? "..." : "");
            break;
        default:
            printf("%s\tNone\t-\n", e->name);
        }
    }
}

/* Import the state_dict under root, or die listing what does not match. */
static void import(dx_model *m, const dx_tset *ts, const dx_sd_plan *p,
                   const char *root, const char *file, dx_match *r)
{
    dx_err err;
    if (!dx_sd_import(m, ts, p, root, opt.seed, r, &err))
        return;
    static const char HINT[] = "(--init PATTERN leaves network tensors to "
                               "initialise, --drop PATTERN leaves keys out, "
                               "--rules FILE says more; see seg-import(1))";
    if (r->nproblem == 1)
        dx_die("%s: %s; map '%s' does not account for it %s", file,
               r->problem[0], p->map.name, HINT);
    for (int i = 0; i < r->nproblem; i++)
        dx_note("%s: %s", file, r->problem[i]);
    dx_die("%s: %s %s", file, err.msg, HINT);
}

static void report(const char *file, const dx_tset *ts, const dx_sd_plan *p,
                   const dx_match *r, const char *what, const char *root)
{
    char desc[256];
    if (opt.cli.quiet)
        return;
    dx_arch_describe(&p->arch, desc, sizeof desc);
    if (p->arch.net == DX_NET_DEEPLABV2)
        snprintf(desc + strlen(desc), sizeof desc - strlen(desc),
                 " heads=%d input %s", p->arch.heads,
                 p->arch.order == DX_ORDER_BGR ? "BGR minus the Caffe mean"
                                               : "RGB");
    dx_note("%s: %s; %s '%s' is %s by map %s: %d of %d tensors from the "
            "file, %d left to initialise, %d dropped, %d batch counters "
            "ignored", file, dx_tformat_name(ts->format), what, root, desc,
            p->map.name, r->imported, p->ntensors, r->initialised,
            r->dropped, r->counters);
    for (int i = 0; i < r->nnote; i++)
        dx_note("%s: %s", file, r->note[i]);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    enum { O_TEACHER_OUT = DX_OPT_TOOL, O_LIST, O_MAP, O_RULES, O_INIT,
           O_DROP, O_KEY, O_TEACHER_KEY, O_SEED, O_ITER, O_ARCH };
    struct option longopts[10 + DX_ARCH_NOPTS + 1] = {
        {"teacher-out", required_argument, NULL, O_TEACHER_OUT},
        {"list", no_argument, NULL, O_LIST},
        {"map", required_argument, NULL, O_MAP},
        {"rules", required_argument, NULL, O_RULES},
        {"init", required_argument, NULL, O_INIT},
        {"drop", required_argument, NULL, O_DROP},
        {"key", required_argument, NULL, O_KEY},
        {"teacher-key", required_argument, NULL, O_TEACHER_KEY},
        {"seed", required_argument, NULL, O_SEED},
        {"iter", required_argument, NULL, O_ITER}};
    dx_arch_longopts(longopts + 10, O_ARCH);
    dx_err err;
    int c;
    dx_keymap_init(&opt.extra, "options");
    while ((c = dx_cli_next(&opt.cli, argc, argv, "", longopts)) != -1) {
        switch (c) {
        case O_TEACHER_OUT:
            opt.teacher_out = optarg;
            break;
        case O_LIST:
            opt.list = 1;
            break;
        case O_MAP:
            opt.map = optarg;
            if (!dx_keymap_describe(optarg))
                dx_die("--map: unknown map '%s', expected dacs, torchvision "
                       "or mmseg", optarg);
            break;
        case O_RULES:
            if (dx_keymap_read(&opt.extra, optarg, &err))
                dx_die_err(&err);
            break;
        case O_INIT:
            add_rule(DX_RULE_INIT, optarg, "--init");
            break;
        case O_DROP:
            add_rule(DX_RULE_DROP, optarg, "--drop");
            break;
        case O_KEY:
            opt.key = optarg;
            break;
        case O_TEACHER_KEY:
            opt.teacher_key = optarg;
            break;
        case O_SEED:
            opt.seed = dx_arg_u64("--seed", optarg);
            break;
        case O_ITER:
            opt.iter = dx_arg_long("--iter", optarg, 0, INT32_MAX);
            break;
        case 'h':
            dx_cli_help(&opt.cli, USAGE);
        default:
            if (dx_arch_opt_set(&opt.arch, c - O_ARCH, optarg, &err))
                dx_die_err(&err);
        }
    }
    if (optind + 1 != argc)
        dx_die("expected one input FILE (see --help), got %d", argc - optind);
    const char *file = argv[optind];
    if (opt.list && (opt.cli.out || opt.teacher_out))
        dx_die("--list writes no checkpoint; it excludes -o and "
               "--teacher-out");
    if (opt.teacher_out &&
        (!strcmp(opt.teacher_out, "-") ||
         (opt.cli.out && !strcmp(opt.cli.out, opt.teacher_out))))
        dx_die("--teacher-out must name a file of its own, not '%s'",
               opt.teacher_out);
    dx_tset ts;
    if (dx_tset_read(&ts, file, opt.list ? DX_TS_LIST : 0, &err))
        dx_die_err(&err);
    if (opt.list) {
        list(&ts, file);
        dx_tset_free(&ts);
        return 0;
    }
    dx_sd_opts so = {.map = opt.map, .extra = &opt.extra, .key = opt.key,
                     .teacher_key = opt.teacher_key,
                     .teacher = opt.teacher_out != NULL,
                     .arch = &opt.arch};
    dx_sd_plan p;
    if (dx_sd_recognise(&ts, &so, &p, &err))
        dx_die("%s: %s", file, err.msg);
    dx_model m, t;
    dx_match rm, rt;
    import(&m, &ts, &p, p.root, file, &rm);
    report(file, &ts, &p, &rm, "state_dict", p.root);
    if (p.has_teacher) {
        import(&t, &ts, &p, p.teacher, file, &rt);
        report(file, &ts, &p, &rt, "teacher", p.teacher);
    } else if (p.spare[0] && !opt.cli.quiet) {
        dx_note("%s: the file also holds a teacher under '%s' (write it with "
                "--teacher-out)", file, p.spare);
    }
    long iter = opt.iter >= 0 ? opt.iter
                : p.has_iteration && p.iteration >= 0 &&
                        p.iteration < INT32_MAX
                    ? (long)p.iteration + 1
                    : 0;
    if (!opt.cli.quiet && opt.iter < 0 && p.has_iteration)
        dx_note("%s: iteration %lld (the last step taken), so meta.iter %ld",
                file, (long long)p.iteration, iter);
    m.iter = iter;
    if (dx_model_save(&m, opt.cli.out, 1, &err))
        dx_die_err(&err);
    if (p.has_teacher) {
        t.iter = iter;
        if (dx_model_save(&t, opt.teacher_out, 0, &err))
            dx_die_err(&err);
        dx_model_free(&t);
        dx_match_free(&rt);
    }
    dx_model_free(&m);
    dx_match_free(&rm);
    dx_sd_plan_free(&p);
    dx_tset_free(&ts);
    dx_keymap_free(&opt.extra);
    return 0;
}
