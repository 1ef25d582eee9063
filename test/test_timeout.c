/* SPDX-License-Identifier: MIT */
/* Deadlines around awaits: wait_for (async_await_for) and timeout scopes
 * (async_timeout_begin/end) interrupting every kind of await. */
#include <string.h>

#include "testlib.h"

/* One task frame with everything a test might wait on. */
struct tw {
    async_task task;
    async_co co;
    async_timeout to, to2;
    async_event ev;
    async_sem sem;
    async_lock lock;
    async_cond cond;
    async_future fut;
    async_queue q;
    int qbuf[2];
    int item, rc, rc2, kind;
    async_tick ticks;
    async_task *target;
    async_group *group;
    bool flag;
};

enum { K_EVENT, K_SEM, K_LOCK, K_QGET, K_QPUT, K_SLEEP, K_FUTURE, K_JOIN, K_GROUP, K_COND };

static void tw_init(struct tw *f)
{
    *f = (struct tw){0};
    async_event_init(&f->ev);
    async_sem_init(&f->sem, 0, 0);
    async_lock_init(&f->lock);
    async_cond_init(&f->cond, &f->lock);
    async_future_init(&f->fut);
    async_queue_init(&f->q, f->qbuf, sizeof f->qbuf[0], 2);
}

/* The await that `kind` selects; all block until the test intervenes. */
static int op_of(async_loop *L, struct tw *f)
{
    switch (f->kind) {
    case K_EVENT:
        return async_event_wait(L, &f->ev);
    case K_SEM:
        return async_sem_acquire(L, &f->sem);
    case K_LOCK:
        return async_lock_acquire(L, &f->lock);
    case K_QGET:
        return async_queue_get(L, &f->q, &f->item);
    case K_QPUT:
        return async_queue_put(L, &f->q, &f->item);
    case K_SLEEP:
        return async_sleep(L, T_FAR(1000000, 30000));
    case K_FUTURE:
        return async_future_wait(L, &f->fut);
    case K_JOIN:
        return async_join(L, f->target);
    case K_GROUP:
        return async_group_wait(L, f->group);
    case K_COND:
        return async_cond_wait(L, &f->cond);
    default:
        return ASYNC_EINVAL;
    }
}

static int wait_for_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    if (f->kind == K_COND)
        async_await(async_lock_acquire(L, &f->lock));
    async_await_for(&f->to, f->ticks, f->rc, op_of(L, f));
    t_logi("rc", f->rc);
    t_logi("at", (long)async_now(L));
    if (f->kind == K_COND) {
        f->flag = async_lock_is_locked(&f->lock) && f->lock.owner == self;
        async_lock_release(L, &f->lock);
    }
    async_end;
}

/* Condition awaits cannot go through op_of (they are a macro). */
static int until_for_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    f->rc = async_timeout_begin(&f->to, f->ticks);
    async_await_until(f->flag);
    f->rc = async_timeout_end(&f->to);
    async_finally;
    t_logi("rc", async_error());
    t_logi("at", (long)async_now(L));
    async_end;
}

/* Every blocking await gives up at the deadline with ASYNC_ETIMEDOUT, and
 * leaves nothing linked behind: a later wake-up finds no waiter. */
static void each_kind_of_await_times_out(void **state)
{
    static struct tw f;
    static const int kinds[] = {K_EVENT, K_SEM, K_QGET, K_QPUT, K_SLEEP, K_FUTURE};
    unsigned i;
    async_tick dl;
    (void)state;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        t_reset(1000, false);
        tw_init(&f);
        f.kind = kinds[i];
        f.ticks = 50;
        if (f.kind == K_QPUT) { /* fill the queue first */
            async_queue_try_put(&TL, &f.q, &f.item);
            async_queue_try_put(&TL, &f.q, &f.item);
        }
        async_spawn(&TL, &f.task, wait_for_fn);
        t_settle();
        t_advance(49);
        assert_false(async_task_is_done(&f.task));
        t_advance(1);
        assert_true(async_task_is_done(&f.task));
        assert_log("rc-2 at1050");
        /* Nothing left behind. */
        assert_true(t_list_empty(&f.ev.waiters));
        assert_true(t_list_empty(&f.sem.waiters));
        assert_true(t_list_empty(&f.q.waiters[0]));
        assert_true(t_list_empty(&f.q.waiters[1]));
        assert_true(t_list_empty(&f.fut.ev.waiters));
        assert_false(async_loop_next_deadline(&TL, &dl));
        async_sem_release(&TL, &f.sem);
        assert_int_equal(async_sem_count(&f.sem), 1); /* no hidden waiter took it */
    }
}

static void lock_and_cond_waits_time_out_holding_right_state(void **state)
{
    static struct tw f, holder;
    (void)state;
    /* Lock: another task holds it. */
    tw_init(&f);
    tw_init(&holder);
    f.kind = K_LOCK;
    f.ticks = 20;
    f.lock.owner = &holder.task; /* held by someone else */
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    t_advance(20);
    assert_log("rc-2 at1020");
    assert_ptr_equal(f.lock.owner, &holder.task);
    assert_true(t_list_empty(&f.lock.waiters));

    /* Condition: the wait gives up but returns holding the lock. */
    t_reset(1000, false);
    tw_init(&f);
    f.kind = K_COND;
    f.ticks = 20;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    assert_false(async_lock_is_locked(&f.lock)); /* released while waiting */
    t_advance(20);
    assert_log("rc-2 at1020");
    assert_true(f.flag); /* the lock was ours again when the wait returned */
    assert_false(async_lock_is_locked(&f.lock));
}

static void condition_await_times_out(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    f.ticks = 30;
    async_spawn(&TL, &f.task, until_for_fn);
    t_settle();
    t_advance(30);
    assert_log("rc-2 at1030");
}

/* A result that arrives in time is kept, and the timer is disarmed. */
static void result_in_time_is_kept(void **state)
{
    static struct tw f;
    async_tick dl;
    (void)state;
    tw_init(&f);
    f.kind = K_QGET;
    f.ticks = 100;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    t_advance(40);
    f.item = 0;
    {
        int v = 99;
        assert_int_equal(async_queue_try_put(&TL, &f.q, &v), 0);
    }
    t_settle();
    assert_log("rc0 at1040");
    assert_int_equal(f.item, 99);
    assert_false(async_loop_next_deadline(&TL, &dl));
}

/* Races between a wake-up and the deadline. */
struct setter_at {
    async_task task;
    async_co co;
    struct tw *f;
    async_tick at;
};

static int put_later(async_loop *L, async_task *self)
{
    struct setter_at *s = async_frame(self, struct setter_at, task);
    int v = 7;
    async_begin(L, &s->co);
    async_await(async_sleep(L, s->at));
    async_queue_try_put(L, &s->f->q, &v);
    async_end;
}

/* The item was handed to the waiter between passes; the deadline passes
 * before the waiter runs.  It keeps the item: a result that arrived in
 * time is never discarded. */
static void item_handed_over_before_deadline_is_kept(void **state)
{
    static struct tw f;
    int v = 7;
    (void)state;
    tw_init(&f);
    f.kind = K_QGET;
    f.ticks = 50;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    async_vclock_advance(&TVC, 49);
    assert_int_equal(async_queue_try_put(&TL, &f.q, &v), 0); /* handed over */
    assert_int_equal(async_task_state(&f.task), ASYNC_TASK_READY);
    async_vclock_advance(&TVC, 1);
    t_settle(); /* deadline fires before the waiter runs */
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.item, 7);
    assert_int_equal(async_queue_count(&f.q), 0);
}

/* Deadline and producer on the same tick: timers fire before tasks run,
 * so the wait times out, and the item stays queued for the next get. */
static void deadline_on_the_producers_tick_loses_nothing(void **state)
{
    static struct tw f;
    static struct setter_at s;
    int v = 0;
    (void)state;
    tw_init(&f);
    s = (struct setter_at){0};
    s.f = &f;
    s.at = 50;
    async_spawn(&TL, &s.task, put_later);
    f.kind = K_QGET;
    f.ticks = 50;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    t_advance(50);
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
    assert_int_equal(async_queue_count(&f.q), 1);
    assert_int_equal(async_queue_try_get(&TL, &f.q, &v), 0);
    assert_int_equal(v, 7);
}

/* Regression (model test, await_for_error): an *error* result that
 * arrived in time is kept too, not replaced by ASYNC_ETIMEDOUT. */
static void error_result_in_time_is_kept(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    f.kind = K_QGET;
    f.ticks = 10;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    async_queue_close(&TL, &f.q); /* the get's result: ASYNC_ECLOSED */
    async_vclock_advance(&TVC, 20); /* deadline passes before the task runs */
    t_settle();
    assert_int_equal(f.rc, ASYNC_ECLOSED);
}

/* Regression (model test, await_until_interrupt): a timeout or a cancel
 * reaches a condition await even while other tasks keep the loop busy
 * (the poller is re-queued every pass, never "suspended"). */
struct busy {
    async_task task;
    async_co co;
};

static int busy_fn(async_loop *L, async_task *self)
{
    struct busy *f = async_frame(self, struct busy, task);
    async_begin(L, &f->co);
    for (;;)
        async_await(async_yield());
    async_end;
}

static void interrupts_reach_a_busy_condition_await(void **state)
{
    static struct busy b;
    static struct tw timed, cancelled;
    int passes;
    (void)state;
    b = (struct busy){0};
    tw_init(&timed);
    tw_init(&cancelled);
    timed.ticks = 5;
    cancelled.ticks = 1000;
    async_spawn(&TL, &b.task, busy_fn);
    async_spawn(&TL, &timed.task, until_for_fn);
    async_spawn(&TL, &cancelled.task, until_for_fn);
    for (passes = 0; passes < 3; passes++)
        async_run_once(&TL);
    async_cancel(&TL, &cancelled.task);
    for (passes = 0; passes < 20; passes++) {
        async_vclock_advance(&TVC, 1);
        async_run_once(&TL);
    }
    assert_true(async_task_is_done(&timed.task));
    assert_int_equal(async_task_result(&timed.task), ASYNC_ETIMEDOUT);
    assert_true(async_task_is_done(&cancelled.task));
    assert_int_equal(async_task_result(&cancelled.task), ASYNC_ECANCELED);
    async_cancel(&TL, &b.task);
    t_settle();
}

/* A scope spans several awaits; once expired, every await inside reports
 * the timeout at once, until the scope closes. */
static int scope_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    assert_int_equal(async_timeout_begin(&f->to, 100), 0);
    async_await_rc(f->rc, async_sleep(L, 60));
    t_logi("a", f->rc);
    async_await_rc(f->rc, async_sleep(L, 60));
    t_logi("b", f->rc);
    t_logi("at", (long)async_now(L));
    async_await_rc(f->rc, async_sleep(L, 60));
    t_logi("c", f->rc);
    t_logi("end", async_timeout_end(&f->to));
    async_await_rc(f->rc, async_sleep(L, 10));
    t_logi("after", f->rc);
    t_logi("at", (long)async_now(L));
    async_end;
}

static void scope_covers_several_awaits(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &f.task, scope_fn), 0);
    assert_log("a0 b-2 at1100 c-2 end-2 after0 at1110");
}

/* Nested scopes: the inner one expiring does not touch the outer one; the
 * outer one expiring interrupts both. */
static int nested_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 100);
    async_timeout_begin(&f->to2, 10);
    async_await_rc(f->rc, async_sleep(L, 50));
    t_logi("inner", f->rc);
    t_logi("end2", async_timeout_end(&f->to2));
    async_await_rc(f->rc, async_sleep(L, 20));
    t_logi("outer-ok", f->rc);
    async_timeout_begin(&f->to2, 500);
    async_await_rc(f->rc, async_sleep(L, 200));
    t_logi("both", f->rc);
    t_logi("at", (long)async_now(L));
    t_logi("end2", async_timeout_end(&f->to2));
    async_await_rc(f->rc, async_sleep(L, 1));
    t_logi("still", f->rc);
    t_logi("end1", async_timeout_end(&f->to));
    async_end;
}

static void nested_scopes(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &f.task, nested_fn), 0);
    assert_log("inner-2 end2-2 outer-ok0 both-2 at1100 end20 still-2 end1-2");
}

/* A timeout interrupts a child coroutine awaited inline: the child's
 * cleanup runs, and awaits inside it report the timeout too. */
struct kid {
    async_co co;
    int rc;
};

static int kid_fn(async_loop *L, struct kid *k)
{
    async_begin(L, &k->co);
    async_await(async_sleep(L, 1000));
    t_log("kid-not-reached");
    async_finally;
    t_logi("kid-cleanup", async_error());
    async_await_rc(k->rc, async_sleep(L, 1));
    t_logi("kid-cleanup-await", k->rc);
    async_end;
}

struct kidparent {
    async_task task;
    async_co co;
    async_timeout to;
    struct kid k;
    int rc;
};

static int kidparent_fn(async_loop *L, async_task *self)
{
    struct kidparent *f = async_frame(self, struct kidparent, task);
    async_begin(L, &f->co);
    async_await_for(&f->to, 25, f->rc, kid_fn(L, &f->k));
    t_logi("parent", f->rc);
    async_end;
}

static void timeout_interrupts_an_inline_child(void **state)
{
    static struct kidparent p;
    (void)state;
    p = (struct kidparent){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &p.task, kidparent_fn), 0);
    assert_log("kid-cleanup-2 kid-cleanup-await-2 parent-2");
    assert_int_equal(async_now(&TL), 1025);
    assert_int_equal(p.k.co.lc, 0); /* the child ended cleanly */
}

/* A scope left open by an error is closed when the coroutine ends: no
 * timer keeps pointing into a dead frame. */
static int leaky_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 500);
    async_timeout_begin(&f->to2, 900);
    async_await(async_sleep(L, 5));
    async_return(ASYNC_EPROTO); /* skips both async_timeout_end */
    async_end;
}

static void open_scopes_close_when_coroutine_ends(void **state)
{
    static struct tw f;
    async_tick dl;
    (void)state;
    tw_init(&f);
    async_spawn(&TL, &f.task, leaky_fn);
    t_settle();
    assert_true(async_loop_next_deadline(&TL, &dl));
    t_advance(5);
    assert_int_equal(async_task_result(&f.task), ASYNC_EPROTO);
    assert_false(async_loop_next_deadline(&TL, &dl));
    assert_null(f.co.scopes);
}

static int immediate_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    async_await_for(&f->to, 0, f->rc, async_sleep(L, 5));
    t_logi("zero", f->rc);
    assert_int_equal(async_timeout_begin_at(&f->to, async_now(L) - 10), 0);
    async_await_rc(f->rc, async_event_wait(L, &f->ev));
    t_logi("past", f->rc);
    async_timeout_end(&f->to);
    t_logi("at", (long)async_now(L));
    async_end;
}

static void deadline_already_passed_times_out_at_once(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    async_spawn(&TL, &f.task, immediate_fn);
    t_settle();
    assert_log("zero-2 past-2 at1000");
    assert_true(async_task_is_done(&f.task));
}

/* Opening a scope sets up the whole scope object: one that holds
 * leftovers of other use (a recycled frame, a union) works as a zeroed
 * one, here on the paths that arm no timer (expired at once). */
static void scope_object_needs_no_zeroing(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    memset(&f.to, 0xA5, sizeof f.to);
    async_spawn(&TL, &f.task, immediate_fn);
    t_settle();
    assert_log("zero-2 past-2 at1000");
    assert_true(async_task_is_done(&f.task));
    assert_int_equal(t_misuse_count, 0);
}

static int misuse_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    static async_timeout deep[16];
    int i;
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 100);
    async_timeout_begin(&f->to2, 100);
    t_logi("out-of-order", async_timeout_end(&f->to));
    t_logi("in-order", async_timeout_end(&f->to2));
    t_logi("range", async_timeout_begin(&f->to2, (async_tick)ASYNC_TICK_MAX_DELAY + 1u));
    for (i = 0; i < 14; i++)
        assert_int_equal(async_timeout_begin(&deep[i], 100), 0);
    t_logi("too-deep", async_timeout_begin(&deep[15], 100));
    async_end; /* closes all 15 open scopes */
}

static void scope_misuse_is_refused(void **state)
{
    static struct tw f;
    async_tick dl;
    (void)state;
    tw_init(&f);
    async_spawn(&TL, &f.task, misuse_fn);
    t_settle();
    assert_log("out-of-order-5 in-order0 range-8 too-deep-7");
    assert_true(async_task_is_done(&f.task));
    assert_false(async_loop_next_deadline(&TL, &dl));
    assert_int_equal(t_misuse_count, 3);
}

/* wait_for around join and group: the awaited tasks are cancelled, and
 * the wait reports the timeout only once they have finished. */
struct slowpoke {
    async_task task;
    async_co co;
};

static int slowpoke_fn(async_loop *L, async_task *self)
{
    struct slowpoke *f = async_frame(self, struct slowpoke, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 10000));
    async_finally;
    t_logi("slow-cleanup", async_error());
    async_await_rc(f->co.rc, async_sleep(L, 0)); /* cancelled: reports at once */
    async_end;
}

static void timeout_on_join_and_group_cancels_them(void **state)
{
    static struct tw f;
    static struct slowpoke a, b;
    static async_group g;
    static async_task *slots[2];
    (void)state;
    tw_init(&f);
    a = (struct slowpoke){0};
    async_spawn(&TL, &a.task, slowpoke_fn);
    f.kind = K_JOIN;
    f.target = &a.task;
    f.ticks = 30;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    t_advance(30);
    assert_log("slow-cleanup-1 rc-2 at1030");
    assert_int_equal(async_task_result(&a.task), ASYNC_ECANCELED);

    t_reset(1000, false);
    tw_init(&f);
    a = (struct slowpoke){0};
    b = (struct slowpoke){0};
    async_group_init(&g, slots, 2, 0);
    async_group_spawn(&TL, &g, &a.task, slowpoke_fn);
    async_group_spawn(&TL, &g, &b.task, slowpoke_fn);
    f.kind = K_GROUP;
    f.group = &g;
    f.ticks = 30;
    async_spawn(&TL, &f.task, wait_for_fn);
    t_settle();
    t_advance(30);
    assert_log("slow-cleanup-1 slow-cleanup-1 rc-2 at1030");
    assert_int_equal(async_group_running_count(&g), 0);
}

/* The timeout macros evaluate each argument once (issue 10): a side
 * effect in `to` or `ticks` happens once per scope, not once per use.   */
struct once {
    async_task task;
    async_co co;
    async_timeout to[4]; /* room for a macro that evaluates `to` twice */
    int nto, nticks, rc;
};

static int once_fn(async_loop *L, async_task *self)
{
    struct once *f = async_frame(self, struct once, task);
    async_begin(L, &f->co);
    async_await_for(&f->to[f->nto++], (f->nticks++, 5), f->rc, async_sleep(L, 2));
    t_logi("for", f->rc);
    f->rc = async_timeout_begin(&f->to[f->nto++], (f->nticks++, 5));
    t_logi("begin", f->rc);
    async_await(async_sleep(L, 2));
    t_logi("end", async_timeout_end(&f->to[1]));
    async_end;
}

/* A deadline and the sleep inside it due on the same tick: the deadline
 * (armed first) fires first and wakes the sleeper, which was next in the
 * batch of due timers (regression: the batch lost its end). */
static int same_tick_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 10);
    async_await_rc(f->rc, async_sleep(L, 10));
    t_logi("sleep", f->rc);
    t_logi("scope", async_timeout_end(&f->to));
    async_end;
}

static void deadline_and_sleep_on_one_tick(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    async_spawn(&TL, &f.task, same_tick_fn);
    t_settle();
    t_advance(10);
    assert_log("sleep-2 scope-2"); /* asyncio: the timeout's handle runs first */
    assert_false(async_loop_has_work(&TL));
    assert_false(async_loop_next_deadline(&TL, &(async_tick){0}));
}

static void noop(async_loop *L, async_call *self)
{
    (void)L;
    (void)self;
}
static async_call noop_call = {NULL, noop, 0};

/* async_until is an op like any other: under async_await_for, or with
 * its result kept (async_await_rc) inside a scope, no child coroutine
 * needed. */
static int until_wait_for_fn(async_loop *L, async_task *self)
{
    struct tw *f = async_frame(self, struct tw, task);
    async_begin(L, &f->co);
    async_await_for(&f->to, f->ticks, f->rc, async_until(f->flag));
    t_logi("for", f->rc);
    t_logi("at", (long)async_now(L));
    async_timeout_begin(&f->to, f->ticks);
    async_await_rc(f->rc, async_until(f->item > 1));
    t_logi("scoped", f->rc);
    t_logi("end", async_timeout_end(&f->to));
    t_logi("at", (long)async_now(L));
    async_await_rc(f->rc, async_until(f->item > 2));
    t_logi("last", f->rc);
    async_end;
}

static void until_under_wait_for_and_in_a_scope(void **state)
{
    static struct tw f;
    (void)state;
    tw_init(&f);
    f.ticks = 30;
    async_spawn(&TL, &f.task, until_wait_for_fn);
    t_settle();
    t_advance(10);
    f.flag = 1; /* in time for the first: a post makes the loop re-check */
    assert_int_equal(async_post(&TL, &noop_call), 0);
    t_settle();
    assert_log("for0 at1010");
    t_advance(30); /* the second never comes true */
    assert_log("for0 at1010 scoped-2 end-2 at1040");
    async_cancel(&TL, &f.task);
    t_settle();
    assert_log("for0 at1010 scoped-2 end-2 at1040 last-1");
    assert_true(t_list_empty(&TL.pollers));
}

static void timeout_macros_evaluate_arguments_once(void **state)
{
    static struct once f;
    (void)state;
    f = (struct once){0};
    async_spawn(&TL, &f.task, once_fn);
    t_settle();
    t_advance(2);
    t_advance(2);
    assert_log("for0 begin0 end0");
    assert_int_equal(f.nto, 2);
    assert_int_equal(f.nticks, 2);
    assert_true(async_task_is_done(&f.task));
}

/* An external wait woken with nothing to deliver (a socket readable for
 * a TLS record that held no application data) parks again.  If its
 * deadline passed, or it was cancelled, while it sat in the run queue,
 * nothing was there to wake: the park itself must report it.          */
struct repark {
    async_task task;
    async_co co;
    async_timeout to;
    async_waiter w;
    int rc, wakes;
};

static void repark_detach(async_loop *L, async_waiter *w, async_task *t)
{
    (void)L;
    (void)w;
    (void)t;
}

static int repark_op(async_loop *L, struct repark *r)
{
    int rc;
    if (async_woken(L, &rc)) {
        if (rc < 0)
            return rc;
        r->wakes++; /* a wake-up with nothing in it: wait again */
    }
    return async_park(L, &r->w);
}

static int repark_fn(async_loop *L, async_task *self)
{
    struct repark *r = async_frame(self, struct repark, task);
    async_begin(L, &r->co);
    async_await_for(&r->to, 10, r->rc, repark_op(L, r));
    async_end;
}

static void interruption_while_queued_reaches_a_repark(void **state)
{
    static struct repark r;
    int cancel;
    (void)state;
    for (cancel = 0; cancel < 2; cancel++) {
        r = (struct repark){0};
        r.w.detach = repark_detach;
        t_reset(0, false);
        async_spawn(&TL, &r.task, repark_fn);
        t_settle();
        assert_int_equal(async_task_state(&r.task), ASYNC_TASK_WAITING);
        async_wake(&TL, &r.task, 1); /* readiness: queued, not yet run */
        if (cancel)
            async_cancel(&TL, &r.task);
        else
            async_vclock_advance(&TVC, 20); /* the deadline falls due too */
        async_run_once(&TL); /* expiry finds it queued; it runs and re-parks */
        t_advance(100);
        assert_int_equal(r.wakes, 1);
        assert_true(async_task_is_done(&r.task));
        assert_int_equal(r.rc, cancel ? ASYNC_ECANCELED : ASYNC_ETIMEDOUT);
    }
}

/* The longest deadline a scope takes, ASYNC_TICK_MAX_DELAY, and a sleep
 * of that length: neither ends a tick early nor a tick late (on the
 * wheel such a timer starts parked in the top level and is refiled on
 * the way down). */
struct longest {
    async_task task, sleeper;
    async_co co, sco;
    async_timeout to;
    async_event never;
    int rc, src;
    async_tick at, sat;
};

static int longest_sleeper(async_loop *L, async_task *self)
{
    struct longest *f = async_frame(self, struct longest, sleeper);
    async_begin(L, &f->sco);
    async_await_rc(f->src, async_sleep(L, ASYNC_TICK_MAX_DELAY));
    f->sat = async_now(L);
    async_end;
}

static int longest_fn(async_loop *L, async_task *self)
{
    struct longest *f = async_frame(self, struct longest, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->sleeper, longest_sleeper);
    async_await_for(&f->to, ASYNC_TICK_MAX_DELAY, f->rc, async_event_wait(L, &f->never));
    f->at = async_now(L);
    async_await(async_join(L, &f->sleeper));
    async_end;
}

static void timeout_of_the_longest_delay(void **state)
{
    static struct longest f;
    (void)state;
    f = (struct longest){0};
    async_event_init(&f.never);
    async_spawn(&TL, &f.task, longest_fn);
    t_settle();
    t_advance(ASYNC_TICK_MAX_DELAY - 1u);
    assert_false(async_task_is_done(&f.task)); /* not a tick early */
    assert_false(async_task_is_done(&f.sleeper));
    t_advance(1);
    assert_true(async_task_is_done(&f.task));
    assert_int_equal(f.rc, ASYNC_ETIMEDOUT);
    assert_int_equal(f.src, 0);
    assert_int_equal(f.at, (async_tick)(1000u + ASYNC_TICK_MAX_DELAY));
    assert_int_equal(f.sat, f.at);
    assert_int_equal(t_misuse_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(each_kind_of_await_times_out),
        T(lock_and_cond_waits_time_out_holding_right_state),
        T(condition_await_times_out),
        T(result_in_time_is_kept),
        T(item_handed_over_before_deadline_is_kept),
        T(deadline_on_the_producers_tick_loses_nothing),
        T(error_result_in_time_is_kept),
        T(interrupts_reach_a_busy_condition_await),
        T(scope_covers_several_awaits),
        T(nested_scopes),
        T(timeout_interrupts_an_inline_child),
        T(open_scopes_close_when_coroutine_ends),
        T(deadline_already_passed_times_out_at_once),
        T(scope_object_needs_no_zeroing),
        T(scope_misuse_is_refused),
        T(timeout_on_join_and_group_cancels_them),
        T(timeout_macros_evaluate_arguments_once),
        T(interruption_while_queued_reaches_a_repark),
        T(timeout_of_the_longest_delay),
        T(until_under_wait_for_and_in_a_scope),
        T(deadline_and_sleep_on_one_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
