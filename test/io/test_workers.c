/* SPDX-License-Identifier: MIT */
/* Workers (src/workers.c): N loops on N threads under a supervisor, and
 * the one-worker case on the calling thread.  Each case checks what the
 * group returns and what each worker saw: the stop event, the signal
 * that stopped the group, each main task's result, and the errors of a
 * loop or a thread that cannot start.  Signals are sent to this process
 * by the workers themselves, so no case waits on the wall clock.       */
#define _GNU_SOURCE
#include "iotest.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NW 3

/* What a worker's main task does. */
enum {
    DO_WAIT,      /* wait for the stop event, return the worker's index      */
    DO_STOP,      /* worker 1 stops the group (twice), then as DO_WAIT        */
    DO_SIGNAL,    /* worker 0 signals the process (SIGUSR1, then SIGUSR2)    */
    DO_RAISE,     /* the solo worker raises both signals on its own thread   */
    DO_FAIL       /* worker 2 fails at once with ASYNC_EPROTO, 1 stops the group */
};

struct wmain {
    async_task task;
    async_co co;
    async_worker *w;
    async_workers *g;
    int what, stopped;
};

static async_worker W[NW];
static struct wmain M[NW];
static async_workers G;

static int worker_main(async_loop *L, async_task *self)
{
    struct wmain *m = async_frame(self, struct wmain, task);
    async_begin(L, &m->co);
    if (m->what == DO_FAIL && m->w->index == 2)
        async_return(ASYNC_EPROTO);
    if ((m->what == DO_STOP || m->what == DO_FAIL) && m->w->index == 1) {
        async_workers_stop(m->g); /* from a worker's thread */
        async_workers_stop(m->g); /* a second stop changes nothing */
    }
    if (m->what == DO_SIGNAL && m->w->index == 0) {
        /* to the process: the workers block them, the supervisor takes them */
        assert_int_equal(kill(getpid(), SIGUSR1), 0);
        assert_int_equal(kill(getpid(), SIGUSR2), 0);
    }
    if (m->what == DO_RAISE) {
        assert_int_equal(raise(SIGUSR1), 0);
        assert_int_equal(raise(SIGUSR2), 0);
    }
    async_await(async_event_wait(L, &m->w->stop));
    m->stopped = 1;
    async_return((int)m->w->index);
    async_end;
}

static void workers_prepare(unsigned n, int what)
{
    unsigned i;
    memset(W, 0, sizeof W);
    memset(M, 0, sizeof M);
    memset(&G, 0, sizeof G);
    for (i = 0; i < n; i++) {
        M[i].w = &W[i];
        M[i].g = &G;
        M[i].what = what;
        W[i].main = &M[i].task;
        W[i].fn = worker_main;
    }
}

static const int usr_signals[] = {SIGUSR1, SIGUSR2, 0};

/* Runs first: the default ev_loop cannot be made (LIBEV_FLAGS names a
 * backend Linux does not have), so there is no supervisor: ENOSPC, and
 * no worker ran.  libev tries again on the next call. */
static void workers_no_default_loop(void **state)
{
    (void)state;
    workers_prepare(NW, DO_WAIT);
    setenv("LIBEV_FLAGS", "16", 1); /* EVBACKEND_PORT: Solaris only */
    assert_int_equal(async_workers_run(&G, W, NW, NULL), ASYNC_ENOSPC);
    assert_int_equal(async_workers_run(&G, W, 1, NULL), ASYNC_ENOSPC);
    unsetenv("LIBEV_FLAGS");
    assert_int_equal(M[0].stopped + M[1].stopped + M[2].stopped, 0);
}

/* A worker whose loop cannot be made: its result is ENOSPC, and so is
 * the group's; its main never runs. */
static void workers_loop_fails_in_a_worker(void **state)
{
    unsigned i;
    (void)state;
    assert_non_null(ev_default_loop(0)); /* the supervisor's, made now */
    workers_prepare(NW, DO_WAIT);
    setenv("LIBEV_FLAGS", "16", 1);
    assert_int_equal(async_workers_run(&G, W, NW, NULL), ASYNC_ENOSPC);
    unsetenv("LIBEV_FLAGS");
    for (i = 0; i < NW; i++) {
        assert_int_equal(W[i].result, ASYNC_ENOSPC);
        assert_null(W[i].ev);
        assert_int_equal(M[i].stopped, 0);
    }
}

static void workers_bad_arguments(void **state)
{
    (void)state;
    workers_prepare(NW, DO_WAIT);
    assert_int_equal(async_workers_run(NULL, W, NW, NULL), ASYNC_EINVAL);
    assert_int_equal(async_workers_run(&G, NULL, NW, NULL), ASYNC_EINVAL);
    assert_int_equal(async_workers_run(&G, W, 0, NULL), ASYNC_EINVAL);
    assert_int_equal(async_workers_run(&G, W, 1025, NULL), ASYNC_EINVAL);
    W[1].main = NULL;
    assert_int_equal(async_workers_run(&G, W, NW, NULL), ASYNC_EINVAL);
    W[1].main = &M[1].task;
    W[2].fn = NULL;
    assert_int_equal(async_workers_run(&G, W, NW, NULL), ASYNC_EINVAL);
    async_workers_stop(NULL); /* harmless */
    assert_int_equal(M[0].stopped + M[1].stopped + M[2].stopped, 0);
}

/* async_workers_stop from a worker: every worker sees its stop event,
 * each result is its main's (its index), no signal is recorded. */
static void workers_stop_together(void **state)
{
    unsigned i;
    (void)state;
    workers_prepare(NW, DO_STOP);
    assert_int_equal(async_workers_run(&G, W, NW, NULL), 0);
    for (i = 0; i < NW; i++) {
        assert_int_equal(M[i].stopped, 1);
        assert_int_equal(W[i].result, (int)i);
    }
    assert_int_equal(G.signal, 0);
    assert_int_equal(G.done, NW);
}

/* A listed signal stops the group; the first one is the one recorded
 * (the second makes no difference). */
static void workers_signal_stops_the_group(void **state)
{
    unsigned i;
    (void)state;
    workers_prepare(NW, DO_SIGNAL);
    assert_int_equal(async_workers_run(&G, W, NW, usr_signals), 0);
    for (i = 0; i < NW; i++) {
        assert_int_equal(M[i].stopped, 1);
        assert_int_equal(W[i].result, (int)i);
    }
    assert_int_equal(G.nsig, 2);
    assert_true(G.signal == SIGUSR1 || G.signal == SIGUSR2);
}

/* One worker runs on this thread with the default loop: no thread, the
 * signals watched on that loop; only the first is recorded.  More than
 * four signals: the first four are watched. */
static void workers_solo_on_the_calling_thread(void **state)
{
    static const int many[] = {SIGUSR1, SIGUSR2, SIGHUP, SIGALRM, SIGWINCH, 0};
    (void)state;
    workers_prepare(1, DO_RAISE);
    assert_int_equal(async_workers_run(&G, W, 1, usr_signals), 0);
    assert_int_equal(M[0].stopped, 1);
    assert_int_equal(W[0].result, 0);
    assert_int_equal(G.signal, SIGUSR1);
    assert_null(W[0].ev); /* the default loop is not the worker's to destroy */

    workers_prepare(1, DO_RAISE);
    assert_int_equal(async_workers_run(&G, W, 1, many), 0);
    assert_int_equal(G.nsig, 4);
    assert_int_equal(G.signal, SIGUSR1);
    assert_int_equal(M[0].stopped, 1);
}

/* A main task's error is the group's; the others stop and keep theirs. */
static void workers_first_error_is_returned(void **state)
{
    (void)state;
    workers_prepare(NW, DO_FAIL);
    assert_int_equal(async_workers_run(&G, W, NW, NULL), ASYNC_EPROTO);
    assert_int_equal(W[0].result, 0);
    assert_int_equal(W[1].result, 1);
    assert_int_equal(W[2].result, ASYNC_EPROTO);
    assert_int_equal(M[2].stopped, 0);
}

/* No thread can start (every stack would be 64 TiB): the group returns
 * the system's error, with no worker run and nothing left to join. */
static void workers_threads_cannot_start(void **state)
{
    pthread_attr_t attr, old;
    size_t old_stack;
    int rc;
    (void)state;
    assert_int_equal(pthread_getattr_default_np(&old), 0);
    assert_int_equal(pthread_attr_getstacksize(&old, &old_stack), 0);
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, (size_t)1 << 46), 0);
    assert_int_equal(pthread_setattr_default_np(&attr), 0);
    workers_prepare(NW, DO_WAIT);
    rc = async_workers_run(&G, W, NW, NULL);
    assert_int_equal(pthread_attr_setstacksize(&attr, old_stack), 0);
    assert_int_equal(pthread_setattr_default_np(&attr), 0);
    pthread_attr_destroy(&attr);
    pthread_attr_destroy(&old);
    print_message("      no thread: %s (errno %d)\n", async_strerror(rc), ASYNC_EOS_BASE - rc);
    /* the system's own error: EAGAIN or ENOMEM from glibc; valgrind's
     * thread emulation refuses with another errno */
    assert_true(rc < ASYNC_EOS_BASE);
    assert_int_equal(G.running, 0);
    assert_int_equal(M[0].stopped + M[1].stopped + M[2].stopped, 0);
    assert_int_equal(G.stopping, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: it needs the default loop not made yet */
        IOT(workers_no_default_loop),
        IOT(workers_loop_fails_in_a_worker),
        IOT(workers_bad_arguments),
        IOT(workers_stop_together),
        IOT(workers_signal_stops_the_group),
        IOT(workers_solo_on_the_calling_thread),
        IOT(workers_first_error_is_returned),
        IOT(workers_threads_cannot_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
