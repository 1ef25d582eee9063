#!/bin/sh
# SPDX-License-Identifier: MIT
# Boot the example firmware on an emulator, watch its LEDs and measure
# its stack (make check-firmware).
#
#   firmware/boot-check.sh MACHINE IMAGE.elf [ref]
#
# MACHINE is a QEMU machine, or an AVR part (atmega328p) for simavr.
# With "ref" the image is a reference app (firmware/ref.c): its LED 0
# blinks every 500 ms as in the example, the rest differs, so only LED 0
# (and on the FE310 the alarms, on AVR its period) is checked, and the
# stack is measured the same way, over 12 changes of LED 0 (6 s) so that
# its gather rounds time out and cancel a worker (from the fourth round).
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
#
# AVR (the Arduino Uno image, on simavr through $AVRSIM, the harness
# test/target/avrsim.c): the harness traces the LED pins (PB5: LED 0,
# PB4: LED 1) with the emulated cycle of each change and presses the
# button (PD2, with contact bounce) at 1.2 s and again at 2.2 s.  The
# check wants every LED 0 period to be 500 ms within one 1 ms tick, LED 1
# to blink before the first press (>= 5 changes), not at all while the
# producer is paused (1.3 s .. 2.2 s), and again after the second press
# (>= 3 changes before 3 s).
#
# Stack: the RAM between the end of .bss and the top of the stack is
# painted with 0xC5 before the first instruction runs (QEMU: a loader
# device; simavr: the harness), and read back when the check ends (QEMU:
# pmemsave through the monitor).  The lowest byte no longer 0xC5 is the
# deepest the stack went: the figure is printed, and the check fails if
# it is beyond the image's STACK_SIZE (its linker script's reserve).
set -u

QEMU_TIMEOUT=${QEMU_TIMEOUT:-60}
AVRSIM=${AVRSIM:-build/target/avrsim}
machine=$1
elf=$2
kind=${3:-example}
name=$(basename "$(dirname "$elf")")
changes=6
[ "$kind" = ref ] && name="$name/$(basename "$elf" .elf)" && changes=12
log=${elf%.elf}.boot.log
PAINT_OCT=305 # 0xC5

symbol() { # nm-tool name -> value (hex digits), empty if absent
    "$1" "$elf" | awk -v s="$2" '$3 == s { print $1; exit }'
}

# Bytes in use at the top of a dump of [bss end, stack top): from the
# first byte that is not the paint to the end.
stack_used() { # dump-file
    size=$(wc -c <"$1")
    first=$(od -An -v -t x1 "$1" | tr -s ' ' '\n' | awk 'NF && $1 != "c5" { print NR - 1; exit }')
    echo $((size - ${first:-$size}))
}

if [ "${machine#atmega}" != "$machine" ]; then
    bss_end=$(symbol "${AVR_NM:-avr-nm}" __bss_end)
    bss_end=$((0x$bss_end & 0xFFFF)) # data addresses are 0x800000 + n in the ELF
    # press at 1.2 s and 2.2 s, each bouncing, released after 40 ms
    press() { # at-us
        t=$1
        echo "-i D2@$t=0 -i D2@$((t + 300))=1 -i D2@$((t + 600))=0" \
             "-i D2@$((t + 40000))=1 -i D2@$((t + 40200))=0 -i D2@$((t + 40400))=1"
    }
    # shellcheck disable=SC2046
    timeout -k 5 "$QEMU_TIMEOUT" "$AVRSIM" -m "$machine" -f 16000000 -c 100000000 \
        -p B5 -p B4 -n $((changes + 1)) -S "$bss_end" $(press 1200000) $(press 2200000) "$elf" >"$log" 2>&1
    status=$?
    result=$(awk -v hz=16000000 '
        $1 == "PIN" && $2 == "B5" { # the first line is the level set up, then changes
            if (++n0 >= 3) {
                periods++
                if ($4 - last0 > hz / 2 + hz / 1000 || $4 - last0 < hz / 2 - hz / 1000) bad++
            }
            last0 = $4
        }
        $1 == "PIN" && $2 == "B4" && seen1++ {
            t = $4 / hz
            if (t < 1.2) before++; else if (t >= 1.3 && t < 2.2) paused++; else if (t >= 2.3) after++
        }
        $1 == "STACK" { stack = $2; free = $4 }
        END { printf "%d %d %d %d %d %d %d %d\n", n0 - 1, periods, bad, before, paused, after, stack, free }' "$log")
    set -- $result
    what="LED 0 changed $1 times, $3 of its $2 periods off 500 ms by more than 1 ms; LED 1 $4 times before the press, $5 paused, $6 after; stack $7 B of $8 B free"
    leds_ok=1
    [ "$kind" = ref ] || { [ "$4" -ge 5 ] && [ "$5" -eq 0 ] && [ "$6" -ge 3 ]; } || leds_ok=0
    [ "$kind" = ref ] && what="LED 0 changed $1 times, $3 of its $2 periods off 500 ms by more than 1 ms; stack $7 B of $8 B free"
    if [ $status -eq 0 ] && [ "$2" -ge "$changes" ] && [ "$3" -eq 0 ] && [ $leds_ok = 1 ] &&
        [ "$7" -gt 0 ] && [ "$7" -lt "$8" ]; then
        printf '  PASS     firmware %s on simavr %s (%s)\n' "$name" "$machine" "$what"
        exit 0
    fi
    printf '  FAIL     firmware %s on simavr %s (%s; status %s)\n' "$name" "$machine" "$what" "$status"
    cat "$log"
    exit 1
fi

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
# Paint [__bss_end, __stack_top) before reset; the monitor (a pair of
# FIFOs, mon.in/mon.out) dumps it back at the end.
case $machine in sifive_e*) NM=${RV_NM:-riscv64-unknown-elf-nm} ;; *) NM=${ARM_NM:-arm-none-eabi-nm} ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bss_end=$(symbol "$NM" __bss_end)
stack_top=$(symbol "$NM" __stack_top)
stack_size=$(symbol "$NM" STACK_SIZE)
paint=$((0x$stack_top - 0x$bss_end))
head -c "$paint" /dev/zero | tr '\0' "\\$PAINT_OCT" >"$work/paint.bin"
mkfifo "$work/mon.in" "$work/mon.out"
: >"$log" # before QEMU starts: count() may read it before QEMU's redirect opens it
"$QEMU" -M "$machine" -display none -monitor "pipe:$work/mon" -serial none \
    -icount shift=5,sleep=off "$@" -device "loader,file=$work/paint.bin,addr=0x$bss_end" \
    -kernel "$elf" >"$log" 2>&1 &
pid=$!
cat "$work/mon.out" >/dev/null &
reader=$!

count() { # -> "done led0-changes led1-changes timer-interrupts"
    awk -v changes="$changes" '
        function hexdigit(v, k) { # digit k (0: lowest) of hex string v
            return k < length(v) ? index("0123456789abcdef", substr(v, length(v) - k, 1)) - 1 : 0
        }
        function leds(led) {
            if (seen) {
                if ((led % 2) != (last % 2)) led0++
                if (int(led / 2) != int(last / 2)) led1++
            }
            last = led; seen = 1
            if (led0 >= changes) { done = 1; exit }
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
stack=0
if kill -0 $pid 2>/dev/null; then
    printf 'pmemsave 0x%s %d "%s"\nquit\n' "$bss_end" "$paint" "$work/stack.bin" >"$work/mon.in"
    waited=0
    while kill -0 $pid 2>/dev/null && [ $waited -lt 50 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    [ -s "$work/stack.bin" ] && stack=$(stack_used "$work/stack.bin")
fi
kill $pid $reader 2>/dev/null
wait $pid 2>/dev/null
wait $reader 2>/dev/null
stack_max=$((0x${stack_size:-0}))
set -- $result
alarms=${4:-0}
what="LED 0 changed ${2:-0} times, LED 1 ${3:-0} times"
[ "$min_alarms" -eq 0 ] || what="$what, $alarms timer interrupts"
what="$what; stack $stack B of $paint B free (reserve $stack_max B)"
min_led1=12
[ "$kind" = ref ] && min_led1=0 && what="LED 0 changed ${2:-0} times${what#LED 0 changed ${2:-0} times, LED 1 ${3:-0} times}"
if [ "${1:-0}" = 1 ] && [ "$3" -ge $min_led1 ] && [ "$alarms" -ge "$min_alarms" ] &&
    [ "$stack" -gt 0 ] && [ "$stack" -le "$stack_max" ]; then
    printf '  PASS     firmware %s on %s (%s)\n' "$name" "$machine" "$what"
    exit 0
fi
printf '  FAIL     firmware %s on %s (%s; want 6, >= 12, >= %s interrupts, a stack within the reserve)\n' \
    "$name" "$machine" "$what" "$min_alarms"
exit 1
