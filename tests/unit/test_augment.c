/* test_augment.c - colour jitter, blur and flip against reference outputs
 * (tests/ref/augment_ref.py) and their properties. */
#include <stdlib.h>
#include <string.h>

#include "dacs/augment.h"
#include "check.h"
#include "fixture.h"

static int load(const char *name, tns_frame *f)
{
    return fixture_npy("augment", name, f);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        m = d > m ? d : m;
    }
    return m;
}

static void test_kernel_side(void)
{
    static const int side[] = {512, 256, 1024, 720, 51, 20, 4, 1, 30};
    static const int want[] = {51, 25, 103, 71, 5, 1, 1, 1, 3};
    int ok = 1;
    for (int i = 0; i < 9; i++) {
        int k = dx_blur_side(side[i], 0.1);
        if (k != want[i]) {
            ok = 0;
            CHECK(0, "kernel side for %d: %d, expected %d", side[i], k,
                  want[i]);
        }
    }
    CHECK(ok, "kernel side: ceil(0.1 side), odd (512 -> 51, 256 -> 25)");
    float k[7];
    dx_gauss_kernel(k, 7, 1.0);
    double s = 0;
    for (int i = 0; i < 7; i++)
        s += k[i];
    CHECK_CLOSE(s, 1.0, 1e-6, 0, "kernel sums to 1");
    CHECK(k[0] == k[6] && k[1] == k[5] && k[3] > k[2],
          "kernel symmetric, peak in the middle");
}

static void test_blur_reference(void)
{
    tns_frame in, want;
    if (load("input.npy", &in) || load("blur.npy", &want))
        return;
    float img[189], tmp[189];
    memcpy(img, in.data, sizeof img);
    dx_err err;
    CHECK(dx_blur_f32(img, 7, 9, 3, 5, 3, 0.8, tmp, &err) == 0,
          "blur 5x3 runs");
    double d = max_diff(img, want.data, 189);
    CHECK(d < 1e-5, "blur 5x3 sigma 0.8 matches torch conv2d with reflect "
                    "padding (max diff %.2g)", d);
    memcpy(img, in.data, sizeof img);
    CHECK(dx_blur_f32(img, 7, 9, 3, 1, 1, 0.8, NULL, &err) == 0 &&
              memcmp(img, in.data, sizeof img) == 0,
          "a 1x1 kernel leaves the image as it is");
    CHECK(dx_blur_f32(img, 7, 9, 3, 4, 3, 0.8, NULL, &err) != 0,
          "an even kernel side is refused: %s", err.msg);
    /* a kernel wider than the image still reflects correctly: a constant
     * image stays constant */
    float flat[5 * 3];
    for (int i = 0; i < 15; i++)
        flat[i] = 0.25f;
    CHECK(dx_blur_f32(flat, 5, 1, 3, 9, 9, 2.0, NULL, &err) == 0,
          "kernel larger than the image runs");
    int ok = 1;
    for (int i = 0; i < 15; i++)
        ok &= fabsf(flat[i] - 0.25f) < 1e-6f;
    CHECK(ok, "a constant image stays constant");
    tns_frame_free(&in);
    tns_frame_free(&want);
}

static void test_jitter_reference(void)
{
    tns_frame in;
    if (load("input.npy", &in))
        return;
    for (int n = 1; n <= 3; n++) {
        char name[64];
        tns_frame want, par;
        snprintf(name, sizeof name, "jitter%d.npy", n);
        if (load(name, &want))
            continue;
        snprintf(name, sizeof name, "jitter%d_params.npy", n);
        if (load(name, &par))
            continue;
        const float *p = par.data;
        dx_jitter j = {p[0], p[1], p[2], p[3],
                       {(int)p[4], (int)p[5], (int)p[6], (int)p[7]}};
        float img[189];
        memcpy(img, in.data, sizeof img);
        dx_jitter_apply(img, 63, &j);
        double d = max_diff(img, want.data, 189);
        CHECK(d < 2e-6, "jitter %d (b %.2f c %.2f s %.2f h %.2f, order "
              "%d%d%d%d) matches the reference (max diff %.2g)", n, p[0],
              p[1], p[2], p[3], j.order[0], j.order[1], j.order[2],
              j.order[3], d);
        tns_frame_free(&want);
        tns_frame_free(&par);
    }
    tns_frame_free(&in);
}

static void test_jitter_properties(void)
{
    float img[6] = {1, 0, 0, 0.2f, 0.4f, 0.6f}, out[6];
    dx_jitter id = {1, 1, 1, 0, {0, 1, 2, 3}};
    memcpy(out, img, sizeof img);
    dx_jitter_apply(out, 2, &id);
    CHECK(max_diff(out, img, 6) < 1e-6, "identity factors change nothing");
    dx_jitter hue = {1, 1, 1, 1.0 / 3, {3, 0, 1, 2}};
    memcpy(out, img, sizeof img);
    dx_jitter_apply(out, 1, &hue);
    CHECK(fabsf(out[0]) < 1e-6f && fabsf(out[1] - 1) < 1e-6f &&
              fabsf(out[2]) < 1e-6f,
          "hue +1/3 turns red into green (%g %g %g)", out[0], out[1],
          out[2]);
    dx_rng r;
    dx_rng_init(&r, 3, "test", 0);
    int ok = 1, perm = 1;
    for (int i = 0; i < 200; i++) {
        dx_jitter j;
        dx_jitter_draw(&j, &r, 0.25, 0.25, 0.25, 0.25);
        ok &= j.brightness >= 0.75 && j.brightness < 1.25 &&
              j.contrast >= 0.75 && j.contrast < 1.25 &&
              j.saturation >= 0.75 && j.saturation < 1.25 &&
              j.hue >= -0.25 && j.hue < 0.25;
        int seen = 0;
        for (int k = 0; k < 4; k++)
            seen |= 1 << j.order[k];
        perm &= seen == 15;
    }
    CHECK(ok, "factors in [0.75, 1.25), hue in [-0.25, 0.25)");
    CHECK(perm, "the order is a permutation of the four steps");
}

static void test_flip(void)
{
    uint8_t a[2 * 3 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t want[12] = {5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8};
    dx_flip_rows(a, 2, 3, 2);
    CHECK(memcmp(a, want, 12) == 0, "flip reverses the pixels of each row");
}

/* Strong augmentation: labels untouched without a flip; same seed, same
 * bytes; a flip moves every map alike. */
static void test_strong(void)
{
    enum { N = 2, H = 6, W = 8, HW = H * W };
    uint8_t img[N * HW * 3], img2[N * HW * 3], orig[N * HW * 3];
    uint8_t lab[N * HW], lab0[N * HW], mask[N * HW], mask0[N * HW];
    float wt[N * HW], wt0[N * HW];
    for (int i = 0; i < N * HW * 3; i++)
        orig[i] = (uint8_t)(i * 37 % 251);
    for (int i = 0; i < N * HW; i++) {
        lab0[i] = (uint8_t)(i % 5);
        mask0[i] = (uint8_t)(i % 2);
        wt0[i] = (float)i / 100;
    }
    dx_aug_opts o;
    dx_aug_defaults(&o);
    o.jitter_p = o.blur_p = 1;
    dx_err err;
    dx_aug_draw d;
    dx_rng r;
    dx_rng_init(&r, 9, "classmix.augment", 4);
    memcpy(img, orig, sizeof img);
    memcpy(lab, lab0, sizeof lab);
    memcpy(mask, mask0, sizeof mask);
    memcpy(wt, wt0, sizeof wt);
    CHECK(dx_strong_augment(img, lab, wt, mask, N, H, W, &o, &r, &d, &err) ==
              0 && d.jitter && d.blur && !d.flip,
          "jitter and blur with p 1, no flip when off");
    CHECK(memcmp(img, orig, sizeof img) != 0, "the image changed");
    CHECK(memcmp(lab, lab0, sizeof lab) == 0 &&
              memcmp(mask, mask0, sizeof mask) == 0 &&
              memcmp(wt, wt0, sizeof wt) == 0,
          "augmentation never touches labels, weights or the mask");
    memcpy(img2, orig, sizeof img2);
    dx_strong_augment(img2, NULL, NULL, NULL, N, H, W, &o, &r, NULL, &err);
    CHECK(memcmp(img, img2, sizeof img) == 0, "same key, same bytes");
    dx_rng r2;
    dx_rng_init(&r2, 10, "classmix.augment", 4);
    memcpy(img2, orig, sizeof img2);
    dx_strong_augment(img2, NULL, NULL, NULL, N, H, W, &o, &r2, NULL, &err);
    CHECK(memcmp(img, img2, sizeof img) != 0, "another seed, other bytes");

    /* switching blur off keeps the jitter draw: the same as jitter alone */
    o.blur = 0;
    memcpy(img2, orig, sizeof img2);
    dx_strong_augment(img2, NULL, NULL, NULL, N, H, W, &o, &r, &d, &err);
    CHECK(!d.blur && d.jitter && memcmp(img2, orig, sizeof img2) != 0,
          "jitter alone changes the image");
    o.jitter = 0;
    memcpy(img2, orig, sizeof img2);
    dx_strong_augment(img2, NULL, NULL, NULL, N, H, W, &o, &r, &d, &err);
    CHECK(memcmp(img2, orig, sizeof img2) == 0,
          "with jitter and blur off the image is untouched");

    /* flip on with p 1: image, label, weight and mask reversed alike */
    o.flip = 1;
    o.flip_p = 1;
    memcpy(img2, orig, sizeof img2);
    memcpy(lab, lab0, sizeof lab);
    memcpy(mask, mask0, sizeof mask);
    memcpy(wt, wt0, sizeof wt);
    dx_strong_augment(img2, lab, wt, mask, N, H, W, &o, &r, &d, &err);
    int ok = d.flip;
    for (int y = 0; y < N * H; y++)
        for (int x = 0; x < W; x++) {
            int p = y * W + x, q = y * W + (W - 1 - x);
            ok &= lab[p] == lab0[q] && mask[p] == mask0[q] &&
                  wt[p] == wt0[q] && memcmp(img2 + 3 * p, orig + 3 * q, 3) ==
                                         0;
        }
    CHECK(ok, "a flip reverses image, label, weight and mask alike");
}

int main(void)
{
    test_kernel_side();
    test_blur_reference();
    test_jitter_reference();
    test_jitter_properties();
    test_flip();
    test_strong();
    return check_done();
}
