#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: the long model-based run (`make model`): MODEL_BUDGET
# operations per core configuration across thousands of seeds, checked
# step by step against the reference model.  A disagreement prints the
# seed, the shortest failing program and the command that replays it.
# Then the core bugs' reproducers under ASan+UBSan: the fixed ones are
# regression tests (`make check-known`).  Last, the model's own test:
# tools/model-mutations builds it against 31 broken copies of async.h
# and requires each to be caught (about 5 minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
make -j2 --no-print-directory O=build/ci-model model-bins
make --no-print-directory O=build/ci-model model MODEL_BUDGET=20000000
make --no-print-directory O=build/ci-model check-known SANITIZE=address,undefined
tools/model-mutations
