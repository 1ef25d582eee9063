/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "iotest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

async_ev TE;
static struct ev_loop *test_ev;

int io_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    alarm(60); /* a hung test fails instead of hanging the suite */
    test_ev = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(test_ev);
    assert_int_equal(async_ev_init(&TE, test_ev), 0);
    return 0;
}

int io_setup_virtual(void **state)
{
    io_setup(state);
    assert_int_equal(async_ev_clock_virtual(&TE), 0);
    return 0;
}

int io_teardown(void **state)
{
    (void)state;
    async_ev_close(&TE);
    ev_loop_destroy(test_ev);
    alarm(0);
    return 0;
}

int io_run(async_task *main, async_task_fn fn)
{
    return async_ev_run(&TE, main, fn);
}

void io_listen(async_server *srv, int family)
{
    async_addr a;
    assert_int_equal(async_addr_ip(&a, family == AF_INET6 ? "::1" : "127.0.0.1", 0), 0);
    assert_int_equal(async_server_listen(srv, &a, 64), 0);
    assert_true(async_addr_port(&srv->addr) != 0);
}

void io_tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof sa), 0);
    *b = accept(l, NULL, NULL);
    assert_true(*b >= 0);
    close(l);
}

long io_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

void io_fill(unsigned char *p, size_t n, size_t offset)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (unsigned char)((offset + i) * 131u + ((offset + i) >> 8));
}

int io_check(const unsigned char *p, size_t n, size_t offset)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != (unsigned char)((offset + i) * 131u + ((offset + i) >> 8)))
            return 0;
    return 1;
}
