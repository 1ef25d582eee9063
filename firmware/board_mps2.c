/* SPDX-License-Identifier: MIT */
/*
 * board_mps2.c - Arm MPS2 FPGA board: the AN383 image (Cortex-M0+) and the
 * AN386 image (Cortex-M4F) share this memory map; QEMU models AN386 as
 * mps2-an386 and runs the ARMv6-M image on mps2-an385.
 *
 *   time     SysTick every 1 ms of the 25 MHz core clock (a periodic tick)
 *   LEDs     FPGA I/O block, register LED (bits 0 and 1), 0x40028000;
 *            LED 2 is bit 2, beyond the board's two LEDs (harmless)
 *   button   a push button on CMSDK GPIO0 pin 0 (falling edge), IRQ 16
 *   sensor   the FPGA I/O block's free-running COUNTER
 */
#include "board.h"
#include "cortex_m.h"

#define CPU_HZ 25000000u

#define FPGAIO_LED ASYNC_CM_REG(0x40028000u)
#define FPGAIO_COUNTER ASYNC_CM_REG(0x40028018u)

#define GPIO0_BASE 0x40010000u
#define GPIO0_OUTENCLR ASYNC_CM_REG(GPIO0_BASE + 0x014u)
#define GPIO0_INTENSET ASYNC_CM_REG(GPIO0_BASE + 0x020u)
#define GPIO0_INTTYPESET ASYNC_CM_REG(GPIO0_BASE + 0x028u) /* 1: edge       */
#define GPIO0_INTPOLCLR ASYNC_CM_REG(GPIO0_BASE + 0x034u)  /* 0: falling   */
#define GPIO0_INTCLEAR ASYNC_CM_REG(GPIO0_BASE + 0x038u)
#define BUTTON_PIN 0u
#define BUTTON_IRQ (16u + BUTTON_PIN) /* GPIO0 pins have their own IRQs */

static async_bm *board_bm;

void SysTick_Handler(void)
{
    async_bm_tick(board_bm);
}

/* GPIO0 pin 0: acknowledge at the source, then tell the application. */
void irq16_handler(void)
{
    GPIO0_INTCLEAR = 1u << BUTTON_PIN;
    app_button_isr();
}

void board_init(async_bm *bm)
{
    __asm__ volatile("cpsid i" : : : "memory");
    board_bm = bm;
    async_bm_init(bm);
    FPGAIO_LED = 0;

    GPIO0_OUTENCLR = 1u << BUTTON_PIN; /* input */
    GPIO0_INTTYPESET = 1u << BUTTON_PIN;
    GPIO0_INTPOLCLR = 1u << BUTTON_PIN;
    GPIO0_INTCLEAR = 1u << BUTTON_PIN;
    GPIO0_INTENSET = 1u << BUTTON_PIN;
    async_cm_irq_clear(BUTTON_IRQ);
    async_cm_irq_enable(BUTTON_IRQ);

    async_cm_systick_start(CPU_HZ / ASYNC_CONF_TICK_HZ);
}

void board_start(void)
{
    __asm__ volatile("cpsie i" : : : "memory");
}

void board_led(unsigned led, bool on)
{
    async_bm_irqstate s = async_bm_irq_save(); /* read-modify-write */
    if (on)
        FPGAIO_LED |= 1u << led;
    else
        FPGAIO_LED &= ~(1u << led);
    async_bm_irq_restore(s);
}

unsigned board_sample(void)
{
    return FPGAIO_COUNTER;
}
