/* SPDX-License-Identifier: MIT */
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
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MODEL_CONFIG
#define MODEL_CONFIG "?"
#endif

/* Known disagreements where the core is wrong by its own documentation.
 * The model imitates the core for these unless --strict; each has a
 * standalone reproducer in test/model/known/.                           */
static const struct known_bug {
    const char *name;
    int *accommodate;
    const char *what;
} known_bugs[] = {
    /* None open: every bug in test/model/known/ is fixed (and checked by
     * make check-known).  A new one goes here, ahead of the terminator. */
    {NULL, NULL, NULL},
};

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
            for (k = 0; known_bugs[k].name; k++)
                printf("%s: %s\n", known_bugs[k].name, known_bugs[k].what);
            return 0;
        } else
            usage();
    }
    if (ops < 4 || ops > MAX_ACTIONS)
        usage();
    for (k = 0; known_bugs[k].name; k++)
        *known_bugs[k].accommodate = !strict;
    for (k = 0; only_bug && known_bugs[k].name; k++)
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
