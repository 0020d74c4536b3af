/* test_par.c - the thread pool: its count is dacs's own setting, may
 * exceed the cores, and every part of a dx_par_for runs on its own thread. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "base/par.h"
#include "check.h"

enum { N = 8 };
static pthread_t who[N];

static void mark(void *ctx, long lo, long hi)
{
    (void)ctx;
    for (long i = lo; i < hi; i++)
        who[i] = pthread_self();
    usleep(20000); /* hold the thread, so no other takes a second part */
}

int main(void)
{
    dx_err err;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(dx_par_set_threads(0, &err) == -1 && strstr(err.msg, "1..64"),
          "0 threads refused: %s", err.msg);
    CHECK(dx_par_set_threads(DX_PAR_MAX + 1, &err) == -1,
          "more than DX_PAR_MAX refused");
    CHECK(dx_par_set_threads(N, &err) == 0, "%d threads asked for (%ld "
          "cores)", N, cores);
    CHECK(dx_par_threads() == N, "the pool has %d threads", dx_par_threads());
    dx_par_for(N, mark, NULL);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= pthread_equal(who[i], who[j]);
        distinct += !seen;
    }
    CHECK(distinct == N, "%d parts ran on %d distinct threads", N, distinct);
    CHECK(dx_par_set_threads(N, &err) == 0, "asking again for the same count "
          "is fine");
    CHECK(dx_par_set_threads(3, &err) == -1 && strstr(err.msg, "started"),
          "another count once started is refused: %s", err.msg);
    return check_done();
}
