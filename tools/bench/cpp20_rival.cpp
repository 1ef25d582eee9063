/* SPDX-License-Identifier: MIT */
// cpp20_rival.cpp: what a C++ programmer would write instead of async.h,
// for tools/bench/core_bench.c (interface and contracts in cpp20_rival.h).
//
// C++20 coroutines (g++ -std=c++20 -fcoroutines -O2) with the least
// scheduler that gives them async.h's semantics: a ring of ready handles
// run in FIFO order, a yield that requeues the caller, a task a parent
// can co_await (its completion queues the parent), and an event with an
// intrusive list of waiters.  Every frame comes from operator new, which
// here is malloc as in any default build: the spawn and memory figures
// include it, as a C++ user pays it.  Nothing here is tuned beyond what a
// careful user would do (no frame pool, no symmetric transfer), so that
// it measures the language's mechanism, not a benchmark trick: a parent
// and its child go through the ring as they do through async.h's run
// queue.
#include "cpp20_rival.h"

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#define NOINLINE __attribute__((noinline))

namespace {

// ---- the scheduler: a power-of-two ring of ready coroutines ----------

struct Ring {
    std::coroutine_handle<> *slot = nullptr;
    std::uint32_t mask = 0, head = 0, tail = 0;

    void reserve(std::size_t n)
    {
        std::uint32_t cap = 1;
        while (cap < n)
            cap <<= 1;
        std::free(slot);
        slot = static_cast<std::coroutine_handle<> *>(std::calloc(cap, sizeof *slot));
        if (!slot)
            std::abort();
        mask = cap - 1;
        head = tail = 0;
    }
    // The caller keeps at most mask + 1 handles queued (a task is queued
    // at most once, and the ring holds one slot per task).
    void push(std::coroutine_handle<> h) { slot[tail++ & mask] = h; }
    void run()
    {
        while (head != tail)
            slot[head++ & mask].resume();
    }
};

Ring ready;
std::size_t last_frame;

// ---- a task: a coroutine that starts suspended, and can be awaited ----

struct Task {
    struct promise_type;
    using Handle = std::coroutine_handle<promise_type>;

    struct promise_type {
        std::coroutine_handle<> joiner; // the coroutine in co_await task

        Task get_return_object() noexcept { return Task(Handle::from_promise(*this)); }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct Final {
            bool await_ready() noexcept { return false; }
            void await_suspend(Handle h) noexcept
            {
                if (h.promise().joiner)
                    ready.push(h.promise().joiner);
            }
            void await_resume() noexcept {}
        };
        Final final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::abort(); }
        // The default allocation, made visible: malloc, and the size the
        // compiler asks for the frame.
        static void *operator new(std::size_t n)
        {
            void *p = std::malloc(n);
            if (!p)
                std::abort();
            last_frame = n;
            return p;
        }
        static void operator delete(void *p) noexcept { std::free(p); }
    };

    Handle h;

    explicit Task(Handle h_) : h(h_) {}
    Task(Task &&o) noexcept : h(std::exchange(o.h, {})) {}
    Task &operator=(Task &&o) noexcept
    {
        std::swap(h, o.h);
        return *this;
    }
    Task() = default;
    ~Task()
    {
        if (h)
            h.destroy();
    }
    void spawn() { ready.push(h); }
    // co_await task: join.
    bool await_ready() const noexcept { return h.done(); }
    void await_suspend(std::coroutine_handle<> parent) noexcept { h.promise().joiner = parent; }
    void await_resume() const noexcept {}
};

struct Yield { // asyncio.sleep(0): requeue, let the others run
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { ready.push(h); }
    void await_resume() noexcept {}
};

struct Event {
    struct Waiter;
    Waiter *head = nullptr;
    bool is_set = false;

    struct Waiter { // lives in the waiting coroutine's frame
        Event &ev;
        std::coroutine_handle<> h;
        Waiter *next;
        bool await_ready() const noexcept { return ev.is_set; }
        void await_suspend(std::coroutine_handle<> h_) noexcept
        {
            h = h_;
            next = ev.head;
            ev.head = this;
        }
        void await_resume() const noexcept {}
    };
    Waiter operator co_await() noexcept { return Waiter{*this, {}, nullptr}; }
    void set()
    {
        is_set = true;
        for (Waiter *w = std::exchange(head, nullptr); w; w = w->next)
            ready.push(w->h);
    }
};

// ---- switch -----------------------------------------------------------

Task *tasks;
unsigned ntasks, nrounds, finished;

Task yielder(unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++)
        co_await Yield{};
    finished++;
}

// ---- spawn ------------------------------------------------------------

Task spawner_task;
unsigned nspawn, joined;

Task child() { co_return; }

Task spawner(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        Task c = child();
        c.spawn();
        co_await c;
        joined++;
    } // ~Task: the child's frame is freed
}

// ---- memory -----------------------------------------------------------

Event event;

Task waiter()
{
    co_await event;
    finished++;
}

} // namespace

extern "C" {

void cpp20_switch_setup(unsigned n, unsigned rounds)
{
    delete[] tasks;
    tasks = new Task[n];
    ntasks = n;
    nrounds = rounds;
    finished = 0;
    ready.reserve(n);
    for (unsigned i = 0; i < n; i++) {
        tasks[i] = yielder(rounds);
        tasks[i].spawn();
    }
}

NOINLINE void cpp20_switch_run(void) { ready.run(); }

int cpp20_switch_check(void)
{
    int ok = finished == ntasks;
    for (unsigned i = 0; i < ntasks; i++)
        ok = ok && tasks[i].h.done();
    delete[] tasks;
    tasks = nullptr;
    return ok ? 0 : -1;
}

void cpp20_spawn_setup(unsigned count)
{
    ready.reserve(2); // a parent and its child: never more queued
    nspawn = count;
    joined = 0;
}

NOINLINE void cpp20_spawn_run(void)
{
    spawner_task = spawner(nspawn);
    spawner_task.spawn();
    ready.run();
}

int cpp20_spawn_check(void)
{
    int ok = joined == nspawn && spawner_task.h.done();
    spawner_task = Task();
    return ok ? 0 : -1;
}

void cpp20_memory_prepare(unsigned n)
{
    tasks = new Task[n]; // value-initialised: its pages are resident now
    ntasks = n;
    finished = 0;
    ready.reserve(1);
}

void cpp20_memory_park(void)
{
    for (unsigned i = 0; i < ntasks; i++) {
        tasks[i] = waiter();
        tasks[i].h.resume(); // runs to co_await event and parks there
    }
}

int cpp20_memory_check_parked(void)
{
    unsigned n = 0;
    for (Event::Waiter *w = event.head; w; w = w->next)
        n++;
    return n == ntasks && finished == 0 ? 0 : -1;
}

int cpp20_memory_finish(void)
{
    ready.reserve(ntasks);
    event.set();
    ready.run();
    int ok = finished == ntasks;
    for (unsigned i = 0; i < ntasks; i++)
        ok = ok && tasks[i].h.done();
    delete[] tasks;
    tasks = nullptr;
    return ok ? 0 : -1;
}

std::size_t cpp20_frame_bytes(void) { return last_frame; }

} // extern "C"
