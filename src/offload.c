/* SPDX-License-Identifier: MIT */
/*
 * Offload (asyncio.to_thread) on a fixed pool of worker threads, and name
 * resolution through it.
 *
 * A job is a caller-owned async_offload.  Submitting queues it under the
 * pool mutex; a worker runs fn and posts the job's async_call back to the
 * loop (async_post is the thread-safe entry, backed by ev_async), where
 * the waiting task is woken with the result.  While a job is in flight it
 * holds a reference on the ev_loop so async_ev_run does not mistake the
 * wait for a deadlock.
 */
#define _GNU_SOURCE
#include "src/async_ev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

enum { J_IDLE, J_QUEUED, J_RUNNING, J_DONE };

static int job_state(const async_offload *j)
{
    return __atomic_load_n(&j->state, __ATOMIC_ACQUIRE);
}

static void job_set_state(async_offload *j, int st)
{
    __atomic_store_n(&j->state, st, __ATOMIC_RELEASE);
}

bool async_offload_is_cancelled(const async_offload *job)
{
    return job != NULL && __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE) != 0;
}

/* The name a pool thread shows in top -H, gdb and /proc (15 bytes at most). */
static const char pool_thread_name[] = "async-pool";

static void *worker(void *arg)
{
    async_pool *P = (async_pool *)arg;
    async_offload *j;

    (void)pthread_setname_np(pthread_self(), pool_thread_name); /* a label only */
    pthread_mutex_lock(&P->mu);
    for (;;) {
        while (P->head == NULL && !P->stopping)
            pthread_cond_wait(&P->cv, &P->mu);
        if (P->head == NULL)
            break; /* stopping, queue empty */
        j = P->head;
        P->head = j->next;
        if (P->head == NULL)
            P->tail = NULL;
        if (P->stopping) {
            j->result = ASYNC_ECANCELED;
        } else {
            job_set_state(j, J_RUNNING);
            pthread_mutex_unlock(&P->mu);
            j->result = j->fn(j, j->arg);
            if (j->result == ASYNC_PENDING)
                j->result = ASYNC_EINVAL;
            pthread_mutex_lock(&P->mu);
        }
        job_set_state(j, J_DONE);
        async_post(&P->E->loop, &j->call);
    }
    pthread_mutex_unlock(&P->mu);
    return NULL;
}

/* Loop thread: a job came back. */
static void job_done(async_loop *L, async_call *call)
{
    async_offload *j = (async_offload *)(void *)call; /* call is the first member */
    async_task *t = j->task;
    async_ev *E = async_ev_of(L);

    if (E->refs) {
        E->refs--;
        ev_unref(E->ev);
    }
    j->task = NULL;
    if (t)
        async_wake(L, t, ASYNC_PENDING + 1); /* "look at the job" */
}

/* Interrupted (cancel, timeout) while queued or running. */
static void job_detach(async_loop *L, async_waiter *self, async_task *t)
{
    async_offload *j = (async_offload *)(void *)((char *)self - offsetof(async_offload, waiter));
    async_pool *P = j->pool;
    (void)L;
    (void)t;
    /* async_wake() calls detach on every wake, including job_done's own
     * (which cleared j->task first): only an interruption gets here with
     * the task still set. */
    if (j->task == NULL)
        return;
    if (j->cancel == 0)
        __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&P->mu);
    if (job_state(j) == J_QUEUED) { /* never started: take it back */
        async_offload **pp = &P->head, *prev = NULL;
        while (*pp && *pp != j) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = j->next;
            if (P->tail == j)
                P->tail = prev;
            job_set_state(j, J_IDLE);
        }
    }
    pthread_mutex_unlock(&P->mu);
    if (job_state(j) == J_IDLE) {
        async_ev *E = async_ev_of(L);
        j->task = NULL;
        if (E->refs) {
            E->refs--;
            ev_unref(E->ev);
        }
    }
    /* else running: j->task stays, so job_done wakes us when fn returns */
}

int async_pool_init(async_loop *L, async_pool *P, pthread_t *threads, unsigned n)
{
    async_ev *E = async_ev_of(L);
    unsigned i;
    int err;

    if (P == NULL || E == NULL || threads == NULL || n == 0)
        return ASYNC_EINVAL;
    memset(P, 0, sizeof *P);
    P->E = E;
    P->threads = threads;
    P->nthreads = n;
    if ((err = pthread_mutex_init(&P->mu, NULL)) != 0)
        return ASYNC_EOS(err);
    if ((err = pthread_cond_init(&P->cv, NULL)) != 0) {
        pthread_mutex_destroy(&P->mu);
        return ASYNC_EOS(err);
    }
    for (i = 0; i < n; i++) {
        if ((err = pthread_create(&threads[i], NULL, worker, P)) != 0) {
            P->started = i;
            async_pool_close(P);
            return ASYNC_EOS(err);
        }
    }
    P->started = n;
    return 0;
}

void async_pool_close(async_pool *P)
{
    unsigned i;
    if (P == NULL || P->E == NULL)
        return;
    pthread_mutex_lock(&P->mu);
    P->stopping = 1;
    pthread_cond_broadcast(&P->cv);
    pthread_mutex_unlock(&P->mu);
    for (i = 0; i < P->started; i++)
        pthread_join(P->threads[i], NULL);
    /* Completions the workers posted are delivered by the loop's next
     * pass (queued jobs complete with ASYNC_ECANCELED). */
    pthread_cond_destroy(&P->cv);
    pthread_mutex_destroy(&P->mu);
    P->started = 0;
    P->E = NULL;
}

int async_offload_run(async_loop *L, async_pool *P, async_offload *job, async_offload_fn fn,
                      void *arg)
{
    async_ev *E;
    async_task *self;
    int rc;

    if (async_woken(L, &rc)) {
        if (rc == ASYNC_PENDING + 1) { /* the job came back */
            int st = job_state(job);
            rc = job->result;
            job_set_state(job, J_IDLE);
            if (job->cancel < 0) { /* we were draining, shielded */
                (void)async_unshield(L);
                if (st == J_DONE)
                    return job->cancel; /* the interruption, now that fn is done */
            }
            return rc;
        }
        if (job->task == NULL) /* dequeued before it ran */
            return rc;
        __atomic_store_n(&job->cancel, rc, __ATOMIC_RELEASE);
        /* Running: the thread still uses job and arg.  Wait for it, deaf to
         * further interruptions; this one is reported when it returns. */
        return async_park_shielded(L, &job->waiter);
    }
    E = async_ev_of(L);
    self = async_current(L);
    if (E == NULL || P == NULL || job == NULL || fn == NULL)
        return ASYNC_EINVAL;
    if (self == NULL)
        return ASYNC_EPERM;
    if (P->E != E || P->stopping || P->started == 0)
        return ASYNC_ECLOSED;
    if (job_state(job) != J_IDLE || job->task)
        return ASYNC_EBUSY;
    job->call.fn = job_done;
    job->call.next = NULL;
    job->call.queued = 0;
    job->waiter.detach = job_detach;
    job->next = NULL;
    job->fn = fn;
    job->arg = arg;
    job->pool = P;
    job->task = self;
    job->result = 0;
    job->cancel = 0;
    E->refs++;
    ev_ref(E->ev); /* an offloaded call keeps the loop alive */
    pthread_mutex_lock(&P->mu);
    job_set_state(job, J_QUEUED);
    if (P->tail)
        P->tail->next = job;
    else
        P->head = job;
    P->tail = job;
    pthread_cond_signal(&P->cv);
    pthread_mutex_unlock(&P->mu);
    return async_park(L, &job->waiter);
}

/* ---- name resolution ---- */

static int resolve_fn(async_offload *job, void *arg)
{
    async_resolve_req *r = (async_resolve_req *)arg;
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int err;

    (void)job;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = r->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", r->port);
    err = getaddrinfo(r->host, port, &hints, &res);
    if (err == EAI_ADDRFAMILY || (err == EAI_NONAME && r->family == AF_UNSPEC)) {
        /* AI_ADDRCONFIG hides loopback-only hosts on machines with no
         * configured address: try once without it. */
        hints.ai_flags = AI_NUMERICSERV;
        err = getaddrinfo(r->host, port, &hints, &res);
    }
    r->gai_error = err;
    r->count = 0;
    if (err != 0)
        return ASYNC_ENAME;
    for (ai = res; ai && r->count < ASYNC_CONF_RESOLVE_MAX; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof r->addrs[0].sa)
            continue;
        memcpy(&r->addrs[r->count].sa, ai->ai_addr, ai->ai_addrlen);
        r->addrs[r->count].len = ai->ai_addrlen;
        r->count++;
    }
    freeaddrinfo(res);
    return r->count ? (int)r->count : ASYNC_ENAME;
}

int async_resolve(async_loop *L, async_pool *P, async_resolve_req *r, const char *host,
                  unsigned port, int family)
{
    int rc;

    if (r && r->inflight) { /* resuming an offloaded lookup */
        rc = async_offload_run(L, P, &r->job, resolve_fn, r);
        if (rc != ASYNC_PENDING)
            r->inflight = 0;
        return rc;
    }
    /* Only an op that parked is woken, and this one parks only with
     * inflight set (handled above): defensive, for a wake-up meant for
     * nobody else. */
    if (async_woken(L, &rc))
        return rc; /* LCOV_EXCL_LINE: unreachable, see above */
    if (r == NULL || host == NULL || host[0] == '\0' || port > 65535 ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return ASYNC_EINVAL;
    r->count = 0;
    r->gai_error = 0;
    if (async_addr_ip(&r->addrs[0], host, port) == 0) { /* numeric: no lookup */
        if (family != AF_UNSPEC && r->addrs[0].sa.ss_family != family)
            return ASYNC_ENAME;
        r->count = 1;
        return 1;
    }
    if (P == NULL)
        return ASYNC_EINVAL;
    r->host = host;
    r->port = port;
    r->family = family;
    rc = async_offload_run(L, P, &r->job, resolve_fn, r);
    r->inflight = rc == ASYNC_PENDING;
    return rc;
}
