/* SPDX-License-Identifier: MIT */
/* The libev driver: sleeping costs no CPU, embedding in an application's
 * ev_loop, fairness between yielding tasks and I/O, signals, posts from
 * other threads, deadlock detection, misuse. */
#define _GNU_SOURCE
#include "iotest.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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
    async_await_for(&f->to, ASYNC_MS(5), f->rc1, async_signal_wait(L, &f->sig));
    async_spawn(L, &f->stopper, sigstop_stopper);
    async_await_rc(f->rc2, async_signal_wait(L, &f->sig));
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
        async_await(async_sleep(L, ASYNC_SEC(10)));
        async_shield_end(&f->sh);
    }
    async_return(f->rc == ASYNC_ECANCELED ? 7 : 1);
    async_end;
}

/* Runs async_ev_main in a child; returns its wait status after `hits`
 * SIGINTs sent once it is waiting. */
static int sigint_child(int stubborn, int hits)
{
    static struct patient p;
    int fds[2], status = 0;
    char c;
    pid_t pid;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ready_fd = fds[1];
        memset(&p, 0, sizeof p);
        p.stubborn = stubborn;
        alarm(20); /* never outlive the test */
        _exit(async_ev_main(&p.task, patient_fn));
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    usleep(50000); /* into its sleep */
    while (hits--) {
        kill(pid, SIGINT);
        usleep(50000);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        IOT(sleeping_loop_uses_no_cpu),
        IOT(nested_ev_main_is_refused),
        IOT(embeds_in_application_loop),
        IOT(yielding_task_does_not_starve_io),
        IOT(signal_is_awaitable),
        IOT(signal_wait_times_out_and_stops),
        IOT(thread_posts_wake_the_loop),
        IOT(deadlock_is_reported),
        IOT(core_run_over_ev_port),
        IOT(misuse_is_reported),
        IOT(abi_mismatch_is_refused),
        IOT(run_cancels_leftover_tasks),
        IOT(ctrl_c_cancels_main),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
