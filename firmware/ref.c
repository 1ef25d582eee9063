/* SPDX-License-Identifier: MIT */
/*
 * ref.c - the three reference applications `make size` measures, written
 * against the public API only, each a superset of the one before:
 *
 *   REF_APP 1  blinky          three tasks (one coroutine, three frames)
 *                              blink LEDs 0, 1 and 2 every 500, 300 and
 *                              700 ms
 *   REF_APP 2  + event, queue  the button's interrupt handler sets an
 *                              event (async_isr_event_set); a task waits
 *                              for it and queues the press count; another
 *                              takes the counts from the queue and
 *                              flashes LED 2 once per press
 *   REF_APP 3  + gather,       every second a task spawns two workers
 *              timeout         and gathers them (async_gather) within a
 *                              100 ms timeout (async_await_for): one
 *                              worker sleeps 20 ms, the other 20 to 180
 *                              ms, so some rounds time out and cancel it;
 *                              the task counts them
 *   REF_APP 4  the same with   app 3 with the gather done by a group
 *              a group         (async_group_spawn, async_group_wait,
 *                              async_group_reap): what TaskGroup's
 *                              machinery costs, kept in sight
 *
 * The figures are what a firmware developer links for such a program:
 * the core and the bare-metal port after --gc-sections, and the app's own
 * code, on each board of board.h.  They compare with the same programs
 * written for Contiki-NG (processes and etimers) and FreeRTOS (tasks,
 * vTaskDelay, a queue, an ISR-given semaphore): docs/firmware.md.
 */
#include "board.h"

#ifndef REF_APP
#define REF_APP 3
#endif

static async_bm bm;
static async_loop loop;

/* ---- 1: blinky ---- */
struct blinker {
    async_task task;
    async_co co;
    unsigned led;
    async_tick period;
    bool on;
};
static struct blinker blinkers[3];

static int blink_fn(async_loop *L, async_task *self)
{
    struct blinker *f = async_frame(self, struct blinker, task);
    async_begin(L, &f->co);
    for (;;) {
        f->on = !f->on;
        board_led(f->led, f->on);
        async_await(async_sleep(L, f->period));
    }
    async_end;
}

static void start_blinkers(void)
{
    /* in ticks at compile time: ASYNC_MS() of a variable divides at run time */
    static const async_tick periods[3] = {ASYNC_MS(500), ASYNC_MS(300), ASYNC_MS(700)};
    unsigned i;
    for (i = 0; i < 3; i++) {
        blinkers[i].led = i;
        blinkers[i].period = periods[i];
        async_spawn(&loop, &blinkers[i].task, blink_fn);
    }
}

/* ---- 2: an interrupt-driven event and a queue ---- */
#if REF_APP >= 2
static async_event pressed;
static async_isr_event pressed_isr;
static async_queue presses;
static unsigned press_buf[4];

/* Interrupt context: only interrupt-safe calls here. */
void app_button_isr(void)
{
    async_isr_event_set(&loop, &pressed_isr);
}

static struct button {
    async_task task;
    async_co co;
    unsigned count;
} button;

static int button_fn(async_loop *L, async_task *self)
{
    struct button *f = async_frame(self, struct button, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await(async_event_wait(L, &pressed));
        async_event_clear(&pressed);
        f->count++;
        async_await(async_queue_put(L, &presses, &f->count));
    }
    async_end;
}

static struct flasher {
    async_task task;
    async_co co;
    unsigned count;
} flasher;

static int flasher_fn(async_loop *L, async_task *self)
{
    struct flasher *f = async_frame(self, struct flasher, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await(async_queue_get(L, &presses, &f->count));
        board_led(2, true);
        async_await(async_sleep(L, ASYNC_MS(50)));
        board_led(2, false);
    }
    async_end;
}

static void start_button(void)
{
    async_event_init(&pressed);
    async_isr_event_init(&pressed_isr, &pressed);
    async_queue_init(&presses, press_buf, sizeof press_buf[0], 4);
    async_spawn(&loop, &button.task, button_fn);
    async_spawn(&loop, &flasher.task, flasher_fn);
}
#else
void app_button_isr(void)
{
}
#endif

/* ---- 3: gather and a timeout ---- */
#if REF_APP >= 3
struct worker {
    async_task task;
    async_co co;
    async_tick ticks;
};

static int worker_fn(async_loop *L, async_task *self)
{
    struct worker *f = async_frame(self, struct worker, task);
    async_begin(L, &f->co);
    async_await(async_sleep(L, f->ticks));
    async_return(1);
    async_end;
}

#if REF_APP == 3
/* The two workers are a fixed set: async_gather waits for them where
 * they are, with no group to record them in. */
static struct gatherer {
    async_task task;
    async_co co;
    struct worker w[2];
    async_timeout to;
    unsigned round, timeouts;
    int rc;
} gatherer;

static async_task *const workers[2] = {&gatherer.w[0].task, &gatherer.w[1].task};

static int gather_fn(async_loop *L, async_task *self)
{
    struct gatherer *f = async_frame(self, struct gatherer, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await(async_sleep(L, ASYNC_SEC(1)));
        f->w[0].ticks = ASYNC_MS(20);
        f->w[1].ticks = (async_tick)(ASYNC_MS(20) + ASYNC_MS(40) * f->round);
        f->round = f->round == 4 ? 0 : f->round + 1; /* 20, 60 .. 180 ms */
        async_spawn(L, &f->w[0].task, worker_fn);
        async_spawn(L, &f->w[1].task, worker_fn);
        async_await_for(&f->to, ASYNC_MS(100), f->rc, async_gather(L, workers, 2));
        if (f->rc == ASYNC_ETIMEDOUT)
            f->timeouts++; /* the slow worker was cancelled; both have finished */
    }
    async_end;
}
#else
/* REF_APP 4: the same gather with a group (TaskGroup's machinery: the
 * members recorded in slots, spawned into it, reaped from it). */
static struct gatherer {
    async_task task;
    async_co co;
    async_group group;
    async_task *slots[2];
    struct worker w[2];
    async_timeout to;
    unsigned round, timeouts;
    int rc;
} gatherer;

static int gather_fn(async_loop *L, async_task *self)
{
    struct gatherer *f = async_frame(self, struct gatherer, task);
    async_begin(L, &f->co);
    async_group_init(&f->group, f->slots, 2, 0);
    for (;;) {
        async_await(async_sleep(L, ASYNC_SEC(1)));
        f->w[0].ticks = ASYNC_MS(20);
        f->w[1].ticks = (async_tick)(ASYNC_MS(20) + ASYNC_MS(40) * f->round);
        f->round = f->round == 4 ? 0 : f->round + 1; /* 20, 60 .. 180 ms */
        async_group_spawn(L, &f->group, &f->w[0].task, worker_fn);
        async_group_spawn(L, &f->group, &f->w[1].task, worker_fn);
        async_await_for(&f->to, ASYNC_MS(100), f->rc, async_group_wait(L, &f->group));
        if (f->rc == ASYNC_ETIMEDOUT)
            f->timeouts++; /* the slow worker was cancelled */
        async_group_reap(&f->group); /* the workers are free for the next round */
    }
    async_end;
}
#endif
#endif

int main(void)
{
    board_init(&bm);
    async_loop_init(&loop, &bm.port);
    start_blinkers();
#if REF_APP >= 2
    start_button();
#endif
#if REF_APP >= 3
    async_spawn(&loop, &gatherer.task, gather_fn);
#endif
    board_start();
    return async_run(&loop, NULL, NULL); /* the tasks never end */
}
