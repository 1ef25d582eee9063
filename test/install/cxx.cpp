/* SPDX-License-Identifier: MIT */
// An installed C++ program using the runtime (pkg-config async-ev),
// built by check-install as C++11 and as C++20: a coroutine awaited
// inline, a timeout that expires, and the loop's own clock.  Prints the
// language level and the results.
#include "async_ev.h"

#include <cstdio>

namespace {

struct Ticker {
    async_co co;
    int n;
};

int ticker(async_loop *L, Ticker *f, int times)
{
    async_begin(L, &f->co);
    for (f->n = 0; f->n < times; f->n++)
        async_await(async_sleep(L, ASYNC_MS(1)));
    async_return(f->n);
    async_end;
}

struct Main {
    async_task task;
    async_co co;
    Ticker ticker;
    async_timeout to;
    async_event never;
    int ticks, rc;
};

int main_task(async_loop *L, async_task *self)
{
    Main *f = async_frame(self, Main, task);
    async_begin(L, &f->co);
    async_await_val(f->ticks, ticker(L, &f->ticker, 3));
    async_await_for(&f->to, ASYNC_MS(5), f->rc, async_event_wait(L, &f->never));
    async_return(f->rc == ASYNC_ETIMEDOUT ? f->ticks : -1);
    async_end;
}

} // namespace

int main()
{
    static Main m;
    async_event_init(&m.never);
    int rc = async_ev_main(&m.task, main_task);
    if (rc != 3) {
        std::printf("c++ %ld: wrong result %d (%s)\n", static_cast<long>(__cplusplus), rc,
                    rc < 0 ? async_strerror(rc) : "");
        return 1;
    }
    std::printf("c++ %ld: 3 ticks, then a timeout, on libasync %s\n",
                static_cast<long>(__cplusplus), ASYNC_VERSION_STRING);
    return 0;
}
