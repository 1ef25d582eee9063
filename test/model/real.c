/* SPDX-License-Identifier: MIT */
/* The real side: a generated program run on async.h with a virtual clock.
 *
 * Every actor is one task whose coroutine interprets its life's script.
 * Everything an actor must remember across an await lives in its frame
 * (struct actor); object indices are recomputed from the script after
 * each await instead of being kept in locals.                           */
#include "prog.h"
#include <string.h>

static struct evbuf *cur;          /* where events go right now */
static unsigned long n_ops;

static void model_misuse(int code)
{
    if (cur)
        evbuf_add(cur, E_MISUSE, -1, 0, 0, code, 0);
}

#define ASYNC_CONF_ON_MISUSE(L, code, file, line) model_misuse(code)
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"

/* The actor's open scopes, innermost last: what kind each is, and for
 * a held lock which one.                                                */
enum { SC_TIMEOUT, SC_SHIELD, SC_LOCK };

struct actor {
    async_task task;
    async_co co;
    int id, life, spawns;
    const struct life *lf;
    int pc, rc, val, item, k;
    int gwaiting;  /* 1 + the group waited for, while in async_group_wait */
    int member_of; /* 1 + the group this life was spawned into         */
    async_tick ticks, tticks;
    int nscopes;
    int sckind[MAX_SCOPES], sclock[MAX_SCOPES];
    async_timeout scopes[MAX_SCOPES];
    async_timeout wf;
    bool holds[NLOCK];  /* acquired with async_lock_acquire/try        */
    bool wholds[NLOCK]; /* held by a scope (async_with_lock)           */
    async_task *done;
    async_task *gathered[2]; /* OP_GATHER's array: kept across its wait */
};

static const struct prog *P;
static async_vclock VC;
static async_loop L0;
static struct actor A[MAX_ACTORS];
static async_event EVS[NEV];
static async_sem SEMS[NSEM];
static async_lock LOCKS[NLOCK];
#if MODEL_EXTRAS
static async_pqueue PQS[NQ]; /* every queue is a pqueue's: &PQS[i].q */
static unsigned qseq[NQ][QCAP_MAX];
static async_barrier BAR;
static async_handle HS[NH];
#define QS_(i) (PQS[i].q)
#else
static async_queue QS0[NQ];
#define QS_(i) (QS0[i])
#endif
static int qbuf[NQ][QCAP_MAX];
static async_group GS[NGROUP];
static async_cond CONDS[NCOND];
static async_call post_call; /* OP_POST: a call that does nothing */

static void post_noop(async_loop *L, async_call *self)
{
    (void)L;
    (void)self;
}

static async_future FUTS[NFUT];

/* An external wait source, written the way README "writing your own
 * awaitable" says: one task at a time, a detach() that only forgets it. */
struct xsrc {
    async_waiter w; /* first: the core hands this pointer back */
    async_task *task;
};
static struct xsrc XS[NXS];
static async_notify NOTE;

static void xsrc_detach(async_loop *L, async_waiter *self, async_task *t)
{
    struct xsrc *x = (struct xsrc *)(void *)self;
    (void)L;
    if (x->task == t) /* an interruption: forget the task */
        x->task = NULL;
}

static int xsrc_wait(async_loop *L, struct xsrc *x)
{
    int rc;
    if (async_woken(L, &rc) && rc != XS_EMPTY)
        return rc; /* XS_EMPTY: nothing for us, wait again */
    if (x->task)
        return ASYNC_EBUSY;
    rc = async_park(L, &x->w);
    if (rc == ASYNC_PENDING)
        x->task = async_current(L);
    return rc;
}

/* The source fires: 1 if it woke its task, 0 if none was parked. */
static int xsrc_fire(async_loop *L, struct xsrc *x, int value)
{
    async_task *t = x->task;
    if (t == NULL)
        return 0;
    x->task = NULL; /* first, so detach() sees our own wake-up */
    async_wake(L, t, value);
    return 1;
}
static async_task *gslots[NGROUP][GROUP_CAP];

static uint32_t rel_now(const async_loop *L)
{
    return (uint32_t)(async_tick)(async_now(L) - (async_tick)P->start);
}

/* The clock itself (relative): where a delay armed now counts from.      */
static uint32_t rel_vnow(void)
{
    return (uint32_t)(async_tick)(VC.now - (async_tick)P->start);
}

#if MODEL_EXTRAS
/* A callback reports itself; handle 0's also schedules handle 1 (a
 * chain: it must run at the next pass, not in this one).               */
static void handle_cb(async_loop *L, async_handle *h)
{
    evbuf_add(cur, E_CALL, -1, 0, (int)(h - HS), 0, 0);
    if (h == &HS[0] && !async_handle_is_pending(&HS[1]))
        async_call_soon(L, &HS[1], handle_cb);
}
#endif

static int actor_task(async_loop *L, async_task *self);

static int actor_index(const async_task *t)
{
    int i;
    for (i = 0; i < MAX_ACTORS; i++)
        if (t == &A[i].task)
            return i;
    return -1;
}

/* Waits form no cycle (a cycle of joins and group waits cannot be
 * cancelled: each side drains waiting for the other), so a task only
 * waits for tasks with a higher index: both sides skip the rest. */
static bool running_member_at_or_below(int g, int self)
{
    int j;
    for (j = 0; j <= self && j < P->nact; j++)
        if (A[j].member_of == g + 1 && async_task_state(&A[j].task) != ASYNC_TASK_DONE)
            return true;
    return false;
}

static bool waiter_at_or_above(int g, int j)
{
    int x;
    for (x = j; x < P->nact; x++)
        if (A[x].gwaiting == g + 1)
            return true;
    return false;
}

static void new_life(int j, int group)
{
    A[j].member_of = group;
    A[j].lf = life_of(P, j, A[j].spawns);
    A[j].life = A[j].spawns++;
    A[j].pc = 0;
}

/* Operations that never suspend, made by actor `self` (NULL: the
 * harness, outside any task).  (a, life, pc) name the op for items. */
static int immediate(async_loop *L, struct actor *self, const struct op *o, int a, int life, int pc,
                     int *val)
{
    int rc = 0, j = o->obj % P->nact;

    switch (o->kind) {
    case OP_EV_SET:
        async_event_set(L, &EVS[o->obj % NEV]);
        break;
    case OP_EV_CLEAR:
        async_event_clear(&EVS[o->obj % NEV]);
        break;
    case OP_SEM_REL:
        rc = async_sem_release(L, &SEMS[o->obj % NSEM]);
        break;
    case OP_SEM_TRY:
        rc = async_sem_try_acquire(&SEMS[o->obj % NSEM]);
        break;
    case OP_LOCK_REL:
        rc = async_lock_release(L, &LOCKS[o->obj % NLOCK]);
        if (rc == 0 && self)
            self->holds[o->obj % NLOCK] = false;
        break;
    case OP_LOCK_LOCKED:
        *val = async_lock_is_locked(&LOCKS[o->obj % NLOCK]);
        break;
    case OP_LOCK_TRY:
        rc = async_lock_try_acquire(L, &LOCKS[o->obj % NLOCK]);
        if (rc == 0 && self)
            self->holds[o->obj % NLOCK] = true;
        break;
    case OP_Q_TRYPUT: {
        int item = item_value(a, life, pc);
        rc = async_queue_try_put(L, &QS_(o->obj % NQ), &item);
        break;
    }
    case OP_Q_TRYGET: {
        int item = 0;
        rc = async_queue_try_get(L, &QS_(o->obj % NQ), &item);
        if (rc == 0)
            *val = item;
        break;
    }
    case OP_Q_CLOSE:
        async_queue_close(L, &QS_(o->obj % NQ));
        break;
    case OP_SPAWN:
        rc = async_spawn(L, &A[j].task, actor_task);
        if (rc == 0)
            new_life(j, 0);
        break;
    case OP_CANCEL:
        rc = async_cancel(L, &A[j].task);
        break;
    case OP_G_SPAWN:
        j = o->arg % P->nact;
        if (waiter_at_or_above(o->obj % NGROUP, j))
            return 1;
        rc = async_group_spawn(L, &GS[o->obj % NGROUP], &A[j].task, actor_task);
        if (rc == 0)
            new_life(j, o->obj % NGROUP + 1);
        break;
    case OP_G_REAP:
        rc = (int)async_group_reap(&GS[o->obj % NGROUP]);
        break;
    case OP_G_CANCEL:
        rc = (int)async_group_cancel(L, &GS[o->obj % NGROUP]);
        break;
    case OP_COND_NOTIFY:
        rc = (int)async_cond_notify(L, &CONDS[o->obj % NCOND], 1u + o->arg % 2u);
        break;
    case OP_COND_NOTIFY_ALL:
        rc = (int)async_cond_notify_all(L, &CONDS[o->obj % NCOND]);
        break;
    case OP_FUT_SET:
        rc = async_future_set(L, &FUTS[o->obj % NFUT], fut_value(o));
        break;
    case OP_POST:
        rc = async_post(L, &post_call);
        break;
    case OP_X_FIRE:
        rc = xsrc_fire(L, &XS[o->obj % NXS], fut_value(o));
        break;
    case OP_N_GIVE:
        async_notify_give(L, &NOTE);
        break;
#if MODEL_EXTRAS
    case OP_BAR_ABORT:
        async_barrier_abort(L, &BAR);
        break;
    case OP_BAR_RESET:
        async_barrier_reset(L, &BAR);
        break;
    case OP_Q_DONE:
        rc = async_queue_task_done(L, &QS_(o->obj % NQ));
        break;
    case OP_CALL_SOON:
        rc = async_call_soon(L, &HS[o->obj % NH], handle_cb);
        break;
    case OP_CALL_LATER:
        rc = async_call_later(L, &HS[o->obj % NH],
                              timer_ticks(P->nact, 0, 5 + o->obj % NH, rel_vnow(), o->d), handle_cb);
        break;
    case OP_H_CANCEL:
        rc = async_handle_cancel(L, &HS[o->obj % NH]);
        break;
    case OP_ON_DONE:
        rc = async_task_on_done(L, &A[j].task, &HS[o->arg % NH], handle_cb);
        break;
#endif
    default:
        rc = 1; /* nothing to do (a scope op outside a task, a nop) */
        break;
    }
    return rc;
}

#define OP (f->lf->ops[f->pc])
#define OBJ(n) (OP.obj % (n))
/* Await `expr` into f->rc, inside async_await_for when the op says so. */
#define AWAIT(expr)                                                                           \
    do {                                                                                      \
        if (OP.tmo) {                                                                         \
            f->tticks = timer_ticks(P->nact, f->id, timed_depth(f) + 1, rel_vnow(), OP.td);   \
            async_await_for(&f->wf, f->tticks, f->rc, expr);                                  \
        } else {                                                                              \
            async_await_rc(f->rc, expr);                                                      \
        }                                                                                     \
    } while (0)

/* Timeouts and shields open (held locks take no timer slot).            */
static int timed_depth(const struct actor *f)
{
    int i, n = 0;
    for (i = 0; i < f->nscopes; i++)
        n += f->sckind[i] != SC_LOCK;
    return n;
}

/* Close the innermost scope if it is of `kind`; else the core refuses. */
static int scope_end(async_loop *L, struct actor *f, int kind)
{
    int top = f->nscopes - 1, rc;
    async_co *co = &f->co;
    if (top < 0)
        return 1;
    /* the end macro of the kind asked for, on the innermost scope */
    if (kind == SC_TIMEOUT)
        rc = async__scope_end(L, co, &f->scopes[top], ASYNC__K_TIMEOUT);
    else if (kind == SC_SHIELD)
        rc = async__scope_end(L, co, &f->scopes[top], ASYNC__K_SHIELD);
#if MODEL_EXTRAS
    else
        rc = async__scope_end(L, co, &f->scopes[top], ASYNC__K_LOCKED);
#else
    else
        rc = 1;
#endif
    if (rc != ASYNC_EINVAL) {
        if (f->sckind[top] == SC_LOCK)
            f->wholds[f->sclock[top]] = false;
        f->nscopes--;
    }
    return rc;
}

/* No wait that cancellation cannot end (a join or group wait drains; a
 * condition wait re-takes its lock) while holding a lock such a wait may
 * need: both sides skip these (besides `except`, the condition's own).
 * A lock held by a scope counts too.                                     */
static bool holds_any(const struct actor *f, int except)
{
    int k;
    for (k = 0; k < NLOCK; k++)
        if (k != except && (f->holds[k] || f->wholds[k]))
            return true;
    return false;
}

static int actor_body(async_loop *L, struct actor *f)
{
    async_begin(L, &f->co);
    f->nscopes = 0;
    memset(f->holds, 0, sizeof f->holds);
    memset(f->wholds, 0, sizeof f->wholds);
    for (f->pc = 0; f->pc < f->lf->n; f->pc++) {
        f->rc = 0;
        f->val = 0;
        n_ops++;
        if (OP.kind == OP_SLEEP) {
            f->ticks = timer_ticks(P->nact, f->id, 0, rel_vnow(), OP.d);
            AWAIT(async_sleep(L, f->ticks));
        } else if (OP.kind == OP_YIELD) {
            async_await(async_yield()); /* an interruption propagates: the life ends */
        } else if (OP.kind == OP_UNTIL) {
            if (OP.tmo) /* an op like any other: no propagation */
                AWAIT(async_until(async_event_is_set(&EVS[OBJ(NEV)])));
            else
                async_await_until(async_event_is_set(&EVS[OBJ(NEV)])); /* propagates */
        } else if (OP.kind == OP_COND_WAIT) {
            if (holds_any(f, OBJ(NCOND)))
                f->rc = 1;
            else
                AWAIT(async_cond_wait(L, &CONDS[OBJ(NCOND)])); /* returns holding the lock */
        } else if (OP.kind == OP_FUT_WAIT) {
            AWAIT(async_future_wait(L, &FUTS[OBJ(NFUT)]));
        } else if (OP.kind == OP_X_WAIT) {
            AWAIT(xsrc_wait(L, &XS[OBJ(NXS)]));
        } else if (OP.kind == OP_N_TAKE) {
            AWAIT(async_notify_take(L, &NOTE));
        } else if (OP.kind == OP_EV_WAIT) {
            AWAIT(async_event_wait(L, &EVS[OBJ(NEV)]));
        } else if (OP.kind == OP_SEM_ACQ) {
            AWAIT(async_sem_acquire(L, &SEMS[OBJ(NSEM)]));
        } else if (OP.kind == OP_LOCK_ACQ) {
            AWAIT(async_lock_acquire(L, &LOCKS[OBJ(NLOCK)]));
            if (f->rc == 0)
                f->holds[OBJ(NLOCK)] = true;
        } else if (OP.kind == OP_Q_PUT) {
            f->item = item_value(f->id, f->life, f->pc);
            AWAIT(async_queue_put(L, &QS_(OBJ(NQ)), &f->item));
        } else if (OP.kind == OP_Q_GET) {
            f->item = 0;
            AWAIT(async_queue_get(L, &QS_(OBJ(NQ)), &f->item));
            if (f->rc == 0)
                f->val = f->item;
        } else if (OP.kind == OP_JOIN) {
            if (OP.obj % P->nact < f->id || holds_any(f, -1))
                f->rc = 1;
            else
                AWAIT(async_join(L, &A[OP.obj % P->nact].task));
        } else if (OP.kind == OP_GATHER) {
            if (OP.obj % P->nact < f->id || OP.arg % P->nact < f->id || holds_any(f, -1)) {
                f->rc = 1;
            } else {
                f->gathered[0] = &A[OP.obj % P->nact].task;
                f->gathered[1] = &A[OP.arg % P->nact].task;
                AWAIT(async_gather(L, f->gathered, 2));
            }
        } else if (OP.kind == OP_G_WAIT || OP.kind == OP_G_WAIT_ERR) {
            if (running_member_at_or_below(OBJ(NGROUP), f->id) || holds_any(f, -1)) {
                f->rc = 1;
            } else {
                f->gwaiting = OBJ(NGROUP) + 1;
                if (OP.kind == OP_G_WAIT)
                    AWAIT(async_group_wait(L, &GS[OBJ(NGROUP)]));
                else
                    AWAIT(async_group_wait_first_error(L, &GS[OBJ(NGROUP)]));
                f->gwaiting = 0;
            }
        } else if (OP.kind == OP_G_NEXT) {
            if (f->member_of == OBJ(NGROUP) + 1) { /* waiting for itself */
                f->rc = 1;
            } else {
                f->done = NULL;
                AWAIT(async_group_next(L, &GS[OBJ(NGROUP)], &f->done));
                if (f->done)
                    f->val = actor_index(f->done) + 1;
            }
        } else if (OP.kind == OP_T_BEGIN || OP.kind == OP_SH_BEGIN) {
            if (f->nscopes < MAX_SCOPES) {
                f->ticks = timer_ticks(P->nact, f->id, timed_depth(f) + 1, rel_vnow(), OP.d);
#if MODEL_EXTRAS
                if (OP.kind == OP_SH_BEGIN)
                    f->rc = async_shield_begin(&f->scopes[f->nscopes], f->ticks);
                else
#endif
                    f->rc = async_timeout_begin(&f->scopes[f->nscopes], f->ticks);
                if (f->rc == 0)
                    f->sckind[f->nscopes++] = OP.kind == OP_T_BEGIN ? SC_TIMEOUT : SC_SHIELD;
            } else {
                f->rc = 1;
            }
        } else if (OP.kind == OP_T_END) {
            f->rc = scope_end(L, f, SC_TIMEOUT);
        } else if (OP.kind == OP_SH_END) {
            f->rc = scope_end(L, f, SC_SHIELD);
        } else if (OP.kind == OP_T_END_BAD) {
            f->rc = f->nscopes >= 2 ? async_timeout_end(&f->scopes[f->nscopes - 2]) : 1;
        } else if (OP.kind == OP_BUSY) {
            async_vclock_advance(&VC, OP.d); /* computing: time moves under the step */
#if MODEL_EXTRAS
        } else if (OP.kind == OP_BAR_WAIT) {
            AWAIT(async_barrier_wait(L, &BAR));
        } else if (OP.kind == OP_Q_JOIN) {
            AWAIT(async_queue_join(L, &QS_(OBJ(NQ))));
        } else if (OP.kind == OP_WLOCK) {
            if (f->nscopes >= MAX_SCOPES || OP.tmo) { /* no await_for around a scope */
                f->rc = 1;
            } else {
                /* async_with_lock, minus its propagation: the scope is
                 * open whatever the wait gave; an error leaves it unheld,
                 * to be closed by WLOCK_END or with the rest */
                f->sclock[f->nscopes] = OBJ(NLOCK);
                f->sckind[f->nscopes] = SC_LOCK;
                f->rc = async__locked_begin(L, &f->co, &f->scopes[f->nscopes], &LOCKS[OBJ(NLOCK)]);
                f->nscopes++;
                async_await_rc(f->rc, async__locked_take(L, f->co.scopes));
                if (f->rc == 0)
                    f->wholds[f->sclock[f->nscopes - 1]] = true;
            }
        } else if (OP.kind == OP_WLOCK_END) {
            f->rc = scope_end(L, f, SC_LOCK);
#endif
        } else {
            f->rc = immediate(L, f, &OP, f->id, f->life, f->pc, &f->val);
        }
        evbuf_add(cur, E_OP, f->id, f->life, f->pc, f->rc, f->val);
    }
    async_return(f->lf->ret);
    async_finally; /* closes the open scopes, held locks first */
    for (f->k = 0; f->k < NLOCK; f->k++)
        if (f->holds[f->k] && async_lock_release(L, &LOCKS[f->k]) == 0)
            f->holds[f->k] = false;
    evbuf_add(cur, E_END, f->id, f->life, f->pc, async_error(), 0);
    async_end;
}

static int actor_task(async_loop *L, async_task *self)
{
    struct actor *f = async_frame(self, struct actor, task);
    evbuf_add(cur, E_STEP, f->id, f->life, f->pc, 0, 0);
    return actor_body(L, f);
}

#if MODEL_EXTRAS
static bool item_first(const void *a, const void *b)
{
    return item_prio(*(const int *)a) < item_prio(*(const int *)b);
}
#endif

/* ACT_RUN's turns of the port, bounded: a core that keeps reporting a
 * deadline it then does not fire (a mutant of the pass's timer test)
 * would spin in async_run for ever; the run ends with ETIMEDOUT instead,
 * which no reference run gives, so the mismatch is reported.  A run of
 * the programs here turns the port a few hundred times at most.        */
#define RUN_IDLES_MAX 1000000ul
static unsigned long run_idles0;
static int bounded_idle(const async_port *self, async_loop *L, bool has_deadline,
                        async_tick deadline)
{
    if (VC.idles - run_idles0 > RUN_IDLES_MAX)
        return ASYNC_ETIMEDOUT;
    return async__vclock_idle(self, L, has_deadline, deadline);
}

static void real_start(const struct prog *p)
{
    int i;
    P = p;
    cur = NULL;
    n_ops = 0;
    memset(A, 0, sizeof A);
    for (i = 0; i < MAX_ACTORS; i++)
        A[i].id = i;
    async_vclock_init(&VC, (async_tick)p->start, false);
    VC.port.idle = bounded_idle;
    async_loop_init(&L0, &VC.port);
#if ASYNC_CONF_DEBUG
    async_debug_set_slow_step(&L0, 0);
#endif
    for (i = 0; i < NEV; i++)
        async_event_init(&EVS[i]);
    for (i = 0; i < NSEM; i++)
        async_sem_init(&SEMS[i], p->sem_init[i], p->sem_max[i]);
    for (i = 0; i < NLOCK; i++)
        async_lock_init(&LOCKS[i]);
    for (i = 0; i < NQ; i++) {
#if MODEL_EXTRAS
        memset(&PQS[i], 0, sizeof PQS[i]);
        if (p->qkind[i] == Q_PRIO)
            async_pqueue_init(&PQS[i], qbuf[i], sizeof qbuf[i][0], p->qcap[i], qseq[i], item_first);
        else if (p->qkind[i] == Q_LIFO)
            async_queue_init_lifo(&QS_(i), qbuf[i], sizeof qbuf[i][0], p->qcap[i]);
        else
#endif
            async_queue_init(&QS_(i), qbuf[i], sizeof qbuf[i][0], p->qcap[i]);
    }
#if MODEL_EXTRAS
    async_barrier_init(&BAR, p->bar_parties);
    memset(HS, 0, sizeof HS);
#endif
    for (i = 0; i < NGROUP; i++)
        async_group_init(&GS[i], gslots[i], GROUP_CAP, i == 1 ? ASYNC_GROUP_CANCEL_ON_ERROR : 0);
    for (i = 0; i < NCOND; i++)
        async_cond_init(&CONDS[i], &LOCKS[i]);
    for (i = 0; i < NFUT; i++)
        async_future_init(&FUTS[i]);
    memset(&post_call, 0, sizeof post_call);
    post_call.fn = post_noop;
    for (i = 0; i < NXS; i++) {
        XS[i].w.detach = xsrc_detach;
        XS[i].task = NULL;
    }
    async_notify_init(&NOTE);
}

static void real_action(const struct prog *p, int i, struct evbuf *out)
{
    const struct action *ac = &p->actions[i];
    cur = out;
    if (ac->kind == ACT_EXT) {
        int val = 0, rc = immediate(&L0, NULL, &ac->op, p->nact, 0, i, &val);
        evbuf_add(out, E_EXT, -1, 0, i, rc, val);
        n_ops++;
    } else if (ac->kind == ACT_RUN) {
        int rc;
        VC.autojump = true;
        run_idles0 = VC.idles;
        rc = async_run(&L0, NULL, NULL);
        VC.autojump = false;
        evbuf_add(out, E_EXT, -1, 0, i, rc, 0);
        n_ops++;
    } else {
        if (ac->kind == ACT_ADVANCE)
            async_vclock_advance(&VC, ac->d);
        if (async_run_once(&L0) > 0) /* a pass that stepped nothing is not counted */
            n_ops++;
    }
    cur = NULL;
}

static bool real_drain(const struct prog *p, struct evbuf *out)
{
    int j;
    bool all_done = true;
    cur = out;
    for (j = 0; j < p->nact; j++)
        if (async_task_state(&A[j].task) != ASYNC_TASK_IDLE &&
            async_task_state(&A[j].task) != ASYNC_TASK_DONE)
            all_done = false;
    for (j = 0; j < p->nact; j++) {
        int s = async_task_state(&A[j].task);
        if (s != ASYNC_TASK_IDLE && s != ASYNC_TASK_DONE) {
            all_done = false;
            evbuf_add(out, E_EXT, j, 0, -1, async_cancel(&L0, &A[j].task), 0);
        }
    }
    if (!all_done) {
        async_vclock_advance(&VC, DRAIN_TICKS); /* shielded waits end by their deadlines */
        async_run_once(&L0);
    }
    cur = NULL;
    return all_done;
}

static void real_snapshot(const struct prog *p, struct snap *s)
{
    int i;
    async_tick d;
    memset(s, 0, sizeof *s);
    for (i = 0; i < p->nact; i++) {
        s->state[i] = (int)async_task_state(&A[i].task);
        s->cancelled[i] = s->state[i] != ASYNC_TASK_IDLE && async_task_is_cancelled(&A[i].task);
        s->result[i] = s->state[i] == ASYNC_TASK_DONE ? async_task_result(&A[i].task) : 0;
    }
    for (i = 0; i < NEV; i++)
        s->ev_set[i] = async_event_is_set(&EVS[i]);
    for (i = 0; i < NSEM; i++)
        s->sem[i] = async_sem_count(&SEMS[i]);
    for (i = 0; i < NLOCK; i++)
        s->locked[i] = async_lock_is_locked(&LOCKS[i]);
    for (i = 0; i < NQ; i++) {
        s->qsize[i] = async_queue_count(&QS_(i));
        s->qclosed[i] = async_queue_is_closed(&QS_(i));
    }
    for (i = 0; i < NGROUP; i++)
        s->grunning[i] = async_group_running_count(&GS[i]);
    for (i = 0; i < NFUT; i++)
        s->fut[i] = async_future_is_done(&FUTS[i]) ? async_future_result(&FUTS[i]) : 1;
    s->note = async_sem_count(&NOTE.sem);
#if MODEL_EXTRAS
    s->bar_waiting = async_barrier_waiting_count(&BAR);
    s->bar_broken = async_barrier_is_broken(&BAR);
    for (i = 0; i < NQ; i++)
        s->qunfinished[i] = async_queue_unfinished_count(&QS_(i));
    for (i = 0; i < NH; i++)
        s->hpending[i] = async_handle_is_pending(&HS[i]);
#endif
    s->ntasks = async_loop_task_count(&L0);
    s->pending = async_loop_has_work(&L0);
    s->timers = async_loop_next_deadline(&L0, &d);
    s->next_deadline = s->timers ? (int64_t)(uint32_t)(async_tick)(d - (async_tick)p->start) : 0;
    s->now = rel_now(&L0);
}

static unsigned long real_ops(void)
{
    return n_ops;
}

const struct side real_side = {"core", real_start, real_action, real_drain, real_snapshot,
                               real_ops};
