/* SPDX-License-Identifier: MIT */
/* Barriers (asyncio.Barrier): release when `parties` tasks wait, arrival
 * indices, reuse cycle after cycle, abort and reset, waiters that are
 * cancelled or time out.  An extra primitive (ASYNC_CONF_EXTRAS). */
#include "testlib.h"

#if ASYNC_CONF_EXTRAS
static async_barrier B;

struct party {
    async_task task;
    async_co co;
    async_timeout to;
    async_tick delay, timeout;
    int id, rounds, rc;
};

static int party_fn(async_loop *L, async_task *self)
{
    struct party *f = async_frame(self, struct party, task);
    async_begin(L, &f->co);
    for (f->rounds = f->rounds ? f->rounds : 1; f->rounds > 0; f->rounds--) {
        async_await(async_sleep(L, f->delay));
        if (f->timeout)
            async_await_for(&f->to, f->timeout, f->rc, async_barrier_wait(L, &B));
        else
            async_await_rc(f->rc, async_barrier_wait(L, &B));
        t_logi("p", f->id);
        t_logi("i", f->rc);
        t_logi("t", (long)async_now(L));
    }
    async_end;
}

static struct party P[4];

static void spawn_party(int i, async_tick delay, int rounds)
{
    P[i] = (struct party){0};
    P[i].id = i;
    P[i].delay = delay;
    P[i].rounds = rounds;
    assert_int_equal(async_spawn(&TL, &P[i].task, party_fn), 0);
}

/* Everyone waits for the last; the arrival indices are 0 .. parties-1
 * in arrival order, the last getting parties-1. */
static void releases_when_all_arrive(void **state)
{
    (void)state;
    assert_int_equal(async_barrier_init(&B, 3), 0);
    spawn_party(0, 20, 1);
    spawn_party(1, 10, 1);
    spawn_party(2, 30, 1);
    t_settle();
    t_advance(20);
    assert_log("");
    assert_int_equal(async_barrier_waiting_count(&B), 2);
    t_advance(10);
    assert_log("p2 i2 t1030 p1 i0 t1030 p0 i1 t1030");
    assert_int_equal(async_barrier_waiting_count(&B), 0);
}

/* The barrier serves again at once: two cycles. */
static void serves_cycle_after_cycle(void **state)
{
    (void)state;
    async_barrier_init(&B, 2);
    spawn_party(0, 5, 2);
    spawn_party(1, 1, 2);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("p0 i1 t1005 p1 i0 t1005 p0 i1 t1010 p1 i0 t1010");
}

/* A waiter that is cancelled or times out leaves: the barrier still
 * needs `parties` tasks waiting at once. */
static void interrupted_waiter_leaves(void **state)
{
    (void)state;
    async_barrier_init(&B, 2);
    spawn_party(0, 0, 1);
    P[0].timeout = 5;
    t_settle();
    t_advance(5);
    assert_log("p0 i-2 t1005");
    assert_int_equal(async_barrier_waiting_count(&B), 0);
    spawn_party(1, 0, 1);
    t_settle();
    assert_log("p0 i-2 t1005");
    spawn_party(2, 0, 1);
    t_settle();
    assert_log("p0 i-2 t1005 p2 i1 t1005 p1 i0 t1005");
}

/* abort: waiters and later arrivals get ASYNC_EBROKEN until reset. */
static void abort_breaks_it_until_reset(void **state)
{
    (void)state;
    async_barrier_init(&B, 3);
    spawn_party(0, 0, 1);
    spawn_party(1, 0, 1);
    t_settle();
    async_barrier_abort(&TL, &B);
    assert_true(async_barrier_is_broken(&B));
    t_settle();
    assert_log("p0 i-17 t1000 p1 i-17 t1000");
    spawn_party(2, 0, 1);
    t_settle();
    assert_log("p0 i-17 t1000 p1 i-17 t1000 p2 i-17 t1000");
    async_barrier_reset(&TL, &B);
    assert_false(async_barrier_is_broken(&B));
    assert_string_equal(async_strerror(ASYNC_EBROKEN), "barrier broken (aborted or reset)");
}

/* reset: the waiters get ASYNC_EBROKEN and the barrier is empty and
 * usable again. */
static void reset_wakes_waiters_and_empties_it(void **state)
{
    (void)state;
    async_barrier_init(&B, 2);
    spawn_party(0, 0, 1);
    t_settle();
    async_barrier_reset(&TL, &B);
    t_settle();
    assert_log("p0 i-17 t1000");
    spawn_party(1, 0, 1);
    spawn_party(2, 0, 1);
    t_settle();
    assert_log("p0 i-17 t1000 p2 i1 t1000 p1 i0 t1000");
}

static void one_party_and_misuse(void **state)
{
    static async_barrier b1;
    (void)state;
    assert_int_equal(async_barrier_init(&b1, 0), ASYNC_EINVAL);
    assert_int_equal(async_barrier_init(NULL, 2), ASYNC_EINVAL);
    assert_int_equal(async_barrier_init(&B, 1), 0);
    spawn_party(0, 0, 3); /* a barrier of one never waits */
    t_settle();
    assert_log("p0 i0 t1000 p0 i0 t1000 p0 i0 t1000");
}
#else
/* Built without the extras: the barrier API is absent, and the queue is
 * the smaller one (no join bookkeeping). */
static void extras_are_compiled_out(void **state)
{
    (void)state;
    assert_true(sizeof(async_queue) <= 2 * sizeof(async_node) + 6 * sizeof(unsigned) +
                                           sizeof(void *) + sizeof(size_t) + sizeof(int));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if ASYNC_CONF_EXTRAS
        T(releases_when_all_arrive),
        T(serves_cycle_after_cycle),
        T(interrupted_waiter_leaves),
        T(abort_breaks_it_until_reset),
        T(reset_wakes_waiters_and_empties_it),
        T(one_party_and_misuse),
#else
        T(extras_are_compiled_out),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
