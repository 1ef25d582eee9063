/* SPDX-License-Identifier: MIT */
/* Streams over real loopback sockets: partial reads and writes, EOF,
 * reset, refused, timeouts, read_until, close, accept backpressure, IPv6,
 * Unix sockets, UDP, misuse. */
#define _GNU_SOURCE
#include "iotest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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
    char buf[8];
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
    async_await_for(&f->to, ASYNC_MS(5), f->rc1, async_stream_read(L, &f->b, f->buf, 8));
    async_await_for(&f->to, ASYNC_SEC(20), f->rc2, async_stream_read(L, &f->b, f->buf, 8));
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
    assert_int_equal(f.rc2, 4);
    assert_memory_equal(f.buf, "late", 4);
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
};

static int ctmo_fn(async_loop *L, async_task *self)
{
    struct ctmo *f = async_frame(self, struct ctmo, task);
    async_begin(L, &f->co);
    async_await_for(&f->to, ASYNC_MS(200), f->rc, async_stream_connect(L, &f->s, &f->addr, NULL, 0));
    async_end;
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
    usleep(50000);
    fd_before = dup(0);
    close(fd_before);
    assert_int_equal(io_run(&f.task, ctmo_fn), 0);
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        IOT(echo_megabyte_through_partial_io),
        IOT(read_exactly_collects_pieces_and_reports_eof),
        IOT(partial_counts_only_the_interrupted_call),
        IOT(read_until_handles_split_long_and_eof),
        IOT(read_until_after_timeout_sees_buffered_data),
        IOT(read_until_skips_false_candidates),
        IOT(sendfile_over_socket_and_pipe),
        IOT(reuseport_listeners_share_a_port),
        IOT(reset_and_refused_have_their_codes),
        IOT(read_timeout_leaves_stream_usable),
        IOT(connect_timeout),
        IOT(close_wakes_reader_and_later_ops_fail),
        IOT(full_pool_stops_accepting_until_a_slot_frees),
        IOT(many_clients_share_a_small_pool),
        IOT(server_touches_frames_only_as_connections_need_them),
        IOT(server_skips_a_frame_still_in_use),
        IOT(ipv6_and_unix_sockets),
        IOT(udp_round_trip),
        IOT(addresses_and_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
