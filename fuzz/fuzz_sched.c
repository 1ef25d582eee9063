/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the scheduler driven by fuzz input.
 *
 * The input is decoded into a model-test program (test/model/prog.h):
 * actors with scripts of spawns, cancels, sleeps, yields, events,
 * semaphores, locks, queues (FIFO, LIFO, priority; join/task_done),
 * groups, joins, barriers, timeout scopes, shields, held-lock scopes,
 * steps that compute while time moves, and callbacks run by the loop,
 * and a harness schedule of passes, clock advances and outside
 * operations.
 * Every byte string decodes to a valid program.  The program runs on the
 * core and on the reference model (test/model/ref.c); any disagreement,
 * any sanitizer report, or a task that cancellation cannot finish is a
 * crash.  Known core bugs stay left out, as in the model test (none is
 * open now: test/model/main.c, known_bugs).
 *
 *   make fuzz                      # every target, FUZZ_TIME seconds each
 *   build/fuzz/fuzz_sched CRASH    # replay one input                    */
#include "check.h"
#include "fuzz_input.h"
#include <stdlib.h>
#include <string.h>


static uint16_t ticks(unsigned b)
{
    /* mostly short; the top values reach beyond a tiny wheel's span */
    if (b < 200)
        return (uint16_t)(b % 20);
    return (uint16_t)((b - 200) * 8);
}

static void decode_op(struct fuzz_reader *r, struct op *o)
{
    unsigned b0 = fuzz_byte(r), b1 = fuzz_byte(r), b2 = fuzz_byte(r);
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)(1 + b0 % (OP__COUNT - 1));
    o->obj = (uint8_t)(b1 & 7);
    o->arg = (uint8_t)((b1 >> 3) & 7);
    o->tmo = (uint8_t)(op_is_await(o->kind) && o->kind != OP_YIELD && (b1 & 0x80));
    o->d = ticks(b2);
    if (o->kind == OP_SH_BEGIN || o->kind == OP_CALL_LATER)
        o->d++; /* a shield always ends; a call_later is always a timer */
    if (!MODEL_EXTRAS && (o->kind >= OP_BAR_WAIT || o->kind == OP_SH_BEGIN || o->kind == OP_SH_END))
        o->kind = OP_NOP;
    o->td = ticks((b0 / (OP__COUNT - 1)) * 23u + (b2 >> 4));
}

static void decode(struct prog *p, const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    unsigned b;
    int a, l, i;

    memset(p, 0, sizeof *p);
    b = fuzz_byte(&r);
    p->nact = 1 + (int)(b % MAX_ACTORS);
    p->start = (b & 0x80) ? 0xFFFFFFF0u : 1000u;
    b = fuzz_byte(&r);
    p->sem_init[0] = b & 1;
    p->sem_max[1] = 1 + ((b >> 1) & 1);
    p->sem_init[1] = (b >> 2) & 1;
    p->qcap[0] = 1 + ((b >> 3) & 1);
    p->qcap[1] = 1 + ((b >> 4) % QCAP_MAX);
    p->qkind[1] = MODEL_EXTRAS ? (int)((b >> 6) % 3) : Q_FIFO;
    p->bar_parties = 1 + (b >> 5) % 3;
    for (a = 0; a < p->nact; a++) {
        p->nlives[a] = 1 + (int)(fuzz_byte(&r) % MAX_LIVES);
        for (l = 0; l < p->nlives[a]; l++) {
            struct life *lf = &p->lives[a][l];
            b = fuzz_byte(&r);
            lf->n = (int)(b % 9);
            lf->ret = (b & 0x80) ? -40 : (int)(b >> 4 & 7);
            for (i = 0; i < lf->n; i++)
                decode_op(&r, &lf->ops[i]);
        }
    }
    /* the rest is the harness: spawn everyone first, then one action per byte
       pair; running out of input means passes until nothing is left to do */
    for (a = 0; a < p->nact; a++) {
        p->actions[p->nactions].kind = ACT_EXT;
        p->actions[p->nactions].op.kind = OP_SPAWN;
        p->actions[p->nactions++].op.obj = (uint8_t)a;
    }
    while (r.n && p->nactions < 512) {
        struct action *ac = &p->actions[p->nactions++];
        b = fuzz_byte(&r);
        if (b < 96) {
            ac->kind = ACT_PASS;
        } else if (b < 176) {
            ac->kind = ACT_ADVANCE;
            ac->d = ticks(fuzz_byte(&r));
        } else if (b >= 248) {
            ac->kind = ACT_RUN; /* async_run on an autojump clock */
        } else {
            ac->kind = ACT_EXT;
            decode_op(&r, &ac->op);
        }
    }
    for (i = 0; i < 4 && p->nactions < MAX_ACTIONS; i++) {
        p->actions[p->nactions].kind = ACT_ADVANCE;
        p->actions[p->nactions++].d = 50;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct prog p;
    static struct failure f;

    decode(&p, data, size);
    if (!check(&p, &f)) {
        report(&p, &f, stderr);
        abort();
    }
    return 0;
}
