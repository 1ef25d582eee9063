/* SPDX-License-Identifier: MIT */
/* core_bench: the core scheduler's benchmarks, each beside its floor and
 * its C++20 rival in the same binary.  tools/bench/run.py drives it
 * (minima, medians, tables, BENCH lines); every mode prints
 * "RESULT key=value ..." lines.
 *
 * The floors are protothreads-style: hand-written switch-based local
 * continuations (the state in the frame, a `switch` to resume), called
 * from a plain loop with no scheduler, no wait lists, no cancellation -
 * what protothreads does, so they also stand for that rival.  The C++20
 * rival (cpp20_rival.cpp, g++ -std=c++20 -fcoroutines) is C++20
 * coroutines on a minimal ring scheduler, frames from malloc.
 *
 *   core_bench switch TASKS ROUNDS REPS
 *       TASKS tasks each yield ROUNDS times (async_yield through the
 *       scheduler, async_run on the virtual clock port), against TASKS
 *       hand-written switch coroutines called round-robin from an array
 *       through a function pointer (the floor) and TASKS C++20 coroutines
 *       co_awaiting a yield on the ring: REPS repetitions, the three
 *       interleaved and their order rotated from one repetition to the
 *       next, so that a busy moment of the machine falls on all three.
 *   core_bench switch-once TASKS ROUNDS
 *       one run of each, no warm-up: for callgrind (--toggle-collect=
 *       run_lib, run_floor or cpp20_switch_run), instructions per trip.
 *   core_bench spawn COUNT REPS
 *       a task spawns a child with an empty body, awaits it (async_join),
 *       COUNT times; against the floor (a switch coroutine that queues a
 *       child on a FIFO, and is queued again when the child ends) and a
 *       C++20 coroutine that creates a child (malloc), queues it, co_awaits
 *       it and destroys it (free): interleaved as for switch.
 *   core_bench spawn-once COUNT
 *       one run of each, for callgrind (run_spawn, run_spawn_floor,
 *       cpp20_spawn_run).
 *   core_bench memory TASKS
 *       RSS growth for TASKS tasks parked on one event (header + the
 *       coroutine's 16-byte frame each), then sets the event and checks
 *       that every task finishes.
 *   core_bench memory-cpp20 TASKS
 *       the same for TASKS C++20 coroutines parked on an event (each
 *       frame malloc'd, with the allocator's header and rounding).
 *   core_bench channel COUNT CAP REPS
 *       a producer and a consumer task through an async_queue of CAP
 *       items, COUNT messages, order checked; against a hand-written
 *       switch-coroutine pair over a plain ring buffer (the floor).
 *
 * Times are this process's CPU time (CLOCK_PROCESS_CPUTIME_ID), so time
 * spent descheduled on a shared machine does not count.  The library is
 * linked as users link it: async.h's bodies in their own translation
 * unit (libasync.a), no LTO.                                            */
#define _POSIX_C_SOURCE 200809L
#include "async.h"
#include "port/async_vclock.h"
#include "tools/bench/cpp20_rival.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The floors' and the drivers' code starts on a 64-byte boundary: a
 * loop of some 20 instructions runs up to 30% slower or faster on this
 * CPU with where it sits, and what async.h inlines into this file would
 * otherwise move them from one build of async.h to the next (the same
 * floor ran at 4.4 and at 5.7 ns in two builds measured alternately).  */
#define NOINLINE __attribute__((noinline, aligned(64)))
/* What callgrind collects (--toggle-collect=NAME) must keep its name: no
 * inlining and, on gcc, no clones (run_spawn.constprop.0).              */
#if defined(__GNUC__) && !defined(__clang__)
#define MEASURED __attribute__((noinline, noipa, aligned(64)))
#else
#define MEASURED __attribute__((noinline, aligned(64)))
#endif

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    printf("FAIL %s\n", what);
    exit(1);
}

static async_vclock vclock; /* time stands still: no timers involved */
static async_loop loop;

static async_loop *fresh_loop(void)
{
    async_vclock_init(&vclock, 0, false);
    if (async_loop_init(&loop, &vclock.port) != 0)
        die("async_loop_init");
    return &loop;
}

/* ====================================================================
 * switch: one yield/resume round trip.
 * ==================================================================== */

struct yielder {
    async_task task;
    async_co co;
    unsigned left;
};

static int yielder(async_loop *L, async_task *self)
{
    struct yielder *f = async_frame(self, struct yielder, task);
    async_begin(L, &f->co);
    while (f->left) {
        f->left--;
        async_await(async_yield());
    }
    async_end;
}

/* The floor: the least a round-robin of switch coroutines can do. */
struct fco {
    int (*fn)(struct fco *f);
    unsigned lc, left;
};

static NOINLINE int floor_yielder(struct fco *f)
{
    switch (f->lc) {
    case 0:
        while (f->left) {
            f->left--;
            f->lc = 1;
            return 1; /* yield */
        case 1:;
        }
    }
    f->lc = 0;
    return 0; /* done */
}

static MEASURED void run_floor(struct fco *fr, unsigned n)
{
    unsigned live = n, i;
    while (live)
        for (i = 0; i < n; i++)
            if (fr[i].fn && fr[i].fn(&fr[i]) == 0) {
                fr[i].fn = NULL;
                live--;
            }
}

static MEASURED void run_lib(async_loop *L)
{
    if (async_run(L, NULL, NULL) != 0 || async_loop_task_count(L) != 0)
        die("async_run (switch)");
}

static double switch_floor(unsigned tasks, unsigned rounds)
{
    static struct fco *fr;
    unsigned i;
    double t0;
    if (!fr && !(fr = calloc(tasks, sizeof *fr)))
        die("calloc");
    for (i = 0; i < tasks; i++) {
        fr[i].fn = floor_yielder;
        fr[i].lc = 0;
        fr[i].left = rounds;
    }
    t0 = cpu_now();
    run_floor(fr, tasks);
    return cpu_now() - t0;
}

static double switch_lib(unsigned tasks, unsigned rounds)
{
    static struct yielder *y;
    async_loop *L = fresh_loop();
    unsigned i;
    double t0;
    if (!y && !(y = calloc(tasks, sizeof *y)))
        die("calloc");
    for (i = 0; i < tasks; i++) {
        memset(&y[i], 0, sizeof y[i]);
        y[i].left = rounds;
        if (async_spawn(L, &y[i].task, yielder) != 0)
            die("async_spawn");
    }
    t0 = cpu_now();
    run_lib(L);
    return cpu_now() - t0;
}

static double switch_cpp20(unsigned tasks, unsigned rounds)
{
    double t0;
    cpp20_switch_setup(tasks, rounds);
    t0 = cpu_now();
    cpp20_switch_run();
    t0 = cpu_now() - t0;
    if (cpp20_switch_check() != 0)
        die("switch: a C++20 task did not finish its rounds");
    return t0;
}

/* Repetition r runs the three in the order rotated by r: over the
 * repetitions each comes first, second and third equally often.        */
typedef double (*bench_fn)(unsigned, unsigned);

static void interleaved(bench_fn const fns[3], double out[3], unsigned r, unsigned a, unsigned b)
{
    unsigned k;
    for (k = 0; k < 3; k++) {
        unsigned which = (r + k) % 3;
        out[which] = fns[which](a, b);
    }
}

/* warm: a short run of each first (page in, train the caches); not for
 * callgrind, which divides everything it counted by tasks x rounds.     */
static void bench_switch(unsigned tasks, unsigned rounds, unsigned reps, bool warm)
{
    static bench_fn const fns[3] = {switch_floor, switch_lib, switch_cpp20};
    double trips = (double)tasks * rounds, t[3];
    unsigned r;
    if (warm)
        interleaved(fns, t, 0, tasks, rounds / 10 + 1);
    for (r = 0; r < reps; r++) {
        interleaved(fns, t, r, tasks, rounds);
        printf("RESULT bench=switch rep=%u tasks=%u rounds=%u floor_ns=%.3f lib_ns=%.3f "
               "cpp20_ns=%.3f\n",
               r, tasks, rounds, t[0] / trips * 1e9, t[1] / trips * 1e9, t[2] / trips * 1e9);
    }
}

/* ====================================================================
 * spawn: spawn a child, run it to completion, reap it (await it).
 * ==================================================================== */

struct child {
    async_task task;
    async_co co;
};

static int child(async_loop *L, async_task *self)
{
    struct child *c = async_frame(self, struct child, task);
    async_begin(L, &c->co);
    async_end;
}

struct spawner {
    async_task task;
    async_co co;
    unsigned i, n;
    int rc;
    struct child c;
};

static int spawner(async_loop *L, async_task *self)
{
    struct spawner *f = async_frame(self, struct spawner, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < f->n; f->i++) {
        async_await(async_spawn(L, &f->c.task, child));
        async_await_val(f->rc, async_join(L, &f->c.task));
        if (f->rc != 0)
            async_return(ASYNC_EPROTO);
    }
    async_end;
}

static MEASURED int run_spawn(async_loop *L, struct spawner *s)
{
    return async_run(L, &s->task, spawner);
}

static double spawn_lib(unsigned count, unsigned unused)
{
    static struct spawner s;
    async_loop *L = fresh_loop();
    double t0;
    int rc;
    (void)unused;
    memset(&s, 0, sizeof s);
    s.n = count;
    t0 = cpu_now();
    rc = run_spawn(L, &s);
    t0 = cpu_now() - t0;
    if (rc != 0 || s.i != s.n)
        die("spawn: a child did not complete");
    return t0;
}

/* The floor: switch coroutines on a FIFO of ready frames.  A parent
 * readies its child and stops; the child's end readies its joiner.  No
 * states, no results, no cancellation: the least a spawn + join through
 * a run queue can do.                                                    */
struct sco {
    int (*fn)(struct sco *self);
    struct sco *next, *joiner;
    unsigned lc, i, n;
};

static struct sco *fifo_head, **fifo_tail = &fifo_head;

static void fifo_push(struct sco *c)
{
    c->next = NULL;
    *fifo_tail = c;
    fifo_tail = &c->next;
}

static NOINLINE int floor_child(struct sco *c)
{
    (void)c;
    return 0; /* done at once */
}

static NOINLINE int floor_spawner(struct sco *p)
{
    static struct sco c;
    switch (p->lc) {
    case 0:
        for (p->i = 0; p->i < p->n; p->i++) {
            c.fn = floor_child;
            c.lc = 0;
            c.joiner = p;
            fifo_push(&c);
            p->lc = 1;
            return 1; /* wait for the child */
        case 1:;
        }
    }
    p->lc = 0;
    return 0;
}

static MEASURED void run_spawn_floor(struct sco *p)
{
    struct sco *c;
    fifo_push(p);
    while ((c = fifo_head) != NULL) {
        if ((fifo_head = c->next) == NULL)
            fifo_tail = &fifo_head;
        if (c->fn(c) == 0 && c->joiner)
            fifo_push(c->joiner);
    }
}

static double spawn_floor(unsigned count, unsigned unused)
{
    static struct sco p;
    double t0;
    (void)unused;
    memset(&p, 0, sizeof p);
    p.fn = floor_spawner;
    p.n = count;
    t0 = cpu_now();
    run_spawn_floor(&p);
    t0 = cpu_now() - t0;
    if (p.i != count)
        die("spawn floor: a child did not complete");
    return t0;
}

static double spawn_cpp20(unsigned count, unsigned unused)
{
    double t0;
    (void)unused;
    cpp20_spawn_setup(count);
    t0 = cpu_now();
    cpp20_spawn_run();
    t0 = cpu_now() - t0;
    if (cpp20_spawn_check() != 0)
        die("spawn: a C++20 child did not complete");
    return t0;
}

static void bench_spawn(unsigned count, unsigned reps, bool warm)
{
    static bench_fn const fns[3] = {spawn_floor, spawn_lib, spawn_cpp20};
    double t[3];
    unsigned r;
    if (warm)
        interleaved(fns, t, 0, count / 10 + 1, 0);
    for (r = 0; r < reps; r++) {
        interleaved(fns, t, r, count, 0);
        printf("RESULT bench=spawn rep=%u count=%u floor_ns=%.3f lib_ns=%.3f cpp20_ns=%.3f\n", r,
               count, t[0] / count * 1e9, t[1] / count * 1e9, t[2] / count * 1e9);
    }
}

/* ====================================================================
 * memory: resident bytes per parked task.
 * ==================================================================== */

struct waiter {
    async_task task;
    async_co co; /* the coroutine's frame: 16 bytes on x86-64 */
};

static async_event ev;

static int waiter(async_loop *L, async_task *self)
{
    struct waiter *w = async_frame(self, struct waiter, task);
    async_begin(L, &w->co);
    async_await(async_event_wait(L, &ev));
    async_end;
}

static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2)
        die("/proc/self/statm");
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

#define MEM_MAX 1000000u
static struct waiter waiters[MEM_MAX]; /* bss: resident only once touched */

static void bench_memory(unsigned tasks)
{
    async_loop *L = fresh_loop();
    long before, after;
    unsigned i;

    if (tasks > MEM_MAX)
        die("memory: too many tasks");
    async_event_init(&ev);
    before = rss_bytes();
    for (i = 0; i < tasks; i++)
        if (async_spawn(L, &waiters[i].task, waiter) != 0)
            die("async_spawn");
    async_run_once(L); /* each task runs to its await and parks */
    after = rss_bytes();
    for (i = 0; i < tasks; i++)
        if (async_task_state(&waiters[i].task) != ASYNC_TASK_WAITING)
            die("memory: a task is not parked on the event");
    printf("RESULT bench=memory tasks=%u rss_before=%ld rss_after=%ld bytes_per_task=%.2f "
           "sizeof_task=%zu sizeof_frame=%zu\n",
           tasks, before, after, (double)(after - before) / tasks, sizeof(async_task),
           sizeof(async_co));
    async_event_set(L, &ev);
    if (async_run(L, NULL, NULL) != 0 || async_loop_task_count(L) != 0)
        die("memory: tasks did not finish after the event was set");
    for (i = 0; i < tasks; i++)
        if (async_task_result(&waiters[i].task) != 0)
            die("memory: a task finished with an error");
}

static void bench_memory_cpp20(unsigned tasks)
{
    long before, after;

    cpp20_memory_prepare(tasks);
    before = rss_bytes();
    cpp20_memory_park();
    after = rss_bytes();
    if (cpp20_memory_check_parked() != 0)
        die("memory: a C++20 task is not parked on the event");
    printf("RESULT bench=memory-cpp20 tasks=%u rss_before=%ld rss_after=%ld bytes_per_task=%.2f "
           "frame=%zu\n",
           tasks, before, after, (double)(after - before) / tasks, cpp20_frame_bytes());
    if (cpp20_memory_finish() != 0)
        die("memory: C++20 tasks did not finish after the event was set");
}

/* ====================================================================
 * channel: producer -> bounded queue -> consumer.
 * ==================================================================== */

struct producer {
    async_task task;
    async_co co;
    async_queue *q;
    uint64_t i, n;
};

struct consumer {
    async_task task;
    async_co co;
    async_queue *q;
    uint64_t item, expect;
    int rc;
};

static int producer(async_loop *L, async_task *self)
{
    struct producer *p = async_frame(self, struct producer, task);
    async_begin(L, &p->co);
    for (p->i = 0; p->i < p->n; p->i++)
        async_await(async_queue_put(L, p->q, &p->i));
    async_queue_close(L, p->q);
    async_end;
}

static int consumer(async_loop *L, async_task *self)
{
    struct consumer *c = async_frame(self, struct consumer, task);
    async_begin(L, &c->co);
    for (;;) {
        async_await_rc(c->rc, async_queue_get(L, c->q, &c->item));
        if (c->rc == ASYNC_ECLOSED)
            break;
        if (c->rc != 0 || c->item != c->expect)
            async_return(ASYNC_EPROTO); /* lost, duplicated or reordered */
        c->expect++;
    }
    async_end;
}

static double channel_lib(uint64_t count, unsigned cap)
{
    static uint64_t buf[4096];
    static async_queue q;
    static struct producer p;
    static struct consumer c;
    async_loop *L = fresh_loop();
    double t0;

    if (cap > 4096 || async_queue_init(&q, buf, sizeof buf[0], cap) != 0)
        die("async_queue_init");
    memset(&p, 0, sizeof p);
    memset(&c, 0, sizeof c);
    p.q = c.q = &q;
    p.n = count;
    t0 = cpu_now();
    async_spawn(L, &c.task, consumer);
    async_spawn(L, &p.task, producer);
    if (async_run(L, NULL, NULL) != 0)
        die("channel: async_run");
    t0 = cpu_now() - t0;
    if (async_task_result(&c.task) != 0 || async_task_result(&p.task) != 0 || c.expect != count)
        die("channel: messages lost, duplicated or out of order");
    return t0;
}

/* The floor: two switch coroutines over a plain ring buffer. */
struct fring {
    uint64_t buf[4096];
    unsigned cap, head, count;
    int closed;
};
struct fpc {
    unsigned lc;
    uint64_t i, n, expect;
    struct fring *r;
};

static NOINLINE int floor_producer(struct fpc *p)
{
    struct fring *r = p->r;
    switch (p->lc) {
    case 0:
        for (p->i = 0; p->i < p->n; p->i++) {
            while (r->count == r->cap) {
                p->lc = 1;
                return 1;
            case 1:;
            }
            r->buf[(r->head + r->count) % r->cap] = p->i;
            r->count++;
        }
    }
    r->closed = 1;
    return 0;
}

static NOINLINE int floor_consumer(struct fpc *c)
{
    struct fring *r = c->r;
    uint64_t item;
    switch (c->lc) {
    case 0:
        for (;;) {
            while (r->count == 0) {
                if (r->closed)
                    return 0;
                c->lc = 1;
                return 1;
            case 1:;
            }
            item = r->buf[r->head];
            r->head = (r->head + 1) % r->cap;
            r->count--;
            if (item != c->expect)
                return -1;
            c->expect++;
        }
    }
    return 0;
}

static double channel_floor(uint64_t count, unsigned cap)
{
    static struct fring r;
    struct fpc p = {0, 0, 0, 0, &r}, c = {0, 0, 0, 0, &r};
    int (*volatile fns[2])(struct fpc *) = {floor_consumer, floor_producer};
    struct fpc *frames[2] = {&c, &p};
    int live[2] = {1, 1}, k, rc;
    double t0;

    memset(&r, 0, sizeof r);
    r.cap = cap;
    p.n = count;
    t0 = cpu_now();
    while (live[0] || live[1])
        for (k = 0; k < 2; k++)
            if (live[k] && (rc = fns[k](frames[k])) <= 0) {
                if (rc < 0)
                    die("channel floor: out of order");
                live[k] = 0;
            }
    t0 = cpu_now() - t0;
    if (c.expect != count)
        die("channel floor: messages lost");
    return t0;
}

static void bench_channel(uint64_t count, unsigned cap, unsigned reps)
{
    unsigned r;
    channel_floor(count / 10 + 1, cap);
    channel_lib(count / 10 + 1, cap);
    for (r = 0; r < reps; r++) {
        double f = channel_floor(count, cap), l = channel_lib(count, cap);
        printf("RESULT bench=channel rep=%u count=%llu cap=%u floor_ns=%.3f lib_ns=%.3f\n", r,
               (unsigned long long)count, cap, f / (double)count * 1e9, l / (double)count * 1e9);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned long a = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    unsigned long b = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    unsigned long c = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "switch") && a && b && c)
        bench_switch((unsigned)a, (unsigned)b, (unsigned)c, true);
    else if (!strcmp(mode, "switch-once") && a && b)
        bench_switch((unsigned)a, (unsigned)b, 1, false);
    else if (!strcmp(mode, "spawn") && a && b)
        bench_spawn((unsigned)a, (unsigned)b, true);
    else if (!strcmp(mode, "spawn-once") && a)
        bench_spawn((unsigned)a, 1, false);
    else if (!strcmp(mode, "memory") && a)
        bench_memory((unsigned)a);
    else if (!strcmp(mode, "memory-cpp20") && a)
        bench_memory_cpp20((unsigned)a);
    else if (!strcmp(mode, "channel") && a && b && c)
        bench_channel(a, (unsigned)b, (unsigned)c);
    else {
        fprintf(stderr, "usage: core_bench switch TASKS ROUNDS REPS | switch-once TASKS ROUNDS |"
                        " spawn COUNT REPS | spawn-once COUNT | memory TASKS |"
                        " memory-cpp20 TASKS | channel COUNT CAP REPS\n");
        return 2;
    }
    return 0;
}
