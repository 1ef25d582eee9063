#!/bin/sh
# SPDX-License-Identifier: MIT
# Run test images on emulators and add up the results: Arm images on QEMU's
# mps2-an385 (Cortex-M3, $QEMU), RISC-V ones on QEMU's virt (rv32,
# $QEMU_RV), AVR ones on an ATmega1284P under simavr ($AVRSIM, the
# harness test/target/avrsim.c), told apart by their ELF header.
#
#   test/target/run.sh IMAGE.elf...
#
# Each image is one suite in one configuration; it prints cmocka-like lines
# (semihosting on Arm, the UART on virt) and a summary "SUITE name: N
# passed, N failed" (runner.c).
# An image that crashes or hangs (killed after QEMU_TIMEOUT seconds, or on
# AVR after AVR_CYCLES emulated cycles) counts
# every test it announced and did not pass as failed.  Ends with
#     N passed, N failed
# and exits non-zero if anything failed.
#
# QEMU runs with -icount (instruction-counted virtual time, sleep=off): the
# emulated clocks advance with the instructions executed, WFI skips straight
# to the next timer event, and a run is the same every time, whatever the
# host's load.  Set QEMU_ICOUNT= (empty) to run on host time instead.
# simavr always runs in emulated time (avrsim skips SLEEPs to the next
# timer event).
set -u

QEMU=${QEMU:-qemu-system-arm}
QEMU_RV=${QEMU_RV:-qemu-system-riscv32}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-120}
QEMU_ICOUNT=${QEMU_ICOUNT-shift=5,sleep=off}
AVRSIM=${AVRSIM:-build/target/avrsim}
AVR_MCU=${AVR_MCU:-atmega1284p}
AVR_HZ=${AVR_HZ:-16000000}
AVR_CYCLES=${AVR_CYCLES:-400000000}
VERBOSE=${VERBOSE:-0}

machine() { # elf: e_machine (offset 18): f3 RISC-V, 53 AVR, 28 Arm
    od -An -t x1 -j 18 -N 1 "$1" | tr -d ' '
}
is_riscv() { [ "$(machine "$1")" = f3 ]; }
is_avr() { [ "$(machine "$1")" = 53 ]; }

for elf in "$@"; do
    if is_riscv "$elf"; then q=$QEMU_RV pkg=qemu-system-misc
    elif is_avr "$elf"; then q=$AVRSIM pkg="simavr libsimavr-dev libelf-dev"
    else q=$QEMU pkg=qemu-system-arm; fi
    if ! command -v "$q" >/dev/null 2>&1; then
        echo "run.sh: $q not found (Debian: apt-get install $pkg, or tools/deps $pkg)" >&2
        exit 2
    fi
done

run_qemu() { # elf log
    if [ -n "$QEMU_ICOUNT" ]; then
        set -- "$1" "$2" -icount "$QEMU_ICOUNT"
    else
        set -- "$1" "$2"
    fi
    elf=$1 log=$2
    shift 2
    if is_avr "$elf"; then
        timeout -k 5 "$QEMU_TIMEOUT" "$AVRSIM" -m "$AVR_MCU" -f "$AVR_HZ" -c "$AVR_CYCLES" \
            "$elf" >"$log" 2>&1
    elif is_riscv "$elf"; then
        timeout -k 5 "$QEMU_TIMEOUT" "$QEMU_RV" -M virt -bios none -display none \
            -monitor none -serial stdio -kernel "$elf" "$@" >"$log" 2>&1
    else
        timeout -k 5 "$QEMU_TIMEOUT" "$QEMU" -M mps2-an385 -cpu cortex-m3 -display none \
            -monitor none -serial none -semihosting-config enable=on,target=native \
            -kernel "$elf" "$@" >"$log" 2>&1
    fi
}

total_pass=0
total_fail=0
bad_images=0
for elf in "$@"; do
    log=${elf%.elf}.log
    run_qemu "$elf" "$log"
    status=$?
    summary=$(grep -a '^SUITE ' "$log" | tail -n 1)
    announced=$(sed -n 's/^\[==========\] .*: Running \([0-9]*\) test(s)\.$/\1/p' "$log" | head -n 1)
    pass=$(printf '%s\n' "$summary" | sed -n 's/^SUITE .*: \([0-9]*\) passed, [0-9]* failed$/\1/p')
    fail=$(printf '%s\n' "$summary" | sed -n 's/^SUITE .*: [0-9]* passed, \([0-9]*\) failed$/\1/p')
    name=$(printf '%s\n' "$summary" | sed -n 's/^SUITE \(.*\): .*$/\1/p')
    [ -n "$name" ] || name=$(sed -n 's/^\[==========\] \(.*\): Running .*$/\1/p' "$log" | head -n 1)
    [ -n "$name" ] || name=$elf
    if [ -z "$pass" ]; then
        # crashed, hung or never started: what did not pass failed
        pass=$(grep -ac '^\[       OK \]' "$log")
        fail=$(( ${announced:-0} - pass ))
        [ "$fail" -ge 1 ] || fail=1
        why="crashed"
        [ "$status" -eq 124 ] || [ "$status" -eq 137 ] && why="timed out after ${QEMU_TIMEOUT}s"
        printf '  FAIL     %s (%s)\n' "$name" "$why"
        cat "$log"
        bad_images=$((bad_images + 1))
    elif [ "$fail" -ne 0 ] || [ "$status" -ne 0 ]; then
        printf '  FAIL     %s (%s passed, %s failed)\n' "$name" "$pass" "$fail"
        grep -a -v '^\[ RUN      \]\|^\[       OK \]' "$log"
        [ "$fail" -ge 1 ] || fail=1
        bad_images=$((bad_images + 1))
    else
        printf '  PASS     %s (%s tests)\n' "$name" "$pass"
        [ "$VERBOSE" = 1 ] && cat "$log"
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$bad_images" -eq 0 ]
