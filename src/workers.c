/* SPDX-License-Identifier: MIT */
/*
 * Workers: N loops on N threads, and a supervisor on the calling thread
 * that turns a signal into a stop for each of them.
 *
 * The only things that cross threads here are posts (a worker's
 * stop_call, run on that worker's loop) and ev_async_send to the
 * supervisor when a worker ends.  A worker becomes `ready` once its loop
 * can take posts; a stop requested before that is seen by the worker
 * itself when it gets ready (both sides check the other's flag after
 * setting their own, so one of them always delivers it).
 */
#define _GNU_SOURCE
#include "src/async_ev.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static void worker_on_stop(async_loop *L, async_call *call)
{
    async_worker *w = (async_worker *)(void *)((char *)call - offsetof(async_worker, stop_call));
    async_event_set(L, &w->stop);
}

static void worker_deliver_stop(async_worker *w)
{
    if (__atomic_load_n(&w->ready, __ATOMIC_SEQ_CST))
        async_post(async_ev_loop(&w->E), &w->stop_call);
}

static void *worker_thread(void *arg)
{
    async_worker *w = (async_worker *)arg;
    async_workers *g = w->group;

    w->ev = ev_loop_new(EVFLAG_AUTO);
    /* async_ev_init fails only for a NULL driver or loop: with w->ev not
     * NULL, its test always holds (hence its LCOV_EXCL_BR_LINE) */
    if (w->ev == NULL) {
        w->result = ASYNC_ENOSPC;
    } else if ((w->result = async_ev_init(&w->E, w->ev)) == 0) { /* LCOV_EXCL_BR_LINE */
        async_event_init(&w->stop);
        w->stop_call.fn = worker_on_stop;
        __atomic_store_n(&w->ready, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&g->stopping, __ATOMIC_SEQ_CST))
            async_event_set(async_ev_loop(&w->E), &w->stop);
        /* A stop can always arrive (a post): a main task that waits for
         * nothing else is not deadlocked, so the loop holds a reference
         * for as long as it runs. */
        ev_ref(w->ev);
        w->result = async_ev_run(&w->E, w->main, w->fn);
        ev_unref(w->ev);
        __atomic_store_n(&w->ready, 0, __ATOMIC_SEQ_CST);
        /* a post may still be in flight from the supervisor: it only
         * touches this loop's queue, which lives until the join */
        async_ev_close(&w->E);
    }
    __atomic_add_fetch(&g->done, 1u, __ATOMIC_SEQ_CST);
    ev_async_send(g->ev, &g->wake);
    return NULL;
}

void async_workers_stop(async_workers *g)
{
    unsigned i;
    if (g == NULL || __atomic_exchange_n(&g->stopping, 1, __ATOMIC_SEQ_CST))
        return;
    for (i = 0; i < g->n; i++)
        worker_deliver_stop(&g->w[i]);
}

/* A stop signal, on the supervisor's loop or, with one worker, on the
 * worker's own: the first one is the one reported.                      */
static void on_stop_signal(struct ev_loop *ev, ev_signal *s, int revents)
{
    async_workers *g = (async_workers *)s->data;
    (void)ev;
    (void)revents;
    if (g->signal == 0)
        g->signal = s->signum;
    async_workers_stop(g);
}

static void sup_on_wake(struct ev_loop *ev, ev_async *a, int revents)
{
    async_workers *g = (async_workers *)a->data;
    (void)revents;
    if (__atomic_load_n(&g->done, __ATOMIC_SEQ_CST) == g->running)
        ev_break(ev, EVBREAK_ALL);
}

/* One worker: it runs on the calling thread with the default loop, and
 * the signals are watched on that same loop, so a single-threaded
 * program stays single-threaded (glibc then skips the cancellation
 * bookkeeping around every system call, about 30 instructions each).   */
static int run_solo(async_workers *g, async_worker *w)
{
    unsigned i;
    w->ev = g->ev;
    /* It fails only for a NULL driver or loop: g->ev was checked. */
    if ((w->result = async_ev_init(&w->E, w->ev)) < 0) /* LCOV_EXCL_BR_LINE */
        return w->result;                               /* LCOV_EXCL_LINE */
    async_event_init(&w->stop);
    w->stop_call.fn = worker_on_stop;
    for (i = 0; i < g->nsig; i++) {
        ev_signal_start(g->ev, &g->sig[i]);
        ev_unref(g->ev); /* watching does not keep the loop alive */
    }
    __atomic_store_n(&w->ready, 1, __ATOMIC_SEQ_CST);
    ev_ref(w->ev); /* a stop can always arrive: see worker_thread */
    w->result = async_ev_run(&w->E, w->main, w->fn);
    ev_unref(w->ev);
    __atomic_store_n(&w->ready, 0, __ATOMIC_SEQ_CST);
    for (i = 0; i < g->nsig; i++) {
        ev_ref(g->ev);
        ev_signal_stop(g->ev, &g->sig[i]);
    }
    async_ev_close(&w->E);
    w->ev = NULL; /* the default loop is not ours to destroy */
    return w->result < 0 ? w->result : 0;
}

int async_workers_run(async_workers *g, async_worker *w, unsigned n, const int *signals)
{
    sigset_t block, old;
    unsigned i, started = 0;
    int rc = 0, err;

    if (g == NULL || w == NULL || n == 0 || n > 1024)
        return ASYNC_EINVAL;
    for (i = 0; i < n; i++)
        if (w[i].main == NULL || w[i].fn == NULL)
            return ASYNC_EINVAL;
    memset(g, 0, sizeof *g);
    g->w = w;
    g->n = n;
    g->ev = ev_default_loop(0);
    if (g->ev == NULL)
        return ASYNC_ENOSPC;
    sigemptyset(&block);
    for (i = 0; signals && signals[i] && i < 4; i++)
        sigaddset(&block, signals[i]);
    g->nsig = i;
    if (n == 1) {
        w[0].group = g;
        w[0].index = 0;
        w[0].ready = 0;
        for (i = 0; i < g->nsig; i++) {
            ev_signal_init(&g->sig[i], on_stop_signal, signals[i]);
            g->sig[i].data = g;
        }
        return run_solo(g, w);
    }

    ev_async_init(&g->wake, sup_on_wake);
    g->wake.data = g;
    ev_async_start(g->ev, &g->wake);
    /* Every worker is set up before the first thread starts: a running
     * worker may read any other's `ready` (async_workers_stop). */
    for (i = 0; i < n; i++) {
        w[i].group = g;
        w[i].index = i;
        w[i].ready = 0;
        w[i].result = 0;
        w[i].ev = NULL;
    }
    /* Threads inherit the mask: the signals go to this thread alone. */
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 0; i < n; i++) {
        if ((err = pthread_create(&w[i].thread, NULL, worker_thread, &w[i])) != 0) {
            rc = ASYNC_EOS(err);
            break;
        }
        started++;
    }
    for (i = 0; i < g->nsig; i++) {
        ev_signal_init(&g->sig[i], on_stop_signal, signals[i]);
        g->sig[i].data = g;
        ev_signal_start(g->ev, &g->sig[i]);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    g->running = started; /* the supervisor's alone: what it waits for */
    if (started < n)
        async_workers_stop(g); /* the others never started: ready stays 0 */
    if (__atomic_load_n(&g->done, __ATOMIC_SEQ_CST) < g->running)
        ev_run(g->ev, 0);
    for (i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].ev)
            ev_loop_destroy(w[i].ev);
        if (rc == 0 && w[i].result < 0)
            rc = w[i].result;
    }
    for (i = 0; i < g->nsig; i++)
        ev_signal_stop(g->ev, &g->sig[i]);
    ev_async_stop(g->ev, &g->wake);
    return rc;
}
