/* SPDX-License-Identifier: MIT */
/* Callbacks run by the loop outside any task (asyncio's call_soon,
 * call_later, call_at and their handles), and done callbacks on tasks
 * (add_done_callback).  Extra primitives (ASYNC_CONF_EXTRAS). */
#include "testlib.h"

#if ASYNC_CONF_EXTRAS
struct cb {
    async_handle h;
    const char *name;
    int again; /* re-arm itself this many times, 3 ticks apart */
    int rc;    /* what an op returned from inside it */
};

static void cb_fn(async_loop *L, async_handle *h)
{
    struct cb *c = async_frame(h, struct cb, h);
    t_log(c->name);
    t_logi("at", (long)async_now(L));
    c->rc = async_sleep(L, 1); /* no task: an op refuses */
    if (c->again-- > 0)
        assert_int_equal(async_call_later(L, h, 3, cb_fn), 0);
}

static struct cb C[4];

static struct cb *cb(int i, const char *name)
{
    C[i] = (struct cb){{{{NULL, NULL}, {0}, 0, 0, 0, 0}, NULL}, name, 0, 0};
    return &C[i];
}

struct logger {
    async_task task;
    async_co co;
    const char *name;
    async_tick sleep;
};

static int logger_fn(async_loop *L, async_task *self)
{
    struct logger *f = async_frame(self, struct logger, task);
    async_begin(L, &f->co);
    if (f->name)
        t_log(f->name);
    async_await(async_sleep(L, f->sleep));
    async_end;
}

/* call_soon: at the next pass, in order, before the tasks of that pass,
 * outside any task (ops refuse: ASYNC_EPERM). */
static void call_soon_runs_next_pass_in_order(void **state)
{
    static struct logger t;
    (void)state;
    t = (struct logger){0};
    t.name = "task";
    async_spawn(&TL, &t.task, logger_fn);
    assert_int_equal(async_call_soon(&TL, &cb(0, "a")->h, cb_fn), 0);
    assert_int_equal(async_call_soon(&TL, &cb(1, "b")->h, cb_fn), 0);
    assert_true(async_handle_is_pending(&C[0].h));
    assert_true(async_loop_has_work(&TL));
    assert_int_equal(async_run_once(&TL), 1);
    assert_log("a at1000 b at1000 task");
    assert_false(async_handle_is_pending(&C[0].h));
    assert_int_equal(C[0].rc, ASYNC_EPERM);
}

/* call_later / call_at: at their time, in time order; a callback that
 * arms itself again is a periodic timer. */
static void call_later_and_at_fire_on_time(void **state)
{
    static struct logger main_t; /* async_run runs while a task is left */
    (void)state;
    main_t = (struct logger){0};
    main_t.sleep = 30;
    assert_int_equal(async_call_later(&TL, &cb(0, "later")->h, 20, cb_fn), 0);
    assert_int_equal(async_call_at(&TL, &cb(1, "at")->h, 1010, cb_fn), 0);
    C[2] = *cb(2, "tick");
    C[2].again = 2;
    assert_int_equal(async_call_later(&TL, &C[2].h, 3, cb_fn), 0);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &main_t.task, logger_fn), 0);
    assert_log("tick at1003 tick at1006 tick at1009 at at1010 later at1020");
}

/* A condition that a callback makes true: the loop re-checks it, as
 * after a post (the callback's change is not a task's step). */
struct until_flag {
    async_task task;
    async_co co;
    int flag;
    async_handle h;
};

static void set_flag(async_loop *L, async_handle *h)
{
    (void)L;
    async_frame(h, struct until_flag, h)->flag = 1;
}

static int until_flag_fn(async_loop *L, async_task *self)
{
    struct until_flag *f = async_frame(self, struct until_flag, task);
    async_begin(L, &f->co);
    async_call_later(L, &f->h, 3, set_flag);
    async_await(async_until(f->flag));
    t_logi("flag-at", (long)async_now(L));
    async_end;
}

static void callback_wakes_a_condition(void **state)
{
    static struct until_flag u;
    (void)state;
    u = (struct until_flag){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &u.task, until_flag_fn), 0);
    assert_log("flag-at1003");
}

/* A callback that schedules another for now: it runs at the next pass,
 * so callbacks cannot starve the loop. */
static void chain_fn(async_loop *L, async_handle *h)
{
    struct cb *c = async_frame(h, struct cb, h);
    t_log(c->name);
    if (c->again-- > 0)
        async_call_soon(L, h, chain_fn);
}

static void a_rescheduled_callback_waits_a_pass(void **state)
{
    (void)state;
    cb(0, "x")->again = 2;
    async_call_soon(&TL, &C[0].h, chain_fn);
    assert_int_equal(async_run_once(&TL), 0);
    assert_log("x");
    async_run_once(&TL);
    async_run_once(&TL);
    assert_log("x x x");
    assert_false(async_handle_is_pending(&C[0].h));
}

/* Handle.cancel(): a pending callback never runs; a second cancel, or
 * one after it ran, reports ASYNC_EALREADY. */
static void cancelled_callbacks_never_run(void **state)
{
    (void)state;
    async_call_soon(&TL, &cb(0, "soon")->h, cb_fn);
    async_call_later(&TL, &cb(1, "later")->h, 5, cb_fn);
    async_call_later(&TL, &cb(2, "kept")->h, 5, cb_fn);
    assert_int_equal(async_handle_cancel(&TL, &C[0].h), 0);
    assert_int_equal(async_handle_cancel(&TL, &C[1].h), 0);
    assert_int_equal(async_handle_cancel(&TL, &C[1].h), ASYNC_EALREADY);
    t_advance(5);
    assert_log("kept at1005");
    assert_int_equal(async_handle_cancel(&TL, &C[2].h), ASYNC_EALREADY);
    assert_false(async_loop_next_deadline(&TL, &(async_tick){0}));
}

/* call_later counts from the call, like every delay. */
static int arming_fn(async_loop *L, async_task *self)
{
    struct logger *f = async_frame(self, struct logger, task);
    async_begin(L, &f->co);
    async_vclock_advance(&TVC, 7); /* the step computes first */
    async_call_later(L, &cb(0, "from-the-call")->h, 5, cb_fn);
    async_await(async_sleep(L, 10));
    async_end;
}

static void call_later_counts_from_the_call(void **state)
{
    static struct logger t;
    (void)state;
    t = (struct logger){0};
    TVC.autojump = true;
    async_run(&TL, &t.task, arming_fn);
    assert_log("from-the-call at1012");
}

static void callback_misuse(void **state)
{
    (void)state;
    assert_int_equal(async_call_soon(&TL, NULL, cb_fn), ASYNC_EINVAL);
    assert_int_equal(async_call_soon(&TL, &cb(0, "n")->h, NULL), ASYNC_EINVAL);
    assert_int_equal(async_call_later(&TL, &C[0].h, ASYNC_TICK_MAX_DELAY + (async_tick)1u, cb_fn),
                     ASYNC_ERANGE);
    assert_int_equal(async_call_soon(&TL, &C[0].h, cb_fn), 0);
    assert_int_equal(async_call_later(&TL, &C[0].h, 1, cb_fn), ASYNC_EBUSY); /* pending */
    assert_int_equal(async_handle_cancel(&TL, NULL), ASYNC_EINVAL);
    assert_true(t_misuse_count >= 4);
}

/* A refused call changes nothing: async_call_later without a callback
 * does not read the clock either (async_now stays the pass's time). */
static void refused_call_later_changes_nothing(void **state)
{
    static async_handle h;
    async_tick before = async_now(&TL);
    (void)state;
    h = (async_handle){0};
    async_vclock_advance(&TVC, 5);
    assert_int_equal(async_call_later(&TL, &h, 1, NULL), ASYNC_EINVAL);
    assert_int_equal(async_now(&TL), before);
    assert_false(async_handle_is_pending(&h));
    assert_int_equal(t_misuse_count, 1);
}

/* add_done_callback: the callback runs on the loop after the task ends,
 * with the result readable; at once (next pass) for a finished task. */
struct watched {
    async_task task;
    async_co co;
    async_handle h;
    async_tick sleep;
    int result, seen;
};

static void on_done(async_loop *L, async_handle *h)
{
    struct watched *w = async_frame(h, struct watched, h);
    w->seen = async_task_result(&w->task);
    t_logi("done", w->seen);
    t_logi("at", (long)async_now(L));
}

static int watched_fn(async_loop *L, async_task *self)
{
    struct watched *f = async_frame(self, struct watched, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, f->sleep));
    t_log("end");
    async_return(f->result);
    async_end;
}

static void done_callback_runs_after_the_task(void **state)
{
    static struct watched w;
    (void)state;
    w = (struct watched){0};
    w.sleep = 10;
    w.result = ASYNC_EPROTO;
    async_spawn(&TL, &w.task, watched_fn);
    assert_int_equal(async_task_on_done(&TL, &w.task, &w.h, on_done), 0);
    assert_true(async_handle_is_pending(&w.h));
    t_settle();
    t_advance(10);
    assert_log("end done-40 at1010");
    /* a finished task: the callback comes at the next pass */
    assert_int_equal(async_task_on_done(&TL, &w.task, &w.h, on_done), 0);
    assert_log("end done-40 at1010");
    async_run_once(&TL);
    assert_log("end done-40 at1010 done-40 at1010");
}

/* One watcher per task: joined, grouped or watched already is
 * ASYNC_EBUSY; cancelling the handle removes it, and the task can be
 * joined again. */
static void done_callback_misuse_and_cancel(void **state)
{
    static struct watched w, w2;
    static struct t_joiner j;
    static async_group g;
    static async_task *gs[1];
    static async_handle h2;
    (void)state;
    w = (struct watched){0};
    w2 = (struct watched){0};
    h2 = (async_handle){{{NULL, NULL}, {0}, 0, 0, 0, 0}, NULL};
    w.sleep = 5;
    assert_int_equal(async_task_on_done(&TL, &w.task, &w.h, on_done), ASYNC_EINVAL); /* not spawned */
    async_spawn(&TL, &w.task, watched_fn);
#if ASYNC_CONF_CHECKS
    /* a live task, so that only the NULL argument is wrong */
    assert_int_equal(async_task_on_done(&TL, &w.task, NULL, on_done), ASYNC_EINVAL);
    assert_int_equal(async_task_on_done(&TL, &w.task, &w.h, NULL), ASYNC_EINVAL);
#endif
    assert_int_equal(async_task_on_done(&TL, &w.task, &w.h, on_done), 0);
    assert_int_equal(async_task_on_done(&TL, &w.task, &h2, on_done), ASYNC_EBUSY);
    assert_int_equal(async_task_on_done(&TL, &w.task, &w.h, on_done), ASYNC_EINVAL); /* h pending */
    assert_int_equal(t_spawn_joiner(&j, &w.task), 0);
    t_settle();
    assert_log("joined-4"); /* the watcher holds the slot */
    assert_int_equal(async_handle_cancel(&TL, &w.h), 0);
    assert_int_equal(t_spawn_joiner(&j, &w.task), 0);
    t_advance(5);
    assert_log("joined-4 end joined0"); /* no done-callback ran */
    async_group_init(&g, gs, 1, 0);
    w2.sleep = 1;
    async_group_spawn(&TL, &g, &w2.task, watched_fn);
    assert_int_equal(async_task_on_done(&TL, &w2.task, &h2, on_done), ASYNC_EBUSY);
}
#else
static void extras_are_compiled_out(void **state)
{
    (void)state;
    /* no handle in the API: a plain post is the only loop callback */
    assert_int_equal(sizeof(async_call), 2 * sizeof(void *) + sizeof(void *));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if ASYNC_CONF_EXTRAS
        T(call_soon_runs_next_pass_in_order),
        T(call_later_and_at_fire_on_time),
        T(a_rescheduled_callback_waits_a_pass),
        T(callback_wakes_a_condition),
        T(cancelled_callbacks_never_run),
        T(call_later_counts_from_the_call),
        T(callback_misuse),
        T(refused_call_later_changes_nothing),
        T(done_callback_runs_after_the_task),
        T(done_callback_misuse_and_cancel),
#else
        T(extras_are_compiled_out),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
