/* SPDX-License-Identifier: MIT */
/*
 * async_vclock.h - the virtual-clock port for async.h: time moves only
 * when the program advances it, or, with autojump, leaps to the next
 * deadline when every task is blocked (Trio's MockClock with
 * autojump_threshold=0).  For tests and simulations: timing is exact and
 * a test of a ten-minute timeout takes no time at all.
 *
 * Header-only (every function is static inline): include it after, or
 * instead of, async.h wherever a virtual clock is used.
 *
 *     static async_vclock vc;
 *     static async_loop loop;
 *
 *     async_vclock_init(&vc, 0, true);
 *     async_loop_init(&loop, &vc.port);
 *     rc = async_run(&loop, &main_task, main_fn);  (never really sleeps)
 *
 * idle() returns ASYNC_EDEADLK, ending async_run, when nothing is ready
 * and time cannot move: no timer is armed, or autojump is off.
 */
#ifndef ASYNC_VCLOCK_H
#define ASYNC_VCLOCK_H

#include "async.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct async_vclock {
    async_port port; /* first: the loop hands this pointer back */
    async_tick now;
    bool autojump;
    unsigned long idles; /* idle() calls with nothing ready, for tests */
} async_vclock;

static inline async_tick async__vclock_now(const async_port *p)
{
    return ((const async_vclock *)(const void *)p)->now;
}

static inline int async__vclock_idle(const async_port *p, async_loop *L, bool has_deadline,
                                     async_tick deadline)
{
    async_vclock *vc = (async_vclock *)(void *)(uintptr_t)p; /* the port lives in vc */
    if (async_loop_has_work(L))
        return 0;
    vc->idles++;
    if (!has_deadline || !vc->autojump)
        return ASYNC_EDEADLK;
    if (async_tick_after(deadline, vc->now))
        vc->now = deadline;
    return 0;
}

/* Start the clock at `start`; with autojump, an idle loop leaps to its
 * next deadline instead of ending.                                      */
static inline void async_vclock_init(async_vclock *vc, async_tick start, bool autojump)
{
    vc->port.now = async__vclock_now;
    vc->port.idle = async__vclock_idle;
    vc->port.wake = NULL;
    vc->port.lock = NULL;
    vc->port.unlock = NULL;
    vc->port.flags = 0;
    vc->now = start;
    vc->autojump = autojump;
    vc->idles = 0;
}

/* Move time forward (wrap-safe); timers fire on the loop's next pass.   */
static inline void async_vclock_advance(async_vclock *vc, async_tick ticks)
{
    vc->now = (async_tick)(vc->now + ticks);
}

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_VCLOCK_H */
