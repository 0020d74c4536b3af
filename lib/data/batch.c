/* batch.c - the batch contract; see batch.h. */
#include "data/batch.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/classes.h"
#include "data/sampler.h"

/* N, H and W of a frame of either layout: (N, H, W), images (N, H, W, 3)
 * u8, probabilities (N, C, H, W) f32, or a single map (H, W). */
static void nhw(const tns_frame *f, int64_t d[3])
{
    if (f->rank == 2) {
        d[0] = 1;
        d[1] = f->dims[0];
        d[2] = f->dims[1];
    } else if (f->rank == 4 && f->dtype != DX_U8) {
        d[0] = f->dims[0];
        d[1] = f->dims[2];
        d[2] = f->dims[3];
    } else {
        for (int k = 0; k < 3; k++)
            d[k] = k < f->rank ? f->dims[k] : 0;
    }
}

/* "image 1 row 2 column 3" for element i of f ("class" too for
 * probabilities, no image for a single map). */
static const char *where(const tns_frame *f, size_t i, char *buf,
                         size_t len)
{
    int64_t d[3];
    nhw(f, d);
    size_t w = (size_t)d[2], h = (size_t)d[1];
    size_t x = i % w, y = i / w % h;
    if (f->rank == 2)
        snprintf(buf, len, "row %zu column %zu", y, x);
    else if (f->rank == 4)
        snprintf(buf, len, "image %zu class %zu row %zu column %zu",
                 i / (w * h * (size_t)f->dims[1]),
                 i / (w * h) % (size_t)f->dims[1], y, x);
    else
        snprintf(buf, len, "image %zu row %zu column %zu", i / (w * h), y,
                 x);
    return buf;
}

int dx_same_nhw(const tns_frame *a, const tns_frame *b, dx_err *err)
{
    int64_t da[3], db[3];
    char sa[160], sb[160];
    nhw(a, da);
    nhw(b, db);
    if (da[0] != db[0] || da[1] != db[1] || da[2] != db[2])
        return dx_fail(err, "frame '%s' has shape %s, '%s' has %s: a batch's "
                       "frames must agree in N, H and W", a->name,
                       tns_shape_str(a, sa, sizeof sa), b->name,
                       tns_shape_str(b, sb, sizeof sb));
    return 0;
}

/* Present, of one of two dtypes (d2 0: only d1), of rank rank. */
static const tns_frame *present(const tns_stream *s, const char *name,
                                int d1, int d2, int rank, const char *layout,
                                dx_err *err)
{
    const tns_frame *f = tns_stream_cget(s, name);
    char shape[160];
    if (!f) {
        dx_fail(err, "missing frame '%s' in the input stream", name);
        return NULL;
    }
    if (f->dtype != d1 && f->dtype != d2) {
        dx_fail(err, "frame '%s' has dtype %s, expected %s%s%s", name,
                dx_dtype_name(f->dtype), dx_dtype_name(d1), d2 ? " or " : "",
                d2 ? dx_dtype_name(d2) : "");
        return NULL;
    }
    if (f->rank != rank) {
        dx_fail(err, "frame '%s' has shape %s, expected %s", name,
                tns_shape_str(f, shape, sizeof shape), layout);
        return NULL;
    }
    return f;
}

/* present(), then the N, H and W of like. */
static const tns_frame *per_pixel(const tns_stream *s, const char *name,
                                  int d1, int d2, const tns_frame *like,
                                  dx_err *err)
{
    const tns_frame *f = present(s, name, d1, d2, 3, "NxHxW", err);
    if (f && like && dx_same_nhw(f, like, err))
        return NULL;
    return f;
}

const tns_frame *dx_need_image(const tns_stream *s, const char *name,
                               dx_err *err)
{
    static const char layout[] = "NxHxWx3 (RGB images)";
    const tns_frame *f = present(s, name, DX_U8, 0, 4, layout, err);
    char shape[160];
    if (f && (f->dims[3] != 3 || f->dims[0] < 1 || f->dims[1] < 1 ||
              f->dims[2] < 1 || f->dims[0] > INT_MAX ||
              f->dims[1] > INT_MAX || f->dims[2] > INT_MAX)) {
        dx_fail(err, "frame '%s' has shape %s, expected %s", name,
                tns_shape_str(f, shape, sizeof shape), layout);
        return NULL;
    }
    return f;
}

int dx_check_labels(const tns_frame *f, int classes, dx_err *err)
{
    char shape[160], at[128];
    if (f->dtype != DX_U8 && f->dtype != DX_U16)
        return dx_fail(err, "frame '%s' has dtype %s, expected u8 or u16",
                       f->name, dx_dtype_name(f->dtype));
    if (f->rank != 2 && f->rank != 3)
        return dx_fail(err, "frame '%s' has shape %s, expected NxHxW", f->name,
                       tns_shape_str(f, shape, sizeof shape));
    for (size_t i = 0; i < f->count; i++) {
        unsigned v = f->dtype == DX_U8 ? ((const uint8_t *)f->data)[i]
                                       : ((const uint16_t *)f->data)[i];
        if (v >= (unsigned)classes && v != DX_IGNORE)
            return dx_fail(err, "frame '%s' has %u at %s, expected a label "
                           "in 0..%d or %d (ignore)", f->name, v,
                           where(f, i, at, sizeof at), classes - 1,
                           DX_IGNORE);
    }
    return 0;
}

const tns_frame *dx_need_label(const tns_stream *s, const char *name,
                               const tns_frame *like, int classes,
                               dx_err *err)
{
    const tns_frame *f = per_pixel(s, name, DX_U8, DX_U16, like, err);
    return f && dx_check_labels(f, classes, err) == 0 ? f : NULL;
}

/* Every element of an f32 frame finite and in [lo, hi]. */
static int in_range(const tns_frame *f, double lo, double hi,
                    const char *what, dx_err *err)
{
    const float *x = f->data;
    char at[128], v[32];
    for (size_t i = 0; i < f->count; i++) {
        if (x[i] >= lo && x[i] <= hi)
            continue;
        if (isnan(x[i]))
            snprintf(v, sizeof v, "NaN");
        else if (isinf(x[i]))
            snprintf(v, sizeof v, "%sInf", x[i] < 0 ? "-" : "");
        else
            snprintf(v, sizeof v, "%g", (double)x[i]);
        return dx_fail(err, "frame '%s' has %s at %s, expected %s", f->name,
                       v, where(f, i, at, sizeof at), what);
    }
    return 0;
}

const tns_frame *dx_need_weight(const tns_stream *s, const char *name,
                                const tns_frame *like, dx_err *err)
{
    const tns_frame *f = per_pixel(s, name, DX_F32, 0, like, err);
    if (f && in_range(f, 0, FLT_MAX, "a finite weight >= 0", err))
        return NULL;
    return f;
}

const tns_frame *dx_need_conf(const tns_stream *s, const char *name,
                              const tns_frame *like, dx_err *err)
{
    const tns_frame *f = per_pixel(s, name, DX_F32, 0, like, err);
    if (f && in_range(f, 0, 1, "a confidence in [0, 1]", err))
        return NULL;
    return f;
}

const tns_frame *dx_need_prob(const tns_stream *s, const char *name,
                              const tns_frame *like, dx_err *err)
{
    const tns_frame *f = present(s, name, DX_F32, 0, 4, "NxCxHxW", err);
    char shape[160];
    if (!f)
        return NULL;
    if (f->dims[1] < 1 || f->dims[1] > DX_MAX_CLASSES) {
        dx_fail(err, "frame '%s' has shape %s: %lld classes, expected 1..%d "
                "(u8 labels keep 255 for ignore)", name,
                tns_shape_str(f, shape, sizeof shape), (long long)f->dims[1],
                DX_MAX_CLASSES);
        return NULL;
    }
    if (like && dx_same_nhw(f, like, err))
        return NULL;
    return f;
}

const tns_frame *dx_need_box(const tns_stream *s, const char *name,
                             const tns_frame *like, dx_err *err)
{
    const tns_frame *f = present(s, name, DX_I32, 0, 2, "Nx7", err);
    char shape[160], ls[160];
    if (!f)
        return NULL;
    if (f->dims[1] != DX_BOX_LEN) {
        dx_fail(err, "frame '%s' has shape %s, expected Nx%d (crop boxes: "
                "x y sw sh fw fh flip)", name,
                tns_shape_str(f, shape, sizeof shape), DX_BOX_LEN);
        return NULL;
    }
    int64_t d[3];
    if (like) {
        nhw(like, d);
        if (f->dims[0] != d[0]) {
            dx_fail(err, "frame '%s' has shape %s, '%s' has %s: one box per "
                    "image", name, tns_shape_str(f, shape, sizeof shape),
                    like->name, tns_shape_str(like, ls, sizeof ls));
            return NULL;
        }
    }
    static const char *const what[DX_BOX_LEN] = {"x", "y", "sw", "sh", "fw",
                                                 "fh", "flip"};
    const int32_t *b = f->data;
    for (int64_t i = 0; i < f->dims[0]; i++)
        for (int k = DX_BOX_SW; k < DX_BOX_LEN; k++) {
            int32_t v = b[i * DX_BOX_LEN + k];
            int ok = k == DX_BOX_FLIP ? v == 0 || v == 1 : v >= 1;
            if (!ok) {
                dx_fail(err, "frame '%s' has %s %d at image %lld, expected "
                        "%s", name, what[k], v, (long long)i,
                        k == DX_BOX_FLIP ? "0 or 1" : "a size >= 1");
                return NULL;
            }
        }
    return f;
}

int dx_check_prob(const tns_frame *f, int logits, dx_err *err)
{
    if (in_range(f, logits ? -FLT_MAX : 0, logits ? FLT_MAX : 1 + 1e-3,
                 logits ? "a finite logit" : "a probability in [0, 1]", err))
        return -1;
    if (logits)
        return 0;
    size_t n = (size_t)f->dims[0], c = (size_t)f->dims[1];
    size_t hw = (size_t)f->dims[2] * (size_t)f->dims[3];
    const float *p = f->data;
    char at[128];
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < hw; q++) {
            double sum = 0;
            for (size_t k = 0; k < c; k++)
                sum += p[(i * c + k) * hw + q];
            if (fabs(sum - 1) > 1e-3) {
                size_t w = (size_t)f->dims[3];
                snprintf(at, sizeof at, "image %zu row %zu column %zu", i,
                         q / w, q % w);
                return dx_fail(err, "frame '%s' sums to %g over its %zu "
                               "classes at %s, expected 1", f->name, sum, c,
                               at);
            }
        }
    return 0;
}

int dx_labels_u8(tns_frame *out, const tns_frame *f, dx_err *err)
{
    if (f->dtype == DX_U8)
        return tns_frame_borrow(out, f->name, DX_U8, f->rank, f->dims,
                                f->data, err);
    if (tns_frame_alloc(out, f->name, DX_U8, f->rank, f->dims, err))
        return -1;
    const uint16_t *v = f->data;
    uint8_t *y = out->data;
    for (size_t i = 0; i < f->count; i++)
        y[i] = v[i] < DX_IGNORE ? (uint8_t)v[i] : DX_IGNORE;
    return 0;
}
