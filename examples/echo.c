/* SPDX-License-Identifier: MIT */
/* echo [PORT]: asyncio streams' echo server on 127.0.0.1, line for line
 * against its Python twin (examples/echo_server.c is the full server:
 * threads, TLS).
 *
 *     import asyncio, resource, signal, sys
 *
 *     echoed = 0
 *
 *     async def handle(reader, writer):
 *         global echoed
 *         while data := await reader.read(4096):
 *             writer.write(data)
 *             await writer.drain()
 *             echoed += len(data)
 *         writer.close()
 *
 *     async def main(port):
 *         server = await asyncio.start_server(handle, "127.0.0.1", port)
 *         print("echo: listening on 127.0.0.1:%d" % port)
 *         stop = asyncio.Event()
 *         for sig in signal.SIGINT, signal.SIGTERM:
 *             asyncio.get_running_loop().add_signal_handler(sig, stop.set)
 *         await stop.wait()
 *         print("echo: stopping: %d bytes echoed" % echoed)
 *         server.close()
 *
 *     _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
 *     resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
 *     asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8888))
 *
 * Each connection runs a handler task whose frame comes from a fixed pool
 * (MAX_CLIENTS frames, allocated once, statically).  When every frame is
 * busy the server stops accepting until one frees: new clients wait in
 * the kernel's backlog.  SIGTERM, or SIGINT (async_ev_main cancels the
 * main task on Ctrl-C, as asyncio.run does), stop it cleanly: when main
 * returns, async_ev_main cancels what is left (the handlers) and runs
 * their cleanup before it returns.                                      */
#include "async_ev.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#define MAX_CLIENTS 10000

static unsigned long long echoed;

struct client { async_conn conn; async_co co; int n; char buf[4096]; };
static struct client clients[MAX_CLIENTS];
static async_task_def_at(client, conn.task, L, c) /* one per connection */
    for (;;) {
        async_await_rc(c->n, async_stream_read(L, &c->conn.stream, c->buf, sizeof c->buf));
        if (c->n < 0)
            break; /* ASYNC_EOF: the client is done (or reset) */
        async_await(async_stream_write(L, &c->conn.stream, c->buf, (size_t)c->n));
        echoed += (unsigned)c->n;
    }
async_def_end /* the server closes the stream and recycles the frame */

struct main_task { async_task task; async_co co; async_server srv; async_addr addr;
                   async_signal term; unsigned port; int rc; char where[64]; };
static async_task_def(main_task, L, f)
    async_await(async_addr_ip(&f->addr, "127.0.0.1", f->port));
    async_await(async_server_listen(&f->srv, &f->addr, 4096));
    /* the pool: frames of sizeof clients[0] bytes, the conn header at offset 0 */
    async_await(async_server_start(L, &f->srv, client, clients, sizeof clients[0], 0, MAX_CLIENTS));
    printf("echo: listening on %s\n", async_addr_str(&f->srv.addr, f->where, 64));
    async_await(async_signal_init(L, &f->term, SIGTERM));
    async_await_rc(f->rc, async_signal_wait(L, &f->term)); /* or cancelled: Ctrl-C */
    printf("echo: stopping: %lu connections, %llu bytes echoed\n", f->srv.accepted, echoed);
    async_server_close(L, &f->srv);
    async_finally;
    async_signal_close(L, &f->term);
async_def_end

int main(int argc, char **argv)
{
    static struct main_task m;
    struct rlimit rl; /* thousands of connections need thousands of fds */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rl.rlim_cur = rl.rlim_max) > 0)
        setrlimit(RLIMIT_NOFILE, &rl);
    setvbuf(stdout, NULL, _IOLBF, 0);
    m.port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 8888;
    return async_ev_exit(argv[0], async_ev_main(&m.task, main_task));
}
