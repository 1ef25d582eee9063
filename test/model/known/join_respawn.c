/* SPDX-License-Identifier: MIT */
/* Core bug (model: "join-after-respawn"), fixed in b4ae4d0; now a regression test
 * (make check-known).  Standalone reproducer.
 *
 *   cc -std=c99 -g -fsanitize=address,undefined -I. test/model/known/join_respawn.c
 *   ./a.out          # async_spawn variant: exits 1 (wrong semantics)
 *   ./a.out group    # async_group_spawn variant: memory corruption
 *
 * J joins A.  A finishes (J is woken with A's result) and, in the same
 * pass, B re-spawns A's frame: legal, A has finished.  When J runs,
 * async_join sees A "not done" (it is the new life), takes that for an
 * interruption, cancels the new life and waits for it.  Expected (README
 * "await task"): J's join returns A's result (0) and the new life runs.
 *   - async_spawn: A's new life is cancelled before it ever runs;
 *   - async_group_spawn: async__wait_in_slot() stores J in A's joiner,
 *     a union with A's group pointer; A's finish then treats J's task
 *     header as its group: memory corruption (ASan: SEGV in
 *     async__list_append from async__group_member_done).
 * The same happens when J was interrupted (cancel, timeout) before A
 * finished: J must then report the interruption and leave the new life
 * alone.                                                               */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>

static async_loop L;
static async_vclock vc;
static async_event e1, e2;
static async_group G;
static async_task *slots[2];
static int use_group, join_rc = 1;

struct fr { async_task task; async_co co; int rc; };
static struct fr A, B, J;

static int a_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &e1));
    async_end;
}

static int b_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await(async_event_wait(l, &e2));
    async_event_clear(&e1);
    /* A has just finished: reuse its frame for a new life */
    f->rc = use_group ? async_group_spawn(l, &G, &A.task, a_fn) : async_spawn(l, &A.task, a_fn);
    printf("  B re-spawns A: %d\n", f->rc);
    async_end;
}

static int j_fn(async_loop *l, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(l, &f->co);
    async_await_rc(join_rc, async_join(l, &A.task));
    printf("  J's join returns %d\n", join_rc);
    async_end;
}

int main(int argc, char **argv)
{
    use_group = argc > 1;
    (void)argv;
    printf("variant: %s\n", use_group ? "async_group_spawn" : "async_spawn");
    async_vclock_init(&vc, 0, false);
    async_loop_init(&L, &vc.port);
    async_group_init(&G, slots, 2, 0);
    async_spawn(&L, &A.task, a_fn);
    async_spawn(&L, &J.task, j_fn);
    async_spawn(&L, &B.task, b_fn);
    async_run_once(&L);          /* A waits on e1, J joins A, B waits on e2 */
    async_event_set(&L, &e1);    /* run queue: A, B */
    async_event_set(&L, &e2);
    async_run_once(&L);          /* A ends (J woken with 0); B re-spawns A */
    async_run_ready(&L);         /* J resumes */
    printf("  A's new life: state %d (3 = waiting on e1 as expected), cancelled %d\n",
           (int)async_task_state(&A.task), async_task_is_cancelled(&A.task));
    return join_rc == 0 && !async_task_is_cancelled(&A.task) ? 0 : 1;
}
