/* SPDX-License-Identifier: MIT */
/* netbridge: an impaired link between two TUN devices, for kernels
 * without tc netem (test/faults/netns uses it only then).
 *
 *   netbridge NAME_A NAME_B [--seed S] [--loss PCT] [--delay MS]
 *             [--jitter MS] [--reorder PCT]
 *
 * Creates TUN devices NAME_A and NAME_B (IFF_TUN, no packet info) and
 * prints "ready" once they exist, so that the caller can move each into
 * its network namespace and address it; the open descriptors keep
 * working there.  Every IP packet read from one device is written to the
 * other, after netem's own treatment: dropped with probability LOSS (5),
 * else sent at once with probability REORDER (25), which overtakes the
 * packets before it, else delayed DELAY +- JITTER ms (50 +- 20, uniform).
 * Decisions come from a seeded generator.  A link the caller sets down
 * (ip link set ... down) drops what it carries, as a cable would.  Runs
 * until SIGTERM, then prints what it did.  Test code: plain POSIX, no
 * async.h (the link must not depend on what it tests).                  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MTU 2048
#define QUEUE 8192 /* packets in flight, per direction */

struct packet {
    double at; /* when to deliver */
    size_t len;
    unsigned char data[MTU];
};

static struct packet queue[2][QUEUE];
static size_t queued[2];
static unsigned long stat_in[2], stat_lost[2], stat_reordered[2], stat_full[2];
static volatile sig_atomic_t stop;
static uint64_t rng = 88172645463325252ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double uniform(void) /* [0, 1) */
{
    return (double)(next_random() >> 11) / 9007199254740992.0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int tun_open(const char *name)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static double opt(int argc, char **argv, const char *name, double dflt)
{
    int i;
    for (i = 3; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return strtod(argv[i + 1], NULL);
    return dflt;
}

/* Take one packet from direction d's input and queue it (or drop it). */
static void take(int d, int from, double loss, double delay, double jitter, double reorder)
{
    struct packet *p;
    ssize_t n;
    if (queued[d] == QUEUE) { /* a full queue drops, as a router's would */
        unsigned char junk[MTU];
        if (read(from, junk, sizeof junk) > 0)
            stat_full[d]++;
        return;
    }
    p = &queue[d][queued[d]];
    n = read(from, p->data, sizeof p->data);
    if (n <= 0)
        return;
    stat_in[d]++;
    if (uniform() < loss) {
        stat_lost[d]++;
        return;
    }
    p->len = (size_t)n;
    if (uniform() < reorder) {
        p->at = now_ms(); /* overtakes everything still delayed */
        stat_reordered[d]++;
    } else {
        p->at = now_ms() + delay + (2.0 * uniform() - 1.0) * jitter;
    }
    queued[d]++;
}

/* Deliver what is due in direction d; returns ms until the next, or -1. */
static double deliver(int d, int to)
{
    double t = now_ms(), next = -1;
    size_t i = 0;
    while (i < queued[d]) {
        struct packet *p = &queue[d][i];
        if (p->at <= t) {
            (void)!write(to, p->data, p->len); /* a down link: dropped */
            queue[d][i] = queue[d][--queued[d]];
            continue;
        }
        if (next < 0 || p->at - t < next)
            next = p->at - t;
        i++;
    }
    return next;
}

int main(int argc, char **argv)
{
    int fd[2], i;
    double loss, delay, jitter, reorder;
    struct pollfd pf[2];

    if (argc < 3) {
        fprintf(stderr, "usage: %s NAME_A NAME_B [--seed S] [--loss PCT] [--delay MS] "
                        "[--jitter MS] [--reorder PCT]\n",
                argv[0]);
        return 2;
    }
    rng ^= (uint64_t)opt(argc, argv, "--seed", 1) * 0x9E3779B97F4A7C15ull;
    loss = opt(argc, argv, "--loss", 5) / 100.0;
    delay = opt(argc, argv, "--delay", 50);
    jitter = opt(argc, argv, "--jitter", 20);
    reorder = opt(argc, argv, "--reorder", 25) / 100.0;
    for (i = 0; i < 2; i++)
        if ((fd[i] = tun_open(argv[1 + i])) < 0) {
            fprintf(stderr, "netbridge: %s: %s\n", argv[1 + i], strerror(errno));
            return 1;
        }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    while (!stop) {
        double n0 = deliver(0, fd[1]), n1 = deliver(1, fd[0]), wait = 50;
        if (n0 >= 0 && n0 < wait)
            wait = n0;
        if (n1 >= 0 && n1 < wait)
            wait = n1;
        pf[0].fd = fd[0];
        pf[1].fd = fd[1];
        pf[0].events = pf[1].events = POLLIN;
        if (poll(pf, 2, (int)wait + 1) <= 0)
            continue;
        if (pf[0].revents & POLLIN)
            take(0, fd[0], loss, delay, jitter, reorder);
        if (pf[1].revents & POLLIN)
            take(1, fd[1], loss, delay, jitter, reorder);
    }
    for (i = 0; i < 2; i++)
        printf("netbridge: %s -> %s: %lu packets, %lu lost, %lu sent ahead (reordered), "
               "%lu dropped on a full queue\n",
               argv[1 + i], argv[2 - i], stat_in[i], stat_lost[i], stat_reordered[i],
               stat_full[i]);
    return 0;
}
