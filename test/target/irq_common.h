/* SPDX-License-Identifier: MIT */
/* irq_common.h - what both interrupt suites (test_irq.c on Cortex-M,
 * test_irq_rv.c on RISC-V) share: the bare-metal port and loop their
 * handlers post to, the notification the handlers give, and a task that
 * takes it.  Included once per suite, after async_bm.h.                */
#ifndef IRQ_COMMON_H
#define IRQ_COMMON_H

static async_bm BM;
static async_loop BL;
static async_notify N;

/* Takes N `want` times; returns how many it took. */
struct taker {
    async_task task;
    async_co co;
    int got, want;
};

static int taker(async_loop *L, async_task *self)
{
    struct taker *f = async_frame(self, struct taker, task);
    async_begin(L, &f->co);
    while (f->got < f->want) {
        async_await(async_notify_take(L, &N));
        f->got++;
    }
    async_return(f->got);
    async_end;
}

#endif
