/* SPDX-License-Identifier: MIT */
/* Program generator and printer for the model-based test. */
#include "prog.h"
#include <string.h>

static const char *const names[OP__COUNT] = {
    "nop",       "sleep",     "yield",     "until",     "ev_wait",    "sem_acq",    "lock_acq",
    "q_put",     "q_get",     "join",      "g_wait",    "g_next",     "cond_wait",  "fut_wait",
    "ev_set",    "ev_clear",  "sem_rel",   "sem_try",   "lock_rel",   "lock_try",   "q_tryput",
    "q_tryget",  "q_close",   "spawn",     "cancel",    "g_spawn",    "g_reap",     "g_cancel",
    "t_begin",   "t_end",     "t_end_bad", "notify",    "notify_all", "fut_set",    "post",
    "x_wait",    "x_fire",    "n_give",    "n_take",    "busy",       "sh_begin",   "sh_end",
    "g_wait_err", "bar_wait", "bar_abort", "bar_reset", "q_join",     "q_done",     "wlock",
    "wlock_end", "call_soon", "call_later", "h_cancel", "on_done", "lock_locked",
    "gather",
};

const char *op_name(int kind)
{
    return kind >= 0 && kind < OP__COUNT ? names[kind] : "?";
}

int op_is_await(int kind)
{
    return (kind >= OP_SLEEP && kind <= OP_FUT_WAIT) || kind == OP_X_WAIT || kind == OP_N_TAKE ||
           kind == OP_G_WAIT_ERR || kind == OP_BAR_WAIT || kind == OP_Q_JOIN || kind == OP_WLOCK ||
           kind == OP_GATHER;
}

/* xorshift64*: small, fast, identical everywhere. */
static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static unsigned below(unsigned n)
{
    return n ? rnd() % n : 0;
}
static bool chance(unsigned percent)
{
    return below(100) < percent;
}

/* Durations: mostly short, sometimes beyond a tiny wheel's 64 ticks. */
static uint16_t duration(void)
{
    unsigned r = below(100);
    if (r < 15)
        return 0;
    if (r < 80)
        return (uint16_t)(1 + below(12));
    if (r < 95)
        return (uint16_t)(10 + below(60));
    return (uint16_t)(60 + below(300));
}

static void gen_op(struct op *o, bool in_task)
{
    /* weights per kind; outside a task only immediate, task-free ops */
    static const uint8_t w_task[OP__COUNT] = {
        [OP_SLEEP] = 10, [OP_YIELD] = 5,    [OP_EV_WAIT] = 7, [OP_SEM_ACQ] = 7,  [OP_LOCK_ACQ] = 7,
        [OP_Q_PUT] = 8,  [OP_Q_GET] = 8,    [OP_JOIN] = 3,    [OP_G_WAIT] = 3,   [OP_G_NEXT] = 3,
        [OP_EV_SET] = 6, [OP_EV_CLEAR] = 1, [OP_SEM_REL] = 6, [OP_SEM_TRY] = 2,  [OP_LOCK_REL] = 8,
        [OP_LOCK_TRY] = 2, [OP_Q_TRYPUT] = 2, [OP_Q_TRYGET] = 2, [OP_Q_CLOSE] = 1, [OP_SPAWN] = 4,
        [OP_CANCEL] = 2, [OP_G_SPAWN] = 4,  [OP_G_REAP] = 1,  [OP_G_CANCEL] = 1, [OP_T_BEGIN] = 4,
        [OP_T_END] = 4,  [OP_T_END_BAD] = 1, [OP_UNTIL] = 3,  [OP_COND_WAIT] = 4,
        [OP_FUT_WAIT] = 2, [OP_COND_NOTIFY] = 3, [OP_COND_NOTIFY_ALL] = 1, [OP_FUT_SET] = 1,
        [OP_POST] = 1,   [OP_X_WAIT] = 3, [OP_X_FIRE] = 2, [OP_N_GIVE] = 2, [OP_N_TAKE] = 3,
        [OP_BUSY] = 3,   [OP_G_WAIT_ERR] = 2, [OP_LOCK_LOCKED] = 2, [OP_GATHER] = 3,
#if MODEL_EXTRAS
        [OP_SH_BEGIN] = 3, [OP_SH_END] = 3,
        [OP_BAR_WAIT] = 4, [OP_BAR_ABORT] = 1, [OP_BAR_RESET] = 1, [OP_Q_JOIN] = 2, [OP_Q_DONE] = 3,
        [OP_WLOCK] = 4,  [OP_WLOCK_END] = 3, [OP_CALL_SOON] = 2, [OP_CALL_LATER] = 2,
        [OP_H_CANCEL] = 1, [OP_ON_DONE] = 2,
#endif
    };
    static const uint8_t w_ext[OP__COUNT] = {
        [OP_EV_SET] = 8,   [OP_EV_CLEAR] = 2,  [OP_SEM_REL] = 8, [OP_SEM_TRY] = 2, [OP_Q_TRYPUT] = 6,
        [OP_Q_TRYGET] = 6, [OP_Q_CLOSE] = 1,   [OP_SPAWN] = 30,  [OP_CANCEL] = 4,  [OP_G_SPAWN] = 6,
        [OP_G_REAP] = 3,   [OP_G_CANCEL] = 1, [OP_COND_NOTIFY] = 3, [OP_COND_NOTIFY_ALL] = 1,
        [OP_FUT_SET] = 1,  [OP_POST] = 4,  [OP_X_FIRE] = 6, [OP_N_GIVE] = 6, [OP_LOCK_LOCKED] = 1,
#if MODEL_EXTRAS
        [OP_BAR_ABORT] = 1, [OP_BAR_RESET] = 1, [OP_Q_DONE] = 2, [OP_CALL_SOON] = 3,
        [OP_CALL_LATER] = 3, [OP_H_CANCEL] = 2, [OP_ON_DONE] = 3,
#endif
    };
    const uint8_t *w = in_task ? w_task : w_ext;
    unsigned total = 0, r, k;

    for (k = 0; k < OP__COUNT; k++)
        total += w[k];
    r = below(total);
    for (k = 0; r >= w[k]; k++)
        r -= w[k];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)k;
    o->obj = (uint8_t)below(MAX_ACTORS);
    o->arg = (uint8_t)below(MAX_ACTORS);
    if (k == OP_SLEEP || k == OP_T_BEGIN || k == OP_FUT_SET || k == OP_X_FIRE)
        o->d = duration();
    if (k == OP_BUSY)
        o->d = (uint16_t)(1 + below(12));
    if (k == OP_SH_BEGIN || k == OP_CALL_LATER) /* a shield always ends: > 0 */
        o->d = (uint16_t)(1 + duration());
    if (op_is_await((int)k) && k != OP_YIELD && chance(40)) {
        o->tmo = 1;
        o->td = duration();
    }
}

void prog_generate(struct prog *p, unsigned long seed, int nops)
{
    int a, l, i, budget;

    memset(p, 0, sizeof *p);
    rng_state = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 0x1234567u;
    if (rng_state == 0)
        rng_state = 1;
    p->seed = seed;
    /* a quarter of the programs start just before the clock wraps */
    p->start = chance(25) ? 0xFFFFFFFFu - below(400) : 1000u + below(1000);
    p->nact = 2 + (int)below(MAX_ACTORS - 1);
    for (i = 0; i < NSEM; i++) {
        p->sem_max[i] = i == 0 ? 0 : 1 + below(2); /* sem 1 is bounded */
        p->sem_init[i] = below(2);
        if (p->sem_max[i] && p->sem_init[i] > p->sem_max[i])
            p->sem_init[i] = p->sem_max[i];
    }
    for (i = 0; i < NQ; i++) {
        p->qcap[i] = 1 + below(QCAP_MAX);
        p->qkind[i] = MODEL_EXTRAS && i == 1 ? (int)below(3) : Q_FIFO;
    }
    p->bar_parties = 1 + below(3);

    /* about 2/3 of the operations in scripts, the rest in the harness */
    budget = nops * 2 / 3;
    for (a = 0; a < p->nact; a++) {
        p->nlives[a] = 2 + (int)below(MAX_LIVES - 1);
        for (l = 0; l < p->nlives[a]; l++) {
            struct life *lf = &p->lives[a][l];
            int want = budget / (p->nact * p->nlives[a]) * 2 + 1;
            if (want > MAX_OPS)
                want = MAX_OPS;
            lf->n = 1 + (int)below((unsigned)want);
            for (i = 0; i < lf->n; i++)
                gen_op(&lf->ops[i], true);
            lf->ret = chance(20) ? -40 /* ASYNC_EPROTO */ : (int)below(10);
        }
    }
    p->nactions = nops - nops * 2 / 3;
    if (p->nactions < 4)
        p->nactions = 4;
    if (p->nactions > MAX_ACTIONS)
        p->nactions = MAX_ACTIONS;
    for (i = 0; i < p->nactions; i++) {
        struct action *ac = &p->actions[i];
        unsigned r = below(100);
        if (i < p->nact && (i == 0 || chance(60))) { /* start with some actors running */
            ac->kind = ACT_EXT;
            ac->op.kind = OP_SPAWN;
            ac->op.obj = (uint8_t)i;
            continue;
        }
        if (r < 3) {
            ac->kind = ACT_RUN;
        } else if (r < 35) {
            ac->kind = ACT_PASS;
        } else if (r < 60) {
            ac->kind = ACT_ADVANCE;
            ac->d = chance(90) ? (uint16_t)(1 + below(10)) : (uint16_t)(20 + below(300));
        } else {
            ac->kind = ACT_EXT;
            gen_op(&ac->op, false);
        }
    }
}

int prog_size(const struct prog *p)
{
    int a, l, n = p->nactions;
    for (a = 0; a < p->nact; a++)
        for (l = 0; l < p->nlives[a]; l++)
            n += p->lives[a][l].n;
    return n;
}

static void op_print(const struct op *o, FILE *out)
{
    fprintf(out, "%s", op_name(o->kind));
    switch (o->kind) {
    case OP_SLEEP:
    case OP_T_BEGIN:
    case OP_BUSY:
    case OP_SH_BEGIN:
        fprintf(out, " %u", o->d);
        break;
    case OP_CALL_LATER:
        fprintf(out, " h%d %u", o->obj % NH, o->d);
        break;
    case OP_CALL_SOON:
    case OP_H_CANCEL:
        fprintf(out, " h%d", o->obj % NH);
        break;
    case OP_ON_DONE:
        fprintf(out, " #%d h%d", o->obj, o->arg % NH);
        break;
    case OP_SH_END:
    case OP_WLOCK_END:
    case OP_BAR_ABORT:
    case OP_BAR_RESET:
        break;
    case OP_FUT_SET:
        fprintf(out, " #%d = %d", o->obj, fut_value(o));
        break;
    case OP_COND_NOTIFY:
        fprintf(out, " #%d n=%d", o->obj, 1 + o->arg % 2);
        break;
    case OP_YIELD:
    case OP_T_END:
    case OP_T_END_BAD:
    case OP_NOP:
        break;
    case OP_G_SPAWN:
        fprintf(out, " g%d a%d", o->obj % NGROUP, o->arg);
        break;
    default:
        fprintf(out, " #%d", o->obj);
        break;
    }
    if (o->tmo)
        fprintf(out, " [await_for %u]", o->td);
}

void prog_print(const struct prog *p, FILE *out)
{
    int a, l, i;
    fprintf(out, "program: seed %lu, %d actors, clock starts at %lu\n", p->seed, p->nact,
            (unsigned long)p->start);
    fprintf(out, "  sem0 = %u (max %u), sem1 = %u (max %u); queue caps %u %u, kinds %d %d; "
                 "barrier of %u\n",
            p->sem_init[0], p->sem_max[0], p->sem_init[1], p->sem_max[1], p->qcap[0], p->qcap[1],
            p->qkind[0], p->qkind[1], p->bar_parties);
    for (a = 0; a < p->nact; a++)
        for (l = 0; l < p->nlives[a]; l++) {
            const struct life *lf = &p->lives[a][l];
            fprintf(out, "  actor %d life %d (returns %d):", a, l, lf->ret);
            for (i = 0; i < lf->n; i++) {
                fprintf(out, "%s%d:", i ? "; " : " ", i);
                op_print(&lf->ops[i], out);
            }
            fprintf(out, "\n");
        }
    fprintf(out, "  harness:");
    for (i = 0; i < p->nactions; i++) {
        const struct action *ac = &p->actions[i];
        fprintf(out, "%s%d:", i ? "; " : " ", i);
        if (ac->kind == ACT_PASS)
            fprintf(out, "pass");
        else if (ac->kind == ACT_RUN)
            fprintf(out, "run");
        else if (ac->kind == ACT_ADVANCE)
            fprintf(out, "advance %u", ac->d);
        else
            op_print(&ac->op, out);
    }
    fprintf(out, "\n");
}

void ev_print(const struct ev *e, FILE *out)
{
    switch (e->kind) {
    case E_STEP:
        fprintf(out, "step a%d life %d at op %d", e->a, e->life, e->pc);
        break;
    case E_OP:
        fprintf(out, "a%d life %d op %d -> %d", e->a, e->life, e->pc, e->rc);
        if (e->val)
            fprintf(out, " (val %d)", e->val);
        break;
    case E_END:
        fprintf(out, "a%d life %d ends -> %d", e->a, e->life, e->rc);
        break;
    case E_EXT:
        fprintf(out, "harness op %d -> %d", e->pc, e->rc);
        if (e->val)
            fprintf(out, " (val %d)", e->val);
        break;
    case E_MISUSE:
        fprintf(out, "misuse hook: %d", e->rc);
        break;
    case E_DRAIN:
        fprintf(out, "drain round %d", e->pc);
        break;
    case E_CALL:
        fprintf(out, "callback of handle %d", e->pc);
        break;
    default:
        fprintf(out, "?");
    }
}
