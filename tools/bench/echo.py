#!/usr/bin/env python3
"""Echo benchmark: examples/echo_server against the raw libev floor
(tools/bench/echo_floor.c), driven by the same client (examples/echo_client),
1 KiB ping-pong at 10 and 100 connections, in the same run, servers
alternating, median of 3.  Server CPU time comes from /proc/PID/stat
(utime + stime) read just before the server is stopped.

    tools/bench/echo.py [BUILD_DIR] [--seconds N] [--runs N] [--conns 10,100]

Targets (issue 3): echo_server >= 0.95x the floor's messages/s and
<= 1.10x its CPU time per message.  Exit status 0 either way: this
measures, it does not gate.
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start on port %d" % port)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def pinned(cmd, cpu):
    """Pin to one CPU (server and client on different ones) when possible:
    it removes the scheduler's migrations from the comparison."""
    if cpu is None:
        return cmd
    return ["taskset", "-c", str(cpu)] + cmd


def one_run(server, client, conns, seconds, pin):
    port = free_port()
    srv = subprocess.Popen(pinned([server, str(port)], 0 if pin else None),
                           stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        cpu0 = cpu_seconds(srv.pid)
        out = subprocess.run(pinned([client, "-p", str(port), "-c", str(conns), "-d", str(seconds)],
                                    1 if pin else None),
                             check=True, capture_output=True, text=True).stdout
        cpu1 = cpu_seconds(srv.pid)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=10)
    m = re.search(r"(\d+) round trips in ([\d.]+) s: (\d+) msg/s", out)
    msgs, rate = int(m.group(1)), float(m.group(3))
    return rate, (cpu1 - cpu0) / msgs * 1e6  # msg/s, server CPU us per message


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", default="10,100")
    ap.add_argument("--pin", action="store_true",
                    help="pin the server to CPU 0 and the client to CPU 1 (steadier on an idle "
                         "machine, worse on a shared one)")
    a = ap.parse_args()
    pin = a.pin and (os.cpu_count() or 1) >= 2 and \
        subprocess.run(["sh", "-c", "command -v taskset"], capture_output=True).returncode == 0
    servers = {"echo_server": os.path.join(a.build, "examples", "echo_server"),
               "floor": os.path.join(a.build, "bench", "echo_floor")}
    client = os.path.join(a.build, "examples", "echo_client")
    print("echo benchmark: 1024-byte ping-pong, %d s per run, median of %d, %d CPUs%s, load %s"
          % (a.seconds, a.runs, os.cpu_count(), " (server on CPU 0, client on CPU 1)" if pin else "",
             " ".join("%.2f" % x for x in os.getloadavg())))
    ok = True
    for conns in [int(c) for c in a.conns.split(",")]:
        res = {name: [] for name in servers}
        for i in range(a.runs):
            order = list(servers) if i % 2 == 0 else list(reversed(servers))
            for name in order:
                res[name].append(one_run(servers[name], client, conns, a.seconds, pin))
        med = {n: (statistics.median(r[0] for r in res[n]), statistics.median(r[1] for r in res[n]))
               for n in servers}
        for n in servers:
            print("  %4d conns  %-11s  %8.0f msg/s  %6.2f us CPU/msg   runs: %s" % (
                conns, n, med[n][0], med[n][1],
                ", ".join("%.0f/%.2f" % r for r in res[n])))
        rate = med["echo_server"][0] / med["floor"][0]
        cpu = med["echo_server"][1] / med["floor"][1]
        good = rate >= 0.95 and cpu <= 1.10
        ok = ok and good
        print("  %4d conns  ratio: %.3fx msg/s (target >= 0.95), %.3fx CPU/msg (target <= 1.10)  %s"
              % (conns, rate, cpu, "OK" if good else "MISSED"))
    print("echo benchmark: %s" % ("targets met" if ok else "targets missed"))


if __name__ == "__main__":
    sys.exit(main())
