/* SPDX-License-Identifier: MIT */
/* tls_floor CERT KEY [PORT]: the floor for a TLS echo server on libev -
 * raw OpenSSL and libev callbacks, no coroutines, no scheduler, the
 * same OpenSSL settings as src/tls.c (read-ahead, partial writes, no
 * renegotiation) and the same socket options as echo_server --tls
 * (TCP_NODELAY).  One ev_io per connection, re-armed for whatever
 * OpenSSL wants next; a read is tried again at once only while OpenSSL
 * holds buffered bytes.  SIGINT/SIGTERM exit.  Tables indexed by fd.   */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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
    SSL *ssl;
    int established;
    size_t pending, off; /* unwritten bytes of buf */
    char buf[4096];
};

static struct conn table[MAX_FD];
static SSL_CTX *ctx;

static void conn_close(struct ev_loop *ev, struct conn *c)
{
    ev_io_stop(ev, &c->w);
    if (c->established) { /* close_notify, once, as async_stream_close does */
        ERR_clear_error();
        SSL_shutdown(c->ssl);
    }
    ERR_clear_error();
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->w.fd);
}

/* After an SSL call returned r <= 0: wait for what OpenSSL asked for, or
 * end the connection. */
static void want(struct ev_loop *ev, struct conn *c, int r)
{
    int events;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        events = EV_READ;
        break;
    case SSL_ERROR_WANT_WRITE:
        events = EV_WRITE;
        break;
    default:
        c->established = 0; /* failed or closed: no close_notify */
        conn_close(ev, c);
        return;
    }
    if ((c->w.events & (EV_READ | EV_WRITE)) != events) {
        ev_io_stop(ev, &c->w);
        ev_io_set(&c->w, c->w.fd, events);
        ev_io_start(ev, &c->w);
    }
}

static void on_conn(struct ev_loop *ev, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    int r;
    (void)revents;
    if (!c->established) {
        ERR_clear_error();
        r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            want(ev, c, r);
            return;
        }
        c->established = 1;
    }
    for (;;) {
        if (c->pending == 0) {
            ERR_clear_error();
            r = SSL_read(c->ssl, c->buf, sizeof c->buf);
            if (r <= 0) {
                want(ev, c, r);
                return;
            }
            c->pending = (size_t)r;
            c->off = 0;
        }
        while (c->pending) {
            ERR_clear_error();
            r = SSL_write(c->ssl, c->buf + c->off, (int)c->pending);
            if (r <= 0) {
                want(ev, c, r);
                return;
            }
            c->off += (size_t)r;
            c->pending -= (size_t)r;
        }
        if (!SSL_has_pending(c->ssl))
            break; /* the socket is what to wait on now */
    }
    if ((c->w.events & (EV_READ | EV_WRITE)) != EV_READ) {
        ev_io_stop(ev, w);
        ev_io_set(w, w->fd, EV_READ);
        ev_io_start(ev, w);
    }
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    int fd;
    (void)revents;
    while ((fd = floor_accept(w->fd, MAX_FD)) >= 0) {
        struct conn *c;
        c = &table[fd];
        c->pending = c->off = 0;
        c->established = 0;
        c->ssl = SSL_new(ctx);
        if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
            SSL_free(c->ssl);
            close(fd);
            continue;
        }
        SSL_set_accept_state(c->ssl);
        ev_io_init(&c->w, on_conn, fd, EV_READ);
        ev_io_start(ev, &c->w);
    }
}

int main(int argc, char **argv)
{
    struct ev_loop *ev = ev_default_loop(0);
    int fd;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: %s CERT KEY [PORT]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* OpenSSL's socket BIO write()s */
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_read_ahead(ctx, 1);
    fd = floor_listen("tls_floor", argc > 3 ? atoi(argv[3]) : 8443);
    if (fd < 0)
        return 1;
    floor_run(ev, fd, on_accept);
    SSL_CTX_free(ctx);
    return 0;
}
