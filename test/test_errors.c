/* SPDX-License-Identifier: MIT */
/* Errors as values: every code has its own message, and each misuse in
 * the README's table returns its documented code and reaches the misuse
 * hook. */
#include "testlib.h"
#include <string.h>

#if ASYNC__STRERROR_IN_FLASH
#include <avr/pgmspace.h>
/* On AVR the messages stay in flash: copy one out into buffer `slot` to
 * compare it (two, for a test that holds two messages at once).        */
static const char *msg_in(int code, unsigned slot)
{
    static char buf[2][64];
    strncpy_P(buf[slot], async_strerror(code), sizeof buf[slot] - 1);
    return buf[slot];
}
#else
#define msg_in(code, slot) async_strerror(code)
#endif
#define msg(code) msg_in((code), 0)

static const int codes[] = {
#define CODE(name, value, text) name,
    ASYNC_ERRORS(CODE)
#undef CODE
};

static void every_code_has_a_distinct_message(void **state)
{
    size_t i, j, n = sizeof codes / sizeof codes[0];
    (void)state;
    assert_true(n >= 20);
    for (i = 0; i < n; i++) {
        const char *m = msg(codes[i]);
        assert_true(codes[i] < 0);
        assert_true(codes[i] > ASYNC_EOS_BASE);
        assert_true(codes[i] > ASYNC_EAPP_BASE); /* the library keeps to -1 .. -127 */
        assert_non_null(m);
        assert_true(strlen(m) > 3);
        for (j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_true(strcmp(m, msg_in(codes[j], 1)) != 0);
        }
    }
}

static void other_values_have_messages(void **state)
{
    (void)state;
    assert_string_equal(msg(0), "success");
    assert_string_equal(msg(17), "success");
    assert_string_equal(msg(ASYNC_EOS(2)), "operating system error");
    assert_string_equal(msg(-100), "unknown error"); /* the library's range */
    /* the applications' range: -128 .. -255 */
    assert_int_equal(ASYNC_EAPP(0), -128);
    assert_int_equal(ASYNC_EAPP(127), -255);
    assert_true(ASYNC_EAPP(127) > ASYNC_EOS_BASE);
    assert_string_equal(msg(ASYNC_EAPP(0)), "application error");
    assert_string_equal(msg(ASYNC_EAPP(72)), "application error");
    assert_string_equal(msg(-200), "application error");
    assert_string_equal(msg(-127), "unknown error");
    assert_string_equal(msg(ASYNC_PENDING), "pending");
    assert_int_equal(ASYNC_EOS(2), -258);
}

/* The misuse table (README "Misuse and what it returns"). */
struct mis {
    async_task task;
    async_co co;
    async_queue q;
    int qbuf[1];
    async_timeout to;
};

static int returns_pending(async_loop *L, async_task *self)
{
    struct mis *f = async_frame(self, struct mis, task);
    async_begin(L, &f->co);
    async_return(ASYNC_PENDING); /* not a result */
    async_end;
}

static void misuse_table(void **state)
{
    static struct mis m;
    static async_task idle;
    static async_sem sem;
    static async_future fut;
    static async_lock lock;
    int before;
    (void)state;
    m = (struct mis){0};
    idle = (async_task){0};

    /* spawning a running task */
    async_spawn(&TL, &m.task, returns_pending);
    before = t_misuse_count;
    assert_int_equal(async_spawn(&TL, &m.task, returns_pending), ASYNC_EBUSY);
    assert_int_equal(t_misuse_count, before + 1);
    /* ending a coroutine with ASYNC_PENDING as its result */
    t_settle();
    assert_int_equal(async_task_result(&m.task), ASYNC_EINVAL);
    /* cancelling twice, a finished task, a never-spawned task */
    assert_int_equal(async_cancel(&TL, &m.task), ASYNC_EDONE);
    assert_int_equal(async_cancel(&TL, &idle), ASYNC_EINVAL);
    /* a queue of capacity zero */
    assert_int_equal(async_queue_init(&m.q, m.qbuf, sizeof(int), 0), ASYNC_EINVAL);
    /* a put or get on a closed queue */
    async_queue_init(&m.q, m.qbuf, sizeof(int), 1);
    async_queue_close(&TL, &m.q);
    assert_int_equal(async_queue_try_put(&TL, &m.q, &before), ASYNC_ECLOSED);
    assert_int_equal(async_queue_try_get(&TL, &m.q, &before), ASYNC_ECLOSED);
    /* releasing a bounded semaphore past its maximum */
    async_sem_init(&sem, 1, 1);
    assert_int_equal(async_sem_release(&TL, &sem), ASYNC_EOVERFLOW);
    /* setting a future twice */
    async_future_init(&fut);
    async_future_set(&TL, &fut, 1);
    assert_int_equal(async_future_set(&TL, &fut, 2), ASYNC_EALREADY);
    /* releasing a lock one does not hold */
    async_lock_init(&lock);
    assert_int_equal(async_lock_release(&TL, &lock), ASYNC_EPERM);
    /* awaiting outside any task */
    assert_int_equal(async_sleep(&TL, 1), ASYNC_EPERM);
    assert_true(t_misuse_count >= before + 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(every_code_has_a_distinct_message),
        T(other_values_have_messages),
        T(misuse_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
