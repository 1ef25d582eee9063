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
        assert_string_not_equal(m, "unknown error"); /* the first code too */
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

/* Every check the core makes today, one call each (the misuse hook hears
 * each one).  A call that is refused changes nothing.  (The NULL policy of
 * issue 15 - a rule for every public function - is the core's to set;
 * this test pins the checks that exist.) */
struct checks {
    async_task task, other;
    async_co co, oco;
    async_timeout to;
    async_group g;
    async_task *slots[2], *done;
    async_cond c;
    async_lock m;
    int rc[24];
};

static int other_fn(async_loop *L, async_task *self)
{
    struct checks *f = async_frame(self, struct checks, other);
    async_begin(L, &f->oco);
    async_await(async_sleep(L, 5));
    async_end;
}

static int checks_fn(async_loop *L, async_task *self)
{
    struct checks *f = async_frame(self, struct checks, task);
    async_begin(L, &f->co);
    f->rc[0] = async_park(L, NULL);
    f->rc[1] = async_timeout_begin(NULL, 10);
    f->rc[2] = async_timeout_end(NULL);
    f->rc[3] = async_join(L, NULL);
    f->rc[4] = async_join(L, &f->other); /* never spawned */
    f->rc[5] = async_group_spawn(L, NULL, &f->other, other_fn);
    f->rc[6] = async_group_wait(L, NULL);
    f->rc[7] = async_group_next(L, &f->g, NULL);
    f->rc[8] = async_event_wait(L, NULL);
    f->rc[9] = async_sem_acquire(L, NULL);
    f->rc[10] = async_lock_acquire(L, NULL);
    f->rc[11] = async_lock_release(L, NULL);
    f->rc[12] = async_cond_wait(L, NULL);
    f->rc[13] = async_cond_wait(L, &f->c); /* without its lock */
    f->rc[14] = async_future_wait(L, NULL);
    f->rc[15] = async_queue_put(L, NULL, f);
    /* a group already waited on by another task */
    async_group_init(&f->g, f->slots, 2, 0);
    async_group_spawn(L, &f->g, &f->other, other_fn);
    f->g.waiter = &f->other; /* as if it waited */
    f->rc[16] = async_group_wait(L, &f->g);
    f->g.waiter = NULL;
    async_await(async_group_wait(L, &f->g));
    async_end;
}

/* A task function with no frame around its task. */
static int frameless_fn(async_loop *L, async_task *self)
{
    (void)L;
    (void)self;
    return 0;
}

static int scope_of_another_fn(async_loop *L, async_task *self)
{
    struct checks *f = async_frame(self, struct checks, other);
    async_begin(L, &f->oco);
    async_timeout_begin(&f->to, 100); /* this task's scope... */
    async_await(async_sleep(L, 1));
    async_end;
}

static int ends_anothers_scope_fn(async_loop *L, async_task *self)
{
    struct checks *f = async_frame(self, struct checks, task);
    async_begin(L, &f->co);
    /* ...closed from another task (it is made this coroutine's innermost
     * scope, so that only the owner check can refuse) */
    f->co.scopes = &f->to;
    f->rc[17] = async_timeout_end(&f->to);
    f->co.scopes = NULL;
    async_end;
}

/* A coroutine run outside any task: scopes need a task. */
struct bare_scope {
    async_co co;
    async_timeout to;
    int rc;
};

static int bare_scope_fn(async_loop *L, struct bare_scope *f)
{
    async_begin(L, &f->co);
    f->rc = async_timeout_begin(&f->to, 10);
    async_end;
}

static void every_check_the_core_makes(void **state)
{
    static struct checks f;
    static struct bare_scope b;
    static async_task t;
    static async_sem sem;
    static async_lock m;
    static async_cond c;
    static async_future fut;
    static async_queue q;
    static async_group g;
    static async_task *slots[1];
    static async_notify n;
    static async_waiter w;
    async_loop L2;
    async_vclock vc;
    async_port bad;
    int i, x = 0;
    (void)state;
    f = (struct checks){0};
    async_lock_init(&f.m);
    async_cond_init(&f.c, &f.m);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, &f.task, checks_fn), 0);
    for (i = 0; i <= 15; i++)
        assert_true(f.rc[i] < 0);
    assert_int_equal(f.rc[0], ASYNC_EINVAL);
    assert_int_equal(f.rc[1], ASYNC_EINVAL);
    assert_int_equal(f.rc[2], ASYNC_EINVAL);
    assert_int_equal(f.rc[3], ASYNC_EINVAL);
    assert_int_equal(f.rc[4], ASYNC_EINVAL);
    assert_int_equal(f.rc[5], ASYNC_EINVAL);
    assert_int_equal(f.rc[6], ASYNC_EINVAL);
    assert_int_equal(f.rc[7], ASYNC_EINVAL);
    assert_int_equal(f.rc[8], ASYNC_EINVAL);
    assert_int_equal(f.rc[9], ASYNC_EINVAL);
    assert_int_equal(f.rc[10], ASYNC_EINVAL);
    /* rc[11]: async_lock_release(L, NULL) says ASYNC_EPERM today; issue
     * 15 asks for ASYNC_EINVAL (the core's policy to settle) */
    assert_int_equal(f.rc[12], ASYNC_EINVAL);
    assert_int_equal(f.rc[13], ASYNC_EPERM);
    assert_int_equal(f.rc[14], ASYNC_EINVAL);
    assert_int_equal(f.rc[15], ASYNC_EINVAL);
    assert_int_equal(f.rc[16], ASYNC_EBUSY);

    /* a scope closed by a task that does not own it */
    f = (struct checks){0};
    async_spawn(&TL, &f.other, scope_of_another_fn);
    async_run_once(&TL);
    async_spawn(&TL, &f.task, ends_anothers_scope_fn);
    async_run_once(&TL);
    assert_int_equal(f.rc[17], ASYNC_EINVAL);
    async_run_ready(&TL);

    /* outside any task */
    b = (struct bare_scope){0};
    bare_scope_fn(&TL, &b);
    assert_int_equal(b.rc, ASYNC_EPERM);
    assert_int_equal(async_park(&TL, &w), ASYNC_EPERM);
    assert_int_equal(async_park_shielded(&TL, &w), ASYNC_EPERM);
    assert_int_equal(async_unshield(&TL), 0);
    assert_int_equal(async_join(&TL, &t), ASYNC_EPERM);
    assert_int_equal(async_group_wait(&TL, &f.g), ASYNC_EPERM);

    /* objects and loops */
    assert_int_equal(async_spawn(NULL, &t, other_fn), ASYNC_EINVAL);
    assert_int_equal(async_spawn(&TL, &t, NULL), ASYNC_EINVAL);
    assert_int_equal(async_cancel(NULL, &t), ASYNC_EINVAL);
    assert_int_equal(async_cancel(&TL, NULL), ASYNC_EINVAL);
    async_vclock_init(&vc, 0, false);
    assert_int_equal(async_loop_init(NULL, &vc.port), ASYNC_EINVAL);
    assert_int_equal(async_loop_init(&L2, NULL), ASYNC_EINVAL);
    bad = vc.port;
    bad.now = NULL;
    assert_int_equal(async_loop_init(&L2, &bad), ASYNC_EINVAL);
    bad = vc.port;
    bad.idle = NULL;
    assert_int_equal(async_loop_init(&L2, &bad), ASYNC_EINVAL);
    assert_int_equal(async_run(NULL, NULL, NULL), ASYNC_EINVAL);
    assert_int_equal(async_run(&TL, NULL, other_fn), ASYNC_EINVAL);
    t = (async_task){0};
    assert_int_equal(async_run(&TL, &t, NULL), ASYNC_EINVAL); /* never spawned */
    async_spawn(&TL, &t, frameless_fn); /* t is no struct checks: other_fn would overrun it */
    assert_int_equal(async_run(&TL, &t, frameless_fn), ASYNC_EBUSY); /* spawned already */
    async_run(&TL, &t, NULL);
    assert_int_equal(async_group_init(NULL, slots, 1, 0), ASYNC_EINVAL);
    assert_int_equal(async_group_init(&g, NULL, 1, 0), ASYNC_EINVAL);
    assert_int_equal(async_group_init(&g, slots, 0, 0), ASYNC_EINVAL);
    assert_int_equal(async_group_init(&g, slots, 1, 0x40), ASYNC_EINVAL);
    assert_int_equal(async_sem_init(NULL, 0, 0), ASYNC_EINVAL);
    assert_int_equal(async_sem_init(&sem, 2, 1), ASYNC_EINVAL);
    async_sem_init(&sem, UINT_MAX, 0);
    assert_int_equal(async_sem_release(&TL, &sem), ASYNC_EOVERFLOW); /* unbounded, but full */
    async_lock_init(&m);
    assert_int_equal(async_lock_try_acquire(&TL, &m), ASYNC_EPERM); /* outside any task */
    assert_false(async_lock_is_locked(&m));
    assert_int_equal(async_cond_init(NULL, &m), ASYNC_EINVAL);
    assert_int_equal(async_cond_init(&c, NULL), ASYNC_EINVAL);
    assert_int_equal(async_future_set(&TL, NULL, 1), ASYNC_EINVAL);
    async_future_init(&fut);
    assert_int_equal(async_future_set(&TL, &fut, ASYNC_PENDING), ASYNC_EINVAL);
    assert_int_equal(async_queue_init(&q, &x, sizeof x, 1), 0);
    assert_int_equal(async_queue_try_put(&TL, &q, NULL), ASYNC_EINVAL);
    /* a notification whose count cannot grow: the surplus is dropped */
    async_notify_init(&n);
    async_sem_init(&n.sem, UINT_MAX, 0);
    async_notify_give(&TL, &n);
    async_notify_give(&TL, &n);
    async_run_once(&TL);
    assert_int_equal(async_sem_count(&n.sem), UINT_MAX);
    assert_true(t_misuse_count >= 40);
}

/* Awaiting outside any task is refused (ASYNC_EPERM, hook) even by an op
 * that would not have to suspend - a free permit, a set event, room in a
 * queue - and the refused op takes nothing.  (Before 0.2.1 these
 * succeeded, and async_await_until with a false condition dereferenced
 * the missing task.)                                                    */
static void ops_outside_a_task_are_refused_even_when_ready(void **state)
{
    static async_sem sem;
    static async_event ev;
    static async_future fut;
    static async_lock lock;
    static async_queue q;
    static async_notify nt;
    static int qbuf[2];
    int item = 7, before;
    (void)state;
    async_sem_init(&sem, 1, 0);
    async_event_init(&ev);
    async_event_set(&TL, &ev);
    async_future_init(&fut);
    assert_int_equal(async_future_set(&TL, &fut, 5), 0);
    async_lock_init(&lock);
    assert_int_equal(async_queue_init(&q, qbuf, sizeof qbuf[0], 2), 0);
    assert_int_equal(async_queue_try_put(&TL, &q, &item), 0);
    async_notify_init(&nt);
    async_notify_give(&TL, &nt);
    t_settle(); /* delivers the give: one permit */
    before = t_misuse_count;

    assert_int_equal(async_sem_acquire(&TL, &sem), ASYNC_EPERM);
    assert_int_equal(async_sem_count(&sem), 1); /* the permit is still free */
    assert_int_equal(async_event_wait(&TL, &ev), ASYNC_EPERM);
    assert_int_equal(async_future_wait(&TL, &fut), ASYNC_EPERM);
    assert_int_equal(async_lock_acquire(&TL, &lock), ASYNC_EPERM);
    assert_false(async_lock_is_locked(&lock));
    assert_int_equal(async_queue_put(&TL, &q, &item), ASYNC_EPERM);
    assert_int_equal(async_queue_get(&TL, &q, &item), ASYNC_EPERM);
    assert_int_equal(async_queue_count(&q), 1); /* nothing put or taken */
    assert_int_equal(async_notify_take(&TL, &nt), ASYNC_EPERM);
    assert_int_equal(async_sem_count(&nt.sem), 1);
    assert_int_equal(async_sleep(&TL, 0), ASYNC_EPERM);
    assert_int_equal(t_misuse_count, before + 8);
    assert_int_equal(t_misuse_last, ASYNC_EPERM);
#if ASYNC_CONF_EXTRAS
    {
        static async_barrier b;
        assert_int_equal(async_barrier_init(&b, 1), 0); /* one party: would pass at once */
        assert_int_equal(async_barrier_wait(&TL, &b), ASYNC_EPERM);
        assert_int_equal(async_queue_join(&TL, &q), ASYNC_EPERM);
        assert_int_equal(t_misuse_count, before + 10);
    }
#endif
    /* the non-waiting forms are not ops: they work anywhere */
    assert_int_equal(async_sem_try_acquire(&sem), 0);
    assert_int_equal(async_queue_try_get(&TL, &q, &item), 0);
    assert_int_equal(item, 7);
}

/* async_await_until in a coroutine run outside any task (called as a
 * plain function): the await reports ASYNC_EPERM, and the coroutine ends
 * with it, whether the condition holds or not.                          */
struct until_frame {
    async_task task;
    async_co co;
    int flag;
};

static int until_fn(async_loop *L, async_task *self)
{
    struct until_frame *f = async_frame(self, struct until_frame, task);
    async_begin(L, &f->co);
    async_await_until(f->flag != 0);
    t_log("passed");
    async_end;
}

static void await_until_outside_a_task_is_refused(void **state)
{
    static struct until_frame f;
    (void)state;
    f = (struct until_frame){0};
    assert_int_equal(until_fn(&TL, &f.task), ASYNC_EPERM); /* false: crashed before */
    f = (struct until_frame){0};
    f.flag = 1;
    assert_int_equal(until_fn(&TL, &f.task), ASYNC_EPERM); /* true: passed before */
    assert_log("");
    assert_int_equal(t_misuse_last, ASYNC_EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(every_code_has_a_distinct_message),
        T(other_values_have_messages),
        T(misuse_table),
        T(every_check_the_core_makes),
        T(ops_outside_a_task_are_refused_even_when_ready),
        T(await_until_outside_a_task_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
