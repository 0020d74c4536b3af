/* ema.h - the mean teacher: an exponential moving average of the student
 * (DACS step 9).
 *
 *   theta_T <- alpha theta_T + (1 - alpha) theta_S
 *   alpha    = min(1 - 1/(t+1), alpha_max)
 *
 * t is the index of the SGD step just taken: the student's meta.iter - 1,
 * clamped at 0.  So the first merge (t = 0) has alpha = 0 and copies the
 * student, as the reference code does.
 *
 * A checkpoint is one tns stream: meta.arch (u8 text) first, meta.iter (i32
 * scalar), then the parameters (f32), batch-norm running statistics
 * (<module>.running_mean, <module>.running_var, f32) and, in a student,
 * opt.* momentum buffers.  A teacher holds the same frames in the same
 * order without opt.*.
 */
#ifndef DACS_EMA_H
#define DACS_EMA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "io/tns.h"

/* min(1 - 1/(t+1), alpha_max) */
double dx_ema_alpha(uint64_t t, double alpha_max);

/* teacher[i] = alpha teacher[i] + (1 - alpha) student[i], computed in
 * double and rounded to f32 once; alpha 0 gives the student exactly. */
void dx_ema_update(float *teacher, const float *student, size_t n,
                   double alpha);

typedef struct dx_ema_opts {
    double alpha_max;  /* 0.99 */
    int have_alpha;    /* use alpha as given */
    double alpha;
    int have_t;        /* use t as given instead of meta.iter - 1 */
    uint64_t t;
    int copy_bn_stats; /* running_mean/var from the student, not averaged */
    const char *teacher_name; /* for messages about a missing teacher */
} dx_ema_opts;

void dx_ema_defaults(dx_ema_opts *o);

typedef struct dx_ema_report {
    int64_t iter;    /* the student's meta.iter, or -1 if it had none */
    uint64_t t;      /* the step index used */
    double alpha;    /* the weight used */
    long frames;     /* frames written */
    long averaged;   /* f32 frames averaged */
    long copied;     /* frames copied from the student */
    long skipped;    /* opt.* frames left out */
} dx_ema_report;

/* Merge teacher and student, frame by frame, into out: constant memory
 * (one frame of each at a time).  teacher NULL means there is no teacher
 * yet, which is allowed only when t = 0 and alpha = 0: the result is then
 * a copy of the student without opt.*.
 *
 * opt.* frames of either stream are left out.  Every other frame must
 * match between the two in order, name, dtype and shape; meta.arch must be
 * identical byte for byte.  f32 frames outside meta.* are averaged (the
 * running statistics too, unless copy_bn_stats); every other frame,
 * meta.iter included, is copied from the student.  Unless alpha and t are
 * both given, meta.iter must come before the first f32 parameter.  NaN or
 * Inf in any f32 frame is an error.  The caller ends the stream
 * (tns_finish) or abandons it (tns_abort) on failure. */
int dx_ema_merge(tns_reader *teacher, tns_reader *student, tns_writer *out,
                 const dx_ema_opts *o, dx_ema_report *rep, dx_err *err);

/* The same merge on segments held in memory, for a teacher kept across
 * many steps (ema-merge --stream): teacher (without opt.*) is updated in
 * place from student (one checkpoint segment; its opt.* frames are left
 * out); copied frames take the student's values.  An empty teacher is
 * the first merge (t = 0, alpha 0, as above): it becomes a copy of the
 * student without opt.*.  The same checks and report as dx_ema_merge.  On
 * failure the teacher may be partly updated and must not be used. */
int dx_ema_merge_segment(tns_stream *teacher, const tns_stream *student,
                         const dx_ema_opts *o, dx_ema_report *rep,
                         dx_err *err);

#endif
