/* keymap.c - key-map rules and the exact match; see keymap.h. */
#include "nn/keymap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The built-in maps, written in the rules format. */
static const struct builtin {
    const char *name, *desc, *rules;
} BUILTIN[] = {
    {"dacs",
     "dacs's own names (seg-export; the DACS/AdaptSegNet DeepLabv2; "
     "deeplab-mini's PyTorch module)",
     ""},
    {"torchvision",
     "torchvision ImageNet ResNet: fc.* dropped, the head layer5.* left to "
     "initialise",
     "drop fc.*\n"
     "init layer5.*\n"},
    {"mmseg",
     "mmsegmentation/DAFormer: backbone. stripped, decode_head.aspp_modules "
     "to layer5.conv2d_list",
     "refuse backbone.stem.* mmsegmentation's ResNetV1c deep stem (three "
     "3x3 convolutions, backbone.stem.*) has no counterpart in this "
     "network's 7x7 stem: use a ResNetV1b backbone (type ResNet, "
     "conv1/bn1) or torchvision weights\n"
     "strip backbone.\n"
     "rename decode_head.aspp_modules.*.conv.* layer5.conv2d_list.*.*\n"
     "drop auxiliary_head.*\n"
     "init layer5.conv2d_list.*\n"},
};
#define NBUILTIN ((int)(sizeof BUILTIN / sizeof BUILTIN[0]))

const char *const dx_keymap_names[] = {"dacs", "torchvision", "mmseg", NULL};
_Static_assert(sizeof dx_keymap_names / sizeof dx_keymap_names[0] ==
                   NBUILTIN + 1,
               "one name per built-in map");

const char *dx_keymap_describe(const char *name)
{
    for (int i = 0; i < NBUILTIN; i++)
        if (!strcmp(name, BUILTIN[i].name))
            return BUILTIN[i].desc;
    return NULL;
}

void dx_keymap_init(dx_keymap *m, const char *name)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
}

void dx_keymap_free(dx_keymap *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->r[i].a);
        free(m->r[i].b);
    }
    free(m->r);
    memset(m, 0, sizeof *m);
}

int dx_keymap_builtin(dx_keymap *m, const char *name, dx_err *err)
{
    dx_keymap_init(m, name);
    for (int i = 0; i < NBUILTIN; i++)
        if (!strcmp(name, BUILTIN[i].name)) {
            char src[80];
            snprintf(src, sizeof src, "map %s", name);
            if (dx_keymap_parse(m, BUILTIN[i].rules,
                                strlen(BUILTIN[i].rules), src, err)) {
                dx_keymap_free(m);
                return -1;
            }
            return 0;
        }
    return dx_fail(err, "unknown map '%s', expected dacs, torchvision or "
                   "mmseg", name);
}

static const char *const KIND[DX_RULE_END] = {
    [DX_RULE_STRIP] = "strip",   [DX_RULE_RENAME] = "rename",
    [DX_RULE_DROP] = "drop",     [DX_RULE_REFUSE] = "refuse",
    [DX_RULE_INIT] = "init"};

static int stars(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '*';
    return n;
}

int dx_keymap_add(dx_keymap *m, int kind, const char *a, const char *b,
                  const char *src, dx_err *err)
{
    if (kind < 0 || kind >= DX_RULE_END)
        return dx_fail(err, "%s: unknown rule kind", src);
    if (!a[0] || strlen(a) > DX_KEY_MAX || (b && strlen(b) > DX_KEY_MAX))
        return dx_fail(err, "%s: %s needs a pattern of 1 to %d characters",
                       src, KIND[kind], DX_KEY_MAX);
    if (kind == DX_RULE_STRIP && strchr(a, '*'))
        return dx_fail(err, "%s: strip takes a plain prefix, not a pattern "
                       "('%s')", src, a);
    if (stars(a) > DX_RULE_MAX_STARS)
        return dx_fail(err, "%s: pattern '%s' has %d '*', at most %d", src,
                       a, stars(a), DX_RULE_MAX_STARS);
    if (kind == DX_RULE_RENAME && stars(b) > stars(a))
        return dx_fail(err, "%s: rename target '%s' has more '*' than '%s'",
                       src, b, a);
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        dx_rule *r = realloc(m->r, (size_t)cap * sizeof *r);
        if (!r)
            return dx_fail(err, "out of memory");
        m->r = r;
        m->cap = cap;
    }
    dx_rule *r = &m->r[m->n];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->a = strdup(a);
    r->b = b ? strdup(b) : NULL;
    snprintf(r->src, sizeof r->src, "%s", src);
    if (!r->a || (b && !r->b)) {
        free(r->a);
        free(r->b);
        return dx_fail(err, "out of memory");
    }
    m->n++;
    return 0;
}

int dx_keymap_extend(dx_keymap *m, const dx_keymap *src, dx_err *err)
{
    for (int i = 0; i < src->n; i++)
        if (dx_keymap_add(m, src->r[i].kind, src->r[i].a, src->r[i].b,
                          src->r[i].src, err))
            return -1;
    return 0;
}

/* Split the next blank-separated field off *p (NUL-terminating it). */
static char *field(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    if (*e)
        *e++ = 0;
    *p = e;
    return s;
}

static int parse_line(dx_keymap *m, char *line, const char *src, dx_err *err)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = 0;
    char *p = line, *word = field(&p);
    if (!word)
        return 0;
    int kind = -1;
    for (int k = 0; k < DX_RULE_END; k++)
        if (!strcmp(word, KIND[k]))
            kind = k;
    if (kind < 0)
        return dx_fail(err, "%s: unknown rule '%.40s', expected strip, "
                       "rename, drop, refuse or init", src, word);
    char *a = field(&p), *b = NULL;
    if (kind == DX_RULE_RENAME)
        b = field(&p);
    if (kind == DX_RULE_REFUSE) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            p[--n] = 0;
        b = n ? p : NULL;
        p += n;
    }
    if (!a || ((kind == DX_RULE_RENAME || kind == DX_RULE_REFUSE) && !b))
        return dx_fail(err, "%s: '%s' needs %s", src, word,
                       kind == DX_RULE_RENAME   ? "FROM and TO"
                       : kind == DX_RULE_REFUSE ? "a PATTERN and a reason"
                                                : "a PATTERN");
    if (field(&p))
        return dx_fail(err, "%s: '%s' takes %s field%s, found more", src,
                       word, kind == DX_RULE_RENAME ? "two" : "one",
                       kind == DX_RULE_RENAME ? "s" : "");
    return dx_keymap_add(m, kind, a, b, src, err);
}

int dx_keymap_parse(dx_keymap *m, const char *text, size_t len,
                    const char *src, dx_err *err)
{
    size_t at = 0;
    for (int lineno = 1; at < len; lineno++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - text - at) : len - at;
        char where[96], line[2 * DX_KEY_MAX + 64];
        snprintf(where, sizeof where, "%s:%d", src, lineno);
        if (n >= sizeof line)
            return dx_fail(err, "%s: line longer than %zu bytes", where,
                           sizeof line - 1);
        memcpy(line, text + at, n);
        line[n] = 0;
        if (n && line[n - 1] == '\r')
            line[n - 1] = 0;
        for (size_t i = 0; line[i]; i++)
            if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
                return dx_fail(err, "%s: control character 0x%02x", where,
                               (unsigned char)line[i]);
        if (strlen(line) != n && strlen(line) + 1 != n)
            return dx_fail(err, "%s: NUL byte", where);
        if (parse_line(m, line, where, err))
            return -1;
        at += n + 1;
    }
    return 0;
}

int dx_keymap_read(dx_keymap *m, const char *path, dx_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, fp) : 0;
    int big = buf && n == 1 << 20 && fgetc(fp) != EOF, bad = ferror(fp);
    fclose(fp);
    int rc;
    if (!buf)
        rc = dx_fail(err, "out of memory");
    else if (big || bad)
        rc = dx_fail(err, "%s: %s", path, big ? "larger than 1 MiB"
                                              : "read error");
    else
        rc = dx_keymap_parse(m, buf, n, path, err);
    free(buf);
    return rc;
}

/* ---- applying ---- */

/* Match s against p; each '*' takes the shortest run that lets the rest
 * match, recorded in cs/cl. */
static int glob(const char *p, const char *s, const char **cs, size_t *cl,
                int k)
{
    for (;;) {
        if (*p == '*') {
            for (size_t n = 0;; n++) {
                cs[k] = s;
                cl[k] = n;
                if (glob(p + 1, s + n, cs, cl, k + 1))
                    return 1;
                if (!s[n])
                    return 0;
            }
        }
        if (!*p)
            return !*s;
        if (*p != *s)
            return 0;
        p++, s++;
    }
}

int dx_key_glob(const char *pattern, const char *name)
{
    const char *cs[DX_RULE_MAX_STARS + 1];
    size_t cl[DX_RULE_MAX_STARS + 1];
    return stars(pattern) <= DX_RULE_MAX_STARS &&
           glob(pattern, name, cs, cl, 0);
}

int dx_keymap_apply(const dx_keymap *m, const char *key, char *out,
                    size_t cap, const dx_rule **rule)
{
    char cur[DX_KEY_MAX + 1];
    *rule = NULL;
    if (strlen(key) > DX_KEY_MAX)
        return DX_KEY_TOO_LONG;
    strcpy(cur, key);
    for (int i = 0; i < m->n; i++) {
        const dx_rule *r = &m->r[i];
        const char *cs[DX_RULE_MAX_STARS + 1];
        size_t cl[DX_RULE_MAX_STARS + 1], pl = strlen(r->a);
        switch (r->kind) {
        case DX_RULE_STRIP:
            if (!strncmp(cur, r->a, pl))
                memmove(cur, cur + pl, strlen(cur + pl) + 1);
            break;
        case DX_RULE_RENAME: {
            if (!glob(r->a, cur, cs, cl, 0))
                break;
            char next[DX_KEY_MAX + 1];
            size_t at = 0;
            int k = 0;
            for (const char *t = r->b; *t; t++) {
                const char *piece = *t == '*' ? cs[k] : t;
                size_t n = *t == '*' ? cl[k++] : 1;
                if (at + n > DX_KEY_MAX) {
                    *rule = r;
                    return DX_KEY_TOO_LONG;
                }
                memcpy(next + at, piece, n);
                at += n;
            }
            next[at] = 0;
            strcpy(cur, next);
            break;
        }
        case DX_RULE_DROP:
        case DX_RULE_REFUSE:
            if (glob(r->a, cur, cs, cl, 0)) {
                *rule = r;
                return r->kind == DX_RULE_DROP ? DX_KEY_DROPPED
                                               : DX_KEY_REFUSED;
            }
            break;
        default:
            break;
        }
    }
    if (strlen(cur) + 1 > cap)
        return DX_KEY_TOO_LONG;
    strcpy(out, cur);
    return DX_KEY_MAPPED;
}

/* ---- matching ---- */

__attribute__((format(printf, 4, 5))) static int say(char ***list, int *n,
                                                     dx_err *err,
                                                     const char *fmt, ...)
{
    char buf[3 * DX_KEY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (!l)
        return dx_fail(err, "out of memory");
    *list = l;
    if (!(l[*n] = strdup(buf)))
        return dx_fail(err, "out of memory");
    (*n)++;
    return 0;
}

static void shape_str(const dx_tspec *t, char *buf, size_t cap)
{
    size_t at = 0;
    snprintf(buf, cap, "%s", t->rank ? "" : "scalar");
    for (int i = 0; i < t->rank && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? "x" : "",
                               (long long)t->dims[i]);
}

static int same_shape(const dx_tspec *a, const dx_tspec *b)
{
    if (a->rank != b->rank || a->is_float != b->is_float)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

static int by_name(const void *a, const void *b, void *tspecs)
{
    const dx_tspec *t = tspecs;
    return strcmp(t[*(const int *)a].name, t[*(const int *)b].name);
}

static int find(const dx_tspec *t, const int *sorted, int n, const char *nm)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(nm, t[sorted[mid]].name);
        if (!c)
            return sorted[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

static const dx_rule *init_rule(const dx_keymap *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (m->r[i].kind == DX_RULE_INIT && dx_key_glob(m->r[i].a, name))
            return &m->r[i];
    return NULL;
}

void dx_match_free(dx_match *r)
{
    for (int i = 0; i < r->nproblem; i++)
        free(r->problem[i]);
    for (int i = 0; i < r->nnote; i++)
        free(r->note[i]);
    free(r->problem);
    free(r->note);
    free(r->src_fate);
    free(r->src_tgt);
    free(r->tgt_src);
    free(r->tgt_init);
    memset(r, 0, sizeof *r);
}

/* The fate of file tensor k, whose mapped name is name. */
static int place(const dx_keymap *m, const dx_tspec *s, const char *name,
                 const dx_tspec *tgt, const int *sorted, int ntgt,
                 dx_match *r, int k, dx_err *err)
{
    char fs[128], ts[128], as[DX_KEY_MAX + 16] = "";
    shape_str(s, fs, sizeof fs);
    if (strcmp(name, s->name))
        snprintf(as, sizeof as, " (mapped to '%s')", name);
    int t = find(tgt, sorted, ntgt, name);
    r->src_tgt[k] = t;
    if (t < 0) {
        static const char NBT[] = ".num_batches_tracked";
        size_t n = strlen(name), l = sizeof NBT - 1;
        char bn[DX_KEY_MAX + 32];
        if (n > l && !strcmp(name + n - l, NBT) && n - l < DX_KEY_MAX) {
            snprintf(bn, sizeof bn, "%.*s.running_mean", (int)(n - l), name);
            if (find(tgt, sorted, ntgt, bn) >= 0) {
                r->counters++;
                return r->src_fate[k] = DX_SRC_COUNTER, 0;
            }
        }
        r->src_fate[k] = DX_SRC_UNEXPECTED;
        return say(&r->problem, &r->nproblem, err,
                   "unexpected tensor '%s' (%s)%s: the network has no such "
                   "tensor", s->name, fs, as);
    }
    shape_str(&tgt[t], ts, sizeof ts);
    if (r->tgt_src[t] >= 0) {
        r->src_fate[k] = DX_SRC_TWICE;
        return say(&r->problem, &r->nproblem, err,
                   "tensor '%s'%s and '%s' both map to '%s'", s->name, as,
                   tgt[t].name, tgt[t].name);
    }
    if (same_shape(s, &tgt[t])) {
        r->tgt_src[t] = k;
        r->imported++;
        return r->src_fate[k] = DX_SRC_IMPORTED, 0;
    }
    const char *what = s->is_float ? "" : "an integer tensor ";
    const dx_rule *ir = init_rule(m, name);
    if (ir) {
        r->src_fate[k] = DX_SRC_REPLACED;
        r->tgt_init[t] = 1;
        return say(&r->note, &r->nnote, err,
                   "'%s' left to initialise: the file's '%s' is %s%s, the "
                   "network's %s (%s: init %s)", tgt[t].name, s->name, what,
                   fs, ts, ir->src, ir->a);
    }
    r->src_fate[k] = DX_SRC_SHAPE;
    r->tgt_src[t] = -2;
    return say(&r->problem, &r->nproblem, err,
               "tensor '%s'%s is %s%s in the file, the network's is %s",
               s->name, as, what, fs, ts);
}

int dx_keymap_match(const dx_keymap *m, const dx_tspec *src, int nsrc,
                    const dx_tspec *tgt, int ntgt, dx_match *r, dx_err *err)
{
    memset(r, 0, sizeof *r);
    r->nsrc = nsrc;
    r->ntgt = ntgt;
    size_t ns = (size_t)(nsrc ? nsrc : 1), nt = (size_t)(ntgt ? ntgt : 1);
    r->src_fate = calloc(ns, sizeof *r->src_fate);
    r->src_tgt = calloc(ns, sizeof *r->src_tgt);
    r->tgt_src = malloc(nt * sizeof *r->tgt_src);
    r->tgt_init = calloc(nt, sizeof *r->tgt_init);
    int *sorted = malloc(nt * sizeof *sorted);
    if (!r->src_fate || !r->src_tgt || !r->tgt_src || !r->tgt_init ||
        !sorted) {
        free(sorted);
        dx_match_free(r);
        return dx_fail(err, "out of memory");
    }
    for (int t = 0; t < ntgt; t++) {
        r->tgt_src[t] = -1;
        sorted[t] = t;
    }
    qsort_r(sorted, (size_t)ntgt, sizeof *sorted, by_name, (void *)tgt);
    for (int k = 0; k < nsrc; k++) {
        char name[DX_KEY_MAX + 1];
        const dx_rule *rule;
        int fate = dx_keymap_apply(m, src[k].name, name, sizeof name, &rule);
        int rc = 0;
        r->src_tgt[k] = -1;
        if (fate == DX_KEY_MAPPED) {
            rc = place(m, &src[k], name, tgt, sorted, ntgt, r, k, err);
        } else if (fate == DX_KEY_DROPPED) {
            r->src_fate[k] = DX_SRC_DROPPED;
            r->dropped++;
            rc = say(&r->note, &r->nnote, err, "'%s' dropped (%s: drop %s)",
                     src[k].name, rule->src, rule->a);
        } else if (fate == DX_KEY_REFUSED) {
            r->src_fate[k] = DX_SRC_REFUSED;
            rc = say(&r->problem, &r->nproblem, err, "tensor '%s': %s (%s)",
                     src[k].name, rule->b, rule->src);
        } else {
            r->src_fate[k] = DX_SRC_BADNAME;
            rc = say(&r->problem, &r->nproblem, err,
                     "tensor '%.200s' is renamed beyond %d characters",
                     src[k].name, DX_KEY_MAX);
        }
        if (rc) {
            free(sorted);
            dx_match_free(r);
            return -1;
        }
    }
    free(sorted);
    for (int t = 0; t < ntgt; t++) {
        if (r->tgt_src[t] != -1)
            continue; /* imported, or reported mis-shaped */
        char ts[128];
        shape_str(&tgt[t], ts, sizeof ts);
        const dx_rule *ir = init_rule(m, tgt[t].name);
        int rc;
        if (r->tgt_init[t]) {
            rc = 0;
        } else if (ir) {
            r->tgt_init[t] = 1;
            rc = say(&r->note, &r->nnote, err,
                     "'%s' (%s) left to initialise: not in the file (%s: "
                     "init %s)", tgt[t].name, ts, ir->src, ir->a);
        } else {
            rc = say(&r->problem, &r->nproblem, err,
                     "missing tensor '%s' (%s): the file has no tensor that "
                     "maps to it", tgt[t].name, ts);
        }
        if (rc) {
            dx_match_free(r);
            return -1;
        }
        r->initialised += r->tgt_init[t];
    }
    return 0;
}
