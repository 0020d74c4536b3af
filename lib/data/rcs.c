/* rcs.c - class statistics of a dataset and rare-class sampling. */
#include "data/rcs.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/classes.h"
#include "data/item.h"
#include "io/tns.h"

void dx_rcs_stats_free(dx_rcs_stats *s)
{
    if (s->keys)
        for (int i = 0; i < s->n; i++)
            free(s->keys[i]);
    free(s->keys);
    free(s->counts);
    memset(s, 0, sizeof *s);
}

int dx_rcs_count(dx_rcs_stats *s, const dx_dataset *d,
                 const dx_labelmap *map, dx_progress_fn progress, void *arg,
                 dx_err *err)
{
    memset(s, 0, sizeof *s);
    if (!d->label)
        return dx_fail(err, "class statistics need labels");
    if (map->classes < 1)
        return dx_fail(err, "the label map has no classes");
    s->n = d->n;
    s->classes = map->classes;
    snprintf(s->kind, sizeof s->kind, "%s", dx_dataset_kind_name(d->kind));
    s->map_hash = dx_labelmap_hash(map);
    s->counts = calloc((size_t)d->n * map->classes, sizeof *s->counts);
    s->keys = calloc((size_t)d->n, sizeof *s->keys);
    if (!s->counts || !s->keys) {
        dx_rcs_stats_free(s);
        return dx_fail(err, "out of memory");
    }
    for (int i = 0; i < d->n; i++) {
        if (!(s->keys[i] = strdup(d->key[i]))) {
            dx_rcs_stats_free(s);
            return dx_fail(err, "out of memory");
        }
    }
    for (int i = 0; i < d->n; i++) {
        uint8_t *train;
        int w, h;
        if (dx_dataset_excluded(d, i))
            continue; /* never read: it counts no pixels */
        if (dx_item_label(d, i, map, &train, &w, &h, err)) {
            dx_rcs_stats_free(s);
            return -1;
        }
        size_t npx = (size_t)w * h;
        int32_t *row = s->counts + (size_t)i * s->classes;
        for (size_t k = 0; k < npx; k++)
            if (train[k] < s->classes)
                row[train[k]]++;
        free(train);
        if (progress)
            progress(i + 1, d->n, arg);
    }
    return 0;
}

int dx_rcs_save(const dx_rcs_stats *s, const char *path, dx_err *err)
{
    tns_stream st = {0};
    tns_frame f = {0};
    char meta[256];
    snprintf(meta, sizeof meta,
             "dataset=%s\nitems=%d\nclasses=%d\nmap=%016" PRIx64 "\n",
             s->kind, s->n, s->classes, s->map_hash);
    if (tns_frame_text(&f, "rcs.meta", meta, err) ||
        tns_stream_put(&st, &f, 0, err))
        goto fail;
    int64_t dims[2] = {s->n, s->classes};
    if (tns_frame_borrow(&f, "rcs.counts", DX_I32, 2, dims, s->counts, err) ||
        tns_stream_put(&st, &f, 0, err))
        goto fail;
    size_t len = 0;
    for (int i = 0; i < s->n; i++)
        len += strlen(s->keys[i]) + 1;
    char *text = malloc(len + 1), *p = text;
    if (!text) {
        dx_fail(err, "out of memory");
        goto fail;
    }
    for (int i = 0; i < s->n; i++)
        p += sprintf(p, "%s\n", s->keys[i]);
    int rc = tns_frame_text(&f, "rcs.keys", text, err);
    free(text);
    if (rc || tns_stream_put(&st, &f, 0, err) ||
        tns_stream_save(&st, path, err))
        goto fail;
    tns_stream_free(&st);
    return 0;
fail:
    tns_frame_free(&f);
    tns_stream_free(&st);
    return -1;
}

/* The value of key in "k=v\n" text (len bytes), copied into out. */
static int meta_get(const tns_frame *f, const char *key, char *out,
                    size_t outlen)
{
    const char *t = f->data, *end = t + f->nbytes;
    size_t kl = strlen(key);
    while (t < end) {
        const char *nl = memchr(t, '\n', (size_t)(end - t));
        const char *le = nl ? nl : end;
        if ((size_t)(le - t) > kl && memcmp(t, key, kl) == 0 && t[kl] == '=') {
            size_t vl = (size_t)(le - t) - kl - 1;
            if (vl >= outlen)
                return -1;
            memcpy(out, t + kl + 1, vl);
            out[vl] = 0;
            return 0;
        }
        t = nl ? nl + 1 : end;
    }
    return -1;
}

int dx_rcs_load(dx_rcs_stats *s, const char *path, dx_err *err)
{
    memset(s, 0, sizeof *s);
    tns_stream st;
    if (tns_stream_load(&st, path, err))
        return -1;
    tns_frame *meta = tns_stream_need(&st, "rcs.meta", DX_U8, 1, err);
    tns_frame *counts = meta ? tns_stream_need(&st, "rcs.counts", DX_I32, 2,
                                               err)
                             : NULL;
    tns_frame *keys = counts ? tns_stream_need(&st, "rcs.keys", DX_U8, 1, err)
                             : NULL;
    char v[64], hash[64];
    if (!keys)
        goto bad;
    if (meta_get(meta, "dataset", s->kind, sizeof s->kind) ||
        meta_get(meta, "items", v, sizeof v) ||
        meta_get(meta, "map", hash, sizeof hash)) {
        dx_fail(err, "frame 'rcs.meta' lacks dataset=, items= or map=");
        goto bad;
    }
    s->n = (int)counts->dims[0];
    s->classes = (int)counts->dims[1];
    char *end;
    if (strtol(v, &end, 10) != s->n || *end || s->n < 1 || s->classes < 1 ||
        s->classes > DX_MAX_CLASSES) {
        dx_fail(err, "frame 'rcs.counts' is %dx%d but rcs.meta says "
                "items=%s; expected items x classes, classes in [1, %d]",
                s->n, s->classes, v, DX_MAX_CLASSES);
        goto bad;
    }
    s->map_hash = strtoull(hash, &end, 16);
    if (*end || !hash[0]) {
        dx_fail(err, "frame 'rcs.meta': bad map=%s", hash);
        goto bad;
    }
    s->counts = counts->data;
    counts->data = NULL;
    for (size_t i = 0; i < (size_t)s->n * s->classes; i++)
        if (s->counts[i] < 0) {
            dx_fail(err, "frame 'rcs.counts' holds a negative count");
            goto bad;
        }
    s->keys = calloc((size_t)s->n, sizeof *s->keys);
    if (!s->keys) {
        dx_fail(err, "out of memory");
        goto bad;
    }
    const char *t = keys->data, *tend = t + keys->nbytes;
    for (int i = 0; i < s->n; i++) {
        const char *nl = t < tend ? memchr(t, '\n', (size_t)(tend - t)) : NULL;
        if (!nl) {
            dx_fail(err, "frame 'rcs.keys' holds %d names, expected %d", i,
                    s->n);
            goto bad;
        }
        if (!(s->keys[i] = strndup(t, (size_t)(nl - t)))) {
            dx_fail(err, "out of memory");
            goto bad;
        }
        t = nl + 1;
    }
    if (t != tend) {
        dx_fail(err, "frame 'rcs.keys' holds more than %d names", s->n);
        goto bad;
    }
    tns_stream_free(&st);
    return 0;
bad:
    tns_stream_free(&st);
    dx_rcs_stats_free(s);
    return dx_wrap(err, "class statistics %s: ", path);
}

int dx_rcs_match(const dx_rcs_stats *s, const dx_dataset *d,
                 const dx_labelmap *map, dx_err *err)
{
    const char *kind = dx_dataset_kind_name(d->kind);
    if (strcmp(s->kind, kind) != 0)
        return dx_fail(err, "were made for a %s dataset, this one is %s",
                       s->kind, kind);
    if (s->n != d->n)
        return dx_fail(err, "cover %d images, the dataset has %d", s->n,
                       d->n);
    if (s->classes != map->classes || s->map_hash != dx_labelmap_hash(map))
        return dx_fail(err, "were made with another label map");
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], d->key[i]) != 0)
            return dx_fail(err, "item %d is %s, the dataset has %s", i,
                           s->keys[i], d->key[i]);
    return 0;
}

void dx_rcs_free(dx_rcs *r)
{
    if (r->members)
        for (int c = 0; c < r->classes; c++)
            free(r->members[c]);
    free(r->members);
    free(r->nmembers);
    free(r->freq);
    free(r->prob);
    memset(r, 0, sizeof *r);
}

dx_rcs_opts dx_rcs_defaults(void)
{
    return (dx_rcs_opts){.temperature = 0.01, .min_pixels = 3000,
                         .min_crop_ratio = 0.5};
}

int dx_rcs_init(dx_rcs *r, const dx_rcs_stats *s, double temperature,
                long min_pixels, dx_err *err)
{
    memset(r, 0, sizeof *r);
    if (!(temperature > 0))
        return dx_fail(err, "rcs temperature must be > 0, got %g",
                       temperature);
    int C = s->classes;
    r->classes = C;
    r->min_pixels = min_pixels;
    r->freq = calloc((size_t)C, sizeof *r->freq);
    r->prob = calloc((size_t)C, sizeof *r->prob);
    r->members = calloc((size_t)C, sizeof *r->members);
    r->nmembers = calloc((size_t)C, sizeof *r->nmembers);
    if (!r->freq || !r->prob || !r->members || !r->nmembers)
        goto oom;
    double total = 0;
    for (int i = 0; i < s->n; i++)
        for (int c = 0; c < C; c++) {
            int32_t k = s->counts[(size_t)i * C + c];
            r->freq[c] += k;
            total += k;
            if (k > min_pixels)
                r->nmembers[c]++;
        }
    for (int c = 0; c < C; c++) {
        r->freq[c] = total > 0 ? r->freq[c] / total : 0;
        if (!r->nmembers[c])
            continue;
        if (!(r->members[c] = malloc((size_t)r->nmembers[c] * sizeof(int))))
            goto oom;
        int m = 0;
        for (int i = 0; i < s->n; i++) {
            int32_t k = s->counts[(size_t)i * C + c];
            if (k > min_pixels)
                r->members[c][m++] = i;
        }
    }
    /* softmax of (1 - f_c) / T over the classes that can be drawn */
    double top = -INFINITY, sum = 0;
    for (int c = 0; c < C; c++)
        if (r->nmembers[c] && (1 - r->freq[c]) / temperature > top)
            top = (1 - r->freq[c]) / temperature;
    for (int c = 0; c < C; c++)
        if (r->nmembers[c]) {
            r->prob[c] = exp((1 - r->freq[c]) / temperature - top);
            sum += r->prob[c];
            r->used++;
        }
    if (!r->used) {
        dx_rcs_free(r);
        return dx_fail(err, "no class has an image with more than %ld "
                       "pixels of it; lower the minimum", min_pixels);
    }
    for (int c = 0; c < C; c++)
        r->prob[c] /= sum;
    return 0;
oom:
    dx_rcs_free(r);
    return dx_fail(err, "out of memory");
}

int dx_rcs_draw(const dx_rcs *r, dx_rng *rng, int *cls)
{
    double u = dx_rng_uniform(rng), acc = 0;
    int c, last = -1;
    for (c = 0; c < r->classes; c++) {
        if (!r->nmembers[c])
            continue;
        last = c;
        acc += r->prob[c];
        if (u < acc)
            break;
    }
    if (c == r->classes) /* rounding: u beyond the summed probabilities */
        c = last;
    if (cls)
        *cls = c;
    return r->members[c][dx_rng_below(rng, (uint64_t)r->nmembers[c])];
}
