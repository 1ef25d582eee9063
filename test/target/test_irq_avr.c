/* SPDX-License-Identifier: MIT */
/* Interrupts on the emulated ATmega1284P (target only, simavr through
 * test/target/avrsim.c): the bare-metal port's AVR architecture
 * (port/async_bm.h, port/avr.h) with real timer and external interrupts.
 *
 *   - a tick interrupt landing between the loads of async_bm_now()'s
 *     multi-byte read, at every cycle offset across it: the read must
 *     give the tick before or after, never a mix of the two;
 *   - an interrupt made pending exactly between the loop's last check
 *     and its SLEEP: the loop must wake and see it;
 *   - Timer0 as the tick (async_avr_tick_start): sleeps last their ticks
 *     and the loop sleeps through them, one SLEEP per tick;
 *   - interrupt-to-task helpers (async_isr_event_set, async_isrq_put)
 *     from a timer interrupt.
 *
 * A lost wake-up would leave the loop asleep with nothing to wake it:
 * avrsim's cycle limit ends the image then and run.sh counts every test
 * that did not pass as failed.                                         */
#include "testlib.h"

static void before_sleep(void);
#define ASYNC_BM_BEFORE_SLEEP(bm) before_sleep()
#define ASYNC_BM_IMPLEMENTATION
#include "async_bm.h"
#include "avr.h"
#include "irq_common.h"
#include <avr/interrupt.h>

static volatile uint8_t t1_fired, inject_budget, injections;
static volatile uint16_t int0_count, t0_count;
static void (*volatile on_tick)(void);

/* ---- interrupt handlers ---- */

/* Timer1 compare A: one tick, once, at the cycle the test chose. */
ISR(TIMER1_COMPA_vect)
{
    TCCR1B = 0;
    TIMSK1 = 0;
    async_bm_tick(&BM);
    t1_fired = 1;
}

/* INT0, made pending by software (the pin is an output: see pend_int0). */
ISR(INT0_vect)
{
    int0_count++;
    async_notify_give(&BL, &N);
}

/* Timer0: the port's tick. */
ISR(ASYNC_AVR_TICK_VECTOR)
{
    t0_count++;
    async_bm_tick(&BM);
    if (on_tick)
        on_tick();
}

/* INT0 on a rising edge fires even when its pin is an output: raising
 * PD2 is the AVR's software interrupt.  Pending until SREG's I is set. */
static void pend_int0(void)
{
    PORTD &= (uint8_t)~_BV(PD2);
    PORTD |= _BV(PD2);
}

/* Runs with interrupts masked between the port's last check and SLEEP:
 * make an interrupt pending right there, the worst moment for a wake-up. */
static void before_sleep(void)
{
    if (inject_budget > 0) {
        inject_budget--;
        injections++;
        pend_int0();
    }
}

/* ---- fixture ---- */

static void stop_sources(void)
{
    async_avr_tick_stop();
    TCCR1B = 0;
    TIMSK1 = 0;
    TIFR1 = 0xFF;
    EIMSK = 0;
    EIFR = 0xFF;
}

static int bm_setup(void **state)
{
    cli();
    t_setup(state);
    stop_sources();
    on_tick = NULL;
    t1_fired = inject_budget = injections = 0;
    int0_count = t0_count = 0;
    async_bm_init(&BM);
    assert_int_equal(async_loop_init(&BL, &BM.port), 0);
    async_notify_init(&N);
    DDRD |= _BV(PD2); /* INT0 pin: output, low */
    PORTD &= (uint8_t)~_BV(PD2);
    EICRA = _BV(ISC01) | _BV(ISC00); /* rising edge */
    EIFR = _BV(INTF0);
    EIMSK = _BV(INT0);
    sei();
    return 0;
}

static int bm_teardown(void **state)
{
    cli();
    stop_sources();
    sei();
    return t_teardown(state);
}

#define TB(test) cmocka_unit_test_setup_teardown(test, bm_setup, bm_teardown)

/* ---- a tick in the middle of the read ---- */

/* Read the port's time with ticks = `before` while Timer1 (clk/1) adds
 * one tick `offset` cycles after it starts counting, i.e. somewhere in
 * or around async_bm_now().  Returns what the read gave.               */
static async_tick read_with_tick_at(uint16_t offset, async_tick before)
{
    async_tick t;
    cli();
    BM.ticks = before;
    t1_fired = 0;
    TCCR1A = 0;
    TCCR1B = 0;
    TCNT1 = 0;
    OCR1A = offset;
    TIFR1 = _BV(OCF1A);
    TIMSK1 = _BV(OCIE1A);
    sei();
    TCCR1B = _BV(CS10); /* count CPU cycles from here */
    t = async_bm_now(&BM);
    while (!t1_fired)
        ;
    return t;
}

/* The carry out of the low byte(s): 0x00FF -> 0x0100 torn is 0x01FF (low
 * byte read before the tick, high byte after), 0xFFFF -> 0x10000 torn is
 * 0x1FFFF or 0x0FFFF with 32-bit ticks (0x0000 or 0x00FF with 16).     */
static void tick_read_is_never_torn(void **state)
{
    static const async_tick edges[] = {
        (async_tick)0x00FFu, (async_tick)0xFFFFu,
#if ASYNC_CONF_TICK_BITS > 16
        (async_tick)0x00FFFFFFul,
#endif
    };
    unsigned e, offset, early = 0, late = 0;
    (void)state;
    for (e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        async_tick before = edges[e], after = (async_tick)(before + 1u);
        for (offset = 1; offset < 160; offset++) {
            async_tick t = read_with_tick_at((uint16_t)offset, before);
            if (t != before && t != after) {
                t_logi("offset", (long)offset);
                t_logi("read", (long)t);
                assert_log("(a torn read)");
            }
            if (t == after)
                early++;
            else
                late++;
        }
    }
    /* The sweep spans the read: ticks landed both before and after it. */
    assert_true(early > 0);
    assert_true(late > 0);
}

/* ---- an interrupt in the race window ---- */

/* The taker waits with nothing else to do and no deadline: only the
 * interrupt pended between the check and SLEEP can wake the loop.      */
static void interrupt_in_race_window_wakes_loop(void **state)
{
    static struct taker tk;
    (void)state;
    tk = (struct taker){0};
    tk.want = 1;
    inject_budget = 1;
    assert_int_equal(async_run(&BL, &tk.task, taker), 1);
    assert_int_equal(injections, 1);
    assert_int_equal(int0_count, 1);
    assert_true(BM.sleeps >= 1);
}

/* Every sleep of a task that takes 8 permits is raced by one. */
static void interrupt_in_every_race_window(void **state)
{
    static struct taker tk;
    (void)state;
    tk = (struct taker){0};
    tk.want = 8;
    inject_budget = 8;
    assert_int_equal(async_run(&BL, &tk.task, taker), 8);
    assert_int_equal(injections, 8);
    assert_int_equal(int0_count, 8);
}

/* ---- Timer0 as the tick ---- */

struct sleeper {
    async_task task;
    async_co co;
    async_tick ticks, t0, t1;
};

static int sleeper_fn(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    f->t0 = async_now(L);
    async_await(async_sleep(L, f->ticks));
    f->t1 = async_now(L);
    async_end;
}

/* 20 ms at 1 kHz: 20 ticks of Timer0, 20 x 16000 CPU cycles (Timer1 at
 * clk/64 counts 250 per tick), and the loop asleep between ticks.     */
static void tick_sleep_lasts_its_ticks(void **state)
{
    static struct sleeper s;
    uint16_t cycles64;
    (void)state;
    s = (struct sleeper){0};
    s.ticks = ASYNC_MS(20);
    assert_int_equal(async_avr_tick_start(F_CPU / ASYNC_CONF_TICK_HZ), 0);
    assert_int_equal(OCR0A, 249);
    TCNT1 = 0;
    TCCR1B = _BV(CS11) | _BV(CS10); /* clk/64 */
    assert_int_equal(async_run(&BL, &s.task, sleeper_fn), 0);
    cycles64 = TCNT1;
    TCCR1B = 0;
    assert_int_equal((async_tick)(s.t1 - s.t0), 20);
    assert_in_range(t0_count, 20, 21);
    assert_in_range(cycles64, 19u * 250u, 21u * 250u);
    /* one SLEEP per tick (and one for the interrupt that ended it) */
    assert_in_range(BM.sleeps, 19, 21);
}

static void tick_start_rejects_what_timer0_cannot_count(void **state)
{
    (void)state;
    assert_int_equal(async_avr_tick_start(0), ASYNC_ERANGE);
    assert_int_equal(async_avr_tick_start(1024ul * 256u + 1u), ASYNC_ERANGE);
    assert_int_equal(async_avr_tick_start(1024ul * 256u), 0);
    assert_int_equal(OCR0A, 255);
    assert_int_equal(async_avr_tick_start(100), 0);
    assert_int_equal(OCR0A, 99);
    async_avr_tick_stop();
}

/* ---- interrupt-to-task helpers from the tick ---- */

static async_event ev;
static async_isr_event iev;
static async_isrq q;
static uint16_t qbuf[4];

/* Every 3rd tick: set the event; from the 6th, queue the tick count.   */
static void tick_helpers(void)
{
    uint16_t n = t0_count;
    if (n % 3u == 0)
        async_isr_event_set(&BL, &iev);
    if (n >= 6 && n < 12)
        (void)async_isrq_put(&BL, &q, &n);
}

struct consumer {
    async_task task;
    async_co co;
    uint16_t item, got[6];
    int n;
};

static int consumer_fn(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    async_await(async_event_wait(L, &ev));
    for (f->n = 0; f->n < 6; f->n++) {
        async_await(async_isrq_get(L, &q, &f->item));
        f->got[f->n] = f->item;
    }
    async_end;
}

static void isr_helpers_reach_tasks(void **state)
{
    static struct consumer c;
    int i;
    (void)state;
    c = (struct consumer){0};
    async_event_init(&ev);
    async_isr_event_init(&iev, &ev);
    assert_int_equal(async_isrq_init(&q, qbuf, sizeof qbuf[0], 4), 0);
    on_tick = tick_helpers;
    assert_int_equal(async_avr_tick_start(F_CPU / ASYNC_CONF_TICK_HZ), 0);
    assert_int_equal(async_run(&BL, &c.task, consumer_fn), 0);
    on_tick = NULL;
    for (i = 0; i < 6; i++)
        assert_int_equal(c.got[i], 6 + i);
    assert_int_equal(q.dropped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TB(tick_read_is_never_torn),
        TB(interrupt_in_race_window_wakes_loop),
        TB(interrupt_in_every_race_window),
        TB(tick_sleep_lasts_its_ticks),
        TB(tick_start_rejects_what_timer0_cannot_count),
        TB(isr_helpers_reach_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
