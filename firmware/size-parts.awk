# SPDX-License-Identifier: MIT
# size-parts.awk - what each piece of a firmware image costs, from the GNU ld
# map: flash (.text, .ARM.exidx, .data load image) and RAM (.data, .bss)
# per input object: core.c.o (the core, after --gc-sections), port.c.o,
# the application (app.c.o, or refN.o for the reference apps), the board
# and startup files (and on AVR avr-libc's), libgcc.  Used by
# size-report.sh.
function piece(f) {
    if (f ~ /libgcc\.a/) return "libgcc"
    sub(/.*\//, "", f)
    if (f ~ /^core\./) return "core"
    if (f ~ /^port\./) return "port"
    if (f ~ /^(app|ref[0-9]*)\./) return "app"
    return "board"
}
function hex(s,    i, n, c) {
    n = 0
    s = tolower(substr(s, 3))
    for (i = 1; i <= length(s); i++)
        n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return n
}
function add(size, file) {
    if (out == "") return
    p = piece(file)
    if (out == "flash" || out == "data") flash[p] += hex(size)
    if (out == "data" || out == "ram") ram[p] += hex(size)
}
/^Linker script and memory map/ { inmap = 1; next }
!inmap { next }
/^[.][A-Za-z_.]+/ {
    name = $1
    out = (name == ".text" || name == ".ARM.exidx") ? "flash" : name == ".data" ? "data" : name == ".bss" ? "ram" : ""
    next
}
/^ [.*A-Za-z_]/ && $1 != "*fill*" && $1 !~ /^\*\(/ {
    if (NF >= 4 && $2 ~ /^0x/ && $3 ~ /^0x/) { add($3, $4); pending = 0 }
    else if (NF == 1) pending = 1
    next
}
pending && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ +[^ ]/ { add($2, $3); pending = 0; next }
{ pending = 0 }
END {
    n = split("core port app board libgcc", order, " ")
    for (i = 1; i <= n; i++) printf " flash_%s=%d", order[i], flash[order[i]]
    for (i = 1; i <= n; i++) if (ram[order[i]]) printf " ram_%s=%d", order[i], ram[order[i]]
    print ""
}
