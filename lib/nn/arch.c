/* arch.c - parse and write the meta.arch record; see arch.h. */
#include "nn/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_NET, K_VERSION, K_WIDTH, K_CLASSES, K_MEAN, K_STD, K_END };
static const char *const KEYS[] = {
    [K_NET] = "net",       [K_VERSION] = "version", [K_WIDTH] = "width",
    [K_CLASSES] = "classes", [K_MEAN] = "mean",     [K_STD] = "std",
};
_Static_assert(sizeof KEYS / sizeof KEYS[0] == K_END,
               "KEYS must name every key");

/* Longest value we look at; longer ones are an error, not a truncation. */
enum { MAXVAL = 127 };

void dx_arch_default(dx_arch *a)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float std[3] = {0.229f, 0.224f, 0.225f};
    a->width = 32;
    a->classes = 19;
    memcpy(a->mean, mean, sizeof mean);
    memcpy(a->std, std, sizeof std);
}

int dx_arch_check(const dx_arch *a, dx_err *err)
{
    if (a->width < 1 || a->width > DX_ARCH_MAX_WIDTH)
        return dx_fail(err, "width %d, expected 1..%d", a->width,
                       DX_ARCH_MAX_WIDTH);
    if (a->classes < 1 || a->classes > DX_ARCH_MAX_CLASSES)
        return dx_fail(err, "classes %d, expected 1..%d", a->classes,
                       DX_ARCH_MAX_CLASSES);
    for (int i = 0; i < 3; i++) {
        if (!isfinite(a->mean[i]))
            return dx_fail(err, "mean[%d] is not finite", i);
        if (!isfinite(a->std[i]) || !(a->std[i] > 0))
            return dx_fail(err, "std[%d] is %g, expected a finite number "
                           "> 0", i, (double)a->std[i]);
    }
    return 0;
}

/* A whole decimal integer in [lo, hi], digits only. */
static int parse_int(const char *v, int lo, int hi, int *out)
{
    size_t n = strlen(v);
    if (n < 1 || n > 9)
        return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    if (x < lo || x > hi)
        return -1;
    *out = (int)x;
    return 0;
}

/* Three comma-separated finite numbers that stay finite as floats. */
static int parse_triple(const char *v, float out[3])
{
    const char *p = v;
    for (int i = 0; i < 3; i++) {
        char num[MAXVAL + 1];
        size_t n = strcspn(p, ",");
        if (n == 0 || n > MAXVAL)
            return -1;
        memcpy(num, p, n);
        num[n] = 0;
        char *end;
        double d = strtod(num, &end);
        if (*end || !isfinite(d) || !isfinite((float)d))
            return -1;
        out[i] = (float)d;
        p += n;
        if (i < 2) {
            if (*p != ',')
                return -1;
            p++;
        }
    }
    return *p ? -1 : 0;
}

int dx_arch_parse(dx_arch *a, const char *text, size_t len, dx_err *err)
{
    memset(a, 0, sizeof *a);
    if (len > DX_ARCH_MAX_TEXT)
        return dx_fail(err, "meta.arch is %zu bytes, expected at most %d",
                       len, DX_ARCH_MAX_TEXT);
    int seen[K_END] = {0};
    int version = 0;
    size_t at = 0;
    int line = 0;
    while (at < len) {
        line++;
        size_t end = at;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - at;
        const char *s = text + at;
        at = end + 1; /* past the '\n' (or past len: loop ends) */
        if (n == 0)
            return dx_fail(err, "meta.arch line %d is empty", line);
        for (size_t i = 0; i < n; i++)
            if (s[i] < 0x21 || s[i] > 0x7e)
                return dx_fail(err, "meta.arch line %d: byte 0x%02x is not "
                               "printable ASCII (no spaces allowed)", line,
                               (unsigned char)s[i]);
        const char *eq = memchr(s, '=', n);
        if (!eq)
            return dx_fail(err, "meta.arch line %d: expected key=value",
                           line);
        size_t klen = (size_t)(eq - s), vlen = n - klen - 1;
        int k = 0;
        while (k < K_END && !(strlen(KEYS[k]) == klen &&
                              memcmp(KEYS[k], s, klen) == 0))
            k++;
        if (k == K_END)
            return dx_fail(err, "meta.arch line %d: unknown key '%.*s'",
                           line, (int)(klen > 40 ? 40 : klen), s);
        if (seen[k]++)
            return dx_fail(err, "meta.arch line %d: key '%s' given twice",
                           line, KEYS[k]);
        if (vlen > MAXVAL)
            return dx_fail(err, "meta.arch line %d: value of '%s' is %zu "
                           "bytes, expected at most %d", line, KEYS[k], vlen,
                           MAXVAL);
        char v[MAXVAL + 1];
        memcpy(v, eq + 1, vlen);
        v[vlen] = 0;
        int bad = 0;
        switch (k) {
        case K_NET:
            if (strcmp(v, DX_ARCH_NET) != 0)
                return dx_fail(err, "checkpoint is of network '%s', this "
                               "dacs builds '%s'", v, DX_ARCH_NET);
            break;
        case K_VERSION:
            if (parse_int(v, 0, 999999, &version) || version != DX_ARCH_VERSION)
                return dx_fail(err, "meta.arch version '%s', this dacs "
                               "reads version %d", v, DX_ARCH_VERSION);
            break;
        case K_WIDTH:
            bad = parse_int(v, 1, DX_ARCH_MAX_WIDTH, &a->width);
            break;
        case K_CLASSES:
            bad = parse_int(v, 1, DX_ARCH_MAX_CLASSES, &a->classes);
            break;
        case K_MEAN:
            bad = parse_triple(v, a->mean);
            break;
        case K_STD:
            bad = parse_triple(v, a->std) ||
                  !(a->std[0] > 0 && a->std[1] > 0 && a->std[2] > 0);
            break;
        }
        if (bad) {
            static const char *const want[K_END] = {
                [K_WIDTH] = "an integer in 1..512",
                [K_CLASSES] = "an integer in 1..255",
                [K_MEAN] = "three finite numbers R,G,B",
                [K_STD] = "three finite numbers R,G,B, each > 0",
            };
            return dx_fail(err, "meta.arch line %d: bad value '%s' for '%s', "
                           "expected %s", line, v, KEYS[k], want[k]);
        }
    }
    for (int k = 0; k < K_END; k++)
        if (!seen[k])
            return dx_fail(err, "meta.arch has no '%s' line%s", KEYS[k],
                           k == K_NET ? " (not a dacs network checkpoint?)"
                                      : "");
    return dx_arch_check(a, err);
}

/* The shortest %.Ng (N <= 9) that reads back as the same float. */
static void shortest(char *buf, size_t cap, float v)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, cap, "%.*g", digits, (double)v);
        if ((float)strtod(buf, NULL) == v)
            return;
    }
}

int dx_arch_format(const dx_arch *a, char *buf, size_t cap)
{
    char m[3][32], s[3][32];
    for (int i = 0; i < 3; i++) {
        shortest(m[i], sizeof m[i], a->mean[i]);
        shortest(s[i], sizeof s[i], a->std[i]);
    }
    int n = snprintf(buf, cap,
                     "net=%s\nversion=%d\nwidth=%d\nclasses=%d\n"
                     "mean=%s,%s,%s\nstd=%s,%s,%s\n",
                     DX_ARCH_NET, DX_ARCH_VERSION, a->width, a->classes,
                     m[0], m[1], m[2], s[0], s[1], s[2]);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

void dx_arch_describe(const dx_arch *a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s width=%d classes=%d", DX_ARCH_NET, a->width,
             a->classes);
}
