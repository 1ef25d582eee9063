/* SPDX-License-Identifier: MIT */
/* Model-based test of the async.h scheduler: generated programs.
 *
 * A program is a fixed population of "actor" tasks, each with a few
 * lives (one script of operations per spawn), plus a harness schedule:
 * scheduler passes, virtual-clock advances and operations made from
 * outside any task.  The same program runs against the real core
 * (real.c) and against a reference model written from the documented
 * semantics (ref.c); both report every observable event, and main.c
 * compares them after each harness action.
 *
 * Object and actor numbers in operations are taken modulo the counts at
 * execution time, so a program can be shrunk (actors and operations
 * removed) and still be valid.                                          */
#ifndef MODEL_PROG_H
#define MODEL_PROG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The configuration's extras (ASYNC_CONF_EXTRAS; the mcu configuration
 * builds without them): their operations are neither generated nor run. */
#if defined(ASYNC_CONF_EXTRAS) && !ASYNC_CONF_EXTRAS
#define MODEL_EXTRAS 0
#else
#define MODEL_EXTRAS 1
#endif

#define MAX_ACTORS 6
#define MAX_LIVES 8
#define MAX_OPS 24     /* per life */
#define MAX_ACTIONS 4096
#define NEV 2
#define NSEM 2
#define NLOCK 2
#define NQ 2
#define NGROUP 2
#define NCOND NLOCK
#define NFUT 2
#define NXS 2        /* external wait sources (async_park / async_wake) */
#define GROUP_CAP 3
#define QCAP_MAX 3
#define MAX_SCOPES 3   /* explicit scopes (timeouts, shields, held locks);
                          await_for nests one more */
#define NH 2           /* callback handles (call_soon/later, done callbacks) */
/* Timer slots per actor: 0 sleep, 1..4 timed scope depth; actor 0 also
 * has 5 and 6 for the handles' call_later. */
#define TSLOTS 7
#define DRAIN_TICKS 64 /* each drain round also moves time (shields end) */

enum opkind {
    OP_NOP,
    /* awaits (blocking) */
    OP_SLEEP,
    OP_YIELD,
    OP_UNTIL,     /* async_await_until(an event's flag) */
    OP_EV_WAIT,
    OP_SEM_ACQ,
    OP_LOCK_ACQ,
    OP_Q_PUT,
    OP_Q_GET,
    OP_JOIN,
    OP_G_WAIT,
    OP_G_NEXT,
    OP_COND_WAIT, /* condition i is bound to lock i */
    OP_FUT_WAIT,
    /* immediate */
    OP_EV_SET,
    OP_EV_CLEAR,
    OP_SEM_REL,
    OP_SEM_TRY,
    OP_LOCK_REL,
    OP_LOCK_TRY,
    OP_Q_TRYPUT,
    OP_Q_TRYGET,
    OP_Q_CLOSE,
    OP_SPAWN,
    OP_CANCEL,
    OP_G_SPAWN,
    OP_G_REAP,
    OP_G_CANCEL,
    OP_T_BEGIN,
    OP_T_END,
    OP_T_END_BAD, /* close the outer of two scopes: misuse */
    OP_COND_NOTIFY,
    OP_COND_NOTIFY_ALL,
    OP_FUT_SET,
    OP_POST,      /* async_post of a call that does nothing */
    OP_X_WAIT,    /* await: park on external source obj (async_park)    */
    OP_X_FIRE,    /* the source fires: async_wake its task with a value */
    OP_N_GIVE,    /* async_notify_give: a permit, delivered by a post    */
    OP_N_TAKE,    /* await async_notify_take                             */
    OP_BUSY,      /* the step computes for d ticks: time moves under it  */
    OP_SH_BEGIN,  /* async_shield_begin, d ticks (> 0)                   */
    OP_SH_END,
    OP_G_WAIT_ERR,/* await async_group_wait_first_error                  */
    /* extras (MODEL_EXTRAS) */
    OP_BAR_WAIT,  /* await async_barrier_wait                            */
    OP_BAR_ABORT,
    OP_BAR_RESET,
    OP_Q_JOIN,    /* await async_queue_join                              */
    OP_Q_DONE,    /* async_queue_task_done                               */
    OP_WLOCK,     /* await async_with_lock: a lock held as a scope       */
    OP_WLOCK_END,
    OP_CALL_SOON, /* handle obj: async_call_soon                         */
    OP_CALL_LATER,/* handle obj: async_call_later, d ticks (> 0)         */
    OP_H_CANCEL,  /* async_handle_cancel                                 */
    OP_ON_DONE,   /* handle arg watches actor obj: async_task_on_done    */
    OP_LOCK_LOCKED, /* async_lock_is_locked, read inside a pass: a lock
                       handed to a waiter that has not run reads free  */
    OP_GATHER,    /* await async_gather of the actors obj and arg         */
    OP__COUNT
};

struct op {
    uint8_t kind;
    uint8_t obj;   /* object index (event, sem, lock, queue, group, actor) */
    uint8_t arg;   /* second index: the actor of OP_G_SPAWN               */
    uint8_t tmo;   /* blocking ops: 1 = wrapped in async_await_for        */
    uint16_t d;    /* sleep / scope ticks                                 */
    uint16_t td;   /* await_for ticks                                     */
};

struct life {
    int n;
    int ret; /* the life's result when its script runs to the end */
    struct op ops[MAX_OPS];
};

/* ACT_RUN: async_run(L, NULL, NULL) with the clock jumping to each next
 * deadline (autojump) until no task is left or nothing can wake one.  */
enum actkind { ACT_PASS, ACT_ADVANCE, ACT_EXT, ACT_RUN };

struct action {
    uint8_t kind;
    uint16_t d;     /* ticks to advance before the pass */
    struct op op;   /* ACT_EXT: the operation made from outside a task */
};

/* Queue orders: FIFO, LIFO, priority (an item's priority is its value
 * modulo 3, the smallest first, FIFO among equals).                     */
enum { Q_FIFO, Q_LIFO, Q_PRIO };
static inline int item_prio(int item)
{
    return item % 3;
}

struct prog {
    unsigned long seed;
    uint32_t start;          /* virtual clock start (tests wrap-around) */
    int nact;
    int nlives[MAX_ACTORS];
    struct life lives[MAX_ACTORS][MAX_LIVES];
    unsigned sem_init[NSEM], sem_max[NSEM];
    unsigned qcap[NQ];
    int qkind[NQ];           /* Q_FIFO, Q_LIFO or Q_PRIO (extras)       */
    unsigned bar_parties;    /* the barrier's parties                   */
    int nactions;
    struct action actions[MAX_ACTIONS];
};

/* Events both sides report, in the order they happen. */
enum evkind {
    E_STEP,    /* actor a stepped (life, pc = where it resumes)           */
    E_OP,      /* actor a finished op pc of its life: rc, val             */
    E_END,     /* the life's body ended (rc): its cleanup ran             */
    E_EXT,     /* an outside operation returned rc (val)                  */
    E_MISUSE,  /* the misuse hook fired with code rc                      */
    E_DRAIN,   /* harness: drain round                                    */
    E_CALL     /* the loop ran handle pc's callback                       */
};

struct ev {
    int16_t kind, a, life, pc;
    int rc, val;
};

/* Public state after each action. */
struct snap {
    int state[MAX_ACTORS];     /* enum async_task_state values */
    int cancelled[MAX_ACTORS];
    int result[MAX_ACTORS];    /* when done */
    int ev_set[NEV];
    unsigned sem[NSEM];
    int locked[NLOCK];
    unsigned qsize[NQ];
    int qclosed[NQ];
    unsigned grunning[NGROUP];
    int fut[NFUT]; /* result, or 1 while not set */
    unsigned note; /* the notification's delivered permits */
    unsigned bar_waiting;
    int bar_broken;
    unsigned qunfinished[NQ];
    int hpending[NH];
    unsigned ntasks;
    int pending;   /* something ready to run */
    int timers;    /* some timer armed */
    int64_t next_deadline; /* relative to start; only compared as a bound */
    int64_t now;           /* the loop's cached time, relative */
};

#define EVBUF_MAX 8192
struct evbuf {
    int n;
    bool overflow;
    struct ev e[EVBUF_MAX];
};

static inline void evbuf_add(struct evbuf *b, int kind, int a, int life, int pc, int rc, int val)
{
    if (b->n >= EVBUF_MAX) {
        b->overflow = true;
        return;
    }
    b->e[b->n].kind = (int16_t)kind;
    b->e[b->n].a = (int16_t)a;
    b->e[b->n].life = (int16_t)life;
    b->e[b->n].pc = (int16_t)pc;
    b->e[b->n].rc = rc;
    b->e[b->n].val = val;
    b->n++;
}

/* One side of the comparison: the real core or the model. */
struct side {
    const char *name;
    void (*start)(const struct prog *p);
    /* Run harness action i; report events. */
    void (*action)(const struct prog *p, int i, struct evbuf *out);
    /* Drain round: cancel every live actor, run one pass.  Returns true
     * when no actor is left unfinished (before the round). */
    bool (*drain)(const struct prog *p, struct evbuf *out);
    void (*snapshot)(const struct prog *p, struct snap *s);
    unsigned long (*ops_done)(void);
};

extern const struct side real_side, ref_side;

/* Values shared by both sides. */
int op_is_await(int kind);
const char *op_name(int kind);
/* A script's queue item: unique per actor, life and pc. */
static inline int item_value(int a, int life, int pc)
{
    return (a + 1) * 100000 + life * 1000 + pc;
}
/* Ticks for a timer of actor a in slot k (0: sleep, 1..3: scope depth)
 * starting `d` ticks from relative time `now`: rounded up so that no two
 * armed timers share a deadline (the order of same-tick timers is not
 * specified, so programs never create them). */
static inline uint32_t timer_ticks(int nact, int a, int k, uint32_t now, uint32_t d)
{
    uint32_t m = (uint32_t)(nact * TSLOTS), want = (uint32_t)(a * TSLOTS + k);
    uint32_t at = now + d;
    if (d == 0)
        return 0;
    while (at % m != want)
        at++;
    return at - now;
}
/* The value OP_FUT_SET sets, and OP_X_FIRE wakes with: small values and
 * an error.  XS_EMPTY wakes an OP_X_WAIT with nothing in it (a readable
 * socket holding no data it can use): the op parks again.              */
#define XS_EMPTY 5
static inline int fut_value(const struct op *o)
{
    return o->d % 3 == 0 ? -40 : (int)(o->d % 7);
}
/* The life a spawn starts: lives beyond the script get an empty one. */
static inline const struct life *life_of(const struct prog *p, int a, int life)
{
    static const struct life empty = {0, 0, {{0, 0, 0, 0, 0, 0}}};
    return life < p->nlives[a] ? &p->lives[a][life] : &empty;
}

void prog_generate(struct prog *p, unsigned long seed, int nops);
void prog_print(const struct prog *p, FILE *out);
int prog_size(const struct prog *p);
void ev_print(const struct ev *e, FILE *out);

#endif
