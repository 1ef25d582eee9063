/* SPDX-License-Identifier: MIT */
/*
 * board_fe310.c - SiFive FE310-G002 (HiFive1 Rev B), rv32imac, tickless.
 *
 *   time     the CLINT's mtime (32768 Hz, from the always-on RTC clock)
 *            is the loop's clock and mtimecmp its one-shot alarm: there
 *            is no periodic tick; the core sleeps in WFI from one
 *            deadline to the next (build with ASYNC_CONF_TICK_HZ=32768).
 *   LEDs     GPIO 19 (green), 21 (blue) and 22 (red) of the RGB LED,
 *            active low
 *   button   a push button from GPIO 9 to ground: internal pull-up,
 *            falling-edge interrupt, PLIC source 8 + 9
 *   sensor   mcycle, the cycle counter
 */
#include "board.h"
#include "riscv.h"

#define GPIO_BASE 0x10012000u
#define GPIO_REG(off) ASYNC_RV_REG(GPIO_BASE + (off))
#define GPIO_INPUT_EN GPIO_REG(0x04u)
#define GPIO_OUTPUT_EN GPIO_REG(0x08u)
#define GPIO_OUTPUT_VAL GPIO_REG(0x0Cu)
#define GPIO_PUE GPIO_REG(0x10u)
#define GPIO_FALL_IE GPIO_REG(0x20u)
#define GPIO_FALL_IP GPIO_REG(0x24u) /* write 1 to clear */
#define GPIO_IOF_EN GPIO_REG(0x38u)
#define GPIO_OUT_XOR GPIO_REG(0x40u)

#define PLIC_BASE 0x0C000000u
#define PLIC_PRIORITY(src) ASYNC_RV_REG(PLIC_BASE + 4u * (src))
#define PLIC_ENABLE(src) ASYNC_RV_REG(PLIC_BASE + 0x2000u + 4u * ((src) / 32u))
#define PLIC_THRESHOLD ASYNC_RV_REG(PLIC_BASE + 0x200000u)
#define PLIC_CLAIM ASYNC_RV_REG(PLIC_BASE + 0x200004u)

#define LED_PIN(led) ((led) == 0 ? 19u : (led) == 1 ? 21u : 22u)
#define LED_MASK ((1u << 19) | (1u << 21) | (1u << 22))
#define BUTTON_PIN 9u
#define BUTTON_SRC (8u + BUTTON_PIN)

#define MCAUSE_INTERRUPT 0x80000000u
#define MCAUSE_MTIMER 7u
#define MCAUSE_MEXT 11u

void fw_trap(void) __attribute__((interrupt("machine"), aligned(4)));

/* The machine trap vector (mtvec, direct mode). */
void fw_trap(void)
{
    unsigned long cause;
    uint32_t src;

    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    if (!(cause & MCAUSE_INTERRUPT)) {
        for (;;) /* an exception: stop where a debugger shows it */
            __asm__ volatile("ebreak");
    }
    cause &= 0x3FFu;
    if (cause == MCAUSE_MTIMER) {
        async_rv_clint_disarm(); /* the wake-up was the point */
    } else if (cause == MCAUSE_MEXT) {
        while ((src = PLIC_CLAIM) != 0) {
            if (src == BUTTON_SRC) {
                GPIO_FALL_IP = 1u << BUTTON_PIN;
                app_button_isr();
            }
            PLIC_CLAIM = src; /* complete */
        }
    }
}

void board_init(async_bm *bm)
{
    async_bm_irq_save(); /* masked until board_start() */
    async_bm_init(bm);
    bm->clock = async_rv_clint_clock;
    bm->alarm = async_rv_clint_alarm;
    async_rv_clint_disarm();

    GPIO_IOF_EN &= ~(LED_MASK | (1u << BUTTON_PIN));
    GPIO_OUT_XOR |= LED_MASK; /* active low: 1 lights */
    GPIO_OUTPUT_VAL &= ~LED_MASK;
    GPIO_OUTPUT_EN |= LED_MASK;

    GPIO_OUTPUT_EN &= ~(1u << BUTTON_PIN);
    GPIO_PUE |= 1u << BUTTON_PIN;
    GPIO_INPUT_EN |= 1u << BUTTON_PIN;
    GPIO_FALL_IP = 1u << BUTTON_PIN;
    GPIO_FALL_IE |= 1u << BUTTON_PIN;

    PLIC_PRIORITY(BUTTON_SRC) = 1u;
    PLIC_ENABLE(BUTTON_SRC) |= 1u << (BUTTON_SRC % 32u);
    PLIC_THRESHOLD = 0u;
    async_rv_mie_set(ASYNC_RV_MIE_MTIE | ASYNC_RV_MIE_MEIE);
}

void board_start(void)
{
    async_rv_irq_enable();
}

void board_led(unsigned led, bool on)
{
    async_bm_irqstate s = async_bm_irq_save(); /* read-modify-write */
    if (on)
        GPIO_OUTPUT_VAL |= 1u << LED_PIN(led);
    else
        GPIO_OUTPUT_VAL &= ~(1u << LED_PIN(led));
    async_bm_irq_restore(s);
}

unsigned board_sample(void)
{
    unsigned long c;
    __asm__ volatile("csrr %0, mcycle" : "=r"(c));
    return (unsigned)c;
}
