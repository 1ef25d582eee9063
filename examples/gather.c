/* SPDX-License-Identifier: MIT */
/* gather: two tasks run concurrently and are awaited together (seed 002).
 *
 *     import asyncio
 *
 *     async def task1():
 *         print("Task 1 started")
 *         await asyncio.sleep(2)
 *         print("Task 1 completed")
 *
 *     async def task2():
 *         print("Task 2 started")
 *         await asyncio.sleep(1)
 *         print("Task 2 completed")
 *
 *     async def main():
 *         await asyncio.gather(task1(), task2())
 *
 *     asyncio.run(main())
 *
 * Prints the four lines in the order below, in about 2 s (not 3).  The
 * group records its members in an array of task pointers the frame owns;
 * async_group_wait_first_error is gather's behaviour on an error (it is
 * reported at once, the other task runs on).                            */
#include "async_ev.h"
#include <stdio.h>

struct task1 { async_task task; async_co co; };
static async_task_def(task1, L, f)
    puts("Task 1 started");
    async_await(async_sleep(L, ASYNC_SEC(2)));
    puts("Task 1 completed");
async_def_end

struct task2 { async_task task; async_co co; };
static async_task_def(task2, L, f)
    puts("Task 2 started");
    async_await(async_sleep(L, ASYNC_SEC(1)));
    puts("Task 2 completed");
async_def_end

struct main_task { async_task task; async_co co; async_group group; async_task *slots[2];
                   struct task1 t1; struct task2 t2; };
static async_task_def(main_task, L, f)
    async_group_init(&f->group, f->slots, 2, 0);
    async_await(async_group_spawn(L, &f->group, &f->t1.task, task1));
    async_await(async_group_spawn(L, &f->group, &f->t2.task, task2));
    async_await(async_group_wait_first_error(L, &f->group)); /* asyncio.gather */
async_def_end

ASYNC_EV_MAIN(main_task)
