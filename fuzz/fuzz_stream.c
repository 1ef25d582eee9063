/* SPDX-License-Identifier: MIT */
/* libFuzzer target: stream framing (src/stream.c) on a real fd.
 *
 * The input decodes into a transport (pipe or Unix socketpair), a read
 * buffer size, a reader's program of async_stream_read / read_exactly /
 * read_until calls (each plain, under a deadline already passed (the call
 * never starts) or one tick away, or in a child task that is cancelled
 * after a few yields) and a writer's chunk plan; the rest of the input is
 * the byte stream.  A writer task sends the stream
 * in the planned chunk sizes, yielding or sleeping between chunks so that
 * the reader sees arbitrary splits and coalescings, then closes its end.
 * Every result is checked against the stream itself:
 *
 *   read(n)          1..n bytes, the next ones; ASYNC_EOF only at the end
 *   read_exactly(n)  n bytes, or ASYNC_EOF with async_stream_partial() =
 *                    what was left, those bytes in the buffer
 *   read_until(d)    up to and including the first d within min(cap, rcap)
 *                    bytes; ASYNC_ETOOLONG if that many bytes hold none;
 *                    ASYNC_EOF if the stream ends first; neither consumes
 *   ASYNC_ETIMEDOUT, ASYNC_ECANCELED (interrupted) consume nothing,
 *                    except what read_exactly reports through
 *                    async_stream_partial();
 *                    a call that never started leaves partial() as it was
 *                    after a read_exactly that did not complete, else 0
 *
 * Then the reader drains the rest with read(): every byte arrives once,
 * in order.  A mismatch, a sanitizer report or a hang is a crash.
 *
 *   make fuzz                        # every target, FUZZ_TIME seconds each
 *   build/fuzz/fuzz_stream CRASH     # replay one input                  */
#define _GNU_SOURCE
#include "src/async_ev.h"
#include "fuzz_input.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OPS 24
#define MAX_CHUNKS 16
#define MAX_LEN 4096

enum { OP_READ, OP_EXACT, OP_UNTIL, OP__COUNT };
enum { M_PLAIN, M_EXPIRED, M_TICK, M_CANCEL }; /* how an op is awaited */

struct op {
    int kind, mode;
    unsigned yields; /* M_CANCEL: the child is cancelled after this many */
    size_t len; /* read/exactly: length; until: cap */
    unsigned char delim[4];
    size_t dlen;
};

struct plan {
    int pipe, sleepy; /* sleepy: the writer may sleep once (real time) */
    size_t rcap;
    int nops, nchunks;
    struct op ops[MAX_OPS];
    size_t chunk[MAX_CHUNKS];
    unsigned pause[MAX_CHUNKS]; /* after the chunk: 0, 1 or 3 yields, or sleep */
    const unsigned char *data;
    size_t size;
};

static struct plan P;


static size_t pick_len(unsigned b)
{
    static const size_t big[] = {0, 1, 2, 3, 255, 256, 1024, 4096};
    return b < 248 ? (size_t)b : big[b - 248];
}

static void decode(struct plan *p, const unsigned char *data, size_t size)
{
    static const size_t rcaps[] = {1, 2, 3, 4, 7, 16, 64, 4096};
    struct fuzz_reader r = {data, size};
    unsigned b;
    int i, ticked = 0;
    size_t j;

    memset(p, 0, sizeof *p);
    b = fuzz_byte(&r);
    p->pipe = b & 1;
    p->rcap = rcaps[(b >> 1) & 7];
    p->nops = (int)((b >> 4) % 16);
    b = fuzz_byte(&r);
    p->nops += (int)((b & 0x3f) % 9);
    p->sleepy = (b & 0xc0) == 0xc0;
    for (i = 0; i < p->nops; i++) {
        struct op *o = &p->ops[i];
        b = fuzz_byte(&r);
        o->kind = (int)(b % OP__COUNT);
        o->mode = (int)(b >> 6);
        if (o->mode == M_TICK && ++ticked > 2)
            o->mode = M_CANCEL; /* a one-tick deadline may cost real time */
        o->yields = (b >> 2) & 3;
        o->len = pick_len(fuzz_byte(&r));
        if (o->kind == OP_UNTIL) {
            o->dlen = 1 + (b >> 4) % 4;
            for (j = 0; j < o->dlen; j++)
                o->delim[j] = (unsigned char)fuzz_byte(&r);
            if (o->len == 0)
                o->len = 1;
        } else if (o->kind == OP_READ && o->len == 0) {
            o->len = 1;
        }
    }
    p->nchunks = 1 + (int)(fuzz_byte(&r) % MAX_CHUNKS);
    for (i = 0; i < p->nchunks; i++) {
        b = fuzz_byte(&r);
        p->chunk[i] = 1 + (b & 0x1f) * ((b & 0x20) ? 37 : 1);
        p->pause[i] = b >> 6;
    }
    p->data = r.p;
    p->size = r.n;
}

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "fuzz_stream: %s:%d: %s (op %d, rc %d, pos %zu of %zu)\n", __FILE__, \
                    __LINE__, #cond, t->i, t->rc, t->pos, P.size);                               \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

struct writer {
    async_task task;
    async_co co;
    async_stream s;
    size_t off, n;
    int i;
    unsigned y, sleeps;
};

static int writer_fn(async_loop *L, async_task *self)
{
    struct writer *w = async_frame(self, struct writer, task);
    async_begin(L, &w->co);
    for (w->off = 0, w->i = 0; w->off < P.size; w->i = (w->i + 1) % P.nchunks) {
        w->n = P.chunk[w->i] < P.size - w->off ? P.chunk[w->i] : P.size - w->off;
        async_await(async_stream_write(L, &w->s, P.data + w->off, w->n));
        w->off += w->n;
        if (P.pause[w->i] == 3 && P.sleepy && w->sleeps < 1) { /* outlast a one-tick deadline */
            w->sleeps++;
            async_await(async_sleep(L, 2));
        }
        for (w->y = 0; w->y < P.pause[w->i] * 2 - (P.pause[w->i] > 0); w->y++)
            async_await(async_yield());
    }
    async_finally;
    async_stream_close(L, &w->s);
    async_end;
}

struct tester {
    async_task task;
    async_co co;
    async_stream s;
    async_timeout to;
    unsigned char rbuf[MAX_LEN];
    unsigned char buf[MAX_LEN];
    size_t pos;
    size_t stale; /* partial() if the next read never starts */
    int i, rc;
    unsigned y;
    struct child { /* M_CANCEL: the op runs in its own task */
        async_task task;
        async_co co;
        struct tester *t;
        int started;
    } child;
};

/* Where the first d[0..dlen) starts in P.data[from..to), or (size_t)-1. */
static size_t find(size_t from, size_t to, const unsigned char *d, size_t dlen)
{
    size_t i;
    for (i = from; i + dlen <= to; i++)
        if (memcmp(P.data + i, d, dlen) == 0)
            return i;
    return (size_t)-1;
}

static void check_bytes(struct tester *t, size_t n)
{
    CHECK(t->pos + n <= P.size);
    CHECK(memcmp(t->buf, P.data + t->pos, n) == 0);
    t->pos += n;
}

/* The result op t->i gave (t->rc), against the stream. */
static void check_op(struct tester *t)
{
    const struct op *o = &P.ops[t->i];
    size_t rem = P.size - t->pos;

    if (o->mode == M_EXPIRED || (o->mode == M_CANCEL && !t->child.started)) {
        /* the op never started */
        CHECK(t->rc == (o->mode == M_EXPIRED ? ASYNC_ETIMEDOUT : ASYNC_ECANCELED));
        CHECK(async_stream_partial(&t->s) == t->stale);
        return;
    }
    t->stale = 0;
    if ((t->rc == ASYNC_ETIMEDOUT && o->mode == M_TICK) ||
        (t->rc == ASYNC_ECANCELED && o->mode == M_CANCEL)) { /* interrupted */
        if (o->kind == OP_EXACT) {
            t->stale = async_stream_partial(&t->s);
            check_bytes(t, t->stale);
        }
        return;
    }
    switch (o->kind) {
    case OP_READ:
        if (rem == 0) {
            CHECK(t->rc == ASYNC_EOF);
        } else {
            CHECK(t->rc >= 1 && (size_t)t->rc <= o->len);
            check_bytes(t, (size_t)t->rc);
        }
        break;
    case OP_EXACT:
        if (o->len <= rem) {
            CHECK(t->rc == (int)o->len);
            check_bytes(t, o->len);
        } else {
            CHECK(t->rc == ASYNC_EOF);
            CHECK(async_stream_partial(&t->s) == rem);
            check_bytes(t, rem);
            t->stale = rem;
        }
        break;
    case OP_UNTIL: {
        size_t limit = o->len < P.rcap ? o->len : P.rcap;
        size_t window = rem < limit ? rem : limit;
        size_t at = find(t->pos, t->pos + window, o->delim, o->dlen);
        if (at != (size_t)-1) {
            CHECK(t->rc == (int)(at + o->dlen - t->pos));
            check_bytes(t, (size_t)t->rc);
        } else if (rem >= limit) {
            CHECK(t->rc == ASYNC_ETOOLONG);
        } else {
            CHECK(t->rc == ASYNC_EOF);
        }
        break;
    }
    }
}

#define DO_OP(L, t, o)                                                                         \
    ((o)->kind == OP_READ    ? async_stream_read((L), &(t)->s, (t)->buf, (o)->len)             \
     : (o)->kind == OP_EXACT ? async_stream_read_exactly((L), &(t)->s, (t)->buf, (o)->len)     \
                             : async_stream_read_until((L), &(t)->s, (o)->delim, (o)->dlen,    \
                                                       (t)->buf, (o)->len))

static int child_fn(async_loop *L, async_task *self)
{
    struct child *c = async_frame(self, struct child, task);
    struct tester *t = c->t;
    int rc;
    async_begin(L, &c->co);
    c->started = 1;
    async_await_rc(rc, DO_OP(L, t, &P.ops[t->i]));
    async_return(rc);
    async_end;
}

static int tester_fn(async_loop *L, async_task *self)
{
    struct tester *t = async_frame(self, struct tester, task);
    async_begin(L, &t->co);
    for (t->i = 0; t->i < P.nops; t->i++) {
        /* (no `switch` around awaits: the switch backend forbids it) */
        if (P.ops[t->i].mode == M_PLAIN) {
            async_await_rc(t->rc, DO_OP(L, t, &P.ops[t->i]));
        } else if (P.ops[t->i].mode != M_CANCEL) {
            async_await_for(&t->to, (async_tick)(P.ops[t->i].mode == M_TICK), t->rc,
                            DO_OP(L, t, &P.ops[t->i]));
        } else {
            memset(&t->child, 0, sizeof t->child);
            t->child.t = t;
            if (async_spawn(L, &t->child.task, child_fn) < 0)
                abort();
            for (t->y = 0; t->y < P.ops[t->i].yields; t->y++)
                async_await(async_yield());
            async_cancel(L, &t->child.task);
            async_await_rc(t->rc, async_join(L, &t->child.task));
        }
        check_op(t);
    }
    /* Drain: the rest of the stream, once, in order, then EOF for good. */
    for (;;) {
        async_await_rc(t->rc, async_stream_read(L, &t->s, t->buf, sizeof t->buf));
        if (t->rc == ASYNC_EOF)
            break;
        CHECK(t->rc > 0);
        check_bytes(t, (size_t)t->rc);
    }
    CHECK(t->pos == P.size);
    async_await_rc(t->rc, async_stream_read(L, &t->s, t->buf, 1));
    CHECK(t->rc == ASYNC_EOF);
    async_finally;
    async_stream_close(L, &t->s);
    async_end;
}

static struct ev_loop *ev;
static async_ev E;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tester t;
    static struct writer w;
    int fds[2], rc;

    if (ev == NULL) {
        signal(SIGPIPE, SIG_IGN);
        ev = ev_loop_new(EVFLAG_AUTO);
        if (ev == NULL || async_ev_init(&E, ev) < 0)
            abort();
    }
    decode(&P, data, size);
    rc = P.pipe ? pipe(fds) : socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    if (rc < 0)
        abort();
    memset(&t, 0, sizeof t);
    memset(&w, 0, sizeof w);
    /* fds[0] reads, fds[1] writes (either way for a socketpair) */
    if (async_stream_init(&t.s, fds[0], t.rbuf, P.rcap) < 0 ||
        async_stream_init(&w.s, fds[1], NULL, 0) < 0)
        abort();
    if (async_spawn(&E.loop, &w.task, writer_fn) < 0)
        abort();
    rc = async_ev_run(&E, &t.task, tester_fn);
    if (rc < 0) {
        fprintf(stderr, "fuzz_stream: the reader ended with %s\n", async_strerror(rc));
        abort();
    }
    if (!async_task_is_done(&w.task) || async_task_result(&w.task) < 0) {
        fprintf(stderr, "fuzz_stream: the writer did not finish cleanly\n");
        abort();
    }
    return 0;
}
