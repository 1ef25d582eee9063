/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the HTTP server's request path (src/http.c), one
 * connection served over a real socket pair on a real loop
 * (async_http_serve_fd).  A writer task sends the input in the pieces
 * of a split plan, yielding between them, then ends its side; a reader
 * task collects every byte the server answers until it closes.  The
 * handler answers from memory, streams chunked, sends a file, or echoes
 * the body it read, by target.  The first byte picks one of two modes.
 *
 * raw   Arbitrary bytes.  Fed whole, in the fuzz-chosen plan, and (when
 *       short) one byte at a time: the server's answers must be the same
 *       bytes every time (Date values aside), and the connection must end.
 *
 * gen   A sequence of well-formed requests built from the input: GET,
 *       HEAD, POST with a Content-Length or a chunked body (sizes,
 *       extensions, trailers), Expect: 100-continue, HTTP/1.0, headers,
 *       Connection: close; then maybe garbage.  Every answer is checked
 *       in order against what the handler must say for its request.
 *
 * A mismatch, a sanitizer report or a hang is a crash.
 *
 *   make fuzz                     # every target, FUZZ_TIME seconds each
 *   build/fuzz/fuzz_http CRASH    # replay one input                    */
#define _GNU_SOURCE
#include "src/async_http.h"
#include "fuzz_input.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_MAX (1u << 20)

/* ---- the server's handler ---- */

struct page {
    async_http_conn http;
    async_co co;
    int n;
    unsigned long long got, sum;
    char text[128];
    unsigned char body[1024];
    unsigned char buf[4096];
};

static int file_fd = -1;

/* What the handler says for a request: its method, target, header
 * count, and for a body its length and a checksum.                    */
static int describe(const async_http_conn *c, const struct page *p, char *out, size_t cap)
{
    return snprintf(out, cap, "%s %.*s h=%u n=%llu s=%llu\n",
                    http_method_str((enum http_method)c->req.method), (int)c->req.target_len,
                    c->req.target, c->req.nheaders, p->got, p->sum);
}

/* async_http_path's promises on whatever target arrived: a path that
 * starts with '/', holds no NUL and no ".." segment, and fits.        */
static void check_path(const async_http_request *r)
{
    char out[64];
    int n = async_http_path(r, out, sizeof out), i, seg = 0;
    if (n < 0) {
        if (n != ASYNC_EPERM && n != ASYNC_EPROTO && n != ASYNC_ETOOLONG)
            abort();
        return;
    }
    if (n == 0 || (size_t)n >= sizeof out || out[0] != '/' || out[n] != '\0' ||
        memchr(out, '\0', (size_t)n) != NULL)
        abort();
    for (i = 1; i <= n; i++)
        if (i == n || out[i] == '/') {
            if (i - seg - 1 == 2 && out[seg + 1] == '.' && out[seg + 2] == '.')
                abort(); /* a ".." segment got through */
            seg = i;
        }
}

static int handle(async_loop *L, async_http_conn *c)
{
    struct page *p = async_frame(c, struct page, http);
    int i;
    async_begin(L, &p->co);
    check_path(&c->req);
    p->got = p->sum = 0;
    for (;;) { /* every body is read (and summed) first */
        async_await_val(p->n, async_http_body_read(L, c, p->body, sizeof p->body));
        if (p->n == 0)
            break;
        for (i = 0; i < p->n; i++)
            p->sum = p->sum * 31 + p->body[i];
        p->got += (unsigned)p->n;
    }
    p->n = describe(c, p, p->text, sizeof p->text);
    if (c->req.target_len >= 2 && c->req.target[1] == 's') { /* streamed */
        async_await(async_http_begin(L, c, 200));
        async_await(async_http_write(L, c, p->text, (size_t)p->n));
        async_await(async_http_write(L, c, "tail\n", 5));
        async_await(async_http_end(L, c));
    } else if (c->req.target_len >= 2 && c->req.target[1] == 'f') { /* a file */
        async_await(async_http_respond_file(L, c, 200, file_fd, 0, 6));
    } else {
        async_http_add_header(c, "X-Len", "1");
        async_await(async_http_respond(L, c, 200, p->text, (size_t)p->n));
    }
    async_end;
}

/* ---- one run ---- */

static struct run {
    async_task wtask, rtask, main;
    async_co wco, rco, mco;
    async_stream ws;
    const unsigned char *p;
    size_t len, off, i, piece;
    const unsigned char *plan;
    size_t nplan;
    int fds[2], rc, k;
    size_t outn;
    async_stream rs;
} R;

static char out[OUT_MAX];
static struct page frame;
static async_http_server hs;
static async_ev E;

static int writer_main(async_loop *L, async_task *self)
{
    (void)self;
    async_begin(L, &R.wco);
    for (R.off = 0, R.i = 0; R.off < R.len; R.off += R.piece) {
        R.piece = R.nplan ? (size_t)R.plan[R.i++ % R.nplan] + 1 : R.len - R.off;
        if (R.piece > R.len - R.off)
            R.piece = R.len - R.off;
        async_await_rc(R.rc, async_stream_write(L, &R.ws, R.p + R.off, R.piece));
        if (R.rc < 0)
            break; /* the server closed */
        for (R.k = 0; R.k < 3; R.k++)
            async_await(async_yield());
    }
    async_finally;
    async_stream_shutdown(&R.ws); /* the end of the requests */
    async_end;
}

static int reader_main(async_loop *L, async_task *self)
{
    (void)self;
    async_begin(L, &R.rco);
    for (;;) {
        async_await_rc(R.rc, async_stream_read(L, &R.ws, out + R.outn, OUT_MAX - R.outn));
        if (R.rc <= 0 || R.outn + (size_t)R.rc >= OUT_MAX)
            break;
        R.outn += (size_t)R.rc;
    }
    async_end;
}

static int run_main(async_loop *L, async_task *self)
{
    (void)self;
    async_begin(L, &R.mco);
    async_await(async_http_serve_fd(L, &hs, &frame, R.fds[1]));
    async_spawn(L, &R.rtask, reader_main);
    async_spawn(L, &R.wtask, writer_main);
    async_await(async_join(L, &R.rtask));
    async_await(async_join(L, &R.wtask));
    async_await(async_join(L, &frame.http.conn.task));
    async_end;
}

static void setup(void)
{
    static async_http_config cfg;
    struct ev_loop *ev;
    signal(SIGPIPE, SIG_IGN);
    ev = ev_loop_new(EVFLAG_AUTO);
    if (ev == NULL || async_ev_init(&E, ev) < 0)
        abort();
    async_http_config_init(&cfg, handle);
    ASYNC_HTTP_FRAME(&cfg, struct page, http, buf);
    cfg.out_size = 512;
    cfg.head_max = 1024;
    cfg.headers_max = 12;
    cfg.body_max = 3000;
    cfg.discard_max = 500;
    if (async_http_server_init(&hs, &cfg) < 0)
        abort();
    file_fd = memfd_create("fuzz_http", 0);
    if (file_fd < 0 || write(file_fd, "file!\n", 6) != 6)
        abort();
}

/* Serve one connection with these bytes; the answer is out[0..outn). */
static size_t serve(const unsigned char *p, size_t len, const unsigned char *plan, size_t nplan)
{
    int rc;
    if (file_fd < 0)
        setup();
    memset(&R, 0, sizeof R);
    memset(&frame.http.conn.task, 0, sizeof frame.http.conn.task);
    R.p = p;
    R.len = len;
    R.plan = plan;
    R.nplan = nplan;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, R.fds) < 0 ||
        async_stream_init(&R.ws, R.fds[0], NULL, 0) < 0)
        abort();
    rc = async_ev_run(&E, &R.main, run_main);
    async_stream_close(async_ev_loop(&E), &R.ws);
    if (rc < 0 || hs.nlive != 0) {
        fprintf(stderr, "fuzz_http: the run ended with %s, %u connections left\n",
                async_strerror(rc), hs.nlive);
        abort();
    }
    /* Date values differ from second to second: blank them. */
    {
        char *d = out;
        while ((d = memmem(d, R.outn - (size_t)(d - out), "\r\nDate: ", 8)) != NULL) {
            if ((size_t)(d - out) + 8 + 29 <= R.outn)
                memset(d + 8, 'D', 29);
            d += 8;
        }
    }
    return R.outn;
}

static void fail(const char *what, const char *a, size_t an, const char *b, size_t bn)
{
    fprintf(stderr, "fuzz_http: %s\n--- %zu bytes:\n%.*s\n--- %zu bytes:\n%.*s\n", what, an,
            (int)(an > 2000 ? 2000 : an), a, bn, (int)(bn > 2000 ? 2000 : bn), b ? b : "");
    abort();
}

static char first[OUT_MAX];

static void raw(const unsigned char *data, size_t size)
{
    static const unsigned char one[1] = {0};
    size_t k = size ? data[0] % 16 : 0, n1, n2;
    const unsigned char *plan;

    if (size < 1 + k)
        return;
    plan = data + 1;
    data += 1 + k;
    size -= 1 + k;
    n1 = serve(data, size, NULL, 0);
    memcpy(first, out, n1);
    n2 = serve(data, size, plan, k);
    if (n1 != n2 || memcmp(first, out, n1) != 0)
        fail("whole and planned splits answer differently", first, n1, out, n2);
    if (size <= 400) {
        n2 = serve(data, size, one, 1);
        if (n1 != n2 || memcmp(first, out, n1) != 0)
            fail("whole and byte by byte answer differently", first, n1, out, n2);
    }
}

/* ---- gen: well-formed requests, then maybe garbage ---- */

#define IN_MAX 65536
static char in[IN_MAX];
static size_t inlen;


static void put(char *buf, size_t *len, size_t cap, const void *s, size_t n)
{
    if (n > cap - *len)
        n = cap - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}
#define IN(s, n) put(in, &inlen, IN_MAX, (s), (n))
#define INS(s) IN((s), strlen(s))

static int inprintf(const char *fmt, unsigned long a)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, fmt, a);
    IN(tmp, (size_t)n);
    return n;
}

/* Take the next answer from out[*pos..): its status and body (chunks
 * joined).  head_only: no body follows.  -1 if it is not well-formed. */
static int next_answer(size_t *pos, int head_only, char *body, size_t *blen, int *closes)
{
    const char *h = out + *pos, *end = out + R.outn, *e, *cl, *te;
    int status;
    size_t n;
    e = memmem(h, (size_t)(end - h), "\r\n\r\n", 4);
    if (e == NULL || end - h < 12 || memcmp(h, "HTTP/1.1 ", 9) != 0)
        return -1;
    status = atoi(h + 9);
    *closes = memmem(h, (size_t)(e - h), "\r\nConnection: close", 19) != NULL;
    cl = memmem(h, (size_t)(e - h), "\r\nContent-Length: ", 18);
    te = memmem(h, (size_t)(e - h), "\r\nTransfer-Encoding: chunked", 28);
    e += 4;
    *blen = 0;
    if (head_only || status == 304 || status == 204) {
    } else if (te) {
        for (;;) {
            char *x;
            unsigned long c = strtoul(e, &x, 16);
            if (x == e || end - x < 2 || memcmp(x, "\r\n", 2) != 0)
                return -1;
            e = x + 2;
            if (c == 0) {
                if (end - e < 2 || memcmp(e, "\r\n", 2) != 0)
                    return -1;
                e += 2;
                break;
            }
            if ((size_t)(end - e) < c + 2 || *blen + c > 4096)
                return -1;
            memcpy(body + *blen, e, c);
            *blen += c;
            e += c + 2;
        }
    } else if (cl) {
        n = strtoul(cl + 18, NULL, 10);
        if ((size_t)(end - e) < n || n > 4096)
            return -1;
        memcpy(body, e, n);
        *blen = n;
        e += n;
    } else {
        n = (size_t)(end - e); /* delimited by the close */
        if (n > 4096)
            return -1;
        memcpy(body, e, n);
        *blen = n;
        e = end;
    }
    *pos = (size_t)(e - out);
    return status;
}

static void gen(const unsigned char *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    unsigned nreq, i, j, b, k;
    const unsigned char *plan;
    size_t nplan, pos = 0;
    struct {
        int head, closes, http10, streamed, file, cont;
        unsigned long long got, sum;
        unsigned nh;
        char target[16];
        const char *method;
    } q[16];
    char body[4096], expect[256];

    inlen = 0;
    b = fuzz_byte(&r);
    nreq = 1 + b % 8;
    nplan = (b >> 3) % 8;
    plan = r.p;
    nplan = nplan < r.n ? nplan : r.n;
    r.p += nplan;
    r.n -= nplan;
    for (i = 0; i < nreq; i++) {
        unsigned kind = fuzz_byte(&r), flags = fuzz_byte(&r);
        unsigned long long blen = 0, sum = 0;
        q[i].head = kind % 5 == 1;
        q[i].method = q[i].head ? "HEAD" : kind % 5 >= 3 ? "POST" : "GET";
        q[i].http10 = (flags & 0x40) != 0;
        q[i].closes = q[i].http10 ? !(flags & 0x20) : (flags & 0x80) != 0;
        q[i].streamed = kind / 5 % 3 == 1;
        q[i].file = kind / 5 % 3 == 2;
        q[i].cont = 0;
        /* HTTP/1.0 gets a streamed body delimited by the close */
        q[i].closes |= q[i].http10 && q[i].streamed && !q[i].head;
        snprintf(q[i].target, sizeof q[i].target, "/%c%u", q[i].streamed ? 's' : q[i].file ? 'f' : 'm', i);
        INS(q[i].method);
        INS(" ");
        INS(q[i].target);
        INS(q[i].http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
        q[i].nh = 0;
        if (q[i].http10 && (flags & 0x20)) {
            INS("Connection: keep-alive\r\n");
            q[i].nh++;
        } else if (flags & 0x80) {
            INS("Connection: close\r\n");
            q[i].nh++;
        }
        for (j = 0, k = flags & 3; j < k; j++) {
            inprintf("X-H%lu: v\r\n", j);
            q[i].nh++;
        }
        if (strcmp(q[i].method, "POST") == 0) {
            unsigned char piece[600];
            size_t pl = fuzz_byte(&r) * 2u, c;
            int chunked = (flags & 4) != 0 && !q[i].http10;
            if (pl > r.n)
                pl = r.n;
            memcpy(piece, r.p, pl);
            r.p += pl;
            r.n -= pl;
            for (c = 0; c < pl; c++)
                sum = sum * 31 + piece[c];
            blen = pl;
            if (flags & 8) { /* a 100 comes when there is a body to read, on 1.1 */
                INS("Expect: 100-continue\r\n");
                q[i].nh++;
                q[i].cont = !q[i].http10 && (pl > 0 || chunked);
            }
            if (chunked) {
                size_t off = 0;
                INS("Transfer-Encoding: chunked\r\n\r\n");
                q[i].nh++;
                while (off < pl) {
                    size_t n = 1 + fuzz_byte(&r) % 97;
                    if (n > pl - off)
                        n = pl - off;
                    inprintf((flags & 16) ? "%lX;e=1\r\n" : "%lx\r\n", (unsigned long)n);
                    IN(piece + off, n);
                    INS("\r\n");
                    off += n;
                }
                INS((flags & 16) ? "0\r\nT: 1\r\n\r\n" : "0\r\n\r\n");
            } else {
                inprintf("Content-Length: %lu\r\n\r\n", (unsigned long)pl);
                q[i].nh++;
                IN(piece, pl);
            }
        } else {
            INS("\r\n");
        }
        q[i].got = blen;
        q[i].sum = sum;
        if (q[i].closes) {
            nreq = i + 1;
            break;
        }
    }
    if (fuzz_byte(&r) & 1) /* garbage after: answered 400, or ignored after a close */
        IN(r.p, r.n);
    if (inlen == IN_MAX)
        return;

    serve((const unsigned char *)in, inlen, plan, nplan);
    for (i = 0; i < nreq; i++) {
        size_t blen;
        int closes, st;
        if (q[i].cont) { /* a 100 Continue first, for the body read */
            if (R.outn - pos < 25 || memcmp(out + pos, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
                fail("no 100 Continue before the answer", out + pos, R.outn - pos, NULL, 0);
            pos += 25;
        }
        st = next_answer(&pos, q[i].head, body, &blen, &closes);
        if (st != 200)
            fail("an answer is missing or not 200", out, R.outn, in, inlen);
        snprintf(expect, sizeof expect, "%s %s h=%u n=%llu s=%llu\n", q[i].method, q[i].target,
                 q[i].nh, q[i].head ? 0ull : q[i].got, q[i].head ? 0ull : q[i].sum);
        if (q[i].head) {
            if (blen != 0)
                fail("a body for HEAD", out, R.outn, in, inlen);
        } else if (q[i].file) {
            if (blen != 6 || memcmp(body, "file!\n", 6) != 0)
                fail("the file's bytes", out, R.outn, in, inlen);
        } else if (q[i].streamed) {
            size_t el = strlen(expect);
            if (blen != el + 5 || memcmp(body, expect, el) != 0 || memcmp(body + el, "tail\n", 5))
                fail("a streamed answer", out, R.outn, in, inlen);
        } else if (blen != strlen(expect) || memcmp(body, expect, blen) != 0) {
            fail("an answer's body", out, R.outn, expect, strlen(expect));
        }
        if (closes != q[i].closes)
            fail("Connection: close where not asked, or missing", out, R.outn, in, inlen);
    }
    /* after the last request: garbage may get one refusal; nothing else */
    if (pos < R.outn && (R.outn - pos < 10 || memcmp(out + pos, "HTTP/1.1 ", 9) != 0 ||
                         (out[pos + 9] != '4' && out[pos + 9] != '5')))
        fail("bytes after the last answer", out + pos, R.outn - pos, in, inlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        gen(data + 1, size - 1);
    else
        raw(data + 1, size - 1);
    return 0;
}
