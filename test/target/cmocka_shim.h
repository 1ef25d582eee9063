/* SPDX-License-Identifier: MIT */
/*
 * cmocka_shim.h - the part of cmocka's API the core suites use, for
 * running the same test bodies on a target with no OS (test/target/).
 * testlib.h includes this instead of <cmocka.h> when ASYNC_TEST_SHIM is
 * defined; runner.c implements it over semihosting.
 *
 * Semantics follow cmocka: a failed assertion prints where and why, ends
 * the test at once (longjmp back to the runner) and the group goes on
 * with the next test; teardown runs after a test whether it passed or
 * not; integers compare as unsigned long long (cmocka's
 * LargestIntegralType), so assert_int_equal(x, -5) works for int x.
 * cmocka_run_group_tests() prints cmocka-like lines and a summary
 *     SUITE <name>: N passed, N failed
 * (or "SUITE <name>: crashed" after a fault)
 * and then ends the program (semihosting exit, status 0 only if all
 * passed): it does not return.
 */
#ifndef CMOCKA_SHIM_H
#define CMOCKA_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup(f, setup) {#f, f, setup, NULL, NULL}
#define cmocka_unit_test_teardown(f, teardown) {#f, f, NULL, teardown, NULL}
#define cmocka_unit_test_setup_teardown(f, setup, teardown) {#f, f, setup, teardown, NULL}
#define cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, state) \
    {#f, f, setup, teardown, state}

/* The suite's name in the output: the build passes -DCMSHIM_SUITE="..."
 * (e.g. "test_coro/switch") when it compiles the suite.                 */
#ifndef CMSHIM_SUITE
#define CMSHIM_SUITE __FILE__
#endif
#define cmocka_run_group_tests(tests, group_setup, group_teardown)                          \
    cmshim_run_group(CMSHIM_SUITE, (tests), sizeof(tests) / sizeof((tests)[0]), (group_setup), \
                     (group_teardown))

int cmshim_run_group(const char *suite, const struct CMUnitTest *tests, size_t n,
                     CMFixtureFunction group_setup, CMFixtureFunction group_teardown);

/* Failure reporters: each returns only if the check held.               */
void cmshim_check(int ok, const char *expr, const char *file, int line);
void cmshim_int(unsigned long long a, unsigned long long b, int want_equal, const char *ea,
                const char *eb, const char *file, int line);
void cmshim_ptr(uintptr_t a, uintptr_t b, int want_equal, const char *ea, const char *eb,
                const char *file, int line);
void cmshim_str(const char *a, const char *b, int want_equal, const char *ea, const char *eb,
                const char *file, int line);
void cmshim_mem(const void *a, const void *b, size_t n, const char *ea, const char *eb,
                const char *file, int line);
void cmshim_range(unsigned long long v, unsigned long long lo, unsigned long long hi,
                  const char *ev, const char *file, int line);

#define assert_true(c) cmshim_check((c) ? 1 : 0, #c, __FILE__, __LINE__)
#define assert_false(c) cmshim_check((c) ? 0 : 1, "!(" #c ")", __FILE__, __LINE__)
#define assert_non_null(p) cmshim_check((p) != NULL, #p " != NULL", __FILE__, __LINE__)
#define assert_null(p) cmshim_check((p) == NULL, #p " == NULL", __FILE__, __LINE__)
#define assert_int_equal(a, b) \
    cmshim_int((unsigned long long)(a), (unsigned long long)(b), 1, #a, #b, __FILE__, __LINE__)
#define assert_int_not_equal(a, b) \
    cmshim_int((unsigned long long)(a), (unsigned long long)(b), 0, #a, #b, __FILE__, __LINE__)
#define assert_ptr_equal(a, b) \
    cmshim_ptr((uintptr_t)(a), (uintptr_t)(b), 1, #a, #b, __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b) \
    cmshim_ptr((uintptr_t)(a), (uintptr_t)(b), 0, #a, #b, __FILE__, __LINE__)
#define assert_string_equal(a, b) cmshim_str((a), (b), 1, #a, #b, __FILE__, __LINE__)
#define assert_string_not_equal(a, b) cmshim_str((a), (b), 0, #a, #b, __FILE__, __LINE__)
#define assert_memory_equal(a, b, n) cmshim_mem((a), (b), (n), #a, #b, __FILE__, __LINE__)
#define assert_in_range(v, lo, hi)                                                   \
    cmshim_range((unsigned long long)(v), (unsigned long long)(lo),                  \
                 (unsigned long long)(hi), #v, __FILE__, __LINE__)
#define assert_return_code(rc, err) \
    cmshim_check((rc) >= 0, #rc " >= 0", __FILE__, __LINE__)
#define fail() cmshim_check(0, "fail()", __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif
#endif /* CMOCKA_SHIM_H */
