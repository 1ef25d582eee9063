#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the figures of a `make bench` run into docs/performance.md.

    tools/bench/tables.py RESULTS.json DOC.md [--out FILE]

Reads the results.json that tools/bench/run.py wrote and replaces every
generated block of DOC.md, each between a pair of markers:

    <!-- bench:NAME begin: ... -->
    ...
    <!-- bench:NAME end -->

Blocks: `run` (the machine, commit, date and load of the run), `figures`
(one row per BENCH line, with the goals), `peers` (yield, spawn and
memory beside the switch floor, C++20 coroutines, uvloop and asyncio),
`echo` (the echo servers as ratios to the libev floor) and `store` (the
timer stores).  `make bench` runs it after a full run; nothing else in
the document is touched, and nothing between the markers should be
edited by hand.

Only a complete full run is written into DOC.md: a quick run, a subset
(BENCH_ONLY) or a run where a benchmark failed leaves it as it was (exit
0, saying why).  With --out FILE the blocks are written into a copy of
DOC.md at FILE instead, whatever the run (`make bench-quick` does this to
check that the script and the markers still work).  Exit 1 if DOC.md
lacks a block's markers or the results lack what a block needs.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import echo  # noqa: E402

BLOCKS = ["run", "figures", "peers", "echo", "store"]
NEEDED = ["switch", "spawn", "memory", "read_until", "timers", "store", "channel", "echo"]


class Missing(Exception):
    pass


def group(n, decimals=0):
    """1234567.8 -> '1 234 568' (a space between thousands, as the docs)."""
    s = "%.*f" % (decimals, n)
    whole, _, frac = s.partition(".")
    neg = whole.startswith("-")
    whole = whole.lstrip("-")
    parts = []
    while len(whole) > 3:
        parts.insert(0, whole[-3:])
        whole = whole[:-3]
    parts.insert(0, whole)
    return ("-" if neg else "") + " ".join(parts) + ("." + frac if frac else "")


def sig(x):
    """A figure with three significant digits, grouped when large."""
    if x >= 1000:
        return group(x)
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def with_unit(v, unit):
    if unit == "ns":
        return "%s ns" % sig(v)
    if unit == "instructions":
        return "%.1f" % v if v < 100 else group(v)
    if unit == "B":
        return "%s B" % group(v) if v >= 1000 else "%.1f B" % v
    if unit == "us/msg":
        return "%.2f us" % v
    if unit in ("timers/s", "msg/s", "req/s") and v >= 1e5:
        return "%.2f M/s" % (v / 1e6)
    if unit in ("msg/s", "req/s"):
        return group(v)
    if unit in ("us/req", "us/conn"):
        return "%.2f us" % v
    if unit == "ms":
        return "%.2f ms" % v
    return "%s %s" % (sig(v), unit)


# What each BENCH line measures, and its reference, as the figures table
# says them.  A line not listed (a benchmark added later) still gets a row.
WHAT = {
    "switch": "one `async_yield` round trip, 1000 runnable tasks",
    "switch_instr": "the same, in instructions (callgrind)",
    "switch_cpp20": "the round trip against C++20 coroutines (same run)",
    "switch_cpp20_instr": "the same, in instructions",
    "spawn": "spawn a task, run it, await it",
    "spawn_instr": "the same, in instructions",
    "spawn_cpp20": "spawn + join against C++20 coroutines (malloc included)",
    "spawn_cpp20_instr": "the same, in instructions",
    "memory": "RSS per task, tasks parked on one event",
    "memory_no_registry": "the same without the task registry (`ASYNC_CONF_TASK_LIST=0`)",
    "memory_cpp20": "the same against C++20 coroutines",
    "read_until": "`async_stream_read_until` of a buffered 40-byte line",
    "read_until_instr": "the same, in instructions",
    "timers": "tasks sleeping 1..1000 ms, arm + fire per CPU second",
    "channel": "messages through a 64-slot queue, task to task",
    "echo_c10": "echo, 10 connections, messages/s",
    "echo_c10_cpu": "server CPU per message",
    "echo_c100": "echo, 100 connections, messages/s",
    "echo_c100_cpu": "server CPU per message",
    "echo_instr": "user-space instructions per echoed message",
    "tls_c10": "TLS 1.3 echo, 10 connections, messages/s",
    "tls_c10_cpu": "server CPU per TLS message",
    "tls_instr": "user-space instructions per TLS echoed message",
    "tls_handshakes": "new TLS connections/s (full handshake + one echo)",
    "tls_handshake_cpu": "server CPU per new TLS connection",
    "tls_handshake_instr": "user-space instructions per new TLS connection",
}


def what(name):
    """WHAT's text, or one made from the name's pattern (the HTTP
    benchmark's lines: http_<case>, _cpu, _p99, http_instr)."""
    if name in WHAT:
        return WHAT[name]
    m = re.match(r"^http_(.+?)(_cpu|_p99)?$", name)
    if m and m.group(1) == "instr":
        return "user-space instructions per HTTP request"
    if m:
        return {None: "HTTP GETs (%s), requests/s", "_cpu": "server CPU per request (%s)",
                "_p99": "99th percentile latency (%s)"}[m.group(2)] % m.group(1)
    return ""


REF = {
    "switch_floor": "switch floor", "switch_floor_instr": "switch floor",
    "cpp20_ring": "C++20", "cpp20_ring_instr": "C++20",
    "asyncio": "asyncio", "spawn_floor_instr": "floor",
    "memchr_floor": "memchr floor", "memchr_floor_instr": "memchr floor",
    "libev_timers": "raw libev `ev_timer`", "asyncio_queue": "`asyncio.Queue`",
    "libev_floor": "libev floor", "libev_floor_instr": "libev floor",
    "wheel_3x4": "3x4 wheel",
    "nginx": "nginx", "nginx_2workers": "nginx, 2 workers", "http_floor_instr": "libev floor",
    "openssl_libev_floor": "OpenSSL + libev floor",
}


def goals(data):
    """{BENCH name: (goal text, met?)} for the goals of docs/performance.md
    (issue 16's table), judged on this run's figures."""
    mem = data.get("memory", {})
    size = mem.get("sizeof_task", 0) + mem.get("sizeof_frame", 0)
    nsize = (mem["sizeof_task_no_registry"] + mem.get("sizeof_frame", 0)
             if "sizeof_task_no_registry" in mem else 0)
    return {
        "switch": ("<= 1.3", lambda v, r: r <= 1.3),
        "switch_instr": ("<= 35 instructions", lambda v, r: v <= 35),
        "spawn_instr": ("<= 250 instructions", lambda v, r: v <= 250),
        "spawn_cpp20": ("< 1 (faster)", lambda v, r: r < 1),
        "memory": ("<= 56 B (sizeof %d)" % size, lambda v, r: 0 < size <= 56),
        "memory_no_registry": ("<= 56 B (sizeof %d)" % nsize, lambda v, r: 0 < nsize <= 56),
        "echo_c10": (">= 0.95", lambda v, r: r >= 0.95),
        "echo_c100": (">= 0.95", lambda v, r: r >= 0.95),
        "echo_c10_cpu": ("<= 1.05", lambda v, r: r <= 1.05),
        "echo_c100_cpu": ("<= 1.05", lambda v, r: r <= 1.05),
        "echo_instr": ("<= 2.0", lambda v, r: r <= 2.0),
        "http_instr": ("<= 1.5", lambda v, r: r <= 1.5),
        "tls_c10": (">= 0.95", lambda v, r: r >= 0.95),
        "tls_c10_cpu": ("<= 1.10", lambda v, r: r <= 1.10),
    }


def ratio_text(r):
    if r >= 10:
        return "%.1f" % r
    return "%.2f" % r if r >= 0.1 else "%.4f" % r


def parse_bench(line):
    return {k: v for k, v in (kv.split("=", 1) for kv in line.split()[1:])}


def block_run(res):
    m = res["machine"]
    git = m.get("git", "?").split()
    commit = git[0] if git else "?"
    dirty = " (with local changes to async.h or src/)" if len(git) > 1 else ""
    return [
        "`make bench` at commit %s%s, %s, on %s, %s; %s -O2, libev %s, Python %s; "
        "load average %s at the start, %s at the end (%.0f s); the timed C benchmarks %s."
        % (commit, dirty, m.get("date", "?"), m.get("cpu", "?"), m.get("kernel", "?"),
           m.get("cc", "?"), m.get("libev", "?"), m.get("python", "?"),
           m.get("load", "?").split()[0], res.get("load_end", "?"), res.get("seconds", 0),
           m.get("pin", "not pinned")),
    ]


def block_figures(res):
    g = goals(res["data"])
    out = ["| id | what | async.h | reference | ratio | goal |",
           "|---|---|---|---|---|---|"]
    for line in res["bench"]:
        b = parse_bench(line)
        name, unit = b["name"], b["unit"]
        if name.startswith("store_n"):
            continue  # the store table below has them
        v, rv, ratio = float(b["value"]), float(b["ref_value"]), float(b["ratio"])
        goal = ""
        if name in g:
            text, ok = g[name]
            goal = "%s: %s" % (text, "met" if ok(v, ratio) else "**not met**")
        out.append("| `%s` | %s | %s | %s, %s | %s | %s |" % (
            name, what(name), with_unit(v, unit), with_unit(rv, unit),
            REF.get(b["ref"], b["ref"]), ratio_text(ratio), goal))
    return out


def block_peers(res):
    d = res["data"]
    sw, sp, mem = d["switch"], d["spawn"], d["memory"]

    def vs(x):
        return "%.2fx" % x if x < 10 else "%sx" % sig(x)
    rows = [
        ("hand-written switch floor (protothreads-style: no scheduler, no wait lists)",
         "%.1f" % sw["floor_instr"], vs(1 / sw["ratio"]),
         "%.0f" % sp["floor_instr"], vs(1 / sp["ratio"]), "-"),
        ("**async.h**", "**%.1f**" % sw["instr"], "**1.00x**", "**%.0f**" % sp["instr"],
         "**1.00x** (%s ns)" % sig(sp["lib"]), "**%.1f B**" % mem["lib"]),
        ("C++20 coroutines, ring scheduler (g++, malloc'd frames)",
         "%.1f" % sw["cpp20_instr"], vs(1 / sw["cpp20_ratio"]),
         "%.0f" % sp["cpp20_instr"], vs(1 / sp["cpp20_ratio"]),
         "%.1f B (%d-B frame)" % (mem["cpp20"], mem["cpp20_frame"])),
        ("uvloop (`asyncio.sleep(0)`, `create_task` + `await`)", "-", vs(sw["uvloop"] / sw["lib"]),
         "-", vs(sp["uvloop"] / sp["lib"]), "-"),
        ("asyncio", "-", vs(sw["asyncio"] / sw["lib"]), "-", vs(sp["asyncio"] / sp["lib"]),
         "%s B" % group(mem["asyncio"])),
    ]
    out = ["| peer | yield: instructions | yield: time vs async.h | spawn + join: instructions "
           "| spawn + join: time vs async.h | memory per parked task |",
           "|---|---|---|---|---|---|"]
    out += ["| %s |" % " | ".join(r) for r in rows]
    nz, snz = sw["noise"], sp["noise"]
    out.append("")
    out.append("Times are from the same run, each repetition running the peers back to back; "
               "the ratio shown is the median repetition's. Yield: %d repetitions, %s (ratio "
               "quartiles %.2f..%.2f, the floor's fastest %.2f ns at load average %.1f). "
               "Spawn: %d repetitions, %s (quartiles %.2f..%.2f against C++20)."
               % (nz["reps"], nz["verdict"], nz["ratio_q1"], nz["ratio_q3"], nz["ref_min"],
                  nz["load"], snz["reps"], snz["verdict"], snz["ratio_q1"], snz["ratio_q3"]))
    return out


def block_echo(res):
    e = res["data"]["echo"]
    conns = list(e)
    out = ["| server | " + " | ".join("%s connections" % c for c in conns) + " |",
           "|---|" + "---|" * len(conns)]
    for s in echo.SERVER_ORDER:
        if s == "floor" or s not in e[conns[0]]:
            continue
        cells = []
        for c in conns:
            f, r = e[c]["floor"], e[c][s]
            # A short run can give the floor 0 ticks of user CPU: no ratio.
            cells.append("; ".join("%.2f" % (r[k] / f[k]) if f[k] else "-"
                                   for k in ("rate", "cpu", "user")))
        out.append("| %s | %s |" % (echo.SERVER_LABELS[s], " | ".join(cells)))
    f = e[conns[0]]["floor"]
    out.append("")
    out.append("Ratios to the libev floor (messages/s; CPU per message; user CPU per message), "
               "medians; the floor did %s msg/s at %s connections, %.2f us CPU per message."
               % (group(f["rate"]), conns[0], f["cpu"]))
    return out


def block_store(res):
    st = res["data"]["store"]
    out = ["| timers | sorted list | 3x4 wheel | list / wheel |", "|---|---|---|---|"]
    for n, r in sorted(st.items(), key=lambda kv: int(kv[0])):
        out.append("| %s | %.1f M/s | %.1f M/s | %.2f |" % (
            n, r["list"] / 1e6, r["wheel"] / 1e6, r["list"] / r["wheel"]))
    return out


MAKERS = dict(run=block_run, figures=block_figures, peers=block_peers, echo=block_echo,
              store=block_store)


def marker_re(name):
    return re.compile(r"(<!-- bench:%s begin[^>]*-->\n)(.*?)(<!-- bench:%s end -->)"
                      % (name, name), re.S)


def render(doc, res):
    for name in BLOCKS:
        rx = marker_re(name)
        if not rx.search(doc):
            raise Missing("no <!-- bench:%s begin --> ... <!-- bench:%s end --> markers"
                          % (name, name))
        try:
            body = MAKERS[name](res)
        except (KeyError, TypeError, ZeroDivisionError) as e:
            raise Missing("the results lack what the %s block needs (%s: %s)"
                          % (name, type(e).__name__, e))
        text = "\n".join(body) + "\n"
        doc = rx.sub(lambda m: m.group(1) + text + m.group(3), doc, count=1)
    return doc


def why_not(res):
    """Why this run must not go into the document, or None."""
    if res.get("quick"):
        return "a quick run (its figures are not to be quoted)"
    if res.get("failures"):
        return "benchmarks failed: %s" % ", ".join(res["failures"])
    missing = [n for n in NEEDED if n not in res.get("data", {})]
    if missing:
        return "a partial run (no %s)" % ", ".join(missing)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("doc")
    ap.add_argument("--out", help="write the result here instead of into DOC")
    a = ap.parse_args()
    with open(a.results) as f:
        res = json.load(f)
    with open(a.doc) as f:
        doc = f.read()
    reason = why_not(res)
    if reason and not a.out:
        print("tables.py: %s not updated: %s" % (a.doc, reason))
        return 0
    try:
        new = render(doc, res)
    except Missing as e:
        print("tables.py: %s: %s" % (a.doc, e), file=sys.stderr)
        return 1
    target = a.out or a.doc
    with open(target, "w") as f:
        f.write(new)
    print("tables.py: wrote %s from %s%s" % (target, a.results,
                                              " (%s)" % reason if reason else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
