/* SPDX-License-Identifier: MIT */
// async.h used from C++: the macros, a task, a child coroutine, a timeout
// and a queue, compiled with -Wall -Wextra -Wpedantic -Werror under both
// continuation backends.  Exits non-zero on any wrong result.
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"

#include <cstdio>

namespace {

struct Child {
    async_co co;
    int n;
};

int child(async_loop *L, Child *f, int n)
{
    async_begin(L, &f->co);
    for (f->n = 0; f->n < n; f->n++)
        async_await(async_sleep(L, 10));
    async_return(n * 2);
    async_end;
}

struct Main {
    async_task task;
    async_co co;
    Child child;
    async_timeout to;
    async_queue q;
    int buf[2];
    int got, rc, item;
};

int main_task(async_loop *L, async_task *self)
{
    Main *f = async_frame(self, Main, task);
    async_begin(L, &f->co);
    async_await_val(f->got, child(L, &f->child, 3));
    async_await_for(&f->to, 5, f->rc, async_queue_get(L, &f->q, &f->item));
    if (f->rc != ASYNC_ETIMEDOUT)
        async_return(-100);
    f->item = 7;
    async_await(async_queue_put(L, &f->q, &f->item));
    async_await(async_queue_get(L, &f->q, &f->item));
    async_await(async_yield());
    async_return(f->got + f->item);
    async_end;
}

} // namespace

int main()
{
    static Main m;
    static async_vclock vc;
    static async_loop L;
    async_vclock_init(&vc, 0, true);
    async_loop_init(&L, &vc.port);
    async_queue_init(&m.q, m.buf, sizeof m.buf[0], 2);
    int rc = async_run(&L, &m.task, main_task);
    if (rc != 13 || async_now(&L) != 35) {
        std::printf("C++ smoke: wrong result %d at tick %lu\n", rc, (unsigned long)async_now(&L));
        return 1;
    }
    std::printf("C++ smoke: ok\n");
    return 0;
}
