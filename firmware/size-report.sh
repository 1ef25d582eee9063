#!/bin/sh
# SPDX-License-Identifier: MIT
# Size report for `make size` (mk/firmware.mk).
#
#   firmware/size-report.sh BUILD_DIR TARGET:TOOL_PREFIX...
#
# For each target, from BUILD_DIR/TARGET/{core.c.o,firmware.elf,sizes.o}:
#   SIZE target=T-core text=N data=N bss=N task_ram=N
#       the core alone: every function in async.h at -Os (core.c.o is
#       measured as compiled, before the linker drops anything)
#   SIZE target=T-firmware text=N data=N bss=N task_ram=N
#       the example firmware as linked (text includes read-only data and
#       the vector table; the stack is not in bss)
#   PARTS target=T-firmware flash_core=N flash_port=N ... ram_app=N ...
#       the firmware by piece (firmware/size-parts.awk over the link map)
#   SIZEOF target=T task=N co=N loop=N ...   sizeof() of each object
#   CORE target=T scheduler=N timers=N ... total=N
#       the core's code by subsystem (firmware/core-parts.awk)
# task_ram is what one task costs in RAM: its header plus its coroutine's
# state (async_task + async_co); there is no per-task stack.
# BUDGET lines compare the Cortex-M0+ core's code (its .text sections;
# the message strings and other read-only data are shown beside it) with
# BUDGET bytes (3 KiB); SIZE_STRICT=1 makes going over it an error.
set -eu

dir=$1
shift
budget=${BUDGET:-3072}
strict=${SIZE_STRICT:-0}
over=0

berkeley() { # prefix file -> "text=N data=N bss=N"
    "${1}size" -B "$2" | awk 'NR == 2 { printf "text=%s data=%s bss=%s", $1, $2, $3 }'
}

for spec in "$@"; do
    t=${spec%%:*}
    prefix=${spec#*:}
    sizes=$("${prefix}nm" -S -t d "$dir/$t/sizes.o" |
        awk '$4 ~ /^async_sizeof_/ { sub(/^async_sizeof_/, "", $4); printf " %s=%d", $4, $2 + 0 }')
    task_ram=$(printf '%s\n' "$sizes" | tr ' ' '\n' | sed -n 's/^task_ram=//p')
    echo "SIZE target=$t-core $(berkeley "$prefix" "$dir/$t/core.c.o") task_ram=$task_ram"
    echo "SIZE target=$t-firmware $(berkeley "$prefix" "$dir/$t/firmware.elf") task_ram=$task_ram"
    echo "PARTS target=$t-firmware$(awk -f "$(dirname "$0")/size-parts.awk" "$dir/$t/firmware.map")"
    echo "SIZEOF target=$t$(printf '%s\n' "$sizes" | sed 's/ task_ram=[0-9]*//')"
    echo "CORE target=$t$("${prefix}nm" -S -t d "$dir/$t/core.c.o" | awk -f "$(dirname "$0")/core-parts.awk")"
    if [ "$t" = cortex-m0plus ]; then
        sections=$("${prefix}size" -A "$dir/$t/core.c.o")
        text=$(printf '%s\n' "$sections" | awk '$1 ~ /^\.text/ { s += $2 } END { print s + 0 }')
        rodata=$(printf '%s\n' "$sections" | awk '$1 ~ /^\.rodata/ { s += $2 } END { print s + 0 }')
        if [ "$text" -gt "$budget" ]; then
            echo "BUDGET target=$t core .text=$text (rodata $rodata) > $budget: over budget by $((text - budget)) bytes"
            over=1
        else
            echo "BUDGET target=$t core .text=$text (rodata $rodata) <= $budget: within budget ($((budget - text)) bytes spare)"
        fi
    fi
done
[ "$strict" != 1 ] || [ "$over" -eq 0 ]
