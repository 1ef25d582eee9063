#!/bin/sh
# SPDX-License-Identifier: MIT
# The examples' command lines: every value they cannot honour (zero where
# it means nothing, not a number, a sign, a suffix, beyond what the
# program or the loop can do, past 2^32 or 2^64) prints the usage and
# exits 2, at once; and fetch's deadline really ends a silent server.
# (Before: "-t 2147483648" exceeded the longest delay and a silent server
# hung fetch for ever; "-t 0", "-t abc", "-t 4294967296" timed every URL
# out; echo_server took "abc" for port 0 and echo_client "-p 70000" for
# a bad address.)  Loopback only, bounded in time.
#   test/io/cmdline.sh BUILD_DIR
set -eu
O=${1:-build}
E=$O/examples
. "$(dirname "$0")/peers.sh" # $tmp, $pids, cleanup, freeport, waitport
bad=0
fail() { echo "  FAIL     cmdline: $*"; bad=1; }

# usage PROGRAM ARGS...: exit status 2 and "usage:" on stderr within 5 s
usage() {
    set +e
    timeout 5 "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
    rc=$?
    set -e
    if [ $rc -ne 2 ] || ! grep -q '^usage:' "$tmp/err"; then
        fail "$* -> status $rc (want 2 and a usage line): $(head -c 300 "$tmp/err")"
    fi
}

for t in 2147483648 0 abc -5 +5 12x '' ' 5' 4294967296 18446744073709551616 99999999999999999999; do
    usage "$E/fetch" -t "$t" http://127.0.0.1:9/
done
usage "$E/fetch" -t
usage "$E/fetch"
usage "$E/fetch" -x http://127.0.0.1:9/

for p in abc 70000 -1 65536 1x 4294967297; do
    usage "$E/echo_server" "$p"
done
usage "$E/echo_server" 1 localhost
usage "$E/echo_server" 1 127.0.0.1 3

for o in "-c 0" "-c abc" "-c 10001" "-d 0" "-d 4294967296" "-d x" "-s 0" "-s 65537" \
         "-p 0" "-p 70000" "-p abc" "-H" "-z 1"; do
    # shellcheck disable=SC2086
    usage "$E/echo_client" $o
done
usage "$E/echo_client" extra

# The longest deadline is accepted, and a silent server is cut by -t.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, read nothing, answer nothing
' > "$tmp/port" &
pids="$pids $!"
i=0; until [ -s "$tmp/port" ]; do i=$((i+1)); [ $i -lt 100 ] || { fail "silent server did not start"; exit 1; }; sleep 0.05; done
S=$(cat "$tmp/port")
set +e
timeout 20 "$E/fetch" -t 300 "http://127.0.0.1:$S/" > "$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "fetch -t 300 against a silent server: status $rc (124: hung)"
grep -q "http://127.0.0.1:$S/: error: deadline expired" "$tmp/out" ||
    fail "fetch -t 300: no deadline message: $(cat "$tmp/out")"
set +e
timeout 5 "$E/fetch" -t 2147483647 "http://127.0.0.1:$(freeport)/" > "$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'connection refused' "$tmp/out" ||
    fail "fetch -t 2147483647 (the longest delay) was not accepted: status $rc: $(cat "$tmp/out")"

if [ $bad -eq 0 ]; then
    echo "  PASS     command lines of fetch, echo_server and echo_client"
fi
exit $bad
