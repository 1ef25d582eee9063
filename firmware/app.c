/* SPDX-License-Identifier: MIT */
/*
 * app.c - the example firmware: four tasks on one loop, no RTOS, no heap,
 * no stacks but the one main() runs on.  The same file builds for every
 * board (board.h).
 *
 *   blink     LED 0 toggles every 500 ms: a task sleeping on the clock.
 *   button    the button's interrupt handler gives a notification (the
 *             interrupt-safe async_notify_give); this task takes it,
 *             pauses or resumes the producer, then sleeps 50 ms and drops
 *             the presses the contacts' bouncing produced.  With no press
 *             for 30 s it resumes the producer by itself (async_await_for).
 *   producer  while running (an event), samples the sensor every 10 ms
 *             into a queue of 8; a full queue makes it wait (backpressure).
 *   consumer  takes the samples in batches of 16 and toggles LED 1 after
 *             each batch: LED 1 blinks while the producer runs.
 *
 * When nothing is runnable the loop sleeps in WFI (port/async_bm.h) until
 * the next deadline or interrupt.
 */
#include "board.h"

static async_bm bm;
static async_loop loop;

static async_notify button; /* given by the button interrupt        */
static async_event running; /* set: the producer samples            */
static async_queue samples; /* producer -> consumer                 */
static unsigned sample_buf[8];

/* Interrupt context: only interrupt-safe calls here. */
void app_button_isr(void)
{
    async_notify_give(&loop, &button);
}

/* ---- blink ---- */
static struct blink {
    async_task task;
    async_co co;
    bool on;
} blink;

static int blink_fn(async_loop *L, async_task *self)
{
    struct blink *f = async_frame(self, struct blink, task);
    async_begin(L, &f->co);
    for (;;) {
        f->on = !f->on;
        board_led(0, f->on);
        async_await(async_sleep(L, ASYNC_MS(500)));
    }
    async_end;
}

/* ---- button ---- */
static struct button_task {
    async_task task;
    async_co co;
    async_timeout to;
    int rc;
} button_task;

static int button_fn(async_loop *L, async_task *self)
{
    struct button_task *f = async_frame(self, struct button_task, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await_for(&f->to, ASYNC_SEC(30), f->rc, async_notify_take(L, &button));
        if (f->rc == ASYNC_ETIMEDOUT) { /* idle for 30 s: run again */
            async_event_set(L, &running);
            continue;
        }
        if (f->rc < 0)
            async_return(f->rc);
        if (async_event_is_set(&running))
            async_event_clear(&running);
        else
            async_event_set(L, &running);
        /* Debounce: let the contacts settle, then forget their presses. */
        async_await(async_sleep(L, ASYNC_MS(50)));
        while (async_sem_try_acquire(&button.sem) == 0)
            ;
    }
    async_end;
}

/* ---- producer ---- */
static struct producer {
    async_task task;
    async_co co;
    unsigned sample;
} producer;

static int producer_fn(async_loop *L, async_task *self)
{
    struct producer *f = async_frame(self, struct producer, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await(async_event_wait(L, &running));
        f->sample = board_sample();
        async_await(async_queue_put(L, &samples, &f->sample));
        async_await(async_sleep(L, ASYNC_MS(10)));
    }
    async_end;
}

/* ---- consumer ---- */
static struct consumer {
    async_task task;
    async_co co;
    unsigned sample, n;
    unsigned long sum;
    bool led;
} consumer;

static int consumer_fn(async_loop *L, async_task *self)
{
    struct consumer *f = async_frame(self, struct consumer, task);
    async_begin(L, &f->co);
    for (;;) {
        for (f->n = 0; f->n < 16u; f->n++) {
            async_await(async_queue_get(L, &samples, &f->sample));
            f->sum += f->sample;
        }
        f->led = !f->led;
        board_led(1, f->led);
    }
    async_end;
}

int main(void)
{
    board_init(&bm);
    async_loop_init(&loop, &bm.port);
    async_notify_init(&button);
    async_event_init(&running);
    async_event_set(&loop, &running);
    async_queue_init(&samples, sample_buf, sizeof sample_buf[0], 8);
    async_spawn(&loop, &blink.task, blink_fn);
    async_spawn(&loop, &button_task.task, button_fn);
    async_spawn(&loop, &producer.task, producer_fn);
    async_spawn(&loop, &consumer.task, consumer_fn);
    board_start();
    return async_run(&loop, NULL, NULL); /* the tasks never end */
}
