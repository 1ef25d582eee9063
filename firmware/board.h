/* SPDX-License-Identifier: MIT */
/*
 * board.h - what the example application (app.c) needs from a board.
 * One implementation per board: board_mps2.c (Arm MPS2: Cortex-M0+ and
 * Cortex-M4 images), board_fe310.c (SiFive FE310, rv32imac), board_uno.c
 * (Arduino Uno, ATmega328P).
 */
#ifndef FW_BOARD_H
#define FW_BOARD_H

#include "async_bm.h"

/* Set up the LEDs, the button interrupt and the time source, and fill in
 * the port (async_bm_init plus, on tickless boards, the clock and alarm
 * hooks).  Interrupts stay masked until board_start(), so no handler
 * runs before the loop and what it posts to are initialised.          */
void board_init(async_bm *bm);
void board_start(void);

/* LEDs 0, 1 and 2 (app.c uses 0 and 1; ref.c all three). */
void board_led(unsigned led, bool on);

/* A reading from the board's "sensor" (here: a free-running counter, the
 * stand-in for an ADC); the producer task samples it.                  */
unsigned board_sample(void);

/* Implemented by the application, called from the board's button
 * interrupt handler once the interrupt is acknowledged.                 */
void app_button_isr(void);

#endif
