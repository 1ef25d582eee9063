/* SPDX-License-Identifier: MIT */
/* System-call fault injection: see shim.h for the two ways to use it.
 *
 * GNU C, compiled without -Wpedantic: it interposes glibc, whose socket
 * calls take a GNU transparent union for their address arguments.
 *
 * Every wrapper has the same shape: ask decide() whether this call
 * faults, and how; if not, call the C library's function.  The wrappers
 * themselves never allocate (dlsym may, once, inside the C library) and
 * are safe from any thread: the decision state is atomic counters.      */
#define _GNU_SOURCE
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

static const char *const fn_names[FF_COUNT] = {
    "read",       "write",      "recv",       "send",           "recvmsg",
    "sendto",     "accept4",    "connect",    "socket",         "fcntl",
    "getsockopt", "getsockname", "epoll_wait", "close",   "pthread_create", "pthread_mutex_init",
    "pthread_cond_init", "getaddrinfo"};

/* ---- the C library's functions ---- */

static void *real_fn(enum fault_fn fn)
{
    static void *cache[FF_COUNT];
    void *p = __atomic_load_n(&cache[fn], __ATOMIC_ACQUIRE);
    if (p == NULL) {
        p = dlsym(RTLD_NEXT, fn_names[fn]);
        if (p == NULL) {
            static const char msg[] = "faults shim: dlsym failed\n";
            (void)!write(2, msg, sizeof msg - 1);
            abort();
        }
        __atomic_store_n(&cache[fn], p, __ATOMIC_RELEASE);
    }
    return p;
}
/* dlsym gives an object pointer; POSIX guarantees it converts. */
#define REAL(fn, type) ((type)(uintptr_t)real_fn(fn))

/* ---- decisions ---- */

enum action { A_NONE, A_FAIL, A_SHORT, A_AFTER };

struct decision {
    enum action act;
    int err;
    size_t max;
};

/* Armed faults (tests). */
static struct {
    int armed, fd;
    unsigned skip, count;
    int err;
    size_t max;
} arm[FF_COUNT];
static pthread_mutex_t arm_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned gai_addrlen;

/* Random faults (preloaded). */
static struct {
    int on, soft, hard;
    uint64_t seed;
    unsigned rate;
    unsigned fns; /* bit per enum fault_fn */
} rnd;
static unsigned long calls[FF_COUNT], injected[FF_COUNT], n_soft, n_hard;

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The library's sockets: non-blocking (a test's own helper sockets are
 * blocking, and EAGAIN or EINTR there would break the test, not the
 * library under test). */
static int is_library_socket(int fd)
{
    struct stat st;
    int fl;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    fl = REAL(FF_FCNTL, int (*)(int, int, ...))(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

static void count_fault(enum fault_fn fn, int hard)
{
    __atomic_fetch_add(&injected[fn], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(hard ? &n_hard : &n_soft, 1, __ATOMIC_RELAXED);
}

/* The faults each function may get: soft ones first, then hard ones.
 * 0 in err with A_SHORT: a short transfer.                              */
struct menu {
    unsigned nsoft, nhard;
    struct decision d[6];
};

static const struct menu menus[FF_COUNT] = {
    [FF_READ] = {3, 2, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_SHORT, 0, 0},
                        {A_FAIL, ECONNRESET, 0}, {A_FAIL, ENOMEM, 0}}},
    [FF_RECV] = {3, 2, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_SHORT, 0, 0},
                        {A_FAIL, ECONNRESET, 0}, {A_FAIL, ENOMEM, 0}}},
    [FF_RECVMSG] = {2, 1, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_FAIL, ENOMEM, 0}}},
    [FF_WRITE] = {3, 2, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_SHORT, 0, 0},
                         {A_FAIL, EPIPE, 0}, {A_FAIL, ECONNRESET, 0}}},
    [FF_SEND] = {3, 3, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_SHORT, 0, 0},
                        {A_FAIL, EPIPE, 0}, {A_FAIL, ECONNRESET, 0}, {A_FAIL, ENOMEM, 0}}},
    [FF_SENDTO] = {2, 1, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_FAIL, ENOMEM, 0}}},
    /* accept: the connection stays in the backlog, so even EMFILE is
     * only a delay to the client (the server backs off and retries) */
    [FF_ACCEPT4] = {3, 3, {{A_FAIL, EINTR, 0}, {A_FAIL, EAGAIN, 0}, {A_FAIL, ECONNABORTED, 0},
                           {A_FAIL, EMFILE, 0}, {A_FAIL, ENFILE, 0}, {A_FAIL, ENOMEM, 0}}},
    [FF_CONNECT] = {1, 0, {{A_AFTER, EINTR, 0}}},
    [FF_SOCKET] = {0, 2, {{A_FAIL, EMFILE, 0}, {A_FAIL, ENFILE, 0}}},
    [FF_EPOLL_WAIT] = {2, 0, {{A_FAIL, EINTR, 0}, {A_SHORT, 0, 1}}},
    [FF_CLOSE] = {1, 0, {{A_AFTER, EINTR, 0}}},
    [FF_PTHREAD_CREATE] = {0, 1, {{A_FAIL, EAGAIN, 0}}},
    [FF_GETADDRINFO] = {0, 1, {{A_FAIL, EAI_AGAIN, 0}}},
};

/* Should this call of fn (on fd, moving len bytes) fault, and how? */
static struct decision decide(enum fault_fn fn, int fd, size_t len)
{
    struct decision d = {A_NONE, 0, 0};
    unsigned long k;

    if (__atomic_load_n(&arm[fn].armed, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&arm_mu);
        if (arm[fn].armed && (arm[fn].fd < 0 || arm[fn].fd == fd)) {
            if (arm[fn].skip) {
                arm[fn].skip--;
            } else {
                d.act = arm[fn].err ? (fn == FF_CONNECT || fn == FF_CLOSE ? A_AFTER : A_FAIL)
                                    : A_SHORT;
                d.err = arm[fn].err;
                d.max = arm[fn].max;
                if (--arm[fn].count == 0)
                    __atomic_store_n(&arm[fn].armed, 0, __ATOMIC_RELEASE);
            }
        }
        pthread_mutex_unlock(&arm_mu);
        if (d.act != A_NONE) {
            count_fault(fn, 0);
            return d;
        }
    }
    if (!rnd.on || !(rnd.fns & (1u << fn)))
        return d;
    /* transfer, accept and connect faults only on the library's sockets:
     * libev's pipe and eventfd, and the program's stdout, are not the
     * network */
    if ((fn <= FF_CONNECT) && !is_library_socket(fd))
        return d;
    k = __atomic_fetch_add(&calls[fn], 1, __ATOMIC_RELAXED);
    {
        uint64_t r = mix(rnd.seed ^ ((uint64_t)fn << 56) ^ k);
        const struct menu *m = &menus[fn];
        unsigned lo = rnd.soft ? 0 : m->nsoft, hi = rnd.hard ? m->nsoft + m->nhard : m->nsoft, i;
        if (r % 1000 >= rnd.rate || hi <= lo)
            return d;
        i = lo + (unsigned)((r >> 20) % (hi - lo));
        d = m->d[i];
        if (d.act == A_SHORT && fn != FF_EPOLL_WAIT) {
            if (len < 2)
                return (struct decision){A_NONE, 0, 0}; /* nothing to shorten */
            d.max = 1 + (size_t)((r >> 40) % (len - 1)); /* 1 .. len-1 */
        }
        count_fault(fn, i >= m->nsoft);
    }
    return d;
}

void fault_arm(enum fault_fn fn, int fd, unsigned skip, unsigned count, int err, size_t max)
{
    pthread_mutex_lock(&arm_mu);
    arm[fn].fd = fd;
    arm[fn].skip = skip;
    arm[fn].count = count ? count : 1;
    arm[fn].err = err;
    arm[fn].max = max;
    __atomic_store_n(&arm[fn].armed, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&arm_mu);
}

void fault_arm_gai_addrlen(unsigned addrlen)
{
    __atomic_store_n(&gai_addrlen, addrlen, __ATOMIC_RELEASE);
}

void fault_clear(void)
{
    int i;
    pthread_mutex_lock(&arm_mu);
    for (i = 0; i < FF_COUNT; i++)
        __atomic_store_n(&arm[i].armed, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&arm_mu);
    __atomic_store_n(&gai_addrlen, 0, __ATOMIC_RELEASE);
}

unsigned long fault_injected(void)
{
    return __atomic_load_n(&n_soft, __ATOMIC_RELAXED) + __atomic_load_n(&n_hard, __ATOMIC_RELAXED);
}

/* ---- configuration from the environment, and the report at exit ---- */

static void report(void)
{
    const char *path = getenv("ASYNC_FAULTS_LOG");
    char line[1024];
    int n, i, fd;
    if (!rnd.on || path == NULL)
        return;
    n = snprintf(line, sizeof line, "FAULTLOG pid=%d injected=%lu soft=%lu hard=%lu", (int)getpid(),
                 n_soft + n_hard, n_soft, n_hard);
    for (i = 0; i < FF_COUNT && n < (int)sizeof line - 40; i++)
        if (injected[i])
            n += snprintf(line + n, sizeof line - (size_t)n, " %s=%lu", fn_names[i], injected[i]);
    n += snprintf(line + n, sizeof line - (size_t)n, "\n");
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!REAL(FF_WRITE, ssize_t (*)(int, const void *, size_t))(fd, line, (size_t)n);
        REAL(FF_CLOSE, int (*)(int))(fd);
    }
}

__attribute__((constructor)) static void configure(void)
{
    const char *env = getenv("ASYNC_FAULTS");
    char buf[256], *tok, *save = NULL;
    if (env == NULL || *env == '\0')
        return;
    snprintf(buf, sizeof buf, "%s", env);
    rnd.seed = 1;
    rnd.rate = 10;
    rnd.soft = 1;
    rnd.fns = (1u << FF_COUNT) - 1u;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strncmp(tok, "seed=", 5) == 0)
            rnd.seed = strtoull(tok + 5, NULL, 10);
        else if (strncmp(tok, "rate=", 5) == 0)
            rnd.rate = (unsigned)strtoul(tok + 5, NULL, 10);
        else if (strcmp(tok, "kinds=soft") == 0)
            rnd.soft = 1, rnd.hard = 0;
        else if (strcmp(tok, "kinds=hard") == 0)
            rnd.soft = 0, rnd.hard = 1;
        else if (strcmp(tok, "kinds=all") == 0)
            rnd.soft = 1, rnd.hard = 1;
        else if (strncmp(tok, "fns=", 4) == 0) {
            char *f, *s2 = NULL;
            rnd.fns = 0;
            for (f = strtok_r(tok + 4, "+", &s2); f; f = strtok_r(NULL, "+", &s2)) {
                int i;
                for (i = 0; i < FF_COUNT; i++)
                    if (strcmp(f, fn_names[i]) == 0)
                        rnd.fns |= 1u << i;
            }
        }
    }
    rnd.seed = mix(rnd.seed);
    rnd.on = 1;
    atexit(report);
}

/* ---- the wrappers ---- */

/* A transfer call: fail, shorten, or pass through. */
#define TRANSFER(fn, fd, len, call_with_len)            \
    do {                                                \
        struct decision d_ = decide((fn), (fd), (len)); \
        if (d_.act == A_FAIL) {                         \
            errno = d_.err;                             \
            return -1;                                  \
        }                                               \
        if (d_.act == A_SHORT && d_.max < (len))        \
            (len) = d_.max;                             \
        return call_with_len;                           \
    } while (0)

ssize_t read(int fd, void *buf, size_t len)
{
    TRANSFER(FF_READ, fd, len, REAL(FF_READ, ssize_t (*)(int, void *, size_t))(fd, buf, len));
}

ssize_t write(int fd, const void *buf, size_t len)
{
    TRANSFER(FF_WRITE, fd, len,
             REAL(FF_WRITE, ssize_t (*)(int, const void *, size_t))(fd, buf, len));
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    TRANSFER(FF_RECV, fd, len,
             REAL(FF_RECV, ssize_t (*)(int, void *, size_t, int))(fd, buf, len, flags));
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    TRANSFER(FF_SEND, fd, len,
             REAL(FF_SEND, ssize_t (*)(int, const void *, size_t, int))(fd, buf, len, flags));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct decision d = decide(FF_RECVMSG, fd, 0);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_RECVMSG, ssize_t (*)(int, struct msghdr *, int))(fd, msg, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    struct decision d = decide(FF_SENDTO, fd, 0);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_SENDTO, ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *,
                                        socklen_t))(fd, buf, len, flags, to, tolen);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    struct decision d = decide(FF_ACCEPT4, fd, 0);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_ACCEPT4, int (*)(int, struct sockaddr *, socklen_t *, int))(fd, addr, alen,
                                                                                flags);
}

int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    struct decision d = decide(FF_CONNECT, fd, 0);
    int rc;
    if (d.act == A_FAIL || (d.act == A_AFTER && d.err != EINTR && d.err != EAGAIN)) {
        errno = d.err; /* refused, unreachable...: at once */
        return -1;
    }
    rc = REAL(FF_CONNECT, int (*)(int, const struct sockaddr *, socklen_t))(fd, addr, alen);
    if (d.act == A_AFTER && (rc == 0 || errno == EINPROGRESS)) {
        errno = d.err; /* interrupted: the kernel carries on connecting */
        return -1;
    }
    return rc;
}

int socket(int domain, int type, int protocol)
{
    struct decision d = decide(FF_SOCKET, -1, 0);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_SOCKET, int (*)(int, int, int))(domain, type, protocol);
}

int fcntl(int fd, int cmd, ...)
{
    struct decision d = decide(FF_FCNTL, fd, 0);
    va_list ap;
    long arg;
    va_start(ap, cmd);
    arg = va_arg(ap, long); /* every command this library uses takes an int or nothing */
    va_end(ap);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_FCNTL, int (*)(int, int, ...))(fd, cmd, arg);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct decision d = decide(FF_GETSOCKOPT, fd, 0);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_GETSOCKOPT, int (*)(int, int, int, void *, socklen_t *))(fd, level, name, val,
                                                                            len);
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct decision d = decide(FF_GETSOCKNAME, fd, 0);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    return REAL(FF_GETSOCKNAME, int (*)(int, struct sockaddr *, socklen_t *))(fd, addr, len);
}

int epoll_wait(int ep, struct epoll_event *evs, int max, int timeout)
{
    struct decision d = decide(FF_EPOLL_WAIT, ep, (size_t)max);
    if (d.act == A_FAIL) {
        errno = d.err;
        return -1;
    }
    if (d.act == A_SHORT && d.max >= 1 && (size_t)max > d.max)
        max = (int)d.max; /* level-triggered: the rest come next time */
    return REAL(FF_EPOLL_WAIT, int (*)(int, struct epoll_event *, int, int))(ep, evs, max, timeout);
}

int close(int fd)
{
    struct decision d = decide(FF_CLOSE, fd, 0);
    int rc = REAL(FF_CLOSE, int (*)(int))(fd);
    if (d.act != A_NONE && rc == 0) {
        errno = d.err ? d.err : EINTR; /* Linux: the descriptor is closed anyway */
        return -1;
    }
    return rc;
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
    struct decision d = decide(FF_PTHREAD_CREATE, -1, 0);
    if (d.act == A_FAIL)
        return d.err;
    return REAL(FF_PTHREAD_CREATE,
                int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))(th, attr,
                                                                                       start, arg);
}

int pthread_mutex_init(pthread_mutex_t *mu, const pthread_mutexattr_t *attr)
{
    struct decision d = decide(FF_MUTEX_INIT, -1, 0);
    if (d.act == A_FAIL)
        return d.err;
    return REAL(FF_MUTEX_INIT, int (*)(pthread_mutex_t *, const pthread_mutexattr_t *))(mu, attr);
}

int pthread_cond_init(pthread_cond_t *cv, const pthread_condattr_t *attr)
{
    struct decision d = decide(FF_COND_INIT, -1, 0);
    if (d.act == A_FAIL)
        return d.err;
    return REAL(FF_COND_INIT, int (*)(pthread_cond_t *, const pthread_condattr_t *))(cv, attr);
}

/* One fabricated answer (fault_arm_gai_addrlen), one block from the C
 * library's allocator (the shim is test code; the library under test
 * allocates nothing), freed by our freeaddrinfo.                        */
static struct addrinfo *fake;

static int fake_answer(unsigned addrlen, struct addrinfo **res)
{
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_storage) + 64);
    struct sockaddr_in *in;
    if (ai == NULL)
        return EAI_MEMORY;
    in = (struct sockaddr_in *)(void *)(ai + 1);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ai->ai_family = AF_INET;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *)in;
    ai->ai_addrlen = addrlen;
    __atomic_store_n(&fake, ai, __ATOMIC_RELEASE);
    *res = ai;
    return 0;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    struct decision d = decide(FF_GETADDRINFO, -1, 0);
    unsigned al = __atomic_exchange_n(&gai_addrlen, 0u, __ATOMIC_ACQ_REL);
    if (d.act == A_FAIL)
        return d.err;
    if (al)
        return fake_answer(al, res);
    return REAL(FF_GETADDRINFO, int (*)(const char *, const char *, const struct addrinfo *,
                                        struct addrinfo **))(node, service, hints, res);
}

void freeaddrinfo(struct addrinfo *ai)
{
    struct addrinfo *mine = ai;
    if (ai && __atomic_compare_exchange_n(&fake, &mine, NULL, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE)) {
        free(ai);
        return;
    }
    ((void (*)(struct addrinfo *))(uintptr_t)dlsym(RTLD_NEXT, "freeaddrinfo"))(ai);
}
