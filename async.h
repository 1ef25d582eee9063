/*
 * async.h - stackless coroutines, tasks and an event loop for C.
 * Version 0.2.0 (ASYNC_VERSION below).
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the async.h authors
 *
 * Permission is hereby granted, free of charge, to any person obtaining a
 * copy of this software and associated documentation files (the
 * "Software"), to deal in the Software without restriction, including
 * without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to
 * permit persons to whom the Software is furnished to do so, subject to
 * the following conditions: the above copyright notice and this
 * permission notice shall be included in all copies or substantial
 * portions of the Software.  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT
 * WARRANTY OF ANY KIND, EXPRESS OR IMPLIED (the full text is in LICENSE).
 *
 * One header, zero allocation, C99, freestanding.  In exactly one
 * translation unit write
 *
 *     #define ASYNC_IMPLEMENTATION
 *     #include "async.h"
 *
 * everywhere else include it plainly.  See README.md for a tour; this file
 * holds the contracts.
 *
 * Layout of this file
 *   1. configuration (ASYNC_CONF_*)       5. objects: tasks, loop, primitives
 *   2. ticks and time                     6. coroutine macros
 *   3. error codes                        7. API
 *   4. local continuations                8. implementation
 *
 * Rules for coroutine bodies (the price of stacklessness)
 *   - Locals do not survive an await.  Anything needed after an await lives
 *     in the frame struct the caller owns.
 *   - Switch backend (the default): no await inside a `switch` statement of
 *     your own, and no `case`/`default` labels of your own at the top level
 *     of the body.  The labels backend lifts this rule.
 *   - Do not `return` from a coroutine body directly: use async_return() or
 *     fall off the end into async_end, so cleanup and timeout scopes close.
 *   - A frame must be zero-initialised before its coroutine first runs
 *     (static storage, `= {0}` or memset) and must not move while in use.
 */
#ifndef ASYNC_H
#define ASYNC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this header: the one place it is written.  The build derives
 * the pkg-config and CMake versions and the shared library's file name
 * from these three lines.                                                */
#define ASYNC_VERSION_MAJOR 0
#define ASYNC_VERSION_MINOR 2
#define ASYNC_VERSION_PATCH 0
#define ASYNC__STR2(x) #x
#define ASYNC__STR(x) ASYNC__STR2(x)
#define ASYNC_VERSION_STRING                                             \
    ASYNC__STR(ASYNC_VERSION_MAJOR) "." ASYNC__STR(ASYNC_VERSION_MINOR) "." \
        ASYNC__STR(ASYNC_VERSION_PATCH)
/* One number for comparisons: 0.2.0 is 200.                              */
#define ASYNC_VERSION \
    (ASYNC_VERSION_MAJOR * 10000 + ASYNC_VERSION_MINOR * 100 + ASYNC_VERSION_PATCH)

/* ======================================================================
 * 1. Configuration.  Define any of these before including async.h, with
 *    the same values in every translation unit of a program.
 * ====================================================================== */

/* Local-continuation backend.
 *   ASYNC_LC_SWITCH  portable: each resume point is a `case` of one switch.
 *   ASYNC_LC_LABELS  GCC/Clang labels-as-values: resume points are label
 *                    offsets; awaits may sit inside your own switch.     */
#define ASYNC_LC_SWITCH 1
#define ASYNC_LC_LABELS 2
#ifndef ASYNC_CONF_LC
#define ASYNC_CONF_LC ASYNC_LC_SWITCH
#endif

/* Width of a tick in bits: 16, 32 or 64.  Deadlines are compared
 * wrap-safely, so the longest representable delay is 2^(bits-1)-1 ticks:
 * 32767 (16), 2147483647 (32: 24.8 days at 1 kHz), 2^63-1 (64).          */
#ifndef ASYNC_CONF_TICK_BITS
#define ASYNC_CONF_TICK_BITS 32
#endif

/* Ticks per second, used only by ASYNC_MS()/ASYNC_SEC()/ASYNC_US().        */
#ifndef ASYNC_CONF_TICK_HZ
#define ASYNC_CONF_TICK_HZ 1000
#endif

/* Timer store.  LEVELS = 0: one list sorted by expiry, the classic RTOS
 * delay list: least code and RAM, O(1) expiry, insertion O(timers armed
 * later than the new one) - faster than the wheel up to about a hundred
 * armed timers, much slower with thousands (make bench BENCH_ONLY=store).
 * LEVELS >= 1: a hierarchical wheel of 2^BITS slots per level, O(1)
 * whatever the count - right for a server with thousands of timeouts.
 * Wheel RAM in the loop: LEVELS * 2^BITS * 2 pointers.  Timers beyond
 * 2^(BITS*LEVELS) ticks are parked in the top level and re-filed once per
 * wheel turn (still exact).  Defaults: the sorted list on 32-bit targets
 * without an operating system (microcontrollers); elsewhere a wheel,
 * 6 x 4 (4 KiB, span 2^24) with 64-bit pointers, 3 x 4 with 32-bit.     */
#if UINTPTR_MAX <= 0xFFFFFFFFu && !defined(__unix__) && !defined(__APPLE__) && !defined(_WIN32)
#define ASYNC__BARE_32 1
#else
#define ASYNC__BARE_32 0
#endif
#ifndef ASYNC_CONF_WHEEL_BITS
#if UINTPTR_MAX <= 0xFFFFFFFFu
#define ASYNC_CONF_WHEEL_BITS 3
#else
#define ASYNC_CONF_WHEEL_BITS 6
#endif
#endif
#ifndef ASYNC_CONF_WHEEL_LEVELS
#if ASYNC__BARE_32
#define ASYNC_CONF_WHEEL_LEVELS 0
#elif ASYNC_CONF_TICK_BITS == 16 && ASYNC_CONF_WHEEL_BITS == 6 /* 3 x 6 bits span 16 */
#define ASYNC_CONF_WHEEL_LEVELS 3
#else
#define ASYNC_CONF_WHEEL_LEVELS 4
#endif
#endif

/* Debug mode (asyncio's debug mode): task names, each task's last
 * suspension point (file, line and the text of the awaited expression), a
 * list of all live tasks (async_dump), warnings for steps that block the
 * loop longer than ASYNC_CONF_SLOW_STEP ticks, a report of tasks still
 * pending at async_loop_close, and misuse traps.  Costs three pointers,
 * an int and a flag per task (and the task list's two pointers, which it
 * needs) and two clock reads per step; 0 costs nothing.                  */
#ifndef ASYNC_CONF_DEBUG
#define ASYNC_CONF_DEBUG 0
#endif
#ifndef ASYNC_CONF_SLOW_STEP
#define ASYNC_CONF_SLOW_STEP ((ASYNC_CONF_TICK_HZ + 9) / 10) /* 100 ms */
#endif

/* Called on misuse (spawning a running task, releasing a lock one does not
 * own...) in addition to the error code being returned.  Receives the loop
 * (may be NULL), the code, and the file and line that detected it.  The
 * default does nothing in release builds and traps in debug builds.      */
#ifndef ASYNC_CONF_ON_MISUSE
#if ASYNC_CONF_DEBUG
#define ASYNC_CONF_ON_MISUSE(L, code, file, line) async_debug_misuse((L), (code), (file), (line))
#else
#define ASYNC_CONF_ON_MISUSE(L, code, file, line) ((void)0)
#endif
#endif

/* Argument checks.  1: no public function crashes on a NULL pointer
 * where its contract does not give NULL a meaning: a call returning int
 * returns ASYNC_EINVAL, one returning nothing does nothing, a predicate
 * is false, a count 0, an accessor NULL or "" - and the misuse hook
 * runs.  A refused call changes nothing.  0: pointers must be valid (a
 * NULL one is undefined behaviour), and those checks compile to nothing.
 * Checks of state and values (a running task spawned again, a queue of
 * capacity 0, an op outside any task) do not depend on this setting.
 * Default: 1, except on targets of 32 bits or fewer without an
 * operating system (microcontrollers: the Cortex-M0+ core must fit in
 * 4 KiB); debug mode turns it on, so that a debug build traps on a NULL
 * there too.  make check holds every public function to it
 * (tools/nullargs generates the suite from these declarations).        */
#ifndef ASYNC_CONF_CHECKS
#define ASYNC_CONF_CHECKS (ASYNC_CONF_DEBUG || !ASYNC__BARE_32)
#endif

/* Atomics for async_post() from interrupts and other threads.  1: GCC/Clang
 * __atomic builtins (needs lock-free pointer CAS); 0: the port's lock/unlock
 * hooks form a critical section.  Default: 1 when the target has lock-free
 * pointer atomics (not ARMv6-M, for instance).                           */
#ifndef ASYNC_CONF_ATOMICS
#if defined(__GNUC__) && defined(__GCC_ATOMIC_POINTER_LOCK_FREE) && \
    __GCC_ATOMIC_POINTER_LOCK_FREE == 2 && __GCC_ATOMIC_INT_LOCK_FREE == 2
#define ASYNC_CONF_ATOMICS 1
#else
#define ASYNC_CONF_ATOMICS 0
#endif
#endif

/* Error messages compiled in (async_strerror).  0 saves ~730 bytes of
 * flash: every code then reads "error".                                   */
#ifndef ASYNC_CONF_ERROR_STRINGS
#define ASYNC_CONF_ERROR_STRINGS 1
#endif

/* Harvard targets (AVR, with avr-gcc): async_strerror()'s texts stay in
 * flash, where constant data would otherwise be copied into RAM at
 * start-up; the pointer it returns is then a program-memory address
 * (avr-libc's PGM_P): print it with printf_P("%S", ...) or copy it with
 * strcpy_P().  Elsewhere (clang has no progmem) an ordinary pointer.    */
#if defined(__AVR__) && defined(__GNUC__) && !defined(__clang__)
#define ASYNC__STRERROR_IN_FLASH 1
#define ASYNC__FLASH __attribute__((__progmem__))
#else
#define ASYNC__STRERROR_IN_FLASH 0
#define ASYNC__FLASH
#endif

/* The loop's list of live tasks, two pointers per task header.  With it,
 * async_run cancels the tasks still pending when its main task finishes
 * and waits for their cleanup (asyncio.run), and async_loop_cancel_all()
 * reaches every task.  Without it a task header is two words smaller and
 * async_run leaves pending tasks as they are (async_run_until_complete).
 * Default: on, except on 32-bit targets without an operating system
 * (microcontrollers, whose main loop runs forever); debug mode needs it. */
#ifndef ASYNC_CONF_TASK_LIST
#if ASYNC_CONF_DEBUG || !ASYNC__BARE_32
#define ASYNC_CONF_TASK_LIST 1
#else
#define ASYNC_CONF_TASK_LIST 0
#endif
#endif

/* The extras beyond the core set: shields (async_shield_begin),
 * barriers, LIFO and priority queues, queue join/task_done, callbacks
 * run by the loop (call_soon, call_later, call_at, task done callbacks)
 * and async_with_lock.  About 1.3 KiB of code on a Cortex-M0+ (a
 * firmware links only what it calls, but the scheduler's and the
 * queue's shared paths grow a little): without them the whole core
 * stays within its 4 KiB budget.  Default: on, except on 32-bit targets
 * without an operating system.                                          */
#ifndef ASYNC_CONF_EXTRAS
#define ASYNC_CONF_EXTRAS (!ASYNC__BARE_32)
#endif

/* ---- configuration checks ---- */
#if ASYNC_CONF_LC != ASYNC_LC_SWITCH && ASYNC_CONF_LC != ASYNC_LC_LABELS
#error "ASYNC_CONF_LC must be ASYNC_LC_SWITCH or ASYNC_LC_LABELS"
#endif
#if ASYNC_CONF_LC == ASYNC_LC_LABELS && !defined(__GNUC__)
#error "ASYNC_LC_LABELS needs GCC or Clang (labels as values)"
#endif
#if ASYNC_CONF_TICK_BITS != 16 && ASYNC_CONF_TICK_BITS != 32 && ASYNC_CONF_TICK_BITS != 64
#error "ASYNC_CONF_TICK_BITS must be 16, 32 or 64"
#endif
#if ASYNC_CONF_TICK_HZ < 1
#error "ASYNC_CONF_TICK_HZ must be positive"
#endif
#if ASYNC_CONF_WHEEL_BITS < 1 || ASYNC_CONF_WHEEL_BITS > 6
#error "ASYNC_CONF_WHEEL_BITS must be 1..6"
#endif
#if ASYNC_CONF_WHEEL_LEVELS < 0 || ASYNC_CONF_WHEEL_LEVELS > 12
#error "ASYNC_CONF_WHEEL_LEVELS must be 0 (sorted list) .. 12"
#endif
#if ASYNC_CONF_DEBUG && !ASYNC_CONF_TASK_LIST
#error "ASYNC_CONF_DEBUG needs ASYNC_CONF_TASK_LIST"
#endif
#if ASYNC_CONF_ATOMICS && !defined(__GNUC__)
#error "ASYNC_CONF_ATOMICS=1 needs GCC/Clang __atomic builtins"
#endif
#if ASYNC_CONF_CHECKS != 0 && ASYNC_CONF_CHECKS != 1
#error "ASYNC_CONF_CHECKS must be 0 or 1"
#endif
#if ASYNC_CONF_WHEEL_LEVELS && \
    ASYNC_CONF_WHEEL_BITS * (ASYNC_CONF_WHEEL_LEVELS - 1) >= ASYNC_CONF_TICK_BITS
#error "timer wheel has levels beyond the tick width: lower ASYNC_CONF_WHEEL_LEVELS"
#endif

/* Argument checks (ASYNC_CONF_CHECKS), in the first lines of public
 * functions only.  ASYNC__NULL(p): p is a NULL the call must refuse;
 * constant false without the checks, so that the test and the refusal
 * compile to nothing.  The refusal runs the misuse hook (L may be NULL),
 * then: ASYNC__REFUSED(L, v) is v, ASYNC__EINVAL(L) is ASYNC_EINVAL,
 * ASYNC__REFUSE(L) is a statement (for calls returning nothing).  Only
 * for parameters: the address of a member is never NULL.               */
#if ASYNC_CONF_CHECKS
#define ASYNC__NULL(p) ((p) == NULL)
#else
#define ASYNC__NULL(p) ((void)(p), 0) /* p is used: no unused-parameter warning */
#endif
#define ASYNC__REFUSED(L, v) (ASYNC_CONF_ON_MISUSE((L), ASYNC_EINVAL, __FILE__, __LINE__), (v))
#define ASYNC__EINVAL(L) ASYNC__REFUSED((L), ASYNC_EINVAL)
#define ASYNC__REFUSE(L) ((void)ASYNC__REFUSED((L), 0))

/* ======================================================================
 * 2. Ticks and time
 * ====================================================================== */

#if ASYNC_CONF_TICK_BITS == 16
typedef uint16_t async_tick;
typedef int16_t async_stick;
#define ASYNC_TICK_MAX_DELAY ((async_tick)0x7FFF)
#elif ASYNC_CONF_TICK_BITS == 32
typedef uint32_t async_tick;
typedef int32_t async_stick;
#define ASYNC_TICK_MAX_DELAY ((async_tick)0x7FFFFFFFu)
#else
typedef uint64_t async_tick;
typedef int64_t async_stick;
#define ASYNC_TICK_MAX_DELAY ((async_tick)0x7FFFFFFFFFFFFFFFull)
#endif

/* Wrap-safe comparisons: valid while the two ticks are less than
 * 2^(bits-1) apart.                                                       */
#define async_tick_before(a, b) ((async_stick)((async_tick)(a) - (async_tick)(b)) < 0)
#define async_tick_after(a, b) async_tick_before((b), (a))

/* Durations, rounded up so a sleep never ends early.                     */
#define ASYNC_SEC(s) ((async_tick)((unsigned long long)(s) * ASYNC_CONF_TICK_HZ))
#define ASYNC_MS(ms) \
    ((async_tick)(((unsigned long long)(ms) * ASYNC_CONF_TICK_HZ + 999u) / 1000u))
#define ASYNC_US(us) \
    ((async_tick)(((unsigned long long)(us) * ASYNC_CONF_TICK_HZ + 999999u) / 1000000u))

/* ======================================================================
 * 3. Error codes.  Every fallible call returns 0 (or a non-negative value)
 *    on success and one of these on failure.  Codes at or below
 *    ASYNC_EOS_BASE carry an operating-system errno: ASYNC_EOS(errno).
 *    -1..-31: the core; -32..-63: the runtime (src/: streams, TLS -42 and
 *    -43, HTTP from -44, the ABI guard -47).                              
 * ====================================================================== */

#define ASYNC_ERRORS(X)                                                       \
    X(ASYNC_ECANCELED, -1, "task cancelled")                                  \
    X(ASYNC_ETIMEDOUT, -2, "deadline expired")                                \
    X(ASYNC_ECLOSED, -3, "closed")                                            \
    X(ASYNC_EBUSY, -4, "already in use (running task, second waiter)")        \
    X(ASYNC_EINVAL, -5, "invalid argument")                                   \
    X(ASYNC_EAGAIN, -6, "would block")                                        \
    X(ASYNC_ENOSPC, -7, "capacity exhausted")                                 \
    X(ASYNC_ERANGE, -8, "value out of range")                                 \
    X(ASYNC_EPERM, -9, "not permitted (not owner, or not in a task)")         \
    X(ASYNC_EDEADLK, -10, "deadlock: nothing can ever run")                   \
    X(ASYNC_EDONE, -11, "task already finished")                              \
    X(ASYNC_EALREADY, -12, "already done")                                    \
    X(ASYNC_EBADRESUME, -13, "unknown resume point in coroutine frame")       \
    X(ASYNC_ESTATE, -14, "coroutine suspended with nothing to wake it")       \
    X(ASYNC_EOVERFLOW, -15, "count overflow")                                 \
    X(ASYNC_ENOENT, -16, "nothing to wait for")                               \
    X(ASYNC_EBROKEN, -17, "barrier broken (aborted or reset)")               \
    X(ASYNC_EOF, -32, "end of stream")                                        \
    X(ASYNC_ECONNRESET, -33, "connection reset by peer")                      \
    X(ASYNC_ECONNREFUSED, -34, "connection refused")                          \
    X(ASYNC_ETOOLONG, -35, "line or message too long")                        \
    X(ASYNC_EHOSTUNREACH, -36, "host unreachable")                            \
    X(ASYNC_ENAME, -37, "name resolution failed")                             \
    X(ASYNC_EPIPE, -38, "broken pipe (peer closed)")                          \
    X(ASYNC_EADDRINUSE, -39, "address in use")                                \
    X(ASYNC_EPROTO, -40, "protocol error (malformed input)")                  \
    X(ASYNC_EMFILE, -41, "too many open files")                               \
    X(ASYNC_ETLS, -42, "TLS handshake or protocol error")                     \
    X(ASYNC_ECERT, -43, "certificate verification failed")                    \
    X(ASYNC_EABI, -47, "program and libasync built with different ASYNC_CONF_*")

enum async_error {
#define ASYNC__ERR_ENUM(name, value, text) name = (value),
    ASYNC_ERRORS(ASYNC__ERR_ENUM)
#undef ASYNC__ERR_ENUM
    ASYNC_EOS_BASE = -256
};
#define ASYNC_EOS(err) (ASYNC_EOS_BASE - (err))

/* Codes for applications: ASYNC_EAPP(0) .. ASYNC_EAPP(127), that is -128
 * down to -255.  The library never returns them and async_strerror()
 * reads "application error".  The library's own codes are -1 .. -127
 * (so a C-style `return -1` reads as ASYNC_ECANCELED: use these).       */
#define ASYNC_EAPP_BASE (-128)
#define ASYNC_EAPP(n) (ASYNC_EAPP_BASE - (int)(n))

/* Returned by an awaitable that suspended.  Never a result.              */
#define ASYNC_PENDING INT_MIN

/* ======================================================================
 * 4. Local continuations (private: use the macros of section 6).
 * ====================================================================== */

/* Size-first builds (-Os, -Oz): the coroutine macros share one copy of
 * each await's bookkeeping per coroutine, and a few core helpers the
 * compiler would copy into each caller are kept out of line (ASYNC__OUTLINE:
 * each one measured on the Cortex-M0+ core and reference apps).  Other builds leave it to the compiler: an await
 * stays inline, a yield an inline enqueue.  The choice is per
 * translation unit and changes no data layout: the two forms call the
 * same helpers and may be mixed in one program.                        */
#if defined(__OPTIMIZE_SIZE__)
#define ASYNC__SMALL 1
#else
#define ASYNC__SMALL 0
#endif

/* Misuse found in a coroutine's body (an unknown resume point, a result
 * of ASYNC_PENDING): the hook hears of it with the coroutine's file and
 * line in debug builds only, so release builds carry no file name string
 * into every file that has a coroutine (on an AVR it would sit in RAM). */
#if ASYNC_CONF_DEBUG
#define ASYNC__CO_MISUSE(code) (ASYNC_CONF_ON_MISUSE(async__L, (code), __FILE__, __LINE__), (code))
#else
#define ASYNC__CO_MISUSE(code) (ASYNC_CONF_ON_MISUSE(async__L, (code), NULL, 0), (code))
#endif

#define ASYNC__CAT2(a, b) a##b
#define ASYNC__CAT(a, b) ASYNC__CAT2(a, b)
#ifdef __COUNTER__
#define ASYNC__UNIQUE() __COUNTER__
#else
#define ASYNC__UNIQUE() __LINE__
#endif

/* A backend provides: the type async_lc (0: at the start); the resume
 * point of the cleanup section, ASYNC__LC_FINALLY; ASYNC__LC_ORIGIN (a
 * declaration in async_begin); for a resume point n, ASYNC__LC_SET_N(n)
 * (store it: a statement), ASYNC__LC_TO_R_N(n) (put it in async__r: a
 * statement) and ASYNC__LC_LABEL_N(n) (where it resumes); and
 * ASYNC__LC_RESUME_UNKNOWN(), what the dispatch does with any other
 * value.                                                                */
#if ASYNC_CONF_LC == ASYNC_LC_SWITCH
typedef uint16_t async_lc;
#define ASYNC__LC_FINALLY ((async_lc)0xFFFFu)
#ifdef __COUNTER__
/* Dense numbering: the first resume point of each coroutine is 1, so the
 * dispatch is a table of one or two bytes per resume point.            */
#define ASYNC__LC_ORIGIN enum { async__origin = __COUNTER__ };
#define ASYNC__LC_ID(n) ((async_lc)((n) - async__origin))
#else
#define ASYNC__LC_ORIGIN
#define ASYNC__LC_ID(n) ((async_lc)(n))
#endif
#define ASYNC__LC_SET_N(n) async__co->lc = ASYNC__LC_ID(n);
#define ASYNC__LC_TO_R_N(n) async__r = (int)ASYNC__LC_ID(n);
#define ASYNC__LC_LABEL_N(n) \
    if (0) {                 \
    case ASYNC__LC_ID(n):;   \
    }
/* An unknown resume point traps: ASYNC_EBADRESUME.                      */
#define ASYNC__LC_RESUME_UNKNOWN() return ASYNC__CO_MISUSE(ASYNC_EBADRESUME)
#else /* ASYNC_LC_LABELS */
typedef int32_t async_lc;
#define ASYNC__LC_FINALLY ((async_lc)INT32_MIN)
#define ASYNC__LC_ORIGIN
#define ASYNC__NOPEDANTIC_BEGIN \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpedantic\"")
#define ASYNC__NOPEDANTIC_END _Pragma("GCC diagnostic pop")
/* Resume points are stored as label offsets from the dispatch label: an
 * integer, so frames hold no code pointers and GCC's dangling-pointer
 * analysis stays quiet.                                                 */
#define ASYNC__LC_OFFSET_N(n) \
    ((async_lc)((char *)&&ASYNC__CAT(async__resume_, n) - (char *)&&async__dispatch))
#define ASYNC__LC_SET_N(n)                      \
    ASYNC__NOPEDANTIC_BEGIN                     \
    async__co->lc = ASYNC__LC_OFFSET_N(n);      \
    ASYNC__NOPEDANTIC_END
#define ASYNC__LC_TO_R_N(n)                     \
    ASYNC__NOPEDANTIC_BEGIN                     \
    async__r = (int)ASYNC__LC_OFFSET_N(n);      \
    ASYNC__NOPEDANTIC_END
#define ASYNC__LC_LABEL_N(n) ASYNC__CAT(async__resume_, n) :;
#define ASYNC__LC_RESUME_UNKNOWN()                                      \
    ASYNC__NOPEDANTIC_BEGIN                                             \
    goto *(void *)((char *)&&async__dispatch + async__co->lc);          \
    ASYNC__NOPEDANTIC_END
#endif

/* ======================================================================
 * 5. Objects.  All are caller-owned; the library never allocates.  Fields
 *    whose names start with an underscore-free lowercase word are public
 *    to read where documented; the rest is private.
 * ====================================================================== */

typedef struct async_loop async_loop;
typedef struct async_task async_task;
typedef struct async_timeout async_timeout;

/* Debug-mode reports: `event` is "slow step" (value: ticks the step took)
 * or "pending at close" (value: the task's state).                      */
typedef void (*async_debug_hook)(async_loop *L, const async_task *t, const char *event,
                                 long value);

/* Intrusive doubly-linked list node. */
typedef struct async_node {
    struct async_node *next, *prev;
} async_node;

/* Common prefix of everything the timer store holds (tasks, scopes,
 * callback handles).                                                    */
typedef struct async_timed {
    async_node node; /* on one list: run queue, a wait list, a wheel slot */
    union {
        async_tick when; /* expiry, while on the wheel             */
        int result;      /* tasks: wake result, then final result  */
    } u;
    uint8_t kind;     /* ASYNC__K_*; tasks: shield depth << 4 as well      */
    uint8_t state;    /* tasks, handles: ASYNC__S_*;  scopes: depth         */
    uint8_t flags;    /* tasks: ASYNC__F_*;  scopes: fired (lock: held)    */
    uint8_t scope;    /* tasks: open scope depth << 4 | expired depth;
                         shields: the task's outer shield and expired
                         depths when the shield opened                     */
} async_timed;

/* A task's step function.  It runs the task's coroutine one step and
 * returns ASYNC_PENDING while suspended, or the task's result.  The frame
 * is found with async_frame(self, type, member).                        */
typedef int (*async_task_fn)(async_loop *L, async_task *self);

/* A task header, embedded anywhere in the frame struct the caller owns.
 * 56 bytes on x86-64 (40 without ASYNC_CONF_TASK_LIST), 24 on a 32-bit
 * MCU (no task list; ASYNC_CONF_DEBUG off).                             */
struct async_task {
    async_timed base;
    async_task_fn fn;
    union {
        async_task *task;           /* the task in async_join(this), or
                                       a done callback's handle       */
        struct async_group *group;  /* the group this task belongs to */
    } joiner;
#if ASYNC_CONF_TASK_LIST
    async_node all;    /* every live task of the loop                 */
#endif
#if ASYNC_CONF_DEBUG
    const char *name;
    const char *file;  /* last suspension point ...                   */
    const char *what;  /* ... and the text of what it awaits there    */
    int line;
    bool unseen;       /* finished with an error nobody has read yet  */
#endif
};

/* Public task states (async_task_state). */
enum async_task_state {
    ASYNC_TASK_IDLE,    /* never spawned (zeroed)                     */
    ASYNC_TASK_READY,   /* runnable, queued                           */
    ASYNC_TASK_RUNNING, /* stepping right now                         */
    ASYNC_TASK_WAITING, /* suspended on something                     */
    ASYNC_TASK_DONE     /* finished; async_task_result() is its value */
};

/* A coroutine's resume point and result, one per coroutine frame.       */
typedef struct async_co {
    async_lc lc;            /* where to resume; 0 = at the start          */
    uint8_t flags;          /* ASYNC__CO_*                                */
    int rc;                 /* value async_end will return                */
    async_timeout *scopes;  /* innermost open timeout scope               */
} async_co;

/* A scope around awaits, in the frame of the coroutine that opens it:
 * a deadline (asyncio's timeout() and wait_for()), a shield (Trio's
 * shielded cancel scope), or a held lock (async with lock:).            */
struct async_timeout {
    async_timed base; /* wheel node; state = depth, flags = fired */
    async_task *owner;
    async_timeout *outer;
};
#if ASYNC_CONF_EXTRAS
typedef struct async_timeout async_shield;
#endif
typedef struct async_timeout async_locked;

/* Port: how the core reaches its environment.  Embed it first in your
 * port's struct; every hook receives that pointer back.  Ports that
 * exist: port/async_bm.h (bare metal), port/async_vclock.h (a virtual
 * clock, for tests and simulations), src/async_ev.h (libev).            */
typedef struct async_port async_port;
struct async_port {
    /* Current time in ticks; monotonic.  Required.                       */
    async_tick (*now)(const async_port *self);
    /* Called by async_run after a pass that leaves nothing ready (and,
     * with ASYNC_PORT_POLL in flags, after every pass).  Block until
     * `deadline` (when has_deadline) or until wake() is called, then
     * return 0.  Must not block while async_loop_has_work(L) is true: an
     * interrupt or another thread may have posted since async_run looked
     * (check it with interrupts masked on bare metal, or rely on wake()
     * being latched with threads), and with ASYNC_PORT_POLL that is the
     * non-blocking poll between passes that keeps a task yielding in a
     * loop from starving the port's I/O.  Return ASYNC_EDEADLK if nothing
     * can ever wake the loop.  Required.                                 */
    int (*idle)(const async_port *self, async_loop *L, bool has_deadline, async_tick deadline);
    /* Called by async_post() after queueing, from any context: interrupt
     * an idle() in progress.  NULL if idle() needs no help.              */
    void (*wake)(const async_port *self);
    /* Critical section for async_post() when ASYNC_CONF_ATOMICS is 0.
     * NULL if posts never come from interrupts or other threads.        */
    void (*lock)(const async_port *self);
    void (*unlock)(const async_port *self);
    /* ASYNC_PORT_*; 0 (a zeroed port): idle() only when nothing is ready. */
    unsigned flags;
};
/* The port has I/O to poll even while tasks are ready (the libev port):
 * async_run calls idle() after every pass, not only when nothing is
 * ready.  Without it a pass that leaves tasks ready goes straight on to
 * the next one, which costs a loop running tasks no call to the port.  */
#define ASYNC_PORT_POLL 0x01u

/* A call from an interrupt handler or another thread into the loop
 * (asyncio's call_soon_threadsafe).  async_post() queues it (once: posting
 * a queued call is coalesced) and the loop runs fn in loop context before
 * its next step.                                                         */
typedef struct async_call async_call;
struct async_call {
    async_call *next;
    void (*fn)(async_loop *L, async_call *self);
    volatile int queued;
};

/* External wait source, for awaitables built outside the core (the libev
 * layer's fd watchers).  detach() is called, on the loop thread, whenever
 * the parked task is woken: by a cancel or a timeout, and also by the
 * source's own async_wake().  So make it idempotent: clear your task
 * pointer before you wake the task yourself, and let detach() stop
 * watching only if the pointer is still set.                            */
typedef struct async_waiter async_waiter;
struct async_waiter {
    void (*detach)(async_loop *L, async_waiter *self, async_task *t);
};

#define ASYNC__WBITS ASYNC_CONF_WHEEL_BITS
#define ASYNC__WSLOTS (1u << ASYNC__WBITS)
#define ASYNC__WLEVELS ASYNC_CONF_WHEEL_LEVELS
/* Whether a delay can exceed the wheel's span: such timers wait on a
 * sorted list of their own until they come within it.                   */
#define ASYNC__WFAR \
    (ASYNC__WLEVELS && ASYNC__WBITS * ASYNC__WLEVELS < ASYNC_CONF_TICK_BITS - 1)
/* Wheels of 16 slots or more keep a bitmap of occupied slots per level;
 * smaller ones scan their slots (less code, less RAM, as fast).          */
#define ASYNC__WMAP (ASYNC__WBITS >= 4)
#if ASYNC__WBITS == 6
typedef uint64_t async__wmap;
#elif ASYNC__WBITS == 5
typedef uint32_t async__wmap;
#elif ASYNC__WBITS == 4
typedef uint16_t async__wmap;
#else
typedef uint8_t async__wmap;
#endif

/* The event loop: run queue, timer wheel, posts.  No global state:
 * several loops may coexist, each driven by one thread.                 */
struct async_loop {
    const async_port *port;
    async_tick now;          /* cached time of the current pass          */
    async_task *current;     /* the task being stepped, or NULL          */
    uint8_t progress;        /* a step changed something this pass (near
                                the start: short offsets on Thumb)       */
    async_node *runq;        /* ready tasks, FIFO, linked by node.next   */
    async_node **runq_end;   /* &the last one's node.next, or &runq      */
    async_node *yielded;     /* yielded this pass: queued at its end     */
    async_node **yielded_end;
    async_node ***yield_to;  /* where a yield queues: &yielded_end, or
                                &runq_end where a pass is one round      */
    async_node pollers;      /* tasks in async_await_until               */
    async_node due;          /* expired timers not yet fired             */
    unsigned ntasks;         /* spawned and not finished                 */
    async_call *volatile posts; /* LIFO pushed by async_post()           */
    async_tick wnow;         /* timers are processed up to here          */
#if ASYNC__WLEVELS == 0
    async_node timers;       /* armed timers, by expiry                  */
#else
#if ASYNC__WMAP
    async__wmap wmap[ASYNC__WLEVELS]; /* slots that may be occupied      */
#endif
    async_node wheel[ASYNC__WLEVELS][ASYNC__WSLOTS];
#endif
#if ASYNC__WFAR
    async_node far;          /* timers beyond the wheel's span, by expiry */
#endif
#if ASYNC_CONF_EXTRAS
    async_node held;         /* expired scopes a shield holds back        */
#endif
#if ASYNC_CONF_TASK_LIST
    async_node all;          /* every live task                          */
#endif
    /* Size-first builds reach the features a firmware may not use
     * through these, set by the feature when it is first used, so that
     * --gc-sections drops what is never used (ASYNC__HOOK, section 8).
     * NULL until then; speed-first builds leave them NULL but
     * interrupt, which async_park sets in every build (for
     * async__park_current).                                            */
    struct {
        void (*interrupt)(async_loop *L, async_task *t);    /* async_park    */
        void (*expire)(async_loop *L, async_timeout *to);  /* a timeout scope */
        void (*scopes)(async_loop *L, async_co *co);        /* close them    */
        void (*finished)(async_loop *L, async_task *t, int rc); /* join, group */
        void (*posts)(async_loop *L);                       /* async_post    */
        void (*recheck)(async_loop *L);                     /* async_until   */
    } hooks;
#if ASYNC_CONF_DEBUG
    async_node unseen;          /* finished tasks whose error nobody read */
    bool tracking;              /* inside async_run: keep them on unseen  */
    async_tick slow_step;       /* warn when a step exceeds this (0: off) */
    async_debug_hook on_debug;  /* where warnings go (NULL: stderr/none)  */
#endif
};

/* Event: a flag tasks wait to become set (asyncio.Event).  Zeroed = clear. */
typedef struct async_event {
    async_node waiters;
    bool set;
} async_event;

/* Counting semaphore (asyncio.Semaphore / BoundedSemaphore when max > 0). */
typedef struct async_sem {
    async_node waiters;
    unsigned count;
    unsigned max; /* 0: unbounded */
} async_sem;

/* Mutual exclusion owned by a task (asyncio.Lock).  Zeroed = unlocked.  */
typedef struct async_lock {
    async_node waiters;
    async_task *owner;
} async_lock;

/* Condition variable bound to a lock (asyncio.Condition).               */
typedef struct async_cond {
    async_node waiters;
    async_lock *lock;
} async_cond;

/* One-shot result slot with waiters (asyncio.Future).  Zeroed = pending. */
typedef struct async_future {
    async_event ev; /* set once the result is in */
    int result;
} async_future;

/* Bounded queue of fixed-size items over a caller-provided array: FIFO
 * (asyncio.Queue), LIFO (LifoQueue) or by priority (async_pqueue).
 * Index 0 of waiters/held is the getters' side, 1 the putters'.        */
typedef struct async_queue {
    async_node waiters[2]; /* tasks waiting to get / to put            */
    unsigned held[2];      /* items / slots promised to woken waiters */
    bool closed;           /* (near the start: a short offset on Thumb) */
#if ASYNC_CONF_EXTRAS
    uint8_t order;         /* ASYNC__Q_FIFO, _LIFO or _PRIO            */
#endif
    unsigned cap, head, count; /* (before the pointers: no padding)   */
    unsigned char *buf;
    size_t item_size;
#if ASYNC_CONF_EXTRAS
    unsigned unfinished;   /* items put and not yet task_done()        */
    async_node joiners;    /* tasks in async_queue_join                */
#endif
} async_queue;

#if ASYNC_CONF_EXTRAS
/* A priority queue (asyncio.PriorityQueue): a binary heap over the
 * caller's array, the item for which before() holds leaving first, equal
 * items in the order they were put.  seq is a second caller array of
 * cap numbers that keeps that order.  Every async_queue_* call works on
 * &pq->q.                                                               */
typedef bool (*async_before_fn)(const void *a, const void *b);
typedef struct async_pqueue {
    async_queue q;
    async_before_fn before;
    unsigned *seq;
    unsigned next; /* the next put's number */
} async_pqueue;

/* A barrier for `parties` tasks (asyncio.Barrier).                      */
typedef struct async_barrier {
    async_node waiters;
    unsigned parties;
    bool broken;
} async_barrier;

/* A callback run by the loop outside any task (asyncio's Handle and
 * TimerHandle): scheduled by async_call_soon/_later/_at, or when a task
 * finishes (async_task_on_done).  Zeroed = idle.                        */
typedef struct async_handle async_handle;
typedef void (*async_handle_fn)(async_loop *L, async_handle *h);
struct async_handle {
    async_timed base;
    async_handle_fn fn;
};

#endif
/* A set of tasks awaited together: gather, wait-for-first, TaskGroup.
 * Members are recorded in a caller-provided array of task pointers.    */
typedef struct async_group {
    async_task **slots;
    unsigned cap, count, running;
    int error;               /* first member error (not cancellation)    */
    uint8_t flags;           /* ASYNC_GROUP_*                            */
    async_task *waiter;      /* task in async_group_wait/next            */
    async_node done;         /* finished, not yet reaped, in order       */
} async_group;
#define ASYNC_GROUP_CANCEL_ON_ERROR 0x01u /* TaskGroup: first error cancels the rest */
#define ASYNC__GROUP_WAIT_ANY 0x80u      /* the waiter takes the next member   */
#define ASYNC__GROUP_WAIT_ERR 0x40u      /* ... or the first error             */

/* Counting notification that interrupt handlers and other threads give
 * and tasks take (FreeRTOS' xSemaphoreGiveFromISR, asyncio's
 * call_soon_threadsafe + Semaphore).                                    */
typedef struct async_notify {
    async_call call;
    async_sem sem;
    volatile unsigned pending;
} async_notify;

/* ======================================================================
 * 6. Coroutine macros.
 *
 *     struct hello { async_co co; int i; };
 *
 *     static int hello(async_loop *L, struct hello *f)
 *     {
 *         async_begin(L, &f->co);
 *         for (f->i = 0; f->i < 3; f->i++) {
 *             puts("tick");
 *             async_await(async_sleep(L, ASYNC_MS(100)));
 *         }
 *         async_end;
 *     }
 *
 * A coroutine returns ASYNC_PENDING while suspended and its result (>= 0)
 * or an error (< 0) when it ends.  async_begin declares the hidden locals
 * async__L and async__co that the other macros use.
 * ====================================================================== */

#define ASYNC__CO_FINALLY 0x01u
#if ASYNC_CONF_DEBUG
#define ASYNC__WHERE(text) async__debug_where(async__L, __FILE__, __LINE__, (text))
#else
#define ASYNC__WHERE(text) ((void)0)
#endif
#ifdef __GNUC__
#define ASYNC__NOSHADOW_BEGIN \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wshadow\"")
#define ASYNC__NOSHADOW_END _Pragma("GCC diagnostic pop")
#else
#define ASYNC__NOSHADOW_BEGIN
#define ASYNC__NOSHADOW_END
#endif
/* The interruption an await reports: inline where speed comes first,
 * else through the out-of-line await start (storing lc again).         */
#if ASYNC__SMALL
#define ASYNC__INTERRUPTION(L) async__await_enter((L), async__co, async__co->lc)
#else
#define ASYNC__INTERRUPTION(L) async__interrupt_code(L)
#endif

/* Where the body starts (resume point 0) and where any other value
 * lands.  Speed first, the start is the switch's default: the compiler
 * then tests a resume point first, and a resume is every step but one.
 * Size first, it is a case: the smaller dispatch.                       */
#if ASYNC__SMALL
#define ASYNC__LC_START case 0:
#define ASYNC__LC_UNKNOWN_CASE default:
#else
#define ASYNC__LC_START    \
    default:               \
        if (async__co->lc) \
            goto async__unknown;
#define ASYNC__LC_UNKNOWN_CASE
#endif

/* The frame is zeroed before the first call (the rules at the top), and
 * async_end leaves it zeroed again, so nothing is set up here.  Whether
 * the body has a cleanup section is known at compile time: async_finally
 * declares async__has_finally again, as 1, for async_end to read.      */
#define async_begin(L, co)                                   \
    async_loop *const async__L = (L);                        \
    async_co *const async__co = (co);                        \
    int async__r = 0; /* result of the await in progress */  \
    enum { async__has_finally = 0 };                         \
    ASYNC__LC_ORIGIN                                         \
    (void)async__L;                                          \
    async__dispatch:                                         \
    switch (async__co->lc) {                                 \
    ASYNC__LC_START

/* Start of the cleanup section (try/finally), at the top level of the
 * body.  Reached by falling off the body, by async_return(), or by an
 * await whose error propagates.  Scopes the body left open (timeouts,
 * shields, held locks) close here, as a `with` block closes when an
 * exception leaves it.  Inside it, async_error() is the pending result:
 * < 0 if the body failed.  Awaits here still report a cancellation of
 * the task: cleanup that must await goes inside a shield
 * (async_shield_begin).                                                 */
#define async_finally                                        \
    /* FALLTHROUGH */                                        \
    if (0) {                                                 \
    case ASYNC__LC_FINALLY:;                                 \
    }                                                        \
    ASYNC__NOSHADOW_BEGIN                                    \
    enum { async__has_finally = 1 };                         \
    ASYNC__NOSHADOW_END                                      \
    async__co->flags |= ASYNC__CO_FINALLY;                   \
    if (async__co->scopes)                                   \
    async__scopes_close(async__L, async__co)

/* End of the body: closes open timeout scopes, resets the frame so the
 * coroutine can be called afresh, and returns the result.  After it, the
 * blocks every await of the body shares (one copy per coroutine):
 *   async__settle  an op returned < 0: suspend if it is pending, else
 *                  raise its error;
 *   async__raise   the body ends with async__r: through the cleanup
 *                  section if there is one (one jump back to the
 *                  dispatch), else at once (one call);
 *   async__check   (size-first builds) an await starts: store its resume
 *                  point, raise the task's interruption if there is one,
 *                  else go to the resume point (through the dispatch);
 *   async__yield   (size-first builds) async_yield: store the resume
 *                  point and queue the task again.
 * Unused ones cost nothing: the compiler drops what nothing jumps to.  */
#define async_end                                                        \
    async__r = async__has_finally ? async__co->rc : 0;                   \
    goto async__raise;                                                   \
    ASYNC__LC_UNKNOWN_CASE                                               \
        if (0)                                                           \
            goto async__settle;                                          \
        if (0)                                                           \
            goto async__check;                                           \
        if (0)                                                           \
            goto async__yield;                                           \
        if (0)                                                           \
            goto async__unknown;                                         \
    async__unknown:                                                      \
        ASYNC__LC_RESUME_UNKNOWN();                                      \
    async__settle: /* async__r < 0 here: INT_MIN is the one doubling to 0 */ \
        if (((unsigned)async__r << 1) == 0u)                             \
            return async__r; /* ASYNC_PENDING, already in a register */  \
    async__raise:                                                        \
        if (async__has_finally && !(async__co->flags & ASYNC__CO_FINALLY)) { \
            async__co->rc = async__r;                                    \
            async__co->lc = ASYNC__LC_FINALLY;                           \
            goto async__dispatch;                                        \
        }                                                                \
        return async__co_end(async__L, async__co, async__r);            \
    async__check:                                                        \
        if ((async__r = async__await_enter(async__L, async__co, async__r)) != 0) \
            goto async__raise;                                           \
        goto async__dispatch;                                            \
    async__yield:                                                        \
        async__co->lc = (async_lc)async__r;                              \
        if ((async__r = async__give_way(async__L)) == 0)                 \
            return ASYNC_PENDING;                                        \
        goto async__raise;                                               \
    }                                                                    \
    return ASYNC_PENDING /* a `break` out of the body */

/* Finish with value v (>= 0: success, < 0: error), running the cleanup
 * section first if there is one (a return inside it ends at once).      */
#define async_return(v)                                      \
    do {                                                     \
        if ((async__r = (v)) == ASYNC_PENDING) /* not a result */ \
            async__r = ASYNC__CO_MISUSE(ASYNC_EINVAL);       \
        goto async__raise;                                   \
    } while (0)

/* The result pending in the cleanup section; < 0 if the body failed.    */
#define async_error() (async__co->rc)

/* Await `op` and store its result, value or error, in `var`: nothing
 * propagates.  `op` is an awaitable call (async_sleep(L, ..), a child
 * coroutine...) and is evaluated again each time the task resumes, so its
 * arguments must not have side effects.  If the task has been cancelled,
 * or a timeout scope around it has expired, `op` is not started and var
 * receives ASYNC_ECANCELED or ASYNC_ETIMEDOUT.  async_yield() is the one
 * exception: it gives way first and reports the interruption after.    */
#define async_await_rc(var, op) ASYNC__AWAIT_RC(var, op, #op)
#define ASYNC__AWAIT_RC(var, op, text) ASYNC__AWAIT_RC_X(var, op, text, ASYNC__UNIQUE())
#define ASYNC__AWAIT_RC_X(var, op, text, n) ASYNC__AWAIT_RC_N(var, op, text, n)
/* async_yield() is told apart at compile time by its type, char[3] (an
 * op is an int), so the test costs nothing: other awaits compile to the
 * interruption test, the resume point and the op; a yield to a plain
 * run-queue append, the resume point and the interruption test.  The
 * enum is what lets async_yield() compile only inside an await.        */
#define ASYNC__YIELD_SIZE 3
#define ASYNC__IS_YIELD(op) (sizeof(op) == ASYNC__YIELD_SIZE)
#if ASYNC__SMALL
/* Size first: the interruption test and the resume point's store are one
 * call (async__await_enter; a yield stores it and queues the task).    */
#define ASYNC__AWAIT_RC_N(var, op, text, n)                                        \
    do {                                                                           \
        enum { async__use_async_await_around_async_yield = ASYNC__YIELD_SIZE };    \
        ASYNC__LC_TO_R_N(n)                                                        \
        if (ASYNC__IS_YIELD(op))                                                   \
            async__co->lc = (async_lc)async__r;                                    \
        async__r = ASYNC__IS_YIELD(op) ? async__give_way(async__L)                 \
                                       : async__await_enter(async__L, async__co, async__r); \
        if (async__r == 0) {                                                       \
            if (ASYNC__IS_YIELD(op))                                               \
                return ASYNC_PENDING;                                              \
            ASYNC__LC_LABEL_N(n)                                                   \
            ASYNC__WHERE(text);                                                    \
            if (ASYNC__IS_YIELD(op))                                               \
                async__r = ASYNC__INTERRUPTION(async__L);                          \
            else if ((async__r = (int)(intptr_t)(op)) == ASYNC_PENDING)            \
                return ASYNC_PENDING;                                              \
        }                                                                          \
        (var) = async__r;                                                          \
    } while (0)
/* A propagating await is three things in the body: put the resume point
 * in async__r and jump to the shared check (which comes back through
 * the dispatch), the op, and one test of its result: < 0 is either
 * pending or an error, told apart in the shared async__settle.          */
#define ASYNC__AWAIT_N(op, text, n)                                                \
    do {                                                                           \
        enum { async__use_async_await_around_async_yield = ASYNC__YIELD_SIZE };    \
        ASYNC__LC_TO_R_N(n)                                                        \
        if (ASYNC__IS_YIELD(op))                                                   \
            goto async__yield;                                                     \
        goto async__check;                                                         \
        ASYNC__LC_LABEL_N(n)                                                       \
        ASYNC__WHERE(text);                                                        \
        if ((async__r = ASYNC__IS_YIELD(op) ? ASYNC__INTERRUPTION(async__L)        \
                                            : (int)(intptr_t)(op)) < 0)            \
            goto async__settle;                                                    \
    } while (0)
#else
/* Speed first: the interruption test inline, falling into the op.      */
#define ASYNC__AWAIT_RC_N(var, op, text, n)                                        \
    do {                                                                           \
        enum { async__use_async_await_around_async_yield = ASYNC__YIELD_SIZE };    \
        if (ASYNC__IS_YIELD(op) || (async__r = async__interrupt_code(async__L)) == 0) { \
            ASYNC__WHERE(text);                                                    \
            ASYNC__LC_SET_N(n)                                                     \
            if (ASYNC__IS_YIELD(op) && (async__r = async__give_way(async__L)) == 0) \
                return ASYNC_PENDING;                                              \
            ASYNC__LC_LABEL_N(n)                                                   \
            if (!ASYNC__IS_YIELD(op)) {                                            \
                if ((async__r = (int)(intptr_t)(op)) == ASYNC_PENDING)             \
                    return ASYNC_PENDING;                                          \
            } else if (async__r == 0) {                                            \
                async__r = async__interrupt_code(async__L);                        \
            }                                                                      \
        }                                                                          \
        (var) = async__r;                                                          \
    } while (0)
#define ASYNC__AWAIT_N(op, text, n)                                                \
    do {                                                                           \
        ASYNC__AWAIT_RC_N(async__r, op, text, n);                                  \
        if (async__r < 0)                                                          \
            goto async__raise;                                                     \
    } while (0)
#endif
#define ASYNC__AWAIT(op, text) ASYNC__AWAIT_X(op, text, ASYNC__UNIQUE())
#define ASYNC__AWAIT_X(op, text, n) ASYNC__AWAIT_N(op, text, n)

/* Await `op`; an error ends this coroutine with that error (through its
 * cleanup section), like an exception propagating.  The value is
 * discarded; use async_await_val to keep it.                            */
#define async_await(op) ASYNC__AWAIT((op), #op)

/* Await `op`; on success store its value in `var`, on error propagate.  */
#define async_await_val(var, op)                                  \
    do {                                                          \
        ASYNC__AWAIT((op), #op);                                  \
        (var) = async__r;                                         \
    } while (0)

/* op: let every other ready task run once, then continue: 0, or the
 * interruption (asyncio.sleep(0)).  Unlike other awaits it gives way
 * even when the task is already cancelled, and reports that on resuming,
 * so a yield loop cannot starve the others.  Only inside an await
 * (async_await(async_yield())): anywhere else it does not compile.      */
#define async_yield() (*(char(*)[async__use_async_await_around_async_yield]) "yi")

/* op: 0 once `cond` is true (asyncio's Condition.wait_for without the
 * lock).  `cond` is re-checked after other tasks have run, never in a
 * spin: if nothing else runs, the loop sleeps until a timer, a post or
 * I/O wakes something.  Prefer an event or a future where one fits; a
 * condition that only an interrupt handler changes needs the handler to
 * call async_post().  It can sit under async_await_for or in a timeout
 * scope like any op.                                                    */
#define async_until(cond) async__until(async__L, (cond) != 0)
/* Wait until `cond` is true; an interruption propagates.               */
#define async_await_until(cond) async_await(async_until(cond))

/* Open a timeout scope (asyncio.timeout): until async_timeout_end(to),
 * every await reports ASYNC_ETIMEDOUT once `ticks` have passed (counted
 * from now: the clock is read), and the await in progress at that moment
 * is interrupted.  Scopes nest up to 15 deep, shields included.  Returns
 * 0, or ASYNC_ENOSPC/ASYNC_EPERM/ASYNC_ERANGE.                          */
#define async_timeout_begin(to, ticks) \
    async__timeout_begin(async__L, async__co, (to), (async_tick)(ticks), ASYNC__K_TIMEOUT)
#define async_timeout_begin_at(to, deadline) \
    async__timeout_begin(async__L, async__co, (to), (async_tick)(deadline), ASYNC__K_AT)
/* Close the scope: 0, or ASYNC_ETIMEDOUT if it expired.  Closing out of
 * order (not the innermost scope of this coroutine), or a scope of
 * another kind (a shield, a held lock), is ASYNC_EINVAL.
 * Scopes still open when the body or the cleanup section ends are
 * closed there.                                                         */
#define async_timeout_end(to) async__scope_end(async__L, async__co, (to), ASYNC__K_TIMEOUT)

#if ASYNC_CONF_EXTRAS
/* Open a shield (Trio's shielded cancel scope): until async_shield_end,
 * a cancellation of the task and the expiry of any scope opened before
 * the shield are held back: awaits inside run as if neither happened,
 * and nothing wakes the task early.  They take effect when the shield
 * closes (a cancellation is sticky: the next await reports it).  `ticks`
 * > 0 gives the shield a deadline of its own, counted from now, that
 * acts like a timeout scope's, so shielded cleanup cannot hang; 0: none.
 * Returns 0, or ASYNC_ENOSPC/ASYNC_EPERM/ASYNC_ERANGE as a timeout.    */
#define async_shield_begin(sh, ticks) \
    async__timeout_begin(async__L, async__co, (sh), (async_tick)(ticks), ASYNC__K_SHIELD)
/* Close it: 0, or ASYNC_ETIMEDOUT if its own deadline expired.           */
#define async_shield_end(sh) async__scope_end(async__L, async__co, (sh), ASYNC__K_SHIELD)

/* async with lock: acquire `lock` (an await: it waits, and an
 * interruption while waiting propagates), then hold it until
 * async_with_lock_end(held), or until the body or the cleanup section
 * is left any other way (async_return, a propagating error): then it is
 * released there.  `held` is a scope object in the frame.              */
#define async_with_lock(held, lock)                                              \
    do {                                                                         \
        if ((async__r = async__locked_begin(async__L, async__co, (held), (lock))) == 0) \
            ASYNC__AWAIT_RC(async__r, async__locked_take(async__L, async__co->scopes), \
                            "async_with_lock(" #lock ")");                      \
        if (async__r < 0)                                                        \
            goto async__raise;                                                   \
    } while (0)
/* Release the lock and close the scope: 0, or ASYNC_EINVAL out of order. */
#define async_with_lock_end(held) async__scope_end(async__L, async__co, (held), ASYNC__K_LOCKED)

#endif
/* wait_for: await `op` with a deadline `ticks` from now, using the scope
 * object `to`.  var = op's result: if the deadline interrupted it, the
 * operation reports ASYNC_ETIMEDOUT (through every child that propagates
 * it); a result that arrived in time, success or error, is never replaced.
 */
#define async_await_for(to, ticks, var, op)                               \
    do {                                                                  \
        if ((async__r = ASYNC__INTERRUPTION(async__L)) == 0 &&            \
            (async__r = async_timeout_begin((to), (ticks))) == 0) {       \
            ASYNC__AWAIT_RC(async__r, (op), #op);                         \
            (void)async__scope_pop(async__L, async__co);                  \
        }                                                                 \
        (var) = async__r;                                                 \
    } while (0)

/* Coroutines in one declaration each (the frame struct stays yours):
 *
 *     struct blink { async_co co; int n; };               a child
 *     static async_def(blink, L, f)
 *         for (f->n = 0; f->n < 3; f->n++)
 *             async_await(async_sleep(L, ASYNC_MS(100)));
 *     async_def_end
 *
 *     struct main_task { async_task task; async_co co; struct blink b; };
 *     static async_task_def(main_task, L, f)               a task
 *         async_await(blink(L, &f->b));
 *     async_def_end
 *
 * async_def(name, L, f) opens `int name(async_loop *L, struct name *f)`
 * and its body; async_task_def(name, L, f) opens the task function
 * `int name(async_loop *L, async_task *)` whose frame `struct name` has
 * the members `task` and `co`, and names the frame f.  You choose the
 * names L and f; async_def_end ends the body and the function.          */
#define async_def(name, L, f) \
    int name(async_loop *L, struct name *f) { async_begin((L), &(f)->co);
#define async_task_def(name, L, f) async_task_def_at(name, task, L, f)
/* The same for a frame whose task header is `member`, a path such as
 * conn.task (a server's handler frames).                                */
#define async_task_def_at(name, member, L, f)                                    \
    int name(async_loop *L, async_task *async__self)                             \
    {                                                                            \
        struct name *const f = async_frame(async__self, struct name, member);   \
        async_begin((L), &(f)->co);
#define async_def_end \
    async_end;        \
    }

/* The frame (enclosing struct) of a task header.                         */
#define async_frame(task, type, member) \
    ((type *)(void *)((char *)(task) - offsetof(type, member)))

/* Static initialisers, for objects that need more than zeroing.         */
#define ASYNC_SEM_INIT(count, max) {{NULL, NULL}, (count), (max)}
/* A zeroed async_event, async_lock or async_future is valid as is.       */

/* ======================================================================
 * 7. API.  L is the loop; "op" marks awaitables (use inside an await
 *    macro, from a task; they return ASYNC_PENDING when they suspend).
 *    Unless stated otherwise, calls are for the loop's thread only.
 * ====================================================================== */

/* ---- loop ---- */
/* Initialise a loop over a port.  Returns 0 or ASYNC_EINVAL.            */
int async_loop_init(async_loop *L, const async_port *port);
/* asyncio.run: spawn `main` with fn (fn == NULL: main is already spawned)
 * and run until it finishes; then cancel every task still pending and
 * run until they have finished their cleanup (needs ASYNC_CONF_TASK_LIST;
 * without it, as async_run_until_complete).  main == NULL: run until no
 * task is left.  Returns main's result (or 0), ASYNC_EDEADLK when main
 * waits for something that can never happen, or a spawn error.  Tasks
 * that cannot finish their cleanup (they wait for what never comes) are
 * left as they are: async_loop_task_count() says how many.  In debug
 * mode it reports every task that finished with an error nobody read
 * ("error never retrieved").                                            */
int async_run(async_loop *L, async_task *main, async_task_fn fn);
/* loop.run_until_complete: the same, but tasks still pending when main
 * finishes are left as they are (the behaviour of async_run before
 * 0.2.0).  async_loop_cancel_all: cancel every live task (needs
 * ASYNC_CONF_TASK_LIST; without it, 0); returns how many cancellations
 * were requested.                                                       */
#if ASYNC_CONF_TASK_LIST
int async_run_until_complete(async_loop *L, async_task *main, async_task_fn fn);
unsigned async_loop_cancel_all(async_loop *L);
#else /* no registry: async_run cannot find the tasks left, both are trivial */
static inline int async_run_until_complete(async_loop *L, async_task *main, async_task_fn fn)
{
    return async_run(L, main, fn);
}
static inline unsigned async_loop_cancel_all(async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, 0u);
    return 0;
}
#endif
/* One pass: read the clock, deliver posts, fire due timers, step every
 * task that was ready at the start of the pass once.  Returns the number
 * of steps.  For drivers that own the sleeping (the libev layer, tests). */
int async_run_once(async_loop *L);
/* Passes until nothing is ready or due now; never idles or moves time.  */
int async_run_ready(async_loop *L);
/* True when a task is ready, a timer is due or a post is queued: the
 * loop must not sleep.  Safe to call from the port's idle() with
 * interrupts masked.                                                    */
bool async_loop_has_work(const async_loop *L);
/* The next moment the wheel needs attention (a deadline, or a point where
 * it refiles far timers); false if no timer is armed.                   */
bool async_loop_next_deadline(const async_loop *L, async_tick *deadline);
/* Cached time of the current pass; async_loop_update_now re-reads it.   */
static inline async_tick async_now(const async_loop *L);
static inline async_tick async_loop_update_now(async_loop *L);
/* Spawned tasks that have not finished.                                 */
static inline unsigned async_loop_task_count(const async_loop *L);
/* The task being stepped, or NULL outside a step.                       */
static inline async_task *async_current(const async_loop *L);

/* ---- tasks ---- */
/* Queue `t` to run fn.  ASYNC_EBUSY if t is ready, running or waiting,
 * or finished but still held by a group; ASYNC_EINVAL on NULL.          */
int async_spawn(async_loop *L, async_task *t, async_task_fn fn);
/* Request cancellation: t's current await (if suspended) and every later
 * one report ASYNC_ECANCELED until it finishes; a task that has not
 * started yet finishes with ASYNC_ECANCELED without running.  Returns 0,
 * ASYNC_EALREADY if already requested, ASYNC_EDONE if t has finished
 * (harmless), ASYNC_EINVAL if never spawned.                            */
int async_cancel(async_loop *L, async_task *t);
/* op: wait for t to finish and return its result (asyncio's await task).
 * If the waiting task is cancelled or times out meanwhile, t is cancelled
 * too and the wait reports that once t has finished.  ASYNC_EBUSY if
 * something else already joins t (a task or a group), ASYNC_EDEADLK for
 * a task joining itself, ASYNC_EINVAL if t was never spawned.           */
int async_join(async_loop *L, async_task *t);
/* op: wait until every task of tasks[0..n-1], already spawned, has
 * finished (asyncio.gather(*tasks, return_exceptions=True) of running
 * tasks: a fixed set, with no group to record it).  Returns 0 or the
 * first error other than cancellation, in array order; each task keeps
 * its result (async_task_result).  If the waiting task is cancelled or
 * times out meanwhile, every unfinished task is cancelled (the one
 * waited for at once, the others when it has finished) and the wait
 * reports the interruption once all have finished.  A finished task may
 * be listed (its error counts), one task twice, and n may be 0.
 * ASYNC_EINVAL for a NULL array, a NULL or a never-spawned task,
 * ASYNC_EDEADLK if the waiting task is listed, ASYNC_EBUSY if an
 * unfinished one is joined by something else (a task, a group, a done
 * callback), ASYNC_EPERM outside a task (all hook); then nothing is
 * waited for or cancelled.  It waits in one unfinished task's joiner
 * slot at a time, as async_join does, and checks every task at each of
 * their ends: O(n) each.                                                */
static inline int async_gather(async_loop *L, async_task *const *tasks, unsigned n);
/* op: sleep for `ticks`, counted from now (the call reads the clock:
 * time spent computing earlier in the step does not shorten it), or
 * until `deadline`.  0 ticks or a deadline already due is a yield - but,
 * as for every await, a cancelled task's sleep reports at once; use
 * async_yield() to give way first.  ASYNC_ERANGE if longer than
 * ASYNC_TICK_MAX_DELAY.                                                 */
int async_sleep(async_loop *L, async_tick ticks);
int async_sleep_until(async_loop *L, async_tick deadline);
static inline enum async_task_state async_task_state(const async_task *t);
static inline bool async_task_is_done(const async_task *t);
static inline bool async_task_is_cancelled(const async_task *t);
/* The result of a finished task; ASYNC_EAGAIN if it has not finished.   */
static inline int async_task_result(const async_task *t);
#if ASYNC_CONF_EXTRAS
/* add_done_callback: once t finishes, the loop calls fn(L, h) outside
 * any task (as async_call_soon would), with t's result readable by
 * async_task_result(t); at once (at the next pass) if t has finished.
 * One watcher per task: ASYNC_EBUSY if t is joined, in a group, or
 * already has one; ASYNC_EINVAL if t was never spawned or h is pending.
 * async_handle_cancel(L, h) removes it.                                 */
int async_task_on_done(async_loop *L, async_task *t, async_handle *h, async_handle_fn fn);
#endif
/* Optional name shown by debug output (kept only with ASYNC_CONF_DEBUG). */
static inline void async_task_set_name(async_task *t, const char *name);
static inline const char *async_task_name(const async_task *t);

/* ---- building awaitables ---- */
/* In an op, first thing: if the current task was woken for this await,
 * store the wake result and return true.  (Defined inline below.)       */
static inline bool async_woken(async_loop *L, int *result);
/* Suspend the current task on an external wait source; returns
 * ASYNC_PENDING (return it), or ASYNC_EPERM outside a task.             */
int async_park(async_loop *L, async_waiter *w);
/* Like async_park, but cancellations and timeouts do not wake the task
 * (they are remembered): for waiting on something that must finish first
 * even when the caller gives up - a worker thread still using the
 * caller's memory.  After the wake-up, async_unshield() returns the
 * interruption to report (0 if none) and makes the task interruptible.  */
int async_park_shielded(async_loop *L, async_waiter *w);
int async_unshield(async_loop *L);
/* Wake a suspended task with `result` (detaching it from what it waited
 * on).  No effect on a task that is not suspended.                      */
void async_wake(async_loop *L, async_task *t, int result);
/* For w's own source, on the loop's thread (a watcher's callback, a
 * task, a handle; not an interrupt or another thread: async_post): make
 * t, parked on w by async_park or async_park_shielded and not woken
 * since, ready with `result` for its op's async_woken, without calling
 * w's detach (the source has let go of t itself).  Cheaper than
 * async_wake: no detach, no test of what t waits on but one.  0;
 * ASYNC_EPERM (hook) if t is not parked on w (woken since - a cancel or
 * a timeout woke it through detach -, parked elsewhere, never parked,
 * running, finished), and nothing changes; ASYNC_EINVAL (hook) for
 * `result` ASYNC_PENDING.  A shielded park stays parked through an
 * interruption: t takes `result`, and async_unshield reports it.        */
static inline int async_unpark(async_loop *L, async_task *t, async_waiter *w, int result);

/* ---- groups: gather, wait for the first, TaskGroup ---- */
/* slots: an array of `cap` task pointers the group records members in.
 * flags: 0 (gather) or ASYNC_GROUP_CANCEL_ON_ERROR (TaskGroup).         */
int async_group_init(async_group *g, async_task **slots, unsigned cap, unsigned flags);
/* Spawn t as a member.  ASYNC_ENOSPC when the slots are full, ASYNC_EBUSY
 * if t is in use, ASYNC_ECANCELED if the group is cancelling.            */
int async_group_spawn(async_loop *L, async_group *g, async_task *t, async_task_fn fn);
/* op: wait until every member has finished (asyncio.wait ALL_COMPLETED,
 * gather(return_exceptions=True)).  Returns 0 or the first member error
 * other than cancellation; members keep their results.  Then the group
 * is empty again: every member is removed (reaped) and the error reset,
 * so its slots can be reused at once.  If the waiter is interrupted,
 * every member is cancelled and the wait reports the interruption once
 * all have finished.                                                    */
static inline int async_group_wait(async_loop *L, async_group *g);
/* op: as async_group_wait, but a member's error is returned as soon as
 * it happens, the other members running on (asyncio.gather, and
 * asyncio.wait FIRST_EXCEPTION); 0 once all finished without one.  The
 * group keeps the error and its members until a wait sees them all
 * finished: wait again, or cancel them (async_group_cancel) first.      */
static inline int async_group_wait_first_error(async_loop *L, async_group *g);
/* op: wait for the next member to finish (in completion order), remove it
 * from the group, store it in *done and return its result, error
 * included (asyncio.as_completed: awaiting each one raises its error).
 * A failure of the call itself (interrupted, ASYNC_ENOENT when the group
 * has no members) stores NULL.  Interruption does not cancel members
 * (asyncio.wait).                                                       */
int async_group_next(async_loop *L, async_group *g, async_task **done);
/* Cancel every running member; returns how many were cancelled.         */
unsigned async_group_cancel(async_loop *L, async_group *g);
/* Remove every finished member, freeing its slot.  Returns the count.   */
unsigned async_group_reap(async_group *g);
static inline unsigned async_group_running_count(const async_group *g);

/* ---- events ---- */
void async_event_init(async_event *ev);
int async_event_wait(async_loop *L, async_event *ev); /* op */
void async_event_set(async_loop *L, async_event *ev);   /* wakes all waiters */
static inline void async_event_clear(async_event *ev);
static inline bool async_event_is_set(const async_event *ev);

/* ---- semaphores ---- */
/* max = 0: unbounded; else releasing past max is ASYNC_EOVERFLOW.       */
int async_sem_init(async_sem *s, unsigned count, unsigned max);
int async_sem_acquire(async_loop *L, async_sem *s); /* op */
int async_sem_try_acquire(async_sem *s);            /* 0 or ASYNC_EAGAIN */
int async_sem_release(async_loop *L, async_sem *s); /* hands over to the first waiter */
static inline unsigned async_sem_count(const async_sem *s);

/* ---- locks ---- */
void async_lock_init(async_lock *m);
/* op: ASYNC_EDEADLK if the caller already holds it, ASYNC_EPERM outside a task. */
int async_lock_acquire(async_loop *L, async_lock *m);
int async_lock_try_acquire(async_loop *L, async_lock *m); /* 0, ASYNC_EAGAIN */
/* ASYNC_EPERM unless the current task owns it; hands over FIFO.         */
int async_lock_release(async_loop *L, async_lock *m);
/* Lock.locked(): true while a task holds it.  A release that hands the
 * lock to a waiter reads false until that waiter runs and takes it, as
 * in asyncio (nobody else can take it meanwhile).                       */
static inline bool async_lock_is_locked(const async_lock *m);

/* ---- condition variables ---- */
int async_cond_init(async_cond *c, async_lock *m);
/* op: release the lock, wait for a notify, re-acquire.  Always returns
 * holding the lock, even when it reports cancellation or a timeout.
 * ASYNC_EPERM if the caller does not hold the lock.                     */
int async_cond_wait(async_loop *L, async_cond *c);
/* Wake up to n waiters (they re-acquire the lock in turn).  The caller
 * must hold the lock (asyncio raises RuntimeError): ASYNC_EPERM if not.
 * Returns how many were woken.                                          */
int async_cond_notify(async_loop *L, async_cond *c, unsigned n);
static inline int async_cond_notify_all(async_loop *L, async_cond *c);

/* ---- futures ---- */
void async_future_init(async_future *f);
/* op: the future's result once set.                                     */
int async_future_wait(async_loop *L, async_future *f);
/* Set the result and wake every waiter.  ASYNC_EALREADY if already set. */
int async_future_set(async_loop *L, async_future *f, int result);
static inline bool async_future_is_done(const async_future *f);
/* The result, or ASYNC_EAGAIN if not set yet.                           */
static inline int async_future_result(const async_future *f);

/* ---- queues ---- */
/* buf holds cap items of item_size bytes.  ASYNC_EINVAL for cap == 0,
 * item_size == 0 or buf == NULL.                                        */
int async_queue_init(async_queue *q, void *buf, size_t item_size, unsigned cap);
/* op: copy the item in, waiting while full.  ASYNC_ECLOSED once closed.  */
static inline int async_queue_put(async_loop *L, async_queue *q, const void *item);
/* op: copy the oldest item out, waiting while empty.  After close, items
 * still queued are delivered, then ASYNC_ECLOSED.                       */
static inline int async_queue_get(async_loop *L, async_queue *q, void *item);
static inline int async_queue_try_put(async_loop *L, async_queue *q, const void *item); /* ASYNC_EAGAIN if full */
static inline int async_queue_try_get(async_loop *L, async_queue *q, void *item);       /* ASYNC_EAGAIN if empty */
/* Refuse further puts and wake every waiter: putters get ASYNC_ECLOSED,
 * getters drain what is left then get ASYNC_ECLOSED.  Idempotent.      */
void async_queue_close(async_loop *L, async_queue *q);
static inline unsigned async_queue_count(const async_queue *q);
static inline bool async_queue_is_closed(const async_queue *q);
#if ASYNC_CONF_EXTRAS
/* LifoQueue: the same calls, the newest item leaving first.              */
int async_queue_init_lifo(async_queue *q, void *buf, size_t item_size, unsigned cap);
/* PriorityQueue over buf (cap items) and seq (cap numbers): the item x
 * for which before(x, y) holds against every other y leaves first, equal
 * ones in the order they were put; O(log cap) per put and get.  before
 * is called with pointers into buf.  ASYNC_EINVAL as async_queue_init,
 * or for a NULL seq or before.                                          */
int async_pqueue_init(async_pqueue *pq, void *buf, size_t item_size, unsigned cap, unsigned *seq,
                      async_before_fn before);
/* Queue.task_done(): one item taken earlier is fully handled.
 * ASYNC_EOVERFLOW if called more often than items were put.  When every
 * item put has been handled, async_queue_join's waiters wake.           */
int async_queue_task_done(async_loop *L, async_queue *q);
/* op: Queue.join(): wait until every item put has been handled (0 at
 * once if none is outstanding).                                         */
int async_queue_join(async_loop *L, async_queue *q);
static inline unsigned async_queue_unfinished_count(const async_queue *q);

/* ---- barriers ---- */
/* parties >= 1, else ASYNC_EINVAL.                                      */
int async_barrier_init(async_barrier *b, unsigned parties);
/* op: wait until `parties` tasks are waiting, then release them all.
 * Returns the task's arrival index, 0 .. parties-1 (the last to arrive
 * gets parties-1), or ASYNC_EBROKEN when the barrier is aborted or reset
 * (and at once while it is broken).  A waiter that is cancelled or
 * times out leaves the barrier (it counts no more).                     */
int async_barrier_wait(async_loop *L, async_barrier *b);
/* Wake every waiter with ASYNC_EBROKEN and break the barrier until
 * async_barrier_reset (Barrier.abort).                                  */
void async_barrier_abort(async_loop *L, async_barrier *b);
/* Wake every waiter with ASYNC_EBROKEN and make the barrier usable again,
 * empty (Barrier.reset).                                                */
void async_barrier_reset(async_loop *L, async_barrier *b);
/* Tasks waiting now (Barrier.n_waiting).                                */
unsigned async_barrier_waiting_count(const async_barrier *b);
static inline bool async_barrier_is_broken(const async_barrier *b);

/* ---- callbacks on the loop (loop.call_soon, call_later, call_at) ---- */
/* Run fn(L, h) on the loop, outside any task (it must not await): at the
 * next pass, `ticks` from now (the clock is read), or at `when`.  The
 * loop runs callbacks at the start of a pass, in the order they became
 * due, before it steps tasks.  A callback may schedule its own handle
 * again (a periodic timer).  ASYNC_EBUSY if h is already pending,
 * ASYNC_ERANGE for a delay beyond ASYNC_TICK_MAX_DELAY, ASYNC_EINVAL on
 * NULL.  Loop thread only (async_post is call_soon_threadsafe).        */
int async_call_soon(async_loop *L, async_handle *h, async_handle_fn fn);
int async_call_later(async_loop *L, async_handle *h, async_tick ticks, async_handle_fn fn);
int async_call_at(async_loop *L, async_handle *h, async_tick when, async_handle_fn fn);
/* Handle.cancel(): 0 if it was pending and will not run, ASYNC_EALREADY
 * if it was not pending (it ran, was cancelled, or never scheduled).   */
int async_handle_cancel(async_loop *L, async_handle *h);
static inline bool async_handle_is_pending(const async_handle *h);

#endif
/* ---- interrupts and other threads ---- */
/* Any context: queue call p for the loop (coalesced if already queued)
 * and wake the port.  p->fn must be set, and async_loop_init(L) must have
 * completed before any interrupt handler or thread can post to L.
 * Returns 0, or ASYNC_EALREADY when p was already queued (its fn will
 * still run once, later).                                                */
int async_post(async_loop *L, async_call *p);
void async_notify_init(async_notify *n);
/* Any context (interrupt handler, other thread): add one permit.        */
void async_notify_give(async_loop *L, async_notify *n);
/* op: take one permit, waiting for it.                                  */
static inline int async_notify_take(async_loop *L, async_notify *n);

/* ---- errors ---- */
/* The message of an error code (also "success", "pending"...), never
 * NULL.  On AVR (avr-gcc) it is in flash: read it with avr-libc's _P
 * functions.                                                             */
const char *async_strerror(int code);

/* Tear down: returns how many tasks have not finished (their frames are
 * still linked into the loop).  In debug mode each is also reported to
 * the debug hook as "pending at close".                                 */
unsigned async_loop_close(async_loop *L);

/* ---- debug mode (ASYNC_CONF_DEBUG) ---- */
#if ASYNC_CONF_DEBUG
/* Where reports go; NULL (the default) prints to stderr where there is
 * one.  slow_step: warn when one step takes this many ticks (0: never). */
void async_debug_set_hook(async_loop *L, async_debug_hook hook);
void async_debug_set_slow_step(async_loop *L, async_tick ticks);
/* Call print once per live task with one line such as
 *   task "fetcher" waiting at main.c:42 on async_queue_get(L, &f->q, &f->v)
 * then once with a summary line.  Needs no libc.  Returns the count.    */
unsigned async_dump(async_loop *L, void (*print)(void *ctx, const char *line), void *ctx);
void async_debug_misuse(async_loop *L, int code, const char *file, int line);
void async__debug_where(async_loop *L, const char *file, int line, const char *what);
#endif

/* ---- private, used by the macros ---- */
/* Task states.  0..2 and 4 equal the public enum async_task_state; every
 * state from ASYNC__S_WLIST up is a kind of waiting.  The states a step
 * must look at again when its task returns ASYNC_PENDING (RUNNING:
 * nothing will wake it; WPOLL: a condition re-check that may have been
 * quiet; WEXT: an interruption that came while it sat in the run queue)
 * have the bit ASYNC__S_LOOK, the others not, so that the usual case is
 * one test (7 is unused).  FRESH is READY before a task's first step
 * (speed-first builds; size-first ones keep ASYNC__F_FRESH): the step's
 * store of RUNNING ends it, so the step tests nothing before the call. */
enum {
    ASYNC__S_IDLE = 0,
    ASYNC__S_READY = 1,
    ASYNC__S_RUNNING = 2,
    ASYNC__S_FRESH = 3, /* ready, never stepped; after a step: see async__step_look */
    ASYNC__S_DONE = 4,
    ASYNC__S_WLIST = 5,  /* on a list: a primitive's waiters, a wheel slot */
    ASYNC__S_WPOLL = 6,  /* on L->pollers (async_await_until)              */
    ASYNC__S_WJOIN = 8,  /* node.next = &target->joiner.task               */
    ASYNC__S_WGROUP = 9, /* node.next = &group->waiter                     */
    ASYNC__S_WEXT = 10   /* node.next = an async_waiter                    */
};
#define ASYNC__S_LOOK 0x02u
/* Task flags. */
#define ASYNC__F_WOKEN 0x01u    /* u.result holds a wake result to consume  */
#define ASYNC__F_CANCEL 0x02u   /* cancellation requested (sticky)          */
#define ASYNC__F_FRESH 0x04u    /* spawned, not stepped yet (size first)    */
#define ASYNC__F_EXPIRED 0x08u  /* an expired scope to report: scope & 0x0F
                                   is not 0 (ASYNC__EXPIRED_FLAG builds)    */
#define ASYNC__F_RECHECK 0x10u  /* resumed to re-check a condition          */
#define ASYNC__F_DRAIN 0x20u    /* interrupted; waiting for cleanup to end  */
#define ASYNC__F_NOTIFIED 0x40u /* cond waiter notified, re-taking the lock  */
#define ASYNC__F_HANDED 0x80u   /* handed a lock it has not taken yet       */
/* async_timed.kind (tasks also keep their innermost shield's depth in
 * the high nibble).  Odd kinds are scopes that expire.                  */
#define ASYNC__K_TASK 0u
#define ASYNC__K_TIMEOUT 1u
#define ASYNC__K_CALL 2u   /* an async_handle                            */
#define ASYNC__K_SHIELD 3u
#define ASYNC__K_LOCKED 4u /* async_with_lock's scope (never on a timer)   */
#define ASYNC__K_AT 0x11u  /* async__timeout_begin: a deadline, not a delay */
/* A task's kind bit: its joiner is an async_group.  (A task's kind & 3
 * is K_TASK, which is all the timer store asks.)                        */
#define ASYNC__K_INGROUP 0x04u
#if ASYNC_CONF_EXTRAS
#define ASYNC__SHIELDS(t) ((unsigned)(t)->base.kind >> 4) /* shield depth, 0: none */
/* A task's cancellation held back by its shields: off F_CANCEL (so an
 * await's check stays one test), back on when the last shield closes.  */
#define ASYNC__K_HELD 0x08u
#else
#define ASYNC__SHIELDS(t) 0u
#endif

/* Whether F_EXPIRED mirrors a task's expired scope depth (the low nibble
 * of its scope byte), so that an await's interruption check is one test
 * of the flags byte: on hosts, two instructions less an await; not on
 * 32-bit bare metal, where keeping it costs 20 bytes of the Cortex-M0+
 * core.  A property of the target: the same in every translation unit,
 * whatever its optimisation.                                            */
#ifndef ASYNC__EXPIRED_FLAG /* (the tests' mcu configuration sets it 0 on the host) */
#define ASYNC__EXPIRED_FLAG (!ASYNC__BARE_32)
#endif

/* L->current outside a step.  Where F_EXPIRED is kept (hosts), it is
 * ASYNC__NO_TASK, a task header that no task is (async__no_task, read
 * only) whose flags carry F_CANCEL | F_EXPIRED: so an await's
 * interruption check, which reads the flags anyway, takes its slow path
 * outside a task and tells the sentinel apart there, and "in a task?"
 * costs the usual path nothing (on a yield, the step's own test of it
 * is then known to pass: two instructions a round trip).  Elsewhere it
 * is NULL, as before: the two-byte check gains nothing from it, and
 * the object would cost the Cortex-M0+ core its bytes.  A property of
 * the target, as ASYNC__EXPIRED_FLAG.  Every test of "outside a task"
 * compares with ASYNC__NO_TASK; async_current() still returns NULL
 * there.  ASYNC__NO_TASK_NULL(t): t may be NULL for "no task" (a test
 * a reader of the flags must make first).                              */
#define ASYNC__NO_TASK_SENTINEL ASYNC__EXPIRED_FLAG
#if ASYNC__NO_TASK_SENTINEL
extern const async_task async__no_task;
#define ASYNC__NO_TASK ((async_task *)(void *)&async__no_task)
#define ASYNC__NO_TASK_NULL(t) 0
#else
#define ASYNC__NO_TASK ((async_task *)NULL)
#define ASYNC__NO_TASK_NULL(t) ((t) == NULL)
#endif
/* Tell the compiler what an invariant makes true (GCC, Clang): nothing
 * is tested.                                                            */
#if defined(__GNUC__)
#define ASYNC__ASSUME(c) ((c) ? (void)0 : __builtin_unreachable())
#else
#define ASYNC__ASSUME(c) ((void)0)
#endif

/* The interruption an await must report now: 0, ASYNC_ECANCELED or
 * ASYNC_ETIMEDOUT (an expired timeout scope).  Inline: every await asks.
 * Neither is set inside a shield that holds it back.                    */
typedef char async__interrupt_codes[ASYNC_ECANCELED == -1 && ASYNC_ETIMEDOUT == -2 ? 1 : -1];
static inline int async__interrupt_code(const async_loop *L)
{
    const async_task *t = L->current;
#if ASYNC__EXPIRED_FLAG
    if (!(t->base.flags & (ASYNC__F_CANCEL | ASYNC__F_EXPIRED))) {
        /* async__no_task has both flags: a task's test of it after
         * this one (a yield's) is known to pass, so the compiler drops it */
        ASYNC__ASSUME(t != ASYNC__NO_TASK);
        return 0;
    }
    if (t == ASYNC__NO_TASK) /* outside a task: no interruption, as before */
        return 0;
    /* read again (volatile): the test above is then one of memory, with
     * no copy of the flags kept for this rare path                     */
    return (*(const volatile uint8_t *)&t->base.flags & ASYNC__F_CANCEL) ? ASYNC_ECANCELED
                                                                        : ASYNC_ETIMEDOUT;
#else
    unsigned code; /* minus the code: ASYNC_ECANCELED -1, ASYNC_ETIMEDOUT -2 */
    if (t == NULL)
        return 0;
    code = (t->base.scope & 0x0Fu) ? 2u : 0u;
    if (t->base.flags & ASYNC__F_CANCEL)
        code = 1u;
    return -(int)code;
#endif
}

/* Size-first builds (ASYNC__SMALL, section 4): helpers kept out of
 * line, and one the compiler would call copied.                         */
/* The rounds a pass may run (see async_run_once): 1 + 64, so that a
 * spawn or a wake-up runs in the pass that made it (and a spawn + join
 * costs no pass of its own), but tasks waking each other still leave
 * the loop to its timers, posts and port.  Size-first builds run one
 * round per pass, with yields queued as any other task: 60 bytes less
 * on Cortex-M0+, and the order of earlier versions.                   */
#if ASYNC__SMALL
#define ASYNC__ROUNDS 1u
#else
#define ASYNC__ROUNDS 65u
#endif

/* Pay for what you link: size-first builds call the code of a feature
 * that a firmware may never use (timeout scopes, cancellation, joins and
 * groups, posts) through a hook in the loop (L->hooks) that the feature
 * sets where it is first used, so a program that never calls it links
 * none of it.  The call through the hook is on that feature's paths
 * only.  Speed-first builds call it directly and set no hook.
 *   ASYNC__HOOK(L, name, fn)      what to call: the hook, or fn
 *   ASYNC__HOOK_SET(L, name, fn)  install fn (once the feature is used) */
#if ASYNC__SMALL
#define ASYNC__HOOK(L, name, fn) ((L)->hooks.name)
#define ASYNC__HOOK_SET(L, name, fn) ((void)((L)->hooks.name = (fn)))
#else
#define ASYNC__HOOK(L, name, fn) (fn)
#define ASYNC__HOOK_SET(L, name, fn) ((void)0)
#endif

#if defined(__GNUC__) && defined(__OPTIMIZE_SIZE__)
#define ASYNC__OUTLINE __attribute__((noinline))
#define ASYNC__INLINE __attribute__((always_inline))
#else
#define ASYNC__OUTLINE
#define ASYNC__INLINE
#endif
/* A rare path kept out of its caller (speed-first builds), so that the
 * caller's usual path needs no saved registers.                         */
#if defined(__GNUC__)
#define ASYNC__COLD __attribute__((noinline, cold))
#else
#define ASYNC__COLD
#endif

/* Queue a ready task at the end of a singly linked FIFO (`end` points
 * at its last node's next, or at its head): nothing ever unlinks a
 * ready task, so no back links.  Inline: a yield is just this.          */
static inline void async__fifo_push(async_node ***end, async_task *t)
{
    async_node *n = &t->base.node;
    t->base.state = ASYNC__S_READY;
    n->next = NULL;
    **end = n;
    *end = &n->next;
}

/* Queue a task on the run queue: it runs in this pass if one is under
 * way (see async_run_once), else in the next.                           */
static inline void async__enqueue(async_loop *L, async_task *t)
{
    async__fifo_push(&L->runq_end, t); /* initialised by async_loop_init */
}

/* Queue a task that gives way: it runs in the next pass, after every
 * task ready now and every one they make ready.  (Through a pointer
 * the loop sets: how many rounds a pass runs is the implementation's.) */
static inline void async__enqueue_yield(async_loop *L, async_task *t)
{
    async__fifo_push(L->yield_to, t);
}

/* async_yield's first half: queue the current task again.  0, or
 * ASYNC_EPERM outside a task.                                           */
static inline int async__give_way(async_loop *L)
{
    if (L->current == ASYNC__NO_TASK)
        return (ASYNC_CONF_ON_MISUSE(L, ASYNC_EPERM, __FILE__, __LINE__), ASYNC_EPERM);
    async__enqueue_yield(L, L->current);
    return 0;
}

/* async_woken without its argument checks: the ops' own (they check
 * theirs first), so that a resumed op pays for no second check.        */
static inline bool async__woken(async_loop *L, int *result)
{
    async_task *t = L->current; /* async__no_task is never woken */
    if (ASYNC__NO_TASK_NULL(t) || !(t->base.flags & ASYNC__F_WOKEN))
        return false;
    t->base.flags &= (uint8_t)~ASYNC__F_WOKEN;
    *result = t->base.u.result;
    return true;
}

static inline bool async_woken(async_loop *L, int *result)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(result))
        return ASYNC__REFUSED(L, false);
    return async__woken(L, result);
}

/* async_park for an op that has checked L and holds the current task t
 * (L->current): two stores instead of a call.  The first park on a loop
 * goes through async_park, which installs the interrupt hook that a
 * size-first core calls (the hook is set in every build, so that this
 * test holds whichever way each translation unit was compiled).       */
static inline int async__park_current(async_loop *L, async_task *t, async_waiter *w)
{
    if (L->hooks.interrupt == NULL)
        return async_park(L, w);
    t->base.node.next = (async_node *)(void *)w;
    t->base.state = ASYNC__S_WEXT;
    return ASYNC_PENDING;
}

/* async_unpark for the runtime's own waker, which knows that t is parked
 * on its waiter (it set that waiter's task at the park and clears it on
 * every other wake-up) and that result is not ASYNC_PENDING: the stores
 * and the enqueue without the misuse checks (debug builds keep them, and
 * report a failure to the misuse hook: a bug of the runtime's).  Private: applications and
 * other layers call async_unpark, which checks.                        */
static inline void async__unpark_parked(async_loop *L, async_task *t, async_waiter *w, int result)
{
#if ASYNC_CONF_DEBUG /* the runtime's own bug if these fail */
    if (t->base.state != ASYNC__S_WEXT || t->base.node.next != (async_node *)(void *)w ||
        result == ASYNC_PENDING)
        ASYNC_CONF_ON_MISUSE(L, ASYNC_EPERM, __FILE__, __LINE__);
#else
    (void)w;
#endif
    t->base.u.result = result;
    t->base.flags |= ASYNC__F_WOKEN;
    async__enqueue(L, t);
}

static inline int async_unpark(async_loop *L, async_task *t, async_waiter *w, int result)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(t) || ASYNC__NULL(w))
        return ASYNC__EINVAL(L);
    if (t->base.state != ASYNC__S_WEXT || t->base.node.next != (async_node *)(void *)w)
        return (ASYNC_CONF_ON_MISUSE(L, ASYNC_EPERM, __FILE__, __LINE__), ASYNC_EPERM);
    if (result == ASYNC_PENDING)
        return ASYNC__EINVAL(L);
    t->base.u.result = result;
    t->base.flags |= ASYNC__F_WOKEN;
    async__enqueue(L, t);
    return 0;
}

/* Queue sides (what one consumes the other produces), and whether to wait. */
enum { ASYNC__GET = 0, ASYNC__PUT = 1, ASYNC__QWAIT = 2 };
int async__queue_op(async_loop *L, async_queue *q, void *item, unsigned how);

/* ---- accessors and thin wrappers, inline: cheaper than a call ---- */

static inline async_tick async_now(const async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, 0);
    return L->now;
}

static inline async_tick async_loop_update_now(async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, 0);
    return L->now = L->port->now(L->port);
}

static inline unsigned async_loop_task_count(const async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, 0u);
    return L->ntasks;
}

static inline async_task *async_current(const async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, (async_task *)NULL);
    return L->current == ASYNC__NO_TASK ? NULL : L->current;
}

static inline enum async_task_state async_task_state(const async_task *t)
{
    if (ASYNC__NULL(t))
        return ASYNC__REFUSED(NULL, ASYNC_TASK_IDLE);
    return (enum async_task_state)(t->base.state >= ASYNC__S_WLIST ? (int)ASYNC_TASK_WAITING
                                   : t->base.state == ASYNC__S_FRESH ? (int)ASYNC_TASK_READY
                                                                     : (int)t->base.state);
}

static inline bool async_task_is_done(const async_task *t)
{
    if (ASYNC__NULL(t))
        return ASYNC__REFUSED(NULL, false);
    return t->base.state == ASYNC__S_DONE;
}

static inline bool async_task_is_cancelled(const async_task *t)
{
    if (ASYNC__NULL(t))
        return ASYNC__REFUSED(NULL, false);
#if ASYNC_CONF_EXTRAS
    return (t->base.flags & ASYNC__F_CANCEL) || (t->base.kind & ASYNC__K_HELD);
#else
    return (t->base.flags & ASYNC__F_CANCEL) != 0;
#endif
}

#if ASYNC_CONF_DEBUG
void async__debug_seen(const async_task *t);
#endif
static inline int async_task_result(const async_task *t)
{
    if (ASYNC__NULL(t))
        return ASYNC__EINVAL(NULL);
#if ASYNC_CONF_DEBUG
    if (t->unseen)
        async__debug_seen(t); /* its error has been read */
#endif
    return t->base.state == ASYNC__S_DONE ? t->base.u.result : ASYNC_EAGAIN;
}

static inline void async_task_set_name(async_task *t, const char *name)
{
    if (ASYNC__NULL(t)) {
        ASYNC__REFUSE(NULL);
        return;
    }
#if ASYNC_CONF_DEBUG
    t->name = name;
#else
    (void)t;
    (void)name;
#endif
}

static inline const char *async_task_name(const async_task *t)
{
    if (ASYNC__NULL(t))
        return ASYNC__REFUSED(NULL, "");
#if ASYNC_CONF_DEBUG
    return t->name ? t->name : "";
#else
    (void)t;
    return "";
#endif
}

static inline unsigned async_group_running_count(const async_group *g)
{
    if (ASYNC__NULL(g))
        return ASYNC__REFUSED(NULL, 0u);
    return g->running;
}

/* The two whole-group waits are one op, told apart by what else wakes
 * the waiter (0: only the last member's end; WAIT_ERR: a member's error
 * too).  async_group_next is an op of its own: a firmware links only
 * the waits it calls.                                                   */
int async__group_wait(async_loop *L, async_group *g, unsigned mode);

int async__gather(async_loop *L, async_task *const *tasks, unsigned n, bool join);

static inline int async_gather(async_loop *L, async_task *const *tasks, unsigned n)
{
    return async__gather(L, tasks, n, false);
}

static inline int async_group_wait(async_loop *L, async_group *g)
{
    return async__group_wait(L, g, 0);
}

static inline int async_group_wait_first_error(async_loop *L, async_group *g)
{
    return async__group_wait(L, g, ASYNC__GROUP_WAIT_ERR);
}

static inline void async_event_clear(async_event *ev)
{
    if (ASYNC__NULL(ev)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    ev->set = false;
}

static inline bool async_event_is_set(const async_event *ev)
{
    if (ASYNC__NULL(ev))
        return ASYNC__REFUSED(NULL, false);
    return ev->set;
}

static inline unsigned async_sem_count(const async_sem *s)
{
    if (ASYNC__NULL(s))
        return ASYNC__REFUSED(NULL, 0u);
    return s->count;
}

static inline bool async_lock_is_locked(const async_lock *m)
{
    if (ASYNC__NULL(m))
        return ASYNC__REFUSED(NULL, false);
    return m->owner != NULL && !(m->owner->base.flags & ASYNC__F_HANDED);
}

static inline bool async_future_is_done(const async_future *f)
{
    if (ASYNC__NULL(f))
        return ASYNC__REFUSED(NULL, false);
    return f->ev.set;
}

static inline int async_future_result(const async_future *f)
{
    if (ASYNC__NULL(f))
        return ASYNC__EINVAL(NULL);
    return f->ev.set ? f->result : ASYNC_EAGAIN;
}

static inline unsigned async_queue_count(const async_queue *q)
{
    if (ASYNC__NULL(q))
        return ASYNC__REFUSED(NULL, 0u);
    return q->count;
}

static inline bool async_queue_is_closed(const async_queue *q)
{
    if (ASYNC__NULL(q))
        return ASYNC__REFUSED(NULL, false);
    return q->closed;
}

static inline int async_cond_notify_all(async_loop *L, async_cond *c)
{
    return async_cond_notify(L, c, UINT_MAX);
}

#if ASYNC_CONF_EXTRAS
static inline unsigned async_queue_unfinished_count(const async_queue *q)
{
    if (ASYNC__NULL(q))
        return ASYNC__REFUSED(NULL, 0u);
    return q->unfinished;
}

static inline bool async_barrier_is_broken(const async_barrier *b)
{
    if (ASYNC__NULL(b))
        return ASYNC__REFUSED(NULL, false);
    return b->broken;
}

static inline bool async_handle_is_pending(const async_handle *h)
{
    if (ASYNC__NULL(h))
        return ASYNC__REFUSED(NULL, false);
    return h->base.state != ASYNC__S_IDLE;
}
#endif

static inline int async_queue_put(async_loop *L, async_queue *q, const void *item)
{
    return async__queue_op(L, q, (void *)(uintptr_t)item, ASYNC__PUT | ASYNC__QWAIT);
}

static inline int async_queue_get(async_loop *L, async_queue *q, void *item)
{
    return async__queue_op(L, q, item, ASYNC__GET | ASYNC__QWAIT);
}

static inline int async_queue_try_put(async_loop *L, async_queue *q, const void *item)
{
    return async__queue_op(L, q, (void *)(uintptr_t)item, ASYNC__PUT);
}

static inline int async_queue_try_get(async_loop *L, async_queue *q, void *item)
{
    return async__queue_op(L, q, item, ASYNC__GET);
}

static inline int async_notify_take(async_loop *L, async_notify *n)
{
    return async_sem_acquire(L, ASYNC__NULL(n) ? (async_sem *)NULL : &n->sem);
}

/* Ends a coroutine with rc (async_return turned ASYNC_PENDING into
 * ASYNC_EINVAL): closes its scopes and zeroes its frame; returns rc.    */
int async__co_end(async_loop *L, async_co *co, int rc);
/* Size-first awaits: an await's start (store the resume point lc, then
 * return the interruption to report: async__interrupt_code out of line;
 * with co->lc, the interruption alone).                                 */
int async__await_enter(async_loop *L, async_co *co, int lc);
int async__until(async_loop *L, bool truth);
/* `mode`: ASYNC__K_TIMEOUT (ticks from now), ASYNC__K_AT (a deadline) or
 * ASYNC__K_SHIELD (ticks from now, 0: no deadline).                     */
int async__timeout_begin(async_loop *L, async_co *co, async_timeout *to, async_tick when,
                         unsigned mode);
#if ASYNC_CONF_EXTRAS
int async__locked_begin(async_loop *L, async_co *co, async_locked *held, async_lock *m);
int async__locked_take(async_loop *L, async_locked *held);
#endif
int async__scope_end(async_loop *L, async_co *co, async_timeout *to, unsigned kind);
int async__scope_pop(async_loop *L, async_co *co);
void async__scopes_close(async_loop *L, async_co *co);
/* For drivers with a run loop of their own (the libev layer): bracket
 * it as async_run does, so debug mode reports unretrieved errors.      */
#if ASYNC_CONF_DEBUG
void async__run_begin(async_loop *L);
void async__run_end(async_loop *L);
#else
static inline void async__run_begin(async_loop *L)
{
    (void)L;
}
static inline void async__run_end(async_loop *L)
{
    (void)L;
}
#endif

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_H */

/* ======================================================================
 * 8. Implementation
 * ====================================================================== */
#if defined(ASYNC_IMPLEMENTATION) && !defined(ASYNC__IMPLEMENTED)
#define ASYNC__IMPLEMENTED

#if ASYNC__NO_TASK_SENTINEL
/* L->current outside a step (see ASYNC__NO_TASK): read only, its flags
 * what an await's interruption check takes the slow path for.          */
const async_task async__no_task = {
    {{NULL, NULL}, {0}, 0u, ASYNC__S_IDLE, (uint8_t)(ASYNC__F_CANCEL | ASYNC__F_EXPIRED), 0u},
    NULL,
    {NULL}
#if ASYNC_CONF_TASK_LIST
    , {NULL, NULL}
#endif
#if ASYNC_CONF_DEBUG
    , NULL, NULL, NULL, 0, false
#endif
};
#endif

#if ASYNC_CONF_DEBUG && defined(__STDC_HOSTED__) && __STDC_HOSTED__
#include <stdio.h>
#include <stdlib.h>
#define ASYNC__HOSTED 1
#else
#define ASYNC__HOSTED 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define ASYNC__MISUSE(L, code) (ASYNC_CONF_ON_MISUSE((L), (code), __FILE__, __LINE__), (code))

/* An op's first step, after its argument checks: true when the call is
 * over - *rc holds the result of the wake-up that resumed this await,
 * or ASYNC_EPERM (hook) outside any task, where nothing could resume it
 * (so an op that would not even suspend is refused there too).  Out of
 * line in size-first builds: one call instead of two tests per op.     */
static ASYNC__OUTLINE bool async__op_over(async_loop *L, int *rc)
{
    async_task *t = L->current;
    if (t == ASYNC__NO_TASK) {
        *rc = ASYNC__MISUSE(L, ASYNC_EPERM);
        return true;
    }
    if (!(t->base.flags & ASYNC__F_WOKEN)) /* async__woken's, for a known task */
        return false;
    t->base.flags &= (uint8_t)~ASYNC__F_WOKEN;
    *rc = t->base.u.result;
    return true;
}

static async_task *async__task_of(async_node *n)
{
    return (async_task *)(void *)n; /* the node is the first member */
}

static void async__copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n--)
        *d++ = *s++;
}

/* ---- lists: circular with a sentinel head; a zeroed head is empty ---- */

static inline ASYNC__INLINE bool async__list_empty(const async_node *h)
{
    return h->next == NULL || h->next == h;
}

static void async__list_insert_after(async_node *pos, async_node *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static void async__list_append(async_node *h, async_node *n)
{
    if (h->next == NULL)
        h->next = h->prev = h;
    async__list_insert_after(h->prev, n);
}

static ASYNC__OUTLINE void async__list_remove(async_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

/* Remove and return the first node, or NULL. */
static async_node *async__list_pop(async_node *h)
{
    async_node *n = async__list_empty(h) ? NULL : h->next;
    if (n)
        async__list_remove(n);
    return n;
}

#if !ASYNC__WLEVELS || ASYNC__WFAR
static async_tick async__when(const async_node *n)
{
    return ((const async_timed *)(const void *)n)->u.when;
}

/* Insert into a list sorted by expiry, after the timers due no later
 * (equal expiries keep arming order).  Walks from the latest: periodic
 * timers, the common case in firmware, land at or near the end.        */
static void async__sorted_insert(async_node *h, async_timed *tm)
{
    async_node *pos;
    for (pos = h->prev; pos != h && async_tick_after(async__when(pos), tm->u.when); pos = pos->prev)
        ;
    async__list_insert_after(pos, &tm->node);
}
#endif

/* Whether the timers a pass fires wait on L->due first (see the sorted
 * list below).                                                          */
#if ASYNC__WLEVELS == 0 && !ASYNC_CONF_EXTRAS
#define ASYNC__DUE_LIST 0
#else
#define ASYNC__DUE_LIST 1
#endif

#if ASYNC__DUE_LIST
/* Queue what fires at the start of the next pass: L->due is set up by
 * async_loop_init, so no lazy head (whose test and constants the pass,
 * where finishing a task may queue a done callback, would carry).     */
static inline void async__due_append(async_loop *L, async_node *n)
{
    async__list_insert_after(L->due.prev, n);
}

static inline bool async__due_empty(const async_loop *L)
{
    return L->due.next == &L->due;
}
#else
#define async__due_empty(L) true
#endif

/* ---- timers: the wheel (LEVELS >= 1) ----
 * A timer sits at the highest digit (level) where its expiry differs from
 * wnow, in the slot named by its expiry's digit there.  When wnow reaches
 * that slot's start its timers are refiled lower; at level 0 they are due.
 * Below the top, occupied slots lie strictly ahead of wnow's digit; the
 * top level may also hold slots of later turns.  On wheels with bitmaps
 * a bit is set while its slot may be occupied, cleared lazily when found
 * empty, so removing a timer is a plain list removal.  A timer further
 * than the wheel's span waits on L->far (sorted) until wnow reaches the
 * point where it comes within the span: so it costs no refiling on the
 * way, and an idle loop is told its exact expiry (one wake-up).          */

#if ASYNC__WLEVELS
#if ASYNC__WFAR
#define ASYNC__WSPAN ((async_tick)1 << (ASYNC__WBITS * ASYNC__WLEVELS))
#endif
static async_tick async__pow2(unsigned n)
{
    return n >= ASYNC_CONF_TICK_BITS ? (async_tick)0 : (async_tick)((async_tick)1 << n);
}

static unsigned async__digit(async_tick t, unsigned level)
{
    return (unsigned)(t >> (ASYNC__WBITS * level)) & (ASYNC__WSLOTS - 1u);
}

#if ASYNC__WMAP
static unsigned async__ctz(async__wmap m)
{
#if defined(__GNUC__) && ASYNC__WBITS == 6
    return (unsigned)__builtin_ctzll(m);
#elif defined(__GNUC__) && ASYNC__WBITS == 5
    return (unsigned)__builtin_ctzl(m);
#else
    unsigned i = 0;
    while (!(m & 1u)) {
        m = (async__wmap)(m >> 1);
        i++;
    }
    return i;
#endif
}
#endif

/* The first occupied slot of a level after wnow's digit d, wrapping (only
 * the top level holds slots at or behind d).  *ahead: in this turn.     */
static bool async__wheel_first(async_loop *L, unsigned level, unsigned d, unsigned *slot,
                               bool *ahead)
{
#if ASYNC__WMAP
    for (;;) { /* clearing stale bits as they are found */
        async__wmap map = L->wmap[level], in_turn;
        if (map == 0)
            return false;
        in_turn = (d + 1u < ASYNC__WSLOTS)
                      ? (async__wmap)(map & (async__wmap)((async__wmap)~(async__wmap)0 << (d + 1u)))
                      : 0;
        *ahead = in_turn != 0;
        *slot = async__ctz(in_turn ? in_turn : map);
        if (!async__list_empty(&L->wheel[level][*slot]))
            return true;
        L->wmap[level] = (async__wmap)(map & ~((async__wmap)1 << *slot));
    }
#else
    unsigned k;
    for (k = d + 1u; k <= d + ASYNC__WSLOTS; k++) {
        *slot = k & (ASYNC__WSLOTS - 1u);
        *ahead = k < ASYNC__WSLOTS;
        if (!async__list_empty(&L->wheel[level][*slot]))
            return true;
    }
    return false;
#endif
}

static void async__timer_insert(async_loop *L, async_timed *tm, async_tick when)
{
    unsigned level = 0, slot;
    async_tick diff = when ^ L->wnow;

    tm->u.when = when;
    if (!async_tick_after(when, L->wnow)) {
        async__due_append(L, &tm->node);
        return;
    }
#if ASYNC__WFAR
    if ((async_tick)(when - L->wnow) >= ASYNC__WSPAN) {
        async__sorted_insert(&L->far, tm);
        return;
    }
#endif
    while (level + 1 < ASYNC__WLEVELS && (diff >> (ASYNC__WBITS * (level + 1))) != 0)
        level++;
    slot = async__digit(when, level);
    async__list_append(&L->wheel[level][slot], &tm->node);
#if ASYNC__WMAP
    L->wmap[level] = (async__wmap)(L->wmap[level] | ((async__wmap)1 << slot));
#endif
}

/* Earliest expiry in a slot of at most 16 timers; false if larger. */
static bool async__slot_min(const async_node *h, async_tick *min)
{
    const async_node *n = h->next;
    unsigned k = 0;
    *min = ((const async_timed *)(const void *)n)->u.when;
    for (; n != h; n = n->next) {
        async_tick when = ((const async_timed *)(const void *)n)->u.when;
        if (++k > 16u)
            return false;
        if (async_tick_before(when, *min))
            *min = when;
    }
    return true;
}

/* The next moment the wheel must process (due timers aside): the start
 * of the first occupied slot over all levels, or where the first far
 * timer comes within the span.  With `exact`, a slot of few timers
 * reports their earliest expiry instead when it lies inside the slot's
 * current span (later slots of its level start after it), and a far
 * timer its expiry, so an idle port does not wake just to refile.      */
/* The next expiry to process, or (not exact) the earliest point where a
 * far timer joins the wheel.                                            */
static bool async__timers_scan(async_loop *L, async_tick *out, bool exact)
{
    bool found = false;
    unsigned level;
#if ASYNC__WMAP
    async__wmap any = 0;
    for (level = 0; level < ASYNC__WLEVELS; level++)
        any |= L->wmap[level];
#endif
#if ASYNC__WFAR
    if (!async__list_empty(&L->far)) {
        *out = async__when(L->far.next);
        if (!exact)
            *out = (async_tick)(*out - (ASYNC__WSPAN - 1u));
        found = true;
    }
#endif
#if ASYNC__WMAP
    if (any == 0) /* the common case of a busy server: no timer at all */
        return found;
#endif

    for (level = 0; level < ASYNC__WLEVELS; level++) {
        unsigned shift = ASYNC__WBITS * level, slot;
        async_tick turn = async__pow2(shift + ASYNC__WBITS), at, min;
        bool ahead;

        if (!async__wheel_first(L, level, async__digit(L->wnow, level), &slot, &ahead))
            continue;
        at = (async_tick)((L->wnow & (async_tick)~(async_tick)(turn - 1u)) + (ahead ? 0 : turn) +
                          ((async_tick)slot << shift));
        if (exact && level > 0 && async__slot_min(&L->wheel[level][slot], &min) &&
            (async_tick)(min - at) < async__pow2(shift))
            at = min;
        if (!found || async_tick_before(at, *out))
            *out = at;
        found = true;
    }
    return found;
}

/* Whether any timer may be armed: false for certain when no slot bit is
 * set and the far list is empty (bits are cleared lazily by the scan). */
static inline bool async__timers_maybe(const async_loop *L)
{
#if ASYNC__WMAP
    async__wmap any = 0;
    unsigned level;
    for (level = 0; level < ASYNC__WLEVELS; level++)
        any |= L->wmap[level];
    return any != 0
#if ASYNC__WFAR
           || !async__list_empty(&L->far)
#endif
        ;
#else
    (void)L;
    return true;
#endif
}

/* Each pass asks, and most find no timer at all: that answer inline.   */
static inline bool async__timers_next(async_loop *L, async_tick *out, bool exact)
{
    if (!async__timers_maybe(L))
        return false;
    return async__timers_scan(L, out, exact);
}

/* wnow has reached moment m: refile the slots that start at m (top level
 * first) and move level 0's slot to the due list.                        */
static void async__wheel_process(async_loop *L, async_tick m)
{
    unsigned level = ASYNC__WLEVELS;

    while (level-- > 0) {
        unsigned slot = async__digit(m, level);
        async_node *h = &L->wheel[level][slot], *n, *last;

        if (async__list_empty(h) || (m & (async_tick)(async__pow2(ASYNC__WBITS * level) - 1u)))
            continue;
        last = h->prev; /* refiled timers may come back to this slot: stop at last */
        do {
            n = async__list_pop(h);
            async__timer_insert(L, (async_timed *)(void *)n, ((async_timed *)(void *)n)->u.when);
        } while (n != last);
    }
}

/* The wheel moved up to now, firing on the way: a loop over the moments
 * that start a slot, which a pass with no timer armed never enters.    */
#if !ASYNC__SMALL && defined(__GNUC__)
__attribute__((noinline))
#endif
static void async__timers_walk(async_loop *L, async_tick now)
{
    async_tick m;
    while (async__timers_next(L, &m, false) && !async_tick_after(m, now)) {
        L->wnow = m;
#if ASYNC__WFAR
        /* far timers now within the span join the wheel */
        while (!async__list_empty(&L->far) &&
               (async_tick)(async__when(L->far.next) - m) < ASYNC__WSPAN) {
            async_node *n = async__list_pop(&L->far);
            async__timer_insert(L, (async_timed *)(void *)n, async__when(n));
        }
#endif
        async__wheel_process(L, m);
    }
}

/* Speed-first builds test for a timer inline and walk out of line: the
 * walk's set-up (its locals, the far list's loop) is then not paid by
 * every pass of a loop with no timer armed (-6 a pass).                */
#if ASYNC__SMALL
static void async__timers_advance(async_loop *L, async_tick now)
{
    async__timers_walk(L, now);
#else
static inline void async__timers_advance(async_loop *L, async_tick now)
{
    if (async__timers_maybe(L))
        async__timers_walk(L, now);
#endif
    if (async_tick_after(now, L->wnow))
        L->wnow = now;
}
#else /* ASYNC__WLEVELS == 0 */
/* ---- timers: one list sorted by expiry (LEVELS = 0) ----
 * Every armed expiry lies within ASYNC_TICK_MAX_DELAY after wnow, so the
 * wrap-safe comparison orders them all.
 * Without the extras only timers become due (no callbacks), and firing
 * one arms none: a pass fires the due head of the list in place, in
 * order, and L->due stays empty (ASYNC__DUE_LIST 0: 88 bytes less on
 * Cortex-M0+).  With callbacks, what they arm while the pass fires must
 * wait for the next pass: the due timers are moved to L->due first.    */
static void async__fire(async_loop *L, async_timed *tm);

static void async__timer_insert(async_loop *L, async_timed *tm, async_tick when)
{
    tm->u.when = when;
#if ASYNC__DUE_LIST
    /* Unreachable: sleeps and scopes insert only deadlines after now,
     * and now >= wnow here (unlike the wheel, which refiles).  Until
     * c6c704b, test/model/known/max_delay_after_update_now.c got in.
     * (Without L->due such a timer sorts first and fires next pass.)    */
    if (!async_tick_after(when, L->wnow)) {
        async__due_append(L, &tm->node); /* LCOV_EXCL_LINE: see above */
        return;                                 /* LCOV_EXCL_LINE */
    }
#endif
    async__sorted_insert(&L->timers, tm);
}

static bool async__timers_next(async_loop *L, async_tick *out, bool exact)
{
    (void)exact; /* always exact */
    if (async__list_empty(&L->timers))
        return false;
    *out = async__when(L->timers.next);
    return true;
}

static void async__timers_advance(async_loop *L, async_tick now)
{
    async_node *n; /* the list is set up by async_loop_init: no lazy head */
    while ((n = L->timers.next) != &L->timers && !async_tick_after(async__when(n), now)) {
        async__list_remove(n);
#if ASYNC__DUE_LIST
        async__due_append(L, n);
#else
        async__fire(L, (async_timed *)(void *)n); /* may unlink the next: read again */
#endif
    }
    if (async_tick_after(now, L->wnow))
        L->wnow = now;
}
#endif

/* ---- run queue, waiting and waking ---- */

/* Make a detached task ready with a result for its await to take. */
/* The core's enqueue (its callers' one copy at -Os).                  */
static ASYNC__OUTLINE void async__ready(async_loop *L, async_task *t)
{
    async__enqueue(L, t);
}

static ASYNC__OUTLINE void async__resume(async_loop *L, async_task *t, int result)
{
    t->base.u.result = result;
    t->base.flags |= ASYNC__F_WOKEN;
    async__ready(L, t);
}

static bool async__waiting(const async_task *t)
{
    return t->base.state >= ASYNC__S_WLIST;
}

/* async__detach tells the two slot waits apart from the rest in one
 * test: WJOIN even, WGROUP the next.                                    */
typedef char async__slot_states[ASYNC__S_WJOIN % 2 == 0 &&
                                        ASYNC__S_WGROUP == ASYNC__S_WJOIN + 1 ? 1 : -1];
/* async__set_expired computes F_EXPIRED as bit 3.                       */
typedef char async__expired_bit[ASYNC__F_EXPIRED == 8u ? 1 : -1];

/* Unlink a suspended task from whatever it waits on. */
static void async__detach(async_loop *L, async_task *t)
{
    uint8_t s = t->base.state;
    if ((s >> 1) == (ASYNC__S_WJOIN >> 1)) { /* WJOIN or WGROUP: a slot */
        *(async_task **)(void *)t->base.node.next = NULL;
    } else if (s == ASYNC__S_WEXT) {
        async_waiter *w = (async_waiter *)(void *)t->base.node.next;
        w->detach(L, w, t);
    } else {
        async__list_remove(&t->base.node);
    }
}

/* A task known to wait somewhere: unlink it, and resume it with result. */
static ASYNC__OUTLINE void async__wake_parked(async_loop *L, async_task *t, int result)
{
    async__detach(L, t);
    async__resume(L, t, result);
}

/* async_wake without its argument checks, for the core's own wake-ups:
 * t may be NULL (a finished task nobody joins), and nothing happens.   */
static void async__wake(async_loop *L, async_task *t, int result)
{
    if (t == NULL || !async__waiting(t))
        return;
    async__wake_parked(L, t, result);
}

void async_wake(async_loop *L, async_task *t, int result)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(t)) {
        ASYNC__REFUSE(L);
        return;
    }
    async__wake(L, t, result);
}

/* Request t's cancellation: 0 (interrupt it now), 1 (held back by its
 * shields until the last one closes: a success all the same), or
 * async_cancel's error codes.                                           */
#if !ASYNC__SMALL
/* The step of a task cancelled before its first one: its own function
 * does not run, and async__step_look finishes it, a quiet step.        */
static int async__fresh_cancelled(async_loop *L, async_task *t)
{
    (void)L;
    t->base.state = ASYNC__S_FRESH;
    return ASYNC_PENDING;
}
#endif

static int async__cancel_mark(async_loop *L, async_task *t)
{
    (void)L; /* unused when the misuse hook is a no-op */
    if (t->base.state == ASYNC__S_IDLE)
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (t->base.state == ASYNC__S_DONE)
        return ASYNC_EDONE;
    if (async_task_is_cancelled(t))
        return ASYNC_EALREADY;
#if ASYNC_CONF_EXTRAS
    if (ASYNC__SHIELDS(t)) { /* held back until its last shield closes */
        t->base.kind |= ASYNC__K_HELD;
        return 1;
    }
#endif
#if !ASYNC__SMALL
    if (t->base.state == ASYNC__S_FRESH) /* not to run: its step finishes it */
        t->fn = async__fresh_cancelled;
#endif
    t->base.flags |= ASYNC__F_CANCEL;
    return 0;
}

/* The group a task waits for (state ASYNC__S_WGROUP).                   */
static async_group *async__waited_group(const async_task *t)
{
    return (async_group *)(void *)((char *)t->base.node.next - offsetof(async_group, waiter));
}

/* Deliver a cancellation or a timeout, `code`, to a task.  A task
 * joining a task, or waiting for a whole group, stays where it is and
 * drains: what it waits for is cancelled now, and its wait reports the
 * interruption once that has finished.  Interrupting on the spot, rather
 * than when the waiter next runs, leaves no window in which the target
 * could be re-spawned or another waiter take the slot.  A draining task
 * is left alone; any other is woken with the code.
 * Depth first (what a task joins, or a group's members in slot order,
 * then what each of them joins...), iteratively, in a bounded stack
 * however long the chain (MISRA C 17.2).  A join has one task to cancel,
 * so it goes straight on to it; a group's waiter keeps its place among
 * the members (u.result) and the way back (node.prev: the group waiter
 * above it, NULL for none), both unused in a slot wait.  O(tasks).     */
static void async__interrupt(async_loop *L, async_task *t, int code)
{
    async_task *up = NULL; /* the group waiter cancelling its members */

    for (;;) {
        async_task *c = NULL; /* the next task to cancel */
        uint8_t s = t->base.state;
        char *slot = (char *)t->base.node.next;
        if (t->base.flags & ASYNC__F_DRAIN) {
            /* left alone */
        } else if (s == ASYNC__S_WJOIN) {
            t->base.flags |= ASYNC__F_DRAIN;
            c = (async_task *)(void *)(slot - offsetof(async_task, joiner));
        } else if (s == ASYNC__S_WGROUP &&
                   !(((async_group *)(void *)(slot - offsetof(async_group, waiter)))->flags &
                     ASYNC__GROUP_WAIT_ANY)) {
            t->base.flags |= ASYNC__F_DRAIN;
            t->base.u.result = 0;
            t->base.node.prev = (async_node *)(void *)up;
            up = t;
        } else if (async__waiting(t)) { /* (a ready or running one finds out at its next await) */
            async__wake_parked(L, t, code);
        }
        for (;;) {
            async_group *g;
            unsigned i;
            if (c != NULL && async__cancel_mark(L, c) == 0)
                break;
            if (up == NULL)
                return;
            g = async__waited_group(up);
            i = (unsigned)up->base.u.result++;
            if (i < g->count) {
                c = g->slots[i];
            } else {
                c = NULL;
                up = (async_task *)(void *)up->base.node.prev; /* back up */
            }
        }
        t = c;
        code = ASYNC_ECANCELED;
    }
}

static async_task *async__wake_first(async_loop *L, async_node *list, int result)
{
    async_task *t;
    if (async__list_empty(list))
        return NULL;
    /* a task on a primitive's list waits there (ASYNC__S_WLIST) */
    async__wake_parked(L, t = async__task_of(list->next), result);
    return t; /* the one woken */
}

static void async__wake_all(async_loop *L, async_node *list, int result)
{
    while (async__wake_first(L, list, result))
        ;
}

/* Suspend the current task on a list in a given waiting state.  Every
 * caller has refused a call outside a task already (async__op_over, or
 * its own test of L->current): there is one.                           */
static ASYNC__OUTLINE int async__suspend(async_loop *L, async_node *list, uint8_t state)
{
    async_task *t = L->current;
    async__list_append(list, &t->base.node);
    t->base.state = state;
    return ASYNC_PENDING;
}

#define async__wait_on(L, list) async__suspend((L), (list), ASYNC__S_WLIST)

/* Suspend the current task until whoever owns *slot wakes it (state is
 * ASYNC__S_WJOIN or ASYNC__S_WGROUP); the slot is cleared if something
 * else wakes it first.                                                   */
static int async__wait_in_slot(async_task *self, async_task **slot, uint8_t state)
{
    *slot = self;
    self->base.node.next = (async_node *)(void *)slot;
    self->base.state = state;
    return ASYNC_PENDING;
}

/* L->hooks.interrupt: a task its op has parked (ASYNC__S_WEXT), found by
 * a cancel or an expiry while it sat in the run queue (nothing parked
 * to wake then): interrupt it now, after the op has set up what its
 * detach undoes.  Not while draining (shielded).  Size-first builds call
 * it; speed-first ones only test that it is set (async__park_current). */
static void async__park_interrupt(async_loop *L, async_task *t)
{
    int rc = async__interrupt_code(L);
    if (rc != 0)
        async__interrupt(L, t, rc);
}

int async_park(async_loop *L, async_waiter *w)
{
    async_task *t;
    if (ASYNC__NULL(L) || ASYNC__NULL(w))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if ((t = L->current) == ASYNC__NO_TASK)
        return ASYNC__MISUSE(L, ASYNC_EPERM);
    /* async__step interrupts a parked task that a cancel or a timeout
     * found in the run queue: only a parked one needs it called there.
     * Set in every build: async__park_current tests it.               */
    L->hooks.interrupt = async__park_interrupt;
    t->base.node.next = (async_node *)(void *)w;
    t->base.state = ASYNC__S_WEXT;
    return ASYNC_PENDING;
}

int async_park_shielded(async_loop *L, async_waiter *w)
{
    int rc = async_park(L, w);
    if (rc == ASYNC_PENDING)
        L->current->base.flags |= ASYNC__F_DRAIN;
    return rc;
}

/* ---- interruption: cancellation and scopes ----
 * A task's `scope` byte holds its open scope depth (high nibble) and the
 * depth of the outermost expired scope it must report (low nibble); its
 * `kind` high nibble the depth of its innermost open shield.  An expiry
 * outside that shield is held back: the scope waits on L->held until the
 * shield closes, and is reported from then on.                           */

/* Where a delay armed now counts from: the clock, read at this call, not
 * the start of the pass.  The timer store orders expiries up to
 * ASYNC_TICK_MAX_DELAY past the pass's start (wnow): a delay that would
 * reach beyond (one within the time this pass has taken of the maximum)
 * counts from the start of the pass instead.                            */
static ASYNC__OUTLINE async_tick async__arm_now(async_loop *L, async_tick ticks)
{
    async_tick now = L->now = L->port->now(L->port);
    return (async_tick)(now - L->wnow) > (async_tick)(ASYNC_TICK_MAX_DELAY - ticks) ? L->wnow : now;
}

/* The depth of the outermost expired scope t must report (0: none), in
 * its scope byte's low nibble and, for the awaits' one test, F_EXPIRED. */
static void async__set_expired(async_task *t, unsigned depth)
{
    t->base.scope = (uint8_t)((t->base.scope & 0xF0u) | depth);
#if ASYNC__EXPIRED_FLAG /* depth 1..15 gives F_EXPIRED (8), 0 nothing: no branch */
    t->base.flags = (uint8_t)((t->base.flags & ~ASYNC__F_EXPIRED) | (((depth + 15u) >> 1) & 8u));
#endif
}

static void async__expired(async_task *t, unsigned depth)
{
    unsigned expired = t->base.scope & 0x0Fu;
    if (expired == 0 || depth < expired)
        async__set_expired(t, depth);
}

static void async__timeout_expire(async_loop *L, async_timeout *to)
{
    async_task *t = to->owner;

    to->base.flags = 1;
#if ASYNC_CONF_EXTRAS
    if (to->base.state < ASYNC__SHIELDS(t)) { /* outside a shield: later */
        async__list_append(&L->held, &to->base.node);
        return;
    }
#endif
    async__expired(t, to->base.state);
    async__interrupt(L, t, ASYNC_ETIMEDOUT);
}

/* The macros pass each argument once, so they evaluate it once.         */
int async__timeout_begin(async_loop *L, async_co *co, async_timeout *to, async_tick when,
                         unsigned mode)
{
    async_task *t = L->current;
    async_tick deadline = when;
    unsigned depth;

    if (t == ASYNC__NO_TASK || ASYNC__NULL(to) || (mode != ASYNC__K_AT && when > ASYNC_TICK_MAX_DELAY))
        return ASYNC__MISUSE(L, t == ASYNC__NO_TASK ? ASYNC_EPERM : ASYNC__NULL(to) ? ASYNC_EINVAL : ASYNC_ERANGE);
    depth = (t->base.scope >> 4) + 1u;
    if (depth > 15u)
        return ASYNC__MISUSE(L, ASYNC_ENOSPC);
    ASYNC__HOOK_SET(L, expire, async__timeout_expire);
    ASYNC__HOOK_SET(L, scopes, async__scopes_close);
    to->owner = t;
    to->outer = co->scopes;
    co->scopes = to;
    to->base.kind = (uint8_t)(mode & 0x0Fu);
    to->base.state = (uint8_t)depth;
    to->base.flags = 0;
    to->base.node.next = NULL;
    t->base.scope = (uint8_t)(t->base.scope + 0x10u); /* depth << 4, what expired kept */
#if ASYNC_CONF_EXTRAS
    if (mode == ASYNC__K_SHIELD) {
        /* remember what it hides: the outer shield, and what expired */
        to->base.scope = (uint8_t)((t->base.kind & 0xF0u) | (t->base.scope & 0x0Fu));
        t->base.kind = (uint8_t)((depth << 4) | (t->base.kind & (ASYNC__K_HELD | ASYNC__K_INGROUP)) |
                                 (t->base.flags & ASYNC__F_CANCEL ? ASYNC__K_HELD : 0u));
        /* held until the last shield closes, as what has expired */
        t->base.flags &= (uint8_t)~(ASYNC__F_CANCEL | ASYNC__F_EXPIRED);
        t->base.scope &= 0xF0u;
        if (when == 0)
            return 0; /* no deadline of its own */
    }
#endif
    if (mode != ASYNC__K_AT)
        deadline = (async_tick)(async__arm_now(L, when) + when);
    if (async_tick_after(deadline, L->now))
        async__timer_insert(L, &to->base, deadline);
    else
        async__timeout_expire(L, to);
    return 0;
}

#if ASYNC_CONF_EXTRAS
int async__locked_begin(async_loop *L, async_co *co, async_locked *held, async_lock *m)
{
    if (L->current == ASYNC__NO_TASK || held == NULL || m == NULL)
        return ASYNC__MISUSE(L, L->current != ASYNC__NO_TASK ? ASYNC_EINVAL : ASYNC_EPERM);
    ASYNC__HOOK_SET(L, scopes, async__scopes_close);
    held->owner = L->current;
    held->outer = co->scopes;
    co->scopes = held;
    held->base.kind = ASYNC__K_LOCKED; /* no depth (state): nothing reads one */
    held->base.flags = 0;               /* not held yet */
    held->base.node.next = NULL;        /* on no list */
    held->base.node.prev = &m->waiters; /* the lock: waiters is its first member */
    return 0;
}

int async__locked_take(async_loop *L, async_locked *held)
{
    int rc = async_lock_acquire(L, (async_lock *)(void *)held->base.node.prev);
    if (rc == 0)
        held->base.flags = 1;
    return rc;
}

/* A shield closes: the shield it was inside (if any) is the innermost
 * again, and what it held back is reported from now on - what had
 * expired when it opened, and the scopes held on L->held that the shield
 * now innermost does not cover.  The task is running (it closes its own
 * scope): its next await sees it.                                       */
static void async__shield_close(async_loop *L, async_task *t, async_timeout *sh)
{
    unsigned outer = (unsigned)sh->base.scope >> 4, lo = sh->base.scope & 0x0Fu;
    async_node *n, *next;

    t->base.kind = (uint8_t)((outer << 4) | (t->base.kind & (ASYNC__K_HELD | ASYNC__K_INGROUP)));
    if (outer == 0 && (t->base.kind & ASYNC__K_HELD)) { /* the cancellation is back */
        t->base.kind &= (uint8_t)~ASYNC__K_HELD;
        t->base.flags |= ASYNC__F_CANCEL;
    }
    async__set_expired(t, lo);
    for (n = L->held.next; n && n != &L->held; n = next) {
        async_timeout *to = (async_timeout *)(void *)n;
        next = n->next;
        if (to->owner == t && to->base.state >= outer) {
            async__list_remove(n);
            async__expired(t, to->base.state);
        }
    }
}

#endif
/* Close the innermost scope of a coroutine: 0, or ASYNC_ETIMEDOUT if it
 * expired (a held lock's: what its release returns).  async_await_for's
 * end calls it directly: its scope is the innermost, opened in the same
 * expansion, and the op's result is what it reports.                   */
int async__scope_pop(async_loop *L, async_co *co)
{
    async_timeout *to = co->scopes;
    async_task *t = to->owner;
    unsigned depth = to->base.state, expired = t->base.scope & 0x0Fu;

    co->scopes = to->outer;
#if ASYNC_CONF_EXTRAS
    if (to->base.kind == ASYNC__K_LOCKED) /* held: release it */
        return to->base.flags ? async_lock_release(L, (async_lock *)(void *)to->base.node.prev) : 0;
#endif
    if (to->base.node.next) /* armed, or held back */
        async__list_remove(&to->base.node);
    if (expired >= depth)
        expired = 0;
    t->base.scope = (uint8_t)((depth - 1u) << 4);
    async__set_expired(t, expired);
#if ASYNC_CONF_EXTRAS
    if (to->base.kind == ASYNC__K_SHIELD)
        async__shield_close(L, t, to);
#else
    (void)L;
#endif
    return to->base.flags ? ASYNC_ETIMEDOUT : 0;
}

/* Close the innermost scope of this coroutine, which must be `to`, of
 * the kind the end macro names (ASYNC_EINVAL otherwise).               */
int async__scope_end(async_loop *L, async_co *co, async_timeout *to, unsigned kind)
{
    if (ASYNC__NULL(to) || co->scopes != to || to->owner != L->current || to->base.kind != kind)
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    return async__scope_pop(L, co);
}

void async__scopes_close(async_loop *L, async_co *co)
{
    while (co->scopes)
        (void)async__scope_pop(L, co);
}

#if !ASYNC__SMALL
/* async__co_end with scopes left open: out of line, so that the usual
 * end (none left) needs no frame of its own.                           */
static ASYNC__COLD int async__co_end_scoped(async_loop *L, async_co *co, int rc)
{
    async__scopes_close(L, co);
    co->lc = 0;
    co->flags = 0;
    co->rc = 0;
    return rc;
}
#endif

int async__co_end(async_loop *L, async_co *co, int rc)
{
    if (co->scopes) /* the usual end has none left: no call */
#if !ASYNC__SMALL
        return async__co_end_scoped(L, co, rc);
#else
        ASYNC__HOOK(L, scopes, async__scopes_close)(L, co);
#endif
    co->lc = 0;
    co->flags = 0;
    co->rc = 0;
    return rc;
}

int async__await_enter(async_loop *L, async_co *co, int lc)
{
    co->lc = (async_lc)lc;
    return async__interrupt_code(L);
}

/* ---- condition polling ---- */

/* async_until: an interruption that woke the task (a cancel or a timeout
 * while parked) or arrived while it sat in the run queue (a queued task
 * is not woken by one) ends the wait; else it parks on L->pollers until
 * `truth` holds.                                                        */
#if ASYNC__SMALL
static void async__recheck(async_loop *L);
#endif

int async__until(async_loop *L, bool truth)
{
    int rc;
    if (L->current == ASYNC__NO_TASK) /* a coroutine run outside a task */
        return ASYNC__MISUSE(L, ASYNC_EPERM);
    if (!async__woken(L, &rc))
        rc = async__interrupt_code(L);
    if (rc < 0 || truth) {
        /* The wait is over, so this step is no quiet re-check, even if
         * the task parks on another condition before it returns: what
         * it runs in between may be what other conditions wait for.    */
#if !ASYNC__SMALL
        /* F_RECHECK is only on a task parked here, and it resumes here;
         * one that parks here again keeps it for async__step_look.     */
        L->current->base.flags &= (uint8_t)~ASYNC__F_RECHECK;
#else
        L->progress = 1; /* the step cleared F_RECHECK and kept a copy */
#endif
        return rc; /* rc: 0 or an interruption */
    }
    ASYNC__HOOK_SET(L, recheck, async__recheck);
    return async__suspend(L, &L->pollers, ASYNC__S_WPOLL);
}

/* ---- tasks ---- */

static void async__group_member_done(async_loop *L, async_group *g, async_task *t, int rc);
#if ASYNC_CONF_DEBUG
static void async__debug_report(async_loop *L, const async_task *t, const char *event, long value);
#endif

static bool async__task_busy(const async_task *t)
{
    /* neither idle nor done (0 and 4): one test */
    return (t->base.state & ~ASYNC__S_DONE) != 0 || (t->base.kind & ASYNC__K_INGROUP);
}

int async_spawn(async_loop *L, async_task *t, async_task_fn fn)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(t) || ASYNC__NULL(fn))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__task_busy(t))
        return ASYNC__MISUSE(L, ASYNC_EBUSY);
#if ASYNC_CONF_DEBUG
    if (t->unseen) { /* its frame is reused: asyncio would collect it now */
        async__debug_report(L, t, "error never retrieved", (long)t->base.u.result);
        async__debug_seen(t);
    }
    t->file = t->what = NULL;
    t->line = 0;
#endif
    t->base.kind = ASYNC__K_TASK;
#if !ASYNC__SMALL
    t->base.state = ASYNC__S_FRESH; /* the four bytes in one store */
    t->base.flags = 0;
#else
    t->base.flags = ASYNC__F_FRESH;
#endif
    t->base.scope = 0;
    t->fn = fn;
    t->joiner.task = NULL;
    L->ntasks++;
#if ASYNC_CONF_TASK_LIST
    async__list_insert_after(L->all.prev, &t->all); /* set up by async_loop_init */
#endif
#if !ASYNC__SMALL
    t->base.node.next = NULL; /* async__enqueue, its state already stored */
    *L->runq_end = &t->base.node;
    L->runq_end = &t->base.node.next;
#else
    async__ready(L, t);
#endif
    return 0;
}

#if ASYNC_CONF_EXTRAS
/* A handle becomes due: it runs at the start of the next pass.          */
static void async__handle_due(async_loop *L, async_handle *h)
{
    h->base.state = ASYNC__S_WLIST;
    async__due_append(L, &h->base.node);
}

#if ASYNC__SMALL
/* Whoever waits in a task's joiner slot: a task, or a done callback.   */
static bool async__joiner_is_handle(const async_task *t)
{
    const async_timed *w = (const async_timed *)(const void *)t->joiner.task;
    return w && (w->kind & 0x0Fu) == ASYNC__K_CALL;
}
#endif

#endif
#if ASYNC__SMALL
/* L->hooks.finished, set by a join, a gather or a done callback: t has
 * finished with rc; tell its done callback or the task joining it (a
 * generic wake: it clears the slot).  A firmware with no group links
 * none of the group's bookkeeping: async_group_spawn installs
 * async__finished_group instead, which tells a group too.              */
static void async__finished(async_loop *L, async_task *t, int rc)
{
    (void)rc; /* unused without the extras */
#if ASYNC_CONF_EXTRAS
    if (async__joiner_is_handle(t)) {
        async__handle_due(L, (async_handle *)(void *)t->joiner.task);
        t->joiner.task = NULL;
    } else
#endif
    if (t->joiner.task) /* waits in WJOIN on t: its detach clears the slot */
        async__wake_parked(L, t->joiner.task, rc);
}

static void async__finished_group(async_loop *L, async_task *t, int rc)
{
    if (t->base.kind & ASYNC__K_INGROUP)
        async__group_member_done(L, t->joiner.group, t, rc);
    else
        async__finished(L, t, rc);
}
/* A join's hook: async__finished, unless a group has installed the one
 * that does both.                                                       */
#define ASYNC__FINISHED_HOOK_SET(L) \
    ((void)((L)->hooks.finished == NULL && ((L)->hooks.finished = async__finished, 1)))
#else
#define ASYNC__FINISHED_HOOK_SET(L) ((void)0)
#endif

/* A task ends with rc: async__finish's part once it is parked nowhere. */
static inline void async__finish_done(async_loop *L, async_task *t, int rc)
{
    t->base.state = ASYNC__S_DONE;
    t->base.u.result = rc;
    t->base.flags &= ASYNC__F_CANCEL; /* (F_EXPIRED with scope) */
    t->base.scope = 0; /* its coroutine closed its scopes (shields too) */
    L->ntasks--;
#if ASYNC_CONF_TASK_LIST
    t->all.prev->next = t->all.next; /* unlinked (the node is not read again) */
    t->all.next->prev = t->all.prev;
#endif
#if !ASYNC__SMALL
    if (t->base.kind & ASYNC__K_INGROUP) {
        async__group_member_done(L, t->joiner.group, t, rc);
    } else if (t->joiner.task) {
        /* Whoever waits in the slot is a done callback, or a task in
         * ASYNC__S_WJOIN on t (whatever woke it first cleared the slot):
         * its detach is the slot's clearing, and the generic wake's tests
         * can go.                                                       */
        async_task *j = t->joiner.task;
        t->joiner.task = NULL;
#if ASYNC_CONF_EXTRAS
        if (j->base.kind == ASYNC__K_CALL) /* (a task's kind & 3 is K_TASK) */
            async__handle_due(L, (async_handle *)(void *)j);
        else
#endif
            async__resume(L, j, rc);
#if ASYNC_CONF_DEBUG
    } else if (rc < 0 && rc != ASYNC_ECANCELED && L->tracking) {
        t->unseen = true; /* reported unless read before the run ends */
        async__list_append(&L->unseen, &t->all);
#endif
    }
#else /* size-first: whoever joins t is told through the hook the join set */
#if ASYNC_CONF_DEBUG
    if (!(t->base.kind & ASYNC__K_INGROUP) && t->joiner.task == NULL && rc < 0 &&
        rc != ASYNC_ECANCELED && L->tracking) {
        t->unseen = true; /* reported unless read before the run ends */
        async__list_append(&L->unseen, &t->all);
    }
#endif
    if (L->hooks.finished) /* set by the first join, group or done callback */
        L->hooks.finished(L, t, rc);
#endif
}

#if !ASYNC__SMALL
/* A task that returned a result while suspended (misuse): out of line. */
static ASYNC__COLD void async__finish_parked(async_loop *L, async_task *t, int rc)
{
    async__detach(L, t);
    (void)ASYNC__MISUSE(L, ASYNC_ESTATE);
    async__finish_done(L, t, rc);
}
#endif

/* A task's end: its result kept, its joiner (a task, a group, a done
 * callback) told.  Speed first, the usual end saves no registers: what
 * it calls, it calls last.                                             */
static void async__finish(async_loop *L, async_task *t, int rc)
{
    if (async__waiting(t)) { /* returned a result while suspended */
#if !ASYNC__SMALL
        async__finish_parked(L, t, rc);
        return;
#else
        async__detach(L, t);
        (void)ASYNC__MISUSE(L, ASYNC_ESTATE);
#endif
    }
    async__finish_done(L, t, rc);
}

#if !ASYNC__SMALL
/* After a step that returned ASYNC_PENDING in a state with
 * ASYNC__S_LOOK (see there): 1 if it was a condition re-check that
 * stayed false (it changed nothing other conditions could depend on),
 * else 0.  Out of the step's loop: the usual parked states skip it.    */
static unsigned async__step_look(async_loop *L, async_task *t)
{
    int rc;
    uint8_t s;
#if defined(__GNUC__)
    /* The state read again here, so that the step's test of S_LOOK
     * need not keep it: one test of memory there, no load.            */
    __asm__ __volatile__("" ::: "memory");
#endif
    s = t->base.state;
    if (s == ASYNC__S_RUNNING) { /* suspended with nothing to wake it */
        async__finish(L, t, ASYNC__MISUSE(L, ASYNC_ESTATE));
        return 0;
    }
    if (s == ASYNC__S_FRESH) { /* async__fresh_cancelled: it never runs */
        async__finish(L, t, ASYNC_ECANCELED);
        return 1;
    }
    /* An op woken by its external source with nothing for it (a
     * readable socket holding no data it can use) parks again.  A
     * cancel or an expired deadline that came while the task sat in
     * the run queue found nothing parked to wake: deliver it now, after
     * the op has set up what its detach() undoes.  (What a shield holds
     * back waits.)                                                      */
    if (s == ASYNC__S_WEXT && (rc = async__interrupt_code(L)) != 0)
        async__interrupt(L, t, rc); /* not while draining (shielded) */
    return (t->base.flags & ASYNC__F_RECHECK) && t->base.state == ASYNC__S_WPOLL;
}
#endif

/* One step of a task.  The common case - a started task with no flag to
 * look at (a yield, a sleep) - skips the flag bookkeeping.  Returns 1
 * for a quiet step (one that cannot have changed what a condition
 * tests: a re-check that stayed false, a task cancelled before it ran),
 * which async__run_once counts rather than storing L->progress every
 * step; else 0.  (Size-first builds store L->progress here and return
 * 0.)                                                                  */
static unsigned async__step(async_loop *L, async_task *t)
{
#if ASYNC__SMALL
    uint8_t flags = t->base.flags;
#endif
    int rc;

#if ASYNC__SMALL /* one test and one store for every case */
    if (flags != 0) {
        if ((flags & (ASYNC__F_CANCEL | ASYNC__F_FRESH)) == (ASYNC__F_CANCEL | ASYNC__F_FRESH)) {
            async__finish(L, t, ASYNC_ECANCELED); /* cancelled before it ran */
            return 0;
        }
        t->base.flags = (uint8_t)(flags & ~(ASYNC__F_FRESH | ASYNC__F_RECHECK));
    }
#else
    /* Nothing to test first: a woken task (F_WOKEN, for its op to take)
     * or a cancelled one (its await reports it) is stepped as any other,
     * a first step ends S_FRESH with the store of RUNNING (a task
     * cancelled before it has async__fresh_cancelled for its function),
     * and a re-check's F_RECHECK is async__until's to clear
     * (async__step_look reads it after the step).                      */
#endif
    t->base.state = ASYNC__S_RUNNING;
    L->current = t;
#if ASYNC_CONF_DEBUG
    {
        async_tick start = L->port->now(L->port), spent;
        rc = t->fn(L, t);
        spent = (async_tick)(L->port->now(L->port) - start);
        if (L->slow_step && spent >= L->slow_step)
            async__debug_report(L, t, "slow step", (long)spent);
    }
#else
    rc = t->fn(L, t);
#endif
#if !ASYNC__SMALL
    /* Parked as usual (a run queue, a wait list, a slot): one test. */
    if (rc == ASYNC_PENDING)
        return (t->base.state & ASYNC__S_LOOK) ? async__step_look(L, t) : 0u;
    async__finish(L, t, rc);
    return 0;
#else
    if (rc == ASYNC_PENDING && t->base.state != ASYNC__S_RUNNING) {
        /* Parked again by its external source, or an interruption that
         * came while it was queued: see async__step_look.               */
        if (t->base.state == ASYNC__S_WEXT)
            L->hooks.interrupt(L, t); /* set by async_park */
        /* Anything but a condition re-check that stayed false may have
         * changed what other conditions depend on. */
        if (!(flags & ASYNC__F_RECHECK) || t->base.state != ASYNC__S_WPOLL)
            L->progress = 1;
        return 0;
    }
    L->progress = 1;
    async__finish(L, t, rc != ASYNC_PENDING ? rc : ASYNC__MISUSE(L, ASYNC_ESTATE));
    return 0;
#endif
}

int async_cancel(async_loop *L, async_task *t)
{
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(t))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if ((rc = async__cancel_mark(L, t)) == 0)
        async__interrupt(L, t, ASYNC_ECANCELED);
    return rc > 0 ? 0 : rc; /* held back by a shield: cancelled all the same */
}

/* Shared by join and group wait: after an interruption, wait (draining)
 * for what was cancelled; report the interruption when it is over.      */
static inline ASYNC__INLINE int async__drain_end(async_loop *L, async_task *self)
{
    self->base.flags &= (uint8_t)~ASYNC__F_DRAIN;
    return async__interrupt_code(L);
}

int async_unshield(async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    return L->current != ASYNC__NO_TASK ? async__drain_end(L, L->current) : 0;
}

#if !ASYNC__SMALL
int async_join(async_loop *L, async_task *t)
{
    async_task *self;
    int rc;

    if (ASYNC__NULL(L))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    self = L->current;
    if (async__woken(L, &rc)) /* t finished: rc is its result */
        return (self->base.flags & ASYNC__F_DRAIN) ? async__drain_end(L, self) : rc;
    if (ASYNC__NULL(t)) /* not on the wake-up: a NULL t never parked */
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    /* idle or done (0 and 4: one test), outside a task, or itself */
    if ((t->base.state & ~ASYNC__S_DONE) == 0 || self == ASYNC__NO_TASK || t == self) {
        if (self == ASYNC__NO_TASK || t->base.state == ASYNC__S_IDLE || t == self)
            return ASYNC__MISUSE(L, self == ASYNC__NO_TASK ? ASYNC_EPERM : t == self ? ASYNC_EDEADLK : ASYNC_EINVAL);
        return async_task_result(t);
    }
    if (t->joiner.task)
        return ASYNC__MISUSE(L, ASYNC_EBUSY);
    return async__wait_in_slot(self, &t->joiner.task, ASYNC__S_WJOIN);
}
#endif

/* async_gather, and in size-first builds async_join (join: one task,
 * whose result is returned as it is, the one its end woke this task
 * with).  On each call: check every task, take the first error of the
 * finished ones, and wait in the first unfinished one's joiner slot (its
 * end wakes this task through async__finished, as for a join).  An
 * interruption (now, or taken in by the walk while parked: F_DRAIN)
 * cancels every unfinished task each time, so that the ones after the
 * task waited for are cancelled when that one has finished.            */
int async__gather(async_loop *L, async_task *const *tasks, unsigned n, bool join)
{
    async_task *self, *next = NULL;
    async_task *const *p;
    int err = 0;
    unsigned flags;

    if (ASYNC__NULL(L) || ASYNC__NULL(tasks))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    self = L->current;
    if (self == ASYNC__NO_TASK)
        return ASYNC__MISUSE(L, ASYNC_EPERM);
    flags = self->base.flags; /* F_WOKEN: woken by the end of the task waited for */
    self->base.flags = (uint8_t)(flags & ~(ASYNC__F_WOKEN | ASYNC__F_DRAIN));
    if (join && (flags & ASYNC__F_WOKEN)) {
        err = self->base.u.result; /* the joined task's, as its end gave it */
    } else {
        for (p = tasks + n; p != tasks;) { /* backwards: the last found is the first */
            async_task *t = *--p;
            int rc;
            if (ASYNC__NULL(t) || t->base.state == ASYNC__S_IDLE)
                return ASYNC__MISUSE(L, ASYNC_EINVAL);
            if (t->base.state == ASYNC__S_DONE) {
                rc = t->base.u.result;
                if (join || (rc < 0 && rc != ASYNC_ECANCELED))
                    err = rc;
            } else if (t == self) {
                return ASYNC__MISUSE(L, ASYNC_EDEADLK);
            } else if (t->joiner.task) { /* (a group member's is its group) */
                return ASYNC__MISUSE(L, ASYNC_EBUSY);
            } else {
                next = t;
            }
        }
        if (next != NULL) {
            /* An interruption, now or taken in by the walk while parked
             * (F_DRAIN), cancels the unfinished tasks (again at each
             * call: harmless; the finished ones answer ASYNC_EDONE).    */
            if (async__interrupt_code(L)) {
                self->base.flags |= ASYNC__F_DRAIN;
                while (p != tasks + n)
                    (void)async_cancel(L, *p++);
            }
            ASYNC__FINISHED_HOOK_SET(L); /* next tells self when it ends */
            return async__wait_in_slot(self, &next->joiner.task, ASYNC__S_WJOIN);
        }
    }
    /* all finished: an interruption taken in while waiting is reported */
    return (flags & ASYNC__F_DRAIN) ? async__interrupt_code(L) : err;
}

#if ASYNC__SMALL
/* A join is a gather of one that returns the task's result. */
int async_join(async_loop *L, async_task *t)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(t))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    return async__gather(L, &t, 1, true);
}
#endif

#if ASYNC_CONF_EXTRAS
int async_task_on_done(async_loop *L, async_task *t, async_handle *h, async_handle_fn fn)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(t) || ASYNC__NULL(h) || ASYNC__NULL(fn) ||
        t->base.state == ASYNC__S_IDLE || async_handle_is_pending(h))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    h->fn = fn;
    h->base.kind = ASYNC__K_CALL;
    if (t->base.state == ASYNC__S_DONE) {
        async__handle_due(L, h);
        return 0;
    }
    if (t->joiner.task || (t->base.kind & ASYNC__K_INGROUP))
        return ASYNC__MISUSE(L, ASYNC_EBUSY);
    /* it waits in t's joiner slot, as a joining task would */
    ASYNC__FINISHED_HOOK_SET(L);
    t->joiner.task = (async_task *)(void *)h;
    h->base.node.next = (async_node *)(void *)&t->joiner.task;
    h->base.state = ASYNC__S_WJOIN;
    return 0;
}

#endif
/* Sleep until `when`, a delay from now (relative) or a deadline; one
 * already due behaves as a yield.  The clock is read on the first call
 * only: the resumed one returns the wake-up.                            */
static int async__sleep(async_loop *L, async_tick when, bool relative)
{
    async_task *t = L->current;
#if ASYNC__SMALL
    int rc;
    if (async__op_over(L, &rc)) /* woken, or outside a task */
        return rc;
    if (relative && when > ASYNC_TICK_MAX_DELAY) /* fails at once */
        return ASYNC__MISUSE(L, ASYNC_ERANGE);
#else
    if (t == ASYNC__NO_TASK || (relative && when > ASYNC_TICK_MAX_DELAY)) /* fails at once */
        return ASYNC__MISUSE(L, t != ASYNC__NO_TASK ? ASYNC_ERANGE : ASYNC_EPERM);
#endif
    if (relative)
        when = (async_tick)(async__arm_now(L, when) + when);
    if (!async_tick_after(when, L->now)) { /* a yield, with 0 to take */
#if ASYNC__ROUNDS > 1
        t->base.u.result = 0;
        t->base.flags |= ASYNC__F_WOKEN;
        async__enqueue_yield(L, t);
#else
        async__resume(L, t, 0);
#endif
        return ASYNC_PENDING;
    }
    async__timer_insert(L, &t->base, when);
    t->base.state = ASYNC__S_WLIST;
    return ASYNC_PENDING;
}

/* Elsewhere the wake-up returns before anything is set up for a call. */
int async_sleep_until(async_loop *L, async_tick deadline)
{
#if !ASYNC__SMALL
    int rc;
#endif
    if (ASYNC__NULL(L))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
#if !ASYNC__SMALL
    if (async__woken(L, &rc))
        return rc;
#endif
    return async__sleep(L, deadline, false);
}

int async_sleep(async_loop *L, async_tick ticks)
{
#if !ASYNC__SMALL
    int rc;
#endif
    if (ASYNC__NULL(L))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
#if !ASYNC__SMALL
    if (async__woken(L, &rc))
        return rc;
#endif
    return async__sleep(L, ticks, true);
}

/* ---- the loop ---- */

int async_loop_init(async_loop *L, const async_port *port)
{
    unsigned char *p = (unsigned char *)L;
    size_t n = sizeof *L;

    if (ASYNC__NULL(L) || ASYNC__NULL(port) || port->now == NULL || port->idle == NULL)
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    while (n--) /* every list head zeroed is an empty list */
        *p++ = 0;
    L->port = port;
#if ASYNC__NO_TASK_SENTINEL
    L->current = ASYNC__NO_TASK; /* (else NULL: zeroed) */
#endif
    L->runq_end = &L->runq; /* lists never lazily set up */
#if ASYNC__ROUNDS > 1
    L->yielded_end = &L->yielded;
    L->yield_to = &L->yielded_end;
#else
    L->yield_to = &L->runq_end; /* yielded stays empty */
#endif
#if ASYNC_CONF_TASK_LIST
    L->all.next = L->all.prev = &L->all;
#endif
#if ASYNC__WLEVELS == 0
    L->timers.next = L->timers.prev = &L->timers;
#endif
#if ASYNC__WFAR
    L->far.next = L->far.prev = &L->far;
#endif
#if ASYNC__DUE_LIST
    L->due.next = L->due.prev = &L->due;
#endif
    L->now = L->wnow = port->now(port);
#if ASYNC_CONF_DEBUG
    L->slow_step = ASYNC_CONF_SLOW_STEP;
#endif
    return 0;
}

/* Whether any call is queued (an atomic peek: other threads push). */
static bool async__posts_waiting(const async_loop *L)
{
#if ASYNC_CONF_ATOMICS
    return __atomic_load_n(&L->posts, __ATOMIC_ACQUIRE) != NULL;
#else
    return L->posts != NULL;
#endif
}

#if !ASYNC_CONF_ATOMICS
/* The port's critical section around the post queue.  Inline: the
 * test and the call through the port are smaller than a call here
 * (Cortex-M0+) - but not on AVR, where the call through L->port takes
 * more code than a direct call: out of line there, 68 bytes off the
 * ATmega328P core and 4 off each app that posts (make size).          */
#if defined(__AVR__)
#define ASYNC__LOCK_INLINE ASYNC__OUTLINE
#else
#define ASYNC__LOCK_INLINE inline ASYNC__INLINE
#endif
static ASYNC__LOCK_INLINE void async__lock(const async_loop *L)
{
    if (L->port->lock)
        L->port->lock(L->port);
}

static ASYNC__LOCK_INLINE void async__unlock(const async_loop *L)
{
    if (L->port->unlock)
        L->port->unlock(L->port);
}
#endif

/* The posts hook is set by async_post, from any thread or interrupt
 * handler, before it queues the call: the loop reads it only once it
 * sees a call queued.  Every store writes the same value; with atomics
 * they are relaxed atomic ones.                                         */
#if ASYNC__SMALL && ASYNC_CONF_ATOMICS
#define ASYNC__POSTS_HOOK(L) __atomic_load_n(&(L)->hooks.posts, __ATOMIC_RELAXED)
#define ASYNC__POSTS_HOOK_SET(L) \
    __atomic_store_n(&(L)->hooks.posts, async__deliver_posts, __ATOMIC_RELAXED)
#else
#define ASYNC__POSTS_HOOK(L) ASYNC__HOOK(L, posts, async__deliver_posts)
#define ASYNC__POSTS_HOOK_SET(L) ASYNC__HOOK_SET(L, posts, async__deliver_posts)
#endif

static void async__deliver_posts(async_loop *L)
{
    async_call *p, *fifo = NULL;

#if ASYNC_CONF_ATOMICS
    p = __atomic_exchange_n(&L->posts, (async_call *)NULL, __ATOMIC_ACQUIRE);
#else
    async__lock(L);
    p = L->posts;
    L->posts = NULL;
    async__unlock(L);
#endif
    while (p) { /* pushed LIFO: reverse to deliver in posting order */
        async_call *next = p->next;
        p->next = fifo;
        fifo = p;
        p = next;
    }
    while ((p = fifo) != NULL) {
        fifo = p->next;
#if ASYNC_CONF_ATOMICS
        __atomic_store_n(&p->queued, 0, __ATOMIC_RELEASE);
#else
        p->queued = 0;
#endif
        p->fn(L, p);
    }
    L->progress = 1; /* a post may have changed what pollers test */
}

/* Fire one due timer: wake its sleeper, expire its scope, or run its
 * callback. */
static void async__fire(async_loop *L, async_timed *tm)
{
    unsigned kind = tm->kind & 3u; /* a task's: K_TASK, but for K_HELD, K_INGROUP, shields */
    if (kind == ASYNC__K_TASK) {
        async__resume(L, (async_task *)(void *)tm, 0);
#if ASYNC_CONF_EXTRAS
    } else if (kind == ASYNC__K_CALL) {
        tm->state = ASYNC__S_IDLE;
        L->progress = 1; /* what it changes may be what a condition waits for */
        ((async_handle *)(void *)tm)->fn(L, (async_handle *)(void *)tm);
#endif
    } else { /* a timeout or a shield */
        ASYNC__HOOK(L, expire, async__timeout_expire)(L, (async_timeout *)(void *)tm);
    }
}

/* Fire what is due now, in order: wake sleepers, expire scopes, run
 * callbacks.  What becomes due meanwhile (a callback scheduling another)
 * waits for the next pass, so callbacks cannot starve the tasks: a
 * marker ends the batch.  (Firing one entry may unlink another - a
 * deadline that expires wakes its sleeping task early - but never the
 * marker.)                                                             */
#if ASYNC__DUE_LIST
static void async__fire_due(async_loop *L)
{
    async_node end, *n;
    if (async__due_empty(L))
        return;
    async__list_insert_after(L->due.prev, &end);
    while ((n = async__list_pop(&L->due)) != &end)
        async__fire(L, (async_timed *)(void *)n);
}
#else
#define async__fire_due(L) ((void)0) /* fired by async__timers_advance */
#endif

/* After a pass that may have changed what a condition tests (a step
 * other than a re-check that stayed false, a post, a callback), queue
 * the tasks in async_until to re-check theirs.  Size-first builds call
 * it through L->hooks.recheck, which async_until sets: a firmware that
 * never polls a condition links none of it (L->progress, which only
 * this reads, then stays set, and the first re-check comes a pass
 * early: harmless, a re-check may always come).  Speed-first builds
 * pass `moved`, a step of this pass that was not quiet, rather than
 * storing L->progress only to clear it here.                           */
static inline void async__recheck_if(async_loop *L, bool moved)
{
    async_node *n;
    if (moved || L->progress) {
        L->progress = 0;
        while ((n = async__list_pop(&L->pollers)) != NULL) {
            async__task_of(n)->base.flags |= ASYNC__F_RECHECK;
            async__ready(L, async__task_of(n));
        }
    }
}

#if ASYNC__SMALL
static void async__recheck(async_loop *L)
{
    async__recheck_if(L, false);
}
#endif

/* async_run_once and async_loop_has_work without their argument checks:
 * what async_run's own passes call, L being checked once by async_run. */
static int async__run_once(async_loop *L)
{
    async_node *n;
    int steps = 0;
    unsigned quiet = 0; /* quiet steps (async__step) */

    L->now = L->port->now(L->port);
    if (async__posts_waiting(L))
        ASYNC__POSTS_HOOK(L)(L); /* set by async_post */
    async__timers_advance(L, L->now);
    async__fire_due(L);

    /* Rounds: the first steps the tasks ready now, taken off the run
     * queue at once; each further one those that the round before made
     * ready (wake-ups, spawns), until none are left or ASYNC__ROUNDS
     * have run, so that tasks waking each other cannot hold the loop.  A
     * yield (or a sleep already due) waits on its own list, queued after
     * the pass: it lets every other task run first.  Nothing unlinks a
     * ready task, so walking a detached chain is safe.                  */
    if ((n = L->runq) != NULL) {
        unsigned rounds = ASYNC__ROUNDS;
        do {
            async_node *next;
            L->runq = NULL;
            L->runq_end = &L->runq;
            for (; n; n = next) {
                next = n->next;
                quiet += async__step(L, async__task_of(n));
                steps++;
            }
        } while (ASYNC__ROUNDS > 1 && --rounds && (n = L->runq) != NULL);
        L->current = ASYNC__NO_TASK; /* set by each step: no task outside a pass */
        if (ASYNC__ROUNDS > 1 && (n = L->yielded) != NULL) {
            *L->runq_end = n;
            L->runq_end = L->yielded_end;
            L->yielded = NULL;
            L->yielded_end = &L->yielded;
        }
    }
#if ASYNC__SMALL
    (void)quiet; /* its steps store L->progress themselves */
    if (L->hooks.recheck) /* set by async_until */
        L->hooks.recheck(L);
#else
    /* a step that was not quiet may have changed what pollers test: as
     * if it had set L->progress, which the re-check would clear at once */
    async__recheck_if(L, (unsigned)steps != quiet);
#endif
    return steps;
}

static bool async__has_work(const async_loop *L)
{
    return L->runq != NULL || !async__due_empty(L) ||
           async__posts_waiting(L);
}

int async_run_once(async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    return async__run_once(L);
}

bool async_loop_has_work(const async_loop *L)
{
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, false);
    return async__has_work(L);
}

bool async_loop_next_deadline(const async_loop *L, async_tick *deadline)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(deadline))
        return ASYNC__REFUSED(NULL, false);
    /* Unreachable: every pass fires what it moves to `due`, and nothing
     * puts a timer there between passes (until c6c704b,
     * test/model/known/max_delay_after_update_now.c did).              */
    if (!async__due_empty(L)) {
        *deadline = L->wnow; /* LCOV_EXCL_LINE: see above */
        return true;         /* LCOV_EXCL_LINE */
    }
    /* Only clears stale bitmap bits: no observable change. */
    return async__timers_next((async_loop *)(uintptr_t)L, deadline, true);
}

int async_run_ready(async_loop *L)
{
    int steps = 0;
    if (ASYNC__NULL(L))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    do {
        steps += async__run_once(L);
    } while (async__has_work(L));
    return steps;
}

#if ASYNC_CONF_TASK_LIST
unsigned async_loop_cancel_all(async_loop *L)
{
    unsigned n = 0;
    async_node *a;
    if (ASYNC__NULL(L))
        return (void)ASYNC__MISUSE(NULL, ASYNC_EINVAL), 0u;
    /* a cancel wakes tasks but finishes none: the list stays as it is */
    for (a = L->all.next; a && a != &L->all; a = a->next)
        n += async_cancel(L, (async_task *)(void *)((char *)a - offsetof(async_task, all))) == 0;
    return n;
}
#endif

#if ASYNC_CONF_DEBUG
static void async__debug_report_unseen(async_loop *L);
#endif

/* async_run's loop.  cleanup: once main has finished, cancel the tasks
 * left and run until they have finished too (or can never finish).    */
#if ASYNC_CONF_TASK_LIST
static int async__run(async_loop *L, async_task *main, async_task_fn fn, bool cleanup)
#else
int async_run(async_loop *L, async_task *main, async_task_fn fn) /* no registry: no cleanup */
#endif
{
    int rc;
    bool swept = false;

    if (ASYNC__NULL(L) || (main == NULL && fn != NULL))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (fn && (rc = async_spawn(L, main, fn)) < 0)
        return rc;
    if (main && main->base.state == ASYNC__S_IDLE)
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
#if ASYNC_CONF_DEBUG
    L->tracking = true;
#endif
    rc = 0;
    for (;;) {
        async_tick deadline; /* a poll's (now), or the wait's if none */
        bool has_deadline = true;

        async__run_once(L);
        if (main ? async_task_is_done(main) : L->ntasks == 0) {
#if ASYNC_CONF_TASK_LIST
            if (!cleanup || L->ntasks == 0)
                break;
            if (!swept) {
                (void)async_loop_cancel_all(L);
                swept = true;
            }
#else
            return main ? main->base.u.result : 0;
#endif
        }
        /* The port gets a turn when nothing is ready (it may block), and
         * after every pass if it asks to poll (it must not block then). */
#if ASYNC__SMALL
        deadline = L->now;
        if (!async__has_work(L))
            has_deadline = async_loop_next_deadline(L, &deadline);
        else if (!(L->port->flags & ASYNC_PORT_POLL))
            continue;
#else /* the same, but no store of the deadline in a pass the port skips */
        bool work = async__has_work(L);
        if (work && !(L->port->flags & ASYNC_PORT_POLL))
            continue;
        deadline = L->now;
        if (!work)
            has_deadline = async_loop_next_deadline(L, &deadline);
#endif
        rc = L->port->idle(L->port, L, has_deadline, deadline);
        if (rc < 0)
            break; /* after the sweep: what is left cannot finish */
    }
    if (rc >= 0 || swept) { /* main has finished (or was never given) */
#if ASYNC_CONF_DEBUG
        if (main)
            (void)async_task_result(main); /* read: never "unretrieved" */
#endif
        rc = main ? main->base.u.result : 0;
    }
#if ASYNC_CONF_DEBUG
    async__debug_report_unseen(L);
#endif
    return rc;
}

#if ASYNC_CONF_TASK_LIST
int async_run(async_loop *L, async_task *main, async_task_fn fn)
{
    return async__run(L, main, fn, true);
}

int async_run_until_complete(async_loop *L, async_task *main, async_task_fn fn)
{
    return async__run(L, main, fn, false);
}
#endif

/* ---- groups ---- */

int async_group_init(async_group *g, async_task **slots, unsigned cap, unsigned flags)
{
    if (ASYNC__NULL(g) || ASYNC__NULL(slots) || cap == 0 || (flags & ~ASYNC_GROUP_CANCEL_ON_ERROR))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    g->slots = slots;
    g->cap = cap;
    g->count = g->running = 0;
    g->error = 0;
    g->flags = (uint8_t)flags;
    g->waiter = NULL;
    g->done.next = g->done.prev = &g->done; /* set up here: no test when a member finishes */
    return 0;
}

int async_group_spawn(async_loop *L, async_group *g, async_task *t, async_task_fn fn)
{
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(g) || ASYNC__NULL(t) || ASYNC__NULL(fn))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (g->count == g->cap)
        return ASYNC_ENOSPC;
    if ((g->flags & ASYNC_GROUP_CANCEL_ON_ERROR) && g->error)
        return ASYNC_ECANCELED;
    ASYNC__HOOK_SET(L, finished, async__finished_group); /* harmless if the spawn fails */
    if ((rc = async_spawn(L, t, fn)) < 0)
        return rc;
    t->joiner.group = g;
    t->base.kind |= ASYNC__K_INGROUP;
    g->slots[g->count++] = t;
    g->running++;
    return 0;
}

unsigned async_group_cancel(async_loop *L, async_group *g)
{
    unsigned i, n = 0;
    if (ASYNC__NULL(L) || ASYNC__NULL(g))
        return (void)ASYNC__MISUSE(L, ASYNC_EINVAL), 0u;
    for (i = 0; i < g->count; i++)
        n += async_cancel(L, g->slots[i]) == 0;
    return n;
}


static void async__group_member_done(async_loop *L, async_group *g, async_task *t, int rc)
{
    g->running--;
    async__list_insert_after(g->done.prev, &t->base.node); /* appended */
    if (rc < 0 && rc != ASYNC_ECANCELED && g->error == 0) {
        g->error = rc;
        if (g->flags & ASYNC_GROUP_CANCEL_ON_ERROR)
            async_group_cancel(L, g);
    }
    /* Wake the waiter but leave it in the slot: it owns the group until
     * its call returns, so nobody can take what it was woken for.  Each
     * end wakes WAIT_ANY, and WAIT_ERR once a member has failed (one
     * test of the flags: 4 bytes less than two on Cortex-M0+).         */
    uint8_t wake = g->error ? ASYNC__GROUP_WAIT_ANY | ASYNC__GROUP_WAIT_ERR : ASYNC__GROUP_WAIT_ANY;
    if (g->waiter && async__waiting(g->waiter) && (g->running == 0 || (g->flags & wake)))
        async__resume(L, g->waiter, 0);
}

/* async__group_enter out of line: 18 bytes less of the Cortex-M0+ core than inlined in
 * both waits (26 on the M4F, 118 on the ATmega328P).  Inlined on RISC-V,
 * where a call takes more code: 4 bytes less of the rv32imac core, and
 * 48 of an app that waits for a group (make size).                      */
#if defined(__riscv)
#define ASYNC__GROUP_ENTER_INLINE inline ASYNC__INLINE
#else
#define ASYNC__GROUP_ENTER_INLINE
#endif
/* The start the group's waits share, after their argument checks: the
 * call's result if it is over (< 0: outside a task, a misuse, or for
 * async_group_next (any) an interruption, which it reports at once, the
 * members running on, as asyncio.wait), else 0.  On a waiter's
 * resumption it gives up the slot kept since the wake-up (an
 * interruption already cleared it); otherwise it says whether the
 * current task may wait on g.                                           */
static ASYNC__GROUP_ENTER_INLINE int async__group_enter(async_loop *L, async_group *g, bool any)
{
    async_task *self = L->current;
    int rc;

    if (async__op_over(L, &rc)) {
        if (rc < 0 && (any || self == ASYNC__NO_TASK))
            return rc; /* (outside a task rc is ASYNC_EPERM) */
        if (g->waiter == self)
            g->waiter = NULL;
        return 0;
    }
    if (g->waiter)
        return ASYNC__MISUSE(L, ASYNC_EBUSY);
    if ((self->base.kind & ASYNC__K_INGROUP) && self->joiner.group == g)
        return ASYNC__MISUSE(L, ASYNC_EDEADLK); /* a member waiting on its own group */
    return 0;
}

/* Take the first finished member out of the group, freeing its slot. */
static async_task *async__group_reap_one(async_group *g)
{
    async_node *n = g->done.next; /* set up by async_group_init */
    async_task *t, **slot;

    if (n == &g->done)
        return NULL;
    async__list_remove(n);
    t = async__task_of(n);
    for (slot = g->slots; *slot != t; slot++)
        ;
    *slot = g->slots[--g->count];
    t->joiner.group = NULL;
    t->base.kind &= (uint8_t)~ASYNC__K_INGROUP;
    return t;
}

/* mode: what wakes the waiter besides the last member's end.            */
static int async__group_park(async_group *g, async_task *self, unsigned mode)
{
    g->flags = (uint8_t)((g->flags & ~(ASYNC__GROUP_WAIT_ANY | ASYNC__GROUP_WAIT_ERR)) | mode);
    return async__wait_in_slot(self, &g->waiter, ASYNC__S_WGROUP);
}

/* async_group_wait (mode 0) and async_group_wait_first_error (WAIT_ERR):
 * woken when the last running member finishes (or, with WAIT_ERR, one
 * fails).  It parks again if members were spawned meanwhile, first
 * taking in an interruption that arrived while it was queued: then it
 * cancels the members and drains.  When none is running any more the
 * group is emptied for its next use.                                    */
int async__group_wait(async_loop *L, async_group *g, unsigned mode)
{
    async_task *self;
    int rc;

    if (ASYNC__NULL(L) || ASYNC__NULL(g))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if ((rc = async__group_enter(L, g, false)) < 0)
        return rc;
    self = L->current;
    if (g->running == 0) {
        rc = (self->base.flags & ASYNC__F_DRAIN) ? async__drain_end(L, self) : g->error;
        (void)async_group_reap(g);
        g->error = 0;
        return rc;
    }
    if (mode && g->error && !(self->base.flags & ASYNC__F_DRAIN))
        return g->error; /* gather: the first error at once */
    if (async__interrupt_code(L) && !(self->base.flags & ASYNC__F_DRAIN)) {
        self->base.flags |= ASYNC__F_DRAIN;
        async_group_cancel(L, g);
    }
    return async__group_park(g, self, mode);
}

/* Woken by each member's end, it takes the first finished one out of
 * the group; an interruption wakes it and is reported at once.          */
int async_group_next(async_loop *L, async_group *g, async_task **done)
{
    async_task *t;
    int rc;

    if (ASYNC__NULL(L) || ASYNC__NULL(g) || ASYNC__NULL(done))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    *done = NULL;
    if ((rc = async__group_enter(L, g, true)) < 0)
        return rc;
    if ((t = async__group_reap_one(g)) != NULL) {
        *done = t;
#if ASYNC_CONF_DEBUG
        return async_task_result(t); /* read: its error is not "never retrieved" */
#else
        return t->base.u.result; /* finished: it was on the done list */
#endif
    }
    if (g->running == 0)
        return ASYNC_ENOENT;
    if ((rc = async__interrupt_code(L)) != 0) /* parking again: one may be pending */
        return rc;
    return async__group_park(g, L->current, ASYNC__GROUP_WAIT_ANY);
}

unsigned async_group_reap(async_group *g)
{
    unsigned n = 0;
    if (ASYNC__NULL(g))
        return (void)ASYNC__MISUSE(NULL, ASYNC_EINVAL), 0u;
    while (async__group_reap_one(g))
        n++;
    return n;
}

/* ---- events ---- */

void async_event_init(async_event *ev)
{
    if (ASYNC__NULL(ev)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    ev->waiters.next = NULL;
    ev->set = false;
}

int async_event_wait(async_loop *L, async_event *ev)
{
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(ev))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__op_over(L, &rc))
        return rc;
    return ev->set ? 0 : async__wait_on(L, &ev->waiters);
}

void async_event_set(async_loop *L, async_event *ev)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(ev)) {
        ASYNC__REFUSE(L);
        return;
    }
    ev->set = true;
    async__wake_all(L, &ev->waiters, 0);
}

/* ---- semaphores ---- */

int async_sem_init(async_sem *s, unsigned count, unsigned max)
{
    if (ASYNC__NULL(s) || (max && count > max))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    s->waiters.next = NULL;
    s->count = count;
    s->max = max;
    return 0;
}

int async_sem_try_acquire(async_sem *s)
{
    if (ASYNC__NULL(s))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    if (s->count == 0)
        return ASYNC_EAGAIN;
    s->count--;
    return 0;
}

int async_sem_acquire(async_loop *L, async_sem *s)
{
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(s))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__op_over(L, &rc))
        return rc; /* 0: a releaser handed its permit over */
    return async_sem_try_acquire(s) == 0 ? 0 : async__wait_on(L, &s->waiters);
}

int async_sem_release(async_loop *L, async_sem *s)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(s))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__wake_first(L, &s->waiters, 0))
        return 0;
    if ((s->max && s->count >= s->max) || s->count == UINT_MAX)
        return ASYNC__MISUSE(L, ASYNC_EOVERFLOW);
    s->count++;
    return 0;
}

/* ---- locks ---- */

void async_lock_init(async_lock *m)
{
    if (ASYNC__NULL(m)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    m->waiters.next = NULL;
    m->owner = NULL;
}

/* Give the lock to the first waiter, or leave it free.  The waiter owns
 * it from now on (nobody can take it first), but it reads as unlocked
 * until the waiter runs (HANDED), as asyncio's does.                    */
static void async__lock_pass(async_loop *L, async_lock *m)
{
    if ((m->owner = async__wake_first(L, &m->waiters, 0)) != NULL)
        m->owner->base.flags |= ASYNC__F_HANDED;
}

int async_lock_try_acquire(async_loop *L, async_lock *m)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(m))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (L->current == ASYNC__NO_TASK || m->owner == L->current)
        return ASYNC__MISUSE(L, L->current != ASYNC__NO_TASK ? ASYNC_EDEADLK : ASYNC_EPERM);
    if (m->owner)
        return ASYNC_EAGAIN;
    m->owner = L->current;
    return 0;
}

int async_lock_acquire(async_loop *L, async_lock *m)
{
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(m))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__woken(L, &rc)) {
        L->current->base.flags &= (uint8_t)~ASYNC__F_HANDED;
        return rc; /* 0: handed over by the releaser */
    }
    rc = async_lock_try_acquire(L, m);
    return rc == ASYNC_EAGAIN ? async__wait_on(L, &m->waiters) : rc;
}

int async_lock_release(async_loop *L, async_lock *m)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(m))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (m->owner == NULL || m->owner != L->current)
        return ASYNC__MISUSE(L, ASYNC_EPERM);
    async__lock_pass(L, m);
    return 0;
}

/* ---- condition variables ---- */

int async_cond_init(async_cond *c, async_lock *m)
{
    if (ASYNC__NULL(c) || ASYNC__NULL(m))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    c->waiters.next = NULL;
    c->lock = m;
    return 0;
}

/* Two phases: wait on the condition, then re-take the lock.  The second
 * phase cannot be interrupted (DRAIN): the wait always returns holding the
 * lock.  A notified waiter that ends up reporting an interruption passes
 * its notification on, so none is lost.                                  */
int async_cond_wait(async_loop *L, async_cond *c)
{
    async_task *self;
    int rc;

    if (ASYNC__NULL(L) || ASYNC__NULL(c))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    self = L->current;
    if (async__woken(L, &rc)) {
        if (self->base.flags & ASYNC__F_DRAIN) { /* phase 2 over: the lock is ours */
            bool notified = (self->base.flags & ASYNC__F_NOTIFIED) != 0;
            self->base.flags &= (uint8_t)~(ASYNC__F_NOTIFIED | ASYNC__F_HANDED);
            rc = async__drain_end(L, self);
            if (rc < 0 && notified)
                async_cond_notify(L, c, 1);
            return rc;
        }
        if (c->lock->owner == NULL) { /* phase 1 over, lock free */
            c->lock->owner = self;
            return rc;
        }
        self->base.flags |= (uint8_t)(ASYNC__F_DRAIN | (rc == 0 ? ASYNC__F_NOTIFIED : 0u));
        return async__wait_on(L, &c->lock->waiters);
    }
    if (self == ASYNC__NO_TASK || c->lock->owner != self)
        return ASYNC__MISUSE(L, ASYNC_EPERM);
    async__lock_pass(L, c->lock);
    return async__wait_on(L, &c->waiters);
}

int async_cond_notify(async_loop *L, async_cond *c, unsigned n)
{
    unsigned woken = 0;
    if (ASYNC__NULL(L) || ASYNC__NULL(c))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (L->current == ASYNC__NO_TASK || c->lock->owner != L->current)
        return ASYNC__MISUSE(L, ASYNC_EPERM);
    while (woken < n && async__wake_first(L, &c->waiters, 0))
        woken++;
    return (int)woken;
}

/* ---- futures: an event with a result ---- */

void async_future_init(async_future *f)
{
    if (ASYNC__NULL(f)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    async_event_init(&f->ev);
    f->result = 0;
}

int async_future_wait(async_loop *L, async_future *f)
{
    int rc = async_event_wait(L, ASYNC__NULL(f) ? (async_event *)NULL : &f->ev);
    return rc == 0 ? f->result : rc;
}

int async_future_set(async_loop *L, async_future *f, int result)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(f) || result == ASYNC_PENDING)
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (f->ev.set)
        return ASYNC__MISUSE(L, ASYNC_EALREADY);
    f->result = result;
    async_event_set(L, &f->ev);
    return 0;
}

/* ---- queues ----
 * Getting and putting mirror each other: side 0 gets items, side 1 puts
 * them; what one side consumes (an item, a free slot) the other produces.
 * Hand-over without stealing: what becomes available while a side has
 * waiters is promised to its first waiter (held[side]), and nobody else
 * may take it.  The three orders differ only in where an item goes in
 * and which one comes out.                                              */

enum { ASYNC__Q_FIFO, ASYNC__Q_LIFO, ASYNC__Q_PRIO };

static int async__queue_setup(async_queue *q, void *buf, size_t item_size, unsigned cap,
                              unsigned order)
{
    if (ASYNC__NULL(q) || ASYNC__NULL(buf) || item_size == 0 || cap == 0)
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    q->waiters[0].next = q->waiters[1].next = NULL;
    q->held[0] = q->held[1] = 0;
    q->buf = (unsigned char *)buf;
    q->item_size = item_size;
    q->cap = cap;
    q->head = q->count = 0;
    q->closed = false;
#if ASYNC_CONF_EXTRAS
    q->order = (uint8_t)order;
    q->unfinished = 0;
    q->joiners.next = NULL;
#else
    (void)order;
#endif
    return 0;
}

int async_queue_init(async_queue *q, void *buf, size_t item_size, unsigned cap)
{
    return async__queue_setup(q, buf, item_size, cap, ASYNC__Q_FIFO);
}

/* Items (side 0) or free slots (side 1) available now. */
static unsigned async__queue_avail(const async_queue *q, int side)
{
    return side == ASYNC__PUT ? q->cap - q->count : q->count;
}

static unsigned char *async__queue_at(const async_queue *q, unsigned i)
{
    return q->buf + (size_t)i * q->item_size;
}

#if ASYNC_CONF_EXTRAS
int async_queue_init_lifo(async_queue *q, void *buf, size_t item_size, unsigned cap)
{
    return async__queue_setup(q, buf, item_size, cap, ASYNC__Q_LIFO);
}

int async_pqueue_init(async_pqueue *pq, void *buf, size_t item_size, unsigned cap, unsigned *seq,
                      async_before_fn before)
{
    int rc;
    if (ASYNC__NULL(pq) || ASYNC__NULL(seq) || ASYNC__NULL(before))
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    if ((rc = async__queue_setup(&pq->q, buf, item_size, cap, ASYNC__Q_PRIO)) == 0) {
        pq->before = before; /* a refused call changes nothing */
        pq->seq = seq;
        pq->next = 0;
    }
    return rc;
}

/* The heap: entry i leaves before entry j.  Sequence numbers are compared
 * wrap-safely (the queue never holds 2^(bits-1) puts apart).           */
static bool async__pq_first(const async_pqueue *pq, unsigned i, unsigned j)
{
    const void *a = async__queue_at(&pq->q, i), *b = async__queue_at(&pq->q, j);
    if (pq->before(a, b))
        return true;
    return !pq->before(b, a) && (int)(pq->seq[i] - pq->seq[j]) < 0;
}

static void async__pq_swap(async_pqueue *pq, unsigned i, unsigned j)
{
    unsigned char *a = async__queue_at(&pq->q, i), *b = async__queue_at(&pq->q, j);
    unsigned t = pq->seq[i];
    size_t n = pq->q.item_size;
    pq->seq[i] = pq->seq[j];
    pq->seq[j] = t;
    while (n--) {
        unsigned char c = *a;
        *a++ = *b;
        *b++ = c;
    }
}

/* Entry i moved: sift it up (up) or down until the heap is in order.   */
static void async__pq_sift(async_pqueue *pq, unsigned i, bool up)
{
    unsigned n = pq->q.count;
    for (;;) {
        unsigned k = i, c = 2u * i + 1u;
        if (up) {
            if (i == 0 || !async__pq_first(pq, i, (i - 1u) / 2u))
                return;
            k = (i - 1u) / 2u;
        } else {
            if (c < n && async__pq_first(pq, c, k))
                k = c;
            if (c + 1u < n && async__pq_first(pq, c + 1u, k))
                k = c + 1u;
            if (k == i)
                return;
        }
        async__pq_swap(pq, i, k);
        i = k;
    }
}
#endif

/* Copy one item in or out, then promise what it freed to the other side. */
static void async__queue_move(async_loop *L, async_queue *q, void *item, int side)
{
    unsigned i = q->head, avail;
    unsigned char *slot;

    if (side == ASYNC__PUT) { /* the slot after the last */
        i += q->count;
        if (i >= q->cap)
            i -= q->cap;
    }
#if ASYNC_CONF_EXTRAS
    else if (q->order == ASYNC__Q_LIFO) /* the newest: head stays 0, no wrap */
        i += q->count - 1u;
#endif
    slot = async__queue_at(q, i); /* one copy for both sides */
    async__copy(side == ASYNC__PUT ? slot : (unsigned char *)item,
                side == ASYNC__PUT ? (unsigned char *)item : slot, q->item_size);
    if (side == ASYNC__PUT) {
        q->count++;
#if ASYNC_CONF_EXTRAS
        q->unfinished++;
        if (q->order == ASYNC__Q_PRIO) { /* head stays 0: i is the heap's end */
            async_pqueue *pq = (async_pqueue *)(void *)q;
            pq->seq[i] = pq->next++;
            async__pq_sift(pq, i, true);
        }
#endif
    } else {
        q->count--;
#if ASYNC_CONF_EXTRAS
        if (q->order == ASYNC__Q_PRIO) { /* the root leaves; the last takes its place */
            async_pqueue *pq = (async_pqueue *)(void *)q;
            if (q->count) {
                async__pq_swap(pq, 0, q->count);
                async__pq_sift(pq, 0, false);
            }
        } else if (q->order == ASYNC__Q_FIFO && ++q->head == q->cap) {
            q->head = 0;
        }
#else
        if (++q->head == q->cap)
            q->head = 0;
#endif
    }
    /* what the other side may take now: waking a task changes none of it */
    avail = async__queue_avail(q, !side);
    side = !side;
    while (avail > q->held[side] && async__wake_first(L, &q->waiters[side], 0))
        q->held[side]++;
}

int async__queue_op(async_loop *L, async_queue *q, void *item, unsigned how)
{
    unsigned side = how & ASYNC__PUT;
    int rc;

    if (ASYNC__NULL(L) || ASYNC__NULL(q) || ASYNC__NULL(item))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if ((how & ASYNC__QWAIT) && async__op_over(L, &rc)) {
        if (rc != 0)
            return rc;
        q->held[side]--; /* ours was promised */
    } else if (q->closed && (side == ASYNC__PUT || q->count <= q->held[ASYNC__GET])) {
        return ASYNC_ECLOSED;
    } else if (async__queue_avail(q, (int)side) <= q->held[side]) {
        return (how & ASYNC__QWAIT) ? async__wait_on(L, &q->waiters[side]) : ASYNC_EAGAIN;
    }
    async__queue_move(L, q, item, (int)side);
    return 0;
}

void async_queue_close(async_loop *L, async_queue *q)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(q)) {
        ASYNC__REFUSE(L);
        return;
    }
    q->closed = true;
    async__wake_all(L, &q->waiters[ASYNC__PUT], ASYNC_ECLOSED);
    async__wake_all(L, &q->waiters[ASYNC__GET], ASYNC_ECLOSED);
}

#if ASYNC_CONF_EXTRAS
int async_queue_task_done(async_loop *L, async_queue *q)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(q))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (q->unfinished == 0)
        return ASYNC__MISUSE(L, ASYNC_EOVERFLOW);
    if (--q->unfinished == 0)
        async__wake_all(L, &q->joiners, 0);
    return 0;
}

int async_queue_join(async_loop *L, async_queue *q)
{
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(q))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__op_over(L, &rc))
        return rc;
    return q->unfinished ? async__wait_on(L, &q->joiners) : 0;
}

/* ---- barriers ---- */

int async_barrier_init(async_barrier *b, unsigned parties)
{
    if (ASYNC__NULL(b) || parties == 0)
        return ASYNC__MISUSE(NULL, ASYNC_EINVAL);
    b->waiters.next = NULL;
    b->parties = parties;
    b->broken = false;
    return 0;
}

unsigned async_barrier_waiting_count(const async_barrier *b)
{
    const async_node *n;
    unsigned k = 0;
    if (ASYNC__NULL(b))
        return (void)ASYNC__MISUSE(NULL, ASYNC_EINVAL), 0u;
    for (n = b->waiters.next; n && n != &b->waiters; n = n->next)
        k++;
    return k;
}

/* The waiters are counted, not remembered: one that is cancelled or
 * times out has left the list and counts no more.                      */
int async_barrier_wait(async_loop *L, async_barrier *b)
{
    unsigned n;
    int rc;
    if (ASYNC__NULL(L) || ASYNC__NULL(b))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async__op_over(L, &rc))
        return rc; /* its index, or ASYNC_EBROKEN */
    if (b->broken)
        return ASYNC_EBROKEN;
    n = async_barrier_waiting_count(b);
    if (n + 1u < b->parties)
        return async__wait_on(L, &b->waiters);
    for (rc = 0; async__wake_first(L, &b->waiters, rc); rc++)
        ; /* released in arrival order: indices 0 .. n-1 */
    return (int)n;
}

static void async__barrier_break(async_loop *L, async_barrier *b, bool broken)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(b)) {
        ASYNC__REFUSE(L);
        return;
    }
    b->broken = broken;
    async__wake_all(L, &b->waiters, ASYNC_EBROKEN);
}

void async_barrier_abort(async_loop *L, async_barrier *b)
{
    async__barrier_break(L, b, true);
}

void async_barrier_reset(async_loop *L, async_barrier *b)
{
    async__barrier_break(L, b, false);
}

/* ---- callbacks on the loop ---- */

static int async__handle_arm(async_loop *L, async_handle *h, async_handle_fn fn)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(h) || ASYNC__NULL(fn))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (async_handle_is_pending(h))
        return ASYNC__MISUSE(L, ASYNC_EBUSY);
    h->fn = fn;
    h->base.kind = ASYNC__K_CALL;
    h->base.state = ASYNC__S_WLIST;
    return 0;
}

int async_call_soon(async_loop *L, async_handle *h, async_handle_fn fn)
{
    int rc = async__handle_arm(L, h, fn);
    if (rc == 0)
        async__handle_due(L, h);
    return rc;
}

int async_call_at(async_loop *L, async_handle *h, async_tick when, async_handle_fn fn)
{
    int rc = async__handle_arm(L, h, fn);
    if (rc == 0)
        async__timer_insert(L, &h->base, when);
    return rc;
}

int async_call_later(async_loop *L, async_handle *h, async_tick ticks, async_handle_fn fn)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(h) || ASYNC__NULL(fn))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (ticks > ASYNC_TICK_MAX_DELAY)
        return ASYNC__MISUSE(L, ASYNC_ERANGE);
    return async_call_at(L, h, (async_tick)(async__arm_now(L, ticks) + ticks), fn);
}

int async_handle_cancel(async_loop *L, async_handle *h)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(h))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    if (!async_handle_is_pending(h))
        return ASYNC_EALREADY;
    async__detach(L, (async_task *)(void *)h); /* a timer list, the due list or a task's joiner slot */
    h->base.state = ASYNC__S_IDLE;
    return 0;
}
#endif

/* ---- posts and notifications ---- */

int async_post(async_loop *L, async_call *p)
{
#if ASYNC_CONF_ATOMICS
    async_call *head;
#else
    int queued;
#endif
    if (ASYNC__NULL(L) || ASYNC__NULL(p))
        return ASYNC__MISUSE(L, ASYNC_EINVAL);
    ASYNC__POSTS_HOOK_SET(L); /* before the call is queued */
#if ASYNC_CONF_ATOMICS
    if (__atomic_exchange_n(&p->queued, 1, __ATOMIC_ACQ_REL))
        return ASYNC_EALREADY;
    head = __atomic_load_n(&L->posts, __ATOMIC_RELAXED);
    do {
        p->next = head;
    } while (!__atomic_compare_exchange_n(&L->posts, &head, p, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
#else
    async__lock(L);
    queued = p->queued;
    if (!queued) {
        p->queued = 1;
        p->next = L->posts;
        L->posts = p;
    }
    async__unlock(L);
    if (queued)
        return ASYNC_EALREADY;
#endif
    if (L->port->wake)
        L->port->wake(L->port);
    return 0;
}

static void async__notify_deliver(async_loop *L, async_call *p)
{
    async_notify *n = (async_notify *)(void *)p; /* call is the first member */
    unsigned k;
#if ASYNC_CONF_ATOMICS
    k = __atomic_exchange_n(&n->pending, 0u, __ATOMIC_ACQ_REL);
#else
    async__lock(L);
    k = n->pending;
    n->pending = 0;
    async__unlock(L);
#endif
    while (k-- && async_sem_release(L, &n->sem) == 0)
        ;
}

void async_notify_init(async_notify *n)
{
    if (ASYNC__NULL(n)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    n->call.next = NULL;
    n->call.fn = async__notify_deliver;
    n->call.queued = 0;
    async_sem_init(&n->sem, 0, 0);
    n->pending = 0;
}

void async_notify_give(async_loop *L, async_notify *n)
{
    if (ASYNC__NULL(L) || ASYNC__NULL(n)) {
        ASYNC__REFUSE(L);
        return;
    }
#if ASYNC_CONF_ATOMICS
    __atomic_fetch_add(&n->pending, 1u, __ATOMIC_ACQ_REL);
#else
    async__lock(L);
    n->pending++;
    async__unlock(L);
#endif
    async_post(L, &n->call);
}

/* ---- errors ---- */

/* A byte of a table that ASYNC__FLASH put in program memory.           */
#if ASYNC__STRERROR_IN_FLASH
static inline unsigned char async__flash_byte(const void *p)
{
    unsigned char c;
    __asm__("lpm %0, Z" : "=r"(c) : "z"(p));
    return c;
}
#else
#define async__flash_byte(p) (*(const unsigned char *)(p))
#endif

const char *async_strerror(int code)
{
#if ASYNC_CONF_ERROR_STRINGS
    /* The codes, and their messages one after another in the same order,
     * then the messages of what is not a code.                           */
    static const signed char codes[] ASYNC__FLASH = {
#define ASYNC__ERR_CODE(name, value, text) value,
        ASYNC_ERRORS(ASYNC__ERR_CODE)
#undef ASYNC__ERR_CODE
    };
    static const char texts[] ASYNC__FLASH =
#define ASYNC__ERR_TEXT(name, value, text) text "\0"
        ASYNC_ERRORS(ASYNC__ERR_TEXT)
#undef ASYNC__ERR_TEXT
        "unknown error\0success\0pending\0operating system error\0application error";
    const char *p = texts;
    unsigned i, k = sizeof codes; /* "unknown error" */

    if (code >= 0)
        k = sizeof codes + 1u;
    else if (code == ASYNC_PENDING)
        k = sizeof codes + 2u;
    else if (code <= ASYNC_EOS_BASE)
        k = sizeof codes + 3u;
    else if (code <= ASYNC_EAPP_BASE)
        k = sizeof codes + 4u;
    else
        for (i = 0; i < sizeof codes; i++)
            if ((signed char)async__flash_byte(&codes[i]) == code) {
                k = i;
                break;
            }
    while (k--) /* the k-th message */
        while (async__flash_byte(p++))
            ;
    return p;
#else
    static const char texts[] ASYNC__FLASH = "error\0success";
    return code < 0 ? texts : texts + 6;
#endif
}

unsigned async_loop_close(async_loop *L)
{
#if ASYNC_CONF_DEBUG
    async_node *n;
#endif
    if (ASYNC__NULL(L))
        return ASYNC__REFUSED(NULL, 0u);
#if ASYNC_CONF_DEBUG
    if (L->all.next)
        for (n = L->all.next; n != &L->all; n = n->next) {
            const async_task *t = (const async_task *)(const void *)((const char *)n -
                                                                     offsetof(async_task, all));
            async__debug_report(L, t, "pending at close", (long)async_task_state(t));
        }
#endif
    return L->ntasks;
}

/* ---- debug mode ---- */

#if ASYNC_CONF_DEBUG
/* asyncio's "Task exception was never retrieved": a task that finished
 * with an error while nothing waited for it stays on L->unseen until its
 * result is read, its frame is spawned again, or the run ends.         */
void async__debug_seen(const async_task *t)
{
    async_task *u = (async_task *)(uintptr_t)t; /* only the debug fields */
    u->unseen = false;
    async__list_remove(&u->all);
}

static void async__debug_report_unseen(async_loop *L)
{
    async_node *n;
    while ((n = async__list_pop(&L->unseen)) != NULL) {
        async_task *t = (async_task *)(void *)((char *)n - offsetof(async_task, all));
        t->unseen = false;
        async__debug_report(L, t, "error never retrieved", (long)t->base.u.result);
    }
    L->tracking = false;
}

void async__run_begin(async_loop *L)
{
    L->tracking = true;
}

void async__run_end(async_loop *L)
{
    async__debug_report_unseen(L);
}

void async__debug_where(async_loop *L, const char *file, int line, const char *what)
{
    async_task *t = L->current;
    if (t != ASYNC__NO_TASK) {
        t->file = file;
        t->line = line;
        t->what = what;
    }
}

void async_debug_set_hook(async_loop *L, async_debug_hook hook)
{
    if (ASYNC__NULL(L)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    L->on_debug = hook;
}

void async_debug_set_slow_step(async_loop *L, async_tick ticks)
{
    if (ASYNC__NULL(L)) {
        ASYNC__REFUSE(NULL);
        return;
    }
    L->slow_step = ticks;
}

static void async__debug_report(async_loop *L, const async_task *t, const char *event, long value)
{
    if (L->on_debug) {
        L->on_debug(L, t, event, value);
        return;
    }
#if ASYNC__HOSTED
    fprintf(stderr, "async.h: task \"%s\" %s (%ld)%s%s:%d\n", async_task_name(t), event, value,
            t->file ? " last suspended at " : "", t->file ? t->file : "", t->file ? t->line : 0);
#endif
}

/* Append a string, or a decimal number, to a bounded line buffer. */
static size_t async__put(char *buf, size_t len, size_t cap, const char *s)
{
    while (*s && len + 1 < cap)
        buf[len++] = *s++;
    buf[len] = '\0';
    return len;
}

static size_t async__put_num(char *buf, size_t len, size_t cap, long v)
{
    char digits[24];
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    int k = (int)sizeof digits - 1;
    digits[k] = '\0';
    do {
        digits[--k] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u && k > 1);
    if (v < 0) /* a tick count past 2^63: 64-bit ticks only, none tested */
        digits[--k] = '-'; /* LCOV_EXCL_LINE: see above */
    return async__put(buf, len, cap, digits + k);
}

unsigned async_dump(async_loop *L, void (*print)(void *ctx, const char *line), void *ctx)
{
    static const char *const states[] = {"idle", "ready", "running", "waiting", "done"};
    char line[256];
    unsigned count = 0;
    async_node *n;
    size_t len;

    if (ASYNC__NULL(L) || ASYNC__NULL(print))
        return (void)ASYNC__MISUSE(L, ASYNC_EINVAL), 0u;
    for (n = L->all.next; n && n != &L->all; n = n->next) {
        const async_task *t = (const async_task *)(const void *)((const char *)n -
                                                                 offsetof(async_task, all));
        len = async__put(line, 0, sizeof line, "task \"");
        len = async__put(line, len, sizeof line, async_task_name(t));
        len = async__put(line, len, sizeof line, "\" ");
        len = async__put(line, len, sizeof line, states[async_task_state(t)]);
        if (t->file) {
            len = async__put(line, len, sizeof line, " at ");
            len = async__put(line, len, sizeof line, t->file);
            len = async__put(line, len, sizeof line, ":");
            len = async__put_num(line, len, sizeof line, t->line);
            len = async__put(line, len, sizeof line, " on ");
            len = async__put(line, len, sizeof line, t->what);
        }
        if (async_task_is_cancelled(t))
            len = async__put(line, len, sizeof line, " (cancelling)");
        print(ctx, line);
        count++;
    }
    len = async__put_num(line, 0, sizeof line, (long)count);
    len = async__put(line, len, sizeof line, " live tasks at tick ");
    async__put_num(line, len, sizeof line, (long)L->now);
    print(ctx, line);
    return count;
}

void async_debug_misuse(async_loop *L, int code, const char *file, int line)
{
    (void)L;
#if ASYNC__HOSTED
    fprintf(stderr, "%s:%d: async.h misuse: %s (%d)\n", file, line, async_strerror(code), code);
    abort();
#else
    (void)code;
    (void)file;
    (void)line;
    __builtin_trap();
#endif
}
#endif

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_IMPLEMENTATION */
