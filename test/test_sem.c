/* SPDX-License-Identifier: MIT */
/* Semaphores: counting, FIFO hand-over without barging, bounded release. */
#include "testlib.h"
#include <string.h>

struct user {
    async_task task;
    async_co co;
    async_sem *sem;
    int id, rc;
    async_tick hold;
};

static int user_fn(async_loop *L, async_task *self)
{
    struct user *f = async_frame(self, struct user, task);
    async_begin(L, &f->co);
    async_await(async_sem_acquire(L, f->sem));
    t_logi("in", f->id);
    async_await(async_sleep(L, f->hold));
    t_logi("out", f->id);
    async_sem_release(L, f->sem);
    async_end;
}

static struct user U[6];

static void spawn_users(async_sem *sem, int n, async_tick hold)
{
    int i;
    for (i = 0; i < n; i++) {
        U[i] = (struct user){0};
        U[i].sem = sem;
        U[i].id = i;
        U[i].hold = hold;
        async_spawn(&TL, &U[i].task, user_fn);
    }
}

/* At most `count` holders at a time; waiters enter in arrival order. */
static void limits_concurrency_fifo(void **state)
{
    static async_sem sem;
    (void)state;
    assert_int_equal(async_sem_init(&sem, 2, 0), 0);
    spawn_users(&sem, 5, 10);
    t_settle();
    assert_log("in0 in1");
    assert_int_equal(async_sem_count(&sem), 0);
    t_advance(10);
    assert_log("in0 in1 out0 out1 in2 in3");
    t_advance(10);
    t_advance(10);
    assert_log("in0 in1 out0 out1 in2 in3 out2 out3 in4 out4");
    assert_int_equal(async_sem_count(&sem), 2);
}

/* A released permit goes to the first waiter, not to a task that comes
 * along later and tries first (no barging). */
struct barger {
    async_task task;
    async_co co;
    async_sem *sem;
    int rc;
};

static int barger_fn(async_loop *L, async_task *self)
{
    struct barger *f = async_frame(self, struct barger, task);
    async_begin(L, &f->co);
    t_logi("try", async_sem_try_acquire(f->sem));
    async_end;
}

static void release_hands_over_without_barging(void **state)
{
    static async_sem sem;
    static struct barger b;
    (void)state;
    async_sem_init(&sem, 0, 0);
    spawn_users(&sem, 1, 5);
    t_settle();
    async_sem_release(&TL, &sem);
    b = (struct barger){0};
    b.sem = &sem;
    async_spawn(&TL, &b.task, barger_fn);
    t_settle();
    assert_log("in0 try-6");
}

static void bounded_semaphore_refuses_extra_release(void **state)
{
    static async_sem sem;
    (void)state;
    assert_int_equal(async_sem_init(&sem, 3, 2), ASYNC_EINVAL);
    assert_int_equal(async_sem_init(&sem, 1, 2), 0);
    assert_int_equal(async_sem_release(&TL, &sem), 0);
    assert_int_equal(async_sem_count(&sem), 2);
    assert_int_equal(async_sem_release(&TL, &sem), ASYNC_EOVERFLOW);
    assert_int_equal(async_sem_count(&sem), 2);
    assert_int_equal(async_sem_try_acquire(&sem), 0);
    assert_int_equal(async_sem_try_acquire(&sem), 0);
    assert_int_equal(async_sem_try_acquire(&sem), ASYNC_EAGAIN);
    assert_int_equal(t_misuse_last, ASYNC_EOVERFLOW);
}

/* The static initialiser gives a working semaphore without init. */
static void static_initialiser(void **state)
{
    static async_sem sem = ASYNC_SEM_INIT(1, 0);
    (void)state;
    spawn_users(&sem, 2, 3);
    t_settle();
    assert_log("in0");
    t_advance(3);
    t_advance(3);
    assert_log("in0 out0 in1 out1");
}

/* A waiter cancelled in the queue gives its turn to the next one. */
static void cancelled_waiter_gives_way(void **state)
{
    static async_sem sem;
    (void)state;
    async_sem_init(&sem, 1, 0);
    spawn_users(&sem, 3, 4);
    t_settle();
    async_cancel(&TL, &U[1].task);
    t_settle();
    t_advance(4);
    t_advance(4);
    assert_log("in0 out0 in2 out2");
    assert_int_equal(async_task_result(&U[1].task), ASYNC_ECANCELED);
    assert_int_equal(async_sem_count(&sem), 1);
}

/* async_sem_init makes any memory a semaphore with no waiters. */
static void init_makes_a_semaphore_of_any_memory(void **state)
{
    static async_sem sem;
    (void)state;
    memset(&sem, 0xA5, sizeof sem);
    assert_int_equal(async_sem_init(&sem, 1, 1), 0);
    spawn_users(&sem, 2, 5);
    TVC.autojump = true;
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_log("in0 out0 in1 out1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(limits_concurrency_fifo),
        T(release_hands_over_without_barging),
        T(bounded_semaphore_refuses_extra_release),
        T(static_initialiser),
        T(cancelled_waiter_gives_way),
        T(init_makes_a_semaphore_of_any_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
