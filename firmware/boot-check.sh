#!/bin/sh
# SPDX-License-Identifier: MIT
# Boot the example firmware on QEMU and watch its LEDs (make check-firmware).
#
#   firmware/boot-check.sh MACHINE IMAGE.elf
#
# MPS2 boards (qemu-system-arm): QEMU traces writes to the FPGA I/O LED
# register (-trace mps2_fpgaio_write).  sifive_e (qemu-system-riscv32, the
# FE310 of the HiFive1 Rev B): QEMU traces every MMIO write
# (-trace memory_region_ops_write); the GPIO output register's bits 19
# and 21 are the two LEDs; -trace riscv_trap counts the machine timer
# interrupts, and the check also wants one per LED 0 change at least: the
# FE310 port is tickless, so a loop that never slept in WFI until its
# one-shot alarm (a spin) fails.  QEMU is $QEMU, or the one for the
# machine.
# With -icount the emulated clock is tied to the instructions run, so
# what happens in emulated time is the same on any host.  The check
# passes once LED 0 (blink, every 500 ms) has changed 6 times (2.5 s of
# emulated time) if LED 1 (one change per 16 samples of the producer,
# every 10 ms, through the queue) has changed at least 12 times meanwhile
# (about 15 expected).  QEMU is stopped then, or after QEMU_TIMEOUT
# seconds (failure): the firmware itself never ends.  The trace is kept
# next to the image (*.boot.log).
set -u

QEMU_TIMEOUT=${QEMU_TIMEOUT:-60}
machine=$1
elf=$2
name=$(basename "$(dirname "$elf")")

log=${elf%.elf}.boot.log
case $machine in
sifive_e*)
    QEMU=${QEMU_RV:-qemu-system-riscv32}
    set -- -trace memory_region_ops_write -trace riscv_trap
    min_alarms=6
    ;;
*)
    QEMU=${QEMU:-qemu-system-arm}
    set -- -trace mps2_fpgaio_write
    min_alarms=0 # a periodic SysTick: nothing to count
    ;;
esac
"$QEMU" -M "$machine" -display none -monitor none -serial none -icount shift=5,sleep=off \
    "$@" -kernel "$elf" >"$log" 2>&1 &
pid=$!

count() { # -> "done led0-changes led1-changes timer-interrupts"
    awk '
        function hexdigit(v, k) { # digit k (0: lowest) of hex string v
            return k < length(v) ? index("0123456789abcdef", substr(v, length(v) - k, 1)) - 1 : 0
        }
        function leds(led) {
            if (seen) {
                if ((led % 2) != (last % 2)) led0++
                if (int(led / 2) != int(last / 2)) led1++
            }
            last = led; seen = 1
            if (led0 >= 6) { done = 1; exit }
        }
        /mps2_fpgaio_write/ && / offset 0x0 / {
            v = $(NF - 2); sub(/^0x/, "", v)
            leds(hexdigit(v, 0) % 4)
        }
        /^riscv_trap/ && /desc=m_timer/ { alarms++ }
        /memory_region_ops_write/ && / addr 0x1001200c / {
            v = $9; sub(/^0x/, "", v)   # bit 19: LED 0, bit 21: LED 1
            leds(int(hexdigit(v, 4) / 8) % 2 + 2 * (int(hexdigit(v, 5) / 2) % 2))
        }
        END { printf "%d %d %d %d\n", done, led0, led1, alarms }' "$log"
}

tenths=0
result=$(count)
while [ "${result%% *}" != 1 ] && [ $tenths -lt $((QEMU_TIMEOUT * 10)) ] && kill -0 $pid 2>/dev/null; do
    sleep 0.1
    tenths=$((tenths + 1))
    result=$(count)
done
kill $pid 2>/dev/null
wait $pid 2>/dev/null
set -- $result
alarms=${4:-0}
what="LED 0 changed ${2:-0} times, LED 1 ${3:-0} times"
[ "$min_alarms" -eq 0 ] || what="$what, $alarms timer interrupts"
if [ "${1:-0}" = 1 ] && [ "$3" -ge 12 ] && [ "$alarms" -ge "$min_alarms" ]; then
    printf '  PASS     firmware %s on %s (%s)\n' "$name" "$machine" "$what"
    exit 0
fi
printf '  FAIL     firmware %s on %s (%s; want 6, >= 12 and >= %s interrupts)\n' \
    "$name" "$machine" "$what" "$min_alarms"
exit 1
