/* SPDX-License-Identifier: MIT */
/* Core bug (model: "repark-misses-interrupts", the group case), fixed in b4ae4d0;
 * now a regression test (make check-known).
 * Standalone reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/group_next_repark.c && ./a.out
 *
 * W waits in async_group_next(G).  Member A finishes and wakes W; before
 * W runs, another task (M, in the same round as A) reaps A
 * (async_group_reap) and cancels W.  W is
 * not suspended, so the cancellation only sets its flag.  When W runs,
 * async_group_next finds nothing to take and parks W again without
 * looking at the cancellation: W keeps waiting for member B.  README:
 * cancellation "makes the task's current await (if suspended) and every
 * later one report ASYNC_ECANCELED".  Expected: ASYNC_ECANCELED now.
 * async_group_wait has the same window (a member spawned after the
 * wake-up), and so does async_await_until (await_until_interrupt.c).  */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static async_event go_a, go_b;
static async_group G;
static async_task *slots[2];

struct fr { async_task task; async_co co; async_task *done; int rc; };
static struct fr A, B, W, M;

static int a_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &go_a));
    async_end;
}

static int b_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &go_b)); /* a long job */
    async_end;
}

/* The meddler: woken with A (after it), it runs in the round A's end
 * has made, before W, which runs in the round after. */
static int m_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &go_a));
    async_group_reap(&G);      /* ... A is reaped before W runs */
    async_cancel(l, &W.task);  /* ... and W is cancelled */
    async_end;
}

static int w_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    f->rc = 1;
    async_await_rc(f->rc, async_group_next(l, &G, &f->done));
    async_end;
}

int main(void)
{
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_group_init(&G, slots, 2, 0);
    async_group_spawn(&L, &G, &A.task, a_fn);
    async_group_spawn(&L, &G, &B.task, b_fn);
    async_spawn(&L, &W.task, w_fn);
    async_spawn(&L, &M.task, m_fn);
    async_run_once(&L);          /* A, B and M wait; W waits for the next member */
    async_event_set(&L, &go_a);  /* A ends, waking W; then M reaps A and cancels W */
    async_run_ready(&L);
    printf("cancelled group_next: %s (rc %d); expected %d\n",
           async_task_is_done(&W.task) ? "returned" : "still waiting for B", W.rc, ASYNC_ECANCELED);
    return async_task_is_done(&W.task) && W.rc == ASYNC_ECANCELED ? 0 : 1;
}
