/* test_import.c - PyTorch, safetensors and NumPy files of deeplab-mini
 * (tests/fixtures/import, made by tests/ref/make_import_fixtures.py)
 * recognised, imported and run: each file's forward must give the
 * probabilities PyTorch computed for the same weights (ref.tns), whatever
 * the format, element type, strides, wrapping dict or prefix; a DACS
 * training checkpoint gives its student, its teacher and its iteration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/tensorset.h"
#include "nn/statedict.h"

#define DIR "tests/fixtures/import/"

/* float32 forward of a width-1 network against PyTorch's: measured
 * differences are about 1e-7; a wrong weight layout, channel order, BN
 * statistic or conversion moves probabilities by 1e-2 and more. */
#define TOL 2e-6

static tns_stream ref;

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m))
            m = d;
    }
    return m;
}

/* Read the fixture file and recognise its state_dict(s) with o; a
 * failure is a failed check (ts and p then need no freeing). */
static int recognise(const char *file, const dx_sd_opts *o, dx_tset *ts,
                     dx_sd_plan *p)
{
    char path[256];
    dx_err e;
    snprintf(path, sizeof path, DIR "%s", file);
    if (dx_tset_read(ts, path, 0, &e))
        return CHECK(0, "%s: %s", file, e.msg), -1;
    if (dx_sd_recognise(ts, o, p, &e)) {
        dx_tset_free(ts);
        return CHECK(0, "%s: %s", file, e.msg), -1;
    }
    return 0;
}

/* Import file (its student, or with teacher its teacher), run it on
 * tgt.image, compare with the frame want. */
static void forward(const char *file, const char *want, const char *root,
                    int teacher, int64_t iteration)
{
    dx_tset ts;
    dx_sd_plan p;
    dx_model m;
    dx_match r;
    dx_err e;
    dx_sd_opts o = {.teacher = teacher};
    if (recognise(file, &o, &ts, &p))
        return;
    CHECK(!strcmp(p.root, root) && p.iteration == iteration &&
              (!teacher || !strcmp(p.teacher, "ema_model.")),
          "%s: state_dict under '%s' (expected '%s'), iteration %lld",
          file, p.root, root, (long long)p.iteration);
    if (dx_sd_import(&m, &ts, &p, teacher ? p.teacher : p.root, 0, &r,
                     &e)) {
        CHECK(0, "%s: %s", file, e.msg);
        dx_match_free(&r);
        dx_sd_plan_free(&p);
        dx_tset_free(&ts);
        return;
    }
    tns_frame *img = tns_stream_get(&ref, "tgt.image");
    tns_frame *pr = tns_stream_get(&ref, want);
    int n = (int)img->dims[0], H = (int)img->dims[1], W = (int)img->dims[2];
    float *prob = malloc(pr->nbytes);
    int rc = dx_model_predict(&m, prob, img->data, n, H, W, DX_BN_RUNNING,
                              &e);
    double d = rc ? INFINITY : max_diff(prob, pr->data, pr->count);
    CHECK(d <= TOL && r.imported == m.nt,
          "%s%s: all %d tensors imported, probabilities within %.0e of "
          "PyTorch's %s (max error %.2g)", file, teacher ? " (teacher)" : "",
          m.nt, TOL, want, d);
    free(prob);
    dx_model_free(&m);
    dx_match_free(&r);
    dx_sd_plan_free(&p);
    dx_tset_free(&ts);
}

static void test_forward(void)
{
    forward("mini-zip.pth", "ref.prob.f32", "", 0, -1);
    forward("mini-legacy.pth", "ref.prob.f32", "", 0, -1);
    forward("mini.safetensors", "ref.prob.f32", "", 0, -1);
    forward("mini.npz", "ref.prob.f32", "", 0, -1);
    forward("mini-f16.pth", "ref.prob.f16", "", 0, -1);
    forward("mini-bf16.pth", "ref.prob.bf16", "", 0, -1);
    forward("mini-f64-legacy.pth", "ref.prob.f64", "", 0, -1);
    forward("mini-strided.pth", "ref.prob.f32", "", 0, -1);
    forward("mini-wrapped.pth", "ref.prob.f32", "model.", 0, 41);
    forward("mini-module.pth", "ref.prob.f32", "state_dict.module.", 0, -1);
    forward("mini-scale-legacy.pth", "ref.prob.f32", "Scale.", 0, -1);
    forward("mini-dacs.pth", "ref.prob.f32", "model.", 0, 41);
    forward("mini-dacs.pth", "ref.prob.teacher", "model.", 1, 41);
}

/* The element types really differ: the f16 and bf16 references are not
 * the f32 one (else those tests could not fail on a lost conversion). */
static void test_refs_differ(void)
{
    tns_frame *a = tns_stream_get(&ref, "ref.prob.f32"),
              *h = tns_stream_get(&ref, "ref.prob.f16"),
              *b = tns_stream_get(&ref, "ref.prob.bf16");
    CHECK(max_diff(a->data, h->data, a->count) > 10 * TOL &&
              max_diff(a->data, b->data, a->count) > 10 * TOL,
          "the f16 and bf16 references differ from the f32 one by more "
          "than 10x the tolerance");
}

static void test_recognise(void)
{
    dx_tset ts;
    dx_sd_plan p;
    dx_err e;
    if (dx_tset_read(&ts, DIR "mini-dacs.pth", 0, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    dx_sd_opts o = {0};
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == 0 &&
              !strcmp(p.spare, "ema_model.") && !p.has_teacher &&
              p.arch.width == 1 && p.arch.classes == 3,
          "a DACS checkpoint: student 'model.', the teacher found as spare, "
          "width 1, 3 classes");
    dx_sd_plan_free(&p);
    o.key = "ema_model";
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == 0 &&
              !strcmp(p.root, "ema_model."),
          "--key picks the state_dict");
    dx_sd_plan_free(&p);
    o.key = "optimizer";
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == -1 &&
              strstr(e.msg, "under 'optimizer.'"),
          "a key with no network under it: %s", e.msg);
    dx_arch_opts ao = {0};
    dx_arch_opt_set(&ao, 7, "5", &e); /* --classes */
    o = (dx_sd_opts){.arch = &ao};
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == 0 && p.arch.classes == 5 &&
              p.map.n == 1 && p.map.r[0].kind == DX_RULE_INIT &&
              !strcmp(p.map.r[0].a, "head.*"),
          "an architecture option overrides the recognised record; other "
          "classes leave the head to initialise");
    dx_sd_plan_free(&p);
    ao = (dx_arch_opts){0};
    dx_arch_opt_set(&ao, 1, "101", &e); /* --depth */
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == -1 &&
              strstr(e.msg, "--depth is an option of deeplabv2"),
          "an option the network does not have: %s", e.msg);
    ao = (dx_arch_opts){0};
    dx_arch_opt_set(&ao, 0, "deeplabv2", &e); /* --net */
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == -1 &&
              strstr(e.msg, "no state_dict in the file fits deeplabv2"),
          "another network than the file's: %s", e.msg);
    dx_tset_free(&ts);

    /* two state_dicts that fit equally, neither named a teacher */
    if (dx_tset_read(&ts, DIR "mini-zip.pth", 0, &e))
        return;
    int n = ts.n;
    for (int k = 0; k < n; k++) {
        char name[128];
        snprintf(name, sizeof name, "b.%s", ts.v[k].name);
        dx_tentry *c = dx_tset_add(&ts, "b", name, DX_TE_TENSOR, &e);
        dx_tentry *s = &ts.v[k];
        dx_tentry_shape(c, s->dtype, s->rank, s->dims, DX_TS_MAX_FILE, &e);
        free(ts.v[k].name);
        size_t nl = strlen(name) + 1;
        ts.v[k].name = malloc(nl);
        snprintf(ts.v[k].name, nl, "a.%s", name + 2);
    }
    o = (dx_sd_opts){0};
    CHECK(dx_sd_recognise(&ts, &o, &p, &e) == -1 &&
              strstr(e.msg, "two state_dicts fit equally, under 'a.' and "
                            "'b.'"),
          "an ambiguous file asks for --key: %s", e.msg);
    dx_tset_free(&ts);
}

/* ---- DeepLabv2 (dlv2-*.pth, dlv2-ref.tns) ---- */

static tns_stream dref;

/* float32 forward of a width-1 DeepLabv2-R50 (one block per layer)
 * against PyTorch's float32, relative to the largest logit: measured
 * about 1e-7; a wrong weight, stride, dilation, channel order or mean
 * moves the logits by 1e-2 of their range and more. */
#define DL_TOL 2e-6

/* Import file (its teacher if teacher) with the options ao, check what
 * was recognised, set the head from ref.head.* if head, run the forward
 * in eval mode on tgt.image and compare the logits with frame want. */
static void dl_forward(const char *file, const char *want, int teacher,
                       const dx_arch_opts *ao, const char *map, int style,
                       int order, int heads, int head)
{
    dx_tset ts;
    dx_sd_plan p;
    dx_model m;
    dx_match r;
    dx_err e;
    dx_sd_opts o = {.teacher = teacher, .arch = ao};
    if (recognise(file, &o, &ts, &p))
        return;
    const dx_arch *a = &p.arch;
    CHECK(a->net == DX_NET_DEEPLABV2 && a->depth == 50 &&
              a->blocks[0] == 1 && a->blocks[3] == 1 && a->width == 1 &&
              a->classes == 3 && a->style == style && a->order == order &&
              a->heads == heads && !strcmp(p.map.name, map),
          "%s: recognised deeplabv2 depth 50, blocks 1,1,1,1, width 1, 3 "
          "classes, style %s, order %s, %d heads, map %s (got depth %d, "
          "width %d, style %s, order %s, %d heads, map %s)", file,
          dx_arch_style_name(style), dx_arch_order_name(order), heads, map,
          a->depth, a->width, dx_arch_style_name(a->style),
          dx_arch_order_name(a->order), a->heads, p.map.name);
    if (dx_sd_import(&m, &ts, &p, teacher ? p.teacher : p.root, 0, &r,
                     &e)) {
        CHECK(0, "%s: %s", file, e.msg);
        dx_sd_plan_free(&p);
        dx_tset_free(&ts);
        return;
    }
    int from_ref = 0;
    for (int i = 0; head && i < m.nt; i++) {
        char name[96];
        snprintf(name, sizeof name, "ref.head.%s", m.t[i].name);
        tns_frame *f = tns_stream_get(&dref, name);
        if (f && f->count == m.t[i].count) {
            memcpy(m.t[i].data, f->data, f->nbytes);
            from_ref++;
        }
    }
    tns_frame *img = tns_stream_get(&dref, "tgt.image");
    tns_frame *ref_l = tns_stream_get(&dref, want);
    int H = (int)img->dims[1], W = (int)img->dims[2], h, w;
    double d = INFINITY, big = 0;
    if (!dx_model_plan(&m, 1, H, W, 0, &e)) {
        dx_model_forward(&m, img->data, DX_BN_RUNNING);
        dx_model_logit_size(&m, &h, &w);
        const float *want_l = ref_l->data;
        if ((size_t)(3 * h * w) == ref_l->count) {
            for (size_t i = 0; i < ref_l->count; i++)
                big = fmax(big, fabs(want_l[i]));
            d = max_diff(m.logits, want_l, ref_l->count) / big;
        }
    }
    CHECK(d <= DL_TOL && r.imported + 8 * (head != 0) == m.nt &&
              from_ref == 8 * (head != 0),
          "%s%s: %d of %d tensors imported, logits within %.0e of PyTorch's "
          "%s, relative to their largest %.3g (error %.2g)", file,
          teacher ? " (teacher)" : "", r.imported, m.nt, DL_TOL, want, big,
          d);
    dx_model_free(&m);
    dx_match_free(&r);
    dx_sd_plan_free(&p);
    dx_tset_free(&ts);
}

static void test_deeplabv2(void)
{
    const int C = DX_STYLE_CAFFE, P = DX_STYLE_PYTORCH, BGR = DX_ORDER_BGR,
              RGB = DX_ORDER_RGB;
    dl_forward("dlv2-zip.pth", "ref.logits.caffe", 0, NULL, "dacs", C, BGR,
               2, 0);
    dl_forward("dlv2-scale-legacy.pth", "ref.logits.caffe", 0, NULL, "dacs",
               C, BGR, 2, 0);
    dl_forward("dlv2-f16.pth", "ref.logits.caffe.f16", 0, NULL, "dacs", C,
               BGR, 2, 0);
    dl_forward("dlv2-strided.pth", "ref.logits.caffe", 0, NULL, "dacs", C,
               BGR, 2, 0);
    dl_forward("dlv2-wrapped.pth", "ref.logits.caffe", 0, NULL, "dacs", C,
               BGR, 2, 0);
    dl_forward("dlv2-dacs.pth", "ref.logits.caffe", 0, NULL, "dacs", C, BGR,
               2, 0);
    dl_forward("dlv2-dacs.pth", "ref.logits.teacher", 1, NULL, "dacs", C,
               BGR, 2, 0);
    dx_arch_opts three = {0};
    dx_err e;
    dx_arch_opt_set(&three, 7, "3", &e); /* --classes 3 */
    dl_forward("dlv2-torchvision.pth", "ref.logits.torchvision", 0, &three,
               "torchvision", P, RGB, 2, 1);
    dl_forward("dlv2-mmseg.pth", "ref.logits.mmseg", 0, NULL, "mmseg", P,
               RGB, 4, 0);

    /* the DACS COCO file's layout: other classes than the run's */
    dx_tset ts;
    dx_sd_plan p;
    dx_match r;
    dx_model m;
    dx_sd_opts o = {.arch = &three};
    int ok = dx_tset_read(&ts, DIR "dlv2-coco-legacy.pth", 0, &e) == 0;
    ok = ok && dx_sd_recognise(&ts, &o, &p, &e) == 0;
    ok = ok && !strcmp(p.root, "Scale.") && p.arch.classes == 3 &&
         !strcmp(p.map.name, "dacs") && p.arch.style == DX_STYLE_CAFFE &&
         p.arch.order == DX_ORDER_BGR;
    ok = ok && dx_sd_import(&m, &ts, &p, p.root, 0, &r, &e) == 0;
    CHECK(ok && r.initialised == 8 && r.imported == m.nt - 8,
          "the COCO layout ('Scale.', no batch counters, a 5-class head) "
          "with --classes 3: the dacs map (caffe, BGR; not torchvision's, "
          "whose map also leaves the head), the backbone imported, the 8 "
          "head tensors left to initialise");
    if (ok) {
        dx_model_free(&m);
        dx_match_free(&r);
        dx_sd_plan_free(&p);
    }
    dx_tset_free(&ts);
}

static void test_round_trip(void)
{
    dx_model m, back;
    dx_tset ts, rd;
    dx_sd_plan p;
    dx_match r;
    dx_err e;
    dx_arch a;
    dx_arch_default(&a);
    a.width = 3;
    a.classes = 4;
    dx_model_init(&m, &a, 7, &e);
    dx_tset_init(&ts);
    int ok = dx_sd_export(&m, &ts, "", "module.", &e) == 0;
    CHECK(ok && ts.n == m.nt + 10 &&
              !strcmp(ts.v[5].name, "module.stem.0.bn.num_batches_tracked") &&
              ts.v[5].dtype == DX_TT_I64 && ts.v[5].rank == 0,
          "export: every tensor, and a num_batches_tracked after each BN's "
          "running_var");
    const char *file = "/tmp/dacs-test-import.pth";
    dx_sd_opts o = {0};
    ok = ok && dx_tset_write(&ts, file, DX_TF_TORCH, &e) == 0 &&
         dx_tset_read(&rd, file, 0, &e) == 0;
    ok = ok && dx_sd_recognise(&rd, &o, &p, &e) == 0;
    ok = ok && dx_sd_import(&back, &rd, &p, p.root, 99, &r, &e) == 0;
    CHECK(ok && !strcmp(p.root, "module.") &&
              !memcmp(back.param, m.param, m.nparam * sizeof(float)) &&
              !memcmp(back.fixed, m.fixed, m.nfixed * sizeof(float)),
          "export then import gives the same parameters and statistics: %s",
          ok ? "" : e.msg);
    remove(file);
    if (ok) {
        dx_model_free(&back);
        dx_match_free(&r);
        dx_sd_plan_free(&p);
        dx_tset_free(&rd);
    }
    dx_tset_free(&ts);
    dx_model_free(&m);
}

int main(void)
{
    dx_err e;
    if (tns_stream_load(&ref, DIR "ref.tns", &e)) {
        CHECK(0, "%s", e.msg);
        return check_done();
    }
    test_refs_differ();
    test_forward();
    test_recognise();
    test_round_trip();
    if (tns_stream_load(&dref, DIR "dlv2-ref.tns", &e))
        CHECK(0, "%s", e.msg);
    else
        test_deeplabv2();
    tns_stream_free(&dref);
    tns_stream_free(&ref);
    return check_done();
}
