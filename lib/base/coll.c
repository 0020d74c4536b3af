/* coll.c - the rank-local client of mpi-hub(1); see coll.h. */
#include "base/coll.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int dx_coll_read(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t k = recv(fd, p, len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = 0;
            return -1;
        }
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int dx_coll_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* The control buffer of one descriptor. */
typedef union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
} fd_cmsg;

int dx_coll_send_fd(int sock, const void *buf, size_t len, int fd)
{
    fd_cmsg u;
    struct iovec iov = {(void *)buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ssize_t k;
    do
        k = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    return k == (ssize_t)len ? 0 : -1;
}

int dx_coll_recv_fd(int sock, void *buf, size_t len, int *fd)
{
    fd_cmsg u;
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    ssize_t k;
    do
        k = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (k < 0 && errno == EINTR);
    struct cmsghdr *cm = k == (ssize_t)len ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
        if (k >= 0)
            errno = 0;
        return -1;
    }
    memcpy(fd, CMSG_DATA(cm), sizeof *fd);
    return 0;
}

static int gone(const char *role, const char *what, dx_err *err)
{
    return dx_fail(err, "%s: mpi-hub closed the connection during '%s' "
                   "(%s): another rank failed, or the job is being stopped",
                   role, what, errno ? strerror(errno) : "end of stream");
}

int dx_coll_open(dx_coll *c, const char *path, const char *role,
                 dx_err *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return dx_fail(err, "--mpi %s: a socket path has at most %zu bytes",
                       path, sizeof a.sun_path - 1);
    strcpy(a.sun_path, path);
    snprintf(c->role, sizeof c->role, "%s", role);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return dx_fail(err, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return dx_fail(err, "--mpi %s: cannot connect (%s): is this tool "
                       "started by dacs-train --mpi under mpirun, with its "
                       "rank's mpi-hub running?", path, strerror(e));
    }
    dx_coll_hello h = {.magic = DX_COLL_MAGIC};
    snprintf(h.role, sizeof h.role, "%s", role);
    int mem = memfd_create("dacs-coll", MFD_CLOEXEC);
    if (mem < 0) {
        close(fd);
        return dx_fail(err, "memfd_create: %s", strerror(errno));
    }
    /* the hello, with the memory file's descriptor */
    if (dx_coll_send_fd(fd, &h, sizeof h, mem) ||
        dx_coll_read(fd, &h, sizeof h)) {
        close(fd);
        close(mem);
        return gone(role, "hello", err);
    }
    if (h.magic != DX_COLL_MAGIC || h.size < 1 || h.rank < 0 ||
        h.rank >= h.size) {
        close(fd);
        close(mem);
        return dx_fail(err, "--mpi %s: the peer is not an mpi-hub of this "
                       "version (magic %#x, rank %d of %d)", path, h.magic,
                       h.rank, h.size);
    }
    c->fd = fd;
    c->mem = mem;
    c->rank = h.rank;
    c->size = h.size;
    return 0;
}

void dx_coll_close(dx_coll *c)
{
    if (!c || c->fd < 0)
        return;
    close(c->fd);
    close(c->mem);
    if (c->map)
        munmap(c->map, c->cap);
    c->fd = -1;
    c->map = NULL;
}

static int sum(dx_coll *c, void *x, size_t n, size_t width, unsigned type,
               const char *what, dx_err *err)
{
    if (!c || n == 0)
        return 0;
    if (c->fd < 0)
        return dx_fail(err, "%s: '%s': no connection to mpi-hub", c->role,
                       what);
    size_t bytes = n * width;
    if (bytes > c->cap) {
        /* grow the shared file: whole MiB, at least twice the old size */
        size_t cap = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
        if (cap < 2 * c->cap)
            cap = 2 * c->cap;
        if (c->map)
            munmap(c->map, c->cap);
        c->map = NULL;
        c->cap = 0;
        void *p = MAP_FAILED;
        if (ftruncate(c->mem, (off_t)cap) == 0)
            p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, c->mem, 0);
        if (p == MAP_FAILED)
            return dx_fail(err, "%s: '%s': cannot share %zu MiB with mpi-hub "
                           "(%s)", c->role, what, cap >> 20, strerror(errno));
        c->map = p;
        c->cap = cap;
    }
    dx_coll_req q = {.magic = DX_COLL_MAGIC, .type = type, .n = n,
                     .cap = c->cap};
    /* a long tag is cut short: it only has to match across the ranks */
    if (snprintf(q.tag, sizeof q.tag, "%s:%s", c->role, what) < 0)
        q.tag[0] = 0;
    memcpy(c->map, x, bytes);
    if (dx_coll_write(c->fd, &q, sizeof q) ||
        dx_coll_read(c->fd, &q, sizeof q))
        return gone(c->role, what, err);
    if (q.magic != DX_COLL_MAGIC || q.type != type || q.n != n)
        return dx_fail(err, "%s: '%s': mpi-hub answered %llu values of "
                       "type %u, expected %zu of type %u", c->role, what,
                       q.n, q.type, n, type);
    memcpy(x, c->map, bytes);
    return 0;
}

int dx_coll_sum_f64(dx_coll *c, double *x, size_t n, const char *what,
                    dx_err *err)
{
    return sum(c, x, n, sizeof *x, DX_COLL_F64, what, err);
}

int dx_coll_sum_f32(dx_coll *c, float *x, size_t n, const char *what,
                    dx_err *err)
{
    return sum(c, x, n, sizeof *x, DX_COLL_F32, what, err);
}
