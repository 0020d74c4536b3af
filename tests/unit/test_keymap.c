/* test_keymap.c - key-map rules and the exact match, on the key lists of
 * real networks (tests/fixtures/import/keys, written by
 * tests/ref/make_import_fixtures.py from torchvision's resnet101 and from
 * our PyTorch DeepLabv2): torchvision ResNet-101 into DeepLabv2-R101,
 * the DACS file itself (with AdaptSegNet's Scale. and DataParallel's
 * module.), mmsegmentation's ResNetV1b and its refused V1c deep stem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/keymap.h"

#define KEYS "tests/fixtures/import/keys/"

typedef struct list {
    dx_tspec *t;
    int64_t (*dims)[8];
    int n;
} list;

/* One "name dims..." line per tensor; prefix goes before each name; keys
 * matching skip (if not NULL) are left out. */
static int load(list *l, const char *file, const char *prefix,
                int (*skip)(const char *))
{
    FILE *fp = fopen(file, "r");
    char line[512];
    memset(l, 0, sizeof *l);
    if (!fp)
        return -1;
    l->t = calloc(2048, sizeof *l->t);
    l->dims = calloc(2048, sizeof *l->dims);
    while (fgets(line, sizeof line, fp) && l->n < 2048) {
        char *save, *name = strtok_r(line, " \n", &save), *d;
        if (!name || (skip && skip(name)))
            continue;
        dx_tspec *t = &l->t[l->n];
        char full[600];
        snprintf(full, sizeof full, "%s%s", prefix, name);
        t->name = strdup(full);
        t->dims = l->dims[l->n];
        while ((d = strtok_r(NULL, " \n", &save)))
            l->dims[l->n][t->rank++] = atoll(d);
        t->is_float = !strstr(name, "num_batches_tracked");
        l->n++;
    }
    fclose(fp);
    return 0;
}

static void list_free(list *l)
{
    for (int i = 0; i < l->n; i++)
        free((char *)l->t[i].name);
    free(l->t);
    free(l->dims);
}

static int counter(const char *name)
{
    return strstr(name, "num_batches_tracked") != NULL;
}

/* DeepLabv2-R50 is R101 with layer3 of 6 blocks, not 23 */
static int r50_only(const char *name)
{
    int b;
    return counter(name) ||
           (sscanf(name, "layer3.%d.", &b) == 1 && b >= 6);
}

static void test_parse(void)
{
    static const struct {
        const char *text, *want;
    } BAD[] = {
        {"copy a b\n", "r:1: unknown rule 'copy'"},
        {"# fine\nrename a\n", "r:2: 'rename' needs FROM and TO"},
        {"drop a b\n", "r:1: 'drop' takes one field"},
        {"strip a.*\n", "strip takes a plain prefix"},
        {"drop *.*.*.*\n", "at most 3"},
        {"rename a.* *.*\n", "more '*'"},
        {"refuse a.*\n", "a PATTERN and a reason"},
        {"drop a\x01\n", "control character"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        dx_keymap m;
        dx_err e = {""};
        dx_keymap_init(&m, "t");
        int rc = dx_keymap_parse(&m, BAD[i].text, strlen(BAD[i].text), "r",
                                 &e);
        CHECK(rc == -1 && strstr(e.msg, BAD[i].want), "bad rules refused: "
              "%s", e.msg);
        dx_keymap_free(&m);
    }
    dx_keymap m;
    dx_err e;
    dx_keymap_init(&m, "t");
    static const char OK[] = "  # a comment\n\nstrip module.\t# trailing\r\n"
                             "refuse stem.* no deep stems here\n";
    CHECK(dx_keymap_parse(&m, OK, sizeof OK - 1, "r", &e) == 0 && m.n == 2 &&
              !strcmp(m.r[1].b, "no deep stems here") &&
              !strcmp(m.r[0].src, "r:3"),
          "comments, blanks, CRLF; refuse keeps its reason; rules know "
          "their line");
    dx_keymap_free(&m);
    CHECK(dx_keymap_builtin(&m, "caffe", &e) == -1 &&
              strstr(e.msg, "unknown map 'caffe'"),
          "an unknown built-in map: %s", e.msg);
}

static void test_apply(void)
{
    dx_keymap m;
    dx_err e;
    char out[64];
    const dx_rule *r;
    static const char RULES[] =
        "strip backbone.\n"
        "rename decode_head.aspp_modules.*.conv.* layer5.conv2d_list.*.*\n"
        "drop aux*\n"
        "refuse stem.* deep\n"
        "rename layer5.conv2d_list.3.* gone.*\n"
        "drop gone.*\n";
    dx_keymap_init(&m, "t");
    dx_keymap_parse(&m, RULES, sizeof RULES - 1, "r", &e);
    CHECK(dx_keymap_apply(&m, "backbone.layer1.0.conv1.weight", out,
                          sizeof out, &r) == DX_KEY_MAPPED &&
              !strcmp(out, "layer1.0.conv1.weight"),
          "strip");
    CHECK(dx_keymap_apply(&m, "decode_head.aspp_modules.1.conv.bias", out,
                          sizeof out, &r) == DX_KEY_MAPPED &&
              !strcmp(out, "layer5.conv2d_list.1.bias"),
          "rename with two captures: %s", out);
    CHECK(dx_keymap_apply(&m, "decode_head.aspp_modules.3.conv.bias", out,
                          sizeof out, &r) == DX_KEY_DROPPED &&
              !strcmp(r->src, "r:6"),
          "rules apply top to bottom: renamed, renamed again, then dropped");
    CHECK(dx_keymap_apply(&m, "backbone.stem.0.weight", out, sizeof out,
                          &r) == DX_KEY_REFUSED &&
              !strcmp(r->b, "deep"),
          "refuse after strip");
    CHECK(dx_keymap_apply(&m, "auxiliary_head.conv_seg.weight", out,
                          sizeof out, &r) == DX_KEY_DROPPED,
          "drop");
    CHECK(dx_keymap_apply(&m, "backbone.layer1.0.conv1.weight", out, 8,
                          &r) == DX_KEY_TOO_LONG,
          "a result longer than the room");
    CHECK(dx_key_glob("layer*.weight", "layer1.0.conv1.weight") &&
              dx_key_glob("*", "") && !dx_key_glob("a*c", "abcd") &&
              dx_key_glob("a*c*", "abcd") && !dx_key_glob("a.b", "a.bc"),
          "globs: '*' spans dots, anchored at both ends");
    dx_keymap_free(&m);
}

static void match(const char *what, const char *map, const char *extra,
                  const list *src, const list *tgt, int imported, int init,
                  int dropped, int counters, int problems)
{
    dx_keymap m;
    dx_match r;
    dx_err e;
    if (dx_keymap_builtin(&m, map, &e) ||
        (extra && dx_keymap_parse(&m, extra, strlen(extra), "x", &e)) ||
        dx_keymap_match(&m, src->t, src->n, tgt->t, tgt->n, &r, &e)) {
        CHECK(0, "%s: %s", what, e.msg);
        return;
    }
    CHECK(r.imported == imported && r.initialised == init &&
              r.dropped == dropped && r.counters == counters &&
              r.nproblem == problems,
          "%s: %d imported, %d left to initialise, %d dropped, %d batch "
          "counters, %d problems (expected %d %d %d %d %d)%s%s",
          what, r.imported, r.initialised, r.dropped, r.counters, r.nproblem,
          imported, init, dropped, counters, problems,
          r.nproblem ? ": " : "", r.nproblem ? r.problem[0] : "");
    dx_match_free(&r);
    dx_keymap_free(&m);
}

static void test_real_lists(void)
{
    list tv, dl, dl_scale, dl_module, net, net50, v1b, v1c;
    int ok = !load(&tv, KEYS "resnet101-torchvision.txt", "", NULL) &&
             !load(&dl, KEYS "deeplabv2-r101.txt", "", NULL) &&
             !load(&dl_scale, KEYS "deeplabv2-r101.txt", "Scale.", NULL) &&
             !load(&dl_module, KEYS "deeplabv2-r101.txt", "module.", NULL) &&
             !load(&net, KEYS "deeplabv2-r101.txt", "", counter) &&
             !load(&net50, KEYS "deeplabv2-r101.txt", "", r50_only) &&
             !load(&v1b, KEYS "mmseg-r50-v1b-dlv2.txt", "", NULL) &&
             !load(&v1c, KEYS "mmseg-r50-v1c-dlv2red.txt", "", NULL);
    if (!CHECK(ok, "key lists read (make them with "
                   "tests/ref/make_import_fixtures.py)"))
        return;
    /* R101: 104 convolutions and 104 BN (stem 1, 33 blocks x 3, 4
     * projections), the head 4 x (weight, bias): 528 tensors, 43.9 M */
    CHECK(net.n == 528 && tv.n == 626 && dl.n == 632 && net50.n == 273,
          "R101 has 528 tensors (+104 batch counters), torchvision's 626 "
          "(+fc), R50 273");
    match("torchvision ResNet-101", "torchvision", NULL, &tv, &net, 520, 8, 2,
          104, 0);
    match("torchvision ResNet-101 under the dacs map", "dacs", NULL, &tv,
          &net, 520, 0, 0, 104, 10);
    match("DACS DeepLabv2-R101", "dacs", NULL, &dl, &net, 528, 0, 0, 104, 0);
    match("AdaptSegNet's Scale. with a strip rule", "dacs", "strip Scale.\n",
          &dl_scale, &net, 528, 0, 0, 104, 0);
    match("DataParallel's module. with a strip rule", "dacs",
          "strip module.\n", &dl_module, &net, 528, 0, 0, 104, 0);
    match("Scale. without a rule: all unexpected and missing", "dacs", NULL,
          &dl_scale, &net, 0, 0, 0, 0, 632 + 528);
    match("mmseg ResNetV1b DeepLabv2-R50", "mmseg", NULL, &v1b, &net50, 273,
          0, 0, 53, 0);
    /* V1c: 18 stem keys refused, conv1 and bn1 (5) missing, the two
     * absent head branches left to initialise */
    match("mmseg ResNetV1c deeplabv2red R50", "mmseg", NULL, &v1c, &net50,
          264, 4, 0, 52, 18 + 5);
    dx_keymap m;
    dx_match r;
    dx_err e;
    dx_keymap_builtin(&m, "mmseg", &e);
    dx_keymap_match(&m, v1c.t, v1c.n, net50.t, net50.n, &r, &e);
    CHECK(r.nproblem && strstr(r.problem[0], "backbone.stem.0.weight") &&
              strstr(r.problem[0], "deep stem"),
          "the V1c stem is refused by name, saying why: %s",
          r.nproblem ? r.problem[0] : "");
    dx_match_free(&r);
    dx_keymap_free(&m);
    list *all[] = {&tv, &dl, &dl_scale, &dl_module, &net, &net50, &v1b, &v1c};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        list_free(all[i]);
}

static void test_fates(void)
{
    static const int64_t D3[] = {3}, D5[] = {5}, D2[] = {2, 2};
    const dx_tspec tgt[] = {{"a.weight", 1, D3, 1},
                            {"bn.running_mean", 1, D3, 1},
                            {"head.weight", 1, D3, 1}};
    const dx_tspec src[] = {
        {"a.weight", 1, D3, 1},           {"bn.running_mean", 1, D3, 1},
        {"bn.num_batches_tracked", 0, D3, 0}, {"x.num_batches_tracked", 0, D3, 0},
        {"head.weight", 1, D5, 1},        {"b.weight", 2, D2, 1}};
    dx_keymap m;
    dx_match r;
    dx_err e;
    dx_keymap_init(&m, "t");
    dx_keymap_match(&m, src, 6, tgt, 3, &r, &e);
    CHECK(r.src_fate[0] == DX_SRC_IMPORTED && r.src_fate[2] == DX_SRC_COUNTER &&
              r.src_fate[3] == DX_SRC_UNEXPECTED &&
              r.src_fate[4] == DX_SRC_SHAPE &&
              r.src_fate[5] == DX_SRC_UNEXPECTED && r.nproblem == 3,
          "imported, a counter of a BN of the network, a counter of none, a "
          "mis-shaped and an unexpected tensor");
    CHECK(r.nproblem == 3 && strstr(r.problem[1], "'head.weight' is 5 in "
                                                  "the file, the network's "
                                                  "is 3"),
          "the shape problem names both shapes: %s",
          r.nproblem > 1 ? r.problem[1] : "");
    dx_match_free(&r);
    dx_keymap_parse(&m, "init head.*\n", 12, "r", &e);
    dx_keymap_match(&m, src, 5, tgt, 3, &r, &e);
    CHECK(r.src_fate[4] == DX_SRC_REPLACED && r.tgt_init[2] &&
              r.initialised == 1 && r.nproblem == 1 && r.nnote == 1,
          "init: a mis-shaped head is left to initialise, said in a note");
    dx_match_free(&r);
    const dx_tspec twice[] = {{"a.weight", 1, D3, 1}, {"z.weight", 1, D3, 1}};
    dx_keymap_parse(&m, "rename z.* a.*\n", 15, "r", &e);
    dx_keymap_match(&m, twice, 2, tgt, 3, &r, &e);
    CHECK(r.src_fate[1] == DX_SRC_TWICE && r.nproblem == 2 &&
              strstr(r.problem[0], "both map to 'a.weight'") &&
              strstr(r.problem[1], "missing tensor 'bn.running_mean'"),
          "two keys onto one tensor; a missing tensor");
    dx_match_free(&r);
    dx_keymap_free(&m);
}

int main(void)
{
    test_parse();
    test_apply();
    test_real_lists();
    test_fates();
    return check_done();
}
