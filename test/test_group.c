/* SPDX-License-Identifier: MIT */
/* Groups: gather (wait for all), wait for the next to finish (completion
 * order), TaskGroup (first error cancels the siblings), cancellation of
 * the waiter, capacity and reuse. */
#include "testlib.h"

static struct t_sleeper M[6];
static async_task *slots[6];
static async_group G;

static void add(int i, const char *name, async_tick sleep, int result)
{
    M[i] = (struct t_sleeper){0};
    M[i].name = name;
    M[i].sleep = sleep;
    M[i].result = result;
    assert_int_equal(async_group_spawn(&TL, &G, &M[i].task, t_sleeper_fn), 0);
}

struct boss {
    async_task task;
    async_co co;
    async_task *done;
    int rc, n;
};

static int gather_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_group_wait(L, &G));
    t_logi("all", f->rc);
    t_logi("at", (long)async_now(L));
    async_end;
}

/* A task that acts at tick `at`, after the members whose timers fire on
 * the same tick (equal expiries keep arming order) and before the tasks
 * those members wake, which run in the pass's next round.              */
struct meddler {
    async_task task;
    async_co co;
    async_tick at;
    void (*act)(async_loop *L, struct meddler *m);
    async_task *victim;
    int rc;
};

static int meddler_fn(async_loop *L, async_task *self)
{
    struct meddler *f = async_frame(self, struct meddler, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, f->at));
    f->act(L, f);
    async_end;
}

/* asyncio.gather(task1(), task2()): both start at once, total time is
 * the longest, results stay with each task. */
static void gather_runs_concurrently(void **state)
{
    static struct boss b;
    (void)state;
    assert_int_equal(async_group_init(&G, slots, 6, 0), 0);
    add(0, "t1", 2000, 1);
    add(1, "t2", 1000, 2);
    b = (struct boss){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, gather_fn), 0);
    assert_log("t1 t2 all0 at3000");
    assert_int_equal(async_task_result(&M[0].task), 1);
    assert_int_equal(async_task_result(&M[1].task), 2);
    assert_int_equal(async_group_running_count(&G), 0);
}

/* gather waits for everyone even when some fail; it reports the first
 * error (in completion order) and cancels nobody. */
static void gather_reports_first_error_after_all_finish(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "a", 30, ASYNC_EPROTO);
    add(1, "b", 10, ASYNC_ECONNRESET);
    add(2, "c", 50, 3);
    b = (struct boss){0};
    TVC.autojump = true;
    async_run(&TL, &b.task, gather_fn);
    assert_log("a b c all-33 at1050");
    assert_int_equal(async_task_result(&M[0].task), ASYNC_EPROTO);
    assert_int_equal(async_task_result(&M[2].task), 3);
}

/* TaskGroup: the first error cancels the siblings and is what the group
 * reports; the wait ends when every member has finished. */
static void spawn_a_late_member(async_loop *L, struct meddler *m)
{
    M[3] = (struct t_sleeper){0};
    m->rc = async_group_spawn(L, &G, &M[3].task, t_sleeper_fn);
}

static void task_group_cancels_siblings_on_error(void **state)
{
    static struct boss b;
    static struct meddler late;
    (void)state;
    async_group_init(&G, slots, 6, ASYNC_GROUP_CANCEL_ON_ERROR);
    add(0, "slow", 1000, 0);
    add(1, "bad", 20, ASYNC_EPROTO);
    add(2, "slower", 5000, 0);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, gather_fn);
    late = (struct meddler){0};
    late.at = 20;
    late.act = spawn_a_late_member;
    async_spawn(&TL, &late.task, meddler_fn);
    t_settle();
    async_vclock_advance(&TVC, 20);
    /* bad fails: the siblings are cancelled, not finished yet, when
     * `late` tries to add a member: no new members once it is failing. */
    t_settle();
    assert_int_equal(late.rc, ASYNC_ECANCELED);
    assert_log("slow bad slower cancelled-at1020 cancelled-at1020 all-40 at1020");
    assert_int_equal(async_task_result(&M[0].task), ASYNC_ECANCELED);
    /* The wait has emptied the group: a new TaskGroup can start in it. */
    assert_int_equal(G.count, 0);
    assert_int_equal(async_group_spawn(&TL, &G, &M[3].task, t_sleeper_fn), 0);
}

/* Cancelling the task that waits on the group cancels every member and
 * reports the cancellation once they have all finished. */
static void cancelling_the_waiter_cancels_members(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "x", 100, 0);
    add(1, "y", 200, 0);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, gather_fn);
    t_settle();
    t_advance(10);
    async_cancel(&TL, &b.task);
    t_settle();
    assert_log("x y cancelled-at1010 cancelled-at1010 all-1 at1010");
    assert_int_equal(async_group_running_count(&G), 0);
}

/* Waiting for the next member: members come back in completion order and
 * leave the group; interrupting the wait cancels nobody (asyncio.wait). */
static int next_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await_rc(f->rc, async_group_next(L, &G, &f->done));
        if (f->rc < 0)
            break;
        t_log(async_frame(f->done, struct t_sleeper, task)->name);
        f->n++;
    }
    t_logi("end", f->rc);
    async_end;
}

static void next_returns_members_in_completion_order(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "three", 30, 0);
    add(1, "one", 10, 0);
    add(2, "two", 20, 0);
    b = (struct boss){0};
    TVC.autojump = true;
    async_run(&TL, &b.task, next_fn);
    assert_log("three one two one two three end-16");
    assert_int_equal(b.n, 3);
    assert_int_equal(G.count, 0); /* every slot freed */
}

static void interrupting_next_cancels_nobody(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "m", 100, 0);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, next_fn);
    t_settle();
    async_cancel(&TL, &b.task);
    t_settle();
    assert_log("m end-1");
    assert_false(async_task_is_done(&M[0].task));
    t_advance(100);
    assert_true(async_task_is_done(&M[0].task));
    assert_int_equal(async_task_result(&M[0].task), 0);
}

/* Regression (model test, group_next_repark): woken by a member that is
 * then reaped by someone else, and cancelled before it runs, the waiter
 * reports the cancellation instead of waiting on for the others. */
static void reap_and_cancel(async_loop *L, struct meddler *m)
{
    m->rc = (int)async_group_reap(&G); /* someone else takes it ... */
    async_cancel(L, m->victim);        /* ... and cancels b before it runs */
}

static void next_reparking_sees_a_pending_cancel(void **state)
{
    static struct boss b;
    static struct meddler thief;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "quick", 10, 0);
    add(1, "long", 1000, 0);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, next_fn);
    thief = (struct meddler){0};
    thief.at = 10;
    thief.act = reap_and_cancel;
    thief.victim = &b.task;
    async_spawn(&TL, &thief.task, meddler_fn);
    t_settle();
    async_vclock_advance(&TVC, 10);
    t_settle(); /* quick ends and wakes b; the thief runs before b does */
    assert_int_equal(thief.rc, 1);
    assert_log("quick long end-1");
    assert_true(async_task_is_done(&b.task));
    assert_false(async_task_is_done(&M[1].task)); /* asyncio.wait: not cancelled */
}

/* Regression (model test, waiter_slot): a waiter interrupted by a
 * deadline keeps the group while it drains: a second waiter in that
 * window is refused, and the first one still finishes. */
struct timed_boss {
    async_task task;
    async_co co;
    async_timeout to;
    int rc;
};

static int timed_gather_fn(async_loop *L, async_task *self)
{
    struct timed_boss *f = async_frame(self, struct timed_boss, task);
    async_begin(L, &f->co);
    async_await_for(&f->to, 5, f->rc, async_group_wait(L, &G));
    t_logi("timed", f->rc);
    async_end;
}

/* w2 becomes ready on the deadline tick, ahead of the cancelled member,
 * and tries the group while w1 drains. */
static int late_gather_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 5));
    async_await_rc(f->rc, async_group_wait(L, &G));
    t_logi("late", f->rc);
    async_end;
}

static void draining_waiter_keeps_the_group(void **state)
{
    static struct timed_boss w1;
    static struct boss w2;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    w1 = (struct timed_boss){0};
    w2 = (struct boss){0};
    async_spawn(&TL, &w2.task, late_gather_fn); /* its timer fires first */
    add(0, "m", 1000, 0);
    async_spawn(&TL, &w1.task, timed_gather_fn);
    t_settle();
    t_advance(5);
    assert_log("m late-4 cancelled-at1005 timed-2");
    assert_true(async_task_is_done(&w1.task));
    assert_int_equal(async_group_running_count(&G), 0);
}

/* Regression (model test, group_next_steal): the waiter woken for a
 * member keeps the group until its call returns: a second waiter arriving
 * in between is refused and cannot take that member. */
static int second_next_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 10)); /* ready in the pass where a ends, after a */
    async_await_rc(f->rc, async_group_next(L, &G, &f->done));
    t_logi("second", f->rc);
    async_end;
}

static void woken_waiter_keeps_its_member(void **state)
{
    static struct boss w1, w2;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "a", 10, 0);
    add(1, "b", 1000, 0);
    w1 = (struct boss){0};
    w2 = (struct boss){0};
    async_spawn(&TL, &w1.task, next_fn);
    async_spawn(&TL, &w2.task, second_next_fn);
    t_settle();
    t_advance(10); /* a ends and wakes w1; w2 runs before w1 */
    assert_log("a b second-4 a");
    assert_ptr_equal(G.waiter, &w1.task); /* parked again, for b */
}

/* A member waiting on its own group would wait for itself forever. */
struct member_waiter {
    async_task task;
    async_co co;
    async_task *done;
    int rc, rc2;
};

static int member_waiter_fn(async_loop *L, async_task *self)
{
    struct member_waiter *f = async_frame(self, struct member_waiter, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_group_wait(L, &G));
    async_await_rc(f->rc2, async_group_next(L, &G, &f->done));
    t_logi("own-wait", f->rc);
    t_logi("own-next", f->rc2);
    async_end;
}

static void member_waiting_on_its_own_group_is_refused(void **state)
{
    static struct member_waiter m;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    m = (struct member_waiter){0};
    assert_int_equal(async_group_spawn(&TL, &G, &m.task, member_waiter_fn), 0);
    t_settle();
    assert_log("own-wait-10 own-next-10");
    assert_true(async_task_is_done(&m.task));
}

static void capacity_reuse_and_misuse(void **state)
{
    static async_group g2;
    static struct t_sleeper extra;
    (void)state;
    assert_int_equal(async_group_init(&g2, slots, 0, 0), ASYNC_EINVAL);
    assert_int_equal(async_group_init(&g2, NULL, 2, 0), ASYNC_EINVAL);
    assert_int_equal(async_group_init(&g2, slots, 2, 0x40), ASYNC_EINVAL);
    async_group_init(&G, slots, 2, 0);
    add(0, "a", 5, 0);
    add(1, "b", 5, 0);
    extra = (struct t_sleeper){0};
    assert_int_equal(async_group_spawn(&TL, &G, &extra.task, t_sleeper_fn), ASYNC_ENOSPC);
    /* A member cannot be spawned elsewhere while the group holds it. */
    assert_int_equal(async_spawn(&TL, &M[0].task, t_sleeper_fn), ASYNC_EBUSY);
    t_settle();
    t_advance(5);
    assert_int_equal(async_group_running_count(&G), 0);
    assert_int_equal(async_spawn(&TL, &M[0].task, t_sleeper_fn), ASYNC_EBUSY); /* still held */
    assert_int_equal(async_group_reap(&G), 2);
    assert_int_equal(G.count, 0);
    assert_int_equal(async_group_spawn(&TL, &G, &extra.task, t_sleeper_fn), 0);
    assert_int_equal(async_spawn(&TL, &M[0].task, t_sleeper_fn), 0); /* free again */
}

/* An empty group: wait returns at once, next reports nothing to wait for. */
static int empty_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_group_wait(L, &G));
    t_logi("wait", f->rc);
    async_await_rc(f->rc, async_group_next(L, &G, &f->done));
    t_logi("next", f->rc);
    async_end;
}

static void empty_group(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 2, 0);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, empty_fn);
    assert_int_equal(async_run_once(&TL), 1);
    assert_log("wait0 next-16");
}

/* Two tasks cannot wait on one group at once. */
static void second_waiter_is_refused(void **state)
{
    static struct boss a, b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "m", 10, 0);
    a = (struct boss){0};
    b = (struct boss){0};
    async_spawn(&TL, &a.task, gather_fn);
    async_spawn(&TL, &b.task, gather_fn);
    t_settle();
    assert_log("m all-4 at1000");
    t_advance(10);
    assert_log("m all-4 at1000 all0 at1010");
}

/* asyncio.gather raises the first error at once while the others keep
 * running; asyncio.wait(FIRST_EXCEPTION) returns at the same moment.
 * Waiting for all afterwards gives the same first error. */
static int first_error_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_group_wait_first_error(L, &G));
    t_logi("first", f->rc);
    t_logi("at", (long)async_now(L));
    t_logi("running", (long)async_group_running_count(&G));
    async_await_rc(f->rc, async_group_wait_first_error(L, &G)); /* still failed: at once */
    t_logi("again", f->rc);
    async_await_rc(f->rc, async_group_wait(L, &G));
    t_logi("all", f->rc);
    t_logi("at", (long)async_now(L));
    async_end;
}

static void gather_reports_the_first_error_at_once(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "slow", 100, 4);
    add(1, "bad", 20, ASYNC_EPROTO);
    add(2, "worse", 30, ASYNC_ECONNRESET);
    b = (struct boss){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, first_error_fn), 0);
    assert_log("slow bad worse first-40 at1020 running2 again-40 all-40 at1100");
    assert_int_equal(async_task_result(&M[0].task), 4); /* not cancelled */
    assert_int_equal(async_task_result(&M[2].task), ASYNC_ECONNRESET);
}

/* With no error it waits for every member (ALL_COMPLETED). */
static void first_error_without_errors_waits_for_all(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "x", 30, 1);
    add(1, "y", 10, 2);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, first_error_fn);
    t_settle();
    t_advance(10);
    assert_log("x y");
    t_advance(20);
    assert_log("x y first0 at1030 running0 again0 all0 at1030");
}

/* Interrupting gather cancels its members (as asyncio.gather does). */
static void interrupting_first_error_cancels_members(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "m", 100, 0);
    b = (struct boss){0};
    async_spawn(&TL, &b.task, first_error_fn);
    t_settle();
    async_cancel(&TL, &b.task);
    t_settle();
    assert_log("m cancelled-at1000 first-1 at1000 running0 again-1 all-1 at1000");
}

/* After a wait the group is empty: its slots serve again without a reap
 * (the next spawn used to fail with ASYNC_ENOSPC). */
static int twice_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    for (f->n = 0; f->n < 3; f->n++) {
        M[0] = (struct t_sleeper){0};
        M[1] = (struct t_sleeper){0};
        M[0].name = "p";
        M[1].name = "q";
        M[1].result = f->n ? 0 : ASYNC_EPROTO;
        async_await(async_group_spawn(L, &G, &M[0].task, t_sleeper_fn));
        async_await(async_group_spawn(L, &G, &M[1].task, t_sleeper_fn));
        async_await_rc(f->rc, async_group_wait(L, &G));
        t_logi("round", f->rc);
    }
    async_end;
}

static void wait_empties_the_group(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 2, 0);
    b = (struct boss){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, twice_fn), 0);
    assert_log("p q round-40 p q round0 p q round0"); /* the error does not stay */
    assert_int_equal(G.count, 0);
}

/* async_group_next returns each member's result, errors included, and
 * the member in *done (asyncio.as_completed); NULL when it fails itself. */
static int results_fn(async_loop *L, async_task *self)
{
    struct boss *f = async_frame(self, struct boss, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await_rc(f->rc, async_group_next(L, &G, &f->done));
        if (f->done == NULL)
            break;
        t_log(async_frame(f->done, struct t_sleeper, task)->name);
        t_logi("rc", f->rc);
    }
    t_logi("end", f->rc);
    async_end;
}

static void next_returns_each_result(void **state)
{
    static struct boss b;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "ok", 20, 3);
    add(1, "bad", 10, ASYNC_EPROTO);
    b = (struct boss){0};
    TVC.autojump = true;
    async_run(&TL, &b.task, results_fn);
    assert_log("ok bad bad rc-40 ok rc3 end-16");
}

/* The waiter of a gather, woken because the last member finished, finds
 * a new member spawned and itself cancelled while it sat in the run
 * queue: it takes the cancel in, cancels the new member, drains, and
 * reports the cancel (it must not park again as if nothing happened). */
struct respawner {
    async_task task;
    async_co co;
    async_task *waiter;
};

static int respawn_fn(async_loop *L, async_task *self)
{
    struct respawner *f = async_frame(self, struct respawner, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 10)); /* due with m0, stepped right after it */
    add(1, "late", 1000, 0);
    async_cancel(L, f->waiter); /* queued, not parked: only flagged */
    async_end;
}

static void reparking_waiter_takes_in_a_pending_cancel(void **state)
{
    static struct boss w;
    static struct respawner r;
    (void)state;
    async_group_init(&G, slots, 6, 0);
    add(0, "m0", 10, 0);
    w = (struct boss){0};
    r = (struct respawner){0};
    r.waiter = &w.task;
    async_spawn(&TL, &r.task, respawn_fn);
    async_spawn(&TL, &w.task, gather_fn);
    t_settle();
    t_advance(10);
    assert_log("m0 all-1 at1010"); /* late was cancelled before it ever ran */
    assert_int_equal(w.rc, ASYNC_ECANCELED);
    assert_int_equal(async_task_result(&M[1].task), ASYNC_ECANCELED);
    assert_int_equal(async_group_running_count(&G), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(gather_runs_concurrently),
        T(gather_reports_first_error_after_all_finish),
        T(task_group_cancels_siblings_on_error),
        T(cancelling_the_waiter_cancels_members),
        T(next_returns_members_in_completion_order),
        T(interrupting_next_cancels_nobody),
        T(next_reparking_sees_a_pending_cancel),
        T(draining_waiter_keeps_the_group),
        T(woken_waiter_keeps_its_member),
        T(member_waiting_on_its_own_group_is_refused),
        T(capacity_reuse_and_misuse),
        T(empty_group),
        T(second_waiter_is_refused),
        T(reparking_waiter_takes_in_a_pending_cancel),
        T(gather_reports_the_first_error_at_once),
        T(first_error_without_errors_waits_for_all),
        T(interrupting_first_error_cancels_members),
        T(wait_empties_the_group),
        T(next_returns_each_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
