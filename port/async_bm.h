/* SPDX-License-Identifier: MIT */
/*
 * async_bm.h - bare-metal port for async.h: a tick (or a one-shot alarm),
 * a critical section, and WFI.  No OS, no libc, no allocation.  Cores:
 * Cortex-M (cortex_m.h: SysTick), RISC-V (riscv.h: the CLINT timer) and
 * AVR (avr.h: Timer0), or any other through ASYNC_BM_ARCH_CUSTOM.
 *
 * Copy this file next to async.h.  Its functions are compiled in exactly
 * one translation unit, the one that defines ASYNC_BM_IMPLEMENTATION (it
 * may be the one that defines ASYNC_IMPLEMENTATION):
 *
 *     #define ASYNC_IMPLEMENTATION
 *     #define ASYNC_BM_IMPLEMENTATION
 *     #include "async_bm.h"           (includes async.h)
 *
 *     static async_bm bm;
 *     static async_loop loop;
 *
 *     void SysTick_Handler(void) { async_bm_tick(&bm); }
 *
 *     int main(void)
 *     {
 *         async_bm_init(&bm);
 *         async_cm_systick_start(CPU_HZ / ASYNC_CONF_TICK_HZ);  (cortex_m.h)
 *         async_loop_init(&loop, &bm.port);
 *         return async_run(&loop, &app.task, app_main);
 *     }
 *
 * What the port does
 *   now()    returns bm.ticks, advanced by async_bm_tick() from the tick
 *            interrupt, or bm.clock(&bm) when the application has a
 *            free-running counter (tickless).  Where the tick is wider
 *            than one load (any tick on an AVR, 64-bit ticks on a 32-bit
 *            core) the read masks interrupts, or a tick in the middle of
 *            it would tear it.
 *   idle()   masks interrupts, and while nothing is pending and the
 *            deadline has not come, tells bm.alarm(&bm, ...) the next
 *            deadline (tickless: program a one-shot timer there) and
 *            executes WFI.  Interrupts stay masked across the check and
 *            the WFI, so an interrupt that arrives in between is not
 *            taken yet but still ends the WFI (Arm: WFI wakes on a
 *            pending interrupt even with PRIMASK set; RISC-V: WFI wakes
 *            on a pending enabled interrupt whatever mstatus.MIE says).
 *            Unmasking then runs the handler, and the loop sees its
 *            post.  This is what makes interrupt wake-ups impossible to
 *            lose.  (AVR: SLEEP does not wake with interrupts masked, so
 *            the sleep is "sei; sleep; nop; cli": the instruction after
 *            SEI runs before any interrupt, so SLEEP still comes before
 *            the handler, which runs on the wake-up, inside the sleep.)
 *            idle() never returns ASYNC_EDEADLK: an interrupt can
 *            always come.
 *   lock()   / unlock(): mask interrupts (nestable), for async_post() on
 *            targets without atomics (ASYNC_CONF_ATOMICS 0, e.g. ARMv6-M).
 *   wake()   none: the interrupt that posts has already ended the WFI.
 *
 * Interrupt-safe calls (from a handler, at any priority that may
 * interrupt the loop; nothing else in async.h is):
 *   async_post(L, &call)              run call.fn in the loop, once
 *   async_notify_give(L, &n)          one permit for async_notify_take
 *   async_bm_tick(&bm)                the tick, from the tick interrupt
 *   async_isr_event_set(L, &ie)       set an async_event from a handler
 *   async_isrq_put(L, &q, &item)      queue an item for async_isrq_get
 * Handlers above the priority that may call these (on ARMv7-M: any, when
 * interrupts are masked with PRIMASK) are simply delayed by the short
 * critical sections; NMI and HardFault must not call them.  On AVR a
 * handler runs with interrupts masked unless it is ISR_NOBLOCK; a
 * nesting one may call these too (they mask what they touch).
 *
 * Configuration (define before including):
 *   ASYNC_BM_ARCH_CUSTOM   supply your own async_bm_irq_save(),
 *                          async_bm_irq_restore() and async_bm_wfi()
 *                          (for a core this file does not know).
 *   ASYNC_BM_BEFORE_SLEEP(bm)  statement run with interrupts masked right
 *                          before WFI (a debug pin, deeper sleep modes,
 *                          or a test injecting an interrupt into the
 *                          race window).  Default: nothing.
 *   ASYNC_BM_AFTER_SLEEP(bm)   same, right after WFI.
 */
#ifndef ASYNC_BM_H
#define ASYNC_BM_H

#include "async.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- architecture: interrupt mask and sleep ---- */
#if defined(ASYNC_BM_ARCH_CUSTOM)
/* provided by the application before including this file */
#elif defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
typedef uint32_t async_bm_irqstate;
/* Mask interrupts (PRIMASK); returns the previous state.               */
static inline async_bm_irqstate async_bm_irq_save(void)
{
    async_bm_irqstate s;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(s) : : "memory");
    return s;
}
static inline void async_bm_irq_restore(async_bm_irqstate s)
{
    __asm__ volatile("msr primask, %0\n\tisb" : : "r"(s) : "memory");
}
/* Sleep until an interrupt is pending (even a masked one).  DSB: let
 * outstanding writes (a peripheral's interrupt clear) land first.      */
static inline void async_bm_wfi(void)
{
    __asm__ volatile("dsb\n\twfi" : : : "memory");
}
#elif defined(__riscv)
typedef unsigned long async_bm_irqstate;
/* Clear mstatus.MIE; returns the previous MIE bit.                     */
static inline async_bm_irqstate async_bm_irq_save(void)
{
    async_bm_irqstate s;
    __asm__ volatile("csrrci %0, mstatus, 8" : "=r"(s) : : "memory");
    return s & 8u;
}
static inline void async_bm_irq_restore(async_bm_irqstate s)
{
    __asm__ volatile("csrs mstatus, %0" : : "r"(s) : "memory");
}
static inline void async_bm_wfi(void)
{
    __asm__ volatile("wfi" : : : "memory");
}
#elif defined(__AVR__)
#include <avr/io.h> /* avr-libc: SMCR and the sleep-mode bits of this part */
#include <avr/sleep.h>
typedef uint8_t async_bm_irqstate;
/* Mask interrupts (SREG's I bit); returns the whole previous SREG, which
 * restore writes back as avr-libc's ATOMIC_RESTORESTATE does.          */
static inline async_bm_irqstate async_bm_irq_save(void)
{
    async_bm_irqstate s;
    __asm__ volatile("in %0, __SREG__\n\tcli" : "=r"(s) : : "memory");
    return s;
}
static inline void async_bm_irq_restore(async_bm_irqstate s)
{
    __asm__ volatile("out __SREG__, %0" : : "r"(s) : "memory");
}
/* The sleep mode idle() enters: SLEEP_MODE_IDLE keeps the timers and
 * the UART clocked, so the tick still wakes the loop.  A deeper mode
 * needs a wake-up source that runs in it (Timer2 on a 32 kHz crystal,
 * the watchdog, a pin).                                                */
#ifndef ASYNC_BM_AVR_SLEEP_MODE
#define ASYNC_BM_AVR_SLEEP_MODE SLEEP_MODE_IDLE
#endif
/* Called with interrupts masked; returns with them masked.  An AVR does
 * not wake from SLEEP with the I bit clear (the interrupt that should
 * wake it is never taken), so the unmasking is part of the sleep: the
 * instruction after SEI always executes before any interrupt, so SLEEP
 * is entered with no gap in which an interrupt could slip past the
 * loop's check, and one already pending ends it at once.  The waking
 * handler therefore runs in here, before CLI, not in the caller's
 * restore.
 * Why "sei; sleep; nop; cli" and not "sei; sleep; cli": on hardware the
 * two are equivalent - after the wake-up the handler runs and returns to
 * the instruction after SLEEP, and the NOP only gives interrupts that
 * are pending then one more cycle in which to be taken before CLI.
 * simavr (1.6), though, turns a SLEEP with an interrupt already pending
 * into a no-op and delivers the interrupt one instruction later than
 * the SEI's delay allows: with CLI in that slot it is never taken and
 * the loop spins through this sequence for ever.  The NOP is that slot.
 * SE is set only around the SLEEP, as the datasheets advise, so no
 * stray SLEEP elsewhere can put the part to sleep.                     */
static inline void async_bm_wfi(void)
{
#if defined(SMCR) && defined(SE)
    SMCR = (uint8_t)(ASYNC_BM_AVR_SLEEP_MODE | _BV(SE)); /* SMCR holds nothing else */
#else
    set_sleep_mode(ASYNC_BM_AVR_SLEEP_MODE);
    sleep_enable();
#endif
    __asm__ volatile("sei\n\tsleep\n\tnop\n\tcli" : : : "memory");
#if defined(SMCR) && defined(SE)
    SMCR = 0;
#else
    sleep_disable();
#endif
}
#else
#error "async_bm.h: unknown core; define ASYNC_BM_ARCH_CUSTOM and supply async_bm_irq_save/restore/wfi"
#endif

/* The widest load the core reads memory with in one indivisible access
 * (an interrupt comes before it or after it): a tick wider than this is
 * read with interrupts masked.  A core this file does not know is taken
 * to have byte loads only, which is always safe.                       */
#ifndef ASYNC_BM_LOAD_BITS
#if defined(ASYNC_BM_ARCH_CUSTOM) || defined(__AVR__)
#define ASYNC_BM_LOAD_BITS 8
#elif defined(__riscv) && defined(__riscv_xlen)
#define ASYNC_BM_LOAD_BITS __riscv_xlen
#else
#define ASYNC_BM_LOAD_BITS 32 /* Cortex-M: LDRD may be split by an interrupt */
#endif
#endif

#ifndef ASYNC_BM_BEFORE_SLEEP
#define ASYNC_BM_BEFORE_SLEEP(bm) ((void)0)
#endif
#ifndef ASYNC_BM_AFTER_SLEEP
#define ASYNC_BM_AFTER_SLEEP(bm) ((void)0)
#endif

/* ---- the port ---- */
typedef struct async_bm async_bm;
struct async_bm {
    async_port port; /* first: async_loop_init(&L, &bm.port)          */
    /* Tick count, advanced by async_bm_tick(); unused with clock.     */
    volatile async_tick ticks;
    /* Optional: read a free-running counter instead of ticks (in ticks
     * of ASYNC_CONF_TICK_HZ).  Called with interrupts masked or not.  */
    async_tick (*clock)(async_bm *bm);
    /* Optional (tickless): called with interrupts masked just before
     * each WFI with the next deadline; program a one-shot interrupt at
     * or after it, or stop the timer when has_deadline is false.  An
     * alarm that fires early only costs a spurious wake-up.           */
    void (*alarm)(async_bm *bm, bool has_deadline, async_tick deadline);
    void *user;             /* for the application's hooks          */
    unsigned long sleeps;   /* WFIs executed (statistics, tests)    */
    async_bm_irqstate saved; /* lock(): state before the outermost  */
    unsigned nest;           /* lock() depth                        */
};

/* Fill in the hooks; ticks start at 0.  Then set clock/alarm if wanted. */
void async_bm_init(async_bm *bm);

/* From the tick interrupt (interrupt-safe).  The increment needs no lock:
 * only this handler writes ticks, and handlers that read them do not
 * interrupt it (or, with nested interrupts, read through async_bm_now).
 * Readers: async_bm_now(), which masks interrupts around the read where
 * the tick is wider than one load (ASYNC_BM_LOAD_BITS).                */
static inline void async_bm_tick(async_bm *bm)
{
    bm->ticks = (async_tick)(bm->ticks + 1u);
}

/* The port's time (what the loop's now() hook returns).                */
async_tick async_bm_now(async_bm *bm);

/* ---- interrupt-to-task helpers, built on async_post ---- */

/* Set an async_event from an interrupt handler: the set happens in the
 * loop, before its next step.                                          */
typedef struct async_isr_event {
    async_call call; /* first */
    async_event *ev;
} async_isr_event;
void async_isr_event_init(async_isr_event *ie, async_event *ev);
/* Interrupt-safe.  Coalesces: sets posted before the loop ran are one. */
void async_isr_event_set(async_loop *L, async_isr_event *ie);

/* A bounded FIFO that interrupt handlers put into and tasks await (a
 * UART's received bytes, a button's events).  Items live in a caller-
 * provided array of cap * item_size bytes.  Nothing is ever lost
 * silently: a put into a full queue returns ASYNC_ENOSPC and counts a
 * drop.                                                                */
typedef struct async_isrq {
    async_notify n; /* one permit per queued item */
    unsigned char *buf;
    size_t item_size;
    unsigned cap;
    volatile unsigned head, count;
    volatile unsigned dropped;
} async_isrq;
int async_isrq_init(async_isrq *q, void *buf, size_t item_size, unsigned cap);
/* Interrupt-safe (also from the loop).  0 or ASYNC_ENOSPC.             */
int async_isrq_put(async_loop *L, async_isrq *q, const void *item);
/* op: copy the oldest item out, waiting while empty.                   */
int async_isrq_get(async_loop *L, async_isrq *q, void *item);

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_BM_H */

/* ====================================================================== */
#if defined(ASYNC_BM_IMPLEMENTATION) && !defined(ASYNC_BM_IMPLEMENTED)
#define ASYNC_BM_IMPLEMENTED

#ifdef __cplusplus
extern "C" {
#endif

static async_bm *async__bm_of(const async_port *p)
{
    return (async_bm *)(void *)(uintptr_t)p; /* the port is bm's first member */
}

/* The port's now() hook is the reader itself (async_bm_now calls it), so
 * an image that never calls async_bm_now links no wrapper.              */
static async_tick async__bm_port_now(const async_port *p)
{
    async_bm *bm = async__bm_of(p);
#if ASYNC_CONF_TICK_BITS > ASYNC_BM_LOAD_BITS
    async_tick t;
    async_bm_irqstate s;
    if (bm->clock)
        return bm->clock(bm);
    /* The tick is several loads here: a tick interrupt between them
     * would tear the read (0x00FF -> 0x0100 read as 0x01FF, a deadline
     * up to 255 ticks early).  Masking costs 6 bytes and 3 cycles on an
     * AVR; reading until two reads agree costs 16 to 36 bytes and twice
     * the loads (measured with avr-gcc -Os).                            */
    s = async_bm_irq_save();
    t = bm->ticks;
    async_bm_irq_restore(s);
    return t;
#else
    return bm->clock ? bm->clock(bm) : bm->ticks;
#endif
}

async_tick async_bm_now(async_bm *bm)
{
    return async__bm_port_now(&bm->port);
}

/* Sleep until something is pending or the deadline has come.  Stays in
 * here across ticks that change nothing, so a 1 kHz tick costs one
 * check per tick, not one pass of the loop.                            */
static int async__bm_idle(const async_port *p, async_loop *L, bool has_deadline,
                          async_tick deadline)
{
    async_bm *bm = async__bm_of(p);
    async_bm_irqstate s = async_bm_irq_save();

    while (!async_loop_has_work(L) &&
           !(has_deadline && !async_tick_before(async__bm_port_now(p), deadline))) {
        if (bm->alarm)
            bm->alarm(bm, has_deadline, deadline);
        ASYNC_BM_BEFORE_SLEEP(bm);
        async_bm_wfi(); /* returns with the waking interrupt pending */
        ASYNC_BM_AFTER_SLEEP(bm);
        bm->sleeps++;
        async_bm_irq_restore(s); /* the handler runs here */
        s = async_bm_irq_save();
    }
    async_bm_irq_restore(s);
    return 0;
}

static void async__bm_lock(const async_port *p)
{
    async_bm *bm = async__bm_of(p);
    async_bm_irqstate s = async_bm_irq_save();
    if (bm->nest++ == 0)
        bm->saved = s;
}

static void async__bm_unlock(const async_port *p)
{
    async_bm *bm = async__bm_of(p);
    if (--bm->nest == 0)
        async_bm_irq_restore(bm->saved);
}

void async_bm_init(async_bm *bm)
{
    unsigned char *p = (unsigned char *)bm;
    size_t n = sizeof *bm;

    while (n--) /* ticks, sleeps, the lock's state 0; no clock, alarm, wake */
        *p++ = 0;
    bm->port.now = async__bm_port_now;
    bm->port.idle = async__bm_idle;
    bm->port.lock = async__bm_lock;
    bm->port.unlock = async__bm_unlock;
    /* port.flags 0: posts and timers need no poll, idle() only when nothing is ready */
}

/* ---- helpers ---- */

static void async__isr_event_run(async_loop *L, async_call *c)
{
    async_event_set(L, ((async_isr_event *)(void *)c)->ev);
}

void async_isr_event_init(async_isr_event *ie, async_event *ev)
{
    ie->call.next = NULL;
    ie->call.fn = async__isr_event_run;
    ie->call.queued = 0;
    ie->ev = ev;
}

void async_isr_event_set(async_loop *L, async_isr_event *ie)
{
    (void)async_post(L, &ie->call);
}

int async_isrq_init(async_isrq *q, void *buf, size_t item_size, unsigned cap)
{
    if (q == NULL || buf == NULL || item_size == 0 || cap == 0)
        return ASYNC_EINVAL;
    async_notify_init(&q->n);
    q->buf = (unsigned char *)buf;
    q->item_size = item_size;
    q->cap = cap;
    q->head = q->count = q->dropped = 0;
    return 0;
}

static void async__bm_copy(unsigned char *d, const unsigned char *s, size_t n)
{
    while (n--)
        *d++ = *s++;
}

int async_isrq_put(async_loop *L, async_isrq *q, const void *item)
{
    async_bm_irqstate s = async_bm_irq_save();
    unsigned tail;

    if (q->count == q->cap) {
        q->dropped++;
        async_bm_irq_restore(s);
        return ASYNC_ENOSPC;
    }
    tail = q->head + q->count;
    if (tail >= q->cap)
        tail -= q->cap;
    async__bm_copy(q->buf + (size_t)tail * q->item_size, (const unsigned char *)item,
                   q->item_size);
    q->count++;
    async_bm_irq_restore(s);
    async_notify_give(L, &q->n); /* one permit per item */
    return 0;
}

int async_isrq_get(async_loop *L, async_isrq *q, void *item)
{
    async_bm_irqstate s;
    int rc = async_notify_take(L, &q->n);

    if (rc != 0)
        return rc; /* ASYNC_PENDING, or cancelled / timed out */
    s = async_bm_irq_save();
    async__bm_copy((unsigned char *)item, q->buf + (size_t)q->head * q->item_size, q->item_size);
    q->head = q->head + 1u == q->cap ? 0u : q->head + 1u;
    q->count--;
    async_bm_irq_restore(s);
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_BM_IMPLEMENTATION */
