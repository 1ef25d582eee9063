/* SPDX-License-Identifier: MIT */
/* echo_server [--tls CERT KEY] [PORT]: asyncio streams' echo server on
 * 127.0.0.1.
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
 * stream calls are the same over TLS.                                 */
#include "async_ev.h"
#include "async_tls.h"
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_CLIENTS 10000

struct client {
    async_conn conn; /* the pool's header: task, stream, peer */
    async_tls tls;   /* its TLS session, with --tls */
    async_co co;
    int n;
    char buf[4096];
};

static struct client clients[MAX_CLIENTS];
static unsigned long long echoed;
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
        echoed += (unsigned)c->n;
    }
    async_end; /* the server closes the stream and recycles the frame */
}

/* One task per shutdown signal; the first to arrive ends the wait. */
struct sigtask {
    async_task task;
    async_co co;
    async_signal sig;
    int signum;
};

static int wait_signal(async_loop *L, async_task *self)
{
    struct sigtask *f = async_frame(self, struct sigtask, task);
    async_begin(L, &f->co);
    async_await(async_signal_init(L, &f->sig, f->signum));
    async_await(async_signal_wait(L, &f->sig));
    async_finally;
    async_signal_close(L, &f->sig);
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_server srv;
    async_addr addr;
    unsigned port;
    async_group signals; /* asyncio.wait(..., FIRST_COMPLETED) */
    async_task *slots[2], *first;
    int rc;
    struct sigtask sigint, sigterm;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    char where[64];
    async_begin(L, &f->co);
    async_await(async_addr_ip(&f->addr, "127.0.0.1", f->port));
    async_await(async_server_listen(&f->srv, &f->addr, 4096));
    async_await(async_server_start(L, &f->srv, handle, clients, sizeof clients[0],
                                   offsetof(struct client, conn), MAX_CLIENTS));
    printf("echo_server: listening on %s (%d client slots%s)\n",
           async_addr_str(&f->srv.addr, where, sizeof where), MAX_CLIENTS, tls.ctx ? ", TLS" : "");

    f->sigint.signum = SIGINT;
    f->sigterm.signum = SIGTERM;
    async_group_init(&f->signals, f->slots, 2, 0);
    async_group_spawn(L, &f->signals, &f->sigint.task, wait_signal);
    async_group_spawn(L, &f->signals, &f->sigterm.task, wait_signal);
    async_await(async_group_next(L, &f->signals, &f->first));
    printf("echo_server: %s, stopping: %lu connections served, %llu bytes echoed\n",
           f->first == &f->sigint.task ? "SIGINT" : "SIGTERM", f->srv.accepted, echoed);
    async_group_cancel(L, &f->signals);
    async_await_rc(f->rc, async_group_wait(L, &f->signals));
    async_server_close(L, &f->srv);
    async_end;
}

int main(int argc, char **argv)
{
    static struct main_frame m;
    struct rlimit rl;
    int rc, arg = 1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "--tls") == 0) {
        async_tls_config cfg = {0};
        if (argc < 4) {
            fprintf(stderr, "usage: %s [--tls CERT KEY] [PORT]\n", argv[0]);
            return 2;
        }
        cfg.cert_file = argv[2];
        cfg.key_file = argv[3];
        if ((rc = async_tls_ctx_init(&tls, ASYNC_TLS_SERVER, &cfg)) < 0) {
            fprintf(stderr, "echo_server: %s: %s\n", async_strerror(rc),
                    async_tls_ctx_reason(&tls));
            return 1;
        }
        arg = 4;
    }
    m.port = argc > arg ? (unsigned)strtoul(argv[arg], NULL, 10) : 8888;
    /* Thousands of connections need thousands of fds. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    rc = async_ev_main(&m.task, main_task);
    if (rc < 0)
        fprintf(stderr, "echo_server: port %u: %s\n", m.port, async_strerror(rc));
    async_tls_ctx_close(&tls); /* every session is closed by now */
    return rc < 0;
}
