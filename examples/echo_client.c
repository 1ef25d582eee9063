/* SPDX-License-Identifier: MIT */
/* echo_client: a load generator for echo servers.
 *
 *     echo_client [-c CONNS] [-d SECONDS] [-s SIZE] [-p PORT] [-H HOST]
 *                 [-t CAFILE [-S SUITE] [-n]]
 *
 * Opens CONNS connections (default 10) to HOST:PORT (127.0.0.1:8888) and
 * on each one plays ping-pong for SECONDS (3): send a SIZE-byte message
 * (1024), read the echo back in full, check every byte, repeat.  Prints
 * the message rate; exits 1 if any byte came back wrong or a connection
 * failed.
 *
 * -t CAFILE speaks TLS 1.3, verifying the server's certificate against
 * CAFILE for the IP address HOST; -S picks the one cipher suite to offer
 * (e.g. TLS_AES_128_GCM_SHA256).  -n makes every round trip a new
 * connection with a full handshake (the rate is then handshakes/s);
 * without -n the clock starts once every connection has completed its
 * handshake, so the rate is that of the messages alone.                 */
#define _POSIX_C_SOURCE 200809L
#include "async_ev.h"
#include "async_tls.h"
#include "cli.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_CONNS 10000
#define MAX_SIZE 65536

static unsigned conns = 10, seconds = 3, port = 8888;
static size_t size = 1024;
static const char *host = "127.0.0.1";
static async_addr server;
static int stop, reconnect;
static unsigned connected, ended; /* -t: handshakes done; tasks ended */
static unsigned long long messages;
static async_tls_ctx tls; /* with -t */

struct conn {
    async_task task;
    async_co co;
    async_stream s;
    async_tls tls;
    unsigned id;
    unsigned long seq;
    unsigned char out[MAX_SIZE], in[MAX_SIZE];
};

static struct conn pool[MAX_CONNS];

/* A message that differs per connection and per round trip. */
static void fill(struct conn *c)
{
    size_t i;
    for (i = 0; i < size; i++)
        c->out[i] = (unsigned char)(c->id * 7u + c->seq * 13u + i * 31u + (i >> 7));
}

static int ping_pong(async_loop *L, async_task *self)
{
    struct conn *c = async_frame(self, struct conn, task);
    async_begin(L, &c->co);
    while (!stop) {
        if (async_stream_is_closed(&c->s)) {
            async_await(async_stream_connect(L, &c->s, &server, NULL, 0));
            if (tls.ctx)
                async_await(async_tls_client(L, &c->s, &c->tls, &tls, host));
            if (!reconnect)
                connected++;
        }
        fill(c);
        async_await(async_stream_write(L, &c->s, c->out, size));
        async_await(async_stream_read_exactly(L, &c->s, c->in, size));
        if (memcmp(c->in, c->out, size) != 0)
            async_return(ASYNC_EPROTO); /* a wrong byte came back */
        c->seq++;
        messages++;
        if (reconnect)
            async_stream_close(L, &c->s);
    }
    async_finally;
    ended++;
    if (!async_stream_is_closed(&c->s))
        async_stream_close(L, &c->s);
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_group group;
    async_task *slots[MAX_CONNS];
    unsigned i;
    int rc;
    async_tick t0, t1;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    unsigned failed = 0, i;
    async_begin(L, &f->co);
    async_group_init(&f->group, f->slots, conns, 0);
    f->t0 = async_now(L);
    for (f->i = 0; f->i < conns; f->i++) {
        pool[f->i].id = f->i;
        async_group_spawn(L, &f->group, &pool[f->i].task, ping_pong);
    }
    if (tls.ctx && !reconnect) { /* time the messages, not the handshakes */
        async_await_until(connected + ended >= conns);
        messages = 0;
        f->t0 = async_now(L);
    }
    async_await(async_sleep(L, ASYNC_SEC(seconds)));
    stop = 1; /* each connection finishes its round trip and closes */
    async_await_rc(f->rc, async_group_wait(L, &f->group));
    f->t1 = async_now(L);
    for (i = 0; i < conns; i++) {
        int r = async_task_result(&pool[i].task);
        if (r < 0) {
            if (failed++ < 5)
                fprintf(stderr, "echo_client: connection %u: %s%s%s\n", i, async_strerror(r),
                        async_tls_reason(&pool[i].s) ? ": " : "",
                        async_tls_reason(&pool[i].s) ? async_tls_reason(&pool[i].s) : "");
        }
    }
    {
        double secs = (double)(async_tick)(f->t1 - f->t0) / ASYNC_CONF_TICK_HZ;
        printf("echo_client: %u connections, %zu-byte messages, %llu round trips in %.2f s: "
               "%.0f msg/s, ",
               conns, size, messages, secs, secs > 0 ? (double)messages / secs : 0.0);
        if (failed)
            printf("%u connections FAILED\n", failed);
        else
            printf("every byte verified\n");
    }
    async_return(failed ? ASYNC_EPROTO : 0);
    async_end;
}

/* The longest -d the loop can sleep (async_sleep's ASYNC_TICK_MAX_DELAY). */
#define MAX_SECONDS ((unsigned long long)ASYNC_TICK_MAX_DELAY / ASYNC_CONF_TICK_HZ)

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-c CONNS] [-d SECONDS] [-s SIZE] [-p PORT] [-H IP] "
            "[-t CAFILE [-S SUITE] [-n]]\n"
            "       CONNS 1..%d, SECONDS 1..%llu, SIZE 1..%d, PORT 1..65535\n",
            argv0, MAX_CONNS, MAX_SECONDS > UINT_MAX ? (unsigned long long)UINT_MAX : MAX_SECONDS,
            MAX_SIZE);
    return 2;
}

int main(int argc, char **argv)
{
    static struct main_frame m;
    struct rlimit rl;
    async_tls_config cfg = {0};
    unsigned long long v;
    int opt, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = getopt(argc, argv, "c:d:s:p:H:t:S:n")) != -1) {
        switch (opt) {
        case 'c':
            if (cli_number(optarg, 1, MAX_CONNS, &v) < 0)
                return usage(argv[0]);
            conns = (unsigned)v;
            break;
        case 'd':
            if (cli_number(optarg, 1, MAX_SECONDS > UINT_MAX ? UINT_MAX : MAX_SECONDS, &v) < 0)
                return usage(argv[0]);
            seconds = (unsigned)v;
            break;
        case 's':
            if (cli_number(optarg, 1, MAX_SIZE, &v) < 0)
                return usage(argv[0]);
            size = (size_t)v;
            break;
        case 'p':
            if (cli_number(optarg, 1, 65535, &v) < 0)
                return usage(argv[0]);
            port = (unsigned)v;
            break;
        case 'H': host = optarg; break;
        case 't': cfg.ca_file = optarg; break;
        case 'S': cfg.ciphersuites = optarg; break;
        case 'n': reconnect = 1; break;
        default: return usage(argv[0]);
        }
    }
    if (optind != argc)
        return usage(argv[0]); /* no operands */
    if (async_addr_ip(&server, host, port) < 0) {
        fprintf(stderr, "echo_client: %s is not a numeric IP address\n", host);
        return 2;
    }
    if (cfg.ca_file) {
        cfg.min_version = ASYNC_TLS_1_3;
        if ((rc = async_tls_ctx_init(&tls, ASYNC_TLS_CLIENT, &cfg)) < 0) {
            fprintf(stderr, "echo_client: %s: %s\n", async_strerror(rc),
                    async_tls_ctx_reason(&tls));
            return 2;
        }
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    rc = async_ev_main(&m.task, main_task);
    async_tls_ctx_close(&tls);
    if (rc < 0 && rc != ASYNC_EPROTO)
        fprintf(stderr, "echo_client: %s\n", async_strerror(rc));
    return rc < 0;
}
