/* SPDX-License-Identifier: MIT */
/* Shared fixture for the core suites.
 *
 * Every test gets a fresh loop on a virtual clock (TL, TVC), an event log
 * to assert orderings with, and a recorder for the misuse hook.  Tests use
 * only this small part of cmocka's API, so the firmware build can run the
 * same bodies on a target through a shim: assert_true/false,
 * assert_int_equal/not_equal, assert_ptr_equal, assert_null,
 * assert_non_null, assert_string_equal, cmocka_unit_test_setup_teardown,
 * cmocka_run_group_tests.                                                */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#ifdef ASYNC_TEST_SHIM
#include "cmocka_shim.h"
#else
#include <cmocka.h>
#endif

/* Record misuse reports instead of trapping. */
void t_misuse(int code, const char *file, int line);
#define ASYNC_CONF_ON_MISUSE(L, code, file, line) t_misuse((code), (file), (line))
#include "async.h"
#include "port/async_vclock.h"

extern async_vclock TVC;
extern async_loop TL;
extern int t_misuse_count;
extern int t_misuse_last;

/* Fixture: a loop on a virtual clock starting at tick T_START (which
 * may be changed by a test before calling t_reset).                      */
int t_setup(void **state);
int t_teardown(void **state);
void t_reset(async_tick start, bool autojump);
#define T(test) cmocka_unit_test_setup_teardown(test, t_setup, t_teardown)

/* Event log: words separated by single spaces. */
void t_log(const char *word);
void t_logi(const char *prefix, long value);
const char *t_logged(void);
#define assert_log(expected) assert_string_equal(t_logged(), (expected))

/* A long delay for tests: `big` where ticks have 32 bits or more, `small`
 * (which must keep the test's ordering) where they have 16. */
#define T_FAR(big, small) (ASYNC_CONF_TICK_BITS > 16 ? (async_tick)(big) : (async_tick)(small))

/* True if a wait list has nobody on it. */
static inline bool t_list_empty(const async_node *h)
{
    return h->next == NULL || h->next == h;
}

/* A task that joins `target` and logs "joined<result>". */
struct t_joiner {
    async_task task;
    async_co co;
    async_task *target;
    int rc;
};
int t_joiner_fn(async_loop *L, async_task *self);
/* Spawn j (zeroed first) on TL to join target; returns async_spawn's rc. */
int t_spawn_joiner(struct t_joiner *j, async_task *target);

/* A task that logs its name, sleeps `sleep` ticks and returns `result`;
 * if cancelled, its cleanup logs "cancelled-at<now>".  Set the fields of
 * a zeroed one, then spawn it with t_sleeper_fn (as a task or a member). */
struct t_sleeper {
    async_task task;
    async_co co;
    async_tick sleep;
    int result;
    const char *name;
};
int t_sleeper_fn(async_loop *L, async_task *self);

/* Advance the virtual clock by `ticks` and run everything now runnable. */
void t_advance(async_tick ticks);
/* Run ready tasks until nothing is runnable without time moving. */
void t_settle(void);

#endif
