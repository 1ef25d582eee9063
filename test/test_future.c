/* SPDX-License-Identifier: MIT */
/* Futures: one-shot results delivered to every waiter. */
#include "testlib.h"

struct fw {
    async_task task;
    async_co co;
    async_future *fut;
    int id, rc;
};

static int fw_fn(async_loop *L, async_task *self)
{
    struct fw *f = async_frame(self, struct fw, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_future_wait(L, f->fut));
    t_logi("got", f->rc);
    async_end;
}

/* Spawn waiter w on fut. */
static void spawn_waiter(struct fw *w, async_future *fut)
{
    *w = (struct fw){0};
    w->fut = fut;
    async_spawn(&TL, &w->task, fw_fn);
}

static void result_reaches_every_waiter(void **state)
{
    static async_future fut;
    static struct fw w[3];
    int i;
    (void)state;
    async_future_init(&fut);
    for (i = 0; i < 3; i++)
        spawn_waiter(&w[i], &fut);
    t_settle();
    assert_false(async_future_is_done(&fut));
    assert_int_equal(async_future_result(&fut), ASYNC_EAGAIN);
    assert_int_equal(async_future_set(&TL, &fut, 1234), 0);
    t_settle();
    assert_log("got1234 got1234 got1234");
    assert_true(async_future_is_done(&fut));
    assert_int_equal(async_future_result(&fut), 1234);
}

static void waiting_on_a_done_future_returns_at_once(void **state)
{
    static async_future fut;
    static struct fw w;
    (void)state;
    async_future_init(&fut);
    async_future_set(&TL, &fut, ASYNC_ECONNREFUSED); /* errors are results too */
    spawn_waiter(&w, &fut);
    assert_int_equal(async_run_once(&TL), 1);
    assert_log("got-34");
}

static void set_twice_and_bad_values_are_refused(void **state)
{
    static async_future fut;
    (void)state;
    async_future_init(&fut);
    assert_int_equal(async_future_set(&TL, &fut, ASYNC_PENDING), ASYNC_EINVAL);
    assert_false(async_future_is_done(&fut));
    assert_int_equal(async_future_set(&TL, &fut, 1), 0);
    assert_int_equal(async_future_set(&TL, &fut, 2), ASYNC_EALREADY);
    assert_int_equal(async_future_result(&fut), 1);
    assert_int_equal(t_misuse_count, 2);
}

/* A cancelled waiter leaves; the others still get the result. */
static void cancelled_waiter_leaves_the_rest(void **state)
{
    static async_future fut;
    static struct fw w[3];
    int i;
    (void)state;
    async_future_init(&fut);
    for (i = 0; i < 3; i++)
        spawn_waiter(&w[i], &fut);
    t_settle();
    async_cancel(&TL, &w[1].task);
    t_settle();
    async_future_set(&TL, &fut, 5);
    t_settle();
    assert_log("got-1 got5 got5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(result_reaches_every_waiter),
        T(waiting_on_a_done_future_returns_at_once),
        T(set_twice_and_bad_values_are_refused),
        T(cancelled_waiter_leaves_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
