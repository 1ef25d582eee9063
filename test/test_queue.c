/* SPDX-License-Identifier: MIT */
/* Queues: bounded FIFO with blocking put/get, try variants, hand-over
 * without stealing, close semantics, backpressure. */
#include "testlib.h"

struct item {
    int id;
    char tag[3];
};

struct qtask {
    async_task task;
    async_co co;
    async_queue *q;
    struct item it;
    int n, i, rc, id;
};

static int producer_fn(async_loop *L, async_task *self)
{
    struct qtask *f = async_frame(self, struct qtask, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->it.id = f->id * 100 + f->i;
        f->it.tag[0] = 'p';
        async_await_rc(f->rc, async_queue_put(L, f->q, &f->it));
        if (f->rc < 0)
            break;
        t_logi("put", f->it.id);
    }
    t_logi("pdone", f->rc);
    async_end;
}

static int consumer_fn(async_loop *L, async_task *self)
{
    struct qtask *f = async_frame(self, struct qtask, task);
    async_begin(L, &f->co);
    for (f->i = 0; f->i < f->n; f->i++) {
        async_await_rc(f->rc, async_queue_get(L, f->q, &f->it));
        if (f->rc < 0)
            break;
        assert_int_equal(f->it.tag[0], 'p');
        t_logi("got", f->it.id);
    }
    t_logi("cdone", f->rc);
    async_end;
}

static struct qtask P[3], C[3];
static struct item buf[4];

static void start(struct qtask *t, async_queue *q, int id, int n, async_task_fn fn)
{
    *t = (struct qtask){0};
    t->q = q;
    t->id = id;
    t->n = n;
    async_spawn(&TL, &t->task, fn);
}

static void init_rejects_bad_arguments(void **state)
{
    static async_queue q;
    (void)state;
    assert_int_equal(async_queue_init(&q, buf, sizeof buf[0], 0), ASYNC_EINVAL);
    assert_int_equal(async_queue_init(&q, NULL, sizeof buf[0], 4), ASYNC_EINVAL);
    assert_int_equal(async_queue_init(&q, buf, 0, 4), ASYNC_EINVAL);
    assert_int_equal(async_queue_init(NULL, buf, sizeof buf[0], 4), ASYNC_EINVAL);
    assert_int_equal(t_misuse_count, 4);
    assert_int_equal(async_queue_init(&q, buf, sizeof buf[0], 4), 0);
}

/* A producer faster than the consumer blocks when the queue is full:
 * backpressure, and every item arrives once, in order. */
static void full_queue_blocks_the_producer(void **state)
{
    static async_queue q;
    (void)state;
    async_queue_init(&q, buf, sizeof buf[0], 2);
    start(&P[0], &q, 1, 5, producer_fn);
    t_settle();
    assert_log("put100 put101");
    assert_int_equal(async_queue_count(&q), 2);
    assert_int_equal(async_task_state(&P[0].task), ASYNC_TASK_WAITING);
    start(&C[0], &q, 0, 5, consumer_fn);
    t_settle();
    assert_log("put100 put101 got100 got101 put102 put103 got102 got103 put104 pdone0 got104 cdone0");
    assert_int_equal(async_queue_count(&q), 0);
}

static void empty_queue_blocks_the_consumer(void **state)
{
    static async_queue q;
    (void)state;
    async_queue_init(&q, buf, sizeof buf[0], 4);
    start(&C[0], &q, 0, 2, consumer_fn);
    start(&C[1], &q, 1, 1, consumer_fn);
    t_settle();
    assert_log("");
    start(&P[0], &q, 1, 3, producer_fn);
    t_settle();
    /* Items go to getters in the order they started waiting. */
    assert_log("put100 put101 put102 pdone0 got100 got101 cdone0 got102 cdone0");
}

/* An item promised to a woken getter cannot be taken by anyone who gets
 * there first. */
static void promised_item_cannot_be_stolen(void **state)
{
    static async_queue q;
    struct item x = {7, {'p', 0, 0}}, y;
    (void)state;
    async_queue_init(&q, buf, sizeof buf[0], 4);
    start(&C[0], &q, 0, 1, consumer_fn);
    t_settle();
    assert_int_equal(async_queue_try_put(&TL, &q, &x), 0);
    assert_int_equal(async_queue_try_get(&TL, &q, &y), ASYNC_EAGAIN);
    x.id = 8;
    assert_int_equal(async_queue_try_put(&TL, &q, &x), 0);
    assert_int_equal(async_queue_try_get(&TL, &q, &y), 0); /* the unpromised one */
    assert_int_equal(y.id, 7);
    t_settle();
    assert_log("got8 cdone0");
    assert_int_equal(async_queue_count(&q), 0);
}

/* Likewise a slot freed for a waiting putter is promised to it. */
static void promised_slot_cannot_be_stolen(void **state)
{
    static async_queue q;
    struct item x = {1, {'p', 0, 0}}, y;
    (void)state;
    async_queue_init(&q, buf, sizeof buf[0], 1);
    assert_int_equal(async_queue_try_put(&TL, &q, &x), 0);
    start(&P[0], &q, 5, 1, producer_fn);
    t_settle();
    assert_int_equal(async_queue_try_get(&TL, &q, &y), 0); /* frees a slot for P0 */
    assert_int_equal(async_queue_try_put(&TL, &q, &x), ASYNC_EAGAIN);
    t_settle();
    assert_log("put500 pdone0");
    assert_int_equal(async_queue_count(&q), 1);
}

static void try_variants_never_wait(void **state)
{
    static async_queue q;
    struct item x = {1, {'a', 'b', 'c'}}, y = {0, {0, 0, 0}};
    (void)state;
    async_queue_init(&q, buf, sizeof buf[0], 2);
    assert_int_equal(async_queue_try_get(&TL, &q, &y), ASYNC_EAGAIN);
    assert_int_equal(async_queue_try_put(&TL, &q, &x), 0);
    x.id = 2;
    assert_int_equal(async_queue_try_put(&TL, &q, &x), 0);
    assert_int_equal(async_queue_try_put(&TL, &q, &x), ASYNC_EAGAIN);
    assert_int_equal(async_queue_count(&q), 2);
    assert_int_equal(async_queue_try_get(&TL, &q, &y), 0);
    assert_int_equal(y.id, 1);
    assert_int_equal(y.tag[2], 'c');
    assert_int_equal(async_queue_try_get(&TL, &q, &y), 0);
    assert_int_equal(y.id, 2);
    assert_int_equal(async_queue_try_put(&TL, &q, NULL), ASYNC_EINVAL);
}

/* Close: waiting putters get ASYNC_ECLOSED at once; getters drain what is
 * left, then get ASYNC_ECLOSED; later puts are refused. */
static void close_wakes_everyone_and_drains(void **state)
{
    static async_queue q;
    struct item x = {0, {'p', 0, 0}};
    (void)state;
    async_queue_init(&q, buf, sizeof buf[0], 2);
    start(&P[0], &q, 1, 4, producer_fn); /* blocks after two */
    t_settle();
    async_queue_close(&TL, &q);
    async_queue_close(&TL, &q); /* idempotent */
    assert_true(async_queue_is_closed(&q));
    t_settle();
    assert_log("put100 put101 pdone-3");
    assert_int_equal(async_queue_try_put(&TL, &q, &x), ASYNC_ECLOSED);
    start(&C[0], &q, 0, 5, consumer_fn);
    t_settle();
    assert_log("put100 put101 pdone-3 got100 got101 cdone-3");

    /* Getters already waiting on an empty queue are woken by close. */
    t_reset(1000, false);
    async_queue_init(&q, buf, sizeof buf[0], 2);
    start(&C[0], &q, 0, 1, consumer_fn);
    start(&C[1], &q, 1, 1, consumer_fn);
    t_settle();
    async_queue_close(&TL, &q);
    t_settle();
    assert_log("cdone-3 cdone-3");
}

/* Ring buffer wrap-around with several producers and consumers: every
 * item is delivered exactly once. */
struct sum {
    async_task task;
    async_co co;
    async_queue *q;
    int i, n, v, rc;
    long *total;
};

static int sum_put_fn(async_loop *L, async_task *self)
{
    struct sum *f = async_frame(self, struct sum, task);
    async_begin(L, &f->co);
    for (f->i = 1; f->i <= f->n; f->i++) {
        f->v = f->i;
        async_await(async_queue_put(L, f->q, &f->v));
        if (f->i % 7 == 0)
            async_await(async_yield());
    }
    async_end;
}

static int sum_get_fn(async_loop *L, async_task *self)
{
    struct sum *f = async_frame(self, struct sum, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await_rc(f->rc, async_queue_get(L, f->q, &f->v));
        if (f->rc == ASYNC_ECLOSED)
            break;
        *f->total += f->v;
        f->i++;
    }
    async_end;
}

struct closer {
    async_task task;
    async_co co;
    async_queue *q;
    struct sum *prods;
};

static int closer_fn(async_loop *L, async_task *self)
{
    struct closer *f = async_frame(self, struct closer, task);
    async_begin(L, &f->co);
    async_await(async_join(L, &f->prods[0].task));
    async_await(async_join(L, &f->prods[1].task));
    async_await(async_join(L, &f->prods[2].task));
    async_queue_close(L, f->q);
    async_end;
}

static void many_producers_and_consumers_lose_nothing(void **state)
{
    static async_queue q;
    static int ibuf[3];
    static struct sum prods[3], cons[2];
    static struct closer cl;
    static long total;
    int i;
    (void)state;
    total = 0;
    async_queue_init(&q, ibuf, sizeof ibuf[0], 3);
    for (i = 0; i < 3; i++) {
        prods[i] = (struct sum){0};
        prods[i].q = &q;
        prods[i].n = 200;
        async_spawn(&TL, &prods[i].task, sum_put_fn);
    }
    for (i = 0; i < 2; i++) {
        cons[i] = (struct sum){0};
        cons[i].q = &q;
        cons[i].total = &total;
        async_spawn(&TL, &cons[i].task, sum_get_fn);
    }
    cl = (struct closer){0};
    cl.q = &q;
    cl.prods = prods;
    async_spawn(&TL, &cl.task, closer_fn);
    assert_int_equal(async_run(&TL, NULL, NULL), 0);
    assert_int_equal(total, 3L * 200 * 201 / 2);
    assert_int_equal(cons[0].i + cons[1].i, 600);
    assert_true(cons[0].i > 0 && cons[1].i > 0); /* both got work */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(init_rejects_bad_arguments),
        T(full_queue_blocks_the_producer),
        T(empty_queue_blocks_the_consumer),
        T(promised_item_cannot_be_stolen),
        T(promised_slot_cannot_be_stolen),
        T(try_variants_never_wait),
        T(close_wakes_everyone_and_drains),
        T(many_producers_and_consumers_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
