/* SPDX-License-Identifier: MIT */
/* hello: asyncio's Hello World (seeds 000 and 004).
 *
 *     import asyncio
 *
 *     async def hello_world():
 *         print("Hello")
 *         await asyncio.sleep(1)
 *         print("World")
 *
 *     async def main():
 *         await hello_world()
 *
 *     asyncio.run(main())
 *
 * A coroutine's persistent state lives in a frame struct the caller owns:
 * locals do not survive an await.  async_def declares the function of a
 * child coroutine, awaited inline (its frame is a member of the
 * parent's); async_task_def the step function of a task, what the loop
 * schedules; ASYNC_EV_MAIN is asyncio.run(main()) for a whole program.  */
#include "async_ev.h"
#include <stdio.h>

struct hello_world { async_co co; };
static async_def(hello_world, L, f)
    puts("Hello");
    async_await(async_sleep(L, ASYNC_SEC(1)));
    puts("World");
async_def_end

struct main_task { async_task task; async_co co; struct hello_world hello; };
static async_task_def(main_task, L, f)
    async_await(hello_world(L, &f->hello));
async_def_end

ASYNC_EV_MAIN(main_task)
