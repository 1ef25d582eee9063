#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""TLS echo benchmark: `echo_server --tls` against tools/bench/tls_floor.c
(raw OpenSSL + libev callbacks, the same OpenSSL settings), both driven
by `echo_client -t CA -S TLS_AES_128_GCM_SHA256` (TLS 1.3, one cipher
suite, 1 KiB ping-pong, every byte checked).

    tools/bench/tls.py [BUILD_DIR] [--seconds N] [--runs N] [--conns 10] [--no-pin]

Measured in the same run, servers alternating (echo.py's one_run: a 1 s
warm-up, then the server's CPU time from /proc over the measured run);
each ratio is the median of the repetitions' ratios (the two servers of a
repetition run back to back, so a change of load between repetitions
does not land on one server's median only):
  - messages/s and server CPU per message, 10 connections;
  - full handshakes/s and server CPU per handshake: `echo_client -n`, a
    new connection with a full TLS 1.3 handshake and one 1 KiB round trip
    each time (no session resumption);
  - user-space instructions per message and per new connection under
    callgrind, as the difference of two runs of one server process
    (counters dumped after each with callgrind_control), so start-up and,
    for messages, the connections' handshakes cancel out.
Certificates (EC P-256) are made at start by test/io/tls_certs.sh.
tools/bench/run.py imports this for `make bench BENCH_ONLY=tls`.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import echo  # noqa: E402

SUITE = "TLS_AES_128_GCM_SHA256"
NAMES = ["floor", "echo_server"]
LABELS = {"floor": "raw OpenSSL + libev floor", "echo_server": "async.h echo_server --tls"}


def make_certs(out_dir):
    d = os.path.join(out_dir, "tls-certs")
    subprocess.run([os.path.join(ROOT, "test", "io", "tls_certs.sh"), d], check=True)
    return d


def server_commands(build, certs):
    chain, key = os.path.join(certs, "chain.pem"), os.path.join(certs, "server.key")
    return {"floor": [os.path.join(build, "bench", "tls_floor"), chain, key],
            "echo_server": [os.path.join(build, "examples", "echo_server"), "--tls", chain, key]}


def client_args(certs, handshakes=False):
    return ["-t", os.path.join(certs, "ca.pem"), "-S", SUITE] + (["-n"] if handshakes else [])


def paired(runs_a, runs_b, key):
    """The repetition whose a/b ratio of field `key` (0 rate, 1 CPU) is
    the median one: (a's value, b's value, ratio, (min, max) ratio).  The
    two servers of one repetition ran back to back, so a change of load
    between repetitions cancels out of the ratio, not out of a median of
    each server's values taken apart."""
    ratios = sorted((a[key] / b[key], i) for i, (a, b) in enumerate(zip(runs_a, runs_b))
                    if b[key] > 0)
    if not ratios:
        return 0.0, 0.0, float("nan"), (float("nan"), float("nan"))
    r, i = ratios[(len(ratios) - 1) // 2]
    return runs_a[i][key], runs_b[i][key], r, (ratios[0][0], ratios[-1][0])


def measure(build, certs, conns=10, seconds=2, runs=3, pin=None, log=print):
    """{"echo": {name: {rate, cpu, user, runs}}, "handshake": {...}}:
    medians, and each server's runs in repetition order (see paired())."""
    pin = echo.can_pin() if pin is None else pin
    cmds = server_commands(build, certs)
    client = os.path.join(build, "examples", "echo_client")
    out = {}
    for kind, args in (("echo", client_args(certs)), ("handshake", client_args(certs, True))):
        res = {n: [] for n in NAMES}
        for i in range(runs):
            order = NAMES[i % 2:] + NAMES[:i % 2]
            for n in order:
                try:
                    res[n].append(echo.one_run(cmds[n], client, conns, seconds, pin, args))
                except echo.BenchError as e:
                    raise echo.BenchError("tls %s %s: %s" % (kind, n, e))
                log("    tls %-9s run %d  %-12s %8.0f /s  %8.2f us CPU each (user %.2f)"
                    % ((kind, i + 1, n) + res[n][-1]))
        out[kind] = {n: {"rate": statistics.median(r[0] for r in res[n]),
                         "cpu": statistics.median(r[1] for r in res[n]),
                         "user": statistics.median(r[2] for r in res[n]),
                         "runs": res[n]} for n in NAMES}
    return out


def callgrind_per_message(server_cmd, client, args, conns, short, long_, out_file):
    """Instructions per message of one server process (echo.py's
    difference of two dumped runs)."""
    return echo.callgrind_per_message(server_cmd, client, conns, short, long_, out_file, args)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", type=int, default=10)
    ap.add_argument("--no-pin", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        certs = make_certs(tmp)
        res = measure(a.build, certs, a.conns, a.seconds, a.runs, echo.can_pin() and not a.no_pin)
        for kind, r in res.items():
            rate = paired(r["echo_server"]["runs"], r["floor"]["runs"], 0)
            cpu = paired(r["echo_server"]["runs"], r["floor"]["runs"], 1)
            print("%s: echo_server/floor, median of the paired repetitions: %.3fx rate "
                  "(%.3f..%.3f), %.3fx CPU (%.3f..%.3f)"
                  % ((kind, rate[2]) + rate[3] + (cpu[2],) + cpu[3]))
    except echo.BenchError as e:
        print("tls benchmark FAILED: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
