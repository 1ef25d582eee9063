/* SPDX-License-Identifier: MIT */
/* Coroutine bodies that are correct: tools/async-lint must report
 * nothing here (test/lint/run).  They are close to the mistakes of
 * bad.c. */
#define ASYNC_IMPLEMENTATION
#include "async.h"

struct fr {
    async_task task;
    async_co co;
    async_timeout to;
    async_queue *q;
    int n, rc, i, item;
};

static int use(int v) { return v; }

/* Locals used only between two awaits; the frame keeps the rest. */
static int between_awaits(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);   /* recomputed on entry */
    async_begin(L, &f->co);
    for (f->i = 0; f->i < 3; f->i++) {
        int sq = f->i * f->i;
        f->n += sq;
        async_await(async_sleep(L, 1));
    }
    {
        int k;
        for (k = 0; k < 4; k++)   /* no await inside: fine */
            f->n += k;
    }
    async_end;
}

/* A local assigned again after the await before it is read. */
static int reassigned(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    int v = use(1);
    f->n = v;
    async_await_rc(f->rc, async_sleep(L, 1));
    v = use(f->rc);
    f->n += v;
    async_end;
}

/* Result variables of async_await_rc/val/for live in the frame; a
 * static local survives anything. */
static int results_and_statics(async_loop *L, async_task *self)
{
    static int calls;
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    calls++;
    async_await_val(f->n, async_queue_get(L, f->q, &f->item));
    async_await_for(&f->to, 10, f->rc, async_queue_put(L, f->q, &f->item));
    async_await(async_yield());
    f->n += calls;
    async_finally;
    if (async_error() < 0)
        f->rc = async_error();
    async_end;
}

/* Early exits through async_return; a switch without awaits. */
static int early_exit(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    switch (f->n) {
    case 0:
        async_return(0);
    default:
        f->rc = 1;
        break;
    }
    async_await(async_sleep(L, 1));
    async_end;
}

#if ASYNC_CONF_LC == ASYNC_LC_LABELS
/* The labels backend allows an await inside the body's own switch. */
static int labels_switch(async_loop *L, async_task *self)
{
    struct fr *f = async_frame(self, struct fr, task);
    async_begin(L, &f->co);
    switch (f->n) {
    case 1:
        async_await(async_sleep(L, 1));
        break;
    }
    async_end;
}
#endif

/* A plain function with a switch and returns is not a coroutine body. */
static int op_of(async_loop *L, struct fr *f)
{
    switch (f->n) {
    case 0:
        return async_sleep(L, 1);
    default:
        return ASYNC_EINVAL;
    }
}

/* The one-declaration forms, used rightly: state in the frame. */
struct child_form { async_co co; int n; };
static async_def(child_form, L, f)
    async_await(async_sleep(L, 1));
    f->n++;
async_def_end

struct def_form { async_task task; async_co co; struct child_form c; };
static async_task_def(def_form, L, f)
    async_await(child_form(L, &f->c));
    async_await(async_yield());
async_def_end

int main(void)
{
    async_task_fn fns[] = {between_awaits, reassigned, results_and_statics, early_exit, def_form};
    (void)op_of;
    return (int)(sizeof fns / sizeof fns[0]) - 5;
}
