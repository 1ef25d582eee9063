/* SPDX-License-Identifier: MIT */
/* sizes.c - sizeof() of each object on the target, for `make size`:
 * every array below is as long as the type it is named after, and the
 * report reads the sizes back from the symbol table (nm -S), so nothing
 * has to run on the target.  Never linked.                              */
#include "async_bm.h"

/* What one task costs in RAM: its header and the state of its coroutine
 * (no stack: the coroutine's locals live in the frame, here none).     */
struct minimal_task {
    async_task task;
    async_co co;
};

#define SIZEOF(name, type) char async_sizeof_##name[sizeof(type)];
SIZEOF(task_ram, struct minimal_task)
SIZEOF(task, async_task)
SIZEOF(co, async_co)
SIZEOF(loop, async_loop)
SIZEOF(timeout, async_timeout)
SIZEOF(event, async_event)
SIZEOF(sem, async_sem)
SIZEOF(lock, async_lock)
SIZEOF(cond, async_cond)
SIZEOF(future, async_future)
SIZEOF(queue, async_queue)
SIZEOF(group, async_group)
SIZEOF(call, async_call)
SIZEOF(notify, async_notify)
SIZEOF(bm_port, async_bm)
SIZEOF(isrq, async_isrq)
