#!/bin/sh
# SPDX-License-Identifier: MIT
# Size report for `make size` (mk/firmware.mk).
#
#   firmware/size-report.sh BUILD_DIR TARGET:TOOL_PREFIX...
#
# For each target, from BUILD_DIR/TARGET/:
#   SIZE target=T-core text=N data=N bss=N task_ram=N
#       the core alone: every function in async.h at -Os (core.c.o is
#       measured as compiled, before the linker drops anything)
#   SIZE target=T-firmware text=N data=N bss=N flash=N ram=N task_ram=N
#       the example firmware (app.c) as linked (text includes read-only
#       data and the vector table; flash = text + data, ram = data + bss;
#       the stack is not in bss: check-firmware measures it)
#   PARTS target=T-firmware flash_core=N flash_port=N ... ram_app=N ...
#       the firmware by piece (firmware/size-parts.awk over the link map)
#   SIZEOF target=T task=N co=N loop=N ...   sizeof() of each object
#   CORE target=T scheduler=N timers=N ... total=N
#       the core's code by subsystem (firmware/core-parts.awk)
#   APP target=T app=NAME core+port=N core=N port=N app=N coroutines=N flash=N ram=N
#       each reference app (firmware/ref.c: blinky, event-queue,
#       gather-timeout, and gather-group, the third with a group) as
#       linked with --gc-sections: what of the core and
#       the port it keeps, its own code (app; coroutines: its coroutine
#       functions alone), and the whole image
#   COROUTINE target=T fixed=N per_await=N (...)
#       the code of one coroutine: generated coroutines with 1 and 11
#       awaits (firmware/coro-gen.sh), per await = the difference / 10,
#       fixed = the 1-await coroutine less one await
#   LINKS target=T app=blinky ...
#       pay for what you link: the blinky uses no cancellation, timeout,
#       join, group, post or condition polling, and links none of their
#       code (their entry points set the hooks that reach it); a symbol
#       of theirs in its image fails the report as the budget does
#   GOAL target=cortex-m0plus ...
#       the size goals of the reference apps and coroutines (issue 14),
#       measured against; reported, never fatal
# task_ram is what one task costs in RAM: its header plus its coroutine's
# state (async_task + async_co); there is no per-task stack.
# BUDGET lines compare the Cortex-M0+ core's code (its .text sections;
# the message strings and other read-only data are shown beside it) with
# BUDGET bytes (4 KiB); with SIZE_STRICT=1 (the default) going over it
# fails the report, and so `make size` and CI.
set -eu

dir=$1
shift
budget=${BUDGET:-4096}
strict=${SIZE_STRICT:-1}
over=0
# What the blinky must not link (see LINKS above).
blinky_unused='async__interrupt|async_cancel|async__cancel_mark|async__timeout_expire|async__scopes_close|async__scope_pop|async__finished|async__finished_group|async__gather|async__group_member_done|async_group_cancel|async__wake|async__wake_parked|async__deliver_posts|async__lock|async__unlock|async__recheck'

berkeley() { # prefix file -> "text=N data=N bss=N"
    "${1}size" -B "$2" | awk 'NR == 2 { printf "text=%s data=%s bss=%s", $1, $2, $3 }'
}

memory() { # prefix file -> "flash=N ram=N"
    "${1}size" -B "$2" | awk 'NR == 2 { printf "flash=%d ram=%d", $1 + $2, $2 + $3 }'
}

field() { # "a=1 b=2 ..." name -> value
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Sum of the sizes of the code symbols matching an awk regex in an object.
code_bytes() { # prefix object regex
    "${1}nm" -S -t d "$2" | awk -v re="$3" '$3 ~ /^[tT]$/ && $4 ~ re { s += $2 } END { print s + 0 }'
}

goal() { # target what value limit
    if [ "$3" -le "$4" ]; then
        echo "GOAL target=$1 $2=$3 <= $4: met ($(($4 - $3)) bytes spare)"
    else
        echo "GOAL target=$1 $2=$3 > $4: not met (over by $(($3 - $4)) bytes)"
    fi
}

for spec in "$@"; do
    t=${spec%%:*}
    prefix=${spec#*:}
    sizes=$("${prefix}nm" -S -t d "$dir/$t/sizes.o" |
        awk '$4 ~ /^async_sizeof_/ { sub(/^async_sizeof_/, "", $4); printf " %s=%d", $4, $2 + 0 }')
    task_ram=$(printf '%s\n' "$sizes" | tr ' ' '\n' | sed -n 's/^task_ram=//p')
    echo "SIZE target=$t-core $(berkeley "$prefix" "$dir/$t/core.c.o") task_ram=$task_ram"
    echo "SIZE target=$t-firmware $(berkeley "$prefix" "$dir/$t/firmware.elf") $(memory "$prefix" "$dir/$t/firmware.elf") task_ram=$task_ram"
    echo "PARTS target=$t-firmware$(awk -f "$(dirname "$0")/size-parts.awk" "$dir/$t/firmware.map")"
    echo "SIZEOF target=$t$(printf '%s\n' "$sizes" | sed 's/ task_ram=[0-9]*//')"
    echo "CORE target=$t$("${prefix}nm" -S -t d "$dir/$t/core.c.o" | awk -f "$(dirname "$0")/core-parts.awk")"
    n=1
    for app in blinky event-queue gather-timeout gather-group; do
        parts=$(awk -f "$(dirname "$0")/size-parts.awk" "$dir/$t/ref$n.map")
        core=$(field "$parts" flash_core)
        port=$(field "$parts" flash_port)
        own=$(field "$parts" flash_app)
        coros=$(code_bytes "$prefix" "$dir/$t/ref$n.app.o" '_fn$')
        echo "APP target=$t app=$app core+port=$((core + port)) core=$core port=$port app=$own coroutines=$coros $(memory "$prefix" "$dir/$t/ref$n.elf")"
        eval "cp_$n=$((core + port)) own_$n=$own"
        n=$((n + 1))
    done
    extra=$("${prefix}nm" "$dir/$t/ref1.elf" | awk '$2 ~ /^[tT]$/ { sub(/\..*/, "", $3); print $3 }' |
        grep -xE "$blinky_unused" | sort -u | tr '\n' ' ' || true)
    if [ -n "$extra" ]; then
        echo "LINKS target=$t app=blinky links code it never uses: $extra"
        over=1
    else
        echo "LINKS target=$t app=blinky: no cancellation, timeout, join, group, post or condition re-check code linked"
    fi
    one=$(code_bytes "$prefix" "$dir/$t/coro1.gen.o" '^coro_')
    eleven=$(code_bytes "$prefix" "$dir/$t/coro11.gen.o" '^coro_')
    count=$("${prefix}nm" "$dir/$t/coro1.gen.o" | grep -c ' [tT] coro_')
    # per coroutine, in tenths of a byte so the division stays exact enough
    per_await10=$(((eleven - one) * 10 / count / 10))
    fixed10=$((one * 10 / count - per_await10))
    per_await=$(((per_await10 + 5) / 10))
    fixed=$(((fixed10 + 5) / 10))
    echo "COROUTINE target=$t fixed=$fixed per_await=$per_await (1 await: $((one / count)) B, 11 awaits: $((eleven / count)) B; mean of $count generated coroutines)"
    if [ "$t" = cortex-m0plus ]; then
        goal "$t" "blinky core+port" "$cp_1" 1228
        goal "$t" "event-queue core+port" "$cp_2" 1843
        goal "$t" "gather-timeout core+port" "$cp_3" 2458
        goal "$t" "blinky app" "$own_1" 250 # its own code, coroutine and main
        goal "$t" "coroutine fixed" "$fixed" 60
        goal "$t" "coroutine per_await" "$per_await" 16
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
