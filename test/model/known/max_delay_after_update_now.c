/* SPDX-License-Identifier: MIT */
/* Core bug (found by the coverage work of issue 15), fixed in c6c704b
 * (sleeps and scopes count from the call); now a regression test (make
 * check-known).  Standalone reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/max_delay_after_update_now.c && ./a.out
 *
 * async.h: "op: sleep for `ticks` ... ASYNC_ERANGE if longer than
 * ASYNC_TICK_MAX_DELAY", "Durations, rounded up so a sleep never ends
 * early".  A task that refreshes the clock (async_loop_update_now) after
 * time moved during its step, then sleeps ASYNC_TICK_MAX_DELAY, is woken
 * in the very next pass: the deadline is counted from `now`, but the
 * timer store compares it with `wnow` (where timers were last processed,
 * behind now), and now + MAX_DELAY lies more than MAX_DELAY after wnow:
 * the wrap-safe comparison reads it as past, so the timer goes to the due
 * list.  The same holds for a timeout scope of that length, and for any
 * delay within (now - wnow) of the maximum; every timer store (wheel and
 * sorted list) and tick width is affected.  Expected: the task sleeps
 * ASYNC_TICK_MAX_DELAY ticks (for instance, the deadline is measured from
 * wnow when now has run ahead, or the stores bring wnow up to now first). */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;

struct fr {
    async_task task;
    async_co co;
    int rc;
};
static struct fr T;

static int t_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    vc.now += 10;             /* time passes during the step ...  */
    async_loop_update_now(l); /* ... and the task reads the clock */
    async_await_rc(f->rc, async_sleep(l, ASYNC_TICK_MAX_DELAY));
    async_end;
}

int main(void)
{
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_spawn(&L, &T.task, t_fn);
    async_run_ready(&L); /* the task sleeps; no time passes after this */
    async_run_ready(&L);
    printf("after 10 ticks the task is %s; expected: still sleeping (%lu ticks to go)\n",
           async_task_is_done(&T.task) ? "done" : "sleeping",
           (unsigned long)ASYNC_TICK_MAX_DELAY);
    return async_task_is_done(&T.task) ? 1 : 0;
}
