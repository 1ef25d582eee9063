# SPDX-License-Identifier: MIT
# core-parts.awk - where the core's code goes, by subsystem: reads
# `nm -S -t d` of core.c.o (compiled with -ffunction-sections, nothing
# dropped) and sums the code symbols whose names belong to each part.
# A static helper the compiler inlined counts in its caller.  Used by
# size-report.sh for its CORE lines; the parts add up to the .text total.
function part(n) {
    if (n ~ /strerror/) return "strerror"
    if (n ~ /group/) return "groups"
    if (n ~ /queue/) return "queue"
    if (n ~ /cond/) return "cond"
    if (n ~ /async_lock_|async__lock_pass/) return "lock"
    if (n ~ /sem_/) return "sem"
    if (n ~ /future/) return "future"
    if (n ~ /event/) return "event"
    if (n ~ /post|notify|async__lock$|async__unlock$|deliver/) return "posts"
    if (n ~ /timeout|co_end/) return "timeouts"
    if (n ~ /timer|wheel|sleep|fire_due|slot_min|async__when/) return "timers"
    if (n ~ /join|gather/) return "join"
    return "scheduler"
}
$3 ~ /^[tTW]$/ && NF >= 4 { sum[part($4)] += $2 + 0; total += $2 + 0 }
END {
    n = split("scheduler timers timeouts join groups event sem lock cond future queue posts strerror", order, " ")
    line = ""
    for (i = 1; i <= n; i++)
        line = line " " order[i] "=" (sum[order[i]] + 0)
    printf "%s total=%d\n", line, total
}
