#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: `make bench-quick` - every benchmark at small sizes, one run
# each (about a minute with the build): checks that they build, run and
# verify (echoed bytes, timer wake order, queue order, parked tasks).
# It never checks a timing: the figures of a quick run are not quoted.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps python3 python3-uvloop gnuplot-nox valgrind g++
tools/deps gcc-arm-none-eabi || echo "  (no arm-none-eabi-gcc: Cortex-M sizes skipped)"
make --no-print-directory O=build/ci-bench bench-quick
