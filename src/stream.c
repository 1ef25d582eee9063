/* SPDX-License-Identifier: MIT */
/*
 * Streams, connect, servers with a fixed handler pool, UDP, addresses.
 *
 * Every op follows the same shape: consume a wake-up (readiness, or an
 * interruption to report), try the system call, and only if it would
 * block park on the fd's watcher.  A short read means the socket buffer
 * is empty, so the next read parks first instead of paying a read() that
 * would fail with EAGAIN (epoll is level-triggered: nothing is missed).
 *
 * Reads on a plain stream (no layer) are delivered: the parking call
 * leaves its buffer and length in the stream, the read watcher's
 * callback does the read(2) into it when the fd becomes readable and
 * resumes the reader with the result, and the op's call on resuming
 * takes that result instead of repeating its checks and the read.  A
 * reader interrupted while parked (cancelled, timed out, the stream
 * closed) has read nothing; bytes delivered before an interruption are
 * the op's result (read, read_until: buffered; read_exactly: counted by
 * async_stream_partial), and the interruption is reported by the next
 * await.  Through a layer (TLS) the callback only wakes the reader,
 * whose call then reads.
 */
#define _GNU_SOURCE
#include "src/async_ev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    S_CLOSED = 0x01,
    S_EOF = 0x02,
    S_DRAINED = 0x04, /* last read was short: wait before reading again */
    S_SOCK = 0x08,    /* a socket: send(MSG_NOSIGNAL), never SIGPIPE    */
    S_OPEN = 0x10,    /* initialised                                    */
    S_RETRY = 0x20,   /* connect: sleeping before trying a full Unix listener again */
    S_DELIVERED = ASYNC__STREAM_DELIVERED, /* (0x40) the reader's wake result is its read's: a count,
                           ASYNC_EOF or an error (not readiness)        */
    S_ARMED = 0x80      /* rio is armed by rio_arm for a plain EV_READ:
                           parking a read there is a few stores         */
};
/* A first read call that can park at once on the kept watcher: open,
 * not closed, no EOF, drained, armed (nothing delivered pending).      */
#define S_PARK_MASK (S_OPEN | S_CLOSED | S_EOF | S_DRAINED | S_ARMED | S_DELIVERED)
#define S_PARK_FAST (S_OPEN | S_DRAINED | S_ARMED)

#define INT_CLAMP(n) ((n) > (size_t)INT_MAX ? (size_t)INT_MAX : (n))

/* The driver of a loop whose watcher a stream armed (rio_arm checked). */
#define EV_OF_LOOP(L) ((async_ev *)(void *)((char *)(L) - offsetof(async_ev, loop)))

/* The layer (TLS) paths stay out of line: inlined, they grew every read
 * op past what the compiler would inline into it, and cost plain
 * streams some 50 instructions per echoed message.                    */
#if defined(__GNUC__)
#define S_OUT_OF_LINE __attribute__((noinline))
#else
#define S_OUT_OF_LINE
#endif

/* ---- addresses ---- */

int async_addr_ip(async_addr *a, const char *ip, unsigned port)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    size_t n;

    if (a == NULL || ip == NULL || port > 65535)
        return ASYNC_EINVAL;
    memset(a, 0, sizeof *a);
    n = strlen(ip);
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
        if (n - 2 >= sizeof tmp)
            return ASYNC_EINVAL;
        memcpy(tmp, ip + 1, n - 2);
        tmp[n - 2] = '\0';
        ip = tmp;
    }
    {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&a->sa;
        if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            in->sin_port = htons((uint16_t)port);
            a->len = sizeof *in;
            return 0;
        }
    }
    {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&a->sa;
        if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)port);
            a->len = sizeof *in6;
            return 0;
        }
    }
    return ASYNC_EINVAL;
}

int async_addr_unix(async_addr *a, const char *path)
{
    struct sockaddr_un *un;
    size_t n;
    if (a == NULL || path == NULL || path[0] == '\0')
        return ASYNC_EINVAL;
    un = (struct sockaddr_un *)(void *)&a->sa; /* not before: a may be NULL */
    n = strlen(path);
    if (n >= sizeof un->sun_path)
        return ASYNC_ETOOLONG;
    memset(a, 0, sizeof *a);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

unsigned async_addr_port(const async_addr *a)
{
    if (a == NULL)
        return 0;
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)&a->sa)->sin_port);
    if (a->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)&a->sa)->sin6_port);
    return 0;
}

const char *async_addr_str(const async_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (buf == NULL || cap == 0)
        return buf;
    buf[0] = '\0';
    if (a == NULL)
        return buf;
    if (a->sa.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)&a->sa)->sin_addr, ip,
                  sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, async_addr_port(a));
    } else if (a->sa.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)&a->sa)->sin6_addr, ip,
                  sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, async_addr_port(a));
    } else if (a->sa.ss_family == AF_UNIX) {
        snprintf(buf, cap, "%s", ((const struct sockaddr_un *)(const void *)&a->sa)->sun_path);
    }
    return buf;
}

/* ---- streams ---- */

static void set_nodelay(int fd, int family)
{
    int one = 1;
    if (family == AF_INET || family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int async_stream_init(async_stream *s, int fd, void *rbuf, size_t rcap)
{
    int type, rc;
    socklen_t tl = sizeof type;

    if (s == NULL || fd < 0 || (rbuf == NULL && rcap != 0))
        return ASYNC_EINVAL;
    if ((s->flags & (S_OPEN | S_CLOSED)) == S_OPEN)
        return ASYNC_EBUSY; /* still open: its watchers may be armed */
    if ((rc = async_fd_nonblock(fd)) < 0)
        return rc;
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->flags = S_OPEN;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0)
        s->flags |= S_SOCK;
    s->rbuf = (unsigned char *)rbuf;
    s->rcap = rbuf ? rcap : 0;
    return 0;
}

int async_stream_set_rbuf(async_stream *s, void *rbuf, size_t rcap)
{
    if (s == NULL || (rbuf == NULL && rcap != 0))
        return ASYNC_EINVAL;
    if (s->reader || s->rlen > s->rpos)
        return ASYNC_EBUSY;
    s->rbuf = (unsigned char *)rbuf;
    s->rcap = rbuf ? rcap : 0;
    s->rpos = s->rlen = s->scan = 0;
    return 0;
}

bool async_stream_is_closed(const async_stream *s)
{
    return s == NULL || !(s->flags & S_OPEN) || (s->flags & S_CLOSED);
}

size_t async_stream_partial(const async_stream *s)
{
    return s ? s->rdone : 0;
}

size_t async_stream_written(const async_stream *s)
{
    return s ? s->wdone : 0;
}

/* Common entry of every read op.  Returns 0 with a result to return in
 * *rc (an error, an interruption), 1 after a readiness wake-up, 2 on
 * the first call, 3 with the delivered read's result in *rc (> 0 bytes,
 * ASYNC_EOF, or an error).                                             */
enum { R_RETURN = 0, R_READY = 1, R_FIRST = 2, R_DELIVERED = 3 };
static inline int read_woken(async_stream *s, int rc)
{
    s->reader = NULL;
    if (s->flags & S_DELIVERED) {
        s->flags &= (uint8_t)~S_DELIVERED;
        return R_DELIVERED;
    }
    if (rc < 0)
        return R_RETURN;
    s->flags &= (uint8_t)~S_DRAINED;
    return R_READY;
}

static inline int read_first(async_loop *L, async_stream *s, int *rc)
{
    if (s == NULL || (s->flags & (S_OPEN | S_CLOSED)) != S_OPEN) {
        *rc = s == NULL || !(s->flags & S_OPEN) ? ASYNC_EINVAL : ASYNC_ECLOSED;
        return 0;
    }
    if (async_current(L) == NULL) {
        *rc = ASYNC_EPERM;
        return 0;
    }
    if (s->reader) {
        *rc = ASYNC_EBUSY;
        return 0;
    }
    return R_FIRST;
}

static inline int read_enter(async_loop *L, async_stream *s, int *rc)
{
    return async_woken(L, rc) ? read_woken(s, *rc) : read_first(L, s, rc);
}

/* One read through the stream's layer (TLS): what it buffers decides
 * whether the next read waits first, and it may need to wait for
 * writability.                                                         */
static S_OUT_OF_LINE int layer_read(async_stream *s, void *buf, size_t len)
{
    int ev = EV_READ, rc = s->layer->ops->read(s->layer, buf, len, &ev);
    if (rc > 0) {
        if (ev) {
            s->flags |= S_DRAINED;
            s->rwant = EV_READ;
        }
    } else if (rc == ASYNC_EAGAIN) {
        s->flags |= S_DRAINED;
        s->rwant = (uint8_t)ev;
    } else if (rc == ASYNC_EOF) {
        s->flags |= S_EOF;
    }
    return rc;
}

/* A read(2) that brought no bytes (n <= 0, errno not EINTR): the end of
 * the stream (S_EOF), nothing there yet (S_DRAINED), or the error.     */
static inline int read_no_bytes(async_stream *s, ssize_t n)
{
    if (n == 0) {
        s->flags |= S_EOF;
        return ASYNC_EOF;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s->flags |= S_DRAINED;
        return ASYNC_EAGAIN;
    }
    return async_errno(errno);
}

/* One read(2): n > 0, ASYNC_EOF, ASYNC_EAGAIN, or an error. */
static inline int plain_read(async_stream *s, void *buf, size_t len)
{
    ssize_t n;
    do {
        n = read(s->fd, buf, len); /* on a socket, without flags: recv(2) */
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        if ((size_t)n < len)
            s->flags |= S_DRAINED;
        return (int)n;
    }
    return read_no_bytes(s, n);
}

static int sys_read(async_stream *s, void *buf, size_t len)
{
    len = INT_CLAMP(len);
    if (s->layer)
        return layer_read(s, buf, len);
    return plain_read(s, buf, len);
}

static size_t take_buffered(async_stream *s, void *buf, size_t len)
{
    size_t have = s->rlen - s->rpos;
    if (have > len)
        have = len;
    memcpy(buf, s->rbuf + s->rpos, have);
    s->rpos += have;
    if (s->rpos == s->rlen)
        s->rpos = s->rlen = s->scan = 0;
    return have;
}

/* rio_ready's read that brought no bytes: EOF, EINTR (read again),
 * EAGAIN (S_DRAINED again: the reader stays parked), an error.  Out of
 * line, so that the callback's usual path keeps only the stream in a
 * register across its read.                                            */
static S_OUT_OF_LINE int rio_read_failed(async_stream *s, ssize_t n)
{
    if (n < 0 && errno == EINTR)
        return plain_read(s, s->rdst, s->rdst_len);
    return read_no_bytes(s, n);
}

/* The read watcher's callbacks: rio_ready on a plain stream, rio_layer
 * through a layer (TLS), set by rio_arm for what the stream is when it
 * arms.  A read parked on a plain stream is done here, into the buffer
 * it left, and its reader resumed with the result; readiness without
 * data (EAGAIN) leaves it parked.  Through a layer the reader is only
 * woken.  A kept watcher that fires with no reader is stopped, so an
 * unread fd cannot keep waking the loop.  (The stream's fields are read
 * again after the read rather than kept in registers: one saved register
 * instead of four, 8 instructions a message.)                          */
static inline bool rio_unwanted(struct ev_loop *ev, ev_io *w, async_stream *s)
{
    if (s->rio.task != NULL)
        return false;
    s->flags &= (uint8_t)~S_ARMED;
    ev_io_stop(ev, w);
    return true;
}

static inline void rio_resume(async_stream *s, int rc)
{
    async_task *t = s->rio.task;
    s->rio.task = NULL;
    EV_OF_LOOP(s->rio.L)->waits--;
    /* t is parked on rio (it was cleared on any other wake-up, by
     * rio_detach) and rc is a count, ASYNC_EOF, an error or the ready
     * events, never ASYNC_PENDING: resume it without detach and without
     * async_unpark's misuse checks (E17, docs/performance.md).          */
    async__unpark_parked(s->rio.L, t, &s->rio.waiter, rc);
}

static void rio_ready(struct ev_loop *ev, ev_io *w, int revents)
{
    async_stream *s = (async_stream *)(void *)((char *)w - offsetof(async_stream, rio.w));
    ssize_t n;
    int rc;

    (void)revents;
    if (rio_unwanted(ev, w, s))
        return;
    /* The reader parked on this watcher, armed for a plain stream, left
     * its buffer: every park sets rdst (the length clamped), and only a
     * park sets rio.task.  A layer added since re-arms (read_park).   */
    n = read(s->fd, s->rdst, s->rdst_len);
    if (n > 0) { /* short: the socket is drained, wait before reading */
        s->flags = (uint8_t)((s->flags | S_DELIVERED | S_DRAINED) ^
                             ((size_t)n < s->rdst_len ? 0 : S_DRAINED));
        rc = (int)n;
    } else {
        s->flags &= (uint8_t)~S_DRAINED;
        if ((rc = rio_read_failed(s, n)) == ASYNC_EAGAIN)
            return;
        s->flags |= S_DELIVERED;
    }
    rio_resume(s, rc);
}

static void rio_layer(struct ev_loop *ev, ev_io *w, int revents)
{
    async_stream *s = (async_stream *)(void *)((char *)w - offsetof(async_stream, rio.w));
    if (rio_unwanted(ev, w, s))
        return;
    rio_resume(s, revents & (EV_READ | EV_WRITE)); /* its reader reads */
}

/* async_wake() calls this for every wake-up of a parked reader; only an
 * interruption (cancel, timeout, close, a TLS kick) finds the task still
 * set: the watcher stops and the read is forgotten (nothing was read). */
static void rio_detach(async_loop *L, async_waiter *self, async_task *t)
{
    async_stream *s = (async_stream *)(void *)((char *)self - offsetof(async_stream, rio.waiter));
    (void)t;
    if (s->rio.task == NULL)
        return;
    ev_io_stop(EV_OF_LOOP(L)->ev, &s->rio.w);
    EV_OF_LOOP(L)->waits--;
    s->rio.task = NULL;
    s->rdst = NULL;
    s->flags &= (uint8_t)~S_ARMED;
}

/* Set the read watcher up for `events` (the first read, or after a TLS
 * handshake's async_io_wait, a layer's change of mind, a stop).      */
static S_OUT_OF_LINE int rio_arm(async_loop *L, async_stream *s, int events)
{
    async_ev *E = async_ev_of(L);
    async_io *io = &s->rio;

    if (E == NULL)
        return ASYNC_EINVAL;
    if (io->task != NULL)
        return ASYNC_EBUSY;
    if (ev_is_active(&io->w))
        ev_io_stop(E->ev, &io->w);
    ev_io_init(&io->w, s->layer ? rio_layer : rio_ready, s->fd, events);
    io->waiter.detach = rio_detach;
    io->keep = 1; /* the next read usually follows at once */
    io->L = L;
    ev_io_start(E->ev, &io->w);
    if (events == EV_READ && s->layer == NULL)
        s->flags |= S_ARMED;
    return 0;
}

/* Park the current task (known: read_enter checked) until the fd is
 * readable; a plain stream's bytes will go to dst[0..len).  On a kept
 * watcher, the usual case, this is a few stores.                       */
static int read_park(async_loop *L, async_stream *s, unsigned char *dst, size_t len)
{
    async_io *io = &s->rio;
    async_task *self = L->current;
    int events = s->layer ? s->rwant : EV_READ, rc;

    if (io->w.cb != (s->layer ? rio_layer : rio_ready) || !ev_is_active(&io->w) ||
        (io->w.events & (EV_READ | EV_WRITE)) != events) {
        if ((rc = rio_arm(L, s, events)) < 0)
            return rc;
    }
    io->task = self;
    io->L = L;
    s->reader = self;
    s->rdst = s->layer ? NULL : dst;
    s->rdst_len = INT_CLAMP(len);
    s->flags &= (uint8_t)~S_DELIVERED;
    EV_OF_LOOP(L)->waits++;
    return async__park_current(L, self, &io->waiter);
}

/* async_stream_read past its fast paths: go is read_enter's answer.    */
static S_OUT_OF_LINE int read_rest(async_loop *L, async_stream *s, void *buf, size_t len, int go,
                                   int rc)
{
    if (go == R_RETURN || go == R_DELIVERED)
        return rc;
    if (go == R_FIRST) {
        if (buf == NULL || len == 0)
            return ASYNC_EINVAL;
        s->rdone = 0; /* an earlier read_exactly's count is stale now */
    }
    if (s->rlen > s->rpos)
        return (int)take_buffered(s, buf, INT_CLAMP(len));
    if (s->flags & S_EOF)
        return ASYNC_EOF;
    if (!(s->flags & S_DRAINED)) {
        rc = sys_read(s, buf, len);
        if (rc != ASYNC_EAGAIN)
            return rc;
    }
    return read_park(L, s, (unsigned char *)buf, len);
}

/* async_stream_read (inline, src/async_ev.h) resumed with a wake result
 * that is not a delivered read: an interruption, a layer's readiness.  */
int async__stream_read_woken(async_loop *L, async_stream *s, void *buf, size_t len, int rc)
{
    if (s == NULL)
        return ASYNC_EINVAL;
    return read_rest(L, s, buf, len, read_woken(s, rc), rc);
}

/* The first call past its fast path (out of line: the fast path's
 * flags test then needs no copy of the flags kept for this one).      */
static S_OUT_OF_LINE int read_first_rest(async_loop *L, async_stream *s, void *buf, size_t len)
{
    int rc = 0, go = read_first(L, s, &rc); /* before rc is read */
    return read_rest(L, s, buf, len, go, rc);
}

/* async_stream_read's first call (self: the current task, which the
 * inline part found; last, so that the other arguments stay in
 * read_rest's registers).  The usual one on a socket first, kept small
 * (the rest is out of line): parking on a drained socket (read_first's
 * tests folded into one flags test; a length up to INT_MAX needs no
 * clamp).                                                              */
int async__stream_read_first(async_loop *L, async_stream *s, void *buf, size_t len,
                             async_task *self)
{
    /* (nothing buffered, no reader, no layer: one test of the three
     * fields or'ed, which the compiler will not load ahead by itself) */
    if (s != NULL && (s->flags & S_PARK_MASK) == S_PARK_FAST &&
        (s->rlen | (uintptr_t)s->reader | (uintptr_t)s->layer) == 0 && buf != NULL &&
        len - 1 < (size_t)INT_MAX) {
        s->rdone = 0;
        s->rio.task = self;
        s->reader = self;
        s->rdst = (unsigned char *)buf;
        s->rdst_len = len;
        EV_OF_LOOP(L)->waits++;
        return async__park_current(L, self, &s->rio.waiter);
    }
    return read_first_rest(L, s, buf, len);
}

/* async_stream_read called outside a task (the inline part found no
 * current task): read_first's answer, ASYNC_EINVAL, ASYNC_ECLOSED or
 * ASYNC_EPERM.                                                         */
int async__stream_read_no_task(async_loop *L, async_stream *s)
{
    int rc = ASYNC_EPERM;
    (void)read_first(L, s, &rc);
    return rc;
}

int async_stream_read_exactly(async_loop *L, async_stream *s, void *buf, size_t len)
{
    unsigned char *p = (unsigned char *)buf;
    int rc, go = read_enter(L, s, &rc);

    if (go == R_RETURN)
        return rc;
    if (go == R_DELIVERED) {
        if (rc > 0)
            s->rdone += (size_t)rc;
        else if (rc != ASYNC_EOF) /* S_EOF is set: the loop reports it */
            return rc;
    } else if (go == R_FIRST) {
        if (buf == NULL || len > (size_t)INT_MAX)
            return ASYNC_EINVAL;
        s->rdone = 0;
        if (len == 0)
            return 0;
    }
    if (s->rlen > s->rpos)
        s->rdone += take_buffered(s, p + s->rdone, len - s->rdone);
    while (s->rdone < len) {
        if (s->flags & S_EOF)
            return ASYNC_EOF;
        if (s->flags & S_DRAINED)
            return read_park(L, s, p + s->rdone, len - s->rdone);
        rc = sys_read(s, p + s->rdone, len - s->rdone);
        if (rc == ASYNC_EAGAIN)
            return read_park(L, s, p + s->rdone, len - s->rdone);
        if (rc < 0 && rc != ASYNC_EOF)
            return rc;
        if (rc > 0)
            s->rdone += (size_t)rc;
    }
    /* Done: partial() is 0 again, so a later call that never starts (its
     * deadline had passed) does not report these bytes as its own. */
    s->rdone = 0;
    return (int)len;
}

/* First occurrence of d[0..dlen) in h[from..to), or (size_t)-1.  memchr
 * finds each candidate first byte (word-at-a-time in libc), and only a
 * candidate is compared in full: for a one-byte delimiter this is one
 * memchr call, for "\r\n\r\n" one per line end.                       */
static size_t find(const unsigned char *h, size_t from, size_t to, const unsigned char *d,
                   size_t dlen)
{
    const unsigned char *p = h + from, *last;

    if (to < dlen || from > to - dlen)
        return (size_t)-1;
    last = h + (to - dlen); /* the last place a match can start */
    while ((p = (const unsigned char *)memchr(p, d[0], (size_t)(last - p) + 1)) != NULL) {
        /* The second byte inline: most delimiters are one or two bytes. */
        if (dlen == 1 || (p[1] == d[1] && (dlen == 2 || memcmp(p + 2, d + 2, dlen - 2) == 0)))
            return (size_t)(p - h);
        if (p == last)
            break;
        p++;
    }
    return (size_t)-1;
}

int async_stream_read_until(async_loop *L, async_stream *s, const void *delim, size_t dlen,
                            void *buf, size_t cap)
{
    const unsigned char *d = (const unsigned char *)delim;
    size_t limit, end, at, from;
    int rc, go = read_enter(L, s, &rc);

    if (go == R_RETURN)
        return rc;
    if (go == R_FIRST) {
        if (delim == NULL || dlen == 0 || buf == NULL || cap == 0 || s->rbuf == NULL)
            return ASYNC_EINVAL;
        s->rdone = 0;
        from = s->rpos; /* a new search (maybe for another delimiter) */
    } else {
        if (go == R_DELIVERED) { /* into the stream's buffer */
            if (s->flags & S_CLOSED)
                return ASYNC_ECLOSED; /* closed since: the buffer was dropped */
            if (rc > 0)
                s->rlen += (size_t)rc;
            else if (rc != ASYNC_EOF) /* S_EOF is set: the loop reports it */
                return rc;
        }
        from = s->scan > s->rpos ? s->scan : s->rpos; /* where the parked search stopped */
    }
    limit = cap < s->rcap ? cap : s->rcap;
    limit = INT_CLAMP(limit);
    for (;;) {
        /* Search what is buffered, within the limit, from where the last
         * search stopped (minus a partial delimiter).  s->scan is only
         * kept while parked: the search resumes there. */
        end = s->rlen - s->rpos > limit ? s->rpos + limit : s->rlen;
        at = find(s->rbuf, from, end, d, dlen);
        if (at != (size_t)-1)
            return (int)take_buffered(s, buf, at + dlen - s->rpos);
        if (s->rlen - s->rpos >= limit)
            return ASYNC_ETOOLONG;
        if (s->flags & S_EOF)
            return ASYNC_EOF;
        from = end >= dlen ? end - (dlen - 1) : 0;
        if (s->rpos > 0) { /* compact */
            memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
            s->rlen -= s->rpos;
            from = from > s->rpos ? from - s->rpos : 0;
            s->rpos = 0;
        }
        if (s->flags & S_DRAINED) {
            s->scan = from;
            return read_park(L, s, s->rbuf + s->rlen, s->rcap - s->rlen);
        }
        rc = sys_read(s, s->rbuf + s->rlen, s->rcap - s->rlen);
        if (rc == ASYNC_EAGAIN) {
            s->scan = from;
            return read_park(L, s, s->rbuf + s->rlen, s->rcap - s->rlen);
        }
        if (rc < 0 && rc != ASYNC_EOF)
            return rc;
        if (rc > 0)
            s->rlen += (size_t)rc;
    }
}

/* One write through the stream's layer: n > 0, ASYNC_EAGAIN (s->wwant
 * says for what), or an error.                                        */
static S_OUT_OF_LINE int layer_write(async_stream *s, const void *buf, size_t len)
{
    int ev = EV_WRITE, rc = s->layer->ops->write(s->layer, buf, len, &ev);
    if (rc == ASYNC_EAGAIN)
        s->wwant = (uint8_t)ev;
    return rc;
}

static int write_park(async_loop *L, async_stream *s, int events)
{
    int rc = async_io_wait(L, &s->wio, s->fd, events);
    if (rc == ASYNC_PENDING)
        s->writer = async_current(L);
    return rc;
}

/* async_stream_write past its fast path.  how: W_FIRST (nothing checked
 * yet), W_WOKEN (rc: the wake result), W_SENT (checked, and one send()
 * of it all returned n, which was not len).                            */
enum { W_FIRST, W_WOKEN, W_SENT };
static S_OUT_OF_LINE int write_rest(async_loop *L, async_stream *s, const void *buf, size_t len,
                                    int how, ssize_t n)
{
    const unsigned char *p = (const unsigned char *)buf;
    int rc;

    if (how == W_WOKEN) {
        s->writer = NULL;
        if (n < 0)
            return (int)n;
    } else if (how == W_SENT) {
        /* first the progress (an earlier, interrupted write's count must
         * not survive into this one), then: would block, or the loop
         * sees EINTR, an error or 0 again */
        s->wdone = n > 0 ? (size_t)n : 0;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return write_park(L, s, EV_WRITE);
    } else {
        if (s == NULL || !(s->flags & S_OPEN) || (buf == NULL && len) || len > (size_t)INT_MAX)
            return ASYNC_EINVAL;
        if (s->flags & S_CLOSED)
            return ASYNC_ECLOSED;
        if (async_current(L) == NULL)
            return ASYNC_EPERM;
        if (s->writer)
            return ASYNC_EBUSY;
        s->wdone = 0;
    }
    while (s->wdone < len) {
        if (s->layer) {
            rc = layer_write(s, p + s->wdone, len - s->wdone);
            if (rc > 0) {
                s->wdone += (size_t)rc;
                continue;
            }
            return rc == ASYNC_EAGAIN ? write_park(L, s, s->wwant) : rc;
        }
        if (s->flags & S_SOCK)
            n = send(s->fd, p + s->wdone, len - s->wdone, MSG_NOSIGNAL);
        else
            n = write(s->fd, p + s->wdone, len - s->wdone);
        if (n > 0) {
            s->wdone += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return write_park(L, s, EV_WRITE);
        } else {
            return n < 0 ? async_errno(errno) : ASYNC_EPIPE;
        }
    }
    /* Done: written() is 0 again, so a later call that never starts (its
     * deadline had passed) does not report these bytes as its own. */
    s->wdone = 0;
    return (int)len;
}

/* async_stream_write (inline, src/async_ev.h): the usual call, by a
 * task, to a plain socket with room: every check of write_rest's first
 * call in one flags test and a few more, then send(2) as the last call
 * (no frame: the caller keeps the arguments for write_rest).  Returns
 * what send returned, or -2 or -3 (send never does; never len, so that
 * the caller's test for a complete write cannot take it for one) when
 * the write is not that case and takes the long way.  The caller found
 * the current task (only a task calls this), and the arguments are in
 * send's own places but the first: the stream, whose fd replaces it.  */
ssize_t async__stream_send(async_stream *s, const void *buf, size_t len)
{
    if (s == NULL || (s->flags & (S_OPEN | S_CLOSED | S_SOCK)) != (S_OPEN | S_SOCK) ||
        ((uintptr_t)s->layer | (uintptr_t)s->writer) != 0 || buf == NULL ||
        len - 1 >= (size_t)INT_MAX)
        return (ssize_t)len == -2 ? -3 : -2; /* never len itself */
    s->wdone = 0; /* written(): 0 after a write that completed */
    return send(s->fd, buf, len, MSG_NOSIGNAL);
}

/* After async__stream_send: n is send's result (errno still its), or
 * less than -1: not sent.                                              */
int async__stream_write_rest(async_loop *L, async_stream *s, const void *buf, size_t len,
                             ssize_t n)
{
    if (n < -1)
        return write_rest(L, s, buf, len, W_FIRST, 0);
    return write_rest(L, s, buf, len, W_SENT, n);
}

/* async_stream_write resumed with the wake result rc. */
int async__stream_write_woken(async_loop *L, async_stream *s, const void *buf, size_t len, int rc)
{
    return write_rest(L, s, buf, len, W_WOKEN, rc);
}

/* One step of async_stream_sendfile without sendfile(2) (a layer, a
 * stream that is not a socket, a file the kernel will not send): pread a
 * piece and write what the stream takes.  What was not taken is read
 * again on the next step, so nothing is held between steps.  Through a
 * layer the piece goes via the caller's scratch buffer: a retried TLS
 * write must present the same buffer, and the same range read again into
 * the same scratch is exactly that.  n > 0, ASYNC_EOF, ASYNC_EAGAIN, or
 * an error.                                                             */
static ssize_t copy_file_piece(async_stream *s, int fd, off_t off, size_t len, void *scratch,
                               size_t scap)
{
    unsigned char tmp[16384], *buf = tmp;
    size_t cap = sizeof tmp;
    ssize_t r, n;

    if (s->layer) {
        if (scratch == NULL || scap == 0)
            return ASYNC_EINVAL;
        buf = (unsigned char *)scratch;
        cap = scap;
    }
    if (len > cap)
        len = cap;
    do {
        r = pread(fd, buf, len, off);
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return r == 0 ? ASYNC_EOF : async_errno(errno);
    if (s->layer)
        return layer_write(s, buf, (size_t)r);
    do {
        n = (s->flags & S_SOCK) ? send(s->fd, buf, (size_t)r, MSG_NOSIGNAL)
                                : write(s->fd, buf, (size_t)r);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? ASYNC_EAGAIN : async_errno(errno);
    return n;
}

/* One step of the head part: n > 0, ASYNC_EAGAIN, or an error.  On a
 * socket the head is sent with MSG_MORE when a file part follows, so
 * that the kernel puts both in the same segments.                       */
static ssize_t send_head_piece(async_stream *s, const unsigned char *p, size_t n, bool more)
{
    ssize_t r;
    if (s->layer)
        return layer_write(s, p, n);
    do {
        r = (s->flags & S_SOCK) ? send(s->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0))
                                : write(s->fd, p, n);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? ASYNC_EAGAIN : async_errno(errno);
    return r > 0 ? r : ASYNC_EPIPE;
}

/* One step of the file part. */
static ssize_t send_file_piece(async_stream *s, int fd, off_t off, size_t len, void *scratch,
                               size_t scap)
{
    ssize_t n;
    if (s->layer || !(s->flags & S_SOCK))
        return copy_file_piece(s, fd, off, len, scratch, scap);
    do {
        n = sendfile(s->fd, fd, &off, len);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    if (n == 0)
        return ASYNC_EOF; /* the file is shorter than promised */
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return ASYNC_EAGAIN;
    if (errno == EINVAL || errno == ENOSYS) /* this file cannot be sent so */
        return copy_file_piece(s, fd, off, len, scratch, scap);
    return async_errno(errno);
}

/* async_stream_sendfile past its fast path: how is W_FIRST, W_WOKEN (rc
 * the wake result) or W_SENT (checked; s->wdone says how far the fast
 * path's two calls got).                                               */
static S_OUT_OF_LINE int sendfile_rest(async_loop *L, async_stream *s, const void *head, size_t hlen,
                                       int fd, off_t offset, size_t len, void *scratch, size_t scap,
                                       int how, int rc)
{
    ssize_t n;

    if (how == W_WOKEN) {
        s->writer = NULL;
        if (rc < 0)
            return rc;
    } else if (how == W_FIRST) {
        if (s == NULL || !(s->flags & S_OPEN) || (head == NULL && hlen) || (fd < 0 && len) ||
            offset < 0 || len > (size_t)INT_MAX || hlen > (size_t)INT_MAX - len ||
            (scratch == NULL && scap))
            return ASYNC_EINVAL;
        if (s->flags & S_CLOSED)
            return ASYNC_ECLOSED;
        if (async_current(L) == NULL)
            return ASYNC_EPERM;
        if (s->writer)
            return ASYNC_EBUSY;
        s->wdone = 0;
    }
    while (s->wdone < hlen + len) {
        if (s->wdone < hlen)
            n = send_head_piece(s, (const unsigned char *)head + s->wdone, hlen - s->wdone,
                                len != 0);
        else
            n = send_file_piece(s, fd, offset + (off_t)(s->wdone - hlen), hlen + len - s->wdone,
                                scratch, scap);
        if (n > 0)
            s->wdone += (size_t)n;
        else if (n == ASYNC_EAGAIN)
            return write_park(L, s, s->layer ? s->wwant : EV_WRITE);
        else
            return (int)n;
    }
    return (int)(hlen + len);
}

int async_stream_sendfile(async_loop *L, async_stream *s, const void *head, size_t hlen, int fd,
                          off_t offset, size_t len, void *scratch, size_t scap)
{
    ssize_t n;
    off_t off = offset;
    int rc;

    if (async_woken(L, &rc))
        return sendfile_rest(L, s, head, hlen, fd, offset, len, scratch, scap, W_WOKEN, rc);
    /* The usual answer - a head and a file to a plain socket with room -
     * in one send(MSG_MORE) and one sendfile(), after one flags test.  */
    if (s != NULL && (s->flags & (S_OPEN | S_CLOSED | S_SOCK)) == (S_OPEN | S_SOCK) &&
        s->layer == NULL && s->writer == NULL && async_current(L) != NULL && head != NULL && hlen &&
        fd >= 0 && len && offset >= 0 && len <= (size_t)INT_MAX && hlen <= (size_t)INT_MAX - len &&
        (scratch != NULL || !scap)) {
        s->wdone = 0;
        n = send(s->fd, head, hlen, MSG_NOSIGNAL | MSG_MORE);
        if (n == (ssize_t)hlen) {
            n = sendfile(s->fd, fd, &off, len);
            if (n == (ssize_t)len)
                return (int)(hlen + len);
            s->wdone = hlen + (n > 0 ? (size_t)n : 0);
        } else if (n > 0) {
            s->wdone = (size_t)n;
        } /* else: the loop tries again and parks, retries or reports */
        return sendfile_rest(L, s, head, hlen, fd, offset, len, scratch, scap, W_SENT, 0);
    }
    return sendfile_rest(L, s, head, hlen, fd, offset, len, scratch, scap, W_FIRST, 0);
}

int async_stream_drain(async_loop *L, async_stream *s)
{
    (void)L;
    if (s == NULL || !(s->flags & S_OPEN))
        return ASYNC_EINVAL;
    return (s->flags & S_CLOSED) ? ASYNC_ECLOSED : 0;
}

int async_stream_shutdown(async_stream *s)
{
    if (s == NULL || !(s->flags & S_OPEN))
        return ASYNC_EINVAL;
    if (s->flags & S_CLOSED)
        return ASYNC_ECLOSED;
    if (s->layer) { /* TLS: close_notify first */
        int rc = s->layer->ops->shutdown(s->layer);
        if (rc < 0)
            return rc;
    }
    if (shutdown(s->fd, SHUT_WR) < 0)
        return async_errno(errno);
    return 0;
}

int async_stream_close(async_loop *L, async_stream *s)
{
    async_ev *E = async_ev_of(L);
    async_task *r, *w;

    if (s == NULL || !(s->flags & S_OPEN))
        return ASYNC_EINVAL;
    if (s->flags & S_CLOSED)
        return ASYNC_ECLOSED;
    /* A waiting task or an armed watcher needs the stream's own loop to
     * let go of the fd: refuse another (or none) before changing anything,
     * so that the right call can still close it. */
    if ((s->reader || s->writer || ev_is_active(&s->rio.w) || ev_is_active(&s->wio.w)) &&
        E == NULL)
        return ASYNC_EINVAL;
    s->flags |= S_CLOSED;
    r = s->reader;
    w = s->writer;
    s->reader = s->writer = NULL;
    if (r)
        async_wake(L, r, ASYNC_ECLOSED); /* stops its watcher */
    if (w)
        async_wake(L, w, ASYNC_ECLOSED);
    if (E) { /* watchers must be gone before the fd number can be reused */
        async_io_stop(L, &s->rio);
        async_io_stop(L, &s->wio);
    }
    if (s->layer)
        s->layer->ops->close(s->layer); /* needs the fd: before close */
    close(s->fd);
    s->fd = -1;
    s->rpos = s->rlen = s->scan = 0;
    return 0;
}

/* ---- connect ---- */

static int new_socket(int family, int type)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? async_errno(errno) : fd;
}

/* connect(2) on s's fresh socket: 0 (connected), ASYNC_PENDING (in
 * progress, or waiting to try again), or an error (the socket is closed). */
static int connect_try(async_loop *L, async_stream *s, const async_addr *a)
{
    int rc;
    s->flags &= (uint8_t)~S_RETRY;
    if (connect(s->fd, (const struct sockaddr *)&a->sa, a->len) == 0)
        return 0;
    if (errno == EAGAIN && a->sa.ss_family == AF_UNIX) {
        /* The listener's backlog is full.  Unlike TCP nothing is in
         * progress: the socket polls writable at once and reports no
         * error, yet it is not connected.  Try again a little later,
         * unless a deadline or a cancel came while the task was queued:
         * the core delivers those to an op parked on its source again,
         * not to one that starts a sleep. */
        s->flags |= S_RETRY;
        if ((rc = async__interrupt_code(L)) == 0)
            rc = async_sleep(L, ASYNC_MS(10));
    } else if (errno == EINPROGRESS || errno == EINTR || errno == EAGAIN) {
        rc = async_io_wait(L, &s->wio, s->fd, EV_WRITE);
    } else {
        rc = async_errno(errno);
    }
    if (rc == ASYNC_PENDING) {
        s->writer = async_current(L);
        return rc;
    }
    close(s->fd); /* failed, or interrupted before it could wait */
    s->fd = -1;
    s->flags = 0;
    return rc;
}

int async_stream_connect(async_loop *L, async_stream *s, const async_addr *a, void *rbuf,
                         size_t rcap)
{
    int rc, fd, err;
    socklen_t el = sizeof err;

    if (async_woken(L, &rc)) {
        s->writer = NULL;
        if (rc >= 0 && (s->flags & S_RETRY))
            return connect_try(L, s, a); /* the pause is over */
        if (rc >= 0) {
            if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                err = errno;
            if (err == 0)
                return 0;
            rc = async_errno(err);
        }
        close(s->fd); /* failed or interrupted: drop the half-open socket */
        s->fd = -1;
        s->flags = 0;
        return rc;
    }
    if (s == NULL || a == NULL || a->len == 0 || (rbuf == NULL && rcap))
        return ASYNC_EINVAL;
    if (async_current(L) == NULL || async_ev_of(L) == NULL)
        return ASYNC_EPERM;
    if ((fd = new_socket(a->sa.ss_family, SOCK_STREAM)) < 0)
        return fd;
    if ((rc = async_stream_init(s, fd, rbuf, rcap)) < 0) {
        close(fd);
        return rc;
    }
    set_nodelay(fd, a->sa.ss_family);
    return connect_try(L, s, a);
}

/* ---- accept and servers ---- */

int async_accept(async_loop *L, async_io *io, int lfd, async_addr *peer)
{
    async_addr tmp;
    int rc, fd;

    if (L == NULL || io == NULL)
        return ASYNC_EINVAL;
    if (async_woken(L, &rc) && rc < 0)
        return rc; /* a close wakes it: lfd may be -1 now */
    if (lfd < 0)
        return ASYNC_EINVAL;
    for (;;) { /* *peer is written only on success */
        tmp.len = sizeof tmp.sa;
        fd = accept4(lfd, (struct sockaddr *)&tmp.sa, &tmp.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            set_nodelay(fd, tmp.sa.ss_family);
            if (peer)
                *peer = tmp;
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return async_io_wait(L, io, lfd, EV_READ);
        return async_errno(errno);
    }
}

/* Bound and listening, and not closed since.  A zeroed server has no
 * address yet (fd 0 is not its socket); listen fills one in.            */
static bool server_is_listening(const async_server *srv)
{
    return srv->addr.len != 0 && srv->fd >= 0 && !srv->closed;
}

int async_server_listen(async_server *srv, const async_addr *a, int backlog)
{
    return async_server_listen_flags(srv, a, backlog, 0);
}

int async_server_listen_flags(async_server *srv, const async_addr *a, int backlog,
                              unsigned flags)
{
    int fd, one = 1, rc;
    struct stat st;

    if (srv == NULL || a == NULL || a->len == 0 || (flags & ~ASYNC_LISTEN_REUSEPORT) ||
        ((flags & ASYNC_LISTEN_REUSEPORT) && a->sa.ss_family == AF_UNIX))
        return ASYNC_EINVAL;
    if ((async_task_state(&srv->task) != ASYNC_TASK_IDLE &&
         async_task_state(&srv->task) != ASYNC_TASK_DONE) ||
        server_is_listening(srv))
        return ASYNC_EBUSY; /* listening or serving: close it first */
    /* Closed, but handlers of its last start still run: they give their
     * frames back to srv when they end, so it cannot be reset under them. */
    if (srv->active != 0)
        return ASYNC_EBUSY;
    memset(srv, 0, sizeof *srv);
    srv->fd = -1;
    if ((fd = new_socket(a->sa.ss_family, SOCK_STREAM)) < 0)
        return fd;
    if (a->sa.ss_family == AF_UNIX) {
        const char *path = ((const struct sockaddr_un *)(const void *)&a->sa)->sun_path;
        if (path[0] && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path); /* a stale socket from an earlier run */
    } else {
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if ((flags & ASYNC_LISTEN_REUSEPORT) &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            rc = async_errno(errno);
            close(fd);
            return rc;
        }
    }
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        rc = async_errno(errno);
        close(fd);
        return rc;
    }
    srv->addr.len = sizeof srv->addr.sa;
    if (getsockname(fd, (struct sockaddr *)&srv->addr.sa, &srv->addr.len) < 0)
        srv->addr = *a;
    srv->fd = fd;
    return 0;
}

static async_conn *conn_at(async_server *srv, unsigned i)
{
    return (async_conn *)(void *)(srv->pool + (size_t)i * srv->stride + srv->offset);
}

/* When a connection's handler has ended: close the stream and give the
 * frame back to the pool.                                              */
static S_OUT_OF_LINE int conn_done(async_loop *L, async_conn *c, int rc);

#if ASYNC_CONF_EXTRAS
/* The handler is the connection task's own fn, and the server learns of
 * its end from the task's done callback: no wrapper around every step
 * (a call and 14 instructions an echoed message).                     */
static void conn_on_done(async_loop *L, async_handle *h)
{
    async_conn *c = (async_conn *)(void *)((char *)h - offsetof(async_conn, done));
    (void)conn_done(L, c, 0);
}

static int conn_spawn(async_loop *L, async_server *srv, async_conn *c)
{
    int rc = async_spawn(L, &c->task, srv->handler);
    /* (the slot is free: nobody could join a task spawned just now) */
    return rc < 0 ? rc : async_task_on_done(L, &c->task, &c->done, conn_on_done);
}
#else
/* Without done callbacks: the task fn runs the handler and, when it
 * ends, finishes the connection.  Small: it runs around every step of
 * every handler (the end's work is out of line, so that only L and self
 * live across the call).                                               */
static int conn_main(async_loop *L, async_task *self)
{
    int rc = ((async_conn *)(void *)self)->server->handler(L, self); /* task first */
    return rc == ASYNC_PENDING ? rc : conn_done(L, (async_conn *)(void *)self, rc);
}

static int conn_spawn(async_loop *L, async_server *srv, async_conn *c)
{
    (void)srv;
    return async_spawn(L, &c->task, conn_main);
}
#endif

static S_OUT_OF_LINE int conn_done(async_loop *L, async_conn *c, int rc)
{
    async_server *srv = c->server;

    if (!async_stream_is_closed(&c->stream))
        async_stream_close(L, &c->stream);
    c->next_free = srv->free;
    srv->free = c;
    srv->active--;
    async_sem_release(L, &srv->slots);
    return rc;
}

/* The frame the next connection gets: a given-back one first (warm in
 * the cache), else the next never-used one.  NULL when none is left. */
static async_conn *server_next_frame(async_server *srv)
{
    return srv->free ? srv->free : srv->fresh < srv->count ? conn_at(srv, srv->fresh) : NULL;
}

/* Take c (server_next_frame's answer) out of the pool.  False if it is a
 * fresh frame whose task is busy: it is skipped for good.             */
static bool server_take_frame(async_server *srv, async_conn *c)
{
    if (c == srv->free) {
        srv->free = c->next_free;
        return true;
    }
    srv->fresh++;
    if (async_task_state(&c->task) != ASYNC_TASK_IDLE &&
        async_task_state(&c->task) != ASYNC_TASK_DONE) {
        srv->last_error = ASYNC_EBUSY;
        return false;
    }
#if ASYNC_CONF_EXTRAS
    memset(&c->done, 0, sizeof c->done); /* an idle handle, whatever the pool held */
#endif
    return true;
}

static int server_main(async_loop *L, async_task *self)
{
    async_server *srv = (async_server *)(void *)self;
    async_conn *c;
    int fd;

    async_begin(L, &srv->co);
    for (;;) {
        async_await(async_sem_acquire(L, &srv->slots));
        /* The next frame is re-read on each resume (handlers may give
         * frames back meanwhile); the accept that succeeds fills its peer.
         * A permit guarantees a frame, but one skipped as busy loses
         * its permit, so none is missing here. */
        async_await_rc(fd, async_accept(L, &srv->io, srv->fd, &server_next_frame(srv)->peer));
        if (fd < 0) {
            async_sem_release(L, &srv->slots);
            if (fd == ASYNC_ECANCELED || fd == ASYNC_ECLOSED || fd == ASYNC_EINVAL)
                async_return(fd);
            /* Out of fds or memory: the listening socket stays readable,
             * so retrying at once would spin.  Back off and retry. */
            srv->last_error = fd;
            async_await(async_sleep(L, ASYNC_MS(100)));
            continue;
        }
        c = server_next_frame(srv);
        if (!server_take_frame(srv, c)) {
            close(fd); /* its permit stays taken: the frame is lost */
            continue;
        }
        if (async_stream_init(&c->stream, fd, NULL, 0) < 0) {
            close(fd);
            c->next_free = srv->free;
            srv->free = c;
            async_sem_release(L, &srv->slots);
            continue;
        }
        c->server = srv;
        srv->active++;
        srv->accepted++;
        (void)conn_spawn(L, srv, c); /* cannot fail: the frame is idle or done */
        /* Let the new handler and everyone else run between accepts. */
        if ((srv->accepted & 31u) == 0)
            async_await(async_yield());
    }
    async_end;
}

int async_server_start(async_loop *L, async_server *srv, async_task_fn handler, void *pool,
                       size_t stride, size_t conn_offset, unsigned count)
{
    if (L == NULL || srv == NULL || handler == NULL || pool == NULL || count == 0 ||
        stride < sizeof(async_conn) || conn_offset > stride - sizeof(async_conn) ||
        async_ev_of(L) == NULL || srv->addr.len == 0) /* never listened */
        return ASYNC_EINVAL;
    if (!server_is_listening(srv))
        return ASYNC_ECLOSED;
    if (async_task_state(&srv->task) != ASYNC_TASK_IDLE &&
        async_task_state(&srv->task) != ASYNC_TASK_DONE)
        return ASYNC_EBUSY;
    /* (Handlers of an earlier start: listen refuses while they run, so a
     * server that listens again has none.) */
    srv->handler = handler;
    srv->pool = (unsigned char *)pool;
    srv->stride = stride;
    srv->offset = conn_offset;
    srv->count = count;
    srv->free = NULL;
    srv->fresh = 0;
    async_sem_init(&srv->slots, count, count);
    memset(&srv->co, 0, sizeof srv->co);
    return async_spawn(L, &srv->task, server_main);
}

void async_server_close(async_loop *L, async_server *srv)
{
    if (L == NULL || srv == NULL || srv->closed)
        return;
    srv->closed = 1;
    if (async_task_state(&srv->task) != ASYNC_TASK_IDLE)
        async_cancel(L, &srv->task); /* detaches it from the fd at once */
    if (srv->fd >= 0) {
        async_ev *E = async_ev_of(L);
        if (E)
            ev_io_stop(E->ev, &srv->io.w);
        close(srv->fd);
        srv->fd = -1;
    }
    if (srv->addr.sa.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)(void *)&srv->addr.sa)->sun_path);
}

unsigned async_server_active_count(const async_server *srv)
{
    return srv ? srv->active : 0;
}

/* ---- UDP ---- */

int async_udp_open(async_udp *u, int family, const async_addr *bind_to)
{
    int fd, rc;
    if (u == NULL || (family != AF_INET && family != AF_INET6) ||
        (bind_to && bind_to->sa.ss_family != family))
        return ASYNC_EINVAL;
    memset(u, 0, sizeof *u);
    u->fd = -1;
    if ((fd = new_socket(family, SOCK_DGRAM)) < 0)
        return fd;
    if (bind_to && bind(fd, (const struct sockaddr *)&bind_to->sa, bind_to->len) < 0) {
        rc = async_errno(errno);
        close(fd);
        return rc;
    }
    u->fd = fd;
    return 0;
}

int async_udp_send(async_loop *L, async_udp *u, const void *buf, size_t len, const async_addr *to)
{
    ssize_t n;
    int rc;

    if (L == NULL || u == NULL || (buf == NULL && len) || len > (size_t)INT_MAX)
        return ASYNC_EINVAL;
    if (async_woken(L, &rc) && rc < 0)
        return rc;
    if (u->fd < 0)
        return ASYNC_ECLOSED;
    for (;;) {
        n = sendto(u->fd, buf, len, MSG_NOSIGNAL, to ? (const struct sockaddr *)&to->sa : NULL,
                   to ? to->len : 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return async_io_wait(L, &u->wio, u->fd, EV_WRITE);
        return errno == EMSGSIZE ? ASYNC_ETOOLONG : async_errno(errno);
    }
}

int async_udp_recv(async_loop *L, async_udp *u, void *buf, size_t len, async_addr *from)
{
    async_addr tmp;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    int rc;

    if (L == NULL || u == NULL || buf == NULL || len == 0)
        return ASYNC_EINVAL;
    if (async_woken(L, &rc) && rc < 0)
        return rc;
    if (u->fd < 0)
        return ASYNC_ECLOSED;
    if (from == NULL)
        from = &tmp;
    iov.iov_base = buf;
    iov.iov_len = INT_CLAMP(len);
    for (;;) {
        memset(&msg, 0, sizeof msg);
        msg.msg_name = &from->sa;
        msg.msg_namelen = sizeof from->sa;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        n = recvmsg(u->fd, &msg, 0);
        from->len = msg.msg_namelen;
        if (n >= 0) /* MSG_TRUNC: the datagram did not fit, its tail is gone */
            return (msg.msg_flags & MSG_TRUNC) ? ASYNC_ETOOLONG : (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return async_io_wait(L, &u->rio, u->fd, EV_READ);
        return async_errno(errno);
    }
}

int async_udp_close(async_loop *L, async_udp *u)
{
    if (L == NULL || u == NULL)
        return ASYNC_EINVAL;
    if (u->fd < 0)
        return ASYNC_ECLOSED;
    if (u->rio.task)
        async_wake(L, u->rio.task, ASYNC_ECLOSED);
    if (u->wio.task)
        async_wake(L, u->wio.task, ASYNC_ECLOSED);
    close(u->fd);
    u->fd = -1;
    return 0;
}
