/* SPDX-License-Identifier: MIT */
/*
 * board_uno.c - Arduino Uno: ATmega328P at 16 MHz, 32 KiB of flash, 2 KiB
 * of RAM.  avr-libc's start-up code and vector table; no Arduino core.
 *
 *   time     Timer0 in CTC mode, one interrupt per 1 ms tick (port/avr.h);
 *            between interrupts the core sleeps in SLEEP_MODE_IDLE
 *   LEDs     LED 0: PB5 (pin 13, the board's "L" LED); LED 1: PB4 (pin 12);
 *            LED 2: PB3 (pin 11)
 *   button   a push button from PD2 (pin 2) to ground: internal pull-up,
 *            INT0 on the falling edge
 *   sensor   Timer1, free-running at 2 MHz (clk/8)
 */
#include "board.h"
#include "avr.h"
#include <avr/interrupt.h>

#define LED_BIT(led) ((led) == 0 ? _BV(PB5) : (led) == 1 ? _BV(PB4) : _BV(PB3))

static async_bm *board_bm;

ISR(ASYNC_AVR_TICK_VECTOR)
{
    async_bm_tick(board_bm);
}

/* INT0: the hardware clears the flag on entry; tell the application. */
ISR(INT0_vect)
{
    app_button_isr();
}

void board_init(async_bm *bm)
{
    cli();
    board_bm = bm;
    async_bm_init(bm);
    DDRB |= LED_BIT(0) | LED_BIT(1) | LED_BIT(2);
    PORTB &= (uint8_t)~(LED_BIT(0) | LED_BIT(1) | LED_BIT(2));

    DDRD &= (uint8_t)~_BV(PD2); /* input, pulled up: pressed is low */
    PORTD |= _BV(PD2);
    EICRA = _BV(ISC01); /* INT0 on the falling edge */
    EIFR = _BV(INTF0);
    EIMSK = _BV(INT0);

    TCCR1A = 0;
    TCCR1B = _BV(CS11);
    (void)async_avr_tick_start(F_CPU / ASYNC_CONF_TICK_HZ); /* in range at 1 kHz */
}

void board_start(void)
{
    sei();
}

void board_led(unsigned led, bool on)
{
    async_bm_irqstate s = async_bm_irq_save(); /* read-modify-write */
    if (on)
        PORTB |= LED_BIT(led);
    else
        PORTB &= (uint8_t)~LED_BIT(led);
    async_bm_irq_restore(s);
}

unsigned board_sample(void)
{
    return TCNT1; /* one read through TEMP: no handler here touches a 16-bit register */
}
