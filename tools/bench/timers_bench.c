/* SPDX-License-Identifier: MIT */
/* timers_bench: TASKS tasks sleeping random durations on the libev
 * runtime, against the same number of raw libev ev_timers (the floor),
 * same durations, alternating, REPS times.  tools/bench/run.py drives it.
 *
 *     timers_bench TASKS SPAN_MS REPS
 *
 * Each task is spawned, arms its deadline (now + d, d uniform in
 * 1..SPAN_MS ticks of 1 ms) with async_sleep_until, wakes and finishes;
 * each floor timer is ev_timer_start'ed with the same d and its callback
 * runs.  Checked for both: nothing wakes before its deadline, and wake-ups
 * come in deadline order (ties in any order).  The figure is timers armed
 * and fired per second of this process's CPU time (the loop sleeps in
 * epoll between deadlines, which costs no CPU).  Prints "RESULT ..."
 * lines, or "FAIL ..." and exits 1.                                      */
#define _POSIX_C_SOURCE 200809L
#include "src/async_ev.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TASKS 1000000u

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned dur[MAX_TASKS]; /* ms */
static unsigned fired, early, disorder;

static void fill_durations(unsigned n, unsigned span)
{
    uint64_t x = 0x9E3779B97F4A7C15ull; /* xorshift64*, fixed seed */
    unsigned i;
    for (i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        dur[i] = 1u + (unsigned)((x * 0x2545F4914F6CDD1Dull) >> 33) % span;
    }
}

/* ---- async.h tasks on the libev runtime ---- */

struct sleeper {
    async_task task;
    async_co co;
    async_tick deadline;
};

static struct sleeper sleepers[MAX_TASKS];
static async_tick last_deadline;

static int sleeper(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    f->deadline = (async_tick)(async_now(L) + dur[f - sleepers]);
    async_await(async_sleep_until(L, f->deadline));
    if (async_tick_before(async_now(L), f->deadline))
        early++;
    if (fired && async_tick_before(f->deadline, last_deadline))
        disorder++;
    last_deadline = f->deadline;
    fired++;
    async_end;
}

static void run_lib(unsigned n, double *cpu, double *wall)
{
    static async_ev E;
    async_loop *L;
    double c0, w0;
    unsigned i;
    int rc;

    memset(&E, 0, sizeof E);
    memset(sleepers, 0, sizeof sleepers[0] * n);
    fired = early = disorder = 0;
    if (async_ev_init(&E, EV_DEFAULT) != 0) {
        printf("FAIL async_ev_init\n");
        exit(1);
    }
    L = async_ev_loop(&E);
    c0 = cpu_now();
    w0 = wall_now();
    for (i = 0; i < n; i++)
        async_spawn(L, &sleepers[i].task, sleeper);
    rc = async_ev_run(&E, NULL, NULL);
    *cpu = cpu_now() - c0;
    *wall = wall_now() - w0;
    async_ev_close(&E);
    if (rc != 0 || fired != n) {
        printf("FAIL timers: %u of %u tasks woke (rc %d)\n", fired, n, rc);
        exit(1);
    }
}

/* ---- the floor: raw ev_timers ---- */

struct ftimer {
    ev_timer w;
    unsigned d;
};

static struct ftimer ftimers[MAX_TASKS];
static double start; /* CLOCK_MONOTONIC, read before libev's own "now" */
static unsigned last_d;

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    struct ftimer *t = (struct ftimer *)(void *)w;
    (void)ev;
    (void)revents;
    /* libev's deadline is its monotonic now (taken after `start`) + d, so
     * the monotonic clock here is past start + d unless it fired early. */
    if (wall_now() + 1e-9 < start + t->d / 1000.0)
        early++;
    if (fired && t->d < last_d)
        disorder++;
    last_d = t->d;
    fired++;
}

static void run_floor(unsigned n, double *cpu, double *wall)
{
    struct ev_loop *ev = ev_loop_new(EVFLAG_AUTO);
    double c0, w0;
    unsigned i;

    fired = early = disorder = 0;
    c0 = cpu_now();
    w0 = start = wall_now();
    ev_now_update(ev);
    for (i = 0; i < n; i++) {
        ftimers[i].d = dur[i];
        ev_timer_init(&ftimers[i].w, on_timer, dur[i] / 1000.0, 0.);
        ev_timer_start(ev, &ftimers[i].w);
    }
    ev_run(ev, 0);
    *cpu = cpu_now() - c0;
    *wall = wall_now() - w0;
    ev_loop_destroy(ev);
    if (fired != n) {
        printf("FAIL timers floor: %u of %u fired\n", fired, n);
        exit(1);
    }
}

static void check(const char *who)
{
    if (early || disorder) {
        printf("FAIL timers %s: %u woke early, %u out of deadline order\n", who, early, disorder);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
    unsigned span = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    unsigned reps = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
    unsigned r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (n < 1 || n > MAX_TASKS || span < 1 || reps < 1) {
        fprintf(stderr, "usage: timers_bench TASKS(1..%u) SPAN_MS REPS\n", MAX_TASKS);
        return 2;
    }
    fill_durations(n, span);
    for (r = 0; r < reps; r++) {
        double fc, fw, lc, lw;
        run_floor(n, &fc, &fw);
        check("floor");
        run_lib(n, &lc, &lw);
        check("async.h");
        printf("RESULT bench=timers rep=%u tasks=%u span_ms=%u floor_cpu=%.4f floor_wall=%.4f "
               "lib_cpu=%.4f lib_wall=%.4f floor_rate=%.0f lib_rate=%.0f\n",
               r, n, span, fc, fw, lc, lw, n / fc, n / lc);
    }
    return 0;
}
