/* SPDX-License-Identifier: MIT */
/* fetch URL...: concurrent HTTP/1.1 GETs (seeds 001 and 003, the aiohttp
 * program).
 *
 *     async def fetch_page(session, url):
 *         async with session.get(url) as response:
 *             return await response.text()
 *
 *     pages = await asyncio.gather(*(fetch_page(session, u) for u in urls))
 *
 * Every URL gets its own task; for each one this prints the status code,
 * the body length and the time taken, then a total.  Requests and
 * responses go through the runtime's HTTP client (async_http.h, over
 * http-parser): Content-Length, chunked and close-delimited bodies,
 * interim 1xx responses skipped.  An error on one URL
 * (refused, timeout, malformed response, a non-2xx status) is reported for
 * that URL and the others complete.  Exit status: 0 if every URL gave a
 * 2xx response, 1 otherwise.  Host names are resolved on the offload pool.
 *
 * https:// URLs go over TLS (async_tls.h): the server's certificate is
 * verified against OpenSSL's default store - SSL_CERT_FILE=ca.pem or
 * SSL_CERT_DIR=dir points it elsewhere - and must name the URL's host;
 * a failure is that URL's error line, with OpenSSL's reason:
 *     https://localhost:8443/: error: certificate verification failed:
 *     certificate has expired (3 ms)                                    */
#include "async_http.h"
#include "async_tls.h"
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URLS 64
/* The longest -t the loop can honour: ASYNC_MS(TIMEOUT_MS_MAX) is
 * ASYNC_TICK_MAX_DELAY (computed without overflow for any tick width).  */
#define TIMEOUT_MS_MAX                                                   \
    ((unsigned long long)ASYNC_TICK_MAX_DELAY / ASYNC_CONF_TICK_HZ * 1000u + \
     (unsigned long long)ASYNC_TICK_MAX_DELAY % ASYNC_CONF_TICK_HZ * 1000u / ASYNC_CONF_TICK_HZ)
static async_tick timeout = ASYNC_SEC(10); /* per URL, connect to last byte; -t MS */

struct fetch {
    async_task task;
    async_co co;
    const char *url;
    char host[256], hostport[300], target[1024];
    unsigned port, ai;
    int https;
    async_resolve_req res;
    async_stream s;
    async_tls tls;
    async_timeout to;
    async_http_client resp;
    int n, rc;
    char why[128]; /* what went wrong, when a message says more */
    async_tick t0, took;
    unsigned char buf[16384];  /* the client's: response head, framing */
    unsigned char body[16384]; /* body bytes, counted and dropped      */
};

static async_pool pool;
static pthread_t threads[4];
static async_loop *loop;
static async_tls_ctx tls; /* for https:// URLs: one context, every fetch */

/* Split an http:// or https:// URL into host, port, Host header and
 * target.  0, ASYNC_EINVAL or ASYNC_ETOOLONG.                            */
static int prepare(struct fetch *f)
{
    struct http_parser_url u;
    size_t hl;
    const char *path = "/";
    size_t pl = 1;

    http_parser_url_init(&u);
    if (http_parser_parse_url(f->url, strlen(f->url), 0, &u) != 0 ||
        !(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
        return ASYNC_EINVAL;
    if (u.field_data[UF_SCHEMA].len == 4 &&
        strncmp(f->url + u.field_data[UF_SCHEMA].off, "http", 4) == 0)
        f->https = 0;
    else if (u.field_data[UF_SCHEMA].len == 5 &&
             strncmp(f->url + u.field_data[UF_SCHEMA].off, "https", 5) == 0)
        f->https = 1;
    else
        return ASYNC_EINVAL;
    hl = u.field_data[UF_HOST].len;
    if (hl >= sizeof f->host)
        return ASYNC_ETOOLONG;
    memcpy(f->host, f->url + u.field_data[UF_HOST].off, hl);
    f->host[hl] = '\0';
    f->port = (u.field_set & (1 << UF_PORT)) ? u.port : f->https ? 443 : 80;
    if (u.field_set & (1 << UF_PATH)) {
        path = f->url + u.field_data[UF_PATH].off;
        pl = strlen(path); /* path, query and fragment... */
        if (u.field_set & (1 << UF_FRAGMENT))
            pl = (size_t)(f->url + u.field_data[UF_FRAGMENT].off - 1 - path); /* ...minus #frag */
    }
    if (pl >= sizeof f->target)
        return ASYNC_ETOOLONG;
    memcpy(f->target, path, pl);
    f->target[pl] = '\0';
    {
        int n = snprintf(f->hostport, sizeof f->hostport, "%s%s%s%.*s",
                         strchr(f->host, ':') ? "[" : "", f->host, strchr(f->host, ':') ? "]" : "",
                         (u.field_set & (1 << UF_PORT)) ? (int)u.field_data[UF_PORT].len + 1 : 0,
                         (u.field_set & (1 << UF_PORT)) ? f->url + u.field_data[UF_PORT].off - 1
                                                        : "");
        if (n < 0 || (size_t)n >= sizeof f->hostport)
            return ASYNC_ETOOLONG;
    }
    return 0;
}

/* What an ASYNC_EPROTO from the client was, in words: a response that is
 * not HTTP, or one the peer cut short (and where). */
static void describe_proto(struct fetch *f)
{
    const async_http_client *c = &f->resp;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    /* HPE_INVALID_EOF_STATE is the end of the stream arriving too early */
    if (e != HPE_OK && e != HPE_PAUSED && e != HPE_INVALID_EOF_STATE)
        snprintf(f->why, sizeof f->why, "malformed response (%s)", http_errno_description(e));
    else if (c->status == 0 && c->parser.nread == 0)
        snprintf(f->why, sizeof f->why, "peer closed the connection without answering");
    else if (c->status == 0)
        snprintf(f->why, sizeof f->why, "peer closed the connection inside the headers");
    else if (c->has_length)
        snprintf(f->why, sizeof f->why, "body shorter than its Content-Length (%llu of %llu bytes)",
                 c->body, c->content_length);
    else if (c->chunked)
        snprintf(f->why, sizeof f->why,
                 "peer closed the connection inside the chunked body (%llu body bytes)", c->body);
    else
        snprintf(f->why, sizeof f->why, "response cut short (%llu body bytes)", c->body);
}

static int fetch_one(async_loop *L, async_task *self)
{
    struct fetch *f = async_frame(self, struct fetch, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_await(prepare(f));
    async_await(async_timeout_begin(&f->to, timeout)); /* one deadline for the whole fetch */
    async_await(async_resolve(L, &pool, &f->res, f->host, f->port, AF_UNSPEC));
    /* Try each address in turn (IPv6 and IPv4 for "localhost"). */
    for (f->ai = 0; f->ai < f->res.count; f->ai++) {
        async_await_rc(f->rc, async_stream_connect(L, &f->s, &f->res.addrs[f->ai], NULL, 0));
        if (f->rc == 0 || f->rc == ASYNC_ETIMEDOUT || f->rc == ASYNC_ECANCELED)
            break;
    }
    if (f->rc < 0)
        async_return(f->rc);
    if (f->https) /* from here on the same stream calls carry TLS */
        async_await(async_tls_client(L, &f->s, &f->tls, &tls, f->host));
    async_http_client_init(&f->resp, &f->s, f->buf, sizeof f->buf);
    async_await(async_http_client_request(L, &f->resp, "GET", f->hostport, f->target,
                                          "User-Agent: async.h-fetch/1\r\nAccept: */*\r\n"
                                          "Connection: close\r\n",
                                          NULL, 0));
    async_await_rc(f->rc, async_http_client_head(L, &f->resp)); /* 1xx skipped */
    if (f->rc == ASYNC_EPROTO)
        describe_proto(f);
    if (f->rc < 0)
        async_return(f->rc);
    do { /* the body, counted: Content-Length, chunked or up to the close */
        async_await_rc(f->n, async_http_client_body(L, &f->resp, f->body, sizeof f->body));
        if (f->n == ASYNC_EPROTO)
            describe_proto(f);
        if (f->n < 0)
            async_return(f->n);
    } while (f->n > 0);
    async_finally;
    f->took = async_now(L) - f->t0;
    if (!async_stream_is_closed(&f->s))
        async_stream_close(L, &f->s);
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_group group;
    async_task *slots[MAX_URLS];
    struct fetch *fetches;
    int count;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *m = async_frame(self, struct main_frame, task);
    int i, ok = 0;
    unsigned long long bytes = 0;
    async_tick t0;
    async_begin(L, &m->co);
    t0 = async_now(L);
    (void)t0;
    async_group_init(&m->group, m->slots, MAX_URLS, 0);
    for (i = 0; i < m->count; i++)
        async_group_spawn(L, &m->group, &m->fetches[i].task, fetch_one);
    async_await_rc(i, async_group_wait(L, &m->group)); /* errors are per URL */
    for (i = 0; i < m->count; i++) {
        struct fetch *f = &m->fetches[i];
        int rc = async_task_result(&f->task);
        double ms = (double)f->took * 1000.0 / ASYNC_CONF_TICK_HZ;
        if (rc <= ASYNC_EOS_BASE && !f->why[0]) /* say which */
            snprintf(f->why, sizeof f->why, "%s: %s", async_strerror(rc),
                     strerror(ASYNC_EOS_BASE - rc));
        if (rc < 0 && async_tls_reason(&f->s))
            printf("%s: error: %s: %s (%.0f ms)\n", f->url, async_strerror(rc),
                   async_tls_reason(&f->s), ms);
        else if (rc < 0)
            printf("%s: error: %s (%.0f ms)\n", f->url, f->why[0] ? f->why : async_strerror(rc),
                   ms);
        else
            printf("%s: %d, %llu bytes, %.0f ms\n", f->url, f->resp.status, f->resp.body, ms);
        if (rc >= 0 && f->resp.status >= 200 && f->resp.status < 300) {
            ok++;
            bytes += f->resp.body;
        }
    }
    printf("total: %d URLs, %d ok, %d failed, %llu body bytes\n", m->count, ok, m->count - ok,
           bytes);
    async_return(ok == m->count ? 0 : 1);
    async_end;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-t TIMEOUT_MS] http[s]://host[:port]/path ... (at most %d URLs;\n"
            "       TIMEOUT_MS: 1..%llu, default 10000)\n",
            argv0, MAX_URLS, TIMEOUT_MS_MAX);
    return 2;
}

int main(int argc, char **argv)
{
    static struct main_frame m;
    static struct fetch fetches[MAX_URLS];
    static async_ev E;
    struct ev_loop *ev;
    int i, rc, first = 1;
    unsigned long long ms;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "-t") == 0) {
        /* 0, a non-number or more than the loop's longest delay would
         * time out every URL at once, or never: usage instead. */
        if (argc < 3 || cli_number(argv[2], 1, TIMEOUT_MS_MAX, &ms) < 0)
            return usage(argv[0]);
        timeout = ASYNC_MS(ms);
        first = 3;
    }
    if (argc - first < 1 || argc - first > MAX_URLS || argv[first][0] == '-')
        return usage(argv[0]);
    for (i = first; i < argc; i++) {
        fetches[i - first].url = argv[i];
        if (strncmp(argv[i], "https:", 6) == 0 && tls.ctx == NULL) {
            async_tls_config cfg = {0}; /* the default store, verification on */
            cfg.alpn = "http/1.1";
            if ((rc = async_tls_ctx_init(&tls, ASYNC_TLS_CLIENT, &cfg)) < 0) {
                fprintf(stderr, "fetch: TLS: %s: %s\n", async_strerror(rc),
                        async_tls_ctx_reason(&tls));
                return 2;
            }
        }
    }
    m.fetches = fetches;
    m.count = argc - first;

    ev = ev_default_loop(0);
    if (ev == NULL || async_ev_init(&E, ev) < 0)
        return 2;
    loop = async_ev_loop(&E);
    if ((rc = async_pool_init(loop, &pool, threads, 4)) < 0) {
        fprintf(stderr, "fetch: worker threads: %s\n", async_strerror(rc));
        return 2;
    }
    rc = async_ev_run(&E, &m.task, main_task);
    async_pool_close(&pool);
    async_ev_close(&E);
    async_tls_ctx_close(&tls);
    if (rc < 0)
        fprintf(stderr, "fetch: %s\n", async_strerror(rc));
    return rc != 0;
}
