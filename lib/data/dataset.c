/* dataset.c - enumerate dataset trees and list files into sorted paths. */
#include "data/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PATH 4096
/* The most items one dataset may hold. */
#define MAX_ITEMS (1 << 24)

static const char *const KINDS[] = {"cityscapes", "gta5", "synthia", "list",
                                    NULL};

const char *dx_dataset_kind_name(int kind)
{
    return kind >= 0 && kind < DX_DS_KINDS ? KINDS[kind] : NULL;
}

/* A growing list of strings. */
typedef struct strs {
    char **v;
    int n, cap;
} strs;

static int strs_push(strs *s, const char *text, dx_err *err)
{
    if (s->n >= MAX_ITEMS)
        return dx_fail(err, "more than %d files", MAX_ITEMS);
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v)
            return dx_fail(err, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(text)))
        return dx_fail(err, "out of memory");
    s->n++;
    return 0;
}

static void strs_free(strs *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* path = a "/" b, or fail if too long. */
static int join(char *out, const char *a, const char *b, dx_err *err)
{
    int n = snprintf(out, MAX_PATH, "%s/%s", a, b);
    if (n < 0 || n >= MAX_PATH)
        return dx_fail(err, "path too long: %s/%s", a, b);
    return 0;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The names in dir, sorted, that end in suffix (files) or, with dirs set,
 * that are directories (not starting with '.'). */
static int list_dir(const char *dir, const char *suffix, int dirs, strs *out,
                    const char *expect, dx_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return dx_fail(err, "cannot open directory %s: %s (expected %s)",
                       dir, strerror(errno), expect);
    struct dirent *e;
    char path[MAX_PATH];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (join(path, dir, e->d_name, err)) {
            closedir(d);
            return -1;
        }
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        int ok = dirs ? S_ISDIR(st.st_mode)
                      : S_ISREG(st.st_mode) && ends_with(e->d_name, suffix);
        if (ok && strs_push(out, e->d_name, err)) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return 0;
}

/* The entries of an exclude file, sorted by name: each with the line that
 * gave it and whether an item matched it. */
typedef struct excl_entry {
    char *name;
    long line;
    int used;
} excl_entry;

typedef struct exclusion {
    excl_entry *v;
    int n, cap;
    const char *path;
} exclusion;

static int excl_cmp(const void *a, const void *b)
{
    return strcmp(((const excl_entry *)a)->name,
                  ((const excl_entry *)b)->name);
}

static void exclusion_free(exclusion *x)
{
    for (int i = 0; i < x->n; i++)
        free(x->v[i].name);
    free(x->v);
    memset(x, 0, sizeof *x);
}

static int exclusion_add(exclusion *x, const char *name, long line,
                         dx_err *err)
{
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 16;
        excl_entry *v = realloc(x->v, (size_t)cap * sizeof *v);
        if (!v)
            return dx_fail(err, "out of memory");
        x->v = v;
        x->cap = cap;
    }
    if (!(x->v[x->n].name = strdup(name)))
        return dx_fail(err, "out of memory");
    x->v[x->n].line = line;
    x->v[x->n].used = 0;
    x->n++;
    return 0;
}

static int exclusion_load(exclusion *x, const char *path, dx_err *err)
{
    memset(x, 0, sizeof *x);
    x->path = path;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return dx_fail(err, "exclude file %s: cannot open: %s", path,
                       strerror(errno));
    static const char BLANK[] = " \t\r\n";
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    long ln = 0;
    int rc = 0;
    while (!rc && (len = getline(&text, &cap, fp)) >= 0) {
        ln++;
        if ((size_t)len != strlen(text)) {
            rc = dx_fail(err, "exclude file %s: line %ld: NUL byte", path,
                         ln);
            break;
        }
        char *hash = strchr(text, '#');
        if (hash)
            *hash = 0;
        char *p = text + strspn(text, BLANK);
        size_t n = strcspn(p, BLANK);
        if (!n)
            continue;
        if (p[n + strspn(p + n, BLANK)])
            rc = dx_fail(err, "exclude file %s: line %ld: expected one "
                         "path, found more", path, ln);
        else {
            p[n] = 0;
            rc = exclusion_add(x, p, ln, err);
        }
    }
    if (!rc && ferror(fp))
        rc = dx_fail(err, "exclude file %s: read error", path);
    free(text);
    fclose(fp);
    if (rc) {
        exclusion_free(x);
        return -1;
    }
    if (x->n > 1)
        qsort(x->v, (size_t)x->n, sizeof *x->v, excl_cmp);
    return 0;
}

/* Does the exclusion name any of the paths (NULL ones skipped)?  Marks
 * every entry it used. */
static int excluded(exclusion *x, const char *const *paths, int npaths)
{
    int hit = 0;
    for (int k = 0; k < npaths && x->n; k++) {
        if (!paths[k])
            continue;
        excl_entry key = {(char *)paths[k], 0, 0};
        excl_entry *at = bsearch(&key, x->v, (size_t)x->n, sizeof *x->v,
                                 excl_cmp);
        if (!at)
            continue;
        hit = 1;
        /* the same name may stand on several lines: mark them all */
        long i = at - x->v;
        while (i > 0 && !strcmp(x->v[i - 1].name, paths[k]))
            i--;
        for (; i < x->n && !strcmp(x->v[i].name, paths[k]); i++)
            x->v[i].used = 1;
    }
    return hit;
}

typedef struct builder {
    strs image, label, key;
    int labels, keep_missing;
    char absroot[MAX_PATH]; /* the root as an absolute path, or "" */
    exclusion ex;
    unsigned char *excl; /* per item */
    int nexcl, cap;
} builder;

/* Record whether the item just pushed (index b->image.n - 1) is excluded. */
static int mark(builder *b, int out, dx_err *err)
{
    int i = b->image.n - 1;
    if (i >= b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        unsigned char *e = realloc(b->excl, (size_t)cap);
        if (!e)
            return dx_fail(err, "out of memory");
        memset(e + b->cap, 0, (size_t)(cap - b->cap));
        b->excl = e;
        b->cap = cap;
    }
    b->excl[i] = (unsigned char)out;
    b->nexcl += out;
    return 0;
}

/* Add one item given its root and the image and label paths relative to
 * it; checks that the files exist, unless the item is excluded. */
static int add(builder *b, const char *root, const char *rimg,
               const char *rlbl, dx_err *err)
{
    char img[MAX_PATH], lbl[MAX_PATH];
    if (join(img, root, rimg, err) ||
        (b->labels && join(lbl, root, rlbl, err)))
        return -1;
    char aimg[2 * MAX_PATH] = "", albl[2 * MAX_PATH] = "";
    if (b->ex.n && b->absroot[0]) {
        snprintf(aimg, sizeof aimg, "%s/%s", b->absroot, rimg);
        snprintf(albl, sizeof albl, "%s/%s", b->absroot, rlbl);
    }
    const char *names[6] = {rimg, img, aimg, b->labels ? rlbl : NULL,
                            b->labels ? lbl : NULL, b->labels ? albl : NULL};
    int out = excluded(&b->ex, names, 6);
    int need = !out && !b->keep_missing;
    if (need && !is_file(img))
        return dx_fail(err, "missing image %s", img);
    if (strs_push(&b->image, img, err))
        return -1;
    if (b->labels) {
        if (need && !is_file(lbl))
            return dx_fail(err, "missing label %s for image %s", lbl, img);
        if (strs_push(&b->label, lbl, err))
            return -1;
    }
    return strs_push(&b->key, b->labels ? rlbl : rimg, err) ||
           mark(b, out, err);
}

static int open_cityscapes(builder *b, const char *root, const char *split,
                           dx_err *err)
{
    char dir[MAX_PATH], rel[MAX_PATH], rlbl[MAX_PATH], cdir[MAX_PATH];
    strs cities = {0}, files = {0};
    int n = snprintf(dir, sizeof dir, "%s/leftImg8bit/%s", root, split);
    if (n < 0 || n >= MAX_PATH)
        return dx_fail(err, "path too long: %s", root);
    if (list_dir(dir, NULL, 1, &cities, "ROOT/leftImg8bit/SPLIT/CITY/", err))
        return -1;
    for (int c = 0; c < cities.n; c++) {
        if (join(cdir, dir, cities.v[c], err))
            goto fail;
        if (list_dir(cdir, "_leftImg8bit.png", 0, &files, "", err))
            goto fail;
        for (int i = 0; i < files.n; i++) {
            const char *f = files.v[i];
            int stem = (int)(strlen(f) - strlen("_leftImg8bit.png"));
            n = snprintf(rel, sizeof rel, "leftImg8bit/%s/%s/%s", split,
                         cities.v[c], f);
            int m = snprintf(rlbl, sizeof rlbl,
                             "gtFine/%s/%s/%.*s_gtFine_labelIds.png", split,
                             cities.v[c], stem, f);
            if (n < 0 || n >= MAX_PATH || m < 0 || m >= MAX_PATH) {
                dx_fail(err, "path too long under %s", cdir);
                goto fail;
            }
            if (add(b, root, rel, rlbl, err))
                goto fail;
        }
        strs_free(&files);
    }
    strs_free(&cities);
    return 0;
fail:
    strs_free(&cities);
    strs_free(&files);
    return -1;
}

/* gta5 and synthia: every IMGDIR/NAME.png with LBLDIR/NAME.png. */
static int open_flat(builder *b, const char *root, const char *imgdir,
                     const char *lbldir, dx_err *err)
{
    char dir[MAX_PATH], rimg[MAX_PATH], rlbl[MAX_PATH];
    strs files = {0};
    if (join(dir, root, imgdir, err))
        return -1;
    char expect[200];
    snprintf(expect, sizeof expect, "ROOT/%s/*.png", imgdir);
    if (list_dir(dir, ".png", 0, &files, expect, err))
        return -1;
    for (int i = 0; i < files.n; i++) {
        int n = snprintf(rimg, sizeof rimg, "%s/%s", imgdir, files.v[i]);
        int m = snprintf(rlbl, sizeof rlbl, "%s/%s", lbldir, files.v[i]);
        if (n < 0 || n >= MAX_PATH || m < 0 || m >= MAX_PATH) {
            strs_free(&files);
            return dx_fail(err, "path too long under %s", dir);
        }
        if (add(b, root, rimg, rlbl, err)) {
            strs_free(&files);
            return -1;
        }
    }
    strs_free(&files);
    return 0;
}

/* Next blank-separated token of line (modified in place), or NULL. */
static char *token(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    if (!*s || *s == '#')
        return NULL;
    char *t = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '#')
        s++;
    if (*s == '#') { /* a comment right after a path ends the line */
        *s = 0;
        *p = s;
        return t;
    }
    if (*s)
        *s++ = 0;
    *p = s;
    return t;
}

static int open_list(builder *b, const char *list, const char *root,
                     dx_err *err)
{
    char base[MAX_PATH];
    if (root) {
        snprintf(base, sizeof base, "%s", root);
    } else {
        const char *slash = strrchr(list, '/');
        if (slash)
            snprintf(base, sizeof base, "%.*s", (int)(slash - list), list);
        else
            snprintf(base, sizeof base, ".");
        if (!base[0])
            snprintf(base, sizeof base, "/");
    }
    FILE *fp = fopen(list, "r");
    if (!fp)
        return dx_fail(err, "list %s: cannot open: %s", list,
                       strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long ln = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        ln++;
        if ((size_t)len != strlen(line)) {
            rc = dx_fail(err, "list %s: line %ld: NUL byte; expected "
                         "'IMAGE LABEL'", list, ln);
            break;
        }
        char *p = line;
        if (len > 0 && p[len - 1] == '\n')
            p[len - 1] = 0;
        char *img = token(&p), *lbl = token(&p), *extra = token(&p);
        if (!img)
            continue;
        if (extra) {
            rc = dx_fail(err, "list %s: line %ld: expected 'IMAGE LABEL', "
                         "found a third field '%.40s'", list, ln, extra);
            break;
        }
        if (!lbl && b->labels) {
            rc = dx_fail(err, "list %s: line %ld: expected 'IMAGE LABEL', "
                         "found only '%.200s'", list, ln, img);
            break;
        }
        if (strlen(img) >= MAX_PATH || (lbl && strlen(lbl) >= MAX_PATH)) {
            rc = dx_fail(err, "list %s: line %ld: path too long", list, ln);
            break;
        }
        const char *ib = img[0] == '/' ? "" : base;
        const char *lb = lbl && lbl[0] == '/' ? "" : base;
        char full_i[MAX_PATH], full_l[MAX_PATH];
        int ni = snprintf(full_i, sizeof full_i, "%s%s%s", ib, *ib ? "/" : "",
                          img);
        int nl = lbl ? snprintf(full_l, sizeof full_l, "%s%s%s", lb,
                                *lb ? "/" : "", lbl)
                     : 0;
        if (ni < 0 || ni >= MAX_PATH || nl < 0 || nl >= MAX_PATH) {
            rc = dx_fail(err, "list %s: line %ld: path too long", list, ln);
            break;
        }
        char abs_i[PATH_MAX] = "", abs_l[PATH_MAX] = "";
        if (b->ex.n && !realpath(full_i, abs_i))
            abs_i[0] = 0;
        if (b->ex.n && b->labels && !realpath(full_l, abs_l))
            abs_l[0] = 0;
        const char *names[6] = {img, full_i, abs_i,
                                b->labels ? lbl : NULL,
                                b->labels ? full_l : NULL, abs_l};
        int out = excluded(&b->ex, names, 6);
        int need = !out && !b->keep_missing;
        if (need && !is_file(full_i)) {
            rc = dx_fail(err, "list %s: line %ld: missing image %s", list,
                         ln, full_i);
            break;
        }
        if (need && b->labels && !is_file(full_l)) {
            rc = dx_fail(err, "list %s: line %ld: missing label %s", list,
                         ln, full_l);
            break;
        }
        if (strs_push(&b->image, full_i, err) ||
            (b->labels && strs_push(&b->label, full_l, err)) ||
            strs_push(&b->key, b->labels ? lbl : img, err) ||
            mark(b, out, err)) {
            rc = dx_wrap(err, "list %s: ", list);
            break;
        }
    }
    if (!rc && ferror(fp))
        rc = dx_fail(err, "list %s: read error", list);
    free(line);
    fclose(fp);
    return rc;
}

int dx_dataset_open(dx_dataset *d, const dx_dataset_spec *spec, dx_err *err)
{
    memset(d, 0, sizeof *d);
    builder b = {.labels = spec->labels, .keep_missing = spec->keep_missing};
    if (spec->exclude && exclusion_load(&b.ex, spec->exclude, err))
        return -1;
    if (spec->root && !realpath(spec->root, b.absroot))
        b.absroot[0] = 0;
    int rc;
    const char *where = spec->root;
    switch (spec->kind) {
    case DX_DS_CITYSCAPES:
        rc = open_cityscapes(&b, spec->root, spec->split, err);
        break;
    case DX_DS_GTA5:
        rc = open_flat(&b, spec->root, "images", "labels", err);
        break;
    case DX_DS_SYNTHIA:
        rc = open_flat(&b, spec->root, "RGB", "GT/LABELS", err);
        break;
    case DX_DS_LIST:
        rc = open_list(&b, spec->list, spec->root, err);
        where = spec->list;
        break;
    default:
        rc = dx_fail(err, "unknown dataset kind %d", spec->kind);
    }
    if (!rc && b.image.n == 0)
        rc = dx_fail(err, "%s dataset %s%s%s: no images found",
                     KINDS[spec->kind], where,
                     spec->kind == DX_DS_CITYSCAPES ? " split " : "",
                     spec->kind == DX_DS_CITYSCAPES ? spec->split : "");
    for (int i = 0; !rc && i < b.ex.n; i++)
        if (!b.ex.v[i].used)
            rc = dx_fail(err, "exclude file %s: line %ld: '%s' is no image "
                         "or label of the %s dataset %s", b.ex.path,
                         b.ex.v[i].line, b.ex.v[i].name, KINDS[spec->kind],
                         where);
    if (!rc && b.image.n > 0 && b.nexcl == b.image.n)
        rc = dx_fail(err, "exclude file %s excludes all %d items of %s",
                     spec->exclude, b.image.n, where);
    exclusion_free(&b.ex);
    if (rc) {
        strs_free(&b.image);
        strs_free(&b.label);
        strs_free(&b.key);
        free(b.excl);
        return -1;
    }
    d->kind = spec->kind;
    d->label_colors = spec->label_colors;
    d->n = b.image.n;
    d->image = b.image.v;
    d->label = spec->labels ? b.label.v : NULL;
    d->key = b.key.v;
    if (b.nexcl) {
        d->excluded = b.excl;
        d->nexcluded = b.nexcl;
    } else {
        free(b.excl);
    }
    return 0;
}

int dx_dataset_excluded(const dx_dataset *d, int i)
{
    return d->excluded && d->excluded[i];
}

void dx_dataset_limit(dx_dataset *d, int k)
{
    if (k <= 0 || k >= d->n)
        return;
    for (int i = 0; i < d->n; i++) {
        /* item i is kept iff it is floor(j*n/k) for some j */
        long j = ((long)i * k + d->n - 1) / d->n; /* smallest j with j*n/k >= i */
        int keep = j < k && (long)j * d->n / k == i;
        if (!keep) {
            free(d->image[i]);
            d->image[i] = NULL;
            if (d->label) {
                free(d->label[i]);
                d->label[i] = NULL;
            }
            free(d->key[i]);
            d->key[i] = NULL;
        }
    }
    int m = 0;
    for (int i = 0; i < d->n; i++) {
        if (!d->image[i])
            continue;
        d->image[m] = d->image[i];
        if (d->label)
            d->label[m] = d->label[i];
        d->key[m] = d->key[i];
        if (d->excluded)
            d->excluded[m] = d->excluded[i];
        m++;
    }
    d->n = m;
    if (d->excluded) {
        d->nexcluded = 0;
        for (int i = 0; i < m; i++)
            d->nexcluded += d->excluded[i];
    }
}

void dx_dataset_free(dx_dataset *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->image[i]);
        if (d->label)
            free(d->label[i]);
        free(d->key[i]);
    }
    free(d->image);
    free(d->label);
    free(d->key);
    free(d->excluded);
    memset(d, 0, sizeof *d);
}
