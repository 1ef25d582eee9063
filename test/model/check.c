/* SPDX-License-Identifier: MIT */
/* Runs a program on the core and on the model, comparing the events of
 * every harness action and drain round, then the public state. */
#include "check.h"
#include <string.h>

static struct evbuf BR, BM;
unsigned long total_ops;
bool trace;

bool ev_equal(const struct ev *a, const struct ev *b)
{
    return a->kind == b->kind && a->a == b->a && a->life == b->life && a->pc == b->pc &&
           a->rc == b->rc && a->val == b->val;
}

static const char *snap_diff(const struct snap *r, const struct snap *m, int nact)
{
    int i;
    for (i = 0; i < nact; i++) {
        if (r->state[i] != m->state[i])
            return "task state";
        if (r->cancelled[i] != m->cancelled[i])
            return "task cancelled flag";
        if (r->result[i] != m->result[i])
            return "task result";
    }
    if (memcmp(r->ev_set, m->ev_set, sizeof r->ev_set))
        return "event flag";
    if (memcmp(r->sem, m->sem, sizeof r->sem))
        return "semaphore value";
    if (memcmp(r->locked, m->locked, sizeof r->locked))
        return "lock state";
    if (memcmp(r->qsize, m->qsize, sizeof r->qsize))
        return "queue size";
    if (memcmp(r->qclosed, m->qclosed, sizeof r->qclosed))
        return "queue closed flag";
    if (memcmp(r->grunning, m->grunning, sizeof r->grunning))
        return "group running count";
    if (memcmp(r->fut, m->fut, sizeof r->fut))
        return "future state";
    if (r->note != m->note)
        return "notification permits";
    if (r->bar_waiting != m->bar_waiting)
        return "barrier waiters";
    if (r->bar_broken != m->bar_broken)
        return "barrier broken flag";
    if (memcmp(r->qunfinished, m->qunfinished, sizeof r->qunfinished))
        return "queue unfinished count";
    if (memcmp(r->hpending, m->hpending, sizeof r->hpending))
        return "handle pending";
    if (r->ntasks != m->ntasks)
        return "async_loop_task_count";
    if (r->pending != m->pending)
        return "async_loop_has_work";
    if (r->now != m->now)
        return "async_now";
    if (r->timers != m->timers)
        return "async_loop_next_deadline: armed or not";
    /* never after the earliest deadline; it may lie in the past when the
     * clock moved under a step after that timer was armed (OP_BUSY) */
    if (r->timers && r->next_deadline > m->next_deadline)
        return "async_loop_next_deadline: after the earliest deadline";
    return NULL;
}

static void print_snap(const char *who, const struct snap *s, int nact, FILE *out)
{
    int i;
    fprintf(out, "  %-5s now %lld tasks %u pending %d timers %d next %lld |", who,
            (long long)s->now, s->ntasks, s->pending, s->timers, (long long)s->next_deadline);
    for (i = 0; i < nact; i++)
        fprintf(out, " a%d:%d%s%s", i, s->state[i], s->cancelled[i] ? "c" : "",
                s->state[i] == 4 ? "" : "");
    fprintf(out, " | ev %d%d sem %u,%u lock %d%d q %u%s,%u%s g %u,%u\n", s->ev_set[0],
            s->ev_set[1], s->sem[0], s->sem[1], s->locked[0], s->locked[1], s->qsize[0],
            s->qclosed[0] ? "c" : "", s->qsize[1], s->qclosed[1] ? "c" : "", s->grunning[0],
            s->grunning[1]);
}

static void print_evs(const struct evbuf *b, FILE *out)
{
    int i;
    for (i = 0; i < b->n; i++) {
        fprintf(out, "      ");
        ev_print(&b->e[i], out);
        fprintf(out, "\n");
    }
}

/* Compare one round's events and state; fill f on a disagreement. */
static bool compare(const struct prog *p, int where, struct failure *f)
{
    struct snap sr, sm;
    const char *why = NULL;
    int i;

    real_side.snapshot(p, &sr);
    ref_side.snapshot(p, &sm);
    if (BR.overflow || BM.overflow)
        why = "event buffer overflow";
    for (i = 0; !why && i < BR.n && i < BM.n; i++)
        if (!ev_equal(&BR.e[i], &BM.e[i]))
            why = "events differ";
    if (!why && BR.n != BM.n)
        why = "event counts differ";
    if (!why)
        why = snap_diff(&sr, &sm, p->nact);
    if (trace) {
        fprintf(stdout, "-- %s %d\n", where < p->nactions ? "action" : "drain", where);
        print_evs(&BR, stdout);
        print_snap("core", &sr, p->nact, stdout);
    }
    if (!why)
        return true;
    if (f) {
        f->action = where;
        f->why = why;
        f->real = BR;
        f->model = BM;
        f->sreal = sr;
        f->smodel = sm;
    }
    return false;
}

/* Run program p on both sides; true if they agree throughout. */
bool check(const struct prog *p, struct failure *f)
{
    int i;
    real_side.start(p);
    ref_side.start(p);
    for (i = 0; i < p->nactions; i++) {
        BR.n = BM.n = 0;
        BR.overflow = BM.overflow = false;
        real_side.action(p, i, &BR);
        ref_side.action(p, i, &BM);
        if (!compare(p, i, f))
            return false;
    }
    for (i = 0; i < 1000; i++) {
        bool dr, dm;
        BR.n = BM.n = 0;
        BR.overflow = BM.overflow = false;
        dr = real_side.drain(p, &BR);
        dm = ref_side.drain(p, &BM);
        if (!compare(p, p->nactions + i, f))
            return false;
        if (dr != dm) {
            if (f)
                f->why = "one side finished draining first";
            return false;
        }
        if (dr)
            break;
    }
    if (i == 1000) {
        if (f) {
            f->action = p->nactions + i - 1;
            f->why = "tasks still unfinished after 1000 rounds of cancelling them all";
            real_side.snapshot(p, &f->sreal);
            ref_side.snapshot(p, &f->smodel);
            f->real.n = f->model.n = 0;
        }
        return false;
    }
    total_ops += real_side.ops_done();
    return true;
}

void report(const struct prog *p, const struct failure *f, FILE *out)
{
    int i;
    prog_print(p, out);
    fprintf(out, "disagreement at %s %d: %s\n",
            f->action < p->nactions ? "harness action" : "drain round",
            f->action < p->nactions ? f->action : f->action - p->nactions, f->why);
    for (i = 0; i < f->real.n || i < f->model.n; i++) {
        bool same = i < f->real.n && i < f->model.n && ev_equal(&f->real.e[i], &f->model.e[i]);
        fprintf(out, "  %s core : ", same ? " " : "!");
        if (i < f->real.n)
            ev_print(&f->real.e[i], out);
        else
            fprintf(out, "-");
        if (!same) {
            fprintf(out, "\n    model: ");
            if (i < f->model.n)
                ev_print(&f->model.e[i], out);
            else
                fprintf(out, "-");
        }
        fprintf(out, "\n");
    }
    print_snap("core", &f->sreal, p->nact, out);
    print_snap("model", &f->smodel, p->nact, out);
}

