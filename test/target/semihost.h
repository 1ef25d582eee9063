/*
 * semihost.h - Arm semihosting, the test images' only I/O: text goes to
 * QEMU's stdout (qemu-system-arm -semihosting-config enable=on) and the
 * exit status ends QEMU.  Without a debugger or QEMU attached the BKPT
 * would fault, so firmware never uses this.
 */
#ifndef SEMIHOST_H
#define SEMIHOST_H

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

#endif
