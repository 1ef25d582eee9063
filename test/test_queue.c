/* SPDX-License-Identifier: MIT */
/* Queues: bounded FIFO with blocking put/get, try variants, hand-over
 * without stealing, close semantics, backpressure. */
#include <string.h>

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

/* async_queue_init makes any memory an empty queue with no waiters:
 * getters wait on it, and a producer's items reach them in order. */
static void init_makes_a_queue_of_any_memory(void **state)
{
    static async_queue q;
    (void)state;
    memset(&q, 0xA5, sizeof q);
    assert_int_equal(async_queue_init(&q, buf, sizeof buf[0], 4), 0);
    assert_int_equal(async_queue_count(&q), 0);
#if ASYNC_CONF_EXTRAS
    assert_int_equal(async_queue_unfinished_count(&q), 0); /* join returns at once */
#endif
    start(&C[0], &q, 0, 2, consumer_fn);
    t_settle();
    assert_log("");
    start(&P[0], &q, 1, 2, producer_fn);
    t_settle();
    assert_log("put100 put101 pdone0 got100 got101 cdone0");
    memset(&q, 0xA5, sizeof q); /* and the putters' side */
    assert_int_equal(async_queue_init(&q, buf, sizeof buf[0], 1), 0);
    start(&P[1], &q, 2, 3, producer_fn);
    t_settle();
    assert_log("put100 put101 pdone0 got100 got101 cdone0 put200");
    start(&C[1], &q, 1, 3, consumer_fn);
    t_settle();
    assert_log("put100 put101 pdone0 got100 got101 cdone0 put200 got200 put201 got201 put202 pdone0 got202 cdone0");
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

#if ASYNC_CONF_EXTRAS
/* LifoQueue: the newest item leaves first; blocking and hand-over work as
 * for the FIFO. */
static void lifo_queue_takes_the_newest(void **state)
{
    static async_queue q;
    int i, v, got[5];
    (void)state;
    assert_int_equal(async_queue_init_lifo(&q, got, sizeof got[0], 3), 0);
    for (i = 1; i <= 3; i++)
        assert_int_equal(async_queue_try_put(&TL, &q, &i), 0);
    assert_int_equal(async_queue_try_put(&TL, &q, &i), ASYNC_EAGAIN);
    assert_int_equal(async_queue_try_get(&TL, &q, &v), 0);
    assert_int_equal(v, 3);
    i = 9;
    async_queue_try_put(&TL, &q, &i);
    for (i = 0; i < 3; i++) {
        assert_int_equal(async_queue_try_get(&TL, &q, &v), 0);
        got[4 - i] = v; /* the array is the queue's own buffer: keep values apart */
        (void)got[4 - i];
        t_logi("v", v);
    }
    assert_log("v9 v2 v1");
    assert_int_equal(async_queue_try_get(&TL, &q, &v), ASYNC_EAGAIN);
}

static void lifo_queue_blocks_and_hands_over(void **state)
{
    static async_queue q;
    static struct item lbuf[2];
    (void)state;
    async_queue_init_lifo(&q, lbuf, sizeof lbuf[0], 2);
    start(&C[0], &q, 2, 3, consumer_fn);
    t_settle();
    start(&P[0], &q, 1, 3, producer_fn);
    t_settle();
    assert_log("put100 put101 got101 got100 put102 pdone0 got102 cdone0"); /* asyncio: the getter takes the newest when it runs */
}

/* PriorityQueue: the smallest priority first, FIFO among equals, against
 * a reference (a stable sort) on random input. */
struct job {
    int prio, id;
};

static bool job_first(const void *a, const void *b)
{
    return ((const struct job *)a)->prio < ((const struct job *)b)->prio;
}

static void priority_queue_orders_by_priority_then_arrival(void **state)
{
    static async_pqueue pq;
    static struct job heap[64], ref[64];
    static unsigned seq[64];
    unsigned x = 12345;
    int i, j, n = 64;
    (void)state;
    assert_int_equal(async_pqueue_init(&pq, heap, sizeof heap[0], 64, NULL, job_first), ASYNC_EINVAL);
    assert_int_equal(async_pqueue_init(&pq, heap, sizeof heap[0], 64, seq, NULL), ASYNC_EINVAL);
    assert_int_equal(async_pqueue_init(&pq, heap, sizeof heap[0], 64, seq, job_first), 0);
    for (i = 0; i < n; i++) {
        struct job jb;
        x = x * 1103515245u + 12345u;
        jb.prio = (int)((x >> 16) % 5); /* many equal priorities */
        jb.id = i;
        ref[i] = jb;
        assert_int_equal(async_queue_try_put(&TL, &pq.q, &jb), 0);
    }
    /* stable insertion sort: the order a priority queue with FIFO ties gives */
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && ref[j].prio < ref[j - 1].prio; j--) {
            struct job t = ref[j];
            ref[j] = ref[j - 1];
            ref[j - 1] = t;
        }
    for (i = 0; i < n; i++) {
        struct job out;
        assert_int_equal(async_queue_try_get(&TL, &pq.q, &out), 0);
        assert_int_equal(out.prio, ref[i].prio);
        assert_int_equal(out.id, ref[i].id);
    }
    assert_int_equal(async_queue_count(&pq.q), 0);
}

/* Interleaved puts and gets keep the order too. */
static void priority_queue_interleaved(void **state)
{
    static async_pqueue pq;
    static struct job heap[4];
    static unsigned seq[4];
    static const int prios[] = {5, 1, 5, 3, 1, 0, 5};
    struct job jb, out;
    int i;
    (void)state;
    async_pqueue_init(&pq, heap, sizeof heap[0], 4, seq, job_first);
    for (i = 0; i < 7; i++) {
        jb.prio = prios[i];
        jb.id = i;
        if (async_queue_try_put(&TL, &pq.q, &jb) == ASYNC_EAGAIN) { /* full: take one */
            async_queue_try_get(&TL, &pq.q, &out);
            t_logi("o", out.id);
            assert_int_equal(async_queue_try_put(&TL, &pq.q, &jb), 0);
        }
    }
    while (async_queue_try_get(&TL, &pq.q, &out) == 0)
        t_logi("o", out.id);
    assert_log("o1 o4 o5 o3 o0 o2 o6");
}

/* Taking the first item moves the last one up and sifts it down: where
 * the smaller child is the right one and is the last entry, it must come
 * up (priorities 1 4 2 5 put, then taken: 1 2 4 5). */
static void priority_queue_sifts_to_a_last_right_child(void **state)
{
    static async_pqueue pq;
    static struct job heap[4];
    static unsigned seq[4];
    static const int prios[] = {1, 4, 2, 5};
    struct job jb, out;
    int i;
    (void)state;
    async_pqueue_init(&pq, heap, sizeof heap[0], 4, seq, job_first);
    for (i = 0; i < 4; i++) {
        jb.prio = prios[i];
        jb.id = i;
        assert_int_equal(async_queue_try_put(&TL, &pq.q, &jb), 0);
    }
    while (async_queue_try_get(&TL, &pq.q, &out) == 0)
        t_logi("p", out.prio);
    assert_log("p1 p2 p4 p5");
}

/* Queue.join / task_done: join waits until every item put has been
 * handled; task_done more often than items put is refused. */
struct worker {
    async_task task;
    async_co co;
    async_queue *q;
    int item, rc;
};

static int worker_fn(async_loop *L, async_task *self)
{
    struct worker *f = async_frame(self, struct worker, task);
    async_begin(L, &f->co);
    for (;;) {
        async_await(async_queue_get(L, f->q, &f->item));
        async_await(async_sleep(L, 10)); /* handling it */
        t_logi("handled", f->item);
        async_queue_task_done(L, f->q);
    }
    async_end;
}

static int joiner_fn(async_loop *L, async_task *self)
{
    struct worker *f = async_frame(self, struct worker, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_queue_join(L, f->q));
    t_logi("joined", f->rc);
    t_logi("at", (long)async_now(L));
    async_end;
}

static void join_waits_for_task_done(void **state)
{
    static async_queue q;
    static int qb[4];
    static struct worker w, j1, j2;
    int i;
    (void)state;
    async_queue_init(&q, qb, sizeof qb[0], 4);
    w = (struct worker){0};
    j1 = (struct worker){0};
    j2 = (struct worker){0};
    w.q = j1.q = j2.q = &q;
    async_spawn(&TL, &j1.task, joiner_fn); /* nothing outstanding: at once */
    t_settle();
    assert_log("joined0 at1000");
    for (i = 1; i <= 3; i++)
        async_queue_try_put(&TL, &q, &i);
    assert_int_equal(async_queue_unfinished_count(&q), 3);
    async_spawn(&TL, &w.task, worker_fn);
    async_spawn(&TL, &j2.task, joiner_fn);
    TVC.autojump = true;
    async_run(&TL, &j2.task, NULL);
    assert_log("joined0 at1000 handled1 handled2 handled3 joined0 at1030");
    assert_int_equal(async_queue_unfinished_count(&q), 0);
    t_misuse_count = 0;
    assert_int_equal(async_queue_task_done(&TL, &q), ASYNC_EOVERFLOW);
    assert_int_equal(t_misuse_count, 1);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(init_rejects_bad_arguments),
        T(init_makes_a_queue_of_any_memory),
        T(full_queue_blocks_the_producer),
        T(empty_queue_blocks_the_consumer),
        T(promised_item_cannot_be_stolen),
        T(promised_slot_cannot_be_stolen),
        T(try_variants_never_wait),
        T(close_wakes_everyone_and_drains),
        T(many_producers_and_consumers_lose_nothing),
#if ASYNC_CONF_EXTRAS
        T(lifo_queue_takes_the_newest),
        T(lifo_queue_blocks_and_hands_over),
        T(priority_queue_orders_by_priority_then_arrival),
        T(priority_queue_interleaved),
        T(priority_queue_sifts_to_a_last_right_child),
        T(join_waits_for_task_done),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
