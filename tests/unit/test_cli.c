/* test_cli.c - the shared options: parsed into the dx_cli, the tool's own
 * returned, positional FILE taken. */
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "check.h"

int main(void)
{
    char *argv[] = {"tool", "-i", "in.tns", "--drop", "a.*", "--foo", "3",
                    "--replace", "--drop=b", "-q", "-o", "out.tns", "-v",
                    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    enum { O_FOO = DX_OPT_TOOL };
    static const struct option own[] = {
        {"foo", required_argument, NULL, O_FOO},
        {"verbose", no_argument, NULL, 'v'},
        {0, 0, 0, 0}};
    dx_cli c = {.take = DX_CLI_INPUT | DX_CLI_OUTPUT | DX_CLI_QUIET |
                        DX_CLI_REPLACE | DX_CLI_DROP};
    int k, foo = 0, verbose = 0;
    optind = 1;
    while ((k = dx_cli_next(&c, argc, argv, "v", own)) != -1) {
        if (k == O_FOO)
            foo = atoi(optarg);
        else if (k == 'v')
            verbose = 1;
        else
            CHECK(0, "unexpected code %d", k);
    }
    CHECK(foo == 3 && verbose, "the tool's own options come back");
    CHECK(c.in && !strcmp(c.in, "in.tns") && c.out &&
              !strcmp(c.out, "out.tns") && c.quiet && c.replace,
          "-i, -o, -q and --replace are stored");
    CHECK(c.ndrop == 2 && !strcmp(c.drop[0], "a.*") &&
              !strcmp(c.drop[1], "b"),
          "--drop is repeatable");
    CHECK(DX_OPT_REPLACE < DX_OPT_TOOL && DX_OPT_DROP < DX_OPT_TOOL,
          "shared codes stay below the tools' own");

    /* a tool that does not take -o gets it back as its own */
    char *argv2[] = {"tool", "-o", "x", "FILE", NULL};
    dx_cli d = {.take = DX_CLI_INPUT | DX_CLI_FILE};
    static const struct option none[] = {{"output", required_argument, NULL,
                                          'o'},
                                         {0, 0, 0, 0}};
    optind = 1;
    k = dx_cli_next(&d, 4, argv2, "o:", none);
    CHECK(k == 'o' && !strcmp(optarg, "x") && !d.out,
          "-o not taken is the tool's");
    CHECK(dx_cli_next(&d, 4, argv2, "o:", none) == -1, "then the end");
    dx_cli_end(&d, 4, argv2);
    CHECK(d.in && !strcmp(d.in, "FILE"), "the positional FILE is the input");
    return check_done();
}
