/* Model-based randomized test of the async.h scheduler.
 *
 *   model [--seed N] [--seeds K] [--ops M] [--budget OPS] [--strict]
 *         [--no-shrink] [--trace] [--print] [--stats] [--known]
 *   model --load FILE [--trace]
 *
 * Generates program N (M operations: actor scripts plus harness actions),
 * runs it on the real core and on the reference model (ref.c), and
 * compares every event and the public state after each harness action.
 * --seeds K checks seeds N..N+K-1; --budget OPS keeps going until that
 * many operations have run.  On a disagreement it prints the seed, shrinks
 * the program to the shortest failing one it can find, prints it with
 * both sides' events, saves it (model-CONFIG-SEED.prog, for --load) and
 * exits 1.  --strict also checks the known bugs below, --bug NAME just
 * that one (join-after-respawn corrupts memory: expect a crash).  An operation is
 * an actor's script step, an outside operation, or a pass that stepped
 * at least one task.
 */
#include "prog.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MODEL_CONFIG
#define MODEL_CONFIG "?"
#endif

/* Known disagreements where the core is wrong by its own documentation.
 * The model imitates the core for these unless --strict; each has a
 * standalone reproducer in test/model/known/.                           */
extern int model_kb_await_for_errors, model_kb_join_respawn, model_kb_waiter_slot;
static const struct known_bug {
    const char *name;
    int *accommodate;
    const char *what;
} known_bugs[] = {
    {"await-for-discards-error-results", &model_kb_await_for_errors,
     "async_await_for replaces an error result that arrived before the deadline "
     "(ECLOSED, a joined task's error, a group error) with ETIMEDOUT when the "
     "deadline passes before the task runs again; README: 'returns the "
     "operation's own result when it arrived in time' (test/model/known/await_for_error.c)"},
    {"join-after-respawn", &model_kb_join_respawn,
     "a joiner that resumes after the joined task finished and was re-spawned "
     "(its frame reused) cancels and joins the new life; if the new life is a "
     "group member, the joiner overwrites its group pointer: memory corruption "
     "(test/model/known/join_respawn.c). Left out: no re-spawn while a join on "
     "the task is in progress"},
    {"waiter-slot-cleared-on-wakeup", &model_kb_waiter_slot,
     "waking a joiner or a group's waiter clears the slot that names it, so a "
     "second joiner/waiter is accepted (no ASYNC_EBUSY) before the first has "
     "returned; if the first was interrupted it re-parks over the second "
     "(drain), orphaning one of them: a task that nothing, not even "
     "cancellation, can ever finish (test/model/known/waiter_slot.c). A woken "
     "group_next waiter can also lose the member it was woken for. Left out: "
     "no join / group wait while a woken one is pending on the same target"},
};
#define N_KNOWN (sizeof known_bugs / sizeof known_bugs[0])

struct failure {
    int action;      /* harness action (or nactions + drain round) */
    const char *why;
    struct evbuf real, model;
    struct snap sreal, smodel;
};

static struct evbuf BR, BM;
static unsigned long total_ops;
static bool trace;

static bool ev_equal(const struct ev *a, const struct ev *b)
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
    if (r->ntasks != m->ntasks)
        return "async_loop_tasks";
    if (r->pending != m->pending)
        return "async_loop_pending";
    if (r->now != m->now)
        return "async_now";
    if (r->timers != m->timers)
        return "async_loop_next_deadline: armed or not";
    if (r->timers && (r->next_deadline > m->next_deadline || r->next_deadline <= r->now))
        return "async_loop_next_deadline: after the earliest deadline, or not in the future";
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
static bool check(const struct prog *p, struct failure *f)
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

/* ---- shrinking: drop actions, actors, lives and operations while the
 * program still fails ---- */

static unsigned long attempts;
#define MAX_ATTEMPTS 20000ul

static bool still_fails(const struct prog *p)
{
    attempts++;
    return !check(p, NULL);
}

static bool try_drop_actions(struct prog *p, int at, int n)
{
    static struct prog q;
    if (at + n > p->nactions || p->nactions - n < 1)
        return false;
    q = *p;
    memmove(&q.actions[at], &q.actions[at + n],
            sizeof q.actions[0] * (size_t)(q.nactions - at - n));
    q.nactions -= n;
    if (!still_fails(&q))
        return false;
    *p = q;
    return true;
}

static bool try_drop_ops(struct prog *p, int a, int l, int at, int n)
{
    static struct prog q;
    struct life *lf;
    q = *p;
    lf = &q.lives[a][l];
    if (at + n > lf->n)
        return false;
    memmove(&lf->ops[at], &lf->ops[at + n], sizeof lf->ops[0] * (size_t)(lf->n - at - n));
    lf->n -= n;
    if (!still_fails(&q))
        return false;
    *p = q;
    return true;
}

static bool try_variant(struct prog *p, const struct prog *q)
{
    if (!still_fails(q))
        return false;
    *p = *q;
    return true;
}

static void shrink(struct prog *p)
{
    static struct prog q;
    bool changed = true;
    int a, l, i, n;

    attempts = 0;
    while (changed && attempts < MAX_ATTEMPTS) {
        changed = false;
        for (n = p->nactions / 2; n >= 1; n /= 2)
            for (i = 0; i < p->nactions && attempts < MAX_ATTEMPTS;)
                if (try_drop_actions(p, i, n))
                    changed = true;
                else
                    i += n;
        while (p->nact > 1) { /* drop the last actor */
            q = *p;
            q.nact--;
            if (!try_variant(p, &q))
                break;
            changed = true;
        }
        for (a = 0; a < p->nact; a++)
            while (p->nlives[a] > 0) { /* drop the last life */
                q = *p;
                q.nlives[a]--;
                if (!try_variant(p, &q))
                    break;
                changed = true;
            }
        for (a = 0; a < p->nact; a++)
            for (l = 0; l < p->nlives[a]; l++)
                for (n = p->lives[a][l].n / 2; n >= 1; n /= 2)
                    for (i = 0; i < p->lives[a][l].n && attempts < MAX_ATTEMPTS;)
                        if (try_drop_ops(p, a, l, i, n))
                            changed = true;
                        else
                            i += n;
        /* simplify what is left: no await_for, shorter durations */
        for (a = 0; a < p->nact; a++)
            for (l = 0; l < p->nlives[a]; l++)
                for (i = 0; i < p->lives[a][l].n; i++) {
                    struct op *o = &p->lives[a][l].ops[i];
                    if (o->tmo) {
                        q = *p;
                        q.lives[a][l].ops[i].tmo = 0;
                        changed |= try_variant(p, &q);
                    }
                    if (o->d > 1) {
                        q = *p;
                        q.lives[a][l].ops[i].d = (uint16_t)(o->d / 2);
                        changed |= try_variant(p, &q);
                    }
                }
    }
}

static void report(const struct prog *p, const struct failure *f, FILE *out)
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

static void usage(void)
{
    fprintf(stderr, "usage: model [--seed N] [--seeds K] [--ops M] [--budget OPS] [--strict | --bug NAME]\n"
                    "             [--no-shrink] [--trace] [--print] [--known] [--stats]\n"
                    "       model --load FILE [--trace]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct prog p;
    static struct failure f;
    unsigned long seed = 1, seeds = 1, budget = 0, n = 0, k;
    int ops = 300, i;
    bool do_shrink = true, print = false, strict = false, stats = false;
    const char *load = NULL, *only_bug = NULL;
    clock_t t0 = clock();
    double secs;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seed") && v)
            seed = strtoul(v, NULL, 0), i++;
        else if (!strcmp(a, "--seeds") && v)
            seeds = strtoul(v, NULL, 0), i++;
        else if (!strcmp(a, "--ops") && v)
            ops = atoi(v), i++;
        else if (!strcmp(a, "--budget") && v)
            budget = strtoul(v, NULL, 0), i++;
        else if (!strcmp(a, "--strict"))
            strict = true;
        else if (!strcmp(a, "--bug") && v)
            only_bug = v, i++;
        else if (!strcmp(a, "--no-shrink"))
            do_shrink = false;
        else if (!strcmp(a, "--trace"))
            trace = true;
        else if (!strcmp(a, "--print"))
            print = true;
        else if (!strcmp(a, "--stats"))
            stats = true;
        else if (!strcmp(a, "--load") && v)
            load = v, i++;
        else if (!strcmp(a, "--known")) {
            for (k = 0; k < N_KNOWN; k++)
                printf("%s: %s\n", known_bugs[k].name, known_bugs[k].what);
            return 0;
        } else
            usage();
    }
    if (ops < 4 || ops > MAX_ACTIONS)
        usage();
    for (k = 0; k < N_KNOWN; k++)
        *known_bugs[k].accommodate = !strict;
    for (k = 0; only_bug && k < N_KNOWN; k++)
        if (!strcmp(only_bug, known_bugs[k].name)) {
            *known_bugs[k].accommodate = 0;
            strict = true;
        }
    if (only_bug && !strict) {
        fprintf(stderr, "model: no known bug named %s (see --known)\n", only_bug);
        return 2;
    }

    if (load) { /* replay a program saved by a failing run */
        FILE *in = fopen(load, "rb");
        if (!in || fread(&p, sizeof p, 1, in) != 1) {
            fprintf(stderr, "model: cannot read %s\n", load);
            return 2;
        }
        fclose(in);
        prog_print(&p, stdout);
        if (check(&p, &f)) {
            printf("model: 1 passed, 0 failed\n");
            return 0;
        }
        report(&p, &f, stdout);
        printf("model: 0 passed, 1 failed\n");
        return 1;
    }
    for (n = 0; budget ? total_ops < budget : n < seeds; n++) {
        prog_generate(&p, seed + n, ops);
        if (print)
            prog_print(&p, stdout);
        if (check(&p, &f))
            continue;
        printf("model (%s): seed %lu disagrees (replay: tools/model --config %s --seed %lu "
               "--ops %d%s%s)\n",
               MODEL_CONFIG, seed + n, MODEL_CONFIG, seed + n, ops,
               only_bug ? " --bug " : strict ? " --strict" : "", only_bug ? only_bug : "");
        if (do_shrink) {
            char name[64];
            FILE *o;
            shrink(&p);
            check(&p, &f);
            snprintf(name, sizeof name, "model-%s-%lu.prog", MODEL_CONFIG, seed + n);
            if ((o = fopen(name, "wb")) != NULL) {
                fwrite(&p, sizeof p, 1, o);
                fclose(o);
            }
            printf("shortest failing program found (%d operations, %lu attempts), saved in %s\n"
                   "(replay: tools/model --config %s --load %s --trace):\n",
                   prog_size(&p), attempts, name, MODEL_CONFIG, name);
        }
        report(&p, &f, stdout);
        printf("model: %lu passed, 1 failed\n", n);
        return 1;
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("model (%s): %lu seeds, %lu operations in %.1f s%s\n", MODEL_CONFIG, n, total_ops,
           secs, strict ? " (strict)" : "");
    if (stats) {
        extern unsigned long model_stat[8];
        printf("  script operations %lu, task steps %lu, suspensions %lu, wake-ups with a result "
               "%lu,\n  sleeps fired %lu, scopes fired %lu, cancellations %lu, empty passes %lu\n",
               model_stat[0], model_stat[1], model_stat[2], model_stat[6], model_stat[3],
               model_stat[4], model_stat[5], model_stat[7]);
    }
    printf("model: %lu passed, 0 failed\n", n);
    return 0;
}
