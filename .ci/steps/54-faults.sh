#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: `make check-faults` (test/faults/), loopback and namespaces:
#  1. load: 200 steady connections verifying every byte while 10,000
#     others connect, send partial data and reset; the server under
#     `ulimit -n 256` with 400 clients; slow readers (bounded memory);
#  2. system calls: the io suites, echo_server with a verifying client
#     and fetch against local servers under random faults from a seed
#     (test/faults/shim.c), ending FAULTS injected=N crashes=0 hangs=0
#     leaks=0 lost=0 with N >= 10,000;
#  3. network: echo and fetch across two network namespaces with loss,
#     delay, reordering and a 2 s outage (root; iproute2; tc netem, or
#     the TUN bridge where the kernel lacks netem; SKIP with the reason
#     when namespaces cannot be made).
# Then 1 and 2 again against programs built with AddressSanitizer +
# UBSan (a leak fails through LeakSanitizer).  Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory deps-faults
make -j2 --no-print-directory faults-bins
make --no-print-directory check-faults
echo "-- again, under address,undefined sanitizers"
make -j2 --no-print-directory O=build/ci-faults-asan SANITIZE=address,undefined faults-bins
make --no-print-directory O=build/ci-faults-asan SANITIZE=address,undefined check-faults-load \
    check-faults-syscalls
