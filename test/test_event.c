/* SPDX-License-Identifier: MIT */
/* Events: waiting, setting wakes every waiter in FIFO order, clearing,
 * zero-initialised events. */
#include "testlib.h"
#include <string.h>

struct ew {
    async_task task;
    async_co co;
    async_event *ev;
    int id, rc, rounds;
};

static int ew_fn(async_loop *L, async_task *self)
{
    struct ew *f = async_frame(self, struct ew, task);
    async_begin(L, &f->co);
    do {
        async_await_rc(f->rc, async_event_wait(L, f->ev));
        t_logi("w", f->id);
    } while (--f->rounds > 0);
    async_end;
}

static struct ew W[8];

static void spawn_waiters(async_event *ev, int n, int rounds)
{
    int i;
    for (i = 0; i < n; i++) {
        W[i] = (struct ew){0};
        W[i].ev = ev;
        W[i].id = i;
        W[i].rounds = rounds;
        async_spawn(&TL, &W[i].task, ew_fn);
    }
}

static void set_wakes_every_waiter_in_order(void **state)
{
    static async_event ev;
    (void)state;
    async_event_init(&ev);
    spawn_waiters(&ev, 4, 1);
    t_settle();
    assert_log("");
    assert_false(async_event_is_set(&ev));
    async_event_set(&TL, &ev);
    assert_true(async_event_is_set(&ev));
    t_settle();
    assert_log("w0 w1 w2 w3");
    assert_true(t_list_empty(&ev.waiters));
}

static void waiting_on_a_set_event_does_not_suspend(void **state)
{
    static async_event ev;
    (void)state;
    async_event_init(&ev);
    async_event_set(&TL, &ev);
    spawn_waiters(&ev, 2, 3);
    assert_int_equal(async_run_once(&TL), 2);
    assert_log("w0 w0 w0 w1 w1 w1");
}

static void clear_makes_waiters_wait_again(void **state)
{
    static async_event ev;
    (void)state;
    async_event_init(&ev);
    spawn_waiters(&ev, 2, 2);
    t_settle();
    async_event_set(&TL, &ev);
    async_event_clear(&ev); /* waiters were already woken: they run */
    t_settle();
    assert_log("w0 w1");
    assert_int_equal(async_task_state(&W[0].task), ASYNC_TASK_WAITING);
    async_event_set(&TL, &ev);
    t_settle();
    assert_log("w0 w1 w0 w1");
    assert_true(async_task_is_done(&W[1].task));
}

/* Setting twice wakes once; a zeroed event works without init. */
static void zeroed_event_and_repeated_set(void **state)
{
    static async_event ev;
    (void)state;
    ev = (async_event){{0, 0}, 0};
    spawn_waiters(&ev, 1, 1);
    t_settle();
    async_event_set(&TL, &ev);
    async_event_set(&TL, &ev);
    t_settle();
    assert_log("w0");
    assert_true(async_task_is_done(&W[0].task));
}

/* Setting from a task wakes waiters that run after it, in the pass's
 * next round (the next pass where a pass is one round). */
struct setter {
    async_task task;
    async_co co;
    async_event *ev;
};

static int setter_fn(async_loop *L, async_task *self)
{
    struct setter *f = async_frame(self, struct setter, task);
    async_begin(L, &f->co);
    t_log("set");
    async_event_set(L, f->ev);
    t_log("after-set");
    async_end;
}

static void set_from_a_task(void **state)
{
    static async_event ev;
    static struct setter s;
    (void)state;
    async_event_init(&ev);
    s = (struct setter){0};
    s.ev = &ev;
    spawn_waiters(&ev, 2, 1);
    async_spawn(&TL, &s.task, setter_fn);
#if ASYNC__ROUNDS > 1
    assert_int_equal(async_run_once(&TL), 5);
#else /* one round per pass: the waiters run in the next */
    assert_int_equal(async_run_once(&TL), 3);
    assert_log("set after-set");
    assert_int_equal(async_run_once(&TL), 2);
#endif
    assert_log("set after-set w0 w1");
}

/* async_event_init makes any memory a clear event with no waiters. */
static void init_makes_an_event_of_any_memory(void **state)
{
    static async_event ev;
    (void)state;
    memset(&ev, 0xA5, sizeof ev);
    async_event_init(&ev);
    assert_false(async_event_is_set(&ev));
    spawn_waiters(&ev, 2, 1);
    t_settle();
    assert_log("");
    async_event_set(&TL, &ev);
    t_settle();
    assert_log("w0 w1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(set_wakes_every_waiter_in_order),
        T(waiting_on_a_set_event_does_not_suspend),
        T(clear_makes_waiters_wait_again),
        T(zeroed_event_and_repeated_set),
        T(set_from_a_task),
        T(init_makes_an_event_of_any_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
