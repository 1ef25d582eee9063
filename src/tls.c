/* SPDX-License-Identifier: MIT */
/*
 * TLS over OpenSSL as a layer under async_stream (src/async_tls.h).
 *
 * OpenSSL reads and writes the socket through a BIO of ours (recv, and
 * send with MSG_NOSIGNAL: a vanished peer is ASYNC_EPIPE, never
 * SIGPIPE).  The BIO also notes whether the last recv() emptied the
 * socket, so a read that returns data can tell the stream to wait before
 * the next one instead of paying a recv() that fails with EAGAIN.
 * SSL_ERROR_WANT_READ / WANT_WRITE become a park on the stream's own fd
 * watchers, for the readiness OpenSSL asked for.
 *
 * Every OpenSSL call starts with an empty error queue (OpenSSL's rule for
 * SSL_get_error) and leaves it empty: a failure's queue is read into the
 * session's reason, then cleared.
 */
#define _GNU_SOURCE
#include "src/async_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

enum {
    T_DRAINED = 0x01, /* the last recv() left the socket empty      */
    T_WPEND = 0x02,   /* SSL_write waits to finish a record         */
    T_CLIENT = 0x04,
    T_SHUT = 0x08     /* close_notify sent                          */
};
enum { HS_NONE, HS_READER, HS_WRITER }; /* where a handshake is parked */

/* ---- the BIO: the stream's socket, without SIGPIPE ---- */

static BIO_METHOD *bio_method;
static pthread_mutex_t bio_lock = PTHREAD_MUTEX_INITIALIZER;

static int bio_write(BIO *b, const char *buf, int len)
{
    async_tls *t = (async_tls *)BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    do {
        n = send(t->fd, buf, (size_t)len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        BIO_set_retry_write(b);
    else
        t->sys_errno = errno;
    return -1;
}

static int bio_read(BIO *b, char *buf, int len)
{
    async_tls *t = (async_tls *)BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    do {
        n = recv(t->fd, buf, (size_t)len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        if (n < len)
            t->state |= T_DRAINED;
        else
            t->state &= (uint8_t)~T_DRAINED;
        return (int)n;
    }
    if (n == 0)
        return 0; /* end of stream: OpenSSL decides if it was clean */
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        t->state |= T_DRAINED;
        BIO_set_retry_read(b);
    } else {
        t->sys_errno = errno;
    }
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* writes are unbuffered: nothing to flush */
}

static void bio_method_free(void)
{
    BIO_meth_free(bio_method);
    bio_method = NULL;
}

static void bio_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "async_stream");
    if (m == NULL)
        return;
    /* LCOV_EXCL_START: the setters only store the pointer, they cannot fail */
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl)) {
        BIO_meth_free(m);
        return;
    }
    /* LCOV_EXCL_STOP */
    /* Freed inside OpenSSL's own exit-time cleanup, before it tears down
     * what BIO_meth_free needs. */
    OPENSSL_atexit(bio_method_free);
    __atomic_store_n(&bio_method, m, __ATOMIC_RELEASE);
}

/* The process-wide BIO method, made at the first attach that can make it:
 * an allocation that fails leaves it for the next attach to try again
 * (a pthread_once would leave TLS off for the process). */
static BIO_METHOD *bio_method_get(void)
{
    BIO_METHOD *m = __atomic_load_n(&bio_method, __ATOMIC_ACQUIRE);
    if (m)
        return m;
    pthread_mutex_lock(&bio_lock);
    if (bio_method == NULL)
        bio_method_make();
    m = bio_method;
    pthread_mutex_unlock(&bio_lock);
    return m;
}

/* ---- failures ---- */

/* The text of an error-queue entry: a system error's is strerror's
 * (OpenSSL gives none), others OpenSSL's static reason string.        */
static const char *err_text(unsigned long e)
{
#ifdef ERR_SYSTEM_ERROR
    if (ERR_SYSTEM_ERROR(e))
        return strerror(ERR_GET_REASON(e));
#endif
    return ERR_reason_error_string(e);
}

/* An alert by which the peer rejected our certificate. */
static bool is_cert_alert(int reason)
{
    switch (reason - SSL_AD_REASON_OFFSET) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

static void tls_free(async_tls *t)
{
    if (t->ssl) {
        SSL_free(t->ssl); /* and the BIO */
        t->ssl = NULL;
    }
}

/* The session is dead with code rc: keep the reason, free OpenSSL's
 * objects at once (nothing can use them any more), return rc.        */
static int tls_die(async_tls *t, int rc, const char *reason)
{
    t->dead = rc;
    t->reason = reason;
    ERR_clear_error();
    tls_free(t);
    return rc;
}

/* From OpenSSL's error queue: ASYNC_ECERT or ASYNC_ETLS, with the text. */
static int tls_die_ssl(async_tls *t)
{
    unsigned long e, first = 0;
    bool cert = false;
    const char *why;

    while ((e = ERR_get_error()) != 0) {
        int r = ERR_GET_REASON(e);
        if (first == 0)
            first = e;
        if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
            (r == SSL_R_CERTIFICATE_VERIFY_FAILED || r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
             is_cert_alert(r))) {
            cert = true;
            first = e;
            break;
        }
    }
    if (cert && ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(t->ssl);
        return tls_die(t, ASYNC_ECERT,
                       v != X509_V_OK ? X509_verify_cert_error_string(v)
                                      : "certificate verify failed");
    }
    why = first ? err_text(first) : NULL;
    return tls_die(t, cert ? ASYNC_ECERT : ASYNC_ETLS, why ? why : "TLS protocol error");
}

/* After an SSL_* call returned r <= 0: ASYNC_EAGAIN with *events, or the
 * failure (the session is then dead).  ZERO_RETURN is the peer's
 * close_notify: ASYNC_EOF, which leaves the session usable for writes. */
static int tls_failure(async_tls *t, int r, int *events)
{
    switch (SSL_get_error(t->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *events = EV_READ;
        return ASYNC_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *events = EV_WRITE;
        return ASYNC_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return ASYNC_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (t->sys_errno) /* the socket failed: a stream error, no TLS text */
                return tls_die(t, async_errno(t->sys_errno), NULL);
            return tls_die(t, ASYNC_ETLS, "unexpected eof while reading");
        }
        return tls_die_ssl(t);
    default:
        return tls_die_ssl(t);
    }
}

/* A reader parked while another task's call moved data into OpenSSL's
 * buffers (or killed the session) would never see the fd get readable:
 * wake it.                                                            */
static void tls_kick_reader(async_tls *t)
{
    async_stream *s = t->s;
    if (s->reader && (t->ssl == NULL || SSL_has_pending(t->ssl)))
        async_wake(s->rio.L, s->reader, EV_READ);
}

/* A writer parked for readability (OpenSSL needed the peer's handshake
 * data), or for a session now dead: the reader's call may have taken
 * what it waited for.                                                 */
static void tls_kick_writer(async_tls *t)
{
    async_stream *s = t->s;
    if (s->writer && (t->ssl == NULL || s->wwant == EV_READ))
        async_wake(s->wio.L, s->writer, EV_WRITE);
}

/* ---- the layer under the stream ---- */

static int tls_read(async_layer *x, void *buf, size_t len, int *events)
{
    async_tls *t = (async_tls *)(void *)x;
    int n;

    if (t->dead)
        return t->dead;
    t->sys_errno = 0;
    ERR_clear_error();
    n = SSL_read(t->ssl, buf, len > (size_t)INT_MAX ? INT_MAX : (int)len);
    if (n > 0) {
        *events = (t->state & T_DRAINED) && !SSL_has_pending(t->ssl) ? EV_READ : 0;
        if (t->s->writer)
            tls_kick_writer(t);
        return n;
    }
    n = tls_failure(t, n, events);
    if (n != ASYNC_EAGAIN && t->s->writer)
        tls_kick_writer(t);
    return n;
}

static int tls_write(async_layer *x, const void *buf, size_t len, int *events)
{
    async_tls *t = (async_tls *)(void *)x;
    int n;

    if (t->dead)
        return t->dead;
    /* OpenSSL has part of a record out and must be called again with the
     * same bytes.  Other bytes mean the write that started it was
     * interrupted: the record cannot be taken back, so the write side is
     * lost (the peer would see a corrupt stream). */
    if ((t->state & T_WPEND) && (buf != t->wpend_buf || len != t->wpend_len))
        return tls_die(t, ASYNC_ETLS, "a write was interrupted in the middle of a TLS record");
    t->sys_errno = 0;
    ERR_clear_error();
    n = SSL_write(t->ssl, buf, len > (size_t)INT_MAX ? INT_MAX : (int)len);
    if (n > 0) {
        t->state &= (uint8_t)~T_WPEND;
        if (t->s->reader)
            tls_kick_reader(t);
        return n;
    }
    if (ERR_peek_error() != 0 && ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_SSL &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_PROTOCOL_IS_SHUTDOWN) {
        ERR_clear_error();
        return ASYNC_EPIPE; /* after our own shutdown: as on a plain stream */
    }
    n = tls_failure(t, n, events);
    if (n == ASYNC_EAGAIN) {
        t->state |= T_WPEND;
        t->wpend_buf = buf;
        t->wpend_len = len;
    } else if (t->s->reader) {
        tls_kick_reader(t);
    }
    return n;
}

/* SSL_shutdown: our close_notify.  When the socket refuses a write it
 * has room for (an EAGAIN that is not a full buffer, say after a short
 * send), it is tried again at once, CLOSE_TRIES times in all: a
 * close_notify left half sent reaches the peer as a truncated record, a
 * protocol error where the peer should see the end.  Never waits: the
 * room is asked of poll() with a zero timeout.                        */
#define CLOSE_TRIES 5
static int tls_close_notify(async_tls *t)
{
    struct pollfd p;
    int r, tries = 0;
    for (;;) {
        t->sys_errno = 0;
        ERR_clear_error();
        r = SSL_shutdown(t->ssl);
        if (r >= 0 || ++tries == CLOSE_TRIES || SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_WRITE)
            return r;
        p.fd = t->fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
            return r; /* a full buffer: it cannot go out now */
    }
}

static int tls_shutdown(async_layer *x)
{
    async_tls *t = (async_tls *)(void *)x;
    int r, ev;

    if (t->dead)
        return t->dead;
    if ((t->state & T_SHUT) || !SSL_is_init_finished(t->ssl))
        return 0; /* nothing to close yet: the TCP half-close says it */
    if (t->state & T_WPEND)
        return tls_die(t, ASYNC_ETLS, "a write was interrupted in the middle of a TLS record");
    r = tls_close_notify(t);
    if (r >= 0) { /* 0: sent, the peer's may follow; 1: both sent */
        t->state |= T_SHUT;
        return 0;
    }
    r = tls_failure(t, r, &ev);
    return r == ASYNC_EOF ? 0 : r;
}

/* close_notify once, without waiting, if the session is healthy; then
 * free it.  The reason stays readable. */
static void tls_close(async_layer *x)
{
    async_tls *t = (async_tls *)(void *)x;

    if (t->ssl && !t->dead && !(t->state & (T_SHUT | T_WPEND)) && SSL_is_init_finished(t->ssl)) {
        (void)tls_close_notify(t);
        ERR_clear_error();
    }
    tls_free(t);
    if (!t->dead)
        t->dead = ASYNC_ECLOSED;
}

static const async_layer_ops tls_ops = {tls_read, tls_write, tls_shutdown, tls_close};

static async_tls *tls_of(const async_stream *s)
{
    return s && s->layer && s->layer->ops == &tls_ops ? (async_tls *)(void *)s->layer : NULL;
}

/* ---- contexts ---- */

/* "h2,http/1.1" -> ALPN wire format (length-prefixed names).  Length,
 * or -1 if a name is empty or longer than 255 or the list too long.   */
static int alpn_wire(unsigned char *out, size_t cap, const char *list)
{
    size_t n = 0;
    while (*list) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        if (len == 0 || len > 255 || n + 1 + len > cap)
            return -1;
        out[n++] = (unsigned char)len;
        memcpy(out + n, list, len);
        n += len;
        list += len + (end != NULL);
    }
    return n ? (int)n : -1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    async_tls_ctx *c = (async_tls_ctx *)arg;
    unsigned char *chosen;
    (void)ssl;
    if (SSL_select_next_proto(&chosen, outlen, c->alpn, c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without */
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* A context setting failed: the queue's first reason (for a file, the
 * system's: "No such file or directory"), context freed.            */
static int ctx_fail(async_tls_ctx *c, const char *fallback)
{
    unsigned long e = ERR_peek_error();
    const char *why = e ? err_text(e) : NULL;
    c->reason = why ? why : fallback;
    ERR_clear_error();
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
    return ASYNC_ETLS;
}

static int ctx_trust(async_tls_ctx *c, const async_tls_config *cfg)
{
    if (cfg->ca_file || cfg->ca_dir) {
        if (SSL_CTX_load_verify_locations(c->ctx, cfg->ca_file, cfg->ca_dir) != 1)
            return ctx_fail(c, "cannot load the CA file or directory");
    } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        return ctx_fail(c, "cannot load the default CA store");
    }
    return 0;
}

int async_tls_ctx_init(async_tls_ctx *c, int role, const async_tls_config *cfg)
{
    static const async_tls_config none;
    int rc, mode;

    if (c == NULL)
        return ASYNC_EINVAL;
    memset(c, 0, sizeof *c);
    if (cfg == NULL)
        cfg = &none;
    if ((role != ASYNC_TLS_CLIENT && role != ASYNC_TLS_SERVER) ||
        (cfg->flags & ~(ASYNC_TLS_VERIFY_CLIENT | ASYNC_TLS_INSECURE_NO_VERIFY |
                        ASYNC_TLS_RELEASE_BUFFERS)) ||
        (role == ASYNC_TLS_SERVER && cfg->cert_file == NULL) ||
        (role == ASYNC_TLS_SERVER && (cfg->flags & ASYNC_TLS_INSECURE_NO_VERIFY)) ||
        (role == ASYNC_TLS_CLIENT && (cfg->flags & ASYNC_TLS_VERIFY_CLIENT)) ||
        (cfg->key_file && cfg->cert_file == NULL)) {
        c->reason = "invalid configuration";
        return ASYNC_EINVAL;
    }
    if (cfg->alpn) {
        rc = alpn_wire(c->alpn, sizeof c->alpn, cfg->alpn);
        if (rc < 0) {
            c->reason = "invalid ALPN list";
            return ASYNC_EINVAL;
        }
        c->alpn_len = (unsigned)rc;
    }
    ERR_clear_error();
    c->ctx = SSL_CTX_new(role == ASYNC_TLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (c->ctx == NULL) {
        ERR_clear_error();
        c->reason = "out of memory";
        return ASYNC_ENOSPC;
    }
    c->role = role;
    c->flags = cfg->flags;
    if (SSL_CTX_set_min_proto_version(c->ctx, cfg->min_version ? cfg->min_version
                                                               : TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c->ctx, cfg->max_version) != 1)
        return ctx_fail(c, "unsupported protocol version");
    if (cfg->ciphersuites && SSL_CTX_set_ciphersuites(c->ctx, cfg->ciphersuites) != 1)
        return ctx_fail(c, "no such TLS 1.3 cipher suite");
    if (cfg->ciphers && SSL_CTX_set_cipher_list(c->ctx, cfg->ciphers) != 1)
        return ctx_fail(c, "no such cipher");
    /* Renegotiation is refused (TLS 1.2 only; a DoS vector); partial
     * writes let a large write go out record by record; read-ahead lets
     * one recv() take several records. */
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION);
    mode = SSL_MODE_ENABLE_PARTIAL_WRITE;
    if (cfg->flags & ASYNC_TLS_RELEASE_BUFFERS)
        mode |= SSL_MODE_RELEASE_BUFFERS;
    SSL_CTX_set_mode(c->ctx, mode);
    SSL_CTX_set_read_ahead(c->ctx, 1);

    if (cfg->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(c->ctx, cfg->cert_file) != 1)
            return ctx_fail(c, "cannot load the certificate chain");
        if (SSL_CTX_use_PrivateKey_file(c->ctx, cfg->key_file ? cfg->key_file : cfg->cert_file,
                                        SSL_FILETYPE_PEM) != 1)
            return ctx_fail(c, "cannot load the private key");
        /* LCOV_EXCL_START: SSL_CTX_use_PrivateKey_file already refuses a
         * key that does not match the certificate ("key values
         * mismatch"): OpenSSL's final check does not fail after it. */
        if (SSL_CTX_check_private_key(c->ctx) != 1)
            return ctx_fail(c, "the private key does not match the certificate");
        /* LCOV_EXCL_STOP */
    }
    if (role == ASYNC_TLS_CLIENT) {
        if (!(cfg->flags & ASYNC_TLS_INSECURE_NO_VERIFY)) {
            if ((rc = ctx_trust(c, cfg)) < 0)
                return rc;
            SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        } else {
            SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
        }
        if (c->alpn_len && SSL_CTX_set_alpn_protos(c->ctx, c->alpn, c->alpn_len) != 0)
            return ctx_fail(c, "cannot set ALPN");
    } else {
        if (cfg->flags & ASYNC_TLS_VERIFY_CLIENT) {
            if ((rc = ctx_trust(c, cfg)) < 0)
                return rc;
            if (cfg->ca_file) { /* the CA names sent in the CertificateRequest */
                STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
                if (names == NULL)
                    return ctx_fail(c, "cannot read the CA file's names");
                SSL_CTX_set_client_CA_list(c->ctx, names);
            }
            SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        if (c->alpn_len)
            SSL_CTX_set_alpn_select_cb(c->ctx, alpn_select, c);
    }
    ERR_clear_error();
    return 0;
}

void async_tls_ctx_close(async_tls_ctx *c)
{
    if (c && c->ctx) {
        SSL_CTX_free(c->ctx);
        c->ctx = NULL;
    }
}

const char *async_tls_ctx_reason(const async_tls_ctx *c)
{
    return c ? c->reason : NULL;
}

/* ---- sessions ---- */

/* host is an IP literal ("127.0.0.1", "::1", "[::1]"): copy it bare into
 * ip (cap >= INET6_ADDRSTRLEN) and return true.                       */
static bool ip_literal(const char *host, char *ip, size_t cap)
{
    unsigned char bin[sizeof(struct in6_addr)];
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= cap)
        return false;
    memcpy(ip, host, n);
    ip[n] = '\0';
    return inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1;
}

/* Who the client expects: an IP address is checked against the
 * certificate's IP entries and sent as no SNI (RFC 6066); a name is
 * checked against its DNS names (no partial wildcards) and sent as SNI. */
static int session_peer(SSL *ssl, const char *host, bool verify)
{
    char ip[INET6_ADDRSTRLEN + 1];

    if (host == NULL)
        return 1;
    if (ip_literal(host, ip, sizeof ip))
        return verify ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) : 1;
    if (SSL_set_tlsext_host_name(ssl, host) != 1)
        return 0;
    if (!verify)
        return 1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host);
}

int async_tls_attach(async_stream *s, async_tls *t, async_tls_ctx *c, const char *host)
{
    bool client, verify;
    const BIO_METHOD *meth;
    BIO *bio;

    if (s == NULL || t == NULL || c == NULL || c->ctx == NULL)
        return ASYNC_EINVAL;
    if (async_stream_is_closed(s))
        return s->fd == -1 ? ASYNC_ECLOSED : ASYNC_EINVAL;
    client = c->role == ASYNC_TLS_CLIENT;
    verify = client && !(c->flags & ASYNC_TLS_INSECURE_NO_VERIFY);
    if (verify && (host == NULL || host[0] == '\0'))
        return ASYNC_EINVAL; /* nothing to check the certificate against */
    if (s->layer || s->reader || s->writer || s->rlen > s->rpos)
        return ASYNC_EBUSY;
    if (host && strlen(host) > 255)
        return ASYNC_EINVAL; /* longer than any DNS name (or SNI) can be */
    memset(t, 0, sizeof *t);
    t->layer.ops = &tls_ops;
    t->s = s;
    t->fd = s->fd;
    t->state = client ? T_CLIENT : 0;
    ERR_clear_error();
    if ((meth = bio_method_get()) == NULL || (t->ssl = SSL_new(c->ctx)) == NULL)
        goto nomem;
    if ((bio = BIO_new(meth)) == NULL)
        goto nomem;
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio); /* the SSL owns it now */
    if (client) {
        SSL_set_connect_state(t->ssl);
        if (!session_peer(t->ssl, host, verify))
            goto nomem;
    } else {
        SSL_set_accept_state(t->ssl);
    }
    s->layer = &t->layer;
    s->rwant = EV_READ;
    s->wwant = EV_WRITE;
    return 0;
nomem:
    ERR_clear_error();
    tls_free(t);
    t->layer.ops = NULL;
    return ASYNC_ENOSPC;
}

/* A parked handshake was woken: leave the stream slot it held. */
static void hs_unpark(async_stream *s, async_tls *t)
{
    if (t->hs == HS_READER)
        s->reader = NULL;
    else if (t->hs == HS_WRITER)
        s->writer = NULL;
    t->hs = HS_NONE;
}

/* First call of a handshake op: may this task drive it now? */
static int hs_check(async_loop *L, async_stream *s)
{
    if (s == NULL)
        return ASYNC_EINVAL;
    if (async_stream_is_closed(s))
        return s->fd == -1 ? ASYNC_ECLOSED : ASYNC_EINVAL;
    if (tls_of(s) == NULL)
        return ASYNC_EINVAL;
    if (async_current(L) == NULL)
        return ASYNC_EPERM;
    if (s->reader || s->writer)
        return ASYNC_EBUSY;
    return 0;
}

/* One step: done, failed, or parked on the readiness OpenSSL wants (a
 * read wait on the reader's watcher, a write wait on the writer's, so
 * that close wakes it and other ops see the stream busy). */
static int hs_step(async_loop *L, async_stream *s, async_tls *t)
{
    int r, ev = 0;

    if (t->dead)
        return t->dead;
    if (SSL_is_init_finished(t->ssl))
        return 0;
    t->sys_errno = 0;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 0;
    r = tls_failure(t, r, &ev);
    if (r == ASYNC_EOF) /* close_notify before the handshake finished */
        return tls_die(t, ASYNC_ETLS, "the peer closed the connection during the handshake");
    if (r != ASYNC_EAGAIN)
        return r;
    if (ev == EV_READ) {
        s->rio.keep = 1;
        r = async_io_wait(L, &s->rio, s->fd, EV_READ);
        if (r == ASYNC_PENDING) {
            s->reader = async_current(L);
            s->rwant = EV_READ;
            t->hs = HS_READER;
        }
    } else {
        r = async_io_wait(L, &s->wio, s->fd, EV_WRITE);
        if (r == ASYNC_PENDING) {
            s->writer = async_current(L);
            s->wwant = EV_WRITE;
            t->hs = HS_WRITER;
        }
    }
    return r;
}

/* The woken half of every handshake op. */
static int hs_resume(async_loop *L, async_stream *s, int rc)
{
    async_tls *t = tls_of(s);
    /* A parked handshake's stream keeps its layer: async_tls_attach sets
     * it, nothing clears it but a new async_stream_init, and the close
     * before that wakes the op (ECLOSED, with the layer still there). */
    if (t == NULL)                             /* LCOV_EXCL_BR_LINE: see above */
        return rc < 0 ? rc : ASYNC_EINVAL;     /* LCOV_EXCL_LINE */
    hs_unpark(s, t);
    if (rc < 0)
        return rc;
    if (async_stream_is_closed(s))
        return ASYNC_ECLOSED;
    return hs_step(L, s, t);
}

int async_tls_handshake(async_loop *L, async_stream *s)
{
    int rc;
    if (async_woken(L, &rc))
        return hs_resume(L, s, rc);
    if ((rc = hs_check(L, s)) < 0)
        return rc;
    return hs_step(L, s, tls_of(s));
}

/* async_tls_client / async_tls_accept: attach unless t is attached. */
static int attach_and_handshake(async_loop *L, async_stream *s, async_tls *t, async_tls_ctx *c,
                                int role, const char *host)
{
    int rc;
    if (L == NULL || s == NULL || t == NULL)
        return ASYNC_EINVAL;
    if (async_woken(L, &rc))
        return hs_resume(L, s, rc);
    if (s->layer != &t->layer) {
        if (c == NULL || c->role != role)
            return ASYNC_EINVAL;
        if (async_current(L) == NULL)
            return ASYNC_EPERM;
        if ((rc = async_tls_attach(s, t, c, host)) < 0)
            return rc;
    }
    if ((rc = hs_check(L, s)) < 0)
        return rc;
    return hs_step(L, s, t);
}

int async_tls_client(async_loop *L, async_stream *s, async_tls *t, async_tls_ctx *c,
                     const char *host)
{
    return attach_and_handshake(L, s, t, c, ASYNC_TLS_CLIENT, host);
}

int async_tls_accept(async_loop *L, async_stream *s, async_tls *t, async_tls_ctx *c)
{
    return attach_and_handshake(L, s, t, c, ASYNC_TLS_SERVER, NULL);
}

/* ---- queries ---- */

const char *async_tls_reason(const async_stream *s)
{
    async_tls *t = tls_of(s);
    return t ? t->reason : NULL;
}

int async_tls_alpn(const async_stream *s, char *buf, size_t cap)
{
    async_tls *t = tls_of(s);
    const unsigned char *p = NULL;
    unsigned n = 0;

    if (t == NULL || buf == NULL || cap == 0)
        return ASYNC_EINVAL;
    if (t->ssl)
        SSL_get0_alpn_selected(t->ssl, &p, &n);
    if ((size_t)n + 1 > cap)
        return ASYNC_ETOOLONG;
    if (n)
        memcpy(buf, p, n);
    buf[n] = '\0';
    return (int)n;
}

struct ssl_st *async_tls_ssl(const async_stream *s)
{
    async_tls *t = tls_of(s);
    return t ? t->ssl : NULL;
}

bool async_tls_is_established(const async_stream *s)
{
    async_tls *t = tls_of(s);
    return t && t->ssl && !t->dead && SSL_is_init_finished(t->ssl);
}
