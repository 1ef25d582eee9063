/* SPDX-License-Identifier: MIT */
/* tools/async-lint must report every line marked "expect: RULE" here,
 * and nothing else (test/lint/run checks both).  Each function is a
 * protothread pitfall that compiles but misbehaves at run time. */
#define ASYNC_IMPLEMENTATION
#include "async.h"

struct fr {
    async_task task;
    async_co co;
    async_timeout to;
    int n, rc;
};

static int use(int v) { return v; }
static int child(async_loop *L, async_co *co, int v)
{
    async_begin(L, co);
    async_await(async_sleep(L, (async_tick)v));
    async_end;
}

/* A local assigned before an await and read after it. */
static int local_across_await(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    int n = use(3);
    async_await(async_sleep(L, 1));
    f->n = n; /* expect: local-across-await */
    async_end;
}

/* The arguments of an await are evaluated again on every resume. */
static int local_in_await_arguments(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    int ticks = use(5);
    async_await(child(L, &f->co, ticks)); /* expect: local-across-await */
    async_end;
}

/* A loop counter in a local: the increment runs after the await. */
static int loop_counter(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    int i;
    async_begin(L, &f->co);
    for (i = 0; i < 3; i++) { /* expect: local-across-await */
        async_await(async_sleep(L, 1));
    }
    async_end;
}

/* A local declared before async_begin is re-initialised on every entry:
 * what the body stored in it is gone after an await. */
static int pre_begin_local(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    int total = 0;
    async_begin(L, &f->co);
    total = use(7);
    async_await(async_yield());
    f->n = total; /* expect: local-across-await */
    async_end;
}

/* A condition await re-evaluates its condition after resuming. */
static int condition_on_local(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    int limit = use(4);
    async_await_until(f->n > limit); /* expect: local-across-await */
    async_end;
}

/* The cleanup section is entered through the resume dispatch. */
static int local_in_finally(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    int fd = use(9);
    async_await_rc(f->rc, async_sleep(L, 1));
    async_finally;
    f->n = fd; /* expect: local-across-await */
    async_end;
}

/* Only one path loses the value: still a bug. */
static int one_path(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    long v = use(1);
    if (f->n)
        async_await(async_sleep(L, 1));
    f->rc = (int)v; /* expect: local-across-await */
    async_end;
}

/* Switch backend: an await inside the body's own switch. */
static int await_in_switch(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    switch (f->n) {
    case 7: /* compiles, but a resume jumps into the wrong case */
        async_await(async_sleep(L, 1)); /* expect: await-in-switch */
        break;
    default:
        break;
    }
    async_end;
}

/* Switch backend: a case label joins the hidden dispatch switch. */
static int stray_case(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
case 1000: /* expect: case-label */
    f->n++;
    async_end;
}

/* A plain return skips async_finally and leaves the scope open. */
static int plain_return(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    async_timeout_begin(&f->to, 10);
    if (f->n)
        return 1; /* expect: return-in-body */
    async_await(async_sleep(L, 1));
    async_end;
}

/* The one-declaration form is a coroutine body like any other. */
struct def_form { async_task task; async_co co; int n; };
static async_task_def(def_form, L, f)
    int x = f->n;
    async_await(async_sleep(L, 1));
    f->n = x; /* expect: local-across-await */
async_def_end

int main(void)
{
    async_task_fn fns[] = {local_across_await, local_in_await_arguments, loop_counter,
                           pre_begin_local, condition_on_local, local_in_finally, one_path,
                           await_in_switch, stray_case, plain_return, def_form};
    return (int)(sizeof fns / sizeof fns[0]) - 11;
}
