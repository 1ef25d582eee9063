/* SPDX-License-Identifier: MIT */
/* Shared fixture for the libev runtime's integration suites: a fresh
 * ev_loop and driver per test, loopback helpers, and a guard that ends a
 * hung test (a failure guard only: no test asserts on wall-clock time).
 * Tests of timing semantics run on the driver's virtual clock (IOT_V):
 * time jumps to the next deadline when every task waits and no I/O is
 * ready, so their deadlines are exact and cost no real time.  Tests
 * with a peer outside the loop (a thread, a process) keep the real
 * clock (IOT), with generous deadlines and no tolerance.              */
#ifndef IOTEST_H
#define IOTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "src/async_ev.h"

extern async_ev TE;
#define TLOOP (&TE.loop)

int io_setup(void **state);
int io_teardown(void **state);
/* The same on the driver's virtual clock (async_ev_clock_virtual).     */
int io_setup_virtual(void **state);
#define IOT(test) cmocka_unit_test_setup_teardown(test, io_setup, io_teardown)
#define IOT_V(test) cmocka_unit_test_setup_teardown(test, io_setup_virtual, io_teardown)

/* Run the ev_loop until `main` finishes; returns its result. */
int io_run(async_task *main, async_task_fn fn);
/* A listening TCP socket on 127.0.0.1 (or ::1), any free port. */
void io_listen(async_server *srv, int family);
/* A connected socket pair over TCP loopback (blocking fds). */
void io_tcp_pair(int *a, int *b);
/* Process CPU time (user + system) in microseconds. */
long io_cpu_us(void);
/* Fill / check a buffer with a position-dependent pattern. */
void io_fill(unsigned char *p, size_t n, size_t offset);
int io_check(const unsigned char *p, size_t n, size_t offset);

#endif
