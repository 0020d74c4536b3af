/* mpi-hub - a rank's one MPI process: sums over the ranks for the tools
 * of its rank (base/coll.h), barriers for its driver.
 *
 *   mpi-hub --socket PATH
 *
 * Built only with MPI (make MPI=1, or found by pkg-config as ompi-c); the
 * one file of dacs that includes mpi.h.
 */
#include <errno.h>
#include <mpi.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/coll.h"

#define USAGE                                                                 \
    "usage: mpi-hub --socket PATH\n"                                          \
    "The one MPI process of a rank of a data-parallel run (mpirun -n K\n"     \
    "dacs-train --mpi, dacs-train(1)).  Calls MPI_Init, listens on the\n"     \
    "Unix-domain socket PATH, writes 'RANK SIZE' on stdout, then serves:\n"  \
    "  the tools of its rank (seg-step, seg-infer, pseudolabel --mpi PATH):\n" \
    "    each sum they send comes back summed over the ranks, in rank\n"    \
    "    order, the same bits on every rank;\n"                             \
    "  its driver, one line at a time on stdin: 'barrier' (answered 'ok'\n" \
    "    on stdout once every rank has sent it), 'done' (MPI_Finalize and\n" \
    "    exit 0).  The end of stdin before 'done' (the driver died) aborts\n" \
    "    the whole job: every rank stops, none waits for ever.\n"          \
    "After 'done', one line on stderr: the sums served, their megabytes,\n" \
    "the seconds spent summing (of which the gradients) and waiting for\n" \
    "the other ranks to reach a sum.\n"                                   \
    "\n"                                                                      \
    "options:\n"                                                              \
    "  --socket PATH       the socket to create (required; a path on this\n" \
    "                      machine, at most 107 bytes)\n"

#define MAX_CLIENTS 32
/* sums up to this size are all-gathered whole and added up by every rank;
 * larger ones are split into one block per rank (reduce-scatter by an
 * all-to-all, then all-gather) so that each rank adds 1/K of them */
#define SMALL_BYTES (256 * 1024)

static int rank, size, quiet;
static const char *sock_path;
/* what the run cost: sums served, their bytes, the seconds spent waiting
 * for the other ranks to reach each sum, and in summing (transfer and
 * adding), per kind of sum: the gradients and the rest */
static struct {
    long n, n_grad;
    double bytes, wait, sum, sum_grad;
} stat;

static _Noreturn void abort_job(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static _Noreturn void abort_job(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mpi-hub: rank %d of %d: ", rank, size);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; aborting the job\n");
    va_end(ap);
    if (sock_path)
        unlink(sock_path);
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
}

/* Open MPI keeps allocations past MPI_Finalize, which are not dacs's:
 * LeakSanitizer's documented hook turns its exit check off for this one
 * process in a sanitizer build (make SAN=1); the rest of ASan and UBSan
 * stays on.  Without sanitizers nothing calls it. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wait for a nonblocking collective: test, yielding the core between
 * tests, for 2 ms (a peer that is nearly there: no latency added when a
 * core is free, the core given up when the rank's own stages need it),
 * then every 0.2 ms, so that a rank waiting for a slower one (rank 0
 * evaluating, say) leaves its core to the work. */
static void wait_for(MPI_Request *r)
{
    double t0 = now();
    int done = 0;
    for (;;) {
        MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        if (now() - t0 < 0.002) {
            sched_yield();
        } else {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
}

/* Every rank must be summing the same thing: all-gather the headers and
 * compare them with this rank's. */
static void check_step(const dx_coll_req *q)
{
    dx_coll_req *all = malloc(sizeof *all * (size_t)size);
    if (!all)
        abort_job("out of memory");
    MPI_Request r;
    MPI_Iallgather(q, (int)sizeof *q, MPI_BYTE, all, (int)sizeof *q,
                   MPI_BYTE, MPI_COMM_WORLD, &r);
    wait_for(&r);
    for (int k = 0; k < size; k++)
        if (all[k].type != q->type || all[k].n != q->n ||
            strncmp(all[k].tag, q->tag, DX_COLL_TAG))
            abort_job("the ranks are out of step: this rank sums '%.*s' "
                      "(%llu values of type %u), rank %d sums '%.*s' (%llu "
                      "of type %u)", DX_COLL_TAG, q->tag, q->n, q->type, k,
                      DX_COLL_TAG, all[k].tag, all[k].n, all[k].type);
    free(all);
}

/* acc[0..n) += x[0..n), in the element type */
static void add(void *acc, const void *x, size_t n, unsigned type)
{
    if (type == DX_COLL_F32) {
        float *a = acc;
        const float *b = x;
        for (size_t i = 0; i < n; i++)
            a[i] += b[i];
    } else {
        double *a = acc;
        const double *b = x;
        for (size_t i = 0; i < n; i++)
            a[i] += b[i];
    }
}

/* x[0..n) = x_0 + x_1 + ... + x_{K-1}, left to right; scratch holds
 * 2 * n * width bytes. */
static void reduce(void *x, size_t n, unsigned type, char *scratch)
{
    size_t width = type == DX_COLL_F32 ? sizeof(float) : sizeof(double);
    size_t bytes = n * width;
    if (size == 1)
        return;
    if (bytes <= SMALL_BYTES) {
        MPI_Allgather(x, (int)bytes, MPI_BYTE, scratch, (int)bytes,
                      MPI_BYTE, MPI_COMM_WORLD);
        memcpy(x, scratch, bytes);
        for (int k = 1; k < size; k++)
            add(x, scratch + (size_t)k * bytes, n, type);
        return;
    }
    /* block b = values [b*n/K, (b+1)*n/K) is summed by rank b: it gets
     * every rank's copy of it (all-to-all), adds them in rank order, and
     * every rank gets every summed block back (all-gather) */
    int *cnt = malloc(4 * sizeof *cnt * (size_t)size);
    if (!cnt)
        abort_job("out of memory");
    int *dis = cnt + size, *rcnt = dis + size, *rdis = rcnt + size;
    for (int b = 0; b < size; b++) {
        size_t lo = n * (size_t)b / (size_t)size;
        size_t hi = n * (size_t)(b + 1) / (size_t)size;
        cnt[b] = (int)((hi - lo) * width);
        dis[b] = (int)(lo * width);
    }
    for (int k = 0; k < size; k++) {
        rcnt[k] = cnt[rank];
        rdis[k] = k * cnt[rank];
    }
    MPI_Alltoallv(x, cnt, dis, MPI_BYTE, scratch, rcnt, rdis, MPI_BYTE,
                  MPI_COMM_WORLD);
    size_t mine = (size_t)cnt[rank] / width;
    char *sum = (char *)x + dis[rank];
    memcpy(sum, scratch, (size_t)cnt[rank]);
    for (int k = 1; k < size; k++)
        add(sum, scratch + rdis[k], mine, type);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, x, cnt, dis, MPI_BYTE,
                   MPI_COMM_WORLD);
    free(cnt);
}

typedef struct client {
    int fd;
    char role[DX_COLL_TAG];
    int mem;     /* its memory file, where its sums lie */
    void *map;
    size_t cap;
} client;

static char *scratch;
static size_t scratch_cap;

/* Serve one request of client c; 0, or -1 when it has gone. */
static int serve(client *c)
{
    dx_coll_req q;
    if (dx_coll_read(c->fd, &q, sizeof q))
        return -1;
    if (q.magic != DX_COLL_MAGIC ||
        (q.type != DX_COLL_F32 && q.type != DX_COLL_F64))
        abort_job("'%s' sent a request of magic %#x, type %u", c->role,
                  q.magic, q.type);
    size_t width = q.type == DX_COLL_F32 ? sizeof(float) : sizeof(double);
    if (q.n > (size_t)INT32_MAX / width)
        abort_job("'%s' sent %llu values; at most %zu are summed at once",
                  c->role, q.n, (size_t)INT32_MAX / width);
    size_t bytes = (size_t)q.n * width;
    if (q.cap != c->cap) {
        if (c->map)
            munmap(c->map, c->cap);
        c->map = mmap(NULL, (size_t)q.cap, PROT_READ | PROT_WRITE,
                      MAP_SHARED, c->mem, 0);
        if (c->map == MAP_FAILED)
            abort_job("cannot map the %llu bytes shared by '%s' (%s)",
                      q.cap, c->role, strerror(errno));
        c->cap = (size_t)q.cap;
    }
    if (bytes > c->cap)
        abort_job("'%s' sums %zu bytes in a memory file of %zu", c->role,
                  bytes, c->cap);
    /* the small case gathers K copies, the large one K blocks of n/K */
    size_t need = bytes <= SMALL_BYTES ? bytes * (size_t)size
                                       : bytes + (size_t)size * width;
    if (need > scratch_cap) {
        free(scratch);
        if (!(scratch = malloc(need)))
            abort_job("cannot allocate %zu MiB for '%s'", need >> 20,
                      q.tag);
        scratch_cap = need;
    }
    double t0 = now();
    check_step(&q);
    double t1 = now();
    reduce(c->map, (size_t)q.n, q.type, scratch);
    double t2 = now();
    int grad = strstr(q.tag, ":gradient") != NULL;
    stat.n++, stat.n_grad += grad;
    stat.bytes += (double)bytes;
    stat.wait += t1 - t0;
    stat.sum += t2 - t1;
    stat.sum_grad += grad ? t2 - t1 : 0;
    if (dx_coll_write(c->fd, &q, sizeof q))
        abort_job("'%s' ended before taking the sum '%.*s'", c->role,
                  DX_COLL_TAG, q.tag);
    return 0;
}

/* Take a new client on fd: its hello and memory file; 0 or -1. */
static int hello(int fd, client *c)
{
    dx_coll_hello h;
    int mem;
    if (dx_coll_recv_fd(fd, &h, sizeof h, &mem))
        return -1;
    if (h.magic != DX_COLL_MAGIC) {
        close(mem);
        return -1;
    }
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->mem = mem;
    snprintf(c->role, sizeof c->role, "%.*s", DX_COLL_TAG - 1, h.role);
    h.rank = rank;
    h.size = size;
    if (dx_coll_write(fd, &h, sizeof h)) {
        close(c->mem);
        return -1;
    }
    return 0;
}

static void drop(client *c)
{
    close(c->fd);
    close(c->mem);
    if (c->map)
        munmap(c->map, c->cap);
}

/* A command line from the driver on stdin; returns 1 for done. */
static int command(const char *line)
{
    if (!strcmp(line, "barrier")) {
        MPI_Request r;
        MPI_Ibarrier(MPI_COMM_WORLD, &r);
        wait_for(&r);
        printf("ok\n");
        fflush(stdout);
        return 0;
    }
    if (!strcmp(line, "done"))
        return 1;
    abort_job("unknown command '%s' from the driver (barrier, done)", line);
}

int main(int argc, char **argv)
{
    dx_cli_init(argc, argv);
    dx_cli cli = {.take = DX_CLI_QUIET};
    enum { O_SOCKET = DX_OPT_TOOL };
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, O_SOCKET}, {0, 0, 0, 0}};
    int c;
    while ((c = dx_cli_next(&cli, argc, argv, "", longopts)) != -1) {
        if (c == O_SOCKET)
            sock_path = optarg;
        else if (c == 'h')
            dx_cli_help(&cli, USAGE);
    }
    dx_cli_end(&cli, argc, argv);
    quiet = cli.quiet;
    if (!sock_path)
        dx_die("no socket: give its path with --socket PATH");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof a.sun_path)
        dx_die("--socket %s: a socket path has at most %zu bytes",
               sock_path, sizeof a.sun_path - 1);
    strcpy(a.sun_path, sock_path);
    /* stdout carries the driver's answers, line by line */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Open MPI's blocking calls poll in a busy loop; the hub shares the
     * rank's cores with its stages, so it yields them while it polls
     * (the user's own setting wins) */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(sock_path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(lfd, MAX_CLIENTS) != 0)
        abort_job("--socket %s: %s", sock_path, strerror(errno));
    printf("%d %d\n", rank, size);
    fflush(stdout);

    struct pollfd pf[2 + MAX_CLIENTS];
    client cl[MAX_CLIENTS];
    int ncl = 0, finished = 0;
    char line[256];
    size_t have = 0;
    while (!finished) {
        pf[0] = (struct pollfd){.fd = 0, .events = POLLIN};
        pf[1] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int k = 0; k < ncl; k++)
            pf[2 + k] = (struct pollfd){.fd = cl[k].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)(2 + ncl), -1) < 0) {
            if (errno == EINTR)
                continue;
            abort_job("poll: %s", strerror(errno));
        }
        /* clients first: a request waiting while its driver has already
         * gone would otherwise be answered by an abort */
        for (int k = 0; k < ncl; k++) {
            if (!(pf[2 + k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (serve(&cl[k]) == 0)
                continue;
            drop(&cl[k]);
            cl[k] = cl[--ncl];
            pf[2 + k] = pf[2 + ncl];
            k--;
        }
        if (pf[1].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && (ncl == MAX_CLIENTS || hello(fd, &cl[ncl])))
                close(fd);
            else if (fd >= 0)
                ncl++;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t k = read(0, line + have, sizeof line - 1 - have);
            if (k <= 0)
                abort_job("its driver ended before saying 'done' (killed, "
                          "or stopped by an error above)");
            have += (size_t)k;
            line[have] = 0;
            char *nl;
            while (!finished && (nl = strchr(line, '\n'))) {
                *nl = 0;
                finished = command(line);
                size_t used = (size_t)(nl + 1 - line);
                memmove(line, nl + 1, have - used + 1);
                have -= used;
            }
            if (have == sizeof line - 1)
                abort_job("a command line of more than %zu bytes",
                          sizeof line - 2);
        }
    }
    for (int k = 0; k < ncl; k++)
        drop(&cl[k]);
    close(lfd);
    if (!quiet)
        fprintf(stderr, "mpi-hub: rank %d of %d: %ld sums (%.1f MB), "
                "%.2f s summing (%ld gradients: %.2f s), %.2f s waiting for "
                "the other ranks\n", rank, size, stat.n, stat.bytes / 1e6,
                stat.sum, stat.n_grad, stat.sum_grad, stat.wait);
    unlink(sock_path);
    MPI_Finalize();
    free(scratch);
    return 0;
}
