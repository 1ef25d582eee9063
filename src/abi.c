/* SPDX-License-Identifier: MIT */
/*
 * The ABI guard's library half (see "ABI guard" in async_ev.h): the one
 * object named after the configuration this library is built with, and
 * the checked entry points the async_ev_init/async_ev_main macros call.
 */
#include "src/async_ev.h"

#include <stdio.h>
#include <string.h>

/* Its text is its name: a program that links it was built for it.       */
const char ASYNC_EV_ABI[] = ASYNC_EV_ABI_STRING;

const char *async_ev_abi(void)
{
    return ASYNC_EV_ABI;
}

/* 0 when abi (the object the caller's configuration names) is this
 * library's; otherwise ASYNC_EABI and one line on stderr.  The text is
 * compared, not the address: a copy relocation may move the object into
 * the executable.  Only reachable with two libasync in one process (the
 * link resolved the caller's name in another one) or a hand-made call.  */
static int abi_check(const char *who, const char *abi)
{
    if (abi != NULL && strcmp(abi, ASYNC_EV_ABI_STRING) == 0)
        return 0;
    fprintf(stderr,
            "%s: ABI mismatch: the program was built for %s but this libasync for %s;"
            " build both with the same ASYNC_CONF_* settings (docs/install.md)\n",
            who, abi != NULL ? abi : "(none)", ASYNC_EV_ABI_STRING);
    return ASYNC_EABI;
}

int async__ev_init(async_ev *E, struct ev_loop *ev, const char *abi)
{
    int rc = abi_check("async_ev_init", abi);
    return rc < 0 ? rc : (async_ev_init)(E, ev);
}

int async__ev_main(async_task *main, async_task_fn fn, const char *abi)
{
    int rc = abi_check("async_ev_main", abi);
    return rc < 0 ? rc : (async_ev_main)(main, fn);
}
