/* SPDX-License-Identifier: MIT */
/*
 * runner.c - cmocka_shim.h over semihosting: runs a group of tests on the
 * target, prints cmocka-like progress, and exits QEMU with the verdict.
 *
 * Built into every test image (one image per suite and configuration).
 * A failed assertion __builtin_longjmp()s back here: GCC's builtin needs
 * no C library and saves only what the runner needs.  A fault (HardFault
 * and friends) cannot be recovered from; it is reported with the test it
 * happened in and the program exits, so the host sees the tests that did
 * not run as failed.
 */
#include "cmocka_shim.h"
#include "semihost.h"
#include <string.h>

static void *jmp[5];                 /* __builtin_setjmp buffer           */
static const char *volatile current; /* test being run, for fault reports */
static const char *suite_name = "?";
static volatile int in_test;

/* ---- output: one line at a time through SYS_WRITE0 ---- */

static char line[256];
static size_t len;

static void out(const char *s)
{
    while (*s && len < sizeof line - 2)
        line[len++] = *s++;
}

static void out_u(unsigned long long v)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (k && len < sizeof line - 2)
        line[len++] = d[--k];
}

static void out_i(unsigned long long v)
{
    if ((long long)v < 0) {
        out("-");
        v = 0u - v;
    }
    out_u(v);
}

static void out_x(unsigned long long v)
{
    int shift;
    out("0x");
    for (shift = (int)sizeof(uintptr_t) * 8 - 4; shift >= 0; shift -= 4) {
        char c[2] = {"0123456789abcdef"[(v >> shift) & 15u], 0};
        out(c);
    }
}

static void flush(void)
{
    line[len++] = '\n';
    line[len] = '\0';
    sh_puts(line);
    len = 0;
}

/* ---- failures ---- */

static __attribute__((noreturn)) void failed_here(const char *file, int line_no)
{
    out("    at ");
    out(file);
    out(":");
    out_u((unsigned)line_no);
    flush();
    if (in_test)
        __builtin_longjmp(jmp, 1);
    out("[  ERROR   ] assertion outside a test");
    flush();
    sh_exit(0);
}

void cmshim_check(int ok, const char *expr, const char *file, int line_no)
{
    if (ok)
        return;
    out("    assertion failed: ");
    out(expr);
    flush();
    failed_here(file, line_no);
}

/* "    ea == eb: a != b" (or the != form), a and b shown by show().     */
static void compare(unsigned long long a, unsigned long long b, int want_equal,
                    void (*show)(unsigned long long), const char *ea, const char *eb,
                    const char *file, int line_no)
{
    if ((a == b) == (want_equal != 0))
        return;
    out("    ");
    out(ea);
    out(want_equal ? " == " : " != ");
    out(eb);
    out(": ");
    show(a);
    out(want_equal ? " != " : " == ");
    show(b);
    flush();
    failed_here(file, line_no);
}

void cmshim_int(unsigned long long a, unsigned long long b, int want_equal, const char *ea,
                const char *eb, const char *file, int line_no)
{
    compare(a, b, want_equal, out_i, ea, eb, file, line_no);
}

void cmshim_ptr(uintptr_t a, uintptr_t b, int want_equal, const char *ea, const char *eb,
                const char *file, int line_no)
{
    compare(a, b, want_equal, out_x, ea, eb, file, line_no);
}

void cmshim_str(const char *a, const char *b, int want_equal, const char *ea, const char *eb,
                const char *file, int line_no)
{
    int eq = a && b ? strcmp(a, b) == 0 : a == b;
    if (eq == (want_equal != 0))
        return;
    out("    ");
    out(ea);
    out(want_equal ? " == " : " != ");
    out(eb);
    flush();
    out("      \"");
    out(a ? a : "(null)");
    out("\"");
    flush();
    out("      \"");
    out(b ? b : "(null)");
    out("\"");
    flush();
    failed_here(file, line_no);
}

void cmshim_mem(const void *a, const void *b, size_t n, const char *ea, const char *eb,
                const char *file, int line_no)
{
    if (memcmp(a, b, n) == 0)
        return;
    out("    memory differs: ");
    out(ea);
    out(" vs ");
    out(eb);
    flush();
    failed_here(file, line_no);
}

void cmshim_range(unsigned long long v, unsigned long long lo, unsigned long long hi,
                  const char *ev, const char *file, int line_no)
{
    if (v >= lo && v <= hi)
        return;
    out("    ");
    out(ev);
    out(" = ");
    out_u(v);
    out(" not in ");
    out_u(lo);
    out("..");
    out_u(hi);
    flush();
    failed_here(file, line_no);
}

#if !defined(__AVR__)
/* After a fault's registers: name the test it hit and end the image (the
 * tests that did not run count as failed).                            */
static __attribute__((noreturn)) void crashed(void)
{
    out(" in ");
    out(current ? current : "(no test)");
    flush();
    out("SUITE ");
    out(suite_name);
    out(": crashed");
    flush();
    sh_exit(0);
}
#endif

#if defined(__riscv)
/* A suite that takes interrupts (test_irq_rv.c) defines this: called for
 * every interrupt with its cause, true if it was handled.              */
int cmshim_rv_interrupt(unsigned long cause) __attribute__((weak));
int cmshim_rv_interrupt(unsigned long cause)
{
    (void)cause;
    return 0;
}

/* The machine trap vector (startup_rv.S points mtvec here): interrupts
 * go to the suite; anything else is a fault: report it.               */
void fw_trap(void) __attribute__((interrupt("machine"), aligned(4)));
void fw_trap(void)
{
    unsigned long cause, pc, tval;
    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    if ((long)cause < 0 && cmshim_rv_interrupt(cause & 0x3FFul))
        return;
    __asm__ volatile("csrr %0, mepc" : "=r"(pc));
    __asm__ volatile("csrr %0, mtval" : "=r"(tval));
    out("[  FAULT   ] mcause ");
    out_x(cause);
    out(" mepc=");
    out_x(pc);
    out(" mtval=");
    out_x(tval);
    crashed();
}
#elif defined(__AVR__)
/* No fault to catch: an AVR executes whatever its PC reaches.  simavr
 * stops on an invalid opcode or a jump outside the image, and avrsim
 * reports it; the tests that did not pass then count as failed.       */
#else
/* Called by the fault handlers below with the exception frame. */
void cmshim_fault(const uint32_t *frame, uint32_t exc);
void cmshim_fault(const uint32_t *frame, uint32_t exc)
{
    out("[  FAULT   ] exception ");
    out_u(exc);
    out(" pc=");
    out_x(frame[6]);
    out(" lr=");
    out_x(frame[5]);
    crashed();
}

/* Fault entry: pass the stacked frame (main stack: no RTOS here) and
 * the exception number to cmshim_fault.  ARMv6-M code too (the m0plus
 * configuration): no far B, so jump through a register.               */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile("mrs r0, msp\n\t"
                     "mrs r1, ipsr\n\t"
                     "ldr r2, =cmshim_fault\n\t"
                     "bx r2\n\t"
                     ".ltorg\n");
}
void MemManage_Handler(void) __attribute__((alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((alias("HardFault_Handler")));
#endif

/* ---- the group ---- */

/* Runs f(state) and reports whether it returned without a failed
 * assertion.  Kept out of line: __builtin_setjmp's frame is this one.  */
static __attribute__((noinline)) int guarded_test(CMUnitTestFunction f, void **state)
{
    if (__builtin_setjmp(jmp)) {
        in_test = 0;
        return 0;
    }
    in_test = 1;
    f(state);
    in_test = 0;
    return 1;
}

static __attribute__((noinline)) int guarded_fixture(CMFixtureFunction f, void **state)
{
    int rc;
    if (__builtin_setjmp(jmp)) {
        in_test = 0;
        return 0;
    }
    in_test = 1;
    rc = f(state);
    in_test = 0;
    return rc == 0;
}

int cmshim_run_group(const char *suite, const struct CMUnitTest *tests, size_t n,
                     CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    unsigned passed = 0, failed = 0;
    void *group_state = NULL;
    size_t i;

    suite_name = suite;
    out("[==========] ");
    out(suite);
    out(": Running ");
    out_u(n);
    out(" test(s).");
    flush();
    if (group_setup && !guarded_fixture(group_setup, &group_state)) {
        out("[  ERROR   ] group setup failed");
        flush();
        failed = (unsigned)n;
        n = 0;
    }
    for (i = 0; i < n; i++) {
        const struct CMUnitTest *t = &tests[i];
        void *state = t->initial_state ? t->initial_state : group_state;
        int ok;

        current = t->name;
        out("[ RUN      ] ");
        out(t->name);
        flush();
        ok = !t->setup_func || guarded_fixture(t->setup_func, &state);
        if (ok) {
            ok = guarded_test(t->test_func, &state);
            if (t->teardown_func && !guarded_fixture(t->teardown_func, &state))
                ok = 0;
        }
        out(ok ? "[       OK ] " : "[  FAILED  ] ");
        out(t->name);
        flush();
        if (ok)
            passed++;
        else
            failed++;
    }
    current = NULL;
    if (group_teardown && !guarded_fixture(group_teardown, &group_state)) {
        out("[  ERROR   ] group teardown failed");
        flush();
        failed++;
    }
    out("[==========] ");
    out(suite);
    out(": ");
    out_u(passed + failed);
    out(" test(s) run.");
    flush();
    out("SUITE ");
    out(suite);
    out(": ");
    out_u(passed);
    out(" passed, ");
    out_u(failed);
    out(" failed");
    flush();
    sh_exit(failed == 0);
}
