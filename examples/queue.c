/* SPDX-License-Identifier: MIT */
/* queue: producers and consumers over a bounded queue (asyncio.Queue),
 * the bounded-buffer program.
 *
 *     import asyncio
 *
 *     PRODUCERS, CONSUMERS, ITEMS = 2, 3, 5
 *
 *     async def producer(q, id):
 *         for i in range(ITEMS):
 *             await asyncio.sleep(0.05)  # making an item
 *             item = id * 100 + i
 *             t0 = asyncio.get_running_loop().time()
 *             await q.put(item)  # waits while full
 *             waited = asyncio.get_running_loop().time() - t0
 *             if waited > 0.005:
 *                 print(f"producer {id}: queue was full, waited {waited * 1000:.0f} ms to put {item}")
 *             else:
 *                 print(f"producer {id}: put {item}")
 *         print(f"producer {id}: done")
 *
 *     async def consumer(q, id):
 *         handled = 0
 *         while True:
 *             try:
 *                 item = await q.get()
 *             except asyncio.QueueShutDown:  # shut down and drained
 *                 break
 *             print(f"  consumer {id}: got {item}")
 *             await asyncio.sleep(0.2)  # handling it
 *             handled += 1
 *         print(f"  consumer {id}: handled {handled} items")
 *
 *     async def main():
 *         q = asyncio.Queue(2)
 *         consumers = [asyncio.create_task(consumer(q, i + 1)) for i in range(CONSUMERS)]
 *         await asyncio.gather(*(producer(q, i + 1) for i in range(PRODUCERS)))
 *         q.shutdown()  # no more items: consumers finish the rest
 *         await asyncio.gather(*consumers)
 *         print("all items handled")
 *
 *     asyncio.run(main())
 *
 * Two producers make 5 items each; three consumers take longer to handle
 * an item than a producer takes to make one.  The queue holds 2 items, so
 * producers are held back (backpressure) instead of piling up work.
 * When both producers are done the queue is closed (Python 3.13's
 * Queue.shutdown): consumers drain what is left and stop.               */
#include "async_ev.h"
#include <stdio.h>

#define PRODUCERS 2
#define CONSUMERS 3
#define ITEMS 5

static async_queue q;
static int storage[2]; /* the queue's ring buffer: 2 ints, caller-owned */

struct producer { async_task task; async_co co; int id, i, item; async_tick t0; };
static async_task_def(producer, L, f)
    for (f->i = 0; f->i < ITEMS; f->i++) {
        async_await(async_sleep(L, ASYNC_MS(50))); /* making an item */
        f->item = f->id * 100 + f->i;
        f->t0 = async_now(L);
        async_await(async_queue_put(L, &q, &f->item)); /* waits while full */
        if (async_now(L) - f->t0 > ASYNC_MS(5))
            printf("producer %d: queue was full, waited %u ms to put %d\n", f->id,
                   (unsigned)(async_now(L) - f->t0), f->item);
        else
            printf("producer %d: put %d\n", f->id, f->item);
    }
    printf("producer %d: done\n", f->id);
async_def_end

struct consumer { async_task task; async_co co; int id, item, rc, handled; };
static async_task_def(consumer, L, f)
    for (;;) {
        async_await_rc(f->rc, async_queue_get(L, &q, &f->item));
        if (f->rc == ASYNC_ECLOSED)
            break; /* closed and drained */
        printf("  consumer %d: got %d\n", f->id, f->item);
        async_await(async_sleep(L, ASYNC_MS(200))); /* handling it */
        f->handled++;
    }
    printf("  consumer %d: handled %d items\n", f->id, f->handled);
async_def_end

struct main_task {
    async_task task;
    async_co co;
    async_group producers, consumers;
    async_task *pslots[PRODUCERS], *cslots[CONSUMERS];
    struct producer p[PRODUCERS];
    struct consumer c[CONSUMERS];
    int i;
};
static async_task_def(main_task, L, f)
    async_queue_init(&q, storage, sizeof storage[0], 2);
    async_group_init(&f->producers, f->pslots, PRODUCERS, 0);
    async_group_init(&f->consumers, f->cslots, CONSUMERS, 0);
    for (f->i = 0; f->i < CONSUMERS; f->i++) {
        f->c[f->i].id = f->i + 1;
        async_await(async_group_spawn(L, &f->consumers, &f->c[f->i].task, consumer));
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++) {
        f->p[f->i].id = f->i + 1;
        async_await(async_group_spawn(L, &f->producers, &f->p[f->i].task, producer));
    }
    async_await(async_group_wait_first_error(L, &f->producers)); /* asyncio.gather */
    async_queue_close(L, &q); /* no more items: consumers finish the rest */
    async_await(async_group_wait_first_error(L, &f->consumers));
    puts("all items handled");
async_def_end

ASYNC_EV_MAIN(main_task)
