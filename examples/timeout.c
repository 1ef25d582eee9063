/* SPDX-License-Identifier: MIT */
/* timeout: asyncio.wait_for, asyncio.timeout(), cancellation and cleanup
 * that still awaits.
 *
 *     import asyncio
 *
 *     async def slow_op(s):
 *         await asyncio.sleep(s)
 *         return 42
 *
 *     async def victim():
 *         print("victim: working for 10 s")
 *         try:
 *             await asyncio.sleep(10)
 *         finally:
 *             print("victim: cancelled, saying goodbye (50 ms)")
 *             await asyncio.sleep(0.05)
 *             print("victim: goodbye sent")
 *
 *     async def main():
 *         try:
 *             await asyncio.wait_for(slow_op(2), 0.3)
 *         except TimeoutError:
 *             print("wait_for(slow 2 s, 300 ms): deadline expired")
 *         print("wait_for(slow 50 ms, 300 ms): result %d" % await asyncio.wait_for(slow_op(0.05), 0.3))
 *         step = 0
 *         try:
 *             async with asyncio.timeout(0.25):
 *                 for step in range(1, 6):
 *                     await asyncio.sleep(0.1)
 *                     print("timeout scope: step %d done" % step)
 *         except TimeoutError:
 *             print("timeout scope: deadline expired after %d steps" % (step - 1))
 *         task = asyncio.create_task(victim())
 *         await asyncio.sleep(0.1)
 *         print("main: cancelling victim")
 *         task.cancel()
 *         await asyncio.gather(task, return_exceptions=True)
 *         print("main: victim ended")
 *
 *     asyncio.run(main())
 *
 * Cancellation here is sticky (every later await reports it, so a task
 * cannot swallow it by mistake): cleanup that must await goes inside a
 * shield, with a deadline of its own so it cannot hang.  asyncio's
 * cancellation is delivered once, so its finally can simply await.     */
#include "async_ev.h"
#include <stdio.h>

struct slow_op { async_co co; unsigned ms; };
static async_def(slow_op, L, f) /* takes f->ms, returns 42 */
    async_await(async_sleep(L, ASYNC_MS(f->ms)));
    async_return(42);
async_def_end

struct victim { async_task task; async_co co; async_shield sh; };
static async_task_def(victim, L, f)
    puts("victim: working for 10 s");
    async_await(async_sleep(L, ASYNC_SEC(10)));
    async_finally; /* runs on every exit, like try/finally */
    printf("victim: %s, saying goodbye (50 ms)\n", async_strerror(async_error()));
    async_shield_begin(&f->sh, ASYNC_SEC(1)); /* the cleanup may await: 1 s at most */
    async_await(async_sleep(L, ASYNC_MS(50)));
    async_shield_end(&f->sh);
    puts("victim: goodbye sent");
async_def_end

struct main_task { async_task task; async_co co; async_timeout to; struct slow_op s;
                   struct victim v; int rc, step; };
static async_task_def(main_task, L, f)
    f->s.ms = 2000; /* 1. wait_for */
    async_await_for(&f->to, ASYNC_MS(300), f->rc, slow_op(L, &f->s));
    printf("wait_for(slow 2 s, 300 ms): %s\n", async_strerror(f->rc));
    f->s.ms = 50;
    async_await_for(&f->to, ASYNC_MS(300), f->rc, slow_op(L, &f->s));
    printf("wait_for(slow 50 ms, 300 ms): result %d\n", f->rc);
    async_timeout_begin(&f->to, ASYNC_MS(250)); /* 2. one deadline over several steps */
    for (f->step = 1; f->step <= 5; f->step++) {
        async_await_rc(f->rc, async_sleep(L, ASYNC_MS(100)));
        if (f->rc < 0)
            break;
        printf("timeout scope: step %d done\n", f->step);
    }
    f->rc = async_timeout_end(&f->to);
    printf("timeout scope: %s after %d steps\n", async_strerror(f->rc), f->step - 1);
    async_await(async_spawn(L, &f->v.task, victim)); /* 3. cancellation */
    async_await(async_sleep(L, ASYNC_MS(100)));
    puts("main: cancelling victim");
    async_cancel(L, &f->v.task);
    async_await_rc(f->rc, async_join(L, &f->v.task));
    printf("main: victim ended with: %s\n", async_strerror(f->rc));
async_def_end

ASYNC_EV_MAIN(main_task)
