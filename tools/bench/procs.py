# SPDX-License-Identifier: MIT
"""procs: what the network benchmarks (echo.py, http_bench.py, tls.py)
do with the servers and clients they start: a free loopback port, a
command pinned to CPUs, a process's CPU time, and a bounded stop."""
import os
import signal
import socket
import subprocess

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pinned(cmd, cpus):
    """cmd run on the CPUs given (a number or a taskset list such as
    "0,1"), or as it is for None."""
    return cmd if cpus is None else ["taskset", "-c", str(cpus)] + cmd


def cpu_times(pid):
    """(user, system) CPU seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the name may hold spaces
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # utime, stime


def stop(proc, timeout, kill=True):
    """SIGTERM proc if it still runs and wait up to timeout seconds for
    it to exit; then, with kill, SIGKILL it (else the TimeoutExpired is
    raised).  Returns what it wrote to a pipe stdout, if it had one."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if not kill:
            raise
        proc.kill()
        out, _ = proc.communicate()
    return out
