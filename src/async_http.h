/* SPDX-License-Identifier: MIT */
/*
 * async_http.h - HTTP/1.1 server and client over async_stream, parsed by
 * http-parser (Debian libhttp-parser-dev; link -lhttp_parser).
 *
 * Server: the application gives a handler coroutine.  The module runs
 * one task per connection (frames from a caller-owned pool, as
 * async_server does), reads each request head, calls the handler with
 * it, and drives keep-alive, pipelining (responses in request order),
 * Content-Length and chunked request bodies, HEAD, Expect: 100-continue,
 * Connection: close and HTTP/1.0 clients.  The handler reads the body as
 * a stream and answers from memory, from a file (sendfile) or in chunks.
 *
 *     struct page {
 *         async_http_conn http;       // the module's connection state
 *         async_co co;                // the handler's coroutine
 *         unsigned char buf[12288];   // request head, body, response head
 *     };
 *     static int handler(async_loop *L, async_http_conn *c)
 *     {
 *         struct page *p = async_frame(c, struct page, http);
 *         async_begin(L, &p->co);
 *         async_http_add_header(c, "Content-Type", "text/plain");
 *         async_await(async_http_respond(L, c, 200, "hello\n", 6));
 *         async_end;
 *     }
 *     static struct page pool[1024];
 *     async_http_config cfg;
 *     async_http_config_init(&cfg, handler);
 *     ASYNC_HTTP_FRAME(&cfg, struct page, http, buf);
 *     async_http_server_listen(&hs, &addr, 0, 0);
 *     async_http_server_start(L, &hs, &cfg, pool, sizeof pool[0], 1024);
 *
 * The handler is called once per request, afresh (its coroutine ended
 * with the previous one); it must await ops on its own connection only,
 * one at a time.  Its frame is the caller's pool frame; locals do not
 * survive an await, as everywhere.
 *
 * Limits (all in async_http_config, all enforced before the handler
 * runs unless noted): a request head larger than head_max or with more
 * than headers_max lines gets 431; a declared body larger than body_max
 * gets 413 (a chunked one is cut off at body_max: the body read reports
 * ASYNC_ETOOLONG and the module answers 413); a head that has not
 * arrived head_timeout after its first byte gets 408 (slowloris); a
 * keep-alive connection idle for idle_timeout is closed; a body read or
 * a response write that waits longer than body_timeout / write_timeout
 * ends the connection (408 when nothing was answered yet); malformed
 * requests get 400; every error answer closes the connection.  The
 * number of connections is the pool's size: when every frame is busy
 * the server stops accepting (backpressure, as async_server).  Path
 * traversal: async_http_path() refuses "..".  Memory per connection is
 * the frame; nothing grows with what a client sends or fails to read.
 *
 * Client: async_http_client_* writes a request on a connected stream
 * and reads the response: status, headers, a body with Content-Length,
 * chunked or delimited by the close; interim 1xx responses are skipped.
 *
 * Only the public async_stream API is used, so a stream that carries
 * TLS serves https unchanged: the server's on_connect hook is where a
 * TLS handshake goes, and a client handshakes before its request.
 *
 * Nothing here allocates.  http-parser keeps its state in the
 * http_parser objects embedded below and allocates nothing either.
 * Thread safety: one loop per server (see async_workers in async_ev.h
 * to run one per core); nothing here may be touched from another thread.
 */
#ifndef ASYNC_HTTP_H
#define ASYNC_HTTP_H

#include "async_ev.h"
#include <http_parser.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Header lines kept per message (the array size; headers_max may be
 * lower).  More gives 431 on the server, ASYNC_ETOOLONG on the client. */
#define ASYNC_HTTP_MAX_HEADERS 48
/* Bytes of a response's buffer kept in front of the application's
 * headers for the status line and Date (written when the response
 * starts), and at the end for the framing headers.                      */
#define ASYNC_HTTP_PREFIX 96
#define ASYNC_HTTP_SUFFIX 128

/* One header line: pointers into the connection's buffer, valid until
 * the response is complete (server) / until the body is read (client).
 * Not NUL-terminated.  Values have no surrounding white space.         */
typedef struct async_http_header {
    const char *name, *value;
    uint32_t name_len, value_len;
} async_http_header;

/* What a handler gets.  method is http-parser's enum http_method
 * (HTTP_GET, HTTP_HEAD, ...).                                          */
typedef struct async_http_request {
    const char *target; /* as sent: "/path?query", "*", "http://h/p"    */
    uint32_t target_len;
    unsigned method;
    unsigned short major, minor; /* HTTP version                       */
    unsigned nheaders;
    /* Body: content_length bytes, or chunked (length unknown).          */
    unsigned long long content_length;
    bool chunked;
    bool keep_alive;      /* the client wants the connection kept      */
    bool expect_continue; /* Expect: 100-continue                      */
    async_http_header headers[ASYNC_HTTP_MAX_HEADERS];
} async_http_request;

typedef struct async_http_conn async_http_conn;
typedef struct async_http_server async_http_server;

/* The application's request handler: a coroutine (async_begin/end) run
 * once per request with the connection; returns 0 or a negative code.
 * An error before any response gets an error answer (413 for
 * ASYNC_ETOOLONG, 408 for ASYNC_ETIMEDOUT, 400 for ASYNC_EPROTO, 503
 * when cancelled by a shutdown, 500 otherwise) and closes; an error
 * after the response started closes the connection.  Returning 0
 * without a response gets 500; a streamed response left open is ended. */
typedef int (*async_http_handler)(async_loop *L, async_http_conn *c);
/* op: called once per connection before its first request, under
 * head_timeout (a TLS handshake goes here).  < 0 closes the connection. */
typedef int (*async_http_conn_hook)(async_loop *L, async_http_conn *c);
/* After each response, the module's own error answers included (then
 * the request fields may be empty: c->req.target_len is 0).            */
typedef void (*async_http_log_fn)(async_loop *L, async_http_conn *c);

typedef struct async_http_config {
    async_http_handler handler;
    async_http_conn_hook on_connect; /* NULL: none                          */
    async_http_log_fn on_response;   /* NULL: none                          */
    void *user;                      /* the application's, untouched       */
    /* Frame layout (ASYNC_HTTP_FRAME sets these): where the async_http_conn
     * and the connection's buffer sit in each pool frame.                 */
    size_t conn_offset, buf_offset, buf_size;
    size_t out_size;            /* of buf, for response heads (1024)      */
    size_t head_max;            /* request head bytes (the rest of buf, at most 64 KiB) */
    unsigned headers_max;       /* header lines (ASYNC_HTTP_MAX_HEADERS)  */
    unsigned long long body_max; /* request body bytes (1 MiB)            */
    unsigned long long discard_max; /* unread body bytes skipped to keep a
                                   connection (64 KiB); more: close it     */
    async_tick head_timeout;    /* the head, from its first byte (10 s)   */
    async_tick idle_timeout;    /* between requests (60 s)                */
    async_tick body_timeout;    /* a body read that waits (30 s)          */
    async_tick write_timeout;   /* a write that waits (30 s)              */
    const char *server_name;    /* "Server:" value, NULL for none (at most 48 chars) */
} async_http_config;

/* Defaults (the values in parentheses above) with handler h.            */
void async_http_config_init(async_http_config *cfg, async_http_handler h);
#define ASYNC_HTTP_FRAME(cfg, type, conn_member, buf_member)      \
    do {                                                          \
        (cfg)->conn_offset = offsetof(type, conn_member);         \
        (cfg)->buf_offset = offsetof(type, buf_member);           \
        (cfg)->buf_size = sizeof(((type *)0)->buf_member);        \
    } while (0)

/* Per connection.  Public to read: conn (stream, peer), req, and the
 * response fields marked so.  The rest is the module's.                */
struct async_http_conn {
    async_conn conn; /* first: the pool's header (task, stream, peer)     */
    async_co co;     /* the connection's coroutine                        */
    async_co op;     /* the op in progress (body read, respond...)        */
    async_timeout to; /* the on_connect hook's and the lingering close's  */
    async_http_server *hs;
    async_http_conn *next, *prev; /* the server's live connections        */
    http_parser parser;
    async_http_request req;
    /* the response (public to read) */
    int status;                   /* status sent, 0 before              */
    unsigned long long sent;      /* body bytes sent                    */
    /* private */
    unsigned char *in;            /* in[0..in_cap): head, then body     */
    char *out;                    /* out[0..out_cap): response head     */
    size_t in_cap, out_cap, in_len, in_pos, head_len, out_len;
    unsigned long long body_left; /* identity body not yet read         */
    unsigned long long body_got;  /* body bytes read so far             */
    unsigned char *body_dst;      /* chunked: where on_body copies      */
    size_t body_n;
    const unsigned char *wp;      /* the write in progress              */
    size_t wn;
    const void *wbody;            /* a body written after the head      */
    size_t wbody_n;
    unsigned long long discarded;
    unsigned opkind;
    int err;                      /* status of a request refused        */
    async_tick since;             /* when the guarded wait began        */
    uint8_t waiting;              /* what it waits for (its deadline)   */
    uint8_t phase, rstate, bstate, last_cb;
    bool close, head_only, continue_sent, chunk_open, framing_chunked, eof, abort;
};

struct async_http_server {
    async_server srv; /* first: the accept loop and the frame pool        */
    async_http_config cfg;
    async_http_conn *live;  /* every running connection                  */
    unsigned nlive;
    unsigned long requests; /* answered, error answers included          */
    unsigned cancelled;     /* by the last shutdown                      */
    bool draining;
    async_event drained;    /* set when draining and nlive reaches 0     */
    async_co sco;           /* async_http_server_shutdown's coroutine    */
    async_timeout sto;
    async_ev_timer sweeper; /* wakes connections past their deadlines    */
    async_ev *E;
    async_tick period;      /* the sweeper's                             */
    async_tick date_at;     /* when date[] was made                      */
    int prefix_status;
    uint8_t prefix_len, server_len;
    char date[32];          /* "Tue, 15 Nov 1994 08:12:31 GMT"           */
    char prefix[96];        /* "HTTP/1.1 200 OK\r\nDate: ...\r\n"         */
    char server_line[64];   /* "Server: ...\r\n"                         */
};

/* Bind and listen (flags: ASYNC_LISTEN_REUSEPORT for one server per
 * thread on one port).  As async_server_listen_flags.                   */
int async_http_server_listen(async_http_server *hs, const async_addr *a, int backlog,
                             unsigned flags);
/* Serve with count frames of stride bytes at pool (cfg's layout); cfg is
 * copied.  0, ASYNC_EINVAL (bad layout: the buffer must hold out_size
 * plus at least 1 KiB, and head_max + 256 bytes for the input), or
 * async_server_start's errors.                                          */
int async_http_server_start(async_loop *L, async_http_server *hs, const async_http_config *cfg,
                            void *pool, size_t stride, unsigned count);
/* Serve one already connected fd (a socketpair, inetd, a test) with the
 * frame at `frame` (cfg's layout), without the accept loop; hs needs
 * only async_http_server_init.  The fd is closed when the connection
 * ends.  0, ASYNC_EINVAL, ASYNC_EBUSY (the frame is in use).           */
int async_http_server_init(async_http_server *hs, const async_http_config *cfg);
int async_http_serve_fd(async_loop *L, async_http_server *hs, void *frame, int fd);
/* op: graceful shutdown.  Stop accepting; close idle keep-alive
 * connections; let requests in progress finish (each then closes) for up
 * to `grace`, then cancel what is left and wait for it.  Returns the
 * number of connections that had to be cancelled.  When it returns,
 * nothing of the server runs any more: hs and the pool may be reused.   */
int async_http_server_shutdown(async_loop *L, async_http_server *hs, async_tick grace);
/* Stop accepting (no wait; connections go on, and hs must outlive them:
 * async_http_server_shutdown is the way to wait).                       */
void async_http_server_close(async_loop *L, async_http_server *hs);

/* ---- for handlers ---- */

/* The value of header `name` (case-insensitive), NUL-free and not
 * terminated, with its length in *len; NULL if absent.                  */
const char *async_http_header_get(const async_http_request *r, const char *name, size_t *len);
/* The request's path: the target's path part (query and fragment cut,
 * an absolute-form target's scheme and host dropped), percent-decoded,
 * NUL-terminated in out.  Returns its length, or ASYNC_EPERM for a ".."
 * segment or an encoded NUL or '/' (path traversal), ASYNC_EPROTO for a
 * target that is not a path ("*", bad escapes), ASYNC_ETOOLONG.         */
int async_http_path(const async_http_request *r, char *out, size_t cap);
/* The query string (after '?', not decoded), NULL if none.              */
const char *async_http_query(const async_http_request *r, size_t *len);

/* Add a response header before the response starts (copied).  0,
 * ASYNC_ENOSPC if the response head buffer is full, ASYNC_EALREADY if
 * the response started, ASYNC_EINVAL for CR/LF in it.                   */
int async_http_add_header(async_http_conn *c, const char *name, const char *value);
int async_http_add_headern(async_http_conn *c, const char *name, size_t nlen, const char *value,
                           size_t vlen);
/* Ask for the connection to be closed after this response.              */
void async_http_set_close(async_http_conn *c);

/* op: read up to len bytes of the request body (Content-Length or
 * chunked; the first read of an Expect: 100-continue request sends the
 * 100).  Returns n > 0, 0 at the end of the body, ASYNC_ETOOLONG past
 * body_max, ASYNC_EPROTO for a malformed or cut-short body,
 * ASYNC_ETIMEDOUT after body_timeout without progress.                  */
int async_http_body_read(async_loop *L, async_http_conn *c, void *buf, size_t len);

/* op: the whole response from memory, with Content-Length (no body sent
 * for HEAD, nor for 1xx, 204 and 304).  Returns 0.  ASYNC_EALREADY if a
 * response was already started; write errors (ASYNC_EPIPE...).          */
int async_http_respond(async_loop *L, async_http_conn *c, int status, const void *body,
                       size_t len);
/* op: the same with len bytes of file fd from offset, sent by sendfile.
 * The caller closes fd after.                                           */
int async_http_respond_file(async_loop *L, async_http_conn *c, int status, int fd, off_t offset,
                            size_t len);
/* op: start a streamed response: chunked for HTTP/1.1, delimited by the
 * close for HTTP/1.0.  Then async_http_write any number of times and
 * async_http_end.                                                       */
int async_http_begin(async_loop *L, async_http_conn *c, int status);
int async_http_write(async_loop *L, async_http_conn *c, const void *data, size_t len);
int async_http_end(async_loop *L, async_http_conn *c);

/* ---- client ---- */

/* A response being read, over a caller-owned buffer (response head and
 * body framing; 8 KiB or more: the head must fit in it).               */
typedef struct async_http_client {
    async_stream *s;
    http_parser parser;
    async_co co;
    int status;                  /* of the final response, once its head is in */
    unsigned short major, minor;
    unsigned nheaders;
    unsigned long long content_length; /* declared, if has_length       */
    unsigned long long body;           /* body bytes delivered so far    */
    bool has_length, chunked, keep_alive, done;
    /* private */
    unsigned char *buf;
    size_t cap, len, pos, wdone;
    unsigned char *dst;
    size_t dst_n, dst_cap;
    uint8_t last_cb, state;
    bool head_only, eof;
    async_http_header headers[ASYNC_HTTP_MAX_HEADERS];
} async_http_client;

/* Get ready to talk on connected stream s with buffer buf[0..cap).
 * One request and its response at a time; call again for the next
 * request on the same stream (keep-alive) only after the body's end.    */
void async_http_client_init(async_http_client *cl, async_stream *s, void *buf, size_t cap);
/* op: write a request: method, target, Host, extra header lines
 * ("Name: value\r\n" each, or NULL), then body (Content-Length when
 * body_len or a body is given).  Returns 0 or a write error.  The head
 * is formed in the client's buffer (ASYNC_ETOOLONG if it does not fit). */
int async_http_client_request(async_loop *L, async_http_client *cl, const char *method,
                              const char *host, const char *target, const char *extra,
                              const void *body, size_t body_len);
/* op: read the response head; interim 1xx responses are skipped.
 * Returns the status; ASYNC_EPROTO for a malformed or cut-short head,
 * ASYNC_ETOOLONG when it does not fit in the buffer.                    */
int async_http_client_head(async_loop *L, async_http_client *cl);
/* op: read up to len body bytes; 0 at the end of the body (which for a
 * response without length is the end of the stream).  ASYNC_EPROTO for
 * a malformed or cut-short body.                                        */
int async_http_client_body(async_loop *L, async_http_client *cl, void *buf, size_t len);
/* The header `name` of the response, as async_http_header_get.          */
const char *async_http_client_header(const async_http_client *cl, const char *name, size_t *len);

/* "Tue, 15 Nov 1994 08:12:31 GMT" (29 chars and a NUL: cap >= 30) for t
 * (seconds since the epoch); returns out.  For Date / Last-Modified.   */
char *async_http_date(long long t, char *out, size_t cap);
/* Parse an HTTP date (IMF-fixdate, RFC 850 or asctime form) into *t.
 * 0 or ASYNC_EPROTO.                                                   */
int async_http_parse_date(const char *s, size_t len, long long *t);
/* The reason phrase of a status ("OK", "Not Found"...; "Unknown").      */
const char *async_http_reason(int status);

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_HTTP_H */
