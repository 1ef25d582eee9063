/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the TLS client's record layer (src/tls.c) fed
 * garbage and damaged records over a real socketpair.
 *
 * The first input byte picks a mode:
 *
 *   even: RAW - the rest of the input is everything the "server" sends
 *         after reading the ClientHello, in chunks whose sizes come from
 *         the input, then it closes.  Garbage, truncated records, huge
 *         lengths, alerts, plausible ServerHellos.
 *   odd:  MITM - a real TLS server (our own async_tls_accept, with a
 *         key and certificate made at start) echoes a message; a proxy
 *         between it and the client applies the input's damage to what
 *         the server sends: up to 8 edits (flip a byte, insert bytes,
 *         cut the stream) at input-chosen offsets, through the handshake
 *         and the application records.
 *
 * The client (verification off: the certificate is throwaway) must end
 * with the exact echo, or with ASYNC_ETLS, ASYNC_ECERT, ASYNC_EOF,
 * ASYNC_ECONNRESET, ASYNC_EPIPE or its 300 ms deadline - never wrong
 * bytes, a crash, a sanitizer report, a hang or a leak of an OpenSSL
 * object (LeakSanitizer runs at exit; every session must be freed).
 *
 *   make fuzz                        # every target, FUZZ_TIME seconds each
 *   build/fuzz/fuzz_tls CRASH        # replay one input                   */
#define _GNU_SOURCE
#include "src/async_tls.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG 1500
#define MAX_EDITS 8

enum { E_FLIP, E_INSERT, E_CUT };

static struct {
    int mitm;
    const uint8_t *data; /* RAW: the bytes; MITM: insert material */
    size_t size;
    unsigned nedits;
    struct edit {
        int kind;
        size_t at;
        uint8_t byte;
        size_t len;
    } edits[MAX_EDITS];
    uint8_t chunks[16]; /* RAW: chunk sizes */
} P;

static async_ev E;
static async_tls_ctx cctx, sctx;
static unsigned char msg[MSG];

/* ---- a throwaway key and self-signed certificate, made once ---- */

static void make_server_ctx(void)
{
    static const char *cert = "/tmp/fuzz_tls_cert.pem", *key = "/tmp/fuzz_tls_key.pem";
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f;
    async_tls_config sc = {0}, cc = {0};

    if (pk == NULL || x == NULL)
        abort();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz.example", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    if (!X509_sign(x, pk, EVP_sha256()))
        abort();
    if ((f = fopen(cert, "w")) == NULL || !PEM_write_X509(f, x))
        abort();
    fclose(f);
    if ((f = fopen(key, "w")) == NULL || !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
    sc.cert_file = cert;
    sc.key_file = key;
    cc.flags = ASYNC_TLS_INSECURE_NO_VERIFY;
    if (async_tls_ctx_init(&sctx, ASYNC_TLS_SERVER, &sc) < 0 ||
        async_tls_ctx_init(&cctx, ASYNC_TLS_CLIENT, &cc) < 0)
        abort();
    unlink(cert);
    unlink(key);
}

/* ---- the input ---- */

static void decode(const uint8_t *d, size_t n)
{
    unsigned i;
    memset(&P, 0, sizeof P);
    if (n == 0)
        return;
    P.mitm = d[0] & 1;
    d++;
    n--;
    if (!P.mitm) {
        for (i = 0; i < sizeof P.chunks && n; i++, d++, n--)
            P.chunks[i] = *d;
        P.data = d;
        P.size = n;
        return;
    }
    P.nedits = n ? (unsigned)(d[0] % (MAX_EDITS + 1)) : 0;
    if (n) {
        d++;
        n--;
    }
    for (i = 0; i < P.nedits && n >= 4; i++, d += 4, n -= 4) {
        P.edits[i].kind = d[0] % 3;
        P.edits[i].at = ((size_t)d[1] << 8 | d[2]) % 6000;
        P.edits[i].byte = d[3];
        P.edits[i].len = 1 + d[3] % 16;
    }
    P.nedits = i;
    P.data = d;
    P.size = n;
}

/* ---- the client ---- */

static struct client {
    async_task task;
    async_co co;
    async_timeout to;
    async_stream s;
    async_tls tls;
    unsigned char in[MSG];
    int rc, n;
} C;

static int client_fn(async_loop *L, async_task *self)
{
    struct client *c = async_frame(self, struct client, task);
    async_begin(L, &c->co);
    async_timeout_begin(&c->to, ASYNC_MS(300));
    async_await(async_tls_client(L, &c->s, &c->tls, &cctx, "fuzz.example"));
    async_await(async_stream_write(L, &c->s, msg, MSG));
    async_await(async_stream_read_exactly(L, &c->s, c->in, MSG));
    if (memcmp(c->in, msg, MSG) != 0) {
        fprintf(stderr, "fuzz_tls: the echo came back different\n");
        abort();
    }
    async_finally;
    if (async_error() == ASYNC_EOF &&
        memcmp(c->in, msg, async_stream_partial(&c->s)) != 0) {
        fprintf(stderr, "fuzz_tls: a cut echo holds wrong bytes\n");
        abort();
    }
    async_stream_close(L, &c->s);
    if (async_tls_ssl(&c->s) != NULL)
        abort(); /* the session must be gone */
    async_end;
}

/* ---- RAW: the fake server ---- */

static struct raw {
    async_task task;
    async_co co;
    async_stream s;
    unsigned char buf[4096];
    size_t off;
    unsigned i;
    int n;
} R;

static int raw_fn(async_loop *L, async_task *self)
{
    struct raw *r = async_frame(self, struct raw, task);
    async_begin(L, &r->co);
    async_await(async_stream_read(L, &r->s, r->buf, sizeof r->buf)); /* ClientHello */
    for (r->off = 0, r->i = 0; r->off < P.size; r->i++) {
        r->n = 1 + P.chunks[r->i % sizeof P.chunks] * 4;
        if ((size_t)r->n > P.size - r->off)
            r->n = (int)(P.size - r->off);
        async_await(async_stream_write(L, &r->s, P.data + r->off, (size_t)r->n));
        r->off += (size_t)r->n;
        async_await(async_yield());
    }
    async_await(async_stream_shutdown(&r->s));
    for (;;) { /* until the client gives up */
        async_await_rc(r->n, async_stream_read(L, &r->s, r->buf, sizeof r->buf));
        if (r->n < 0)
            break;
    }
    async_finally;
    async_stream_close(L, &r->s);
    async_end;
}

/* ---- MITM: a real server, and a proxy that damages its bytes ---- */

static struct server {
    async_task task;
    async_co co;
    async_stream s;
    async_tls tls;
    unsigned char buf[4096];
    int n;
} S;

static int server_fn(async_loop *L, async_task *self)
{
    struct server *v = async_frame(self, struct server, task);
    async_begin(L, &v->co);
    async_await(async_tls_accept(L, &v->s, &v->tls, &sctx));
    for (;;) {
        async_await_rc(v->n, async_stream_read(L, &v->s, v->buf, sizeof v->buf));
        if (v->n < 0)
            break;
        async_await(async_stream_write(L, &v->s, v->buf, (size_t)v->n));
    }
    async_finally;
    async_stream_close(L, &v->s);
    async_end;
}

static struct pump {
    async_task task;
    async_co co;
    async_stream *from, *to;
    int damage, n, cut;
    size_t pos, k, ins;
    unsigned e;
    unsigned char buf[2048];
} UP, DOWN;

static async_stream PC, PS; /* the proxy's ends: towards client, server */

/* Apply the edits that fall in buf[0..n) (stream offset p->pos).       */
static void damage(struct pump *p)
{
    unsigned i;
    for (i = 0; i < P.nedits; i++) {
        struct edit *e = &P.edits[i];
        if (e->at < p->pos || e->at >= p->pos + (size_t)p->n)
            continue;
        if (e->kind == E_FLIP)
            p->buf[e->at - p->pos] ^= (uint8_t)(e->byte | 1);
        else if (e->kind == E_CUT && !p->cut)
            p->cut = (int)(e->at - p->pos) + 1; /* +1: 0 means none */
    }
}

static int pump_fn(async_loop *L, async_task *self)
{
    struct pump *p = async_frame(self, struct pump, task);
    async_begin(L, &p->co);
    for (;;) {
        async_await_rc(p->n, async_stream_read(L, p->from, p->buf, sizeof p->buf));
        if (p->n < 0)
            break;
        if (p->damage) {
            damage(p);
            /* insertions: write up to the point, then the bytes */
            for (p->e = 0; p->e < P.nedits; p->e++) {
                if (P.edits[p->e].kind != E_INSERT || P.edits[p->e].at < p->pos ||
                    P.edits[p->e].at >= p->pos + (size_t)p->n || P.size == 0)
                    continue;
                p->k = P.edits[p->e].at - p->pos;
                async_await(async_stream_write(L, p->to, p->buf, p->k));
                p->ins = P.edits[p->e].len < P.size ? P.edits[p->e].len : P.size;
                async_await(async_stream_write(L, p->to, P.data, p->ins));
                memmove(p->buf, p->buf + p->k, (size_t)p->n - p->k);
                p->n -= (int)p->k;
                p->pos += p->k;
            }
            if (p->cut) {
                if (p->cut - 1 > p->n) /* an insertion moved the bytes */
                    p->cut = p->n + 1;
                if (p->cut > 1)
                    async_await(async_stream_write(L, p->to, p->buf, (size_t)p->cut - 1));
                break;
            }
        }
        if (p->n > 0)
            async_await(async_stream_write(L, p->to, p->buf, (size_t)p->n));
        p->pos += (size_t)p->n;
    }
    async_finally;
    if (!async_stream_is_closed(p->to))
        async_stream_close(L, p->to);
    if (!async_stream_is_closed(p->from))
        async_stream_close(L, p->from);
    async_end;
}

/* ---- one input ---- */

static struct main_frame {
    async_task task;
    async_co co;
    int rc;
} M;

static int main_fn(async_loop *L, async_task *self)
{
    struct main_frame *m = async_frame(self, struct main_frame, task);
    async_begin(L, &m->co);
    async_await_rc(m->rc, async_join(L, &C.task));
    if (m->rc < 0 && m->rc != ASYNC_ETLS && m->rc != ASYNC_ECERT && m->rc != ASYNC_EOF &&
        m->rc != ASYNC_ECONNRESET && m->rc != ASYNC_EPIPE && m->rc != ASYNC_ETIMEDOUT) {
        fprintf(stderr, "fuzz_tls: the client ended with %s\n", async_strerror(m->rc));
        abort();
    }
    if (!P.mitm) {
        async_await_rc(m->rc, async_join(L, &R.task));
    } else {
        async_await_rc(m->rc, async_join(L, &UP.task));
        async_await_rc(m->rc, async_join(L, &DOWN.task));
        async_await_rc(m->rc, async_join(L, &S.task));
    }
    async_end;
}

static void pair(async_stream *a, async_stream *b)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0 || async_stream_init(a, fds[0], NULL, 0) < 0 ||
        async_stream_init(b, fds[1], NULL, 0) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ev_loop *ev;
    size_t i;

    if (ev == NULL) {
        signal(SIGPIPE, SIG_IGN);
        ev = ev_loop_new(EVFLAG_AUTO);
        if (ev == NULL || async_ev_init(&E, ev) < 0)
            abort();
        make_server_ctx();
        for (i = 0; i < MSG; i++)
            msg[i] = (unsigned char)(i * 7 + (i >> 5));
    }
    decode(data, size);
    memset(&C, 0, sizeof C);
    memset(&M, 0, sizeof M);
    if (!P.mitm) {
        memset(&R, 0, sizeof R);
        pair(&C.s, &R.s);
        async_spawn(&E.loop, &R.task, raw_fn);
    } else {
        memset(&S, 0, sizeof S);
        memset(&UP, 0, sizeof UP);
        memset(&DOWN, 0, sizeof DOWN);
        memset(&PC, 0, sizeof PC);
        memset(&PS, 0, sizeof PS);
        pair(&C.s, &PC);
        pair(&PS, &S.s);
        UP.from = &PC;
        UP.to = &PS;
        DOWN.from = &PS;
        DOWN.to = &PC;
        DOWN.damage = 1;
        async_spawn(&E.loop, &S.task, server_fn);
        async_spawn(&E.loop, &UP.task, pump_fn);
        async_spawn(&E.loop, &DOWN.task, pump_fn);
    }
    async_spawn(&E.loop, &C.task, client_fn);
    if (async_ev_run(&E, &M.task, main_fn) < 0)
        abort();
    return 0;
}
