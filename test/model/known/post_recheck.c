/* SPDX-License-Identifier: MIT */
/* Core bug (found while extending the model to async_await_until), fixed
 * in b4ae4d0; now a regression test (make check-known).
 * Standalone reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/post_recheck.c && ./a.out
 *
 * async.h: "a condition that only an interrupt handler changes needs the
 * handler to call async_post()"; README: "Wake-ups from interrupts are
 * never lost".  But delivering a post does not count as progress, so the
 * tasks in async_await_until are not re-checked: the only task waits for
 * a flag the "interrupt" has set and posted about, and async_run reports
 * ASYNC_EDEADLK.  Expected: the post makes the pollers re-check (for
 * instance async__deliver_posts() setting L->progress).               */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static volatile int flag;
static async_call call;

struct fr { async_task task; async_co co; };
static struct fr T;

static void noop(async_loop *l, async_call *self)
{
    (void)l;
    (void)self;
}

static int t_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await_until(flag);
    async_end;
}

int main(void)
{
    int rc;
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    call.fn = noop;
    async_spawn(&L, &T.task, t_fn);
    async_run_ready(&L);       /* T polls: flag is 0; re-checked once, parked */
    flag = 1;                  /* what an interrupt handler would do ... */
    async_post(&L, &call);     /* ... and tell the loop, as documented */
    rc = async_run(&L, &T.task, NULL);
    printf("async_run returned %d (%s); expected 0, the task seeing the flag\n", rc,
           async_strerror(rc));
    return rc == 0 ? 0 : 1;
}
