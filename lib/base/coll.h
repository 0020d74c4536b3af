/* coll.h - sums over the ranks of a data-parallel job, for the tools of
 * one rank.
 *
 * A data-parallel run (mpirun -n K dacs-train --mpi, dacs-train(1)) is K
 * ranks, and each rank is a chain of processes: the stages of dacs-train,
 * started anew every iteration in its per-iteration mode.  Open MPI lets a
 * rank call MPI_Init once, in one process, even across distinct processes
 * (open-mpi/ompi issue #7025).  So each rank has exactly one MPI process,
 * mpi-hub(1), started by the driver and living for the whole run; the
 * stages that take part in a reduction (seg-step, seg-infer --bn batch,
 * pseudolabel) reach their rank's hub over a Unix-domain socket and get
 * back the sum over the ranks of a buffer.  The buffer itself is never
 * sent through the socket: it lies in a memory file (memfd) the client
 * shares with the hub, which sums it there in place; the socket carries
 * only the requests.  This module is that client; it does not use MPI,
 * so every tool builds without it.
 *
 * The sum is in a fixed order: element i of the result is
 *     ((x_0[i] + x_1[i]) + x_2[i]) + ... + x_{K-1}[i]
 * with x_r the buffer of rank r, in the element type (float or double).
 * Every rank gets the same bits, and a run gives the same bits whatever
 * the timing of the ranks; mpi-hub(1) says how it is computed.
 *
 * Every reduction carries a tag (the role of the client and what is
 * summed, e.g. "seg-step:bn"); the hub checks that every rank sums the
 * same tag and the same number of values, and aborts the whole job naming
 * both when they differ (the ranks' stages out of step).
 *
 * A NULL dx_coll is the single-process case: every sum leaves x as it is.
 */
#ifndef DACS_COLL_H
#define DACS_COLL_H

#include <stddef.h>

#include "base/err.h"

#define DX_COLL_TAG 48

typedef struct dx_coll {
    int fd;                   /* the connection to mpi-hub */
    int rank, size;           /* this rank and the number of ranks, K */
    char role[DX_COLL_TAG];   /* the client's name, for the tags */
    int mem;                  /* the shared memory file */
    void *map;                /* its mapping, cap bytes */
    size_t cap;
} dx_coll;

/* Connect to the hub listening at path (mpi-hub --socket) as role (the
 * tool's name); fills rank and size.  Fails if nothing listens there or
 * the peer is not an mpi-hub of this version. */
int dx_coll_open(dx_coll *c, const char *path, const char *role,
                 dx_err *err);
void dx_coll_close(dx_coll *c);

/* x[0..n) = its sum over the ranks, in rank order (above); `what` names
 * the sum in the tag.  c NULL: nothing to do.  Fails, saying so, if the
 * hub is gone (another rank failed and the job is being stopped). */
int dx_coll_sum_f64(dx_coll *c, double *x, size_t n, const char *what,
                    dx_err *err);
int dx_coll_sum_f32(dx_coll *c, float *x, size_t n, const char *what,
                    dx_err *err);

/* ---- the wire format between dx_coll and mpi-hub(1) ----
 * Host structs over a SOCK_STREAM Unix socket, one request and one
 * reply at a time:
 *   hello:   client dx_coll_hello with the memory file's descriptor
 *            (SCM_RIGHTS); hub dx_coll_hello (rank, size filled)
 *   sum:     the n values at the start of the memory file, then client
 *            dx_coll_req (cap: the file's size, which the hub maps anew
 *            when it changes); hub dx_coll_req when the sums are there
 */
#define DX_COLL_MAGIC 0x44584331u /* "DXC1" */
enum dx_coll_type { DX_COLL_F32 = 1, DX_COLL_F64 = 2 };

typedef struct dx_coll_hello {
    unsigned magic;
    int rank, size;
    char role[DX_COLL_TAG];
} dx_coll_hello;

typedef struct dx_coll_req {
    unsigned magic;
    unsigned type;   /* dx_coll_type */
    unsigned long long n;
    unsigned long long cap; /* bytes of the memory file */
    char tag[DX_COLL_TAG];
} dx_coll_req;

/* Whole-buffer socket I/O (EINTR and short counts handled; no SIGPIPE):
 * 0, or -1 with errno (0 for an end of stream on read). */
int dx_coll_read(int fd, void *buf, size_t len);
int dx_coll_write(int fd, const void *buf, size_t len);
/* One message of len bytes (a hello) with a file descriptor passed along
 * (SCM_RIGHTS): 0, or -1 with errno (0: end of stream, or no descriptor
 * came with it).  The received descriptor is close-on-exec. */
int dx_coll_send_fd(int sock, const void *buf, size_t len, int fd);
int dx_coll_recv_fd(int sock, void *buf, size_t len, int *fd);

#endif
