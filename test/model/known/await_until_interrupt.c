/* SPDX-License-Identifier: MIT */
/* Core bug (found while extending the model to async_await_until), fixed
 * in b4ae4d0; now a regression test (make check-known).
 * Standalone reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/await_until_interrupt.c && ./a.out
 *
 * After a pass in which anything ran, the pollers (tasks in
 * async_await_until) are put back on the run queue to re-check their
 * condition.  A cancellation or a timeout that arrives while a poller
 * sits there (not suspended, so async__interrupt() does not wake it) is
 * never looked at: the macro's resume point is after its interrupt check,
 * async__poll_result() only reads a wake-up result, and a false
 * condition parks the task again.  Timers fire at the start of a pass,
 * exactly when the pollers are queued, so while any other task keeps
 * running, a timeout scope around a condition await never fires and a
 * cancelled poller never finishes.  README: cancellation "makes the
 * task's current await (if suspended) and every later one report
 * ASYNC_ECANCELED"; a timeout scope interrupts "the await in progress at
 * that moment".  Expected: both waits end within a few passes.        */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static int never;

struct fr { async_task task; async_co co; async_timeout to; int rc; };
static struct fr busy, timed, cancelled;

static int busy_fn(async_loop *l, async_task *self) /* keeps the loop making progress */
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    for (;;)
        async_await(async_yield());
    async_end;
}

static int timed_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_timeout_begin(&f->to, 5);
    async_await_until(never);
    async_end;
}

static int cancelled_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await_until(never);
    async_end;
}

int main(void)
{
    int i;
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_spawn(&L, &busy.task, busy_fn);
    async_spawn(&L, &timed.task, timed_fn);
    async_spawn(&L, &cancelled.task, cancelled_fn);
    async_run_once(&L);                 /* both poll; busy yields */
    async_cancel(&L, &cancelled.task);  /* the poller is queued for a re-check */
    for (i = 0; i < 100; i++) {         /* 100 passes, 1 tick each */
        async_vclock_advance(&vc, 1);
        async_run_once(&L);
    }
    printf("timeout scope of 5 ticks, 100 ticks later: %s\n",
           async_task_is_done(&timed.task) ? "timed out" : "still waiting");
    printf("cancelled poller, 100 passes later: %s\n",
           async_task_is_done(&cancelled.task) ? "finished" : "still waiting");
    return async_task_is_done(&timed.task) && async_task_is_done(&cancelled.task) ? 0 : 1;
}
