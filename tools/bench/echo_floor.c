/* SPDX-License-Identifier: MIT */
/* echo_floor [PORT]: the floor for a libev echo server - plain libev
 * callbacks, no coroutines, no scheduler.  One ev_io per connection:
 * readable -> read -> write back (a short write parks the rest and waits
 * for writability).  Same socket options as echo_server (TCP_NODELAY).
 * SIGINT/SIGTERM exit.  Static tables indexed by fd: no allocation.     */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor_server.h"

#define MAX_FD 65536

struct conn {
    ev_io w;
    size_t pending, off; /* unwritten bytes of buf */
    char buf[4096];
};

static struct conn *conns[MAX_FD];
static struct conn table[MAX_FD];

static void conn_close(struct ev_loop *ev, struct conn *c)
{
    ev_io_stop(ev, &c->w);
    close(c->w.fd);
}

static void on_conn(struct ev_loop *ev, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    ssize_t n;
    (void)revents;
    if (c->pending == 0) {
        n = read(w->fd, c->buf, sizeof c->buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(ev, c);
            return;
        }
        if (n < 0)
            return;
        c->pending = (size_t)n;
        c->off = 0;
    }
    while (c->pending) {
        n = send(w->fd, c->buf + c->off, c->pending, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            conn_close(ev, c);
            return;
        }
        c->off += (size_t)n;
        c->pending -= (size_t)n;
    }
    /* Switch between waiting to read and waiting to finish a write. */
    if ((c->pending != 0) != ((w->events & EV_WRITE) != 0)) {
        ev_io_stop(ev, w);
        ev_io_set(w, w->fd, c->pending ? EV_WRITE : EV_READ);
        ev_io_start(ev, w);
    }
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    int fd;
    (void)revents;
    while ((fd = floor_accept(w->fd, MAX_FD)) >= 0) {
        struct conn *c;
        c = conns[fd] = &table[fd];
        c->pending = c->off = 0;
        ev_io_init(&c->w, on_conn, fd, EV_READ);
        ev_io_start(ev, &c->w);
    }
}

int main(int argc, char **argv)
{
    struct ev_loop *ev = ev_default_loop(0);
    int fd;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fd = floor_listen("echo_floor", argc > 1 ? atoi(argv[1]) : 8888);
    if (fd < 0)
        return 1;
    floor_run(ev, fd, on_accept);
    return 0;
}
