#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`make bench`: every benchmark of async.h beside its floor and its rival,
measured in the same run.

    tools/bench/run.py [--build DIR] [--only a,b] [--quick] [--no-pin]
                       [--python PATH] [--arm-prefix PREFIX]

Benchmarks (ids as in the BENCH lines):
  switch     one yield/resume round trip through the scheduler, 1000
             runnable tasks, vs a hand-written switch-coroutine round-robin
             (the floor, and the protothreads-style rival: local
             continuations with no scheduler) and C++20 coroutines on a
             ring scheduler, all three in the same binary (core_bench),
             interleaved; instructions per round trip from callgrind;
             Python asyncio and uvloop for scale
  spawn      spawn a task, run it to completion, await it, vs a
             hand-written floor (a FIFO of switch coroutines), C++20
             coroutines (malloc and free included) and asyncio
             create_task + await; instructions from callgrind
  memory     RSS growth per task with 1,000,000 tasks parked on one event
             (40-byte header + 16-byte coroutine frame), vs C++20
             coroutines (malloc'd frames) and asyncio; and sizeof() of
             every public object on x86-64 and Cortex-M
  read_until async_stream_read_until of a buffered 40-byte request line
             (CRLF) on the libev runtime vs a memchr + memcpy floor on the
             same bytes (io_bench); instructions from callgrind
  store      the core's timer stores on the virtual clock: N periodic
             tasks, the sorted list vs the 3x4 wheel, N = 4..1024
  timers     1,000,000 tasks sleeping random 1..1000 ms on the libev
             runtime vs 1,000,000 raw ev_timers: arm+fire per CPU second,
             wake order checked
  channel    messages through a 64-slot async_queue between a producer
             and a consumer task, vs asyncio.Queue (and a hand-written
             floor)
  echo_c10, echo_c100
             examples/echo_server vs a raw libev callback server (the
             floor) vs asyncio/uvloop streams and protocol servers, 1 KiB
             ping-pong from the same C client (tools/bench/echo.py)
  tls        examples/echo_server --tls vs a raw OpenSSL + libev callback
             server (tools/bench/tls_floor.c): 1 KiB ping-pong, 10
             connections, TLS 1.3, TLS_AES_128_GCM_SHA256; messages/s,
             server CPU and callgrind instructions per message; full
             handshakes/s (tools/bench/tls.py)
  http       examples/httpd vs nginx (1 worker) vs a raw libev + http-parser
             floor, wrk keep-alive GETs of a 12-byte file at 50 and 1,000
             connections, and -j 2 vs 2 nginx workers: req/s, server CPU
             per request, p99; callgrind instructions per request vs the
             floor (tools/bench/http_bench.py)

Times are CPU time of the measuring process (echo: of the server).  The
C benchmarks (core_bench, io_bench) are pinned with taskset to the CPU
that was the less busy just before (--no-pin: not pinned); switch, spawn
and read_until run many short repetitions with async.h, the floor and the
rival back to back, and report the repetition whose async.h/reference
ratio is the median one, with the ratios' spread and how often the
machine was busy (a repetition >= 25% slower than the fastest); the rest
report the median of the repetitions.  Writes into BUILD/bench/: results.txt (this
output), results.json, *.dat and the PNG charts (gnuplot).  Exit status 1
if any benchmark failed to run or to verify; goals are reported only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import echo  # noqa: E402
import tls  # noqa: E402
import http_bench as httpbench  # noqa: E402

ALL = ["switch", "spawn", "memory", "read_until", "timers", "store", "channel", "echo", "tls",
       "http"]

FULL = dict(switch=(1000, 200, 61), py_switch=(1000, 100, 3), cg_switch=(100, 1000),
            spawn=(100000, 61), py_spawn=(100000, 3), cg_spawn=100000,
            memory=1000000, memory_reps=3, read_until=(25000, 61), cg_read_until=25000,
            timers=(1000000, 1000, 3), channel=(2000000, 64, 5), py_channel=(200000, 64, 3),
            store=([4, 16, 64, 256, 1024], 2000000, 5),
            echo_conns=[10, 100], echo_seconds=2, echo_runs=5, echo_cg=(1, 3),
            tls_seconds=2, tls_runs=5, tls_cg=(1, 4),
            http_conns=[50, 1000], http_seconds=5, http_runs=3, http_cg_seconds=4)
QUICK = dict(switch=(1000, 50, 5), py_switch=(100, 100, 1), cg_switch=(100, 100),
             spawn=(20000, 5), py_spawn=(10000, 1), cg_spawn=10000,
             memory=100000, memory_reps=1, read_until=(5000, 5), cg_read_until=5000,
             timers=(100000, 200, 1), channel=(200000, 64, 3), py_channel=(20000, 64, 1),
             store=([4, 256], 200000, 1),
             echo_conns=[10], echo_seconds=1, echo_runs=1, echo_cg=(1, 2),
             tls_seconds=1, tls_runs=1, tls_cg=(1, 2),
             http_conns=[50], http_seconds=1, http_runs=1, http_cg_seconds=1)


class Failure(Exception):
    pass


class Report:
    """Collects the readable lines, the BENCH lines and the figures."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.bench = []
        self.data = {}
        self.failures = []

    def say(self, line=""):
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()

    def bench_line(self, name, value, unit, ref, ref_value, fmt="%.3f"):
        line = ("BENCH name=%s value=" + fmt + " unit=%s ref=%s ref_value=" + fmt + " ratio=%.4f") % (
            name, value, unit, ref, ref_value, value / ref_value if ref_value else float("nan"))
        self.bench.append(line)
        self.say(line)


def run(cmd, timeout=900):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("%s: timed out after %d s" % (" ".join(cmd), timeout))
    fails = [l for l in p.stdout.splitlines() if l.startswith("FAIL")]
    if p.returncode != 0 or fails:
        raise Failure("%s: exit %d %s %s" % (" ".join(cmd), p.returncode, " ".join(fails),
                                             p.stderr.strip()[-500:]))
    return p.stdout


def results(out):
    rows = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            rows.append({k: v for k, v in (kv.split("=", 1) for kv in line.split()[1:])})
    if not rows:
        raise Failure("no RESULT line in:\n" + out)
    return rows


def med(rows, key):
    return statistics.median(float(r[key]) for r in rows)


def spread(rows, key):
    v = [float(r[key]) for r in rows]
    return "%.3g..%.3g" % (min(v), max(v))


def paired(rows, key, ref):
    """The repetition whose key/ref ratio is the median one (the lower of
    the two middle ones for an even count), as (key value, ref value), and
    every repetition's ratio, sorted.  Each repetition ran both back to
    back, so a busy moment of the machine weighs on both: the ratio of a
    repetition is steadier than either time, and than a ratio of two
    medians or two minima taken from different moments."""
    rs = sorted(rows, key=lambda r: float(r[key]) / float(r[ref]))
    mid = rs[(len(rs) - 1) // 2]
    return float(mid[key]), float(mid[ref]), [float(r[key]) / float(r[ref]) for r in rs]


def quartiles(v):
    """(lower quartile, upper quartile) of sorted v."""
    if len(v) < 2:
        return v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], q[2]


def noise(rows, ref, ratios, load):
    """How noisy a paired benchmark was: a dict for results.json and one
    line for the table.  `busy` counts the repetitions in which the
    reference ran >= 25% slower than in its fastest one (the machine was
    busy then: another process, or the CPU's sibling thread).  "steady":
    at most a tenth of the repetitions were busy and the ratio's
    quartiles are within 3% of each other.  A run can be steady on a
    machine that was loaded throughout: the load average and the
    reference's absolute time say that (the switch floor runs about 2.5
    ns a round trip on the development VM when nothing else runs, 4.3 ns
    while the CPU's sibling is busy)."""
    v = sorted(float(r[ref]) for r in rows)
    busy = sum(1 for x in v if x >= 1.25 * v[0])
    q1, q3 = quartiles(ratios)
    med = ratios[(len(ratios) - 1) // 2]
    spread_pct = (q3 - q1) / med * 100 if med else float("nan")
    verdict = "steady" if busy * 10 <= len(v) and spread_pct <= 3 else "unsteady"
    d = dict(load=load, reps=len(v), ref_min=v[0], ref_median=statistics.median(v), ref_max=v[-1],
             busy_reps=busy, ratio_q1=q1, ratio_q3=q3, ratio_min=ratios[0], ratio_max=ratios[-1],
             spread_pct=spread_pct, verdict=verdict)
    line = ("noise (%s; load average %.2f at the start): %d repetitions; reference %.3g..%.3g ns (median %.3g), %d ran >= 25%% "
            "over its fastest; ratio quartiles %.3f..%.3f (%.1f%% of the median), min..max "
            "%.3f..%.3f" % (verdict, load, len(v), v[0], v[-1], d["ref_median"], busy, q1, q3,
                            spread_pct, ratios[0], ratios[-1]))
    return d, line


# ---------------------------------------------------------------------------
# machine

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": "%s, %d CPUs, %s" % (cpu, os.cpu_count() or 0, mem),
        "kernel": platform.system() + " " + platform.release(),
        "cc": sh("${CC:-cc} --version | head -n 1"),
        "python": sh(ARGS.python + " -c 'import sys, uvloop; print(sys.version.split()[0], "
                                   "\"uvloop\", uvloop.__version__)'"),
        "libev": sh("dpkg-query -W -f='${Version}' libev4 2>/dev/null || "
                    "dpkg-query -W -f='${Version}' libev4t64 2>/dev/null"),
        "git": sh("cd '%s' && (git rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')"
                  " && git status --porcelain async.h src 2>/dev/null | sed 's/^/  modified: /'"
                  % ROOT).replace("\n", " "),
        "load": " ".join("%.2f" % x for x in os.getloadavg()),
    }


def cpu_busy():
    """{cpu: busy fraction} over the next half second, from /proc/stat."""
    def sample():
        out = {}
        with open("/proc/stat") as f:
            for line in f:
                m = re.match(r"^cpu(\d+)\s+(.*)$", line)
                if m:
                    v = [int(x) for x in m.group(2).split()]
                    out[int(m.group(1))] = (v[3] + (v[4] if len(v) > 4 else 0), sum(v))
        return out
    a = sample()
    time.sleep(0.5)
    b = sample()
    return {c: 1 - (b[c][0] - a[c][0]) / max(1, b[c][1] - a[c][1]) for c in a if c in b}


def pick_cpu():
    """The CPU the timed C benchmarks are pinned to: the less busy one
    just before, or None (not pinned: --no-pin, one CPU, no taskset)."""
    if ARGS.no_pin or not echo.can_pin():
        return None, "not pinned", "not pinned"
    try:
        busy = cpu_busy()
    except (OSError, ValueError):
        return None, "not pinned", "not pinned (no /proc/stat)"
    allowed = os.sched_getaffinity(0)
    busy = {c: b for c, b in busy.items() if c in allowed}
    if not busy:
        return None, "not pinned", "not pinned"
    cpu = min(busy, key=busy.get)
    return cpu, "pinned to CPU %d" % cpu, (
        "pinned to CPU %d, the less busy in the half second before (%s busy)" % (
            cpu, ", ".join("CPU %d %.0f%%" % (c, b * 100) for c, b in sorted(busy.items()))))


def pinned(cmd):
    cpu = PIN[0]
    return cmd if cpu is None else ["taskset", "-c", str(cpu)] + cmd


# ---------------------------------------------------------------------------
# benchmarks

def core(*args):
    return [os.path.join(ARGS.build, "bench", "core_bench")] + [str(a) for a in args]


def core_nolist(*args):
    """core_bench built with ASYNC_CONF_TASK_LIST=0 (mk/bench.mk)."""
    return [os.path.join(ARGS.build, "bench", "core_bench_nolist")] + [str(a) for a in args]


def io(*args):
    return [os.path.join(ARGS.build, "bench", "io_bench")] + [str(a) for a in args]


def rival(*args, uvloop=False):
    return [ARGS.python, os.path.join(HERE, "rivals.py")] + (["--uvloop"] if uvloop else []) + \
        [str(a) for a in args]


def have_callgrind():
    return shutil.which("valgrind") and shutil.which("callgrind_annotate")


def callgrind(cmd, fn, per, tag):
    """Instructions per operation inside fn (callgrind --toggle-collect:
    fn and what it calls), `per` operations in the run, and the
    per-function breakdown (self cost per operation).  Writes
    callgrind.TAG.FN.out and TAG-annotated.FN.txt (per source line) into
    the output directory."""
    out = os.path.join(ARGS.out, "callgrind.%s.%s.out" % (tag, fn))
    run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
         "--toggle-collect=" + fn] + cmd)
    ann = run(["callgrind_annotate", "--threshold=100", "--auto=no", out])
    with open(os.path.join(ARGS.out, "%s-annotated.%s.txt" % (tag, fn)), "w") as f:
        f.write(run(["callgrind_annotate", "--auto=yes", "--context=2", out]))
    total = None
    funcs = []
    for line in ann.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(\(\s*[\d.]+%\))?\s*(.*)$", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(3):
            total = n
        elif total is not None and n > 0 and ":" in m.group(3):
            funcs.append((n, m.group(3)))
    if not total:
        raise Failure("callgrind gave no total for %s" % fn)
    return total / per, [(n / per, name) for n, name in funcs]


def profile_file(name, title, parts):
    """Write NAME-profile.txt: for each (label, total, funcs, ref_total)
    the instructions per operation by function (self cost)."""
    with open(os.path.join(ARGS.out, name + "-profile.txt"), "w") as f:
        f.write(title + "\n")
        for label, total, funcs, ref in parts:
            f.write("\n%s:\n" % label)
            for n, fname in funcs:
                f.write("%8.2f  %s\n" % (n, fname))
            f.write("%8.2f  total%s\n" % (total, " (reference: %.2f)" % ref if ref else ""))


FLOOR_LABEL = "switch floor (protothreads-style)"
CPP20_LABEL = "C++20 coroutines, ring scheduler"


def bench_switch(R, C):
    load = os.getloadavg()[0]
    tasks, rounds, reps = C["switch"]
    rows = results(run(pinned(core("switch", tasks, rounds, reps))))
    lib, floor, ratios = paired(rows, "lib_ns", "floor_ns")
    lib_c, cpp, cratios = paired(rows, "lib_ns", "cpp20_ns")
    nz, nz_line = noise(rows, "floor_ns", ratios, load)
    pt, pr, preps = C["py_switch"]
    py = med(results(run(rival("switch", pt, pr, preps))), "ns")
    uv = med(results(run(rival("switch", pt, pr, preps, uvloop=True))), "ns")
    instr = finstr = cinstr = None
    if have_callgrind():
        ct, cr = C["cg_switch"]
        cmd = core("switch-once", ct, cr)
        instr, funcs = callgrind(cmd, "run_lib", ct * cr, "switch")
        finstr, ffuncs = callgrind(cmd, "run_floor", ct * cr, "switch")
        cinstr, cfuncs = callgrind(cmd, "cpp20_switch_run", ct * cr, "switch")
        profile_file("switch", "callgrind, %d tasks x %d yields: instructions per round trip by "
                     "function (self cost)" % (ct, cr),
                     [("async.h (inside run_lib)", instr, funcs, finstr),
                      ("the switch floor (inside run_floor)", finstr, ffuncs, None),
                      ("C++20 coroutines (inside cpp20_switch_run)", cinstr, cfuncs, None)])
    ins = lambda n: "%8.1f instructions" % n if n else ""
    R.say("== switch: one yield/resume round trip, %d runnable tasks x %d yields, %d repetitions "
          "of the three back to back (CPU time; %s)" % (tasks, rounds, reps, PIN[1]))
    R.say("   %-42s %10.2f ns %s" % (FLOOR_LABEL, floor, ins(finstr)))
    R.say("   %-42s %10.2f ns %s   %.2fx the floor (goal <= 1.3)" % (
        "async.h async_yield", lib, ins(instr), lib / floor))
    R.say("   %-42s %10.2f ns %s   async.h is %.2fx its time" % (
        CPP20_LABEL, cpp, ins(cinstr), lib_c / cpp))
    R.say("   %-42s %10.1f ns                       (%d tasks x %d, median of %d)" % (
        "uvloop asyncio.sleep(0)", uv, pt, pr, preps))
    R.say("   %-42s %10.1f ns" % ("asyncio asyncio.sleep(0)", py))
    R.say("   (times: the repetition with the median ratio; the floor is protothreads' "
          "mechanism, local continuations in a switch with no scheduler)")
    if finstr:
        nz["floor_instr_per_ns"] = finstr / nz["ref_min"]
        nz_line += "; the floor's fastest: %.1f instructions per ns" % nz["floor_instr_per_ns"]
    R.say("   " + nz_line)
    R.bench_line("switch", lib, "ns", "switch_floor", floor)
    if instr:
        R.bench_line("switch_instr", instr, "instructions", "switch_floor_instr", finstr, "%.1f")
    R.bench_line("switch_cpp20", lib_c, "ns", "cpp20_ring", cpp)
    if instr:
        R.bench_line("switch_cpp20_instr", instr, "instructions", "cpp20_ring_instr", cinstr,
                     "%.1f")
    R.data["switch"] = dict(floor=floor, lib=lib, uvloop=uv, asyncio=py, instr=instr,
                            floor_instr=finstr, cpp20=cpp, cpp20_lib=lib_c, cpp20_instr=cinstr,
                            ratio=lib / floor, cpp20_ratio=lib_c / cpp, noise=nz,
                            cpp20_ratio_q=quartiles(cratios), tasks=tasks, rounds=rounds)
    if lib / floor > 2.0:
        R.say("   NOTE: over the must-have ratio of 2.0 (see switch-profile.txt)")


def bench_spawn(R, C):
    load = os.getloadavg()[0]
    count, reps = C["spawn"]
    rows = results(run(pinned(core("spawn", count, reps))))
    lib, floor, ratios = paired(rows, "lib_ns", "floor_ns")
    lib_c, cpp, cratios = paired(rows, "lib_ns", "cpp20_ns")
    nz, nz_line = noise(rows, "cpp20_ns", cratios, load)
    pc, preps = C["py_spawn"]
    py = med(results(run(rival("spawn", pc, preps))), "ns")
    uv = med(results(run(rival("spawn", pc, preps, uvloop=True))), "ns")
    instr = finstr = cinstr = None
    if have_callgrind():
        n = C["cg_spawn"]
        cmd = core("spawn-once", n)
        instr, funcs = callgrind(cmd, "run_spawn", n, "spawn")
        finstr, ffuncs = callgrind(cmd, "run_spawn_floor", n, "spawn")
        cinstr, cfuncs = callgrind(cmd, "cpp20_spawn_run", n, "spawn")
        profile_file("spawn", "callgrind, %d spawns: instructions per spawn + run + join by "
                     "function (self cost)" % n,
                     [("async.h (inside run_spawn)", instr, funcs, finstr),
                      ("the floor (inside run_spawn_floor)", finstr, ffuncs, None),
                      ("C++20 coroutines, malloc and free included (inside cpp20_spawn_run)",
                       cinstr, cfuncs, None)])
    ins = lambda n: "%8.1f instructions" % n if n else ""
    R.say("== spawn: spawn a task, run it to completion, await it, %d spawns, %d repetitions of "
          "the three back to back (CPU time; %s)" % (count, reps, PIN[1]))
    R.say("   %-42s %10.1f ns %s" % ("floor (FIFO of switch coroutines)", floor, ins(finstr)))
    R.say("   %-42s %10.1f ns %s   %.2fx the floor" % ("async.h spawn + join", lib, ins(instr),
                                                       lib / floor))
    R.say("   %-42s %10.1f ns %s   async.h is %.2fx its time (goal < 1)" % (
        CPP20_LABEL + ", malloc", cpp, ins(cinstr), lib_c / cpp))
    R.say("   %-42s %10.1f ns   (%d spawns, median of %d)" % ("uvloop create_task + await", uv,
                                                              pc, preps))
    R.say("   %-42s %10.1f ns   %.4fx async.h/asyncio" % ("asyncio create_task + await", py,
                                                          lib / py))
    R.say("   " + nz_line.replace("reference", "C++20"))
    R.bench_line("spawn", lib, "ns", "asyncio", py)
    if instr:
        R.bench_line("spawn_instr", instr, "instructions", "spawn_floor_instr", finstr, "%.1f")
    R.bench_line("spawn_cpp20", lib_c, "ns", "cpp20_ring", cpp)
    if instr:
        R.bench_line("spawn_cpp20_instr", instr, "instructions", "cpp20_ring_instr", cinstr,
                     "%.1f")
    R.data["spawn"] = dict(lib=lib, uvloop=uv, asyncio=py, floor=floor, instr=instr,
                           floor_instr=finstr, cpp20=cpp, cpp20_lib=lib_c, cpp20_instr=cinstr,
                           ratio=lib / floor, cpp20_ratio=lib_c / cpp, noise=nz)


def bench_read_until(R, C):
    load = os.getloadavg()[0]
    lines, reps = C["read_until"]
    rows = results(run(pinned(io("read_until", lines, reps))))
    lib, floor, ratios = paired(rows, "lib_ns", "floor_ns")
    nz, nz_line = noise(rows, "floor_ns", ratios, load)
    instr = finstr = None
    if have_callgrind():
        n = C["cg_read_until"]
        cmd = io("read_until-once", n)
        instr, funcs = callgrind(cmd, "lib_read_line", n - 1, "read_until")
        finstr, ffuncs = callgrind(cmd, "floor_read_line", n - 1, "read_until")
        profile_file("read_until", "callgrind, %d buffered 40-byte lines: instructions per line "
                     "by function (self cost)" % (n - 1),
                     [("async_stream_read_until (inside lib_read_line)", instr, funcs, finstr),
                      ("memchr floor (inside floor_read_line)", finstr, ffuncs, None)])
    ins = lambda n: "%8.1f instructions" % n if n else ""
    R.say("== read_until: a buffered 40-byte request line (CRLF) out of a stream's buffer, %d "
          "lines, %d repetitions of both back to back (CPU time; %s)" % (lines, reps, PIN[1]))
    R.say("   %-42s %10.2f ns %s" % ("memchr + memcpy floor", floor, ins(finstr)))
    R.say("   %-42s %10.2f ns %s   %.2fx the floor" % ("async_stream_read_until", lib, ins(instr),
                                                       lib / floor))
    R.say("   checked: every line read equals the line written")
    R.say("   " + nz_line)
    R.bench_line("read_until", lib, "ns", "memchr_floor", floor)
    if instr:
        R.bench_line("read_until_instr", instr, "instructions", "memchr_floor_instr", finstr,
                     "%.1f")
    R.data["read_until"] = dict(lib=lib, floor=floor, instr=instr, floor_instr=finstr,
                                ratio=lib / floor, noise=nz, line_bytes=40)


def nm_sizes(obj, nm):
    out = run([nm, "-S", "-t", "d", obj])
    sizes = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[3].startswith("async_sizeof_"):
            sizes[f[3][len("async_sizeof_"):]] = int(f[1])
    return sizes


def bench_memory(R, C):
    n = C["memory"]
    rows = [results(run(core("memory", n)))[0] for _ in range(C["memory_reps"])]
    lib = med(rows, "bytes_per_task")
    crows = [results(run(core("memory-cpp20", n)))[0] for _ in range(C["memory_reps"])]
    cpp = med(crows, "bytes_per_task")
    nrows = [results(run(core_nolist("memory", n)))[0] for _ in range(C["memory_reps"])]
    nolist = med(nrows, "bytes_per_task")
    py_row = results(run(rival("memory", n), timeout=1800))[0]
    py = float(py_row["bytes_per_task"])
    R.say("== memory: resident bytes per task, %d tasks parked on one event (RSS growth / tasks)"
          % n)
    R.say("   %-34s %10.1f B   (sizeof task %s + frame %s = %d; %d run(s): %s)" % (
        "async.h", lib, rows[0]["sizeof_task"], rows[0]["sizeof_frame"],
        int(rows[0]["sizeof_task"]) + int(rows[0]["sizeof_frame"]), len(rows),
        spread(rows, "bytes_per_task")))
    R.say("   %-34s %10.1f B   (sizeof task %s + frame %s = %d: ASYNC_CONF_TASK_LIST=0, no "
          "registry for async_run's cleanup; %s)" % (
              "async.h without the task registry", nolist, nrows[0]["sizeof_task"],
              nrows[0]["sizeof_frame"], int(nrows[0]["sizeof_task"]) + int(nrows[0]["sizeof_frame"]),
              spread(nrows, "bytes_per_task")))
    R.say("   %-34s %10.1f B   (frame %s B from malloc, with its header and rounding; %s)" % (
        CPP20_LABEL, cpp, crows[0]["frame"], spread(crows, "bytes_per_task")))
    R.say("   %-34s %10.1f B   (one run; Task + coroutine + its frame)" % ("asyncio", py))
    size = int(rows[0]["sizeof_task"]) + int(rows[0]["sizeof_frame"])
    nsize = int(nrows[0]["sizeof_task"]) + int(nrows[0]["sizeof_frame"])
    R.say("   goal: <= 56 B per parked task (sizeof), toward 48: %s by default, %s without the "
          "registry" % ("met" if size <= 56 else "MISSED", "met" if nsize <= 56 else "MISSED"))
    R.bench_line("memory", lib, "B", "asyncio", py, "%.1f")
    R.bench_line("memory_no_registry", nolist, "B", "asyncio", py, "%.1f")
    R.bench_line("memory_cpp20", lib, "B", "cpp20_ring", cpp, "%.1f")
    R.data["memory"] = dict(lib=lib, asyncio=py, cpp20=cpp, cpp20_frame=int(crows[0]["frame"]),
                            sizeof_task=int(rows[0]["sizeof_task"]),
                            sizeof_frame=int(rows[0]["sizeof_frame"]),
                            no_registry=nolist, sizeof_task_no_registry=int(nrows[0]["sizeof_task"]))
    # sizeof of every public object
    cols = [("x86-64", os.path.join(ARGS.build, "bench", "sizeof-host.o"), "nm")]
    for t in ("cortex-m0plus", "cortex-m4"):
        obj = os.path.join(ARGS.build, "bench", "sizeof-%s.o" % t)
        if os.path.exists(obj) and shutil.which(ARGS.arm_prefix + "nm"):
            cols.append((t, obj, ARGS.arm_prefix + "nm"))
    table = [(name, nm_sizes(obj, tool)) for name, obj, tool in cols]
    names = list(table[0][1])
    names.sort(key=lambda k: (k != "task_with_frame", not k.startswith("async_") or
                              k in ("async_ev", "async_io", "async_signal", "async_addr",
                                    "async_stream", "async_conn", "async_server", "async_udp",
                                    "async_offload", "async_pool", "async_resolve_req",
                                    "async_tls", "async_tls_ctx"), k))
    R.say("   sizeof (bytes)                      " + "".join("%14s" % c for c, _ in table))
    for k in names:
        label = "task + frame (one parked task)" if k == "task_with_frame" else k
        R.say("   %-34s " % label + "".join("%14s" % s.get(k, "-") for _, s in table))
    if len(cols) == 1:
        R.say("   (no %sgcc: Cortex-M sizes not measured)" % ARGS.arm_prefix)
    R.data["sizeof"] = {c: s for c, s in table}


def bench_timers(R, C):
    n, span, reps = C["timers"]
    rows = results(run([os.path.join(ARGS.build, "bench", "timers_bench"), str(n), str(span),
                        str(reps)]))
    lib, floor = med(rows, "lib_rate"), med(rows, "floor_rate")
    R.say("== timers: %d tasks sleeping 1..%d ms (random) on the libev runtime; arm+fire per "
          "CPU second (median of %d)" % (n, span, reps))
    R.say("   %-34s %10.0f /s   (CPU %s s, wall %s s)" % (
        "raw libev ev_timer (floor)", floor, spread(rows, "floor_cpu"), spread(rows, "floor_wall")))
    R.say("   %-34s %10.0f /s   (CPU %s s, wall %s s)   %.2fx the floor" % (
        "async.h tasks in async_sleep_until", lib, spread(rows, "lib_cpu"),
        spread(rows, "lib_wall"), lib / floor))
    R.say("   checked: every task woke at or after its deadline, in deadline order")
    R.bench_line("timers", lib, "timers/s", "libev_timers", floor, "%.0f")
    R.data["timers"] = dict(lib=lib, floor=floor)


def bench_store(R, C):
    sizes, total, reps = C["store"]
    R.say("== store: N periodic tasks (periods 1..50 ticks) on the virtual clock; timers "
          "armed+fired per CPU second, median of %d; the sorted list (32-bit default) vs the "
          "3x4 wheel it replaced" % reps)
    R.say("   %8s %14s %14s %8s" % ("timers", "sorted list", "3x4 wheel", "list/wheel"))
    data = {}
    for n in sizes:
        rounds = max(1, total // n)
        rate = {}
        for store in ("list", "wheel"):
            rows = results(run([os.path.join(ARGS.build, "bench", "store_bench_" + store),
                                str(n), str(rounds), str(reps)]))
            rate[store] = med(rows, "rate")
        R.say("   %8d %12.0f/s %12.0f/s %8.2f" % (n, rate["list"], rate["wheel"],
                                                  rate["list"] / rate["wheel"]))
        R.bench_line("store_n%d" % n, rate["list"], "timers/s", "wheel_3x4", rate["wheel"],
                     "%.0f")
        data[str(n)] = rate
    R.say("   checked: every wake-up exactly at its deadline")
    R.data["store"] = data


def bench_channel(R, C):
    count, cap, reps = C["channel"]
    rows = results(run(core("channel", count, cap, reps)))
    lib, floor = 1e9 / med(rows, "lib_ns"), 1e9 / med(rows, "floor_ns")
    pc, pcap, preps = C["py_channel"]
    py = 1e9 / med(results(run(rival("channel", pc, pcap, preps))), "ns")
    uv = 1e9 / med(results(run(rival("channel", pc, pcap, preps, uvloop=True))), "ns")
    R.say("== channel: producer task -> %d-slot queue -> consumer task, %d messages "
          "(CPU time, median of %d)" % (cap, count, reps))
    R.say("   %-34s %12.0f msg/s" % ("hand-written switch floor (ring)", floor))
    R.say("   %-34s %12.0f msg/s   %.2fx the floor" % ("async.h async_queue", lib, lib / floor))
    R.say("   %-34s %12.0f msg/s   (%d messages)" % ("uvloop asyncio.Queue", uv, pc))
    R.say("   %-34s %12.0f msg/s   async.h is %.1fx asyncio" % ("asyncio asyncio.Queue", py,
                                                                 lib / py))
    R.say("   checked: every message arrived once, in order")
    R.bench_line("channel", lib, "msg/s", "asyncio_queue", py, "%.0f")
    R.data["channel"] = dict(lib=lib, floor=floor, uvloop=uv, asyncio=py)


def bench_echo(R, C):
    pin = echo.can_pin() and not ARGS.no_pin
    R.say("== echo: 1024-byte ping-pong from examples/echo_client, %d s per run after a 1 s "
          "warm-up, median of %d%s" % (C["echo_seconds"], C["echo_runs"],
                                       ", server on CPU 0, client on CPU 1" if pin else ""))
    try:
        res = echo.measure(ARGS.build, C["echo_conns"], C["echo_seconds"], C["echo_runs"], pin,
                           ARGS.python, log=lambda l: print(l, flush=True))
    except echo.BenchError as e:
        raise Failure(str(e))
    for line in echo.table(res):
        R.say(line)
    instr = {}
    if shutil.which("valgrind") and shutil.which("callgrind_annotate"):
        cmds = echo.server_commands(ARGS.build, ARGS.python)
        client = os.path.join(ARGS.build, "examples", "echo_client")
        prof = open(os.path.join(ARGS.out, "echo-profile.txt"), "w")
        for n in ("floor", "echo_server"):
            try:
                instr[n], funcs = echo.callgrind_per_message(
                    cmds[n], client, 10, C["echo_cg"][0], C["echo_cg"][1],
                    os.path.join(ARGS.out, "callgrind.echo.%s.out" % n))
            except (echo.BenchError, subprocess.CalledProcessError) as e:
                raise Failure("callgrind of %s: %s" % (n, e))
            prof.write("%s under callgrind, 10 connections: user instructions per echoed message "
                       "by function (self cost, in the longer of the two runs)\n" % n)
            for k, name in funcs:
                prof.write("%8.1f  %s\n" % (k, name))
            prof.write("%8.1f  total\n\n" % instr[n])
        prof.close()
        R.say("   user-space instructions per echoed message (callgrind, 10 connections): "
              "floor %.0f, echo_server %.0f (%.2fx; by function in echo-profile.txt)"
              % (instr["floor"], instr["echo_server"], instr["echo_server"] / instr["floor"]))
    R.say("   checked: every echoed byte (the client fails on a wrong one)")
    R.say("   goal: echo_server >= 0.95x the floor's msg/s and <= 1.10x its CPU per message")
    for conns, r in res.items():
        s, f = r["echo_server"], r["floor"]
        R.bench_line("echo_c%d" % conns, s["rate"], "msg/s", "libev_floor", f["rate"], "%.0f")
        R.bench_line("echo_c%d_cpu" % conns, s["cpu"], "us/msg", "libev_floor", f["cpu"], "%.3f")
    if instr:
        R.bench_line("echo_instr", instr["echo_server"], "instructions", "libev_floor_instr",
                     instr["floor"], "%.0f")
    R.data["echo"] = {str(c): {n: {"rate": v["rate"], "cpu": v["cpu"], "user": v["user"],
                                   "runs": v["runs"]}
                               for n, v in r.items()} for c, r in res.items()}


def bench_tls(R, C):
    pin = echo.can_pin() and not ARGS.no_pin
    R.say("== tls: TLS 1.3 echo (%s), 1024-byte ping-pong, 10 connections, from "
          "examples/echo_client -t; %d s per run after a 1 s warm-up, %d paired repetitions%s"
          % (tls.SUITE, C["tls_seconds"], C["tls_runs"],
             ", server on CPU 0, client on CPU 1" if pin else ""))
    try:
        certs = tls.make_certs(ARGS.out)
        res = tls.measure(ARGS.build, certs, 10, C["tls_seconds"], C["tls_runs"], pin,
                          log=lambda l: print(l, flush=True))
    except (echo.BenchError, subprocess.CalledProcessError) as e:
        raise Failure(str(e))
    pair = {}
    for kind, unit, what in (("echo", "msg/s", "echo"),
                             ("handshake", "conn/s", "new connection each round trip: full "
                              "handshake + one 1 KiB echo")):
        r = res[kind]
        s, f = r["echo_server"]["runs"], r["floor"]["runs"]
        pair[kind] = (tls.paired(s, f, 0), tls.paired(s, f, 1))
        R.say("   %s (%s): medians of each server's runs" % (what, unit))
        R.say("    %-30s %10s %12s" % ("server", unit, "us CPU each"))
        for n in tls.NAMES:
            R.say("    %-30s %10.0f %12.2f" % (tls.LABELS[n], r[n]["rate"], r[n]["cpu"]))
        (rs, rf, rr, rspread), (cs, cf, cr, cspread) = pair[kind]
        R.say("    echo_server / floor, the median of the %d paired repetitions (the two ran "
              "back to back): %s %.3fx (%.3f..%.3f), CPU %.3fx (%.3f..%.3f)"
              % (len(s), unit, rr, rspread[0], rspread[1], cr, cspread[0], cspread[1]))
    instr, hinstr = {}, {}
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        cmds = tls.server_commands(ARGS.build, certs)
        client = os.path.join(ARGS.build, "examples", "echo_client")
        short, long_ = C["tls_cg"]
        for n in tls.NAMES:
            for what, args, out in ((instr, tls.client_args(certs), "echo"),
                                    (hinstr, tls.client_args(certs, True), "handshake")):
                try:
                    what[n] = tls.callgrind_per_message(
                        cmds[n], client, args, 10, short, long_,
                        os.path.join(ARGS.out, "callgrind.tls-%s.%s.out" % (out, n)))
                except (echo.BenchError, subprocess.CalledProcessError) as e:
                    raise Failure("callgrind of %s (%s): %s" % (n, out, e))
        R.say("   user-space instructions (callgrind, difference of a %d s and a %d s run): per "
              "echoed message floor %.0f, echo_server %.0f (%.3fx); per new connection floor "
              "%.0f, echo_server %.0f (%.3fx)"
              % (short, long_, instr["floor"], instr["echo_server"],
                 instr["echo_server"] / instr["floor"], hinstr["floor"], hinstr["echo_server"],
                 hinstr["echo_server"] / hinstr["floor"]))
    R.say("   checked: every echoed byte (the client fails on a wrong one), the server's "
          "certificate (verified for 127.0.0.1)")
    R.say("   goal: echo_server >= 0.95x the floor's msg/s and <= 1.10x its CPU per message")
    # BENCH lines: the repetition with the median paired ratio
    (er, ec), (hr, hc) = pair["echo"], pair["handshake"]
    R.bench_line("tls_c10", er[0], "msg/s", "openssl_libev_floor", er[1], "%.0f")
    R.bench_line("tls_c10_cpu", ec[0], "us/msg", "openssl_libev_floor", ec[1], "%.3f")
    if instr:
        R.bench_line("tls_instr", instr["echo_server"], "instructions", "openssl_libev_floor",
                     instr["floor"], "%.0f")
    R.bench_line("tls_handshakes", hr[0], "conn/s", "openssl_libev_floor", hr[1], "%.0f")
    R.bench_line("tls_handshake_cpu", hc[0], "us/conn", "openssl_libev_floor", hc[1], "%.1f")
    if hinstr:
        R.bench_line("tls_handshake_instr", hinstr["echo_server"], "instructions",
                     "openssl_libev_floor", hinstr["floor"], "%.0f")
    R.data["tls"] = {k: {n: {x: v[x] for x in ("rate", "cpu", "user", "runs")}
                         for n, v in r.items()} for k, r in res.items()}
    R.data["tls"]["instr"] = instr
    R.data["tls"]["handshake_instr"] = hinstr


def bench_http(R, C):
    missing = [t for t in ("wrk", "valgrind", "callgrind_annotate") if not shutil.which(t)]
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        missing.append("nginx")
    if missing:
        raise Failure("needs %s (make deps-bench)" % ", ".join(missing))
    pin = echo.can_pin() and not ARGS.no_pin
    R.say("== http: wrk keep-alive GETs of a 12-byte file; examples/httpd -q vs nginx "
          "(worker_processes 1, sendfile on, access_log off) vs the libev floor, %d s per run "
          "after a 1 s warm-up, order alternating, median of %d%s" % (
              C["http_seconds"], C["http_runs"],
              ", server on CPU 0, wrk on CPU 1" if pin else ""))
    try:
        res = httpbench.measure(ARGS.build, C["http_conns"], C["http_seconds"], C["http_runs"],
                                pin, log=lambda l: print(l, flush=True))
        instr = httpbench.instructions(ARGS.build, ARGS.out, C["http_cg_seconds"],
                                       log=lambda l: print(l, flush=True))
    except httpbench.BenchError as e:
        raise Failure(str(e))
    for line in httpbench.table(res):
        R.say(line)
    R.say("   -j 2: httpd -j 2 vs nginx worker_processes 2, both servers and wrk on both CPUs "
          "(they share the 2 cores: scaling, not capacity)")
    R.say("   user-space instructions per request (callgrind, wrk -c10, minus a one-request run): "
          "floor %.0f, httpd %.0f (%.2fx; by function in http-profile.txt)" % (
              instr["floor"], instr["httpd"], instr["httpd"] / instr["floor"]))
    R.say("   checked: every answer 2xx, no socket error (wrk); the file's bytes at start-up")
    R.say("   goals: >= 1.0x nginx's req/s at 50 and 1,000 connections, <= 0.8x its CPU per "
          "request, <= 1.5x the floor's instructions")
    for line in httpbench.bench_lines(res, instr):
        m = re.match(r"BENCH name=(\S+) value=(\S+) unit=(\S+) ref=(\S+) ref_value=(\S+)", line)
        R.bench_line(m.group(1), float(m.group(2)), m.group(3), m.group(4), float(m.group(5)),
                     "%.0f" if m.group(3) in ("req/s", "instructions") else "%.3f")
    R.data["http"] = {"timed": {c: {n: {k: v[k] for k in ("rate", "cpu", "p99", "runs")}
                                    for n, v in r.items()} for c, r in res.items()},
                      "instr": instr}


# ---------------------------------------------------------------------------
# charts

def plots(R):
    if not shutil.which("gnuplot"):
        R.say("(no gnuplot: no charts)")
        return []
    out, made = ARGS.out, []
    common = ("set terminal pngcairo size 900,520 font 'sans,10'\n"
              "set style data histogram\nset style histogram clustered gap 1\n"
              "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset grid ytics\n"
              "set key top left\nset xtics nomirror\nset termoption noenhanced\n")

    def bars(name, title, ylabel, rows, log=True, fmt="%.3g"):
        dat = os.path.join(out, name + ".dat")
        with open(dat, "w") as f:
            for label, v in rows:
                f.write('"%s" %r\n' % (label, v))
        png = os.path.join(out, name + ".png")
        script = common + (
            "set output '%s'\nset title \"%s\"\nset ylabel \"%s\"\n%s"
            "set yrange [%s:*]\nunset key\n"
            "plot '%s' using 2:xtic(1) lc rgb '#4477aa', '' using 0:2:(sprintf('%s', $2)) "
            "with labels offset 0,0.8 notitle\n") % (
            png, title, ylabel, "set logscale y\n" if log else "", "0.1" if log else "0",
            dat, fmt)
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        made.append(png)

    d = R.data
    if "switch" in d:
        s = d["switch"]
        bars("switch", "One yield round trip (ns, log scale; lower is better)", "ns per round trip",
             [("switch floor", s["floor"]), ("async.h", s["lib"]), ("uvloop", s["uvloop"]),
              ("asyncio", s["asyncio"])])
    if "memory" in d:
        m = d["memory"]
        bars("memory", "RSS per parked task (bytes, log scale; lower is better)",
             "bytes per task", [("async.h", m["lib"]), ("asyncio", m["asyncio"])], fmt="%.0f")
    if "echo" in d:
        conns = list(d["echo"])
        servers = list(d["echo"][conns[0]])
        for key, name, title, ylabel in (
                ("rate", "echo_throughput", "Echo throughput, 1 KiB ping-pong (higher is better)",
                 "messages per second"),
                ("cpu", "echo_cpu", "Server CPU per message, user + kernel (lower is better)",
                 "server CPU us per message"),
                ("user", "echo_user_cpu", "Server user-space CPU per message (lower is better)",
                 "server user CPU us per message")):
            dat = os.path.join(out, name + ".dat")
            with open(dat, "w") as f:
                f.write("server " + " ".join('"%s conns"' % c for c in conns) + "\n")
                for s in servers:
                    f.write('"%s" ' % echo.SERVER_LABELS[s].replace(" (C callbacks)", "") +
                            " ".join("%r" % d["echo"][c][s][key] for c in conns) + "\n")
            png = os.path.join(out, name + ".png")
            script = common + (
                "set output '%s'\nset title \"%s\"\nset ylabel \"%s\"\nset yrange [0:*]\n"
                "set xtics rotate by -20\nset key top right autotitle columnhead\n"
                "plot for [i=2:%d] '%s' using i:xtic(1)\n") % (png, title, ylabel,
                                                             len(conns) + 1, dat)
            subprocess.run(["gnuplot"], input=script, text=True, check=True)
            made.append(png)
    return made


# ---------------------------------------------------------------------------

def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="", help="comma-separated: " + ",".join(ALL))
    ap.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--arm-prefix", default="arm-none-eabi-")
    ARGS = ap.parse_args()
    ARGS.out = os.path.join(ARGS.build, "bench")
    os.makedirs(ARGS.out, exist_ok=True)
    only = [o for o in ARGS.only.replace("echo_c10", "echo").replace("echo_c100", "echo")
            .split(",") if o] or ALL
    for o in only:
        if o not in ALL:
            sys.exit("run.py: unknown benchmark %s (known: %s)" % (o, ", ".join(ALL)))
    C = QUICK if ARGS.quick else FULL
    R = Report(os.path.join(ARGS.out, "results.txt"))
    global PIN
    PIN = pick_cpu()
    m = machine()
    m["pin"] = PIN[2]
    t0 = time.time()
    R.say("async.h benchmarks%s, %s" % (" (quick: small sizes, not figures to quote)"
                                        if ARGS.quick else "", m["date"]))
    R.say("machine: %s; %s; load average %s at start" % (m["cpu"], m["kernel"], m["load"]))
    R.say("build: %s -O2; libev %s; python %s; git %s" % (m["cc"], m["libev"], m["python"],
                                                         m["git"]))
    R.say("timed C benchmarks: %s" % PIN[2])
    R.say()
    funcs = dict(switch=bench_switch, spawn=bench_spawn, memory=bench_memory,
                 read_until=bench_read_until, timers=bench_timers, store=bench_store, channel=bench_channel,
                 echo=bench_echo, tls=bench_tls, http=bench_http)
    for name in ALL:
        if name not in only:
            continue
        try:
            funcs[name](R, C)
        except (Failure, OSError, subprocess.CalledProcessError, KeyError, ValueError) as e:
            R.failures.append(name)
            R.say("== %s FAILED: %s" % (name, e))
        R.say()
    try:
        charts = plots(R)
    except (OSError, subprocess.CalledProcessError) as e:
        R.failures.append("charts")
        R.say("charts FAILED: %s" % e)
        charts = []
    R.say("summary (%.0f s, load average %s at the end):" % (
        time.time() - t0, " ".join("%.2f" % x for x in os.getloadavg())))
    for line in R.bench:
        R.say("  " + line)
    if charts:
        R.say("charts: " + " ".join(charts))
    with open(os.path.join(ARGS.out, "results.json"), "w") as f:
        json.dump(dict(machine=m, quick=ARGS.quick, only=only, data=R.data, bench=R.bench,
                       failures=R.failures, seconds=round(time.time() - t0),
                       load_end="%.2f" % os.getloadavg()[0]), f, indent=1)
    if R.failures:
        R.say("FAILED: %s" % ", ".join(R.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
