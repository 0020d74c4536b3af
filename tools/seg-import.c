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

static const char USAGE[] =
    "usage: seg-import [OPTIONS] FILE [-o CKPT]\n"
    "       seg-import --list FILE\n"
    "Read a PyTorch checkpoint (.pth/.pt, zip or legacy format), a\n"
    "safetensors or a NumPy .npz file and write the dacs checkpoint of the\n"
    "network it holds.  The pickle is read without running anything: a\n"
    "file that names any function but PyTorch's tensor rebuilders is\n"
    "refused.  The network, the key map and the state_dict's place in the\n"
    "file are recognised from names and shapes (said on stderr); the\n"
    "match is exact: every tensor of the file and of the network must be\n"
    "accounted for (seg-import(1)).\n"
    "\n"
    "options:\n"
    "  -o, --output CKPT   the (student) checkpoint, written atomically\n"
    "                      (default: stdout)\n"
    "  --teacher-out CKPT  also the teacher (EMA) state_dict of a DACS\n"
    "                      training checkpoint ('ema_model')\n"
    "  --list              print the file's entries (name, type, shape or\n"
    "                      value) to stdout, converting nothing\n"
    "  --map NAME          key map: dacs, torchvision or mmseg (default:\n"
    "                      whichever fits)\n"
    "  --rules FILE        more key-map rules, after the map's\n"
    "  --init PATTERN      network tensors matching PATTERN may be left to\n"
    "                      initialise (rule 'init'; repeatable)\n"
    "  --drop PATTERN      file keys matching PATTERN are left out (rule\n"
    "                      'drop'; repeatable)\n"
    "  --key PREFIX        the state_dict to import, by its key path (e.g.\n"
    "                      model, state_dict; '' the top; default: found)\n"
    "  --teacher-key PREFIX  the teacher's key path (default: found)\n"
    "  --net NAME          the network (default: recognised; this dacs\n"
    "                      builds deeplab-mini and deeplabv2)\n"
    "  --classes C         output classes (default: the file's head)\n"
    "  --arch KEY=VALUE    any other meta.arch setting (e.g. mean=R,G,B,\n"
    "                      std=R,G,B; repeatable)\n"
    "  --seed S            seed of tensors left to initialise, as seg-init\n"
    "                      (default 0)\n"
    "  --iter N            meta.iter (default: the file's DACS 'iteration'\n"
    "                      + 1, else 0)\n"
    "  -q, --quiet         no report on stderr\n"
    "  -h, --help          show this help\n";

static struct {
    const char *out, *teacher_out, *map, *key, *teacher_key, *net;
    int list, quiet;
    uint64_t seed;
    long iter;
    char arch[DX_ARCH_MAX_TEXT];
    dx_keymap extra;
} opt = {.iter = -1};

static void arch_set(const char *kv)
{
    size_t n = strlen(opt.arch);
    if (!strchr(kv, '=') || strchr(kv, '\n'))
        dx_die("--arch: expected KEY=VALUE, got '%s'", kv);
    if (n + strlen(kv) + 2 > sizeof opt.arch)
        dx_die("--arch: settings longer than %zu bytes", sizeof opt.arch);
    snprintf(opt.arch + n, sizeof opt.arch - n, "%s\n", kv);
}

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
    char desc[128];
    if (opt.quiet)
        return;
    dx_arch_describe(&p->arch, desc, sizeof desc);
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
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"teacher-out", required_argument, NULL, 'T'},
        {"list", no_argument, NULL, 'l'},
        {"map", required_argument, NULL, 'm'},
        {"rules", required_argument, NULL, 'r'},
        {"init", required_argument, NULL, 'I'},
        {"drop", required_argument, NULL, 'D'},
        {"key", required_argument, NULL, 'k'},
        {"teacher-key", required_argument, NULL, 'K'},
        {"net", required_argument, NULL, 'n'},
        {"classes", required_argument, NULL, 'c'},
        {"arch", required_argument, NULL, 'a'},
        {"seed", required_argument, NULL, 's'},
        {"iter", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    dx_err err;
    char buf[64];
    int c;
    dx_keymap_init(&opt.extra, "options");
    while ((c = dx_getopt(argc, argv, "o:qh", longopts)) != -1) {
        switch (c) {
        case 'o':
            opt.out = optarg;
            break;
        case 'T':
            opt.teacher_out = optarg;
            break;
        case 'l':
            opt.list = 1;
            break;
        case 'm':
            opt.map = optarg;
            if (!dx_keymap_describe(optarg))
                dx_die("--map: unknown map '%s', expected dacs, torchvision "
                       "or mmseg", optarg);
            break;
        case 'r':
            if (dx_keymap_read(&opt.extra, optarg, &err))
                dx_die_err(&err);
            break;
        case 'I':
            add_rule(DX_RULE_INIT, optarg, "--init");
            break;
        case 'D':
            add_rule(DX_RULE_DROP, optarg, "--drop");
            break;
        case 'k':
            opt.key = optarg;
            break;
        case 'K':
            opt.teacher_key = optarg;
            break;
        case 'n':
            opt.net = optarg;
            snprintf(buf, sizeof buf, "net=%.50s", optarg);
            arch_set(buf);
            break;
        case 'c':
            snprintf(buf, sizeof buf, "classes=%ld",
                     dx_arg_long("--classes", optarg, 1,
                                 DX_ARCH_MAX_CLASSES));
            arch_set(buf);
            break;
        case 'a':
            arch_set(optarg);
            break;
        case 's':
            opt.seed = dx_arg_u64("--seed", optarg);
            break;
        case 't':
            opt.iter = dx_arg_long("--iter", optarg, 0, INT32_MAX);
            break;
        case 'q':
            opt.quiet = 1;
            break;
        case 'h':
            dx_help(USAGE);
        }
    }
    if (optind + 1 != argc)
        dx_die("expected one input FILE (see --help), got %d", argc - optind);
    const char *file = argv[optind];
    if (opt.list && (opt.out || opt.teacher_out))
        dx_die("--list writes no checkpoint; it excludes -o and "
               "--teacher-out");
    if (opt.teacher_out && (!strcmp(opt.teacher_out, "-") ||
                            (opt.out && !strcmp(opt.out, opt.teacher_out))))
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
                     .teacher = opt.teacher_out != NULL, .net = opt.net,
                     .arch = opt.arch};
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
    } else if (p.spare[0] && !opt.quiet) {
        dx_note("%s: the file also holds a teacher under '%s' (write it with "
                "--teacher-out)", file, p.spare);
    }
    long iter = opt.iter >= 0 ? opt.iter
                : p.has_iteration && p.iteration >= 0 &&
                        p.iteration < INT32_MAX
                    ? (long)p.iteration + 1
                    : 0;
    if (!opt.quiet && opt.iter < 0 && p.has_iteration)
        dx_note("%s: iteration %lld (the last step taken), so meta.iter %ld",
                file, (long long)p.iteration, iter);
    m.iter = iter;
    if (dx_model_save(&m, opt.out, 1, &err))
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
