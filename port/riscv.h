/* SPDX-License-Identifier: MIT */
/*
 * riscv.h - RISC-V pieces for the bare-metal port (async_bm.h): the
 * machine timer (CLINT mtime/mtimecmp) as a tickless clock and one-shot
 * alarm, and the interrupt-enable bits.  Machine mode, one hart.
 *
 *     async_bm_init(&bm);
 *     bm.clock = async_rv_clint_clock;   ticks = mtime (ASYNC_CONF_TICK_HZ
 *     bm.alarm = async_rv_clint_alarm;   must be mtime's frequency)
 *     async_rv_mie_set(ASYNC_RV_MIE_MTIE);
 *
 * and in the machine timer interrupt: async_rv_clint_disarm().  The loop
 * then sleeps in WFI from one deadline to the next with no periodic tick.
 * The CLINT layout is SiFive's (FE310, QEMU virt/sifive_e, most cores);
 * define ASYNC_RV_CLINT_BASE before including this for another address.
 */
#ifndef ASYNC_RISCV_H
#define ASYNC_RISCV_H

#include "async_bm.h"

#ifndef ASYNC_RV_CLINT_BASE
#define ASYNC_RV_CLINT_BASE 0x02000000u
#endif
#define ASYNC_RV_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define ASYNC_RV_MTIMECMP_LO ASYNC_RV_REG(ASYNC_RV_CLINT_BASE + 0x4000u)
#define ASYNC_RV_MTIMECMP_HI ASYNC_RV_REG(ASYNC_RV_CLINT_BASE + 0x4004u)
#define ASYNC_RV_MTIME_LO ASYNC_RV_REG(ASYNC_RV_CLINT_BASE + 0xBFF8u)
#define ASYNC_RV_MTIME_HI ASYNC_RV_REG(ASYNC_RV_CLINT_BASE + 0xBFFCu)

#define ASYNC_RV_MIE_MTIE (1u << 7)  /* machine timer interrupt    */
#define ASYNC_RV_MIE_MEIE (1u << 11) /* machine external (PLIC)    */

static inline void async_rv_mie_set(unsigned long bits)
{
    __asm__ volatile("csrs mie, %0" : : "r"(bits) : "memory");
}

static inline void async_rv_mie_clear(unsigned long bits)
{
    __asm__ volatile("csrc mie, %0" : : "r"(bits) : "memory");
}

static inline void async_rv_irq_enable(void)
{
    __asm__ volatile("csrsi mstatus, 8" : : : "memory");
}

/* The 64-bit mtime, read as two halves without tearing.                */
static inline uint64_t async_rv_mtime(void)
{
    uint32_t hi, lo;
    do {
        hi = ASYNC_RV_MTIME_HI;
        lo = ASYNC_RV_MTIME_LO;
    } while (hi != ASYNC_RV_MTIME_HI);
    return ((uint64_t)hi << 32) | lo;
}

/* Write mtimecmp without a moment where it is below both old and new. */
static inline void async_rv_mtimecmp(uint64_t t)
{
    ASYNC_RV_MTIMECMP_HI = 0xFFFFFFFFu;
    ASYNC_RV_MTIMECMP_LO = (uint32_t)t;
    ASYNC_RV_MTIMECMP_HI = (uint32_t)(t >> 32);
}

/* From the machine timer interrupt: MTIP is a level that stays up while
 * mtime >= mtimecmp, so push mtimecmp out of reach.  The interrupt has
 * done its job by ending the WFI; the loop reads the time itself.      */
static inline void async_rv_clint_disarm(void)
{
    ASYNC_RV_MTIMECMP_HI = 0xFFFFFFFFu;
}

/* async_bm.clock: mtime in ticks.  Up to 32-bit ticks the low word is
 * enough (it wraps exactly like async_tick).                           */
static inline async_tick async_rv_clint_clock(async_bm *bm)
{
    (void)bm;
#if ASYNC_CONF_TICK_BITS > 32
    return (async_tick)async_rv_mtime();
#else
    return (async_tick)ASYNC_RV_MTIME_LO;
#endif
}

/* async_bm.alarm: a one-shot machine timer interrupt at the deadline.  */
static inline void async_rv_clint_alarm(async_bm *bm, bool has_deadline, async_tick deadline)
{
    uint64_t now;
    async_tick ahead;

    (void)bm;
    if (!has_deadline) {
        async_rv_clint_disarm();
        return;
    }
    now = async_rv_mtime();
    ahead = (async_tick)(deadline - (async_tick)now);
    if (async_tick_before(deadline, (async_tick)now))
        ahead = 0; /* passed meanwhile: fire at once */
    async_rv_mtimecmp(now + ahead);
}

#endif /* ASYNC_RISCV_H */
