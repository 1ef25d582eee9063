/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the fetch example's response handling
 * (examples/http_response.h), fed the way fetch.c feeds it: pieces as
 * reads return them, then the end of the stream if the answer is not
 * complete.  The first byte picks one of two modes.
 *
 * raw   Arbitrary bytes (malformed, truncated, anything).  The same bytes
 *       are fed whole, in the fuzz-chosen split plan, and one at a time:
 *       the three outcomes (error or not, complete or not, status, body
 *       length) must agree, the body cannot exceed the input, and a
 *       complete answer is never an interim 1xx.
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
 * A mismatch or a sanitizer report is a crash.
 *
 *   make fuzz                       # every target, FUZZ_TIME seconds each
 *   build/fuzz/fuzz_fetch CRASH     # replay one input                    */
#include "examples/http_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct outcome {
    int rc, done, status;
    unsigned long long body;
};

struct splits {
    const unsigned char *size; /* piece sizes (byte + 1), cycled; none: whole */
    size_t n;
};

/* fetch.c's loop: feed pieces until the answer is complete or an error;
 * if the bytes run out first, the stream has ended. */
static struct outcome run(const unsigned char *p, size_t len, const struct splits *sp)
{
    struct http_response r;
    struct outcome o = {0, 0, 0, 0};
    size_t off = 0, i = 0, n;

    http_response_init(&r);
    while (!r.done && off < len) {
        n = sp->n ? (size_t)sp->size[i++ % sp->n] + 1 : len - off;
        if (n > len - off)
            n = len - off;
        if ((o.rc = http_response_feed(&r, (const char *)p + off, n)) < 0)
            break;
        off += n;
    }
    if (o.rc == 0 && !r.done)
        o.rc = http_response_end(&r);
    o.done = r.done;
    o.status = r.status;
    o.body = r.body;
    return o;
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
    c = run(data, size, &bytes);
    if (!same(&a, &b))
        fail("whole and planned splits disagree", &a, &b);
    if (!same(&a, &c))
        fail("whole and byte by byte disagree", &a, &c);
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

struct reader {
    const unsigned char *p;
    size_t n;
};

static unsigned byte(struct reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

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
static void value(struct reader *r, size_t n)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,;=/";
    while (n--) {
        char c = safe[byte(r) % (sizeof safe - 1)];
        put(&c, 1);
    }
}

static void headers(struct reader *r)
{
    unsigned i, n = byte(r) % 4;
    for (i = 0; i < n; i++) {
        printf_("X-Fuzz-%lu: ", i);
        value(r, byte(r) % 24);
        puts_("\r\n");
    }
}

static void gen(const unsigned char *data, size_t size)
{
    enum { CL, CHUNKED, CLOSE };
    struct reader r = {data, size}, chunks;
    struct splits plan;
    struct outcome want = {0, 1, 0, 0}, got;
    unsigned b, i, nint, framing, status, damage, trailer;
    size_t hdr_end, hdr_start, big = 0, bodylen, cut, k;
    const unsigned char *body;

    outlen = 0;
    b = byte(&r);
    nint = b % 3;
    framing = (b >> 2) % 3;
    k = (b >> 4) % 8; /* split plan length */
    plan.size = r.p;
    plan.n = k < r.n ? k : r.n;
    r.p += plan.n;
    r.n -= plan.n;

    for (i = 0; i < nint; i++) { /* interim responses: skipped */
        puts_(byte(&r) & 1 ? "HTTP/1.1 103 Early Hints\r\n" : "HTTP/1.1 100 Continue\r\n");
        headers(&r);
        puts_("\r\n");
    }
    hdr_start = outlen;
    status = 200 + (byte(&r) | byte(&r) << 8) % 400;
    if (status == 204 || status == 304)
        status = 200; /* no body by definition */
    printf_("HTTP/1.1 %lu ", status);
    value(&r, byte(&r) % 12);
    puts_("\r\n");
    headers(&r);
    b = byte(&r);
    if (b >= 0xf0) { /* one header near or past http-parser's cap */
        big = (size_t)(b - 0xf0) * 12000u + byte(&r) * 8u;
        puts_("X-Big: ");
        for (k = 0; k < big && outlen < OUT_MAX / 2; k++)
            put("a", 1);
        puts_("\r\n");
    }
    bodylen = byte(&r) | byte(&r) << 8;
    damage = byte(&r);
    cut = (size_t)byte(&r) << 8 | byte(&r);
    trailer = byte(&r) & 1;
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
    if (hdr_end - hdr_start > HTTP_MAX_HEADER_SIZE + 64 && cut > hdr_start + HTTP_MAX_HEADER_SIZE + 64) {
        want.rc = ASYNC_EPROTO;
        want.done = 0;
    } else if (hdr_end - hdr_start > HTTP_MAX_HEADER_SIZE - 64) {
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
