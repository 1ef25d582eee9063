/* SPDX-License-Identifier: MIT */
/* sizeof.c - sizeof() of every public object, read back from the symbol
 * table (nm -S) so that the cross build needs nothing to run: each array
 * below is as long as the type it is named after.  Compiled for the host
 * with -DBENCH_HOST (the libev runtime's objects too) and for Cortex-M
 * (the core only).  Never linked.                                       */
#ifdef BENCH_HOST
#include "src/async_ev.h"
#include "src/async_tls.h"
#else
#include "async.h"
#endif
#include "port/async_vclock.h"

/* One parked task as the memory benchmark counts it: header + frame. */
struct task_with_frame {
    async_task task;
    async_co co;
};

#define SIZEOF(name, type) char async_sizeof_##name[sizeof(type)];
SIZEOF(task_with_frame, struct task_with_frame)
SIZEOF(async_task, async_task)
SIZEOF(async_co, async_co)
SIZEOF(async_loop, async_loop)
SIZEOF(async_timeout, async_timeout)
SIZEOF(async_event, async_event)
SIZEOF(async_sem, async_sem)
SIZEOF(async_lock, async_lock)
SIZEOF(async_cond, async_cond)
SIZEOF(async_future, async_future)
SIZEOF(async_queue, async_queue)
SIZEOF(async_group, async_group)
SIZEOF(async_call, async_call)
SIZEOF(async_notify, async_notify)
SIZEOF(async_waiter, async_waiter)
SIZEOF(async_port, async_port)
SIZEOF(async_vclock, async_vclock)
#ifdef BENCH_HOST
SIZEOF(async_ev, async_ev)
SIZEOF(async_io, async_io)
SIZEOF(async_signal, async_signal)
SIZEOF(async_addr, async_addr)
SIZEOF(async_stream, async_stream)
SIZEOF(async_conn, async_conn)
SIZEOF(async_server, async_server)
SIZEOF(async_udp, async_udp)
SIZEOF(async_offload, async_offload)
SIZEOF(async_pool, async_pool)
SIZEOF(async_resolve_req, async_resolve_req)
SIZEOF(async_tls, async_tls)
SIZEOF(async_tls_ctx, async_tls_ctx)
#endif
