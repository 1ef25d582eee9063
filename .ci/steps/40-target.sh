#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CI step: async.h on microcontrollers (mk/firmware.mk).
#  1. install the cross toolchains, QEMU and simavr if missing (Debian
#     packages; libsimavr-dev and libelf-dev build test/target/avrsim.c,
#     the harness the AVR images run in);
#  2. `make cross`: the core and the example firmware for cortex-m0plus,
#     cortex-m4 (hard float) and rv32imac, warning-free at -Os, linked with
#     -nostdlib, and the size report;
#  3. `make check-target`: the core's suites on an emulated Cortex-M3
#     (qemu-system-arm -M mps2-an385), on an emulated rv32imac
#     (qemu-system-riscv32 -M virt) and on an emulated ATmega1284P
#     (simavr); it ends with "N passed, N failed" and fails on any
#     failure;
#  4. `make check-firmware`: boot the firmware images on QEMU (Cortex-M
#     on the MPS2 boards, rv32imac on sifive_e) and check that their LEDs
#     blink as designed.
# Any failure fails CI.  (libnewlib-arm-none-eabi and
# picolibc-riscv64-unknown-elf: only their headers, for <string.h> and
# <setjmp.h> in test/testlib.h; nothing links a C library.)
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/deps qemu-system-arm qemu-system-misc gcc-arm-none-eabi libnewlib-arm-none-eabi \
    gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf \
    gcc-avr avr-libc binutils-avr simavr libsimavr-dev libelf-dev

make -j2 cross
make -j2 check-target
make check-firmware
