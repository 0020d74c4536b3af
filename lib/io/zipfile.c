/* zipfile.c - zip archives in memory through libzip; see zipfile.h. */
#include "io/zipfile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "io/atomic.h"

/* Deflate expands at most about 1032:1; allow a margin. */
#define DEFLATE_RATIO 1100

int dx_zip_open(dx_zip *z, const unsigned char *buf, size_t len,
                dx_err *err)
{
    memset(z, 0, sizeof *z);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
    if (!src) {
        dx_fail(err, "zip: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!za) {
        zip_source_free(src);
        dx_fail(err, "not a readable zip archive (truncated or damaged?): "
                "%s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_error_fini(&ze);
    z->za = za;
    z->n = zip_get_num_entries(za, 0);
    return 0;
}

void dx_zip_close(dx_zip *z)
{
    if (z->za)
        zip_discard(z->za);
    memset(z, 0, sizeof *z);
}

const char *dx_zip_name(const dx_zip *z, int64_t i)
{
    return zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
}

int64_t dx_zip_find(const dx_zip *z, const char *name)
{
    zip_int64_t i = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
    return i < 0 ? -1 : i;
}

int dx_zip_size(const dx_zip *z, int64_t i, uint64_t max, uint64_t *size,
                dx_err *err)
{
    zip_stat_t st;
    const char *name = dx_zip_name(z, i);
    if (!name || zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0)
        return dx_fail(err, "zip entry %lld cannot be read: %s",
                       (long long)i, zip_strerror(z->za));
    uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if ((st.valid & need) != need)
        return dx_fail(err, "zip entry '%s' has no size", name);
    if (st.comp_method == ZIP_CM_STORE) {
        if (st.size != st.comp_size)
            return dx_fail(err, "zip entry '%s' is stored but declares %llu "
                           "bytes in %llu", name,
                           (unsigned long long)st.size,
                           (unsigned long long)st.comp_size);
    } else if (st.comp_method == ZIP_CM_DEFLATE) {
        if (st.size / DEFLATE_RATIO > st.comp_size)
            return dx_fail(err, "zip entry '%s' declares %llu bytes from %llu "
                           "deflated ones", name,
                           (unsigned long long)st.size,
                           (unsigned long long)st.comp_size);
    } else {
        return dx_fail(err, "zip entry '%s' uses compression method %d; "
                       "only stored (0) and deflated (8) entries are read",
                       name, (int)st.comp_method);
    }
    if (st.size > max)
        return dx_fail(err, "zip entry '%s' holds %llu bytes, at most %llu "
                       "expected", name, (unsigned long long)st.size,
                       (unsigned long long)max);
    *size = st.size;
    return 0;
}

int dx_zip_read(const dx_zip *z, int64_t i, void *dst, uint64_t size,
                dx_err *err)
{
    const char *name = dx_zip_name(z, i);
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
    if (!f)
        return dx_fail(err, "zip entry '%s' cannot be opened: %s",
                       name ? name : "?", zip_strerror(z->za));
    uint64_t got = 0;
    while (got < size) {
        zip_int64_t r = zip_fread(f, (char *)dst + got, size - got);
        if (r <= 0)
            break;
        got += (uint64_t)r;
    }
    char extra;
    /* reading past the end makes libzip check the CRC */
    zip_int64_t r = got == size ? zip_fread(f, &extra, 1) : -1;
    int rc = 0;
    if (got != size || r != 0)
        rc = dx_fail(err, "zip entry '%s' is damaged or truncated (%llu of "
                     "%llu bytes read): %s", name ? name : "?",
                     (unsigned long long)got, (unsigned long long)size,
                     zip_file_strerror(f));
    zip_fclose(f);
    return rc;
}

int dx_zip_load(const dx_zip *z, int64_t i, uint64_t max, void **data,
                uint64_t *size, dx_err *err)
{
    *data = NULL;
    if (dx_zip_size(z, i, max, size, err))
        return -1;
    char *b = malloc((size_t)*size + 1);
    if (!b)
        return dx_fail(err, "out of memory for a zip entry of %llu bytes",
                       (unsigned long long)*size);
    if (dx_zip_read(z, i, b, *size, err)) {
        free(b);
        return -1;
    }
    b[*size] = 0;
    *data = b;
    return 0;
}

/* ---- writing ---- */

int dx_zipw_open(dx_zipw *w, dx_err *err)
{
    memset(w, 0, sizeof *w);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = NULL;
    if (src) {
        zip_source_keep(src); /* it must outlive zip_close */
        za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    }
    if (!za) {
        dx_fail(err, "zip: %s", zip_error_strerror(&ze));
        if (src)
            zip_source_free(src);
        zip_error_fini(&ze);
        return -1;
    }
    zip_error_fini(&ze);
    w->za = za;
    w->src = src;
    return 0;
}

int dx_zipw_add(dx_zipw *w, const char *name, const void *data, size_t len,
                dx_err *err)
{
    zip_source_t *s = zip_source_buffer(w->za, data, len, 0);
    zip_int64_t i = s ? zip_file_add(w->za, name, s, ZIP_FL_ENC_UTF_8) : -1;
    if (i < 0) {
        if (s)
            zip_source_free(s);
        return dx_fail(err, "zip: cannot add '%s': %s", name,
                       zip_strerror(w->za));
    }
    if (zip_set_file_compression(w->za, (zip_uint64_t)i, ZIP_CM_STORE, 0))
        return dx_fail(err, "zip: cannot store '%s': %s", name,
                       zip_strerror(w->za));
    /* Every entry dated 1980-01-01 00:00 in the DOS fields, which libzip
     * fills from local time: the same bytes whenever and wherever the file
     * is written (libzip would put the time of writing there). */
    struct tm epoch = {.tm_year = 80, .tm_mon = 0, .tm_mday = 1,
                       .tm_isdst = -1};
    if (zip_file_set_mtime(w->za, (zip_uint64_t)i, mktime(&epoch), 0))
        return dx_fail(err, "zip: cannot date '%s': %s", name,
                       zip_strerror(w->za));
    return 0;
}

int dx_zipw_commit(dx_zipw *w, const char *path, dx_err *err)
{
    zip_source_t *src = w->src;
    if (zip_close(w->za) != 0) {
        dx_fail(err, "%s: zip: %s", path, zip_strerror(w->za));
        dx_zipw_abort(w);
        return -1;
    }
    w->za = NULL;
    zip_stat_t st;
    int rc = -1;
    char *buf = NULL;
    zip_stat_init(&st);
    if (zip_source_stat(src, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
        zip_source_open(src) != 0) {
        dx_fail(err, "%s: zip: cannot read the archive back", path);
        goto out;
    }
    buf = malloc(st.size ? (size_t)st.size : 1);
    if (!buf) {
        dx_fail(err, "%s: out of memory", path);
        zip_source_close(src);
        goto out;
    }
    zip_int64_t got = zip_source_read(src, buf, st.size);
    zip_source_close(src);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        dx_fail(err, "%s: zip: cannot read the archive back", path);
        goto out;
    }
    rc = dx_atomic_write(path, buf, (size_t)st.size, err);
out:
    free(buf);
    zip_source_free(src);
    w->src = NULL;
    return rc;
}

void dx_zipw_abort(dx_zipw *w)
{
    if (w->za)
        zip_discard(w->za);
    if (w->src)
        zip_source_free(w->src);
    memset(w, 0, sizeof *w);
}
