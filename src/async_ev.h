/* SPDX-License-Identifier: MIT */
/*
 * async_ev.h - the libev runtime for async.h: an event-loop driver, fd
 * awaitables, TCP/UDP/Unix streams, signals, worker-thread offload and
 * name resolution.  POSIX only; firmware never sees this header.
 *
 * Everything is caller-owned and nothing here allocates (libev itself
 * allocates in ev_loop_new and when its fd tables grow; libc allocates
 * inside getaddrinfo and pthread_create).
 *
 * Contracts common to every call:
 *   - "op" marks an awaitable: call it inside async_await*() from a task.
 *     It is called again on each resume with the same arguments.
 *   - Results are >= 0 on success or a negative ASYNC_E* code.  OS errors
 *     without a dedicated code are ASYNC_EOS(errno).  EINTR and EAGAIN
 *     never reach the caller.
 *   - Timeouts: wrap any op in async_await_for() or a timeout scope; the
 *     op is interrupted cleanly (its watcher stopped, nothing lost).
 *   - The library ABI depends on the ASYNC_CONF_* settings: build this
 *     layer and the program with the same ones.
 */
#ifndef ASYNC_EV_H
#define ASYNC_EV_H

#include "async.h"
#include <ev.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Driver: an async_loop run from inside an ev_loop.
 *
 * Each ev_loop iteration runs one scheduler pass after the iteration's
 * I/O callbacks (embedded: from an ev_check watcher at the lowest
 * priority; under async_ev_run: from the loop's invoke-pending callback,
 * which it sets while it runs); an ev_idle keeps the poll non-blocking
 * while tasks are ready; one ev_timer tracks the earliest deadline; an
 * ev_async carries async_post() from other threads.  A task that yields
 * in a loop therefore shares every iteration with I/O.  The driver's own
 * watchers do not keep the ev_loop alive; what tasks wait on (fds,
 * timers, offloaded calls, a ready task) does.
 * ====================================================================== */
/* A periodic callback of src/'s layers (the HTTP server's sweeper) on
 * the driver's clock: a libev timer on the real clock, a due time on the
 * virtual one.  Private: applications use the core's timers.           */
typedef struct async_ev_timer {
    ev_timer w; /* w.data is the owner's */
    struct async_ev_timer *next;
    async_tick due, period;
    int listed;
} async_ev_timer;

typedef struct async_ev {
    async_port port; /* first: the loop's port */
    async_loop loop;
    struct ev_loop *ev;
    ev_prepare prepare; /* embedding only: both stopped inside async_ev_run */
    ev_check check;
    ev_idle idle;
    ev_timer timer;
    ev_async wakeup;
    async_task *main; /* async_ev_run's main task, or NULL */
    async_tick armed; /* deadline the timer is armed for   */
    unsigned refs;    /* offloaded calls in flight (each holds the loop) */
    unsigned waits;   /* tasks parked on an fd or a signal              */
    int in_idle;      /* inside the port's idle() (core async_run)      */
    int running;      /* inside async_ev_run                            */
    ev_signal sigint; /* async_ev_main: Ctrl-C cancels main (asyncio.run) */
    int sigint_hits;
    int sigint_user;  /* the program watches SIGINT itself: leave it    */
    int attached;
    int vclock;       /* the virtual clock is on (async_ev_clock_virtual) */
    async_tick vnow;  /* its reading                                    */
    ev_idle jump;     /* its autojump: runs only when a poll brought nothing */
    async_ev_timer *vtimers; /* driver timers on the virtual clock      */
    unsigned jump_iter; /* the iteration whose poll last found nothing */
} async_ev;

/* Attach a scheduler to `ev` (an ev_loop the caller owns, e.g.
 * EV_DEFAULT).  From now on the application's own ev_run() also runs the
 * tasks: this is the embedding mode.  0, or ASYNC_EINVAL (NULL).        */
int async_ev_init(async_ev *E, struct ev_loop *ev);
/* Stop the driver's watchers.  Tasks still alive are left as they are
 * (their frames are the caller's); call after they finished.            */
void async_ev_close(async_ev *E);
/* The virtual clock, for tests (Trio's autojump clock): from now on the
 * loop's time is the driver's own count, which starts at the real
 * clock's reading and moves only (1) by async_ev_clock_advance, or (2)
 * by itself, to the next deadline, when no task is ready, two polls in
 * a row without waiting found no I/O, signal or post, and no offloaded
 * call is in flight (a worker's call takes no virtual time: the loop
 * waits for it in real time).  A test of a ten-second timeout then
 * takes no time, and asserts exact times.  Time may jump while a peer
 * outside the loop (a thread, another process) is about to write: such
 * tests keep the real clock.  libev's own timers (the application's
 * ev_timers) stay on the real clock.  Call after async_ev_init, before
 * anything is spawned or armed: 0, ASYNC_EINVAL (NULL, not attached),
 * ASYNC_EBUSY (tasks or timers exist, or the driver runs).  The real
 * clock pays one flag test when a poll is about to block.             */
int async_ev_clock_virtual(async_ev *E);
/* The virtual clock is on.                                              */
bool async_ev_clock_is_virtual(const async_ev *E);
/* Move the virtual clock forward; what falls due runs on the next pass.
 * ASYNC_EINVAL if E has no virtual clock.                               */
int async_ev_clock_advance(async_ev *E, async_tick ticks);
/* Private (src/'s layers): start a periodic driver timer calling cb every
 * `period` on E's clock (it does not keep the loop alive), and stop it. */
void async__ev_timer_start(async_ev *E, async_ev_timer *t, void (*cb)(struct ev_loop *, ev_timer *, int),
                           async_tick period);
void async__ev_timer_stop(async_ev *E, async_ev_timer *t);
/* The scheduler, for async_spawn() and every op.                        */
async_loop *async_ev_loop(async_ev *E);
/* The driver behind a loop, or NULL if L is not driven by async_ev.     */
async_ev *async_ev_of(async_loop *L);
/* asyncio.run: spawn `main` with fn (fn NULL: already spawned) and run
 * the ev_loop until it finishes; then cancel every task still pending and
 * run until their cleanup is over (as the core's async_run).  Returns
 * main's result, ASYNC_EDEADLK when nothing can ever wake main,
 * ASYNC_EBUSY if called from inside itself, or a spawn error.  main NULL:
 * run until no task is left.  When no task is left, the callbacks due
 * then (a connection's done callback) run in one pass more.           */
int async_ev_run(async_ev *E, async_task *main, async_task_fn fn);
/* loop.run_until_complete: the same, leaving pending tasks as they are. */
int async_ev_run_until_complete(async_ev *E, async_task *main, async_task_fn fn);
/* Convenience: a whole program's asyncio.run on EV_DEFAULT (async_ev_run,
 * then async_loop_close, which in debug mode reports what is left).  As
 * asyncio.run does, a first SIGINT (Ctrl-C) cancels the main task, whose
 * cleanup then runs, and a second one ends the process at once - unless
 * the program watches SIGINT itself (async_signal_init).                */
int async_ev_main(async_task *main, async_task_fn fn);
/* Exit status for main(): 0, or 1 after printing "prog: <error>" to
 * stderr when rc < 0 (prog: the base name of argv0, may be NULL).       */
int async_ev_exit(const char *argv0, int rc);
/* asyncio.run(main()) as a whole program: defines main(), which runs the
 * task function `fn` (an async_task_def) on a static frame `struct fn`
 * and exits with async_ev_exit.                                         */
#define ASYNC_EV_MAIN(fn)                                                   \
    int main(int argc, char **argv)                                         \
    {                                                                       \
        static struct fn async__main_frame;                                 \
        (void)argc;                                                         \
        return async_ev_exit(argv[0], async_ev_main(&async__main_frame.task, (fn))); \
    }

/* ======================================================================
 * fd readiness.
 * ====================================================================== */
typedef struct async_io {
    async_waiter waiter;
    ev_io w;
    async_task *task;
    async_loop *L;
    int keep; /* 1: stay armed between waits (then async_io_stop before close) */
} async_io;

/* op: wait until fd is readable (EV_READ) and/or writable (EV_WRITE).
 * Returns the ready events (> 0).  One task per async_io at a time:
 * ASYNC_EBUSY otherwise; ASYNC_EINVAL for a bad fd or no events.
 * A zeroed async_io stops its watcher when it fires; with keep = 1 the
 * watcher stays armed for the next wait on the same fd (streams do this)
 * and the owner must call async_io_stop() before closing the fd.       */
int async_io_wait(async_loop *L, async_io *io, int fd, int events);
/* Stop the watcher; a task waiting on it gets ASYNC_ECLOSED.           */
void async_io_stop(async_loop *L, async_io *io);

/* ======================================================================
 * Signals (SIGINT/SIGTERM for graceful shutdown).
 * ====================================================================== */
typedef struct async_signal {
    async_waiter waiter;
    ev_signal w;
    async_task *task;
    async_loop *L;
    unsigned count; /* deliveries not yet taken */
    int active;
} async_signal;

/* Start counting deliveries of signum (it is no longer fatal).  s must
 * be zeroed or stopped.  A signal can be watched by one loop at a time
 * (libev's rule; several async_signals of that loop may share it).  0,
 * or ASYNC_EINVAL (bad number, not an async_ev loop), ASYNC_EBUSY (s is
 * already watching, or another loop watches signum).                   */
int async_signal_init(async_loop *L, async_signal *s, int signum);
/* op: take one delivery, waiting for it; returns the signal number.
 * ASYNC_ECLOSED after async_signal_close.                               */
int async_signal_wait(async_loop *L, async_signal *s);
/* Stop watching (the default disposition is restored); a waiter gets
 * ASYNC_ECLOSED.                                                        */
void async_signal_close(async_loop *L, async_signal *s);

/* ======================================================================
 * Addresses.  Numeric only; names go through async_resolve().
 * ====================================================================== */
typedef struct async_addr {
    struct sockaddr_storage sa;
    socklen_t len;
} async_addr;

/* "127.0.0.1", "::1", "[::1]" with a port.  ASYNC_EINVAL if not numeric. */
int async_addr_ip(async_addr *a, const char *ip, unsigned port);
/* A Unix socket path (ASYNC_ETOOLONG if it does not fit).               */
int async_addr_unix(async_addr *a, const char *path);
/* Port of an IP address (0 otherwise, and for NULL).                    */
unsigned async_addr_port(const async_addr *a);
/* "ip:port" / "[ip6]:port" / path, truncated to cap. Returns buf ("" for
 * a NULL or unknown address; nothing written for a NULL buf or cap 0).  */
const char *async_addr_str(const async_addr *a, char *buf, size_t cap);

/* ======================================================================
 * Streams: a connected stream socket (TCP or Unix) or any fd, with an
 * optional caller-owned read buffer (needed by read_until).
 *
 * One reader and one writer may use a stream at the same time (a second
 * concurrent reader or writer gets ASYNC_EBUSY).  After async_stream_close
 * every op returns ASYNC_ECLOSED, and a task blocked on the stream is woken
 * with ASYNC_ECLOSED.
 * ====================================================================== */
typedef struct async_stream async_stream;

/* A layer between a stream's ops and its fd: TLS (src/async_tls.h) sets
 * one; a plain stream has none.  The stream's read, read_exactly,
 * read_until, write, shutdown and close go through it unchanged, with
 * the same deadlines, cancellation and one-reader-one-writer rule.    */
typedef struct async_layer async_layer;
typedef struct async_layer_ops {
    /* One read: n > 0; ASYNC_EOF (the peer ended the stream cleanly);
     * ASYNC_EAGAIN with *events the readiness to wait for (EV_READ or
     * EV_WRITE); or an error.  On n > 0, *events is EV_READ if nothing
     * more is buffered (the next read waits first), 0 if more may be. */
    int (*read)(async_layer *x, void *buf, size_t len, int *events);
    /* One write of 1..len bytes: n > 0, ASYNC_EAGAIN with *events, or an
     * error.  After ASYNC_EAGAIN it is called again with the same
     * arguments once the fd is ready.                                  */
    int (*write)(async_layer *x, const void *buf, size_t len, int *events);
    /* Before the fd's write side is shut: 0, ASYNC_EAGAIN, or an error. */
    int (*shutdown)(async_layer *x);
    /* Before the fd is closed: release everything the layer holds.     */
    void (*close)(async_layer *x);
} async_layer_ops;
struct async_layer {
    const async_layer_ops *ops;
};

struct async_stream {
    int fd;
    uint8_t flags;
    uint8_t rwant, wwant; /* with a layer: the readiness a parked read or
                             write waits for (EV_READ or EV_WRITE)      */
    async_io rio, wio;
    unsigned char *rbuf; /* buffered, not yet consumed: rbuf[rpos..rlen) */
    size_t rcap, rpos, rlen, scan;
    size_t rdone; /* read_exactly progress */
    size_t wdone; /* write progress        */
    async_task *reader, *writer;
    /* A read parked on a plain stream: where the bytes go when the fd
     * becomes readable (the watcher's callback reads for it and resumes
     * the reader with the count); NULL: none parked, or through a layer. */
    unsigned char *rdst;
    size_t rdst_len;
    async_layer *layer; /* NULL: the fd itself; kept after close, so the
                           layer's state (a TLS failure's reason) can
                           still be read; cleared by async_stream_init */
};

/* Adopt fd (made non-blocking).  rbuf/rcap may be NULL/0 (then
 * read_until is ASYNC_EINVAL).  s must be zeroed or closed.  0,
 * ASYNC_EINVAL, or ASYNC_EBUSY if s is still open.                      */
int async_stream_init(async_stream *s, int fd, void *rbuf, size_t rcap);
/* op: connect a new socket to `a` and adopt it into s (s is
 * initialised).  0, ASYNC_ECONNREFUSED, ASYNC_EHOSTUNREACH, ASYNC_EOS().
 * Interrupted (timeout/cancel), the half-open socket is closed.         */
int async_stream_connect(async_loop *L, async_stream *s, const async_addr *a, void *rbuf,
                         size_t rcap);
/* op: read up to len bytes (buffered bytes first).  Returns n > 0,
 * ASYNC_EOF at end of stream, ASYNC_ECONNRESET, ASYNC_ECLOSED.  len 0:
 * ASYNC_EINVAL.  While it waits on a plain stream, the bytes are read
 * into buf as soon as the fd is readable (buf must stay valid, as the
 * op's arguments must stay the same).  Interrupted while waiting
 * (timeout, cancel, close), it has read nothing; bytes read just before
 * an interruption are its result, and the next await reports it.  The
 * same holds for read_exactly (counted by partial) and read_until (kept
 * in the stream's buffer).                                               */
static inline int async_stream_read(async_loop *L, async_stream *s, void *buf, size_t len);
/* op: read exactly len bytes.  Returns len, or ASYNC_EOF if the stream
 * ended first (the bytes received so far are in buf: count them with
 * async_stream_partial), or an error.                                    */
int async_stream_read_exactly(async_loop *L, async_stream *s, void *buf, size_t len);
/* After read_exactly returned ASYNC_EOF, an error or an interruption
 * (timeout, cancel): how many bytes it put in buf (they are consumed).
 * 0 after a read_exactly that completed and once another read starts.
 * A call that never started (its deadline had already passed, its task
 * was cancelled) changes nothing: after one, partial() is 0 unless the
 * read before it was a read_exactly that did not complete.              */
size_t async_stream_partial(const async_stream *s);

/* async_stream_read is inline where its task resumes: a read delivered
 * while parked (src/stream.c) is taken without a call, the rest is out
 * of line.  The flag bit is the runtime's (part of its ABI).  The inline
 * parts test for a current task once, so that the calls they make in a
 * task need not test again: a call outside a task goes to
 * async__stream_read_no_task (its error) or, for a write, to
 * async__stream_write_rest's full checks.                              */
#define ASYNC__STREAM_DELIVERED 0x40u
int async__stream_read_first(async_loop *L, async_stream *s, void *buf, size_t len,
                             async_task *self);
int async__stream_read_no_task(async_loop *L, async_stream *s);
int async__stream_read_woken(async_loop *L, async_stream *s, void *buf, size_t len, int rc);
static inline int async_stream_read(async_loop *L, async_stream *s, void *buf, size_t len)
{
    int rc;
    /* async__woken is false outside a task (the core's "no task" is
     * never woken): the task is asked for only on the first call      */
    if (ASYNC__NULL(L) || !async__woken(L, &rc)) {
        async_task *self = async_current(L); /* NULL for a NULL L too */
        if (self == NULL)
            return async__stream_read_no_task(L, s);
        return async__stream_read_first(L, s, buf, len, self);
    }
    if (s != NULL && (s->flags & ASYNC__STREAM_DELIVERED)) {
        s->reader = NULL;
        s->flags = (uint8_t)(s->flags & ~ASYNC__STREAM_DELIVERED);
        return rc;
    }
    return async__stream_read_woken(L, s, buf, len, rc);
}

/* async_stream_write is inline around its send: the usual write, by a
 * task, to a plain socket with room, is one call that ends in send(2)
 * (its result, or less than -1: not that case), the rest out of line.
 * async__stream_send takes send's own first three arguments' places.  */
ssize_t async__stream_send(async_stream *s, const void *buf, size_t len);
int async__stream_write_rest(async_loop *L, async_stream *s, const void *buf, size_t len,
                             ssize_t n);
int async__stream_write_woken(async_loop *L, async_stream *s, const void *buf, size_t len, int rc);
static inline int async_stream_write(async_loop *L, async_stream *s, const void *buf, size_t len)
{
    ssize_t n;
    int rc;
    if (!ASYNC__NULL(L) && async__woken(L, &rc)) /* (false outside a task) */
        return async__stream_write_woken(L, s, buf, len, rc);
    if (async_current(L) == NULL) /* not in a task: write_rest's checks answer */
        return async__stream_write_rest(L, s, buf, len, -2);
    n = async__stream_send(s, buf, len);
    if (n == (ssize_t)len)
        return (int)n;
    return async__stream_write_rest(L, s, buf, len, n);
}
/* Give a stream a read buffer (only while no read is in progress and the
 * old buffer is empty).  0, ASYNC_EBUSY.                                */
int async_stream_set_rbuf(async_stream *s, void *rbuf, size_t rcap);
/* op: read up to and including the delimiter (dlen >= 1 bytes) into buf.
 * Returns the length.  A line longer than min(cap, rcap) gives
 * ASYNC_ETOOLONG; ASYNC_EOF if the stream ends before a delimiter.  In
 * both cases nothing is consumed: async_stream_read() returns the data. */
int async_stream_read_until(async_loop *L, async_stream *s, const void *delim, size_t dlen,
                            void *buf, size_t cap);
/* op: write all len bytes (partial writes continue).  Returns len,
 * ASYNC_EPIPE or ASYNC_ECONNRESET if the peer went away, ASYNC_ECLOSED.
 * Interrupted (timeout, cancel) or failed, it has sent an exact prefix
 * of buf: async_stream_written() says how long, so the caller can resume
 * with the rest.                                                         */
static inline int async_stream_write(async_loop *L, async_stream *s, const void *buf, size_t len);
/* op: write hlen bytes of head (a protocol header, may be 0), then len
 * bytes of file fd from offset: sendfile(2) on a plain socket, with the
 * head sent MSG_MORE so that both share segments; otherwise (a layer such
 * as TLS, a pipe) pread and write, through scratch[0..scap) when the
 * stream has a layer (it must stay valid until the op returns; NULL/0 is
 * ASYNC_EINVAL there, and never used on a plain socket).  fd's own file
 * offset is not moved.  Returns hlen + len; ASYNC_EOF if the file ends
 * first (what came before was sent: the peer got less than promised),
 * ASYNC_EPIPE or ASYNC_ECONNRESET if the peer went away, ASYNC_ECLOSED,
 * ASYNC_EINVAL.  Counts as the stream's writer.                         */
int async_stream_sendfile(async_loop *L, async_stream *s, const void *head, size_t hlen, int fd,
                          off_t offset, size_t len, void *scratch, size_t scap);
/* After async_stream_write returned an error or was interrupted: how many
 * bytes of its buf the kernel took (buf[0..n) went out, in order).  0
 * after a write that completed (it returned len) and once another write
 * starts; a call that never started (deadline already passed, task
 * cancelled) leaves it 0 unless the write before it was interrupted.     */
size_t async_stream_written(const async_stream *s);
/* asyncio's drain, which here has nothing to wait for: async_stream_write
 * returns only once every byte is in the kernel's send buffer, and no
 * byte is ever held in user space.  So it returns at once: 0, or
 * ASYNC_ECLOSED after close, ASYNC_EINVAL for a stream never opened.
 * Kept so that code shaped like asyncio's (write, then drain) reads the
 * same; it is not an op and never suspends.                              */
int async_stream_drain(async_loop *L, async_stream *s);
/* Half-close the write side (the peer reads EOF).  0 or an error.  With
 * TLS it sends close_notify first; ASYNC_EAGAIN in the rare case that the
 * kernel's send buffer cannot take that alert now (call again later).   */
int async_stream_shutdown(async_stream *s);
/* Close the fd; wakes a blocked reader/writer with ASYNC_ECLOSED.  With
 * TLS it sends close_notify (once, without waiting) unless the session
 * failed, and frees every OpenSSL object of the stream.
 * 0, ASYNC_ECLOSED if already closed, ASYNC_EINVAL if never opened or if
 * L is not an async_ev loop while a task waits on s or its watcher is
 * armed (then nothing changes: close it with its loop).  Loop thread.   */
int async_stream_close(async_loop *L, async_stream *s);
bool async_stream_is_closed(const async_stream *s);

/* ======================================================================
 * Servers: listen, and hand each connection to a handler task taken
 * from a caller-provided fixed pool of frames.  When every frame is
 * busy the server stops accepting (the kernel backlog holds new
 * clients) until a handler finishes: backpressure, not failure.
 *
 *     struct client { async_conn conn; async_co co; char buf[1024]; };
 *     static struct client pool[64];
 *     async_server_start(L, &srv, handler, pool, sizeof pool[0],
 *                        offsetof(struct client, conn), 64);
 *
 * The handler is a task fn: its frame is async_frame(self, struct client,
 * conn.task) and its stream is conn.stream, closed by the server when the
 * handler ends (it watches the task with a done callback, at the next
 * pass: the task cannot be joined, ASYNC_EBUSY).
 * ====================================================================== */
typedef struct async_server async_server;
typedef struct async_conn {
    async_task task;
    async_stream stream;
    async_addr peer;
    async_server *server;
    struct async_conn *next_free;
#if ASYNC_CONF_EXTRAS
    async_handle done; /* the server's done callback on task (private) */
#endif
} async_conn;

struct async_server {
    async_task task; /* the accept loop */
    async_co co;
    int fd;
    async_io io;
    async_sem slots;
    async_conn *free;  /* frames handlers have given back             */
    async_task_fn handler;
    unsigned char *pool;
    size_t stride, offset;
    unsigned count, active;
    unsigned fresh;    /* frames pool[fresh..count) never used yet: the
                          pool is only touched as connections arrive  */
    unsigned long accepted;
    int last_error; /* last accept error (EMFILE...), for logging */
    async_addr addr;
    int closed;
};

/* Bind and listen on `a` (SO_REUSEADDR; a stale Unix socket file is
 * unlinked first).  srv must be zeroed, or closed with its accept loop
 * finished.  0, ASYNC_EADDRINUSE, ASYNC_EOS(), or ASYNC_EBUSY if srv
 * listens already (started or not: nothing is bound, nothing leaks), or
 * its accept loop or handlers of its last start still run.  Port 0 picks
 * a free port: see srv->addr.                                           */
int async_server_listen(async_server *srv, const async_addr *a, int backlog);
/* The same with flags: ASYNC_LISTEN_REUSEPORT sets SO_REUSEPORT, so that
 * several servers (one per thread, each on its own loop) listen on one
 * port and the kernel spreads connections among them.  IP only.  Port 0
 * with it: the first listener picks the port, the others name it.       */
#define ASYNC_LISTEN_REUSEPORT 0x1u
int async_server_listen_flags(async_server *srv, const async_addr *a, int backlog,
                              unsigned flags);
/* Spawn the accept loop over the frames pool[0..count) (count >= 1;
 * frame i is at pool + i * stride, its async_conn at conn_offset).  A
 * connection's stream has no read buffer: the handler may give it one
 * with async_stream_set_rbuf().  Frames are first touched when a
 * connection needs them, so a large pool costs no memory until used.
 * 0, ASYNC_EINVAL, ASYNC_ECLOSED (not listening), ASYNC_EBUSY (the
 * accept loop still runs).  A frame found busy when its turn comes
 * (its task still running: the pool is shared with something else) is
 * skipped for good and last_error set to ASYNC_EBUSY.                   */
int async_server_start(async_loop *L, async_server *srv, async_task_fn handler, void *pool,
                       size_t stride, size_t conn_offset, unsigned count);
/* Stop accepting and close the listening socket.  Running handlers go
 * on; async_server_active_count() counts them.                                */
void async_server_close(async_loop *L, async_server *srv);
unsigned async_server_active_count(const async_server *srv);
/* op: accept one connection on a listening fd (for servers without the
 * pool).  Returns the new non-blocking fd, and the peer in *peer if not
 * NULL (written only then: a pending accept leaves it untouched).       */
int async_accept(async_loop *L, async_io *io, int lfd, async_addr *peer);

/* ======================================================================
 * UDP.
 * ====================================================================== */
typedef struct async_udp {
    int fd;
    async_io rio, wio;
} async_udp;

/* Open a UDP socket of `family` (AF_INET or AF_INET6), bound to bind_to
 * if not NULL.  0, ASYNC_EINVAL, ASYNC_EADDRINUSE, ASYNC_EOS().         */
int async_udp_open(async_udp *u, int family, const async_addr *bind_to);
/* op: send one datagram.  Returns len.                                  */
int async_udp_send(async_loop *L, async_udp *u, const void *buf, size_t len, const async_addr *to);
/* op: receive one datagram; returns its length.  A datagram longer than
 * len gives ASYNC_ETOOLONG: its first len bytes are in buf (and *from is
 * set), the rest is lost.                                                */
int async_udp_recv(async_loop *L, async_udp *u, void *buf, size_t len, async_addr *from);
int async_udp_close(async_loop *L, async_udp *u);

/* ======================================================================
 * Offload (asyncio.to_thread): a fixed pool of worker threads.
 *
 * Cancelling or timing out an offloaded call: if it has not started it
 * is removed from the queue and never runs; if it is running, the
 * thread cannot be interrupted, so the await reports ASYNC_ECANCELED
 * (or ASYNC_ETIMEDOUT) once the function has returned.  The function may
 * poll async_offload_is_cancelled() to stop early.  This keeps the job and
 * its arguments (caller memory) valid for as long as a thread uses them.
 * ====================================================================== */
typedef struct async_pool async_pool;
typedef struct async_offload async_offload;
typedef int (*async_offload_fn)(async_offload *job, void *arg);

struct async_offload {
    async_call call; /* first: completion posted back to the loop */
    async_waiter waiter;
    async_offload *next;
    async_offload_fn fn;
    void *arg;
    async_pool *pool;
    async_task *task;
    int result;
    volatile int cancel;
    volatile int state;
};

struct async_pool {
    async_ev *E;
    pthread_t *threads;
    unsigned nthreads, started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    async_offload *head, *tail;
    int stopping;
};

/* Start n worker threads (threads: caller array of n), each named
 * "async-pool" for top -H and gdb.  0, ASYNC_EINVAL,
 * ASYNC_EOS(err) if a thread could not be created.  L: the loop that
 * awaits (loop thread).                                                 */
int async_pool_init(async_loop *L, async_pool *P, pthread_t *threads, unsigned n);
/* Stop the workers after their current call and join them.  Calls still
 * queued complete with ASYNC_ECANCELED.  Loop thread.                   */
void async_pool_close(async_pool *P);
/* op: run fn(job, arg) on a worker and return its result (an int; a
 * negative value is treated as an error and propagates).  job must stay
 * valid until the op returns.  ASYNC_ECLOSED after pool destroy,
 * ASYNC_EBUSY if job is in use by another task.                         */
int async_offload_run(async_loop *L, async_pool *P, async_offload *job, async_offload_fn fn,
                      void *arg);
/* For fn, on the worker: true once the awaiting task gave up.           */
bool async_offload_is_cancelled(const async_offload *job);

/* ======================================================================
 * Name resolution that never blocks the loop: numeric addresses are
 * parsed in place; names go through getaddrinfo() on the offload pool.
 * ====================================================================== */
#ifndef ASYNC_CONF_RESOLVE_MAX
#define ASYNC_CONF_RESOLVE_MAX 4
#endif
typedef struct async_resolve_req {
    async_offload job;
    const char *host;
    unsigned port;
    int family; /* AF_UNSPEC, AF_INET, AF_INET6 */
    int gai_error;
    int inflight;
    unsigned count;
    async_addr addrs[ASYNC_CONF_RESOLVE_MAX];
} async_resolve_req;

/* op: resolve host (name or numeric) for TCP on port; fills r->addrs
 * (r->count of them) and returns the count.  ASYNC_ENAME if the name
 * does not resolve, ASYNC_EINVAL for a NULL/empty host.  P may be NULL
 * for numeric hosts.                                                    */
int async_resolve(async_loop *L, async_pool *P, async_resolve_req *r, const char *host,
                  unsigned port, int family);

/* ======================================================================
 * Workers: one loop per thread, one thread per core.
 *
 * Each worker runs its own ev_loop and scheduler on its own thread, with
 * its own main task; nothing is shared between them unless the
 * application shares it.  What may cross threads: async_post() (and what
 * is built on it: async_notify_give, the offload pool's completions) and
 * async_workers_stop().  Everything else (tasks, streams, servers,
 * timers) belongs to the loop that created it.  Servers on one port use
 * ASYNC_LISTEN_REUSEPORT, one listener per worker.
 *
 *     static async_worker w[N];   // w[i].main, w[i].fn set by the caller
 *     static async_workers g;
 *     int signals[] = {SIGINT, SIGTERM, 0};
 *     rc = async_workers_run(&g, w, N, signals);
 *
 * A worker's main task awaits async_event_wait(L, &w->stop) to learn
 * that the group is stopping (a listed signal arrived, or
 * async_workers_stop was called), then shuts down in its own time.
 * ====================================================================== */
typedef struct async_workers async_workers;
typedef struct async_worker {
    async_task *main;  /* set by the caller: the task run on this worker   */
    async_task_fn fn;  /* ... and its fn                                    */
    void *arg;         /* the caller's                                      */
    async_ev E;        /* this worker's driver: async_ev_loop(&w->E)        */
    struct ev_loop *ev;
    async_event stop;  /* set on this worker's loop when the group stops    */
    async_call stop_call;
    async_workers *group;
    pthread_t thread;
    unsigned index;
    int result;        /* main's result, or an error starting the loop      */
    volatile int ready; /* its loop can take posts                         */
} async_worker;

struct async_workers {
    async_worker *w;
    unsigned n, running;
    struct ev_loop *ev;   /* the supervisor's loop (the calling thread's)   */
    ev_async wake;        /* a worker finished                              */
    ev_signal sig[4];
    unsigned nsig;
    volatile unsigned done;
    volatile int stopping;
    int signal;           /* the signal that stopped the group, or 0        */
};

/* Run workers w[0..n) (each with main and fn set, 1 <= n <= 1024), each
 * on a new thread with a new ev_loop, until every main task has
 * finished.  The calling thread supervises: the first signal of
 * `signals` (0-terminated, at most 4, NULL for none) sets every worker's
 * stop event; a second one makes no difference.  The signals are
 * blocked in the workers.  One worker (n == 1) runs on the calling
 * thread itself, with the default ev_loop and the signals watched
 * there: no thread is created.  Returns 0 when every worker's main returned
 * >= 0, else the first error (w[i].result holds each); ASYNC_EINVAL,
 * ASYNC_EOS() if a thread could not start (the started ones are stopped
 * and joined first).  Not reentrant; uses the default ev_loop.          */
int async_workers_run(async_workers *g, async_worker *w, unsigned n, const int *signals);
/* Any thread, any time during async_workers_run: stop the group.        */
void async_workers_stop(async_workers *g);

/* Make fd non-blocking and close-on-exec.  0 or ASYNC_EOS(errno).      */
int async_fd_nonblock(int fd);
/* Map an errno to an ASYNC_E* code.                                     */
int async_errno(int err);

/* ======================================================================
 * ABI guard.  libasync's objects (async_loop, async_task, async_ev,
 * async_resolve_req...) are laid out by the ASYNC_CONF_* settings, so a
 * program must be built with the settings of the library it links.  The
 * library defines one object named after its configuration, ASYNC_EV_ABI
 * (e.g. async__abi_lcswitch_tick32_wheel6x4_debug0_tasks1_extras1_atomics1_resolve4_hz1000),
 * and async_ev_init() and async_ev_main() are macros that pass the
 * address of the object named after the caller's configuration.  Built
 * with other settings, a program names an object the library does not
 * have and fails to link:
 *
 *     undefined reference to `async__abi_lcswitch_tick64_wheel6x4_...'
 *
 * (or, against a replaced shared library, fails to start: "undefined
 * symbol").  The name in the message is the program's configuration;
 * `pkg-config --variable=abi async-ev` prints the installed library's.
 * Should a program still reach a library of another configuration (two
 * libasync in one process), async_ev_init returns ASYNC_EABI and prints
 * both names on stderr.  The settings that count: the continuation
 * backend, the tick width and rate, the timer store, debug mode, the task
 * registry (ASYNC_CONF_TASK_LIST), the extras (ASYNC_CONF_EXTRAS), atomics
 * and ASYNC_CONF_RESOLVE_MAX (plain decimal numbers: the last two are pasted
 * into the name).  docs/install.md has the details.
 * ====================================================================== */
#if ASYNC_CONF_LC == ASYNC_LC_SWITCH
#define ASYNC__ABI_LC lcswitch
#else
#define ASYNC__ABI_LC lclabels
#endif
#if ASYNC_CONF_TICK_BITS == 16
#define ASYNC__ABI_TICK tick16
#elif ASYNC_CONF_TICK_BITS == 32
#define ASYNC__ABI_TICK tick32
#else
#define ASYNC__ABI_TICK tick64
#endif
/* The store: "timerlist", or wheel<bits>x<levels> (conditionals rather
 * than pasting, so a setting written as an expression still works).     */
#if ASYNC_CONF_WHEEL_BITS == 1
#define ASYNC__ABI_WB 1
#elif ASYNC_CONF_WHEEL_BITS == 2
#define ASYNC__ABI_WB 2
#elif ASYNC_CONF_WHEEL_BITS == 3
#define ASYNC__ABI_WB 3
#elif ASYNC_CONF_WHEEL_BITS == 4
#define ASYNC__ABI_WB 4
#elif ASYNC_CONF_WHEEL_BITS == 5
#define ASYNC__ABI_WB 5
#else
#define ASYNC__ABI_WB 6
#endif
#if ASYNC_CONF_WHEEL_LEVELS == 0
#define ASYNC__ABI_STORE timerlist
#elif ASYNC_CONF_WHEEL_LEVELS == 1
#define ASYNC__ABI_WL 1
#elif ASYNC_CONF_WHEEL_LEVELS == 2
#define ASYNC__ABI_WL 2
#elif ASYNC_CONF_WHEEL_LEVELS == 3
#define ASYNC__ABI_WL 3
#elif ASYNC_CONF_WHEEL_LEVELS == 4
#define ASYNC__ABI_WL 4
#elif ASYNC_CONF_WHEEL_LEVELS == 5
#define ASYNC__ABI_WL 5
#elif ASYNC_CONF_WHEEL_LEVELS == 6
#define ASYNC__ABI_WL 6
#elif ASYNC_CONF_WHEEL_LEVELS == 7
#define ASYNC__ABI_WL 7
#elif ASYNC_CONF_WHEEL_LEVELS == 8
#define ASYNC__ABI_WL 8
#elif ASYNC_CONF_WHEEL_LEVELS == 9
#define ASYNC__ABI_WL 9
#elif ASYNC_CONF_WHEEL_LEVELS == 10
#define ASYNC__ABI_WL 10
#elif ASYNC_CONF_WHEEL_LEVELS == 11
#define ASYNC__ABI_WL 11
#else
#define ASYNC__ABI_WL 12
#endif
/* Literal parts of the name are only ever operands of ##, never macro
 * arguments, so a program's own macros (an `x`, say) cannot touch them. */
#define ASYNC__ABI_WHEEL2(b, l) wheel##b##x##l
#define ASYNC__ABI_WHEEL(b, l) ASYNC__ABI_WHEEL2(b, l)
#ifndef ASYNC__ABI_STORE
#define ASYNC__ABI_STORE ASYNC__ABI_WHEEL(ASYNC__ABI_WB, ASYNC__ABI_WL)
#endif
#if ASYNC_CONF_DEBUG
#define ASYNC__ABI_DEBUG debug1
#else
#define ASYNC__ABI_DEBUG debug0
#endif
/* The task registry and the extras change async_task, async_loop and
 * async_queue.                                                          */
#if ASYNC_CONF_TASK_LIST
#define ASYNC__ABI_TASKS tasks1
#else
#define ASYNC__ABI_TASKS tasks0
#endif
#if ASYNC_CONF_EXTRAS
#define ASYNC__ABI_EXTRAS extras1
#else
#define ASYNC__ABI_EXTRAS extras0
#endif
#if ASYNC_CONF_ATOMICS
#define ASYNC__ABI_ATOMICS atomics1
#else
#define ASYNC__ABI_ATOMICS atomics0
#endif
#define ASYNC__ABI_RES2(n) resolve##n
#define ASYNC__ABI_RES(n) ASYNC__ABI_RES2(n)
#define ASYNC__ABI_HZ2(n) hz##n
#define ASYNC__ABI_HZ(n) ASYNC__ABI_HZ2(n)
#define ASYNC__ABI_NAME2(lc, tick, store, dbg, tasks, extras, atom, res, hz) \
    async__abi_##lc##_##tick##_##store##_##dbg##_##tasks##_##extras##_##atom##_##res##_##hz
#define ASYNC__ABI_NAME(lc, tick, store, dbg, tasks, extras, atom, res, hz) \
    ASYNC__ABI_NAME2(lc, tick, store, dbg, tasks, extras, atom, res, hz)
/* The configuration's name: an identifier, and the same as a string.    */
#define ASYNC_EV_ABI                                                                  \
    ASYNC__ABI_NAME(ASYNC__ABI_LC, ASYNC__ABI_TICK, ASYNC__ABI_STORE, ASYNC__ABI_DEBUG, \
                    ASYNC__ABI_TASKS, ASYNC__ABI_EXTRAS, ASYNC__ABI_ATOMICS,            \
                    ASYNC__ABI_RES(ASYNC_CONF_RESOLVE_MAX), ASYNC__ABI_HZ(ASYNC_CONF_TICK_HZ))
#define ASYNC_EV_ABI_STRING ASYNC__STR(ASYNC_EV_ABI)

/* Defined by libasync for the configuration it was built with; its text
 * is its own name.                                                      */
extern const char ASYNC_EV_ABI[];
/* The configuration libasync was built with (its ASYNC_EV_ABI_STRING).  */
const char *async_ev_abi(void);

/* The checked entry points behind the macros: abi is the caller's
 * ASYNC_EV_ABI.  ASYNC_EABI (and a line on stderr naming both
 * configurations) if it is not the library's; otherwise as the plain
 * functions, which remain callable as (async_ev_init)(E, ev) and
 * (async_ev_main)(main, fn), unchecked.                                 */
int async__ev_init(async_ev *E, struct ev_loop *ev, const char *abi);
int async__ev_main(async_task *main, async_task_fn fn, const char *abi);
#define async_ev_init(E, ev) async__ev_init((E), (ev), ASYNC_EV_ABI)
#define async_ev_main(main_task, fn) async__ev_main((main_task), (fn), ASYNC_EV_ABI)

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_EV_H */
