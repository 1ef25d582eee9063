/* SPDX-License-Identifier: MIT */
/*
 * cortex_m.h - Cortex-M pieces for the bare-metal port (async_bm.h):
 * SysTick as the tick source, NVIC enable/pend, the FPU switch.  Only
 * architectural registers (the System Control Space every Cortex-M has),
 * so it works on M0/M0+/M3/M4/M7/M33 without a vendor header.  Replace it
 * with CMSIS calls if your project has CMSIS.
 *
 *     void SysTick_Handler(void) { async_bm_tick(&bm); }
 *     ...
 *     async_cm_systick_start(SystemCoreClock / ASYNC_CONF_TICK_HZ);
 */
#ifndef ASYNC_CORTEX_M_H
#define ASYNC_CORTEX_M_H

#include <stdint.h>
#include <stdbool.h>

#define ASYNC_CM_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define ASYNC_CM_SYST_CSR ASYNC_CM_REG(0xE000E010u) /* SysTick control and status */
#define ASYNC_CM_SYST_RVR ASYNC_CM_REG(0xE000E014u) /* reload value (24 bits)     */
#define ASYNC_CM_SYST_CVR ASYNC_CM_REG(0xE000E018u) /* current value              */
#define ASYNC_CM_ICSR ASYNC_CM_REG(0xE000ED04u)     /* interrupt control/state    */
#define ASYNC_CM_SHPR3 ASYNC_CM_REG(0xE000ED20u)    /* PendSV, SysTick priority   */
#define ASYNC_CM_CPACR ASYNC_CM_REG(0xE000ED88u)    /* coprocessor access (FPU)   */
#define ASYNC_CM_NVIC_ISER(n) ASYNC_CM_REG(0xE000E100u + 4u * (n))
#define ASYNC_CM_NVIC_ICER(n) ASYNC_CM_REG(0xE000E180u + 4u * (n))
#define ASYNC_CM_NVIC_ISPR(n) ASYNC_CM_REG(0xE000E200u + 4u * (n))
#define ASYNC_CM_NVIC_ICPR(n) ASYNC_CM_REG(0xE000E280u + 4u * (n))

#define ASYNC_CM_SYST_ENABLE 0x1u
#define ASYNC_CM_SYST_TICKINT 0x2u
#define ASYNC_CM_SYST_CLKCORE 0x4u /* count the processor clock */
#define ASYNC_CM_ICSR_PENDSTSET (1u << 26)
#define ASYNC_CM_ICSR_PENDSTCLR (1u << 25)

/* Interrupt every `cycles` processor clocks (1..2^24).                   */
static inline void async_cm_systick_start(uint32_t cycles)
{
    ASYNC_CM_SYST_CSR = 0;
    ASYNC_CM_SYST_RVR = (cycles - 1u) & 0x00FFFFFFu;
    ASYNC_CM_SYST_CVR = 0; /* any write clears it: the first period is whole */
    ASYNC_CM_SYST_CSR = ASYNC_CM_SYST_ENABLE | ASYNC_CM_SYST_TICKINT | ASYNC_CM_SYST_CLKCORE;
}

static inline void async_cm_systick_stop(void)
{
    ASYNC_CM_SYST_CSR = 0;
    ASYNC_CM_ICSR = ASYNC_CM_ICSR_PENDSTCLR;
}

/* Make the SysTick exception pending now, as if the counter had wrapped. */
static inline void async_cm_systick_pend(void)
{
    ASYNC_CM_ICSR = ASYNC_CM_ICSR_PENDSTSET;
}

/* External interrupt n (0-based, as in the vendor's IRQn).               */
static inline void async_cm_irq_enable(unsigned n)
{
    ASYNC_CM_NVIC_ISER(n >> 5) = 1u << (n & 31u);
}
static inline void async_cm_irq_disable(unsigned n)
{
    ASYNC_CM_NVIC_ICER(n >> 5) = 1u << (n & 31u);
}
static inline void async_cm_irq_pend(unsigned n)
{
    ASYNC_CM_NVIC_ISPR(n >> 5) = 1u << (n & 31u);
}
static inline void async_cm_irq_clear(unsigned n)
{
    ASYNC_CM_NVIC_ICPR(n >> 5) = 1u << (n & 31u);
}

/* Cortex-M4F/M7: allow FPU instructions (CP10, CP11 full access).  Call
 * before any floating-point code runs, i.e. first thing in the reset
 * handler of a hard-float build.                                          */
static inline void async_cm_fpu_enable(void)
{
    ASYNC_CM_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" : : : "memory");
}

#endif /* ASYNC_CORTEX_M_H */
