/* SPDX-License-Identifier: MIT */
/* Interrupts on the emulated rv32imac (QEMU virt, target only): the
 * bare-metal port (port/async_bm.h) on RISC-V with port/riscv.h's
 * tickless CLINT clock and alarm, and machine software interrupts (MSIP)
 * giving notifications and posting calls from a handler: one made
 * pending exactly between the loop's last check and its WFI (with
 * mstatus.MIE clear, where only "WFI wakes on a pending enabled
 * interrupt" can end the sleep), and a storm of them.
 *
 * A lost wake-up would hang the loop in WFI; test/target/run.sh kills an
 * image that runs past QEMU_TIMEOUT and counts what did not pass as
 * failed.  No assertion depends on how fast the emulator runs: mtime
 * counts 10 MHz of emulated time, which -icount ties to instructions. */
#include "testlib.h"

static void before_sleep(void);
#define ASYNC_BM_BEFORE_SLEEP(bm) before_sleep()
#define ASYNC_BM_IMPLEMENTATION
#include "async_bm.h"
#include "riscv.h"
#include "irq_common.h"

#define MTIME_HZ 10000000u /* QEMU virt's CLINT timebase */
#define MSIP ASYNC_RV_REG(ASYNC_RV_CLINT_BASE + 0x0u) /* hart 0 */
#define MIE_MSIE (1u << 3)
#define CAUSE_MSI 3u
#define CAUSE_MTI 7u

static volatile unsigned timer_irqs, soft_irqs, gives, injections;
static volatile int inject_budget;
static void (*volatile on_soft)(void);

/* Called by the runner's trap vector for every interrupt; true if it
 * was ours.                                                            */
int cmshim_rv_interrupt(unsigned long cause);
int cmshim_rv_interrupt(unsigned long cause)
{
    if (cause == CAUSE_MTI) {
        async_rv_clint_disarm(); /* the wake-up was the point */
        timer_irqs++;
        return 1;
    }
    if (cause == CAUSE_MSI) {
        MSIP = 0u;
        soft_irqs++;
        if (on_soft)
            on_soft();
        return 1;
    }
    return 0;
}

/* Runs with interrupts masked between the port's last check and WFI:
 * raise the software interrupt right there.                           */
static void before_sleep(void)
{
    if (inject_budget > 0) {
        inject_budget--;
        injections++;
        MSIP = 1u;
    }
}

/* ---- fixture ---- */

static int rv_setup(void **state)
{
    t_setup(state);
    async_bm_irq_save();
    async_rv_clint_disarm();
    MSIP = 0u;
    timer_irqs = soft_irqs = gives = injections = 0;
    inject_budget = 0;
    on_soft = NULL;
    async_bm_init(&BM);
    BM.clock = async_rv_clint_clock;
    BM.alarm = async_rv_clint_alarm;
    /* The loop exists before any handler may post to it. */
    assert_int_equal(async_loop_init(&BL, &BM.port), 0);
    async_notify_init(&N);
    async_rv_mie_set(ASYNC_RV_MIE_MTIE | MIE_MSIE);
    async_rv_irq_enable();
    return 0;
}

static int rv_teardown(void **state)
{
    async_bm_irq_save();
    async_rv_mie_clear(ASYNC_RV_MIE_MTIE | MIE_MSIE);
    async_rv_clint_disarm();
    MSIP = 0u;
    return t_teardown(state);
}
#define TR(test) cmocka_unit_test_setup_teardown(test, rv_setup, rv_teardown)

/* ---- tickless sleeps on the CLINT ---- */

struct sleeper {
    async_task task;
    async_co co;
    int i;
    async_tick ticks, late; /* the latest a wake-up came after its deadline */
    async_tick deadline;
};

static int sleeper(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 5; f->i++) {
        f->deadline = (async_tick)(async_now(L) + f->ticks);
        async_await(async_sleep_until(L, f->deadline));
        if (async_tick_before(async_now(L), f->deadline))
            async_return(-100); /* woke early */
        if ((async_tick)(async_now(L) - f->deadline) > f->late)
            f->late = (async_tick)(async_now(L) - f->deadline);
    }
    async_end;
}

/* Each sleep ends on its own one-shot timer interrupt, never early: no
 * periodic tick, and the loop waits in WFI instead of spinning.        */
static void clint_alarm_ends_each_sleep(void **state)
{
    static struct sleeper s;
    (void)state;
    s = (struct sleeper){0};
    s.ticks = MTIME_HZ / 100u; /* 10 ms */
    assert_int_equal(async_run(&BL, &s.task, sleeper), 0);
    assert_true(timer_irqs >= 5u);
    assert_true(timer_irqs <= 10u); /* an alarm per deadline, not a tick */
    assert_true(BM.sleeps >= 5u);
    assert_true(s.late < MTIME_HZ / 1000u); /* within 1 ms of emulated time */
}

/* ---- notifications from the software interrupt ---- */

static void give_one(void)
{
    async_notify_give(&BL, &N);
    gives++;
}

/* The handler runs only when raised in the race window (interrupts
 * masked, the loop about to WFI with nothing pending): every wake-up
 * depends on WFI ending on a pending interrupt that MIE keeps masked. */
static void msip_in_the_race_window_wakes_the_loop(void **state)
{
    static struct taker t;
    (void)state;
    t = (struct taker){0};
    t.want = 20;
    on_soft = give_one;
    inject_budget = 20;
    assert_int_equal(async_run(&BL, &t.task, taker), 20);
    assert_int_equal(injections, 20);
    assert_int_equal(gives, 20);
    assert_int_equal(soft_irqs, 20);
    assert_int_equal(async_sem_count(&N.sem), 0);
}

/* ---- a storm: each handler raises the next ---- */

static void give_and_reraise(void)
{
    async_notify_give(&BL, &N);
    if (++gives < 500u)
        MSIP = 1u; /* taken again as soon as this handler returns */
}

/* 500 interrupts back to back, most of them while the loop runs: every
 * give becomes one permit, however many coalesce into one post.       */
static void storm_of_software_interrupts_loses_nothing(void **state)
{
    static struct taker t;
    (void)state;
    t = (struct taker){0};
    t.want = 500;
    on_soft = give_and_reraise;
    MSIP = 1u;
    assert_int_equal(async_run(&BL, &t.task, taker), 500);
    assert_int_equal(gives, 500);
    assert_int_equal(async_sem_count(&N.sem), 0);
}

/* ---- async_post from the handler, with a sleep in flight ---- */

static async_event EV;
static volatile int post_rc;

static void on_call(async_loop *L, async_call *c)
{
    (void)c;
    async_event_set(L, &EV);
}
static async_call CALL = {NULL, on_call, 0};

static void post_once(void)
{
    post_rc = async_post(&BL, &CALL);
}

struct waiter {
    async_task task;
    async_co co;
    int rc;
    async_tick start, took;
    async_timeout to;
};

static int waiter(async_loop *L, async_task *self)
{
    struct waiter *f = async_frame(self, struct waiter, task);
    async_begin(L, &f->co);
    f->start = async_now(L);
    /* A long deadline armed on the CLINT; the event comes first. */
    async_await_for(&f->to, MTIME_HZ, f->rc, async_event_wait(L, &EV));
    f->took = (async_tick)(async_now(L) - f->start);
    async_return(f->rc);
    async_end;
}

/* A post from a handler ends a WFI that a far alarm would otherwise
 * have held, and the wait's deadline does not fire.                   */
static void post_from_handler_beats_a_far_deadline(void **state)
{
    static struct waiter w;
    (void)state;
    w = (struct waiter){0};
    async_event_init(&EV);
    CALL.queued = 0;
    on_soft = post_once;
    inject_budget = 1;
    assert_int_equal(async_run(&BL, &w.task, waiter), 0);
    assert_int_equal(post_rc, 0);
    assert_true(async_event_is_set(&EV));
    assert_true(w.took < MTIME_HZ / 10u); /* long before the deadline */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TR(clint_alarm_ends_each_sleep),
        TR(msip_in_the_race_window_wakes_the_loop),
        TR(storm_of_software_interrupts_loses_nothing),
        TR(post_from_handler_beats_a_far_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
