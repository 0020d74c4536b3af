/* labelmap.c - built-in label tables and the strict table parser. */
#include "data/labelmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/classes.h"

/* Cityscapes label ids of train ids 0..18 (GTA5 uses the same ids). */
static const uint16_t CITYSCAPES_IDS[DX_NUM_CLASSES] = {
    7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33};
/* SYNTHIA class ids of train ids 0..18. */
static const uint16_t SYNTHIA_IDS[DX_NUM_CLASSES] = {
    3, 4, 2, 21, 5, 7, 15, 9, 6, 16, 1, 10, 17, 8, 18, 19, 20, 12, 11};

static void clear(dx_labelmap *m)
{
    memset(m->lut, DX_IGNORE, sizeof m->lut);
    m->classes = 0;
    m->max_id = DX_LABEL_IDS - 1;
    m->name[0] = 0;
}

static void count_classes(dx_labelmap *m)
{
    int top = -1;
    for (int i = 0; i < DX_LABEL_IDS; i++)
        if (m->lut[i] != DX_IGNORE && m->lut[i] > top)
            top = m->lut[i];
    m->classes = top + 1;
}

int dx_labelmap_builtin(dx_labelmap *m, const char *name, dx_err *err)
{
    const uint16_t *ids;
    clear(m);
    /* Cityscapes label ids are 0..33 (cityscapesScripts labels.py; -1,
     * the licence plate, is not written into label images); GTA5 uses
     * them; SYNTHIA's class ids are 0..22 (its README). */
    if (strcmp(name, "cityscapes") == 0 || strcmp(name, "gta5") == 0) {
        ids = CITYSCAPES_IDS;
        m->max_id = 33;
        snprintf(m->name, sizeof m->name, "%s",
                 name[0] == 'c' ? "Cityscapes" : "GTA5");
    } else if (strcmp(name, "synthia") == 0) {
        ids = SYNTHIA_IDS;
        m->max_id = 22;
        snprintf(m->name, sizeof m->name, "SYNTHIA");
    } else {
        return dx_fail(err, "no built-in label map '%s': expected "
                       "cityscapes, gta5 or synthia", name);
    }
    for (int t = 0; t < DX_NUM_CLASSES; t++)
        m->lut[ids[t]] = (uint8_t)t;
    count_classes(m);
    return 0;
}

/* A cursor over one line, never past its end. */
typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_blank(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

/* An unsigned decimal number of at most 9 digits.  0 on success, -1 if the
 * text here is not one (or is too long). */
static int number(cursor *c, long *v)
{
    long x = 0;
    int digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (++digits > 9)
            return -1;
        x = x * 10 + (*c->p - '0');
        c->p++;
    }
    if (digits == 0)
        return -1;
    /* a number must end at a blank, a comment or the end of the line */
    if (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\r' &&
        *c->p != '#')
        return -1;
    *v = x;
    return 0;
}

/* What is at the cursor, for a message: up to 20 printable characters. */
static const char *show(const cursor *c, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = c->p; p < c->end && n + 5 < len && n < 20; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 32 && ch < 127)
            buf[n++] = (char)ch;
        else
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", ch);
    }
    buf[n] = 0;
    if (n == 0)
        snprintf(buf, len, "end of line");
    return buf;
}

int dx_labelmap_parse(dx_labelmap *m, const char *text, size_t len,
                      const char *src, dx_err *err)
{
    /* line on which each id was mapped, for duplicate messages */
    _Static_assert(DX_LABEL_IDS == 65536, "ids are 16-bit");
    uint32_t *where = calloc(DX_LABEL_IDS, sizeof *where);
    if (!where)
        return dx_fail(err, "%s: out of memory", src);
    clear(m);
    const char *p = text, *end = text + len;
    long line = 0, mapped = 0;
    char buf[100];
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        cursor c = {p, nl ? nl : end};
        p = nl ? nl + 1 : end;
        if (memchr(c.p, 0, (size_t)(c.end - c.p))) {
            free(where);
            clear(m);
            return dx_fail(err, "%s: line %ld: NUL byte; a label map is a "
                           "text table of 'ID TRAIN_ID' lines", src, line);
        }
        skip_blank(&c);
        if (c.p == c.end || *c.p == '#')
            continue;
        long id, train;
        const char *what = NULL;
        if (number(&c, &id))
            what = "expected an id (a number in [0, 65535])";
        else if (id >= DX_LABEL_IDS)
            what = "id out of range [0, 65535]";
        if (!what) {
            skip_blank(&c);
            if (number(&c, &train))
                what = "expected a train id (a number in [0, 255]) after "
                       "the id";
            else if (train > 255)
                what = "train id out of range [0, 255]";
        }
        if (!what) {
            skip_blank(&c);
            if (c.p < c.end && *c.p != '#')
                what = "unexpected text after 'ID TRAIN_ID'";
        }
        if (!what && where[id]) {
            long first = (long)where[id];
            free(where);
            clear(m);
            return dx_fail(err, "%s: line %ld: id %ld is mapped twice "
                           "(first on line %ld)", src, line, id, first);
        }
        if (what) {
            free(where);
            clear(m);
            return dx_fail(err, "%s: line %ld: %s, found '%s'", src, line,
                           what, show(&c, buf, sizeof buf));
        }
        where[id] = (uint32_t)(line > UINT32_MAX ? UINT32_MAX : line);
        m->lut[id] = (uint8_t)train;
        mapped++;
    }
    free(where);
    if (mapped == 0) {
        clear(m);
        return dx_fail(err, "%s: no mappings: expected lines 'ID TRAIN_ID'",
                       src);
    }
    count_classes(m);
    return 0;
}

int dx_labelmap_load(dx_labelmap *m, const char *path, dx_err *err)
{
    clear(m);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dx_fail(err, "label map %s: cannot open: %s", path,
                       strerror(errno));
    char *buf = malloc(DX_LABELMAP_MAX_BYTES + 1);
    if (!buf) {
        fclose(fp);
        return dx_fail(err, "label map %s: out of memory", path);
    }
    size_t n = fread(buf, 1, DX_LABELMAP_MAX_BYTES + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return dx_fail(err, "label map %s: read error", path);
    }
    if (n > DX_LABELMAP_MAX_BYTES) {
        free(buf);
        return dx_fail(err, "label map %s: larger than %d bytes; a label "
                       "map is a small text table", path,
                       DX_LABELMAP_MAX_BYTES);
    }
    int rc = dx_labelmap_parse(m, buf, n, path, err);
    free(buf);
    return rc;
}

long dx_labelmap_stray(const dx_labelmap *m, const void *ids, int depth,
                       size_t n)
{
    unsigned top = (unsigned)m->max_id;
    for (size_t i = 0; i < n; i++) {
        unsigned v = depth == 16 ? ((const uint16_t *)ids)[i]
                                 : ((const uint8_t *)ids)[i];
        if (v > top && v != DX_IGNORE)
            return (long)i;
    }
    return -1;
}

void dx_labelmap_apply(const dx_labelmap *m, const void *ids, int depth,
                       size_t n, uint8_t *out)
{
    if (depth == 16) {
        const uint16_t *v = ids;
        for (size_t i = 0; i < n; i++)
            out[i] = m->lut[v[i]];
    } else {
        const uint8_t *v = ids;
        for (size_t i = 0; i < n; i++)
            out[i] = m->lut[v[i]];
    }
}

uint64_t dx_labelmap_hash(const dx_labelmap *m)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the table */
    for (int i = 0; i < DX_LABEL_IDS; i++) {
        h ^= m->lut[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int dx_labelmap_invert(const dx_labelmap *m, uint16_t ids[256],
                       dx_err *err)
{
    int seen[256] = {0};
    memset(ids, 0, 256 * sizeof *ids);
    for (int id = 0; id < DX_LABEL_IDS; id++) {
        int t = m->lut[id];
        if (!seen[t]) {
            seen[t] = 1;
            ids[t] = (uint16_t)id;
        }
    }
    for (int t = 0; t < m->classes; t++)
        if (!seen[t])
            return dx_fail(err, "the label map names no id of train id %d: "
                           "it cannot be mapped back", t);
    return 0;
}
