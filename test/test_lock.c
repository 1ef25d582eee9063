/* SPDX-License-Identifier: MIT */
/* Locks: mutual exclusion owned by a task, FIFO hand-over, misuse. */
#include "testlib.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(one_holder_at_a_time_in_fifo_order),
        T(lock_misuse_is_refused),
        T(try_acquire_does_not_wait),
        T(zeroed_lock_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
