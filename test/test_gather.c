/* SPDX-License-Identifier: MIT */
/* async_gather: waiting for a fixed array of spawned tasks (no group):
 * all finish, the first error in array order, cancellation and timeout
 * of the waiter (the unfinished ones are cancelled and drained), an
 * interruption taken in when it parks again, done and repeated tasks,
 * and every misuse row of its contract. */
#include "testlib.h"

static struct t_sleeper W[4];
static async_task *tasks[4];

static void add(int i, const char *name, async_tick sleep, int result)
{
    W[i] = (struct t_sleeper){0};
    W[i].name = name;
    W[i].sleep = sleep;
    W[i].result = result;
    tasks[i] = &W[i].task;
    assert_int_equal(async_spawn(&TL, &W[i].task, t_sleeper_fn), 0);
}

struct gatherer {
    async_task task;
    async_co co;
    async_task *const *tasks;
    unsigned n;
    async_tick within; /* 0: no timeout */
    async_timeout to;
    int rc;
};

static int gatherer_fn(async_loop *L, async_task *self)
{
    struct gatherer *f = async_frame(self, struct gatherer, task);
    async_begin(L, &f->co);
    if (f->within)
        async_await_for(&f->to, f->within, f->rc, async_gather(L, f->tasks, f->n));
    else
        async_await_rc(f->rc, async_gather(L, f->tasks, f->n));
    t_logi("all", f->rc);
    t_logi("at", (long)async_now(L));
    async_end;
}

static struct gatherer G;

static void spawn_gatherer(unsigned n, async_tick within)
{
    G = (struct gatherer){0};
    G.tasks = tasks;
    G.n = n;
    G.within = within;
    assert_int_equal(async_spawn(&TL, &G.task, gatherer_fn), 0);
}

/* asyncio.gather(t1, t2) of running tasks: the wait lasts as long as the
 * longest, each task keeps its result, and 0 means no error. */
static void gathers_running_tasks(void **state)
{
    (void)state;
    add(0, "a", 20, 1);
    add(1, "b", 10, 2);
    spawn_gatherer(2, 0);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("a b all0 at1020");
    assert_int_equal(async_task_result(&W[0].task), 1);
    assert_int_equal(async_task_result(&W[1].task), 2);
    assert_int_equal(t_misuse_count, 0);
}

/* Everyone is waited for; the error reported is the first in the array
 * (not the first to happen, as a group's is), cancellation not counted. */
static void reports_the_first_error_in_array_order(void **state)
{
    (void)state;
    add(0, "ok", 40, 3);
    add(1, "late", 30, ASYNC_EPROTO);
    add(2, "early", 10, ASYNC_ECONNRESET);
    spawn_gatherer(3, 0);
    TVC.autojump = true;
    async_run(&TL, NULL, NULL);
    assert_log("ok late early all-40 at1040");
    assert_int_equal(G.rc, ASYNC_EPROTO);
    assert_int_equal(async_task_result(&W[2].task), ASYNC_ECONNRESET);
}

static void a_cancelled_task_is_not_an_error(void **state)
{
    (void)state;
    add(0, "x", 10, 0);
    add(1, "y", 50, 0);
    spawn_gatherer(2, 0);
    t_settle();
    t_advance(20);
    assert_int_equal(async_cancel(&TL, &W[1].task), 0); /* not the waiter's doing */
    t_settle();
    assert_log("x y cancelled-at1020 all0 at1020");
    assert_int_equal(G.rc, 0);
}

/* A finished task may be listed (its error counts), one task twice, and
 * an empty array is done at once. */
static int finished_fn(async_loop *L, async_task *self)
{
    (void)L;
    (void)self;
    return ASYNC_EPROTO;
}

static void done_repeated_and_no_tasks(void **state)
{
    static async_task done;
    (void)state;
    done = (async_task){0};
    async_spawn(&TL, &done, finished_fn);
    t_settle();
    assert_true(async_task_is_done(&done));
    add(0, "w", 10, 0);
    tasks[1] = &W[0].task;
    tasks[2] = &done;
    spawn_gatherer(3, 0);
    t_settle();
    t_advance(10);
    assert_log("w all-40 at1010");

    t_log("|");
    spawn_gatherer(0, 0);
    t_settle();
    assert_log("w all-40 at1010 | all0 at1010");
    assert_int_equal(t_misuse_count, 0);
}

/* Cancelling the waiter: the task waited for is cancelled at once, the
 * others once it has finished; the wait reports the cancellation when
 * all have finished, and leaves nothing draining. */
static void cancelling_the_waiter_cancels_the_unfinished(void **state)
{
    (void)state;
    add(0, "x", 100, 0);
    add(1, "done", 5, 7);
    add(2, "y", 200, 0);
    spawn_gatherer(3, 0);
    t_settle();
    t_advance(10);
    assert_int_equal(async_cancel(&TL, &G.task), 0);
    t_settle();
    assert_log("x done y cancelled-at1010 cancelled-at1010 all-1 at1010");
    assert_int_equal(G.rc, ASYNC_ECANCELED);
    assert_int_equal(async_task_result(&W[1].task), 7); /* finished before: kept */
    assert_int_equal(async_task_result(&W[2].task), ASYNC_ECANCELED);
    assert_int_equal(async_loop_task_count(&TL), 0);
}

/* The gather in async_await_for, as firmware/ref.c's gatherer: the slow
 * task is cancelled at the deadline and the wait reports the timeout. */
static void a_timeout_cancels_the_slow_one(void **state)
{
    (void)state;
    add(0, "fast", 20, 1);
    add(1, "slow", 180, 1);
    spawn_gatherer(2, 100);
    TVC.autojump = true;
    async_run(&TL, NULL, NULL);
    assert_log("fast slow cancelled-at1100 all-2 at1100");
    assert_int_equal(async_task_result(&W[0].task), 1);
    assert_int_equal(async_task_result(&W[1].task), ASYNC_ECANCELED);

    /* both have finished: the same frames gather again at once */
    t_log("|");
    add(0, "fast", 20, 1);
    add(1, "slow", 60, 1);
    spawn_gatherer(2, 100);
    async_run(&TL, NULL, NULL);
    assert_log("fast slow cancelled-at1100 all-2 at1100 | fast slow all0 at1160");
}

/* A task that ignores its cancellation and fails: the wait still
 * reports the interruption, after it has finished. */
struct stubborn {
    async_task task;
    async_co co;
    int rc;
};

static int stubborn_fn(async_loop *L, async_task *self)
{
    struct stubborn *f = async_frame(self, struct stubborn, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_sleep(L, 100)); /* the cancellation swallowed */
    t_log("stubborn-ends");
    async_return(ASYNC_EPROTO);
    async_end;
}

static void the_interruption_wins_over_errors(void **state)
{
    static struct stubborn s;
    (void)state;
    s = (struct stubborn){0};
    async_spawn(&TL, &s.task, stubborn_fn);
    tasks[0] = &s.task;
    spawn_gatherer(1, 30);
    TVC.autojump = true;
    async_run(&TL, NULL, NULL);
    assert_log("stubborn-ends all-2 at1030");
    assert_int_equal(async_task_result(&s.task), ASYNC_EPROTO);
}

/* The waiter, woken because the task it waited for finished, is
 * cancelled while it sits in the run queue: when it parks again it takes
 * the cancellation in, cancels the rest, drains and reports it. */
struct canceller {
    async_task task;
    async_co co;
    async_task *victim;
};

static int canceller_fn(async_loop *L, async_task *self)
{
    struct canceller *f = async_frame(self, struct canceller, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 10)); /* due with the first worker, after it */
    async_cancel(L, f->victim);      /* queued, not parked: only flagged */
    async_end;
}

static void reparking_takes_in_a_pending_cancel(void **state)
{
    static struct canceller c;
    (void)state;
    add(0, "first", 10, 0);
    add(1, "second", 1000, 0);
    c = (struct canceller){0};
    c.victim = &G.task;
    async_spawn(&TL, &c.task, canceller_fn);
    spawn_gatherer(2, 0);
    t_settle();
    t_advance(10);
    t_settle();
    assert_log("first second cancelled-at1010 all-1 at1010");
    assert_int_equal(async_task_result(&W[1].task), ASYNC_ECANCELED);
    assert_int_equal(async_loop_task_count(&TL), 0);
}

/* The task waited for sits in its joiner slot: nobody else can join it
 * meanwhile (ASYNC_EBUSY), and a join of a later one before the gather
 * comes to it makes the gather refuse (ASYNC_EBUSY) and leave it alone;
 * a later cancellation of the waiter still reaches it (nothing is left
 * draining). */
static void joins_of_gathered_tasks(void **state)
{
    static struct t_joiner j0, j1;
    (void)state;
    add(0, "a", 10, 0);
    add(1, "b", 50, 4);
    spawn_gatherer(2, 0);
    t_settle();
    t_spawn_joiner(&j0, &W[0].task);
    t_spawn_joiner(&j1, &W[1].task);
    t_settle();
    assert_int_equal(j0.rc, ASYNC_EBUSY);
    assert_int_equal(t_misuse_last, ASYNC_EBUSY);
    t_advance(10); /* a ends: the gather finds b joined by j1 */
    assert_int_equal(G.rc, ASYNC_EBUSY);
    assert_log("a b joined-4 all-4 at1010");
    assert_false(async_task_is_cancelled(&W[1].task));
    t_advance(40);
    assert_log("a b joined-4 all-4 at1010 joined4");
}

/* Every misuse row: the call changes nothing (no task is cancelled or
 * waited for) and reports to the misuse hook. */
struct misuser {
    async_task task;
    async_co co;
    async_task *list[2];
    async_task never;
    int rc[6];
};

static int misuser_fn(async_loop *L, async_task *self)
{
    struct misuser *f = async_frame(self, struct misuser, task);
    async_begin(L, &f->co);
    f->rc[0] = async_gather(NULL, f->list, 1);
    f->rc[1] = async_gather(L, NULL, 1);
    f->list[1] = NULL;
    f->rc[2] = async_gather(L, f->list, 2); /* a NULL task */
    f->list[1] = &f->never;
    f->rc[3] = async_gather(L, f->list, 2); /* never spawned */
    f->list[1] = self;
    f->rc[4] = async_gather(L, f->list, 2); /* itself */
    async_end;
}

static void misuse_rows(void **state)
{
    static struct misuser m;
    static struct t_joiner j;
    static async_group grp;
    static async_task *slot[1];
    static struct t_sleeper member;
    (void)state;
    add(0, "w", 100, 0);
    m = (struct misuser){0};
    m.list[0] = &W[0].task;
    async_spawn(&TL, &m.task, misuser_fn);
    t_settle();
    assert_int_equal(m.rc[0], ASYNC_EINVAL);
    assert_int_equal(m.rc[1], ASYNC_EINVAL);
    assert_int_equal(m.rc[2], ASYNC_EINVAL);
    assert_int_equal(m.rc[3], ASYNC_EINVAL);
    assert_int_equal(m.rc[4], ASYNC_EDEADLK);
    assert_int_equal(t_misuse_last, ASYNC_EDEADLK);
    assert_int_equal(t_misuse_count, 5);
    assert_false(async_task_is_cancelled(&W[0].task));
    assert_null(W[0].task.joiner.task);

    /* outside a task */
    assert_int_equal(async_gather(&TL, tasks, 1), ASYNC_EPERM);
    assert_int_equal(t_misuse_last, ASYNC_EPERM);

    /* joined by another task, or a member of a group */
    t_spawn_joiner(&j, &W[0].task);
    t_settle();
    spawn_gatherer(1, 0);
    t_settle();
    assert_int_equal(G.rc, ASYNC_EBUSY);
    async_group_init(&grp, slot, 1, 0);
    member = (struct t_sleeper){0};
    member.name = "m";
    member.sleep = 100;
    async_group_spawn(&TL, &grp, &member.task, t_sleeper_fn);
    tasks[0] = &member.task;
    spawn_gatherer(1, 0);
    t_settle();
    assert_int_equal(G.rc, ASYNC_EBUSY);
    assert_int_equal(t_misuse_last, ASYNC_EBUSY);
    assert_int_equal(t_misuse_count, 8);
    assert_false(async_task_is_cancelled(&member.task));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(gathers_running_tasks),
        T(reports_the_first_error_in_array_order),
        T(a_cancelled_task_is_not_an_error),
        T(done_repeated_and_no_tasks),
        T(cancelling_the_waiter_cancels_the_unfinished),
        T(a_timeout_cancels_the_slow_one),
        T(the_interruption_wins_over_errors),
        T(reparking_takes_in_a_pending_cancel),
        T(joins_of_gathered_tasks),
        T(misuse_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
