/* SPDX-License-Identifier: MIT */
/* Core bug (model: "await-for-discards-error-results"), fixed in b4ae4d0; now a regression test
 * (make check-known).  Standalone
 * reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/await_for_error.c && ./a.out
 *
 * A task waits in async_await_for(&to, 10, rc, async_queue_get(...)).
 * The queue is closed at tick 0: the get's result, ASYNC_ECLOSED, is
 * handed to the task.  The clock then moves past the deadline before the
 * task runs.  README ("Timeout scopes"): "async_await_for returns the
 * operation's own result when it arrived in time, even if the deadline
 * passed before the task ran again"; async.h: "A result that arrived in
 * time is never discarded."  The core returns ASYNC_ETIMEDOUT: the macro
 * replaces any negative result with ETIMEDOUT when the scope has fired.
 * The same happens to a joined task's error and to async_group_wait's
 * first member error.  Values >= 0 are kept.                           */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static async_queue q;
static int buf[2];

struct fr { async_task task; async_co co; async_timeout to; int item, rc; };
static struct fr T;

static int t_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await_for(&f->to, 10, f->rc, async_queue_get(l, &q, &f->item));
    async_end;
}

int main(void)
{
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_queue_init(&q, buf, sizeof buf[0], 2);
    async_spawn(&L, &T.task, t_fn);
    async_run_once(&L);          /* tick 0: T waits for an item, deadline 10 */
    async_queue_close(&L, &q);   /* tick 0: T is handed ASYNC_ECLOSED */
    async_vclock_advance(&vc, 20);
    async_run_once(&L);          /* tick 20: the scope fires, then T runs */
    printf("await_for returned %d (%s); expected %d (%s)\n", T.rc, async_strerror(T.rc),
           ASYNC_ECLOSED, async_strerror(ASYNC_ECLOSED));
    return T.rc == ASYNC_ECLOSED ? 0 : 1;
}
