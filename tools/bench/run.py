#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`make bench`: every benchmark of async.h beside its floor and its rival,
measured in the same run.

    tools/bench/run.py [--build DIR] [--only a,b] [--quick] [--no-pin]
                       [--python PATH] [--arm-prefix PREFIX]

Benchmarks (ids as in the BENCH lines):
  switch     one yield/resume round trip through the scheduler, 1000
             runnable tasks, vs a hand-written switch-coroutine round-robin
             in the same binary (core_bench); instructions per round trip
             from callgrind; Python asyncio and uvloop for scale
  spawn      spawn a task, run it to completion, await it, vs asyncio
             create_task + await
  memory     RSS growth per task with 1,000,000 tasks parked on one event
             (40-byte header + 16-byte coroutine frame), vs asyncio; and
             sizeof() of every public object on x86-64 and Cortex-M
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

Times are CPU time of the measuring process (echo: of the server), the
median of the repetitions.  Writes into BUILD/bench/: results.txt (this
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

ALL = ["switch", "spawn", "memory", "timers", "store", "channel", "echo"]

FULL = dict(switch=(1000, 1000, 5), py_switch=(1000, 100, 3), cg_switch=(100, 1000),
            spawn=(1000000, 5), py_spawn=(100000, 3), memory=1000000, memory_reps=3,
            timers=(1000000, 1000, 3), channel=(2000000, 64, 5), py_channel=(200000, 64, 3),
            store=([4, 16, 64, 256, 1024], 2000000, 5),
            echo_conns=[10, 100], echo_seconds=2, echo_runs=5, echo_cg_seconds=3)
QUICK = dict(switch=(1000, 100, 3), py_switch=(100, 100, 1), cg_switch=(100, 100),
             spawn=(100000, 3), py_spawn=(10000, 1), memory=100000, memory_reps=1,
             timers=(100000, 200, 1), channel=(200000, 64, 3), py_channel=(20000, 64, 1),
             store=([4, 256], 200000, 1),
             echo_conns=[10], echo_seconds=1, echo_runs=1, echo_cg_seconds=1)


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


# ---------------------------------------------------------------------------
# benchmarks

def core(*args):
    return [os.path.join(ARGS.build, "bench", "core_bench")] + [str(a) for a in args]


def rival(*args, uvloop=False):
    return [ARGS.python, os.path.join(HERE, "rivals.py")] + (["--uvloop"] if uvloop else []) + \
        [str(a) for a in args]


def callgrind_instr(fn, tasks, rounds, out_dir):
    """Instructions per round trip inside fn (run_lib or run_floor), and the
    per-function breakdown (self cost) for the profile file."""
    out = os.path.join(out_dir, "callgrind.switch.%s.out" % fn)
    run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
         "--toggle-collect=" + fn] + core("switch-once", tasks, rounds))
    ann = run(["callgrind_annotate", "--threshold=100", "--auto=no", out])
    with open(os.path.join(out_dir, "switch-annotated.%s.txt" % fn), "w") as f:
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
    trips = tasks * rounds
    return total / trips, [(n / trips, name) for n, name in funcs]


def bench_switch(R, C):
    tasks, rounds, reps = C["switch"]
    rows = results(run(core("switch", tasks, rounds, reps)))
    floor, lib = med(rows, "floor_ns"), med(rows, "lib_ns")
    pt, pr, preps = C["py_switch"]
    py = med(results(run(rival("switch", pt, pr, preps))), "ns")
    uv = med(results(run(rival("switch", pt, pr, preps, uvloop=True))), "ns")
    instr = finstr = None
    if shutil.which("valgrind") and shutil.which("callgrind_annotate"):
        ct, cr = C["cg_switch"]
        instr, funcs = callgrind_instr("run_lib", ct, cr, ARGS.out)
        finstr, _ = callgrind_instr("run_floor", ct, cr, ARGS.out)
        with open(os.path.join(ARGS.out, "switch-profile.txt"), "w") as f:
            f.write("callgrind, %d tasks x %d yields, instructions per round trip by function "
                    "(self cost) inside run_lib:\n" % (ct, cr))
            for n, name in funcs:
                f.write("%8.2f  %s\n" % (n, name))
            f.write("%8.2f  total (floor: %.2f)\n" % (instr, finstr))
    R.say("== switch: one yield/resume round trip, %d runnable tasks x %d yields "
          "(CPU time, median of %d)" % (tasks, rounds, reps))
    R.say("   %-34s %10.2f ns %s" % ("hand-written switch floor", floor,
                                      "%8.1f instructions" % finstr if finstr else ""))
    R.say("   %-34s %10.2f ns %s   %.2fx the floor (goal <= 1.5, must be <= 2.0)" % (
        "async.h async_yield", lib, "%8.1f instructions" % instr if instr else "", lib / floor))
    R.say("   %-34s %10.1f ns              (%d tasks x %d, median of %d)" % (
        "uvloop asyncio.sleep(0)", uv, pt, pr, preps))
    R.say("   %-34s %10.1f ns" % ("asyncio asyncio.sleep(0)", py))
    R.say("   runs: floor %s ns, async.h %s ns" % (spread(rows, "floor_ns"), spread(rows, "lib_ns")))
    R.bench_line("switch", lib, "ns", "switch_floor", floor)
    if instr:
        R.bench_line("switch_instr", instr, "instructions", "switch_floor_instr", finstr, "%.1f")
    R.data["switch"] = dict(floor=floor, lib=lib, uvloop=uv, asyncio=py, instr=instr,
                            floor_instr=finstr)
    if lib / floor > 2.0:
        R.say("   NOTE: over the must-have ratio of 2.0 (see switch-profile.txt)")


def bench_spawn(R, C):
    count, reps = C["spawn"]
    rows = results(run(core("spawn", count, reps)))
    lib = med(rows, "lib_ns")
    pc, preps = C["py_spawn"]
    py = med(results(run(rival("spawn", pc, preps))), "ns")
    uv = med(results(run(rival("spawn", pc, preps, uvloop=True))), "ns")
    R.say("== spawn: spawn a task, run it to completion, await it (CPU time, median of %d)" % reps)
    R.say("   %-34s %10.1f ns   (%d spawns; runs %s)" % ("async.h spawn + join", lib, count,
                                                       spread(rows, "lib_ns")))
    R.say("   %-34s %10.1f ns   (%d spawns)" % ("uvloop create_task + await", uv, pc))
    R.say("   %-34s %10.1f ns   %.4fx async.h/asyncio" % ("asyncio create_task + await", py,
                                                          lib / py))
    R.bench_line("spawn", lib, "ns", "asyncio", py)
    R.data["spawn"] = dict(lib=lib, uvloop=uv, asyncio=py)


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
    py_row = results(run(rival("memory", n), timeout=1800))[0]
    py = float(py_row["bytes_per_task"])
    R.say("== memory: resident bytes per task, %d tasks parked on one event (RSS growth / tasks)"
          % n)
    R.say("   %-34s %10.1f B   (sizeof task %s + frame %s = %d; %d run(s): %s)" % (
        "async.h", lib, rows[0]["sizeof_task"], rows[0]["sizeof_frame"],
        int(rows[0]["sizeof_task"]) + int(rows[0]["sizeof_frame"]), len(rows),
        spread(rows, "bytes_per_task")))
    R.say("   %-34s %10.1f B   (one run; Task + coroutine + its frame)" % ("asyncio", py))
    R.say("   goal: <= 64 B per task: %s" % ("met" if lib <= 64 else "MISSED"))
    R.bench_line("memory", lib, "B", "asyncio", py, "%.1f")
    R.data["memory"] = dict(lib=lib, asyncio=py)
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
                                    "async_offload", "async_pool", "async_resolve_req"), k))
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
                    cmds[n], client, 10, C["echo_cg_seconds"],
                    os.path.join(ARGS.out, "callgrind.echo.%s.out" % n))
            except (echo.BenchError, subprocess.CalledProcessError) as e:
                raise Failure("callgrind of %s: %s" % (n, e))
            prof.write("%s under callgrind, 10 connections: user instructions per echoed message "
                       "by function (self cost)\n" % n)
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
    m = machine()
    t0 = time.time()
    R.say("async.h benchmarks%s, %s" % (" (quick: small sizes, not figures to quote)"
                                        if ARGS.quick else "", m["date"]))
    R.say("machine: %s; %s; load average %s at start" % (m["cpu"], m["kernel"], m["load"]))
    R.say("build: %s -O2; libev %s; python %s; git %s" % (m["cc"], m["libev"], m["python"],
                                                         m["git"]))
    R.say()
    funcs = dict(switch=bench_switch, spawn=bench_spawn, memory=bench_memory,
                 timers=bench_timers, store=bench_store, channel=bench_channel,
                 echo=bench_echo)
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
        json.dump(dict(machine=m, quick=ARGS.quick, data=R.data, bench=R.bench,
                       failures=R.failures), f, indent=1)
    if R.failures:
        R.say("FAILED: %s" % ", ".join(R.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
