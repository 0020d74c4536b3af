/* check.h - a minimal TAP producer for the C unit tests.
 *
 * CHECK(cond, fmt, ...) prints "ok N - msg" or "not ok N - msg".  A test
 * program ends with `return check_done();`, which prints the plan and
 * returns non-zero if anything failed, so a failure can never pass quietly.
 */
#ifndef DACS_CHECK_H
#define DACS_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static int check_n, check_failed;

__attribute__((format(printf, 2, 3))) static int check_report(int ok, const char *fmt, ...)
{
    va_list ap;
    check_n++;
    printf("%sok %d - ", ok ? "" : "not ", check_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!ok)
        check_failed++;
    return ok;
}

#define CHECK(cond, ...) check_report(!!(cond), __VA_ARGS__)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol, ...)                                   \
    check_report(fabs((double)(a) - (double)(b)) <=                          \
                     (atol) + (rtol) * fabs((double)(b)),                    \
                 __VA_ARGS__)

/* The scale-free error max|a - b| / max|b| over n values (NaN in a
 * sticks). */
static inline double check_relerr(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d))
            d = e;
        if (fabs(b[i]) > s)
            s = fabs(b[i]);
    }
    return d / (s > 0 ? s : 1e-30);
}

static inline int check_done(void)
{
    printf("1..%d\n", check_n);
    if (check_failed)
        fprintf(stderr, "%d of %d checks failed\n", check_failed, check_n);
    return check_failed ? 1 : 0;
}

#endif
