/* cli.h - what every tool's main shares: its name, the fatal-error path,
 * and checked parsing of option values.
 *
 * This is the one part of lib/ that prints and exits; it exists for tools/
 * and is used only by them.  Messages have the form
 *     tool: what was wrong: what was found, what was expected
 * on one line of stderr.  Data never goes to stderr, messages never to
 * stdout.
 */
#ifndef DACS_CLI_H
#define DACS_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

extern const char *dx_prog;

/* Set the program name from argv[0] and make stdio fully buffered on
 * stdout (streams are binary and large). */
void dx_cli_init(int argc, char **argv);

/* "tool: message" on stderr, exit status 1. */
_Noreturn void dx_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
_Noreturn void dx_die_err(const dx_err *err);
/* "tool: message" on stderr, and go on. */
void dx_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* getopt_long with opterr off: an unknown option or a missing argument
 * dies with one line naming it.  Same contract as getopt_long otherwise. */
int dx_getopt(int argc, char **argv, const char *shortopts,
              const struct option *longopts);

/* Parse an option value or die naming the option and the accepted range. */
long dx_arg_long(const char *opt, const char *s, long lo, long hi);
uint64_t dx_arg_u64(const char *opt, const char *s);
double dx_arg_double(const char *opt, const char *s, double lo, double hi);
/* "LO,HI", two numbers with lo <= LO <= HI <= hi, into *a and *b. */
void dx_arg_range(const char *opt, const char *s, double lo, double hi,
                  double *a, double *b);
/* "WxH", each in [1, max]. */
void dx_arg_size(const char *opt, const char *s, long max, long *w, long *h);
/* "R/K": share R of K of a batch (base/rng.h), 0 <= R < K <= 4096. */
void dx_arg_share(const char *opt, const char *s, int *part, int *parts);
/* One of a NULL-terminated list of words; returns its index. */
int dx_arg_enum(const char *opt, const char *s, const char *const *words);

/* A frame name given to option opt, checked by ok (tns_name_ok: tns(5)'s
 * 1-255 characters from [A-Za-z0-9._:/+-]): returned when ok, else the
 * tool dies naming the option and the name. */
const char *dx_arg_frame(const char *opt, const char *name,
                         int (*ok)(const char *));
/* PREFIX.SUFFIX into dst[0..len), checked the same way; the message names
 * the option that gave the prefix. */
void dx_arg_prefixed(char *dst, size_t len, const char *opt,
                     const char *prefix, const char *suffix,
                     int (*ok)(const char *));

/* After option parsing: at most one positional input FILE, which may not
 * come with -i; stores it in *in. */
void dx_arg_input(int argc, char **argv, int first, const char **in);

/* Print text to stdout and exit 0 (for --help). */
_Noreturn void dx_help(const char *text);

/* ---- the options tools share ----
 *
 * A tool names the shared options it takes (DX_CLI_* bits); dx_cli_next
 * parses them along with the tool's own and stores them in the dx_cli,
 * and dx_cli_help appends their lines to the tool's --help, so each is
 * spelt, parsed and described once:
 *
 *   -i, --input FILE    input stream (default: stdin)
 *   FILE                the same, as the one positional argument
 *   -o, --output FILE   output file, written atomically (default: stdout)
 *   -q, --quiet         nothing on stderr but errors
 *   --replace           an output frame may replace an input frame of its
 *                       name (default: that is an error)
 *   --drop GLOB         leave matching frames out of the output
 *                       (repeatable; after the outputs are added)
 *   --threads N         dacs's threads (par.h), 1..DX_PAR_MAX, may exceed
 *                       the cores; without it the environment variable
 *                       DACS_THREADS, checked the same way
 *   --live              write stdout live: each batch closed and flushed
 *                       at once (the tool passes c->live to tns_set_live)
 *   -h, --help          every tool
 *
 * Option codes: getopt_long returns a short option's letter or a
 * long-only option's code.  The shared long-only options have codes below
 * DX_OPT_TOOL; a tool numbers its own long-only options from DX_OPT_TOOL
 * up (enum { O_FOO = DX_OPT_TOOL, O_BAR, ... }), so the two never meet. */
enum {
    DX_CLI_INPUT = 1 << 0,
    DX_CLI_FILE = 1 << 1, /* with DX_CLI_INPUT */
    DX_CLI_OUTPUT = 1 << 2,
    DX_CLI_QUIET = 1 << 3,
    DX_CLI_REPLACE = 1 << 4,
    DX_CLI_DROP = 1 << 5,
    DX_CLI_THREADS = 1 << 6,
    DX_CLI_LIVE = 1 << 7,
};
enum { DX_OPT_REPLACE = 0x100, DX_OPT_DROP, DX_OPT_THREADS, DX_OPT_LIVE,
       DX_OPT_TOOL = 0x200 };
#define DX_CLI_MAX_DROP 64
#define DX_CLI_MAX_OPTS 64

typedef struct dx_cli {
    unsigned take; /* DX_CLI_* bits: the shared options the tool takes */
    const char *in, *out; /* NULL: stdin, stdout */
    int quiet, replace, live;
    const char *drop[DX_CLI_MAX_DROP];
    int ndrop;
    /* the tool's options and the shared ones, merged on the first call */
    struct option all[DX_CLI_MAX_OPTS];
    char shorts[2 * DX_CLI_MAX_OPTS];
} dx_cli;

/* dx_getopt over the tool's own options (shortopts, longopts: the
 * getopt_long tables without the shared ones) and the shared ones c->take
 * names.  Returns the tool's next option (its letter or code), 'h' for
 * --help, or -1 at the end; a shared option is stored in c and not
 * returned. */
int dx_cli_next(dx_cli *c, int argc, char **argv, const char *shortopts,
                const struct option *longopts);
/* --help: print the tool's text (a printf format, so that defaults are
 * printed from the structs that hold them), then the lines of the shared
 * options it takes and of -h; exit 0. */
_Noreturn void dx_cli_help(const dx_cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* After the options: the positional FILE when the tool takes one, else
 * any argument left is an error.  For tools without other arguments. */
void dx_cli_end(dx_cli *c, int argc, char **argv);

#endif
