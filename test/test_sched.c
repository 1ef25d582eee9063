/* SPDX-License-Identifier: MIT */
/* Scheduler: spawning, FIFO order, batch fairness, running until a task
 * or all tasks finish, deadlock detection, joins, states, misuse. */
#include "testlib.h"
#include <string.h>

/* Size goals, checked at compile time on every target the suites build
 * for (host, Cortex-M, RISC-V, AVR): a task header is six words at most -
 * 48 bytes on x86-64, 24 on a 32-bit MCU - timer node included, plus the two of the
 * loop's task list where it is on (ASYNC_CONF_TASK_LIST).  With
 * 16-bit pointers (AVR) a word holds neither the tick nor the result, so
 * the same header is four pointers, a tick and four bytes of state: 16
 * bytes with 32-bit ticks, 14 with 16-bit ones. */
#define T_STATIC_ASSERT(cond, name) typedef char name[(cond) ? 1 : -1]
#define T_TASK_HEADER_MAX                                                 \
    (sizeof(void *) >= 4 ? 6 * sizeof(void *) : 4 * sizeof(void *) + sizeof(async_tick) + 4)
#if !ASYNC_CONF_DEBUG && ASYNC_CONF_TICK_BITS <= 32
T_STATIC_ASSERT(sizeof(async_task) <= T_TASK_HEADER_MAX + 2 * ASYNC_CONF_TASK_LIST * sizeof(void *),
                task_header_is_six_words_at_most);
#endif
#if ASYNC_CONF_LC == ASYNC_LC_SWITCH /* the labels backend's resume point is 32-bit */
T_STATIC_ASSERT(sizeof(async_co) <= sizeof(void *) + 2 * sizeof(int32_t), coroutine_state_is_small);
#endif

struct logger {
    async_task task;
    async_co co;
    const char *name;
    int result;
    async_tick sleep;
};

static int logger_fn(async_loop *L, async_task *self)
{
    struct logger *f = async_frame(self, struct logger, task);
    async_begin(L, &f->co);
    t_log(f->name);
    if (f->sleep)
        async_await(async_sleep(L, f->sleep));
    async_return(f->result);
    async_end;
}

static void spawned_tasks_run_in_fifo_order(void **state)
{
    static struct logger t[4];
    static const char *names[] = {"a", "b", "c", "d"};
    int i;
    (void)state;
    for (i = 0; i < 4; i++) {
        t[i] = (struct logger){0};
        t[i].name = names[i];
        assert_int_equal(async_spawn(&TL, &t[i].task, logger_fn), 0);
        assert_int_equal(async_task_state(&t[i].task), ASYNC_TASK_READY);
    }
    assert_int_equal(async_loop_task_count(&TL), 4);
    assert_int_equal(async_run_once(&TL), 4);
    assert_log("a b c d");
    assert_int_equal(async_loop_task_count(&TL), 0);
}

/* A task spawned during a pass runs in the same pass, in the round after
 * the tasks that were already ready (async_run_once's rounds); where a
 * pass is one round (size-first builds), in the next pass. */
struct spawner {
    async_task task;
    async_co co;
    struct logger child;
};

static int spawner_fn(async_loop *L, async_task *self)
{
    struct spawner *f = async_frame(self, struct spawner, task);
    async_begin(L, &f->co);
    t_log("spawner");
    f->child.name = "child";
    async_spawn(L, &f->child.task, logger_fn);
    t_log("spawned");
    async_end;
}

static void spawn_during_pass_runs_after_the_ready_ones(void **state)
{
    static struct spawner s;
    static struct logger other;
    (void)state;
    s = (struct spawner){0};
    other = (struct logger){0};
    other.name = "other";
    async_spawn(&TL, &s.task, spawner_fn);
    async_spawn(&TL, &other.task, logger_fn);
#if ASYNC__ROUNDS > 1
    assert_int_equal(async_run_once(&TL), 3);
#else
    assert_int_equal(async_run_once(&TL), 2);
    assert_log("spawner spawned other");
    assert_int_equal(async_run_once(&TL), 1);
#endif
    assert_log("spawner spawned other child");
    assert_int_equal(async_loop_task_count(&TL), 0);
}

/* Two tasks that wake each other cannot hold the loop: a pass runs
 * ASYNC__ROUNDS rounds at most (65; 1 in size-first builds), then
 * timers, posts and the port get their turn.  Here each round after the
 * first is one step: the task the one before woke. */
struct pinger {
    async_task task;
    async_co co;
    async_sem *mine, *other;
    int rounds;
};

static int pinger_fn(async_loop *L, async_task *self)
{
    struct pinger *f = async_frame(self, struct pinger, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await(async_sem_acquire(L, f->mine));
        f->rounds++;
        async_sem_release(L, f->other);
    }
    async_end;
}

static void tasks_waking_each_other_leave_the_pass_after_a_budget(void **state)
{
    static async_sem a, b;
    static struct pinger p[2];
    int steps;
    (void)state;
    async_sem_init(&a, 1, 0);
    async_sem_init(&b, 0, 0);
    p[0] = (struct pinger){0};
    p[1] = (struct pinger){0};
    p[0].mine = p[1].other = &a;
    p[0].other = p[1].mine = &b;
    async_spawn(&TL, &p[0].task, pinger_fn);
    async_spawn(&TL, &p[1].task, pinger_fn);
    steps = async_run_once(&TL);
    assert_int_equal(steps, 2 + (ASYNC__ROUNDS - 1));
    assert_true(async_loop_has_work(&TL)); /* the game goes on next pass */
    assert_int_equal(p[0].rounds + p[1].rounds, steps);
    steps = async_run_once(&TL);
    assert_int_equal(steps, ASYNC__ROUNDS);
    async_cancel(&TL, &p[0].task);
    async_cancel(&TL, &p[1].task);
    t_settle();
}

/* A yield gives way to everything the pass makes ready, not only to what
 * was ready before it: the yielder resumes in the next pass. */
struct yield_once {
    async_task task;
    async_co co;
    bool by_sleep; /* give way by a sleep already due instead */
};

static int yield_once_fn(async_loop *L, async_task *self)
{
    struct yield_once *f = async_frame(self, struct yield_once, task);
    async_begin(L, &f->co);
    t_log("yield");
    if (f->by_sleep)
        async_await(async_sleep(L, 0));
    else
        async_await(async_yield());
    t_log("resumed");
    async_end;
}

static void give_way_after_what_the_pass_readies(bool by_sleep)
{
    static struct yield_once y;
    static struct spawner s;
    y = (struct yield_once){0};
    y.by_sleep = by_sleep;
    s = (struct spawner){0};
    async_spawn(&TL, &y.task, yield_once_fn);
    async_spawn(&TL, &s.task, spawner_fn);
#if ASYNC__ROUNDS > 1
    assert_int_equal(async_run_once(&TL), 3);
    assert_log("yield spawner spawned child");
    assert_int_equal(async_task_state(&y.task), ASYNC_TASK_READY);
    assert_int_equal(async_run_once(&TL), 1);
    assert_log("yield spawner spawned child resumed");
#else /* one round: the yield queues as any other task, in FIFO order */
    assert_int_equal(async_run_once(&TL), 2);
    assert_log("yield spawner spawned");
    assert_int_equal(async_run_once(&TL), 2);
    assert_log("yield spawner spawned resumed child");
#endif
}

static void yield_resumes_after_what_the_pass_readies(void **state)
{
    (void)state;
    give_way_after_what_the_pass_readies(false);
}

/* A sleep already due is a yield: not a wake-up for the next round. */
static void due_sleep_resumes_after_what_the_pass_readies(void **state)
{
    (void)state;
    give_way_after_what_the_pass_readies(true);
}

/* A task that yields forever still lets timers fire and others run. */
struct spinner {
    async_task task;
    async_co co;
    int spins;
    bool *stop;
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

struct stopper {
    async_task task;
    async_co co;
    bool *stop;
};

static int stopper_fn(async_loop *L, async_task *self)
{
    struct stopper *f = async_frame(self, struct stopper, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 3));
    *f->stop = true;
    async_end;
}

static void yielding_task_does_not_starve_timers(void **state)
{
    static struct spinner sp;
    static struct stopper st;
    static bool stop;
    int passes = 0;
    (void)state;
    stop = false;
    sp = (struct spinner){0};
    st = (struct stopper){0};
    sp.stop = st.stop = &stop;
    async_spawn(&TL, &sp.task, spinner_fn);
    async_spawn(&TL, &st.task, stopper_fn);
    while (!async_task_is_done(&sp.task) && passes < 100) {
        async_run_once(&TL);
        async_vclock_advance(&TVC, 1);
        passes++;
    }
    assert_true(async_task_is_done(&sp.task));
    assert_true(async_task_is_done(&st.task));
    assert_true(sp.spins >= 3 && sp.spins <= 6);
}

/* loop.run_until_complete: the others are left as they are. */
static void run_returns_main_result_while_others_sleep(void **state)
{
    static struct logger main_t, sleeper;
    (void)state;
    main_t = (struct logger){0};
    sleeper = (struct logger){0};
    main_t.name = "main";
    main_t.sleep = 10;
    main_t.result = 77;
    sleeper.name = "sleeper";
    sleeper.sleep = 1000;
    TVC.autojump = true;
    async_spawn(&TL, &sleeper.task, logger_fn);
    assert_int_equal(async_run_until_complete(&TL, &main_t.task, logger_fn), 77);
    assert_int_equal(async_now(&TL), 1010);
    assert_false(async_task_is_done(&sleeper.task));
    assert_int_equal(async_loop_task_count(&TL), 1);
    /* Running until all tasks finish drains the rest. */
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_true(async_task_is_done(&sleeper.task));
    assert_int_equal(async_now(&TL), 2000);
}

struct blocked {
    async_task task;
    async_co co;
    async_event ev;
};

static int blocked_fn(async_loop *L, async_task *self)
{
    struct blocked *f = async_frame(self, struct blocked, task);
    async_begin(L, &f->co);
    async_await(async_event_wait(L, &f->ev));
    async_end;
}

static void run_reports_deadlock(void **state)
{
    static struct blocked b;
    (void)state;
    b = (struct blocked){0};
    async_event_init(&b.ev);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, blocked_fn), ASYNC_EDEADLK);
    assert_int_equal(async_task_state(&b.task), ASYNC_TASK_WAITING);
    /* The loop is intact: setting the event lets the task finish. */
    async_event_set(&TL, &b.ev);
    assert_int_equal(async_run(&TL, &b.task, NULL), 0);
}

static void spawn_misuse_is_refused(void **state)
{
    static struct logger t;
    (void)state;
    t = (struct logger){0};
    t.name = "t";
    t.sleep = 5;
    assert_int_equal(async_spawn(&TL, NULL, logger_fn), ASYNC_EINVAL);
    assert_int_equal(async_spawn(&TL, &t.task, NULL), ASYNC_EINVAL);
    assert_int_equal(async_spawn(&TL, &t.task, logger_fn), 0);
    assert_int_equal(async_spawn(&TL, &t.task, logger_fn), ASYNC_EBUSY); /* ready */
    t_settle();
    assert_int_equal(async_spawn(&TL, &t.task, logger_fn), ASYNC_EBUSY); /* waiting */
    assert_int_equal(t_misuse_count, 4);
    assert_int_equal(t_misuse_last, ASYNC_EBUSY);
    t_advance(5);
    assert_true(async_task_is_done(&t.task));
    /* A finished task may be spawned again: its frame restarts. */
    assert_int_equal(async_spawn(&TL, &t.task, logger_fn), 0);
    t_settle();
    t_advance(5);
    assert_log("t t");
    assert_true(async_task_is_done(&t.task));
    assert_int_equal(async_loop_task_count(&TL), 0);
}

/* States through a task's life, observed from inside and outside. */
struct observer {
    async_task task;
    async_co co;
    int inside;
};

static int observer_fn(async_loop *L, async_task *self)
{
    struct observer *f = async_frame(self, struct observer, task);
    async_begin(L, &f->co);
    f->inside = (int)async_task_state(self);
    assert_ptr_equal(async_current(L), self);
    async_await(async_sleep(L, 1));
    async_return(3);
    async_end;
}

static void task_states_through_a_life(void **state)
{
    static struct observer o;
    (void)state;
    o = (struct observer){0};
    assert_int_equal(async_task_state(&o.task), ASYNC_TASK_IDLE);
    assert_int_equal(async_task_result(&o.task), ASYNC_EAGAIN);
    async_spawn(&TL, &o.task, observer_fn);
    assert_int_equal(async_task_state(&o.task), ASYNC_TASK_READY);
    t_settle();
    assert_int_equal(o.inside, ASYNC_TASK_RUNNING);
    assert_int_equal(async_task_state(&o.task), ASYNC_TASK_WAITING);
    assert_int_equal(async_task_result(&o.task), ASYNC_EAGAIN);
    assert_null(async_current(&TL));
    t_advance(1);
    assert_int_equal(async_task_state(&o.task), ASYNC_TASK_DONE);
    assert_int_equal(async_task_result(&o.task), 3);
}

/* A coroutine that returns ASYNC_PENDING without registering anywhere
 * would be lost forever; the scheduler fails it instead. */
static int liar_fn(async_loop *L, async_task *self)
{
    (void)L;
    (void)self;
    return ASYNC_PENDING;
}

static void suspension_without_waker_is_an_error(void **state)
{
    static async_task t;
    (void)state;
    t = (async_task){0};
    async_spawn(&TL, &t, liar_fn);
    t_settle();
    assert_true(async_task_is_done(&t));
    assert_int_equal(async_task_result(&t), ASYNC_ESTATE);
    assert_int_equal(t_misuse_last, ASYNC_ESTATE);
}

/* Two loops with their own clocks share nothing. */
static void loops_are_independent(void **state)
{
    static async_vclock vc2;
    static async_loop L2;
    static struct logger a, b;
    (void)state;
    a = (struct logger){0};
    b = (struct logger){0};
    a.name = "one";
    a.sleep = 10;
    b.name = "two";
    b.sleep = 10;
    async_vclock_init(&vc2, 50000, false);
    async_loop_init(&L2, &vc2.port);
    async_spawn(&TL, &a.task, logger_fn);
    async_spawn(&L2, &b.task, logger_fn);
    async_run_ready(&TL);
    assert_log("one");
    async_run_ready(&L2);
    assert_log("one two");
    async_vclock_advance(&vc2, 10);
    async_run_ready(&TL);
    assert_false(async_task_is_done(&a.task));
    async_run_ready(&L2);
    assert_true(async_task_is_done(&b.task));
    t_advance(10);
    assert_true(async_task_is_done(&a.task));
    assert_int_equal(async_loop_task_count(&TL), 0);
    assert_int_equal(async_loop_task_count(&L2), 0);
}

/* ---- join (struct t_joiner: testlib) ---- */

static void join_returns_the_task_result(void **state)
{
    static struct logger worker;
    static struct t_joiner j, j2;
    (void)state;
    worker = (struct logger){0};
    worker.name = "work";
    worker.sleep = 20;
    worker.result = 42;
    async_spawn(&TL, &worker.task, logger_fn);
    t_spawn_joiner(&j, &worker.task);
    t_spawn_joiner(&j2, &worker.task); /* a second joiner is refused */
    t_settle();
    assert_log("work joined-4");
    assert_int_equal(async_task_state(&j.task), ASYNC_TASK_WAITING);
    t_advance(20);
    assert_log("work joined-4 joined42");
    /* Joining a finished task returns its result at once, any number of times. */
    t_spawn_joiner(&j2, &worker.task);
    assert_int_equal(async_run_once(&TL), 1);
    assert_log("work joined-4 joined42 joined42");
}

static int self_joiner_fn(async_loop *L, async_task *self)
{
    struct t_joiner *f = async_frame(self, struct t_joiner, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_join(L, self));
    t_logi("self", f->rc);
    async_await_rc(f->rc, async_join(L, f->target));
    t_logi("idle", f->rc);
    async_end;
}

static void join_misuse_is_refused(void **state)
{
    static struct t_joiner j;
    static async_task never;
    (void)state;
    j = (struct t_joiner){0};
    never = (async_task){0};
    j.target = &never;
    async_spawn(&TL, &j.task, self_joiner_fn);
    t_settle();
    assert_log("self-10 idle-5");
    assert_int_equal(t_misuse_count, 2);
}

/* Regression (model test, join_respawn): the joined task finishes and is
 * re-spawned before the joiner runs.  The joiner gets the first life's
 * result; the new life runs untouched (plain and group re-spawn). */
struct respawner {
    async_task task;
    async_co co;
    struct logger *target;
    async_group *group;
};

static int respawner_fn(async_loop *L, async_task *self)
{
    struct respawner *f = async_frame(self, struct respawner, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 10)); /* runs right after the target ends */
    if (f->group)
        async_group_spawn(L, f->group, &f->target->task, logger_fn);
    else
        async_spawn(L, &f->target->task, logger_fn);
    async_end;
}

static void join_survives_a_respawn_of_its_target(void **state)
{
    static struct logger target;
    static struct t_joiner j;
    static struct respawner r;
    static async_group g;
    static async_task *slots[1];
    int variant;
    (void)state;
    for (variant = 0; variant < 2; variant++) {
        t_reset(1000, false);
        target = (struct logger){0};
        r = (struct respawner){0};
        target.name = "life";
        target.sleep = 10;
        target.result = 5;
        r.target = &target;
        if (variant) {
            async_group_init(&g, slots, 1, 0);
            r.group = &g;
        }
        async_spawn(&TL, &target.task, logger_fn);
        async_spawn(&TL, &r.task, respawner_fn);
        t_spawn_joiner(&j, &target.task);
        t_settle();
        t_advance(10); /* target ends, r re-spawns it, then j runs */
        assert_log("life joined5 life");
        assert_false(async_task_is_cancelled(&target.task));
        assert_int_equal(async_task_state(&target.task), ASYNC_TASK_WAITING);
        t_advance(10);
        assert_int_equal(async_task_result(&target.task), 5);
    }
}

/* Regression (runtime report): async_run gives a port that asks for it
 * (ASYNC_PORT_POLL) a non-blocking turn every pass, so a port that polls
 * I/O in idle() is not starved by a task yielding in a loop. */
struct ioport {
    async_vclock vc; /* first: a vclock whose idle also "polls I/O" */
    int io_ready, polls;
};

static int ioport_idle(const async_port *p, async_loop *L, bool has_deadline, async_tick deadline)
{
    struct ioport *io = (struct ioport *)(void *)(uintptr_t)p;
    (void)L;
    (void)has_deadline;
    (void)deadline;
    if (++io->polls == 3)
        io->io_ready = 1;
    return 0;
}

struct io_spinner {
    async_task task;
    async_co co;
    struct ioport *io;
    unsigned spins; /* unsigned on purpose: await_rc into it must compile */
};

static int io_spinner_fn(async_loop *L, async_task *self)
{
    struct io_spinner *f = async_frame(self, struct io_spinner, task);
    async_begin(L, &f->co);
    while (!f->io->io_ready && f->spins < 1000) {
        async_await_rc(f->spins, (int)f->spins + 1); /* a plain value: no suspension */
        async_await(async_yield());
    }
    async_return(f->io->io_ready ? 0 : ASYNC_EDEADLK);
    async_end;
}

static void run_lets_the_port_poll_between_passes(void **state)
{
    static struct ioport io;
    static async_loop L2;
    static struct io_spinner sp;
    (void)state;
    io = (struct ioport){0};
    async_vclock_init(&io.vc, 0, true);
    io.vc.port.idle = ioport_idle;
    io.vc.port.flags = ASYNC_PORT_POLL;
    async_loop_init(&L2, &io.vc.port);
    sp = (struct io_spinner){0};
    sp.io = &io;
    assert_int_equal(async_run(&L2, &sp.task, io_spinner_fn), 0);
    assert_true(sp.spins < 10);
}

/* A port without ASYNC_PORT_POLL is not called while tasks are ready:
 * a yield loop's passes follow one another with no idle() between. */
static void run_calls_idle_only_when_nothing_is_ready(void **state)
{
    static struct ioport io;
    static async_loop L2;
    static struct io_spinner sp;
    (void)state;
    io = (struct ioport){0};
    async_vclock_init(&io.vc, 0, true);
    io.vc.port.idle = ioport_idle;
    async_loop_init(&L2, &io.vc.port);
    sp = (struct io_spinner){0};
    sp.io = &io;
    assert_int_equal(async_run(&L2, &sp.task, io_spinner_fn), ASYNC_EDEADLK);
    assert_int_equal(sp.spins, 1000); /* never told that I/O was ready ... */
    assert_int_equal(io.polls, 0);    /* ... because idle() never ran */
}

static void loop_init_rejects_bad_arguments(void **state)
{
    static async_loop L2;
    static async_port bad;
    (void)state;
    bad = (async_port){0};
    assert_int_equal(async_loop_init(NULL, &TVC.port), ASYNC_EINVAL);
    assert_int_equal(async_loop_init(&L2, NULL), ASYNC_EINVAL);
    assert_int_equal(async_loop_init(&L2, &bad), ASYNC_EINVAL);
    assert_int_equal(async_run(&TL, NULL, logger_fn), ASYNC_EINVAL);
}

/* With autojump, async_run skips idle time straight to each deadline. */
static void autojump_moves_time_to_each_deadline(void **state)
{
    static struct logger t[3];
    static const char *names[] = {"x", "y", "z"};
    static const async_tick sleeps[] = {300, 100, 200};
    int i;
    (void)state;
    TVC.autojump = true;
    for (i = 0; i < 3; i++) {
        t[i] = (struct logger){0};
        t[i].name = names[i];
        t[i].sleep = sleeps[i];
        async_spawn(&TL, &t[i].task, logger_fn);
    }
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_int_equal(async_now(&TL), 1300);
    /* idle() ran once per distinct deadline, whatever the timer store:
     * on the tiny wheel (a 64-tick span) these are far timers, which
     * cost no wake-ups to refile. */
    assert_int_equal(TVC.idles, 3);
}

/* asyncio.run: when main returns, what is still pending is cancelled and
 * its cleanup awaited before async_run returns.  (A shielded cleanup
 * needs the extras; the configurations without them have no task list
 * either, and async_run leaves the tasks as they are.) */
#if ASYNC_CONF_EXTRAS
#define T_SHIELD_BEGIN(sh) async_shield_begin((sh), 0)
#define T_SHIELD_END(sh) async_shield_end(sh)
#else
#define T_SHIELD_BEGIN(sh) ((void)(sh))
#define T_SHIELD_END(sh) ((void)(sh))
#endif
#define T_RUN_CLEANS_UP (ASYNC_CONF_TASK_LIST && ASYNC_CONF_EXTRAS)

struct stayer {
    async_task task;
    async_co co;
    async_event ev;
    async_timeout sh; /* a shield's scope object */
    async_tick cleanup;
    int swallow, rc;
};

static int stayer_fn(async_loop *L, async_task *self)
{
    struct stayer *f = async_frame(self, struct stayer, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_event_wait(L, &f->ev));
    t_logi("stayer", f->rc);
    if (f->swallow) /* refuses to go: waits on, shielded, for ever */
        T_SHIELD_BEGIN(&f->sh);
    async_await_rc(f->rc, async_event_wait(L, &f->ev));
    async_finally;
    if (f->cleanup) {
        T_SHIELD_BEGIN(&f->sh);
        async_await(async_sleep(L, f->cleanup));
        T_SHIELD_END(&f->sh);
    }
    t_logi("left-at", (long)async_now(L));
    async_end;
}

static void run_cancels_what_main_leaves(void **state)
{
    static struct logger main_t, sleeper;
    static struct stayer st;
    (void)state;
    main_t = (struct logger){0};
    sleeper = (struct logger){0};
    st = (struct stayer){0};
    async_event_init(&st.ev);
    st.cleanup = 7;
    main_t.name = "main";
    main_t.sleep = 10;
    main_t.result = 77;
    sleeper.name = "sleeper";
    sleeper.sleep = 1000;
    TVC.autojump = true;
    async_spawn(&TL, &sleeper.task, logger_fn);
    async_spawn(&TL, &st.task, stayer_fn);
    assert_int_equal(async_run(&TL, &main_t.task, logger_fn), 77);
#if T_RUN_CLEANS_UP
    assert_log("sleeper main stayer-1 left-at1017");
    assert_int_equal(async_now(&TL), 1017);
    assert_int_equal(async_task_result(&sleeper.task), ASYNC_ECANCELED);
    assert_int_equal(async_task_result(&st.task), 0); /* it swallowed the cancellation */
    assert_true(async_task_is_cancelled(&st.task));
    assert_int_equal(async_loop_task_count(&TL), 0);
#elif !ASYNC_CONF_TASK_LIST /* as async_run_until_complete */
    assert_log("sleeper main");
    assert_int_equal(async_loop_task_count(&TL), 2);
#endif
}

/* A task that never finishes its cleanup does not hold async_run: main's
 * result is returned, the task is left (and counted). */
static void run_leaves_a_task_that_cannot_finish(void **state)
{
    static struct logger main_t;
    static struct stayer st;
    (void)state;
    main_t = (struct logger){0};
    st = (struct stayer){0};
    async_event_init(&st.ev);
    st.swallow = 1;
    main_t.name = "main";
    main_t.result = 5;
    TVC.autojump = true;
    async_spawn(&TL, &st.task, stayer_fn);
    assert_int_equal(async_run(&TL, &main_t.task, logger_fn), 5);
#if T_RUN_CLEANS_UP
    assert_int_equal(async_loop_task_count(&TL), 1);
    assert_log("main stayer-1");
    assert_true(async_task_is_cancelled(&st.task));
#elif !ASYNC_CONF_TASK_LIST
    assert_int_equal(async_loop_task_count(&TL), 1);
#endif
    /* it still finishes if what it waits for comes */
    async_event_set(&TL, &st.ev);
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_int_equal(async_loop_task_count(&TL), 0);
}

static void cancel_all_reaches_every_task(void **state)
{
    static struct stayer st[3];
    int i;
    (void)state;
    for (i = 0; i < 3; i++) {
        st[i] = (struct stayer){0};
        async_event_init(&st[i].ev);
        async_spawn(&TL, &st[i].task, stayer_fn);
    }
    t_settle();
#if ASYNC_CONF_TASK_LIST
    assert_int_equal(async_loop_cancel_all(&TL), 3);
    assert_int_equal(async_loop_cancel_all(&TL), 0); /* already requested */
    t_settle();
    assert_log("stayer-1 left-at1000 stayer-1 left-at1000 stayer-1 left-at1000");
    assert_int_equal(async_loop_task_count(&TL), 0);
#else
    assert_int_equal(async_loop_cancel_all(&TL), 0); /* no list: reaches nobody */
    assert_int_equal(async_loop_task_count(&TL), 3);
#endif
}

/* A task function that parks and then returns a result anyway (a bug in
 * the task, not a coroutine): the loop finishes it with that result,
 * unlinks it from what it waited on, and reports ASYNC_ESTATE to the
 * misuse hook.  Nothing it waited on can reach the finished task later. */
static async_event never_ev;
static int detach_calls;

static void count_detach(async_loop *L, async_waiter *self, async_task *t)
{
    (void)L;
    (void)self;
    (void)t;
    detach_calls++;
}

struct bad_task {
    async_task task;
    int kind; /* 0: an event, 1: a sleep, 2: an external waiter */
};

static int parks_then_returns(async_loop *L, async_task *self)
{
    static async_waiter ext = {count_detach};
    int kind = async_frame(self, struct bad_task, task)->kind;
    if (kind == 0)
        assert_int_equal(async_event_wait(L, &never_ev), ASYNC_PENDING);
    else if (kind == 1)
        assert_int_equal(async_sleep(L, 50), ASYNC_PENDING);
    else
        assert_int_equal(async_park(L, &ext), ASYNC_PENDING);
    return 7;
}

static void task_returning_while_suspended_is_detached(void **state)
{
    static struct bad_task b[3];
    int i;
    (void)state;
    async_event_init(&never_ev);
    detach_calls = 0;
    for (i = 0; i < 3; i++) {
        b[i] = (struct bad_task){0};
        b[i].kind = i;
        assert_int_equal(async_spawn(&TL, &b[i].task, parks_then_returns), 0);
    }
    t_settle();
    for (i = 0; i < 3; i++) {
        assert_true(async_task_is_done(&b[i].task));
        assert_int_equal(async_task_result(&b[i].task), 7);
    }
    assert_int_equal(t_misuse_count, 3);
    assert_int_equal(t_misuse_last, ASYNC_ESTATE);
    assert_true(t_list_empty(&never_ev.waiters)); /* unlinked from the event */
    assert_int_equal(detach_calls, 1);             /* the external waiter was told */
    async_event_set(&TL, &never_ev);               /* reaches nobody */
    t_advance(100);                                /* the sleep's timer is gone too */
    assert_int_equal(async_task_result(&b[1].task), 7);
    assert_int_equal(async_loop_task_count(&TL), 0);
}

/* async_run_ready returns how many steps it ran. */
static int one_step(async_loop *L, async_task *self)
{
    (void)L;
    (void)self;
    return 0;
}

static void run_ready_counts_its_steps(void **state)
{
    static async_task a, b;
    (void)state;
    a = (async_task){0};
    b = (async_task){0};
    assert_int_equal(async_run_ready(&TL), 0); /* nothing to run */
    async_spawn(&TL, &a, one_step);
    async_spawn(&TL, &b, one_step);
    assert_int_equal(async_run_ready(&TL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(spawned_tasks_run_in_fifo_order),
        T(spawn_during_pass_runs_after_the_ready_ones),
        T(tasks_waking_each_other_leave_the_pass_after_a_budget),
        T(yield_resumes_after_what_the_pass_readies),
        T(due_sleep_resumes_after_what_the_pass_readies),
        T(yielding_task_does_not_starve_timers),
        T(run_returns_main_result_while_others_sleep),
        T(run_reports_deadlock),
        T(spawn_misuse_is_refused),
        T(task_states_through_a_life),
        T(suspension_without_waker_is_an_error),
        T(loops_are_independent),
        T(join_returns_the_task_result),
        T(join_misuse_is_refused),
        T(join_survives_a_respawn_of_its_target),
        T(run_lets_the_port_poll_between_passes),
        T(run_calls_idle_only_when_nothing_is_ready),
        T(loop_init_rejects_bad_arguments),
        T(autojump_moves_time_to_each_deadline),
        T(task_returning_while_suspended_is_detached),
        T(run_ready_counts_its_steps),
        T(run_cancels_what_main_leaves),
        T(run_leaves_a_task_that_cannot_finish),
        T(cancel_all_reaches_every_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
