/* SPDX-License-Identifier: MIT */
/* The reference model: what the README ("Semantics worth knowing",
 * "Misuse and what it returns") and the contracts in async.h sections 6
 * and 7 say a program must do, as plain C with no coroutines.
 *
 *  - Scheduling: one FIFO run queue.  A pass reads the clock, fires the
 *    timers that are due in deadline order (programs never arm two timers
 *    for the same tick), then steps in rounds: the tasks that were ready
 *    when it began, once each, then those the round before made ready,
 *    until none are left or ROUNDS rounds have run.  A yield (or a sleep
 *    already due) queues the task on a list of its own that joins the
 *    run queue's end after the pass.
 *  - Waking a suspended task detaches it from what it waited on and
 *    queues it with a result its await returns when it runs.  A task that
 *    was handed a result keeps it: interruptions reach only tasks that
 *    are still suspended (and not draining a join or a group).
 *  - Cancellation is sticky: every await after it reports ASYNC_ECANCELED
 *    at once; a task cancelled before it first ran finishes with it
 *    without running.  Timeout scopes: every await inside an expired,
 *    still open scope reports ASYNC_ETIMEDOUT.
 *  - Hand-over is FIFO without stealing (locks, permits, queue items and
 *    free slots).
 *
 * Where the documents are silent the model follows what asyncio does,
 * or (for orders asyncio leaves unspecified: waking a queue's putters
 * before its getters on close, cancelling group members in slot order)
 * the core's documented data structures.                                */
#include "prog.h"
#include <string.h>

/* the codes of async.h, restated so the model does not include it */
enum {
    ECANCELED = -1, ETIMEDOUT = -2, ECLOSED = -3, EBUSY = -4, EINVAL = -5, EAGAIN = -6,
    ENOSPC = -7, EPERM = -9, EDEADLK = -10, EDONE = -11, EALREADY = -12, EOVERFLOW = -15,
    ENOENT = -16, EBROKEN = -17, PENDING = -2147483647 - 1
};
enum { S_IDLE, S_READY, S_RUNNING, S_WAITING, S_DONE }; /* = enum async_task_state */
enum { W_NONE, W_TIMER, W_EVENT, W_SEM, W_LOCK, W_QGET, W_QPUT, W_JOIN, W_GROUP, W_POLL, W_COND,
       W_FUT, W_XS, W_NOTE, W_BAR, W_QJOIN };
enum { SC_TIMEOUT, SC_SHIELD, SC_LOCK };

/* Known-bug switches: see known_bugs in main.c. */

/* An open scope: a timeout, a shield (both timed: they fire), or a held
 * lock (async_with_lock).                                               */
struct scope {
    int64_t deadline;
    bool armed, fired;
    int kind, lock;
    bool held; /* a lock scope that got its lock */
};

struct mtask {
    int state;
    bool cancel, started, drain, woken;
    bool recheck;  /* queued to re-check an async_await_until condition */
    bool woken_now;
    bool notified; /* a condition wait was notified, then queued on the lock */
    bool handed;   /* given a lock it has not taken yet: it reads unlocked */
    int wresult, result;
    int oval;   /* the value an await delivers with its result (item, member) */
    int group;  /* group holding it as a member, or -1 */
    int joiner; /* actor suspended joining it, or -1  */
    int watch;  /* handle watching it (async_task_on_done), or -1 */
    int wkind, wobj;
    int64_t wake_at; /* W_TIMER */
    bool armed;
    /* the interpreter */
    int spawns, life, pc;
    const struct life *lf;
    bool fresh, in_op;
    int nscopes;
    struct scope sc[MAX_SCOPES + 1]; /* [nscopes] is await_for's while wf_open */
    bool wf_open;
    bool holds[NLOCK];  /* acquired with lock_acquire/try */
    bool wholds[NLOCK]; /* held by a lock scope */
};

struct list {
    int n;
    int v[MAX_ACTORS * 2];
};

static const struct prog *P;
static struct mtask T[MAX_ACTORS];
static struct list runq, yieldq;
/* The rounds a pass may run (async.h's ASYNC__ROUNDS): one in size-first
 * builds, where a yield queues as any other task. */
#ifdef __OPTIMIZE_SIZE__
enum { ROUNDS = 1 };
#else
enum { ROUNDS = 65 };
#endif
static int64_t vnow, lnow; /* virtual clock; the loop's cached time (relative) */
/* The extras: barrier, queue join bookkeeping, callback handles.        */
static struct list bar_w, qjoin_w[NQ], hdue;
static bool bar_broken;
static unsigned qunf[NQ];
enum { H_IDLE, H_DUE, H_TIMER, H_WATCH };
static struct {
    int state;
    int64_t deadline; /* H_TIMER */
    int task;         /* H_WATCH */
} H[NH];
static struct evbuf *cur;
static unsigned long n_ops;
static int cur_task = -1;
/* what the generated programs exercise (--stats) */
unsigned long model_stat[8];
enum { ST_SCRIPT, ST_STEPS, ST_SUSPENDS, ST_SLEEPS_FIRED, ST_SCOPES_FIRED, ST_CANCELS, ST_HANDOVERS,
       ST_IDLE_PASSES };

static bool ev_set[NEV];
static struct list ev_w[NEV];
static unsigned sem_count[NSEM];
static struct list sem_w[NSEM];
static int lock_owner[NLOCK];
static struct list lock_w[NLOCK];
static struct list pollers, cond_w[NCOND], fut_w[NFUT];
static bool fut_done[NFUT];
static int xs_task[NXS]; /* the task parked on an external source, or -1 */
/* The notification: gives counted, delivered by a post at a pass's start
 * (a semaphore release each), then taken like a semaphore's permits. */
static unsigned note_given, note_count;
static bool note_queued;
static struct list note_w;
static int fut_result[NFUT];
static bool progress; /* a step this pass changed something */
static bool post_queued;
static struct {
    int items[QCAP_MAX]; /* in arrival order */
    int count;
    unsigned held[2];
    bool closed;
    struct list w[2]; /* 0: getters, 1: putters */
} Q[NQ];
static struct {
    int slots[GROUP_CAP];
    int count, running, error, waiter;
    bool wait_any, wait_err;
    struct list done;
} G[NGROUP];

/* ---- small helpers ---- */

static void push(struct list *l, int v)
{
    l->v[l->n++] = v;
}

static int pop(struct list *l)
{
    int v = l->v[0];
    memmove(l->v, l->v + 1, sizeof l->v[0] * (size_t)--l->n);
    return v;
}

static void removev(struct list *l, int v)
{
    int i;
    for (i = 0; i < l->n; i++)
        if (l->v[i] == v) {
            memmove(l->v + i, l->v + i + 1, sizeof l->v[0] * (size_t)(l->n - i - 1));
            l->n--;
            return;
        }
}

static void emit(int kind, int a, int life, int pc, int rc, int val)
{
    if (cur)
        evbuf_add(cur, kind, a, life, pc, rc, val);
}

static int misuse(int code)
{
    emit(E_MISUSE, -1, 0, 0, code, 0);
    return code;
}

/* A delay armed now reads the clock: it counts from there, and the
 * loop's cached time follows (async_now).                               */
static uint32_t arm(void)
{
    lnow = vnow;
    return (uint32_t)lnow;
}

/* ---- waking ---- */

static void detach(int t)
{
    struct mtask *k = &T[t];
    switch (k->wkind) {
    case W_TIMER:
        k->armed = false;
        break;
    case W_EVENT:
        removev(&ev_w[k->wobj], t);
        break;
    case W_SEM:
        removev(&sem_w[k->wobj], t);
        break;
    case W_LOCK:
        removev(&lock_w[k->wobj], t);
        break;
    case W_QGET:
        removev(&Q[k->wobj].w[0], t);
        break;
    case W_QPUT:
        removev(&Q[k->wobj].w[1], t);
        break;
    case W_POLL:
        removev(&pollers, t);
        break;
    case W_COND:
        removev(&cond_w[k->wobj], t);
        break;
    case W_FUT:
        removev(&fut_w[k->wobj], t);
        break;
    case W_XS: /* the source's detach(): it forgets the task */
        xs_task[k->wobj] = -1;
        break;
    case W_NOTE:
        removev(&note_w, t);
        break;
    case W_BAR:
        removev(&bar_w, t);
        break;
    case W_QJOIN:
        removev(&qjoin_w[k->wobj], t);
        break;
    case W_JOIN: /* woken by the joined task's end, which cleared the slot */
        break;
    case W_GROUP: /* a woken waiter keeps its claim until it returns */
        break;
    }
    k->wkind = W_NONE;
}

static void make_ready(int t, int r)
{
    T[t].state = S_READY;
    T[t].woken = true;
    T[t].wresult = r;
    push(&runq, t);
}

/* A yield: ready in the next pass, after everything this pass readies. */
static void give_way(int t)
{
    T[t].state = S_READY;
    T[t].woken = true;
    T[t].wresult = 0;
    push(ROUNDS > 1 ? &yieldq : &runq, t);
}

static void wake(int t, int r)
{
    if (t < 0 || T[t].state != S_WAITING)
        return;
    if (r == 0)
        model_stat[ST_HANDOVERS]++;
    detach(t);
    make_ready(t, r);
}

static void cancel_task(int j);
static void group_cancel_all(int g, int *count);

/* Deliver a cancellation or timeout to a suspended task.  A task joining
 * a task, or waiting for a whole group, stays where it is: what it waits
 * for is cancelled at once and the wait reports the interruption when
 * that has finished (it drains; README: "cancelling a joiner cancels the
 * task it joins; cancelling a group's waiter cancels the members and
 * waits for them").  A draining task is left alone. */
static void interrupt(int t, int code)
{
    struct mtask *k = &T[t];
    if (k->drain || k->state != S_WAITING)
        return;
    if (k->wkind == W_JOIN) {
        k->drain = true;
        cancel_task(k->wobj);
    } else if (k->wkind == W_GROUP && !G[k->wobj].wait_any) {
        k->drain = true;
        group_cancel_all(k->wobj, NULL);
    } else {
        /* an interrupted async_group_next takes nothing: it lets go of the
         * group at once (a member's end, instead, leaves the claim to the
         * woken waiter until its call returns) */
        if (k->wkind == W_GROUP && G[k->wobj].waiter == t)
            G[k->wobj].waiter = -1;
        wake(t, code);
    }
}

static void suspend(int t, int kind, int obj)
{
    T[t].state = S_WAITING;
    T[t].wkind = kind;
    T[t].wobj = obj;
}

static void wait_on(int t, struct list *l, int kind, int obj)
{
    push(l, t);
    suspend(t, kind, obj);
}

/* The innermost open shield's place in the scope stack, or -1.  A shield
 * holds back a cancellation and the expiry of every scope opened before
 * it (Trio's shielded cancel scope).                                    */
static int shield_at(int t)
{
    const struct mtask *k = &T[t];
    int i;
    for (i = k->nscopes - 1; i >= 0; i--)
        if (k->sc[i].kind == SC_SHIELD)
            return i;
    return -1;
}

static int icode(int t)
{
    const struct mtask *k = &T[t];
    int i, sh = shield_at(t);
    if (k->cancel && sh < 0)
        return ECANCELED;
    for (i = sh < 0 ? 0 : sh; i < k->nscopes + (k->wf_open ? 1 : 0); i++)
        if (k->sc[i].kind != SC_LOCK && k->sc[i].fired)
            return ETIMEDOUT;
    return 0;
}

static void fire_scope(int t, int i)
{
    T[t].sc[i].armed = false;
    T[t].sc[i].fired = true;
    if (i >= shield_at(t)) /* else held back until the shield closes */
        interrupt(t, ETIMEDOUT);
}

/* Timeouts and shields open: a timer slot each (held locks take none). */
static int timed_depth(int t)
{
    int i, n = 0;
    for (i = 0; i < T[t].nscopes; i++)
        n += T[t].sc[i].kind != SC_LOCK;
    return n;
}

/* ---- tasks ---- */

static int cancel(int j);
static void cancel_task(int j)
{
    (void)cancel(j);
}

static int cancel(int j)
{
    if (T[j].state == S_IDLE)
        return misuse(EINVAL);
    if (T[j].state == S_DONE)
        return EDONE;
    if (T[j].cancel)
        return EALREADY;
    T[j].cancel = true;
    model_stat[ST_CANCELS]++;
    if (shield_at(j) < 0) /* else held back until the shield closes */
        interrupt(j, ECANCELED);
    return 0;
}

static bool busy(int j)
{
    return (T[j].state != S_IDLE && T[j].state != S_DONE) || T[j].group >= 0;
}

/* No uncancellable wait while holding a lock it may need: see real.c. */
static bool holds_lock(int t, int except)
{
    int k;
    for (k = 0; k < NLOCK; k++)
        if (k != except && (T[t].holds[k] || T[t].wholds[k]))
            return true;
    return false;
}

/* Waits form no cycle: see real.c. */
static bool running_member_at_or_below(int g, int self)
{
    int j;
    for (j = 0; j <= self && j < P->nact; j++)
        if (T[j].group == g && T[j].state != S_DONE)
            return true;
    return false;
}

static bool waiter_at_or_above(int g, int j)
{
    int x;
    for (x = j; x < P->nact; x++)
        if (T[x].in_op &&
            (T[x].lf->ops[T[x].pc].kind == OP_G_WAIT || T[x].lf->ops[T[x].pc].kind == OP_G_WAIT_ERR) &&
            T[x].lf->ops[T[x].pc].obj % NGROUP == g)
            return true;
    return false;
}

static int start(int j)
{
    struct mtask *k = &T[j];
    if (busy(j))
        return misuse(EBUSY);
    k->state = S_READY;
    k->cancel = k->started = k->drain = k->woken = k->handed = false;
    k->joiner = -1;
    k->watch = -1;
    k->group = -1;
    k->wkind = W_NONE;
    k->lf = life_of(P, j, k->spawns);
    k->life = k->spawns++;
    k->pc = 0;
    k->fresh = true;
    k->in_op = false;
    push(&runq, j);
    return 0;
}

static void group_cancel_all(int g, int *count)
{
    int i, n = 0;
    for (i = 0; i < G[g].count; i++)
        n += cancel(G[g].slots[i]) == 0;
    if (count)
        *count = n;
}

static void member_done(int g, int t, int rc)
{
    G[g].running--;
    push(&G[g].done, t);
    if (rc < 0 && rc != ECANCELED && G[g].error == 0) {
        G[g].error = rc;
        if (g == 1) /* group 1 is a TaskGroup */
            group_cancel_all(g, NULL);
    }
    if (G[g].running == 0 || G[g].wait_any || (G[g].wait_err && G[g].error))
        wake(G[g].waiter, 0);
}

static void handle_due(int h)
{
    H[h].state = H_DUE;
    push(&hdue, h);
}

/* A handle's callback runs (see real.c: handle 0's schedules handle 1). */
static void handle_run(int h)
{
    H[h].state = H_IDLE;
    progress = true; /* like a post: pollers re-check */
    emit(E_CALL, -1, 0, h, 0, 0);
    if (h == 0 && H[1].state == H_IDLE)
        handle_due(1);
}

static void finish(int t, int rc)
{
    struct mtask *k = &T[t];
    k->state = S_DONE;
    k->result = rc;
    k->woken = k->drain = k->handed = false;
    k->in_op = false;
    if (k->group >= 0) {
        member_done(k->group, t, rc);
    } else if (k->watch >= 0) { /* its done callback runs at the next pass */
        handle_due(k->watch);
        k->watch = -1;
    } else if (k->joiner >= 0) {
        int j = k->joiner;
        k->joiner = -1;
        wake(j, rc);
    }
}

static int reap_one(int g)
{
    int t, i = 0;
    if (G[g].done.n == 0)
        return -1;
    t = pop(&G[g].done);
    while (G[g].slots[i] != t)
        i++;
    G[g].slots[i] = G[g].slots[--G[g].count];
    T[t].group = -1;
    return t;
}

static int group_park(int g, int t, bool any, bool err)
{
    G[g].wait_any = any;
    G[g].wait_err = err;
    G[g].waiter = t;
    suspend(t, W_GROUP, g);
    return PENDING;
}

/* A wait that sees no member running empties the group for its next use. */
static int group_emptied(int g, int r)
{
    while (reap_one(g) >= 0)
        ;
    G[g].error = 0;
    return r;
}

/* ---- primitives ---- */

static void lock_pass(int k)
{
    lock_owner[k] = lock_w[k].n ? lock_w[k].v[0] : -1;
    if (lock_owner[k] >= 0) {
        T[lock_owner[k]].handed = true; /* owned, but unlocked until it runs */
        wake(lock_owner[k], 0);
    }
}

static int lock_release(int t, int k)
{
    if (lock_owner[k] < 0 || lock_owner[k] != t)
        return misuse(EPERM);
    lock_pass(k);
    return 0;
}

static int lock_try(int t, int k)
{
    if (t < 0 || lock_owner[k] == t)
        return misuse(t < 0 ? EPERM : EDEADLK);
    if (lock_owner[k] >= 0)
        return EAGAIN;
    lock_owner[k] = t;
    return 0;
}

static unsigned q_avail(int q, int side)
{
    return side ? (unsigned)(P->qcap[q] - (unsigned)Q[q].count) : (unsigned)Q[q].count;
}

/* The item a get takes: the oldest (FIFO), the newest (LIFO), or the
 * oldest of the smallest priority.                                      */
static int q_pick(int q)
{
    int i, best = 0;
    if (P->qkind[q] == Q_LIFO)
        return Q[q].count - 1;
    if (P->qkind[q] == Q_PRIO)
        for (i = 1; i < Q[q].count; i++)
            if (item_prio(Q[q].items[i]) < item_prio(Q[q].items[best]))
                best = i;
    return best;
}

static void q_move(int q, int side, int *item)
{
    if (side) {
        Q[q].items[Q[q].count++] = *item;
        qunf[q]++;
    } else {
        int i = q_pick(q);
        *item = Q[q].items[i];
        memmove(Q[q].items + i, Q[q].items + i + 1, sizeof(int) * (size_t)(--Q[q].count - i));
    }
    side = !side;
    while (q_avail(q, side) > Q[q].held[side] && Q[q].w[side].n) {
        wake(Q[q].w[side].v[0], 0);
        Q[q].held[side]++;
    }
}

static int q_try(int q, int side, int *item)
{
    if (Q[q].closed && (side || (unsigned)Q[q].count <= Q[q].held[0]))
        return ECLOSED;
    if (q_avail(q, side) <= Q[q].held[side])
        return EAGAIN;
    q_move(q, side, item);
    return 0;
}

static void q_close(int q)
{
    Q[q].closed = true;
    while (Q[q].w[1].n)
        wake(Q[q].w[1].v[0], ECLOSED);
    while (Q[q].w[0].n)
        wake(Q[q].w[0].v[0], ECLOSED);
}

static int cond_notify(int c, unsigned n)
{
    unsigned woken = 0;
    while (woken < n && cond_w[c].n) {
        wake(cond_w[c].v[0], 0);
        woken++;
    }
    return (int)woken;
}

/* Operations that never suspend; t < 0 is the harness. */
static int immediate(int t, const struct op *o, int a, int life, int pc, int *val)
{
    int j = o->obj % P->nact, g = o->obj % NGROUP, s = o->obj % NSEM, n;
    switch (o->kind) {
    case OP_EV_SET:
        ev_set[o->obj % NEV] = true;
        while (ev_w[o->obj % NEV].n)
            wake(ev_w[o->obj % NEV].v[0], 0);
        return 0;
    case OP_EV_CLEAR:
        ev_set[o->obj % NEV] = false;
        return 0;
    case OP_SEM_REL:
        if (sem_w[s].n) {
            wake(sem_w[s].v[0], 0);
            return 0;
        }
        if (P->sem_max[s] && sem_count[s] >= P->sem_max[s])
            return misuse(EOVERFLOW);
        sem_count[s]++;
        return 0;
    case OP_SEM_TRY:
        if (sem_count[s] == 0)
            return EAGAIN;
        sem_count[s]--;
        return 0;
    case OP_LOCK_REL:
        n = lock_release(t, o->obj % NLOCK);
        if (n == 0 && t >= 0)
            T[t].holds[o->obj % NLOCK] = false;
        return n;
    case OP_LOCK_LOCKED: /* handed to a waiter that has not run: free */
        n = lock_owner[o->obj % NLOCK];
        *val = n >= 0 && !T[n].handed;
        return 0;
    case OP_LOCK_TRY:
        n = lock_try(t, o->obj % NLOCK);
        if (n == 0 && t >= 0)
            T[t].holds[o->obj % NLOCK] = true;
        return n;
    case OP_Q_TRYPUT: {
        int item = item_value(a, life, pc);
        return q_try(o->obj % NQ, 1, &item);
    }
    case OP_Q_TRYGET: {
        int item = 0;
        n = q_try(o->obj % NQ, 0, &item);
        if (n == 0)
            *val = item;
        return n;
    }
    case OP_Q_CLOSE:
        q_close(o->obj % NQ);
        return 0;
    case OP_SPAWN:
        return start(j);
    case OP_CANCEL:
        return cancel(j);
    case OP_G_SPAWN:
        j = o->arg % P->nact;
        if (waiter_at_or_above(g, j))
            return 1;
        if (G[g].count == GROUP_CAP)
            return ENOSPC;
        if (g == 1 && G[g].error)
            return ECANCELED;
        if ((n = start(j)) < 0)
            return n;
        T[j].group = g;
        G[g].slots[G[g].count++] = j;
        G[g].running++;
        return 0;
    case OP_G_REAP:
        n = 0;
        while (reap_one(g) >= 0)
            n++;
        return n;
    case OP_G_CANCEL:
        group_cancel_all(g, &n);
        return n;
    case OP_COND_NOTIFY: /* the caller must hold the lock */
        if (t < 0 || lock_owner[o->obj % NCOND] != t)
            return misuse(EPERM);
        return cond_notify(o->obj % NCOND, 1u + o->arg % 2u);
    case OP_COND_NOTIFY_ALL:
        if (t < 0 || lock_owner[o->obj % NCOND] != t)
            return misuse(EPERM);
        return cond_notify(o->obj % NCOND, ~0u);
    case OP_POST:
        if (post_queued)
            return EALREADY;
        post_queued = true;
        return 0;
    case OP_N_GIVE:
        note_given++;
        note_queued = true;
        return 0;
    case OP_X_FIRE: /* 1 if a parked task was woken */
        n = xs_task[o->obj % NXS];
        if (n < 0)
            return 0;
        wake(n, fut_value(o));
        return 1;
    case OP_FUT_SET:
        n = o->obj % NFUT;
        if (fut_done[n])
            return misuse(EALREADY);
        fut_done[n] = true;
        fut_result[n] = fut_value(o);
        while (fut_w[n].n)
            wake(fut_w[n].v[0], fut_result[n]);
        return 0;
    case OP_BAR_ABORT:
    case OP_BAR_RESET:
        bar_broken = o->kind == OP_BAR_ABORT;
        while (bar_w.n)
            wake(bar_w.v[0], EBROKEN);
        return 0;
    case OP_Q_DONE:
        n = o->obj % NQ;
        if (qunf[n] == 0)
            return misuse(EOVERFLOW);
        if (--qunf[n] == 0)
            while (qjoin_w[n].n)
                wake(qjoin_w[n].v[0], 0);
        return 0;
    case OP_CALL_SOON:
        n = o->obj % NH;
        if (H[n].state != H_IDLE)
            return misuse(EBUSY);
        handle_due(n);
        return 0;
    case OP_CALL_LATER: { /* the clock is read first, whatever follows */
        uint32_t ticks;
        n = o->obj % NH;
        ticks = timer_ticks(P->nact, 0, 5 + n, arm(), o->d);
        if (H[n].state != H_IDLE)
            return misuse(EBUSY);
        H[n].state = H_TIMER;
        H[n].deadline = lnow + ticks;
        return 0;
    }
    case OP_H_CANCEL:
        n = o->obj % NH;
        if (H[n].state == H_IDLE)
            return EALREADY;
        if (H[n].state == H_DUE)
            removev(&hdue, n);
        if (H[n].state == H_WATCH)
            T[H[n].task].watch = -1;
        H[n].state = H_IDLE;
        return 0;
    case OP_ON_DONE:
        n = o->arg % NH;
        if (T[j].state == S_IDLE || H[n].state != H_IDLE)
            return misuse(EINVAL);
        if (T[j].state == S_DONE) {
            handle_due(n);
            return 0;
        }
        if (T[j].joiner >= 0 || T[j].group >= 0 || T[j].watch >= 0)
            return misuse(EBUSY);
        H[n].state = H_WATCH;
        H[n].task = j;
        T[j].watch = n;
        return 0;
    default:
        return 1;
    }
}

/* async_gather of the actors obj and arg (a two-task array; one actor
 * may be listed twice).  Each call checks both from the last, so that
 * the first problem in array order is the one reported: a never-spawned
 * task (EINVAL), the waiting task itself (EDEADLK), or one that
 * something else joins (EBUSY).  It takes the first error other than a
 * cancellation in array order, and waits in the first unfinished one's
 * joiner slot, as a join does.  An interruption cancels both listed tasks
 * (again at each call) and, once both have finished, is what the wait
 * reports; `drained` says one came while it was parked.                 */
static int gather_scan(int t, const struct op *o, bool drained)
{
    int list[2], i, err = 0, next = -1;

    list[0] = o->obj % P->nact;
    list[1] = o->arg % P->nact;
    for (i = 1; i >= 0; i--) {
        int j = list[i];
        if (T[j].state == S_IDLE)
            return misuse(EINVAL);
        if (T[j].state == S_DONE) {
            if (T[j].result < 0 && T[j].result != ECANCELED)
                err = T[j].result;
        } else if (j == t) {
            return misuse(EDEADLK);
        } else if (T[j].joiner >= 0 || T[j].group >= 0 || T[j].watch >= 0) {
            return misuse(EBUSY);
        } else {
            next = j;
        }
    }
    if (next < 0)
        return drained ? icode(t) : err;
    if (icode(t)) {
        T[t].drain = true;
        cancel_task(list[0]);
        cancel_task(list[1]);
    }
    T[next].joiner = t;
    suspend(t, W_JOIN, next);
    return PENDING;
}

/* ---- awaits: begin (first call) and resume (after a wake-up) ---- */

static int op_begin(int t, const struct op *o)
{
    struct mtask *k = &T[t];
    int j = o->obj % P->nact, q = o->obj % NQ, g = o->obj % NGROUP, x;
    uint32_t ticks;

    switch (o->kind) {
    case OP_SLEEP:
        ticks = timer_ticks(P->nact, t, 0, arm(), o->d);
        if (ticks == 0) {
            give_way(t);
        } else {
            suspend(t, W_TIMER, 0);
            k->wake_at = lnow + ticks;
            k->armed = true;
        }
        return PENDING;
    case OP_UNTIL: /* under await_for: an op like any other */
        if (ev_set[o->obj % NEV])
            return 0;
        wait_on(t, &pollers, W_POLL, 0);
        return PENDING;
    case OP_EV_WAIT:
        if (ev_set[o->obj % NEV])
            return 0;
        wait_on(t, &ev_w[o->obj % NEV], W_EVENT, o->obj % NEV);
        return PENDING;
    case OP_SEM_ACQ:
        x = o->obj % NSEM;
        if (sem_count[x]) {
            sem_count[x]--;
            return 0;
        }
        wait_on(t, &sem_w[x], W_SEM, x);
        return PENDING;
    case OP_LOCK_ACQ:
    case OP_WLOCK:
        x = lock_try(t, o->obj % NLOCK);
        if (x != EAGAIN)
            return x;
        wait_on(t, &lock_w[o->obj % NLOCK], W_LOCK, o->obj % NLOCK);
        return PENDING;
    case OP_Q_PUT:
    case OP_Q_GET: {
        int side = o->kind == OP_Q_PUT, item = item_value(t, k->life, k->pc);
        x = q_try(q, side, &item);
        if (x == EAGAIN) {
            wait_on(t, &Q[q].w[side], side ? W_QPUT : W_QGET, q);
            return PENDING;
        }
        if (x == 0 && !side)
            k->oval = item; /* an item was taken */
        return x;
    }
    case OP_GATHER:
        return gather_scan(t, o, false);
    case OP_JOIN:
        if (T[j].state == S_IDLE || j == t)
            return misuse(j == t ? EDEADLK : EINVAL);
        if (T[j].state == S_DONE)
            return T[j].result;
        if (T[j].joiner >= 0 || T[j].group >= 0 || T[j].watch >= 0)
            return misuse(EBUSY);
        T[j].joiner = t;
        suspend(t, W_JOIN, j);
        return PENDING;
    case OP_G_WAIT:
    case OP_G_WAIT_ERR:
        if (G[g].waiter >= 0)
            return misuse(EBUSY);
        if (G[g].running == 0)
            return group_emptied(g, G[g].error);
        if (o->kind == OP_G_WAIT_ERR && G[g].error)
            return G[g].error; /* gather: the first error at once */
        return group_park(g, t, false, o->kind == OP_G_WAIT_ERR);
    case OP_G_NEXT:
        if (G[g].waiter >= 0)
            return misuse(EBUSY);
        if ((x = reap_one(g)) >= 0) {
            k->oval = x + 1;
            return T[x].result; /* the member's result, errors included */
        }
        return G[g].running ? group_park(g, t, true, false) : ENOENT;
    case OP_COND_WAIT: /* release the lock, wait for a notify */
        x = o->obj % NCOND;
        if (lock_owner[x] != t)
            return misuse(EPERM);
        lock_pass(x);
        wait_on(t, &cond_w[x], W_COND, x);
        return PENDING;
    case OP_FUT_WAIT:
        x = o->obj % NFUT;
        if (fut_done[x])
            return fut_result[x];
        wait_on(t, &fut_w[x], W_FUT, x);
        return PENDING;
    case OP_N_TAKE:
        if (note_count) {
            note_count--;
            return 0;
        }
        wait_on(t, &note_w, W_NOTE, 0);
        return PENDING;
    case OP_X_WAIT: /* one task per source */
        x = o->obj % NXS;
        if (xs_task[x] >= 0)
            return EBUSY;
        xs_task[x] = t;
        suspend(t, W_XS, x);
        return PENDING;
    case OP_BAR_WAIT: /* counted, not remembered: a waiter that leaves counts no more */
        if (bar_broken)
            return EBROKEN;
        x = bar_w.n;
        if ((unsigned)x + 1u < P->bar_parties) {
            wait_on(t, &bar_w, W_BAR, 0);
            return PENDING;
        }
        for (j = 0; bar_w.n; j++) /* released in arrival order: 0 .. x-1 */
            wake(bar_w.v[0], j);
        return x;
    case OP_Q_JOIN:
        if (qunf[q] == 0)
            return 0;
        wait_on(t, &qjoin_w[q], W_QJOIN, q);
        return PENDING;
    }
    return EINVAL;
}

static int op_resume(int t, const struct op *o, int r)
{
    struct mtask *k = &T[t];
    int q = o->obj % NQ, g = o->obj % NGROUP, x;

    switch (o->kind) {
    case OP_LOCK_ACQ:
    case OP_WLOCK:
        k->handed = false; /* taken now */
        return r;
    case OP_Q_PUT:
    case OP_Q_GET: {
        int side = o->kind == OP_Q_PUT, item = item_value(t, k->life, k->pc);
        if (r != 0)
            return r;
        Q[q].held[side]--;
        q_move(q, side, &item);
        if (!side)
            k->oval = item;
        return 0;
    }
    case OP_GATHER: { /* woken by the end of the task it waited for: check both again */
        bool drained = k->drain;
        k->drain = false;
        return gather_scan(t, o, drained);
    }
    case OP_JOIN: /* woken by the joined task's end */
        if (k->drain) { /* interrupted meanwhile: the wait reports that */
            k->drain = false;
            return icode(t);
        }
        return r;
    case OP_G_WAIT: /* woken when the last running member finished */
    case OP_G_WAIT_ERR: /* ... or one failed */
        if (G[g].running == 0 && k->drain) {
            k->drain = false;
            return group_emptied(g, icode(t));
        }
        if (G[g].running == 0)
            return group_emptied(g, G[g].error);
        if (o->kind == OP_G_WAIT_ERR && G[g].error && !k->drain)
            return G[g].error;
        /* members were spawned meanwhile: wait again, first taking in an
         * interruption that came while the task was queued */
        if (icode(t) && !k->drain) {
            k->drain = true;
            group_cancel_all(g, NULL);
        }
        return group_park(g, t, false, o->kind == OP_G_WAIT_ERR);
    case OP_G_NEXT:
        if (r < 0)
            return r;
        if ((x = reap_one(g)) >= 0) {
            k->oval = x + 1;
            return T[x].result;
        }
        if (G[g].running && (r = icode(t)) < 0)
            return r; /* parking again: an interruption may be pending */
        return G[g].running ? group_park(g, t, true, false) : ENOENT;
    case OP_COND_WAIT: /* then re-take the lock, whatever happened */
        x = o->obj % NCOND;
        if (k->drain) { /* the lock was handed over */
            k->drain = false;
            k->handed = false;
            r = icode(t);
            if (r < 0 && k->notified) /* don't swallow the notification */
                cond_notify(x, 1);
            k->notified = false;
            return r;
        }
        if (lock_owner[x] < 0) {
            lock_owner[x] = t;
            return r;
        }
        k->drain = true;
        k->notified = r == 0;
        wait_on(t, &lock_w[x], W_LOCK, x);
        return PENDING;
    case OP_X_WAIT: /* a wake-up with nothing in it parks again; an
                     * interruption that came while queued wakes that park */
        if (r != XS_EMPTY)
            return r;
        x = o->obj % NXS;
        if (xs_task[x] >= 0)
            return EBUSY;
        xs_task[x] = t;
        suspend(t, W_XS, x);
        if ((r = icode(t)) != 0)
            interrupt(t, r);
        return PENDING;
    case OP_UNTIL: /* woken by an interruption, or re-checking */
        if (r == 0)
            r = icode(t);
        if (r < 0)
            return r;
        if (ev_set[o->obj % NEV])
            return 0;
        wait_on(t, &pollers, W_POLL, 0);
        return PENDING;
    default:
        return r;
    }
}

/* ---- the interpreter ---- */

/* Close scope i, the innermost: a held lock scope releases its lock. */
static int scope_close(int t)
{
    struct mtask *k = &T[t];
    struct scope *s = &k->sc[--k->nscopes];
    s->armed = false;
    if (s->kind == SC_LOCK) {
        k->wholds[s->lock] = false;
        return s->held ? lock_release(t, s->lock) : 0;
    }
    return s->fired ? ETIMEDOUT : 0;
}

static void life_end(int t, int rc)
{
    struct mtask *k = &T[t];
    int i;
    /* the cleanup section closes the scopes first, innermost first ... */
    while (k->nscopes)
        (void)scope_close(t);
    k->wf_open = false;
    /* ... then the script's own cleanup releases what it holds */
    for (i = 0; i < NLOCK; i++)
        if (k->holds[i] && lock_release(t, i) == 0)
            k->holds[i] = false;
    emit(E_END, t, k->life, k->pc, rc, 0);
    for (i = 0; i <= MAX_SCOPES; i++)
        k->sc[i].armed = false;
    finish(t, rc);
}

/* An await has produced r (not PENDING): close await_for's scope and
 * report, with the value it delivered (an item, a member). */
static void await_done(int t, const struct op *o, int r)
{
    struct mtask *k = &T[t];
    int val = k->oval;
    k->oval = 0;
    if (o->tmo && k->wf_open) {
        k->sc[k->nscopes].armed = false;
        k->wf_open = false;
        /* A result that arrived in time is kept, errors included (README:
         * "async_await_for returns the operation's own result when it
         * arrived in time"); an interrupted op reported ETIMEDOUT itself. */
    }
    if (o->kind == OP_LOCK_ACQ && r == 0)
        k->holds[o->obj % NLOCK] = true;
    if (o->kind == OP_WLOCK && r == 0) {
        k->sc[k->nscopes - 1].held = true;
        k->wholds[o->obj % NLOCK] = true;
    }
    if ((o->kind == OP_JOIN || o->kind == OP_GATHER) && T[o->obj % P->nact].joiner == t)
        T[o->obj % P->nact].joiner = -1;
    if (o->kind == OP_GATHER && T[o->arg % P->nact].joiner == t)
        T[o->arg % P->nact].joiner = -1;
    if ((o->kind == OP_G_WAIT || o->kind == OP_G_WAIT_ERR || o->kind == OP_G_NEXT) &&
        G[o->obj % NGROUP].waiter == t)
        G[o->obj % NGROUP].waiter = -1;
    emit(E_OP, t, k->life, k->pc, r, val);
    k->pc++;
}

/* Start the await of op o.  Returns true if the task suspended. */
static bool await_start(int t, const struct op *o)
{
    struct mtask *k = &T[t];
    int r;

    if (o->kind == OP_WLOCK) { /* the lock scope opens first, whatever follows */
        struct scope *s = &k->sc[k->nscopes++];
        s->kind = SC_LOCK;
        s->lock = o->obj % NLOCK;
        s->held = s->armed = s->fired = false;
    }
    r = icode(t);
    if (o->tmo && r == 0) {
        uint32_t ticks = timer_ticks(P->nact, t, timed_depth(t) + 1, arm(), o->td);
        struct scope *s = &k->sc[k->nscopes];
        k->wf_open = true;
        s->kind = SC_TIMEOUT;
        s->deadline = lnow + ticks;
        s->armed = ticks > 0;
        s->fired = ticks == 0;
        r = icode(t);
    }
    k->oval = 0;
    if (r == 0)
        r = op_begin(t, o);
    if (r == PENDING) {
        k->in_op = true;
        model_stat[ST_SUSPENDS]++;
        return true;
    }
    await_done(t, o, r);
    return false;
}

static int scope_open(int t, int kind, unsigned d)
{
    struct mtask *k = &T[t];
    uint32_t ticks;
    struct scope *s;
    if (k->nscopes >= MAX_SCOPES)
        return 1;
    ticks = timer_ticks(P->nact, t, timed_depth(t) + 1, arm(), d);
    s = &k->sc[k->nscopes++];
    s->kind = kind;
    s->deadline = lnow + ticks;
    s->armed = ticks > 0;
    s->fired = ticks == 0;
    return 0;
}

/* T_END, SH_END, WLOCK_END: the innermost scope, of that kind. */
static int scope_end(int t, int kind)
{
    struct mtask *k = &T[t];
    if (k->nscopes == 0)
        return 1;
    if (k->sc[k->nscopes - 1].kind != kind)
        return misuse(EINVAL);
    return scope_close(t);
}

static void run(int t)
{
    struct mtask *k = &T[t];
    while (k->pc < k->lf->n) {
        const struct op *o = &k->lf->ops[k->pc];
        int r, val = 0;
        n_ops++;
        model_stat[ST_SCRIPT]++;
        if (o->kind == OP_YIELD) { /* like asyncio's sleep(0): it gives way
                                      first and reports an interruption on
                                      resuming */
            give_way(t);
            k->in_op = true;
            return;
        }
        if (o->kind == OP_UNTIL && !o->tmo) { /* async_await_until: propagates */
            r = icode(t);
            if (r < 0) {
                life_end(t, r);
                return;
            }
            if (!ev_set[o->obj % NEV]) {
                wait_on(t, &pollers, W_POLL, 0);
                k->in_op = true;
                return;
            }
            emit(E_OP, t, k->life, k->pc, 0, 0);
            k->pc++;
            continue;
        }
        if ((o->kind == OP_JOIN && (o->obj % P->nact < t || holds_lock(t, -1))) ||
            (o->kind == OP_GATHER && (o->obj % P->nact < t || o->arg % P->nact < t ||
                                      holds_lock(t, -1))) ||
            ((o->kind == OP_G_WAIT || o->kind == OP_G_WAIT_ERR) &&
             (running_member_at_or_below(o->obj % NGROUP, t) || holds_lock(t, -1))) ||
            (o->kind == OP_COND_WAIT && holds_lock(t, o->obj % NCOND)) ||
            (o->kind == OP_G_NEXT && T[t].group == o->obj % NGROUP) ||
            (o->kind == OP_WLOCK && (k->nscopes >= MAX_SCOPES || o->tmo))) {
            emit(E_OP, t, k->life, k->pc, 1, 0); /* skipped: it could close a cycle */
            k->pc++;
            continue;
        }
        if (op_is_await(o->kind)) {
            if (await_start(t, o))
                return;
            continue;
        }
        switch (o->kind) {
        case OP_T_BEGIN:
            r = scope_open(t, SC_TIMEOUT, o->d);
            break;
        case OP_SH_BEGIN:
            r = scope_open(t, SC_SHIELD, o->d);
            break;
        case OP_T_END:
            r = scope_end(t, SC_TIMEOUT);
            break;
        case OP_SH_END:
            r = scope_end(t, SC_SHIELD);
            break;
        case OP_WLOCK_END:
            r = scope_end(t, SC_LOCK);
            break;
        case OP_T_END_BAD:
            r = k->nscopes >= 2 ? misuse(EINVAL) : 1;
            break;
        case OP_BUSY: /* computing: time moves under the step */
            vnow += o->d;
            r = 0;
            break;
        default:
            r = immediate(t, o, t, k->life, k->pc, &val);
            break;
        }
        emit(E_OP, t, k->life, k->pc, r, val);
        k->pc++;
    }
    life_end(t, k->lf->ret);
}

static void step(int t)
{
    struct mtask *k = &T[t];
    bool was_recheck = k->recheck;
    if (k->cancel && !k->started) {
        finish(t, ECANCELED);
        return;
    }
    k->recheck = false;
    k->started = true;
    k->state = S_RUNNING;
    model_stat[ST_STEPS]++;
    cur_task = t;
    emit(E_STEP, t, k->life, k->pc, 0, 0);
    if (k->fresh) {
        k->fresh = false;
        k->nscopes = 0;
        k->wf_open = false;
        memset(k->holds, 0, sizeof k->holds);
        memset(k->wholds, 0, sizeof k->wholds);
    } else if (k->in_op) {
        const struct op *o = &k->lf->ops[k->pc];
        int r = k->wresult;
        k->woken_now = k->woken;
        k->in_op = false;
        k->woken = false;
        if (!k->woken_now)
            r = 0;
        if (o->kind == OP_YIELD) {
            if (r == 0)
                r = icode(t);
            if (r < 0) {
                life_end(t, r);
                goto out;
            }
            emit(E_OP, t, k->life, k->pc, 0, 0);
            k->pc++;
        } else if (o->kind == OP_UNTIL && !o->tmo) {
            /* a re-check reports an interruption that came meanwhile */
            if (r == 0)
                r = icode(t);
            if (r < 0) {
                was_recheck = false; /* the task runs on: progress */
                life_end(t, r);
                goto out;
            }
            if (!ev_set[o->obj % NEV]) {
                wait_on(t, &pollers, W_POLL, 0);
                k->in_op = true;
                goto out;
            }
            was_recheck = false; /* passed: what runs next is progress */
            emit(E_OP, t, k->life, k->pc, 0, 0);
            k->pc++;
        } else {
            r = op_resume(t, o, r);
            if (r == PENDING) {
                k->in_op = true;
                goto out;
            }
            was_recheck = false; /* a re-check passed or interrupted */
            await_done(t, o, r);
        }
    }
    run(t);
out:
    cur_task = -1;
    /* anything but a re-check that stayed false (the same wait, parked
     * again) may have changed what other conditions depend on */
    if (!(was_recheck && k->state == S_WAITING && k->wkind == W_POLL))
        progress = true;
}

/* ---- timers and passes ---- */

/* The earliest armed timer: a sleep (scope -1) or a scope of task *t,
 * or a handle's call_later (scope -2, handle *t). */
static bool next_timer(int *t, int *scope, int64_t *when)
{
    int i, s;
    bool found = false;
    for (i = 0; i < NH; i++)
        if (H[i].state == H_TIMER && (!found || H[i].deadline < *when)) {
            found = true;
            *t = i;
            *scope = -2;
            *when = H[i].deadline;
        }
    for (i = 0; i < P->nact; i++) {
        const struct mtask *k = &T[i];
        if (k->state == S_WAITING && k->wkind == W_TIMER && k->armed &&
            (!found || k->wake_at < *when)) {
            found = true;
            *t = i;
            *scope = -1;
            *when = k->wake_at;
        }
        for (s = 0; s < k->nscopes + (k->wf_open ? 1 : 0); s++)
            if (k->sc[s].armed && (!found || k->sc[s].deadline < *when)) {
                found = true;
                *t = i;
                *scope = s;
                *when = k->sc[s].deadline;
            }
    }
    return found;
}

static int pass(void)
{
    int t, s, n, i;
    int64_t when;

    lnow = vnow;
    if (post_queued || note_queued) {
        post_queued = false;
        /* what a post's call did may be what a condition waits for */
        progress = true;
    }
    if (note_queued) { /* the notification's post: release each permit */
        note_queued = false;
        for (; note_given; note_given--) {
            if (note_w.n)
                wake(note_w.v[0], 0);
            else
                note_count++;
        }
    }
    /* the due list: callbacks made due since the last pass, in order ... */
    for (n = hdue.n; n > 0; n--)
        handle_run(pop(&hdue));
    /* ... then what expires now, in deadline order */
    while (next_timer(&t, &s, &when) && when <= lnow) {
        if (s == -2) {
            handle_run(t);
        } else if (s < 0) {
            T[t].armed = false;
            wake(t, 0);
            model_stat[ST_SLEEPS_FIRED]++;
        } else {
            fire_scope(t, s);
            model_stat[ST_SCOPES_FIRED]++;
        }
    }
    n = runq.n;
    for (i = 0; i < n; i++)
        step(pop(&runq));
    if (n == 0) {
        model_stat[ST_IDLE_PASSES]++;
    } else {
        int rounds, m;
        for (rounds = 1; rounds < ROUNDS && runq.n > 0; rounds++) {
            m = runq.n; /* a round: what the one before readied */
            for (i = 0; i < m; i++)
                step(pop(&runq));
            n += m;
        }
        while (yieldq.n > 0)
            push(&runq, pop(&yieldq));
    }
    if (progress) { /* pollers re-check their conditions next pass */
        progress = false;
        while (pollers.n) {
            t = pop(&pollers);
            T[t].recheck = true;
            T[t].state = S_READY;
            T[t].wkind = W_NONE;
            push(&runq, t);
        }
    }
    return n;
}

/* ---- the side interface ---- */

static void ref_start(const struct prog *p)
{
    int i;
    P = p;
    memset(T, 0, sizeof T);
    for (i = 0; i < MAX_ACTORS; i++) {
        T[i].group = T[i].joiner = T[i].watch = -1;
    }
    runq.n = yieldq.n = 0;
    vnow = lnow = 0;
    cur = NULL;
    n_ops = 0;
    memset(ev_set, 0, sizeof ev_set);
    memset(ev_w, 0, sizeof ev_w);
    memset(sem_w, 0, sizeof sem_w);
    memset(lock_w, 0, sizeof lock_w);
    memset(&pollers, 0, sizeof pollers);
    memset(cond_w, 0, sizeof cond_w);
    memset(fut_w, 0, sizeof fut_w);
    memset(fut_done, 0, sizeof fut_done);
    progress = post_queued = false;
    memset(Q, 0, sizeof Q);
    memset(G, 0, sizeof G);
    for (i = 0; i < NSEM; i++)
        sem_count[i] = p->sem_init[i];
    for (i = 0; i < NLOCK; i++)
        lock_owner[i] = -1;
    for (i = 0; i < NGROUP; i++)
        G[i].waiter = -1;
    for (i = 0; i < NXS; i++)
        xs_task[i] = -1;
    note_given = note_count = 0;
    note_queued = false;
    memset(&note_w, 0, sizeof note_w);
    memset(&bar_w, 0, sizeof bar_w);
    memset(qjoin_w, 0, sizeof qjoin_w);
    memset(&hdue, 0, sizeof hdue);
    memset(qunf, 0, sizeof qunf);
    memset(H, 0, sizeof H);
    bar_broken = false;
}

/* async_loop_task_count: spawned and not finished. */
static unsigned live_tasks(void)
{
    unsigned n = 0;
    int j;
    for (j = 0; j < MAX_ACTORS; j++)
        n += T[j].state == S_READY || T[j].state == S_WAITING || T[j].state == S_RUNNING;
    return n;
}

/* async_loop_has_work: a task is ready or a post is queued (due timers
 * never outlive a pass). */
static bool loop_pending(void)
{
    return runq.n > 0 || post_queued || note_queued || hdue.n > 0;
}

/* async_run(L, NULL, NULL) on an autojump clock: passes until no task is
 * left (0); when nothing is ready, time jumps to the next deadline, and
 * with none the run ends (EDEADLK).  A wheel may stop the real clock at
 * refile points on the way: passes that step nothing, so not seen.     */
static int run_all(void)
{
    int t, s;
    int64_t when;
    for (;;) {
        pass();
        if (live_tasks() == 0)
            return 0;
        if (loop_pending())
            continue;
        if (!next_timer(&t, &s, &when))
            return EDEADLK;
        if (when > vnow)
            vnow = when;
    }
}

static void ref_action(const struct prog *p, int i, struct evbuf *out)
{
    const struct action *ac = &p->actions[i];
    cur = out;
    if (ac->kind == ACT_EXT) {
        int val = 0, rc = immediate(-1, &ac->op, p->nact, 0, i, &val);
        emit(E_EXT, -1, 0, i, rc, val);
        n_ops++;
    } else if (ac->kind == ACT_RUN) {
        emit(E_EXT, -1, 0, i, run_all(), 0);
        n_ops++;
    } else {
        if (ac->kind == ACT_ADVANCE)
            vnow += ac->d;
        if (pass() > 0)
            n_ops++;
    }
    cur = NULL;
}

static bool ref_drain(const struct prog *p, struct evbuf *out)
{
    int j;
    bool all_done = true;
    cur = out;
    for (j = 0; j < p->nact; j++)
        if (T[j].state != S_IDLE && T[j].state != S_DONE)
            all_done = false;
    for (j = 0; j < p->nact; j++)
        if (T[j].state != S_IDLE && T[j].state != S_DONE) {
            all_done = false;
            emit(E_EXT, j, 0, -1, cancel(j), 0);
        }
    if (!all_done) {
        vnow += DRAIN_TICKS; /* shielded waits end by their deadlines */
        pass();
    }
    cur = NULL;
    return all_done;
}

static void ref_snapshot(const struct prog *p, struct snap *s)
{
    int i, t, sc;
    int64_t when;
    memset(s, 0, sizeof *s);
    for (i = 0; i < p->nact; i++) {
        s->state[i] = T[i].state;
        s->cancelled[i] = T[i].state != S_IDLE && T[i].cancel;
        s->result[i] = T[i].state == S_DONE ? T[i].result : 0;
    }
    s->ntasks = live_tasks();
    for (i = 0; i < NEV; i++)
        s->ev_set[i] = ev_set[i];
    for (i = 0; i < NSEM; i++)
        s->sem[i] = sem_count[i];
    for (i = 0; i < NLOCK; i++) /* a lock handed to a waiter reads unlocked */
        s->locked[i] = lock_owner[i] >= 0 && !T[lock_owner[i]].handed;
    for (i = 0; i < NQ; i++) {
        s->qsize[i] = (unsigned)Q[i].count;
        s->qclosed[i] = Q[i].closed;
    }
    for (i = 0; i < NGROUP; i++)
        s->grunning[i] = (unsigned)G[i].running;
    for (i = 0; i < NFUT; i++)
        s->fut[i] = fut_done[i] ? fut_result[i] : 1;
    s->note = note_count;
#if MODEL_EXTRAS
    s->bar_waiting = (unsigned)bar_w.n;
    s->bar_broken = bar_broken;
    for (i = 0; i < NQ; i++)
        s->qunfinished[i] = qunf[i];
    for (i = 0; i < NH; i++)
        s->hpending[i] = H[i].state != H_IDLE;
#endif
    s->pending = loop_pending();
    s->timers = next_timer(&t, &sc, &when);
    s->next_deadline = s->timers ? when : 0;
    if (hdue.n) { /* callbacks due: the deadline is now */
        s->timers = 1;
        s->next_deadline = lnow;
    }
    s->now = lnow;
}

static unsigned long ref_ops(void)
{
    return n_ops;
}

const struct side ref_side = {"model", ref_start, ref_action, ref_drain, ref_snapshot, ref_ops};
