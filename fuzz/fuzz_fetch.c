/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the HTTP client's response handling (src/http.c's
 * async_http_client_head / _body, which examples/fetch uses), fed over a
 * real socket pair on a real loop: a writer task sends the bytes in the
 * pieces of a split plan, waiting until the client has taken each piece
 * before sending the next (so every read sees exactly one piece), then
 * ends the stream.  The first byte picks one of two modes.
 *
 * raw   Arbitrary bytes (malformed, truncated, anything).  The same bytes
 *       are fed whole, in the fuzz-chosen split plan, and (when short)
 *       one at a time: the three outcomes (error or not, complete or
 *       not, status, body length) must agree, the body cannot exceed the
 *       input, and a complete answer is never an interim 1xx.
 *
 * gen   A well-formed response built from the input: interim 100/103
 *       responses first, a status, headers (one maybe oversized, past
 *       http-parser's 80 KiB cap), a Content-Length, chunked (sizes,
 *       extensions, trailers) or close-delimited body of fuzz bytes; then
 *       maybe cut short or followed by garbage.  Expected: the status and
 *       exact body length when it is all there (extra bytes ignored, or
 *       body for a close-delimited one), ASYNC_EPROTO when cut short
 *       (a close-delimited body cut in the body is simply shorter) or
 *       when the headers are oversized.
 *
 * A mismatch, a sanitizer report or a hang is a crash.
 *
 *   make fuzz                       # every target, FUZZ_TIME seconds each
 *   build/fuzz/fuzz_fetch CRASH     # replay one input                    */
#define _GNU_SOURCE
#include "src/async_http.h"
#include "fuzz_input.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_MAX_HEADER_SIZE_ (80 * 1024) /* http-parser's cap on a head */

struct outcome {
    int rc, done, status;
    unsigned long long body;
};

struct splits {
    const unsigned char *size; /* piece sizes (byte + 1), cycled; none: whole */
    size_t n;
};

/* ---- one run: writer and client on one loop over a socket pair ---- */

static struct run {
    async_task wtask, rtask, main;
    async_co wco, rco, mco;
    async_stream ws, rs;
    async_http_client cl;
    const unsigned char *p;
    size_t len, off, i, piece;
    const struct splits *sp;
    int fds[2], n, rc, reader_done;
    struct outcome o;
    unsigned char buf[96 * 1024]; /* the client's: holds an 80 KiB head */
    unsigned char body[4096];
} R;

static bool piece_taken(void)
{
    int unread = 0;
    return R.reader_done || (ioctl(R.fds[1], FIONREAD, &unread) == 0 && unread == 0);
}

static int writer_main(async_loop *L, async_task *self)
{
    (void)self;
    async_begin(L, &R.wco);
    for (R.off = 0, R.i = 0; R.off < R.len && !R.reader_done; R.off += R.piece) {
        R.piece = R.sp->n ? (size_t)R.sp->size[R.i++ % R.sp->n] + 1 : R.len - R.off;
        if (R.piece > R.len - R.off)
            R.piece = R.len - R.off;
        async_await_rc(R.rc, async_stream_write(L, &R.ws, R.p + R.off, R.piece));
        if (R.rc < 0)
            break;
        async_await_until(piece_taken());
    }
    async_finally;
    async_stream_close(L, &R.ws); /* the end of the stream */
    async_end;
}

static int reader_main(async_loop *L, async_task *self)
{
    (void)self;
    async_begin(L, &R.rco);
    async_http_client_init(&R.cl, &R.rs, R.buf, sizeof R.buf);
    async_await_rc(R.o.rc, async_http_client_head(L, &R.cl));
    if (R.o.rc < 0)
        async_return(0);
    R.o.status = R.cl.status;
    R.o.rc = 0;
    for (;;) {
        async_await_rc(R.n, async_http_client_body(L, &R.cl, R.body, sizeof R.body));
        if (R.n < 0) {
            R.o.rc = R.n;
            break;
        }
        if (R.n == 0) {
            R.o.done = 1;
            break;
        }
    }
    async_finally;
    R.o.body = R.cl.body;
    R.reader_done = 1;
    async_stream_close(L, &R.rs);
    async_end;
}

static int run_main(async_loop *L, async_task *self)
{
    (void)self;
    async_begin(L, &R.mco);
    async_spawn(L, &R.rtask, reader_main);
    async_spawn(L, &R.wtask, writer_main);
    async_await(async_join(L, &R.rtask));
    async_await(async_join(L, &R.wtask));
    async_end;
}

static async_ev E;

/* fetch.c's reads: pieces as they arrive, then the end of the stream. */
static struct outcome run(const unsigned char *p, size_t len, const struct splits *sp)
{
    static struct ev_loop *ev;
    int rc;

    if (ev == NULL) {
        signal(SIGPIPE, SIG_IGN);
        ev = ev_loop_new(EVFLAG_AUTO);
        if (ev == NULL || async_ev_init(&E, ev) < 0)
            abort();
    }
    memset(&R, 0, offsetof(struct run, buf));
    R.p = p;
    R.len = len;
    R.sp = sp;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, R.fds) < 0 ||
        async_stream_init(&R.ws, R.fds[0], NULL, 0) < 0 ||
        async_stream_init(&R.rs, R.fds[1], NULL, 0) < 0)
        abort();
    rc = async_ev_run(&E, &R.main, run_main);
    if (rc < 0) {
        fprintf(stderr, "fuzz_fetch: the run ended with %s\n", async_strerror(rc));
        abort();
    }
    /* The client's codes: a malformed or cut-short answer is ASYNC_EPROTO,
     * a head that does not fit the buffer ASYNC_ETOOLONG: both are "an
     * error" for the comparisons below. */
    return R.o;
}

static void fail(const char *what, const struct outcome *a, const struct outcome *b)
{
    fprintf(stderr, "fuzz_fetch: %s\n", what);
    fprintf(stderr, "  rc %d done %d status %d body %llu\n", a->rc, a->done, a->status, a->body);
    if (b)
        fprintf(stderr, "  rc %d done %d status %d body %llu\n", b->rc, b->done, b->status,
                b->body);
    abort();
}

static int same(const struct outcome *a, const struct outcome *b)
{
    if ((a->rc < 0) != (b->rc < 0))
        return 0;
    if (a->rc < 0)
        return 1; /* an error: what was parsed before it may differ */
    return a->done == b->done && a->status == b->status && a->body == b->body;
}

static void raw(const unsigned char *data, size_t size)
{
    static const unsigned char one[1] = {0};
    struct splits whole = {NULL, 0}, bytes = {one, 1}, plan;
    struct outcome a, b, c;
    size_t k = size ? data[0] % 16 : 0;

    if (size < 1 + k)
        return;
    plan.size = data + 1;
    plan.n = k;
    data += 1 + k;
    size -= 1 + k;
    a = run(data, size, &whole);
    b = run(data, size, &plan);
    if (!same(&a, &b))
        fail("whole and planned splits disagree", &a, &b);
    if (size <= 512) {
        c = run(data, size, &bytes);
        if (!same(&a, &c))
            fail("whole and byte by byte disagree", &a, &c);
    }
    if (a.rc == 0 && !a.done)
        fail("no error, yet not complete at the end of the stream", &a, NULL);
    if (a.body > size)
        fail("more body than input", &a, NULL);
    if (a.done && a.status / 100 == 1 && a.status != 101)
        fail("an interim response taken for the answer", &a, NULL);
}

/* ---- gen: a well-formed response, then maybe damaged ---- */

#define OUT_MAX (200u * 1024u)
static char out[OUT_MAX];
static size_t outlen;


static void put(const char *s, size_t n)
{
    if (n > OUT_MAX - outlen)
        n = OUT_MAX - outlen;
    memcpy(out + outlen, s, n);
    outlen += n;
}

static void puts_(const char *s)
{
    put(s, strlen(s));
}

static void printf_(const char *fmt, unsigned long v)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    put(tmp, (size_t)n);
}

/* A header value of n safe characters drawn from the input. */
static void value(struct fuzz_reader *r, size_t n)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,;=/";
    while (n--) {
        char c = safe[fuzz_byte(r) % (sizeof safe - 1)];
        put(&c, 1);
    }
}

static void headers(struct fuzz_reader *r)
{
    unsigned i, n = fuzz_byte(r) % 4;
    for (i = 0; i < n; i++) {
        printf_("X-Fuzz-%lu: ", i);
        value(r, fuzz_byte(r) % 24);
        puts_("\r\n");
    }
}

static void gen(const unsigned char *data, size_t size)
{
    enum { CL, CHUNKED, CLOSE };
    struct fuzz_reader r = {data, size}, chunks;
    struct splits plan;
    struct outcome want = {0, 1, 0, 0}, got;
    unsigned b, i, nint, framing, status, damage, trailer;
    size_t hdr_end, hdr_start, big = 0, bodylen, cut, k;
    const unsigned char *body;

    outlen = 0;
    b = fuzz_byte(&r);
    nint = b % 3;
    framing = (b >> 2) % 3;
    k = (b >> 4) % 8; /* split plan length */
    plan.size = r.p;
    plan.n = k < r.n ? k : r.n;
    r.p += plan.n;
    r.n -= plan.n;

    for (i = 0; i < nint; i++) { /* interim responses: skipped */
        puts_(fuzz_byte(&r) & 1 ? "HTTP/1.1 103 Early Hints\r\n" : "HTTP/1.1 100 Continue\r\n");
        headers(&r);
        puts_("\r\n");
    }
    hdr_start = outlen;
    status = 200 + (fuzz_byte(&r) | fuzz_byte(&r) << 8) % 400;
    if (status == 204 || status == 304)
        status = 200; /* no body by definition */
    printf_("HTTP/1.1 %lu ", status);
    value(&r, fuzz_byte(&r) % 12);
    puts_("\r\n");
    headers(&r);
    b = fuzz_byte(&r);
    if (b >= 0xf0) { /* one header near or past http-parser's cap */
        big = (size_t)(b - 0xf0) * 12000u + fuzz_byte(&r) * 8u;
        puts_("X-Big: ");
        for (k = 0; k < big && outlen < OUT_MAX / 2; k++)
            put("a", 1);
        puts_("\r\n");
    }
    bodylen = fuzz_byte(&r) | fuzz_byte(&r) << 8;
    damage = fuzz_byte(&r);
    cut = (size_t)fuzz_byte(&r) << 8 | fuzz_byte(&r);
    trailer = fuzz_byte(&r) & 1;
    chunks.p = r.p; /* chunk sizes, cycled */
    chunks.n = r.n < 8 ? r.n : 8;
    r.p += chunks.n;
    r.n -= chunks.n;
    /* the body: fuzz bytes, as many as remain (up to bodylen); garbage
     * after the answer is the input's body bytes again */
    if (bodylen > r.n)
        bodylen = r.n;
    body = r.p;
    if (framing == CL)
        printf_("Content-Length: %lu\r\n", (unsigned long)bodylen);
    else if (framing == CHUNKED)
        puts_("Transfer-Encoding: chunked\r\n");
    else
        puts_("Connection: close\r\n");
    puts_("\r\n");
    hdr_end = outlen;
    if (framing == CHUNKED) {
        size_t off = 0, c, j = 0;
        while (off < bodylen) {
            b = chunks.n ? chunks.p[j++ % chunks.n] : 0;
            c = 1 + (b & 0x7f) * ((b & 0x80) ? 31 : 1);
            if (c > bodylen - off)
                c = bodylen - off;
            printf_(b & 1 ? "%lX" : "%lx", (unsigned long)c);
            if ((b & 0x0c) == 0x0c)
                puts_(";ext=1");
            puts_("\r\n");
            put((const char *)body + off, c);
            puts_("\r\n");
            off += c;
        }
        puts_("0\r\n");
        if (trailer)
            puts_("X-Trailer: t\r\n");
        puts_("\r\n");
    } else {
        put((const char *)body, bodylen);
    }
    if (outlen == OUT_MAX)
        return; /* does not fit: nothing to expect */
    want.status = (int)status;
    want.body = bodylen;

    /* the damage: none, cut short, or garbage after the answer */
    if (damage % 3 == 1 && outlen > 0) {
        cut %= outlen;
        if (framing == CLOSE && cut >= hdr_end) {
            want.body = cut - hdr_end;
        } else {
            want.rc = ASYNC_EPROTO;
            want.done = 0;
        }
    } else if (damage % 3 == 2) {
        put((const char *)body, bodylen);
        if (outlen == OUT_MAX)
            return;
        cut = outlen;
        if (framing == CLOSE)
            want.body += bodylen;
    } else {
        cut = outlen;
    }
    /* headers past the cap: an error wherever the cut is (once past it) */
    if (hdr_end - hdr_start > HTTP_MAX_HEADER_SIZE_ + 64 && cut > hdr_start + HTTP_MAX_HEADER_SIZE_ + 64) {
        want.rc = ASYNC_EPROTO;
        want.done = 0;
    } else if (hdr_end - hdr_start > HTTP_MAX_HEADER_SIZE_ - 64) {
        return; /* too near the cap to say */
    }
    (void)big;
    got = run((const unsigned char *)out, cut, &plan);
    if (!same(&want, &got))
        fail("a generated response gave another outcome (expected, got)", &want, &got);
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
