/* SPDX-License-Identifier: MIT */
/* Offload on worker threads and name resolution: results come back,
 * the loop keeps running meanwhile, cancelling a queued call, interrupting
 * a running one, pool shutdown, misuse; a pool that cannot start, calls
 * taken back from anywhere in the queue, the resolver's errors. */
#define _GNU_SOURCE
#include "iotest.h"
#include "../faults/shim.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static async_pool P, P1;
static pthread_t threads[2];

static int pool_setup(void **state)
{
    io_setup(state);
    assert_int_equal(async_pool_init(TLOOP, &P, threads, 2), 0);
    return 0;
}

/* The same on the virtual clock (async_ev_clock_virtual). */
static int pool_setup_virtual(void **state)
{
    pool_setup(state);
    assert_int_equal(async_ev_clock_virtual(&TE), 0);
    return 0;
}

static int pool_teardown(void **state)
{
    async_pool_close(&P);
    return io_teardown(state);
}
#define PT(test) cmocka_unit_test_setup_teardown(test, pool_setup, pool_teardown)
#define PT_V(test) cmocka_unit_test_setup_teardown(test, pool_setup_virtual, pool_teardown)

/* A gate the blocking functions wait on, opened from the loop side. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, started, ran[5];
/* A permit per call started, given by the worker: the loop waits on it,
 * it never polls on a sleep for the workers to get going. */
static async_notify started_n;

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 0;
    started = 0;
    memset(ran, 0, sizeof ran);
    pthread_mutex_unlock(&gate_mu);
    async_notify_init(&started_n);
}

/* From a worker: one more call has started. */
static void note_started(void)
{
    pthread_mutex_lock(&gate_mu);
    started++;
    pthread_mutex_unlock(&gate_mu);
    async_notify_give(TLOOP, &started_n);
}

static void gate_set(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* Blocks until the gate opens (or the caller gave up), returns arg's id * 10. */
static int blocking(async_offload *job, void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&gate_mu);
    ran[id] = 1;
    pthread_mutex_unlock(&gate_mu);
    note_started();
    pthread_mutex_lock(&gate_mu);
    while (!gate_open && !async_offload_is_cancelled(job)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 2000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&gate_cv, &gate_mu, &ts);
    }
    pthread_mutex_unlock(&gate_mu);
    return id * 10;
}

static int worker_started(void)
{
    int n;
    pthread_mutex_lock(&gate_mu);
    n = started;
    pthread_mutex_unlock(&gate_mu);
    return n;
}

/* ---- the loop keeps running while a call blocks a worker ---- */
struct basic {
    async_task task, ticker;
    async_co co, tco;
    async_offload job;
    int rc, ticks;
    pthread_t caller;
};

static int basic_ticker(async_loop *L, async_task *self)
{
    struct basic *f = async_frame(self, struct basic, ticker);
    async_begin(L, &f->tco);
    while (f->ticks < 5) {
        async_await(async_sleep(L, 1));
        f->ticks++;
    }
    gate_set(); /* only now may the offloaded call return */
    async_end;
}

static int on_other_thread(async_offload *job, void *arg)
{
    struct basic *f = (struct basic *)arg;
    f->caller = pthread_self();
    return blocking(job, (void *)(intptr_t)4); /* 40 */
}

static int basic_fn(async_loop *L, async_task *self)
{
    struct basic *f = async_frame(self, struct basic, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->ticker, basic_ticker);
    async_await_val(f->rc, async_offload_run(L, &P, &f->job, on_other_thread, f));
    async_await(async_join(L, &f->ticker));
    async_end;
}

static void result_comes_back_while_loop_runs(void **state)
{
    static struct basic f;
    (void)state;
    memset(&f, 0, sizeof f);
    gate_reset();
    assert_int_equal(io_run(&f.task, basic_fn), 0);
    assert_int_equal(f.rc, 40);
    assert_int_equal(f.ticks, 5); /* the ticker ran while the call blocked */
    assert_false(pthread_equal(f.caller, pthread_self()));
}

/* ---- cancelling a call that has not started: it never runs ---- */
struct queued {
    async_task task, a, b, c;
    async_co co, aco, bco, cco;
    async_offload ja, jb, jc;
    int ra, rb, rc;
};

static int queued_a(async_loop *L, async_task *self)
{
    struct queued *f = async_frame(self, struct queued, a);
    async_begin(L, &f->aco);
    async_await_rc(f->ra, async_offload_run(L, &P, &f->ja, blocking, (void *)1));
    async_end;
}

static int queued_b(async_loop *L, async_task *self)
{
    struct queued *f = async_frame(self, struct queued, b);
    async_begin(L, &f->bco);
    async_await_rc(f->rb, async_offload_run(L, &P, &f->jb, blocking, (void *)2));
    async_end;
}

static int queued_c(async_loop *L, async_task *self)
{
    struct queued *f = async_frame(self, struct queued, c);
    async_begin(L, &f->cco);
    async_await_rc(f->rc, async_offload_run(L, &P, &f->jc, blocking, (void *)3));
    async_end;
}

static int queued_fn(async_loop *L, async_task *self)
{
    struct queued *f = async_frame(self, struct queued, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->a, queued_a); /* occupies worker 1 */
    async_spawn(L, &f->b, queued_b); /* occupies worker 2 */
    while (worker_started() < 2) /* both workers busy */
        async_await(async_notify_take(L, &started_n));
    async_spawn(L, &f->c, queued_c); /* waits in the queue */
    async_await(async_yield()); /* c steps first: its call is queued */
    assert_int_equal(async_task_state(&f->c), ASYNC_TASK_WAITING);
    async_cancel(L, &f->c);
    async_await(async_join(L, &f->c)); /* c keeps its result in f->rc */
    gate_set();
    async_await(async_join(L, &f->a));
    async_await(async_join(L, &f->b));
    async_end;
}

static void cancelled_queued_call_never_runs(void **state)
{
    static struct queued f;
    (void)state;
    memset(&f, 0, sizeof f);
    gate_reset();
    assert_int_equal(io_run(&f.task, queued_fn), 0);
    assert_int_equal(f.ra, 10);
    assert_int_equal(f.rb, 20);
    assert_int_equal(f.rc, ASYNC_ECANCELED);
    assert_int_equal(ran[3], 0);
}

/* ---- a deadline on a running call: reported once fn has returned ---- */
struct running {
    async_task task, clock;
    async_co co, cco;
    async_offload job;
    async_timeout to;
    int rc, started_when_reported;
    async_tick t0, t1;
};

/* The clock's hand: once the call runs, time moves past its deadline
 * (the virtual clock holds still while a call is in flight). */
static int running_clock(async_loop *L, async_task *self)
{
    struct running *f = async_frame(self, struct running, clock);
    async_begin(L, &f->cco);
    while (worker_started() == 0)
        async_await(async_notify_take(L, &started_n));
    assert_int_equal(async_now(L), f->t0);
    assert_int_equal(async_ev_clock_advance(&TE, ASYNC_MS(20)), 0);
    async_end;
}

static int running_fn(async_loop *L, async_task *self)
{
    struct running *f = async_frame(self, struct running, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_spawn(L, &f->clock, running_clock);
    async_await_for(&f->to, ASYNC_MS(20), f->rc, async_offload_run(L, &P, &f->job, blocking, (void *)1));
    f->t1 = async_now(L);
    f->started_when_reported = worker_started();
    async_await(async_join(L, &f->clock));
    async_end;
}

static void timeout_on_running_call_waits_for_it(void **state)
{
    static struct running f;
    (void)state;
    /* On the virtual clock the call is running when the 20 ms deadline
     * comes, whatever the machine's load: time moves only once it runs. */
    memset(&f, 0, sizeof f);
    gate_reset(); /* never opened: fn returns only because it sees the cancel */
    assert_int_equal(io_run(&f.task, running_fn), 0);
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
    assert_int_equal(f.started_when_reported, 1);
    /* reported when fn returned, which takes no virtual time */
    assert_int_equal(f.t1 - f.t0, ASYNC_MS(20));
    assert_true(async_offload_is_cancelled(&f.job));
    /* The job is free again. */
    assert_int_equal(async_offload_run(TLOOP, &P, &f.job, blocking, NULL), ASYNC_EPERM);
}

/* ---- name resolution ---- */
struct res {
    async_task task;
    async_co co;
    async_resolve_req r1, r2, r3;
    int n1, n2, n3, n4;
};

static int res_fn(async_loop *L, async_task *self)
{
    struct res *f = async_frame(self, struct res, task);
    async_begin(L, &f->co);
    async_await_rc(f->n1, async_resolve(L, &P, &f->r1, "127.0.0.1", 80, AF_UNSPEC));
    async_await_rc(f->n2, async_resolve(L, &P, &f->r2, "localhost", 8080, AF_INET));
    async_await_rc(f->n3, async_resolve(L, &P, &f->r3, "::1", 1, AF_INET));
    async_await_rc(f->n4, async_resolve(L, NULL, &f->r3, "localhost", 1, AF_UNSPEC));
    async_end;
}

static void resolve_numeric_and_names(void **state)
{
    static struct res f;
    char buf[64];
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, res_fn), 0);
    assert_int_equal(f.n1, 1);
    assert_string_equal(async_addr_str(&f.r1.addrs[0], buf, sizeof buf), "127.0.0.1:80");
    assert_true(f.n2 >= 1); /* from /etc/hosts, on a worker */
    assert_string_equal(async_addr_str(&f.r2.addrs[0], buf, sizeof buf), "127.0.0.1:8080");
    assert_int_equal(f.n3, ASYNC_ENAME); /* an IPv6 literal asked as IPv4 */
    assert_int_equal(f.n4, ASYNC_EINVAL); /* a name needs a pool */
}

/* ---- misuse and shutdown ---- */
struct misuse {
    async_task task;
    async_co co;
    async_offload job;
    async_resolve_req r;
    int rc[4];
};

static int misuse_fn(async_loop *L, async_task *self)
{
    struct misuse *f = async_frame(self, struct misuse, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc[0], async_offload_run(L, &P, &f->job, NULL, NULL));
    async_await_rc(f->rc[1], async_offload_run(L, NULL, &f->job, blocking, NULL));
    async_await_rc(f->rc[2], async_resolve(L, &P, &f->r, "", 80, AF_UNSPEC));
    async_pool_close(&P);
    async_await_rc(f->rc[3], async_offload_run(L, &P, &f->job, blocking, NULL));
    async_end;
}

static void misuse_and_closed_pool(void **state)
{
    static struct misuse f;
    static pthread_t none[1];
    static async_pool P2;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, misuse_fn), 0);
    assert_int_equal(f.rc[0], ASYNC_EINVAL);
    assert_int_equal(f.rc[1], ASYNC_EINVAL);
    assert_int_equal(f.rc[2], ASYNC_EINVAL);
    assert_int_equal(f.rc[3], ASYNC_ECLOSED);
    assert_int_equal(async_pool_init(TLOOP, &P2, none, 0), ASYNC_EINVAL);
    assert_int_equal(async_pool_init(NULL, &P2, none, 1), ASYNC_EINVAL);
    assert_int_equal(async_pool_init(TLOOP, &P, threads, 2), 0); /* for teardown */
}

/* ---- a pool that cannot start: each failure is reported, and what was
 * started is stopped and joined ---- */

/* How many of the process's threads are named name: a count that other
 * threads (a sanitizer's, libc's) do not disturb. */
static int count_threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    char path[288], comm[32]; /* a d_name is at most 255 bytes */
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue; /* exited while we looked */
        if (fgets(comm, sizeof comm, f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            n += strcmp(comm, name) == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Waits, bounded, until the process has n pool threads and returns how
 * many it has: the kernel may list a joined thread for a moment more, the
 * previous test's included. */
static int settled_pool_threads(int n)
{
    int tries = 0;
    while (count_threads_named("async-pool") != n && tries++ < 1000)
        usleep(1000);
    return count_threads_named("async-pool");
}

static void pool_init_failures(void **state)
{
    static async_pool P2;
    static pthread_t th[3];
    (void)state;
    assert_int_equal(settled_pool_threads(2), 2); /* the fixture's pool P */
    fault_arm(FF_MUTEX_INIT, -1, 0, 1, ENOMEM, 0);
    assert_int_equal(async_pool_init(TLOOP, &P2, th, 3), ASYNC_EOS(ENOMEM));
    fault_arm(FF_COND_INIT, -1, 0, 1, EAGAIN, 0);
    assert_int_equal(async_pool_init(TLOOP, &P2, th, 3), ASYNC_EOS(EAGAIN));
    fault_arm(FF_PTHREAD_CREATE, -1, 1, 1, EAGAIN, 0); /* the second thread */
    assert_int_equal(async_pool_init(TLOOP, &P2, th, 3), ASYNC_EOS(EAGAIN));
    fault_clear();
    /* the first was joined */
    assert_int_equal(settled_pool_threads(2), 2);
    assert_int_equal(async_pool_init(TLOOP, NULL, th, 3), ASYNC_EINVAL);
    assert_int_equal(async_pool_init(TLOOP, &P2, NULL, 3), ASYNC_EINVAL);
    async_pool_close(NULL);
    async_pool_close(&P2); /* never started: nothing */
    assert_false(async_offload_is_cancelled(NULL));
}

/* ---- queued calls taken back from the middle and the end of the queue;
 * a job used twice; a function that claims to be pending ---- */
static int pending_fn(async_offload *job, void *arg)
{
    (void)job;
    (void)arg;
    return ASYNC_PENDING;
}

struct q3m {
    async_task task;
    async_co co;
    async_offload job;
    int id, rc;
};

struct q3 {
    async_task task;
    async_co co;
    struct q3m m[5];
    int i, busy, pend;
};

static int q3_member(async_loop *L, async_task *self)
{
    struct q3m *m = async_frame(self, struct q3m, task);
    async_begin(L, &m->co);
    async_await_rc(m->rc, async_offload_run(L, &P, &m->job, blocking, (void *)(intptr_t)m->id));
    async_end;
}

static int q3_fn(async_loop *L, async_task *self)
{
    struct q3 *f = async_frame(self, struct q3, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 5; f->i++) { /* two run, three wait in the queue */
        f->m[f->i].id = f->i;
        async_spawn(L, &f->m[f->i].task, q3_member);
    }
    while (worker_started() < 2)
        async_await(async_notify_take(L, &started_n));
    async_await(async_yield()); /* every member has queued its call */
    async_cancel(L, &f->m[3].task); /* in the middle of the queue */
    async_cancel(L, &f->m[4].task); /* at its end */
    async_await(async_join(L, &f->m[3].task));
    async_await(async_join(L, &f->m[4].task));
    /* a job already in use by m[2] */
    async_await_rc(f->busy, async_offload_run(L, &P, &f->m[2].job, blocking, NULL));
    gate_set();
    for (f->i = 0; f->i < 3; f->i++)
        async_await(async_join(L, &f->m[f->i].task));
    async_await_rc(f->pend, async_offload_run(L, &P, &f->m[0].job, pending_fn, NULL));
    async_end;
}

static void queued_calls_taken_back_anywhere(void **state)
{
    static struct q3 f;
    (void)state;
    memset(&f, 0, sizeof f);
    gate_reset();
    assert_int_equal(io_run(&f.task, q3_fn), 0);
    assert_int_equal(f.m[0].rc, 0);
    assert_int_equal(f.m[1].rc, 10);
    assert_int_equal(f.m[2].rc, 20);
    assert_int_equal(f.m[3].rc, ASYNC_ECANCELED);
    assert_int_equal(f.m[4].rc, ASYNC_ECANCELED);
    assert_int_equal(ran[3] + ran[4], 0);
    assert_int_equal(f.busy, ASYNC_EBUSY);
    assert_int_equal(f.pend, ASYNC_EINVAL); /* never a result */
    /* the queue still works after the middle and the tail were removed */
    assert_null(P.head);
    assert_null(P.tail);
}

/* ---- closing the pool with calls still queued: they complete with
 * ASYNC_ECANCELED and never run ---- */
static int short_job(async_offload *job, void *arg)
{
    (void)job;
    (void)arg;
    note_started();
    usleep(30000); /* still running when the pool closes: it waits for it */
    return 7;
}

struct qclose {
    async_task task, a, b;
    async_co co, aco, bco;
    async_offload ja, jb;
    int ra, rb;
};

static int qclose_a(async_loop *L, async_task *self)
{
    struct qclose *f = async_frame(self, struct qclose, a);
    async_begin(L, &f->aco);
    async_await_rc(f->ra, async_offload_run(L, &P1, &f->ja, short_job, NULL));
    async_end;
}

static int qclose_b(async_loop *L, async_task *self)
{
    struct qclose *f = async_frame(self, struct qclose, b);
    async_begin(L, &f->bco);
    async_await_rc(f->rb, async_offload_run(L, &P1, &f->jb, blocking, (void *)4));
    async_end;
}

static int qclose_fn(async_loop *L, async_task *self)
{
    struct qclose *f = async_frame(self, struct qclose, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->a, qclose_a);
    async_spawn(L, &f->b, qclose_b); /* behind a, on the pool's one thread */
    while (worker_started() == 0) /* a's call runs (not a guess at how soon) */
        async_await(async_notify_take(L, &started_n));
    async_pool_close(&P1); /* waits for a's call; b never starts */
    async_await(async_join(L, &f->a));
    async_await(async_join(L, &f->b));
    async_end;
}

static void close_with_calls_queued(void **state)
{
    static struct qclose f;
    static pthread_t one[1];
    (void)state;
    memset(&f, 0, sizeof f);
    gate_reset();
    assert_int_equal(async_pool_init(TLOOP, &P1, one, 1), 0);
    assert_int_equal(io_run(&f.task, qclose_fn), 0);
    assert_int_equal(f.ra, 7);
    assert_int_equal(f.rb, ASYNC_ECANCELED);
    assert_int_equal(ran[4], 0);
}

/* ---- the virtual clock holds still while a call is in flight: a
 * deadline around a call that takes real time does not expire, and the
 * call takes no virtual time ---- */
struct vhold {
    async_task task;
    async_co co;
    async_offload job;
    async_timeout to;
    int rc;
    async_tick t0, t1;
};

static int vhold_fn(async_loop *L, async_task *self)
{
    struct vhold *f = async_frame(self, struct vhold, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_await_for(&f->to, ASYNC_MS(1), f->rc, async_offload_run(L, &P, &f->job, short_job, NULL));
    f->t1 = async_now(L);
    async_end;
}

static void virtual_clock_holds_while_a_call_runs(void **state)
{
    static struct vhold f;
    (void)state;
    memset(&f, 0, sizeof f);
    gate_reset();
    assert_int_equal(io_run(&f.task, vhold_fn), 0);
    assert_int_equal(f.rc, 7); /* 30 ms of real time inside a 1 ms deadline */
    assert_int_equal(f.t1, f.t0);
}

/* ---- the resolver's errors: a name that does not resolve, the retry
 * without AI_ADDRCONFIG, an answer too large to keep, misuse ---- */
struct rerr {
    async_task task;
    async_co co;
    async_resolve_req r;
    int rc[8], gai[2];
};

static int rerr_fn(async_loop *L, async_task *self)
{
    struct rerr *f = async_frame(self, struct rerr, task);
    async_begin(L, &f->co);
    fault_arm(FF_GETADDRINFO, -1, 0, 2, EAI_NONAME, 0); /* with and without AI_ADDRCONFIG */
    async_await_rc(f->rc[0], async_resolve(L, &P, &f->r, "no.such.host", 80, AF_UNSPEC));
    f->gai[0] = f->r.gai_error;
    fault_arm(FF_GETADDRINFO, -1, 0, 1, EAI_ADDRFAMILY, 0); /* retried without it: resolves */
    async_await_rc(f->rc[1], async_resolve(L, &P, &f->r, "localhost", 80, AF_INET));
    fault_arm(FF_GETADDRINFO, -1, 0, 1, EAI_AGAIN, 0); /* no retry for this one */
    async_await_rc(f->rc[2], async_resolve(L, &P, &f->r, "localhost", 80, AF_INET));
    f->gai[1] = f->r.gai_error;
    fault_arm_gai_addrlen(4096); /* an address larger than any sockaddr */
    async_await_rc(f->rc[3], async_resolve(L, &P, &f->r, "localhost", 80, AF_INET));
    async_await_rc(f->rc[4], async_resolve(L, &P, NULL, "localhost", 80, AF_INET));
    async_await_rc(f->rc[5], async_resolve(L, &P, &f->r, "localhost", 65536, AF_INET));
    async_await_rc(f->rc[6], async_resolve(L, &P, &f->r, "localhost", 80, AF_UNIX));
    async_await_rc(f->rc[7], async_resolve(L, &P, &f->r, NULL, 80, AF_INET));
    async_end;
}

static void resolver_errors(void **state)
{
    static struct rerr f;
    (void)state;
    memset(&f, 0, sizeof f);
    assert_int_equal(io_run(&f.task, rerr_fn), 0);
    fault_clear();
    assert_int_equal(f.rc[0], ASYNC_ENAME);
    assert_int_equal(f.gai[0], EAI_NONAME);
    assert_true(f.rc[1] >= 1);
    assert_int_equal(f.rc[2], ASYNC_ENAME);
    assert_int_equal(f.gai[1], EAI_AGAIN);
    assert_int_equal(f.rc[3], ASYNC_ENAME); /* nothing usable */
    assert_int_equal(f.rc[4], ASYNC_EINVAL);
    assert_int_equal(f.rc[5], ASYNC_EINVAL);
    assert_int_equal(f.rc[6], ASYNC_EINVAL);
    assert_int_equal(f.rc[7], ASYNC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT(result_comes_back_while_loop_runs),
        PT_V(cancelled_queued_call_never_runs),
        PT_V(timeout_on_running_call_waits_for_it),
        PT(resolve_numeric_and_names),
        PT(misuse_and_closed_pool),
        PT(pool_init_failures),
        PT_V(queued_calls_taken_back_anywhere),
        PT_V(close_with_calls_queued),
        PT_V(virtual_clock_holds_while_a_call_runs),
        PT(resolver_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
