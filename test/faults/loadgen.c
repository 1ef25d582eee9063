/* SPDX-License-Identifier: MIT */
/* loadgen: faults and load for examples/echo_server, loopback only.
 *
 *   loadgen churn  PORT PID [--steady N] [--abusive N] [--inflight N]
 *   loadgen fdlimit PORT PID [--clients N]
 *   loadgen slow   PORT PID [--slow N] [--steady N] [--seconds S]
 *   loadgen verify PORT PID [--steady N] [--seconds S] [--cuts 0|1] [--host IP]
 *
 * PID is the server's: its memory (VmRSS), open descriptors and CPU time
 * come from /proc/PID, read at the moments each scenario defines.  Every
 * loop here is bounded in count and time; the program stops by itself
 * and exits 0 only if every check of its scenario held.  Plain epoll, no
 * async.h: the load generator does not share code with what it tests.
 *
 * churn    N steady connections (200) stream position-dependent bytes at
 *          a paced rate and verify every echoed byte, while N abusive
 *          connections (10,000, at most --inflight at once) connect, send
 *          partial data (nothing, a little, a little then wait for the
 *          echo, or 256 KiB without reading) and reset (SO_LINGER 0), or
 *          send and close without reading the echo.  The steady ones must
 *          lose and corrupt nothing and end with a clean close (a
 *          half-close while echoes are in flight: all must arrive); a fresh connection is served at the end; the
 *          server's RSS and descriptor count after the resets are those
 *          after a warm-up wave of the same shape (what the server keeps
 *          for good, e.g. handler frames and libev's fd table, is counted
 *          in the baseline; growth per connection is not).
 * fdlimit  The server runs with a descriptor limit below N (the script
 *          starts it under `ulimit -n 256`).  N clients (400) connect and
 *          send a greeting; those the server could accept get their echo.
 *          Over a 3 s window with the rest waiting, the server's CPU time
 *          (utime + stime from /proc/PID/stat) must stay under 10 % of
 *          one core: it neither crashes nor spins.  Then the served
 *          clients close, and every waiting one must be served, and a
 *          fresh wave after it.
 * slow     N clients (8) send without ever reading, until the kernel's
 *          buffers fill and the server (which buffers 4 KiB per client)
 *          stops reading them: their progress must stall (backpressure)
 *          and stay stalled for --seconds while steady clients are still
 *          served and verified.  The server's RSS must stay within 2 MiB
 *          of where it started; after the slow ones reset, the server's
 *          descriptors return.
 * verify   N steady connections (20) stream and verify for S seconds (5)
 *          against a server under injected faults (test/faults/syscalls):
 *          no byte may come back wrong, duplicated or out of order.  A
 *          connection the server cuts (it reports an injected error by
 *          closing) is counted and replaced; with --cuts 0 any cut fails
 *          (the faults were all of the kind a server must hide).  Then
 *          they drain and close, and the server's descriptors return.
 *          Prints VERIFY verified=B cut=C lost=L (L: wrong or, with
 *          --cuts 0, missing bytes).  --host: the server's IPv4 address
 *          (default 127.0.0.1; test/faults/netns runs it across a link). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define WINDOW (64 * 1024) /* steady: most bytes in flight */
#define BUF (64 * 1024)

enum kind { STEADY, ABUSE, GREET, SLOW };
enum state { FREE, CONNECTING, OPEN, CLOSING, DONE };

struct conn {
    int fd, kind, state, sub; /* sub: abusive variant; greet: served */
    int want_out;
    uint32_t id;
    uint64_t tx, rx, target;
    double deadline;
};

static struct conn conns[MAX_CONNS];
static int ep = -1, port;
static in_addr_t server_ip;
static pid_t spid;
static unsigned char buf[BUF];
static int failures;

/* ---- counters the scenarios report ---- */
static struct {
    unsigned long abusive_done, abusive_failed_connect, abusive_unanswered, abusive_by_sub[5];
    unsigned long steady_errors, steady_corrupt, steady_closed_ok;
    unsigned long greet_served, greet_errors;
    unsigned long long steady_verified, slow_pushed;
} st;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  %s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!ok)
        failures++;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* A position-dependent byte: a lost, duplicated or reordered byte shows. */
static unsigned char pat(uint32_t id, uint64_t off)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull + (uint64_t)id * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (unsigned char)(x >> 24);
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/* ---- /proc/PID ---- */

static long proc_rss_kb(void)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", (int)spid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* utime + stime in clock ticks; *state gets the state letter. */
static long proc_cpu_ticks(char *state)
{
    char path[64], text[1024], *p;
    unsigned long ut = 0, stt = 0;
    size_t n;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)spid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if ((p = strrchr(text, ')')) == NULL)
        return -1;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", state, &ut, &stt) != 3)
        return -1;
    return (long)(ut + stt);
}

static int proc_fds(void)
{
    char path[64];
    struct dirent *d;
    int n = 0;
    DIR *dir;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)spid);
    if ((dir = opendir(path)) == NULL)
        return -1;
    while ((d = readdir(dir)) != NULL)
        if (d->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static int server_alive(void)
{
    char s = '?';
    return kill(spid, 0) == 0 && proc_cpu_ticks(&s) >= 0 && s != 'Z' && s != 'X';
}

/* ---- connections ---- */

static struct conn *conn_new(int kind, uint32_t id)
{
    static int hint;
    struct sockaddr_in sa;
    struct epoll_event ev;
    struct conn *c = NULL;
    int i, fd;

    for (i = 0; i < MAX_CONNS; i++) {
        struct conn *t = &conns[(hint + i) % MAX_CONNS];
        if (t->state == FREE) {
            c = t;
            hint = (hint + i + 1) % MAX_CONNS;
            break;
        }
    }
    if (c == NULL)
        return NULL;
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        die("socket");
    if (kind == SLOW) { /* small client buffers: the server's side fills */
        int sz = 32 * 1024;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = server_ip;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        die("connect");
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->kind = kind;
    c->id = id;
    c->state = CONNECTING;
    c->want_out = 1;
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
    return c;
}

static void want_out(struct conn *c, int on)
{
    struct epoll_event ev;
    if (c->want_out == on)
        return;
    c->want_out = on;
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct conn *c, int reset)
{
    if (reset) {
        struct linger lg = {1, 0}; /* close sends RST, no FIN */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = FREE;
}

static int count(int kind, int state)
{
    int i, n = 0;
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != FREE && conns[i].kind == kind && (state < 0 || conns[i].state == state))
            n++;
    return n;
}

/* Send n pattern bytes from c->tx on; returns bytes sent, or -1 (EAGAIN
 * with nothing sent: wait for EPOLLOUT), or -2 on an error. */
static long send_pattern(struct conn *c, size_t n)
{
    size_t i;
    ssize_t k;
    if (n > BUF)
        n = BUF;
    for (i = 0; i < n; i++)
        buf[i] = pat(c->id, c->tx + i);
    k = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (k > 0) {
        c->tx += (uint64_t)k;
        return k;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -1;
    return -2;
}

/* Read what is there and check it against the pattern.  Returns bytes
 * read, 0 at EOF, -1 if nothing now, -2 on error, -3 on corruption. */
static long recv_verify(struct conn *c)
{
    ssize_t k = recv(c->fd, buf, BUF, 0);
    ssize_t i;
    if (k > 0) {
        for (i = 0; i < k; i++)
            if (buf[i] != pat(c->id, c->rx + (uint64_t)i))
                return -3;
        c->rx += (uint64_t)k;
        return k;
    }
    if (k == 0)
        return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -1;
    return -2;
}

static int connected(struct conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0)
        return 0;
    c->state = OPEN;
    return 1;
}

/* ---- per-kind behaviour ---- */

static double steady_rate = 256 * 1024; /* bytes per second per connection */
static double last_tick;
static int steady_closing;

static void steady_io(struct conn *c, uint32_t events)
{
    long k;
    if (c->state == CONNECTING) {
        if (!connected(c)) {
            st.steady_errors++;
            conn_close(c, 0);
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        while ((k = recv_verify(c)) > 0)
            st.steady_verified += (uint64_t)k;
        if (k == -3) {
            st.steady_corrupt++;
            conn_close(c, 1);
            return;
        }
        if (k == 0 || k == -2) {
            if (c->state == CLOSING && k == 0 && c->rx == c->tx) {
                st.steady_closed_ok++;
                conn_close(c, 0);
                c->state = FREE;
            } else {
                st.steady_errors++;
                conn_close(c, 0);
            }
            return;
        }
    }
    if (c->state == OPEN && steady_closing && c->target == 0) {
        /* half-close with echoes still in flight: the server must send
         * them all before it closes after our EOF */
        shutdown(c->fd, SHUT_WR);
        c->state = CLOSING;
        want_out(c, 0);
        return;
    }
    if (c->state == OPEN && c->target > 0 && c->tx - c->rx < WINDOW) {
        size_t n = (size_t)(1 + rnd() % 16384);
        if (n > c->target)
            n = (size_t)c->target;
        if (n > WINDOW - (c->tx - c->rx))
            n = (size_t)(WINDOW - (c->tx - c->rx));
        k = send_pattern(c, n);
        if (k > 0)
            c->target -= (uint64_t)k;
        else if (k == -2) {
            st.steady_errors++;
            conn_close(c, 0);
            return;
        }
        want_out(c, k == -1);
    } else {
        want_out(c, 0);
    }
}

static void steady_tick(double dt)
{
    int i;
    for (i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &conns[i];
        if (c->state == FREE || c->kind != STEADY)
            continue;
        if (!steady_closing)
            c->target += (uint64_t)(steady_rate * dt); /* budget: paced, not flat out */
        if (c->state == OPEN)
            steady_io(c, 0);
    }
}

static void abuse_io(struct conn *c, uint32_t events)
{
    long k;
    if (c->state == CONNECTING) {
        if (!connected(c)) {
            st.abusive_failed_connect++;
            conn_close(c, 1);
            return;
        }
        switch (c->sub) {
        case 0: /* connect, reset */
            break;
        case 1: /* a partial request, reset */
            c->target = 1 + rnd() % 3000;
            send_pattern(c, (size_t)c->target);
            break;
        case 2: /* a request, wait for the first echoed byte, reset */
            c->target = 1 + rnd() % 3000;
            send_pattern(c, (size_t)c->target);
            want_out(c, 0);
            return;
        case 3: /* 256 KiB without reading: the server blocks writing */
            while (c->tx < 256 * 1024 && send_pattern(c, 65536) > 0) {
            }
            break;
        case 4: /* a request, then a plain close: the echo meets a closed
                 * socket (RST, EPIPE on the server's next write) */
            c->target = 1 + rnd() % 60000;
            while (c->tx < c->target && send_pattern(c, (size_t)(c->target - c->tx)) > 0) {
            }
            st.abusive_by_sub[c->sub]++;
            st.abusive_done++;
            conn_close(c, 0);
            return;
        }
        st.abusive_by_sub[c->sub]++;
        st.abusive_done++;
        conn_close(c, 1);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        k = recv_verify(c);
        if (k == -1)
            return;
        if (k <= 0)
            st.abusive_unanswered++;
        st.abusive_by_sub[c->sub]++;
        st.abusive_done++;
        conn_close(c, 1);
    }
}

static void greet_io(struct conn *c, uint32_t events)
{
    long k;
    if (c->state == CONNECTING) {
        if (!connected(c)) {
            st.greet_errors++;
            conn_close(c, 0);
            return;
        }
        if (send_pattern(c, 16) != 16) {
            st.greet_errors++;
            conn_close(c, 0);
            return;
        }
        want_out(c, 0);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        k = recv_verify(c);
        if (k == -1)
            return;
        if (k < 0 || (k == 0 && c->rx < 16)) {
            st.greet_errors++;
            conn_close(c, 0);
            return;
        }
        if (c->rx == 16 && !c->sub) {
            c->sub = 1;
            st.greet_served++;
        }
        if (k == 0)
            conn_close(c, 0);
    }
}

static void slow_io(struct conn *c, uint32_t events)
{
    long k;
    (void)events;
    if (c->state == CONNECTING && !connected(c)) {
        conn_close(c, 0);
        return;
    }
    while ((k = send_pattern(c, 65536)) > 0)
        st.slow_pushed += (uint64_t)k;
    want_out(c, k == -1);
}

static void dispatch(struct conn *c, uint32_t events)
{
    switch (c->kind) {
    case STEADY: steady_io(c, events); break;
    case ABUSE: abuse_io(c, events); break;
    case GREET: greet_io(c, events); break;
    case SLOW: slow_io(c, events); break;
    }
}

/* One turn of the event loop: up to 10 ms of waiting, then the pacing. */
static void turn(void)
{
    struct epoll_event evs[256];
    int i, n = epoll_wait(ep, evs, 256, 10);
    double t;
    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (i = 0; i < n; i++) {
        struct conn *c = (struct conn *)evs[i].data.ptr;
        if (c->state != FREE)
            dispatch(c, evs[i].events);
    }
    t = now();
    steady_tick(t - last_tick);
    last_tick = t;
}

/* Run the loop for `seconds`, or until pred() is true (pred may be NULL). */
static int run_for(double seconds, int (*pred)(void))
{
    double end = now() + seconds;
    while (now() < end) {
        if (pred && pred())
            return 1;
        turn();
    }
    return pred ? pred() : 1;
}

/* ---- scenario pieces ---- */

static unsigned long abuse_target, abuse_started;
static int abuse_inflight;

static int abuse_step(void)
{
    double t = now();
    int i;
    for (i = 0; i < MAX_CONNS; i++) { /* an echo that never comes */
        struct conn *c = &conns[i];
        if (c->state != FREE && c->kind == ABUSE && t > c->deadline) {
            st.abusive_unanswered++;
            st.abusive_done++;
            conn_close(c, 1);
        }
    }
    while (abuse_started < abuse_target && count(ABUSE, -1) < abuse_inflight) {
        struct conn *c = conn_new(ABUSE, (uint32_t)(100000 + abuse_started));
        if (c == NULL)
            break;
        c->sub = (int)(abuse_started % 5);
        c->deadline = now() + 10;
        abuse_started++;
    }
    return abuse_started == abuse_target && count(ABUSE, -1) == 0;
}

/* Run `n` abusive connections to the end (with steady traffic going on). */
static int abuse_wave(unsigned long n, double limit)
{
    double end = now() + limit;
    abuse_target += n;
    while (now() < end) {
        if (abuse_step())
            return 1;
        turn();
    }
    return 0;
}

static int steady_all_open(void)
{
    return count(STEADY, OPEN) == count(STEADY, -1);
}

static int steady_none_left(void)
{
    return count(STEADY, -1) == 0;
}

/* A fresh connection gets its greeting echoed. */
static int fresh_served(void)
{
    unsigned long before = st.greet_served;
    struct conn *c = conn_new(GREET, 7);
    double end = now() + 10;
    if (c == NULL)
        return 0;
    while (now() < end && st.greet_served == before && c->state != FREE)
        turn();
    if (c->state != FREE)
        conn_close(c, 0);
    return st.greet_served > before;
}

static int settle_fds(int want, double limit)
{
    double end = now() + limit;
    int n;
    while ((n = proc_fds()) > want && now() < end)
        turn();
    return n;
}

static int churn(int steady, unsigned long abusive, int inflight)
{
    long rss0, rss1, rss2;
    int i, fds0, fds1, fds2;
    unsigned long long verified_before;
    double t0;

    abuse_inflight = inflight;
    rss0 = proc_rss_kb();
    fds0 = proc_fds();
    for (i = 0; i < steady; i++)
        if (conn_new(STEADY, (uint32_t)i) == NULL)
            die("too many connections");
    check(run_for(20, steady_all_open), "%d steady connections open", steady);
    /* warm-up: the same shape of abuse, so that what the server keeps for
     * good (frames touched, libev's fd table) is in the baseline */
    check(abuse_wave(abusive / 10, 60), "warm-up: %lu abusive connections", abusive / 10);
    run_for(1, NULL);
    rss1 = proc_rss_kb();
    fds1 = proc_fds();
    verified_before = st.steady_verified;
    t0 = now();
    i = abuse_wave(abusive, 240);
    check(i, "%lu abusive connections made and reset (%.1f s)", abusive, now() - t0);
    run_for(1, NULL);
    check(st.steady_verified > verified_before, "steady connections progressed during the abuse");
    /* the steady ones finish: the rest of their bytes, then a clean close */
    steady_closing = 1;
    check(run_for(30, steady_none_left), "steady connections drained and closed cleanly");
    fds2 = settle_fds(fds1, 5);
    rss2 = proc_rss_kb();
    check(fresh_served(), "a fresh connection is served afterwards");
    printf("  steady: %d connections, %llu bytes verified, %lu errors, %lu corrupt, %lu closed "
           "cleanly\n",
           steady, st.steady_verified, st.steady_errors, st.steady_corrupt, st.steady_closed_ok);
    printf("  abusive: %lu (reset at once %lu, partial data %lu, data then echo %lu, 256 KiB "
           "unread %lu, data then close unread %lu), %lu failed to connect, %lu unanswered\n",
           st.abusive_done, st.abusive_by_sub[0], st.abusive_by_sub[1], st.abusive_by_sub[2],
           st.abusive_by_sub[3], st.abusive_by_sub[4], st.abusive_failed_connect,
           st.abusive_unanswered);
    printf("  server RSS: %ld kB at start, %ld kB after warm-up, %ld kB after the abuse (%+ld kB)\n",
           rss0, rss1, rss2, rss2 - rss1);
    printf("  server fds: %d at start, %d after warm-up, %d at the end\n", fds0, fds1, fds2);
    check(st.steady_errors == 0 && st.steady_corrupt == 0 && (int)st.steady_closed_ok == steady,
          "no steady byte lost or corrupted, every steady connection closed cleanly");
    check(st.abusive_failed_connect == 0 && st.abusive_unanswered == 0,
          "every abusive connection was accepted and answered");
    check(rss2 >= 0 && rss2 <= rss1 + 256, "server RSS back to its warm-up level (within 256 kB)");
    check(fds2 == fds0, "server descriptors back to where they started");
    check(server_alive(), "server alive");
    return failures == 0;
}

static int greet_all(int n, uint32_t id0)
{
    int i;
    for (i = 0; i < n; i++)
        if (conn_new(GREET, id0 + (uint32_t)i) == NULL)
            die("too many connections");
    return n;
}

static unsigned long greet_goal;
static int greet_reached(void)
{
    return st.greet_served >= greet_goal;
}

static int fdlimit(int clients)
{
    long hz = sysconf(_SC_CLK_TCK), cpu0, cpu1;
    unsigned long served_first;
    double t0, t1, window = 3.0, pct;
    char s;
    int i, closed = 0;

    greet_all(clients, 1);
    /* those the server can take are served quickly; wait until no more come */
    greet_goal = (unsigned long)clients;
    {
        unsigned long last = 0;
        double quiet = now();
        double end = now() + 20;
        while (now() < end && !greet_reached() && now() - quiet < 1.5) {
            turn();
            if (st.greet_served != last) {
                last = st.greet_served;
                quiet = now();
            }
        }
    }
    served_first = st.greet_served;
    check(served_first > 0 && served_first < (unsigned long)clients,
          "%lu of %d clients served before the server ran out of descriptors", served_first,
          clients);
    /* CPU over a window while the rest wait in the backlog */
    cpu0 = proc_cpu_ticks(&s);
    t0 = now();
    run_for(window, NULL);
    cpu1 = proc_cpu_ticks(&s);
    t1 = now();
    pct = 100.0 * (double)(cpu1 - cpu0) / (double)hz / (t1 - t0);
    printf("  server CPU while out of descriptors: %ld ticks in %.2f s (%.1f %% of a core), "
           "state %c\n",
           cpu1 - cpu0, t1 - t0, pct, s);
    check(cpu0 >= 0 && pct < 10.0, "server does not spin (CPU < 10 %% of a core)");
    check(server_alive(), "server alive while out of descriptors");
    check(st.greet_served == served_first, "no client served while none closed");
    /* the served ones leave; the waiting ones must be taken now */
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != FREE && conns[i].kind == GREET && conns[i].sub) {
            conn_close(&conns[i], 0);
            closed++;
        }
    t0 = now();
    i = run_for(30, greet_reached);
    check(i, "all %d clients served once %d closed (%lu, in %.1f s)", clients, closed,
          st.greet_served, now() - t0);
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != FREE && conns[i].kind == GREET)
            conn_close(&conns[i], 0);
    /* and a fresh wave, below the limit */
    run_for(0.5, NULL);
    greet_goal = st.greet_served + 100;
    greet_all(100, 10000);
    check(run_for(30, greet_reached), "a fresh wave of 100 clients served");
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != FREE)
            conn_close(&conns[i], 0);
    check(st.greet_errors == 0, "no client saw an error (%lu)", st.greet_errors);
    check(server_alive(), "server alive");
    return failures == 0;
}

static long rss_peak;
static unsigned long long slow_last;
static double slow_progress;

/* Poll the server's RSS each turn; true once the slow readers have made
 * no progress for a second. */
static int slow_stalled(void)
{
    long r = proc_rss_kb();
    if (r > rss_peak)
        rss_peak = r;
    if (st.slow_pushed != slow_last) {
        slow_last = st.slow_pushed;
        slow_progress = now();
    }
    return now() - slow_progress > 1.0;
}

static int slow(int nslow, int steady, double seconds)
{
    long rss0, rss1;
    int i, fds0, fds2, stalled;
    unsigned long long pushed_fill, verified_mid, verified_end;
    double t0;

    for (i = 0; i < steady; i++)
        conn_new(STEADY, (uint32_t)i);
    check(run_for(20, steady_all_open), "%d steady connections open", steady);
    run_for(1, NULL);
    rss0 = rss_peak = proc_rss_kb();
    fds0 = proc_fds();
    for (i = 0; i < nslow; i++)
        conn_new(SLOW, (uint32_t)(1000 + i));
    /* they push until every buffer on the way is full */
    t0 = slow_progress = now();
    stalled = run_for(30, slow_stalled);
    pushed_fill = st.slow_pushed;
    printf("  slow readers: %d pushed %llu bytes before they stalled (%.1f s)\n", nslow,
           pushed_fill, now() - t0);
    check(stalled, "slow readers stalled: the server stopped reading them (backpressure)");
    /* and stay stalled, while the steady clients go on */
    verified_mid = st.steady_verified;
    t0 = now();
    while (now() - t0 < seconds) {
        turn();
        slow_stalled();
    }
    verified_end = st.steady_verified;
    rss1 = proc_rss_kb();
    printf("  slow readers pushed %llu more bytes in the next %.0f s; steady clients %llu bytes\n",
           st.slow_pushed - pushed_fill, seconds, verified_end - verified_mid);
    printf("  server RSS: %ld kB before, peak %ld kB, %ld kB after (%+ld kB)\n", rss0, rss_peak,
           rss1, rss_peak - rss0);
    check(st.slow_pushed - pushed_fill <= 65536, "slow readers stay stalled");
    check(rss_peak - rss0 < 2048, "server RSS bounded (peak within 2 MiB of the start)");
    check(verified_end > verified_mid, "steady clients still served while slow readers stall");
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != FREE && conns[i].kind == SLOW)
            conn_close(&conns[i], 1);
    steady_closing = 1;
    check(run_for(30, steady_none_left), "steady connections drained and closed cleanly");
    fds2 = settle_fds(fds0 - steady, 5);
    printf("  server fds: %d with everyone connected, %d after\n", fds0, fds2);
    check(fds2 == fds0 - steady, "server descriptors returned after the resets");
    check(st.steady_errors == 0 && st.steady_corrupt == 0, "no steady byte lost or corrupted "
                                                           "(%llu verified)",
          st.steady_verified);
    check(fresh_served(), "a fresh connection is served afterwards");
    check(server_alive(), "server alive");
    return failures == 0;
}

/* ---- verify: every byte through a server under injected faults ---- */
static int verify(int steady, double seconds, int cuts_allowed)
{
    unsigned long long lost;
    unsigned long cut;
    uint32_t next_id = 0;
    int i, fds0, fds1;
    double end;

    fds0 = proc_fds();
    for (i = 0; i < steady; i++)
        conn_new(STEADY, next_id++);
    end = now() + seconds;
    while (now() < end) {
        turn();
        while (count(STEADY, -1) < steady) /* a cut one is replaced */
            if (conn_new(STEADY, next_id++) == NULL)
                break;
    }
    steady_closing = 1;
    check(run_for(30, steady_none_left), "steady connections drained and closed");
    fds1 = settle_fds(fds0, 5);
    cut = st.steady_errors;
    lost = st.steady_corrupt; /* a pattern mismatch: wrong, doubled or reordered */
    if (!cuts_allowed)
        lost += cut; /* every cut lost the bytes still in flight */
    printf("  %lu connections, %llu bytes verified, %lu cut by the server, %lu closed cleanly\n",
           (unsigned long)next_id, st.steady_verified, cut, st.steady_closed_ok);
    printf("VERIFY verified=%llu cut=%lu lost=%llu\n", st.steady_verified, cut, lost);
    check(st.steady_verified > 0, "bytes went through");
    check(st.steady_corrupt == 0, "no byte came back wrong, twice or out of order");
    check(cuts_allowed || cut == 0, "no connection cut (faults a server must hide)");
    check(fds1 == fds0, "server descriptors back to where they started (%d, then %d)", fds0, fds1);
    check(server_alive(), "server alive");
    return failures == 0;
}

static long opt(int argc, char **argv, const char *name, long dflt)
{
    int i;
    for (i = 4; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return strtol(argv[i + 1], NULL, 10);
    return dflt;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    int ok;

    if (argc < 4) {
        fprintf(stderr, "usage: %s churn|fdlimit|slow|verify PORT PID [options]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    port = atoi(argv[2]);
    spid = (pid_t)atoi(argv[3]);
    server_ip = htonl(INADDR_LOOPBACK);
    {
        int i;
        for (i = 4; i + 1 < argc; i++)
            if (strcmp(argv[i], "--host") == 0 && inet_pton(AF_INET, argv[i + 1], &server_ip) != 1)
                die("--host needs an IPv4 address");
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    if (!server_alive()) {
        fprintf(stderr, "loadgen: no server process %d\n", (int)spid);
        return 2;
    }
    last_tick = now();
    if (strcmp(argv[1], "churn") == 0)
        ok = churn((int)opt(argc, argv, "--steady", 200),
                   (unsigned long)opt(argc, argv, "--abusive", 10000),
                   (int)opt(argc, argv, "--inflight", 200));
    else if (strcmp(argv[1], "fdlimit") == 0)
        ok = fdlimit((int)opt(argc, argv, "--clients", 400));
    else if (strcmp(argv[1], "verify") == 0)
        ok = verify((int)opt(argc, argv, "--steady", 20), (double)opt(argc, argv, "--seconds", 5),
                    (int)opt(argc, argv, "--cuts", 1));
    else if (strcmp(argv[1], "slow") == 0)
        ok = slow((int)opt(argc, argv, "--slow", 8), (int)opt(argc, argv, "--steady", 20),
                  (double)opt(argc, argv, "--seconds", 3));
    else {
        fprintf(stderr, "loadgen: unknown scenario %s\n", argv[1]);
        return 2;
    }
    return ok ? 0 : 1;
}
