/* test_labelmap.c - built-in tables, the shipped text tables, and the
 * strict parser's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/labelmap.h"

static dx_labelmap a, b;

/* Parse text; return 0/-1 and leave the message in err. */
static int parse(const char *text, dx_err *err)
{
    return dx_labelmap_parse(&a, text, strlen(text), "t.map", err);
}

static void expect_error(const char *text, const char *needle, const char *what)
{
    dx_err err = {{0}};
    int rc = parse(text, &err);
    CHECK(rc == -1 && strstr(err.msg, needle), "%s: '%s'", what, err.msg);
    CHECK(a.classes == 0 && a.lut[7] == 255, "%s: table left all-ignore", what);
}

int main(void)
{
    dx_err err;
    /* built-ins: the tables of dacs-method(7) */
    CHECK(dx_labelmap_builtin(&a, "cityscapes", &err) == 0, "cityscapes");
    static const int cs[19] = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24,
                               25, 26, 27, 28, 31, 32, 33};
    int ok = a.classes == 19;
    for (int t = 0; t < 19; t++)
        ok &= a.lut[cs[t]] == t;
    int mapped = 0;
    for (int i = 0; i < DX_LABEL_IDS; i++)
        mapped += a.lut[i] != 255;
    CHECK(ok && mapped == 19, "cityscapes ids 7..33 -> 0..18, the rest 255");
    CHECK(a.lut[0] == 255 && a.lut[1] == 255 && a.lut[6] == 255 &&
              a.lut[34] == 255 && a.lut[255] == 255,
          "unlisted ids (0, 1, 6, 34, 255) map to ignore");
    CHECK(dx_labelmap_builtin(&b, "gta5", &err) == 0 &&
              memcmp(a.lut, b.lut, sizeof a.lut) == 0,
          "gta5 uses the cityscapes ids");
    CHECK(dx_labelmap_builtin(&a, "synthia", &err) == 0, "synthia");
    static const int sy[19][2] = {{3, 0},   {4, 1},   {2, 2},   {21, 3},
                                  {5, 4},   {7, 5},   {15, 6},  {9, 7},
                                  {6, 8},   {16, 9},  {1, 10},  {10, 11},
                                  {17, 12}, {8, 13},  {18, 14}, {19, 15},
                                  {20, 16}, {12, 17}, {11, 18}};
    ok = 1;
    for (int k = 0; k < 19; k++)
        ok &= a.lut[sy[k][0]] == sy[k][1];
    CHECK(ok && a.lut[0] == 255 && a.lut[13] == 255 && a.lut[22] == 255,
          "synthia table as in dacs-method(7)");
    CHECK(dx_labelmap_builtin(&a, "kitti", &err) == -1 &&
              strstr(err.msg, "kitti"),
          "unknown built-in named: %s", err.msg);

    /* the shipped text tables equal the built-ins */
    const char *names[] = {"cityscapes", "gta5", "synthia"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "pipelines/maps/%s.map", names[i]);
        int rc = dx_labelmap_load(&a, path, &err);
        CHECK(rc == 0, "load %s%s%s", path, rc ? ": " : "", rc ? err.msg : "");
        dx_labelmap_builtin(&b, names[i], &err);
        CHECK(rc == 0 && memcmp(a.lut, b.lut, sizeof a.lut) == 0 &&
                  a.classes == b.classes &&
                  dx_labelmap_hash(&a) == dx_labelmap_hash(&b),
              "%s equals the built-in table", path);
    }

    /* parsing */
    CHECK(parse("# c\n\n  7 0 # road\r\n8\t1\n65535 2", &err) == 0 &&
              a.lut[7] == 0 && a.lut[8] == 1 && a.lut[65535] == 2 &&
              a.classes == 3 && a.lut[9] == 255,
          "comments, blanks, CRLF, tabs, no final newline, id 65535");
    CHECK(parse("3 255\n4 0\n", &err) == 0 && a.lut[3] == 255 &&
              a.classes == 1,
          "an explicit 255 is ignore and does not count as a class");
    uint16_t ids[4] = {4, 3, 1000, 65535};
    uint8_t out[4];
    dx_labelmap_apply(&a, ids, 16, 4, out);
    CHECK(out[0] == 0 && out[1] == 255 && out[2] == 255 && out[3] == 255,
          "apply to 16-bit ids");
    uint8_t ids8[3] = {4, 0, 255};
    dx_labelmap_apply(&a, ids8, 8, 3, out);
    CHECK(out[0] == 0 && out[1] == 255 && out[2] == 255, "apply to 8-bit ids");

    expect_error("7 0\n8 1\n7 2\n", "line 3: id 7 is mapped twice (first on "
                 "line 1)", "duplicate");
    expect_error("7 0\n65536 1\n", "line 2: id out of range", "id too big");
    expect_error("7 0\n8 256\n", "line 2: train id out of range", "train id too big");
    expect_error("-1 0\n", "line 1: expected an id", "negative id");
    expect_error("+7 0\n", "line 1: expected an id", "plus sign");
    expect_error("7\n", "line 1: expected a train id", "missing train id");
    expect_error("7 0 road\n", "line 1: unexpected text", "trailing word");
    expect_error("7 0 1\n", "line 1: unexpected text", "third number");
    expect_error("road 0\n", "line 1: expected an id", "garbage");
    expect_error("7x 0\n", "line 1: expected an id", "digits then garbage");
    expect_error("7 0.5\n", "line 1: expected a train id", "fraction");
    expect_error("99999999999999999999 0\n", "line 1: expected an id",
                 "overflowing number");
    expect_error("", "no mappings", "empty table");
    expect_error("# only\n\n", "no mappings", "comments only");
    expect_error("7 0\n\n\n\xff\xfe 1\n", "line 4: expected an id",
                 "binary junk");
    {
        const char t[] = "7 0\n8\0 1\n";
        dx_err e = {{0}};
        int rc = dx_labelmap_parse(&a, t, sizeof t - 1, "t.map", &e);
        CHECK(rc == -1 && strstr(e.msg, "line 2: NUL byte"), "NUL byte: %s",
              e.msg);
    }
    /* the parser never reads past len: a table cut in the middle of a
     * number is read as what is there */
    {
        const char t[] = "7 0\n8 12345";
        CHECK(dx_labelmap_parse(&a, t, 4, "t.map", &err) == 0 &&
                  a.lut[8] == 255 && a.lut[7] == 0,
              "stops at len (4: only the first line)");
        CHECK(dx_labelmap_parse(&a, t, 7, "t.map", &err) == 0 &&
                  a.lut[8] == 1,
              "stops at len (7: '8 1', not '8 12345')");
        CHECK(dx_labelmap_parse(&a, t, 5, "t.map", &err) == -1,
              "'8' alone at the end: an error");
    }
    /* hostile input: random bytes never crash and always fail or succeed
     * cleanly */
    {
        char buf[512];
        uint32_t x = 12345;
        int crashes = 0;
        for (int k = 0; k < 2000; k++) {
            int n = (int)(x % sizeof buf);
            for (int i = 0; i < n; i++) {
                x = x * 1664525u + 1013904223u;
                const char alpha[] = "0123456789 \t\n#-+x\r\0";
                buf[i] = (k & 1) ? (char)(x >> 24)
                                 : alpha[(x >> 24) % (sizeof alpha - 1)];
            }
            dx_err e;
            int rc = dx_labelmap_parse(&a, buf, (size_t)n, "fuzz", &e);
            if (rc != 0 && rc != -1)
                crashes++;
            if (rc == -1 && strncmp(e.msg, "fuzz: ", 6) != 0)
                crashes++;
        }
        CHECK(crashes == 0, "2000 random tables: clean results");
    }
    CHECK(dx_labelmap_load(&a, "/nonexistent/x.map", &err) == -1 &&
              strstr(err.msg, "/nonexistent/x.map"),
          "missing file named: %s", err.msg);
    /* the way back: train ids to the smallest id of each */
    {
        uint16_t back[256];
        static const int want[19] = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22,
                                     23, 24, 25, 26, 27, 28, 31, 32, 33};
        int bad = dx_labelmap_builtin(&a, "cityscapes", &err) ||
                  dx_labelmap_invert(&a, back, &err);
        for (int t = 0; t < 19 && !bad; t++)
            bad = back[t] != want[t];
        CHECK(!bad && back[255] == 0, "cityscapes inverted: train ids to "
              "7..33, ignore to 0 (unlabeled)");
        const char *t2 = "3 0\n5 2\n4 0\n";
        CHECK(dx_labelmap_parse(&a, t2, strlen(t2), "gap", &err) == 0 &&
                  dx_labelmap_invert(&a, back, &err) == -1 &&
                  strstr(err.msg, "train id 1"),
              "a train id no id maps to is refused: %s", err.msg);
        const char *t3 = "3 0\n5 1\n2 0\n";
        CHECK(dx_labelmap_parse(&a, t3, strlen(t3), "two", &err) == 0 &&
                  dx_labelmap_invert(&a, back, &err) == 0 && back[0] == 2 &&
                  back[1] == 5 && back[255] == 0,
              "two ids of one train id: the smaller comes back");
    }
    return check_done();
}
