#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""HTTP benchmark: examples/httpd against nginx, serving the same 12-byte
file from the same directory, driven by wrk, in the same run; and the
user-space instructions per request of httpd against a raw libev callback
server doing the same work (tools/bench/http_floor.c).

    tools/bench/http_bench.py [BUILD_DIR] [--seconds N] [--runs N] [--conns 50,1000]
                        [--no-pin] [--no-j2] [--no-floor-timed]

Timed cases (keep-alive, wrk -t1 -c CONNS --latency; a 1 s warm-up that
is not counted): every server in turn, the order alternating from run to
run, the server pinned to CPU 0 and wrk to CPU 1 (taskset; --no-pin lets
the kernel place them).  nginx runs with worker_processes 1 (master
process off: one process), sendfile on, access_log off; httpd with -q.
Reported per case: requests/s, server CPU (user + system, from
/proc/PID/stat) per request, p99 latency; medians over the runs, ratios
to nginx's medians.  Then httpd -j 2 against nginx with 2 workers: both
servers on both CPUs, wrk too (they share the machine: this shows how a
second loop scales, not what two cores serve alone).  Both spread
connections with SO_REUSEPORT (nginx: listen ... reuseport).

Instructions: httpd and the floor each run under callgrind, loaded by
wrk -t1 -c10 for a few seconds; a second run that answers a single
request is subtracted, so start-up and shutdown do not count.  The
result is user-space instructions per request, repeatable on a busy
machine (the timed figures are not: run them more than once).

Exit status 1 if a server or wrk fails, or wrk reports a non-2xx answer
or a socket error.  tools/bench/run.py imports this for
`make bench BENCH_ONLY=http`.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from procs import cpu_times, free_port, pinned, stop  # noqa: E402 (this directory)

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = b"hello world\n"  # 12 bytes
LABELS = {"httpd": "async.h httpd", "nginx": "nginx (1 worker)", "floor": "libev floor (C callbacks)",
          "httpd_j2": "async.h httpd -j 2", "nginx_j2": "nginx (2 workers)"}


class BenchError(Exception):
    pass


def wait_http(port, proc, limit=60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError("server exited with status %d before serving" % proc.returncode)
        try:
            s = socket.create_connection(("127.0.0.1", port), 1)
            s.sendall(b"GET /f12.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while not data.endswith(BODY):  # (the floor ignores Connection: close)
                b = s.recv(4096)
                if not b:
                    break
                data += b
            s.close()
            if data.startswith(b"HTTP/1.1 200") and data.endswith(BODY):
                return
            raise BenchError("wrong answer: %r" % data[:200])
        except OSError:
            time.sleep(0.05)
    raise BenchError("server did not answer on port %d" % port)


def cpu_seconds(pids):
    """user + system CPU seconds of these processes."""
    return sum(sum(cpu_times(pid)) for pid in pids)


def children(pid):
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                             text=True).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


def nginx_conf(d, root, port, workers):
    conf = os.path.join(d, "nginx-%d.conf" % workers)
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process %s;
worker_processes %d;
pid %s/nginx-%d.pid;
error_log %s/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    server {
        listen 127.0.0.1:%d backlog=4096%s;
        root %s;
    }
}
""" % ("on" if workers > 1 else "off", workers, d, workers, d, d, d, d, d, d, port,
       " reuseport" if workers > 1 else "", root))
    return conf


def server_cmd(name, build, root, tmp, port):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if name == "httpd":
        return [os.path.join(build, "examples", "httpd"), "-q", "-p", str(port), "-r", root]
    if name == "httpd_j2":
        return [os.path.join(build, "examples", "httpd"), "-q", "-j", "2", "-p", str(port), "-r",
                root]
    if name == "floor":
        return [os.path.join(build, "bench", "http_floor"), "-r", root, str(port)]
    if name == "nginx":
        return [nginx, "-p", tmp, "-c", nginx_conf(tmp, root, port, 1)]
    if name == "nginx_j2":
        return [nginx, "-p", tmp, "-c", nginx_conf(tmp, root, port, 2)]
    raise KeyError(name)


LAT_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(port, conns, seconds, cpus, threads=1):
    cmd = pinned(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency",
                  "--timeout", "10s", "http://127.0.0.1:%d/f12.txt" % port], cpus)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = p.stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if p.returncode != 0 or not (m and rps and p99):
        raise BenchError("wrk failed (status %d): %s %s" % (p.returncode, out[-400:], p.stderr[-200:]))
    # A wrong answer or a broken connection fails the run; an answer slower
    # than wrk's 10 s timeout is only counted (a loaded machine).
    if (non2xx and int(non2xx.group(1))) or (sock and any(int(g) for g in sock.groups()[:3])):
        raise BenchError("wrk saw errors: %s" % (non2xx or sock).group(0))
    return int(m.group(1)), float(rps.group(1)), float(p99.group(1)) * LAT_UNIT[p99.group(2)]


def one_run(name, build, root, tmp, conns, seconds, pin, two):
    port = free_port()
    srv_cpus = None if not pin else ("0-1" if two else "0")
    wrk_cpus = None if not pin else ("0-1" if two else "1")
    srv = subprocess.Popen(pinned(server_cmd(name, build, root, tmp, port), srv_cpus),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(port, srv)
        pids = [srv.pid] + (children(srv.pid) if name == "nginx_j2" else [])
        run_wrk(port, conns, 1, wrk_cpus, 2 if two else 1)  # warm-up, not counted
        cpu0 = cpu_seconds(pids)
        reqs, rps, p99 = run_wrk(port, conns, seconds, wrk_cpus, 2 if two else 1)
        cpu1 = cpu_seconds(pids)
        if srv.poll() is not None:
            raise BenchError("server died during the run")
    finally:
        stop(srv, 20)
    if reqs == 0:
        raise BenchError("no request answered")
    return rps, (cpu1 - cpu0) / reqs * 1e6, p99


def make_root(tmp):
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    os.chmod(tmp, 0o755)
    os.chmod(root, 0o755)
    with open(os.path.join(root, "f12.txt"), "wb") as f:
        f.write(BODY)
    os.chmod(os.path.join(root, "f12.txt"), 0o644)
    return root


def measure(build, conns_list=(50, 1000), seconds=5, runs=3, pin=True, j2=True, floor=True,
            log=print):
    """{case: {server: {"rate", "cpu", "p99", "runs"}}}, cases "c50"...,
    "j2_c50"...; medians over runs."""
    tmp = tempfile.mkdtemp(prefix="http-bench-")
    out = {}
    try:
        root = make_root(tmp)
        plan = [("c%d" % c, c, ["httpd", "nginx"] + (["floor"] if floor else []), False)
                for c in conns_list]
        if j2:
            plan += [("j2_c%d" % c, c, ["httpd_j2", "nginx_j2"], True) for c in conns_list]
        for case, conns, names, two in plan:
            res = {n: [] for n in names}
            for i in range(runs):
                order = names[i % len(names):] + names[:i % len(names)]  # alternate
                for n in order:
                    try:
                        res[n].append(one_run(n, build, root, tmp, conns, seconds, pin, two))
                    except BenchError as e:
                        raise BenchError("http %s, %s: %s" % (case, n, e))
                    log("    http %-8s run %d  %-9s %9.0f req/s  %6.2f us CPU/req  p99 %7.2f ms"
                        % ((case, i + 1, n) + res[n][-1]))
            out[case] = {n: {"rate": statistics.median(r[0] for r in res[n]),
                             "cpu": statistics.median(r[1] for r in res[n]),
                             "p99": statistics.median(r[2] for r in res[n]),
                             "runs": res[n]} for n in names}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def callgrind_total(cmd, port, seconds, out_file, conns=10):
    """(instructions, requests answered) of a server run under callgrind;
    seconds 0: a single request."""
    srv = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file] +
                           cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_http(port, srv, 120)
        if seconds:
            run_wrk(port, conns, seconds, None)
    finally:
        out = stop(srv, 120, kill=False)
    m = re.search(r"(\d+) requests answered", out)
    if not m:
        raise BenchError("%s did not say how many requests it answered: %r" % (cmd[0], out[-300:]))
    ann = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", out_file],
                         capture_output=True, text=True, check=True).stdout
    tot = re.search(r"^\s*([\d,]+)\s+(\(\s*[\d.]+%\))?\s*PROGRAM TOTALS", ann, re.M)
    if not tot:
        raise BenchError("callgrind gave no total for %s" % cmd[0])
    return int(tot.group(1).replace(",", "")), int(m.group(1))


def functions(out_file, per):
    ann = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=99", out_file],
                         capture_output=True, text=True, check=True).stdout
    rows, on = [], False
    for line in ann.splitlines():
        if "file:function" in line:
            on = True
            continue
        m = re.match(r"^\s*([\d,]+)\s+(\(\s*[\d.]+%\))?\s*(\S+)", line)
        if on and m:
            rows.append((int(m.group(1).replace(",", "")) / per, m.group(3)))
    return rows


def instructions(build, out_dir, seconds=4, log=print):
    """{name: instructions per request} for httpd and the floor, and a
    per-function breakdown written to out_dir/http-profile.txt."""
    tmp = tempfile.mkdtemp(prefix="http-cg-")
    res = {}
    try:
        root = make_root(tmp)
        prof = open(os.path.join(out_dir, "http-profile.txt"), "w")
        for name in ("floor", "httpd"):
            totals = []
            for secs in (0, seconds):
                port = free_port()
                f = os.path.join(out_dir, "callgrind.http.%s.%s.out" % (name, "one" if not secs
                                                                        else "load"))
                totals.append(callgrind_total(server_cmd(name, build, root, tmp, port), port,
                                              secs, f))
            (t1, n1), (t2, n2) = totals
            if n2 <= n1:
                raise BenchError("%s answered no requests under load" % name)
            res[name] = (t2 - t1) / (n2 - n1)
            log("    callgrind %-6s %d requests: %.0f user instructions per request" % (
                name, n2 - n1, res[name]))
            prof.write("%s under callgrind, wrk -c10: user instructions per request by function "
                       "(self cost, start-up included; total minus a one-request run: %.0f)\n"
                       % (name, res[name]))
            for v, fn in functions(f, n2)[:40]:
                prof.write("%8.1f  %s\n" % (v, fn))
            prof.write("\n")
        prof.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def case_label(case):
    """"c50" -> "50 connections", "j2_c1000" -> "-j 2, 1000 connections"."""
    two = case.startswith("j2_")
    return "%s%s connections" % ("-j 2, " if two else "", case[4:] if two else case[1:])


def table(res):
    lines = []
    for case, r in res.items():
        ref = r.get("nginx_j2" if case.startswith("j2") else "nginx")
        lines.append("  %s, keep-alive, 12-byte file (median of %d runs)" % (
            case_label(case), len(next(iter(r.values()))["runs"])))
        lines.append("    %-28s %10s %8s %12s %8s %10s %8s" % (
            "server", "req/s", "x nginx", "us CPU/req", "x nginx", "p99 ms", "x nginx"))
        for n, v in r.items():
            def ratio(k):
                return "%.3f" % (v[k] / ref[k]) if ref and ref[k] else "-"
            lines.append("    %-28s %10.0f %8s %12.2f %8s %10.2f %8s" % (
                LABELS[n], v["rate"], ratio("rate"), v["cpu"], ratio("cpu"), v["p99"],
                ratio("p99")))
    return lines


def bench_lines(res, instr=None):
    out = []
    for case, r in res.items():
        me, ref = ("httpd_j2", "nginx_j2") if case.startswith("j2") else ("httpd", "nginx")
        s, n = r[me], r[ref]
        rn = "nginx_2workers" if case.startswith("j2") else "nginx"
        out.append("BENCH name=http_%s value=%.0f unit=req/s ref=%s ref_value=%.0f ratio=%.3f"
                   % (case, s["rate"], rn, n["rate"], s["rate"] / n["rate"]))
        out.append("BENCH name=http_%s_cpu value=%.3f unit=us/req ref=%s ref_value=%.3f ratio=%.3f"
                   % (case, s["cpu"], rn, n["cpu"], s["cpu"] / n["cpu"] if n["cpu"] else 0))
        out.append("BENCH name=http_%s_p99 value=%.3f unit=ms ref=%s ref_value=%.3f ratio=%.3f"
                   % (case, s["p99"], rn, n["p99"], s["p99"] / n["p99"] if n["p99"] else 0))
    if instr:
        out.append("BENCH name=http_instr value=%.0f unit=instructions ref=http_floor_instr "
                   "ref_value=%.0f ratio=%.4f" % (instr["httpd"], instr["floor"],
                                                  instr["httpd"] / instr["floor"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", default="50,1000")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--no-j2", action="store_true")
    ap.add_argument("--no-floor-timed", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args()
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") and not a.no_pin
    print("http benchmark: %d s per run after a 1 s warm-up, median of %d, load %s" % (
        a.seconds, a.runs, " ".join("%.2f" % x for x in os.getloadavg())))
    try:
        res = measure(a.build, [int(c) for c in a.conns.split(",")], a.seconds, a.runs, pin,
                      not a.no_j2, not a.no_floor_timed)
        instr = None if a.no_callgrind else instructions(a.build, os.path.join(a.build, "bench"))
    except BenchError as e:
        print("http benchmark FAILED: %s" % e)
        return 1
    print("\n".join(table(res)))
    print("\n".join(bench_lines(res, instr)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
