/* SPDX-License-Identifier: MIT */
/* echo_server [-j THREADS] [--tls CERT KEY] [PORT [IP]]: asyncio streams'
 * echo server, on 127.0.0.1 unless a numeric address is given
 * (test/faults/netns serves across a link between network namespaces).
 *
 *     async def handle(reader, writer):
 *         while data := await reader.read(4096):
 *             writer.write(data)
 *             await writer.drain()
 *         writer.close()
 *
 *     server = await asyncio.start_server(handle, "127.0.0.1", 8888)
 *
 * Each connection runs a handler task whose frame comes from a fixed pool
 * (MAX_CLIENTS frames, allocated once, statically).  When every frame is
 * busy the server stops accepting until one frees: new clients wait in
 * the kernel's backlog.  SIGINT or SIGTERM stop it cleanly.
 *
 * With --tls CERT KEY (PEM files: the chain, leaf first, and its key) it
 * is asyncio's start_server(..., ssl=context): each handler first
 * completes a TLS handshake on its stream, then runs the same loop - the
 * stream calls are the same over TLS.
 *
 * -j N: N loops on N threads (async_workers), each with its own
 * SO_REUSEPORT listener on the port and its own share of the pool; the
 * kernel spreads connections among them.  Nothing is shared but the
 * read-only configuration (and the TLS context, which OpenSSL makes
 * thread-safe).                                                         */
#include "async_ev.h"
#include "async_tls.h"
#include "cli.h"
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_CLIENTS 10000
#define MAX_THREADS 64

struct client {
    async_conn conn; /* the pool's header: task, stream, peer */
    async_tls tls;   /* its TLS session, with --tls */
    async_co co;
    int n;
    unsigned long long *echoed; /* this thread's count */
    char buf[4096];
};

static struct client clients[MAX_CLIENTS];
static async_tls_ctx tls; /* with --tls: one context for every connection */

static int handle(async_loop *L, async_task *self)
{
    struct client *c = async_frame(self, struct client, conn.task);
    async_begin(L, &c->co);
    if (tls.ctx) /* a failed handshake ends the handler (and the connection) */
        async_await(async_tls_accept(L, &c->conn.stream, &c->tls, &tls));
    for (;;) {
        async_await_rc(c->n, async_stream_read(L, &c->conn.stream, c->buf, sizeof c->buf));
        if (c->n < 0)
            break; /* ASYNC_EOF: the client is done (or reset) */
        async_await(async_stream_write(L, &c->conn.stream, c->buf, (size_t)c->n));
        *c->echoed += (unsigned)c->n;
    }
    async_end; /* the server closes the stream and recycles the frame */
}

/* One worker: a server over its slice of the pool, until told to stop. */
struct server {
    async_task task;
    async_co co;
    async_worker *w;
    async_server srv;
    struct client *pool;
    unsigned count, i;
    unsigned long long echoed;
};

static int server_main(async_loop *L, async_task *self)
{
    struct server *sv = async_frame(self, struct server, task);
    async_begin(L, &sv->co);
    for (sv->i = 0; sv->i < sv->count; sv->i++)
        sv->pool[sv->i].echoed = &sv->echoed;
    async_await(async_server_start(L, &sv->srv, handle, sv->pool, sizeof sv->pool[0],
                                   offsetof(struct client, conn), sv->count));
    async_await(async_event_wait(L, &sv->w->stop)); /* SIGINT, SIGTERM */
    async_finally;
    async_server_close(L, &sv->srv);
    async_end;
}

static struct server servers[MAX_THREADS];
static async_worker workers[MAX_THREADS];
static async_workers group;

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-j THREADS] [--tls CERT KEY] [PORT [IP]]\n"
            "       THREADS 1..%d; PORT 0..65535, default 8888, 0: any free port;\n"
            "       IP numeric, default 127.0.0.1\n",
            argv0, MAX_THREADS);
    return 2;
}

int main(int argc, char **argv)
{
    static const int signals[] = {SIGINT, SIGTERM, 0};
    const char *ip = NULL;
    unsigned long long v;
    unsigned port = 8888, n = 1, i, have_port = 0;
    unsigned long accepted = 0;
    unsigned long long echoed = 0;
    async_addr addr;
    struct rlimit rl;
    char where[64];
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Anything but the options, a number in range and a numeric address
     * prints the usage: strtoul took "abc" for port 0 and "-j x" for 0. */
    for (i = 1; i < (unsigned)argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < (unsigned)argc) {
            if (cli_number(argv[++i], 1, MAX_THREADS, &v) < 0)
                return usage(argv[0]);
            n = (unsigned)v;
        } else if (strcmp(argv[i], "--tls") == 0 && i + 2 < (unsigned)argc) {
            async_tls_config cfg = {0};
            cfg.cert_file = argv[++i];
            cfg.key_file = argv[++i];
            if ((rc = async_tls_ctx_init(&tls, ASYNC_TLS_SERVER, &cfg)) < 0) {
                fprintf(stderr, "echo_server: %s: %s\n", async_strerror(rc),
                        async_tls_ctx_reason(&tls));
                return 1;
            }
        } else if (argv[i][0] != '-' && !have_port) {
            if (cli_number(argv[i], 0, 65535, &v) < 0)
                return usage(argv[0]);
            port = (unsigned)v;
            have_port = 1;
        } else if (argv[i][0] != '-' && ip == NULL) {
            ip = argv[i];
        } else {
            return usage(argv[0]);
        }
    }
    if (async_addr_ip(&addr, ip ? ip : "127.0.0.1", port) < 0)
        return usage(argv[0]);
    /* Thousands of connections need thousands of fds. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < n; i++) { /* every listener first: port 0 is picked once */
        rc = async_server_listen_flags(&servers[i].srv, &addr, 4096,
                                       n > 1 ? ASYNC_LISTEN_REUSEPORT : 0);
        if (rc < 0) {
            fprintf(stderr, "echo_server: port %u: %s\n", port, async_strerror(rc));
            return 1;
        }
        addr = servers[i].srv.addr;
        servers[i].w = &workers[i];
        servers[i].pool = clients + i * (MAX_CLIENTS / n);
        servers[i].count = MAX_CLIENTS / n;
        workers[i].main = &servers[i].task;
        workers[i].fn = server_main;
    }
    printf("echo_server: listening on %s (%d client slots%s, %u thread%s)\n",
           async_addr_str(&addr, where, sizeof where), MAX_CLIENTS, tls.ctx ? ", TLS" : "", n,
           n > 1 ? "s" : "");
    rc = async_workers_run(&group, workers, n, signals);
    for (i = 0; i < n; i++) {
        accepted += servers[i].srv.accepted;
        echoed += servers[i].echoed;
    }
    printf("echo_server: %s, stopping: %lu connections served, %llu bytes echoed\n",
           group.signal == SIGINT ? "SIGINT" : "SIGTERM", accepted, echoed);
    if (rc < 0)
        fprintf(stderr, "echo_server: %s\n", async_strerror(rc));
    async_tls_ctx_close(&tls); /* every session is closed by now */
    return rc < 0;
}
