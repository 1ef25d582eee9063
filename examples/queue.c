/* SPDX-License-Identifier: MIT */
/* queue: producers and consumers over a bounded queue (asyncio.Queue).
 *
 * Two producers make 5 items each; three consumers take longer to handle
 * an item than a producer takes to make one.  The queue holds 2 items, so
 * producers are held back (backpressure) instead of piling up work.
 * When both producers are done the queue is closed: consumers drain what
 * is left and stop.                                                     */
#include "async_ev.h"
#include <stdio.h>

#define PRODUCERS 2
#define CONSUMERS 3
#define ITEMS 5

static async_queue q;
static int storage[2]; /* the queue's ring buffer: 2 ints, caller-owned */

struct producer {
    async_task task;
    async_co co;
    int id, i, item;
    async_tick t0;
};

static int producer(async_loop *L, async_task *self)
{
    struct producer *f = async_frame(self, struct producer, task);
    async_begin(L, &f->co);
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
    async_end;
}

struct consumer {
    async_task task;
    async_co co;
    int id, item, rc, handled;
};

static int consumer(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await_rc(f->rc, async_queue_get(L, &q, &f->item));
        if (f->rc == ASYNC_ECLOSED)
            break; /* closed and drained */
        printf("  consumer %d: got %d\n", f->id, f->item);
        async_await(async_sleep(L, ASYNC_MS(200))); /* handling it */
        f->handled++;
    }
    printf("  consumer %d: handled %d items\n", f->id, f->handled);
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_group producers, consumers;
    async_task *pslots[PRODUCERS], *cslots[CONSUMERS];
    struct producer p[PRODUCERS];
    struct consumer c[CONSUMERS];
    int i;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    async_begin(L, &f->co);
    async_queue_init(&q, storage, sizeof storage[0], 2);
    async_group_init(&f->producers, f->pslots, PRODUCERS, 0);
    async_group_init(&f->consumers, f->cslots, CONSUMERS, 0);
    for (f->i = 0; f->i < CONSUMERS; f->i++) {
        f->c[f->i].id = f->i + 1;
        async_group_spawn(L, &f->consumers, &f->c[f->i].task, consumer);
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++) {
        f->p[f->i].id = f->i + 1;
        async_group_spawn(L, &f->producers, &f->p[f->i].task, producer);
    }
    async_await(async_group_wait(L, &f->producers));
    async_queue_close(L, &q); /* no more items: consumers finish the rest */
    async_await(async_group_wait(L, &f->consumers));
    puts("all items handled");
    async_end;
}

int main(void)
{
    static struct main_frame m;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = async_ev_main(&m.task, main_task);
    if (rc < 0)
        fprintf(stderr, "queue: %s\n", async_strerror(rc));
    return rc < 0;
}
