/* SPDX-License-Identifier: MIT */
/* timeout: asyncio.wait_for, asyncio.timeout() and cancellation.
 *
 *  1. wait_for: a 2 s operation under a 300 ms deadline is interrupted
 *     and reports a timeout; one that finishes in time keeps its result.
 *  2. A timeout scope covers several awaits (asyncio.timeout()).
 *  3. Cancelling a task: its current await reports cancellation and its
 *     cleanup section (async_finally) still runs.                        */
#include "async_ev.h"
#include <stdio.h>

struct slow {
    async_co co;
};

/* A coroutine that takes `ms` and returns 42. */
static int slow_op(async_loop *L, struct slow *f, unsigned ms)
{
    async_begin(L, &f->co);
    async_await(async_sleep(L, ASYNC_MS(ms)));
    async_return(42);
    async_end;
}

struct victim {
    async_task task;
    async_co co;
};

static int victim(async_loop *L, async_task *self)
{
    struct victim *f = async_frame(self, struct victim, task);
    async_begin(L, &f->co);
    puts("victim: working for 10 s");
    async_await(async_sleep(L, ASYNC_SEC(10)));
    puts("victim: finished (not printed)");
    async_finally; /* runs on every exit, like try/finally */
    printf("victim: cleanup runs, reason: %s\n", async_strerror(async_error()));
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_timeout to;
    struct slow s;
    struct victim v;
    int rc, step;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    async_begin(L, &f->co);

    /* 1. wait_for */
    async_await_for(&f->to, ASYNC_MS(300), f->rc, slow_op(L, &f->s, 2000));
    printf("wait_for(slow 2 s, 300 ms): %s\n", async_strerror(f->rc));
    async_await_for(&f->to, ASYNC_MS(300), f->rc, slow_op(L, &f->s, 50));
    printf("wait_for(slow 50 ms, 300 ms): result %d\n", f->rc);

    /* 2. one deadline over several steps */
    async_timeout_begin(&f->to, ASYNC_MS(250));
    for (f->step = 1; f->step <= 5; f->step++) {
        async_await_rc(f->rc, async_sleep(L, ASYNC_MS(100)));
        if (f->rc < 0)
            break;
        printf("timeout scope: step %d done\n", f->step);
    }
    f->rc = async_timeout_end(&f->to);
    printf("timeout scope: %s after %d steps\n", async_strerror(f->rc), f->step - 1);

    /* 3. cancellation */
    async_spawn(L, &f->v.task, victim);
    async_await(async_sleep(L, ASYNC_MS(100)));
    puts("main: cancelling victim");
    async_cancel(L, &f->v.task);
    async_await_rc(f->rc, async_join(L, &f->v.task));
    printf("main: victim ended with: %s\n", async_strerror(f->rc));
    async_end;
}

int main(void)
{
    static struct main_frame m;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = async_ev_main(&m.task, main_task);
    if (rc < 0)
        fprintf(stderr, "timeout: %s\n", async_strerror(rc));
    return rc < 0;
}
