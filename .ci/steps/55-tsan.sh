#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: ThreadSanitizer over every suite where threads run (`make
# check-tsan`): test_post, the posts and notifications from other
# threads, in every core configuration; the io suites (the offload pool,
# the resolver on it, posts into the libev driver) and fetch against real
# servers, under both continuation backends.  Any report fails the step
# (halt_on_error).  libev itself is not instrumented; it runs on the loop
# thread only.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -j2 --no-print-directory O=build/ci-tsan SANITIZE=thread io-bins examples
make --no-print-directory O=build/ci-tsan SANITIZE=thread check-tsan
