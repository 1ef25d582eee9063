/* SPDX-License-Identifier: MIT */
/* The libev driver: sleeping costs no CPU, embedding in an application's
 * ev_loop, fairness between yielding tasks and I/O, signals, posts from
 * other threads, deadlock detection, misuse; the errno table,
 * async_ev_main, the driver's timer, one loop per signal. */
#define _GNU_SOURCE
#include "iotest.h"
#include "../faults/shim.h"
#include "port/async_vclock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ASYNC_EIO_TEST ASYNC_EAPP(1)

/* ---- a sleeping loop uses (almost) no CPU ---- */
struct sleeper {
    async_task task;
    async_co co;
    int i;
};

static int sleeper_fn(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 3; f->i++)
        async_await(async_sleep(L, ASYNC_MS(100)));
    async_end;
}

static void sleeping_loop_uses_no_cpu(void **state)
{
    static struct sleeper s;
    unsigned iters;
    long cpu;
    (void)state;
    /* A first run warms up what a first run pays once (page faults, and
     * valgrind's translation of every code path, which loaded the CPU
     * figure past the bound on a busy machine): only the second is measured. */
    memset(&s, 0, sizeof s);
    assert_int_equal(io_run(&s.task, sleeper_fn), 0);
    memset(&s, 0, sizeof s);
    iters = ev_iteration(TE.ev);
    cpu = io_cpu_us();
    assert_int_equal(io_run(&s.task, sleeper_fn), 0);
    cpu = io_cpu_us() - cpu;
    iters = ev_iteration(TE.ev) - iters;
    /* Three sleeps need a handful of wake-ups; a busy loop would iterate
     * thousands of times and burn the full 300 ms of CPU.  Both measures
     * count work done, not time, so load on the machine cannot fail them. */
    assert_true(iters <= 12);
    assert_true(cpu < 30000);
}

/* ---- embedding: the application owns the ev_loop and its watchers ---- */
static int app_ticks;
static void app_timer_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)revents;
    app_ticks++;
    if (app_ticks == 3)
        ev_timer_stop(ev, w);
}

struct worker {
    async_task task;
    async_co co;
    int steps, *seen_ticks;
};

static int worker_fn(async_loop *L, async_task *self)
{
    struct worker *f = async_frame(self, struct worker, task);
    async_begin(L, &f->co);
    for (f->steps = 0; f->steps < 5; f->steps++)
        async_await(async_sleep(L, ASYNC_MS(10)));
    *f->seen_ticks = app_ticks;
    async_end;
}

static void embeds_in_application_loop(void **state)
{
    static struct worker w;
    ev_timer t;
    int seen = -1;
    (void)state;
    memset(&w, 0, sizeof w);
    w.seen_ticks = &seen;
    app_ticks = 0;
    ev_timer_init(&t, app_timer_cb, 0.005, 0.005);
    ev_timer_start(TE.ev, &t);
    assert_int_equal(async_spawn(TLOOP, &w.task, worker_fn), 0);
    /* The application's own ev_run: it returns once neither its watchers
     * nor the task have anything left to wait for. */
    ev_run(TE.ev, 0);
    assert_true(async_task_is_done(&w.task));
    assert_int_equal(async_task_result(&w.task), 0);
    assert_int_equal(w.steps, 5);
    assert_int_equal(app_ticks, 3);
    assert_true(seen >= 0);
}

/* ---- the arm before each poll: async_ev_run keeps no prepare watcher ----
 * A doorbell (a waiter of our own) that an application's watcher rings
 * from its callback: the task it wakes must run although nothing else
 * will ever make the loop poll again.  A poll that blocked would hang
 * (the fixture's alarm fails the test).                                 */
struct bell {
    async_waiter waiter; /* first */
    async_task *task;
};

static void bell_detach(async_loop *L, async_waiter *w, async_task *t)
{
    (void)L;
    (void)t;
    ((struct bell *)(void *)w)->task = NULL;
}

static int bell_wait(async_loop *L, struct bell *b)
{
    int rc;
    if (async_woken(L, &rc))
        return rc;
    b->waiter.detach = bell_detach;
    rc = async_park(L, &b->waiter);
    if (rc == ASYNC_PENDING)
        b->task = async_current(L);
    return rc;
}

struct ringer_io {
    ev_io w;
    struct bell bell;
    int fds[2];
};

/* Takes the byte (the pipe is quiet from then on, the watcher stays
 * active) and rings: the only wake-up the task will get. */
static void ringer_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    struct ringer_io *r = (struct ringer_io *)(void *)w;
    char c;
    (void)ev;
    (void)revents;
    assert_int_equal(read(r->fds[0], &c, 1), 1);
    if (r->bell.task)
        async_wake(TLOOP, r->bell.task, 42);
}

struct bell_main {
    async_task task;
    async_co co;
    struct ringer_io *r;
    int got;
};

static int bell_main_fn(async_loop *L, async_task *self)
{
    struct bell_main *f = async_frame(self, struct bell_main, task);
    async_begin(L, &f->co);
    assert_int_equal(write(f->r->fds[1], "x", 1), 1); /* readable at the next poll */
    async_await_rc(f->got, bell_wait(L, &f->r->bell));
    ev_io_stop(TE.ev, &f->r->w); /* the application's watcher is done */
    async_end;
}

static void ringer_open(struct ringer_io *r, int pri)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(pipe(r->fds), 0);
    ev_io_init(&r->w, ringer_cb, r->fds[0], EV_READ);
    ev_set_priority(&r->w, pri);
    ev_io_start(TE.ev, &r->w);
}

static void ringer_close(struct ringer_io *r)
{
    ev_io_stop(TE.ev, &r->w);
    close(r->fds[0]);
    close(r->fds[1]);
}

/* The watcher at EV_MINPRI runs after the driver's check in the same
 * iteration (libev runs a priority's last fed first), so after the pass
 * and its arm: the check must leave the next poll non-blocking.         */
static void minpri_watcher_wakes_a_task_under_ev_run(void **state)
{
    static struct bell_main m;
    static struct ringer_io r;
    (void)state;
    memset(&m, 0, sizeof m);
    ringer_open(&r, EV_MINPRI);
    m.r = &r;
    assert_int_equal(async_ev_run(&TE, &m.task, bell_main_fn), 0);
    assert_int_equal(m.got, 42);
    ringer_close(&r);
}

/* Embedding after an async_ev_run: a task spawned before the
 * application's ev_run runs although the application's watcher (a
 * quiet pipe) would block the first poll forever - the prepare that
 * async_ev_run stopped is watching again.                               */
struct stopper {
    async_task task;
    async_co co;
    ev_io *w;
};

static int stopper_fn(async_loop *L, async_task *self)
{
    struct stopper *f = async_frame(self, struct stopper, task);
    async_begin(L, &f->co);
    ev_io_stop(TE.ev, f->w);
    async_end;
}

static int nothing_fn(async_loop *L, async_task *self)
{
    (void)L;
    (void)self;
    return 0;
}

static void embedding_after_ev_run_arms_the_first_poll(void **state)
{
    static struct stopper s;
    static async_task first;
    static struct ringer_io quiet;
    (void)state;
    memset(&s, 0, sizeof s);
    memset(&first, 0, sizeof first);
    assert_int_equal(async_ev_run(&TE, &first, nothing_fn), 0);
    ev_run(TE.ev, EVRUN_NOWAIT); /* a pass with nothing ready: the idle stops */
    ringer_open(&quiet, 0); /* never written: it never fires */
    s.w = &quiet.w;
    assert_int_equal(async_spawn(TLOOP, &s.task, stopper_fn), 0);
    ev_run(TE.ev, 0); /* returns once the task has stopped the watcher */
    assert_true(async_task_is_done(&s.task));
    ringer_close(&quiet);
}

/* A task's async_ev_run on a loop of its own, inside the outer run:
 * each run's passes find their own driver, and the outer one goes on
 * afterwards (its sleep still ends it).                                */
struct inner_run {
    async_task task;
    async_co co;
    async_ev E;
    struct ev_loop *ev;
    struct sleeper s;
    int rc;
    async_tick t0, t1, t2, t3;
};

static int inner_run_fn(async_loop *L, async_task *self)
{
    struct inner_run *f = async_frame(self, struct inner_run, task);
    async_begin(L, &f->co);
    f->ev = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(f->ev);
    assert_int_equal(async_ev_init(&f->E, f->ev), 0);
    assert_int_equal(async_ev_clock_virtual(&f->E), 0); /* its own clock */
    f->t0 = async_now(&f->E.loop);
    f->rc = async_ev_run(&f->E, &f->s.task, sleeper_fn); /* its sleeps there */
    f->t1 = async_now(&f->E.loop);
    async_ev_close(&f->E);
    ev_loop_destroy(f->ev);
    f->t2 = async_now(L);
    async_await(async_sleep(L, ASYNC_MS(2))); /* and one here, after it */
    f->t3 = async_now(L);
    async_end;
}

static void nested_run_on_another_loop(void **state)
{
    static struct inner_run f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, inner_run_fn), 0);
    assert_int_equal(f.rc, 0);
    assert_true(async_task_is_done(&f.s.task));
    /* each loop on its own virtual clock: the inner one's three 100 ms
     * sleeps did not move the outer one's */
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(300));
    assert_int_equal(f.t3 - f.t2, ASYNC_MS(2));
}

/* ---- fairness: a task that yields forever does not starve I/O ---- */
struct spinner {
    async_task task;
    async_co co;
    long spins;
    int *stop;
};

static int spinner_fn(async_loop *L, async_task *self)
{
    struct spinner *f = async_frame(self, struct spinner, task);
    async_begin(L, &f->co);
    while (!*f->stop) {
        f->spins++;
        async_await(async_yield());
    }
    async_end;
}

struct piper {
    async_task task;
    async_co co;
    async_io io;
    int fd, *stop;
    char c;
};

static int piper_fn(async_loop *L, async_task *self)
{
    struct piper *f = async_frame(self, struct piper, task);
    int rc;
    async_begin(L, &f->co);
    async_await_rc(rc, async_io_wait(L, &f->io, f->fd, EV_READ));
    assert_int_equal(rc, EV_READ);
    assert_int_equal(read(f->fd, &f->c, 1), 1);
    *f->stop = 1;
    async_end;
}

static void *write_later(void *arg)
{
    int fd = *(int *)arg;
    usleep(20000);
    assert_int_equal(write(fd, "x", 1), 1);
    return NULL;
}

struct both {
    async_task task;
    async_co co;
    struct spinner s;
    struct piper p;
};

static int both_fn(async_loop *L, async_task *self)
{
    struct both *f = async_frame(self, struct both, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->s.task, spinner_fn);
    async_spawn(L, &f->p.task, piper_fn);
    async_await(async_join(L, &f->p.task));
    async_await(async_join(L, &f->s.task));
    async_end;
}

static void yielding_task_does_not_starve_io(void **state)
{
    static struct both b;
    int fds[2], stop = 0;
    pthread_t th;
    (void)state;
    memset(&b, 0, sizeof b);
    assert_int_equal(pipe(fds), 0);
    b.s.stop = b.p.stop = &stop;
    b.p.fd = fds[0];
    assert_int_equal(async_fd_nonblock(fds[0]), 0);
    pthread_create(&th, NULL, write_later, &fds[1]);
    assert_int_equal(io_run(&b.task, both_fn), 0);
    pthread_join(th, NULL);
    assert_int_equal(b.p.c, 'x');
    assert_true(b.s.spins > 0);
    close(fds[0]);
    close(fds[1]);
}

/* ---- signals ---- */
struct sigf {
    async_task task;
    async_co co;
    async_signal sig;
    int got1, got2;
};

static int sig_fn(async_loop *L, async_task *self)
{
    struct sigf *f = async_frame(self, struct sigf, task);
    async_begin(L, &f->co);
    async_await(async_signal_init(L, &f->sig, SIGUSR1));
    assert_int_equal(async_signal_init(L, &f->sig, SIGUSR1), ASYNC_EBUSY);
    raise(SIGUSR1); /* delivered before anyone waits: counted */
    async_await_val(f->got1, async_signal_wait(L, &f->sig));
    kill(getpid(), SIGUSR1);
    async_await_val(f->got2, async_signal_wait(L, &f->sig));
    async_finally;
    async_signal_close(L, &f->sig);
    async_end;
}

static void signal_is_awaitable(void **state)
{
    static struct sigf f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, sig_fn), 0);
    assert_int_equal(f.got1, SIGUSR1);
    assert_int_equal(f.got2, SIGUSR1);
    assert_int_equal(async_signal_wait(TLOOP, &f.sig), ASYNC_ECLOSED);
}

/* A waiter woken by stop; a timeout around a signal wait. */
struct sigstop {
    async_task task, stopper;
    async_co co, co2;
    async_signal sig;
    async_timeout to;
    int rc1, rc2;
    async_tick t0, t1, t2;
};

static int sigstop_stopper(async_loop *L, async_task *self)
{
    struct sigstop *f = async_frame(self, struct sigstop, stopper);
    async_begin(L, &f->co2);
    async_await(async_sleep(L, ASYNC_MS(5)));
    async_signal_close(L, &f->sig);
    async_end;
}

static int sigstop_fn(async_loop *L, async_task *self)
{
    struct sigstop *f = async_frame(self, struct sigstop, task);
    async_begin(L, &f->co);
    async_await(async_signal_init(L, &f->sig, SIGUSR2));
    f->t0 = async_now(L);
    async_await_for(&f->to, ASYNC_MS(5), f->rc1, async_signal_wait(L, &f->sig));
    f->t1 = async_now(L);
    async_spawn(L, &f->stopper, sigstop_stopper);
    async_await_rc(f->rc2, async_signal_wait(L, &f->sig));
    f->t2 = async_now(L);
    async_end;
}

static void signal_wait_times_out_and_stops(void **state)
{
    static struct sigstop f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, sigstop_fn), 0);
    assert_int_equal(f.rc1, ASYNC_ETIMEDOUT);
    assert_int_equal(f.rc2, ASYNC_ECLOSED);
    /* virtual clock: the deadline at 5 ms, the close 5 ms after that */
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(5));
    assert_int_equal(f.t2 - f.t0, ASYNC_MS(10));
    assert_int_equal(async_signal_init(TLOOP, &f.sig, 0), ASYNC_EINVAL);
    assert_int_equal(async_signal_init(TLOOP, &f.sig, SIGKILL), ASYNC_EINVAL);
}

/* ---- posts from another thread wake a sleeping loop ---- */
struct notif {
    async_task task;
    async_co co;
    async_notify n;
    int got;
};

static void *give_later(void *arg)
{
    struct notif *f = (struct notif *)arg;
    int i;
    for (i = 0; i < 3; i++) {
        usleep(5000);
        async_notify_give(TLOOP, &f->n);
    }
    return NULL;
}

static int notif_fn(async_loop *L, async_task *self)
{
    struct notif *f = async_frame(self, struct notif, task);
    async_begin(L, &f->co);
    while (f->got < 3) {
        async_await(async_notify_take(L, &f->n));
        f->got++;
    }
    async_end;
}

static void thread_posts_wake_the_loop(void **state)
{
    static struct notif f;
    pthread_t th;
    (void)state;
    memset(&f, 0, sizeof f);
    async_notify_init(&f.n);
    /* Nothing but the other thread can wake the task: hold the loop
     * alive explicitly (what offload does for its own calls). */
    ev_ref(TE.ev);
    pthread_create(&th, NULL, give_later, &f);
    assert_int_equal(io_run(&f.task, notif_fn), 0);
    ev_unref(TE.ev);
    pthread_join(th, NULL);
    assert_int_equal(f.got, 3);
}

/* ---- nothing can wake the main task: reported, not hung ---- */
struct stuck {
    async_task task;
    async_co co;
    async_event ev;
};

static int stuck_fn(async_loop *L, async_task *self)
{
    struct stuck *f = async_frame(self, struct stuck, task);
    async_begin(L, &f->co);
    async_await(async_event_wait(L, &f->ev));
    async_end;
}

static void deadlock_is_reported(void **state)
{
    static struct stuck f;
    (void)state;
    memset(&f, 0, sizeof f);
    async_event_init(&f.ev);
    assert_int_equal(io_run(&f.task, stuck_fn), ASYNC_EDEADLK);
    /* The task is still there; let it finish cleanly. */
    async_event_set(TLOOP, &f.ev);
    assert_int_equal(io_run(&f.task, NULL), 0);
}

/* ---- the virtual clock (async_ev_clock_virtual) ---- */

/* Sleeps wake in deadline order at exact virtual times, and a ten-minute
 * one takes no real time. */
struct vsleep1 {
    async_task task;
    async_co co;
    async_tick ticks, woke;
    int id, *order, *n;
};

struct vsleep {
    async_task task;
    async_co co;
    struct vsleep1 s[3];
    async_tick t0;
    int order[3], n;
};

static int vsleep_one(async_loop *L, async_task *self)
{
    struct vsleep1 *f = async_frame(self, struct vsleep1, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, f->ticks));
    f->woke = async_now(L);
    f->order[(*f->n)++] = f->id;
    async_end;
}

static int vsleep_fn(async_loop *L, async_task *self)
{
    struct vsleep *f = async_frame(self, struct vsleep, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_spawn(L, &f->s[0].task, vsleep_one);
    async_spawn(L, &f->s[1].task, vsleep_one);
    async_spawn(L, &f->s[2].task, vsleep_one);
    async_await(async_join(L, &f->s[0].task));
    async_await(async_join(L, &f->s[1].task));
    async_await(async_join(L, &f->s[2].task));
    async_end;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void virtual_clock_sleeps_in_order_at_exact_times(void **state)
{
    static struct vsleep f;
    double real;
    int i;
    (void)state;
    assert_true(async_ev_clock_is_virtual(&TE));
    memset(&f, 0, sizeof f);
    f.s[0].ticks = ASYNC_SEC(600); /* ten minutes */
    f.s[1].ticks = ASYNC_MS(10);
    f.s[2].ticks = ASYNC_MS(20);
    for (i = 0; i < 3; i++) {
        f.s[i].id = i;
        f.s[i].order = f.order;
        f.s[i].n = &f.n;
    }
    real = mono_s();
    assert_int_equal(io_run(&f.task, vsleep_fn), 0);
    real = mono_s() - real;
    assert_int_equal(f.order[0], 1);
    assert_int_equal(f.order[1], 2);
    assert_int_equal(f.order[2], 0);
    assert_int_equal(f.s[1].woke - f.t0, ASYNC_MS(10));
    assert_int_equal(f.s[2].woke - f.t0, ASYNC_MS(20));
    assert_int_equal(f.s[0].woke - f.t0, ASYNC_SEC(600));
    /* a bound on failure, not a tolerance: ten minutes took no time */
    assert_true(real < 30.0);
}

/* Ready I/O comes before a jump: a read with a deadline gets the bytes a
 * task of the loop wrote, at the same virtual instant; with nothing to
 * read, the deadline falls at its exact time. */
struct vio {
    async_task task, writer;
    async_co co, wco;
    async_stream a, b;
    async_timeout to;
    char buf[8];
    int rc1, rc2;
    async_tick t0, t1, t2;
};

static int vio_writer(async_loop *L, async_task *self)
{
    struct vio *f = async_frame(self, struct vio, writer);
    async_begin(L, &f->wco);
    async_await(async_stream_write(L, &f->a, "now", 3));
    async_end;
}

static int vio_fn(async_loop *L, async_task *self)
{
    struct vio *f = async_frame(self, struct vio, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_spawn(L, &f->writer, vio_writer);
    async_await_for(&f->to, ASYNC_SEC(1), f->rc1, async_stream_read(L, &f->b, f->buf, sizeof f->buf));
    f->t1 = async_now(L);
    async_await_for(&f->to, ASYNC_SEC(1), f->rc2, async_stream_read(L, &f->b, f->buf, sizeof f->buf));
    f->t2 = async_now(L);
    async_await(async_join(L, &f->writer));
    async_end;
}

/* Runs fn over a fresh TCP pair in f (a writes, b reads), then closes
 * the pair: fn's result. */
static int vio_run(struct vio *f, async_task_fn fn)
{
    int a, b, rc;
    memset(f, 0, sizeof *f);
    io_tcp_pair(&a, &b);
    assert_int_equal(async_stream_init(&f->a, a, NULL, 0), 0);
    assert_int_equal(async_stream_init(&f->b, b, NULL, 0), 0);
    rc = io_run(&f->task, fn);
    async_stream_close(TLOOP, &f->a);
    async_stream_close(TLOOP, &f->b);
    return rc;
}

static void virtual_clock_waits_for_ready_io(void **state)
{
    static struct vio f;
    (void)state;
    assert_int_equal(vio_run(&f, vio_fn), 0);
    assert_int_equal(f.rc1, 3);
    assert_int_equal(f.t1, f.t0);
    assert_int_equal(f.rc2, ASYNC_ETIMEDOUT);
    assert_int_equal(f.t2 - f.t1, ASYNC_SEC(1));
}

/* A poll cut short by EINTR brings nothing although I/O is ready: the
 * clock must not leap on it (it needs two empty polls in a row). */
static int vio_writer_eintr(async_loop *L, async_task *self)
{
    struct vio *f = async_frame(self, struct vio, writer);
    async_begin(L, &f->wco);
    async_await(async_stream_write(L, &f->a, "now", 3));
    fault_arm(FF_EPOLL_WAIT, -1, 0, 1, EINTR, 0); /* the next poll */
    async_end;
}

static int vio_eintr_fn(async_loop *L, async_task *self)
{
    struct vio *f = async_frame(self, struct vio, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_spawn(L, &f->writer, vio_writer_eintr);
    async_await_for(&f->to, ASYNC_SEC(1), f->rc1, async_stream_read(L, &f->b, f->buf, sizeof f->buf));
    f->t1 = async_now(L);
    async_await(async_join(L, &f->writer));
    async_end;
}

static void virtual_clock_ignores_an_interrupted_poll(void **state)
{
    static struct vio f;
    int rc;
    (void)state;
    rc = vio_run(&f, vio_eintr_fn);
    fault_clear();
    assert_int_equal(rc, 0);
    assert_int_equal(f.rc1, 3); /* not ASYNC_ETIMEDOUT */
    assert_int_equal(f.t1, f.t0);
}

/* async_ev_clock_advance from a task: what falls due runs on the next
 * pass; embedding (the application's ev_run) and the core's async_run
 * jump as async_ev_run does. */
struct vadv {
    async_task task, sleeper;
    async_co co, sco;
    async_tick t0, woke;
};

static int vadv_sleeper(async_loop *L, async_task *self)
{
    struct vadv *f = async_frame(self, struct vadv, sleeper);
    async_begin(L, &f->sco);
    async_await(async_sleep(L, ASYNC_SEC(5)));
    f->woke = async_now(L);
    async_end;
}

static int vadv_fn(async_loop *L, async_task *self)
{
    struct vadv *f = async_frame(self, struct vadv, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_spawn(L, &f->sleeper, vadv_sleeper);
    async_await(async_yield()); /* it sleeps */
    assert_int_equal(async_ev_clock_advance(&TE, ASYNC_SEC(7)), 0);
    async_await(async_join(L, &f->sleeper));
    async_end;
}

static void virtual_clock_advance_embedding_and_core_run(void **state)
{
    static struct vadv f;
    static struct sleeper s;
    async_tick t0;
    (void)state;
    /* advanced past the sleep: it wakes at the moved time, not at 5 s */
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, vadv_fn), 0);
    assert_int_equal(f.woke - f.t0, ASYNC_SEC(7));
    /* embedded: the application's ev_run */
    memset(&s, 0, sizeof s);
    t0 = async_now(TLOOP);
    assert_int_equal(async_spawn(TLOOP, &s.task, sleeper_fn), 0);
    ev_run(TE.ev, 0);
    assert_true(async_task_is_done(&s.task));
    assert_int_equal(async_loop_update_now(TLOOP) - t0, ASYNC_MS(300));
    /* the core's async_run over the port */
    memset(&s, 0, sizeof s);
    t0 = async_now(TLOOP);
    assert_int_equal(async_run(TLOOP, &s.task, sleeper_fn), 0);
    assert_int_equal(async_loop_update_now(TLOOP) - t0, ASYNC_MS(300));
}

static void virtual_clock_refusals(void **state)
{
    static async_ev E2;
    static struct sleeper s;
    struct ev_loop *ev2 = ev_loop_new(EVFLAG_AUTO);
    (void)state;
    assert_false(async_ev_clock_is_virtual(&TE)); /* the real clock by default */
    assert_int_equal(async_ev_clock_advance(&TE, 1), ASYNC_EINVAL);
    assert_int_equal(async_ev_clock_virtual(NULL), ASYNC_EINVAL);
    assert_int_equal(async_ev_clock_advance(NULL, 1), ASYNC_EINVAL);
    assert_false(async_ev_clock_is_virtual(NULL));
    memset(&E2, 0, sizeof E2);
    assert_int_equal(async_ev_clock_virtual(&E2), ASYNC_EINVAL); /* not attached */
    /* too late once a task or a timer exists on the real clock */
    memset(&s, 0, sizeof s);
    assert_int_equal(async_spawn(TLOOP, &s.task, sleeper_fn), 0);
    assert_int_equal(async_ev_clock_virtual(&TE), ASYNC_EBUSY);
    assert_int_equal(io_run(&s.task, NULL), 0);
    assert_false(async_ev_clock_is_virtual(&TE));
    /* then, with nothing left, allowed; a second call changes nothing */
    assert_non_null(ev2);
    assert_int_equal(async_ev_init(&E2, ev2), 0);
    assert_int_equal(async_ev_clock_virtual(&E2), 0);
    assert_int_equal(async_ev_clock_virtual(&E2), 0);
    assert_true(async_ev_clock_is_virtual(&E2));
    assert_ptr_equal(async_ev_of(&E2.loop), &E2); /* still the driver's loop */
    async_ev_close(&E2);
    ev_loop_destroy(ev2);
}

/* ---- the core's own async_run() over the libev port ---- */
/* (Only async_ev_run is fair to I/O: the core's async_run calls the
 * port's idle() only when no task is ready, so a task yielding forever
 * would keep libev from polling.  Here one task just waits on a pipe.) */
static void core_run_over_ev_port(void **state)
{
    static struct piper p;
    static struct stuck st;
    int fds[2], stop = 0;
    pthread_t th;
    (void)state;
    memset(&p, 0, sizeof p);
    assert_int_equal(pipe(fds), 0);
    p.stop = &stop;
    p.fd = fds[0];
    pthread_create(&th, NULL, write_later, &fds[1]);
    assert_int_equal(async_run(TLOOP, &p.task, piper_fn), 0); /* sleeps in epoll */
    pthread_join(th, NULL);
    assert_int_equal(p.c, 'x');
    assert_int_equal(stop, 1);
    close(fds[0]);
    close(fds[1]);

    /* Nothing can wake it: reported at once, no spinning. */
    memset(&st, 0, sizeof st);
    async_event_init(&st.ev);
    assert_int_equal(async_run(TLOOP, &st.task, stuck_fn), ASYNC_EDEADLK);
    async_event_set(TLOOP, &st.ev);
    assert_int_equal(async_run(TLOOP, &st.task, NULL), 0);
}

/* ---- misuse ---- */
static void misuse_is_reported(void **state)
{
    async_io io;
    async_ev E2;
    (void)state;
    memset(&io, 0, sizeof io);
    assert_int_equal(async_ev_init(NULL, TE.ev), ASYNC_EINVAL);
    assert_int_equal(async_ev_init(&E2, NULL), ASYNC_EINVAL);
    assert_int_equal(async_ev_run(NULL, NULL, NULL), ASYNC_EINVAL);
    assert_int_equal(async_io_wait(TLOOP, &io, 0, EV_READ), ASYNC_EPERM); /* not in a task */
    assert_int_equal(async_io_wait(TLOOP, &io, -1, EV_READ), ASYNC_EINVAL);
    assert_int_equal(async_io_wait(TLOOP, &io, 0, 0), ASYNC_EINVAL);
    assert_null(async_ev_of(NULL));
    assert_ptr_equal(async_ev_of(TLOOP), &TE);
    assert_int_equal(async_ev_run(&TE, NULL, NULL), 0); /* no task: returns at once */
}

/* ---- the ABI guard's run-time half (the link-time half: check-install) ---- */

/* Runs async__ev_init (E not NULL) or async__ev_main (E NULL, no task)
 * with `abi`, returns its result; err gets what it wrote on stderr.      */
static int init_capturing_stderr(async_ev *E, const char *abi, char *err, size_t cap)
{
    FILE *f = tmpfile();
    int saved = dup(2), rc;
    size_t n;
    assert_non_null(f);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(f), 2) >= 0);
    rc = E != NULL ? async__ev_init(E, TE.ev, abi) : async__ev_main(NULL, NULL, abi);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(f);
    n = fread(err, 1, cap - 1, f);
    err[n] = '\0';
    fclose(f);
    return rc;
}

static void abi_mismatch_is_refused(void **state)
{
    static const char other[] = "async__abi_lclabels_tick64_timerlist_debug1_tasks1_extras0_atomics0_resolve9_hz100";
    async_ev E2;
    char err[512];
    (void)state;
    assert_string_equal(async_ev_abi(), ASYNC_EV_ABI_STRING);
    assert_string_equal(ASYNC_EV_ABI, ASYNC_EV_ABI_STRING);
    assert_non_null(strstr(async_strerror(ASYNC_EABI), "ASYNC_CONF_"));

    /* a configuration that is not the library's: refused, both named */
    memset(&E2, 0, sizeof E2);
    assert_int_equal(init_capturing_stderr(&E2, other, err, sizeof err), ASYNC_EABI);
    assert_int_equal(E2.attached, 0);
    assert_non_null(strstr(err, "ABI mismatch"));
    assert_non_null(strstr(err, other));
    assert_non_null(strstr(err, ASYNC_EV_ABI_STRING));
    assert_int_equal(init_capturing_stderr(&E2, NULL, err, sizeof err), ASYNC_EABI);
    assert_int_equal(init_capturing_stderr(NULL, other, err, sizeof err), ASYNC_EABI);
    assert_non_null(strstr(err, "async_ev_main: ABI mismatch"));

    /* the library's own: the plain init */
    assert_int_equal(init_capturing_stderr(&E2, ASYNC_EV_ABI, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(E2.attached, 1);
    async_ev_close(&E2);
}

/* async_ev_main from a task of a running async_ev_main: refused with
 * ASYNC_EBUSY (it used to re-initialise the driver it was running on and
 * hang).  Runs on libev's default loop, which nothing else here uses.   */
struct nested {
    async_task task;
    async_co co;
    struct sleeper inner;
    int rc;
};

static int nested_fn(async_loop *L, async_task *self)
{
    struct nested *f = async_frame(self, struct nested, task);
    async_begin(L, &f->co);
    f->rc = async_ev_main(&f->inner.task, sleeper_fn);
    async_await(async_sleep(L, 1)); /* the outer run still works */
    async_end;
}

static void nested_ev_main_is_refused(void **state)
{
    static struct nested f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(async_ev_main(&f.task, nested_fn), 0);
    assert_int_equal(f.rc, ASYNC_EBUSY);
    assert_int_equal(async_task_state(&f.inner.task), ASYNC_TASK_IDLE);
}

/* ---- asyncio.run: async_ev_run cancels what main leaves behind ---- */
struct reader {
    async_task task;
    async_co co;
    async_io io;
    int fd, rc, cleaned;
};

static int reader_fn(async_loop *L, async_task *self)
{
    struct reader *f = async_frame(self, struct reader, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_io_wait(L, &f->io, f->fd, EV_READ)); /* nothing comes */
    async_finally;
    f->cleaned++;
    async_end;
}

static int quick_main_fn(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, ASYNC_MS(5)));
    async_return(3);
    async_end;
}

static void run_cancels_leftover_tasks(void **state)
{
    static struct reader r;
    static struct sleeper m;
    int p[2];
    (void)state;
    assert_int_equal(pipe(p), 0);
    memset(&r, 0, sizeof r);
    r.fd = p[0];
    memset(&m, 0, sizeof m);
    async_spawn(TLOOP, &r.task, reader_fn);
    /* loop.run_until_complete leaves it waiting on its fd */
    assert_int_equal(async_ev_run_until_complete(&TE, &m.task, quick_main_fn), 3);
    assert_int_equal(async_task_state(&r.task), ASYNC_TASK_WAITING);
    /* asyncio.run cancels it and runs its cleanup before returning */
    memset(&m, 0, sizeof m);
    assert_int_equal(io_run(&m.task, quick_main_fn), 3);
    assert_true(async_task_is_done(&r.task));
    assert_int_equal(r.rc, ASYNC_ECANCELED);
    assert_int_equal(r.cleaned, 1);
    assert_int_equal(async_loop_task_count(TLOOP), 0);
    close(p[0]);
    close(p[1]);
}

/* ---- async_ev_main is asyncio.run: Ctrl-C cancels main ---- */
static int ready_fd = -1;

struct patient {
    async_task task;
    async_co co;
    async_shield sh;
    int rc;
    int stubborn; /* its cleanup takes 10 s, shielded */
};

static int patient_fn(async_loop *L, async_task *self)
{
    struct patient *f = async_frame(self, struct patient, task);
    async_begin(L, &f->co);
    if (write(ready_fd, "r", 1) != 1)
        async_return(ASYNC_EIO_TEST);
    async_await_rc(f->rc, async_sleep(L, ASYNC_SEC(10)));
    if (f->stubborn) {
        async_shield_begin(&f->sh, 0);
        if (write(ready_fd, "s", 1) != 1) /* in the cleanup: the second may come */
            async_return(ASYNC_EIO_TEST);
        async_await(async_sleep(L, ASYNC_SEC(10)));
        async_shield_end(&f->sh);
    }
    async_return(f->rc == ASYNC_ECANCELED ? 7 : 1);
    async_end;
}

/* Runs async_ev_main in a child; returns its wait status after `hits`
 * SIGINTs, each sent once the child says it is ready for it (libev's
 * handler is installed before the main task runs, so "r" suffices for
 * the first; a second sent before the first was handled could merge
 * with it, hence "s" from the shielded cleanup).  No sleeps. */
static int sigint_child(int stubborn, int hits)
{
    static struct patient p;
    int fds[2], status = 0;
    char c;
    pid_t pid;
    assert_int_equal(pipe(fds), 0);
    fflush(NULL); /* the child's exit() flushes nothing of ours twice */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ready_fd = fds[1];
        memset(&p, 0, sizeof p);
        p.stubborn = stubborn;
        alarm(20); /* never outlive the test */
        exit(async_ev_main(&p.task, patient_fn)); /* exit: a coverage build counts the child */
    }
    close(fds[1]);
    while (hits--) {
        assert_int_equal(read(fds[0], &c, 1), 1);
        kill(pid, SIGINT);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    return status;
}

static void ctrl_c_cancels_main(void **state)
{
    int st;
    (void)state;
    st = sigint_child(0, 1); /* main is cancelled, returns 7 */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    st = sigint_child(1, 2); /* a second Ctrl-C stops a stubborn cleanup */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGINT);
}

/* ---- async_ev_exit, main()'s status: 0 for a result, 1 and one line
 * "prog: error" on stderr for an error ---- */
static void ev_exit_names_the_program_and_the_error(void **state)
{
    int fds[2], saved, r[5];
    char got[256], want[256];
    ssize_t n;
    (void)state;
    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], 2), 2);
    r[0] = async_ev_exit("/usr/local/bin/prog", ASYNC_ETIMEDOUT);
    r[1] = async_ev_exit(NULL, ASYNC_EINVAL); /* no name: "async" */
    r[2] = async_ev_exit("./prog", ASYNC_ECANCELED);
    r[3] = async_ev_exit("prog", 0);
    r[4] = async_ev_exit("prog", 42); /* a task's result: success */
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(fds[1]);
    n = read(fds[0], got, sizeof got - 1);
    close(fds[0]);
    assert_true(n > 0);
    got[n] = '\0';
    snprintf(want, sizeof want, "prog: %s\nasync: %s\nprog: %s\n", async_strerror(ASYNC_ETIMEDOUT),
             async_strerror(ASYNC_EINVAL), async_strerror(ASYNC_ECANCELED));
    assert_string_equal(got, want);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 1);
    assert_int_equal(r[2], 1);
    assert_int_equal(r[3], 0);
    assert_int_equal(r[4], 0);
}

/* ---- every errno the runtime maps, and the ones it passes through ---- */
static void errno_mapping(void **state)
{
    static const struct {
        int err, code;
    } table[] = {
        {0, 0},
        {EAGAIN, ASYNC_EAGAIN},
        {EWOULDBLOCK, ASYNC_EAGAIN},
        {ECONNRESET, ASYNC_ECONNRESET},
        {ECONNREFUSED, ASYNC_ECONNREFUSED},
        {EHOSTUNREACH, ASYNC_EHOSTUNREACH},
        {ENETUNREACH, ASYNC_EHOSTUNREACH},
        {EPIPE, ASYNC_EPIPE},
        {EADDRINUSE, ASYNC_EADDRINUSE},
        {EMFILE, ASYNC_EMFILE},
        {ENFILE, ASYNC_EMFILE},
        {ETIMEDOUT, ASYNC_ETIMEDOUT},
        {EINVAL, ASYNC_EINVAL},
        {EBADF, ASYNC_ECLOSED},
        {ENAMETOOLONG, ASYNC_ETOOLONG},
        {ENOENT, ASYNC_EOS(ENOENT)},
        {ENOMEM, ASYNC_EOS(ENOMEM)},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_int_equal(async_errno(table[i].err), table[i].code);
    assert_true(async_errno(ENOMEM) <= ASYNC_EOS_BASE);
    assert_string_equal(async_strerror(async_errno(ENOMEM)), "operating system error");
    fault_arm(FF_FCNTL, 0, 0, 1, EBADF, 0);
    assert_int_equal(async_fd_nonblock(0), ASYNC_ECLOSED);
    fault_arm(FF_FCNTL, 0, 2, 1, EINVAL, 0);
    assert_int_equal(async_fd_nonblock(0), ASYNC_EINVAL);
    fault_clear();
}

/* ---- async_ev_main: asyncio.run on EV_DEFAULT ---- */
struct answer {
    async_task task;
    async_co co;
};

static int answer_fn(async_loop *L, async_task *self)
{
    struct answer *f = async_frame(self, struct answer, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 1));
    async_return(42);
    async_end;
}

static const char *self_path; /* this program, to run it afresh (main) */

static void ev_main_runs_a_program(void **state)
{
    static struct answer a;
    (void)state;
    pid_t pid;
    int st;
    memset(&a, 0, sizeof a);
    /* no backend libev can use: reported.  In a fresh process (this
     * program again, see main): libev makes its default loop once per
     * process, and other tests here have made it already. */
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* argv[0], not /proc/self/exe: under valgrind that is valgrind's
         * own tool, which refuses to run bare (and an empty argv) */
        char *args[] = {(char *)self_path, NULL};
        setenv("LIBEV_FLAGS", "8", 1); /* kqueue only: none on Linux */
        setenv("IOTEST_NO_BACKEND", "1", 1);
        execv(self_path, args);
        _exit(2);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(async_ev_main(&a.task, answer_fn), 42);
    assert_int_equal(async_ev_main(&a.task, answer_fn), 42); /* again: a fresh driver each time */
    assert_int_equal(async_ev_main(NULL, answer_fn), ASYNC_EINVAL);
}

/* ---- async_ev_run's refusals, and its driver's lifetime ---- */
struct ev_run_nested {
    async_task task;
    async_co co;
    int rc;
};

static int ev_run_nested_fn(async_loop *L, async_task *self)
{
    struct ev_run_nested *f = async_frame(self, struct ev_run_nested, task);
    async_begin(L, &f->co);
    f->rc = async_ev_run(&TE, NULL, NULL); /* from inside itself */
    async_end;
}

static void ev_run_refusals(void **state)
{
    static struct ev_run_nested n;
    static struct answer a;
    async_ev E2;
    async_vclock vc;
    async_loop VL;
    (void)state;
    memset(&n, 0, sizeof n);
    memset(&a, 0, sizeof a);
    assert_int_equal(io_run(&n.task, ev_run_nested_fn), 0);
    assert_int_equal(n.rc, ASYNC_EBUSY);
    assert_int_equal(io_run(&a.task, NULL), ASYNC_EINVAL); /* never spawned */
    assert_int_equal(async_spawn(TLOOP, &a.task, answer_fn), 0);
    assert_int_equal(io_run(&a.task, answer_fn), ASYNC_EBUSY); /* spawned already */
    assert_int_equal(io_run(&a.task, NULL), 42);
    memset(&E2, 0, sizeof E2);
    assert_int_equal(async_ev_run(&E2, NULL, NULL), ASYNC_EINVAL); /* not attached */
    async_ev_close(NULL);
    async_ev_close(&E2); /* never attached: nothing */
    assert_null(async_ev_loop(NULL));
    async_vclock_init(&vc, 0, false);
    assert_int_equal(async_loop_init(&VL, &vc.port), 0);
    assert_null(async_ev_of(&VL)); /* a loop of another port */
    memset(&VL, 0, sizeof VL);
    assert_null(async_ev_of(&VL)); /* no port at all */
}

/* ---- the driver's timer follows the earliest deadline: re-armed when
 * an earlier one appears, stopped when none is left ---- */
struct timers {
    async_task slow, fast;
    async_co sco, fco;
    async_io io;
    int rc_slow, armed, pipe[2];
};

static int timers_slow(async_loop *L, async_task *self)
{
    struct timers *f = async_frame(self, struct timers, slow);
    async_begin(L, &f->sco);
    async_await_rc(f->rc_slow, async_sleep(L, ASYNC_SEC(30)));
    async_end;
}

static int timers_fast(async_loop *L, async_task *self)
{
    struct timers *f = async_frame(self, struct timers, fast);
    async_begin(L, &f->fco);
    async_await(async_sleep(L, ASYNC_MS(5))); /* earlier than the armed 30 s */
    /* woken by I/O, not by a timer, while the 30 s one is armed again... */
    assert_int_equal(write(f->pipe[1], "x", 1), 1);
    async_await(async_io_wait(L, &f->io, f->pipe[0], EV_READ));
    f->armed = ev_is_active(&TE.timer);
    async_cancel(L, &f->slow); /* ...and then no deadline at all */
    async_await(async_join(L, &f->slow));
    /* a pass that ends with every task parked and nothing to time */
    assert_int_equal(write(f->pipe[1], "y", 1), 1);
    async_await(async_io_wait(L, &f->io, f->pipe[0], EV_READ));
    async_end;
}

static void driver_timer_follows_the_earliest_deadline(void **state)
{
    static struct timers f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(pipe(f.pipe), 0);
    assert_int_equal(async_spawn(TLOOP, &f.slow, timers_slow), 0);
    ev_run(TE.ev, EVRUN_NOWAIT); /* the 30 s timer is armed */
    assert_true(ev_is_active(&TE.timer));
    assert_int_equal(io_run(&f.fast, timers_fast), 0); /* would take 30 s if not re-armed */
    assert_int_equal(f.rc_slow, ASYNC_ECANCELED);
    assert_true(f.armed);
    assert_false(ev_is_active(&TE.timer)); /* stopped: nothing left to time */
    close(f.pipe[0]);
    close(f.pipe[1]);
}

/* ---- fd waits: a second waiter, a stopped watcher, a kept watcher
 * moved to another fd, misuse ---- */
struct iow {
    async_task task, other;
    async_co co, oco;
    async_io io;
    int p1[2], p2[2], rc[6];
};

static int iow_other(async_loop *L, async_task *self)
{
    struct iow *f = async_frame(self, struct iow, other);
    async_begin(L, &f->oco);
    async_await_rc(f->rc[0], async_io_wait(L, &f->io, f->p1[0], EV_READ));
    async_end;
}

static int iow_fn(async_loop *L, async_task *self)
{
    struct iow *f = async_frame(self, struct iow, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->other, iow_other);
    async_await(async_sleep(L, 1));
    async_await_rc(f->rc[1], async_io_wait(L, &f->io, f->p1[0], EV_READ)); /* taken */
    async_io_stop(L, &f->io); /* the waiter is told */
    async_await(async_join(L, &f->other));
    /* a kept watcher, armed on p1, then asked for p2 */
    f->io.keep = 1;
    assert_int_equal(write(f->p1[1], "a", 1), 1);
    async_await_rc(f->rc[2], async_io_wait(L, &f->io, f->p1[0], EV_READ));
    assert_true(ev_is_active(&f->io.w)); /* kept */
    assert_int_equal(write(f->p2[1], "b", 1), 1);
    async_await_rc(f->rc[3], async_io_wait(L, &f->io, f->p2[0], EV_READ));
    async_io_stop(L, &f->io);
    f->rc[4] = async_io_wait(L, &f->io, f->p1[0], EV_READ | 0x100); /* not an event */
    f->rc[5] = async_io_wait(L, NULL, f->p1[0], EV_READ);
    async_end;
}

static void io_wait_busy_stopped_and_moved(void **state)
{
    static struct iow f;
    async_vclock vc;
    async_loop VL;
    async_io io;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(pipe(f.p1), 0);
    assert_int_equal(pipe(f.p2), 0);
    assert_int_equal(io_run(&f.task, iow_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_ECLOSED);
    assert_int_equal(f.rc[1], ASYNC_EBUSY);
    assert_int_equal(f.rc[2], EV_READ);
    assert_int_equal(f.rc[3], EV_READ);
    assert_int_equal(f.rc[4], ASYNC_EINVAL);
    assert_int_equal(f.rc[5], ASYNC_EINVAL);
    async_vclock_init(&vc, 0, false);
    assert_int_equal(async_loop_init(&VL, &vc.port), 0);
    memset(&io, 0, sizeof io);
    assert_int_equal(async_io_wait(&VL, &io, 0, EV_READ), ASYNC_EINVAL); /* not a libev loop */
    async_io_stop(&VL, &io);  /* nothing */
    async_io_stop(TLOOP, NULL);
    close(f.p1[0]);
    close(f.p1[1]);
    close(f.p2[0]);
    close(f.p2[1]);
}

/* ---- signals: delivered before anyone waits (counted), two waiters,
 * outside a task, one loop per signal ---- */
struct sig2 {
    async_task task, other;
    async_co co, oco;
    async_signal s, t;
    int rc[8];
};

static int sig2_other(async_loop *L, async_task *self)
{
    struct sig2 *f = async_frame(self, struct sig2, other);
    async_begin(L, &f->oco);
    async_await_rc(f->rc[0], async_signal_wait(L, &f->s));
    async_end;
}

static int sig2_fn(async_loop *L, async_task *self)
{
    struct sig2 *f = async_frame(self, struct sig2, task);
    async_begin(L, &f->co);
    async_await(async_signal_init(L, &f->s, SIGUSR2));
    async_await(async_signal_init(L, &f->t, SIGUSR2)); /* the same loop may share it */
    raise(SIGUSR2);
    async_await(async_sleep(L, ASYNC_MS(5))); /* delivered while nobody waits */
    f->rc[1] = (int)f->s.count;
    async_await_rc(f->rc[2], async_signal_wait(L, &f->s)); /* taken at once */
    async_await_rc(f->rc[3], async_signal_wait(L, &f->t));
    async_spawn(L, &f->other, sig2_other);
    async_await(async_sleep(L, 1));
    async_await_rc(f->rc[4], async_signal_wait(L, &f->s)); /* someone waits already */
    kill(getpid(), SIGUSR2);
    async_await(async_join(L, &f->other));
    async_signal_close(L, &f->t);
    async_signal_close(L, &f->s);
    async_end;
}

static void signal_counts_shares_and_refuses(void **state)
{
    static struct sig2 f;
    static async_signal other_loops;
    struct ev_loop *ev2;
    async_ev E2;
    async_signal idle;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, sig2_fn), 0);
    assert_int_equal(f.rc[0], SIGUSR2);
    assert_int_equal(f.rc[1], 1);
    assert_int_equal(f.rc[2], SIGUSR2);
    assert_int_equal(f.rc[3], SIGUSR2);
    assert_int_equal(f.rc[4], ASYNC_EBUSY);
    assert_int_equal(async_signal_wait(TLOOP, NULL), ASYNC_EINVAL);
    /* outside a task with nothing counted */
    assert_int_equal(async_signal_init(TLOOP, &f.s, SIGUSR2), 0);
    assert_int_equal(async_signal_wait(TLOOP, &f.s), ASYNC_EPERM);
    /* another loop cannot take a signal this one watches (before: libev
     * aborted the process), and can once it is let go */
    ev2 = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(async_ev_init(&E2, ev2), 0);
    memset(&other_loops, 0, sizeof other_loops);
    assert_int_equal(async_signal_init(&E2.loop, &other_loops, SIGUSR2), ASYNC_EBUSY);
    async_signal_close(TLOOP, &f.s);
    assert_int_equal(async_signal_init(&E2.loop, &other_loops, SIGUSR2), 0);
    async_signal_close(&E2.loop, &other_loops);
    async_ev_close(&E2);
    ev_loop_destroy(ev2);
    /* closing what is not watching, or with no loop */
    memset(&idle, 0, sizeof idle);
    async_signal_close(TLOOP, &idle);
    async_signal_close(TLOOP, NULL);
    async_signal_close(NULL, &idle);
    assert_int_equal(async_signal_init(NULL, &idle, SIGUSR1), ASYNC_EINVAL);
    assert_int_equal(async_signal_init(TLOOP, &idle, NSIG), ASYNC_EINVAL);
    assert_int_equal(async_signal_init(TLOOP, &idle, SIGSTOP), ASYNC_EINVAL);
}

/* A task cancelled while it waits for a signal lets go of the loop. */
struct sigc {
    async_task task, waiter;
    async_co co, wco;
    async_signal s;
    int rc;
};

static int sigc_waiter(async_loop *L, async_task *self)
{
    struct sigc *f = async_frame(self, struct sigc, waiter);
    async_begin(L, &f->wco);
    async_await_rc(f->rc, async_signal_wait(L, &f->s));
    async_end;
}

static int sigc_fn(async_loop *L, async_task *self)
{
    struct sigc *f = async_frame(self, struct sigc, task);
    async_begin(L, &f->co);
    async_await(async_signal_init(L, &f->s, SIGUSR1));
    async_spawn(L, &f->waiter, sigc_waiter);
    async_await(async_sleep(L, 1));
    async_cancel(L, &f->waiter);
    async_await(async_join(L, &f->waiter));
    async_signal_close(L, &f->s);
    async_end;
}

static void cancelled_signal_wait_lets_go(void **state)
{
    static struct sigc f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, sigc_fn), 0);
    assert_int_equal(f.rc, ASYNC_ECANCELED);
    assert_int_equal(TE.waits, 0);
    assert_int_equal(io_run(NULL, NULL), 0); /* nothing holds the loop */
}

/* ev_main_runs_a_program's fresh process: async_ev_main with no backend. */
static int no_backend_main(void)
{
    static struct answer a;
    return async_ev_main(&a.task, answer_fn) == ASYNC_ENOSPC ? 0 : 1;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        IOT(sleeping_loop_uses_no_cpu),
        IOT(nested_ev_main_is_refused),
        IOT(embeds_in_application_loop),
        IOT(minpri_watcher_wakes_a_task_under_ev_run),
        IOT(embedding_after_ev_run_arms_the_first_poll),
        IOT_V(nested_run_on_another_loop),
        IOT(yielding_task_does_not_starve_io),
        IOT_V(signal_is_awaitable),
        IOT_V(signal_wait_times_out_and_stops),
        IOT(thread_posts_wake_the_loop),
        IOT_V(deadlock_is_reported),
        IOT(core_run_over_ev_port),
        IOT_V(virtual_clock_sleeps_in_order_at_exact_times),
        IOT_V(virtual_clock_waits_for_ready_io),
        IOT_V(virtual_clock_ignores_an_interrupted_poll),
        IOT_V(virtual_clock_advance_embedding_and_core_run),
        IOT(virtual_clock_refusals),
        IOT(misuse_is_reported),
        IOT(abi_mismatch_is_refused),
        IOT_V(run_cancels_leftover_tasks),
        IOT(ctrl_c_cancels_main),
        IOT(errno_mapping),
        IOT(ev_exit_names_the_program_and_the_error),
        IOT(ev_main_runs_a_program),
        IOT(ev_run_refusals),
        IOT(driver_timer_follows_the_earliest_deadline),
        IOT_V(io_wait_busy_stopped_and_moved),
        IOT_V(signal_counts_shares_and_refuses),
        IOT_V(cancelled_signal_wait_lets_go),
    };
    (void)argc;
    self_path = argv[0];
    if (getenv("IOTEST_NO_BACKEND"))
        return no_backend_main();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
