/* SPDX-License-Identifier: MIT */
/* Core bug (model: "group-next-steal"), standalone reproducer.
 *
 *   cc -std=c99 -g -I. test/model/known/group_next_steal.c && ./a.out
 *
 * W1 waits in async_group_next(G).  Member A finishes and wakes W1,
 * which clears G's waiter slot.  Before W1 runs, W2 calls
 * async_group_next(G): no ASYNC_EBUSY ("a second waiter on one group"),
 * and W2 takes A, the member W1 was woken for; W1 then finds nothing and
 * waits again for B.  README: "Primitives hand over in FIFO order ...
 * nobody arriving later can take it first."  Expected: W1 gets A, W2
 * gets ASYNC_EBUSY.                                                     */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static async_event go_a, go_b, go_w2;
static async_group G;
static async_task *slots[2];

struct fr { async_task task; async_co co; async_task *done; int rc; };
static struct fr A, B, W1, W2;

static int member_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, f == &A ? &go_a : &go_b));
    async_end;
}

static int w1_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    f->rc = 1;
    async_await_rc(f->rc, async_group_next(l, &G, &f->done));
    async_end;
}

static int w2_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &go_w2));
    f->rc = 1;
    async_await_rc(f->rc, async_group_next(l, &G, &f->done));
    async_end;
}

int main(void)
{
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_group_init(&G, slots, 2, 0);
    async_group_spawn(&L, &G, &A.task, member_fn);
    async_group_spawn(&L, &G, &B.task, member_fn);
    async_spawn(&L, &W1.task, w1_fn);
    async_spawn(&L, &W2.task, w2_fn);
    async_run_once(&L);          /* A, B wait; W1 waits for the next member; W2 waits */
    async_event_set(&L, &go_a);  /* run queue: A */
    async_event_set(&L, &go_w2); /* run queue: A, W2 */
    async_run_once(&L);          /* A ends, waking W1 (queued after W2); W2 runs */
    async_run_once(&L);          /* W1 runs */
    printf("W1: rc %d, got %s; W2: rc %d, got %s\n", W1.rc,
           W1.done == &A.task ? "A" : "nothing", W2.rc, W2.done == &A.task ? "A" : "nothing");
    return W1.done == &A.task && W2.rc == ASYNC_EBUSY ? 0 : 1;
}
