# SPDX-License-Identifier: MIT
# Sourced by the shell tests that start peers (fetch.sh, cmdline.sh):
# a scratch directory $tmp, the peers' process ids in $pids (append with
# pids="$pids $!"), both cleaned up on any exit, and two port helpers.
# The sourcing script defines fail() before it calls waitport.
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A loopback TCP port nothing listens on (the kernel's pick, released).
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# waitport PORT: wait (10 s at most) until something listens there.
waitport() {
    i=0
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null; do
        i=$((i+1)); [ $i -lt 100 ] || fail "server on port $1 did not start"; sleep 0.1
    done
}
