/* SPDX-License-Identifier: MIT */
/* Posts and notifications from other threads (host only: pthreads).
 *
 * The port below blocks in idle() on a condition variable until wake() or
 * a deadline; with the loop sleeping for real, a lost wake-up shows as a
 * hang, which the watchdog turns into a failure.                         */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, usleep via _DEFAULT_SOURCE */
#define _DEFAULT_SOURCE
#include "testlib.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct tport {
    async_port port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t slept; /* broadcast each time idle() falls asleep */
    int wakes;          /* latched wake() calls not yet consumed */
    int asleep;         /* idle() is blocked right now */
    unsigned long idles, sleeps;
};

static async_tick tport_now(const async_port *p)
{
    struct timespec ts;
    (void)p;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (async_tick)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Race-free idle: the pending check and the sleep happen under the same
 * mutex that wake() takes, and wake() is latched. */
static int tport_idle(const async_port *p, async_loop *L, bool has_deadline, async_tick deadline)
{
    struct tport *tp = (struct tport *)(void *)(uintptr_t)p;
    pthread_mutex_lock(&tp->mu);
    tp->idles++;
    while (tp->wakes == 0 && !async_loop_has_work(L)) {
        if (has_deadline) {
            async_tick now = tport_now(p);
            struct timespec ts;
            if (!async_tick_after(deadline, now))
                break;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(deadline - now) * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            tp->sleeps++;
            tp->asleep = 1;
            pthread_cond_broadcast(&tp->slept);
            pthread_cond_timedwait(&tp->cv, &tp->mu, &ts);
        } else {
            tp->sleeps++;
            tp->asleep = 1;
            pthread_cond_broadcast(&tp->slept);
            pthread_cond_wait(&tp->cv, &tp->mu);
        }
        tp->asleep = 0;
    }
    tp->wakes = 0;
    pthread_mutex_unlock(&tp->mu);
    return 0;
}

static void tport_wake(const async_port *p)
{
    struct tport *tp = (struct tport *)(void *)(uintptr_t)p;
    pthread_mutex_lock(&tp->mu);
    tp->wakes++;
    pthread_cond_signal(&tp->cv);
    pthread_mutex_unlock(&tp->mu);
}

static struct tport TP;
static async_loop PL;

static void tport_init(void)
{
    TP.port = (async_port){tport_now, tport_idle, tport_wake, NULL, NULL, 0};
    pthread_mutex_init(&TP.mu, NULL);
    pthread_cond_init(&TP.cv, NULL);
    pthread_cond_init(&TP.slept, NULL);
    TP.wakes = 0;
    TP.asleep = 0;
    TP.idles = TP.sleeps = 0;
    assert_int_equal(async_loop_init(&PL, &TP.port), 0);
}

/* Other threads: block until the loop is asleep in idle(), or has been
 * since the call began.  A thread that then posts wakes a sleeping loop
 * by construction, whatever the scheduling (ThreadSanitizer slows the
 * loop down: a fixed pause would not do).  It cannot deadlock: while
 * every poster waits here nothing is posted, so the loop drains what it
 * has and falls asleep (the tasks of these tests wait for posts only). */
static void wait_until_loop_slept(void)
{
    unsigned long gen;
    pthread_mutex_lock(&TP.mu);
    gen = TP.sleeps;
    while (!TP.asleep && TP.sleeps == gen)
        pthread_cond_wait(&TP.slept, &TP.mu);
    pthread_mutex_unlock(&TP.mu);
}

/* A watchdog: a lost wake-up would hang the test forever.  It waits up
 * to 60 s for the suites to finish, and is joined at the end. */
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv = PTHREAD_COND_INITIALIZER;
static int wd_done;

static void *watchdog(void *arg)
{
    struct timespec until;
    int timed_out = 0;
    (void)arg;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&wd_mu);
    while (!wd_done && !timed_out)
        timed_out = pthread_cond_timedwait(&wd_cv, &wd_mu, &until) != 0;
    pthread_mutex_unlock(&wd_mu);
    if (timed_out) {
        fprintf(stderr, "test_post: watchdog fired: lost wake-up (hang)\n");
        _exit(3);
    }
    return NULL;
}

/* ---- many permits given from other threads, taken by a task ---- */
#define GIVERS 4
#define GIVES 20000

static async_notify N;

static void *giver(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < GIVES; i++) {
        if (i % 1000 == 0)
            wait_until_loop_slept(); /* so that this give wakes a sleeper */
        async_notify_give(&PL, &N);
    }
    return NULL;
}

struct taker {
    async_task task;
    async_co co;
    long taken;
};

static int taker_fn(async_loop *L, async_task *self)
{
    struct taker *f = async_frame(self, struct taker, task);
    async_begin(L, &f->co);
    while (f->taken < (long)GIVERS * GIVES) {
        async_await(async_notify_take(L, &N));
        f->taken++;
    }
    async_end;
}

static void permits_from_threads_are_never_lost(void **state)
{
    static struct taker t;
    pthread_t th[GIVERS];
    int i;
    (void)state;
    tport_init();
    async_notify_init(&N);
    t = (struct taker){0};
    async_spawn(&PL, &t.task, taker_fn);
    for (i = 0; i < GIVERS; i++)
        pthread_create(&th[i], NULL, giver, NULL);
    assert_int_equal(async_run(&PL, &t.task, NULL), 0);
    for (i = 0; i < GIVERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(t.taken, (long)GIVERS * GIVES);
    async_run_ready(&PL);
    assert_int_equal(async_sem_count(&N.sem), 0);
    /* The loop really slept in between (each giver waited for it to). */
    assert_true(TP.sleeps >= 1);
}

/* ---- a call posted twice before the loop runs executes once ---- */
static int calls;

static void count_call(async_loop *L, async_call *c)
{
    (void)L;
    (void)c;
    calls++;
}

static void posting_a_queued_call_coalesces(void **state)
{
    static async_call c;
    (void)state;
    tport_init();
    calls = 0;
    c = (async_call){NULL, count_call, 0};
    assert_int_equal(async_post(&PL, &c), 0);
    assert_int_equal(async_post(&PL, &c), ASYNC_EALREADY);
    assert_true(async_loop_has_work(&PL));
    async_run_once(&PL);
    assert_int_equal(calls, 1);
    assert_false(async_loop_has_work(&PL));
    assert_int_equal(async_post(&PL, &c), 0); /* can be posted again */
    async_run_once(&PL);
    assert_int_equal(calls, 2);
}

/* Calls posted from one thread run in posting order. */
struct ordered_call {
    async_call call;
    int id;
};
static int order_log[8], order_n;

static void record_order(async_loop *L, async_call *c)
{
    (void)L;
    order_log[order_n++] = ((struct ordered_call *)(void *)c)->id;
}

static void calls_run_in_posting_order(void **state)
{
    static struct ordered_call oc[5];
    int i;
    (void)state;
    tport_init();
    order_n = 0;
    for (i = 0; i < 5; i++) {
        oc[i] = (struct ordered_call){{NULL, record_order, 0}, i};
        async_post(&PL, &oc[i].call);
    }
    async_run_once(&PL);
    assert_int_equal(order_n, 5);
    for (i = 0; i < 5; i++)
        assert_int_equal(order_log[i], i);
}

/* A thread completes a future through a posted call; the awaiting task
 * wakes (to_thread in miniature). */
struct job {
    async_call call;
    async_future fut;
    int input, output;
};

static void job_done(async_loop *L, async_call *c)
{
    struct job *j = (struct job *)(void *)c;
    async_future_set(L, &j->fut, j->output);
}

static void *worker(void *arg)
{
    struct job *j = (struct job *)arg;
    wait_until_loop_slept(); /* the post must wake a sleeping loop */
    j->output = j->input * j->input;
    async_post(&PL, &j->call);
    return NULL;
}

struct awaiter {
    async_task task;
    async_co co;
    struct job *job;
    int rc;
};

static int awaiter_fn(async_loop *L, async_task *self)
{
    struct awaiter *f = async_frame(self, struct awaiter, task);
    async_begin(L, &f->co);
    async_await_val(f->rc, async_future_wait(L, &f->job->fut));
    async_return(f->rc);
    async_end;
}

static void thread_completes_a_future(void **state)
{
    static struct job j;
    static struct awaiter a;
    pthread_t th;
    (void)state;
    tport_init();
    j = (struct job){{NULL, job_done, 0}, {{{0, 0}, 0}, 0}, 12, 0};
    async_future_init(&j.fut);
    a = (struct awaiter){0};
    a.job = &j;
    async_spawn(&PL, &a.task, awaiter_fn);
    pthread_create(&th, NULL, worker, &j);
    assert_int_equal(async_run(&PL, &a.task, NULL), 144);
    pthread_join(th, NULL);
    assert_true(TP.sleeps >= 1);
}

int main(void)
{
    pthread_t wd;
    const struct CMUnitTest tests[] = {
        T(permits_from_threads_are_never_lost),
        T(posting_a_queued_call_coalesces),
        T(calls_run_in_posting_order),
        T(thread_completes_a_future),
    };
    int failed;
    pthread_create(&wd, NULL, watchdog, NULL);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    pthread_mutex_lock(&wd_mu);
    wd_done = 1;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
    pthread_join(wd, NULL);
    return failed;
}
