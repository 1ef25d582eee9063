#!/bin/sh
# SPDX-License-Identifier: MIT
# The libev runtime beyond `make check`: its integration suites under
# AddressSanitizer + UBSan, under valgrind, and built with clang.
set -eu
cd "$(dirname "$0")/../.."
tools/deps valgrind clang libssl-dev openssl
tools/deps nginx || echo "  (no nginx: the TLS suite skips its nginx test)"
echo "-- test/io under address,undefined sanitizers"
make -j2 --no-print-directory O=build/ci-asan SANITIZE=address,undefined check-io-suites
echo "-- test/io under valgrind"
make -j2 --no-print-directory O=build/ci-vg io-bins
make --no-print-directory O=build/ci-vg check-io-suites \
    TEST_WRAPPER="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite"
echo "-- library, examples and test/io with clang, warnings as errors"
make -j2 --no-print-directory O=build/ci-clang CC=clang WERROR=1 lib examples io-bins
make --no-print-directory O=build/ci-clang CC=clang check-io-suites
