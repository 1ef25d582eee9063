/* SPDX-License-Identifier: MIT */
/*
 * startup_cm.c - reset and vector table for any Cortex-M (ARMv6-M, v7-M,
 * v7E-M), no CMSIS, no libc.
 *
 * Reset_Handler enables the FPU on hard-float builds, copies .data from
 * flash, zeroes .bss and calls main(); if main returns, the core sleeps.
 * Every handler is a weak alias of Default_Handler: define one with the
 * same name to take it (SysTick_Handler, irq6_handler...).  External
 * interrupts are named irqN_handler after their NVIC number.
 * The linker script provides the symbols below (firmware/ld/cortex_m.ld).
 */
#include <stdint.h>

#define FW_IRQS 32 /* external interrupts in the table (ARMv6-M has at most 32) */

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void Reset_Handler(void);
void Default_Handler(void);

#define WEAK_ALIAS __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_ALIAS;
void HardFault_Handler(void) WEAK_ALIAS;
void MemManage_Handler(void) WEAK_ALIAS;
void BusFault_Handler(void) WEAK_ALIAS;
void UsageFault_Handler(void) WEAK_ALIAS;
void SVC_Handler(void) WEAK_ALIAS;
void DebugMon_Handler(void) WEAK_ALIAS;
void PendSV_Handler(void) WEAK_ALIAS;
void SysTick_Handler(void) WEAK_ALIAS;
void irq0_handler(void) WEAK_ALIAS;
void irq1_handler(void) WEAK_ALIAS;
void irq2_handler(void) WEAK_ALIAS;
void irq3_handler(void) WEAK_ALIAS;
void irq4_handler(void) WEAK_ALIAS;
void irq5_handler(void) WEAK_ALIAS;
void irq6_handler(void) WEAK_ALIAS;
void irq7_handler(void) WEAK_ALIAS;
void irq8_handler(void) WEAK_ALIAS;
void irq9_handler(void) WEAK_ALIAS;
void irq10_handler(void) WEAK_ALIAS;
void irq11_handler(void) WEAK_ALIAS;
void irq12_handler(void) WEAK_ALIAS;
void irq13_handler(void) WEAK_ALIAS;
void irq14_handler(void) WEAK_ALIAS;
void irq15_handler(void) WEAK_ALIAS;
void irq16_handler(void) WEAK_ALIAS;
void irq17_handler(void) WEAK_ALIAS;
void irq18_handler(void) WEAK_ALIAS;
void irq19_handler(void) WEAK_ALIAS;
void irq20_handler(void) WEAK_ALIAS;
void irq21_handler(void) WEAK_ALIAS;
void irq22_handler(void) WEAK_ALIAS;
void irq23_handler(void) WEAK_ALIAS;
void irq24_handler(void) WEAK_ALIAS;
void irq25_handler(void) WEAK_ALIAS;
void irq26_handler(void) WEAK_ALIAS;
void irq27_handler(void) WEAK_ALIAS;
void irq28_handler(void) WEAK_ALIAS;
void irq29_handler(void) WEAK_ALIAS;
void irq30_handler(void) WEAK_ALIAS;
void irq31_handler(void) WEAK_ALIAS;

typedef void (*handler)(void);

/* The table: initial stack pointer, then the handlers (a struct, so the
 * first entry can stay a data pointer).                                 */
struct vectors {
    uint32_t *stack;
    handler core[15];
    handler irq[FW_IRQS];
};

__attribute__((section(".vectors"), used)) const struct vectors fw_vectors = {
    __stack_top,
    {Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler, BusFault_Handler,
     UsageFault_Handler, 0, 0, 0, 0, SVC_Handler, DebugMon_Handler, 0, PendSV_Handler,
     SysTick_Handler},
    {irq0_handler,  irq1_handler,  irq2_handler,  irq3_handler,  irq4_handler,  irq5_handler,
     irq6_handler,  irq7_handler,  irq8_handler,  irq9_handler,  irq10_handler, irq11_handler,
     irq12_handler, irq13_handler, irq14_handler, irq15_handler, irq16_handler, irq17_handler,
     irq18_handler, irq19_handler, irq20_handler, irq21_handler, irq22_handler, irq23_handler,
     irq24_handler, irq25_handler, irq26_handler, irq27_handler, irq28_handler, irq29_handler,
     irq30_handler, irq31_handler},
};

void Reset_Handler(void)
{
    uint32_t *src = __data_load, *dst = __data_start;

#if defined(__ARM_FP) && !defined(__SOFTFP__)
    /* Hard-float: CP10/CP11 full access before the first FP instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" : : : "memory");
#endif
    /* Word loops written out: a memcpy/memset call would need a libc. */
    while (dst < __data_end)
        *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;)
        *dst++ = 0;
    main();
    for (;;)
        __asm__ volatile("wfi");
}

/* An unexpected exception: stop here, where a debugger shows it.        */
void Default_Handler(void)
{
    for (;;)
        __asm__ volatile("bkpt 0");
}
