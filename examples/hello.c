/* SPDX-License-Identifier: MIT */
/* hello: asyncio's Hello World (seeds 000 and 004).
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
 * A coroutine is a function between async_begin and async_end whose
 * persistent state lives in a frame struct the caller owns: locals do
 * not survive an await.  Awaiting a coroutine calls it inline (its frame
 * is a member of the parent's); a task is what the loop schedules.      */
#include "async_ev.h"
#include <stdio.h>

struct hello_world {
    async_co co;
};

static int hello_world(async_loop *L, struct hello_world *f)
{
    async_begin(L, &f->co);
    puts("Hello");
    async_await(async_sleep(L, ASYNC_SEC(1)));
    puts("World");
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    struct hello_world hello; /* the child's frame lives in ours */
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    async_begin(L, &f->co);
    async_await(hello_world(L, &f->hello));
    async_end;
}

int main(void)
{
    static struct main_frame m; /* zeroed: ready to run */
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = async_ev_main(&m.task, main_task); /* asyncio.run(main()) */
    if (rc < 0)
        fprintf(stderr, "hello: %s\n", async_strerror(rc));
    return rc < 0;
}
