/* SPDX-License-Identifier: MIT */
/* Interrupts on the emulated Cortex-M3 (target only): the bare-metal port
 * (port/async_bm.h) with real SysTick and CMSDK timer interrupts waking
 * tasks through async_notify_give() and async_post(), an interrupt made
 * pending exactly between the loop's last check and its WFI, one-shot
 * interrupts landing at every offset of the loop's path to sleep, and a
 * tickless sleep on a one-shot alarm.
 *
 * A lost wake-up would hang the loop in WFI; a watchdog (CMSDK timer 0)
 * turns that into a failure: it records that it fired and cancels the
 * test's task, and every test asserts it did not fire.  Its period is a
 * hang detector, not a timing tolerance: nothing here depends on how
 * fast the emulator runs.                                              */
#include "testlib.h"

static void before_sleep(void);
#define ASYNC_BM_BEFORE_SLEEP(bm) before_sleep()
#define ASYNC_BM_IMPLEMENTATION
#include "async_bm.h"
#include "cortex_m.h"
#include "irq_common.h"

#define CPU_HZ 25000000u /* MPS2 SYSCLK, also the peripherals' clock */

/* CMSDK APB timer 0, IRQ 8: the watchdog. */
#define TIMER0_CTRL ASYNC_CM_REG(0x40000000u)
#define TIMER0_VALUE ASYNC_CM_REG(0x40000004u)
#define TIMER0_RELOAD ASYNC_CM_REG(0x40000008u)
#define TIMER0_INTCLEAR ASYNC_CM_REG(0x4000000Cu)
#define TIMER0_IRQ 8u
#define WATCHDOG_CYCLES (4u * CPU_HZ)

/* CMSDK dual timer (SP804), IRQ 10: timer 1 free-running as the clock,
 * timer 2 one-shot as the alarm, both at PCLK/256.                     */
#define DT_REG(t, off) ASYNC_CM_REG(0x40002000u + 0x20u * (t) + (off))
#define DT_LOAD(t) DT_REG(t, 0x00u)
#define DT_VALUE(t) DT_REG(t, 0x04u)
#define DT_CONTROL(t) DT_REG(t, 0x08u)
#define DT_INTCLR(t) DT_REG(t, 0x0Cu)
#define DT_ONESHOT 0x01u
#define DT_32BIT 0x02u
#define DT_DIV256 0x08u
#define DT_INTEN 0x20u
#define DT_ENABLE 0x80u
#define DT_IRQ 10u


static void (*volatile on_systick)(void);
static volatile unsigned systick_count, gives, injections, alarm_count;
static volatile int inject_budget;
static volatile int wd_fired;

/* ---- interrupt handlers ---- */

void SysTick_Handler(void)
{
    systick_count++;
    if (on_systick)
        on_systick();
}

static async_task *wd_victim;
static void wd_rescue(async_loop *L, async_call *c)
{
    (void)c;
    if (wd_victim)
        async_cancel(L, wd_victim);
}
static async_call wd_call = {NULL, wd_rescue, 0};

void irq8_handler(void)
{
    TIMER0_INTCLEAR = 1u;
    TIMER0_CTRL = 0u;
    wd_fired = 1;
    async_post(&BL, &wd_call);
}

void irq10_handler(void)
{
    DT_INTCLR(1) = 1u;
    DT_CONTROL(1) = 0u;
    alarm_count++;
}

/* Runs with interrupts masked between the port's last check and WFI:
 * make SysTick pending right there, the worst moment for a wake-up.   */
static void before_sleep(void)
{
    if (inject_budget > 0) {
        inject_budget--;
        injections++;
        async_cm_systick_pend();
    }
}

/* ---- fixture ---- */

static void stop_sources(void)
{
    async_cm_systick_stop();
    TIMER0_CTRL = 0u;
    TIMER0_INTCLEAR = 1u;
    DT_CONTROL(0) = 0u;
    DT_CONTROL(1) = 0u;
    DT_INTCLR(1) = 1u;
    async_cm_irq_clear(TIMER0_IRQ);
    async_cm_irq_clear(DT_IRQ);
}

static int bm_setup(void **state)
{
    t_setup(state);
    stop_sources();
    on_systick = NULL;
    systick_count = gives = injections = alarm_count = 0;
    inject_budget = 0;
    wd_fired = 0;
    wd_victim = NULL;
    wd_call.queued = 0;
    async_bm_init(&BM);
    /* The loop exists before any handler may post to it. */
    assert_int_equal(async_loop_init(&BL, &BM.port), 0);
    async_notify_init(&N);
    async_cm_irq_enable(TIMER0_IRQ);
    async_cm_irq_enable(DT_IRQ);
    return 0;
}

static int bm_teardown(void **state)
{
    stop_sources();
    return t_teardown(state);
}
#define TI(test) cmocka_unit_test_setup_teardown(test, bm_setup, bm_teardown)

/* Arm the watchdog over `victim` and run it as the loop's main task.  */
static int run_guarded(async_task *victim, async_task_fn fn)
{
    int rc;
    wd_victim = victim;
    TIMER0_RELOAD = WATCHDOG_CYCLES;
    TIMER0_VALUE = WATCHDOG_CYCLES;
    TIMER0_CTRL = 0x9u; /* enable, interrupt */
    rc = async_run(&BL, victim, fn);
    TIMER0_CTRL = 0u;
    return rc;
}

static void tick(void)
{
    async_bm_tick(&BM);
}

/* ---- a task that sleeps on the SysTick clock ---- */

struct sleeper {
    async_task task;
    async_co co;
    int i;
    async_tick ticks, start; /* each of 3 sleeps */
};

static int sleeper(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    f->start = async_now(L);
    for (f->i = 0; f->i < 3; f->i++)
        async_await(async_sleep(L, f->ticks));
    async_return((int)(async_tick)(async_now(L) - f->start));
    async_end;
}

/* Sleeps end on SysTick interrupts, never early, and the loop waits in
 * WFI rather than spinning.                                            */
static void systick_sleeps_end_on_time(void **state)
{
    static struct sleeper s;
    int rc;
    (void)state;
    s = (struct sleeper){0};
    s.ticks = 10;
    on_systick = tick;
    async_cm_systick_start(CPU_HZ / ASYNC_CONF_TICK_HZ);
    rc = run_guarded(&s.task, sleeper);
    assert_false(wd_fired);
    assert_true(rc >= 30);
    assert_true(systick_count >= 30u);
    assert_true(BM.sleeps >= 3u);
}

/* ---- notifications given by an interrupt handler ---- */

static void give_three_until_thirty(void)
{
    int i;
    for (i = 0; i < 3 && gives < 30u; i++) {
        async_notify_give(&BL, &N); /* the 2nd and 3rd coalesce */
        gives++;
    }
    if (gives >= 30u)
        async_cm_systick_stop();
}

/* Every give from the handler becomes one permit, even when several
 * gives coalesce into one post before the loop runs.                  */
static void notify_from_isr_counts_every_give(void **state)
{
    static struct taker t;
    (void)state;
    t = (struct taker){0};
    t.want = 30;
    on_systick = give_three_until_thirty;
    async_cm_systick_start(2000u);
    assert_int_equal(run_guarded(&t.task, taker), 30);
    assert_false(wd_fired);
    assert_int_equal(gives, 30);
    assert_int_equal(async_sem_count(&N.sem), 0);
}

/* ---- async_post from an interrupt handler ---- */

static async_event EV;
static volatile int post_rc1, post_rc2, call_runs, call_in_task;

static void on_call(async_loop *L, async_call *c)
{
    (void)c;
    call_runs++;
    call_in_task = async_current(L) != NULL;
    async_event_set(L, &EV);
}
static async_call CALL = {NULL, on_call, 0};

static void post_twice_once(void)
{
    async_cm_systick_stop();
    post_rc1 = async_post(&BL, &CALL);
    post_rc2 = async_post(&BL, &CALL);
}

struct waiter {
    async_task task;
    async_co co;
};

static int event_waiter(async_loop *L, async_task *self)
{
    struct waiter *f = async_frame(self, struct waiter, task);
    async_begin(L, &f->co);
    async_await(async_event_wait(L, &EV));
    async_return(7);
    async_end;
}

/* A post from a handler runs its function once, in the loop, outside
 * any task; a second post before it ran is coalesced.                 */
static void post_from_isr_runs_once_in_loop(void **state)
{
    static struct waiter w;
    (void)state;
    w = (struct waiter){0};
    async_event_init(&EV);
    CALL.queued = 0;
    call_runs = call_in_task = 0;
    post_rc1 = post_rc2 = 1;
    on_systick = post_twice_once;
    async_cm_systick_start(5000u);
    assert_int_equal(run_guarded(&w.task, event_waiter), 7);
    assert_false(wd_fired);
    assert_int_equal(post_rc1, 0);
    assert_int_equal(post_rc2, ASYNC_EALREADY);
    assert_int_equal(call_runs, 1);
    assert_false(call_in_task);
}

/* ---- the port's helpers: an event set and a queue fed from handlers ---- */

static async_isr_event IEV;
static async_isrq IQ;
static unsigned IQ_BUF[4];
static volatile unsigned next_item;

static void feed_queue_then_event(void)
{
    if (next_item < 8u) {
        if (async_isrq_put(&BL, &IQ, (const void *)&next_item) == 0)
            next_item++;
    } else {
        async_cm_systick_stop();
        async_isr_event_set(&BL, &IEV);
    }
}

struct consumer {
    async_task task;
    async_co co;
    unsigned item;
    int i, bad;
};

static int consumer(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 8; f->i++) {
        async_await(async_isrq_get(L, &IQ, &f->item));
        if (f->item != (unsigned)f->i)
            f->bad++;
    }
    async_await(async_event_wait(L, &EV));
    async_return(f->bad ? -f->bad : f->i);
    async_end;
}

/* Items put by a handler come out in order; the event set by a handler
 * wakes its waiter.                                                    */
static void isr_queue_and_event_reach_a_task(void **state)
{
    static struct consumer c;
    (void)state;
    c = (struct consumer){0};
    next_item = 0;
    async_event_init(&EV);
    async_isr_event_init(&IEV, &EV);
    assert_int_equal(async_isrq_init(&IQ, IQ_BUF, sizeof IQ_BUF[0], 4), 0);
    on_systick = feed_queue_then_event;
    async_cm_systick_start(3000u);
    assert_int_equal(run_guarded(&c.task, consumer), 8);
    assert_false(wd_fired);
    assert_int_equal(IQ.dropped, 0);
}

/* A full queue refuses and counts the drop; nothing is overwritten.    */
static void isr_queue_full_counts_drops(void **state)
{
    unsigned i;
    (void)state;
    assert_int_equal(async_isrq_init(&IQ, IQ_BUF, sizeof IQ_BUF[0], 4), 0);
    for (i = 0; i < 4u; i++)
        assert_int_equal(async_isrq_put(&BL, &IQ, &i), 0);
    assert_int_equal(async_isrq_put(&BL, &IQ, &i), ASYNC_ENOSPC);
    assert_int_equal(IQ.dropped, 1);
    assert_int_equal(async_isrq_init(&IQ, NULL, 4, 4), ASYNC_EINVAL);
}

/* ---- the race: an interrupt between the last check and WFI ---- */

static void give_one(void)
{
    async_notify_give(&BL, &N);
    gives++;
}

/* Each time the loop decides to sleep, SysTick becomes pending after
 * the check, with interrupts masked.  WFI must still return and the
 * handler's give must reach the task: no lost wake-up.               */
static void interrupt_in_the_race_window_is_not_lost(void **state)
{
    static struct taker t;
    (void)state;
    t = (struct taker){0};
    t.want = 5;
    on_systick = give_one;
    inject_budget = 5;
    assert_int_equal(run_guarded(&t.task, taker), 5);
    assert_false(wd_fired);
    assert_int_equal(injections, 5);
    assert_int_equal(gives, 5);
    assert_int_equal(BM.sleeps, 5);
}

/* ---- one-shot interrupts at every offset of the path to sleep ---- */

static void give_and_stop(void)
{
    async_cm_systick_stop();
    async_notify_give(&BL, &N);
    gives++;
}

struct racer {
    async_task task;
    async_co co;
    int i;
};

#define RACE_ROUNDS 400

static int racer(async_loop *L, async_task *self)
{
    struct racer *f = async_frame(self, struct racer, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < RACE_ROUNDS; f->i++) {
        /* 8..1200 cycles: before the loop's checks, inside them, in WFI */
        async_cm_systick_start(8u + (unsigned)(f->i * 37 % 1193));
        async_await(async_notify_take(L, &N));
    }
    async_return(f->i);
    async_end;
}

static void one_shot_interrupts_at_every_offset(void **state)
{
    static struct racer r;
    (void)state;
    r = (struct racer){0};
    on_systick = give_and_stop;
    assert_int_equal(run_guarded(&r.task, racer), RACE_ROUNDS);
    assert_false(wd_fired);
    assert_int_equal(gives, RACE_ROUNDS);
}

/* ---- an interrupt storm: posts racing the loop taking them ---- */

#define STORM_GIVES 3000u
static uint32_t storm_seed;

static void storm(void)
{
    async_notify_give(&BL, &N);
    if (++gives >= STORM_GIVES) {
        async_cm_systick_stop();
        return;
    }
    /* next period: 40..423 cycles, pseudo-random (taken at the reload) */
    storm_seed = storm_seed * 1103515245u + 12345u;
    ASYNC_CM_SYST_RVR = 40u + ((storm_seed >> 16) % 384u);
}

/* Gives arrive while the loop is busy taking and delivering earlier ones
 * (the post list swap, the pending count): every one becomes a permit.
 * Without atomics (the m0plus configuration) this is the port's lock.   */
static void interrupt_storm_loses_no_give(void **state)
{
    static struct taker t;
    (void)state;
    t = (struct taker){0};
    t.want = STORM_GIVES;
    storm_seed = 1;
    on_systick = storm;
    async_cm_systick_start(200u);
    assert_int_equal(run_guarded(&t.task, taker), STORM_GIVES);
    assert_false(wd_fired);
    assert_int_equal(gives, STORM_GIVES);
    assert_int_equal(async_sem_count(&N.sem), 0);
}

/* ---- the port's critical section (async_post's lock without atomics) ---- */

static uint32_t primask(void)
{
    uint32_t s;
    __asm__ volatile("mrs %0, primask" : "=r"(s));
    return s;
}

/* lock() masks interrupts and nests; the outermost unlock() restores the
 * state found by the outermost lock(), masked or not.                 */
static void port_lock_nests_and_restores(void **state)
{
    (void)state;
    assert_int_equal(primask(), 0);
    BM.port.lock(&BM.port);
    assert_int_equal(primask(), 1);
    BM.port.lock(&BM.port);
    BM.port.unlock(&BM.port);
    assert_int_equal(primask(), 1);
    BM.port.unlock(&BM.port);
    assert_int_equal(primask(), 0);

    __asm__ volatile("cpsid i" : : : "memory");
    BM.port.lock(&BM.port);
    BM.port.unlock(&BM.port);
    assert_int_equal(primask(), 1); /* was masked: stays masked */
    __asm__ volatile("cpsie i" : : : "memory");
    assert_int_equal(BM.nest, 0);
}

/* ---- tickless: a free-running clock and a one-shot alarm ---- */

static async_tick dt_clock(async_bm *bm)
{
    (void)bm;
    return (async_tick)~DT_VALUE(0); /* counts down from 0xFFFFFFFF */
}

static void dt_alarm(async_bm *bm, bool has_deadline, async_tick deadline)
{
    async_tick now = dt_clock(bm);
    DT_CONTROL(1) = 0u;
    DT_INTCLR(1) = 1u;
    if (!has_deadline || !async_tick_after(deadline, now))
        return;
    DT_LOAD(1) = (uint32_t)(async_tick)(deadline - now);
    DT_CONTROL(1) = DT_ENABLE | DT_ONESHOT | DT_32BIT | DT_DIV256 | DT_INTEN;
}

/* With no tick at all, a 1000-tick sleep costs one wake-up, not 1000:
 * the loop hands the port its exact next deadline (README: "a sleeping
 * loop wakes once per deadline").  Two allowed per sleep: the alarm
 * timer's prescaler is not in phase with the clock's, so an alarm may
 * fire one count early, and the port then sleeps once more.            */
static void tickless_sleep_wakes_on_the_alarm(void **state)
{
    static struct sleeper s;
    int rc;
    (void)state;
    s = (struct sleeper){0};
    s.ticks = 1000;
    DT_LOAD(0) = 0xFFFFFFFFu;
    DT_CONTROL(0) = DT_ENABLE | DT_32BIT | DT_DIV256; /* free-running */
    BM.clock = dt_clock;
    BM.alarm = dt_alarm;
    assert_int_equal(async_loop_init(&BL, &BM.port), 0); /* on the new clock */
    rc = run_guarded(&s.task, sleeper);
    assert_false(wd_fired);
    assert_true(rc >= 3000);
    assert_int_equal(systick_count, 0);
    assert_true(alarm_count >= 3u);
    assert_true(BM.sleeps >= 3u);
    assert_true(BM.sleeps <= 6u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TI(systick_sleeps_end_on_time),
        TI(notify_from_isr_counts_every_give),
        TI(post_from_isr_runs_once_in_loop),
        TI(isr_queue_and_event_reach_a_task),
        TI(isr_queue_full_counts_drops),
        TI(interrupt_in_the_race_window_is_not_lost),
        TI(one_shot_interrupts_at_every_offset),
        TI(interrupt_storm_loses_no_give),
        TI(port_lock_nests_and_restores),
        TI(tickless_sleep_wakes_on_the_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
