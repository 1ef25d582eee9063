#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: `make valgrind`: every core suite under every core
# configuration, then the model test, under valgrind memcheck; any error
# or leak (definite, indirect or possible) fails.  tools/valgrind.supp
# lists the one allocation that is not the library's.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps valgrind
make -j2 --no-print-directory O=build/ci-vg test-bins model-bins
make --no-print-directory O=build/ci-vg valgrind
