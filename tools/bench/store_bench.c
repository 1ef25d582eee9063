/* SPDX-License-Identifier: MIT */
/* store_bench: the core's two timer stores side by side.  Built twice
 * from this file (mk/bench.mk): store_bench_list with the sorted list
 * (ASYNC_CONF_WHEEL_LEVELS=0, the default on 32-bit targets) and
 * store_bench_wheel with the 3 x 4 wheel it replaced there.  tools/bench
 * /run.py runs both in the same run and prints their ratio.
 *
 *     store_bench_{list,wheel} TIMERS ROUNDS REPS
 *
 * TIMERS periodic tasks on the virtual clock (autojump), each with its
 * own period (1..50 ticks, fixed pseudo-random), sleep ROUNDS times with
 * async_sleep_until(previous deadline + period): firmware's blink,
 * poll and watchdog loops.  Checked: every wake-up comes exactly at its
 * deadline.  The figure is timers armed and fired per second of this
 * process's CPU time; REPS runs, each printing a RESULT line.          */
#define _POSIX_C_SOURCE 200809L
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_TIMERS 4096u

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct ticker {
    async_task task;
    async_co co;
    async_tick period, deadline;
    unsigned left;
};

static struct ticker tickers[MAX_TIMERS];
static unsigned late; /* wake-ups not exactly at their deadline */

static int ticker_fn(async_loop *L, async_task *self)
{
    struct ticker *f = async_frame(self, struct ticker, task);
    async_begin(L, &f->co);
    f->deadline = async_now(L);
    while (f->left) {
        f->left--;
        f->deadline = (async_tick)(f->deadline + f->period);
        async_await(async_sleep_until(L, f->deadline));
        if (async_now(L) != f->deadline)
            late++;
    }
    async_end;
}

int main(int argc, char **argv)
{
    static async_vclock vc;
    static async_loop loop;
    unsigned n, rounds, reps, i, r;
    uint64_t x = 0x9E3779B97F4A7C15ull; /* xorshift64*, fixed seed */

    if (argc != 4 || (n = (unsigned)atoi(argv[1])) == 0 || n > MAX_TIMERS ||
        (rounds = (unsigned)atoi(argv[2])) == 0 || (reps = (unsigned)atoi(argv[3])) == 0) {
        fprintf(stderr, "usage: store_bench TIMERS(1..%u) ROUNDS REPS\n", MAX_TIMERS);
        return 2;
    }
    for (i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        tickers[i].period = (async_tick)(1u + (unsigned)((x * 0x2545F4914F6CDD1Dull) >> 33) % 50u);
    }
    for (r = 0; r < reps; r++) {
        double t0, t1;
        async_vclock_init(&vc, 0, true);
        async_loop_init(&loop, &vc.port);
        for (i = 0; i < n; i++) {
            tickers[i].left = rounds;
            tickers[i].co = (async_co){0};
            if (async_spawn(&loop, &tickers[i].task, ticker_fn) != 0) {
                printf("FAIL spawn\n");
                return 1;
            }
        }
        late = 0;
        t0 = cpu_now();
        if (async_run(&loop, NULL, NULL) != 0) {
            printf("FAIL async_run\n");
            return 1;
        }
        t1 = cpu_now();
        if (late) {
            printf("FAIL %u wake-ups off their deadline\n", late);
            return 1;
        }
        printf("RESULT store=%s timers=%u rate=%.0f cpu=%.4f\n",
               ASYNC_CONF_WHEEL_LEVELS == 0 ? "list" : "wheel", n,
               (double)n * rounds / (t1 - t0), t1 - t0);
    }
    return 0;
}
