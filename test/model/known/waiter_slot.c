/* SPDX-License-Identifier: MIT */
/* Core bug (model: "waiter-slot-cleared-on-wakeup"), fixed in b4ae4d0; now a regression test
 * (make check-known).  Standalone
 * reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/waiter_slot.c && ./a.out
 *
 * W1 waits for group G (member M) inside async_await_for.  The deadline
 * wakes W1, and async_wake() clears G's waiter slot although W1 is still
 * inside async_group_wait (it will cancel M and wait for it).  W2, which
 * runs before W1, calls async_group_wait(G) in that window: no
 * ASYNC_EBUSY ("a second waiter on one group" in the README's misuse
 * table), W2 parks.  W1 then re-parks over W2.  Cancelling W2 clears the
 * slot again, now naming W1: M's end wakes nobody, and W1, draining,
 * ignores cancellation.  W1 can never finish: a lost wake-up.
 * async_join has the same window (a second joiner of one task).        */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static async_event e;
static async_group G;
static async_task *slots[2];

struct fr { async_task task; async_co co; async_timeout to; int rc; };
static struct fr M, W1, W2;

static int m_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &e));
    async_end;
}

static int w1_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await_for(&f->to, 5, f->rc, async_group_wait(l, &G));
    printf("  W1: group_wait returned %d\n", f->rc);
    async_end;
}

static int w2_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await_rc(f->rc, async_group_wait(l, &G));
    printf("  W2: group_wait returned %d (expected %d, EBUSY)\n", f->rc, ASYNC_EBUSY);
    async_end;
}

int main(void)
{
    int i;
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_group_init(&G, slots, 2, 0);
    async_group_spawn(&L, &G, &M.task, m_fn);
    async_spawn(&L, &W1.task, w1_fn);
    async_run_once(&L);            /* M waits on e; W1 waits for G until tick 5 */
    async_spawn(&L, &W2.task, w2_fn);
    async_vclock_advance(&vc, 10);
    async_run_once(&L);            /* deadline wakes W1; W2 then W1 run */
    async_cancel(&L, &W2.task);
    for (i = 0; i < 10; i++) {     /* cancel whatever is left, run */
        async_cancel(&L, &W1.task);
        async_run_ready(&L);
    }
    printf("  unfinished tasks: %u (W1 %s)\n", async_loop_task_count(&L),
           async_task_is_done(&W1.task) ? "done" : "never finishes");
    return async_loop_task_count(&L) == 0 && W2.rc == ASYNC_EBUSY ? 0 : 1;
}
