/* SPDX-License-Identifier: MIT */
/* The HTTP module (src/http.c): a server and its clients on one loop,
 * over loopback.  Raw clients send exactly the bytes a case needs (in
 * pieces when it matters) and read everything the server sends until
 * it closes; the module's own client is tested against the module's
 * server and against raw servers with awkward answers.  Deadlines are
 * short and checked from below: a connection closed for a timeout must
 * not close before it (the upper bound is only the hang guard).        */
#define _GNU_SOURCE
#include "iotest.h"
#include "src/async_http.h"
#include "port/async_vclock.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the server under test ---- */

#define POOL 8

struct page {
    async_http_conn http;
    async_co co;
    int n, fd;
    size_t got;
    unsigned char body[70000];
    unsigned char buf[8192];
};

static struct page pool[POOL];
static async_http_server hs;
static async_http_config cfg;
static int file_fd = -1;
static unsigned responses_logged;
static int late_rc;

/* Misuse inside a handler: each call is refused with its code and
 * leaves the connection able to answer. */
static void misuse_before(async_loop *L, async_http_conn *c)
{
    static char big[3000];
    char buf[8];
    memset(big, 'v', sizeof big);
    assert_int_equal(async_http_add_header(c, NULL, "v"), ASYNC_EINVAL);
    assert_int_equal(async_http_add_header(c, "X", NULL), ASYNC_EINVAL);
    assert_int_equal(async_http_add_headern(NULL, "X", 1, "v", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_add_headern(c, "X", 1, NULL, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_add_headern(c, "X", 0, "v", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_add_header(c, "Bad Name", "v"), ASYNC_EINVAL);
    assert_int_equal(async_http_add_header(c, "a-long-name:colon", "v"), ASYNC_EINVAL);
    assert_int_equal(async_http_add_header(c, "a-long-header-name\x01", "v"), ASYNC_EINVAL);
    assert_int_equal(async_http_add_header(c, "X-Split", "a\r\nInjected: 1"), ASYNC_EINVAL);
    assert_int_equal(async_http_add_header(c, "X-Nul-Like", "a value with a \x7f and \x1f"),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_add_headern(c, "X-Big", 5, big, sizeof big), ASYNC_ENOSPC);
    /* a TAB is allowed in a value, an empty value too */
    assert_int_equal(async_http_add_header(c, "X-Tab", "a\tb and a long tail"), 0);
    assert_int_equal(async_http_add_header(c, "X-Empty", ""), 0);
    assert_int_equal(async_http_add_headern(c, "X-Null", 6, NULL, 0), 0);
    /* nothing begun: nothing to write or end */
    assert_int_equal(async_http_write(L, c, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_end(L, c), ASYNC_EINVAL);
    assert_int_equal(async_http_respond(L, c, 99, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond(L, c, 1000, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond(L, c, 200, NULL, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond(L, NULL, 200, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond_file(L, c, 200, -1, 0, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond_file(L, c, 200, 0, -1, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond_file(L, c, 1000, 0, 0, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_respond_file(L, NULL, 200, 0, 0, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_begin(L, c, 150), ASYNC_EINVAL);
    assert_int_equal(async_http_begin(L, c, 1000), ASYNC_EINVAL);
    assert_int_equal(async_http_begin(L, NULL, 200), ASYNC_EINVAL);
    assert_int_equal(async_http_write(L, NULL, "x", 1), ASYNC_EINVAL);
    assert_int_equal(async_http_end(L, NULL), ASYNC_EINVAL);
    assert_int_equal(async_http_body_read(L, c, NULL, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_body_read(L, c, buf, 0), ASYNC_EINVAL);
    assert_int_equal(async_http_body_read(L, NULL, buf, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_body_read(L, c, buf, sizeof buf), 0); /* no body */
    async_http_set_close(NULL); /* harmless */
}

/* After the answer: every other answer is refused. */
static void misuse_after(async_loop *L, async_http_conn *c)
{
    assert_int_equal(async_http_respond(L, c, 200, "x", 1), ASYNC_EALREADY);
    assert_int_equal(async_http_respond_file(L, c, 200, 0, 0, 1), ASYNC_EALREADY);
    assert_int_equal(async_http_begin(L, c, 200), ASYNC_EALREADY);
    assert_int_equal(async_http_write(L, c, "x", 1), ASYNC_EALREADY);
    assert_int_equal(async_http_end(L, c), ASYNC_EALREADY);
    assert_int_equal(async_http_add_header(c, "X", "v"), ASYNC_EALREADY);
}

static int handle(async_loop *L, async_http_conn *c)
{
    struct page *p = async_frame(c, struct page, http);
    char tmp[64];
    size_t n;
    const char *t;

    async_begin(L, &p->co);
    t = c->req.target;
    n = c->req.target_len;
    if (n == 6 && memcmp(t, "/hello", 6) == 0) {
        async_http_add_header(c, "Content-Type", "text/plain");
        async_await(async_http_respond(L, c, 200, "hello", 5));
    } else if (n == 5 && memcmp(t, "/echo", 5) == 0) {
        p->got = 0;
        for (;;) {
            async_await_val(p->n, async_http_body_read(L, c, p->body + p->got,
                                                       sizeof p->body - p->got));
            if (p->n == 0)
                break;
            p->got += (size_t)p->n;
        }
        async_await(async_http_respond(L, c, 200, p->body, p->got));
    } else if (n == 7 && memcmp(t, "/stream", 7) == 0) {
        memset(p->body, 'x', 20000);
        async_await(async_http_begin(L, c, 200));
        for (p->n = 0; p->n < 3; p->n++)
            async_await(async_http_write(L, c, "chunk", 5));
        async_await(async_http_write(L, c, p->body, 20000)); /* larger than the out buffer */
        async_await(async_http_end(L, c));
    } else if (n == 5 && memcmp(t, "/file", 5) == 0) {
        async_await(async_http_respond_file(L, c, 200, file_fd, 3, 10000));
    } else if (n == 5 && memcmp(t, "/slow", 5) == 0) {
        async_await(async_sleep(L, ASYNC_MS(300)));
        async_await(async_http_respond(L, c, 200, "slow", 4));
    } else if (n == 9 && memcmp(t, "/noanswer", 9) == 0) {
        async_return(0);
    } else if (n == 5 && memcmp(t, "/fail", 5) == 0) {
        async_return(ASYNC_EPROTO);
    } else if (n == 8 && memcmp(t, "/timeout", 8) == 0) {
        async_return(ASYNC_ETIMEDOUT); /* 408 */
    } else if (n == 6 && memcmp(t, "/nomem", 6) == 0) {
        async_return(ASYNC_ENOSPC); /* any other error: 500 */
    } else if (n == 7 && memcmp(t, "/misuse", 7) == 0) {
        misuse_before(L, c);
        async_await(async_http_respond(L, c, 200, "ok", 2));
        misuse_after(L, c);
    } else if (n == 8 && memcmp(t, "/openend", 8) == 0) {
        /* a streamed answer the handler leaves open: the module ends it */
        async_await(async_http_begin(L, c, 200));
        async_await(async_http_write(L, c, "open", 4));
    } else if (n == 6 && memcmp(t, "/empty", 6) == 0) {
        /* begun and ended with no chunk; an empty write sends nothing */
        async_await(async_http_begin(L, c, 200));
        async_await(async_http_write(L, c, "", 0));
        assert_int_equal(async_http_write(L, c, NULL, 3), ASYNC_EINVAL);
        assert_int_equal(async_http_write(L, c, NULL, 0), 0);
        async_await(async_http_end(L, c));
    } else if (n == 10 && memcmp(t, "/nocontent", 10) == 0) {
        /* 204 has no body: what is written is dropped, no framing */
        async_await(async_http_begin(L, c, 204));
        async_await(async_http_write(L, c, "dropped", 7));
        async_await(async_http_end(L, c));
    } else if (n > 6 && memcmp(t, "/late/", 6) == 0) {
        /* the client has reset the connection by the time the op writes
         * (the target from c->req: locals do not survive an await) */
        if (memcmp(c->req.target + 6, "write", 5) == 0 || memcmp(c->req.target + 6, "end", 3) == 0) {
            async_await(async_http_begin(L, c, 200));
            if (c->req.target[6] == 'e')
                async_await(async_http_write(L, c, "x", 1));
        }
        async_await(async_sleep(L, ASYNC_MS(50)));
        if (memcmp(c->req.target + 6, "respond", 7) == 0)
            async_await_rc(late_rc, async_http_respond(L, c, 200, p->body, sizeof p->body));
        else if (memcmp(c->req.target + 6, "begin", 5) == 0)
            async_await_rc(late_rc, async_http_begin(L, c, 200));
        else if (memcmp(c->req.target + 6, "write", 5) == 0)
            async_await_rc(late_rc, async_http_write(L, c, p->body, 3000));
        else if (memcmp(c->req.target + 6, "end", 3) == 0)
            async_await_rc(late_rc, async_http_end(L, c));
        else /* continue: the 100 Continue of the body's first read */
            async_await_rc(late_rc, async_http_body_read(L, c, p->buf, 16));
        async_return(late_rc);
    } else if (n == 7 && memcmp(t, "/notmod", 7) == 0) {
        async_await(async_http_respond(L, c, 304, NULL, 0));
    } else if (n == 6 && memcmp(t, "/close", 6) == 0) {
        async_http_set_close(c);
        async_await(async_http_respond(L, c, 200, "bye", 3));
    } else if (n == 8 && memcmp(t, "/headers", 8) == 0) {
        size_t vl = 0;
        const char *v = async_http_header_get(&c->req, "x-test", &vl);
        p->n = snprintf(tmp, sizeof tmp, "%u %.*s", c->req.nheaders, v ? (int)vl : 1, v ? v : "-");
        async_await(async_http_respond(L, c, 200, tmp, (size_t)p->n));
    } else {
        async_await(async_http_respond(L, c, 404, "no", 2));
    }
    async_end;
}

static async_tick last_response_at; /* when on_response last ran */

static void count_response(async_loop *L, async_http_conn *c)
{
    (void)c;
    responses_logged++;
    last_response_at = async_now(L);
}

/* When the server's sweeper, started with the first connection, first
 * finds a wait that began then to have outlived `limit`: its first tick
 * at or after it (the tests run on the virtual clock: exact). */
static async_tick swept_after(async_tick limit)
{
    return (limit + hs.period - 1) / hs.period * hs.period;
}

static void server_config(void)
{
    async_http_config_init(&cfg, handle);
    ASYNC_HTTP_FRAME(&cfg, struct page, http, buf);
    cfg.on_response = count_response;
    cfg.head_timeout = ASYNC_MS(150);
    cfg.idle_timeout = ASYNC_MS(400);
    cfg.body_timeout = ASYNC_MS(300);
    cfg.write_timeout = ASYNC_MS(300);
    cfg.body_max = 65536;
    cfg.head_max = 2048;
    cfg.headers_max = 10;
    responses_logged = 0;
}

static void server_up(void)
{
    async_addr a;
    memset(&hs, 0, sizeof hs);
    memset(pool, 0, sizeof pool);
    assert_int_equal(async_addr_ip(&a, "127.0.0.1", 0), 0);
    assert_int_equal(async_http_server_listen(&hs, &a, 64, 0), 0);
    assert_int_equal(async_http_server_start(TLOOP, &hs, &cfg, pool, sizeof pool[0], POOL), 0);
}

/* ---- a raw client: send bytes (in pieces), read until the close ---- */

struct raw {
    async_task task;
    async_co co;
    async_stream s;
    const char *req;
    size_t len, off, cur, piece; /* piece 0: all at once */
    async_tick gap;         /* between pieces                 */
    int shut;               /* shut the write side once all is sent */
    int reset;              /* then reset the connection (RST) at once */
    char out[200000];
    size_t outn;
    int rc;
    async_tick t_start, t_sent, t_closed; /* connected, all sent, closed by the server */
};

static int raw_main(async_loop *L, async_task *self)
{
    struct raw *r = async_frame(self, struct raw, task);
    async_begin(L, &r->co);
    async_await(async_stream_connect(L, &r->s, &hs.srv.addr, NULL, 0));
    r->t_start = async_now(L);
    for (r->off = 0; r->off < r->len;) {
        r->cur = r->piece && r->piece < r->len - r->off ? r->piece : r->len - r->off;
        async_await_rc(r->rc, async_stream_write(L, &r->s, r->req + r->off, r->cur));
        if (r->rc < 0)
            break; /* the server may close before all of it is sent */
        r->off += r->cur;
        if (r->gap && r->off < r->len)
            async_await(async_sleep(L, r->gap));
    }
    r->t_sent = async_now(L);
    if (r->shut)
        async_await(async_stream_shutdown(&r->s));
    if (r->reset) /* once the server has the request (its handler waits 50 ms) */
        async_await(async_sleep(L, ASYNC_MS(20)));
    if (r->reset) {
        struct linger lg = {1, 0};
        assert_int_equal(setsockopt(r->s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        async_stream_close(L, &r->s);
        async_return(0);
    }
    for (;;) {
        async_await_rc(r->rc, async_stream_read(L, &r->s, r->out + r->outn,
                                                sizeof r->out - 1 - r->outn));
        if (r->rc <= 0)
            break;
        r->outn += (size_t)r->rc;
    }
    r->t_closed = async_loop_update_now(L);
    r->out[r->outn] = '\0';
    async_finally;
    if (!async_stream_is_closed(&r->s))
        async_stream_close(L, &r->s);
    async_end;
}

static struct raw R;

struct runner {
    async_task task;
    async_co co;
    struct raw *raw;
    int rc;
};

static int run_raw_main(async_loop *L, async_task *self)
{
    struct runner *m = async_frame(self, struct runner, task);
    async_begin(L, &m->co);
    async_spawn(L, &m->raw->task, raw_main);
    async_await_rc(m->rc, async_join(L, &m->raw->task));
    async_http_server_close(L, &hs);
    async_await(async_http_server_shutdown(L, &hs, ASYNC_SEC(2)));
    async_end;
}

/* Serve, send req (in pieces of `piece` bytes `gap` apart), and return
 * everything the server sent before it closed. */
static const char *exchange(const char *req, size_t len, size_t piece, async_tick gap)
{
    static struct runner m;
    memset(&R, 0, sizeof R);
    memset(&m, 0, sizeof m);
    R.req = req;
    R.len = len;
    R.piece = piece;
    R.gap = gap;
    m.raw = &R;
    server_up();
    assert_int_equal(io_run(&m.task, run_raw_main), 0);
    return R.out;
}
#define EXCHANGE(lit) exchange((lit), sizeof(lit) - 1, 0, 0)
/* The same, then the client shuts its write side (it sends no more). */
static const char *exchange_shut(const char *req)
{
    static struct runner m;
    memset(&R, 0, sizeof R);
    memset(&m, 0, sizeof m);
    R.req = req;
    R.len = strlen(req);
    R.shut = 1;
    m.raw = &R;
    server_up();
    assert_int_equal(io_run(&m.task, run_raw_main), 0);
    return R.out;
}

/* Occurrences of needle in what the raw client received (bodies may
 * hold NUL bytes: not strstr). */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    size_t len = hay == R.out ? R.outn : strlen(hay), nl = strlen(needle);
    const char *p = hay, *end = hay + len;
    while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        n++;
        p += nl;
    }
    return n;
}

static void setup_file(void)
{
    unsigned char buf[10003];
    io_fill(buf, sizeof buf, 0);
    file_fd = memfd_create("http-test", 0);
    assert_true(file_fd >= 0);
    assert_int_equal(write(file_fd, buf, sizeof buf), (ssize_t)sizeof buf);
}

/* ---- cases ---- */

static void keepalive_pipelining_in_order(void **state)
{
    const char *out;
    (void)state;
    server_config();
    out = EXCHANGE("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                   "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                   "GET /headers HTTP/1.1\r\nHost: x\r\nX-Test:  spaced value  \r\n\r\n"
                   "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(count(out, "HTTP/1.1 "), 4);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    /* in order: hello, 404, headers, hello */
    assert_true(strstr(out, "\r\n\r\nhello") < strstr(out, "404 Not Found"));
    assert_true(strstr(out, "404 Not Found") < strstr(out, "2 spaced value"));
    assert_non_null(strstr(out, "Content-Length: 14\r\n\r\n2 spaced value"));
    assert_int_equal(count(out, "Connection: close"), 1);
    assert_int_equal(count(out, "Date: "), 4);
    assert_int_equal(responses_logged, 4);
}

static void request_split_byte_by_byte(void **state)
{
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
                              "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n";
    const char *out;
    (void)state;
    server_config();
    out = exchange(req, sizeof req - 1, 1, 0);
    assert_non_null(strstr(out, "Content-Length: 11\r\n\r\nhello world"));
    assert_non_null(strstr(out, "\r\n\r\nhello"));
    assert_int_equal(count(out, "HTTP/1.1 200"), 2);
}

static void content_length_body_in_pieces(void **state)
{
    static char req[40000];
    unsigned char body[30000];
    const char *out;
    int n;
    (void)state;
    server_config();
    io_fill(body, sizeof body, 7);
    n = snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", sizeof body);
    memcpy(req + n, body, sizeof body);
    memcpy(req + n + sizeof body, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", 42);
    out = exchange(req, (size_t)n + sizeof body + 42, 7001, ASYNC_MS(2));
    assert_non_null(strstr(out, "Content-Length: 30000\r\n\r\n"));
    assert_true(io_check((const unsigned char *)strstr(out, "30000\r\n\r\n") + 9, sizeof body, 7));
    assert_int_equal(count(out, "HTTP/1.1 200"), 2);
}

static void expect_continue_and_head(void **state)
{
    const char *out;
    (void)state;
    server_config();
    out = EXCHANGE("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"
                   "HEAD /hello HTTP/1.1\r\n\r\n"
                   "HEAD /stream HTTP/1.1\r\n\r\n"
                   "GET /hello HTTP/1.0\r\n\r\n");
    assert_true(strncmp(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42) == 0);
    assert_non_null(strstr(out, "Content-Length: 3\r\n\r\nabcHTTP/1.1 200"));
    /* HEAD: the length, no body, and the next answer right behind */
    assert_non_null(strstr(out, "Content-Length: 5\r\n\r\nHTTP/1.1 200"));
    /* HTTP/1.0: the answer closes */
    assert_non_null(strstr(out, "Connection: close\r\n\r\nhello"));
    assert_int_equal(count(out, "HTTP/1.1 200"), 4);
}

static void expect_refused_closes_without_100(void **state)
{
    const char *out;
    (void)state;
    server_config();
    out = EXCHANGE("POST /echo HTTP/1.1\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n");
    assert_true(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    assert_null(strstr(out, "100 Continue"));
    assert_non_null(strstr(out, "Connection: close"));
}

static void streamed_file_and_http10(void **state)
{
    const char *out, *b;
    (void)state;
    server_config();
    setup_file();
    out = EXCHANGE("GET /stream HTTP/1.1\r\n\r\nGET /file HTTP/1.1\r\n\r\nGET /stream HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n5\r\nchunk\r\n5\r\nchunk\r\n5\r\nchunk\r\n4e20\r\n"));
    assert_non_null(strstr(out, "\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"));
    b = strstr(out, "Content-Length: 10000\r\n");
    assert_non_null(b);
    b = strstr(b, "\r\n\r\n") + 4;
    assert_true(io_check((const unsigned char *)b, 10000, 3));
    /* HTTP/1.0 gets a body delimited by the close */
    b = strstr(b + 10000, "HTTP/1.1 200");
    assert_non_null(b);
    assert_null(strstr(b, "Transfer-Encoding"));
    assert_non_null(strstr(b, "Connection: close\r\n\r\nchunkchunkchunk"));
    close(file_fd);
}

static void refusals_each_close(void **state)
{
    static const struct {
        const char *req, *want;
    } cases[] = {
        {"BAD\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 400 "},
        {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "HTTP/1.1 400 "},
        {"POST /echo HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", "HTTP/1.1 413 "},
        {"GET / HTTP/1.1\r\nExpect: tea\r\n\r\n", "HTTP/1.1 417 "},
        {"GET / HTTP/3.0\r\n\r\n", "HTTP/1.1 505 "},
        {"GET / HTTP/1.1\r\nA:1\r\nB:1\r\nC:1\r\nD:1\r\nE:1\r\nF:1\r\nG:1\r\nH:1\r\nI:1\r\nJ:1\r\n"
         "K:1\r\n\r\n",
         "HTTP/1.1 431 "},
        {"GET /noanswer HTTP/1.1\r\n\r\n", "HTTP/1.1 500 "},
        {"GET /fail HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *out;
        server_config();
        out = exchange(cases[i].req, strlen(cases[i].req), 0, 0);
        if (strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: %s: got %.40s", i, cases[i].want, out);
        assert_non_null(strstr(out, "Connection: close\r\n"));
        assert_int_equal(count(out, "HTTP/1.1 "), 1); /* and nothing after it */
    }
}

/* Misuse inside a handler is refused code by code (misuse_before,
 * misuse_after), and the answer that follows is whole. */
static void handler_misuse_refused(void **state)
{
    const char *out;
    (void)state;
    server_config();
    out = EXCHANGE("GET /misuse HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(out, "\r\nX-Tab: a\tb and a long tail\r\n"));
    assert_non_null(strstr(out, "\r\nX-Empty: \r\nX-Null: \r\n"));
    assert_null(strstr(out, "Injected"));
    assert_null(strstr(out, "X-Big"));
    assert_non_null(strstr(out, "Content-Length: 2\r\nConnection: close\r\n\r\nok"));
    assert_int_equal(count(out, "HTTP/1.1 "), 1);
}

/* A streamed answer left open is ended by the module; one with no
 * chunk ends at once; a 204 drops what is written; set_close closes. */
static void streamed_answers_open_empty_204(void **state)
{
    const char *out, *p;
    (void)state;
    server_config();
    out = EXCHANGE("GET /openend HTTP/1.1\r\n\r\n"
                   "GET /empty HTTP/1.1\r\n\r\n"
                   "GET /nocontent HTTP/1.1\r\n\r\n"
                   "GET /close HTTP/1.1\r\n\r\n"
                   "GET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(count(out, "HTTP/1.1 "), 4); /* nothing after /close */
    p = strstr(out, "Transfer-Encoding: chunked\r\n\r\n4\r\nopen\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n");
    assert_non_null(p);
    p = strstr(p + 40, "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n");
    assert_non_null(p);
    p = strstr(p, "HTTP/1.1 204 No Content\r\n");
    assert_null(memmem(p, (size_t)(strstr(p, "\r\n\r\n") - p), "Transfer-Encoding", 17));
    assert_null(strstr(out, "dropped"));
    p = strstr(p, "\r\n\r\n") + 4; /* the 204 has no body: the next answer follows */
    assert_true(strncmp(p, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(p, "Content-Length: 3\r\nConnection: close\r\n\r\nbye"));
}

/* A handler's error before any answer picks the status; a HEAD gets its
 * head without a body, except for a 400 (the request is not trusted). */
static void handler_errors_map_to_statuses(void **state)
{
    static const struct {
        const char *req, *want, *tail;
    } cases[] = {
        {"GET /timeout HTTP/1.1\r\n\r\n", "HTTP/1.1 408 ", "\r\n\r\nRequest Timeout"},
        {"GET /nomem HTTP/1.1\r\n\r\n", "HTTP/1.1 500 ", "\r\n\r\nInternal Server Error"},
        {"HEAD /noanswer HTTP/1.1\r\n\r\n", "HTTP/1.1 500 ", "Content-Length: 21\r\n"
                                                           "Connection: close\r\n\r\n"},
        {"HEAD /fail HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ", "\r\n\r\nBad Request"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *out;
        size_t tl = strlen(cases[i].tail);
        server_config();
        out = exchange(cases[i].req, strlen(cases[i].req), 0, 0);
        if (strncmp(out, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: %s: got %.40s", i, cases[i].want, out);
        /* the answer ends with tail: nothing more */
        assert_true(R.outn >= tl);
        assert_memory_equal(R.out + R.outn - tl, cases[i].tail, tl);
    }
}

/* A body the handler did not read is skipped and the connection kept
 * (Content-Length or chunked); a chunked one that goes on past
 * discard_max closes. */
static void unread_bodies_skipped_or_closed(void **state)
{
    static char req[16384];
    const char *out;
    int n, i;
    (void)state;
    server_config();
    out = EXCHANGE("POST /hello HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
                   "POST /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                   "GET /headers HTTP/1.1\r\nX-Test: last\r\nConnection: close\r\n\r\n");
    assert_int_equal(count(out, "HTTP/1.1 200 OK"), 3);
    assert_int_equal(count(out, "\r\n\r\nhello"), 2);
    assert_non_null(strstr(out, "\r\n\r\n2 last"));

    server_config();
    cfg.discard_max = 100;
    n = snprintf(req, sizeof req, "POST /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 40; i++) { /* 10 KiB: more than one discarding read takes */
        n += snprintf(req + n, sizeof req - (size_t)n, "100\r\n");
        memset(req + n, 'z', 256);
        n += 256;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    out = exchange(req, (size_t)n, 0, 0);
    assert_int_equal(count(out, "HTTP/1.1 "), 1); /* the second request is not answered */
    assert_non_null(strstr(out, "\r\n\r\nhello"));
}

/* The client stops sending: in a Content-Length body, in a chunked one
 * (400: the handler's read fails with ASYNC_EPROTO), in the head (no
 * answer at all). */
static void cut_short_bodies_and_heads(void **state)
{
    const char *out;
    (void)state;
    server_config();
    out = exchange_shut("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly ten..");
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    assert_non_null(strstr(out, "Connection: close\r\n"));
    server_config();
    out = exchange_shut("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    server_config();
    out = exchange_shut("GET /hello HTTP/1.1\r\nHost:");
    assert_int_equal(R.outn, 0);
    assert_int_equal(R.rc, ASYNC_EOF); /* closed, not reset */
}

/* The client resets the connection while the handler waits; each op's
 * write then fails: the op returns the error, the connection closes. */
static void writes_to_a_reset_client_fail(void **state)
{
    static const char *const reqs[] = {
        "GET /late/respond HTTP/1.1\r\n\r\n",
        "GET /late/begin HTTP/1.1\r\n\r\n",
        "GET /late/write HTTP/1.1\r\n\r\n",
        "GET /late/end HTTP/1.1\r\n\r\n",
        "POST /late/continue HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    };
    static struct runner m;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        server_config();
        memset(&R, 0, sizeof R);
        memset(&m, 0, sizeof m);
        R.req = reqs[i];
        R.len = strlen(reqs[i]);
        R.reset = 1;
        m.raw = &R;
        late_rc = 1;
        server_up();
        assert_int_equal(io_run(&m.task, run_raw_main), 0);
        if (!(late_rc == ASYNC_ECONNRESET || late_rc == ASYNC_EPIPE))
            fail_msg("%s: %d (%s)", reqs[i], late_rc, async_strerror(late_rc));
        assert_int_equal(hs.nlive, 0);
    }
}

/* A 304 says no length; a HEAD of a file gets its length, no bytes. */
static void not_modified_and_head_of_a_file(void **state)
{
    const char *out, *p;
    (void)state;
    server_config();
    setup_file();
    out = EXCHANGE("GET /notmod HTTP/1.1\r\n\r\n"
                   "HEAD /file HTTP/1.1\r\n\r\n"
                   "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    close(file_fd);
    assert_true(strncmp(out, "HTTP/1.1 304 Not Modified\r\n", 27) == 0);
    p = strstr(out, "\r\n\r\n");
    assert_null(memmem(out, (size_t)(p - out), "Content-Length", 14));
    p += 4;
    assert_true(strncmp(p, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(p, "Content-Length: 10000\r\n\r\nHTTP/1.1 200 OK\r\n"));
    assert_int_equal(count(out, "HTTP/1.1 "), 3);
}

static void head_too_large_is_431(void **state)
{
    static char req[4000];
    const char *out;
    (void)state;
    server_config();
    memset(req, 'a', sizeof req);
    memcpy(req, "GET / HTTP/1.1\r\nX-Big: ", 23);
    /* never ends: the limit must trigger without the end of the head */
    out = exchange(req, sizeof req, 0, 0);
    assert_true(strncmp(out, "HTTP/1.1 431 ", 13) == 0);
}

static void chunked_body_over_the_limit(void **state)
{
    static char req[80000];
    size_t n = 0;
    int i;
    const char *out;
    (void)state;
    server_config();
    n += (size_t)sprintf(req, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 17; i++) {
        n += (size_t)sprintf(req + n, "1000\r\n");
        memset(req + n, 'z', 4096);
        n += 4096;
        n += (size_t)sprintf(req + n, "\r\n");
    }
    n += (size_t)sprintf(req + n, "0\r\n\r\n");
    out = exchange(req, n, 0, 0);
    assert_true(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
}

static void slowloris_gets_408_on_time(void **state)
{
    static const char req[] = "GET /hello HTTP/1.1\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\n\r\n";
    const char *out;
    (void)state;
    server_config();
    /* 2 bytes every 20 ms: 50 bytes take 500 ms; head_timeout is 150 ms */
    out = exchange(req, sizeof req - 1, 2, ASYNC_MS(20));
    assert_true(strncmp(out, "HTTP/1.1 408 ", 13) == 0);
    assert_non_null(strstr(out, "Connection: close"));
    /* on the virtual clock, exactly: the head's wait began as the client
     * connected, and the sweeper (every 37 ms) found it past 150 ms at
     * 185; the client, its bytes taken by the kernel, sent all 55 in 28
     * pieces 20 ms apart, then read the answer and the close */
    assert_int_equal(hs.period, ASYNC_MS(37));
    assert_int_equal(last_response_at - R.t_start, swept_after(cfg.head_timeout));
    assert_int_equal(last_response_at - R.t_start, ASYNC_MS(185));
    assert_int_equal(R.t_sent - R.t_start, ASYNC_MS(20) * ((sizeof req - 1 + 1) / 2 - 1));
    assert_int_equal(R.t_closed, R.t_sent);
}

struct idle_client {
    async_task task;
    async_co co;
    async_stream s;
    char buf[512];
    int n;
    async_tick t0, t1, t_first_byte;
};

static int idle_main(async_loop *L, async_task *self)
{
    struct idle_client *k = async_frame(self, struct idle_client, task);
    async_begin(L, &k->co);
    async_await(async_stream_connect(L, &k->s, &hs.srv.addr, NULL, 0));
    k->t0 = async_loop_update_now(L);
    /* one byte, then silence: the head deadline counts from it */
    async_await(async_stream_write(L, &k->s, "G", 1));
    k->t_first_byte = async_loop_update_now(L);
    async_await_val(k->n, async_stream_read(L, &k->s, k->buf, sizeof k->buf - 1));
    k->buf[k->n] = '\0';
    k->t1 = async_loop_update_now(L);
    async_finally;
    async_stream_close(L, &k->s);
    async_end;
}

struct idle_runner {
    async_task task;
    async_co co;
    struct idle_client k;
    struct raw r;
};

static int idle_runner_main(async_loop *L, async_task *self)
{
    struct idle_runner *m = async_frame(self, struct idle_runner, task);
    async_begin(L, &m->co);
    async_spawn(L, &m->k.task, idle_main);
    async_spawn(L, &m->r.task, raw_main);
    async_await(async_join(L, &m->k.task));
    async_await(async_join(L, &m->r.task));
    async_await(async_http_server_shutdown(L, &hs, ASYNC_SEC(2)));
    async_end;
}

static void head_and_idle_deadlines(void **state)
{
    static struct idle_runner m;
    (void)state;
    server_config();
    memset(&m, 0, sizeof m);
    /* r: one request, then idle until idle_timeout (400 ms) closes it */
    m.r.req = "GET /hello HTTP/1.1\r\n\r\n";
    m.r.len = strlen(m.r.req);
    server_up();
    assert_int_equal(io_run(&m.task, idle_runner_main), 0);
    assert_true(strncmp(m.k.buf, "HTTP/1.1 408 ", 13) == 0);
    assert_non_null(strstr(m.r.out, "\r\n\r\nhello"));
    /* On the virtual clock both connect, k writes its byte and r gets its
     * answer at one instant; the sweeper (started then, every 37 ms)
     * ends k's head at its first tick past 150 ms, r's idle wait at its
     * first past 400 ms: never early, within one period. */
    assert_int_equal(m.k.t_first_byte, m.k.t0);
    assert_int_equal(m.r.t_start, m.k.t0);
    assert_int_equal(m.r.t_sent, m.r.t_start);
    assert_int_equal(m.k.t1 - m.k.t_first_byte, swept_after(cfg.head_timeout));
    assert_int_equal(m.k.t1 - m.k.t_first_byte, ASYNC_MS(185));
    assert_int_equal(m.r.t_closed - m.r.t_sent, swept_after(cfg.idle_timeout));
    assert_int_equal(m.r.t_closed - m.r.t_sent, ASYNC_MS(407));
}

/* ---- the module's client ---- */

struct fetch {
    async_task task;
    async_co co;
    async_stream s;
    async_http_client cl;
    const async_addr *to;
    const char *method, *target, *extra;
    const char *body;
    size_t body_len;
    int status, n, rounds, i;
    size_t piece; /* body reads of at most this many bytes (0: all room) */
    unsigned long long total;
    char data[70000];
    size_t datan;
    unsigned char buf[8192];
};

static int fetch_main(async_loop *L, async_task *self)
{
    struct fetch *f = async_frame(self, struct fetch, task);
    async_begin(L, &f->co);
    async_await(async_stream_connect(L, &f->s, f->to, NULL, 0));
    for (f->i = 0; f->i < (f->rounds ? f->rounds : 1); f->i++) {
        async_http_client_init(&f->cl, &f->s, f->buf, sizeof f->buf);
        async_await(async_http_client_request(L, &f->cl, f->method, "test", f->target, f->extra,
                                              f->body, f->body_len));
        async_await_val(f->status, async_http_client_head(L, &f->cl));
        f->datan = 0;
        for (;;) {
            async_await_val(f->n, async_http_client_body(L, &f->cl, f->data + f->datan,
                                                         f->piece ? f->piece
                                                                  : sizeof f->data - f->datan));
            if (f->n == 0)
                break;
            f->datan += (size_t)f->n;
        }
        f->total += f->cl.body;
    }
    async_finally;
    if (!async_stream_is_closed(&f->s))
        async_stream_close(L, &f->s);
    async_end;
}

struct fetch_runner {
    async_task task;
    async_co co;
    struct fetch *f;
    int rc;
};

static int fetch_runner_main(async_loop *L, async_task *self)
{
    struct fetch_runner *m = async_frame(self, struct fetch_runner, task);
    async_begin(L, &m->co);
    async_spawn(L, &m->f->task, fetch_main);
    async_await_rc(m->rc, async_join(L, &m->f->task));
    async_await(async_http_server_shutdown(L, &hs, ASYNC_SEC(2)));
    async_return(m->rc);
    async_end;
}

static struct fetch F;

static int do_fetch(const char *method, const char *target, const char *extra, const char *body,
                    size_t body_len, int rounds)
{
    static struct fetch_runner m;
    memset(&F, 0, sizeof F);
    memset(&m, 0, sizeof m);
    F.to = &hs.srv.addr;
    F.method = method;
    F.target = target;
    F.extra = extra;
    F.body = body;
    F.body_len = body_len;
    F.rounds = rounds;
    m.f = &F;
    return io_run(&m.task, fetch_runner_main);
}

static void client_against_the_server(void **state)
{
    size_t n;
    (void)state;
    server_config();
    server_up();
    assert_int_equal(do_fetch("GET", "/hello", NULL, NULL, 0, 3), 0);
    assert_int_equal(F.status, 200);
    assert_int_equal(F.datan, 5);
    assert_memory_equal(F.data, "hello", 5);
    assert_int_equal(F.total, 15);
    assert_true(F.cl.keep_alive && F.cl.has_length);
    assert_non_null(async_http_client_header(&F.cl, "content-type", &n));
    assert_int_equal(n, 10);

    server_up();
    assert_int_equal(do_fetch("POST", "/echo", NULL, "0123456789", 10, 1), 0);
    assert_int_equal(F.datan, 10);
    assert_memory_equal(F.data, "0123456789", 10);

    server_up();
    assert_int_equal(do_fetch("GET", "/stream", NULL, NULL, 0, 2), 0);
    assert_true(F.cl.chunked);
    assert_int_equal(F.datan, 15 + 20000);
    assert_memory_equal(F.data, "chunkchunkchunk", 15);

    server_up();
    assert_int_equal(do_fetch("HEAD", "/hello", NULL, NULL, 0, 2), 0);
    assert_int_equal(F.datan, 0);
    assert_int_equal(F.cl.content_length, 5);
}

/* A raw server that answers one connection with canned bytes. */
struct canned {
    async_task task;
    async_co co;
    async_server srv;
    async_io io;
    async_stream s;
    const char *answer;
    char req[2048];
    unsigned char rbuf[2048];
    int fd, n;
};

static int canned_main(async_loop *L, async_task *self)
{
    struct canned *k = async_frame(self, struct canned, task);
    async_begin(L, &k->co);
    async_await_val(k->fd, async_accept(L, &k->io, k->srv.fd, NULL));
    async_await(async_stream_init(&k->s, k->fd, k->rbuf, sizeof k->rbuf));
    /* the whole head (one read may bring a part of it, under check-faults'
     * short transfers): closing with a part unread would send a reset,
     * and the client would see that instead of the answer's end */
    async_await(async_stream_read_until(L, &k->s, "\r\n\r\n", 4, k->req, sizeof k->req));
    async_await(async_stream_write(L, &k->s, k->answer, strlen(k->answer)));
    async_finally;
    if (!async_stream_is_closed(&k->s))
        async_stream_close(L, &k->s);
    async_server_close(L, &k->srv);
    async_end;
}

struct canned_runner {
    async_task task;
    async_co co;
    struct canned *k;
    int rc;
};

static int canned_runner_main(async_loop *L, async_task *self)
{
    struct canned_runner *m = async_frame(self, struct canned_runner, task);
    async_begin(L, &m->co);
    async_spawn(L, &m->k->task, canned_main);
    async_spawn(L, &F.task, fetch_main);
    async_await_rc(m->rc, async_join(L, &F.task));
    async_await(async_join(L, &m->k->task));
    async_return(m->rc);
    async_end;
}

static int fetch_canned_in(const char *answer, size_t piece)
{
    static struct canned k;
    static struct canned_runner m;
    memset(&k, 0, sizeof k);
    memset(&m, 0, sizeof m);
    memset(&F, 0, sizeof F);
    io_listen(&k.srv, AF_INET);
    k.answer = answer;
    F.to = &k.srv.addr;
    F.method = "GET";
    F.target = "/";
    F.piece = piece;
    m.k = &k;
    return io_run(&m.task, canned_runner_main);
}

static int fetch_canned(const char *answer)
{
    return fetch_canned_in(answer, 0);
}

static void client_awkward_answers(void **state)
{
    (void)state;
    assert_int_equal(fetch_canned("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                                  "Link: </a>\r\n\r\nHTTP/1.1 201 Created\r\nX-Y: z\r\n"
                                  "Content-Length: 4\r\n\r\nbody"),
                     0);
    assert_int_equal(F.status, 201);
    assert_int_equal(F.datan, 4);
    assert_null(async_http_client_header(&F.cl, "Link", NULL));
    assert_non_null(async_http_client_header(&F.cl, "X-Y", NULL));

    assert_int_equal(fetch_canned("HTTP/1.0 200 OK\r\n\r\nuntil the close"), 0);
    assert_int_equal(F.datan, 15);
    assert_false(F.cl.has_length);

    assert_int_equal(fetch_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
                     0);
    assert_int_equal(F.datan, 3);

    assert_int_equal(fetch_canned("HTTP/1.1 204 No Content\r\n\r\n"), 0);
    assert_int_equal(F.status, 204);
    assert_int_equal(F.datan, 0);

    assert_int_equal(fetch_canned("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
                     ASYNC_EPROTO);
    assert_int_equal(fetch_canned("not http at all\r\n\r\n"), ASYNC_EPROTO);
    /* a bad chunk size, after a good chunk in the same read: the error */
    assert_int_equal(fetch_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\nzz\r\n"),
                     ASYNC_EPROTO);
    /* body reads smaller than what is buffered: two bytes at a time */
    assert_int_equal(fetch_canned_in("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "9\r\nabcdefghi\r\n0\r\n\r\n",
                                     2),
                     0);
    assert_int_equal(F.datan, 9);
    assert_memory_equal(F.data, "abcdefghi", 9);
    /* a head larger than the client's buffer (8 KiB), and one that fills
     * it exactly, leaving no room for the body */
    {
        static char big[9100];
        static const char pre[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Pad: ";
        size_t pad = 9000;
        memcpy(big, pre, sizeof pre - 1);
        memset(big + sizeof pre - 1, 'p', pad);
        memcpy(big + sizeof pre - 1 + pad, "\r\n\r\nbody", 9);
        assert_int_equal(fetch_canned(big), ASYNC_ETOOLONG);
        pad = sizeof F.buf - (sizeof pre - 1) - 4;
        memset(big, 0, sizeof big);
        memcpy(big, pre, sizeof pre - 1);
        memset(big + sizeof pre - 1, 'p', pad);
        memcpy(big + sizeof pre - 1 + pad, "\r\n\r\nbody", 9);
        assert_int_equal(fetch_canned(big), ASYNC_ETOOLONG);
        assert_int_equal(F.status, 200);
    }
}

/* The client's misuse: each refused with its code, nothing sent. */
static void client_misuse(void **state)
{
    static async_http_client cl;
    static async_stream never; /* never opened: nothing here reaches it */
    static char small[64];
    char b[4];
    (void)state;
    memset(&cl, 0, sizeof cl); /* no buffer (an init without one does nothing) */
    async_http_client_init(&cl, NULL, NULL, 0);
    assert_int_equal(async_http_client_request(TLOOP, NULL, "GET", "h", "/", NULL, NULL, 0),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_client_request(TLOOP, &cl, "GET", "h", "/", NULL, NULL, 0),
                     ASYNC_EINVAL); /* no buffer */
    assert_int_equal(async_http_client_head(TLOOP, NULL), ASYNC_EINVAL);
    assert_int_equal(async_http_client_head(TLOOP, &cl), ASYNC_EINVAL);
    assert_int_equal(async_http_client_body(TLOOP, NULL, b, sizeof b), ASYNC_EINVAL);
    assert_null(async_http_client_header(NULL, "x", NULL));
    assert_null(async_http_client_header(&cl, NULL, NULL));
    async_http_client_init(&cl, &never, small, sizeof small);
    assert_int_equal(async_http_client_request(TLOOP, &cl, NULL, "h", "/", NULL, NULL, 0),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_client_request(TLOOP, &cl, "GET", NULL, "/", NULL, NULL, 0),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_client_request(TLOOP, &cl, "GET", "h", NULL, NULL, NULL, 0),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_client_request(TLOOP, &cl, "GET", "h", "/", NULL, NULL, 3),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_client_request(TLOOP, &cl, "GET", "h", "/a/target/too/long",
                                               "X-Extra: 1\r\n", NULL, 0),
                     ASYNC_ETOOLONG);
    /* a body before the head */
    assert_int_equal(async_http_client_body(TLOOP, &cl, b, sizeof b), ASYNC_EINVAL);
    assert_int_equal(async_http_client_body(TLOOP, &cl, NULL, 1), ASYNC_EINVAL);
    assert_int_equal(async_http_client_body(TLOOP, &cl, b, 0), ASYNC_EINVAL);
    assert_int_equal(fetch_canned("HTTP/1.1 200 OK\r\nContent-"), ASYNC_EPROTO);
}

/* ---- shutdown ---- */

struct shut {
    async_task task;
    async_co co;
    struct raw idle, busy;
    int cancelled;
    async_tick grace;
};

static int shut_main(async_loop *L, async_task *self)
{
    struct shut *m = async_frame(self, struct shut, task);
    async_begin(L, &m->co);
    async_spawn(L, &m->idle.task, raw_main);
    async_spawn(L, &m->busy.task, raw_main);
    async_await(async_sleep(L, ASYNC_MS(100))); /* both requests are in */
    async_await_val(m->cancelled, async_http_server_shutdown(L, &hs, m->grace));
    async_await(async_join(L, &m->idle.task));
    async_await(async_join(L, &m->busy.task));
    async_end;
}

static void graceful_shutdown(void **state)
{
    static struct shut m;
    (void)state;
    server_config();
    memset(&m, 0, sizeof m);
    m.idle.req = "GET /hello HTTP/1.1\r\n\r\n";
    m.idle.len = strlen(m.idle.req);
    m.busy.req = "GET /slow HTTP/1.1\r\n\r\n";
    m.busy.len = strlen(m.busy.req);
    m.grace = ASYNC_SEC(2);
    server_up();
    assert_int_equal(io_run(&m.task, shut_main), 0);
    assert_int_equal(m.cancelled, 0);
    assert_non_null(strstr(m.idle.out, "\r\n\r\nhello"));
    /* the idle one closed at once, long before its idle timeout */
    assert_true(m.idle.t_closed - m.idle.t_sent < cfg.idle_timeout);
    /* exactly (virtual clock): the idle one as the shutdown began, at
     * 100 ms; the busy one once its 300 ms handler answered */
    assert_int_equal(m.idle.t_closed - m.idle.t_start, ASYNC_MS(100));
    assert_int_equal(m.busy.t_closed - m.busy.t_start, ASYNC_MS(300));
    /* the busy one got its answer, marked as the last */
    assert_non_null(strstr(m.busy.out, "Connection: close\r\n"));
    assert_non_null(strstr(m.busy.out, "\r\n\r\nslow"));

    /* a grace shorter than the request: cancelled, and 503 */
    server_config();
    memset(&m, 0, sizeof m);
    m.idle.req = m.busy.req = "GET /slow HTTP/1.1\r\n\r\n";
    m.idle.len = m.busy.len = strlen(m.busy.req);
    m.grace = ASYNC_MS(50);
    server_up();
    assert_int_equal(io_run(&m.task, shut_main), 0);
    assert_int_equal(m.cancelled, 2);
    assert_true(strncmp(m.busy.out, "HTTP/1.1 503 ", 13) == 0 || m.busy.outn == 0);
    assert_int_equal(hs.nlive, 0);
    /* both cut off as the 50 ms grace ran out, 100 ms in (virtual clock) */
    assert_int_equal(m.busy.t_closed - m.busy.t_start, ASYNC_MS(150));
    assert_int_equal(m.idle.t_closed - m.idle.t_start, ASYNC_MS(150));
}

/* ---- serving a connected fd (socketpair) ---- */

struct pair_runner {
    async_task task;
    async_co co;
    async_stream s;
    char out[4096];
    size_t n;
    int rc, fds[2];
};

static int pair_main(async_loop *L, async_task *self)
{
    struct pair_runner *m = async_frame(self, struct pair_runner, task);
    static const char req[] = "GET /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
    async_begin(L, &m->co);
    async_await(async_http_serve_fd(L, &hs, &pool[0], m->fds[0]));
    assert_int_equal(async_http_serve_fd(L, &hs, &pool[0], m->fds[0]), ASYNC_EBUSY);
    async_await(async_stream_init(&m->s, m->fds[1], NULL, 0));
    async_await(async_stream_write(L, &m->s, req, sizeof req - 1));
    async_await(async_stream_shutdown(&m->s));
    for (;;) {
        async_await_rc(m->rc, async_stream_read(L, &m->s, m->out + m->n, sizeof m->out - 1 - m->n));
        if (m->rc <= 0)
            break;
        m->n += (size_t)m->rc;
    }
    async_finally;
    async_stream_close(L, &m->s);
    async_end;
}

static void serve_a_socketpair(void **state)
{
    static struct pair_runner m;
    (void)state;
    server_config();
    memset(&m, 0, sizeof m);
    memset(pool, 0, sizeof pool);
    assert_int_equal(async_http_server_init(&hs, &cfg), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, m.fds), 0);
    assert_int_equal(io_run(&m.task, pair_main), 0);
    m.out[m.n] = '\0';
    assert_int_equal(count(m.out, "\r\n\r\nhello"), 2);
    assert_int_equal(hs.nlive, 0);
}

/* ---- helpers ---- */

static void path_and_query(void **state)
{
    static const struct {
        const char *target;
        int rc;
        const char *path;
    } cases[] = {
        {"/", 1, "/"},
        {"/a/b.txt?x=1#f", 8, "/a/b.txt"},
        {"/a%20b", 4, "/a b"},
        {"/..", ASYNC_EPERM, NULL},
        {"/../etc/passwd", ASYNC_EPERM, NULL},
        {"/a/../b", ASYNC_EPERM, NULL},
        {"/a/%2e%2e/b", ASYNC_EPERM, NULL},
        {"/a/%2E%2e", ASYNC_EPERM, NULL},
        {"/a%2fb", ASYNC_EPERM, NULL},
        {"/a%00b", ASYNC_EPERM, NULL},
        {"/a..b/..c/d..", 13, "/a..b/..c/d.."},
        {"/.../x", 6, "/.../x"},
        {"/a%zz", ASYNC_EPROTO, NULL},
        {"/a%2", ASYNC_EPROTO, NULL},
        {"*", ASYNC_EPROTO, NULL},
        {"http://h:1/p/q?z", 4, "/p/q"},
        {"http://h", 1, "/"},
        {"http://h/../x", ASYNC_EPERM, NULL},
        {"http:", ASYNC_EPROTO, NULL},
        {"http:/x", ASYNC_EPROTO, NULL},
        {"http:x/", ASYNC_EPROTO, NULL},
        {"/a%!1", ASYNC_EPROTO, NULL},
        {"/a%1!", ASYNC_EPROTO, NULL},
        {"/a%41%4a", 4, "/aAJ"},
        {"/.x/x./a", 8, "/.x/x./a"},
    };
    async_http_request r;
    char out[64];
    size_t i, n;
    const char *q;
    (void)state;
    memset(&r, 0, sizeof r);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        r.target = cases[i].target;
        r.target_len = (uint32_t)strlen(r.target);
        rc = async_http_path(&r, out, sizeof out);
        if (rc != cases[i].rc)
            fail_msg("%s: %d, want %d", cases[i].target, rc, cases[i].rc);
        if (rc >= 0)
            assert_string_equal(out, cases[i].path);
    }
    r.target = "/a/b/c/d";
    r.target_len = 8;
    assert_int_equal(async_http_path(&r, out, 8), ASYNC_ETOOLONG);
    assert_int_equal(async_http_path(NULL, out, sizeof out), ASYNC_EINVAL);
    assert_int_equal(async_http_path(&r, NULL, sizeof out), ASYNC_EINVAL);
    assert_int_equal(async_http_path(&r, out, 0), ASYNC_EINVAL);
    /* a path of cap - 1 bytes followed by the query or the fragment */
    r.target = "/abcdefg?x";
    r.target_len = 10;
    assert_int_equal(async_http_path(&r, out, 9), 8);
    assert_string_equal(out, "/abcdefg");
    r.target = "/abcdefg#x";
    assert_int_equal(async_http_path(&r, out, 9), 8);
    r.target = "/a\0b"; /* a NUL ends it */
    r.target_len = 4;
    assert_int_equal(async_http_path(&r, out, sizeof out), 2);
    assert_string_equal(out, "/a");
    r.target = "http://h";
    r.target_len = 8;
    assert_int_equal(async_http_path(&r, out, 1), ASYNC_ETOOLONG); /* no room for "/" */
    r.target_len = 0;
    assert_int_equal(async_http_path(&r, out, sizeof out), ASYNC_EPROTO);
    r.target = NULL;
    assert_int_equal(async_http_path(&r, out, sizeof out), ASYNC_EPROTO);
    assert_null(async_http_query(&r, &n));
    assert_null(async_http_header_get(&r, NULL, NULL));
    r.target = "/x?a=1&b=2#frag";
    r.target_len = (uint32_t)strlen(r.target);
    q = async_http_query(&r, &n);
    assert_non_null(q);
    assert_int_equal(n, 7);
    assert_memory_equal(q, "a=1&b=2", 7);
    assert_ptr_equal(async_http_query(&r, NULL), q); /* the length is optional */
    r.target = "/x";
    r.target_len = 2;
    assert_null(async_http_query(&r, &n));
}

static void dates_and_reasons(void **state)
{
    /* every malformed form is refused with ASYNC_EPROTO, never read past */
    static const char *const bad[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC",  "yesterday",
        "Sun, 06 Nov 1994 08:49",         "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 0x Nov 1994 08:49:37 GMT",  "Sun, 0/ Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov 1994 08:49:37 GMT",  "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 No",                     "Sun, 06 Nov-1994 08:49:37 GMT",
        "Sun, 06 Nov 199 08:49:37 GMT",   "Sun, 06 Nov 1994-08:49:37 GMT",
        "Sun, 06 Nov 1994 08-49:37 GMT",  "Sun, 06 Nov 1994 08:4",
        "Sun, 06 Nov 1994 08:49-37 GMT",  "Sun, 06 Nov 1994 08:49:3",
        "Sun, 00 Nov 1994 08:49:37 GMT",  "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",  "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",  "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sunday,06-Nov-94 08:49:37 GMT",  "Sunday, 06 Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov 94 08:49:37 GMT", "Sunday, 06-Nov-9408:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",     "Sunday, x6-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nox-94 08:49:37 GMT", "Sunday, 06-Nov-9x 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49 GMT",    "Sun  Nov  6 08:49:37 1994",
        "Sun Nov_ 6 08:49:37 1994",       "Sun Nov  6_08:49:37 1994",
        "Sun Nov  6 08:49:37_1994",       "Sun Nov  6 08:49:37 199",
        "Sun Nov  6 08:49:37 1994 GMT",   "Sun Nov x6 08:49:37 1994",
        "Sun Xyz  6 08:49:37 1994",       "Sun Nov  6 08:49",
        "ab",                             "",
        "S",                              "Sun, 31 Apr 1994 08:49:37 GMT", /* no such day */
        "Sun, 29 Feb 1900 08:49:37 GMT",  "Sun Feb 30 08:49:37 1996",
    };
    static const struct {
        const char *s;
        long long t;
    } good[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
        {"Sun Nov  6 08:49:37 1994", 784111777},
        {"Wed Nov 16 08:49:37 1994", 784111777 + 10 * 86400}, /* two-digit asctime day */
        {" \tsun, 06 nov 1994 08:49:37 GMT\t ", 784111777},   /* blanks around, any case */
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Monday, 01-Jan-01 00:00:00 GMT", 978307200},       /* a two-digit year below 70 */
        {"Sat, 01 Jan 0000 00:00:00 GMT", -62167219200LL},   /* before year 1 (era < 0) */
        {"Tue, 31 Dec 2024 23:59:60 GMT", 1735689600},       /* a leap second */
        {"Thu, 29 Feb 1996 00:00:00 GMT", 825552000},        /* a leap day */
        {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},        /* a 400-year leap day */
    };
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"},
        {202, "Accepted"}, {204, "No Content"}, {206, "Partial Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
        {304, "Not Modified"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
        {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {408, "Request Timeout"}, {409, "Conflict"},
        {411, "Length Required"}, {413, "Content Too Large"}, {414, "URI Too Long"},
        {415, "Unsupported Media Type"}, {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"}, {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
        {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
        {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"}, {299, "Unknown"},
        {0, "Unknown"}, {-1, "Unknown"},
    };
    char buf[32];
    long long t;
    size_t i;
    (void)state;
    assert_string_equal(async_http_date(784111777, buf, sizeof buf), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_string_equal(async_http_date(-62167219200LL, buf, sizeof buf),
                        "Sat, 01 Jan 0000 00:00:00 GMT");
    /* out of range (a year past 9999, or none gmtime can give): 1900,
     * never garbage */
    assert_string_equal(async_http_date(253402300800LL, buf, sizeof buf),
                        "Sun, 00 Jan 1900 00:00:00 GMT");
    assert_string_equal(async_http_date(0x7fffffffffffffffLL, buf, sizeof buf),
                        "Sun, 00 Jan 1900 00:00:00 GMT");
    /* too small a buffer: an empty string, or nothing written */
    memset(buf, 'x', sizeof buf);
    assert_ptr_equal(async_http_date(0, buf, 29), buf);
    assert_string_equal(buf, "");
    buf[0] = 'x';
    assert_ptr_equal(async_http_date(0, buf, 0), buf);
    assert_int_equal(buf[0], 'x');
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        t = -1;
        if (async_http_parse_date(good[i].s, strlen(good[i].s), &t) != 0 || t != good[i].t)
            fail_msg("\"%s\": %lld, want %lld", good[i].s, t, good[i].t);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (async_http_parse_date(bad[i], strlen(bad[i]), &t) != ASYNC_EPROTO)
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(async_http_parse_date(NULL, 0, &t), ASYNC_EINVAL);
    assert_int_equal(async_http_parse_date("x", 1, NULL), ASYNC_EINVAL);
    for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        assert_string_equal(async_http_reason(reasons[i].status), reasons[i].reason);
}

/* async_http_date computes the calendar itself (no gmtime_r): it must
 * agree with the C library's gmtime_r on every kind of day -
 * leap days, century years, before 1970, the ends of the range - and
 * show an out-of-range time as 1900, as it always has.                 */
static void date_agrees_with_gmtime(void **state)
{
    static const long long edges[] = {0, -1, 1, 86399, 86400, -86400, -86401, 951782400,
                                      951868800, 4107542400LL, 4107456000LL, -2208988800LL,
                                      -12219292800LL, -62167219200LL, 253402300799LL,
                                      68219856000LL, 1709211909};
    char buf[32], ref[96];
    struct tm tm;
    time_t tt;
    long long t;
    unsigned i;
    (void)state;
    for (i = 0; i < sizeof edges / sizeof edges[0] + 200000; i++) {
        /* the edges, then a stride through the whole range that lands on
         * every time of day and every day of the 400-year cycle */
        t = i < sizeof edges / sizeof edges[0] ? edges[i]
                                                : -62167219200LL + (long long)i * 1576000057LL;
        if (t > 253402300799LL)
            t = 253402300799LL - (long long)i;
        tt = (time_t)t;
        assert_non_null(gmtime_r(&tt, &tm));
        assert_int_equal(strftime(ref, sizeof ref, "%a, %d %b ", &tm), 12); /* %Y: no zeros */
        snprintf(ref + 12, sizeof ref - 12, "%04d %02d:%02d:%02d GMT", tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_string_equal(async_http_date(t, buf, sizeof buf), ref);
    }
    assert_string_equal(async_http_date(-62167219201LL, buf, sizeof buf),
                        "Sun, 00 Jan 1900 00:00:00 GMT");
    assert_string_equal(async_http_date(253402300800LL, buf, sizeof buf),
                        "Sun, 00 Jan 1900 00:00:00 GMT");
    assert_string_equal(async_http_date(0, buf, 29), ""); /* no room */
}

static void config_and_misuse(void **state)
{
    async_http_config c;
    async_http_server s;
    (void)state;
    async_http_config_init(&c, handle);
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL); /* no buffer */
    ASYNC_HTTP_FRAME(&c, struct page, http, buf);
    assert_int_equal(async_http_server_init(&s, &c), 0);
    assert_int_equal(s.cfg.head_max, sizeof pool[0].buf - c.out_size - 256);
    c.head_max = sizeof pool[0].buf; /* no room left for a body */
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    c.head_max = 0;
    c.out_size = 100; /* too small for a head */
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    c.out_size = 1024;
    c.server_name = "a name far too long to be a Server header value, really far too long";
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    c.server_name = "bad\r\nname";
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    c.server_name = NULL;
    assert_int_equal(async_http_server_start(TLOOP, &s, &c, pool, sizeof pool[0].buf, POOL),
                     ASYNC_EINVAL); /* stride smaller than the frame */
    assert_int_equal(async_http_server_start(TLOOP, &s, &c, pool, 64, POOL),
                     ASYNC_EINVAL); /* smaller than the connection itself */
    assert_int_equal(async_http_server_init(NULL, &c), ASYNC_EINVAL);
    assert_int_equal(async_http_server_init(&s, NULL), ASYNC_EINVAL);
    assert_int_equal(async_http_server_start(TLOOP, NULL, &c, pool, sizeof pool[0], POOL),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_server_start(TLOOP, &s, NULL, pool, sizeof pool[0], POOL),
                     ASYNC_EINVAL);
    assert_int_equal(async_http_server_start(TLOOP, &s, &c, NULL, sizeof pool[0], POOL),
                     ASYNC_EINVAL);
    c.out_size = 10; /* a start checks the configuration too */
    assert_int_equal(async_http_server_start(TLOOP, &s, &c, pool, sizeof pool[0], POOL),
                     ASYNC_EINVAL);
    c.out_size = 1024;
    c.conn_offset = sizeof pool[0] - 8; /* the buffer fits, the connection does not */
    c.buf_offset = 0;
    c.buf_size = 4096;
    assert_int_equal(async_http_server_start(TLOOP, &s, &c, pool, sizeof pool[0], POOL),
                     ASYNC_EINVAL);
    ASYNC_HTTP_FRAME(&c, struct page, http, buf);
    c.buf_size = c.out_size + 1000; /* less than a head's room behind the out buffer */
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    ASYNC_HTTP_FRAME(&c, struct page, http, buf);
    c.handler = NULL;
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    c.handler = handle;
    assert_int_equal(async_http_server_listen(NULL, NULL, 1, 0), ASYNC_EINVAL);
    assert_int_equal(async_http_serve_fd(NULL, &s, pool, 0), ASYNC_EINVAL);
    assert_int_equal(async_http_serve_fd(TLOOP, NULL, pool, 0), ASYNC_EINVAL);
    assert_int_equal(async_http_serve_fd(TLOOP, &s, NULL, 0), ASYNC_EINVAL);
    assert_int_equal(async_http_serve_fd(TLOOP, &s, pool, -1), ASYNC_EINVAL);
    async_http_server_close(TLOOP, NULL); /* harmless */
    assert_null(async_http_header_get(NULL, "x", NULL));
    assert_null(async_http_query(NULL, NULL));

    /* what the configuration's limits become: head_max at most 64 KiB,
     * at least 64; headers_max at most ASYNC_HTTP_MAX_HEADERS; the
     * sweeper's period a quarter of the shortest deadline, 10 ms to 1 s */
    c.buf_size = 200000;
    c.head_max = 100000;
    c.headers_max = 1000;
    assert_int_equal(async_http_server_init(&s, &c), 0);
    assert_int_equal(s.cfg.head_max, 65536);
    assert_int_equal(s.cfg.headers_max, ASYNC_HTTP_MAX_HEADERS);
    assert_int_equal(s.period, ASYNC_SEC(1));
    c.head_max = 63;
    assert_int_equal(async_http_server_init(&s, &c), ASYNC_EINVAL);
    c.head_max = 0;
    c.idle_timeout = 0;
    c.head_timeout = ASYNC_MS(20);
    c.body_timeout = 0;
    c.write_timeout = ASYNC_MS(200);
    assert_int_equal(async_http_server_init(&s, &c), 0);
    assert_int_equal(s.period, ASYNC_MS(10));
    c.head_timeout = c.write_timeout = 0;
    c.body_timeout = ASYNC_MS(400);
    assert_int_equal(async_http_server_init(&s, &c), 0);
    assert_int_equal(s.period, ASYNC_MS(100));
}

/* A connection served on a loop without the libev driver: the sweeper
 * needs libev, so the connection ends at once with ASYNC_EINVAL and
 * leaves the fd to the caller's close. */
static void serve_fd_needs_the_libev_driver(void **state)
{
    static async_vclock vc;
    static async_loop plain;
    static async_http_server s;
    int fds[2];
    async_http_conn *c = &pool[0].http;
    (void)state;
    server_config();
    memset(pool, 0, sizeof pool);
    assert_int_equal(async_http_server_init(&s, &cfg), 0);
    async_vclock_init(&vc, 0, true);
    assert_int_equal(async_loop_init(&plain, &vc.port), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(async_http_serve_fd(&plain, &s, &pool[0], fds[0]), 0);
    async_run_ready(&plain);
    assert_true(async_task_is_done(&c->conn.task));
    assert_int_equal(async_task_result(&c->conn.task), ASYNC_EINVAL);
    close(fds[1]);
    if (!async_stream_is_closed(&c->conn.stream))
        async_stream_close(&plain, &c->conn.stream);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IOT_V(keepalive_pipelining_in_order),
        IOT_V(request_split_byte_by_byte),
        IOT_V(content_length_body_in_pieces),
        IOT_V(expect_continue_and_head),
        IOT_V(expect_refused_closes_without_100),
        IOT_V(streamed_file_and_http10),
        IOT_V(refusals_each_close),
        IOT_V(handler_misuse_refused),
        IOT_V(streamed_answers_open_empty_204),
        IOT_V(handler_errors_map_to_statuses),
        IOT_V(unread_bodies_skipped_or_closed),
        IOT_V(cut_short_bodies_and_heads),
        IOT_V(writes_to_a_reset_client_fail),
        IOT_V(not_modified_and_head_of_a_file),
        IOT_V(head_too_large_is_431),
        IOT_V(chunked_body_over_the_limit),
        IOT_V(slowloris_gets_408_on_time),
        IOT_V(head_and_idle_deadlines),
        IOT_V(client_against_the_server),
        IOT_V(client_awkward_answers),
        IOT_V(client_misuse),
        IOT_V(graceful_shutdown),
        IOT_V(serve_a_socketpair),
        IOT_V(path_and_query),
        IOT_V(dates_and_reasons),
        IOT_V(date_agrees_with_gmtime),
        IOT_V(config_and_misuse),
        IOT_V(serve_fd_needs_the_libev_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
