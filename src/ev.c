/* SPDX-License-Identifier: MIT */
/*
 * The libev driver: the core scheduler inside an ev_loop, fd readiness
 * and signals.
 *
 * One ev_loop iteration = poll, I/O callbacks (which only wake tasks),
 * then one scheduler pass, so that the pass sees every wake-up of the
 * iteration.  Embedded, the pass runs from an ev_check at the lowest
 * priority (libev invokes pending watchers from the highest priority
 * down, which is why the check must be EV_MINPRI rather than merely
 * "registered last"); under async_ev_run, from the loop's invoke-pending
 * callback, once libev has invoked them all.
 */
#define _GNU_SOURCE
#include "src/async_ev.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define E_OF_PORT(p) ((async_ev *)(void *)(uintptr_t)(p))

static async_tick drv_port_now(const async_port *p)
{
    struct timespec ts;
    (void)p;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (async_tick)((unsigned long long)ts.tv_sec * ASYNC_CONF_TICK_HZ +
                        (unsigned long long)ts.tv_nsec * ASYNC_CONF_TICK_HZ / 1000000000ull);
}

/* The virtual clock's reading (async_ev_clock_virtual).               */
static async_tick drv_port_vnow(const async_port *p)
{
    return E_OF_PORT(p)->vnow;
}

static int drv_port_idle(const async_port *p, async_loop *L, bool has_deadline, async_tick deadline);

/* async_ev_of, inlined into the per-message paths of this file.  The
 * port's idle() tells the driver (its now() is one of two clocks). */
static inline async_ev *drv_of(async_loop *L)
{
    if (L == NULL || L->port == NULL || L->port->idle != drv_port_idle)
        return NULL;
    return E_OF_PORT(L->port);
}

async_ev *async_ev_of(async_loop *L)
{
    return drv_of(L);
}

/* The driver of the loop a parked io waits in: async_io_wait checked it
 * when it parked the task, and the io cannot move while parked.        */
static async_ev *drv_of_parked(const async_io *io)
{
    return E_OF_PORT(io->L->port);
}

async_loop *async_ev_loop(async_ev *E)
{
    return E ? &E->loop : NULL;
}

/* A watcher that must not keep the ev_loop alive: libev requires the ref
 * to be given back before stopping it. */
#define START_UNREF(start, ev, w) \
    do {                          \
        start((ev), (w));         \
        ev_unref(ev);             \
    } while (0)
#define STOP_UNREF(stop, ev, w) \
    do {                        \
        ev_ref(ev);             \
        stop((ev), (w));        \
    } while (0)

/* The next moment the virtual clock must stop at: the loop's deadline
 * or a driver timer's (async__ev_timer_start), whichever comes first. */
static bool drv_next_virtual(async_ev *E, async_tick *next)
{
    async_ev_timer *t;
    bool any = async_loop_next_deadline(&E->loop, next);
    for (t = E->vtimers; t; t = t->next)
        if (!any || async_tick_before(t->due, *next)) {
            *next = t->due;
            any = true;
        }
    return any;
}

/* The virtual clock's arm, nothing being ready: while a deadline is
 * armed and no offloaded call is in flight, the jump watcher makes the
 * poll non-blocking and, if the poll brought nothing, moves the clock to
 * the deadline.  A deadline already reached (async_ev_clock_advance)
 * needs no jump but a pass: the poll must not block for it either.
 * Otherwise the poll blocks until something happens (an offloaded
 * call's return: a worker's call takes no virtual time).              */
static void drv_arm_virtual(async_ev *E)
{
    async_tick deadline;
    if (drv_next_virtual(E, &deadline) && (E->refs == 0 || !async_tick_after(deadline, E->vnow))) {
        if (!ev_is_active(&E->jump))
            ev_idle_start(E->ev, &E->jump);
    } else if (ev_is_active(&E->jump)) {
        ev_idle_stop(E->ev, &E->jump);
    }
}

/* Decide how the coming poll may block: not at all while tasks are ready,
 * until the next deadline while timers are armed, else indefinitely.   */
static void drv_arm(async_ev *E)
{
    async_loop *L = &E->loop;
    async_tick deadline;

    if (async_loop_has_work(L)) {
        if (!ev_is_active(&E->idle))
            ev_idle_start(E->ev, &E->idle);
        return;
    }
    if (ev_is_active(&E->idle))
        ev_idle_stop(E->ev, &E->idle);
    if (E->vclock) {
        drv_arm_virtual(E);
        return;
    }
    if (async_loop_next_deadline(L, &deadline)) {
        async_stick d;
        /* The timer is already armed for this deadline: the common case. */
        if (ev_is_active(&E->timer)) {
            if (E->armed == deadline)
                return;
            ev_timer_stop(E->ev, &E->timer);
        }
        d = (async_stick)(deadline - drv_port_now(&E->port));
        E->armed = deadline;
        ev_timer_set(&E->timer, d > 0 ? (double)d / ASYNC_CONF_TICK_HZ : 0., 0.);
        ev_timer_start(E->ev, &E->timer);
    } else if (ev_is_active(&E->timer)) {
        ev_timer_stop(E->ev, &E->timer);
    }
}

static void drv_on_prepare(struct ev_loop *ev, ev_prepare *w, int revents)
{
    (void)ev;
    (void)revents;
    drv_arm((async_ev *)w->data);
}

/* One scheduler pass after the iteration's callbacks, then the arm of
 * the next poll (before libev decides whether anything keeps it alive). */
static void drv_pass(async_ev *E, struct ev_loop *ev)
{
    async_run_once(&E->loop);
    if (E->running && (E->main ? async_task_is_done(E->main) : async_loop_task_count(&E->loop) == 0)) {
        ev_break(ev, EVBREAK_ONE);
        return;
    }
    drv_arm(E);
}

/* Embedded: the pass runs from the check watcher, at EV_MINPRI. */
static void drv_on_check(struct ev_loop *ev, ev_check *w, int revents)
{
    async_ev *E = (async_ev *)w->data;
    (void)revents;
    if (E->in_idle)
        return; /* inside the core's async_run(): it runs the pass */
    drv_pass(E, ev);
}

/* Under async_ev_run the pass runs from the loop's invoke-pending
 * callback instead, after libev has invoked every pending watcher (the
 * application's at EV_MINPRI too): no check watcher to feed and
 * dispatch, about 50 instructions an iteration.  The callback gets
 * only the loop: the driver is this thread's running one.             */
static __thread async_ev *drv_running;

static void drv_invoke(struct ev_loop *ev)
{
    async_ev *E = drv_running;
    ev_invoke_pending(ev);
    if (E == NULL || E->ev != ev || E->in_idle)
        return; /* (not ours; or the core's async_run runs the pass) */
    drv_pass(E, ev);
    /* Fed during the pass (a task's ev_feed_event): invoked after the
     * next poll, which must not block then. */
    if (!ev_is_active(&E->idle) && ev_pending_count(ev) != 0)
        ev_idle_start(ev, &E->idle);
}

/* The watchers below only interrupt the poll; the check does the work. */
static void drv_on_idle(struct ev_loop *ev, ev_idle *w, int revents)
{
    (void)ev;
    (void)w;
    (void)revents;
}

static void drv_on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)w;
    (void)revents;
}

/* The driver timers due on the virtual clock: each is called once and
 * moved on by whole periods past the present.                        */
static void drv_fire_vtimers(async_ev *E)
{
    async_ev_timer *t, *next;
    for (t = E->vtimers; t; t = next) {
        next = t->next; /* (callbacks only wake tasks: the list stays) */
        if (async_tick_after(t->due, E->vnow))
            continue;
        while (!async_tick_after(t->due, E->vnow))
            t->due = (async_tick)(t->due + t->period);
        t->w.cb(E->ev, &t->w, EV_TIMER);
    }
}

/* The virtual clock's jump: an idle watcher at EV_MINPRI, which libev
 * invokes only in an iteration whose poll brought nothing else (no fd,
 * timer, signal or post pending at any priority).  Every task waits and
 * no I/O is ready: time leaps to the next deadline, which the pass that
 * follows fires.  Re-armed by drv_arm for as long as it is needed.    */
static void drv_on_jump(struct ev_loop *ev, ev_idle *w, int revents)
{
    async_ev *E = (async_ev *)w->data;
    unsigned iter = ev_iteration(ev);
    async_tick deadline;
    (void)revents;
    /* Two polls in a row must find nothing: one that an EINTR cut short
     * also brings nothing, though I/O may be ready.  The first one only
     * leaves the watcher armed for the next iteration.               */
    if (E->jump_iter != iter - 1u) {
        E->jump_iter = iter;
        return;
    }
    ev_idle_stop(ev, w);
    E->jump_iter = iter - 1u; /* the next jump needs two polls again */
    if (E->refs == 0 && !async_loop_has_work(&E->loop) && drv_next_virtual(E, &deadline) &&
        async_tick_after(deadline, E->vnow))
        E->vnow = deadline;
    drv_fire_vtimers(E);
    /* Under async_ev_run the pass follows (the invoke-pending callback),
     * under the core's async_run its next pass; embedded, the check,
     * at this priority too, may have run already (libev takes a
     * priority's pending watchers last-queued first), and the ev_loop
     * would end with this watcher stopped: the pass runs here.        */
    if (!E->running && !E->in_idle)
        drv_pass(E, ev);
}

static void drv_on_wakeup(struct ev_loop *ev, ev_async *w, int revents)
{
    (void)ev;
    (void)w;
    (void)revents;
}

static void drv_port_wake(const async_port *p)
{
    async_ev *E = E_OF_PORT(p);
    ev_async_send(E->ev, &E->wakeup);
}

/* For the core's own async_run() over this port: block in one libev
 * iteration.  If no task waits on anything libev could deliver (an fd, a
 * signal, an offloaded call) and no timer is armed, nothing can ever wake
 * the loop: say so instead of spinning. */
static int drv_port_idle(const async_port *p, async_loop *L, bool has_deadline, async_tick deadline)
{
    async_ev *E = E_OF_PORT(p);
    (void)deadline;
    if (!has_deadline && E->waits == 0 && E->refs == 0 && !async_loop_has_work(L))
        return ASYNC_EDEADLK;
    drv_arm(E);
    E->in_idle = 1;
    ev_run(E->ev, EVRUN_ONCE);
    E->in_idle = 0;
    return 0;
}

/* Parenthesised: async_ev_init is also the checking macro (async_ev.h). */
int(async_ev_init)(async_ev *E, struct ev_loop *ev)
{
    int rc;
    if (E == NULL || ev == NULL)
        return ASYNC_EINVAL;
    E->port.now = drv_port_now;
    E->port.idle = drv_port_idle;
    E->port.wake = drv_port_wake;
    E->port.lock = NULL;
    E->port.unlock = NULL;
    E->port.flags = ASYNC_PORT_POLL; /* libev polls its fds between passes */
    /* It fails only for a NULL loop or a port without now/idle: neither
     * can happen here. */
    if ((rc = async_loop_init(&E->loop, &E->port)) < 0)
        return rc; /* LCOV_EXCL_LINE: unreachable, see above */
    E->ev = ev;
    E->main = NULL;
    E->refs = 0;
    E->waits = 0;
    E->in_idle = 0;
    E->running = 0;
    E->sigint_user = 0;
    E->vclock = 0;
    E->vnow = 0;
    E->vtimers = NULL;
    E->jump_iter = 0;

    ev_idle_init(&E->jump, drv_on_jump);
    ev_set_priority(&E->jump, EV_MINPRI);
    E->jump.data = E;
    ev_prepare_init(&E->prepare, drv_on_prepare);
    ev_check_init(&E->check, drv_on_check);
    ev_set_priority(&E->check, EV_MINPRI);
    ev_idle_init(&E->idle, drv_on_idle);
    ev_init(&E->timer, drv_on_timer);
    ev_async_init(&E->wakeup, drv_on_wakeup);
    E->prepare.data = E->check.data = E;
    START_UNREF(ev_prepare_start, ev, &E->prepare);
    START_UNREF(ev_check_start, ev, &E->check);
    START_UNREF(ev_async_start, ev, &E->wakeup);
    E->attached = 1;
    return 0;
}

void async_ev_close(async_ev *E)
{
    if (E == NULL || !E->attached)
        return;
    if (ev_is_active(&E->prepare)) /* both stopped while async_ev_run runs */
        STOP_UNREF(ev_prepare_stop, E->ev, &E->prepare);
    if (ev_is_active(&E->check))
        STOP_UNREF(ev_check_stop, E->ev, &E->check);
    STOP_UNREF(ev_async_stop, E->ev, &E->wakeup);
    ev_idle_stop(E->ev, &E->idle);
    ev_idle_stop(E->ev, &E->jump);
    ev_timer_stop(E->ev, &E->timer);
    E->attached = 0;
}

/* ---- the virtual clock (tests) ---- */

int async_ev_clock_virtual(async_ev *E)
{
    async_tick deadline;
    if (E == NULL || !E->attached)
        return ASYNC_EINVAL;
    if (E->vclock)
        return 0;
    if (E->running || async_loop_task_count(&E->loop) != 0 ||
        async_loop_next_deadline(&E->loop, &deadline))
        return ASYNC_EBUSY; /* timers armed on the real clock */
    if (ev_is_active(&E->timer))
        ev_timer_stop(E->ev, &E->timer);
    /* It starts at the real reading, so the loop's wheel, which counts
     * from its init, never sees time go back. */
    E->vnow = drv_port_now(&E->port);
    E->jump_iter = ev_iteration(E->ev) - 1u; /* no poll found nothing yet */
    E->port.now = drv_port_vnow;
    E->vclock = 1;
    (void)async_loop_update_now(&E->loop);
    return 0;
}

bool async_ev_clock_is_virtual(const async_ev *E)
{
    return E != NULL && E->vclock;
}

int async_ev_clock_advance(async_ev *E, async_tick ticks)
{
    if (E == NULL || !E->vclock)
        return ASYNC_EINVAL;
    E->vnow = (async_tick)(E->vnow + ticks);
    drv_fire_vtimers(E);
    return 0;
}

/* ---- driver timers: src/'s own periodic callbacks on the driver's clock ---- */

void async__ev_timer_start(async_ev *E, async_ev_timer *t, void (*cb)(struct ev_loop *, ev_timer *, int),
                           async_tick period)
{
    double p = (double)period / ASYNC_CONF_TICK_HZ;
    ev_timer_init(&t->w, cb, p, p);
    if (E->vclock) { /* on the virtual clock: the driver's list */
        t->period = period ? period : 1;
        t->due = (async_tick)(E->vnow + t->period);
        t->next = E->vtimers;
        E->vtimers = t;
        t->listed = 1;
        return;
    }
    ev_timer_start(E->ev, &t->w);
    ev_unref(E->ev); /* what it serves keeps the loop alive, not the timer */
}

void async__ev_timer_stop(async_ev *E, async_ev_timer *t)
{
    async_ev_timer **pp;
    if (t->listed) {
        for (pp = &E->vtimers; *pp; pp = &(*pp)->next)
            if (*pp == t) {
                *pp = t->next;
                break;
            }
        t->listed = 0;
    } else if (ev_is_active(&t->w)) {
        STOP_UNREF(ev_timer_stop, E->ev, &t->w);
    }
}

/* async_ev_run's loop.  cleanup: once main has finished, cancel what is
 * left and run until that has finished too (the check callback then
 * stops ev_run when no task is left), as the core's async_run does.    */
static int drv_run(async_ev *E, async_task *main, async_task_fn fn, bool cleanup)
{
    async_ev *outer;
    async_loop *L;
    bool swept = false, flushed = false;
    int rc = 0;

    if (E == NULL || !E->attached || (main == NULL && fn != NULL))
        return ASYNC_EINVAL;
    if (E->running)
        return ASYNC_EBUSY;
    L = &E->loop;
    if (fn && (rc = async_spawn(L, main, fn)) < 0)
        return rc;
    if (main && async_task_state(main) == ASYNC_TASK_IDLE)
        return ASYNC_EINVAL;
    E->main = main;
    E->running = 1;
    /* Here every change to what is ready happens in this ev_loop's
     * callbacks or in tasks, or here before ev_run: the pass runs from
     * the invoke-pending callback, after every callback of the
     * iteration, and arms the next poll; the prepare's arm before each
     * poll would repeat it.  Both watchers are stopped meanwhile (libev
     * fed and dispatched each, and the prepare in a dispatch of its own:
     * about 190 instructions an iteration) and kept for embedding,
     * where the application's code between its ev_run calls may spawn
     * or wake tasks.  libev's own callback is put back afterwards.     */
    outer = drv_running;
    STOP_UNREF(ev_prepare_stop, E->ev, &E->prepare);
    STOP_UNREF(ev_check_stop, E->ev, &E->check);
    drv_running = E;
    ev_set_invoke_pending_cb(E->ev, drv_invoke);
    async__run_begin(L);
    for (;;) {
        if (E->main ? async_task_is_done(E->main) : async_loop_task_count(L) == 0) {
            /* No task left, but callbacks the last ones made due (done
             * callbacks: a server's connection closing its stream and
             * giving its frame back): one pass more runs them, and only
             * them.  Once: what they schedule stays pending.          */
            if (async_loop_task_count(L) == 0 && !flushed && async_loop_has_work(L)) {
                flushed = true;
                (void)async_run_once(L);
                continue;
            }
            if (!cleanup || !ASYNC_CONF_TASK_LIST || E->main == NULL ||
                async_loop_task_count(L) == 0)
                break;
            (void)async_loop_cancel_all(L);
            swept = true;
            E->main = NULL; /* from now on: until no task is left */
            continue;
        }
        drv_arm(E);
        ev_run(E->ev, 0);
        /* ev_run returned: what it waited for is over (the loop's top
         * tells), or nothing is left that could wake a task. */
        if (E->main ? async_task_is_done(E->main) : async_loop_task_count(L) == 0)
            continue;
        if (!async_loop_has_work(L)) {
            if (!swept) /* after the sweep: what is left cannot finish */
                rc = ASYNC_EDEADLK;
            break;
        }
    }
    E->running = 0;
    E->main = NULL;
    ev_set_invoke_pending_cb(E->ev, ev_invoke_pending);
    drv_running = outer; /* (a task's async_ev_run on another loop) */
    if (E->attached) { /* (a task may have closed the driver meanwhile) */
        START_UNREF(ev_prepare_start, E->ev, &E->prepare);
        START_UNREF(ev_check_start, E->ev, &E->check);
    }
    if (rc == 0)
        rc = main ? async_task_result(main) : 0;
    async__run_end(L);
    return rc;
}

int async_ev_run(async_ev *E, async_task *main, async_task_fn fn)
{
    return drv_run(E, main, fn, true);
}

int async_ev_run_until_complete(async_ev *E, async_task *main, async_task_fn fn)
{
    return drv_run(E, main, fn, false);
}

int async_ev_exit(const char *argv0, int rc)
{
    const char *name = argv0, *p;
    if (rc >= 0)
        return 0;
    for (p = argv0; p && *p; p++)
        if (*p == '/')
            name = p + 1;
    fprintf(stderr, "%s: %s\n", name ? name : "async", async_strerror(rc));
    return 1;
}

/* asyncio.run's Ctrl-C: the first cancels main (its cleanup runs, then
 * the leftovers'), the next one, or one during the leftovers' cleanup,
 * ends the process as SIGINT's default action would.                   */
static void drv_on_sigint(struct ev_loop *ev, ev_signal *w, int revents)
{
    async_ev *E = (async_ev *)w->data;
    (void)ev;
    (void)revents;
    if (E->sigint_user)
        return; /* the program handles it */
    if (E->sigint_hits++ == 0 && E->main) {
        async_cancel(&E->loop, E->main);
        return;
    }
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
}

static bool sig_claim(struct ev_loop *ev, int signum);
static void sig_release(int signum);

int(async_ev_main)(async_task *main, async_task_fn fn)
{
    static async_ev E;
    struct ev_loop *ev = ev_default_loop(0);
    bool watch;
    int rc;

    if (ev == NULL) /* no usable backend (LIBEV_FLAGS asks for none there is) */
        return ASYNC_ENOSPC;
    if (E.running)
        return ASYNC_EBUSY; /* called from a task of its own run: E is in use */
    if ((rc = async_ev_init(&E, ev)) < 0)
        return rc; /* LCOV_EXCL_LINE: unreachable, E and ev are not NULL */
    E.sigint_hits = 0;
    /* Another loop of the program may watch SIGINT: then it is that
     * loop's (libev: one loop per signal), and Ctrl-C is left to it. */
    watch = sig_claim(ev, SIGINT);
    if (watch) {
        ev_signal_init(&E.sigint, drv_on_sigint, SIGINT);
        E.sigint.data = &E;
        START_UNREF(ev_signal_start, ev, &E.sigint);
    }
    rc = async_ev_run(&E, main, fn);
    if (watch) {
        STOP_UNREF(ev_signal_stop, ev, &E.sigint);
        sig_release(SIGINT);
    }
    (void)async_loop_close(&E.loop); /* debug mode: reports what is left */
    async_ev_close(&E);
    return rc;
}

/* ---- errno mapping ---- */

int async_errno(int err)
{
    switch (err) {
    case 0:
        return 0;
    case EAGAIN:
        return ASYNC_EAGAIN;
    case ECONNRESET:
        return ASYNC_ECONNRESET;
    case ECONNREFUSED:
        return ASYNC_ECONNREFUSED;
    case EHOSTUNREACH:
    case ENETUNREACH:
        return ASYNC_EHOSTUNREACH;
    case EPIPE:
        return ASYNC_EPIPE;
    case EADDRINUSE:
        return ASYNC_EADDRINUSE;
    case EMFILE:
    case ENFILE:
        return ASYNC_EMFILE;
    case ETIMEDOUT:
        return ASYNC_ETIMEDOUT;
    case EINVAL:
        return ASYNC_EINVAL;
    case EBADF:
        return ASYNC_ECLOSED;
    case ENAMETOOLONG:
        return ASYNC_ETOOLONG;
    default:
        return ASYNC_EOS(err);
    }
}

int async_fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return async_errno(errno);
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return async_errno(errno);
    return 0;
}

/* ---- fd readiness ---- */

static void io_on_ready(struct ev_loop *ev, ev_io *w, int revents)
{
    async_io *io = (async_io *)w->data;
    async_task *t = io->task;
    /* A kept watcher stays armed for its owner's next wait (saves a stop
     * and a start per message); one that fires with nobody waiting is
     * stopped, so an unread fd cannot keep waking the loop. */
    if (!io->keep || t == NULL)
        ev_io_stop(ev, w);
    io->task = NULL; /* tells io_detach this is our own wake-up */
    if (t) {
        drv_of_parked(io)->waits--;
        async_wake(io->L, t, revents & (EV_READ | EV_WRITE));
    }
}

/* async_wake() calls this for every wake-up of a parked task; only an
 * interruption (cancel, timeout, close) finds io->task still set. */
static void io_detach(async_loop *L, async_waiter *self, async_task *t)
{
    async_io *io = (async_io *)(void *)self; /* waiter is the first member */
    (void)L;
    (void)t;
    if (io->task == NULL)
        return;
    ev_io_stop(drv_of_parked(io)->ev, &io->w);
    drv_of_parked(io)->waits--;
    io->task = NULL;
}

void async_io_stop(async_loop *L, async_io *io)
{
    async_ev *E = async_ev_of(L);
    if (E && io) {
        if (io->task)
            async_wake(L, io->task, ASYNC_ECLOSED);
        ev_io_stop(E->ev, &io->w);
    }
}

int async_io_wait(async_loop *L, async_io *io, int fd, int events)
{
    async_ev *E;
    async_task *self;
    int rc;

    if (async_woken(L, &rc))
        return rc;
    E = drv_of(L);
    self = async_current(L);
    if (E == NULL || io == NULL || fd < 0 || (events & ~(EV_READ | EV_WRITE)) || !events)
        return ASYNC_EINVAL;
    if (self == NULL)
        return ASYNC_EPERM;
    if (io->task != NULL)
        return ASYNC_EBUSY;
    io->waiter.detach = io_detach;
    io->task = self;
    io->L = L;
    if (io->w.fd != fd || (io->w.events & (EV_READ | EV_WRITE)) != events || io->w.cb != io_on_ready) {
        if (ev_is_active(&io->w)) /* a kept watcher for another fd */
            ev_io_stop(E->ev, &io->w);
        ev_io_init(&io->w, io_on_ready, fd, events);
    }
    io->w.data = io;
    if (!ev_is_active(&io->w))
        ev_io_start(E->ev, &io->w);
    E->waits++;
    return async_park(L, &io->waiter);
}

/* ---- signals ---- */

/* Which ev_loop watches each signal, and with how many async_signals.
 * libev allows one loop per signal and asserts (aborts) on a second one;
 * this table turns that into ASYNC_EBUSY.  Loops may run in different
 * threads, hence the mutex (taken only by init and close).              */
static struct {
    struct ev_loop *loop;
    unsigned users;
} sig_owner[NSIG];
static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;

/* Claim signum for ev: false if another loop has it. */
static bool sig_claim(struct ev_loop *ev, int signum)
{
    bool ok;
    pthread_mutex_lock(&sig_mu);
    ok = sig_owner[signum].loop == NULL || sig_owner[signum].loop == ev;
    if (ok) {
        sig_owner[signum].loop = ev;
        sig_owner[signum].users++;
    }
    pthread_mutex_unlock(&sig_mu);
    return ok;
}

static void sig_release(int signum)
{
    pthread_mutex_lock(&sig_mu);
    if (--sig_owner[signum].users == 0)
        sig_owner[signum].loop = NULL;
    pthread_mutex_unlock(&sig_mu);
}

static void sig_on_signal(struct ev_loop *ev, ev_signal *w, int revents)
{
    async_signal *s = (async_signal *)w->data;
    async_task *t = s->task;
    (void)ev;
    (void)revents;
    if (t) {
        s->task = NULL;
        ev_unref(ev); /* a waiter held the loop */
        async_ev_of(s->L)->waits--;
        async_wake(s->L, t, w->signum);
    } else {
        s->count++;
    }
}

static void sig_detach(async_loop *L, async_waiter *self, async_task *t)
{
    async_signal *s = (async_signal *)(void *)self;
    (void)t;
    if (s->task) {
        s->task = NULL;
        ev_unref(async_ev_of(L)->ev);
        async_ev_of(L)->waits--;
    }
}

int async_signal_init(async_loop *L, async_signal *s, int signum)
{
    async_ev *E = async_ev_of(L);
    if (E == NULL || s == NULL || signum <= 0 || signum >= NSIG || signum == SIGKILL ||
        signum == SIGSTOP)
        return ASYNC_EINVAL;
    if (s->active)
        return ASYNC_EBUSY; /* already watching: stop it first */
    if (!sig_claim(E->ev, signum))
        return ASYNC_EBUSY; /* another loop watches this signal */
    if (signum == SIGINT)
        E->sigint_user = 1; /* async_ev_main leaves Ctrl-C to the program */
    s->waiter.detach = sig_detach;
    s->task = NULL;
    s->L = L;
    s->count = 0;
    ev_signal_init(&s->w, sig_on_signal, signum);
    s->w.data = s;
    ev_signal_start(E->ev, &s->w);
    ev_unref(E->ev); /* watching alone does not keep the loop alive */
    s->active = 1;
    return 0;
}

int async_signal_wait(async_loop *L, async_signal *s)
{
    async_ev *E;
    int rc;

    if (async_woken(L, &rc))
        return rc;
    E = async_ev_of(L);
    if (E == NULL || s == NULL)
        return ASYNC_EINVAL;
    if (!s->active)
        return ASYNC_ECLOSED;
    if (s->count) {
        s->count--;
        return s->w.signum;
    }
    if (async_current(L) == NULL)
        return ASYNC_EPERM;
    if (s->task)
        return ASYNC_EBUSY;
    s->task = async_current(L);
    ev_ref(E->ev); /* a task waits: keep the loop alive */
    E->waits++;
    return async_park(L, &s->waiter);
}

void async_signal_close(async_loop *L, async_signal *s)
{
    async_ev *E = async_ev_of(L);
    async_task *t;
    if (E == NULL || s == NULL || !s->active)
        return;
    t = s->task;
    if (t) {
        s->task = NULL;
        ev_unref(E->ev);
        E->waits--;
    }
    STOP_UNREF(ev_signal_stop, E->ev, &s->w);
    sig_release(s->w.signum);
    s->active = 0;
    if (t)
        async_wake(L, t, ASYNC_ECLOSED);
}
