#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: the whole core test matrix (every suite under every core
# configuration: CORE_CONFIGS) and the model-based scheduler test under
# AddressSanitizer + UndefinedBehaviorSanitizer, built with gcc and with
# clang, warnings as errors.  Any sanitizer report aborts the binary (-fno-sanitize-recover),
# and LeakSanitizer fails it on any leak.  Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps clang
for cc in gcc clang; do
    o=build/ci-san-$cc
    echo "-- core suites and model test: $cc, SANITIZE=address,undefined"
    make -j2 --no-print-directory O=$o CC=$cc SANITIZE=address,undefined WERROR=1 test-bins model-bins
    make --no-print-directory O=$o CC=$cc SANITIZE=address,undefined check-core
    make --no-print-directory O=$o CC=$cc SANITIZE=address,undefined check-model \
        MODEL_CHECK_ARGS="--seed 300000 --budget 300000 --ops 400"
done
