/* test_arch.c - the meta.arch record: round trip, every rejection, and a
 * mutation fuzz that must never crash (run it under SAN=1). */
#include <string.h>

#include "nn/arch.h"
#include "check.h"
#include "base/rng.h"

static const char GOOD[] = "net=deeplab-mini\nversion=1\nwidth=32\n"
                           "classes=19\nmean=0.485,0.456,0.406\n"
                           "std=0.229,0.224,0.225\n";

static const char GOOD2[] =
    "net=deeplabv2\nversion=2\ndepth=101\nblocks=3,4,23,3\nwidth=64\n"
    "style=caffe\nheads=2\nbn=frozen\nclasses=19\norder=bgr\n"
    "mean=0.40787053,0.45752457,0.4810938\n"
    "std=0.003921569,0.003921569,0.003921569\n";

static int parses(const char *text)
{
    dx_arch a;
    dx_err err;
    return dx_arch_parse(&a, text, strlen(text), &err) == 0;
}

/* The record with one line replaced (or removed, if repl is ""). */
static void bad_in(const char *good, const char *key, const char *repl,
                   const char *want)
{
    char text[1024] = "";
    const char *p = good;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = (size_t)(e - p) + 1;
        if (strncmp(p, key, strlen(key)) == 0 && p[strlen(key)] == '=')
            strcat(text, repl);
        else
            strncat(text, p, n);
        p += n;
    }
    dx_arch a;
    dx_err err = {{0}};
    int rc = dx_arch_parse(&a, text, strlen(text), &err);
    char shown[64];
    size_t k = 0;
    for (const char *q = repl; *q && k + 3 < sizeof shown; q++) {
        if (*q == '\n' || *q == '\t') {
            shown[k++] = '\\';
            shown[k++] = *q == '\n' ? 'n' : 't';
        } else {
            shown[k++] = *q;
        }
    }
    shown[k] = 0;
    CHECK(rc != 0 && strstr(err.msg, want), "rejects %s -> '%s': %s", key,
          shown, err.msg);
}

static void bad(const char *key, const char *repl, const char *want)
{
    bad_in(GOOD, key, repl, want);
}

static void bad2(const char *key, const char *repl, const char *want)
{
    bad_in(GOOD2, key, repl, want);
}

/* The version-2 record of deeplabv2. */
static void check_v2(void)
{
    dx_arch a, b;
    dx_err err;
    CHECK(dx_arch_parse(&a, GOOD2, strlen(GOOD2), &err) == 0,
          "deeplabv2 record parses: %s", err.msg);
    dx_arch_defaults(&b, DX_NET_DEEPLABV2);
    CHECK(!memcmp(&a, &b, sizeof a), "and equals the deeplabv2 defaults");
    char buf[512];
    int n = dx_arch_format(&b, buf, sizeof buf);
    CHECK(n > 0 && !strcmp(buf, GOOD2), "defaults format as the documented "
          "text");
    b.depth = 50;
    b.blocks[2] = 1;
    b.style = DX_STYLE_PYTORCH;
    b.heads = 4;
    b.bn_trainable = 1;
    b.order = DX_ORDER_RGB;
    b.width = 8;
    b.classes = 3;
    n = dx_arch_format(&b, buf, sizeof buf);
    CHECK(dx_arch_parse(&a, buf, (size_t)n, &err) == 0 &&
              !memcmp(&a, &b, sizeof a) &&
              strstr(buf, "style=pytorch\nheads=4\nbn=train") &&
              strstr(buf, "order=rgb") && strstr(buf, "blocks=3,4,1,3"),
          "round trip of every key");
    char d[96];
    dx_arch_describe(&b, d, sizeof d);
    CHECK(!strcmp(d, "deeplabv2 depth=50 blocks=3,4,1,3 width=8 "
                     "style=pytorch classes=3"),
          "described as '%s'", d);
    bad2("depth", "depth=42\n", "bad value '42' for 'depth'");
    bad2("blocks", "blocks=3,4,23\n", "'blocks'");
    bad2("blocks", "blocks=3,4,23,3,1\n", "'blocks'");
    bad2("blocks", "blocks=3,0,23,3\n", "'blocks'");
    bad2("blocks", "blocks=3,4,65,3\n", "'blocks'");
    bad2("style", "style=tensorflow\n", "bad value 'tensorflow' for "
         "'style', expected caffe or pytorch");
    bad2("heads", "heads=0\n", "'heads'");
    bad2("heads", "heads=5\n", "'heads'");
    bad2("bn", "bn=off\n", "expected frozen or train");
    bad2("order", "order=gbr\n", "expected rgb or bgr");
    bad2("version", "version=1\n", "version '1' for deeplabv2");
    bad2("version", "version=3\n", "version '3'");
    bad2("style", "", "no 'style' line");
    bad2("net", "net=deeplabv3\n", "network 'deeplabv3'");
    bad2("depth", "depth=50\ndepth=50\n", "given twice");
    bad2("width", "width=0\n", "'width'");
    bad2("std", "std=1,0,1\n", "'std'");
    /* a deeplab-mini record with a deeplabv2 key */
    bad("width", "width=32\nstyle=caffe\n", "unknown key 'style' for "
        "deeplab-mini");
    bad("width", "width=32\norder=bgr\n", "unknown key 'order'");
}

/* The command-line options: one parser for seg-init and seg-import. */
static void check_opts(void)
{
    dx_arch_opts o = {0};
    dx_arch a;
    dx_err err;
    /* indices follow dx_arch_opt_names */
    CHECK(!strcmp(dx_arch_opt_names[1], "depth") &&
              !strcmp(dx_arch_opt_names[7], "classes") &&
              dx_arch_opt_names[DX_ARCH_NOPTS] == NULL,
          "the option names");
    struct option lo[DX_ARCH_NOPTS + 1];
    dx_arch_longopts(lo, 0x300);
    CHECK(!strcmp(lo[8].name, "order") && lo[8].val == 0x308 &&
              lo[8].has_arg == required_argument && !lo[DX_ARCH_NOPTS].name,
          "getopt_long entries with codes from code0");
    int ok = !dx_arch_opt_set(&o, 0, "deeplabv2", &err) &&
             !dx_arch_opt_set(&o, 1, "50", &err) &&
             !dx_arch_opt_set(&o, 8, "rgb", &err) &&
             !dx_arch_opt_set(&o, 9, "0.5,0.5,0.5", &err);
    dx_arch_default(&a);
    ok = ok && !dx_arch_opts_apply(&o, &a, &err);
    CHECK(ok && a.net == DX_NET_DEEPLABV2 && a.depth == 50 &&
              a.blocks[2] == 6 && a.style == DX_STYLE_CAFFE &&
              a.order == DX_ORDER_RGB && a.mean[0] == 0.5f &&
              fabsf(a.std[0] - 0.229f) < 1e-7f &&
              dx_arch_opt_given(&o, "mean") && !dx_arch_opt_given(&o, "std"),
          "--net resets to its defaults, --depth brings its blocks, --order "
          "its std, --mean stays as given");
    ok = !dx_arch_opt_set(&o, 2, "1,2,1,1", &err) &&
         !dx_arch_opts_apply(&o, &a, &err);
    CHECK(ok && a.blocks[1] == 2 && a.depth == 50,
          "--blocks over --depth's");
    CHECK(dx_arch_opt_set(&o, 5, "5", &err) == -1 &&
              !strcmp(err.msg, "--heads: expected an integer in [1, 4], got "
                               "'5'") &&
              !dx_arch_opt_given(&o, "heads"),
          "a bad value names the option: %s", err.msg);
    CHECK(dx_arch_opt_set(&o, 1, "42", &err) == -1 &&
              !strcmp(err.msg, "--depth: expected 18, 34, 50, 101 or 152, "
                               "got '42'"),
          "--depth 42: %s", err.msg);
    o = (dx_arch_opts){0};
    dx_arch_default(&a);
    dx_arch_opt_set(&o, 4, "pytorch", &err);
    CHECK(dx_arch_opts_apply(&o, &a, &err) == -1 &&
              !strcmp(err.msg, "--style is an option of deeplabv2 (--net "
                               "deeplabv2)"),
          "a deeplabv2 option for deeplab-mini: %s", err.msg);
}

int main(void)
{
    dx_arch a, b;
    dx_err err;
    check_opts();
    CHECK(dx_arch_parse(&a, GOOD, strlen(GOOD), &err) == 0, "default parses");
    dx_arch_default(&b);
    CHECK(!memcmp(&a, &b, sizeof a), "equals the default");
    char buf[512];
    int n = dx_arch_format(&b, buf, sizeof buf);
    CHECK(n > 0 && !strcmp(buf, GOOD), "formats as the documented text");
    b.mean[1] = 0.1234567f;
    b.std[2] = 3e-7f;
    b.width = 7;
    n = dx_arch_format(&b, buf, sizeof buf);
    CHECK(dx_arch_parse(&a, buf, (size_t)n, &err) == 0 &&
              !memcmp(&a, &b, sizeof a),
          "round trip is exact");
    CHECK(dx_arch_format(&b, buf, 20) == -1, "small buffer refused");
    /* order is free, the last newline optional */
    CHECK(parses("std=1,1,1\nmean=0,0,0\nclasses=2\nwidth=1\nversion=1\n"
                 "net=deeplab-mini"),
          "any order, no final newline");

    check_v2();
    bad("net", "net=resnet101\n", "network 'resnet101'");
    bad("version", "version=2\n", "version '2'");
    bad("width", "width=0\n", "bad value '0' for 'width'");
    bad("width", "width=513\n", "'width'");
    bad("width", "width=-3\n", "'width'");
    bad("width", "width=32x\n", "'width'");
    bad("width", "width=\n", "'width'");
    bad("classes", "classes=256\n", "'classes'");
    bad("classes", "classes=99999999999\n", "'classes'");
    bad("mean", "mean=0.4,0.4\n", "'mean'");
    bad("mean", "mean=0.4,0.4,0.4,0.4\n", "'mean'");
    bad("mean", "mean=nan,0,0\n", "'mean'");
    bad("mean", "mean=1e39,0,0\n", "'mean'");
    bad("mean", "mean=0.4,,0.4\n", "'mean'");
    bad("mean", "mean=0.4,0.4,0.4,\n", "'mean'");
    bad("std", "std=0,1,1\n", "'std'");
    bad("std", "std=1,-1,1\n", "'std'");
    bad("std", "std=inf,1,1\n", "'std'");
    bad("width", "", "no 'width' line");
    bad("net", "", "no 'net' line");
    bad("width", "width=32\nwidth=32\n", "given twice");
    bad("width", "depth=3\n", "unknown key 'depth'");
    bad("width", "width 32\n", "not printable");
    bad("width", "width32\n", "expected key=value");
    bad("width", "\n", "empty");
    bad("width", "width=3\t2\n", "not printable");
    {
        char t[sizeof GOOD];
        memcpy(t, GOOD, sizeof GOOD);
        t[30] = 0; /* a NUL inside the record */
        CHECK(dx_arch_parse(&a, t, sizeof GOOD - 1, &err) != 0,
              "a NUL byte is rejected: %s", err.msg);
    }
    {
        static char big[DX_ARCH_MAX_TEXT + 10];
        memset(big, 'a', sizeof big);
        CHECK(dx_arch_parse(&a, big, sizeof big, &err) != 0 &&
                  strstr(err.msg, "at most"),
              "oversized text rejected before parsing: %s", err.msg);
        char longv[300] = "mean=";
        memset(longv + 5, '1', 250);
        CHECK(!parses(longv), "over-long value rejected");
    }
    /* mutation fuzz: random byte edits of the good records never crash
     * and never accept something out of range */
    dx_rng r;
    dx_rng_init(&r, 1, "test_arch", 0);
    int accepted = 0, sane = 1;
    for (int it = 0; it < 40000; it++) {
        char t[512];
        const char *good = it % 2 ? GOOD2 : GOOD;
        size_t len = strlen(good);
        memcpy(t, good, len);
        int edits = 1 + (int)dx_rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = dx_rng_below(&r, len);
            switch (dx_rng_below(&r, 3)) {
            case 0:
                t[at] = (char)dx_rng_below(&r, 256);
                break;
            case 1:
                memmove(t + at, t + at + 1, len - at - 1);
                len--;
                break;
            default:
                if (len < sizeof t - 1) {
                    memmove(t + at + 1, t + at, len - at);
                    t[at] = "0123456789=,\n.-e"[dx_rng_below(&r, 16)];
                    len++;
                }
            }
        }
        if (dx_arch_parse(&a, t, len, &err) == 0) {
            accepted++;
            sane &= dx_arch_check(&a, &err) == 0;
        }
    }
    CHECK(sane, "fuzz: every accepted record is in range (%d accepted)",
          accepted);
    return check_done();
}
