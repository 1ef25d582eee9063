/* SPDX-License-Identifier: MIT */
/* Timers: sleeping, deadline order, every wheel level, far timers beyond
 * the wheel, tick wrap-around, removal, idle deadlines. */
#include "testlib.h"

/* Ticks the wheel covers exactly; beyond, idle deadlines may be earlier
 * refile points (never later than the real expiry).  The sorted list
 * (no levels) is always exact. */
#if ASYNC_CONF_WHEEL_LEVELS == 0
#define EXACT_DEADLINE(delay) ((void)(delay), 1)
#else
#define WHEEL_SPAN (1ul << (ASYNC_CONF_WHEEL_BITS * ASYNC_CONF_WHEEL_LEVELS))
#define EXACT_DEADLINE(delay) ((unsigned long)(delay) < WHEEL_SPAN / 2)
#endif

/* The idle deadline for a single pending expiry at `when`. */
static void assert_idle_deadline(async_tick when)
{
    async_tick dl;
    assert_true(async_loop_next_deadline(&TL, &dl));
    assert_false(async_tick_after(dl, when));
    assert_true(async_tick_after(dl, async_now(&TL)) || dl == when);
    if (EXACT_DEADLINE((async_tick)(when - async_now(&TL))))
        assert_int_equal(dl, when);
}

struct sleeper {
    async_task task;
    async_co co;
    async_tick ticks;
    async_tick woke_at;
    int id, rc;
};

static int sleeper_fn(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_sleep(L, f->ticks));
    f->woke_at = async_now(L);
    t_logi("w", f->id);
    async_end;
}

static struct sleeper S[64];

static void spawn_sleepers(const async_tick *ticks, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        S[i] = (struct sleeper){0};
        S[i].ticks = ticks[i];
        S[i].id = i;
        assert_int_equal(async_spawn(&TL, &S[i].task, sleeper_fn), 0);
    }
}

static void sleeps_wake_in_deadline_order_at_exact_ticks(void **state)
{
    static const async_tick ticks[] = {30, 10, 20, 10, 0};
    (void)state;
    spawn_sleepers(ticks, 5);
    t_settle();
    assert_log("w4"); /* sleep(0) is a yield */
    t_advance(9);
    assert_log("w4");
    t_advance(1);
    assert_log("w4 w1 w3"); /* equal deadlines keep spawn order */
    t_advance(10);
    t_advance(10);
    assert_log("w4 w1 w3 w2 w0");
    assert_int_equal(S[0].woke_at, 1030);
    assert_int_equal(S[2].woke_at, 1020);
    assert_int_equal(S[1].rc, 0);
}

/* Deadlines on both sides of every level boundary, and far beyond the
 * wheel's span (refiled each turn), fire exactly on time. */
static void every_wheel_level_fires_exactly(void **state)
{
    static const async_tick ticks[] = {
        1, 2, 7, 8, 9, 63, 64, 65, 511, 512, 513, 4095, 4096, 4097, 16383, 16384, 16385,
#if ASYNC_CONF_TICK_BITS > 16
        32767, 32768, 32769, 262143, 262144, 262145, 1000000, 16777215,
        16777216, 16777217, 300000000u,
#endif
        ASYNC_TICK_MAX_DELAY};
    const int n = (int)(sizeof ticks / sizeof ticks[0]);
    int i;
    (void)state;
    TVC.autojump = true;
    spawn_sleepers(ticks, n);
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    for (i = 0; i < n; i++)
        assert_int_equal(S[i].woke_at, (async_tick)(1000 + ticks[i]));
}

/* Start the clock just before the tick counter wraps. */
static void deadlines_across_tick_wraparound(void **state)
{
    static const async_tick ticks[] = {5, 15, 16, 17, 100, T_FAR(70000, 30000), 40};
    const async_tick start = (async_tick)0 - 16;
    int i;
    (void)state;
    t_reset(start, true);
    spawn_sleepers(ticks, 7);
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    for (i = 0; i < 7; i++)
        assert_int_equal(S[i].woke_at, (async_tick)(start + ticks[i]));
    assert_log("w0 w1 w2 w3 w6 w4 w5");
    assert_true(async_tick_before(start, (async_tick)(start + 40)));
}

/* Many random deadlines: wake order never goes back in time and every
 * wake is exact.  (A fixed generator: the test is reproducible.) */
struct rnd_sleeper {
    async_task task;
    async_co co;
    async_tick ticks;
};

static async_tick rnd_last;
static int rnd_bad, rnd_woken;

static int rnd_fn(async_loop *L, async_task *self)
{
    struct rnd_sleeper *f = async_frame(self, struct rnd_sleeper, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, f->ticks));
    if (async_tick_before(async_now(L), rnd_last))
        rnd_bad++;
    if (async_now(L) != (async_tick)(1000 + f->ticks))
        rnd_bad++;
    rnd_last = async_now(L);
    rnd_woken++;
    async_end;
}

/* 2,000 sleepers; with 16-bit pointers (AVR: an ATmega1284P has 16 KiB
 * of RAM, and no object may exceed 32 KiB) as many as fit in 6 KiB: with
 * 8 KiB, 32-bit ticks and the suite's other statics left the stack some
 * 350 bytes, and it ran into them. */
#define RND_SLEEPERS (sizeof(void *) >= 4 ? 2000 : 6144 / sizeof(struct rnd_sleeper))

static void random_deadlines_wake_in_order(void **state)
{
    static struct rnd_sleeper r[RND_SLEEPERS];
    uint32_t seed = 12345;
    int i;
    (void)state;
    rnd_last = 0;
    rnd_bad = rnd_woken = 0;
    TVC.autojump = true;
    for (i = 0; i < (int)RND_SLEEPERS; i++) {
        seed = seed * 1103515245u + 12345u;
        r[i] = (struct rnd_sleeper){0};
        r[i].ticks = (async_tick)((seed >> 8) % (i % 2 ? 5000u : T_FAR(20000000u, 30000u)));
        async_spawn(&TL, &r[i].task, rnd_fn);
    }
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_int_equal(rnd_woken, RND_SLEEPERS);
    assert_int_equal(rnd_bad, 0);
}

/* A cancelled sleeper leaves the wheel: nothing stays armed. */
static void cancelled_sleep_leaves_no_timer(void **state)
{
    static const async_tick ticks[] = {5000};
    async_tick dl;
    (void)state;
    spawn_sleepers(ticks, 1);
    t_settle();
    assert_idle_deadline(6000);
    assert_int_equal(async_cancel(&TL, &S[0].task), 0);
    t_settle();
    assert_true(async_task_is_done(&S[0].task));
    assert_int_equal(S[0].rc, ASYNC_ECANCELED);
    assert_int_equal(S[0].woke_at, 1000); /* woke at once, not at 6000 */
    assert_false(async_loop_next_deadline(&TL, &dl));
}

/* The idle deadline is the exact earliest expiry when slots are small,
 * so a port sleeps once per timer, not once per wheel level. */
static void idle_deadline_is_the_earliest_expiry(void **state)
{
    static const async_tick ticks[] = {700, 100, T_FAR(70000, 30000)};
    (void)state;
    spawn_sleepers(ticks, 3);
    t_settle();
    assert_idle_deadline(1100);
    assert_false(async_loop_has_work(&TL));
    t_advance(100);
    assert_true(async_task_is_done(&S[1].task));
    assert_idle_deadline(1700);
}

/* Manual time: nothing fires early, however time is split up. */
static void time_advanced_in_pieces(void **state)
{
    static const async_tick ticks[] = {100};
    int i;
    (void)state;
    spawn_sleepers(ticks, 1);
    t_settle();
    for (i = 0; i < 99; i++)
        t_advance(1);
    assert_false(async_task_is_done(&S[0].task));
    t_advance(1);
    assert_true(async_task_is_done(&S[0].task));
    assert_int_equal(S[0].woke_at, 1100);
}

/* Time that jumps far past many deadlines at once fires them all, in order. */
static void big_time_jump_fires_everything_in_order(void **state)
{
    static const async_tick ticks[] = {T_FAR(900000, 30000), 5, T_FAR(70000, 20000), 64, 4096};
    (void)state;
    spawn_sleepers(ticks, 5);
    t_settle();
    t_advance(T_FAR(1000000, 32000));
    assert_log("w1 w3 w4 w2 w0");
}

struct until {
    async_task task;
    async_co co;
    async_tick deadline;
    int rc;
};

static int until_fn(async_loop *L, async_task *self)
{
    struct until *f = async_frame(self, struct until, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_sleep_until(L, f->deadline));
    t_logi("u", (long)async_now(L));
    async_end;
}

static void sleep_until_absolute_and_past_deadlines(void **state)
{
    static struct until a, b;
    (void)state;
    a = (struct until){0};
    b = (struct until){0};
    a.deadline = 1500;
    b.deadline = 10; /* in the past: a yield */
    async_spawn(&TL, &a.task, until_fn);
    async_spawn(&TL, &b.task, until_fn);
    t_settle();
    assert_log("u1000");
    t_advance(500);
    assert_log("u1000 u1500");
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
}

static void sleep_longer_than_range_is_refused(void **state)
{
    static const async_tick ticks[] = {(async_tick)ASYNC_TICK_MAX_DELAY + 1u};
    (void)state;
    spawn_sleepers(ticks, 1);
    t_settle();
    assert_true(async_task_is_done(&S[0].task));
    assert_int_equal(S[0].rc, ASYNC_ERANGE);
}

/* Time counts from the call, not from the start of the pass (asyncio
 * measures from loop.time() at the call): a step that computes for 8
 * ticks before sleeping 5 sleeps 5 more.  The virtual clock moves while
 * the task runs, as a real one does. */
struct busy {
    async_task task;
    async_co co;
    async_timeout to;
    async_event ev;
    async_tick work, ticks, armed_at;
    int rc;
};
/* One frame for the tests below (AVR: 16 KiB of RAM in all). */
static struct busy b;

static int busy_sleep_fn(async_loop *L, async_task *self)
{
    struct busy *f = async_frame(self, struct busy, task);
    async_begin(L, &f->co);
    async_vclock_advance(&TVC, f->work); /* 8 ticks of CPU */
    async_await_rc(f->rc, async_sleep(L, f->ticks));
    t_logi("woke", (long)async_now(L));
    async_end;
}

static void sleep_counts_from_the_call(void **state)
{
    (void)state;
    b = (struct busy){0};
    b.work = 8;
    b.ticks = 5;
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, busy_sleep_fn), 0);
    assert_log("woke1013"); /* 1000 + 8 + 5, not 1005 */
}

/* The same for a deadline: an event that comes 1 tick after a 5-tick
 * wait_for was armed is in time, even after 8 ticks of work. */
static int busy_wait_for_fn(async_loop *L, async_task *self)
{
    struct busy *f = async_frame(self, struct busy, task);
    async_begin(L, &f->co);
    async_vclock_advance(&TVC, f->work);
    f->armed_at = async_now(L);
    async_await_for(&f->to, f->ticks, f->rc, async_event_wait(L, &f->ev));
    t_logi("got", f->rc);
    t_logi("at", (long)async_now(L));
    async_end;
}

static void deadline_counts_from_the_call(void **state)
{
    (void)state;
    b = (struct busy){0};
    async_event_init(&b.ev);
    b.work = 8;
    b.ticks = 5;
    async_spawn(&TL, &b.task, busy_wait_for_fn);
    t_settle();
    assert_int_equal(b.armed_at, 1000); /* the cached time of the pass */
    assert_int_equal(async_now(&TL), 1008); /* read again by the arm */
    t_advance(1);
    async_event_set(&TL, &b.ev);
    t_settle();
    assert_log("got0 at1009");
}

/* A timeout scope too: 10 ticks of work, a 3-tick scope, a 2-tick sleep
 * inside it finishes in time. */
static int busy_scope_fn(async_loop *L, async_task *self)
{
    struct busy *f = async_frame(self, struct busy, task);
    async_begin(L, &f->co);
    async_vclock_advance(&TVC, 10);
    async_timeout_begin(&f->to, 3);
    async_await_rc(f->rc, async_sleep(L, 2));
    t_logi("slept", f->rc);
    t_logi("scope", async_timeout_end(&f->to));
    async_end;
}

static void scope_counts_from_the_call(void **state)
{
    (void)state;
    b = (struct busy){0};
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &b.task, busy_scope_fn), 0);
    assert_log("slept0 scope0");
    assert_int_equal(async_now(&TL), 1012);
}

/* A delay within a pass's duration of the longest one counts from the
 * pass's start: the store orders expiries up to ASYNC_TICK_MAX_DELAY past
 * it, and the timer must not wrap into the past. */
static void longest_delay_after_work_is_not_lost(void **state)
{
    (void)state;
    b = (struct busy){0};
    b.work = 8;
    b.ticks = ASYNC_TICK_MAX_DELAY;
    async_spawn(&TL, &b.task, busy_sleep_fn);
    t_settle();
    assert_false(async_task_is_done(&b.task)); /* not fired as if past */
    t_advance((async_tick)(ASYNC_TICK_MAX_DELAY - 9u));
    assert_false(async_task_is_done(&b.task));
    t_advance(1);
    assert_true(async_task_is_done(&b.task));
    assert_int_equal(b.rc, 0);
}

/* The longest delay that still counts from the call after work: 8 ticks
 * of work, then a sleep of the longest delay - 8 ends exactly the
 * longest delay after the pass began (1000 + MAX), not 8 ticks early. */
static void longest_delay_less_the_work_counts_from_the_call(void **state)
{
    (void)state;
    b = (struct busy){0};
    b.work = 8;
    b.ticks = (async_tick)(ASYNC_TICK_MAX_DELAY - 8u);
    async_spawn(&TL, &b.task, busy_sleep_fn);
    t_settle();
    assert_int_equal(async_now(&TL), 1008);
    t_advance((async_tick)(ASYNC_TICK_MAX_DELAY - 9u));
    assert_false(async_task_is_done(&b.task));
    t_advance(1);
    assert_true(async_task_is_done(&b.task));
    assert_int_equal(async_now(&TL), (async_tick)(1000u + ASYNC_TICK_MAX_DELAY));
}

/* A far timer (beyond the wheel's span, and on 64-bit ticks very far)
 * costs one wake-up of an idle loop, at its exact expiry (README: one
 * wake-up per deadline), not one per wheel turn. */
static void far_timer_costs_one_wake_up(void **state)
{
    static const async_tick ticks[] = {T_FAR(1ul << 30, 30000), T_FAR(3ul << 28, 20000), 3};
    (void)state;
    spawn_sleepers(ticks, 3);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("w2 w1 w0");
    assert_int_equal(S[1].woke_at, (async_tick)(1000 + ticks[1]));
    assert_int_equal(S[0].woke_at, (async_tick)(1000 + ticks[0]));
    assert_int_equal(TVC.idles, 3);
}

/* Far timers mix with near ones, keep their order, and can be removed. */
static void far_timers_in_order_and_removed(void **state)
{
    static const async_tick ticks[] = {T_FAR(400000, 20000), T_FAR(300000, 10000), 100,
                                       T_FAR(300001, 10001), T_FAR(500000, 30000)};
    int i;
    (void)state;
    spawn_sleepers(ticks, 5);
    t_settle();
    async_cancel(&TL, &S[4].task);
    t_settle();
    assert_log("w4");
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("w4 w2 w1 w3 w0");
    for (i = 0; i < 4; i++)
        assert_int_equal(S[i].woke_at, (async_tick)(1000 + ticks[i]));
    assert_int_equal(S[4].rc, ASYNC_ECANCELED);
    assert_int_equal(TVC.idles, 4);
}

static void duration_macros_round_up(void **state)
{
    (void)state;
#if ASYNC_CONF_TICK_HZ == 1000
    assert_int_equal(ASYNC_MS(250), 250);
    assert_int_equal(ASYNC_SEC(2), 2000);
    assert_int_equal(ASYNC_US(1), 1);
    assert_int_equal(ASYNC_US(1500), 2);
#endif
    assert_true(async_tick_before((async_tick)-5, (async_tick)3));
    assert_true(async_tick_after((async_tick)3, (async_tick)-5));
}

/* A timer armed when the clock's lowest digit is the last slot of the
 * wheel's first level: the next slot is in the next turn (the search
 * wraps), and the timer fires on its tick. */
struct lastslot {
    async_task task;
    async_co co;
    async_tick at;
};

static int lastslot_fn(async_loop *L, async_task *self)
{
    struct lastslot *f = async_frame(self, struct lastslot, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 3));
    f->at = async_now(L);
    async_end;
}

static void timer_armed_in_the_last_slot(void **state)
{
    static struct lastslot f;
    async_tick next;
    (void)state;
    t_reset(4095, false); /* 4095: the last slot of every power-of-two level */
    f = (struct lastslot){0};
    async_spawn(&TL, &f.task, lastslot_fn);
    t_settle();
    assert_true(async_loop_next_deadline(&TL, &next));
    assert_int_equal(next, 4098);
    t_advance(2);
    assert_false(async_task_is_done(&f.task));
    t_advance(1);
    assert_true(async_task_is_done(&f.task));
    assert_int_equal(f.at, 4098);
}

/* A loop that runs a long time with no timer armed (its clock passing
 * the longest delay, in passes), then sleeps: the sleep takes its time,
 * it does not end at once.  (On 16-bit ticks that is half a minute idle
 * at 1 kHz: timers must be filed against where the clock is now, not
 * where the last timer left the wheel.) */
struct idle_then_sleep {
    async_task task;
    async_co co;
    async_tick woke;
};

static int idle_then_sleep_fn(async_loop *L, async_task *self)
{
    struct idle_then_sleep *f = async_frame(self, struct idle_then_sleep, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, 10));
    f->woke = async_now(L);
    async_end;
}

static void sleep_after_a_long_idle_takes_its_time(void **state)
{
    static struct idle_then_sleep f;
    async_tick start;
    int i;
    (void)state;
    for (i = 0; i < 3; i++) /* 1.5 x the longest delay, half of it per pass */
        t_advance(ASYNC_TICK_MAX_DELAY / 2u);
    start = async_now(&TL);
    f = (struct idle_then_sleep){0};
    async_spawn(&TL, &f.task, idle_then_sleep_fn);
    t_settle();
    assert_false(async_task_is_done(&f.task)); /* not at once */
    t_advance(9);
    assert_false(async_task_is_done(&f.task));
    t_advance(1);
    assert_true(async_task_is_done(&f.task));
    assert_int_equal(f.woke, (async_tick)(start + 10u));
}

/* Equal deadlines keep arming order when one was armed as a far timer
 * (beyond the wheel's span) and the others later, near it: A sleeps the
 * span + 5 ticks at once; B waits 5 ticks, then sleeps exactly the span;
 * C starts 6 ticks in, when the clock is advanced with no timer due, and
 * sleeps the span - 1.  All three end at the same tick, and wake A, B,
 * C.  (B's delay is the shortest that is still far; 6 ticks in is the
 * first moment A comes within the span: a far timer that joined the
 * wheel a tick late, or a delay of exactly the span filed in the wheel,
 * would let B or C overtake A.)  Without far timers (the sorted list,
 * 16-bit ticks) the same delays, shorter, keep the order as well. */
#if ASYNC_CONF_WHEEL_LEVELS && \
    ASYNC_CONF_WHEEL_BITS * ASYNC_CONF_WHEEL_LEVELS < ASYNC_CONF_TICK_BITS - 1
#define FAR_SPAN ((async_tick)((async_tick)1 << (ASYNC_CONF_WHEEL_BITS * ASYNC_CONF_WHEEL_LEVELS)))
#else
#define FAR_SPAN ((async_tick)1000)
#endif

struct two_sleeps {
    async_task task;
    async_co co;
    async_tick first, second, woke_at;
    int id;
};

static int two_sleeps_fn(async_loop *L, async_task *self)
{
    struct two_sleeps *f = async_frame(self, struct two_sleeps, task);
    async_begin(L, &f->co);
    if (f->first)
        async_await(async_sleep(L, f->first));
    async_await(async_sleep(L, f->second));
    f->woke_at = async_now(L);
    t_logi("w", f->id);
    async_end;
}

static void equal_deadlines_keep_order_across_the_far_list(void **state)
{
    static struct two_sleeps f[3];
    const async_tick first[3] = {0, 5, 0};
    const async_tick second[3] = {(async_tick)(FAR_SPAN + 5u), FAR_SPAN,
                                  (async_tick)(FAR_SPAN - 1u)};
    int i;
    (void)state;
    for (i = 0; i < 3; i++) {
        f[i] = (struct two_sleeps){0};
        f[i].first = first[i];
        f[i].second = second[i];
        f[i].id = i;
    }
    assert_int_equal(async_spawn(&TL, &f[0].task, two_sleeps_fn), 0);
    assert_int_equal(async_spawn(&TL, &f[1].task, two_sleeps_fn), 0);
    t_settle();
    t_advance(5); /* B's second sleep: the span, from 1005 */
    t_advance(1); /* 1006: no timer due, but A is within the span now */
    assert_int_equal(async_spawn(&TL, &f[2].task, two_sleeps_fn), 0);
    t_settle();
    assert_log("");
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("w0 w1 w2");
    for (i = 0; i < 3; i++)
        assert_int_equal(f[i].woke_at, (async_tick)(1000u + FAR_SPAN + 5u));
}

/* The idle deadline is exact while the wheel slot holding the earliest
 * expiry has 16 timers or fewer, and an earlier refile point (the slot's
 * start) once it has more (docs/api.md, the timer store).  The delay
 * lands in level 1 (one slot of the first level past it), 3 ticks into
 * its slot.  The sorted list is always exact. */
static void idle_deadline_is_exact_up_to_16_timers_in_a_slot(void **state)
{
#if ASYNC_CONF_WHEEL_LEVELS
    const async_tick slot = (async_tick)(1u << ASYNC_CONF_WHEEL_BITS);
#endif
    const async_tick delay = (async_tick)((1u << ASYNC_CONF_WHEEL_BITS) * 3u + 3u);
    async_tick ticks[16], dl;
    int i;
    (void)state;
    t_reset(0, false); /* slots of level 1 start at multiples of `slot` */
    for (i = 0; i < 16; i++)
        ticks[i] = delay;
    spawn_sleepers(ticks, 16);
    t_settle();
    assert_true(async_loop_next_deadline(&TL, &dl));
    assert_int_equal(dl, delay); /* 16 timers: exact */
    S[16] = (struct sleeper){0}; /* one more */
    S[16].ticks = delay;
    S[16].id = 16;
    assert_int_equal(async_spawn(&TL, &S[16].task, sleeper_fn), 0);
    t_settle();
    assert_true(async_loop_next_deadline(&TL, &dl));
#if ASYNC_CONF_WHEEL_LEVELS
    assert_int_equal(dl, (async_tick)(delay - 3u)); /* 17: the slot's start */
    assert_int_equal(dl % slot, 0);
#else
    assert_int_equal(dl, delay);
#endif
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    for (i = 0; i < 17; i++)
        assert_int_equal(S[i].woke_at, delay);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(sleeps_wake_in_deadline_order_at_exact_ticks),
        T(every_wheel_level_fires_exactly),
        T(deadlines_across_tick_wraparound),
        T(random_deadlines_wake_in_order),
        T(cancelled_sleep_leaves_no_timer),
        T(idle_deadline_is_the_earliest_expiry),
        T(time_advanced_in_pieces),
        T(big_time_jump_fires_everything_in_order),
        T(sleep_until_absolute_and_past_deadlines),
        T(sleep_longer_than_range_is_refused),
        T(duration_macros_round_up),
        T(timer_armed_in_the_last_slot),
        T(sleep_after_a_long_idle_takes_its_time),
        T(sleep_counts_from_the_call),
        T(deadline_counts_from_the_call),
        T(scope_counts_from_the_call),
        T(longest_delay_after_work_is_not_lost),
        T(longest_delay_less_the_work_counts_from_the_call),
        T(far_timer_costs_one_wake_up),
        T(far_timers_in_order_and_removed),
        T(equal_deadlines_keep_order_across_the_far_list),
        T(idle_deadline_is_exact_up_to_16_timers_in_a_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
