/* ema.c - the EMA teacher update, streamed frame by frame. */
#include "dacs/ema.h"

#include <string.h>

double dx_ema_alpha(uint64_t t, double alpha_max)
{
    double a = 1.0 - 1.0 / ((double)t + 1.0);
    return a < alpha_max ? a : alpha_max;
}

void dx_ema_update(float *teacher, const float *student, size_t n,
                   double alpha)
{
    double beta = 1.0 - alpha;
    for (size_t i = 0; i < n; i++)
        teacher[i] = (float)(alpha * (double)teacher[i] +
                             beta * (double)student[i]);
}

void dx_ema_defaults(dx_ema_opts *o)
{
    memset(o, 0, sizeof *o);
    o->alpha_max = 0.99;
}

static int is_opt(const char *name)
{
    return strncmp(name, "opt.", 4) == 0;
}

static int is_meta(const char *name)
{
    return strncmp(name, "meta.", 5) == 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static int is_bn_stat(const char *name)
{
    return ends_with(name, ".running_mean") || ends_with(name, ".running_var");
}

/* The next frame that is not opt.*: 1, 0 at the end, -1 on error. */
static int next_frame(tns_reader *r, tns_frame *f, long *skipped,
                      const char *who, dx_err *err)
{
    for (;;) {
        int k = tns_read(r, f, err);
        if (k < 0)
            return dx_wrap(err, "%s: ", who);
        if (k == 0 || !is_opt(f->name))
            return k;
        tns_frame_free(f);
        (*skipped)++;
    }
}

/* The first line where two meta.arch texts differ, for the message. */
static void first_diff(const tns_frame *a, const tns_frame *b, char *la,
                       char *lb, size_t len)
{
    const char *pa = a->data, *pb = b->data;
    size_t na = a->nbytes, nb = b->nbytes, i = 0, start = 0;
    while (i < na && i < nb && pa[i] == pb[i]) {
        if (pa[i] == '\n')
            start = i + 1;
        i++;
    }
    size_t ea = start, eb = start;
    while (ea < na && pa[ea] != '\n')
        ea++;
    while (eb < nb && pb[eb] != '\n')
        eb++;
    snprintf(la, len, "%.*s", (int)(ea - start), pa + start);
    snprintf(lb, len, "%.*s", (int)(eb - start), pb + start);
}

static int compare(const tns_frame *tf, const tns_frame *sf, long idx,
                   dx_err *err)
{
    char st[160], ss[160];
    if (strcmp(tf->name, sf->name) != 0)
        return dx_fail(err, "frame %ld: teacher has '%s', student has '%s': "
                       "the models differ in their frames or their order",
                       idx, tf->name, sf->name);
    if (tf->dtype != sf->dtype)
        return dx_fail(err, "frame '%s': teacher has dtype %s, student has "
                       "%s", sf->name, dx_dtype_name(tf->dtype),
                       dx_dtype_name(sf->dtype));
    if (!tns_same_shape(tf, sf))
        return dx_fail(err, "frame '%s': teacher has shape %s, student has "
                       "%s", sf->name, tns_shape_str(tf, st, sizeof st),
                       tns_shape_str(sf, ss, sizeof ss));
    if (strcmp(sf->name, "meta.arch") == 0 &&
        memcmp(tf->data, sf->data, sf->nbytes) != 0) {
        char la[128], lb[128];
        first_diff(tf, sf, la, lb, sizeof la);
        return dx_fail(err, "frame 'meta.arch': the architectures differ: "
                       "teacher has '%s', student has '%s'", la, lb);
    }
    return 0;
}

/* A missing teacher is the first merge: t = 0 and alpha = 0. */
static int no_teacher_ok(const dx_ema_opts *o, uint64_t t, double alpha,
                         dx_err *err)
{
    const char *name = o->teacher_name ? o->teacher_name : "the teacher";
    if (t != 0)
        return dx_fail(err, "%s does not exist, but t = %llu > 0: only the "
                       "first merge (t = 0) may start from the student alone",
                       name, (unsigned long long)t);
    if (alpha != 0)
        return dx_fail(err, "%s does not exist, but alpha = %g: the first "
                       "merge needs alpha 0", name, alpha);
    return 0;
}

int dx_ema_merge(tns_reader *teacher, tns_reader *student, tns_writer *out,
                 const dx_ema_opts *o, dx_ema_report *rep, dx_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->iter = -1;
    int t_known = o->have_t, alpha_known = o->have_alpha || o->have_t;
    uint64_t t = o->t;
    double alpha = o->have_alpha ? o->alpha : dx_ema_alpha(t, o->alpha_max);
    if (!teacher && t_known && no_teacher_ok(o, t, alpha, err))
        return -1;
    tns_frame sf = {0}, tf = {0};
    long skipped_t = 0;
    int k;
    while ((k = next_frame(student, &sf, &rep->skipped, "student", err)) ==
           1) {
        long idx = rep->frames;
        if (idx == 0 && strcmp(sf.name, "meta.arch") != 0) {
            dx_fail(err, "student: first frame is '%s', expected 'meta.arch' "
                    "(is it a checkpoint?)", sf.name);
            goto fail;
        }
        if (teacher) {
            int kt = next_frame(teacher, &tf, &skipped_t, "teacher", err);
            if (kt < 0)
                goto fail;
            if (kt == 0) {
                dx_fail(err, "teacher ends before frame %ld '%s' of the "
                        "student: the models differ", idx, sf.name);
                goto fail;
            }
            if (compare(&tf, &sf, idx, err))
                goto fail;
        }
        if (sf.dtype == DX_F32) {
            if (tns_check_finite(&sf, err)) {
                dx_wrap(err, "student: ");
                goto fail;
            }
            if (teacher && tns_check_finite(&tf, err)) {
                dx_wrap(err, "teacher: ");
                goto fail;
            }
        }
        if (strcmp(sf.name, "meta.iter") == 0) {
            if (sf.dtype != DX_I32 || sf.rank != 0 ||
                *(int32_t *)sf.data < 0) {
                char sh[160];
                dx_fail(err, "student: frame 'meta.iter' is %s %s, expected "
                        "a non-negative i32 scalar", dx_dtype_name(sf.dtype),
                        tns_shape_str(&sf, sh, sizeof sh));
                goto fail;
            }
            rep->iter = *(int32_t *)sf.data;
            if (!o->have_t) {
                t = rep->iter > 0 ? (uint64_t)rep->iter - 1 : 0;
                t_known = 1;
                if (!o->have_alpha)
                    alpha = dx_ema_alpha(t, o->alpha_max);
                alpha_known = 1;
            }
            if (!teacher && no_teacher_ok(o, t, alpha, err))
                goto fail;
        }
        int average = sf.dtype == DX_F32 && !is_meta(sf.name) &&
                      !(o->copy_bn_stats && is_bn_stat(sf.name));
        if (average && !alpha_known) {
            dx_fail(err, "student: frame '%s' comes before 'meta.iter', so t "
                    "is not known yet (write meta.iter first, or give the "
                    "iteration or alpha)", sf.name);
            goto fail;
        }
        const tns_frame *res = &sf;
        if (average && teacher) {
            dx_ema_update(tf.data, sf.data, sf.count, alpha);
            res = &tf;
            rep->averaged++;
        } else {
            rep->copied++;
        }
        if (tns_write(out, res, err))
            goto fail;
        rep->frames++;
        tns_frame_free(&sf);
        tns_frame_free(&tf);
    }
    if (k < 0)
        goto fail;
    if (teacher) {
        int kt = next_frame(teacher, &tf, &skipped_t, "teacher", err);
        if (kt < 0)
            goto fail;
        if (kt == 1) {
            dx_fail(err, "teacher has a frame '%s' after the student's last: "
                    "the models differ", tf.name);
            goto fail;
        }
    }
    if (rep->frames == 0)
        return dx_fail(err, "student: no frames, expected a checkpoint");
    if (!alpha_known || (!teacher && !t_known))
        return dx_fail(err, "student: no 'meta.iter' frame, so t is not "
                       "known (give the iteration)");
    rep->t = t;
    rep->alpha = alpha;
    return 0;
fail:
    tns_frame_free(&sf);
    tns_frame_free(&tf);
    return -1;
}
