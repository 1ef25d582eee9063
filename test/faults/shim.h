/* SPDX-License-Identifier: MIT */
/* shim.h: system-call fault injection for the runtime's tests.
 *
 * test/faults/shim.c defines read, write, recv, send, recvmsg, sendto,
 * accept4, connect, socket, fcntl, getsockopt, getsockname, epoll_wait, close,
 * pthread_create, pthread_mutex_init, pthread_cond_init and getaddrinfo;
 * each calls the C library's own (dlsym RTLD_NEXT) unless a fault is due.
 * Two ways to use it:
 *
 *   - linked into a test program (the test/io suites): the test arms one
 *     fault at a time, on one function and optionally one descriptor, and
 *     checks what the library does with it (fault_arm below);
 *   - preloaded (LD_PRELOAD=libfaults.so, `make check-faults`): faults at
 *     random, reproducibly from a seed, configured by the environment:
 *
 *       ASYNC_FAULTS="seed=S,rate=R,kinds=soft|hard|all[,fns=a+b+c]"
 *
 *     R: faults per 1000 eligible calls.  soft: faults a correct program
 *     hides (EINTR, EAGAIN, short transfers, ECONNABORTED, EINTR on
 *     close after closing, epoll_wait returning fewer events); hard: those
 *     it must report (ECONNRESET, EPIPE, ENOMEM, EMFILE, ENFILE, EAGAIN
 *     from pthread_create, EAI_AGAIN from getaddrinfo).  fns limits the
 *     functions (names as above, '+'-separated).  Only socket descriptors
 *     get transfer faults (libev's own pipe and eventfd are left alone).
 *     Whether call k of function f faults depends only on (S, f, k), so a
 *     seed replays the same decisions for the same calls.  At exit the
 *     counts are appended to the file named by ASYNC_FAULTS_LOG as
 *       FAULTLOG pid=P injected=N soft=A hard=B <fn>=<count>...
 */
#ifndef FAULTS_SHIM_H
#define FAULTS_SHIM_H

#include <stddef.h>

enum fault_fn {
    FF_READ,
    FF_WRITE,
    FF_RECV,
    FF_SEND,
    FF_RECVMSG,
    FF_SENDTO,
    FF_ACCEPT4,
    FF_CONNECT,
    FF_SOCKET,
    FF_FCNTL,
    FF_GETSOCKOPT,
    FF_GETSOCKNAME,
    FF_EPOLL_WAIT,
    FF_CLOSE,
    FF_PTHREAD_CREATE,
    FF_MUTEX_INIT,
    FF_COND_INIT,
    FF_GETADDRINFO,
    FF_COUNT
};

/* Arm a fault: after `skip` more matching calls, the next `count` calls of
 * fn on descriptor fd (-1: any) fail with err (for getaddrinfo: an EAI_*
 * code; for the pthread calls: the returned error), or, with err 0, move
 * at most `max` bytes (a short transfer; for epoll_wait, at most `max`
 * events).  For connect, err is reported after the real call (EINTR and
 * EAGAIN then mean "in progress"), unless real is 0.  One armed fault per
 * function; arming replaces it.                                          */
void fault_arm(enum fault_fn fn, int fd, unsigned skip, unsigned count, int err, size_t max);
/* getaddrinfo: the next call succeeds with one fabricated entry whose
 * ai_addrlen is `addrlen` (an IPv4 127.0.0.1 otherwise).                 */
void fault_arm_gai_addrlen(unsigned addrlen);
/* Disarm everything. */
void fault_clear(void);
/* Faults injected so far (armed and random). */
unsigned long fault_injected(void);

#endif
