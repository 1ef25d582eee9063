/* SPDX-License-Identifier: MIT */
/* Coroutine macros: begin/end, awaiting children inline, results and
 * errors, the cleanup section, yield, condition awaits, resume points. */
#include "testlib.h"

/* ---- a child that sleeps, then returns a value or an error ---- */
struct child {
    async_co co;
    int value;
};

static int child(async_loop *L, struct child *f, int value)
{
    async_begin(L, &f->co);
    t_logi("child", value);
    async_await(async_sleep(L, 10));
    f->value = value;
    async_return(value);
    async_end;
}

/* ---- a parent task awaiting children in various ways ---- */
struct parent {
    async_task task;
    async_co co;
    struct child c;
    int got, rc, i;
};

static int parent_val(async_loop *L, async_task *self)
{
    struct parent *f = async_frame(self, struct parent, task);
    async_begin(L, &f->co);
    async_await_val(f->got, child(L, &f->c, 7));
    t_logi("got", f->got);
    async_return(f->got * 2);
    async_end;
}

static void child_value_comes_back(void **state)
{
    static struct parent p;
    (void)state;
    p = (struct parent){0};
    assert_int_equal(async_spawn(&TL, &p.task, parent_val), 0);
    t_settle();
    assert_false(async_task_is_done(&p.task));
    t_advance(10);
    assert_true(async_task_is_done(&p.task));
    assert_int_equal(async_task_result(&p.task), 14);
    assert_log("child7 got7");
}

static int parent_propagate(async_loop *L, async_task *self)
{
    struct parent *f = async_frame(self, struct parent, task);
    async_begin(L, &f->co);
    t_log("before");
    async_await(child(L, &f->c, ASYNC_EPROTO));
    t_log("not-reached");
    async_finally;
    t_logi("finally", async_error());
    async_end;
}

static void child_error_propagates_through_finally(void **state)
{
    static struct parent p;
    (void)state;
    p = (struct parent){0};
    async_spawn(&TL, &p.task, parent_propagate);
    t_settle();
    t_advance(10);
    assert_int_equal(async_task_result(&p.task), ASYNC_EPROTO);
    assert_log("before child-40 finally-40");
}

static int parent_rc(async_loop *L, async_task *self)
{
    struct parent *f = async_frame(self, struct parent, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, child(L, &f->c, ASYNC_EPROTO));
    t_logi("rc", f->rc);
    async_await_rc(f->rc, child(L, &f->c, 3));
    t_logi("rc", f->rc);
    async_end;
}

static void await_rc_keeps_errors_local(void **state)
{
    static struct parent p;
    (void)state;
    p = (struct parent){0};
    async_spawn(&TL, &p.task, parent_rc);
    t_settle();
    t_advance(10);
    t_advance(10);
    assert_int_equal(async_task_result(&p.task), 0);
    assert_log("child-40 rc-40 child3 rc3");
}

/* The same child frame is awaited again after it ended: it restarts. */
static int parent_loop(async_loop *L, async_task *self)
{
    struct parent *f = async_frame(self, struct parent, task);
    async_begin(L, &f->co);
    for (f->i = 1; f->i <= 3; f->i++) {
        async_await_val(f->got, child(L, &f->c, f->i));
        f->rc += f->got;
    }
    async_return(f->rc);
    async_end;
}

static void ended_child_frame_restarts(void **state)
{
    static struct parent p;
    (void)state;
    p = (struct parent){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &p.task, parent_loop), 6);
    assert_log("child1 child2 child3");
    assert_int_equal(async_now(&TL), 1030);
    assert_int_equal(p.c.co.lc, 0);
}

/* A child with a cleanup section, awaited again on the same frame after
 * it returned a value: the pending result starts afresh, so the second
 * run, which falls off its body, reports 0 to its cleanup section
 * (async_error()) and to its caller.  (async_end leaves the frame as
 * zeroed; the first run's 5 must not carry over.) */
struct fin_child {
    async_co co;
};

static int fin_child(async_loop *L, struct fin_child *f, int value)
{
    async_begin(L, &f->co);
    async_await(async_sleep(L, 1));
    if (value)
        async_return(value);
    async_finally;
    t_logi("cleanup", async_error());
    async_end;
}

struct fin_parent {
    async_task task;
    async_co co;
    struct fin_child c;
    int first, second;
};

static int fin_parent_fn(async_loop *L, async_task *self)
{
    struct fin_parent *f = async_frame(self, struct fin_parent, task);
    async_begin(L, &f->co);
    async_await_val(f->first, fin_child(L, &f->c, 5));
    async_await_val(f->second, fin_child(L, &f->c, 0));
    async_end;
}

static void ended_child_frame_restarts_with_no_pending_result(void **state)
{
    static struct fin_parent p;
    (void)state;
    p = (struct fin_parent){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &p.task, fin_parent_fn), 0);
    assert_int_equal(p.first, 5);
    assert_int_equal(p.second, 0);
    assert_log("cleanup5 cleanup0");
}

/* ---- cleanup section ordering ---- */
struct fin {
    async_task task;
    async_co co;
    int mode;
};

static int fin_fn(async_loop *L, async_task *self)
{
    struct fin *f = async_frame(self, struct fin, task);
    async_begin(L, &f->co);
    t_log("body");
    if (f->mode == 1)
        async_return(5);
    if (f->mode == 2)
        async_return(ASYNC_EPROTO);
    async_await(async_sleep(L, 1));
    t_log("body-end");
    async_finally;
    t_logi("cleanup", async_error());
    async_await(async_sleep(L, 1)); /* awaits work in the cleanup section */
    if (f->mode == 3)
        async_return(9); /* a return inside finally ends at once */
    t_log("cleanup-end");
    async_end;
}

static void finally_runs_on_every_exit(void **state)
{
    static struct fin f;
    (void)state;
    TVC.autojump = true;

    f = (struct fin){0};
    assert_int_equal(async_run(&TL, &f.task, fin_fn), 0);
    assert_log("body body-end cleanup0 cleanup-end");

    t_reset(0, true);
    f = (struct fin){0};
    f.mode = 1;
    assert_int_equal(async_run(&TL, &f.task, fin_fn), 5);
    assert_log("body cleanup5 cleanup-end");

    t_reset(0, true);
    f = (struct fin){0};
    f.mode = 2;
    assert_int_equal(async_run(&TL, &f.task, fin_fn), ASYNC_EPROTO);
    assert_log("body cleanup-40 cleanup-end");

    t_reset(0, true);
    f = (struct fin){0};
    f.mode = 3;
    assert_int_equal(async_run(&TL, &f.task, fin_fn), 9);
    assert_log("body body-end cleanup0");
}

/* An error raised inside the cleanup section ends the coroutine; it does
 * not re-enter the cleanup (no loop). */
struct fin2 {
    async_task task;
    async_co co;
    struct child c;
};

static int fin_error_in_cleanup(async_loop *L, async_task *self)
{
    struct fin2 *f = async_frame(self, struct fin2, task);
    async_begin(L, &f->co);
    async_await(child(L, &f->c, ASYNC_EPROTO));
    async_finally;
    t_logi("cleanup", async_error());
    async_await(child(L, &f->c, ASYNC_ECLOSED));
    t_log("not-reached");
    async_end;
}

static void error_in_cleanup_ends_coroutine(void **state)
{
    static struct fin2 f;
    (void)state;
    TVC.autojump = true;
    f = (struct fin2){0};
    assert_int_equal(async_run(&TL, &f.task, fin_error_in_cleanup), ASYNC_ECLOSED);
    assert_log("child-40 cleanup-40 child-3");
}

/* ---- yield: round robin between ready tasks ---- */
struct yielder {
    async_task task;
    async_co co;
    const char *name;
    int i;
};

static int yielder_fn(async_loop *L, async_task *self)
{
    struct yielder *f = async_frame(self, struct yielder, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 3; f->i++) {
        t_log(f->name);
        async_await(async_yield());
    }
    async_end;
}

static void yield_alternates_ready_tasks(void **state)
{
    static struct yielder a, b;
    (void)state;
    a = (struct yielder){0};
    b = (struct yielder){0};
    a.name = "a";
    b.name = "b";
    async_spawn(&TL, &a.task, yielder_fn);
    async_spawn(&TL, &b.task, yielder_fn);
    assert_int_equal(async_run_once(&TL), 2);
    assert_log("a b");
    t_settle();
    assert_log("a b a b a b");
    assert_true(async_task_is_done(&a.task) && async_task_is_done(&b.task));
}

/* ---- condition awaits ---- */
struct waiter {
    async_task task;
    async_co co;
    int *flag;
    int checks;
};

static int waiter_fn(async_loop *L, async_task *self)
{
    struct waiter *f = async_frame(self, struct waiter, task);
    async_begin(L, &f->co);
    async_await_until((f->checks++, *f->flag != 0));
    t_log("woke");
    async_end;
}

struct setter {
    async_task task;
    async_co co;
    int *flag;
    async_tick delay;
};

static int setter_fn(async_loop *L, async_task *self)
{
    struct setter *f = async_frame(self, struct setter, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, f->delay));
    *f->flag = 1;
    t_log("set");
    async_end;
}

static void await_until_rechecks_after_others_run(void **state)
{
    static struct waiter w;
    static struct setter s;
    static int flag;
    (void)state;
    flag = 0;
    w = (struct waiter){0};
    s = (struct setter){0};
    w.flag = s.flag = &flag;
    s.delay = 500;
    async_spawn(&TL, &w.task, waiter_fn);
    async_spawn(&TL, &s.task, setter_fn);
    t_settle();
    /* Checked, re-checked once after the setter's step, then parked:
     * nothing else changes, so no spinning while time passes. */
    assert_int_equal(w.checks, 2);
    assert_int_equal(async_task_state(&w.task), ASYNC_TASK_WAITING);
    assert_false(async_loop_has_work(&TL));
    t_advance(499);
    assert_int_equal(w.checks, 2);
    t_advance(1);
    assert_log("set woke");
    assert_true(async_task_is_done(&w.task));
    assert_int_equal(w.checks, 3);
}

static void await_until_true_at_once_does_not_suspend(void **state)
{
    static struct waiter w;
    static int flag;
    (void)state;
    flag = 1;
    w = (struct waiter){0};
    w.flag = &flag;
    async_spawn(&TL, &w.task, waiter_fn);
    assert_int_equal(async_run_once(&TL), 1);
    assert_true(async_task_is_done(&w.task));
    assert_int_equal(w.checks, 1);
}

/* Regression (model test, post_recheck): a condition changed by an
 * "interrupt handler" that then posts is re-checked: the post counts as
 * progress, no deadlock is reported. */
static int posted_flag;
static void isr_call(async_loop *L, async_call *c)
{
    (void)L;
    (void)c;
}

static void a_post_makes_conditions_recheck(void **state)
{
    static struct waiter w;
    static async_call call;
    (void)state;
    posted_flag = 0;
    w = (struct waiter){0};
    w.flag = &posted_flag;
    async_spawn(&TL, &w.task, waiter_fn);
    t_settle();
    assert_int_equal(async_task_state(&w.task), ASYNC_TASK_WAITING);
    posted_flag = 1; /* the handler changes the condition ... */
    call = (async_call){NULL, isr_call, 0};
    async_post(&TL, &call); /* ... and posts */
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &w.task, NULL), 0);
    assert_log("woke");
}

/* A re-check that passes its condition runs the task on: what it does
 * before it parks again, even at another condition, is progress, and
 * the conditions that were re-checked before it in that pass are
 * re-checked after.  (Until core's step, a re-check that ended parked
 * on any condition counted as quiet: b, re-checked before a set its
 * flag, was never re-checked, and the run deadlocked.)                 */
static int pass_a, pass_b, pass_never;
struct passer {
    async_task task;
    async_co co;
};

static int passer_fn(async_loop *L, async_task *self)
{
    struct passer *f = async_frame(self, struct passer, task);
    async_begin(L, &f->co);
    async_await_until(pass_a != 0);
    pass_b = 1; /* what waiter b waits for */
    async_await_until(pass_never != 0);
    async_end;
}

static void a_passed_recheck_is_progress(void **state)
{
    static struct waiter b;
    static struct passer a;
    static async_call call;
    (void)state;
    pass_a = pass_b = pass_never = 0;
    b = (struct waiter){0};
    a = (struct passer){0};
    b.flag = &pass_b;
    async_spawn(&TL, &b.task, waiter_fn); /* parks first: re-checked first */
    async_spawn(&TL, &a.task, passer_fn);
    t_settle();
    assert_int_equal(async_task_state(&b.task), ASYNC_TASK_WAITING);
    assert_int_equal(async_task_state(&a.task), ASYNC_TASK_WAITING);
    pass_a = 1;
    call = (async_call){NULL, isr_call, 0};
    async_post(&TL, &call); /* b and a re-check: b false, a passes */
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, NULL), 0);
    assert_log("woke");
    assert_int_equal(b.checks, 4); /* first, re-check, after the post, after a */
    async_cancel(&TL, &a.task);
    t_settle();
    assert_true(async_task_is_done(&a.task));
}

/* Under async_run with nothing else to do, a false condition is a
 * deadlock, reported instead of spinning or hanging. */
static void await_until_never_true_reports_deadlock(void **state)
{
    static struct waiter w;
    static int flag;
    (void)state;
    flag = 0;
    w = (struct waiter){0};
    w.flag = &flag;
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &w.task, waiter_fn), ASYNC_EDEADLK);
    assert_int_equal(w.checks, 2); /* first check, one re-check, no more */
}

/* ---- resume points ---- */
struct two {
    async_task task;
    async_co co;
};

/* clang-format off */
static int two_on_a_line(async_loop *L, async_task *self)
{
    struct two *f = async_frame(self, struct two, task);
    async_begin(L, &f->co);
    t_log("a"); async_await(async_sleep(L, 1)); t_log("b"); async_await(async_sleep(L, 1)); t_log("c");
    async_end;
}
/* clang-format on */

static void two_awaits_on_one_line(void **state)
{
    static struct two t;
    (void)state;
    t = (struct two){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &t.task, two_on_a_line), 0);
    assert_log("a b c");
}

#if ASYNC_CONF_LC == ASYNC_LC_SWITCH
/* A corrupted resume point traps with an error instead of restarting. */
static void unknown_resume_point_traps(void **state)
{
    static struct two t;
    (void)state;
    t = (struct two){0};
    async_spawn(&TL, &t.task, two_on_a_line);
    t_settle();
    assert_log("a");
    t.co.lc = 9999; /* garbage */
    t_advance(1);
    assert_true(async_task_is_done(&t.task));
    assert_int_equal(async_task_result(&t.task), ASYNC_EBADRESUME);
    assert_int_equal(t_misuse_last, ASYNC_EBADRESUME);
    assert_log("a"); /* did not restart */
}
#else
/* The labels backend allows awaits inside the coroutine's own switch. */
struct sw {
    async_task task;
    async_co co;
    int i;
};

static int await_in_switch(async_loop *L, async_task *self)
{
    struct sw *f = async_frame(self, struct sw, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 3; f->i++) {
        switch (f->i) {
        case 1:
            t_log("one");
            async_await(async_sleep(L, 1));
            t_log("one-after");
            break;
        default:
            t_logi("n", f->i);
            break;
        }
    }
    async_end;
}

static void unknown_resume_point_traps(void **state)
{
    static struct sw t;
    (void)state;
    t = (struct sw){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &t.task, await_in_switch), 0);
    assert_log("n0 one one-after n2");
}
#endif

/* Three levels of inline children: values and errors travel up. */
struct lvl3 {
    async_co co;
    int v;
};
struct lvl2 {
    async_co co;
    struct lvl3 c;
    int v;
};
struct lvl1 {
    async_task task;
    async_co co;
    struct lvl2 c;
    int v;
};

static int l3(async_loop *L, struct lvl3 *f, int fail)
{
    async_begin(L, &f->co);
    async_await(async_sleep(L, 5));
    async_return(fail ? ASYNC_ECONNRESET : 100);
    async_end;
}

static int l2(async_loop *L, struct lvl2 *f, int fail)
{
    async_begin(L, &f->co);
    async_await_val(f->v, l3(L, &f->c, fail));
    async_return(f->v + 10);
    async_finally;
    t_logi("l2-finally", async_error());
    async_end;
}

static int l1_ok(async_loop *L, async_task *self)
{
    struct lvl1 *f = async_frame(self, struct lvl1, task);
    async_begin(L, &f->co);
    async_await_val(f->v, l2(L, &f->c, 0));
    async_return(f->v + 1);
    async_end;
}

static int l1_fail(async_loop *L, async_task *self)
{
    struct lvl1 *f = async_frame(self, struct lvl1, task);
    async_begin(L, &f->co);
    async_await_val(f->v, l2(L, &f->c, 1));
    async_return(f->v + 1);
    async_end;
}

static void nested_children_carry_values_and_errors(void **state)
{
    static struct lvl1 t;
    (void)state;
    TVC.autojump = true;
    t = (struct lvl1){0};
    assert_int_equal(async_run(&TL, &t.task, l1_ok), 111);
    t = (struct lvl1){0};
    assert_int_equal(async_run(&TL, &t.task, l1_fail), ASYNC_ECONNRESET);
    assert_log("l2-finally110 l2-finally-33");
}

/* Awaitables used outside any task report ASYNC_EPERM. */
static void ops_outside_a_task_are_refused(void **state)
{
    static async_event ev;
    static async_sem sem;
    (void)state;
    async_event_init(&ev);
    async_sem_init(&sem, 0, 0);
    assert_int_equal(async_sleep(&TL, 5), ASYNC_EPERM);
    assert_int_equal(async_event_wait(&TL, &ev), ASYNC_EPERM);
    assert_int_equal(async_sem_acquire(&TL, &sem), ASYNC_EPERM);
    assert_true(t_misuse_count >= 3);
}

/* A coroutine run outside any task: its awaits find no task to suspend
 * and report ASYNC_EPERM from the op, without ever suspending. */
struct bare {
    async_co co;
    int rc;
};

static int bare_fn(async_loop *L, struct bare *f)
{
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_sleep(L, 5));
    async_end;
}

static void coroutine_outside_a_task_gets_eperm(void **state)
{
    static struct bare b;
    (void)state;
    b = (struct bare){0};
    assert_int_equal(bare_fn(&TL, &b), 0); /* ends at once */
    assert_int_equal(b.rc, ASYNC_EPERM);
}

/* async_yield in a coroutine run outside any task: ASYNC_EPERM (hook)
 * at each yield, which queues nothing and does not suspend.  The loop
 * stands for "no task" by a sentinel on hosts (L->current is never NULL
 * there), so this is the sentinel's test in the yield, and
 * async_current still says NULL, before any pass and after one.        */
struct bare_yield {
    async_task task;
    async_co co;
    int rc1, rc2;
};

static int bare_yield_fn(async_loop *L, async_task *self)
{
    struct bare_yield *f = async_frame(self, struct bare_yield, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc1, async_yield());
    async_await_rc(f->rc2, async_yield());
    async_end;
}

static void yield_outside_a_task_gets_eperm(void **state)
{
    static struct bare_yield b;
    int before = t_misuse_count;
    (void)state;
    b = (struct bare_yield){0};
    assert_null(async_current(&TL)); /* a fresh loop */
    assert_int_equal(bare_yield_fn(&TL, &b.task), 0); /* ends at once */
    assert_int_equal(b.rc1, ASYNC_EPERM);
    assert_int_equal(b.rc2, ASYNC_EPERM);
    assert_int_equal(t_misuse_count, before + 2);
    assert_false(async_loop_has_work(&TL)); /* nothing was queued */
    assert_null(async_current(&TL));
}

/* A task's frame resumed by hand, outside any task, at a yield: the
 * resumed await finds no interruption (outside a task there is none to
 * report), the next yield is refused, and the body ends; the task, still
 * queued, then runs its body afresh in its next step.  (The interruption
 * check's slow path tells the "no task" sentinel apart.)               */
static void frame_resumed_outside_its_task_at_a_yield(void **state)
{
    static struct bare_yield b;
    int before;
    (void)state;
    b = (struct bare_yield){0};
    assert_int_equal(async_spawn(&TL, &b.task, bare_yield_fn), 0);
    assert_int_equal(async_run_once(&TL), 1); /* the first yield: queued */
    assert_null(async_current(&TL));
    before = t_misuse_count;
    assert_int_equal(bare_yield_fn(&TL, &b.task), 0); /* by hand */
    assert_int_equal(b.rc1, 0);
    assert_int_equal(b.rc2, ASYNC_EPERM);
    assert_int_equal(t_misuse_count, before + 1);
    b.rc1 = b.rc2 = 7;
    t_settle();
    assert_true(async_task_is_done(&b.task));
    assert_int_equal(async_task_result(&b.task), 0);
    assert_int_equal(b.rc1, 0);
    assert_int_equal(b.rc2, 0);
    assert_int_equal(t_misuse_count, before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(child_value_comes_back),
        T(child_error_propagates_through_finally),
        T(await_rc_keeps_errors_local),
        T(ended_child_frame_restarts),
        T(ended_child_frame_restarts_with_no_pending_result),
        T(finally_runs_on_every_exit),
        T(error_in_cleanup_ends_coroutine),
        T(yield_alternates_ready_tasks),
        T(yield_outside_a_task_gets_eperm),
        T(frame_resumed_outside_its_task_at_a_yield),
        T(await_until_rechecks_after_others_run),
        T(await_until_true_at_once_does_not_suspend),
        T(await_until_never_true_reports_deadlock),
        T(a_post_makes_conditions_recheck),
        T(a_passed_recheck_is_progress),
        T(two_awaits_on_one_line),
        T(unknown_resume_point_traps),
        T(nested_children_carry_values_and_errors),
        T(ops_outside_a_task_are_refused),
        T(coroutine_outside_a_task_gets_eperm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
