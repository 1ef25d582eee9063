/* SPDX-License-Identifier: MIT */
/* Cancellation: delivery to every kind of suspension, stickiness, cleanup
 * sections, inline children, joins, and no lost data. */
#include "testlib.h"

struct victim {
    async_task task;
    async_co co;
    async_event ev;
    async_queue q;
    int qbuf[2];
    int item, rc, rc2;
};

static void victim_init(struct victim *v)
{
    *v = (struct victim){0};
    async_event_init(&v->ev);
    async_queue_init(&v->q, v->qbuf, sizeof(int), 2);
}

static int victim_fn(async_loop *L, async_task *self)
{
    struct victim *f = async_frame(self, struct victim, task);
    async_begin(L, &f->co);
    t_log("start");
    async_await(async_event_wait(L, &f->ev));
    t_log("not-reached");
    async_finally;
    t_logi("cleanup", async_error());
    async_end;
}

static void cancel_wakes_a_waiting_task_into_cleanup(void **state)
{
    static struct victim v;
    (void)state;
    victim_init(&v);
    async_spawn(&TL, &v.task, victim_fn);
    t_settle();
    assert_int_equal(async_cancel(&TL, &v.task), 0);
    assert_int_equal(async_task_state(&v.task), ASYNC_TASK_READY);
    t_settle();
    assert_log("start cleanup-1");
    assert_int_equal(async_task_result(&v.task), ASYNC_ECANCELED);
    assert_true(async_task_is_cancelled(&v.task));
    assert_true(t_list_empty(&v.ev.waiters));
}

static void cancel_before_start_never_runs(void **state)
{
    static struct victim v;
    (void)state;
    victim_init(&v);
    async_spawn(&TL, &v.task, victim_fn);
    assert_int_equal(async_cancel(&TL, &v.task), 0);
    t_settle();
    assert_log("");
    assert_true(async_task_is_done(&v.task));
    assert_int_equal(async_task_result(&v.task), ASYNC_ECANCELED);
    assert_int_equal(async_loop_task_count(&TL), 0);
}

static void cancel_return_codes(void **state)
{
    static struct victim v;
    static async_task never;
    (void)state;
    victim_init(&v);
    never = (async_task){0};
    assert_int_equal(async_cancel(&TL, &never), ASYNC_EINVAL);
    async_spawn(&TL, &v.task, victim_fn);
    t_settle();
    assert_int_equal(async_cancel(&TL, &v.task), 0);
    assert_int_equal(async_cancel(&TL, &v.task), ASYNC_EALREADY);
    t_settle();
    assert_int_equal(async_cancel(&TL, &v.task), ASYNC_EDONE);
    assert_int_equal(async_task_result(&v.task), ASYNC_ECANCELED);
}

/* A coroutine that swallows its cancellation cannot keep waiting: every
 * later await reports it at once, without starting the operation (so a
 * queue get does not consume an item it could not hand back). */
static int swallower_fn(async_loop *L, async_task *self)
{
    struct victim *f = async_frame(self, struct victim, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_event_wait(L, &f->ev));
    t_logi("first", f->rc);
    async_await_rc(f->rc, async_queue_get(L, &f->q, &f->item));
    t_logi("get", f->rc);
    async_await_rc(f->rc, async_sleep(L, 100));
    t_logi("sleep", f->rc);
    async_await_rc(f->rc2, async_sleep(L, 0));
    t_logi("yield", f->rc2);
    async_return(0); /* swallowed, but the task still records it */
    async_end;
}

static void cancellation_is_sticky(void **state)
{
    static struct victim v;
    int x = 5;
    (void)state;
    victim_init(&v);
    async_queue_try_put(&TL, &v.q, &x);
    async_spawn(&TL, &v.task, swallower_fn);
    t_settle();
    async_cancel(&TL, &v.task);
    t_settle();
    assert_log("first-1 get-1 sleep-1 yield-1");
    assert_int_equal(async_queue_count(&v.q), 1); /* the item is still there */
    assert_true(async_task_is_done(&v.task));
    assert_int_equal(async_task_result(&v.task), 0);
    assert_true(async_task_is_cancelled(&v.task));
}

/* Cancel reaches a child awaited inline: its cleanup runs, then the
 * parent's. */
struct inner {
    async_co co;
};

static int inner_fn(async_loop *L, struct inner *f)
{
    async_begin(L, &f->co);
    async_await(async_sleep(L, 1000));
    async_finally;
    t_logi("inner-cleanup", async_error());
    async_end;
}

struct outer {
    async_task task;
    async_co co;
    struct inner in;
};

static int outer_fn(async_loop *L, async_task *self)
{
    struct outer *f = async_frame(self, struct outer, task);
    async_begin(L, &f->co);
    async_await(inner_fn(L, &f->in));
    t_log("outer-not-reached");
    async_finally;
    t_logi("outer-cleanup", async_error());
    async_end;
}

static void cancel_reaches_inline_children(void **state)
{
    static struct outer o;
    async_tick dl;
    (void)state;
    o = (struct outer){0};
    async_spawn(&TL, &o.task, outer_fn);
    t_settle();
    async_cancel(&TL, &o.task);
    t_settle();
    assert_log("inner-cleanup-1 outer-cleanup-1");
    assert_int_equal(async_task_result(&o.task), ASYNC_ECANCELED);
    assert_int_equal(async_now(&TL), 1000); /* did not wait for the sleep */
    assert_false(async_loop_next_deadline(&TL, &dl));
}

/* A waiter that was handed a permit, then cancelled before it ran, keeps
 * the permit (it is not lost) and sees the cancellation next time. */
struct permit {
    async_task task;
    async_co co;
    async_sem *sem;
    int rc, rc2;
};

static int permit_fn(async_loop *L, async_task *self)
{
    struct permit *f = async_frame(self, struct permit, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_sem_acquire(L, f->sem));
    t_logi("acquired", f->rc);
    async_await_rc(f->rc2, async_sleep(L, 1));
    t_logi("next", f->rc2);
    if (f->rc == 0)
        async_sem_release(L, f->sem);
    async_end;
}

static void handed_over_permit_survives_cancel(void **state)
{
    static struct permit p;
    static async_sem sem;
    (void)state;
    p = (struct permit){0};
    async_sem_init(&sem, 0, 0);
    p.sem = &sem;
    async_spawn(&TL, &p.task, permit_fn);
    t_settle();
    async_sem_release(&TL, &sem); /* hands the permit to p */
    assert_int_equal(async_sem_count(&sem), 0);
    async_cancel(&TL, &p.task);
    t_settle();
    assert_log("acquired0 next-1");
    assert_int_equal(async_sem_count(&sem), 1); /* released back, none lost */
}

/* A cancelled putter does not insert its item. */
static int putter_fn(async_loop *L, async_task *self)
{
    struct victim *f = async_frame(self, struct victim, task);
    async_begin(L, &f->co);
    f->item = 3;
    async_await_rc(f->rc, async_queue_put(L, &f->q, &f->item));
    t_logi("put", f->rc);
    async_end;
}

static void cancelled_putter_inserts_nothing(void **state)
{
    static struct victim v;
    int x = 1, y = 2, out;
    (void)state;
    victim_init(&v);
    async_queue_try_put(&TL, &v.q, &x);
    async_queue_try_put(&TL, &v.q, &y);
    async_spawn(&TL, &v.task, putter_fn);
    t_settle();
    async_cancel(&TL, &v.task);
    t_settle();
    assert_log("put-1");
    assert_int_equal(async_queue_count(&v.q), 2);
    assert_int_equal(async_queue_try_get(&TL, &v.q, &out), 0);
    assert_int_equal(async_queue_try_get(&TL, &v.q, &out), 0);
    assert_int_equal(out, 2);
    assert_int_equal(async_queue_try_get(&TL, &v.q, &out), ASYNC_EAGAIN);
}

/* Cancelling a joiner cancels the task it joins, and the joiner reports
 * the cancellation only once that task has finished its cleanup. */
struct slow {
    async_task task;
    async_co co;
};

static int slow_fn(async_loop *L, async_task *self)
{
    struct slow *f = async_frame(self, struct slow, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 500));
    async_finally;
    t_log("slow-cleanup");
    async_end;
}

static void cancelling_a_joiner_cancels_the_joined(void **state)
{
    static struct slow s;
    static struct t_joiner j;
    (void)state;
    s = (struct slow){0};
    async_spawn(&TL, &s.task, slow_fn);
    t_spawn_joiner(&j, &s.task);
    t_settle();
    async_cancel(&TL, &j.task);
    t_settle();
    assert_log("slow-cleanup joined-1");
    assert_int_equal(async_task_result(&s.task), ASYNC_ECANCELED);
}

/* A task cancelling itself: the rest of the current step runs, the next
 * await reports it. */
struct selfc {
    async_task task;
    async_co co;
    int rc;
};

static int selfc_fn(async_loop *L, async_task *self)
{
    struct selfc *f = async_frame(self, struct selfc, task);
    async_begin(L, &f->co);
    t_logi("cancel", async_cancel(L, self));
    t_log("still-running");
    async_await_rc(f->rc, async_sleep(L, 5));
    t_logi("sleep", f->rc);
    async_end;
}

static void task_cancelling_itself(void **state)
{
    static struct selfc s;
    (void)state;
    s = (struct selfc){0};
    async_spawn(&TL, &s.task, selfc_fn);
    t_settle();
    assert_log("cancel0 still-running sleep-1");
}

/* asyncio.sleep(0) is async_yield(): even a cancelled task gives way
 * once, then sees the cancellation.  async_sleep(L, 0), like every other
 * await, reports it at once without giving way (sticky cancellation: the
 * documented difference).  Both are ops, with or without propagation. */
static int give_way_fn(async_loop *L, async_task *self)
{
    struct selfc *f = async_frame(self, struct selfc, task);
    async_begin(L, &f->co);
    t_log("a");
    async_cancel(L, self);
    async_await_rc(f->rc, async_sleep(L, 0));
    t_logi("sleep0", f->rc);
    async_await_rc(f->rc, async_yield());
    t_logi("yield", f->rc);
    async_await(async_yield()); /* propagates */
    t_log("not-reached");
    async_end;
}

static int other_fn(async_loop *L, async_task *self)
{
    struct selfc *f = async_frame(self, struct selfc, task);
    async_begin(L, &f->co);
    t_log("b");
    async_await_val(f->rc, async_yield()); /* 0: the value of a yield */
    t_logi("b", f->rc);
    async_end;
}

static void yield_gives_way_where_sleep0_does_not(void **state)
{
    static struct selfc a, b;
    (void)state;
    a = (struct selfc){0};
    b = (struct selfc){0};
    async_spawn(&TL, &a.task, give_way_fn);
    async_spawn(&TL, &b.task, other_fn);
    t_settle();
    assert_log("a sleep0-1 b yield-1 b0");
    assert_int_equal(async_task_result(&a.task), ASYNC_ECANCELED);
}

/* Yield reports a cancellation that arrived while the task was queued. */
static int yield_fn(async_loop *L, async_task *self)
{
    struct selfc *f = async_frame(self, struct selfc, task);
    async_begin(L, &f->co);
    t_log("before");
    async_await(async_yield());
    t_log("not-reached");
    async_finally;
    t_logi("cleanup", async_error());
    async_end;
}

static void yield_reports_cancellation(void **state)
{
    static struct selfc s;
    (void)state;
    s = (struct selfc){0};
    async_spawn(&TL, &s.task, yield_fn);
    async_run_once(&TL);
    assert_int_equal(async_task_state(&s.task), ASYNC_TASK_READY);
    async_cancel(&TL, &s.task);
    t_settle();
    assert_log("before cleanup-1");
}

/* Cancelling a task parked in a condition await. */
struct poller {
    async_task task;
    async_co co;
    int *flag;
};

static int poller_fn(async_loop *L, async_task *self)
{
    struct poller *f = async_frame(self, struct poller, task);
    async_begin(L, &f->co);
    async_await_until(*f->flag);
    t_log("not-reached");
    async_finally;
    t_logi("cleanup", async_error());
    async_end;
}

static void cancel_a_condition_await(void **state)
{
    static struct poller p;
    static int flag;
    (void)state;
    flag = 0;
    p = (struct poller){0};
    p.flag = &flag;
    async_spawn(&TL, &p.task, poller_fn);
    t_settle();
    async_cancel(&TL, &p.task);
    t_settle();
    assert_log("cleanup-1");
    assert_true(t_list_empty(&TL.pollers));
}

/* External waiters: detach() runs on every wake (the source's own too),
 * and a shielded park is not woken by a cancel, which it reports after
 * the source has finished. */
struct src {
    async_waiter waiter;
    async_task *task;
    int detaches;
};

static void src_detach(async_loop *L, async_waiter *w, async_task *t)
{
    struct src *s = (struct src *)(void *)w;
    (void)L;
    (void)t;
    s->detaches++;
    s->task = NULL;
}

static int src_op(async_loop *L, struct src *s, bool shielded)
{
    int rc;
    if (async_woken(L, &rc)) {
        int interrupted = shielded ? async_unshield(L) : 0;
        return interrupted ? interrupted : rc;
    }
    s->task = async_current(L);
    return shielded ? async_park_shielded(L, &s->waiter) : async_park(L, &s->waiter);
}

struct src_user {
    async_task task;
    async_co co;
    struct src *src;
    bool shielded;
    int rc;
};

static int src_user_fn(async_loop *L, async_task *self)
{
    struct src_user *f = async_frame(self, struct src_user, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, src_op(L, f->src, f->shielded));
    t_logi("rc", f->rc);
    async_end;
}

static void external_waiters_detach_and_shield(void **state)
{
    static struct src s;
    static struct src_user u;
    async_task *t;
    (void)state;
    /* A plain park: cancel wakes it through detach. */
    s = (struct src){{src_detach}, NULL, 0};
    u = (struct src_user){0};
    u.src = &s;
    async_spawn(&TL, &u.task, src_user_fn);
    t_settle();
    async_cancel(&TL, &u.task);
    t_settle();
    assert_int_equal(s.detaches, 1);
    /* The source completing the wait itself: detach runs too. */
    s = (struct src){{src_detach}, NULL, 0};
    u = (struct src_user){0};
    u.src = &s;
    async_spawn(&TL, &u.task, src_user_fn);
    t_settle();
    t = s.task;
    s.task = NULL; /* the documented pattern: clear, then wake */
    async_wake(&TL, t, 7);
    t_settle();
    assert_int_equal(s.detaches, 1);
    /* Shielded: the cancel is remembered, the wait goes on until the
     * source finishes, then the cancellation is reported. */
    s = (struct src){{src_detach}, NULL, 0};
    u = (struct src_user){0};
    u.src = &s;
    u.shielded = true;
    async_spawn(&TL, &u.task, src_user_fn);
    t_settle();
    assert_int_equal(async_cancel(&TL, &u.task), 0);
    t_settle();
    assert_int_equal(async_task_state(&u.task), ASYNC_TASK_WAITING);
    assert_int_equal(s.detaches, 0);
    async_wake(&TL, s.task, 7);
    t_settle();
    assert_log("rc-1 rc7 rc-1");
}

/* async_unpark: the source resumes its own parked task with a result,
 * without its detach; every misuse is refused, reaches the hook and
 * changes nothing.                                                      */
static void src_start(struct src *s, struct src_user *u, bool shielded)
{
    *s = (struct src){{src_detach}, NULL, 0};
    *u = (struct src_user){0};
    u->src = s;
    u->shielded = shielded;
    async_spawn(&TL, &u->task, src_user_fn);
    t_settle();
    assert_int_equal(async_task_state(&u->task), ASYNC_TASK_WAITING);
}

static int unpark_self_fn(async_loop *L, async_task *self)
{
    static async_waiter w = {src_detach};
    t_logi("self", async_unpark(L, self, &w, 1)); /* running: not parked */
    return 0;
}

static void unpark_resumes_parked_task_and_refuses_misuse(void **state)
{
    static struct src s, other;
    static struct src_user u;
    static async_task idle, self;
    int before;
    (void)state;

    /* The source's own wake-up: the result arrives, detach is not run. */
    src_start(&s, &u, false);
    s.task = NULL; /* the pattern: let go first */
    assert_int_equal(async_unpark(&TL, &u.task, &s.waiter, 7), 0);
    assert_int_equal(async_task_state(&u.task), ASYNC_TASK_READY);
    t_settle();
    assert_int_equal(s.detaches, 0);
    assert_true(async_task_is_done(&u.task));

    /* Parked on another source: refused, still parked. */
    src_start(&s, &u, false);
    before = t_misuse_count;
    assert_int_equal(async_unpark(&TL, &u.task, &other.waiter, 7), ASYNC_EPERM);
    assert_int_equal(t_misuse_count, before + 1);
    assert_int_equal(t_misuse_last, ASYNC_EPERM);
    assert_int_equal(async_task_state(&u.task), ASYNC_TASK_WAITING);
    /* ASYNC_PENDING as a result: refused, still parked. */
    assert_int_equal(async_unpark(&TL, &u.task, &s.waiter, ASYNC_PENDING), ASYNC_EINVAL);
    assert_int_equal(t_misuse_count, before + 2);
    assert_int_equal(async_task_state(&u.task), ASYNC_TASK_WAITING);
    /* Cancelled meanwhile: the cancel woke it through detach; a late
     * unpark is refused and the await reports the cancellation. */
    assert_int_equal(async_cancel(&TL, &u.task), 0);
    assert_int_equal(s.detaches, 1);
    assert_int_equal(async_unpark(&TL, &u.task, &s.waiter, 7), ASYNC_EPERM);
    assert_int_equal(t_misuse_count, before + 3);
    t_settle();
    /* Finished: refused. */
    assert_int_equal(async_unpark(&TL, &u.task, &s.waiter, 7), ASYNC_EPERM);
    assert_true(async_task_is_done(&u.task)); /* its await took ASYNC_ECANCELED: "rc-1" */
    /* Never spawned: refused. */
    idle = (async_task){0};
    assert_int_equal(async_unpark(&TL, &idle, &s.waiter, 7), ASYNC_EPERM);
    assert_int_equal(async_task_state(&idle), ASYNC_TASK_IDLE);
    /* The running task itself: refused. */
    self = (async_task){0};
    async_spawn(&TL, &self, unpark_self_fn);
    t_settle();
    assert_int_equal(t_misuse_count, before + 6);

    /* A shielded park stays parked through a cancel: unpark delivers the
     * result, and async_unshield then reports the cancellation. */
    src_start(&s, &u, true);
    assert_int_equal(async_cancel(&TL, &u.task), 0);
    t_settle();
    assert_int_equal(async_task_state(&u.task), ASYNC_TASK_WAITING);
    s.task = NULL;
    assert_int_equal(async_unpark(&TL, &u.task, &s.waiter, 7), 0);
    t_settle();
    assert_int_equal(s.detaches, 0);
    assert_log("rc7 rc-1 self-9 rc-1");
}

/* Cancelling a chain of tasks, each joining the next (or waiting for a
 * group whose member is the next), walks it in a bounded stack: the
 * last one is woken at the same stack depth whatever the chain's length
 * (a recursive walk went one frame deeper per link).  Its external wait
 * source records the depth, in detach(). */
#define CHAIN_MAX (sizeof(void *) >= 4 ? 10000 : 64)

enum { CHAIN_JOIN, CHAIN_GROUP, CHAIN_MIXED };

struct link {
    async_task task;
    async_co co;
    async_group g;
    async_task *slot[1];
    struct link *next;
    bool grouped;
};

static struct link chain[CHAIN_MAX];
static async_waiter chain_end;
static uintptr_t chain_sp; /* the stack where the last link was woken */

static void chain_end_detach(async_loop *L, async_waiter *w, async_task *t)
{
    volatile char here = 0;
    (void)L;
    (void)w;
    (void)t;
    chain_sp = (uintptr_t)&here;
}

static int link_fn(async_loop *L, async_task *self)
{
    struct link *f = async_frame(self, struct link, task);
    int rc;
    async_begin(L, &f->co);
    if (f->next == NULL) {
        async_await(async_woken(L, &rc) ? rc : async_park(L, &chain_end));
    } else if (f->grouped) {
        async_group_init(&f->g, f->slot, 1, 0);
        async_group_spawn(L, &f->g, &f->next->task, link_fn);
        async_await(async_group_wait(L, &f->g));
    } else {
        async_spawn(L, &f->next->task, link_fn);
        async_await(async_join(L, &f->next->task));
    }
    async_end;
}

/* The stack depth at which cancelling a chain of n links wakes the last. */
static uintptr_t cancel_chain(size_t n, int kind)
{
    volatile char base = 0;
    uintptr_t depth;
    size_t i;

    for (i = 0; i < n; i++) {
        chain[i] = (struct link){0};
        chain[i].next = i + 1 < n ? &chain[i + 1] : NULL;
        chain[i].grouped = kind == CHAIN_GROUP || (kind == CHAIN_MIXED && i % 2);
    }
    chain_end.detach = chain_end_detach;
    chain_sp = 0;
    async_spawn(&TL, &chain[0].task, link_fn);
    t_settle();
    assert_int_equal(async_task_state(&chain[n - 1].task), ASYNC_TASK_WAITING);
    assert_int_equal(async_cancel(&TL, &chain[0].task), 0);
    assert_true(chain_sp != 0);
    depth = (uintptr_t)&base > chain_sp ? (uintptr_t)&base - chain_sp : chain_sp - (uintptr_t)&base;
    t_settle();
    for (i = 0; i < n; i++) {
        assert_true(async_task_is_done(&chain[i].task));
        assert_int_equal(async_task_result(&chain[i].task), ASYNC_ECANCELED);
    }
    return depth;
}

static void cancel_walks_long_chains_in_bounded_stack(void **state)
{
    static const int kinds[] = {CHAIN_JOIN, CHAIN_GROUP, CHAIN_MIXED};
    size_t k;
    (void)state;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uintptr_t shallow = cancel_chain(3, kinds[k]);
        uintptr_t deep = cancel_chain(CHAIN_MAX, kinds[k]);
        assert_true(deep <= shallow + 16);
    }
}

/* The walk is depth first, in slot order: a waiter's members are
 * cancelled one by one, each with what it joins, before the next. */
struct node {
    async_task task;
    async_co co;
    async_group g;
    async_task *slots[2];
    async_event never;
    struct node *join;       /* joins this one... */
    struct node *members[2]; /* ...or waits for a group of these */
    const char *name;
};

static int node_fn(async_loop *L, async_task *self)
{
    struct node *f = async_frame(self, struct node, task);
    async_begin(L, &f->co);
    if (f->join) {
        async_spawn(L, &f->join->task, node_fn);
        async_await(async_join(L, &f->join->task));
    } else if (f->members[0]) {
        async_group_init(&f->g, f->slots, 2, 0);
        async_group_spawn(L, &f->g, &f->members[0]->task, node_fn);
        async_group_spawn(L, &f->g, &f->members[1]->task, node_fn);
        async_await(async_group_wait(L, &f->g));
    } else {
        async_await(async_event_wait(L, &f->never));
    }
    async_finally;
    t_log(f->name);
    async_end;
}

static void cancel_walks_depth_first(void **state)
{
    /* top waits for {a, b}; a joins c, c waits for {d, e}; b joins f */
    static struct node n[7];
    static const char *const names[] = {"top", "a", "b", "c", "d", "e", "f"};
    int i;
    (void)state;
    for (i = 0; i < 7; i++) {
        n[i] = (struct node){0};
        n[i].name = names[i];
        async_event_init(&n[i].never);
    }
    n[0].members[0] = &n[1];
    n[0].members[1] = &n[2];
    n[1].join = &n[3];
    n[3].members[0] = &n[4];
    n[3].members[1] = &n[5];
    n[2].join = &n[6];
    async_spawn(&TL, &n[0].task, node_fn);
    t_settle();
    assert_int_equal(async_cancel(&TL, &n[0].task), 0);
    t_settle();
    /* the leaves wake in walk order; each waiter once what it waits for is over */
    assert_log("d e f c b a top");
    for (i = 0; i < 7; i++)
        assert_int_equal(async_task_result(&n[i].task), ASYNC_ECANCELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(cancel_wakes_a_waiting_task_into_cleanup),
        T(cancel_before_start_never_runs),
        T(cancel_return_codes),
        T(cancellation_is_sticky),
        T(cancel_reaches_inline_children),
        T(handed_over_permit_survives_cancel),
        T(cancelled_putter_inserts_nothing),
        T(cancelling_a_joiner_cancels_the_joined),
        T(task_cancelling_itself),
        T(yield_reports_cancellation),
        T(yield_gives_way_where_sleep0_does_not),
        T(cancel_a_condition_await),
        T(external_waiters_detach_and_shield),
        T(unpark_resumes_parked_task_and_refuses_misuse),
        T(cancel_walks_long_chains_in_bounded_stack),
        T(cancel_walks_depth_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
