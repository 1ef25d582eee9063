#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: the libFuzzer targets (fuzz/) replay their seed corpus and fuzz
# briefly (FUZZ_TIME seconds each; `make fuzz` runs 60 s): a crash, a
# sanitizer report or a model disagreement fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps clang libclang-rt-dev
make --no-print-directory O=build/ci-fuzz fuzz FUZZ_TIME=${FUZZ_TIME:-30}
