/* SPDX-License-Identifier: MIT */
/* http_floor [-r ROOT] [PORT]: the floor for the HTTP benchmark - a static
 * file server written as plain libev callbacks, no coroutines, no
 * scheduler, doing per request the work examples/httpd does:
 *
 *   read; http-parser over the head with the same callbacks (target and
 *   header lines recorded in place); the path checked for ".." and
 *   opened under ROOT (openat, fstat); Content-Type by extension;
 *   Last-Modified formatted (by arithmetic, as async_http_date), If-
 *   Modified-Since looked up; the head
 *   (status, Date made once a second, Last-Modified, Content-Type,
 *   Server, Content-Length) sent MSG_MORE, then the file by sendfile;
 *   keep-alive and pipelining; an idle timeout per connection, kept the
 *   cheapest way libev offers (one timer per connection, re-armed only
 *   when it fires: a request costs a store of the time).
 *
 * GET and HEAD only; anything else, and any malformed request, closes
 * the connection (the benchmark sends neither).  Static tables indexed
 * by fd: no allocation.  Prints the number of requests answered at
 * SIGINT/SIGTERM.                                                       */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "floor_server.h"

#define MAX_FD 8192
#define MAX_HEADERS 48
#define IDLE_TIMEOUT 60.0

struct hdr {
    const char *name, *value;
    unsigned name_len, value_len;
};

struct conn {
    ev_io w;
    ev_timer idle;
    ev_tstamp last;
    http_parser p;
    size_t len, pos;
    const char *url;
    size_t url_len;
    struct hdr h[MAX_HEADERS];
    unsigned nh;
    int last_cb, done, method;
    /* a response that did not fit in the socket at once */
    int file;
    off_t off;
    size_t left, hleft;
    char out[1024];
    const char *hp;
    char buf[8192];
};

static struct conn table[MAX_FD];
static int root_fd;
static unsigned long long answered;
static char date[48];
static size_t date_len;
static ev_tstamp date_at = -1;

/* ---- parser callbacks: the same recording httpd's module does ---- */

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->url == NULL)
        c->url = at;
    c->url_len = (size_t)(at + len - c->url);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct hdr *h = c->nh ? &c->h[c->nh - 1] : NULL;
    if (c->last_cb == 1 && h->name + h->name_len == at) {
        h->name_len += (unsigned)len;
        return 0;
    }
    if (c->nh == MAX_HEADERS)
        return 1;
    h = &c->h[c->nh++];
    h->name = at;
    h->name_len = (unsigned)len;
    h->value = at + len;
    h->value_len = 0;
    c->last_cb = 1;
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct hdr *h = &c->h[c->nh - 1];
    if (c->last_cb == 2) {
        h->value_len += (unsigned)len;
        return 0;
    }
    h->value = at;
    h->value_len = (unsigned)len;
    c->last_cb = 2;
    return 0;
}

static int on_head(http_parser *p)
{
    struct conn *c = p->data;
    c->method = p->method;
    c->done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_head,
};

/* ---- the response ---- */

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static const char digits2[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static char *put2(char *p, unsigned v)
{
    memcpy(p, digits2 + 2 * v, 2);
    return p + 2;
}

/* The UTC date by arithmetic, as the library's async_http_date does it
 * (gmtime_r's time-zone code costs some 300 instructions more): days
 * since 0000-01-01 to year, month and day in 400-year eras counted from
 * 0000-03-01, unsigned.  The benchmark's times are from 1970 on, so no
 * range check.                                                        */
static char *http_date(char *p, time_t t)
{
    unsigned long long since0 = (unsigned long long)t + 62167219200ULL;
    unsigned days = (unsigned)(since0 / 86400);
    unsigned secs = (unsigned)(since0 - (unsigned long long)days * 86400);
    unsigned z = days + 146097 - 60, era = z / 146097, doe = z - era * 146097;
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned mon = mp < 10 ? mp + 2 : mp - 10;
    unsigned year = (era - 1) * 400 + yoe + (mon < 2);

    memcpy(p, wdays[(days + 6) % 7], 3); /* 0000-01-01 was a Saturday */
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, doy - (153 * mp + 2) / 5 + 1);
    *p++ = ' ';
    memcpy(p, months[mon], 3);
    p += 3;
    *p++ = ' ';
    p = put2(p, year / 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, secs / 3600);
    *p++ = ':';
    p = put2(p, secs / 60 % 60);
    *p++ = ':';
    p = put2(p, secs % 60);
    memcpy(p, " GMT", 4);
    return p + 4;
}

static char *put_dec(char *p, unsigned long long v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"}, {"css", "text/css"},
        {"js", "text/javascript"},            {"json", "application/json"},
        {"png", "image/png"},                 {"jpg", "image/jpeg"},
    };
    const char *dot = strrchr(path, '.');
    size_t i;
    if (dot)
        for (i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static void conn_close(struct ev_loop *ev, struct conn *c)
{
    ev_io_stop(ev, &c->w);
    ev_timer_stop(ev, &c->idle);
    if (c->file >= 0)
        close(c->file);
    c->file = -1;
    close(c->w.fd);
}

/* Send what is left of the response: 1 done, 0 would block, -1 error. */
static int flush(struct conn *c)
{
    ssize_t n;
    while (c->hleft) {
        n = send(c->w.fd, c->hp, c->hleft, MSG_NOSIGNAL | (c->left ? MSG_MORE : 0));
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->hp += n;
        c->hleft -= (size_t)n;
    }
    while (c->left) {
        n = sendfile(c->w.fd, c->file, &c->off, c->left);
        if (n <= 0)
            return n < 0 && errno == EAGAIN ? 0 : -1;
        c->left -= (size_t)n;
    }
    if (c->file >= 0) {
        close(c->file);
        c->file = -1;
    }
    return 1;
}

/* Answer the parsed request: 0 to go on, -1 to close. */
static int answer(struct ev_loop *ev, struct conn *c)
{
    char path[1024], *o = c->out;
    size_t i, n = 0;
    struct stat st;
    int fd;
    (void)ev;

    if ((c->method != HTTP_GET && c->method != HTTP_HEAD) || c->url == NULL || c->url[0] != '/')
        return -1;
    for (i = 0; i < c->url_len && c->url[i] != '?' && n + 1 < sizeof path; i++)
        path[n++] = c->url[i];
    path[n] = '\0';
    if (strstr(path, "/..") != NULL)
        return -1;
    for (i = 0; i < c->nh; i++) /* what httpd looks up per request */
        if (c->h[i].name_len == 17 && strncasecmp(c->h[i].name, "If-Modified-Since", 17) == 0)
            break;
    fd = openat(root_fd, path[1] ? path + 1 : ".", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    if (ev_now(ev) - date_at >= 1.0) {
        date_at = ev_now(ev);
        memcpy(date, "Date: ", 6);
        date_len = (size_t)(http_date(date + 6, time(NULL)) - date);
        memcpy(date + date_len, "\r\n", 2);
        date_len += 2;
    }
    memcpy(o, "HTTP/1.1 200 OK\r\n", 17);
    o += 17;
    memcpy(o, date, date_len);
    o += date_len;
    memcpy(o, "Last-Modified: ", 15);
    o = http_date(o + 15, st.st_mtime);
    memcpy(o, "\r\nContent-Type: ", 16);
    o += 16;
    n = strlen(content_type(path));
    memcpy(o, content_type(path), n);
    o += n;
    memcpy(o, "\r\nServer: async.h-floor\r\nContent-Length: ", 41);
    o = put_dec(o + 41, (unsigned long long)st.st_size);
    memcpy(o, "\r\n\r\n", 4);
    o += 4;
    c->hp = c->out;
    c->hleft = (size_t)(o - c->out);
    c->file = fd;
    c->off = 0;
    c->left = c->method == HTTP_HEAD ? 0 : (size_t)st.st_size;
    answered++;
    return 0;
}

static void on_conn(struct ev_loop *ev, ev_io *w, int revents);

static void want(struct ev_loop *ev, struct conn *c, int events)
{
    if ((c->w.events & (EV_READ | EV_WRITE)) != events) {
        ev_io_stop(ev, &c->w);
        ev_io_set(&c->w, c->w.fd, events);
        ev_io_start(ev, &c->w);
    }
}

/* Parse and answer every complete request in the buffer. */
static void serve(struct ev_loop *ev, struct conn *c)
{
    for (;;) {
        size_t used;
        int rc;
        if (c->pos == c->len) {
            c->pos = c->len = 0;
            want(ev, c, EV_READ);
            return;
        }
        used = http_parser_execute(&c->p, &settings, c->buf + c->pos, c->len - c->pos);
        if (!c->done) {
            if (HTTP_PARSER_ERRNO(&c->p) != HPE_OK || c->len == sizeof c->buf) {
                conn_close(ev, c);
                return;
            }
            /* a head in pieces (rare here): parse it again from its start
             * once more has arrived */
            http_parser_init(&c->p, HTTP_REQUEST);
            c->p.data = c;
            c->url = NULL;
            c->nh = 0;
            c->last_cb = 0;
            want(ev, c, EV_READ);
            return;
        }
        c->pos += used + 1;
        if (answer(ev, c) < 0) {
            conn_close(ev, c);
            return;
        }
        /* the next request */
        http_parser_init(&c->p, HTTP_REQUEST);
        c->p.data = c;
        c->url = NULL;
        c->nh = 0;
        c->last_cb = 0;
        c->done = 0;
        rc = flush(c);
        if (rc < 0) {
            conn_close(ev, c);
            return;
        }
        if (rc == 0) {
            want(ev, c, EV_WRITE);
            return;
        }
    }
}

static void on_conn(struct ev_loop *ev, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    ssize_t n;
    (void)revents;
    c->last = ev_now(ev);
    if (c->hleft || c->left) { /* finishing a response */
        int rc = flush(c);
        if (rc < 0)
            conn_close(ev, c);
        else if (rc > 0)
            serve(ev, c);
        return;
    }
    if (c->pos > 0 && c->pos < c->len) { /* a head in pieces: to the front */
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    n = recv(w->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(ev, c);
        return;
    }
    if (n < 0)
        return;
    c->len += (size_t)n;
    serve(ev, c);
}

static void on_idle(struct ev_loop *ev, ev_timer *t, int revents)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, idle));
    ev_tstamp left = c->last + IDLE_TIMEOUT - ev_now(ev);
    (void)revents;
    if (left > 0) { /* active since: sleep until its own deadline */
        ev_timer_set(t, left, 0.);
        ev_timer_start(ev, t);
        return;
    }
    conn_close(ev, c);
}

static void on_accept(struct ev_loop *ev, ev_io *w, int revents)
{
    int fd;
    (void)revents;
    while ((fd = floor_accept(w->fd, MAX_FD)) >= 0) {
        struct conn *c;
        c = &table[fd];
        c->len = c->pos = c->hleft = c->left = 0;
        c->file = -1;
        c->url = NULL;
        c->nh = 0;
        c->last_cb = 0;
        c->done = 0;
        http_parser_init(&c->p, HTTP_REQUEST);
        c->p.data = c;
        c->last = ev_now(ev);
        ev_io_init(&c->w, on_conn, fd, EV_READ);
        ev_io_start(ev, &c->w);
        ev_timer_init(&c->idle, on_idle, IDLE_TIMEOUT, 0.);
        ev_timer_start(ev, &c->idle);
    }
}

int main(int argc, char **argv)
{
    struct ev_loop *ev = ev_default_loop(0);
    const char *root = ".";
    int fd, port = 8080, i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            root = argv[++i];
        else
            port = atoi(argv[i]);
    }
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        perror(root);
        return 1;
    }
    fd = floor_listen("http_floor", port);
    if (fd < 0)
        return 1;
    floor_run(ev, fd, on_accept);
    printf("http_floor: %llu requests answered\n", answered);
    return 0;
}
