/* test_coll.c - sums over the ranks (base/coll.h).
 *
 * Alone: a NULL dx_coll leaves the buffer as it is; a socket nobody
 * listens on fails with a message.  Run as a rank of mpi.bats (the
 * environment variable DACS_COLL_SOCKET names its mpi-hub): every rank
 * gives the buffers of every rank, so each can compute the expected sum,
 * rank 0's buffer plus rank 1's and so on, left to right in float and
 * double; the hub's answer must be those bits exactly, for a small sum
 * (gathered whole) and a large one (split into blocks).  With
 * DACS_COLL_OUT_OF_STEP set, rank 1 sums a buffer of another size first:
 * the hub must stop the job (mpi.bats checks its message). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/coll.h"
#include "base/rng.h"
#include "check.h"

/* value i of rank r's buffer: magnitudes spread over 2^-20..2^20, so
 * that adding in another order changes some of the sums' bits */
static double value(int r, size_t i)
{
    dx_rng g;
    dx_rng_init(&g, 7, "test_coll", (uint64_t)r);
    dx_rng c = dx_rng_child(&g, i);
    return (dx_rng_uniform(&c) - 0.5) * ldexp(1, (int)(i % 41) - 20);
}

static void one_sum(dx_coll *c, size_t n, int f32)
{
    dx_err err;
    float *xf = malloc(n * sizeof *xf), *ef = malloc(n * sizeof *ef);
    double *xd = malloc(n * sizeof *xd), *ed = malloc(n * sizeof *ed);
    for (size_t i = 0; i < n; i++) {
        xf[i] = (float)value(c->rank, i);
        xd[i] = value(c->rank, i);
        ef[i] = (float)value(0, i);
        ed[i] = value(0, i);
    }
    for (int r = 1; r < c->size; r++)
        for (size_t i = 0; i < n; i++) {
            ef[i] += (float)value(r, i);
            ed[i] += value(r, i);
        }
    int rc = f32 ? dx_coll_sum_f32(c, xf, n, "test", &err)
                 : dx_coll_sum_f64(c, xd, n, "test", &err);
    CHECK(rc == 0, "rank %d of %d: sum of %zu %s: %s", c->rank, c->size, n,
          f32 ? "floats" : "doubles", rc ? err.msg : "ok");
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += f32 ? memcmp(&xf[i], &ef[i], sizeof *xf) != 0
                   : memcmp(&xd[i], &ed[i], sizeof *xd) != 0;
    CHECK(bad == 0, "rank %d: %zu %s summed left to right in rank order, "
          "bit for bit (%zu differ)", c->rank, n, f32 ? "floats" : "doubles",
          bad);
    free(xf);
    free(ef);
    free(xd);
    free(ed);
}

int main(void)
{
    dx_err err;
    double d[3] = {1, 2, 3};
    CHECK(dx_coll_sum_f64(NULL, d, 3, "x", &err) == 0 && d[0] == 1 &&
              d[2] == 3,
          "no hub: a sum leaves the values as they are");
    dx_coll c;
    CHECK(dx_coll_open(&c, "/nonexistent/hub.sock", "test", &err) == -1 &&
              strstr(err.msg, "cannot connect"),
          "no hub at the path: %s", err.msg);
    const char *path = getenv("DACS_COLL_SOCKET");
    if (path) {
        CHECK(dx_coll_open(&c, path, "test_coll", &err) == 0,
              "connected to %s: %s", path, err.msg);
        if (getenv("DACS_COLL_OUT_OF_STEP") && c.rank == 1)
            one_sum(&c, 999, 0);
        one_sum(&c, 1000, 0);        /* small: gathered whole */
        one_sum(&c, 1000, 1);
        one_sum(&c, 300001, 1);      /* large: blocks, n not a multiple
                                        of K */
        one_sum(&c, 200003, 0);
        dx_coll_close(&c);
    }
    return check_done();
}
