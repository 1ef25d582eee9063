#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/httpd against real clients: curl, Python's http.client, wrk,
and raw sockets for what no polite client sends (pipelining, limits,
slowloris, a client that never reads).

    test/io/http_clients.py BUILD_DIR [-j THREADS]...

Each case prints PASS or FAIL with its name; the exit status is 1 if any
failed.  Every server runs on 127.0.0.1 on a port it picks itself (-p 0),
with a temporary ROOT, and is stopped with SIGTERM at the end of its
group of cases, which also checks the graceful shutdown (exit status 0,
no sanitizer report).  Every wait is bounded.
"""
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "build"
THREADS = [int(a) for a in sys.argv[2:] if a.isdigit()] or [1, 2]
HTTPD = os.path.join(BUILD, "examples", "httpd")
FAILS = []
signal.alarm(900)  # the whole run: a hang fails instead of blocking CI


def report(name, ok, detail=""):
    print("  %s     http %s%s" % ("PASS" if ok else "FAIL", name,
                                  "" if ok or not detail else ": " + detail), flush=True)
    if not ok:
        FAILS.append(name)


class Server:
    """examples/httpd on a free port, stopped (and checked) by stop()."""

    def __init__(self, root, threads=1, opts=(), quiet=True, grace_ms=None, tls=None):
        cmd = [HTTPD, "-p", "0", "-r", root, "-j", str(threads)]
        if tls:
            cmd += ["--tls", tls[0], tls[1]]
        if quiet:
            cmd.append("-q")
        if grace_ms is not None:
            cmd += ["-g", str(grace_ms)]
        for o in opts:
            cmd += ["-o", o]
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.p.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.p.kill()
            raise RuntimeError("httpd did not start: %r" % line)
        self.port = int(m.group(1))
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def rss_kib(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=30, signalled=False):
        """SIGTERM (unless already sent); returns (exit status, stderr)."""
        if self.p.poll() is None and not signalled:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
            rc = "killed after %d s" % timeout
        self.reader.join(5)
        self.err.seek(0)
        return rc, self.err.read().decode(errors="replace")


def sock(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_all(s, limit=64 << 20):
    """Everything until the server closes (or resets after it answered)."""
    out = b""
    try:
        while len(out) < limit:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (ConnectionResetError, socket.timeout):
        pass
    return out


def responses(data, heads=()):
    """Split a byte string of HTTP/1.1 responses (Content-Length or
    chunked framing) into [(status, headers dict, body)].  heads: the
    indexes of responses to HEAD requests (no body)."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            raise ValueError("incomplete head: %r" % data[:200])
        lines = data[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        data = data[end + 4:]
        body = b""
        if status == 100:
            out.append((status, hdrs, b""))
            continue
        if len(out) in heads or status in (204, 304):
            pass
        elif hdrs.get("transfer-encoding") == "chunked":
            while True:
                e = data.find(b"\r\n")
                n = int(data[:e].split(b";")[0], 16)
                data = data[e + 2:]
                body += data[:n]
                data = data[n + 2:]
                if n == 0:
                    break
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            if len(data) < n:
                raise ValueError("body cut short")
            body, data = data[:n], data[n:]
        else:
            body, data = data, b""
        out.append((status, hdrs, body))
    return out


def curl(*args, timeout=60):
    p = subprocess.run(["curl", "-sS"] + list(args), capture_output=True, timeout=timeout)
    return p


def check(name, fn):
    try:
        ok, detail = fn()
    except Exception as e:  # a failed case, not a crashed run
        ok, detail = False, "%s: %s" % (type(e).__name__, e)
    report(name, ok, detail)


def make_root(d):
    os.makedirs(os.path.join(d, "dir"))
    os.makedirs(os.path.join(d, "noindex"))
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<h1>index</h1>\n")
    with open(os.path.join(d, "dir", "index.html"), "w") as f:
        f.write("<p>dir</p>\n")
    with open(os.path.join(d, "f12.txt"), "wb") as f:
        f.write(b"hello world\n")
    with open(os.path.join(d, "empty.bin"), "wb"):
        pass
    with open(os.path.join(d, "binary.bin"), "wb") as f:
        f.write(bytes(range(256)) * 257 + os.urandom(4093))
    with open(os.path.join(d, "big.bin"), "wb") as f:
        f.write(os.urandom(10 * 1024 * 1024))
    with open(os.path.join(d, "style.css"), "w") as f:
        f.write("p{}\n")
    secret = os.path.join(d, "secret.txt")
    with open(secret, "w") as f:
        f.write("no\n")
    os.chmod(secret, 0)
    outside = os.path.join(os.path.dirname(d), "outside.txt")
    with open(outside, "w") as f:
        f.write("outside the root\n")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cases_basic(srv, root):
    """Files, errors, HEAD, keep-alive, pipelining, uploads."""
    for name in ("binary.bin", "big.bin", "empty.bin", "f12.txt"):
        def fetch(name=name):
            p = curl("-f", "-o", "-", srv.url("/" + name))
            want = open(os.path.join(root, name), "rb").read()
            return p.returncode == 0 and p.stdout == want, "curl %d, %d bytes, want %d" % (
                p.returncode, len(p.stdout), len(want))
        check("curl byte-exact %s" % name, fetch)

    def pyclient_exact():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        c.request("GET", "/big.bin")
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status == 200 and hashlib.sha256(body).hexdigest() == sha(
            os.path.join(root, "big.bin")), "status %d, %d bytes" % (r.status, len(body))
    check("http.client byte-exact 10 MB", pyclient_exact)

    def status_of(path, *extra):
        p = curl("-o", "/dev/null", "-w", "%{http_code}", *extra, srv.url(path))
        return p.stdout.decode()

    check("404 for a missing file", lambda: (status_of("/nope.txt") == "404", status_of("/nope.txt")))
    check("403 for .. traversal (curl --path-as-is)",
          lambda: (status_of("/../outside.txt", "--path-as-is") == "403",
                   status_of("/../outside.txt", "--path-as-is")))
    check("403 for an encoded ..",
          lambda: (status_of("/dir/%2e%2e/%2e%2e/outside.txt", "--path-as-is") == "403",
                   status_of("/dir/%2e%2e/%2e%2e/outside.txt", "--path-as-is")))
    if os.geteuid() != 0:
        check("403 for an unreadable file", lambda: (status_of("/secret.txt") == "403",
                                                     status_of("/secret.txt")))
    check("403 for a directory without index", lambda: (status_of("/noindex/") == "403",
                                                        status_of("/noindex/")))
    check("301 for a directory without its /", lambda: (status_of("/dir") == "301",
                                                        status_of("/dir")))

    def index():
        p = curl("-f", srv.url("/dir/"))
        return p.stdout == b"<p>dir</p>\n", repr(p.stdout)
    check("index file", index)

    def head():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        c.request("HEAD", "/binary.bin")
        r = c.getresponse()
        body = r.read()
        n = r.getheader("Content-Length")
        c.close()
        return (r.status == 200 and body == b"" and
                n == str(os.path.getsize(os.path.join(root, "binary.bin")))), "%d %r %r" % (
            r.status, n, body[:20])
    check("HEAD: the length, no body", head)

    def types():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        got = []
        for p in ("/f12.txt", "/style.css", "/index.html", "/binary.bin"):
            c.request("GET", p)
            r = c.getresponse()
            r.read()
            got.append(r.getheader("Content-Type"))
        c.close()
        return got == ["text/plain; charset=utf-8", "text/css", "text/html; charset=utf-8",
                       "application/octet-stream"], repr(got)
    check("Content-Type by extension", types)

    def ims():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        c.request("GET", "/f12.txt")
        r = c.getresponse()
        r.read()
        lm = r.getheader("Last-Modified")
        c.request("GET", "/f12.txt", headers={"If-Modified-Since": lm})
        r2 = c.getresponse()
        b2 = r2.read()
        c.request("GET", "/f12.txt", headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
        r3 = c.getresponse()
        b3 = r3.read()
        c.close()
        return (lm is not None and r2.status == 304 and b2 == b"" and r3.status == 200 and
                b3 == b"hello world\n"), "Last-Modified %r, then %d, %d" % (lm, r2.status, r3.status)
    check("Last-Modified / If-Modified-Since", ims)

    def keepalive_pyclient():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        ports = set()
        for _ in range(20):
            c.request("GET", "/f12.txt")
            r = c.getresponse()
            if r.read() != b"hello world\n":
                return False, "wrong body"
            ports.add(c.sock.getsockname()[1])
        c.close()
        return len(ports) == 1, "%d connections for 20 requests" % len(ports)
    check("keep-alive reuse (http.client: 20 requests, one connection)", keepalive_pyclient)

    def keepalive_curl():
        p = curl("-v", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                 srv.url("/f12.txt"), srv.url("/binary.bin"), srv.url("/f12.txt"))
        n = p.stderr.count(b"Re-using existing connection")
        return p.returncode == 0 and n == 2, "curl reused %d times" % n
    check("keep-alive reuse (curl: 3 URLs, one connection)", keepalive_curl)

    def pipelined():
        s = sock(srv.port)
        paths = ["/f12.txt", "/index.html", "/nope", "/dir/", "/f12.txt", "/empty.bin"]
        reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
        reqs += b"HEAD /f12.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        s.sendall(reqs)
        rs = responses(recv_all(s), heads=(6,))
        s.close()
        got = [(st, b) for st, _, b in rs]
        want = [(200, b"hello world\n"), (200, b"<h1>index</h1>\n"), (404, b"Not Found"),
                (200, b"<p>dir</p>\n"), (200, b"hello world\n"), (200, b""), (200, b"")]
        return got == want, repr(got)
    check("pipelined requests answered in order", pipelined)

    def pipelined_bytes():
        s = sock(srv.port)
        req = b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 9 + \
            b"GET /f12.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for i in range(len(req)):  # one byte per segment
            s.send(req[i:i + 1])
        rs = responses(recv_all(s))
        s.close()
        return [b for _, _, b in rs] == [b"hello world\n"] * 10, "%d responses" % len(rs)
    check("pipelined requests sent byte by byte", pipelined_bytes)

    def chunked_upload_curl():
        data = open(os.path.join(root, "binary.bin"), "rb").read()
        p = subprocess.run(["curl", "-sS", "-f", "-H", "Transfer-Encoding: chunked",
                            "--data-binary", "@-", srv.url("/api/echo")], input=data,
                           capture_output=True, timeout=60)
        return p.stdout == data, "curl %d, %d bytes back of %d" % (p.returncode, len(p.stdout),
                                                                  len(data))
    check("chunked upload read back (curl)", chunked_upload_curl)

    def chunked_upload_pyclient():
        pieces = [os.urandom(n) for n in (1, 1000, 70000, 3, 0x1234)]
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        c.request("POST", "/api/echo", body=iter(pieces), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        body = r.read()
        c.request("GET", "/f12.txt")  # and the connection is still good
        r2 = c.getresponse()
        b2 = r2.read()
        c.close()
        return body == b"".join(pieces) and b2 == b"hello world\n", "%d bytes back" % len(body)
    check("chunked upload read back (http.client), then keep-alive", chunked_upload_pyclient)

    def expect_continue():
        s = sock(srv.port)
        s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        first = s.recv(4096)
        if not first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
            return False, "no 100 first: %r" % first[:60]
        s.sendall(b"hello")
        rest = first[25:]
        deadline = time.time() + 10
        while b"0\r\n\r\n" not in rest and time.time() < deadline:
            rest += s.recv(4096)
        s.close()
        rs = responses(rest)
        return rs[0][0] == 200 and rs[0][2] == b"hello", repr(rs)
    check("Expect: 100-continue (raw: 100 before the body)", expect_continue)

    def expect_curl():
        data = os.urandom(200000)
        p = subprocess.run(["curl", "-sS", "-v", "-f", "-H", "Expect: 100-continue",
                            "--expect100-timeout", "20", "--data-binary", "@-",
                            srv.url("/api/echo")], input=data, capture_output=True, timeout=60)
        return (p.stdout == data and b"HTTP/1.1 100 Continue" in p.stderr), "curl %d" % p.returncode
    check("Expect: 100-continue (curl)", expect_curl)

    def expect_refused():
        s = sock(srv.port)
        s.sendall(b"PUT /f12.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        rs = responses(recv_all(s))
        s.close()
        return [r[0] for r in rs] == [413] and rs[0][1].get("connection") == "close", repr(rs)
    check("Expect: 100-continue with too large a body: 413, no 100, close", expect_refused)

    def http10():
        s = sock(srv.port)
        s.sendall(b"GET /f12.txt HTTP/1.0\r\n\r\n")
        data = recv_all(s)  # the server closes: HTTP/1.0 without keep-alive
        s.close()
        rs = responses(data)
        s = sock(srv.port)
        s.sendall(b"GET /f12.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                  b"GET /f12.txt HTTP/1.0\r\n\r\n")
        data2 = recv_all(s)
        s.close()
        rs2 = responses(data2)
        return (len(rs) == 1 and rs[0][2] == b"hello world\n" and
                rs[0][1].get("connection") == "close" and len(rs2) == 2 and
                rs2[0][1].get("connection") == "keep-alive"), repr((rs, rs2))
    check("HTTP/1.0 clients (close, and keep-alive when asked)", http10)

    def conn_close():
        s = sock(srv.port)
        s.sendall(b"GET /f12.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        rs = responses(recv_all(s))
        s.close()
        return len(rs) == 1 and rs[0][1].get("connection") == "close", repr(rs)
    check("Connection: close ends the connection after its answer", conn_close)

    def slow_does_not_stall():
        # The slow request sleeps 4 s on the pool: the 20 fast ones must be
        # answered before it ends.  They take milliseconds on a quiet machine;
        # the margin is for a loaded CI machine (the test used 1.5 s, which
        # left about 1.3 s for them).
        done = {}

        def slow():
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            c.request("GET", "/api/sleep?ms=4000")
            r = c.getresponse()
            done["slow"] = (time.monotonic(), r.status, r.read())
            c.close()
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.2)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        fast = []
        for _ in range(20):
            c.request("GET", "/f12.txt")
            r = c.getresponse()
            fast.append(r.read())
        t_fast = time.monotonic()
        c.close()
        t.join(30)
        ok = ("slow" in done and done["slow"][1] == 200 and b'"slept_ms":4000' in done["slow"][2]
              and fast == [b"hello world\n"] * 20 and t_fast < done["slow"][0])
        return ok, "slow %r, fast done first: %s" % (done.get("slow", ("-", "-", b""))[2],
                                                      "slow" in done and t_fast < done["slow"][0])
    check("JSON endpoint on the offload pool: 20 requests answered during one slow one",
          slow_does_not_stall)

    def concurrent_1000():
        socks = []
        try:
            for _ in range(1000):
                socks.append(sock(srv.port, timeout=30))
            ok = 0
            for rnd in range(3):  # three rounds on the same connections
                for s in socks:
                    s.sendall(b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                for s in socks:
                    buf = b""
                    while not buf.endswith(b"hello world\n"):
                        b = s.recv(4096)
                        if not b:
                            break
                        buf += b
                    ok += buf.startswith(b"HTTP/1.1 200 OK\r\n") and buf.endswith(b"hello world\n")
        finally:
            for s in socks:
                s.close()
        return ok == 3000, "%d of 3000 answers" % ok
    check("1,000 concurrent keep-alive connections, 3 requests each", concurrent_1000)

    def wrk_load():
        if shutil.which("wrk") is None:
            return True, ""
        p = subprocess.run(["wrk", "-t2", "-c100", "-d2", srv.url("/f12.txt")],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"(\d+) requests in", p.stdout)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", p.stdout)
        return (p.returncode == 0 and m and int(m.group(1)) > 1000 and not bad), p.stdout[-300:]
    check("wrk: 100 connections for 2 s, no error", wrk_load)


def raw_answer(port, data, settle=None):
    s = sock(port)
    s.sendall(data)
    if settle:
        time.sleep(settle)
    got = recv_all(s)
    s.close()
    return got


def status_line(data):
    return data.split(b"\r\n", 1)[0].decode("latin-1", "replace")


def cases_limits(srv):
    """The limits, with small values: -o head_max=1024 headers_max=8
    body_max=10000 head_timeout=600 idle_timeout=1500 write_timeout=1500."""
    def code(data, want):
        got = raw_answer(srv.port, data)
        return status_line(got).startswith("HTTP/1.1 %d" % want) and \
            b"Connection: close\r\n" in got, status_line(got)

    check("400 for a malformed request line", lambda: code(b"GARBAGE\r\n\r\n", 400))
    check("400 for a bad header line", lambda: code(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400))
    check("400 for a folded header", lambda: code(
        b"GET / HTTP/1.1\r\nX-A: one\r\n  two\r\n\r\n", 400))
    check("400 for a bad chunk size", lambda: code(
        b"POST /api/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400))
    check("400 for Content-Length with chunked", lambda: code(
        b"POST /api/echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400))
    check("431 for a head over head_max", lambda: code(
        b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n", 431))
    check("431 for more header lines than headers_max", lambda: code(
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(9)) + b"\r\n", 431))
    check("413 for a Content-Length over body_max", lambda: code(
        b"POST /api/echo HTTP/1.1\r\nContent-Length: 10001\r\n\r\n", 413))

    def chunked_too_big():
        body = b"".join(b"1000\r\n" + b"x" * 4096 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
        got = raw_answer(srv.port, b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + body)
        # the echo had started answering: the module cuts the chunked answer
        # short (no last chunk) and closes, or answers 413 if it had not
        return (status_line(got).startswith("HTTP/1.1 413") or
                (status_line(got).startswith("HTTP/1.1 200") and not got.endswith(b"0\r\n\r\n"))
                ), "%s ... %r" % (status_line(got), got[-20:])
    check("a chunked body over body_max is cut off (413 or a truncated answer)", chunked_too_big)
    check("505 for HTTP/2.0", lambda: code(b"GET / HTTP/2.0\r\n\r\n", 505))
    check("417 for an unknown Expect", lambda: code(
        b"GET / HTTP/1.1\r\nExpect: something\r\n\r\n", 417))

    def slowloris():
        # t0 before the connect: the server's head_timeout may start at its
        # accept, before connect() returns here (measured 0.598 s once)
        t0 = time.monotonic()
        s = sock(srv.port, timeout=10)
        s.sendall(b"GET /f12.txt HTTP/1.1\r\n")
        got, closed_at = b"", None
        while time.monotonic() - t0 < 8:
            try:
                s.sendall(b"X-Slow: 1\r\n")  # a header line every 100 ms, never the end
            except (BrokenPipeError, ConnectionResetError):
                break
            s.settimeout(0.1)
            try:
                b = s.recv(4096)
                if not b:
                    closed_at = time.monotonic() - t0
                    break
                got += b
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic() - t0
                break
        s.close()
        return (status_line(got).startswith("HTTP/1.1 408") and closed_at is not None and
                0.6 <= closed_at < 5), "%s, closed after %s s (head_timeout 0.6 s)" % (
            status_line(got), "%.2f" % closed_at if closed_at else "never")
    check("slowloris: 408 and disconnected once head_timeout passed", slowloris)

    # t0 before the connect, as for slowloris: the server's timer starts
    # once it has the request, which cannot be before t0 however late
    # this process runs after its sendall
    def slow_body():
        t0 = time.monotonic()
        s = sock(srv.port, timeout=10)
        s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        got = recv_all(s)
        dt = time.monotonic() - t0
        s.close()
        # body_timeout 1500 ms: the echo's first read returned "abc", so the
        # answer (chunked) had begun; the connection is then cut
        return (got.startswith(b"HTTP/1.1 200") and not got.endswith(b"0\r\n\r\n") and
                1.4 < dt < 6), "%s after %.2f s" % (status_line(got), dt)
    check("a body that stops arriving ends the connection after body_timeout", slow_body)

    def idle():
        t0 = time.monotonic()
        s = sock(srv.port, timeout=10)
        s.sendall(b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        got = recv_all(s)
        dt = time.monotonic() - t0
        s.close()
        return got.endswith(b"hello world\n") and 1.4 < dt < 6, "closed after %.2f s" % dt
    check("an idle keep-alive connection is closed after idle_timeout", idle)

    def never_reads():
        rss0 = srv.rss_kib()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        req = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
        sent = 0
        s.setblocking(False)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:  # as many requests as the server takes
            try:
                sent += s.send(req * 64)
            except BlockingIOError:
                time.sleep(0.05)
        time.sleep(2.5)  # silent past write_timeout (1500 ms): the server gives up
        rss1 = srv.rss_kib()
        s.setblocking(True)
        s.settimeout(10)
        closed = False
        t1 = time.monotonic()
        try:
            while time.monotonic() - t1 < 8:
                b = s.recv(1 << 20)
                if not b:
                    closed = True
                    break
        except (ConnectionResetError, socket.timeout) as e:
            closed = isinstance(e, ConnectionResetError)
        s.close()
        grow = rss1 - rss0
        return grow < 2048 and closed, "sent %d bytes of requests; server RSS grew %d KiB; %s" % (
            sent, grow, "closed" if closed else "not closed")
    check("a client that never reads: server memory flat, connection dropped", never_reads)


def case_shutdown(root, threads):
    srv = Server(root, threads, grace_ms=3000)
    res = {}

    def slow():
        try:
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            c.request("GET", "/api/sleep?ms=1000")
            r = c.getresponse()
            res["slow"] = (r.status, r.read(), r.getheader("Connection"))
        except Exception as e:
            res["slow"] = repr(e)
    idle = sock(srv.port)
    idle.sendall(b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while not got.endswith(b"hello world\n"):
        got += idle.recv(4096)
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    srv.p.send_signal(signal.SIGTERM)
    idle.settimeout(5)
    try:
        idle_closed = idle.recv(4096) == b""
    except (ConnectionResetError, socket.timeout):
        idle_closed = False
    time.sleep(0.2)
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    t.join(30)
    rc, err = srv.stop(signalled=True)
    ok = (res.get("slow", ("",))[0] == 200 and idle_closed and refused and rc == 0)
    report("SIGTERM (-j %d): idle closed, new refused, the request in progress finished, exit 0"
           % threads, ok, "slow %r idle_closed %s refused %s rc %r %s" % (
               res.get("slow"), idle_closed, refused, rc, err[-300:]))

    srv = Server(root, threads, grace_ms=300)
    t = threading.Thread(target=slow)
    res.clear()
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    rc, err = srv.stop()
    dt = time.monotonic() - t0
    t.join(30)
    ok = rc == 0 and dt < 3 and res.get("slow", ("",))[0] != 200 and "cancelled" in err
    report("SIGTERM (-j %d): what outlives the grace period is cancelled" % threads, ok,
           "rc %r after %.2f s, slow %r, %s" % (rc, dt, res.get("slow"), err[-200:]))


def case_echo_threads():
    """examples/echo_server has the same -j: two loops, one port."""
    es = os.path.join(BUILD, "examples", "echo_server")
    ec = os.path.join(BUILD, "examples", "echo_client")
    p = subprocess.Popen([es, "-j", "2", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+) .*2 threads", p.stdout.readline())
        c = subprocess.run([ec, "-p", m.group(1), "-c", "64", "-d", "1"], capture_output=True,
                           text=True, timeout=60) if m else None
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    ok = (m is not None and c.returncode == 0 and "every byte verified" in c.stdout and
          p.returncode == 0 and "64 connections served" in out)
    report("echo_server -j 2: 64 connections echoed, every byte verified, SIGTERM exit 0", ok,
           "%s %s %s" % (c.stdout.strip() if c else "no port", out.strip(), err[-200:]))


def cases_https(root, threads, certs):
    """httpd --tls: the same server over TLS, verified with the test CA."""
    ca = os.path.join(certs, "ca.pem")
    srv = Server(root, threads, tls=(os.path.join(certs, "chain.pem"),
                                     os.path.join(certs, "server.key")))
    url = "https://127.0.0.1:%d" % srv.port

    def exact(name):
        def f():
            p = curl("-f", "--cacert", ca, "-o", "-", url + "/" + name)
            want = open(os.path.join(root, name), "rb").read()
            return p.returncode == 0 and p.stdout == want, "curl %d %s, %d bytes of %d" % (
                p.returncode, p.stderr[-120:], len(p.stdout), len(want))
        return f
    for name in ("big.bin", "binary.bin", "empty.bin"):
        check("https (-j %d): curl byte-exact %s" % (threads, name), exact(name))

    def codes():
        got = []
        for path, extra in (("/nope", ()), ("/../outside.txt", ("--path-as-is",))):
            p = curl("--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", *extra, url + path)
            got.append(p.stdout.decode())
        p = curl("--cacert", ca, "-I", url + "/f12.txt")
        return got == ["404", "403"] and b"Content-Length: 12" in p.stdout, repr((got, p.stdout[:80]))
    check("https (-j %d): 404, 403 for .., HEAD" % threads, codes)

    def reuse_and_upload():
        p = curl("-v", "--cacert", ca, "-o", "/dev/null", "-o", "/dev/null", url + "/f12.txt",
                 url + "/binary.bin")
        data = open(os.path.join(root, "binary.bin"), "rb").read()
        u = subprocess.run(["curl", "-sS", "-f", "--cacert", ca, "-H", "Transfer-Encoding: chunked",
                            "--data-binary", "@-", url + "/api/echo"], input=data,
                           capture_output=True, timeout=60)
        return (p.stderr.count(b"Re-using existing connection") == 1 and u.stdout == data,
                "reuse %d, upload %d of %d bytes" % (p.stderr.count(b"Re-using existing connection"),
                                                    len(u.stdout), len(data)))
    check("https (-j %d): keep-alive reuse, chunked upload read back (curl)" % threads,
          reuse_and_upload)

    def pyclient():
        ctx = ssl.create_default_context(cafile=ca)
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=30, context=ctx)
        bodies = []
        for _ in range(20):
            c.request("GET", "/f12.txt")
            bodies.append(c.getresponse().read())
        c.close()
        return bodies == [b"hello world\n"] * 20, "%d answers" % len(bodies)
    check("https (-j %d): http.client, 20 requests on one connection" % threads, pyclient)

    def pipelined():
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                            server_hostname="127.0.0.1")
        s.sendall(b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 4 +
                  b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except (ssl.SSLError, OSError):
            pass
        s.close()
        rs = responses(data)
        return [b for _, _, b in rs] == [b"hello world\n"] * 4 + [b"<h1>index</h1>\n"], repr(rs)[:200]
    check("https (-j %d): pipelined requests answered in order" % threads, pipelined)

    def plain_on_tls():
        got = raw_answer(srv.port, b"GET /f12.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        p = curl("-f", "--cacert", ca, url + "/f12.txt")
        return not got.startswith(b"HTTP/") and p.stdout == b"hello world\n", repr(got[:40])
    check("https (-j %d): plain HTTP on the https port is refused, the next client served"
          % threads, plain_on_tls)
    rc, err = srv.stop()
    sanitizer_clean("httpd --tls -j %d" % threads, rc, err)


def sanitizer_clean(name, rc, err):
    bad = [l for l in err.splitlines() if "AddressSanitizer" in l or "runtime error" in l or
           "ThreadSanitizer" in l or
           "LeakSanitizer" in l]
    report("%s: exit 0, no sanitizer report" % name, rc == 0 and not bad,
           "exit %r %s" % (rc, "\n".join(bad[:5])))


def main():
    if not os.path.exists(HTTPD):
        print("  FAIL     http: %s not built" % HTTPD)
        return 1
    tmp = tempfile.mkdtemp(prefix="httpd-test-")
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    make_root(root)
    certs = os.path.join(tmp, "certs")
    if shutil.which("openssl"):
        subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls_certs.sh"),
                        certs], check=True, timeout=120)
    else:
        certs = None
        print("  SKIP     http over TLS (no openssl CLI)")
    try:
        for j in THREADS:
            print("  -- httpd -j %d" % j, flush=True)
            srv = Server(root, j, quiet=False)
            cases_basic(srv, root)
            rc, err = srv.stop()
            logged = sum(1 for l in srv.lines if re.match(r"127\.0\.0\.1:\d+ \S+ \S+ \d+ \d+$", l))
            report("one log line per request (-j %d): %d lines" % (j, logged), logged > 3000)
            sanitizer_clean("httpd -j %d" % j, rc, err)
            srv = Server(root, j, opts=["head_max=1024", "headers_max=8", "body_max=10000",
                                        "head_timeout=600", "idle_timeout=1500",
                                        "body_timeout=1500", "write_timeout=1500"])
            cases_limits(srv)
            rc, err = srv.stop()
            sanitizer_clean("httpd -j %d with small limits" % j, rc, err)
            case_shutdown(root, j)
            if certs:
                cases_https(root, j, certs)
        case_echo_threads()
    finally:
        os.chmod(os.path.join(root, "secret.txt"), 0o644)
        shutil.rmtree(tmp, ignore_errors=True)
    print("http clients: %s" % ("all passed" if not FAILS else "%d failed: %s" % (
        len(FAILS), ", ".join(FAILS))), flush=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
