/* SPDX-License-Identifier: MIT */
/* Shields (Trio's shielded cancel scope): cleanup that awaits after a
 * cancellation or an expired timeout, the shield's own deadline, nested
 * shields and scopes, and closing on every way out of a body.  Outside a
 * shield cancellation stays sticky (test_cancel.c).  Shields are among
 * the extras (ASYNC_CONF_EXTRAS). */
#include "testlib.h"

#if ASYNC_CONF_EXTRAS
/* A connection that says goodbye on its way out: cancelled while it
 * waits, its cleanup still sends (sleeps) inside a shield. */
struct conn {
    async_task task;
    async_co co;
    async_event ev;
    async_shield sh;
    async_timeout to;
    async_tick shield_ticks, goodbye;
    int rc, rc2, end, begun;
};

static void conn_init(struct conn *c, async_tick shield_ticks, async_tick goodbye)
{
    *c = (struct conn){0};
    async_event_init(&c->ev);
    c->shield_ticks = shield_ticks;
    c->goodbye = goodbye;
}

static int graceful_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_await(async_event_wait(L, &f->ev));
    async_finally;
    t_logi("cleanup", async_error());
    f->begun = async_shield_begin(&f->sh, f->shield_ticks);
    async_await_rc(f->rc, async_sleep(L, f->goodbye)); /* flush, say goodbye */
    t_logi("sent", f->rc);
    t_logi("at", (long)async_now(L));
    f->end = async_shield_end(&f->sh);
    async_await_rc(f->rc2, async_sleep(L, 1)); /* outside again: sticky */
    t_logi("after", f->rc2);
    async_end;
}

/* The headline case: after a cancel, the cleanup can still await. */
static void cancelled_task_cleans_up_inside_a_shield(void **state)
{
    static struct conn c;
    (void)state;
    conn_init(&c, 0, 30);
    async_spawn(&TL, &c.task, graceful_fn);
    t_settle();
    async_cancel(&TL, &c.task);
    t_settle();
    assert_log("cleanup-1");
    assert_int_equal(async_task_state(&c.task), ASYNC_TASK_WAITING);
    t_advance(30);
    assert_log("cleanup-1 sent0 at1030 after-1");
    assert_int_equal(c.begun, 0); /* a shield with no deadline opens with 0 */
    assert_int_equal(c.end, 0);
    assert_int_equal(async_task_result(&c.task), ASYNC_ECANCELED);
}

/* A cancel that arrives while the task sleeps inside a shield does not
 * wake it; the next await outside the shield reports it. */
static int shielded_sleep_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_shield_begin(&f->sh, 0);
    async_await_rc(f->rc, async_sleep(L, 50));
    t_logi("slept", f->rc);
    async_shield_end(&f->sh);
    async_await_rc(f->rc2, async_event_wait(L, &f->ev)); /* not started */
    t_logi("then", f->rc2);
    async_end;
}

static void cancel_waits_for_the_shield_to_close(void **state)
{
    static struct conn c;
    (void)state;
    conn_init(&c, 0, 0);
    async_spawn(&TL, &c.task, shielded_sleep_fn);
    t_settle();
    t_advance(10);
    assert_int_equal(async_cancel(&TL, &c.task), 0);
    assert_int_equal(async_task_state(&c.task), ASYNC_TASK_WAITING); /* not woken */
    assert_true(async_task_is_cancelled(&c.task));
    assert_int_equal(async_cancel(&TL, &c.task), ASYNC_EALREADY); /* held, still requested */
    t_advance(39);
    assert_log("");
    t_advance(1);
    assert_log("slept0 then-1");
    assert_true(t_list_empty(&c.ev.waiters));
}

/* The shield's own deadline bounds the cleanup: it acts like a timeout
 * scope, and the cancellation is reported after it. */
static void shield_deadline_bounds_the_cleanup(void **state)
{
    static struct conn c;
    (void)state;
    conn_init(&c, 20, 1000); /* a goodbye that would take too long */
    async_spawn(&TL, &c.task, graceful_fn);
    t_settle();
    async_cancel(&TL, &c.task);
    t_settle();
    t_advance(19);
    assert_log("cleanup-1");
    t_advance(1);
    assert_log("cleanup-1 sent-2 at1020 after-1");
    assert_int_equal(c.begun, 0); /* with a deadline: 0 as well */
    assert_int_equal(c.end, ASYNC_ETIMEDOUT);
}

/* An outer timeout that expires while the shield is open is held back:
 * the sleep inside completes, and once the shield closes every await
 * in the expired scope reports ASYNC_ETIMEDOUT. */
static int timed_shield_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 10);
    async_shield_begin(&f->sh, 0);
    async_await_rc(f->rc, async_sleep(L, 30));
    t_logi("inside", f->rc);
    t_logi("at", (long)async_now(L));
    async_shield_end(&f->sh);
    async_await_rc(f->rc2, async_sleep(L, 5));
    t_logi("outside", f->rc2);
    t_logi("scope", async_timeout_end(&f->to));
    async_end;
}

static void outer_timeout_is_held_back(void **state)
{
    static struct conn c;
    (void)state;
    conn_init(&c, 0, 0);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &c.task, timed_shield_fn), 0);
    assert_log("inside0 at1030 outside-2 scope-2");
}

/* A timeout scope opened inside a shield works as usual. */
static int inner_scope_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_shield_begin(&f->sh, 0);
    async_await_for(&f->to, 5, f->rc, async_event_wait(L, &f->ev));
    t_logi("waited", f->rc);
    t_logi("at", (long)async_now(L));
    async_shield_end(&f->sh);
    async_end;
}

static void timeouts_inside_a_shield_still_fire(void **state)
{
    static struct conn c;
    (void)state;
    conn_init(&c, 0, 0);
    async_spawn(&TL, &c.task, inner_scope_fn);
    t_settle();
    async_cancel(&TL, &c.task); /* held back: only the inner deadline counts */
    t_advance(5);
    assert_log("waited-2 at1005");
    assert_int_equal(async_task_result(&c.task), 0);
}

/* Nested shields: a scope between them that expires while the inner one
 * is open is reported once the inner closes; one outside both only when
 * the outer closes too. */
struct nest {
    async_task task;
    async_co co;
    async_timeout far, mid;
    async_shield outer, inner;
    int rc[3];
};

static int nested_fn(async_loop *L, async_task *self)
{
    struct nest *f = async_frame(self, struct nest, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->far, 10);
    async_shield_begin(&f->outer, 0);
    async_timeout_begin(&f->mid, 20);
    async_shield_begin(&f->inner, 0);
    async_await_rc(f->rc[0], async_sleep(L, 40)); /* both expire meanwhile */
    t_logi("inner", f->rc[0]);
    async_shield_end(&f->inner);
    async_await_rc(f->rc[1], async_sleep(L, 1));
    t_logi("mid", f->rc[1]);
    t_logi("mid-scope", async_timeout_end(&f->mid));
    async_await_rc(f->rc[1], async_sleep(L, 1));
    t_logi("outer", f->rc[1]);
    async_shield_end(&f->outer);
    async_await_rc(f->rc[2], async_sleep(L, 1));
    t_logi("far", f->rc[2]);
    t_logi("far-scope", async_timeout_end(&f->far));
    async_end;
}

static void nested_shields_release_in_order(void **state)
{
    static struct nest n;
    (void)state;
    n = (struct nest){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &n.task, nested_fn), 0);
    assert_log("inner0 mid-2 mid-scope-2 outer0 far-2 far-scope-2");
    assert_true(t_list_empty(&TL.held));
}

/* A shield left by an error (its own deadline here) closes at the cleanup
 * section, where the held-back cancellation is seen again. */
static int left_open_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_shield_begin(&f->sh, 5);
    async_await(async_sleep(L, 100)); /* the shield's deadline: propagates */
    t_log("not-reached");
    async_finally;
    t_logi("finally", async_error());
    async_await_rc(f->rc, async_sleep(L, 1));
    t_logi("then", f->rc);
    async_end;
}

static void shield_closes_when_the_body_is_left(void **state)
{
    static struct conn c;
    (void)state;
    conn_init(&c, 0, 0);
    async_spawn(&TL, &c.task, left_open_fn);
    t_settle();
    async_cancel(&TL, &c.task);
    t_advance(5);
    assert_log("finally-2 then-1");
    assert_int_equal(async_task_result(&c.task), ASYNC_ETIMEDOUT); /* the body's error */
    assert_null(async_current(&TL));
}

/* A shielded joiner keeps waiting for its worker: cancelling it does
 * not reach the worker (Trio: a shield protects everything inside). */
struct boss {
    async_task task;
    async_co co;
    async_shield sh;
    struct conn worker;
    int rc;
};

static int boss_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    async_shield_begin(&f->sh, 0);
    async_await_rc(f->rc, async_join(L, &f->worker.task));
    t_logi("joined", f->rc);
    async_shield_end(&f->sh);
    async_end;
}

static int worker_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 20));
    async_return(7);
    async_end;
}

static void shielded_join_is_not_interrupted(void **state)
{
    static struct boss b;
    (void)state;
    b = (struct boss){0};
    async_spawn(&TL, &b.worker.task, worker_fn);
    async_spawn(&TL, &b.task, boss_fn);
    t_settle();
    async_cancel(&TL, &b.task);
    t_settle();
    assert_false(async_task_is_cancelled(&b.worker.task));
    t_advance(20);
    assert_log("joined7");
    assert_int_equal(async_task_result(&b.worker.task), 7);
    assert_int_equal(async_task_result(&b.task), 0); /* nothing awaited after */
}

/* A TaskGroup's cancellation reaches a shielded member only once its
 * shield closes. */
static struct conn members[2];
static async_task *mslots[2];
static async_group mg;

static int failing_fn(async_loop *L, async_task *self)
{
    struct conn *f = async_frame(self, struct conn, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 5));
    async_return(ASYNC_EPROTO);
    async_end;
}

static void group_cancel_waits_for_a_shield(void **state)
{
    (void)state;
    async_group_init(&mg, mslots, 2, ASYNC_GROUP_CANCEL_ON_ERROR);
    conn_init(&members[0], 0, 0);
    conn_init(&members[1], 0, 0);
    async_group_spawn(&TL, &mg, &members[0].task, shielded_sleep_fn);
    async_group_spawn(&TL, &mg, &members[1].task, failing_fn);
    t_settle();
    t_advance(5);
    assert_true(async_task_is_cancelled(&members[0].task));
    assert_int_equal(async_task_state(&members[0].task), ASYNC_TASK_WAITING);
    t_advance(45);
    assert_log("slept0 then-1");
    assert_int_equal(async_group_running_count(&mg), 0);
}

/* Misuse: like timeout scopes (README "Misuse and what it returns"). */
static int misuse_fn(async_loop *L, async_task *self)
{
    struct nest *f = async_frame(self, struct nest, task);
    async_begin(L, &f->co);
    async_shield_begin(&f->outer, 0);
    async_shield_begin(&f->inner, 0);
    t_logi("out-of-order", async_shield_end(&f->outer));
    t_logi("range", async_shield_begin(&f->mid, ASYNC_TICK_MAX_DELAY + (async_tick)1u));
    t_logi("wrong-kind", async_timeout_end(&f->inner)); /* a shield, not a timeout */
    t_logi("inner", async_shield_end(&f->inner));
    t_logi("outer", async_shield_end(&f->outer));
    async_end;
}

static void shield_misuse(void **state)
{
    static struct nest n;
    static async_shield sh;
    (void)state;
    n = (struct nest){0};
    async_spawn(&TL, &n.task, misuse_fn);
    t_settle();
#if ASYNC_CONF_TICK_BITS < 64
    assert_log("out-of-order-5 range-8 wrong-kind-5 inner0 outer0");
#endif
    /* outside a task */
    assert_int_equal(async__timeout_begin(&TL, &n.co, &sh, 0, ASYNC__K_SHIELD), ASYNC_EPERM);
    assert_true(t_misuse_count >= 2);
}

/* asyncio.run cancels what is left, and waits for shielded cleanup. */
static void run_waits_for_shielded_cleanup_of_leftovers(void **state)
{
    static struct conn c, m;
    (void)state;
    conn_init(&c, 0, 25);
    conn_init(&m, 0, 0);
    async_spawn(&TL, &c.task, graceful_fn);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &m.task, worker_fn), 7);
#if ASYNC_CONF_TASK_LIST
    assert_log("cleanup-1 sent0 at1045 after-1");
    assert_true(async_task_is_done(&c.task));
    assert_int_equal(async_loop_task_count(&TL), 0);
#else
    assert_log(""); /* no task list: left as it is */
    assert_int_equal(async_loop_task_count(&TL), 1);
#endif
}

#else
/* Without the extras a cancelled task's cleanup cannot await: the
 * first await reports the cancellation (sticky, as ever). */
struct sticky {
    async_task task;
    async_co co;
    int rc;
};

static int sticky_fn(async_loop *L, async_task *self)
{
    struct sticky *f = async_frame(self, struct sticky, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 100));
    async_finally;
    async_await_rc(f->rc, async_sleep(L, 1)); /* reports at once */
    async_end;
}

static void shields_need_the_extras(void **state)
{
    static struct sticky f;
    (void)state;
    f = (struct sticky){0};
    async_spawn(&TL, &f.task, sticky_fn);
    t_settle();
    assert_int_equal(async_cancel(&TL, &f.task), 0);
    t_settle();
    assert_int_equal(f.rc, ASYNC_ECANCELED);
    assert_int_equal(async_task_result(&f.task), ASYNC_ECANCELED);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if ASYNC_CONF_EXTRAS
        T(cancelled_task_cleans_up_inside_a_shield),
        T(cancel_waits_for_the_shield_to_close),
        T(shield_deadline_bounds_the_cleanup),
        T(outer_timeout_is_held_back),
        T(timeouts_inside_a_shield_still_fire),
        T(nested_shields_release_in_order),
        T(shield_closes_when_the_body_is_left),
        T(shielded_join_is_not_interrupted),
        T(group_cancel_waits_for_a_shield),
        T(shield_misuse),
        T(run_waits_for_shielded_cleanup_of_leftovers),
#else
        T(shields_need_the_extras),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
