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
    /* the architecture text first: texts of other lengths are other
     * architectures, not a shape to report */
    if (strcmp(sf->name, "meta.arch") == 0 && tf->dtype == sf->dtype &&
        (tf->nbytes != sf->nbytes ||
         memcmp(tf->data, sf->data, sf->nbytes) != 0)) {
        char la[128], lb[128];
        first_diff(tf, sf, la, lb, sizeof la);
        return dx_fail(err, "frame 'meta.arch': the architectures differ: "
                       "teacher has '%s', student has '%s'", la, lb);
    }
    if (tf->dtype != sf->dtype)
        return dx_fail(err, "frame '%s': teacher has dtype %s, student has "
                       "%s", sf->name, dx_dtype_name(tf->dtype),
                       dx_dtype_name(sf->dtype));
    if (!tns_same_shape(tf, sf))
        return dx_fail(err, "frame '%s': teacher has shape %s, student has "
                       "%s", sf->name, tns_shape_str(tf, st, sizeof st),
                       tns_shape_str(sf, ss, sizeof ss));
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

/* What a merge knows as it goes, frame by frame. */
typedef struct merge {
    const dx_ema_opts *o;
    int teacher;                /* there is a teacher */
    int t_known, alpha_known;
    uint64_t t;
    double alpha;
    dx_ema_report *rep;
} merge;

static void merge_begin(merge *m, const dx_ema_opts *o, int teacher,
                        dx_ema_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->iter = -1;
    m->o = o;
    m->teacher = teacher;
    m->rep = rep;
    m->t_known = o->have_t;
    m->alpha_known = o->have_alpha || o->have_t;
    m->t = o->t;
    m->alpha = o->have_alpha ? o->alpha : dx_ema_alpha(m->t, o->alpha_max);
}

/* Frame idx of the student, sf (not opt.*), and the teacher's, tf (NULL
 * without a teacher): checked, then tf averaged in place.  *res is the
 * frame of the new teacher: tf when averaged, sf when copied. */
static int merge_frame(merge *m, long idx, tns_frame *tf, const tns_frame *sf,
                       const tns_frame **res, dx_err *err)
{
    const dx_ema_opts *o = m->o;
    if (idx == 0 && strcmp(sf->name, "meta.arch") != 0)
        return dx_fail(err, "student: first frame is '%s', expected "
                       "'meta.arch' (is it a checkpoint?)", sf->name);
    if (tf && compare(tf, sf, idx, err))
        return -1;
    if (sf->dtype == DX_F32) {
        if (tns_check_finite(sf, err))
            return dx_wrap(err, "student: ");
        if (tf && tns_check_finite(tf, err))
            return dx_wrap(err, "teacher: ");
    }
    if (strcmp(sf->name, "meta.iter") == 0) {
        if (sf->dtype != DX_I32 || sf->rank != 0 ||
            *(int32_t *)sf->data < 0) {
            char sh[160];
            return dx_fail(err, "student: frame 'meta.iter' is %s %s, "
                           "expected a non-negative i32 scalar",
                           dx_dtype_name(sf->dtype),
                           tns_shape_str(sf, sh, sizeof sh));
        }
        m->rep->iter = *(int32_t *)sf->data;
        if (!o->have_t) {
            m->t = m->rep->iter > 0 ? (uint64_t)m->rep->iter - 1 : 0;
            m->t_known = 1;
            if (!o->have_alpha)
                m->alpha = dx_ema_alpha(m->t, o->alpha_max);
            m->alpha_known = 1;
        }
        if (!m->teacher && no_teacher_ok(o, m->t, m->alpha, err))
            return -1;
    }
    int average = sf->dtype == DX_F32 && !is_meta(sf->name) &&
                  !(o->copy_bn_stats && is_bn_stat(sf->name));
    if (average && !m->alpha_known)
        return dx_fail(err, "student: frame '%s' comes before 'meta.iter', "
                       "so t is not known yet (write meta.iter first, or "
                       "give the iteration or alpha)", sf->name);
    *res = sf;
    if (average && tf) {
        dx_ema_update(tf->data, sf->data, sf->count, m->alpha);
        *res = tf;
        m->rep->averaged++;
    } else {
        m->rep->copied++;
    }
    m->rep->frames++;
    return 0;
}

static int merge_end(merge *m, dx_err *err)
{
    if (m->rep->frames == 0)
        return dx_fail(err, "student: no frames, expected a checkpoint");
    if (!m->alpha_known || (!m->teacher && !m->t_known))
        return dx_fail(err, "student: no 'meta.iter' frame, so t is not "
                       "known (give the iteration)");
    m->rep->t = m->t;
    m->rep->alpha = m->alpha;
    return 0;
}

int dx_ema_merge(tns_reader *teacher, tns_reader *student, tns_writer *out,
                 const dx_ema_opts *o, dx_ema_report *rep, dx_err *err)
{
    merge m;
    merge_begin(&m, o, teacher != NULL, rep);
    if (!teacher && m.t_known && no_teacher_ok(o, m.t, m.alpha, err))
        return -1;
    tns_frame sf = {0}, tf = {0};
    long skipped_t = 0;
    int k;
    while ((k = next_frame(student, &sf, &rep->skipped, "student", err)) ==
           1) {
        long idx = rep->frames;
        if (teacher) {
            int kt = next_frame(teacher, &tf, &skipped_t, "teacher", err);
            if (kt < 0)
                goto fail;
            if (kt == 0) {
                dx_fail(err, "teacher ends before frame %ld '%s' of the "
                        "student: the models differ", idx, sf.name);
                goto fail;
            }
        }
        const tns_frame *res;
        if (merge_frame(&m, idx, teacher ? &tf : NULL, &sf, &res, err) ||
            tns_write(out, res, err))
            goto fail;
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
    return merge_end(&m, err);
fail:
    tns_frame_free(&sf);
    tns_frame_free(&tf);
    return -1;
}

int dx_ema_merge_segment(tns_stream *teacher, const tns_stream *student,
                         const dx_ema_opts *o, dx_ema_report *rep,
                         dx_err *err)
{
    merge m;
    int have = teacher->n > 0;
    merge_begin(&m, o, have, rep);
    if (!have && m.t_known && no_teacher_ok(o, m.t, m.alpha, err))
        return -1;
    tns_stream fresh = {0}; /* the first teacher, without one before */
    int j = 0;
    for (int i = 0; i < student->n; i++) {
        const tns_frame *sf = &student->v[i], *res;
        if (is_opt(sf->name)) {
            rep->skipped++;
            continue;
        }
        long idx = rep->frames;
        tns_frame *tf = NULL;
        if (have) {
            while (j < teacher->n && is_opt(teacher->v[j].name))
                j++;
            if (j == teacher->n) {
                dx_fail(err, "teacher ends before frame %ld '%s' of the "
                        "student: the models differ", idx, sf->name);
                goto fail;
            }
            tf = &teacher->v[j++];
        }
        if (merge_frame(&m, idx, tf, sf, &res, err))
            goto fail;
        if (have && res == sf) {
            memcpy(tf->data, sf->data, sf->nbytes); /* same dtype, shape */
        } else if (!have) {
            tns_frame c;
            if (tns_frame_copy(&c, sf, NULL, err) ||
                tns_stream_put(&fresh, &c, 0, err))
                goto fail;
        }
    }
    while (have && j < teacher->n && is_opt(teacher->v[j].name))
        j++;
    if (have && j < teacher->n) {
        dx_fail(err, "teacher has a frame '%s' after the student's last: "
                "the models differ", teacher->v[j].name);
        goto fail;
    }
    if (merge_end(&m, err))
        goto fail;
    if (!have) {
        tns_stream_free(teacher);
        *teacher = fresh;
    }
    return 0;
fail:
    tns_stream_free(&fresh);
    return -1;
}
