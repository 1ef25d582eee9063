/* SPDX-License-Identifier: MIT */
/* floor_server.h: what the three libev floors (echo_floor, tls_floor,
 * http_floor) share outside their per-message paths: the listener on
 * 127.0.0.1, the accept and the run until SIGINT or SIGTERM.  Included by one .c
 * each; nothing here runs per message, so the floors' instruction counts
 * do not depend on it.                                                  */
#ifndef FLOOR_SERVER_H
#define FLOOR_SERVER_H

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* A non-blocking listening socket on 127.0.0.1:port (SO_REUSEADDR,
 * backlog 4096), after raising the descriptor limit to its hard limit,
 * as the servers measured beside the floors do.  Prints "NAME: listening
 * on ..." and returns the descriptor, or prints perror(name) and
 * returns -1.                                                           */
static int floor_listen(const char *name, int port)
{
    struct sockaddr_in sa;
    struct rlimit rl;
    int fd, one = 1;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        perror(name);
        return -1;
    }
    printf("%s: listening on 127.0.0.1:%d\n", name, port);
    return fd;
}

/* The next connection waiting on the listener `lfd`, non-blocking and
 * with TCP_NODELAY (as the servers measured beside the floors set it),
 * or -1 when none is waiting.  One at or above max_fd (the size of the
 * floor's table, indexed by descriptor) is closed and skipped.          */
static int floor_accept(int lfd, int max_fd)
{
    int fd, one = 1;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= max_fd)
        close(fd);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void floor_on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(ev, EVBREAK_ALL);
}

/* Accept on `fd` with `on_accept` and run the loop until SIGINT or
 * SIGTERM.                                                              */
static void floor_run(struct ev_loop *ev, int fd, void (*on_accept)(struct ev_loop *, ev_io *, int))
{
    ev_io acc;
    ev_signal si, st;

    ev_io_init(&acc, on_accept, fd, EV_READ);
    ev_io_start(ev, &acc);
    ev_signal_init(&si, floor_on_signal, SIGINT);
    ev_signal_start(ev, &si);
    ev_signal_init(&st, floor_on_signal, SIGTERM);
    ev_signal_start(ev, &st);
    ev_run(ev, 0);
}

#endif
