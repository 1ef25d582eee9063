/* SPDX-License-Identifier: MIT */
/*
 * semihost.h - the test images' only I/O: text goes to QEMU's stdout and
 * the exit status ends QEMU.
 *   Arm (mps2-an385): semihosting (qemu-system-arm -semihosting-config
 *     enable=on).  Without a debugger or QEMU attached the BKPT would
 *     fault, so firmware never uses this.
 *   RISC-V (virt): the board's 16550 UART at 0x10000000 (-serial stdio)
 *     and its test finisher at 0x100000, which ends QEMU with a status.
 *   AVR (simavr, through test/target/avrsim.c): each byte written to
 *     GPIOR0 is a character of output; the byte written to GPIOR1 ends
 *     the run with that exit status.
 */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stdint.h>

#if defined(__riscv)

#define VIRT_UART_THR (*(volatile uint8_t *)0x10000000u)
#define VIRT_UART_LSR (*(volatile uint8_t *)0x10000005u)
#define VIRT_FINISHER (*(volatile uint32_t *)0x00100000u)

/* Write a NUL-terminated string to the host's console.                  */
static inline void sh_puts(const char *s)
{
    for (; *s; s++) {
        while (!(VIRT_UART_LSR & 0x20u)) /* transmit holding register empty */
            ;
        VIRT_UART_THR = (uint8_t)*s;
    }
}

/* End the program: QEMU exits with status 0 if ok, else 1.              */
static inline __attribute__((noreturn)) void sh_exit(int ok)
{
    VIRT_FINISHER = ok ? 0x5555u : (1u << 16) | 0x3333u; /* pass; fail with code 1 */
    for (;;)
        __asm__ volatile("wfi");
}

#elif defined(__AVR__)

#include <avr/io.h>

/* Write a NUL-terminated string to the host's console.                  */
static inline void sh_puts(const char *s)
{
    for (; *s; s++)
        GPIOR0 = (uint8_t)*s;
}

/* End the program: avrsim exits with status 0 if ok, else 1.            */
static inline __attribute__((noreturn)) void sh_exit(int ok)
{
    GPIOR1 = ok ? 0u : 1u;
    for (;;)
        __asm__ volatile("cli\n\tsleep"); /* never wakes: simavr stops too */
}

#else /* Arm */

#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT 0x18
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026 /* QEMU exits 0 */
#define SH_ADP_STOPPED_RUNTIME_ERROR 0x20023    /* QEMU exits 1 */

static inline int sh_call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Write a NUL-terminated string to the host's console.                  */
static inline void sh_puts(const char *s)
{
    sh_call(SH_SYS_WRITE0, s);
}

/* End the program: QEMU exits with status 0 if ok, else 1.              */
static inline __attribute__((noreturn)) void sh_exit(int ok)
{
    /* On 32-bit Arm the parameter is the reason code itself. */
    sh_call(SH_SYS_EXIT, (const void *)(uintptr_t)(ok ? SH_ADP_STOPPED_APPLICATION_EXIT
                                                         : SH_ADP_STOPPED_RUNTIME_ERROR));
    for (;;)
        __asm__ volatile("wfi");
}

#endif /* Arm */
#endif
