/* SPDX-License-Identifier: MIT */
/*
 * avr.h - AVR pieces for the bare-metal port (async_bm.h): Timer0 as the
 * periodic tick.  megaAVR parts with Timer0's CTC mode and OCR0A
 * (ATmega48/88/168/328, 164/324/644/1284, 640/1280/2560...), avr-libc's
 * register names.
 *
 *     static async_bm bm;
 *     ISR(ASYNC_AVR_TICK_VECTOR) { async_bm_tick(&bm); }
 *     ...
 *     async_bm_init(&bm);
 *     async_avr_tick_start(F_CPU / ASYNC_CONF_TICK_HZ);
 *     sei();
 *
 * The rest of the AVR port lives in async_bm.h: the critical section
 * (SREG saved, CLI, SREG restored) and the sleep (SLEEP_MODE_IDLE, in
 * which Timer0 keeps counting, entered with "sei; sleep; nop; cli").
 * The tick is wider than the 8-bit loads an AVR reads memory with, so
 * async_bm_now() masks interrupts for its read: a tick interrupt in the
 * middle of it would otherwise tear it (0x00FF -> 0x0100 read as 0x01FF).
 */
#ifndef ASYNC_AVR_H
#define ASYNC_AVR_H

#include "async_bm.h"

/* The interrupt async_avr_tick_start() enables: give it to ISR().       */
#define ASYNC_AVR_TICK_VECTOR TIMER0_COMPA_vect

/* Interrupt every `cycles` CPU clocks from Timer0 in CTC mode, with the
 * smallest prescaler (1, 8, 64, 256, 1024) that reaches: exact when
 * `cycles` is a multiple of it (16 MHz / 1 kHz = 64 x 250), otherwise
 * rounded to the nearest.  Returns 0, or ASYNC_ERANGE when `cycles` is 0
 * or beyond 1024 x 256 (Timer0 stays off then).  With a constant
 * argument the choice folds away at compile time.                       */
static inline int async_avr_tick_start(uint32_t cycles)
{
    uint8_t cs;
    uint16_t div;

    if (cycles == 0)
        return ASYNC_ERANGE;
    else if (cycles <= 256u)
        cs = _BV(CS00), div = 1;
    else if (cycles <= 8u * 256u)
        cs = _BV(CS01), div = 8;
    else if (cycles <= 64u * 256u)
        cs = _BV(CS01) | _BV(CS00), div = 64;
    else if (cycles <= 256u * 256u)
        cs = _BV(CS02), div = 256;
    else if (cycles <= 1024ul * 256u)
        cs = _BV(CS02) | _BV(CS00), div = 1024;
    else
        return ASYNC_ERANGE;
    TCCR0B = 0; /* stopped while it is set up */
    TCNT0 = 0;
    OCR0A = (uint8_t)((cycles + div / 2u) / div - 1u);
    TCCR0A = _BV(WGM01); /* CTC: count 0..OCR0A */
    TIFR0 = _BV(OCF0A);  /* no stale match      */
    TIMSK0 |= _BV(OCIE0A);
    TCCR0B = cs;
    return 0;
}

/* Stop the tick and forget a pending one.                               */
static inline void async_avr_tick_stop(void)
{
    TCCR0B = 0;
    TIMSK0 &= (uint8_t)~_BV(OCIE0A);
    TIFR0 = _BV(OCF0A);
}

#endif /* ASYNC_AVR_H */
