#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: the fault and load suite of examples/echo_server
# (`make check-faults`, test/faults/): 200 steady connections verifying
# every byte while 10,000 others connect, send partial data and reset;
# the server under `ulimit -n 256` with 400 clients (no crash, no spin,
# accepts again); slow readers (bounded server memory).  Loopback only,
# bounded in time.  Run against the normal build, then against a server
# built with AddressSanitizer + UBSan.  Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -j2 --no-print-directory faults-bins
make --no-print-directory check-faults
echo "-- again, echo_server under address,undefined sanitizers"
make -j2 --no-print-directory O=build/ci-faults-asan SANITIZE=address,undefined faults-bins
make --no-print-directory O=build/ci-faults-asan SANITIZE=address,undefined check-faults
