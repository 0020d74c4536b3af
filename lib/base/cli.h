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
/* "WxH", each in [1, max]. */
void dx_arg_size(const char *opt, const char *s, long max, long *w, long *h);
/* One of a NULL-terminated list of words; returns its index. */
int dx_arg_enum(const char *opt, const char *s, const char *const *words);

/* After option parsing: at most one positional input FILE, which may not
 * come with -i; stores it in *in. */
void dx_arg_input(int argc, char **argv, int first, const char **in);

/* Print text to stdout and exit 0 (for --help). */
_Noreturn void dx_help(const char *text);

#endif
