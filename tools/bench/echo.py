#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Echo benchmark: examples/echo_server against the raw libev floor
(tools/bench/echo_floor.c) and against Python's asyncio streams and
protocol servers, on asyncio's own loop and on uvloop
(tools/bench/echo_asyncio.py), all driven by the same C client
(examples/echo_client: 1 KiB ping-pong, every byte checked).

    tools/bench/echo.py [BUILD_DIR] [--seconds N] [--runs N] [--conns 10,100]
                        [--servers a,b,...] [--no-pin] [--python PATH]

For each connection count and run, every server in turn (the order
rotates from run to run) is started, warmed up by a 1 s client run that
is not counted, then measured: the client's messages/s, and the server's
CPU time (utime + stime from /proc/PID/stat) per message over the
measured run.  Figures are medians over the runs, and ratios are to the
floor's medians of the same run.  The server runs on CPU 0 and the client
on CPU 1 when taskset exists and there are two CPUs (--no-pin: let the
kernel place them).

Exit status 1 if a server or the client fails, or the client reports a
wrong byte; the goals (echo_server >= 0.95x the floor's messages/s,
<= 1.10x its CPU per message) are reported, not enforced.  tools/bench/run.py
imports this module for `make bench`; run alone it prints its own table.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

from procs import cpu_times, free_port, pinned, stop  # noqa: E402 (this directory)

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_ORDER = ["floor", "echo_server", "asyncio_streams", "asyncio_protocol",
                "uvloop_streams", "uvloop_protocol"]
SERVER_LABELS = {
    "floor": "libev floor (C callbacks)",
    "echo_server": "async.h echo_server",
    "asyncio_streams": "asyncio streams",
    "asyncio_protocol": "asyncio protocol",
    "uvloop_streams": "uvloop streams",
    "uvloop_protocol": "uvloop protocol",
}


class BenchError(Exception):
    pass


def server_commands(build, python):
    py = os.path.join(HERE, "echo_asyncio.py")
    return {
        "floor": [os.path.join(build, "bench", "echo_floor")],
        "echo_server": [os.path.join(build, "examples", "echo_server")],
        "asyncio_streams": [python, py, "streams", "asyncio"],
        "asyncio_protocol": [python, py, "protocol", "asyncio"],
        "uvloop_streams": [python, py, "streams", "uvloop"],
        "uvloop_protocol": [python, py, "protocol", "uvloop"],
    }


def can_pin():
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def wait_port(port, proc, limit=30.0):
    deadline = time.monotonic() + limit  # a server under valgrind starts slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError("server exited with status %d before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.025)
    raise BenchError("server did not start on port %d" % port)


def run_client(client, port, conns, seconds, cpu, extra=()):
    p = subprocess.run(pinned([client, "-p", str(port), "-c", str(conns), "-d", str(seconds)] +
                              list(extra), cpu),
                       capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"(\d+) round trips in ([\d.]+) s: (\d+) msg/s, every byte verified", p.stdout)
    if p.returncode != 0 or not m:
        raise BenchError("echo_client failed (status %d): %s %s"
                         % (p.returncode, p.stdout.strip(), p.stderr.strip()))
    return int(m.group(1)), float(m.group(3))


def one_run(server_cmd, client, conns, seconds, pin, client_args=()):
    """(msg/s, server CPU us per message, of which user) of one warmed-up run."""
    port = free_port()
    srv = subprocess.Popen(pinned(server_cmd + [str(port)], 0 if pin else None),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, srv)
        run_client(client, port, conns, 1, 1 if pin else None, client_args)  # warm-up, not counted
        cpu0 = cpu_times(srv.pid)
        msgs, rate = run_client(client, port, conns, seconds, 1 if pin else None, client_args)
        cpu1 = cpu_times(srv.pid)
        if srv.poll() is not None:
            raise BenchError("server died during the run")
    finally:
        stop(srv, 10)
    if msgs == 0:
        raise BenchError("no message went through")
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    return rate, (user + system) / msgs * 1e6, user / msgs * 1e6


def callgrind_total(path):
    """PROGRAM TOTALS of a callgrind output file."""
    ann = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=99", path],
                         capture_output=True, text=True, check=True).stdout
    for line in ann.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(\(\s*[\d.]+%\))?\s*PROGRAM TOTALS", line)
        if m:
            return int(m.group(1).replace(",", ""))
    raise BenchError("callgrind gave no total for %s" % path)


def callgrind_per_message(server_cmd, client, conns, short, long_, out_file, args=()):
    """The figure below, measured again with a twice as long second run
    when the machine's load let the long run echo no more than the short
    one (bench-quick's one-second runs under CI saw 6516 then 5264)."""
    for attempt in range(3):
        try:
            return callgrind_per_message_once(server_cmd, client, conns, short,
                                              long_ * 2 ** attempt, out_file, args)
        except BenchError:
            if attempt == 2:
                raise
    raise BenchError("unreachable")


def callgrind_per_message_once(server_cmd, client, conns, short, long_, out_file, args=()):
    """User-space instructions per echoed message of a server under
    callgrind, load-independent: two client runs (short, then long
    seconds), each ending with a counter dump; the difference of the two
    totals over the difference of their message counts, so that start-up
    (the dynamic loader's relocations, thousands of instructions per
    message on a loaded machine that echoes few) and each run's
    connection set-up cancel out.  Also the hottest functions (self cost
    per message of the long run)."""
    port = free_port()
    srv = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file] +
                           server_cmd + [str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    msgs = []
    parts = [out_file + ".1", out_file + ".2"]
    for p in parts:
        if os.path.exists(p):
            os.remove(p)
    try:
        wait_port(port, srv)
        ctl = ["callgrind_control"]
        subprocess.run(ctl + ["-z", str(srv.pid)], capture_output=True, check=True)
        for secs in (short, long_):
            n, _ = run_client(client, port, conns, secs, None, args)
            subprocess.run(ctl + ["-d", str(srv.pid)], capture_output=True, check=True)
            msgs.append(n)
    finally:
        stop(srv, 120, kill=False)
    # callgrind_control -d writes OUT.1, OUT.2 (each since the one before)
    if not all(os.path.exists(p) for p in parts) or msgs[1] <= msgs[0]:
        raise BenchError("callgrind dumps missing or no messages (%s)" % msgs)
    i1, i2 = (callgrind_total(p) for p in parts)
    ann = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", "--inclusive=no",
                          parts[1]], capture_output=True, text=True, check=True).stdout
    funcs, on = [], False
    for line in ann.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(\(\s*[\d.]+%\))?\s*(.*)$", line)
        if not m:
            continue
        if "PROGRAM TOTALS" in m.group(3):
            on = True
        elif on:
            funcs.append((int(m.group(1).replace(",", "")) / msgs[1], m.group(3)))
    return (i2 - i1) / (msgs[1] - msgs[0]), funcs


def measure(build, conns_list, seconds=3, runs=3, pin=None, python="/usr/bin/python3",
            names=None, log=print):
    """{conns: {server: {"rate": median, "cpu": median, "user": median,
    "runs": [(rate, cpu, user)...]}}}"""
    pin = can_pin() if pin is None else pin
    cmds = server_commands(build, python)
    names = names or SERVER_ORDER
    client = os.path.join(build, "examples", "echo_client")
    out = {}
    for conns in conns_list:
        res = {n: [] for n in names}
        for i in range(runs):
            order = names[i % len(names):] + names[:i % len(names)]  # rotate
            for n in order:
                try:
                    res[n].append(one_run(cmds[n], client, conns, seconds, pin))
                except BenchError as e:
                    raise BenchError("echo %s, %d connections: %s" % (n, conns, e))
                log("    echo %4d conns  run %d  %-17s %8.0f msg/s  %6.2f us CPU/msg (user %.2f)"
                    % ((conns, i + 1, n) + res[n][-1]))
        out[conns] = {n: {"rate": statistics.median(r[0] for r in res[n]),
                          "cpu": statistics.median(r[1] for r in res[n]),
                          "user": statistics.median(r[2] for r in res[n]),
                          "runs": res[n]} for n in names}
    return out


def table(results):
    lines = []
    for conns, res in results.items():
        floor = res.get("floor")
        lines.append("  %d connections, 1024-byte ping-pong (median of %d runs)"
                     % (conns, len(next(iter(res.values()))["runs"])))
        lines.append("    %-26s %10s %8s %12s %8s %14s %8s" % (
            "server", "msg/s", "x floor", "us CPU/msg", "x floor", "of which user", "x floor"))

        def ratio(key):
            return "%.3f" % (r[key] / floor[key]) if floor and floor[key] > 0 else "-"
        for n, r in res.items():
            lines.append("    %-26s %10.0f %8s %12.2f %8s %14.2f %8s" % (
                SERVER_LABELS[n], r["rate"], ratio("rate"), r["cpu"], ratio("cpu"), r["user"],
                ratio("user")))
    return lines


def bench_lines(results):
    lines = []
    for conns, res in results.items():
        s, f = res.get("echo_server"), res.get("floor")
        if not (s and f):
            continue
        lines.append("BENCH name=echo_c%d value=%.0f unit=msg/s ref=libev_floor ref_value=%.0f "
                     "ratio=%.3f" % (conns, s["rate"], f["rate"], s["rate"] / f["rate"]))
        if f["cpu"] > 0:
            lines.append("BENCH name=echo_c%d_cpu value=%.3f unit=us/msg ref=libev_floor "
                         "ref_value=%.3f ratio=%.3f" % (conns, s["cpu"], f["cpu"],
                                                         s["cpu"] / f["cpu"]))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", default="10,100")
    ap.add_argument("--servers", default=",".join(SERVER_ORDER))
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--python", default="/usr/bin/python3")
    a = ap.parse_args()
    pin = can_pin() and not a.no_pin
    print("echo benchmark: %d s per run after a 1 s warm-up, median of %d, %d CPUs%s, load %s"
          % (a.seconds, a.runs, os.cpu_count(), " (server on CPU 0, client on CPU 1)" if pin else "",
             " ".join("%.2f" % x for x in os.getloadavg())))
    try:
        res = measure(a.build, [int(c) for c in a.conns.split(",")], a.seconds, a.runs, pin,
                      a.python, a.servers.split(","))
    except BenchError as e:
        print("echo benchmark FAILED: %s" % e)
        return 1
    print("\n".join(table(res)))
    print("\n".join(bench_lines(res)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
