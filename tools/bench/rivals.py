#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Python asyncio (or uvloop) doing what tools/bench/core_bench.c does,
measured the same way (this process's CPU time), for tools/bench/run.py.

    rivals.py [--uvloop] switch TASKS ROUNDS REPS
    rivals.py [--uvloop] spawn COUNT REPS
    rivals.py [--uvloop] memory TASKS
    rivals.py [--uvloop] channel COUNT CAP REPS

Prints "RESULT key=value ..." lines like core_bench; "FAIL ..." and exit 1
when a check fails.
"""
import asyncio
import gc
import os
import sys
import time


def fail(what):
    print("FAIL %s" % what, flush=True)
    sys.exit(1)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def yielder(rounds):
    for _ in range(rounds):
        await asyncio.sleep(0)


async def switch_once(tasks, rounds):
    ts = [asyncio.create_task(yielder(rounds)) for _ in range(tasks)]
    t0 = time.process_time()
    await asyncio.gather(*ts)
    return time.process_time() - t0


async def child():
    pass


async def spawn_once(count):
    t0 = time.process_time()
    for _ in range(count):
        await asyncio.create_task(child())
    return time.process_time() - t0


async def waiter(ev):
    await ev.wait()


async def memory(tasks):
    ev = asyncio.Event()
    gc.collect()
    gc.disable()  # nothing here is garbage; the collector only slows creation down
    before = rss_bytes()
    ts = [asyncio.create_task(waiter(ev)) for _ in range(tasks)]
    await asyncio.sleep(0)  # every task runs to ev.wait() and parks
    after = rss_bytes()
    if any(t.done() for t in ts):
        fail("memory: a task is not parked on the event")
    ev.set()
    await asyncio.gather(*ts)
    gc.enable()
    return before, after


async def producer(q, n):
    for i in range(n):
        await q.put(i)
    await q.put(None)  # asyncio.Queue has no close() before 3.13


async def consumer(q):
    expect = 0
    while True:
        item = await q.get()
        if item is None:
            return expect
        if item != expect:
            fail("channel: out of order")
        expect += 1


async def channel_once(count, cap):
    q = asyncio.Queue(maxsize=cap)
    t0 = time.process_time()
    c = asyncio.create_task(consumer(q))
    p = asyncio.create_task(producer(q, count))
    got, _ = await asyncio.gather(c, p)
    t = time.process_time() - t0
    if got != count:
        fail("channel: messages lost")
    return t


def main():
    args = sys.argv[1:]
    use_uvloop = args[:1] == ["--uvloop"]
    if use_uvloop:
        args = args[1:]
        import uvloop
        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    mode, nums = args[0], [int(a) for a in args[1:]]

    def run(coro):
        loop = new_loop()
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.close()

    if mode == "switch":
        tasks, rounds, reps = nums
        run(switch_once(tasks, rounds // 10 + 1))
        for r in range(reps):
            t = run(switch_once(tasks, rounds))
            print("RESULT bench=switch rep=%d tasks=%d rounds=%d ns=%.3f"
                  % (r, tasks, rounds, t / (tasks * rounds) * 1e9), flush=True)
    elif mode == "spawn":
        count, reps = nums
        run(spawn_once(count // 10 + 1))
        for r in range(reps):
            t = run(spawn_once(count))
            print("RESULT bench=spawn rep=%d count=%d ns=%.3f" % (r, count, t / count * 1e9),
                  flush=True)
    elif mode == "memory":
        (tasks,) = nums
        before, after = run(memory(tasks))
        print("RESULT bench=memory tasks=%d rss_before=%d rss_after=%d bytes_per_task=%.2f"
              % (tasks, before, after, (after - before) / tasks), flush=True)
    elif mode == "channel":
        count, cap, reps = nums
        run(channel_once(count // 10 + 1, cap))
        for r in range(reps):
            t = run(channel_once(count, cap))
            print("RESULT bench=channel rep=%d count=%d cap=%d ns=%.3f"
                  % (r, count, cap, t / count * 1e9), flush=True)
    else:
        fail("unknown mode %s" % mode)


if __name__ == "__main__":
    main()
