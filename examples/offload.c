/* SPDX-License-Identifier: MIT */
/* offload: a blocking library made awaitable (the seeds' aiosqlite idea,
 * asyncio.to_thread).
 *
 * SQLite calls block.  Each query runs on the offload pool's worker
 * threads while a ticker task keeps running on the loop, which shows the
 * loop never stalls.  A query that takes too long is abandoned with a
 * timeout: SQLite's progress handler polls async_offload_is_cancelled() and
 * interrupts it, so the worker comes back promptly.                     */
#include "async_ev.h"
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static sqlite3 *db; /* opened SQLITE_OPEN_FULLMUTEX: usable from any thread */

/* What a query job carries: SQL in, one integer out. */
struct query {
    const char *sql;
    long long value;
    char error[128];
};

static int row_cb(void *arg, int ncols, char **vals, char **names)
{
    struct query *q = (struct query *)arg;
    (void)names;
    if (ncols > 0 && vals[0])
        sscanf(vals[0], "%lld", &q->value);
    return 0;
}

static int stop_if_cancelled(void *job)
{
    return async_offload_is_cancelled((async_offload *)job); /* nonzero interrupts */
}

/* Runs on a worker thread: plain blocking code. */
static int run_query(async_offload *job, void *arg)
{
    struct query *q = (struct query *)arg;
    char *err = NULL;
    int rc;

    sqlite3_progress_handler(db, 10000, stop_if_cancelled, job);
    rc = sqlite3_exec(db, q->sql, row_cb, q, &err);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(q->error, sizeof q->error, "%s", err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return ASYNC_EPROTO;
    }
    return 0;
}

static async_pool pool;
static pthread_t threads[2];
static int done;

struct ticker {
    async_task task;
    async_co co;
    int ticks;
};

static int ticker(async_loop *L, async_task *self)
{
    struct ticker *f = async_frame(self, struct ticker, task);
    async_begin(L, &f->co);
    while (!done) {
        async_await(async_sleep(L, ASYNC_MS(50)));
        f->ticks++;
    }
    async_end;
}

struct main_frame {
    async_task task;
    async_co co;
    async_offload job;
    async_timeout to;
    struct query q;
    struct ticker tick;
    int rc, before;
};

static int main_task(async_loop *L, async_task *self)
{
    struct main_frame *f = async_frame(self, struct main_frame, task);
    async_begin(L, &f->co);
    async_spawn(L, &f->tick.task, ticker);

    f->q.sql = "CREATE TABLE t(x INTEGER);"
               "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000)"
               " INSERT INTO t SELECT i FROM c;";
    f->before = f->tick.ticks;
    async_await(async_offload_run(L, &pool, &f->job, run_query, &f->q));
    printf("inserted 1000000 rows on a worker; the ticker ticked %d times meanwhile\n",
           f->tick.ticks - f->before);

    f->q.sql = "SELECT sum(x) FROM t;";
    async_await(async_offload_run(L, &pool, &f->job, run_query, &f->q));
    printf("SELECT sum(x) = %lld\n", f->q.value);

    /* A runaway query under a 200 ms deadline. */
    f->q.sql = "SELECT count(*) FROM t a, t b;";
    f->before = f->tick.ticks;
    async_await_for(&f->to, ASYNC_MS(200), f->rc,
                    async_offload_run(L, &pool, &f->job, run_query, &f->q));
    printf("a cross join under a 200 ms timeout: %s (ticker ticked %d times)\n",
           async_strerror(f->rc), f->tick.ticks - f->before);
    done = 1;
    async_await(async_join(L, &f->tick.task));
    async_end;
}

int main(void)
{
    static struct main_frame m;
    static async_ev E;
    struct ev_loop *ev;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (sqlite3_open_v2(":memory:", &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        fprintf(stderr, "offload: cannot open sqlite\n");
        return 1;
    }
    ev = ev_default_loop(0);
    if (ev == NULL || async_ev_init(&E, ev) < 0)
        return 1;
    if ((rc = async_pool_init(async_ev_loop(&E), &pool, threads, 2)) < 0) {
        fprintf(stderr, "offload: %s\n", async_strerror(rc));
        return 1;
    }
    rc = async_ev_run(&E, &m.task, main_task);
    if (rc < 0)
        fprintf(stderr, "offload: %s%s%s\n", async_strerror(rc), m.q.error[0] ? ": " : "",
                m.q.error);
    async_pool_close(&pool);
    async_ev_close(&E);
    sqlite3_close(db);
    return rc < 0;
}
