/* test_batch.c - the batch contract: each check passes a good frame and
 * refuses a bad one with the one wording, naming the first bad element. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/batch.h"

static tns_frame frame(const char *name, int dtype, int rank,
                       const int64_t *dims)
{
    tns_frame f;
    dx_err err;
    if (tns_frame_alloc(&f, name, dtype, rank, dims, &err))
        abort();
    return f;
}

static void put(tns_stream *s, tns_frame f)
{
    dx_err err;
    if (tns_stream_put(s, &f, 1, &err))
        abort();
}

int main(void)
{
    dx_err err;
    tns_stream s = {0};
    int64_t img[4] = {2, 3, 4, 3}, map[3] = {2, 3, 4}, prob[4] = {2, 5, 3, 4};
    put(&s, frame("x.image", DX_U8, 4, img));
    tns_frame lab = frame("x.label", DX_U16, 3, map);
    ((uint16_t *)lab.data)[13] = 255;
    ((uint16_t *)lab.data)[14] = 4;
    put(&s, lab);
    put(&s, frame("x.weight", DX_F32, 3, map));
    put(&s, frame("x.conf", DX_F32, 3, map));
    put(&s, frame("x.prob", DX_F32, 4, prob));

    const tns_frame *im = dx_need_image(&s, "x.image", &err);
    CHECK(im != NULL, "a u8 2x3x4x3 image passes");
    const tns_frame *l = dx_need_label(&s, "x.label", im, 5, &err);
    CHECK(l != NULL, "a u16 label of 0..4 and 255 passes");
    CHECK(!dx_need_label(&s, "x.label", im, 4, &err) &&
              !strcmp(err.msg, "frame 'x.label' has 4 at image 1 row 0 "
                      "column 2, expected a label in 0..3 or 255 (ignore)"),
          "label 4 of 4 classes: %s", err.msg);
    CHECK(dx_need_weight(&s, "x.weight", im, &err) &&
              dx_need_conf(&s, "x.conf", im, &err) &&
              dx_need_prob(&s, "x.prob", im, &err),
          "weight, confidence and probabilities of the image's N, H, W");

    ((float *)tns_stream_get(&s, "x.weight")->data)[23] = -INFINITY;
    CHECK(!dx_need_weight(&s, "x.weight", im, &err) &&
              !strcmp(err.msg, "frame 'x.weight' has -Inf at image 1 row 2 "
                      "column 3, expected a finite weight >= 0"),
          "-Inf weight: %s", err.msg);
    ((float *)tns_stream_get(&s, "x.conf")->data)[4] = 1.5f;
    CHECK(!dx_need_conf(&s, "x.conf", im, &err) &&
              strstr(err.msg, "has 1.5 at image 0 row 1 column 0, expected "
                     "a confidence in [0, 1]"),
          "confidence 1.5: %s", err.msg);

    int64_t other[4] = {2, 4, 4, 3};
    put(&s, frame("y.image", DX_U8, 4, other));
    CHECK(!dx_need_prob(&s, "x.prob", tns_stream_cget(&s, "y.image"),
                        &err) &&
              !strcmp(err.msg, "frame 'x.prob' has shape 2x5x3x4, 'y.image' "
                      "has 2x4x4x3: a batch's frames must agree in N, H and "
                      "W"),
          "probabilities against another image: %s", err.msg);
    int64_t bad[4] = {2, 3, 4, 1};
    put(&s, frame("x.image", DX_U8, 4, bad));
    CHECK(!dx_need_image(&s, "x.image", &err) &&
              !strcmp(err.msg, "frame 'x.image' has shape 2x3x4x1, expected "
                      "NxHxWx3 (RGB images)"),
          "a one-channel image: %s", err.msg);
    CHECK(!dx_need_image(&s, "x.label", &err) &&
              !strcmp(err.msg, "frame 'x.label' has dtype u16, expected u8"),
          "a label as image: %s", err.msg);
    CHECK(!dx_need_label(&s, "nope", NULL, 5, &err) &&
              !strcmp(err.msg, "missing frame 'nope' in the input stream"),
          "missing: %s", err.msg);

    /* a single HxW map names row and column only */
    int64_t hw[2] = {3, 4};
    tns_frame m = frame("m", DX_U8, 2, hw);
    ((uint8_t *)m.data)[6] = 9;
    CHECK(dx_check_labels(&m, 9, &err) == -1 &&
              strstr(err.msg, "has 9 at row 1 column 2,"),
          "HxW map: %s", err.msg);

    /* u8 view of labels: u8 borrowed, u16 converted */
    tns_frame v;
    CHECK(dx_labels_u8(&v, &m, &err) == 0 && v.borrowed && v.data == m.data,
          "a u8 label is borrowed, not copied");
    tns_frame_free(&v);
    CHECK(((uint8_t *)m.data)[6] == 9, "freeing the view kept the labels");
    l = tns_stream_cget(&s, "x.label");
    CHECK(dx_labels_u8(&v, l, &err) == 0 && !v.borrowed &&
              v.dtype == DX_U8 && ((uint8_t *)v.data)[13] == 255 &&
              ((uint8_t *)v.data)[14] == 4 && tns_same_shape(&v, l),
          "a u16 label is converted, 255 kept");
    tns_frame_free(&v);
    tns_frame_free(&m);
    tns_stream_free(&s);
    return check_done();
}
