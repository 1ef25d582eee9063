/* SPDX-License-Identifier: MIT */
/*
 * async_tls.h - TLS for the libev runtime's streams, over OpenSSL
 * (Debian libssl-dev; link -lssl -lcrypto after -lasync).
 *
 * TLS is a layer under an async_stream: once a session is attached, the
 * ordinary stream calls - async_stream_read, read_exactly, read_until,
 * write, drain, shutdown, close - carry TLS instead of plain bytes, with
 * the same deadlines, cancellation, one-reader-one-writer rule and
 * results.  Code that takes an async_stream works unchanged over TLS.
 *
 *     async_tls_ctx ctx;                        (once, shared)
 *     async_tls_config cfg = {0};               (trust the default store)
 *     async_tls_ctx_init(&ctx, ASYNC_TLS_CLIENT, &cfg);
 *     ...in a task:
 *     async_await(async_stream_connect(L, &f->s, &addr, NULL, 0));
 *     async_await(async_tls_client(L, &f->s, &f->tls, &ctx, "example.com"));
 *     async_await(async_stream_write(L, &f->s, req, n));   (encrypted)
 *
 * Trust is on by default.  A client verifies the server's certificate
 * chain against OpenSSL's default store (which honours SSL_CERT_FILE and
 * SSL_CERT_DIR) or against the CA file/directory named in the config,
 * and checks that the certificate names the host it asked for (a DNS
 * name, or an IP address given as "127.0.0.1" / "::1" / "[::1]"); it
 * sends the name as SNI.  The only way to skip verification is the flag
 * ASYNC_TLS_INSECURE_NO_VERIFY.
 *
 * Errors: ASYNC_ECERT when a certificate fails verification (we rejected
 * the peer's, or the peer rejected ours and said so in an alert), ASYNC_ETLS
 * for every other handshake or protocol failure (garbage, a bad record,
 * the peer closing without close_notify, an alert).  Both are sticky:
 * every later op on the stream returns the same code.  TCP-level
 * failures keep their stream codes (ASYNC_ECONNRESET, ASYNC_EPIPE), and
 * a deadline or a cancel is ASYNC_ETIMEDOUT / ASYNC_ECANCELED as on any
 * stream.  async_tls_reason() gives OpenSSL's text for the failure
 * ("certificate has expired", "hostname mismatch", "wrong version
 * number"...).
 *
 * Memory: nothing here allocates.  OpenSSL allocates inside its own
 * objects: the SSL_CTX (async_tls_ctx_init, freed by async_tls_ctx_close)
 * and, per session, the SSL, its BIO, and its record buffers (about
 * 50 KB while a connection is open; ASYNC_TLS_RELEASE_BUFFERS frees the
 * buffers of idle connections), all freed when the session fails or the
 * stream is closed.  A process-wide BIO method is made once and freed
 * by OpenSSL's own exit cleanup.
 *
 * Threads: a context may be shared by loops on several threads
 * (OpenSSL's SSL_CTX is thread-safe); a session belongs to its stream's
 * loop.  OpenSSL's error queue is per thread: the calls here leave it
 * empty.
 */
#ifndef ASYNC_TLS_H
#define ASYNC_TLS_H

#include "async_ev.h"

#ifdef __cplusplus
extern "C" {
#endif

/* OpenSSL's SSL and SSL_CTX, declared here so that this header does not
 * pull in <openssl/ssl.h>; include that to use async_tls_ssl().        */
struct ssl_st;
struct ssl_ctx_st;

enum {
    ASYNC_TLS_CLIENT = 0,
    ASYNC_TLS_SERVER = 1
};

/* Protocol versions (the TLS wire values, as OpenSSL's TLS1_x_VERSION). */
#define ASYNC_TLS_1_2 0x0303
#define ASYNC_TLS_1_3 0x0304

/* Config flags. */
/* Server: require a client certificate that verifies against ca_file /
 * ca_dir (or the default store); a client without one fails the
 * handshake with ASYNC_ECERT.                                           */
#define ASYNC_TLS_VERIFY_CLIENT 0x01u
/* Client: accept ANY certificate for ANY name - no chain check, no name
 * check.  The connection is encrypted but the peer is unknown: anyone on
 * the path can read and change it.  For tests against throwaway
 * certificates only.                                                    */
#define ASYNC_TLS_INSECURE_NO_VERIFY 0x02u
/* Free a connection's record buffers while it is idle (less memory per
 * idle connection, one allocation per record: OpenSSL's
 * SSL_MODE_RELEASE_BUFFERS).                                            */
#define ASYNC_TLS_RELEASE_BUFFERS 0x04u

/* Everything optional is NULL / 0.  Strings are read during
 * async_tls_ctx_init only.                                              */
typedef struct async_tls_config {
    const char *ca_file;   /* PEM file of trusted CAs; NULL with ca_dir NULL:
                              OpenSSL's default store (SSL_CERT_FILE and
                              SSL_CERT_DIR override its built-in paths) */
    const char *ca_dir;    /* directory of hashed CA files (openssl rehash) */
    const char *cert_file; /* PEM chain, leaf first: the server's
                              (required) or the client's (optional)   */
    const char *key_file;  /* its private key (PEM); NULL: in cert_file  */
    const char *alpn;      /* "h2,http/1.1": protocols, preferred first;
                              a server picks its first that the client
                              offers, or none (the connection goes on) */
    const char *ciphersuites; /* TLS 1.3 suites ("TLS_AES_128_GCM_SHA256") */
    const char *ciphers;   /* TLS 1.2 cipher list (OpenSSL syntax)       */
    int min_version;       /* 0: ASYNC_TLS_1_2 */
    int max_version;       /* 0: the highest OpenSSL supports            */
    unsigned flags;        /* ASYNC_TLS_* above                          */
} async_tls_config;

/* A configuration shared by many sessions (an SSL_CTX).  Caller-owned;
 * it must stay at the same address while sessions made from it live
 * (the server's ALPN choice reads it).                                  */
typedef struct async_tls_ctx {
    struct ssl_ctx_st *ctx;
    const char *reason; /* why init failed, or NULL */
    int role;
    unsigned flags;
    unsigned alpn_len;
    unsigned char alpn[256]; /* the server's ALPN list, wire format */
} async_tls_ctx;

/* One TLS session: attached to one stream, usually a field of the frame
 * beside it.  Caller-owned; read it through the calls below.           */
typedef struct async_tls {
    async_layer layer; /* first: what the stream calls */
    struct ssl_st *ssl;
    async_stream *s;
    const void *wpend_buf; /* a write OpenSSL must finish first */
    size_t wpend_len;
    const char *reason; /* text of the failure, or NULL */
    int dead;           /* sticky failure code, or 0    */
    int sys_errno;      /* errno of the failing socket call */
    int fd;
    uint8_t state;
    uint8_t hs;         /* where a parked handshake sits */
} async_tls;

/* Make a context for role ASYNC_TLS_CLIENT or ASYNC_TLS_SERVER.  0;
 * ASYNC_EINVAL (bad role or flags, a server without cert_file);
 * ASYNC_ETLS if OpenSSL rejects a setting (a file it cannot read, a key
 * that does not match the certificate, an unknown cipher: the reason is
 * in async_tls_ctx_reason); ASYNC_ENOSPC if OpenSSL is out of memory.
 * On failure nothing is left to free.                                   */
int async_tls_ctx_init(async_tls_ctx *c, int role, const async_tls_config *cfg);
/* Free the context.  Sessions still open keep what they need (OpenSSL
 * counts references), but ALPN selection needs c itself: close a server
 * context after its sessions.                                           */
void async_tls_ctx_close(async_tls_ctx *c);
/* Why async_tls_ctx_init failed ("No such file or directory", "key values
 * mismatch"...), or NULL.                                               */
const char *async_tls_ctx_reason(const async_tls_ctx *c);

/* Attach session t (any state: it is reset) to an open stream, without
 * I/O.  A client context needs `host` (the name or IP address to verify
 * and, for a name, to send as SNI) unless it is INSECURE_NO_VERIFY; a
 * server context ignores it.  The handshake then happens in
 * async_tls_handshake, or in the stream's first read or write.
 * 0; ASYNC_EINVAL (NULLs, no host, a stream never opened); ASYNC_ECLOSED;
 * ASYNC_EBUSY (the stream already has a layer, an op in progress, or
 * unread bytes in its read buffer); ASYNC_ENOSPC (OpenSSL out of memory).
 * Not an op: it never waits.                                            */
int async_tls_attach(async_stream *s, async_tls *t, async_tls_ctx *c, const char *host);
/* op: complete the handshake of the stream's session.  0 once it is done
 * (at once if it already is); ASYNC_ECERT, ASYNC_ETLS, ASYNC_ECONNRESET,
 * ASYNC_ECLOSED; ASYNC_EINVAL if the stream has no TLS session;
 * ASYNC_EBUSY if another task reads or writes the stream.  Interrupted
 * (timeout, cancel), the session stays as it was: call again to go on,
 * or close the stream.                                                  */
int async_tls_handshake(async_loop *L, async_stream *s);
/* op: async_tls_attach with a client context, then the handshake.  Called
 * again for a stream that has t attached, it goes on with the handshake. */
int async_tls_client(async_loop *L, async_stream *s, async_tls *t, async_tls_ctx *c,
                     const char *host);
/* op: the same with a server context (an accepted connection).         */
int async_tls_accept(async_loop *L, async_stream *s, async_tls *t, async_tls_ctx *c);

/* The text of the stream's last TLS failure (ASYNC_ECERT: the
 * verification result, e.g. "certificate has expired", "hostname
 * mismatch", "unable to get local issuer certificate"; ASYNC_ETLS:
 * OpenSSL's reason, e.g. "wrong version number", "unexpected eof while
 * reading"), or NULL if there was none or the stream has no TLS.  Still
 * valid after async_stream_close, until the stream is initialised again.
 * The string is static.                                                 */
const char *async_tls_reason(const async_stream *s);
/* The ALPN protocol agreed in the handshake, copied NUL-terminated into
 * buf; returns its length, 0 if none was agreed, ASYNC_EINVAL (no TLS
 * session), ASYNC_ETOOLONG (cap too small).                             */
int async_tls_alpn(const async_stream *s, char *buf, size_t cap);
/* The stream's OpenSSL session, for what this API does not cover (the
 * peer's certificate, the cipher); NULL if none (no TLS, failed, closed).
 * Do not free it or do I/O on it.                                       */
struct ssl_st *async_tls_ssl(const async_stream *s);
/* True if the stream carries TLS and its handshake has completed.      */
bool async_tls_is_established(const async_stream *s);

#ifdef __cplusplus
}
#endif
#endif /* ASYNC_TLS_H */
