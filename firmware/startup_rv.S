/* SPDX-License-Identifier: MIT */
/*
 * startup_rv.S - reset for a bare-metal RV32 core in machine mode (here the
 * SiFive FE310).  Sets the global and stack pointers, copies .data, zeroes
 * .bss and calls main(); if main returns, the hart sleeps.  The trap
 * handler (mtvec) is the board's C function fw_trap, compiled with
 * __attribute__((interrupt("machine"))).  Symbols: firmware/ld/fe310.ld.
 */
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$   /* before relaxation may use it */
    .option pop
    la      sp, __stack_top
    csrci   mstatus, 8              /* MIE off until the board says so */
    la      t0, fw_trap
    csrw    mtvec, t0               /* direct mode: fw_trap is 4-aligned */

    la      t0, __data_load         /* .data: flash -> RAM */
    la      t1, __data_start
    la      t2, __data_end
1:  bgeu    t1, t2, 2f
    lw      t3, 0(t0)
    sw      t3, 0(t1)
    addi    t0, t0, 4
    addi    t1, t1, 4
    j       1b
2:  la      t1, __bss_start         /* .bss: zero */
    la      t2, __bss_end
3:  bgeu    t1, t2, 4f
    sw      zero, 0(t1)
    addi    t1, t1, 4
    j       3b
4:  call    main
5:  wfi
    j       5b
