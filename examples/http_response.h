/* SPDX-License-Identifier: MIT */
/* http_response.h: the response side of examples/fetch.c.
 *
 * Feed it the bytes of one HTTP/1.x response as they arrive, in pieces of
 * any size, and tell it if the stream ends first; it keeps the status and
 * counts the body.  Parsing is http-parser's (Debian libhttp-parser-dev):
 * Content-Length, chunked and close-delimited bodies, headers capped at
 * HTTP_MAX_HEADER_SIZE (80 KiB).  Interim responses (100 Continue, 103
 * Early Hints) are skipped: the answer is the response that follows them.
 * It knows nothing of sockets, so fuzz/fuzz_fetch.c feeds it any bytes in
 * any splits.
 *
 *     struct http_response r;
 *     http_response_init(&r);
 *     while (!r.done)
 *         n = read(...): n > 0: http_response_feed(&r, buf, n) (< 0: malformed)
 *                        end:   http_response_end(&r) (< 0: truncated), stop
 *
 * Header-only (static functions) for the one example that uses it.       */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include "async.h"
#include <http_parser.h>

struct http_response {
    http_parser parser;
    int status;              /* the answer's status, once its headers are in */
    int done;                /* 1 once the whole answer has arrived          */
    unsigned long long body; /* body bytes so far (chunk framing removed)    */
};

static int http_response_on_headers(http_parser *p)
{
    ((struct http_response *)p->data)->status = (int)p->status_code;
    return 0;
}

static int http_response_on_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    ((struct http_response *)p->data)->body += len;
    return 0;
}

static int http_response_on_complete(http_parser *p)
{
    struct http_response *r = (struct http_response *)p->data;
    if (p->status_code / 100 == 1 && p->status_code != 101) {
        r->status = 0; /* interim (1xx, no body): the answer follows */
        return 0;
    }
    r->done = 1;
    http_parser_pause(p, 1); /* one response per connection */
    return 0;
}

static const http_parser_settings http_response_settings = {
    .on_headers_complete = http_response_on_headers,
    .on_body = http_response_on_body,
    .on_message_complete = http_response_on_complete,
};

static void http_response_init(struct http_response *r)
{
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    r->status = 0;
    r->done = 0;
    r->body = 0;
}

/* Feed len bytes of the response.  0, or ASYNC_EPROTO if they are not
 * HTTP (the response is then unusable).  Bytes after the answer are
 * ignored.                                                              */
static int http_response_feed(struct http_response *r, const char *buf, size_t len)
{
    size_t used;
    enum http_errno e;

    if (r->done || len == 0)
        return 0;
    used = http_parser_execute(&r->parser, &http_response_settings, buf, len);
    e = HTTP_PARSER_ERRNO(&r->parser);
    if (e == HPE_PAUSED)
        return 0; /* the answer is complete */
    if (e != HPE_OK || used != len)
        return ASYNC_EPROTO;
    return 0;
}

/* The stream ended.  0 if the answer is complete (a close-delimited body
 * ends here), ASYNC_EPROTO if it was cut short or malformed.            */
static int http_response_end(struct http_response *r)
{
    if (!r->done && HTTP_PARSER_ERRNO(&r->parser) == HPE_OK)
        (void)http_parser_execute(&r->parser, &http_response_settings, "", 0);
    return r->done ? 0 : ASYNC_EPROTO;
}

#endif /* HTTP_RESPONSE_H */
