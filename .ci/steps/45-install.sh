#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: the install beyond `make check`'s check-install.
#  1. check-install against a library built for another configuration
#     (make lib ASYNC_CONFIG=-DASYNC_CONF_TICK_BITS=64): its consumers get
#     the setting from async-ev.pc and CMake, the guard still refuses a
#     program built with the default; and with an absolute O=;
#  2. check-install built with clang;
#  3. a build with no dpkg, apt-get or sudo on PATH: `make lib examples`
#     must work (nothing installs, nothing asks dpkg), and `make -n` of
#     the user targets must show no apt-get.
# Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps clang

echo "-- check-install, ASYNC_CONFIG=-DASYNC_CONF_TICK_BITS=64, absolute O"
o=$PWD/build/ci-install-t64
make -j2 --no-print-directory O="$o" ASYNC_CONFIG=-DASYNC_CONF_TICK_BITS=64 lib examples
make --no-print-directory O="$o" ASYNC_CONFIG=-DASYNC_CONF_TICK_BITS=64 check-install
"$o/examples/hello"

echo "-- check-install with clang"
make -j2 --no-print-directory O=build/ci-install-clang CC=clang CXX=clang++ lib
make --no-print-directory O=build/ci-install-clang CC=clang CXX=clang++ check-install

echo "-- a PATH without dpkg, apt-get or sudo"
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
for f in /usr/local/bin/* /usr/bin/* /usr/sbin/* /bin/* /sbin/*; do
    case ${f##*/} in dpkg*|apt*|sudo) continue ;; esac
    [ -e "$shim/${f##*/}" ] || ln -s "$f" "$shim/${f##*/}"
done
PATH=$shim make -j2 --no-print-directory O=build/ci-nodpkg lib examples
for t in all lib examples install; do
    if PATH=$shim make -n --no-print-directory O=build/ci-nodpkg-n "$t" | grep -E 'apt-get|sudo|tools/deps'; then
        echo "make -n $t would install packages"
        exit 1
    fi
done
echo "-- ok"
