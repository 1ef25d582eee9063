/* SPDX-License-Identifier: MIT */
/* An installed program using the libev runtime (pkg-config async-ev,
 * CMake async::ev): two tasks hand three numbers over a queue while the
 * loop sleeps for real between them, then it prints the sum and the
 * configuration of the libasync it runs on.                             */
#include "async_ev.h"

#include <stdio.h>
#include <string.h>

struct producer {
    async_task task;
    async_co co;
    async_queue *q;
    int i, item;
};

struct consumer {
    async_task task;
    async_co co;
    async_queue *q;
    int n, item, sum;
};

static int producer(async_loop *L, async_task *self)
{
    struct producer *f = async_frame(self, struct producer, task);
    async_begin(L, &f->co);
    for (f->i = 1; f->i <= 3; f->i++) {
        async_await(async_sleep(L, ASYNC_MS(2)));
        f->item = f->i * 10;
        async_await(async_queue_put(L, f->q, &f->item));
    }
    async_end;
}

static int consumer(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    for (f->n = 0; f->n < 3; f->n++) {
        async_await(async_queue_get(L, f->q, &f->item));
        f->sum += f->item;
    }
    async_return(f->sum);
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_queue q;
    int buf[1];
    struct producer p;
    struct consumer c;
    int sum;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    async_begin(L, &f->co);
    async_queue_init(&f->q, f->buf, sizeof f->buf[0], 1);
    f->p.q = f->c.q = &f->q;
    async_spawn(L, &f->p.task, producer);
    async_spawn(L, &f->c.task, consumer);
    async_await_val(f->sum, async_join(L, &f->c.task));
    async_return(f->sum);
    async_end;
}

int main(void)
{
    static struct main_frame m;
    int rc = async_ev_main(&m.task, main_task);

    if (rc < 0) {
        printf("ev: %s\n", async_strerror(rc));
        return 1;
    }
    if (strcmp(async_ev_abi(), ASYNC_EV_ABI_STRING) != 0) {
        printf("ev: library %s, program %s\n", async_ev_abi(), ASYNC_EV_ABI_STRING);
        return 1;
    }
    printf("ev: the queue carried %d, libasync %s %s\n", rc, ASYNC_VERSION_STRING,
           async_ev_abi());
    return 0;
}
