/* SPDX-License-Identifier: MIT */
/* Condition variables: wait releases and re-acquires the lock, notify
 * wakes in FIFO order, interrupted waits still return holding the lock
 * and pass an unused notification on. */
#include "testlib.h"

#include <string.h>

struct shared {
    async_lock lock;
    async_cond cond;
    int items;
};

struct consumer {
    async_task task;
    async_co co;
    struct shared *s;
    int id, rc;
};

static int consumer_fn(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, &f->s->lock));
    while (f->s->items == 0) {
        async_await_rc(f->rc, async_cond_wait(L, &f->s->cond));
        assert_ptr_equal(f->s->lock.owner, self); /* always holding it */
        if (f->rc < 0)
            break;
    }
    if (f->rc == 0) {
        f->s->items--;
        t_logi("took", f->id);
    } else {
        t_logi("gave-up", f->id);
    }
    async_lock_release(L, &f->s->lock);
    async_end;
}

static struct consumer C[4];

static void spawn_consumers(struct shared *s, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        C[i] = (struct consumer){0};
        C[i].s = s;
        C[i].id = i;
        async_spawn(&TL, &C[i].task, consumer_fn);
    }
}

static void shared_init(struct shared *s)
{
    async_lock_init(&s->lock);
    assert_int_equal(async_cond_init(&s->cond, &s->lock), 0);
    s->items = 0;
}

struct producer {
    async_task task;
    async_co co;
    struct shared *s;
    int n;
    bool all;
    async_tick hold; /* keep the lock this long after notifying */
};

static int producer_fn(async_loop *L, async_task *self)
{
    struct producer *f = async_frame(self, struct producer, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, &f->s->lock));
    f->s->items += f->n;
    if (f->all)
        async_cond_notify_all(L, &f->s->cond);
    else
        async_cond_notify(L, &f->s->cond, (unsigned)f->n);
    t_log("produced");
    if (f->hold)
        async_await(async_sleep(L, f->hold));
    async_lock_release(L, &f->s->lock);
    async_end;
}

/* Spawn producer p: n items, then notify n waiters (all: every waiter),
 * keeping the lock `hold` ticks more. */
static void spawn_producer(struct producer *p, struct shared *s, int n, bool all, async_tick hold)
{
    *p = (struct producer){0};
    p->s = s;
    p->n = n;
    p->all = all;
    p->hold = hold;
    async_spawn(&TL, &p->task, producer_fn);
}

static void notify_wakes_waiters_in_order(void **state)
{
    static struct shared s;
    static struct producer p;
    (void)state;
    shared_init(&s);
    spawn_consumers(&s, 3);
    t_settle();
    assert_false(async_lock_is_locked(&s.lock)); /* all released it while waiting */
    spawn_producer(&p, &s, 2, false, 0);
    t_settle();
    assert_log("produced took0 took1");
    assert_int_equal(async_task_state(&C[2].task), ASYNC_TASK_WAITING);
    spawn_producer(&p, &s, 1, true, 0);
    t_settle();
    assert_log("produced took0 took1 produced took2");
    assert_false(async_lock_is_locked(&s.lock));
}

/* async_cond_init makes any memory a condition with no waiters: a
 * notification wakes the one waiter, once. */
static void init_makes_a_condition_of_any_memory(void **state)
{
    static struct shared s;
    static struct producer p;
    (void)state;
    memset(&s, 0xA5, sizeof s);
    shared_init(&s);
    spawn_consumers(&s, 1);
    t_settle();
    spawn_producer(&p, &s, 1, true, 0);
    t_settle();
    assert_log("produced took0");
    assert_int_equal(async_task_state(&C[0].task), ASYNC_TASK_DONE);
    assert_false(async_lock_is_locked(&s.lock));
}

static void notify_all_lets_each_recheck(void **state)
{
    static struct shared s;
    static struct producer p;
    (void)state;
    shared_init(&s);
    spawn_consumers(&s, 3);
    t_settle();
    spawn_producer(&p, &s, 1, true, 0); /* one item, three woken: two wait again */
    t_settle();
    assert_log("produced took0");
    assert_int_equal(async_task_state(&C[1].task), ASYNC_TASK_WAITING);
    assert_int_equal(async_task_state(&C[2].task), ASYNC_TASK_WAITING);
}

static void wait_without_the_lock_is_refused(void **state)
{
    static struct shared s;
    static async_cond bad;
    (void)state;
    shared_init(&s);
    assert_int_equal(async_cond_init(&bad, NULL), ASYNC_EINVAL);
    assert_int_equal(async_cond_wait(&TL, &s.cond), ASYNC_EPERM); /* not in a task */
    /* asyncio's notify raises RuntimeError without the lock */
    t_misuse_count = 0;
    assert_int_equal(async_cond_notify(&TL, &s.cond, 1), ASYNC_EPERM);
    assert_int_equal(async_cond_notify_all(&TL, &s.cond), ASYNC_EPERM);
    assert_int_equal(t_misuse_count, 2);
}

/* A notified waiter cancelled while it re-takes the lock does not swallow
 * the notification: it passes it to the next waiter, and still returns
 * holding the lock. */
static void cancelled_notified_waiter_passes_it_on(void **state)
{
    static struct shared s;
    static struct producer p;
    (void)state;
    shared_init(&s);
    spawn_consumers(&s, 2);
    t_settle();
    spawn_producer(&p, &s, 1, false, 5);
    t_settle(); /* C0 notified, queued for the lock the producer holds */
    assert_log("produced");
    async_cancel(&TL, &C[0].task);
    t_settle();
    t_advance(5);
    assert_log("produced gave-up0 took1");
    assert_int_equal(s.items, 0);
    assert_false(async_lock_is_locked(&s.lock));
}

/* notify needs the lock (asyncio raises RuntimeError): a task that does
 * not hold it gets ASYNC_EPERM and wakes nobody; holding it, it wakes. */
static int notifier_fn(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    t_logi("without", async_cond_notify(L, &f->s->cond, 1));
    async_await(async_lock_acquire(L, &f->s->lock));
    f->s->items = 1;
    t_logi("with", async_cond_notify_all(L, &f->s->cond));
    async_lock_release(L, &f->s->lock);
    async_end;
}

static void notify_without_the_lock_is_refused(void **state)
{
    static struct shared s;
    static struct consumer n;
    (void)state;
    shared_init(&s);
    spawn_consumers(&s, 2);
    t_settle();
    n = (struct consumer){0};
    n.s = &s;
    async_spawn(&TL, &n.task, notifier_fn);
    t_settle();
    assert_log("without-9 with2 took0"); /* C1 found nothing left: waits again */
    assert_int_equal(async_task_state(&C[1].task), ASYNC_TASK_WAITING);
}

/* Only an interrupted waiter passes its notification on: a notified one
 * that simply re-takes the lock (phase two, the lock held meanwhile)
 * wakes nobody else; and a task that was notified once, then interrupted
 * in a later wait, has no old notification to pass on. */
struct counter_waiter {
    async_task task;
    async_co co;
    struct shared *s;
    int wakes, rc[2];
};

static int counting_fn(async_loop *L, async_task *self)
{
    struct counter_waiter *f = async_frame(self, struct counter_waiter, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, &f->s->lock));
    async_await_rc(f->rc[0], async_cond_wait(L, &f->s->cond));
    f->wakes++;
    async_await_rc(f->rc[1], async_cond_wait(L, &f->s->cond));
    f->wakes++;
    async_lock_release(L, &f->s->lock);
    async_end;
}

struct holder {
    async_task task;
    async_co co;
    struct shared *s;
    unsigned notify;
    async_task *cancel;
};

static int holder_fn(async_loop *L, async_task *self)
{
    struct holder *f = async_frame(self, struct holder, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, &f->s->lock));
    if (f->notify)
        async_cond_notify(L, &f->s->cond, f->notify);
    async_await(async_sleep(L, 5)); /* the woken waiter queues for the lock */
    if (f->cancel)
        async_cancel(L, f->cancel);
    async_lock_release(L, &f->s->lock);
    async_end;
}

static void a_notification_is_passed_on_only_when_unused(void **state)
{
    static struct shared s;
    static struct counter_waiter w1, w2;
    static struct holder h;
    (void)state;
    shared_init(&s);
    w1 = (struct counter_waiter){0};
    w2 = (struct counter_waiter){0};
    w1.s = w2.s = &s;
    async_spawn(&TL, &w1.task, counting_fn);
    async_spawn(&TL, &w2.task, counting_fn);
    t_settle();
    /* w1 notified while the lock is held: phase two, then it returns 0 */
    h = (struct holder){0};
    h.s = &s;
    h.notify = 1;
    async_spawn(&TL, &h.task, holder_fn);
    t_settle();
    t_advance(5);
    assert_int_equal(w1.wakes, 1);
    assert_int_equal(w1.rc[0], 0);
    assert_int_equal(w2.wakes, 0); /* nothing passed on */
    /* w1 waits again and is cancelled in phase one while the lock is held:
     * it reports the cancel and, never notified this time, passes nothing */
    h = (struct holder){0};
    h.s = &s;
    h.cancel = &w1.task;
    async_spawn(&TL, &h.task, holder_fn);
    t_settle();
    t_advance(5);
    assert_int_equal(w1.wakes, 2);
    assert_int_equal(w1.rc[1], ASYNC_ECANCELED);
    assert_int_equal(w2.wakes, 0);
    assert_int_equal(async_task_state(&w2.task), ASYNC_TASK_WAITING);
}

/* A notification passed on goes to one waiter, not more. */
static void a_passed_notification_wakes_one(void **state)
{
    static struct shared s;
    static struct counter_waiter w[3];
    static struct holder h;
    int i;
    (void)state;
    shared_init(&s);
    for (i = 0; i < 3; i++) {
        w[i] = (struct counter_waiter){0};
        w[i].s = &s;
        async_spawn(&TL, &w[i].task, counting_fn);
    }
    t_settle();
    /* w0 notified while the lock is held, then cancelled while it waits
     * for the lock (phase two): it passes its notification on */
    h = (struct holder){0};
    h.s = &s;
    h.notify = 1;
    h.cancel = &w[0].task;
    async_spawn(&TL, &h.task, holder_fn);
    t_settle();
    t_advance(5);
    assert_int_equal(w[0].rc[0], ASYNC_ECANCELED);
    assert_int_equal(w[1].wakes, 1); /* the one it passed to */
    assert_int_equal(w[2].wakes, 0); /* and no other */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(notify_without_the_lock_is_refused),
        T(notify_wakes_waiters_in_order),
        T(init_makes_a_condition_of_any_memory),
        T(notify_all_lets_each_recheck),
        T(wait_without_the_lock_is_refused),
        T(cancelled_notified_waiter_passes_it_on),
        T(a_notification_is_passed_on_only_when_unused),
        T(a_passed_notification_wakes_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
