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

/* The one-declaration form, a shield, a held-lock scope, until under a
 * deadline, a callback on the loop and a barrier (the extras where the
 * configuration has them). */
struct guarded {
    async_task task;
    async_co co;
    async_shield sh;
    async_timeout to;
    int flag, rc;
#if ASYNC_CONF_EXTRAS
    async_locked held;
    async_lock lock;
    async_handle h;
    async_barrier b;
#endif
};

#if ASYNC_CONF_EXTRAS
void on_call(async_loop *L, async_handle *h)
{
    (void)L;
    async_frame(h, struct guarded, h)->flag = 1;
}
#endif

async_task_def(guarded, L, f)
    async_cancel(L, &f->task);
    async_shield_begin(&f->sh, 50); /* cancelled, yet the sleep runs */
    async_await(async_sleep(L, 10));
    async_shield_end(&f->sh);
    async_await_rc(f->rc, async_sleep(L, 1)); /* outside: sticky */
    if (f->rc != ASYNC_ECANCELED)
        async_return(-1);
    async_shield_begin(&f->sh, 0);
    async_await_for(&f->to, 5, f->rc, async_until(f->flag));
    if (f->rc != ASYNC_ETIMEDOUT)
        async_return(-2);
#if ASYNC_CONF_EXTRAS
    async_call_later(L, &f->h, 3, on_call);
    async_await(async_until(f->flag));
    async_with_lock(&f->held, &f->lock);
    async_await(async_barrier_wait(L, &f->b)); /* a barrier of one */
    async_with_lock_end(&f->held);
#endif
    async_shield_end(&f->sh);
    async_return(async_lock_is_locked(&f->lock) ? -3 : 5);
async_def_end

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
    static struct guarded g; /* "struct": the function of the same name hides the type */
#if ASYNC_CONF_EXTRAS
    async_barrier_init(&g.b, 1);
#endif
    rc = async_run(&L, &g.task, guarded);
    if (rc != 5) {
        std::printf("C++ smoke: guarded task ended with %d\n", rc);
        return 1;
    }
    std::printf("C++ smoke: ok\n");
    return 0;
}
