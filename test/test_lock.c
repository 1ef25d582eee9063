/* SPDX-License-Identifier: MIT */
/* Locks: mutual exclusion owned by a task, FIFO hand-over, misuse. */
#include "testlib.h"
#include <string.h>

struct locker {
    async_task task;
    async_co co;
    async_lock *lock;
    int id, rc;
    int *inside, *max_inside;
};

static int locker_fn(async_loop *L, async_task *self)
{
    struct locker *f = async_frame(self, struct locker, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, f->lock));
    assert_ptr_equal(f->lock->owner, self);
    if (++*f->inside > *f->max_inside)
        *f->max_inside = *f->inside;
    t_logi("in", f->id);
    async_await(async_sleep(L, 2));
    --*f->inside;
    assert_int_equal(async_lock_release(L, f->lock), 0);
    async_end;
}

static void one_holder_at_a_time_in_fifo_order(void **state)
{
    static async_lock m;
    static struct locker t[4];
    static int inside, max_inside;
    int i;
    (void)state;
    async_lock_init(&m);
    inside = max_inside = 0;
    for (i = 0; i < 4; i++) {
        t[i] = (struct locker){0};
        t[i].lock = &m;
        t[i].id = i;
        t[i].inside = &inside;
        t[i].max_inside = &max_inside;
        async_spawn(&TL, &t[i].task, locker_fn);
    }
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("in0 in1 in2 in3");
    assert_int_equal(max_inside, 1);
    assert_false(async_lock_is_locked(&m));
    assert_int_equal(async_now(&TL), 1008);
}

struct misuser {
    async_task task;
    async_co co;
    async_lock *lock;
};

static int misuser_fn(async_loop *L, async_task *self)
{
    struct misuser *f = async_frame(self, struct misuser, task);
    async_begin(L, &f->co);
    t_logi("release-unowned", async_lock_release(L, f->lock));
    async_await(async_lock_acquire(L, f->lock));
    t_logi("again", async_lock_try_acquire(L, f->lock));
    async_await_rc(f->co.rc, async_lock_acquire(L, f->lock));
    t_logi("reacquire", f->co.rc);
    async_lock_release(L, f->lock);
    async_return(0);
    async_end;
}

static void lock_misuse_is_refused(void **state)
{
    static async_lock m;
    static struct misuser u;
    (void)state;
    async_lock_init(&m);
    u = (struct misuser){0};
    u.lock = &m;
    async_spawn(&TL, &u.task, misuser_fn);
    t_settle();
    assert_log("release-unowned-9 again-10 reacquire-10");
    assert_false(async_lock_is_locked(&m));
    /* Outside any task: no owner to give it to. */
    assert_int_equal(async_lock_try_acquire(&TL, &m), ASYNC_EPERM);
    assert_int_equal(async_lock_release(&TL, &m), ASYNC_EPERM);
    assert_true(t_misuse_count >= 5);
}

struct holder {
    async_task task;
    async_co co;
    async_lock *lock;
};

static int holder_fn(async_loop *L, async_task *self)
{
    struct holder *f = async_frame(self, struct holder, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, f->lock));
    async_await(async_sleep(L, 10));
    async_lock_release(L, f->lock);
    async_end;
}

static int try_fn(async_loop *L, async_task *self)
{
    struct holder *f = async_frame(self, struct holder, task);
    async_begin(L, &f->co);
    t_logi("try", async_lock_try_acquire(L, f->lock));
    async_end;
}

static void try_acquire_does_not_wait(void **state)
{
    static async_lock m;
    static struct holder h, t;
    (void)state;
    async_lock_init(&m);
    h = (struct holder){0};
    t = (struct holder){0};
    h.lock = t.lock = &m;
    async_spawn(&TL, &h.task, holder_fn);
    async_spawn(&TL, &t.task, try_fn);
    t_settle();
    assert_log("try-6");
    assert_ptr_equal(m.owner, &h.task);
}

/* A zero-initialised lock is unlocked and usable. */
static void zeroed_lock_works(void **state)
{
    static async_lock m;
    static struct holder a, b;
    (void)state;
    m = (async_lock){{0, 0}, 0};
    a = (struct holder){0};
    b = (struct holder){0};
    a.lock = b.lock = &m;
    async_spawn(&TL, &a.task, holder_fn);
    async_spawn(&TL, &b.task, holder_fn);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_int_equal(async_now(&TL), 1020);
}

/* asyncio's Lock.locked() is False right after a release that wakes a
 * waiter, until the waiter runs; nobody can take the lock meanwhile. */
struct taker {
    async_task task;
    async_co co;
    async_lock *lock;
    int rc;
};

static int take_and_log_fn(async_loop *L, async_task *self)
{
    struct taker *f = async_frame(self, struct taker, task);
    async_begin(L, &f->co);
    async_await(async_lock_acquire(L, f->lock));
    t_logi("got-locked", async_lock_is_locked(f->lock));
    async_end;
}

static int try_take_fn(async_loop *L, async_task *self)
{
    struct taker *f = async_frame(self, struct taker, task);
    async_begin(L, &f->co);
    t_logi("locked", async_lock_is_locked(f->lock));
    f->rc = async_lock_try_acquire(L, f->lock);
    t_logi("try", f->rc);
    async_end;
}

static void released_to_a_waiter_reads_unlocked(void **state)
{
    static async_lock m;
    static struct taker holder, waiter, thief;
    async_task *outside;
    (void)state;
    async_lock_init(&m);
    holder = (struct taker){0};
    waiter = (struct taker){0};
    thief = (struct taker){0};
    holder.lock = waiter.lock = thief.lock = &m;
    async_spawn(&TL, &holder.task, take_and_log_fn);
    async_spawn(&TL, &waiter.task, take_and_log_fn);
    t_settle();
    assert_log("got-locked1");
    async_spawn(&TL, &thief.task, try_take_fn); /* queued ahead of the waiter */
    /* the holder finished without releasing: release for it */
    outside = TL.current; /* what stands for "no task" (not always NULL) */
    TL.current = &holder.task;
    assert_int_equal(async_lock_release(&TL, &m), 0);
    TL.current = outside;
    assert_false(async_lock_is_locked(&m)); /* handed, not yet taken */
    assert_ptr_equal(m.owner, &waiter.task);
    t_settle();
    assert_log("got-locked1 locked0 try-6 got-locked1");
}

#if ASYNC_CONF_EXTRAS
/* async with lock: released at the end of the block, on async_return
 * inside it, on a propagating error, and when the cleanup section is left;
 * never released if it was not acquired. */
struct guarded {
    async_task task;
    async_co co;
    async_locked held, held2;
    async_timeout to;
    async_lock *lock;
    int how, rc;
};

static int guarded_fn(async_loop *L, async_task *self)
{
    struct guarded *f = async_frame(self, struct guarded, task);
    async_begin(L, &f->co);
    async_with_lock(&f->held, f->lock);
    t_logi("in", f->how);
    t_logi("locked", async_lock_is_locked(f->lock));
    if (f->how == 1)
        async_return(5); /* leaves the block */
    if (f->how == 2)
        async_await(async_sleep(L, ASYNC_TICK_MAX_DELAY + (async_tick)1u)); /* an error */
    async_await(async_sleep(L, 1));
    f->rc = async_with_lock_end(&f->held);
    t_logi("end", f->rc);
    t_logi("locked", async_lock_is_locked(f->lock));
    async_finally;
    t_logi("cleanup-locked", async_lock_is_locked(f->lock));
    if (f->how == 3) { /* a block in the cleanup section, left by an error */
        async_with_lock(&f->held2, f->lock);
        t_logi("cleanup-in", async_lock_is_locked(f->lock));
        async_await(async_sleep(L, ASYNC_TICK_MAX_DELAY + (async_tick)1u));
    }
    async_end;
}

static void with_lock_releases_on_every_way_out(void **state)
{
    static async_lock m;
    static struct guarded g;
    int how;
    (void)state;
    for (how = 0; how < 4; how++) {
        t_reset(1000, true);
        async_lock_init(&m);
        g = (struct guarded){0};
        g.lock = &m;
        g.how = how;
        async_run(&TL, &g.task, guarded_fn);
        assert_false(async_lock_is_locked(&m));
        assert_null(m.owner);
    }
    assert_log("in3 locked1 end0 locked0 cleanup-locked0 cleanup-in1");
    assert_int_equal(async_task_result(&g.task), ASYNC_ERANGE);
}

/* Cancelled while waiting for the lock: nothing to release, and the lock
 * goes to the next waiter; the body never ran. */
static void with_lock_cancelled_while_waiting(void **state)
{
    static async_lock m;
    static struct guarded a, b, c;
    (void)state;
    async_lock_init(&m);
    a = (struct guarded){0};
    b = (struct guarded){0};
    c = (struct guarded){0};
    a.lock = b.lock = c.lock = &m;
    a.how = 10;
    b.how = 11;
    c.how = 12;
    async_spawn(&TL, &a.task, guarded_fn);
    async_spawn(&TL, &b.task, guarded_fn);
    async_spawn(&TL, &c.task, guarded_fn);
    t_settle();
    async_cancel(&TL, &b.task);
    t_settle();
    t_advance(1);
    t_advance(1);
    assert_log("in10 locked1 cleanup-locked1 end0 locked0 cleanup-locked0 in12 locked1 end0 locked0 "
               "cleanup-locked0");
    assert_int_equal(async_task_result(&b.task), ASYNC_ECANCELED);
    assert_false(async_lock_is_locked(&m));
}

/* A lock scope closes in order with the others; out of order is refused. */
static int scoped_fn(async_loop *L, async_task *self)
{
    struct guarded *f = async_frame(self, struct guarded, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 100);
    async_with_lock(&f->held, f->lock);
    t_logi("bad-order", async_timeout_end(&f->to));
    t_logi("end", async_with_lock_end(&f->held));
    t_logi("scope", async_timeout_end(&f->to));
    async_end;
}

static void with_lock_nests_with_timeouts(void **state)
{
    static async_lock m;
    static struct guarded g;
    (void)state;
    async_lock_init(&m);
    g = (struct guarded){0};
    g.lock = &m;
    async_spawn(&TL, &g.task, scoped_fn);
    t_settle();
    assert_log("bad-order-5 end0 scope0");
    assert_false(async_lock_is_locked(&m));
}
#endif

/* async_lock_init makes any memory a free lock (not only zeroed). */
static void init_makes_a_free_lock_of_any_memory(void **state)
{
    static async_lock m;
    static struct locker t;
    static int inside, max_inside;
    (void)state;
    memset(&m, 0xA5, sizeof m);
    async_lock_init(&m);
    assert_false(async_lock_is_locked(&m));
    inside = max_inside = 0;
    t = (struct locker){0};
    t.lock = &m;
    t.inside = &inside;
    t.max_inside = &max_inside;
    async_spawn(&TL, &t.task, locker_fn);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &t.task, NULL), 0);
    assert_log("in0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(one_holder_at_a_time_in_fifo_order),
        T(lock_misuse_is_refused),
        T(try_acquire_does_not_wait),
        T(zeroed_lock_works),
        T(init_makes_a_free_lock_of_any_memory),
        T(released_to_a_waiter_reads_unlocked),
#if ASYNC_CONF_EXTRAS
        T(with_lock_releases_on_every_way_out),
        T(with_lock_cancelled_while_waiting),
        T(with_lock_nests_with_timeouts),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
