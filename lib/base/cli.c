/* cli.c - the fatal-error path and option parsing for tools. */
#include "base/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"

const char *dx_prog = "dacs";

void dx_cli_init(int argc, char **argv)
{
    if (argc > 0 && argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        dx_prog = slash ? slash + 1 : argv[0];
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
}

static void vsay(const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    /* One line: newlines inside a message would break a log parser. */
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, "%s: %s\n", dx_prog, buf);
}

void dx_die(const char *fmt, ...)
{
    /* Buffered output of a failed run is never delivered: a reader
     * downstream gets nothing rather than part of a frame. */
    __fpurge(stdout);
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    exit(1);
}

void dx_die_err(const dx_err *err)
{
    dx_die("%s", err->msg);
}

void dx_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

void dx_help(const char *text)
{
    fputs(text, stdout);
    exit(fflush(stdout) == 0 ? 0 : 1);
}

int dx_getopt(int argc, char **argv, const char *shortopts,
              const struct option *longopts)
{
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == '?' || c == ':') {
        const char *arg = argv[optind - 1];
        if (optopt && c == ':')
            dx_die("option '-%c' needs a value (see --help)", optopt);
        if (optopt && strchr(shortopts, optopt))
            dx_die("option '%s' needs a value (see --help)", arg);
        if (optopt)
            dx_die("unknown option '-%c' (see --help)", optopt);
        /* a long option: either unknown or missing its value */
        for (const struct option *o = longopts; o && o->name; o++) {
            size_t n = strlen(o->name);
            if (strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, o->name, n) == 0
                && (arg[2 + n] == 0 || arg[2 + n] == '='))
                dx_die("option '--%s' needs a value (see --help)", o->name);
        }
        dx_die("unknown option '%s' (see --help)", arg);
    }
    return c;
}

long dx_arg_long(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        dx_die("%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi,
               s);
    return v;
}

uint64_t dx_arg_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        dx_die("%s: expected a non-negative integer, got '%s'", opt, s);
    return (uint64_t)v;
}

double dx_arg_double(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        dx_die("%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s);
    return v;
}

void dx_arg_range(const char *opt, const char *s, double lo, double hi,
                  double *a, double *b)
{
    const char *comma = strchr(s, ',');
    char first[64];
    if (!comma || (size_t)(comma - s) >= sizeof first)
        dx_die("%s: expected LO,HI, got '%s'", opt, s);
    memcpy(first, s, (size_t)(comma - s));
    first[comma - s] = 0;
    *a = dx_arg_double(opt, first, lo, hi);
    *b = dx_arg_double(opt, comma + 1, lo, hi);
    if (*b < *a)
        dx_die("%s: HI must not be below LO, got '%s'", opt, s);
}

void dx_arg_size(const char *opt, const char *s, long max, long *w, long *h)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || (*end != 'x' && *end != 'X'))
        goto bad;
    const char *s2 = end + 1;
    long b = strtol(s2, &end, 10);
    if (errno || end == s2 || *end || a < 1 || b < 1 || a > max || b > max)
        goto bad;
    *w = a;
    *h = b;
    return;
bad:
    dx_die("%s: expected WIDTHxHEIGHT with each side in [1, %ld], got '%s'",
           opt, max, s);
}

void dx_arg_share(const char *opt, const char *s, int *part, int *parts)
{
    char *end;
    errno = 0;
    long r = strtol(s, &end, 10), k = -1;
    if (end != s && *end == '/' && end[1] >= '0' && end[1] <= '9')
        k = strtol(end + 1, &end, 10);
    if (errno || *end || k < 1 || k > 4096 || r < 0 || r >= k)
        dx_die("%s: expected R/K, share R of K (0 <= R < K <= 4096), got "
               "'%s'", opt, s);
    *part = (int)r;
    *parts = (int)k;
}

int dx_arg_enum(const char *opt, const char *s, const char *const *words)
{
    char list[512] = "";
    size_t at = 0;
    for (int i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0)
            return i;
        at += snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                       words[i]);
        if (at >= sizeof list)
            at = sizeof list - 1;
    }
    dx_die("%s: expected one of %s, got '%s'", opt, list, s);
}

void dx_arg_input(int argc, char **argv, int first, const char **in)
{
    if (first >= argc)
        return;
    if (*in || first + 1 < argc)
        dx_die("expected at most one input FILE (see --help)");
    *in = argv[first];
}

static const char NAME_RULE[] = "1-255 characters from [A-Za-z0-9._:/+-]";

const char *dx_arg_frame(const char *opt, const char *name,
                         int (*ok)(const char *))
{
    if (!ok(name))
        dx_die("%s: bad frame name '%s', expected %s", opt, name, NAME_RULE);
    return name;
}

void dx_arg_prefixed(char *dst, size_t len, const char *opt,
                     const char *prefix, const char *suffix,
                     int (*ok)(const char *))
{
    int n = snprintf(dst, len, "%s.%s", prefix, suffix);
    if (n < 0 || (size_t)n >= len || !ok(dst))
        dx_die("%s: '%s' makes the bad frame name '%s.%s', expected %s", opt,
               prefix, prefix, suffix, NAME_RULE);
}

/* ---- the shared options ---- */

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct {
    unsigned bit;
    struct option opt;
    const char *help;
} SHARED[] = {
    {DX_CLI_INPUT, {"input", required_argument, NULL, 'i'},
     "  -i, --input FILE    input stream (default: stdin)\n"},
    {DX_CLI_OUTPUT, {"output", required_argument, NULL, 'o'},
     "  -o, --output FILE   output file, written atomically (default: stdout)\n"},
    {DX_CLI_QUIET, {"quiet", no_argument, NULL, 'q'},
     "  -q, --quiet         nothing on stderr but errors\n"},
    {DX_CLI_REPLACE, {"replace", no_argument, NULL, DX_OPT_REPLACE},
     "  --replace           an output frame may replace an input frame of\n"
     "                      its name (default: that is an error)\n"},
    {DX_CLI_DROP, {"drop", required_argument, NULL, DX_OPT_DROP},
     "  --drop GLOB         leave frames whose name matches GLOB out of the\n"
     "                      output (repeatable; after the outputs are added)\n"},
    {DX_CLI_THREADS, {"threads", required_argument, NULL, DX_OPT_THREADS},
     "  --threads N         threads of the computation, 1-" STR(DX_PAR_MAX)
     ", may exceed the\n"
     "                      cores (default: $DACS_THREADS, else as many as\n"
     "                      OpenBLAS would use)\n"},
    {DX_CLI_LIVE, {"live", no_argument, NULL, DX_OPT_LIVE},
     "  --live              write stdout live: each batch is closed and\n"
     "                      flushed at once, for a stage that must answer it\n"
     "                      before the next can come (a ring of pipes;\n"
     "                      tns(5))\n"},
    {~0u, {"help", no_argument, NULL, 'h'},
     "  -h, --help          show this help\n"},
};
enum { NSHARED = sizeof SHARED / sizeof SHARED[0] };

/* Use the thread count s, given by opt (--threads or DACS_THREADS). */
static void threads(const char *opt, const char *s)
{
    dx_err err;
    if (dx_par_set_threads((int)dx_arg_long(opt, s, 1, DX_PAR_MAX), &err))
        dx_die("%s: %s", opt, err.msg);
}

/* Merge the tool's tables and the shared options it takes into c. */
static void merge(dx_cli *c, const char *shortopts,
                  const struct option *longopts)
{
    int n = 0;
    for (; longopts && longopts[n].name; n++) {
        if (n >= DX_CLI_MAX_OPTS - NSHARED - 1)
            dx_die("internal: more than %d options", DX_CLI_MAX_OPTS);
        c->all[n] = longopts[n];
    }
    size_t at = (size_t)snprintf(c->shorts, sizeof c->shorts, "%s",
                                 shortopts ? shortopts : "");
    for (int k = 0; k < NSHARED; k++) {
        /* -h (bit ~0u) comes with every tool, even one taking none */
        if (!(c->take & SHARED[k].bit) && SHARED[k].bit != ~0u)
            continue;
        c->all[n++] = SHARED[k].opt;
        int v = SHARED[k].opt.val;
        if (v < 0x100 && at + 3 < sizeof c->shorts) {
            c->shorts[at++] = (char)v;
            if (SHARED[k].opt.has_arg == required_argument)
                c->shorts[at++] = ':';
            c->shorts[at] = 0;
        }
    }
    memset(&c->all[n], 0, sizeof c->all[n]);
    const char *env = getenv("DACS_THREADS");
    if ((c->take & DX_CLI_THREADS) && env && *env)
        threads("DACS_THREADS", env);
}

int dx_cli_next(dx_cli *c, int argc, char **argv, const char *shortopts,
                const struct option *longopts)
{
    if (!c->all[0].name)
        merge(c, shortopts, longopts);
    for (;;) {
        int k = dx_getopt(argc, argv, c->shorts, c->all);
        switch (k) {
        case 'i':
            if (!(c->take & DX_CLI_INPUT))
                return k;
            c->in = optarg;
            break;
        case 'o':
            if (!(c->take & DX_CLI_OUTPUT))
                return k;
            c->out = optarg;
            break;
        case 'q':
            if (!(c->take & DX_CLI_QUIET))
                return k;
            c->quiet = 1;
            break;
        case DX_OPT_REPLACE:
            c->replace = 1;
            break;
        case DX_OPT_THREADS:
            threads("--threads", optarg);
            break;
        case DX_OPT_LIVE:
            c->live = 1;
            break;
        case DX_OPT_DROP:
            if (c->ndrop == DX_CLI_MAX_DROP)
                dx_die("--drop: at most %d globs", DX_CLI_MAX_DROP);
            c->drop[c->ndrop++] = optarg;
            break;
        default:
            return k;
        }
    }
}

void dx_cli_help(const dx_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    for (int k = 0; k < NSHARED; k++)
        if (c->take & SHARED[k].bit)
            fputs(SHARED[k].help, stdout);
    exit(fflush(stdout) == 0 ? 0 : 1);
}

void dx_cli_end(dx_cli *c, int argc, char **argv)
{
    if (c->take & DX_CLI_FILE)
        dx_arg_input(argc, argv, optind, &c->in);
    else if (optind < argc)
        dx_die("unexpected argument '%s' (see --help)", argv[optind]);
}
