/* SPDX-License-Identifier: MIT */
/* gather: two tasks run concurrently and are awaited together (seed 002).
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
 * Prints the four lines in the order below, in about 2 s (not 3).       */
#include "async_ev.h"
#include <stdio.h>

struct job {
    async_task task; /* a task header embedded in a frame we own */
    async_co co;
};

static int task1(async_loop *L, async_task *self)
{
    struct job *f = async_frame(self, struct job, task);
    async_begin(L, &f->co);
    puts("Task 1 started");
    async_await(async_sleep(L, ASYNC_SEC(2)));
    puts("Task 1 completed");
    async_end;
}

static int task2(async_loop *L, async_task *self)
{
    struct job *f = async_frame(self, struct job, task);
    async_begin(L, &f->co);
    puts("Task 2 started");
    async_await(async_sleep(L, ASYNC_SEC(1)));
    puts("Task 2 completed");
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_group group;    /* gather: wait for every member */
    async_task *slots[2]; /* where the group records its members */
    struct job t1, t2;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    async_begin(L, &f->co);
    async_group_init(&f->group, f->slots, 2, 0);
    async_group_spawn(L, &f->group, &f->t1.task, task1);
    async_group_spawn(L, &f->group, &f->t2.task, task2);
    async_await(async_group_wait(L, &f->group)); /* asyncio.gather */
    async_end;
}

int main(void)
{
    static struct main_frame m;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = async_ev_main(&m.task, main_task);
    if (rc < 0)
        fprintf(stderr, "gather: %s\n", async_strerror(rc));
    return rc < 0;
}
