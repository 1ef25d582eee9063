/* SPDX-License-Identifier: MIT */
/* Running one program on both sides and comparing them (check.c). */
#ifndef MODEL_CHECK_H
#define MODEL_CHECK_H
#include "prog.h"

struct failure {
    int action;      /* harness action (or nactions + drain round) */
    const char *why;
    struct evbuf real, model;
    struct snap sreal, smodel;
};

extern unsigned long total_ops; /* operations run by programs that passed */
extern bool trace;               /* print every round's events and state */

/* Run program p on the core and on the model; false on the first
 * disagreement, described in *f (may be NULL). */
bool check(const struct prog *p, struct failure *f);
bool ev_equal(const struct ev *a, const struct ev *b);
void report(const struct prog *p, const struct failure *f, FILE *out);

#endif
