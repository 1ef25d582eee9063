/* SPDX-License-Identifier: MIT */
/* Streams over real loopback sockets: partial reads and writes, EOF,
 * reset, refused, timeouts, read_until, close, accept backpressure, IPv6,
 * Unix sockets, UDP, misuse; and, through test/faults/shim.c, what the
 * kernel rarely does: EINTR, EAGAIN, short transfers, failing socket
 * calls, a full Unix backlog, no descriptors left. */
#define _GNU_SOURCE
#include "iotest.h"
#include "../faults/shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- an echo server over a handler pool, and a client ---- */
struct echo_conn {
    async_conn conn;
    async_co co;
    int n;
    char buf[512]; /* smaller than the messages: many partial reads */
};

static struct echo_conn echo_pool[8];

static int echo_handler(async_loop *L, async_task *self)
{
    struct echo_conn *c = async_frame(self, struct echo_conn, conn.task);
    async_begin(L, &c->co);
    for (;;) {
        async_await_rc(c->n, async_stream_read(L, &c->conn.stream, c->buf, sizeof c->buf));
        if (c->n < 0)
            break;
        async_await(async_stream_write(L, &c->conn.stream, c->buf, (size_t)c->n));
    }
    async_end;
}

#define BIG (1u << 20)
static unsigned char big_out[BIG], big_in[BIG];

struct bigclient {
    async_task task;
    async_co co;
    async_stream s;
    async_server *srv;
    async_addr addr;
    int rc, n;
    size_t got;
    struct bigwriter {
        async_task task;
        async_co co;
        async_stream *s;
    } w;
};

/* The writer pushes 1 MiB in one write: the kernel takes it in pieces
 * while the reader (same loop) drains the echo concurrently. */
static int big_writer(async_loop *L, async_task *self)
{
    struct bigwriter *w = async_frame(self, struct bigwriter, task);
    async_begin(L, &w->co);
    async_await(async_stream_write(L, w->s, big_out, BIG));
    async_await(async_stream_shutdown(w->s));
    async_end;
}

static int bigclient_fn(async_loop *L, async_task *self)
{
    struct bigclient *f = async_frame(self, struct bigclient, task);
    async_begin(L, &f->co);
    async_await(async_stream_connect(L, &f->s, &f->addr, NULL, 0));
    f->w.s = &f->s;
    async_spawn(L, &f->w.task, big_writer);
    while (f->got < BIG) {
        async_await_val(f->n, async_stream_read(L, &f->s, big_in + f->got, BIG - f->got));
        f->got += (size_t)f->n;
    }
    async_await_rc(f->rc, async_stream_read(L, &f->s, big_in, 1));
    assert_int_equal(f->rc, ASYNC_EOF); /* the server closed after our EOF */
    async_await(async_join(L, &f->w.task));
    async_finally;
    async_stream_close(L, &f->s);
    async_server_close(L, f->srv);
    async_end;
}

static void echo_megabyte_through_partial_io(void **state)
{
    static async_server srv;
    static struct bigclient c;
    (void)state;
    memset(&c, 0, sizeof c);
    memset(echo_pool, 0, sizeof echo_pool);
    io_fill(big_out, BIG, 0);
    io_listen(&srv, AF_INET);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 8),
                     0);
    c.addr = srv.addr;
    c.srv = &srv;
    assert_int_equal(io_run(&c.task, bigclient_fn), 0);
    assert_int_equal(c.got, BIG);
    assert_true(io_check(big_in, BIG, 0));
    assert_int_equal(srv.accepted, 1);
}

/* ---- a handler's end: the server hears of it from the task's done
 * callback, which runs even when the run ends with that connection ---- */
struct last_conn {
    async_conn conn;
    async_co co;
    char buf[16];
    int n;
};

static struct last_conn last_pool[2];

static int last_handler(async_loop *L, async_task *self)
{
    struct last_conn *c = async_frame(self, struct last_conn, conn.task);
    async_begin(L, &c->co);
    async_await_val(c->n, async_stream_read(L, &c->conn.stream, c->buf, sizeof c->buf));
    async_await(async_stream_write(L, &c->conn.stream, c->buf, (size_t)c->n));
    async_await_rc(c->n, async_stream_read(L, &c->conn.stream, c->buf, sizeof c->buf));
    async_server_close(L, c->conn.server); /* the run ends with this connection */
    async_end;
}

struct last_client {
    async_task task;
    async_co co;
    async_stream s;
    async_addr addr;
    char b;
    int join_rc;
};

static int last_client_fn(async_loop *L, async_task *self)
{
    struct last_client *f = async_frame(self, struct last_client, task);
    async_begin(L, &f->co);
    async_await(async_stream_connect(L, &f->s, &f->addr, NULL, 0));
    async_await(async_stream_write(L, &f->s, "x", 1));
    async_await(async_stream_read_exactly(L, &f->s, &f->b, 1)); /* the handler runs */
    /* its task is the server's to watch: no joiner of ours */
    f->join_rc = async_join(L, &last_pool[0].conn.task);
    async_finally;
    async_stream_close(L, &f->s);
    async_end;
}

static void handler_end_closes_the_stream_as_the_run_ends(void **state)
{
    static async_server srv;
    static struct last_client c;
    (void)state;
    memset(&c, 0, sizeof c);
    memset(last_pool, 0, sizeof last_pool);
    io_listen(&srv, AF_INET);
    assert_int_equal(async_server_start(TLOOP, &srv, last_handler, last_pool,
                                        sizeof last_pool[0], offsetof(struct last_conn, conn), 2),
                     0);
    c.addr = srv.addr;
    assert_int_equal(async_spawn(TLOOP, &c.task, last_client_fn), 0);
    assert_int_equal(async_ev_run(&TE, NULL, NULL), 0); /* until no task is left */
    assert_int_equal(c.b, 'x');
#if ASYNC_CONF_EXTRAS
    assert_int_equal(c.join_rc, ASYNC_EBUSY);
#endif
    assert_true(async_task_is_done(&last_pool[0].conn.task));
    assert_int_equal(last_pool[0].n, ASYNC_EOF);
    assert_int_equal(async_server_active_count(&srv), 0);
    assert_true(async_stream_is_closed(&last_pool[0].conn.stream));
    assert_int_equal(srv.accepted, 1);
}

/* ---- read_exactly across dribbled writes; EOF with a partial count ---- */
struct dribble {
    async_task task, reader;
    async_co co, rco;
    async_stream a, b;
    unsigned char in[3000];
    int rc1, rc2, i;
    size_t partial;
};

static int dribble_reader(async_loop *L, async_task *self)
{
    struct dribble *f = async_frame(self, struct dribble, reader);
    async_begin(L, &f->rco);
    async_await_rc(f->rc1, async_stream_read_exactly(L, &f->b, f->in, 2000));
    async_await_rc(f->rc2, async_stream_read_exactly(L, &f->b, f->in + 2000, 1000));
    f->partial = async_stream_partial(&f->b);
    async_end;
}

static int dribble_fn(async_loop *L, async_task *self)
{
    struct dribble *f = async_frame(self, struct dribble, task);
    static unsigned char out[2500];
    async_begin(L, &f->co);
    io_fill(out, sizeof out, 0);
    async_spawn(L, &f->reader, dribble_reader);
    for (f->i = 0; f->i < 25; f->i++) { /* 100 bytes at a time */
        async_await(async_stream_write(L, &f->a, out + f->i * 100, 100));
        async_await(async_sleep(L, 1));
    }
    async_await(async_stream_shutdown(&f->a));
    async_await(async_join(L, &f->reader));
    async_end;
}

static void read_exactly_collects_pieces_and_reports_eof(void **state)
{
    static struct dribble f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, NULL, 0), 0);
    assert_int_equal(io_run(&f.task, dribble_fn), 0);
    assert_int_equal(f.rc1, 2000);
    assert_int_equal(f.rc2, ASYNC_EOF);
    assert_int_equal(f.partial, 500);
    assert_true(io_check(f.in, 2500, 0));
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* ---- async_stream_partial counts the bytes of the read_exactly that
 * was just interrupted, not those of an earlier one: a call whose
 * deadline has already passed never starts, and then partial must not
 * report a finished call's bytes as if they had just arrived in buf ---- */
struct stale {
    async_task task;
    async_co co;
    async_stream a, b;
    async_timeout to;
    unsigned char in[16];
    int rc[4];
    size_t partial[4];
};

static int stale_fn(async_loop *L, async_task *self)
{
    struct stale *f = async_frame(self, struct stale, task);
    async_begin(L, &f->co);
    async_await(async_stream_write(L, &f->a, "abcdefgh", 8));
    async_await_rc(f->rc[0], async_stream_read_exactly(L, &f->b, f->in, 8));
    f->partial[0] = async_stream_partial(&f->b);
    /* deadline already passed: the call does not start */
    async_await_for(&f->to, 0, f->rc[1], async_stream_read_exactly(L, &f->b, f->in, 8));
    f->partial[1] = async_stream_partial(&f->b);
    /* interrupted with 3 of 8 bytes in buf */
    async_await(async_stream_write(L, &f->a, "xyz", 3));
    async_await_for(&f->to, ASYNC_MS(5), f->rc[2], async_stream_read_exactly(L, &f->b, f->in, 8));
    f->partial[2] = async_stream_partial(&f->b);
    /* another read starts: the old count is no longer about buf */
    async_await(async_stream_write(L, &f->a, "!", 1));
    async_await_rc(f->rc[3], async_stream_read(L, &f->b, f->in + 8, 8));
    f->partial[3] = async_stream_partial(&f->b);
    async_end;
}

static void partial_counts_only_the_interrupted_call(void **state)
{
    static struct stale f;
    int sv[2];
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(async_stream_init(&f.a, sv[0], NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, sv[1], NULL, 0), 0);
    assert_int_equal(io_run(&f.task, stale_fn), 0);
    assert_int_equal(f.rc[0], 8);
    assert_int_equal(f.partial[0], 0);
    assert_int_equal(f.rc[1], ASYNC_ETIMEDOUT);
    assert_int_equal(f.partial[1], 0); /* was 8: the first call's bytes */
    assert_int_equal(f.rc[2], ASYNC_ETIMEDOUT);
    assert_int_equal(f.partial[2], 3);
    assert_memory_equal(f.in, "xyz", 3);
    assert_int_equal(f.rc[3], 1);
    assert_int_equal(f.partial[3], 0);
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* ---- read_until: lines, split delimiters, too long, EOF ---- */
struct lines {
    async_task task, writer;
    async_co co, wco;
    async_stream a, b;
    unsigned char rbuf[64];
    char line[64];
    int n[8];
    char got[8][64];
};

static int lines_writer(async_loop *L, async_task *self)
{
    struct lines *f = async_frame(self, struct lines, writer);
    async_begin(L, &f->wco);
    async_await(async_stream_write(L, &f->a, "one\r\ntw", 7));
    async_await(async_sleep(L, 2));
    async_await(async_stream_write(L, &f->a, "o\r", 2)); /* delimiter split */
    async_await(async_sleep(L, 2));
    async_await(async_stream_write(L, &f->a, "\nthis line is longer than forty bytes, no end", 45));
    async_await(async_stream_shutdown(&f->a));
    async_end;
}

static int lines_fn(async_loop *L, async_task *self)
{
    struct lines *f = async_frame(self, struct lines, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->writer, lines_writer);
    async_await_rc(f->n[0], async_stream_read_until(L, &f->b, "\r\n", 2, f->got[0], 64));
    async_await_rc(f->n[1], async_stream_read_until(L, &f->b, "\r\n", 2, f->got[1], 64));
    /* A line over the limit (40 here): ETOOLONG, nothing consumed... */
    async_await_rc(f->n[2], async_stream_read_until(L, &f->b, "\r\n", 2, f->got[2], 40));
    /* ...so a plain read gets the same bytes back, then EOF. */
    async_await_rc(f->n[3], async_stream_read(L, &f->b, f->got[3], 64));
    async_await_rc(f->n[4], async_stream_read_until(L, &f->b, "\n", 1, f->got[4], 64));
    async_await(async_join(L, &f->writer));
    async_end;
}

static void read_until_handles_split_long_and_eof(void **state)
{
    static struct lines f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, f.rbuf, sizeof f.rbuf), 0);
    assert_int_equal(io_run(&f.task, lines_fn), 0);
    assert_int_equal(f.n[0], 5);
    assert_memory_equal(f.got[0], "one\r\n", 5);
    assert_int_equal(f.n[1], 5);
    assert_memory_equal(f.got[1], "two\r\n", 5);
    assert_int_equal(f.n[2], ASYNC_ETOOLONG);
    assert_true(f.n[3] >= 40); /* the buffered long line, not lost */
    assert_memory_equal(f.got[3], "this line is longer than forty bytes", 36);
    assert_true(f.n[4] == ASYNC_EOF || f.n[4] == ASYNC_ETOOLONG);
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* The memchr search: many candidate first bytes that are not the
 * delimiter, a delimiter split across two writes, a one-byte delimiter
 * at the very end of the buffered data. */
struct scan {
    async_task task, wtask;
    async_co co, wco;
    async_stream a, b;
    unsigned char rbuf[64];
    char got[3][64];
    int n[3];
};

static int scan_writer(async_loop *L, async_task *self)
{
    struct scan *f = async_frame(self, struct scan, wtask);
    async_begin(L, &f->wco);
    async_await(async_stream_write(L, &f->a, "a\rb\rc\r\r\rd\r", 10));
    async_await(async_sleep(L, ASYNC_MS(20))); /* the reader parks on "...d\r" */
    async_await(async_stream_write(L, &f->a, "\n\r\r\r\n;", 6));
    async_end;
}

static int scan_fn(async_loop *L, async_task *self)
{
    struct scan *f = async_frame(self, struct scan, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->wtask, scan_writer);
    async_await_val(f->n[0], async_stream_read_until(L, &f->b, "\r\n", 2, f->got[0], 64));
    async_await_val(f->n[1], async_stream_read_until(L, &f->b, "\r\n", 2, f->got[1], 64));
    async_await_val(f->n[2], async_stream_read_until(L, &f->b, ";", 1, f->got[2], 64));
    async_await(async_join(L, &f->wtask));
    async_end;
}

static void read_until_skips_false_candidates(void **state)
{
    static struct scan f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, f.rbuf, sizeof f.rbuf), 0);
    assert_int_equal(io_run(&f.task, scan_fn), 0);
    assert_int_equal(f.n[0], 11);
    assert_memory_equal(f.got[0], "a\rb\rc\r\r\rd\r\n", 11);
    assert_int_equal(f.n[1], 4);
    assert_memory_equal(f.got[1], "\r\r\r\n", 4);
    assert_int_equal(f.n[2], 1);
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* sendfile: a head, then a file's range, over a socket (sendfile(2)) and
 * over a pipe (pread and write); a file shorter than promised ends with
 * ASYNC_EOF after what it had; bad arguments are refused. */
struct sf {
    async_task task;
    async_co co;
    async_stream out;
    int fd, rc[4];
    size_t len;
};

static int sf_fn(async_loop *L, async_task *self)
{
    struct sf *f = async_frame(self, struct sf, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc[0], async_stream_sendfile(L, &f->out, "HEAD:", 5, f->fd, 100, f->len,
                                                   NULL, 0));
    async_await_rc(f->rc[1], async_stream_sendfile(L, &f->out, NULL, 0, f->fd, 90000, 20000,
                                                   NULL, 0));
    f->rc[2] = async_stream_sendfile(L, &f->out, "x", 1, f->fd, -1, 1, NULL, 0);
    f->rc[3] = async_stream_sendfile(L, &f->out, NULL, 1, f->fd, 0, 1, NULL, 0);
    async_end;
}

static void sendfile_over_socket_and_pipe(void **state)
{
    static struct sf f;
    static unsigned char file[100000], got[200000];
    int fd = memfd_create("sendfile-test", 0), kinds, pair[2];
    size_t n;
    ssize_t r;
    (void)state;
    io_fill(file, sizeof file, 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, file, sizeof file), (ssize_t)sizeof file);
    for (kinds = 0; kinds < 2; kinds++) {
        memset(&f, 0, sizeof f);
        f.fd = fd;
        f.len = 60000;
        if (kinds == 0)
            io_tcp_pair(&pair[0], &pair[1]);
        else
            assert_int_equal(pipe(pair), 0);
        /* the reader's side drains in a thread-free way: a big enough
         * socket buffer / pipe for what is sent (80 KiB) */
        if (kinds == 1)
            assert_true(fcntl(pair[0], F_SETPIPE_SZ, 1 << 20) > 0);
        assert_int_equal(async_stream_init(&f.out, kinds == 0 ? pair[0] : pair[1], NULL, 0), 0);
        if (kinds == 0) {
            int big = 1 << 20;
            setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        }
        assert_int_equal(io_run(&f.task, sf_fn), 0);
        assert_int_equal(f.rc[0], 5 + 60000);
        assert_int_equal(f.rc[1], ASYNC_EOF); /* 10000 of the 20000 existed */
        assert_int_equal(f.rc[2], ASYNC_EINVAL);
        assert_int_equal(f.rc[3], ASYNC_EINVAL);
        async_stream_close(TLOOP, &f.out);
        for (n = 0; (r = read(kinds == 0 ? pair[1] : pair[0], got + n, sizeof got - n)) > 0;)
            n += (size_t)r;
        assert_int_equal(n, 5 + 60000 + 10000);
        assert_memory_equal(got, "HEAD:", 5);
        assert_true(io_check(got + 5, 60000, 100));
        assert_true(io_check(got + 5 + 60000, 10000, 90000));
        close(kinds == 0 ? pair[1] : pair[0]);
    }
    close(fd);
}

/* Two servers on one port with ASYNC_LISTEN_REUSEPORT; without it the
 * second is refused; a Unix socket cannot have it. */
static void reuseport_listeners_share_a_port(void **state)
{
    static async_server a, b, c;
    async_addr addr;
    (void)state;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    assert_int_equal(async_addr_ip(&addr, "127.0.0.1", 0), 0);
    assert_int_equal(async_server_listen_flags(&a, &addr, 16, ASYNC_LISTEN_REUSEPORT), 0);
    assert_int_equal(async_server_listen_flags(&b, &a.addr, 16, ASYNC_LISTEN_REUSEPORT), 0);
    assert_int_equal(async_addr_port(&a.addr), async_addr_port(&b.addr));
    assert_int_equal(async_server_listen(&c, &a.addr, 16), ASYNC_EADDRINUSE);
    assert_int_equal(async_server_listen_flags(&c, &a.addr, 16, 0x80), ASYNC_EINVAL);
    assert_int_equal(async_addr_unix(&addr, "/tmp/async-test-reuseport.sock"), 0);
    assert_int_equal(async_server_listen_flags(&c, &addr, 16, ASYNC_LISTEN_REUSEPORT),
                     ASYNC_EINVAL);
    async_server_close(TLOOP, &a);
    async_server_close(TLOOP, &b);
}

/* A search interrupted by a timeout does not hide data from the next
 * search, even for another delimiter. */
struct resume {
    async_task task;
    async_co co;
    async_stream a, b;
    async_timeout to;
    unsigned char rbuf[32];
    char got[32];
    int rc1, rc2;
};

static int resume_fn(async_loop *L, async_task *self)
{
    struct resume *f = async_frame(self, struct resume, task);
    async_begin(L, &f->co);
    async_await(async_stream_write(L, &f->a, "abc;", 4));
    async_await_for(&f->to, ASYNC_MS(20), f->rc1,
                    async_stream_read_until(L, &f->b, "\n", 1, f->got, sizeof f->got));
    async_await_for(&f->to, ASYNC_SEC(20), f->rc2,
                    async_stream_read_until(L, &f->b, ";", 1, f->got, sizeof f->got));
    async_end;
}

static void read_until_after_timeout_sees_buffered_data(void **state)
{
    static struct resume f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    async_stream_init(&f.a, a, NULL, 0);
    async_stream_init(&f.b, b, f.rbuf, sizeof f.rbuf);
    assert_int_equal(io_run(&f.task, resume_fn), 0);
    assert_int_equal(f.rc1, ASYNC_ETIMEDOUT);
    assert_int_equal(f.rc2, 4);
    assert_memory_equal(f.got, "abc;", 4);
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* ---- delivered reads: the watcher's callback reads for a parked reader
 * (src/stream.c); what an interruption before or after that leaves ---- */
enum { DLV_READ, DLV_EXACTLY, DLV_UNTIL, DLV_PARKED_CANCEL, DLV_SPURIOUS };
struct dlv {
    async_task task, reader;
    async_co co, rco;
    async_stream s;
    int peer, mode, waiting_after_spurious;
    int rc1, rc2, rc3, rc4; /* the reader's read and sleep; main's join and read */
    size_t part, got;       /* got: what main's reads brought */
    char buf[16], line[16], rbuf[64];
};

static int dlv_reader(async_loop *L, async_task *self)
{
    struct dlv *f = async_frame(self, struct dlv, reader);
    async_begin(L, &f->rco);
    if (f->mode == DLV_EXACTLY) {
        async_await_rc(f->rc1, async_stream_read_exactly(L, &f->s, f->buf, 8));
        f->part = async_stream_partial(&f->s);
    } else if (f->mode == DLV_UNTIL) {
        async_await_rc(f->rc1, async_stream_read_until(L, &f->s, "\n", 1, f->buf, sizeof f->buf));
    } else {
        async_await_rc(f->rc1, async_stream_read(L, &f->s, f->buf, 8));
    }
    async_await_rc(f->rc2, async_sleep(L, 1)); /* the interruption, if any, shows here */
    async_end;
}

/* Make the read watcher's callback run now, as libev would for a
 * readable fd: the delivery happens before anything else runs. */
static void dlv_fire(struct dlv *f)
{
    ev_invoke(TE.ev, &f->s.rio.w, EV_READ);
}

static int dlv_fn(async_loop *L, async_task *self)
{
    struct dlv *f = async_frame(self, struct dlv, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->reader, dlv_reader);
    async_await_until(async_task_state(&f->reader) == ASYNC_TASK_WAITING);
    if (f->mode == DLV_PARKED_CANCEL) {
        /* cancelled while parked: nothing read, the bytes that come later
         * are the next read's */
        async_cancel(L, &f->reader);
        async_await_rc(f->rc3, async_join(L, &f->reader));
        assert_int_equal(write(f->peer, "abc", 3), 3);
        /* a read may be short (under test/faults/syscalls' soft faults,
         * a transfer may be cut): the bytes, not the read sizes, count */
        for (f->got = 0; f->got < 3; f->got += (size_t)f->rc4) {
            async_await_rc(f->rc4, async_stream_read(L, &f->s, f->line + f->got,
                                                     sizeof f->line - f->got));
            if (f->rc4 <= 0)
                break;
        }
        async_return(0);
    }
    if (f->mode == DLV_SPURIOUS) {
        dlv_fire(f); /* readable, yet nothing to read: it stays parked */
        f->waiting_after_spurious = async_task_state(&f->reader) == ASYNC_TASK_WAITING;
        assert_int_equal(write(f->peer, "hello", 5), 5);
        async_await(async_join(L, &f->reader));
        async_return(0);
    }
    assert_int_equal(write(f->peer, f->mode == DLV_UNTIL ? "li" : "hello", f->mode == DLV_UNTIL ? 2 : 5),
                     f->mode == DLV_UNTIL ? 2 : 5);
    /* delivered: the reader is ready with the count (again while a soft
     * fault, EAGAIN, leaves it parked) */
    for (int i = 0; i < 100 && async_task_state(&f->reader) == ASYNC_TASK_WAITING; i++)
        dlv_fire(f);
    async_cancel(L, &f->reader); /* ... and cancelled before it runs */
    async_await_rc(f->rc3, async_join(L, &f->reader));
    if (f->mode == DLV_UNTIL) { /* the two bytes stayed in the buffer */
        assert_int_equal(write(f->peer, "ne\n", 3), 3);
        async_await_rc(f->rc4, async_stream_read_until(L, &f->s, "\n", 1, f->line, sizeof f->line));
    }
    async_end;
}

static void dlv_run(struct dlv *f, int mode)
{
    int a;
    memset(f, 0, sizeof *f);
    f->mode = mode;
    io_tcp_pair(&a, &f->peer);
    assert_int_equal(async_stream_init(&f->s, a, f->rbuf, sizeof f->rbuf), 0);
    assert_int_equal(io_run(&f->task, dlv_fn), 0);
}

static void delivered_read_survives_a_later_cancel(void **state)
{
    static struct dlv f;
    (void)state;
    /* read: the delivered count is the await's result; the cancellation
     * is reported by the next await */
    dlv_run(&f, DLV_READ);
    assert_in_range(f.rc1, 1, 5); /* (a read may be short) */
    assert_memory_equal(f.buf, "hello", (size_t)f.rc1);
    assert_int_equal(f.rc2, ASYNC_ECANCELED);
    assert_int_equal(f.rc3, 0); /* the reader handled it */
    async_stream_close(TLOOP, &f.s);
    close(f.peer);
    /* read_exactly: the delivered bytes are counted by partial() */
    dlv_run(&f, DLV_EXACTLY);
    assert_int_equal(f.rc1, ASYNC_ECANCELED);
    assert_in_range(f.part, 1, 5); /* (a read may be short) */
    assert_memory_equal(f.buf, "hello", f.part);
    async_stream_close(TLOOP, &f.s);
    close(f.peer);
    /* read_until: delivered into the stream's buffer, where the next
     * read_until finds them */
    dlv_run(&f, DLV_UNTIL);
    assert_int_equal(f.rc1, ASYNC_ECANCELED);
    assert_int_equal(f.rc4, 5);
    assert_memory_equal(f.line, "line\n", 5);
    async_stream_close(TLOOP, &f.s);
    close(f.peer);
}

static void parked_read_cancelled_reads_nothing(void **state)
{
    static struct dlv f;
    static const char zero[8];
    (void)state;
    dlv_run(&f, DLV_PARKED_CANCEL);
    assert_int_equal(f.rc1, ASYNC_ECANCELED);
    assert_int_equal(f.rc2, ASYNC_ECANCELED);
    assert_memory_equal(f.buf, zero, 8); /* its buffer was never written */
    assert_true(f.rc4 > 0);
    assert_int_equal(f.got, 3);
    assert_memory_equal(f.line, "abc", 3);
    async_stream_close(TLOOP, &f.s);
    close(f.peer);
    /* readiness without data: still parked, then the data comes */
    dlv_run(&f, DLV_SPURIOUS);
    assert_true(f.waiting_after_spurious);
    assert_in_range(f.rc1, 1, 5); /* (a read may be short) */
    assert_int_equal(f.rc2, 0);
    assert_memory_equal(f.buf, "hello", (size_t)f.rc1);
    async_stream_close(TLOOP, &f.s);
    close(f.peer);
}

/* ---- a write's length past INT_MAX is refused, whatever its value:
 * the inline write's "not sent" answers (-2, -3) are never taken for a
 * complete write of that many bytes ---- */
struct hugew {
    async_task task;
    async_co co;
    async_stream a;
    int rc[4];
};

static int hugew_fn(async_loop *L, async_task *self)
{
    struct hugew *f = async_frame(self, struct hugew, task);
    static const char x[1] = {'x'};
    async_begin(L, &f->co);
    f->rc[0] = async_stream_write(L, &f->a, x, (size_t)INT_MAX + 1);
    f->rc[1] = async_stream_write(L, &f->a, x, (size_t)-2);
    f->rc[2] = async_stream_write(L, &f->a, x, (size_t)-3);
    f->rc[3] = async_stream_write(L, &f->a, x, SIZE_MAX);
    async_end;
}

static void write_refuses_lengths_past_int_max(void **state)
{
    static struct hugew f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    async_stream_init(&f.a, a, NULL, 0);
    assert_int_equal(io_run(&f.task, hugew_fn), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(f.rc[i], ASYNC_EINVAL);
    assert_int_equal(async_stream_written(&f.a), 0);
    async_stream_close(TLOOP, &f.a);
    close(b);
}

/* ---- reset by peer, refused, write to a closed peer ---- */
struct errs {
    async_task task;
    async_co co;
    async_stream s, t;
    async_addr dead;
    int peer, rc_read, rc_write, rc_refused;
    char buf[16];
};

static int errs_fn(async_loop *L, async_task *self)
{
    struct errs *f = async_frame(self, struct errs, task);
    struct linger lg = {1, 0};
    async_begin(L, &f->co);
    /* The peer aborts (RST): the blocked read reports a reset. */
    setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(f->peer);
    async_await_rc(f->rc_read, async_stream_read(L, &f->s, f->buf, sizeof f->buf));
    async_await_rc(f->rc_write, async_stream_write(L, &f->s, "x", 1));
    async_await_rc(f->rc_refused, async_stream_connect(L, &f->t, &f->dead, NULL, 0));
    async_end;
}

static void reset_and_refused_have_their_codes(void **state)
{
    static struct errs f;
    int a, b, l;
    async_addr any;
    socklen_t len;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    f.peer = b;
    assert_int_equal(async_stream_init(&f.s, a, NULL, 0), 0);
    /* A port nobody listens on: bind one, note it, close it. */
    assert_int_equal(async_addr_ip(&any, "127.0.0.1", 0), 0);
    l = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&any.sa, any.len), 0);
    len = sizeof f.dead.sa;
    getsockname(l, (struct sockaddr *)&f.dead.sa, &len);
    f.dead.len = len;
    close(l);
    assert_int_equal(io_run(&f.task, errs_fn), 0);
    assert_int_equal(f.rc_read, ASYNC_ECONNRESET);
    assert_true(f.rc_write == ASYNC_EPIPE || f.rc_write == ASYNC_ECONNRESET);
    assert_int_equal(f.rc_refused, ASYNC_ECONNREFUSED);
    assert_true(async_stream_is_closed(&f.t));
    async_stream_close(TLOOP, &f.s);
}

/* ---- timeouts: a read times out and the stream stays usable ---- */
struct tmo {
    async_task task, late;
    async_co co, lco;
    async_stream a, b;
    async_timeout to;
    int rc1, rc2;
    size_t got; /* what the reads after the timeout brought */
    char buf[8];
    async_tick t0, t1, t2;
};

static int late_writer(async_loop *L, async_task *self)
{
    struct tmo *f = async_frame(self, struct tmo, late);
    async_begin(L, &f->lco);
    async_await(async_sleep(L, ASYNC_MS(30)));
    async_await(async_stream_write(L, &f->a, "late", 4));
    async_end;
}

static int tmo_fn(async_loop *L, async_task *self)
{
    struct tmo *f = async_frame(self, struct tmo, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->late, late_writer);
    f->t0 = async_now(L);
    async_await_for(&f->to, ASYNC_MS(5), f->rc1, async_stream_read(L, &f->b, f->buf, 8));
    f->t1 = async_now(L);
    /* a read may be short: the bytes, not the read sizes, count */
    for (f->got = 0; f->got < 4; f->got += (size_t)f->rc2) {
        async_await_for(&f->to, ASYNC_SEC(20), f->rc2,
                        async_stream_read(L, &f->b, f->buf + f->got, sizeof f->buf - f->got));
        if (f->rc2 <= 0)
            break;
    }
    f->t2 = async_now(L);
    async_await(async_join(L, &f->late));
    async_end;
}

static void read_timeout_leaves_stream_usable(void **state)
{
    static struct tmo f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    async_stream_init(&f.a, a, NULL, 0);
    async_stream_init(&f.b, b, NULL, 0);
    assert_int_equal(io_run(&f.task, tmo_fn), 0);
    assert_int_equal(f.rc1, ASYNC_ETIMEDOUT);
    assert_true(f.rc2 > 0);
    assert_int_equal(f.got, 4);
    assert_memory_equal(f.buf, "late", 4);
    /* virtual clock: the deadline at 5 ms exactly, the data at 30 */
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(5));
    assert_int_equal(f.t2 - f.t0, ASYNC_MS(30));
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* A connect that cannot complete (the listener's backlog is full, so the
 * kernel drops our SYN) is cut by its deadline and leaves no fd behind. */
struct ctmo {
    async_task task;
    async_co co;
    async_stream s;
    async_addr addr;
    async_timeout to;
    int rc;
    async_tick t0, t1;
};

static int ctmo_fn(async_loop *L, async_task *self)
{
    struct ctmo *f = async_frame(self, struct ctmo, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_await_for(&f->to, ASYNC_MS(200), f->rc, async_stream_connect(L, &f->s, &f->addr, NULL, 0));
    f->t1 = async_now(L);
    async_end;
}

/* Connections waiting in a listener's accept queue (Linux: TCP_INFO's
 * tcpi_unacked on a listening socket). */
static int accept_queue_length(int l)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -1;
    return (int)ti.tcpi_unacked;
}

static void connect_timeout(void **state)
{
    static struct ctmo f;
    async_addr any;
    socklen_t len;
    int l, fill[4], i, nfill = 0, fd_before;
    (void)state;
    memset(&f, 0, sizeof f);
    async_addr_ip(&any, "127.0.0.1", 0);
    l = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&any.sa, any.len), 0);
    assert_int_equal(listen(l, 0), 0);
    len = sizeof f.addr.sa;
    getsockname(l, (struct sockaddr *)&f.addr.sa, &len);
    f.addr.len = len;
    /* Fill the accept queue with connections nobody accepts. */
    for (i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&f.addr.sa, f.addr.len);
        nfill++;
    }
    /* Until the kernel has completed the first one into the accept
     * queue (bounded: 5 s), so that ours finds it full. */
    for (i = 0; i < 5000 && accept_queue_length(l) < 1; i++)
        usleep(1000);
    assert_true(accept_queue_length(l) >= 1);
    fd_before = dup(0);
    close(fd_before);
    assert_int_equal(io_run(&f.task, ctmo_fn), 0);
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(200)); /* virtual clock: exact */
    assert_true(async_stream_is_closed(&f.s));
    i = dup(0); /* the half-open socket's fd was released */
    assert_int_equal(i, fd_before);
    close(i);
    for (i = 0; i < nfill; i++)
        close(fill[i]);
    close(l);
}

/* ---- close wakes a blocked reader; ops on a closed stream ---- */
struct closer {
    async_task task, reader;
    async_co co, rco;
    async_stream s;
    int rc, rc_after, rc_busy;
    char buf[4];
};

static int blocked_reader(async_loop *L, async_task *self)
{
    struct closer *f = async_frame(self, struct closer, reader);
    async_begin(L, &f->rco);
    async_await_rc(f->rc, async_stream_read(L, &f->s, f->buf, 4));
    async_end;
}

static int closer_fn(async_loop *L, async_task *self)
{
    struct closer *f = async_frame(self, struct closer, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->reader, blocked_reader);
    async_await(async_sleep(L, 1));
    /* A second reader while the first waits: busy. */
    async_await_rc(f->rc_busy, async_stream_read(L, &f->s, f->buf, 4));
    async_await(async_stream_close(L, &f->s));
    async_await(async_join(L, &f->reader));
    async_await_rc(f->rc_after, async_stream_write(L, &f->s, "x", 1));
    async_end;
}

static void close_wakes_reader_and_later_ops_fail(void **state)
{
    static struct closer f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    async_stream_init(&f.s, a, NULL, 0);
    assert_int_equal(io_run(&f.task, closer_fn), 0);
    assert_int_equal(f.rc_busy, ASYNC_EBUSY);
    assert_int_equal(f.rc, ASYNC_ECLOSED);
    assert_int_equal(f.rc_after, ASYNC_ECLOSED);
    assert_int_equal(async_stream_close(TLOOP, &f.s), ASYNC_ECLOSED);
    close(b);
}

/* ---- accept backpressure: a pool of 2 serves the third client only
 * when a slot frees ---- */
struct hold_conn {
    async_conn conn;
    async_co co;
    int n;
    char buf[16];
};
static struct hold_conn hold_pool[2];
static int served;

static int hold_handler(async_loop *L, async_task *self)
{
    struct hold_conn *c = async_frame(self, struct hold_conn, conn.task);
    async_begin(L, &c->co);
    served++;
    for (;;) { /* echo until EOF */
        async_await_rc(c->n, async_stream_read(L, &c->conn.stream, c->buf, sizeof c->buf));
        if (c->n < 0)
            break;
        async_await(async_stream_write(L, &c->conn.stream, c->buf, (size_t)c->n));
    }
    async_end;
}

struct bp {
    async_task task;
    async_co co;
    async_server srv;
    async_stream c[3];
    char buf[3][4];
    int i, rc, served_before_free;
};

static int bp_fn(async_loop *L, async_task *self)
{
    struct bp *f = async_frame(self, struct bp, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 3; f->i++) {
        async_await(async_stream_connect(L, &f->c[f->i], &f->srv.addr, NULL, 0));
        async_await(async_stream_write(L, &f->c[f->i], "ping", 4));
    }
    for (f->i = 0; f->i < 2; f->i++)
        async_await(async_stream_read_exactly(L, &f->c[f->i], f->buf[f->i], 4));
    /* The third client is connected (kernel backlog) but not served:
     * give the server every chance to take it. */
    async_await(async_sleep(L, ASYNC_MS(50)));
    f->served_before_free = served;
    assert_int_equal(f->srv.accepted, 2);
    assert_int_equal(async_server_active_count(&f->srv), 2);
    async_stream_close(L, &f->c[0]); /* frees a slot */
    async_await(async_stream_read_exactly(L, &f->c[2], f->buf[2], 4));
    async_stream_close(L, &f->c[1]);
    async_stream_close(L, &f->c[2]);
    async_end;
}

static void full_pool_stops_accepting_until_a_slot_frees(void **state)
{
    static struct bp f;
    (void)state;
    memset(&f, 0, sizeof f);
    memset(hold_pool, 0, sizeof hold_pool);
    served = 0;
    io_listen(&f.srv, AF_INET);
    assert_int_equal(async_server_start(TLOOP, &f.srv, hold_handler, hold_pool,
                                        sizeof hold_pool[0], offsetof(struct hold_conn, conn), 2),
                     0);
    assert_int_equal(io_run(&f.task, bp_fn), 0);
    assert_int_equal(f.served_before_free, 2);
    assert_int_equal(served, 3);
    assert_memory_equal(f.buf[2], "ping", 4);
    async_server_close(TLOOP, &f.srv);
    assert_int_equal(io_run(NULL, NULL), 0); /* handlers see EOF and end */
    assert_int_equal(async_server_active_count(&f.srv), 0);
}

/* ---- many clients through a small pool: frames are recycled ---- */
#define MANY 100
struct many_client {
    async_task task;
    async_co co;
    async_stream s;
    const async_addr *addr;
    unsigned char out[700], in[700];
    int i;
};
static struct many_client many[MANY];
static struct echo_conn small_pool[8];

static int many_fn(async_loop *L, async_task *self)
{
    struct many_client *c = async_frame(self, struct many_client, task);
    async_begin(L, &c->co);
    async_await(async_stream_connect(L, &c->s, c->addr, NULL, 0));
    for (c->i = 0; c->i < 3; c->i++) {
        io_fill(c->out, sizeof c->out, (size_t)(c - many) * 7 + (size_t)c->i);
        async_await(async_stream_write(L, &c->s, c->out, sizeof c->out));
        async_await(async_stream_read_exactly(L, &c->s, c->in, sizeof c->in));
        if (memcmp(c->in, c->out, sizeof c->in) != 0)
            async_return(ASYNC_EPROTO);
    }
    async_finally;
    if (!async_stream_is_closed(&c->s))
        async_stream_close(L, &c->s);
    async_end;
}

static void many_clients_share_a_small_pool(void **state)
{
    static async_server srv;
    static async_group g;
    static async_task *slots[MANY];
    async_addr a;
    int i;
    (void)state;
    memset(many, 0, sizeof many);
    memset(small_pool, 0, sizeof small_pool);
    async_addr_ip(&a, "127.0.0.1", 0);
    assert_int_equal(async_server_listen(&srv, &a, 256), 0);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, small_pool, sizeof small_pool[0],
                                        offsetof(struct echo_conn, conn), 8),
                     0);
    async_group_init(&g, slots, MANY, 0);
    for (i = 0; i < MANY; i++) {
        many[i].addr = &srv.addr;
        assert_int_equal(async_group_spawn(TLOOP, &g, &many[i].task, many_fn), 0);
    }
    /* Run until every client is done (the server task lives on). */
    while (async_group_running_count(&g) > 0)
        ev_run(TE.ev, EVRUN_ONCE);
    for (i = 0; i < MANY; i++)
        assert_int_equal(async_task_result(&many[i].task), 0);
    assert_int_equal(srv.accepted, MANY);
    async_server_close(TLOOP, &srv);
    assert_int_equal(io_run(NULL, NULL), 0);
    assert_int_equal(async_server_active_count(&srv), 0);
}

/* ---- the pool is touched only as connections need frames ---- */
struct seq {
    async_task task;
    async_co co;
    async_server *srv;
    async_stream s;
    char buf[4];
    int i, rc[3];
};

/* Clients one after another, each gone before the next comes: one frame
 * serves them all, given back and taken again. */
static int seq_fn(async_loop *L, async_task *self)
{
    struct seq *f = async_frame(self, struct seq, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 3; f->i++) {
        async_await(async_stream_connect(L, &f->s, &f->srv->addr, NULL, 0));
        async_await(async_stream_write(L, &f->s, "seq!", 4));
        async_await_rc(f->rc[f->i], async_stream_read_exactly(L, &f->s, f->buf, 4));
        async_stream_close(L, &f->s);
        while (async_server_active_count(f->srv) > 0) /* the handler sees EOF */
            async_await(async_sleep(L, ASYNC_MS(1)));
    }
    async_end;
}

static bool frame_untouched(const struct echo_conn *c)
{
    const unsigned char *p = (const unsigned char *)c;
    size_t i;
    for (i = 0; i < sizeof *c; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void server_touches_frames_only_as_connections_need_them(void **state)
{
    static async_server srv;
    static struct seq f;
    int i;
    (void)state;
    memset(&f, 0, sizeof f);
    memset(echo_pool, 0, sizeof echo_pool);
    io_listen(&srv, AF_INET);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 8),
                     0);
    for (i = 0; i < 8; i++) /* starting touches no frame */
        assert_true(frame_untouched(&echo_pool[i]));
    f.srv = &srv;
    assert_int_equal(io_run(&f.task, seq_fn), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(f.rc[i], 4);
    assert_int_equal(srv.accepted, 3);
    assert_false(frame_untouched(&echo_pool[0]));
    for (i = 1; i < 8; i++)
        assert_true(frame_untouched(&echo_pool[i]));
    async_server_close(TLOOP, &srv);
    assert_int_equal(io_run(NULL, NULL), 0);
}

/* A frame whose task is running when its turn comes (the pool shared by
 * mistake) is skipped: the connection goes to the next frame. */
static int busy_frame_fn(async_loop *L, async_task *self)
{
    static async_event never;
    async_co *co = &async_frame(self, struct echo_conn, conn.task)->co;
    async_begin(L, co);
    async_await(async_event_wait(L, &never));
    async_end;
}

static void server_skips_a_frame_still_in_use(void **state)
{
    static async_server srv;
    static struct seq f;
    (void)state;
    memset(&f, 0, sizeof f);
    memset(echo_pool, 0, sizeof echo_pool);
    io_listen(&srv, AF_INET);
    assert_int_equal(async_spawn(TLOOP, &echo_pool[0].conn.task, busy_frame_fn), 0);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 2),
                     0);
    f.srv = &srv;
    /* run_until_complete: the busy frame and the server stay for the checks */
    assert_int_equal(async_ev_run_until_complete(&TE, &f.task, seq_fn), 0);
    assert_true(f.rc[0] == ASYNC_EOF || f.rc[0] == ASYNC_ECONNRESET); /* dropped */
    assert_int_equal(f.rc[1], 4); /* then frame 1 serves */
    assert_int_equal(f.rc[2], 4);
    assert_int_equal(srv.last_error, ASYNC_EBUSY);
    assert_int_equal(srv.accepted, 2);
    assert_int_equal(async_task_state(&echo_pool[0].conn.task), ASYNC_TASK_WAITING);
    async_cancel(TLOOP, &echo_pool[0].conn.task);
    async_server_close(TLOOP, &srv);
    assert_int_equal(io_run(NULL, NULL), 0);
}

/* ---- IPv6 and Unix sockets through the same server code ---- */
struct fam {
    async_task task;
    async_co co;
    async_server srv;
    async_stream s;
    char buf[6];
};

static int fam_fn(async_loop *L, async_task *self)
{
    struct fam *f = async_frame(self, struct fam, task);
    async_begin(L, &f->co);
    async_await(async_stream_connect(L, &f->s, &f->srv.addr, NULL, 0));
    async_await(async_stream_write(L, &f->s, "hello!", 6));
    async_await(async_stream_read_exactly(L, &f->s, f->buf, 6));
    async_finally;
    async_stream_close(L, &f->s);
    async_server_close(L, &f->srv);
    async_end;
}

static void ipv6_and_unix_sockets(void **state)
{
    static struct fam f;
    async_addr ua;
    char path[64];
    (void)state;

    memset(&f, 0, sizeof f);
    memset(echo_pool, 0, sizeof echo_pool);
    io_listen(&f.srv, AF_INET6);
    async_server_start(TLOOP, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                       offsetof(struct echo_conn, conn), 8);
    assert_int_equal(io_run(&f.task, fam_fn), 0);
    assert_memory_equal(f.buf, "hello!", 6);
    io_run(NULL, NULL);

    memset(&f, 0, sizeof f);
    memset(echo_pool, 0, sizeof echo_pool);
    snprintf(path, sizeof path, "/tmp/async-io-test-%d.sock", (int)getpid());
    assert_int_equal(async_addr_unix(&ua, path), 0);
    assert_int_equal(async_server_listen(&f.srv, &ua, 8), 0);
    async_server_start(TLOOP, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                       offsetof(struct echo_conn, conn), 8);
    assert_int_equal(io_run(&f.task, fam_fn), 0);
    assert_memory_equal(f.buf, "hello!", 6);
    io_run(NULL, NULL);
    assert_int_equal(access(path, F_OK), -1); /* close removed the socket file */
}

/* ---- UDP ---- */
struct udp {
    async_task task, srv;
    async_co co, sco;
    async_udp a, b;
    async_addr to, from;
    char buf[32], sbuf[32];
    int n, sn;
};

static int udp_echo(async_loop *L, async_task *self)
{
    struct udp *f = async_frame(self, struct udp, srv);
    async_begin(L, &f->sco);
    async_await_val(f->sn, async_udp_recv(L, &f->b, f->sbuf, sizeof f->sbuf, &f->from));
    async_await(async_udp_send(L, &f->b, f->sbuf, (size_t)f->sn, &f->from));
    async_end;
}

static int udp_fn(async_loop *L, async_task *self)
{
    struct udp *f = async_frame(self, struct udp, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->srv, udp_echo);
    async_await(async_udp_send(L, &f->a, "datagram", 8, &f->to));
    async_await_val(f->n, async_udp_recv(L, &f->a, f->buf, sizeof f->buf, NULL));
    async_await(async_join(L, &f->srv));
    async_end;
}

static void udp_round_trip(void **state)
{
    static struct udp f;
    async_addr any;
    socklen_t len;
    (void)state;
    memset(&f, 0, sizeof f);
    async_addr_ip(&any, "127.0.0.1", 0);
    assert_int_equal(async_udp_open(&f.a, AF_INET, NULL), 0);
    assert_int_equal(async_udp_open(&f.b, AF_INET, &any), 0);
    len = sizeof f.to.sa;
    getsockname(f.b.fd, (struct sockaddr *)&f.to.sa, &len);
    f.to.len = len;
    assert_int_equal(io_run(&f.task, udp_fn), 0);
    assert_int_equal(f.n, 8);
    assert_memory_equal(f.buf, "datagram", 8);
    assert_int_equal(async_udp_close(TLOOP, &f.a), 0);
    assert_int_equal(async_udp_close(TLOOP, &f.b), 0);
    assert_int_equal(async_udp_close(TLOOP, &f.b), ASYNC_ECLOSED);
    assert_int_equal(async_udp_open(&f.a, AF_UNIX, NULL), ASYNC_EINVAL);
}

/* ---- addresses and misuse ---- */
static void addresses_and_misuse(void **state)
{
    async_addr a;
    async_stream s;
    async_server srv;
    char buf[64], longpath[200];
    (void)state;
    assert_int_equal(async_addr_ip(&a, "127.0.0.1", 80), 0);
    assert_string_equal(async_addr_str(&a, buf, sizeof buf), "127.0.0.1:80");
    assert_int_equal(async_addr_ip(&a, "[::1]", 8080), 0);
    assert_string_equal(async_addr_str(&a, buf, sizeof buf), "[::1]:8080");
    assert_int_equal(async_addr_ip(&a, "localhost", 80), ASYNC_EINVAL);
    assert_int_equal(async_addr_ip(&a, "1.2.3.4", 70000), ASYNC_EINVAL);
    assert_int_equal(async_addr_ip(NULL, "1.2.3.4", 1), ASYNC_EINVAL);
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(async_addr_unix(&a, longpath), ASYNC_ETOOLONG);
    assert_int_equal(async_addr_unix(&a, ""), ASYNC_EINVAL);

    assert_int_equal(async_stream_init(NULL, 0, NULL, 0), ASYNC_EINVAL);
    assert_int_equal(async_stream_init(&s, -1, NULL, 0), ASYNC_EINVAL);
    assert_int_equal(async_stream_init(&s, 0, NULL, 5), ASYNC_EINVAL);
    {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        memset(&s, 0, sizeof s);
        assert_int_equal(async_stream_init(&s, fds[0], NULL, 0), 0);
        assert_int_equal(async_stream_init(&s, fds[1], NULL, 0), ASYNC_EBUSY); /* still open */
        assert_int_equal(async_stream_close(TLOOP, &s), 0);
        assert_int_equal(async_stream_init(&s, fds[1], NULL, 0), 0); /* closed: reusable */
        assert_int_equal(async_stream_close(TLOOP, &s), 0);
    }
    memset(&s, 0, sizeof s); /* never initialised */
    assert_int_equal(async_stream_close(TLOOP, &s), ASYNC_EINVAL);
    assert_int_equal(async_stream_shutdown(&s), ASYNC_EINVAL);
    assert_true(async_stream_is_closed(&s));

    /* An address in use. */
    memset(&srv, 0, sizeof srv);
    io_listen(&srv, AF_INET);
    a = srv.addr;
    {
        async_server srv2;
        memset(&srv2, 0, sizeof srv2);
        assert_int_equal(async_server_listen(&srv2, &a, 1), ASYNC_EADDRINUSE);
    }
    assert_int_equal(async_server_start(TLOOP, &srv, NULL, echo_pool, sizeof echo_pool[0], 0, 1),
                     ASYNC_EINVAL);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, 4, 0, 1),
                     ASYNC_EINVAL); /* stride smaller than an async_conn */
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        0, 0),
                     ASYNC_EINVAL);
    /* Listening but not started: a second listen is refused, and the
     * first socket stays the one bound (no second port, no leaked fd). */
    {
        async_addr any;
        int fd = srv.fd;
        assert_int_equal(async_addr_ip(&any, "127.0.0.1", 0), 0);
        assert_int_equal(async_server_listen(&srv, &any, 1), ASYNC_EBUSY);
        assert_int_equal(srv.fd, fd);
        assert_int_equal(async_addr_port(&srv.addr), async_addr_port(&a));
    }
    async_server_close(TLOOP, &srv);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        0, 1),
                     ASYNC_ECLOSED);
    /* A zeroed server that never listened: refused, not an accept loop on
     * fd 0 retrying for ever. */
    memset(&srv, 0, sizeof srv);
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        0, 1),
                     ASYNC_EINVAL);
    assert_int_equal(async_task_state(&srv.task), ASYNC_TASK_IDLE);
}

/* ---- an interrupted write sent an exact prefix, and says how long ----
 * The peer does not read, so the kernel's buffers fill and the write
 * parks on EAGAIN; a deadline cuts it.  async_stream_written() says how
 * much went out: the peer then finds exactly those bytes, in order, and
 * a second write of the rest completes the stream (the EAGAIN path and
 * the resume after it). */
#define WBIG (4u << 20)
static unsigned char wout[WBIG], win[WBIG];

struct wpart {
    async_task task, reader;
    async_co co, rco;
    async_stream a, b;
    async_timeout to;
    int rc[4];
    size_t written[4], got, prefix;
    int n;
};

static int wpart_reader(async_loop *L, async_task *self)
{
    struct wpart *f = async_frame(self, struct wpart, reader);
    async_begin(L, &f->rco);
    while (f->got < WBIG) {
        async_await_val(f->n, async_stream_read(L, &f->b, win + f->got, WBIG - f->got));
        f->got += (size_t)f->n;
    }
    async_end;
}

static int wpart_fn(async_loop *L, async_task *self)
{
    struct wpart *f = async_frame(self, struct wpart, task);
    async_begin(L, &f->co);
    /* nobody reads yet: the write stalls and its deadline cuts it */
    async_await_for(&f->to, ASYNC_MS(50), f->rc[0], async_stream_write(L, &f->a, wout, WBIG));
    f->written[0] = async_stream_written(&f->a);
    /* a call whose deadline has passed never starts: written() is still
     * the cut one's (it is about buf, which the caller resumes from) */
    async_await_for(&f->to, 0, f->rc[1], async_stream_write(L, &f->a, wout, 1));
    f->written[1] = async_stream_written(&f->a);
    /* now the reader drains, and the rest goes out */
    async_spawn(L, &f->reader, wpart_reader);
    f->prefix = f->written[0];
    async_await_rc(f->rc[2], async_stream_write(L, &f->a, wout + f->prefix, WBIG - f->prefix));
    f->written[2] = async_stream_written(&f->a);
    async_await(async_join(L, &f->reader));
    async_end;
}

static void interrupted_write_sent_an_exact_prefix(void **state)
{
    static struct wpart f;
    int a, b, sv[2], small = 4096;
    (void)state;
    memset(&f, 0, sizeof f);
    io_fill(wout, WBIG, 0);
    /* a Unix pair: its buffers fill and drain without TCP's windows (a
     * small receive window can leave TCP waiting on its persist timer) */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    a = sv[0];
    b = sv[1];
    setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, NULL, 0), 0);
    assert_int_equal(io_run(&f.task, wpart_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_ETIMEDOUT);
    assert_true(f.written[0] > 0 && f.written[0] < WBIG);
    assert_int_equal(f.rc[1], ASYNC_ETIMEDOUT);
    assert_int_equal(f.written[1], f.written[0]);
    assert_int_equal(f.rc[2], (int)(WBIG - f.prefix));
    assert_int_equal(f.written[2], 0); /* completed: nothing left to report */
    assert_int_equal(f.got, WBIG);    /* prefix + rest: nothing lost... */
    assert_true(io_check(win, WBIG, 0)); /* ...nothing doubled or reordered */
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* A cancelled write, and a write that fails half way (the peer resets):
 * both report their prefix. */
struct wcancel {
    async_task task, writer;
    async_co co, wco;
    async_stream a;
    int peer, rc, rc_reset;
    size_t written, written_reset;
};

static int wcancel_writer(async_loop *L, async_task *self)
{
    struct wcancel *f = async_frame(self, struct wcancel, writer);
    async_begin(L, &f->wco);
    async_await_rc(f->rc, async_stream_write(L, &f->a, wout, WBIG));
    f->written = async_stream_written(&f->a);
    async_end;
}

static int wcancel_fn(async_loop *L, async_task *self)
{
    struct wcancel *f = async_frame(self, struct wcancel, task);
    struct linger lg = {1, 0};
    async_begin(L, &f->co);
    async_spawn(L, &f->writer, wcancel_writer);
    async_await(async_sleep(L, ASYNC_MS(20))); /* it fills the buffers and parks */
    async_cancel(L, &f->writer);
    async_await(async_join(L, &f->writer));
    /* the peer aborts: the next write fails, having sent some of its bytes */
    setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(f->peer);
    async_await_rc(f->rc_reset, async_stream_write(L, &f->a, wout, WBIG));
    f->written_reset = async_stream_written(&f->a);
    async_end;
}

static void cancelled_or_reset_write_reports_its_prefix(void **state)
{
    static struct wcancel f;
    int a, b, sv[2], small = 4096;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    a = sv[0];
    b = sv[1];
    setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    f.peer = b;
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(io_run(&f.task, wcancel_fn), 0);
    assert_int_equal(f.rc, ASYNC_ECANCELED);
    assert_true(f.written > 0 && f.written < WBIG);
    assert_true(f.rc_reset == ASYNC_ECONNRESET || f.rc_reset == ASYNC_EPIPE);
    assert_true(f.written_reset < WBIG);
    async_stream_close(TLOOP, &f.a);
}

/* ---- EINTR, EAGAIN and short transfers from the kernel (the shim) are
 * invisible: every byte arrives once, in order ---- */
struct soft {
    async_task task;
    async_co co;
    async_stream a, b;
    unsigned char rbuf[64];
    char line[64], got[4096];
    int rc[8];
};

static int soft_fn(async_loop *L, async_task *self)
{
    struct soft *f = async_frame(self, struct soft, task);
    async_begin(L, &f->co);
    fault_arm(FF_SEND, f->a.fd, 0, 3, EINTR, 0);
    async_await_rc(f->rc[0], async_stream_write(L, &f->a, wout, 1000));
    fault_arm(FF_SEND, f->a.fd, 0, 2, EAGAIN, 0);
    async_await_rc(f->rc[1], async_stream_write(L, &f->a, wout + 1000, 1000));
    fault_arm(FF_SEND, f->a.fd, 0, 5, 0, 7); /* 7 bytes per call */
    async_await_rc(f->rc[2], async_stream_write(L, &f->a, wout + 2000, 96));
    fault_arm(FF_READ, f->b.fd, 0, 2, EINTR, 0);
    async_await_rc(f->rc[3], async_stream_read_exactly(L, &f->b, f->got, 1500));
    fault_arm(FF_READ, f->b.fd, 0, 1, EAGAIN, 0);
    async_await_rc(f->rc[4], async_stream_read_exactly(L, &f->b, f->got + 1500, 300));
    fault_arm(FF_READ, f->b.fd, 0, 4, 0, 3); /* 3 bytes per call */
    async_await_rc(f->rc[5], async_stream_read_exactly(L, &f->b, f->got + 1800, 296));
    async_end;
}

static void eintr_eagain_and_short_transfers_are_invisible(void **state)
{
    static struct soft f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_fill(wout, 4096, 0);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, f.rbuf, sizeof f.rbuf), 0);
    assert_int_equal(io_run(&f.task, soft_fn), 0);
    fault_clear();
    assert_int_equal(f.rc[0], 1000);
    assert_int_equal(f.rc[1], 1000);
    assert_int_equal(f.rc[2], 96);
    assert_int_equal(f.rc[3], 1500);
    assert_int_equal(f.rc[4], 300);
    assert_int_equal(f.rc[5], 296);
    assert_true(io_check((unsigned char *)f.got, 2096, 0));
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* ---- a read buffer given after the stream opened ---- */
struct rbufs {
    async_task task, reader;
    async_co co, rco;
    async_stream a, b;
    unsigned char rbuf[32];
    char got[32];
    int rc[6];
};

static int rbuf_reader(async_loop *L, async_task *self)
{
    struct rbufs *f = async_frame(self, struct rbufs, reader);
    async_begin(L, &f->rco);
    async_await_rc(f->rc[4], async_stream_read(L, &f->b, f->got, 1));
    async_end;
}

static int rbufs_fn(async_loop *L, async_task *self)
{
    struct rbufs *f = async_frame(self, struct rbufs, task);
    async_begin(L, &f->co);
    /* no buffer yet: read_until cannot work */
    async_await_rc(f->rc[0], async_stream_read_until(L, &f->b, "\n", 1, f->got, sizeof f->got));
    f->rc[1] = async_stream_set_rbuf(&f->b, f->rbuf, sizeof f->rbuf);
    async_await(async_stream_write(L, &f->a, "ab\ncd", 5));
    async_await_rc(f->rc[2], async_stream_read_until(L, &f->b, "\n", 1, f->got, sizeof f->got));
    /* "cd" is buffered: the buffer cannot be swapped under it */
    f->rc[3] = async_stream_set_rbuf(&f->b, NULL, 0);
    async_await(async_stream_read(L, &f->b, f->got, sizeof f->got)); /* takes "cd" */
    /* a reader waits: busy too */
    async_spawn(L, &f->reader, rbuf_reader);
    async_await(async_sleep(L, 1));
    f->rc[5] = async_stream_set_rbuf(&f->b, f->rbuf, sizeof f->rbuf);
    async_await(async_stream_write(L, &f->a, "z", 1));
    async_await(async_join(L, &f->reader));
    async_end;
}

static void read_buffer_given_later(void **state)
{
    static struct rbufs f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, NULL, 0), 0);
    assert_int_equal(async_stream_set_rbuf(NULL, f.rbuf, 1), ASYNC_EINVAL);
    assert_int_equal(async_stream_set_rbuf(&f.b, NULL, 5), ASYNC_EINVAL);
    assert_int_equal(io_run(&f.task, rbufs_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_EINVAL);
    assert_int_equal(f.rc[1], 0);
    assert_int_equal(f.rc[2], 3);
    assert_int_equal(f.rc[3], ASYNC_EBUSY);
    assert_int_equal(f.rc[4], 1);
    assert_int_equal(f.rc[5], ASYNC_EBUSY);
    assert_int_equal(async_stream_set_rbuf(&f.b, NULL, 0), 0); /* idle and empty: may go */
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* ---- connect: at once (Unix), refused at once, a full Unix backlog,
 * EINTR, a socket() or fcntl() that fails, SO_ERROR unreadable ---- */
struct conns {
    async_task task, acceptor;
    async_co co, aco;
    async_stream s, t, u;
    async_addr ua, nowhere, tcp;
    int lfd, rc[10], peer[2];
    char buf[4];
};

/* Takes the connection waiting in the full backlog after a while: only
 * then can the client's retried connect get in. */
static int conns_acceptor(async_loop *L, async_task *self)
{
    struct conns *f = async_frame(self, struct conns, acceptor);
    async_begin(L, &f->aco);
    async_await(async_sleep(L, ASYNC_MS(30)));
    f->peer[0] = accept(f->lfd, NULL, NULL);
    async_end;
}

static int conns_fn(async_loop *L, async_task *self)
{
    struct conns *f = async_frame(self, struct conns, task);
    async_begin(L, &f->co);
    /* the first fills the Unix listener's backlog (connected at once) */
    async_await_rc(f->rc[0], async_stream_connect(L, &f->s, &f->ua, NULL, 0));
    /* the second finds it full: it retries until the acceptor makes room,
     * and then really is connected (before: "connected" at once, unusable) */
    async_spawn(L, &f->acceptor, conns_acceptor);
    async_await_rc(f->rc[1], async_stream_connect(L, &f->t, &f->ua, NULL, 0));
    async_await_rc(f->rc[2], async_stream_write(L, &f->t, "late", 4));
    async_await(async_join(L, &f->acceptor));
    /* a path with no listener: refused at once (ENOENT), no fd left */
    async_await_rc(f->rc[3], async_stream_connect(L, &f->u, &f->nowhere, NULL, 0));
    /* EINTR from connect: in progress, completes */
    fault_arm(FF_CONNECT, -1, 0, 1, EINTR, 0);
    async_await_rc(f->rc[4], async_stream_connect(L, &f->u, &f->tcp, NULL, 0));
    async_stream_close(L, &f->u);
    /* out of descriptors */
    fault_arm(FF_SOCKET, -1, 0, 1, EMFILE, 0);
    async_await_rc(f->rc[5], async_stream_connect(L, &f->u, &f->tcp, NULL, 0));
    /* the new socket cannot be made non-blocking */
    fault_arm(FF_FCNTL, -1, 0, 1, EBADF, 0);
    async_await_rc(f->rc[6], async_stream_connect(L, &f->u, &f->tcp, NULL, 0));
    /* the outcome cannot be read: the error of getsockopt is reported */
    fault_arm(FF_GETSOCKOPT, -1, 1, 1, ENOBUFS, 0); /* skip init's SO_TYPE query */
    fault_arm(FF_CONNECT, -1, 0, 1, EINTR, 0); /* so that the wake-up asks */
    async_await_rc(f->rc[7], async_stream_connect(L, &f->u, &f->tcp, NULL, 0));
    async_end;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void connect_paths(void **state)
{
    static struct conns f;
    static async_server srv;
    char upath[64], npath[64];
    int fds;
    (void)state;
    memset(&f, 0, sizeof f);
    memset(&srv, 0, sizeof srv);
    snprintf(upath, sizeof upath, "/tmp/async-io-conn-%d.sock", (int)getpid());
    unlink(upath);
    assert_int_equal(async_addr_unix(&f.ua, upath), 0);
    f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(f.lfd, (struct sockaddr *)&f.ua.sa, f.ua.len), 0);
    assert_int_equal(listen(f.lfd, 0), 0); /* room for one pending connection */
    snprintf(npath, sizeof npath, "/tmp/async-io-none-%d.sock", (int)getpid());
    assert_int_equal(async_addr_unix(&f.nowhere, npath), 0);
    io_listen(&srv, AF_INET);
    f.tcp = srv.addr;
    fds = count_fds();
    assert_int_equal(io_run(&f.task, conns_fn), 0);
    fault_clear();
    assert_int_equal(f.rc[0], 0);
    assert_int_equal(f.rc[1], 0);
    assert_int_equal(f.rc[2], 4);
    assert_true(f.peer[0] >= 0);
    f.peer[1] = accept(f.lfd, NULL, NULL); /* the retried one is there */
    assert_true(f.peer[1] >= 0);
    assert_int_equal(read(f.peer[1], f.buf, 4), 4);
    assert_memory_equal(f.buf, "late", 4);
    assert_int_equal(f.rc[3], ASYNC_EOS(ENOENT));
    assert_int_equal(f.rc[4], 0);
    assert_int_equal(f.rc[5], ASYNC_EMFILE);
    assert_int_equal(f.rc[6], ASYNC_ECLOSED); /* EBADF */
    assert_int_equal(f.rc[7], ASYNC_EOS(ENOBUFS));
    assert_true(async_stream_is_closed(&f.u));
    async_stream_close(TLOOP, &f.s);
    async_stream_close(TLOOP, &f.t);
    close(f.peer[0]);
    close(f.peer[1]);
    assert_int_equal(count_fds(), fds); /* the failed connects left no descriptor */
    close(f.lfd);
    unlink(upath);
    async_server_close(TLOOP, &srv);
}

/* A connect interrupted while it waits for room in a full Unix backlog:
 * the pause is cut and the socket goes. */
struct cretry {
    async_task task;
    async_co co;
    async_stream s, t;
    async_addr ua;
    async_timeout to;
    int rc;
    async_tick t0, t1;
};

static int cretry_fn(async_loop *L, async_task *self)
{
    struct cretry *f = async_frame(self, struct cretry, task);
    async_begin(L, &f->co);
    async_await(async_stream_connect(L, &f->s, &f->ua, NULL, 0));
    f->t0 = async_now(L);
    async_await_for(&f->to, ASYNC_MS(40), f->rc, async_stream_connect(L, &f->t, &f->ua, NULL, 0));
    f->t1 = async_now(L);
    async_stream_close(L, &f->s);
    async_end;
}

static void connect_to_full_unix_backlog_times_out(void **state)
{
    static struct cretry f;
    char path[64];
    int l;
    (void)state;
    memset(&f, 0, sizeof f);
    snprintf(path, sizeof path, "/tmp/async-io-full-%d.sock", (int)getpid());
    unlink(path);
    assert_int_equal(async_addr_unix(&f.ua, path), 0);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&f.ua.sa, f.ua.len), 0);
    assert_int_equal(listen(l, 0), 0);
    assert_int_equal(io_run(&f.task, cretry_fn), 0);
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(40)); /* virtual clock: exact */
    assert_true(async_stream_is_closed(&f.t));
    close(l);
    unlink(path);
}

/* ---- listening twice: ASYNC_EBUSY, nothing bound, nothing leaked ----
 * (Before: the second listen bound another port and leaked the first
 * socket.) */
static void listen_on_a_listening_server_is_busy(void **state)
{
    static async_server srv;
    async_addr a, first;
    int fds;
    (void)state;
    memset(&srv, 0, sizeof srv);
    io_listen(&srv, AF_INET);
    first = srv.addr;
    fds = count_fds();
    assert_int_equal(async_addr_ip(&a, "127.0.0.1", 0), 0);
    assert_int_equal(async_server_listen(&srv, &a, 8), ASYNC_EBUSY); /* listening, not started */
    assert_int_equal(count_fds(), fds);
    assert_int_equal(async_addr_port(&srv.addr), async_addr_port(&first));
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 8),
                     0);
    assert_int_equal(async_server_listen(&srv, &a, 8), ASYNC_EBUSY); /* serving */
    assert_int_equal(async_server_start(TLOOP, &srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 8),
                     ASYNC_EBUSY); /* its accept loop runs */
    async_server_close(TLOOP, &srv);
    assert_int_equal(io_run(NULL, NULL), 0);
    assert_int_equal(async_server_listen(&srv, &a, 0), 0); /* closed: may listen again */
    async_server_close(TLOOP, &srv);
    async_server_close(TLOOP, &srv); /* twice: nothing */
    async_server_close(TLOOP, NULL);
    assert_int_equal(count_fds(), fds - 1);
}

/* ---- the accept loop backs off when the process is out of descriptors
 * (setrlimit), and serves the waiting client once there are some ---- */
struct emfile {
    async_task task;
    async_co co;
    async_server srv;
    async_io io;
    struct rlimit saved;
    int client, rc, err_seen;
    unsigned long accepted_while_out;
    char buf[4];
    async_tick t0, t1; /* the client connected; its accept seen */
};

static int emfile_fn(async_loop *L, async_task *self)
{
    struct emfile *f = async_frame(self, struct emfile, task);
    struct rlimit rl;
    int lowest;
    async_begin(L, &f->co);
    /* the next descriptor would be `lowest`: allow only those below it */
    lowest = dup(0);
    close(lowest);
    getrlimit(RLIMIT_NOFILE, &f->saved);
    rl = f->saved;
    rl.rlim_cur = (rlim_t)lowest;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    f->client = socket(AF_INET, SOCK_STREAM, 0); /* fails: the limit is reached */
    assert_int_equal(f->client, -1);
    setrlimit(RLIMIT_NOFILE, &f->saved);
    f->client = socket(AF_INET, SOCK_STREAM, 0);
    rl.rlim_cur = (rlim_t)f->client + 1u; /* the client's fd, not one more */
    setrlimit(RLIMIT_NOFILE, &rl);
    assert_int_equal(connect(f->client, (struct sockaddr *)&f->srv.addr.sa, f->srv.addr.len), 0);
    assert_int_equal(write(f->client, "ping", 4), 4);
    f->t0 = async_now(L);
    async_await(async_sleep(L, ASYNC_MS(30))); /* the server tries, fails, backs off */
    f->err_seen = f->srv.last_error;
    f->accepted_while_out = f->srv.accepted;
    setrlimit(RLIMIT_NOFILE, &f->saved);
    while (f->srv.accepted == 0) /* the back-off ends: it accepts */
        async_await(async_sleep(L, ASYNC_MS(10)));
    f->t1 = async_now(L);
    async_await(async_io_wait(L, &f->io, f->client, EV_READ)); /* the echo */
    f->rc = (int)read(f->client, f->buf, 4);
    close(f->client);
    async_server_close(L, &f->srv);
    async_end;
}

static void accept_backs_off_when_out_of_descriptors(void **state)
{
    static struct emfile f;
    const char *preload = getenv("LD_PRELOAD");
    (void)state;
    /* valgrind emulates RLIMIT_NOFILE: the kernel accepts, then valgrind
     * closes the new fd above its limit and reports EMFILE, so the
     * waiting client is lost and never served.  The plain, ASan and
     * fault runs cover this test. */
    if (preload != NULL && strstr(preload, "vgpreload") != NULL) {
        print_message("skipped under valgrind: its descriptor limit is emulated\n");
        skip();
    }
    memset(&f, 0, sizeof f);
    memset(echo_pool, 0, sizeof echo_pool);
    io_listen(&f.srv, AF_INET);
    assert_int_equal(async_server_start(TLOOP, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 8),
                     0);
    assert_int_equal(io_run(&f.task, emfile_fn), 0);
    assert_int_equal(f.err_seen, ASYNC_EMFILE);
    assert_int_equal(f.accepted_while_out, 0);
    /* virtual clock: the back-off's 100 ms exactly, then the accept */
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(100));
    assert_int_equal(f.rc, 4);
    assert_memory_equal(f.buf, "ping", 4);
    assert_int_equal(io_run(NULL, NULL), 0);
}

/* ---- accept: aborted connections and EINTR are retried; an accepted
 * socket that cannot be set up is dropped and its frame reused; an error
 * of the listening socket ends the accept loop ---- */
struct accf {
    async_task task;
    async_co co;
    async_server srv;
    async_stream c[2];
    char buf[2][4];
    int rc[4];
};

static int accf_fn(async_loop *L, async_task *self)
{
    struct accf *f = async_frame(self, struct accf, task);
    async_begin(L, &f->co);
    fault_arm(FF_ACCEPT4, f->srv.fd, 0, 3, ECONNABORTED, 0);
    async_await(async_stream_connect(L, &f->c[0], &f->srv.addr, NULL, 0));
    async_await(async_stream_write(L, &f->c[0], "one!", 4));
    async_await_rc(f->rc[0], async_stream_read_exactly(L, &f->c[0], f->buf[0], 4));
    /* the accepted fd's fcntl fails: that client is dropped...  (skip the
     * four of the client's own async_stream_init, which comes first) */
    fault_arm(FF_FCNTL, -1, 4, 1, EBADF, 0);
    async_await(async_stream_connect(L, &f->c[1], &f->srv.addr, NULL, 0));
    async_await_rc(f->rc[1], async_stream_read(L, &f->c[1], f->buf[1], 4));
    async_stream_close(L, &f->c[1]);
    /* ...and the next one served */
    async_await(async_stream_connect(L, &f->c[1], &f->srv.addr, NULL, 0));
    async_await(async_stream_write(L, &f->c[1], "two!", 4));
    async_await_rc(f->rc[2], async_stream_read_exactly(L, &f->c[1], f->buf[1], 4));
    /* the listening socket fails for good (EINVAL): the accept loop ends */
    fault_arm(FF_ACCEPT4, f->srv.fd, 0, 1, EINVAL, 0);
    async_stream_close(L, &f->c[1]);
    async_await(async_stream_connect(L, &f->c[1], &f->srv.addr, NULL, 0));
    async_await_rc(f->rc[3], async_join(L, &f->srv.task));
    async_stream_close(L, &f->c[0]);
    async_stream_close(L, &f->c[1]);
    async_end;
}

static void accept_retries_and_drops(void **state)
{
    static struct accf f;
    (void)state;
    memset(&f, 0, sizeof f);
    memset(echo_pool, 0, sizeof echo_pool);
    io_listen(&f.srv, AF_INET);
    assert_int_equal(async_server_start(TLOOP, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 4),
                     0);
    assert_int_equal(io_run(&f.task, accf_fn), 0);
    fault_clear();
    assert_int_equal(f.rc[0], 4);
    assert_memory_equal(f.buf[0], "one!", 4);
    assert_true(f.rc[1] == ASYNC_EOF || f.rc[1] == ASYNC_ECONNRESET); /* dropped */
    assert_int_equal(f.rc[2], 4);
    assert_memory_equal(f.buf[1], "two!", 4);
    assert_int_equal(f.rc[3], ASYNC_EINVAL);
    async_server_close(TLOOP, &f.srv);
    assert_int_equal(io_run(NULL, NULL), 0);
}

/* async_accept on its own: misuse, a peer address written only on
 * success, a cancelled accept. */
struct acc1 {
    async_task task, waiter;
    async_co co, wco;
    async_io io;
    async_server srv;
    async_addr peer;
    int rc[4], c;
};

static int acc1_waiter(async_loop *L, async_task *self)
{
    struct acc1 *f = async_frame(self, struct acc1, waiter);
    async_begin(L, &f->wco);
    async_await_rc(f->rc[2], async_accept(L, &f->io, f->srv.fd, &f->peer));
    async_end;
}

static int acc1_fn(async_loop *L, async_task *self)
{
    struct acc1 *f = async_frame(self, struct acc1, task);
    async_begin(L, &f->co);
    f->rc[0] = async_accept(L, NULL, f->srv.fd, NULL);
    f->rc[1] = async_accept(L, &f->io, -1, NULL);
    async_spawn(L, &f->waiter, acc1_waiter);
    async_await(async_sleep(L, 1));
    async_cancel(L, &f->waiter); /* parked in the accept */
    async_await(async_join(L, &f->waiter));
    f->c = socket(AF_INET, SOCK_STREAM, 0);
    connect(f->c, (struct sockaddr *)&f->srv.addr.sa, f->srv.addr.len);
    async_await_rc(f->rc[3], async_accept(L, &f->io, f->srv.fd, NULL)); /* no peer wanted */
    async_end;
}

static void accept_alone(void **state)
{
    static struct acc1 f;
    (void)state;
    memset(&f, 0, sizeof f);
    io_listen(&f.srv, AF_INET);
    assert_int_equal(io_run(&f.task, acc1_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_EINVAL);
    assert_int_equal(f.rc[1], ASYNC_EINVAL);
    assert_int_equal(f.rc[2], ASYNC_ECANCELED);
    assert_int_equal(f.peer.len, 0); /* untouched: nothing was accepted */
    assert_true(f.rc[3] >= 0);
    close(f.rc[3]);
    close(f.c);
    async_server_close(TLOOP, &f.srv);
}

/* ---- UDP: a datagram too long for the buffer is reported, not cut
 * silently (before: the first len bytes came back as if whole); EAGAIN
 * and EINTR are waited out; close wakes a waiting receiver ---- */
struct udp2 {
    async_task task, rx;
    async_co co, rco;
    async_udp a, b;
    async_addr to, from;
    unsigned char big[100], small[10], buf[100];
    int rc[10];
};

static int udp2_rx(async_loop *L, async_task *self)
{
    struct udp2 *f = async_frame(self, struct udp2, rx);
    async_begin(L, &f->rco);
    async_await_rc(f->rc[6], async_udp_recv(L, &f->b, f->buf, sizeof f->buf, NULL));
    async_end;
}

static int udp2_fn(async_loop *L, async_task *self)
{
    struct udp2 *f = async_frame(self, struct udp2, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc[0], async_udp_send(L, &f->a, f->big, sizeof f->big, &f->to));
    async_await_rc(f->rc[1], async_udp_recv(L, &f->b, f->small, sizeof f->small, &f->from));
    /* the next datagram is whole again */
    fault_arm(FF_SENDTO, f->a.fd, 0, 2, EAGAIN, 0); /* full: wait until writable */
    async_await_rc(f->rc[2], async_udp_send(L, &f->a, f->big, 20, &f->to));
    fault_arm(FF_RECVMSG, f->b.fd, 0, 1, EINTR, 0);
    async_await_rc(f->rc[3], async_udp_recv(L, &f->b, f->buf, sizeof f->buf, NULL));
    fault_arm(FF_SENDTO, f->a.fd, 0, 1, EINTR, 0);
    async_await_rc(f->rc[4], async_udp_send(L, &f->a, f->big, 5, &f->to));
    fault_arm(FF_RECVMSG, f->b.fd, 0, 1, ENOMEM, 0);
    async_await_rc(f->rc[5], async_udp_recv(L, &f->b, f->buf, sizeof f->buf, NULL));
    /* a receiver waits; the socket is closed under it */
    async_await(async_udp_recv(L, &f->b, f->buf, sizeof f->buf, NULL)); /* the 5 bytes */
    async_spawn(L, &f->rx, udp2_rx);
    async_await(async_sleep(L, 1));
    async_udp_close(L, &f->b);
    async_await(async_join(L, &f->rx));
    async_await_rc(f->rc[7], async_udp_send(L, &f->b, f->big, 1, &f->to));
    async_await_rc(f->rc[8], async_udp_recv(L, &f->b, f->buf, 1, NULL));
    /* far too long for any datagram; and nowhere to send to */
    async_await_rc(f->rc[9], async_udp_send(L, &f->a, wout, 70000, &f->to));
    async_end;
}

static void udp_truncation_eagain_and_close(void **state)
{
    static struct udp2 f;
    async_addr any;
    socklen_t len;
    int i;
    (void)state;
    memset(&f, 0, sizeof f);
    for (i = 0; i < (int)sizeof f.big; i++)
        f.big[i] = (unsigned char)i;
    async_addr_ip(&any, "127.0.0.1", 0);
    assert_int_equal(async_udp_open(&f.a, AF_INET, NULL), 0);
    assert_int_equal(async_udp_open(&f.b, AF_INET, &any), 0);
    len = sizeof f.to.sa;
    getsockname(f.b.fd, (struct sockaddr *)&f.to.sa, &len);
    f.to.len = len;
    assert_int_equal(io_run(&f.task, udp2_fn), 0);
    fault_clear();
    assert_int_equal(f.rc[0], 100);
    assert_int_equal(f.rc[1], ASYNC_ETOOLONG);
    assert_memory_equal(f.small, f.big, sizeof f.small); /* the head is there */
    assert_true(f.from.len > 0);                          /* and who sent it */
    assert_int_equal(f.rc[2], 20);
    assert_int_equal(f.rc[3], 20);
    assert_memory_equal(f.buf, f.big, 20);
    assert_int_equal(f.rc[4], 5);
    assert_int_equal(f.rc[5], ASYNC_EOS(ENOMEM));
    assert_int_equal(f.rc[6], ASYNC_ECLOSED);
    assert_int_equal(f.rc[7], ASYNC_ECLOSED);
    assert_int_equal(f.rc[8], ASYNC_ECLOSED);
    assert_int_equal(f.rc[9], ASYNC_ETOOLONG);
    assert_int_equal(async_udp_close(TLOOP, &f.a), 0);
}

/* An unconnected socket and no destination: the OS says so (in a task,
 * so that an EAGAIN on the way is waited out, under the fault suite). */
struct nowhere {
    async_task task;
    async_co co;
    async_udp u;
    int rc;
};

static int nowhere_fn(async_loop *L, async_task *self)
{
    struct nowhere *f = async_frame(self, struct nowhere, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_udp_send(L, &f->u, "x", 1, NULL));
    async_end;
}

static void udp_send_with_no_destination(void **state)
{
    static struct nowhere f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(async_udp_open(&f.u, AF_INET, NULL), 0);
    assert_int_equal(io_run(&f.task, nowhere_fn), 0);
    assert_int_equal(f.rc, ASYNC_EOS(EDESTADDRREQ));
    assert_int_equal(async_udp_close(TLOOP, &f.u), 0);
}

static void udp_misuse(void **state)
{
    async_udp u, v;
    async_addr a6, a4;
    char buf[4];
    (void)state;
    assert_int_equal(async_udp_open(NULL, AF_INET, NULL), ASYNC_EINVAL);
    assert_int_equal(async_addr_ip(&a6, "::1", 0), 0);
    assert_int_equal(async_udp_open(&u, AF_INET, &a6), ASYNC_EINVAL); /* family mismatch */
    fault_arm(FF_SOCKET, -1, 0, 1, ENFILE, 0);
    assert_int_equal(async_udp_open(&u, AF_INET, NULL), ASYNC_EMFILE);
    assert_int_equal(async_addr_ip(&a4, "127.0.0.1", 0), 0);
    assert_int_equal(async_udp_open(&u, AF_INET, &a4), 0);
    {
        async_addr bound;
        socklen_t len = sizeof bound.sa;
        getsockname(u.fd, (struct sockaddr *)&bound.sa, &len);
        bound.len = len;
        assert_int_equal(async_udp_open(&v, AF_INET, &bound), ASYNC_EADDRINUSE);
    }
    assert_int_equal(async_udp_send(TLOOP, NULL, buf, 1, &a4), ASYNC_EINVAL);
    assert_int_equal(async_udp_send(TLOOP, &u, NULL, 1, &a4), ASYNC_EINVAL);
    assert_int_equal(async_udp_recv(TLOOP, NULL, buf, 1, NULL), ASYNC_EINVAL);
    assert_int_equal(async_udp_recv(TLOOP, &u, NULL, 1, NULL), ASYNC_EINVAL);
    assert_int_equal(async_udp_recv(TLOOP, &u, buf, 0, NULL), ASYNC_EINVAL);
    /* (an unconnected socket with no destination: udp_nowhere, in a task) */
    assert_int_equal(async_udp_close(TLOOP, NULL), ASYNC_EINVAL);
    assert_int_equal(async_udp_close(TLOOP, &u), 0);
    fault_clear();
}

/* ---- addresses, and the misuse of every stream call ---- */
static void address_forms(void **state)
{
    async_addr a;
    char buf[64], longip[80];
    (void)state;
    memset(longip, '1', sizeof longip - 1);
    longip[0] = '[';
    longip[sizeof longip - 2] = ']';
    longip[sizeof longip - 1] = '\0';
    assert_int_equal(async_addr_ip(&a, longip, 1), ASYNC_EINVAL); /* too long inside [] */
    assert_int_equal(async_addr_ip(&a, NULL, 1), ASYNC_EINVAL);
    assert_int_equal(async_addr_ip(&a, "::1", 443), 0);
    assert_int_equal(async_addr_port(&a), 443);
    assert_string_equal(async_addr_str(&a, buf, sizeof buf), "[::1]:443");
    assert_ptr_equal(async_addr_str(&a, buf, 0), buf); /* no room: untouched */
    assert_int_equal(async_addr_unix(&a, "/tmp/x.sock"), 0);
    assert_int_equal(async_addr_port(&a), 0);
    assert_string_equal(async_addr_str(&a, buf, sizeof buf), "/tmp/x.sock");
    assert_int_equal(async_addr_unix(NULL, "/tmp/x"), ASYNC_EINVAL);
    assert_int_equal(async_addr_unix(&a, NULL), ASYNC_EINVAL);
    memset(&a, 0, sizeof a);
    a.sa.ss_family = AF_UNSPEC;
    assert_string_equal(async_addr_str(&a, buf, sizeof buf), ""); /* unknown family */
    /* NULL: nothing to read, nothing crashes */
    assert_int_equal(async_addr_port(NULL), 0);
    assert_string_equal(async_addr_str(NULL, buf, sizeof buf), "");
    assert_null(async_addr_str(&a, NULL, 8));
    assert_int_equal(async_stream_partial(NULL), 0);
    assert_int_equal(async_stream_written(NULL), 0);
    assert_int_equal(async_server_active_count(NULL), 0);
}

struct smis {
    async_task task, reader, writer;
    async_co co, rco, wco;
    async_stream s, p, never;
    int peer, rc[24];
    char buf[8];
    unsigned char rbuf[8];
};

static int smis_reader(async_loop *L, async_task *self)
{
    struct smis *f = async_frame(self, struct smis, reader);
    async_begin(L, &f->rco);
    async_await_rc(f->rc[20], async_stream_read(L, &f->s, f->buf, 1));
    async_end;
}

static int smis_writer(async_loop *L, async_task *self)
{
    struct smis *f = async_frame(self, struct smis, writer);
    async_begin(L, &f->wco);
    async_await_rc(f->rc[21], async_stream_write(L, &f->s, wout, WBIG));
    async_end;
}

static int smis_fn(async_loop *L, async_task *self)
{
    struct smis *f = async_frame(self, struct smis, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc[0], async_stream_read(L, &f->never, f->buf, 1));
    async_await_rc(f->rc[1], async_stream_read(L, &f->s, NULL, 1));
    async_await_rc(f->rc[2], async_stream_read(L, &f->s, f->buf, 0));
    async_await_rc(f->rc[3], async_stream_read_exactly(L, &f->s, NULL, 1));
    async_await_rc(f->rc[4], async_stream_read_exactly(L, &f->s, f->buf, 0));
    async_await_rc(f->rc[5], async_stream_read_until(L, &f->s, NULL, 1, f->buf, 8));
    async_await_rc(f->rc[6], async_stream_read_until(L, &f->s, "\n", 0, f->buf, 8));
    async_await_rc(f->rc[7], async_stream_read_until(L, &f->s, "\n", 1, NULL, 8));
    async_await_rc(f->rc[8], async_stream_read_until(L, &f->s, "\n", 1, f->buf, 0));
    async_await_rc(f->rc[9], async_stream_write(L, &f->never, "x", 1));
    async_await_rc(f->rc[10], async_stream_write(L, &f->s, NULL, 1));
    async_await_rc(f->rc[11], async_stream_write(L, &f->s, NULL, 0)); /* nothing to do */
    /* a second writer while one waits; the stream closed under both */
    async_spawn(L, &f->reader, smis_reader);
    async_spawn(L, &f->writer, smis_writer);
    async_await(async_sleep(L, ASYNC_MS(10)));
    async_await_rc(f->rc[12], async_stream_write(L, &f->s, "x", 1));
    f->rc[13] = async_stream_close(NULL, &f->s); /* not its loop: refused, nothing changes */
    f->rc[14] = async_stream_close(L, &f->s);
    async_await(async_join(L, &f->reader));
    async_await(async_join(L, &f->writer));
    async_await_rc(f->rc[15], async_stream_read_exactly(L, &f->s, f->buf, 1));
    async_await_rc(f->rc[16], async_stream_read_until(L, &f->s, "\n", 1, f->buf, 8));
    f->rc[17] = async_stream_drain(L, &f->s);
    f->rc[18] = async_stream_shutdown(&f->s);
    /* a pipe: read(2) and write(2), and shutdown is not for it */
    async_await(async_stream_write(L, &f->p, "pipe", 4));
    f->rc[19] = async_stream_shutdown(&f->p);
    async_end;
}

static void stream_misuse(void **state)
{
    static struct smis f;
    int a, b, pfd[2], small = 4096;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    f.peer = b;
    assert_int_equal(async_stream_init(&f.s, a, f.rbuf, sizeof f.rbuf), 0);
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(async_stream_init(&f.p, pfd[1], NULL, 0), 0);
    fault_arm(FF_FCNTL, pfd[0], 0, 1, EBADF, 0);
    assert_int_equal(async_stream_init(&f.never, pfd[0], NULL, 0), ASYNC_ECLOSED);
    fault_arm(FF_FCNTL, pfd[0], 2, 1, EINVAL, 0); /* F_GETFD this time */
    assert_int_equal(async_stream_init(&f.never, pfd[0], NULL, 0), ASYNC_EINVAL);
    memset(&f.never, 0, sizeof f.never);
    /* outside a task */
    assert_int_equal(async_stream_read(TLOOP, &f.s, f.buf, 1), ASYNC_EPERM);
    assert_int_equal(async_stream_write(TLOOP, &f.s, "x", 1), ASYNC_EPERM);
    /* (the inline parts' no-task calls: the stream's checks come first) */
    assert_int_equal(async_stream_read(NULL, &f.s, f.buf, 1), ASYNC_EPERM);
    assert_int_equal(async_stream_read(TLOOP, NULL, f.buf, 1), ASYNC_EINVAL);
    assert_int_equal(async_stream_read(TLOOP, &f.never, f.buf, 1), ASYNC_EINVAL);
    assert_int_equal(async_stream_write(NULL, &f.s, "x", 1), ASYNC_EPERM);
    assert_int_equal(async_stream_write(TLOOP, NULL, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_stream_write(TLOOP, &f.never, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_stream_drain(TLOOP, NULL), ASYNC_EINVAL);
    assert_int_equal(async_stream_drain(TLOOP, &f.s), 0);
    assert_int_equal(async_stream_connect(TLOOP, &f.never, NULL, NULL, 0), ASYNC_EINVAL);
    {
        async_addr a4;
        async_addr_ip(&a4, "127.0.0.1", 9);
        assert_int_equal(async_stream_connect(TLOOP, &f.never, &a4, NULL, 3), ASYNC_EINVAL);
        assert_int_equal(async_stream_connect(TLOOP, &f.never, &a4, NULL, 0), ASYNC_EPERM);
    }
    assert_int_equal(io_run(&f.task, smis_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_EINVAL);
    assert_int_equal(f.rc[1], ASYNC_EINVAL);
    assert_int_equal(f.rc[2], ASYNC_EINVAL);
    assert_int_equal(f.rc[3], ASYNC_EINVAL);
    assert_int_equal(f.rc[4], 0);
    assert_int_equal(f.rc[5], ASYNC_EINVAL);
    assert_int_equal(f.rc[6], ASYNC_EINVAL);
    assert_int_equal(f.rc[7], ASYNC_EINVAL);
    assert_int_equal(f.rc[8], ASYNC_EINVAL);
    assert_int_equal(f.rc[9], ASYNC_EINVAL);
    assert_int_equal(f.rc[10], ASYNC_EINVAL);
    assert_int_equal(f.rc[11], 0);
    assert_int_equal(f.rc[12], ASYNC_EBUSY);
    assert_int_equal(f.rc[13], ASYNC_EINVAL);
    assert_int_equal(f.rc[14], 0);
    assert_int_equal(f.rc[20], ASYNC_ECLOSED);
    assert_int_equal(f.rc[21], ASYNC_ECLOSED);
    assert_int_equal(f.rc[15], ASYNC_ECLOSED);
    assert_int_equal(f.rc[16], ASYNC_ECLOSED);
    assert_int_equal(f.rc[17], ASYNC_ECLOSED);
    assert_int_equal(f.rc[18], ASYNC_ECLOSED);
    assert_int_equal(f.rc[19], ASYNC_EOS(ENOTSOCK));
    assert_int_equal(read(pfd[0], f.buf, 4), 4);
    assert_memory_equal(f.buf, "pipe", 4);
    assert_int_equal(async_stream_close(TLOOP, &f.p), 0);
    close(pfd[0]);
    close(b);
    fault_clear();
}

/* ---- listen: misuse, no socket, a stale Unix socket file, an address
 * it cannot read back, handlers of the last start still running ---- */
struct relisten {
    async_task task;
    async_co co;
    async_server srv;
    async_stream c;
    async_addr a;
    int rc[3];
    char buf[4];
};

static int relisten_fn(async_loop *L, async_task *self)
{
    struct relisten *f = async_frame(self, struct relisten, task);
    async_begin(L, &f->co);
    async_await(async_stream_connect(L, &f->c, &f->srv.addr, NULL, 0));
    async_await(async_stream_write(L, &f->c, "busy", 4));
    async_await(async_stream_read_exactly(L, &f->c, f->buf, 4)); /* a handler runs */
    async_server_close(L, &f->srv);
    async_await_rc(f->rc[2], async_join(L, &f->srv.task)); /* the accept loop ends */
    f->rc[0] = async_server_listen(&f->srv, &f->a, 8); /* a handler still holds a frame */
    async_stream_close(L, &f->c);
    while (async_server_active_count(&f->srv) > 0) /* it sees EOF and ends */
        async_await(async_sleep(L, 1));
    f->rc[1] = async_server_listen(&f->srv, &f->a, 8);
    async_server_close(L, &f->srv);
    async_end;
}

static void listen_paths(void **state)
{
    static struct relisten f;
    static async_server srv;
    async_addr ua, a4;
    char path[64];
    int stale;
    (void)state;
    memset(&f, 0, sizeof f);
    memset(&srv, 0, sizeof srv);
    memset(echo_pool, 0, sizeof echo_pool);
    assert_int_equal(async_addr_ip(&a4, "127.0.0.1", 0), 0);
    assert_int_equal(async_server_listen(NULL, &a4, 1), ASYNC_EINVAL);
    assert_int_equal(async_server_listen(&srv, NULL, 1), ASYNC_EINVAL);
    fault_arm(FF_SOCKET, -1, 0, 1, EMFILE, 0);
    assert_int_equal(async_server_listen(&srv, &a4, 1), ASYNC_EMFILE);
    /* a socket file left by a process that died: replaced */
    snprintf(path, sizeof path, "/tmp/async-io-stale-%d.sock", (int)getpid());
    unlink(path);
    assert_int_equal(async_addr_unix(&ua, path), 0);
    stale = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(stale, (struct sockaddr *)&ua.sa, ua.len), 0);
    close(stale); /* the file stays */
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(async_server_listen(&srv, &ua, 1), 0);
    async_server_close(TLOOP, &srv);
    assert_int_equal(access(path, F_OK), -1);
    /* the bound address cannot be read back: the requested one is kept */
    fault_arm(FF_GETSOCKNAME, -1, 0, 1, ENOBUFS, 0);
    assert_int_equal(async_server_listen(&srv, &a4, 1), 0);
    assert_int_equal(async_addr_port(&srv.addr), 0); /* as asked */
    async_server_close(TLOOP, &srv);
    fault_clear();
    /* closed while a handler runs: not until it ends */
    io_listen(&f.srv, AF_INET);
    f.a = a4;
    assert_int_equal(async_server_start(TLOOP, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        offsetof(struct echo_conn, conn), 2),
                     0);
    assert_int_equal(io_run(&f.task, relisten_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_EBUSY);
    assert_int_equal(f.rc[1], 0);
    assert_int_equal(f.rc[2], ASYNC_ECANCELED);
    assert_int_equal(async_server_start(NULL, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        0, 1),
                     ASYNC_EINVAL);
    assert_int_equal(async_server_start(TLOOP, &f.srv, echo_handler, echo_pool, sizeof echo_pool[0],
                                        sizeof echo_pool[0], 1),
                     ASYNC_EINVAL); /* the async_conn would not fit in the frame */
}

/* ---- reads: after EOF without a system call, read_exactly from the
 * buffer, a reset inside read_until ---- */
struct reads {
    async_task task;
    async_co co;
    async_stream a, b;
    unsigned char rbuf[32];
    char got[32], exact[4];
    int rc[6];
};

static int reads_fn(async_loop *L, async_task *self)
{
    struct reads *f = async_frame(self, struct reads, task);
    async_begin(L, &f->co);
    async_await(async_stream_write(L, &f->a, "x;abcd", 6));
    async_await_rc(f->rc[0], async_stream_read_until(L, &f->b, ";", 1, f->got, sizeof f->got));
    async_await_rc(f->rc[1], async_stream_read_exactly(L, &f->b, f->exact, 4)); /* buffered */
    fault_arm(FF_READ, f->b.fd, 0, 1, ECONNRESET, 0);
    async_await(async_stream_write(L, &f->a, "more", 4));
    async_await_rc(f->rc[2], async_stream_read_until(L, &f->b, ";", 1, f->got, sizeof f->got));
    async_await(async_stream_shutdown(&f->a));
    async_await_rc(f->rc[3], async_stream_read(L, &f->b, f->got, sizeof f->got)); /* "more" */
    async_await_rc(f->rc[4], async_stream_read(L, &f->b, f->got, sizeof f->got)); /* EOF */
    async_await_rc(f->rc[5], async_stream_read(L, &f->b, f->got, sizeof f->got)); /* still */
    async_end;
}

static void reads_after_eof_buffered_and_reset(void **state)
{
    static struct reads f;
    int a, b;
    (void)state;
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, f.rbuf, sizeof f.rbuf), 0);
    assert_int_equal(io_run(&f.task, reads_fn), 0);
    fault_clear();
    assert_int_equal(f.rc[0], 2);
    assert_int_equal(f.rc[1], 4);
    assert_memory_equal(f.exact, "abcd", 4);
    assert_int_equal(f.rc[2], ASYNC_ECONNRESET);
    assert_int_equal(f.rc[3], 4);
    assert_int_equal(f.rc[4], ASYNC_EOF);
    assert_int_equal(f.rc[5], ASYNC_EOF);
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

/* ---- a UDP sender that waits (the shim keeps the socket "full") is
 * woken by close, and a cancelled one by its cancel ---- */
struct udpw {
    async_task task, tx[2];
    async_co co, tco[2];
    async_udp u;
    async_addr to;
    int rc[2];
};

static int udpw_tx0(async_loop *L, async_task *self)
{
    struct udpw *f = async_frame(self, struct udpw, tx[0]);
    async_begin(L, &f->tco[0]);
    async_await_rc(f->rc[0], async_udp_send(L, &f->u, "x", 1, &f->to));
    async_end;
}

static int udpw_tx1(async_loop *L, async_task *self)
{
    struct udpw *f = async_frame(self, struct udpw, tx[1]);
    async_begin(L, &f->tco[1]);
    async_await_rc(f->rc[1], async_udp_send(L, &f->u, "x", 1, &f->to));
    async_end;
}

static int udpw_fn(async_loop *L, async_task *self)
{
    struct udpw *f = async_frame(self, struct udpw, task);
    async_begin(L, &f->co);
    fault_arm(FF_SENDTO, f->u.fd, 0, 1000000, EAGAIN, 0);
    async_spawn(L, &f->tx[1], udpw_tx1);
    async_await(async_sleep(L, 1));
    async_cancel(L, &f->tx[1]);
    async_await(async_join(L, &f->tx[1]));
    async_spawn(L, &f->tx[0], udpw_tx0);
    async_await(async_sleep(L, 1));
    async_udp_close(L, &f->u);
    async_await(async_join(L, &f->tx[0]));
    fault_clear();
    async_end;
}

static void udp_waiting_sender_closed_or_cancelled(void **state)
{
    static struct udpw f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(async_addr_ip(&f.to, "127.0.0.1", 9), 0);
    assert_int_equal(async_udp_open(&f.u, AF_INET, NULL), 0);
    assert_int_equal(io_run(&f.task, udpw_fn), 0);
    assert_int_equal(f.rc[1], ASYNC_ECANCELED);
    assert_int_equal(f.rc[0], ASYNC_ECLOSED);
}

/* ---- a deadline that expires while the reader sits in the run queue
 * (woken by a first byte in the same loop iteration) is reported, not
 * lost: before, the read parked again and nothing could wake it ----
 * A second task blocks the loop past the deadline right after the peer
 * sent one byte, so the next iteration delivers both at once. */
struct lost {
    async_task task, blocker;
    async_co co, bco;
    async_stream a, b;
    async_timeout to;
    char buf[10];
    int rc;
    bool parked_at_send; /* the byte went out before the deadline */
    async_tick armed;
    size_t partial;
};

static int lost_blocker(async_loop *L, async_task *self)
{
    struct lost *f = async_frame(self, struct lost, blocker);
    async_begin(L, &f->bco);
    async_await(async_sleep(L, 1)); /* the reader is parked by now */
    f->parked_at_send = f->rc == 0 && async_task_state(&f->task) == ASYNC_TASK_WAITING &&
                        async_now(L) - f->armed == 1;
    assert_int_equal(send(f->a.fd, "1", 1, 0), 1);
    /* the loop is stuck here past the reader's 20 ms (virtual clock) */
    assert_int_equal(async_ev_clock_advance(&TE, ASYNC_MS(60)), 0);
    async_end;
}

static int lost_fn(async_loop *L, async_task *self)
{
    struct lost *f = async_frame(self, struct lost, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->blocker, lost_blocker);
    f->armed = async_now(L);
    async_await_for(&f->to, ASYNC_MS(20), f->rc, async_stream_read_exactly(L, &f->b, f->buf, 10));
    f->partial = async_stream_partial(&f->b);
    async_await(async_join(L, &f->blocker));
    async_end;
}

static void deadline_expiring_while_queued_is_not_lost(void **state)
{
    static struct lost f;
    int a, b;
    (void)state;
    /* On the virtual clock the byte goes out 1 tick into the reader's
     * 20 ms, and the blocker moves the clock past the deadline before
     * the loop polls again: no retries, whatever the machine's load. */
    memset(&f, 0, sizeof f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f.a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f.b, b, NULL, 0), 0);
    assert_int_equal(io_run(&f.task, lost_fn), 0);
    assert_true(f.parked_at_send);
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
    assert_int_equal(f.partial, 1); /* the byte that came in time is in buf */
    async_stream_close(TLOOP, &f.a);
    async_stream_close(TLOOP, &f.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IOT(echo_megabyte_through_partial_io),
        IOT(handler_end_closes_the_stream_as_the_run_ends),
        IOT(read_exactly_collects_pieces_and_reports_eof),
        IOT(write_refuses_lengths_past_int_max),
        IOT_V(partial_counts_only_the_interrupted_call),
        IOT(read_until_handles_split_long_and_eof),
        IOT_V(read_until_after_timeout_sees_buffered_data),
        IOT_V(read_until_skips_false_candidates),
        IOT(sendfile_over_socket_and_pipe),
        IOT(reuseport_listeners_share_a_port),
        IOT(reset_and_refused_have_their_codes),
        IOT_V(read_timeout_leaves_stream_usable),
        IOT(delivered_read_survives_a_later_cancel),
        IOT(parked_read_cancelled_reads_nothing),
        IOT_V(connect_timeout),
        IOT_V(close_wakes_reader_and_later_ops_fail),
        IOT_V(full_pool_stops_accepting_until_a_slot_frees),
        IOT(many_clients_share_a_small_pool),
        IOT(server_touches_frames_only_as_connections_need_them),
        IOT(server_skips_a_frame_still_in_use),
        IOT(ipv6_and_unix_sockets),
        IOT(udp_round_trip),
        IOT(addresses_and_misuse),
        IOT_V(interrupted_write_sent_an_exact_prefix),
        IOT_V(cancelled_or_reset_write_reports_its_prefix),
        IOT(eintr_eagain_and_short_transfers_are_invisible),
        IOT(read_buffer_given_later),
        IOT_V(connect_paths),
        IOT_V(connect_to_full_unix_backlog_times_out),
        IOT(listen_on_a_listening_server_is_busy),
        IOT_V(accept_backs_off_when_out_of_descriptors),
        IOT(accept_retries_and_drops),
        IOT(accept_alone),
        IOT(udp_truncation_eagain_and_close),
        IOT(udp_misuse),
        IOT(udp_send_with_no_destination),
        IOT(address_forms),
        IOT(stream_misuse),
        IOT(listen_paths),
        IOT(reads_after_eof_buffered_and_reset),
        IOT(udp_waiting_sender_closed_or_cancelled),
        IOT_V(deadline_expiring_while_queued_is_not_lost),
    };
    if (getenv("IOTEST_FILTER")) /* one test by name, when chasing a failure */
        cmocka_set_test_filter(getenv("IOTEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
