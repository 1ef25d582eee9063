/* SPDX-License-Identifier: MIT */
/* httpd [-p PORT] [-b ADDR] [-j THREADS] [-r ROOT] [-q] [-g GRACE_MS] [-o NAME=VALUE]...
 *       [--tls CERT KEY]
 *
 * A static file server on the HTTP module (src/async_http.h), in the
 * spirit of aiohttp's web.Application with a static route and one JSON
 * endpoint:
 *
 *     app.router.add_static("/", root)
 *     async def sleep(request):           # GET /api/sleep?ms=N
 *         slept = await asyncio.to_thread(time.sleep, ms / 1000) ...
 *         return web.json_response({"slept_ms": ms})
 *
 *   GET/HEAD /path     ROOT's file (sendfile), index.html for a directory,
 *                      Content-Type by extension, Last-Modified and
 *                      If-Modified-Since (304); 404, 403 (no permission,
 *                      a directory without index, any ".." segment), 301
 *                      for a directory named without its final '/'
 *   GET /api/sleep?ms=N  a blocking sleep(N ms) on the offload pool, then
 *                      {"slept_ms":N,"worker":W}: the loop serves other
 *                      requests meanwhile
 *   POST /api/echo     the request body (Content-Length or chunked, with
 *                      Expect: 100-continue) streamed back, chunked
 *
 * -j N runs N loops on N threads (async_workers), each with its own
 * SO_REUSEPORT listener, frame pool and offload pool: no state is shared
 * between them (-j 1: the one loop runs on the main thread, and the
 * offload pool starts with the first /api/sleep).  One log line per request (peer, method, target,
 * status, body bytes) unless -q.  SIGTERM or SIGINT: stop accepting,
 * close idle connections, let requests in progress finish within the
 * grace period (-g, 10 s), cancel the rest.  Port 0 picks a free port;
 * the first line printed says which.
 *
 * --tls CERT KEY (PEM: the chain, leaf first, and its key) serves https:
 * each connection's TLS handshake runs in the module's on_connect hook,
 * under head_timeout, and the same handler then reads and writes through
 * the stream as before (files go by pread through the session instead of
 * sendfile).  The context is shared by every worker (OpenSSL's SSL_CTX is
 * thread-safe); each session belongs to its connection's loop.
 *
 * -o sets a limit (times in ms): head_max, headers_max, body_max,
 * discard_max, head_timeout, idle_timeout, body_timeout, write_timeout,
 * conns (frames per thread, 4096 at most in all).                       */
#define _GNU_SOURCE
#include "async_http.h"
#include "async_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_FRAMES 4096
#define OFFLOAD_THREADS 2

struct page {
    async_http_conn http; /* the module's: stream, request, response */
    async_tls tls;        /* its TLS session, with --tls            */
    async_co co;          /* the handler's coroutine                */
    int fd;               /* the file being sent, or -1             */
    int n;
    bool api;             /* the path is under /api/                */
    size_t typelen;
    struct stat st;
    async_offload job;    /* /api/sleep's blocking call             */
    unsigned ms;
    char path[1024];
    char text[256];       /* a small body: JSON, Location           */
    unsigned char chunk[8192]; /* /api/echo's piece of the body       */
    unsigned char buf[12288]; /* the module's: request head and body,
                                 response head                        */
};

struct server {
    async_task task;
    async_co co;
    async_worker *w;
    async_http_server hs;
    async_pool pool;
    bool pool_started; /* with the first request that needs it */
    pthread_t threads[OFFLOAD_THREADS];
    struct page *pages;
    unsigned npages;
    int rc;
};

static struct page pages[MAX_FRAMES];
static struct server servers[MAX_THREADS];
static async_worker workers[MAX_THREADS];
static async_workers group;
static async_http_config cfg;
static int root_fd = -1;
static int quiet;
static async_tick grace = ASYNC_SEC(10);
static async_tls_ctx tls; /* with --tls: one context, every worker */

/* ---- files ---- */

/* Content-Type by extension; its length in *len. */
static const char *content_type(const char *path, size_t *len)
{
#define T(ext, type) {ext, type, sizeof(type) - 1}
    static const struct {
        const char *ext, *type;
        size_t len;
    } types[] = {
        T("html", "text/html; charset=utf-8"), T("htm", "text/html; charset=utf-8"),
        T("txt", "text/plain; charset=utf-8"), T("css", "text/css"),
        T("js", "text/javascript"),            T("json", "application/json"),
        T("xml", "application/xml"),           T("svg", "image/svg+xml"),
        T("png", "image/png"),                 T("jpg", "image/jpeg"),
        T("jpeg", "image/jpeg"),               T("gif", "image/gif"),
        T("ico", "image/x-icon"),              T("webp", "image/webp"),
        T("pdf", "application/pdf"),           T("wasm", "application/wasm"),
        T("gz", "application/gzip"),           T("mp4", "video/mp4"),
    };
#undef T
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    size_t i;
    if (dot && (slash == NULL || dot > slash))
        for (i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) {
                *len = types[i].len;
                return types[i].type;
            }
    *len = 24;
    return "application/octet-stream";
}

/* A header whose name is a literal (its length known at compile time). */
#define ADD_HEADER(c, lit, value, vlen) \
    async_http_add_headern((c), (lit), sizeof(lit) - 1, (value), (vlen))

/* Open ROOT/path (path starts with '/', has no ".." segment: checked by
 * async_http_path).  A directory gives its index.html.  Returns the fd
 * with p->st filled, or minus the HTTP status to answer.               */
static int open_file(struct page *p)
{
    const char *rel = p->path[1] ? p->path + 1 : ".";
    int fd = openat(root_fd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG ? -404
               : errno == EACCES || errno == ELOOP                          ? -403
                                                                            : -500;
    if (fstat(fd, &p->st) < 0) {
        close(fd);
        return -500;
    }
    if (S_ISDIR(p->st.st_mode)) {
        int ifd;
        size_t n = strlen(p->path);
        if (p->path[n - 1] != '/') { /* let relative links resolve */
            close(fd);
            return -301;
        }
        ifd = openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        close(fd);
        if (ifd < 0)
            return errno == ENOENT ? -403 : errno == EACCES ? -403 : -500;
        fd = ifd;
        if (fstat(fd, &p->st) < 0) {
            close(fd);
            return -500;
        }
        if (n + 10 < sizeof p->path)
            memcpy(p->path + n, "index.html", 11); /* for its Content-Type */
    }
    if (!S_ISREG(p->st.st_mode)) {
        close(fd);
        return -403;
    }
    return fd;
}

/* If-Modified-Since: true when the file has not changed since. */
static bool not_modified(const async_http_conn *c, const struct stat *st)
{
    size_t n;
    long long t;
    const char *v = async_http_header_get(&c->req, "If-Modified-Since", &n);
    return v && async_http_parse_date(v, n, &t) == 0 && (long long)st->st_mtime <= t;
}

/* ---- /api/sleep: a blocking call on the offload pool ---- */

static int blocking_sleep(async_offload *job, void *arg)
{
    const unsigned *ms = (const unsigned *)arg;
    struct timespec ts = {(time_t)(*ms / 1000), (long)(*ms % 1000) * 1000000L};
    (void)job;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return (int)*ms;
}

static unsigned query_ms(const async_http_conn *c)
{
    size_t n;
    const char *q = async_http_query(&c->req, &n);
    char tmp[16];
    unsigned long v;
    if (q == NULL || n < 4 || n - 3 >= sizeof tmp || strncmp(q, "ms=", 3) != 0)
        return 0;
    memcpy(tmp, q + 3, n - 3);
    tmp[n - 3] = '\0';
    v = strtoul(tmp, NULL, 10);
    return v > 10000 ? 10000 : (unsigned)v;
}

/* ---- the handler ---- */

static int handle(async_loop *L, async_http_conn *c)
{
    struct page *p = async_frame(c, struct page, http);
    struct server *sv = (struct server *)c->hs->cfg.user;
    int rc;

    async_begin(L, &p->co);
    p->fd = -1;
    rc = async_http_path(&c->req, p->path, sizeof p->path);
    if (rc == ASYNC_EPERM)
        async_await_rc(rc, async_http_respond(L, c, 403, "Forbidden\n", 10));
    else if (rc < 0)
        async_await_rc(rc, async_http_respond(L, c, 400, "Bad Request\n", 12));
    if (rc < 0 || c->status)
        async_return(rc < 0 ? rc : 0);

    p->api = rc >= 5 && memcmp(p->path, "/api/", 5) == 0;
    if (p->api && strcmp(p->path, "/api/echo") == 0 && c->req.method == HTTP_POST) {
        /* read first (that sends a 100 Continue if asked), then answer */
        async_await_val(p->n, async_http_body_read(L, c, p->chunk, sizeof p->chunk));
        async_http_add_header(c, "Content-Type", "application/octet-stream");
        async_await(async_http_begin(L, c, 200));
        while (p->n > 0) {
            async_await(async_http_write(L, c, p->chunk, (size_t)p->n));
            async_await_val(p->n, async_http_body_read(L, c, p->chunk, sizeof p->chunk));
        }
        async_await(async_http_end(L, c));
        async_return(0);
    }
    if (c->req.method != HTTP_GET && c->req.method != HTTP_HEAD) {
        async_http_add_header(c, "Allow", "GET, HEAD");
        async_await(async_http_respond(L, c, 405, "Method Not Allowed\n", 19));
        async_return(0);
    }
    if (p->api && strcmp(p->path, "/api/sleep") == 0) {
        p->ms = query_ms(c);
        /* The pool starts with the first request that needs it: until
         * then, -j 1 is a single-threaded process (cheaper system calls). */
        if (!sv->pool_started) {
            async_await(async_pool_init(L, &sv->pool, sv->threads, OFFLOAD_THREADS));
            sv->pool_started = true;
        }
        async_await(async_offload_run(L, &sv->pool, &p->job, blocking_sleep, &p->ms));
        p->n = snprintf(p->text, sizeof p->text, "{\"slept_ms\":%u,\"worker\":%u}\n", p->ms,
                        sv->w->index);
        async_http_add_header(c, "Content-Type", "application/json");
        async_await(async_http_respond(L, c, 200, p->text, (size_t)p->n));
        async_return(0);
    }

    p->fd = open_file(p);
    if (p->fd == -301) {
        p->n = snprintf(p->text, sizeof p->text, "%s/", p->path);
        async_http_add_header(c, "Location", p->text);
        async_await(async_http_respond(L, c, 301, "Moved Permanently\n", 18));
    } else if (p->fd < 0) {
        p->n = -p->fd;
        p->fd = -1;
        async_http_add_header(c, "Content-Type", "text/plain");
        async_await(async_http_respond(L, c, p->n, async_http_reason(p->n),
                                       strlen(async_http_reason(p->n))));
    } else {
        async_http_date((long long)p->st.st_mtime, p->text, sizeof p->text);
        ADD_HEADER(c, "Last-Modified", p->text, 29);
        if (not_modified(c, &p->st)) {
            async_await(async_http_respond(L, c, 304, NULL, 0));
        } else {
            const char *type = content_type(p->path, &p->typelen);
            ADD_HEADER(c, "Content-Type", type, p->typelen);
            async_await(async_http_respond_file(L, c, 200, p->fd, 0, (size_t)p->st.st_size));
        }
    }
    async_finally;
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    async_end;
}

/* on_connect with --tls: the handshake, before the first request. */
static int tls_handshake(async_loop *L, async_http_conn *c)
{
    struct page *p = async_frame(c, struct page, http);
    return async_tls_accept(L, &c->conn.stream, &p->tls, &tls);
}

static void log_response(async_loop *L, async_http_conn *c)
{
    char peer[64];
    (void)L;
    if (quiet)
        return;
    printf("%s %s %.*s %d %llu\n", async_addr_str(&c->conn.peer, peer, sizeof peer),
           c->req.target_len ? http_method_str((enum http_method)c->req.method) : "-",
           c->req.target_len ? (int)c->req.target_len : 1, c->req.target_len ? c->req.target : "-",
           c->status, c->sent);
}

/* ---- one worker: its server, its offload pool ---- */

static int server_main(async_loop *L, async_task *self)
{
    struct server *sv = async_frame(self, struct server, task);
    async_http_config mine;
    async_begin(L, &sv->co);
    mine = cfg;
    mine.user = sv;
    async_await(async_http_server_start(L, &sv->hs, &mine, sv->pages, sizeof sv->pages[0],
                                        sv->npages));
    async_await(async_event_wait(L, &sv->w->stop));
    async_await_val(sv->rc, async_http_server_shutdown(L, &sv->hs, grace));
    if (sv->rc > 0)
        fprintf(stderr, "httpd: worker %u: %d connections cancelled after the grace period\n",
                sv->w->index, sv->rc);
    async_finally;
    async_http_server_close(L, &sv->hs);
    if (sv->pool_started)
        async_pool_close(&sv->pool);
    async_end;
}

static int set_option(const char *opt)
{
    const char *eq = strchr(opt, '=');
    unsigned long long v;
    char *end;
    if (eq == NULL)
        return -1;
    v = strtoull(eq + 1, &end, 10);
    if (*end)
        return -1;
#define OPT(name) (strncmp(opt, name, (size_t)(eq - opt)) == 0 && strlen(name) == (size_t)(eq - opt))
    if (OPT("head_max"))
        cfg.head_max = (size_t)v;
    else if (OPT("headers_max"))
        cfg.headers_max = (unsigned)v;
    else if (OPT("body_max"))
        cfg.body_max = v;
    else if (OPT("discard_max"))
        cfg.discard_max = v;
    else if (OPT("head_timeout"))
        cfg.head_timeout = ASYNC_MS(v);
    else if (OPT("idle_timeout"))
        cfg.idle_timeout = ASYNC_MS(v);
    else if (OPT("body_timeout"))
        cfg.body_timeout = ASYNC_MS(v);
    else if (OPT("write_timeout"))
        cfg.write_timeout = ASYNC_MS(v);
    else if (OPT("conns"))
        return v >= 1 && v <= MAX_FRAMES ? (int)v : -1;
    else
        return -1;
#undef OPT
    return 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-p PORT] [-b ADDR] [-j THREADS] [-r ROOT] [-q] [-g GRACE_MS] "
            "[-o NAME=VALUE]... [--tls CERT KEY]\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    static const int signals[] = {SIGTERM, SIGINT, 0};
    const char *root = ".", *bind_to = "127.0.0.1";
    unsigned port = 8080, nthreads = 1, conns = 0, i;
    unsigned long long total = 0;
    async_addr addr;
    struct rlimit rl;
    char where[64];
    int opt, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    /* --tls CERT KEY first (getopt knows only the short options) */
    for (i = 1; i + 2 < (unsigned)argc; i++)
        if (strcmp(argv[i], "--tls") == 0) {
            async_tls_config tcfg = {0};
            tcfg.cert_file = argv[i + 1];
            tcfg.key_file = argv[i + 2];
            if ((rc = async_tls_ctx_init(&tls, ASYNC_TLS_SERVER, &tcfg)) < 0) {
                fprintf(stderr, "httpd: %s: %s\n", async_strerror(rc), async_tls_ctx_reason(&tls));
                return 1;
            }
            memmove(argv + i, argv + i + 3, (size_t)(argc - (int)i - 2) * sizeof *argv);
            argc -= 3;
            break;
        }
    async_http_config_init(&cfg, handle);
    ASYNC_HTTP_FRAME(&cfg, struct page, http, buf);
    cfg.on_response = log_response;
    cfg.server_name = "async.h-httpd";
    if (tls.ctx)
        cfg.on_connect = tls_handshake;
    while ((opt = getopt(argc, argv, "p:b:j:r:qg:o:")) != -1) {
        switch (opt) {
        case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'b': bind_to = optarg; break;
        case 'j': nthreads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'r': root = optarg; break;
        case 'q': quiet = 1; break;
        case 'g': grace = ASYNC_MS(strtoul(optarg, NULL, 10)); break;
        case 'o':
            if ((rc = set_option(optarg)) < 0) {
                fprintf(stderr, "httpd: bad option %s\n", optarg);
                return 2;
            }
            if (rc > 0)
                conns = (unsigned)rc;
            break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || nthreads < 1 || nthreads > MAX_THREADS)
        usage(argv[0]);
    if (conns == 0 || conns * nthreads > MAX_FRAMES)
        conns = MAX_FRAMES / nthreads;
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "httpd: %s: %s\n", root, strerror(errno));
        return 1;
    }
    /* Thousands of connections need thousands of fds. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rc = async_addr_ip(&addr, bind_to, port)) < 0) {
        fprintf(stderr, "httpd: %s: %s\n", bind_to, async_strerror(rc));
        return 1;
    }
    /* Every listener before any thread: the first one picks the port
     * when it is 0, the others name it. */
    for (i = 0; i < nthreads; i++) {
        rc = async_http_server_listen(&servers[i].hs, &addr, 4096,
                                      nthreads > 1 ? ASYNC_LISTEN_REUSEPORT : 0);
        if (rc < 0) {
            fprintf(stderr, "httpd: listen on %s: %s\n", async_addr_str(&addr, where, sizeof where),
                    async_strerror(rc));
            return 1;
        }
        addr = servers[i].hs.srv.addr;
        servers[i].w = &workers[i];
        servers[i].pages = pages + i * conns;
        servers[i].npages = conns;
        workers[i].main = &servers[i].task;
        workers[i].fn = server_main;
    }
    printf("httpd: listening on %s (%u thread%s, %u connections each, root %s%s)\n",
           async_addr_str(&addr, where, sizeof where), nthreads, nthreads > 1 ? "s" : "", conns,
           root, tls.ctx ? ", https" : "");
    rc = async_workers_run(&group, workers, nthreads, signals);
    for (i = 0; i < nthreads; i++)
        total += servers[i].hs.requests;
    printf("httpd: %s: %llu requests answered\n",
           group.signal == SIGTERM ? "SIGTERM" : group.signal == SIGINT ? "SIGINT" : "stopped",
           total);
    if (rc < 0)
        fprintf(stderr, "httpd: %s\n", async_strerror(rc));
    close(root_fd);
    async_tls_ctx_close(&tls); /* every session is closed by now */
    return rc < 0;
}
