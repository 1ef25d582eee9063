/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 over async_stream: the server's connection task, the ops a
 * handler awaits, and the client.  Parsing is http-parser's; this file
 * keeps the bytes where the parser saw them and turns its callbacks into
 * the request / response structs.
 *
 * Buffer of a server connection (the frame's, cfg.buf_offset):
 *
 *   in[0 .. in_cap)     request head at in[0..head_len), then body and
 *                       pipelined bytes; in[in_pos..in_len) is unread
 *   out[0 .. out_cap)   the response head: status line and Date are
 *                       written right-aligned to end at ASYNC_HTTP_PREFIX,
 *                       the application's headers follow from there, the
 *                       framing headers after them; small bodies are
 *                       copied behind the head, so one write sends all
 *
 * A request head is parsed in place: the header callbacks record
 * pointers into in[], which does not move until the response is done.
 * The parser is paused at the end of the head, so the handler decides
 * about the body (100-continue, 413) before any of it is read.  A
 * Content-Length body is then counted here and read straight into the
 * caller's buffer; a chunked one goes back through the parser.  Between
 * requests the unread bytes (pipelined requests) move to in[0].
 */
#define _GNU_SOURCE
#include "src/async_http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PH_NONE, PH_IDLE, PH_HEAD, PH_HANDLER, PH_CLOSING };
enum { R_NONE, R_STREAM, R_DONE };           /* response state      */
enum { B_NONE, B_LENGTH, B_CHUNKED, B_DONE }; /* request body state  */
enum { CB_NONE, CB_FIELD, CB_VALUE };
enum { W_NONE, W_IDLE, W_HEAD, W_BODY, W_WRITE }; /* what a connection waits for */
enum { OP_BODY = 1, OP_RESPOND, OP_FILE, OP_BEGIN, OP_WRITE, OP_END, OP_SEND };

#define MIN_BODY_ROOM 256u

static bool bad_value(const char *p, size_t n);
static void sweeper_start(async_http_server *hs);
static void sweeper_stop(async_http_server *hs);
#define LINGER_TICKS ASYNC_MS(2000)

/* ======================================================================
 * Small formatting helpers (no snprintf on the per-request path).
 * ====================================================================== */

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUTS(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_dec(char *p, unsigned long long v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_hex(char *p, unsigned long long v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* "00".."99": two digits in one copy (dates, on every answer).        */
static const char digits2[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static char *put2d(char *p, unsigned v)
{
    memcpy(p, digits2 + 2 * v, 2);
    return p + 2;
}

/* The UTC calendar of t (seconds since the epoch, proleptic Gregorian),
 * by arithmetic: the inverse of days_from_civil below, in unsigned
 * arithmetic from 0000-01-01 (which the range check makes possible), 60
 * instructions where glibc's gmtime_r takes 300 (its time-zone lock and
 * rules, which UTC does not need).  False if the year is outside
 * 0..9999, which an HTTP date cannot show.                            */
struct civil {
    unsigned year, mon, mday, wday, secs; /* mon 0..11, wday 0 = Sunday, secs of the day */
};

#define SECS_0000_TO_1970 62167219200ULL /* 719528 days */
static bool civil_of(long long t, struct civil *c)
{
    unsigned long long since0;
    unsigned days, z, era, doe, yoe, doy, mp;

    if (t < -(long long)SECS_0000_TO_1970 || t > 253402300799LL) /* .. 9999-12-31 */
        return false;
    since0 = (unsigned long long)t + SECS_0000_TO_1970;
    days = (unsigned)(since0 / 86400);          /* since 0000-01-01, a Saturday */
    c->secs = (unsigned)(since0 - (unsigned long long)days * 86400);
    c->wday = (days + 6) % 7;
    z = days + 146097 - 60;                     /* from 0000-03-01, one era early */
    era = z / 146097;                           /* 400-year eras, 1 + the real one */
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* from March 1st */
    mp = (5 * doy + 2) / 153;                      /* 0 = March */
    c->mday = doy - (153 * mp + 2) / 5 + 1;
    c->mon = mp < 10 ? mp + 2 : mp - 10;
    c->year = (era - 1) * 400 + yoe + (c->mon < 2);
    return true;
}

char *async_http_date(long long t, char *out, size_t cap)
{
    struct civil c;
    char *p = out;

    if (out == NULL)
        return NULL;
    if (cap < 30)
        return cap ? (out[0] = '\0', out) : out;
    if (!civil_of(t, &c)) { /* out of range: 1900, not garbage (as before) */
        memset(&c, 0, sizeof c);
        c.year = 1900;
    }
    memcpy(p, wdays[c.wday], 3);
    p[3] = ',';
    p[4] = ' ';
    p = put2d(p + 5, c.mday);
    *p++ = ' ';
    memcpy(p, months[c.mon], 3);
    p[3] = ' ';
    p = put2d(p + 4, c.year / 100);
    p = put2d(p, c.year % 100);
    *p++ = ' ';
    p = put2d(p, c.secs / 3600);
    *p++ = ':';
    p = put2d(p, c.secs / 60 % 60);
    *p++ = ':';
    p = put2d(p, c.secs % 60);
    memcpy(p, " GMT", 5);
    return out;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* The length of month m (1..12) of year y: a date that does not exist
 * (31 Apr, 29 Feb 1900) is refused, not carried into the next month.  */
static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return len[m - 1] + (m == 2 && leap);
}

static int parse_num(const char **s, const char *end, unsigned digits, unsigned *v)
{
    unsigned i, n = 0;
    for (i = 0; i < digits; i++) {
        if (*s >= end || (*s)[0] < '0' || (*s)[0] > '9')
            return -1;
        n = n * 10 + (unsigned)((*s)[0] - '0');
        (*s)++;
    }
    *v = n;
    return 0;
}

static int parse_month(const char **s, const char *end, unsigned *m)
{
    unsigned i;
    if (end - *s < 3)
        return -1;
    for (i = 0; i < 12; i++)
        if (strncasecmp(*s, months[i], 3) == 0) {
            *m = i + 1;
            *s += 3;
            return 0;
        }
    return -1;
}

static int expect_ch(const char **s, const char *end, char c)
{
    if (*s >= end || **s != c)
        return -1;
    (*s)++;
    return 0;
}

static int parse_hms(const char **s, const char *end, unsigned *h, unsigned *mi, unsigned *se)
{
    return parse_num(s, end, 2, h) || expect_ch(s, end, ':') || parse_num(s, end, 2, mi) ||
                   expect_ch(s, end, ':') || parse_num(s, end, 2, se)
               ? -1
               : 0;
}

int async_http_parse_date(const char *s, size_t len, long long *t)
{
    const char *end = s + len, *comma;
    unsigned d = 0, m = 0, y = 0, h = 0, mi = 0, se = 0;
    int bad;

    if (s == NULL || t == NULL)
        return ASYNC_EINVAL;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    comma = memchr(s, ',', (size_t)(end - s));
    if (comma && comma - s == 3) { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        s = comma + 1;
        bad = expect_ch(&s, end, ' ') || parse_num(&s, end, 2, &d) || expect_ch(&s, end, ' ') ||
              parse_month(&s, end, &m) || expect_ch(&s, end, ' ') || parse_num(&s, end, 4, &y) ||
              expect_ch(&s, end, ' ') || parse_hms(&s, end, &h, &mi, &se);
    } else if (comma) { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        s = comma + 1;
        bad = expect_ch(&s, end, ' ') || parse_num(&s, end, 2, &d) || expect_ch(&s, end, '-') ||
              parse_month(&s, end, &m) || expect_ch(&s, end, '-') || parse_num(&s, end, 2, &y) ||
              expect_ch(&s, end, ' ') || parse_hms(&s, end, &h, &mi, &se);
        y += y < 70 ? 2000 : 1900;
    } else { /* asctime: Sun Nov  6 08:49:37 1994 */
        if (end - s < 3)
            return ASYNC_EPROTO; /* no room for the day's name: s + 3 would pass the end */
        s += 3;
        bad = expect_ch(&s, end, ' ') || parse_month(&s, end, &m) || expect_ch(&s, end, ' ');
        if (!bad && s < end && *s == ' ')
            s++;
        if (!bad && s + 1 < end && s[1] == ' ') {
            bad = parse_num(&s, end, 1, &d);
        } else if (!bad) {
            bad = parse_num(&s, end, 2, &d);
        }
        bad = bad || expect_ch(&s, end, ' ') || parse_hms(&s, end, &h, &mi, &se) ||
              expect_ch(&s, end, ' ') || parse_num(&s, end, 4, &y);
        if (!bad)
            goto check;
    }
    if (bad || end - s != 4 || strncmp(s, " GMT", 4) != 0)
        return ASYNC_EPROTO;
    s += 4;
check:
    if (bad || s != end || d < 1 || d > days_in_month(y, m) || h > 23 || mi > 59 || se > 60)
        return ASYNC_EPROTO;
    *t = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

const char *async_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ======================================================================
 * Headers, shared by the server's request and the client's response.
 * ====================================================================== */

/* A header callback's piece: continues the last name or value when it
 * starts where that one ended (http-parser splits a field only where
 * one execute call ends and the next begins, and the buffer does not
 * move), else starts a new one.  A value piece that does not continue
 * its value is an obsolete line folding: refused.  Returns 0, or -1 when
 * the table is full, -2 for a folded value.                             */
static int header_piece(async_http_header *tab, unsigned *n, unsigned max, uint8_t *last,
                        int field, const char *at, size_t len)
{
    async_http_header *h = *n ? &tab[*n - 1] : NULL;

    if (field) {
        if (*last == CB_FIELD && h->name + h->name_len == at) {
            h->name_len += (uint32_t)len;
            return 0;
        }
        if (*n >= max)
            return -1;
        h = &tab[(*n)++];
        h->name = at;
        h->name_len = (uint32_t)len;
        h->value = at + len; /* an empty value gets no callback */
        h->value_len = 0;
        *last = CB_FIELD;
        return 0;
    }
    if (h == NULL)
        return -2;
    if (*last == CB_VALUE) {
        if (h->value + h->value_len != at)
            return -2;
        h->value_len += (uint32_t)len;
        return 0;
    }
    h->value = at;
    h->value_len = (uint32_t)len;
    *last = CB_VALUE;
    return 0;
}

static void trim_values(async_http_header *tab, unsigned n)
{
    unsigned i;
    for (i = 0; i < n; i++)
        while (tab[i].value_len &&
               (tab[i].value[tab[i].value_len - 1] == ' ' ||
                tab[i].value[tab[i].value_len - 1] == '\t'))
            tab[i].value_len--;
}

static const char *header_find(const async_http_header *tab, unsigned n, const char *name,
                               size_t *len)
{
    size_t nl = strlen(name);
    unsigned i;
    for (i = 0; i < n; i++)
        if (tab[i].name_len == nl && strncasecmp(tab[i].name, name, nl) == 0) {
            if (len)
                *len = tab[i].value_len;
            return tab[i].value;
        }
    return NULL;
}

const char *async_http_header_get(const async_http_request *r, const char *name, size_t *len)
{
    return r && name ? header_find(r->headers, r->nheaders, name, len) : NULL;
}

static bool token_is(const char *v, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && strncasecmp(v, lit, l) == 0;
}

/* ======================================================================
 * Paths.
 * ====================================================================== */

static int unhex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The segment out[seg..n) is "..". */
static bool dot_dot(const char *out, size_t seg, size_t n)
{
    return n - seg == 2 && out[seg] == '.' && out[seg + 1] == '.';
}

int async_http_path(const async_http_request *r, char *out, size_t cap)
{
    /* The bytes that stop the copy loop: the end of the path ('?', '#'),
     * an escape, a separator (where a ".." segment is checked), NUL. */
    static const unsigned char stop[256] = {['\0'] = 1, ['%'] = 1, ['/'] = 1, ['?'] = 1,
                                            ['#'] = 1};
    const char *p, *end, *lim;
    size_t n = 0, seg = 0; /* seg: where the current segment starts in out */

    if (r == NULL || out == NULL || cap == 0)
        return ASYNC_EINVAL;
    p = r->target;
    end = p + r->target_len;
    if (p == NULL || r->target_len == 0)
        return ASYNC_EPROTO;
    if (*p != '/') { /* absolute-form: scheme://authority/path */
        const char *s = memchr(p, ':', r->target_len);
        if (s == NULL || end - s < 3 || s[1] != '/' || s[2] != '/')
            return ASYNC_EPROTO; /* "*", authority-form */
        p = memchr(s + 3, '/', (size_t)(end - s - 3));
        if (p == NULL)
            p = end; /* no path: "/" */
    }
    if (p == end || *p != '/') {
        if (cap < 2)
            return ASYNC_ETOOLONG;
        out[0] = '/';
        out[1] = '\0';
        return 1;
    }
    /* Each output byte takes at least one input byte, so scanning at
     * most cap - 1 input bytes cannot overrun out, NUL included. */
    lim = (size_t)(end - p) < cap - 1 ? end : p + (cap - 1);
    for (;;) {
        int c;
        char *o = out + n;
        while (p < lim && !stop[(unsigned char)*p])
            *o++ = *p++;
        n = (size_t)(o - out);
        if (p >= lim) {
            if (p < end && *p != '?' && *p != '#')
                return ASYNC_ETOOLONG; /* the path goes on past cap */
            break;
        }
        c = (unsigned char)*p;
        if (c == '?' || c == '#' || c == '\0')
            break;
        if (c == '%') {
            int hi = end - p > 2 ? unhex(p[1]) : -1, lo = end - p > 2 ? unhex(p[2]) : -1;
            if (hi < 0 || lo < 0)
                return ASYNC_EPROTO;
            c = hi << 4 | lo;
            p += 2;
            if (c == 0 || c == '/')
                return ASYNC_EPERM; /* an encoded NUL or separator */
        } else { /* '/' */
            if (dot_dot(out, seg, n))
                return ASYNC_EPERM;
            seg = n + 1;
        }
        out[n++] = (char)c;
        p++;
    }
    if (dot_dot(out, seg, n))
        return ASYNC_EPERM;
    out[n] = '\0';
    return (int)n;
}

const char *async_http_query(const async_http_request *r, size_t *len)
{
    const char *q, *h;
    if (r == NULL || r->target == NULL)
        return NULL;
    q = memchr(r->target, '?', r->target_len);
    if (q == NULL)
        return NULL;
    q++;
    h = memchr(q, '#', (size_t)(r->target + r->target_len - q));
    if (len)
        *len = (size_t)((h ? h : r->target + r->target_len) - q);
    return q;
}

/* ======================================================================
 * Server: parser callbacks.
 * ====================================================================== */

static int srv_on_url(http_parser *p, const char *at, size_t len)
{
    async_http_conn *c = (async_http_conn *)p->data;
    if (c->req.target == NULL)
        c->req.target = at;
    c->req.target_len = (uint32_t)(at + len - c->req.target);
    return 0;
}

static int srv_on_header(async_http_conn *c, int field, const char *at, size_t len)
{
    int rc = header_piece(c->req.headers, &c->req.nheaders, c->hs->cfg.headers_max, &c->last_cb,
                          field, at, len);
    if (rc == 0)
        return 0;
    c->err = rc == -1 ? 431 : 400;
    return 1;
}

static int srv_on_field(http_parser *p, const char *at, size_t len)
{
    return srv_on_header((async_http_conn *)p->data, 1, at, len);
}

static int srv_on_value(http_parser *p, const char *at, size_t len)
{
    return srv_on_header((async_http_conn *)p->data, 0, at, len);
}

/* The head is in: record it and stop, so that the handler decides
 * about the body.  http-parser returns before the head's last byte
 * (the final LF), which a chunked body's parse starts with.            */
static int srv_on_head_done(http_parser *p)
{
    async_http_conn *c = (async_http_conn *)p->data;
    async_http_request *r = &c->req;
    unsigned i;

    r->method = p->method;
    r->major = p->http_major;
    r->minor = p->http_minor;
    r->chunked = (p->flags & F_CHUNKED) != 0;
    r->content_length = r->chunked || p->content_length == ULLONG_MAX ? 0 : p->content_length;
    r->keep_alive = http_should_keep_alive(p) != 0;
    for (i = 0; i < r->nheaders; i++) { /* trailing white space off; Expect */
        async_http_header *h = &r->headers[i];
        while (h->value_len && (h->value[h->value_len - 1] == ' ' ||
                                h->value[h->value_len - 1] == '\t'))
            h->value_len--;
        if (h->name_len == 6 && strncasecmp(h->name, "expect", 6) == 0) {
            if (token_is(h->value, h->value_len, "100-continue"))
                r->expect_continue = p->http_minor >= 1; /* never a 100 to HTTP/1.0 */
            else
                c->err = 417;
        }
    }
    if (p->uses_transfer_encoding && !r->chunked)
        c->err = 400; /* a coding other than chunked last: length unknown (RFC 9112 6.3) */
    http_parser_pause(p, 1);
    return 0;
}

static int srv_on_body(http_parser *p, const char *at, size_t len)
{
    async_http_conn *c = (async_http_conn *)p->data;
    memcpy(c->body_dst + c->body_n, at, len); /* fits: at most as many bytes as were fed */
    c->body_n += len;
    return 0;
}

static int srv_on_body_done(http_parser *p)
{
    async_http_conn *c = (async_http_conn *)p->data;
    c->bstate = B_DONE;
    http_parser_pause(p, 1); /* what follows is the next request */
    return 0;
}

static const http_parser_settings srv_head_settings = {
    .on_url = srv_on_url,
    .on_header_field = srv_on_field,
    .on_header_value = srv_on_value,
    .on_headers_complete = srv_on_head_done,
};

/* Trailer fields get no callbacks: they are skipped. */
static const http_parser_settings srv_body_settings = {
    .on_body = srv_on_body,
    .on_message_complete = srv_on_body_done,
};

/* ======================================================================
 * Server: the connection.
 * ====================================================================== */

void async_http_config_init(async_http_config *cfg, async_http_handler h)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->handler = h;
    cfg->out_size = 1024;
    cfg->headers_max = ASYNC_HTTP_MAX_HEADERS;
    cfg->body_max = 1024u * 1024u;
    cfg->discard_max = 64u * 1024u;
    cfg->head_timeout = ASYNC_SEC(10);
    cfg->idle_timeout = ASYNC_SEC(60);
    cfg->body_timeout = ASYNC_SEC(30);
    cfg->write_timeout = ASYNC_SEC(30);
}

/* Check a configuration and fill in what depends on the buffer. */
static int config_check(async_http_config *cfg)
{
    size_t in;
    if (cfg->handler == NULL || cfg->buf_size == 0 ||
        cfg->out_size < ASYNC_HTTP_PREFIX + ASYNC_HTTP_SUFFIX + 64 ||
        cfg->buf_size < cfg->out_size + 1024 ||
        (cfg->server_name &&
         (strlen(cfg->server_name) > 48 || bad_value(cfg->server_name, strlen(cfg->server_name)))))
        return ASYNC_EINVAL;
    in = cfg->buf_size - cfg->out_size;
    if (cfg->head_max == 0)
        cfg->head_max = in - MIN_BODY_ROOM;
    if (cfg->head_max > 65536)
        cfg->head_max = 65536;
    if (cfg->head_max + MIN_BODY_ROOM > in || cfg->head_max < 64)
        return ASYNC_EINVAL;
    if (cfg->headers_max == 0 || cfg->headers_max > ASYNC_HTTP_MAX_HEADERS)
        cfg->headers_max = ASYNC_HTTP_MAX_HEADERS;
    return 0;
}

int async_http_server_init(async_http_server *hs, const async_http_config *cfg)
{
    int rc;
    if (hs == NULL || cfg == NULL)
        return ASYNC_EINVAL;
    hs->cfg = *cfg;
    if ((rc = config_check(&hs->cfg)) < 0)
        return rc;
    hs->live = NULL;
    hs->nlive = 0;
    hs->requests = 0;
    hs->draining = false;
    hs->prefix_len = 0;
    hs->server_len = 0;
    if (hs->cfg.server_name) {
        size_t n = strlen(hs->cfg.server_name);
        memcpy(hs->server_line, "Server: ", 8);
        memcpy(hs->server_line + 8, hs->cfg.server_name, n);
        memcpy(hs->server_line + 8 + n, "\r\n", 2);
        hs->server_len = (uint8_t)(n + 10);
    }
    async_event_init(&hs->drained);
    memset(&hs->sweeper, 0, sizeof hs->sweeper);
    {
        async_tick p = hs->cfg.idle_timeout, l[3] = {hs->cfg.head_timeout, hs->cfg.body_timeout,
                                                      hs->cfg.write_timeout};
        unsigned i;
        for (i = 0; i < 3; i++)
            if (l[i] && (p == 0 || l[i] < p))
                p = l[i];
        p /= 4;
        hs->period = p < ASYNC_MS(10) ? ASYNC_MS(10) : p > ASYNC_SEC(1) ? ASYNC_SEC(1) : p;
    }
    memset(&hs->sco, 0, sizeof hs->sco);
    return 0;
}

int async_http_server_listen(async_http_server *hs, const async_addr *a, int backlog,
                             unsigned flags)
{
    if (hs == NULL)
        return ASYNC_EINVAL;
    return async_server_listen_flags(&hs->srv, a, backlog, flags);
}

/* The head's first lines, "HTTP/1.1 200 OK\r\nDate: ...\r\n", kept per
 * server: made again when the status differs from the last one or the
 * second may have moved on (checked against the loop's cached clock: no
 * system call).  A response copies it whole.                           */
static void refresh_prefix(async_loop *L, async_http_server *hs, int status)
{
    async_tick now = async_now(L);
    const char *reason;
    char *p;
    size_t rl;

    if (hs->prefix_len && hs->prefix_status == status &&
        (async_tick)(now - hs->date_at) < (async_tick)ASYNC_CONF_TICK_HZ)
        return;
    if (hs->prefix_len == 0 || (async_tick)(now - hs->date_at) >= (async_tick)ASYNC_CONF_TICK_HZ) {
        hs->date_at = now;
        async_http_date((long long)time(NULL), hs->date, sizeof hs->date);
    }
    reason = async_http_reason(status);
    rl = strlen(reason);
    p = PUTS(hs->prefix, "HTTP/1.1 ");
    *p++ = (char)('0' + status / 100 % 10);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put(p, reason, rl);
    p = PUTS(p, "\r\nDate: ");
    p = put(p, hs->date, 29);
    p = PUTS(p, "\r\n");
    hs->prefix_len = (uint8_t)(p - hs->prefix);
    hs->prefix_status = status;
}

static void conn_link(async_loop *L, async_http_server *hs, async_http_conn *c)
{
    if (hs->nlive == 0) {
        hs->E = async_ev_of(L);
        sweeper_start(hs); /* the first connection: deadlines to keep */
    }
    c->waiting = W_NONE;
    c->prev = NULL;
    c->next = hs->live;
    if (hs->live)
        hs->live->prev = c;
    hs->live = c;
    hs->nlive++;
}

static void conn_unlink(async_loop *L, async_http_server *hs, async_http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        hs->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    if (--hs->nlive == 0) {
        sweeper_stop(hs);
        if (hs->draining)
            async_event_set(L, &hs->drained);
    }
}

/* Get the buffer ready for the next request: unread (pipelined) bytes
 * to the front, a fresh parser, an empty request and response.         */
static void request_reset(async_http_conn *c)
{
    size_t left = c->in_len - c->in_pos;
    if (left && c->in_pos)
        memmove(c->in, c->in + c->in_pos, left);
    c->in_len = left;
    c->in_pos = 0;
    c->head_len = 0;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->req.target = NULL;
    c->req.target_len = 0;
    c->req.nheaders = 0;
    c->req.expect_continue = false;
    c->status = 0;
    c->sent = 0;
    c->out_len = ASYNC_HTTP_PREFIX;
    c->rstate = R_NONE;
    c->bstate = B_NONE;
    c->body_got = 0;
    c->err = 0;
    c->last_cb = CB_NONE;
    c->continue_sent = false;
    c->chunk_open = false;
}

/* Parse what is buffered of the head.  1: complete; 0: more needed;
 * 2: refused, with the status in c->err.                               */
static int parse_head(async_http_conn *c)
{
    size_t n = http_parser_execute(&c->parser, &srv_head_settings, (const char *)c->in + c->in_pos,
                                   c->in_len - c->in_pos);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

    if (e == HPE_PAUSED) {
        c->in_pos += n + 1; /* and the final LF */
        c->head_len = c->in_pos;
        if (c->head_len > c->hs->cfg.head_max && c->err == 0)
            c->err = 431;
        return c->err ? 2 : 1;
    }
    if (e != HPE_OK) {
        if (c->err == 0)
            c->err = e == HPE_HEADER_OVERFLOW ? 431 : 400;
        return 2;
    }
    c->in_pos += n;
    if (c->in_pos >= c->hs->cfg.head_max) {
        c->err = 431;
        return 2;
    }
    return 0;
}

/* What the module answers for a handler's error. */
static int status_of_error(int rc)
{
    switch (rc) {
    case ASYNC_ETOOLONG: return 413;
    case ASYNC_ETIMEDOUT: return 408;
    case ASYNC_EPROTO: return 400;
    case ASYNC_ECANCELED: return 503;
    default: return 500;
    }
}

/* Await a stream op under one of the connection's deadlines: the
 * server's sweeper wakes it with ASYNC_ETIMEDOUT once `kind`'s limit
 * has passed since the wait began.  A wait that needs no deadline
 * costs two stores; no timer is armed per request.  The first two
 * statements run once, when the wait begins (a resume re-enters inside
 * the await).                                                          */
#define AWAIT_GUARDED(L, c, kind, rc, op) \
    do {                                  \
        (c)->since = async_now(L);        \
        (c)->waiting = (kind);            \
        async_await_rc(rc, op);           \
        (c)->waiting = W_NONE;            \
    } while (0)

static async_tick limit_of(const async_http_config *cfg, unsigned kind)
{
    switch (kind) {
    case W_IDLE: return cfg->idle_timeout;
    case W_HEAD: return cfg->head_timeout;
    case W_BODY: return cfg->body_timeout;
    case W_WRITE: return cfg->write_timeout;
    default: return 0;
    }
}

/* The sweeper: one libev timer per server, running while the server has
 * connections.  Every `period` it wakes, with ASYNC_ETIMEDOUT, each
 * connection whose guarded wait has outlived its limit (a wake from a
 * loop callback, as an fd's readiness is).  A deadline is therefore kept
 * to within one period (a quarter of the shortest limit, 10 ms to 1 s),
 * never early.  A libev timer rather than a task asleep on the core's
 * wheel: libev checks its next timer in a compare per loop iteration. */
static void sweep(struct ev_loop *ev, ev_timer *t, int revents)
{
    async_http_server *hs = (async_http_server *)t->data;
    async_loop *L = async_ev_loop(hs->E);
    async_http_conn *c;
    async_tick now = async_loop_update_now(L), limit;
    (void)ev;
    (void)revents;
    for (c = hs->live; c; c = c->next) {
        limit = limit_of(&hs->cfg, c->waiting);
        if (limit && (async_tick)(now - c->since) >= limit)
            async_wake(L, &c->conn.task, ASYNC_ETIMEDOUT);
    }
}

/* On the driver's clock, which may be the virtual one (tests); it does
 * not keep the loop alive: the connections do. */
static void sweeper_start(async_http_server *hs)
{
    hs->sweeper.w.data = hs;
    async__ev_timer_start(hs->E, &hs->sweeper, sweep, hs->period);
}

static void sweeper_stop(async_http_server *hs)
{
    async__ev_timer_stop(hs->E, &hs->sweeper);
}

/* The connection task: requests one after another until the client or
 * an error closes, then a lingering close (so that a client still
 * sending sees our answer, not a reset).                               */
static int conn_main(async_loop *L, async_task *self)
{
    async_http_conn *c = (async_http_conn *)(void *)self;
    async_http_server *hs = c->hs;
    async_stream *s = &c->conn.stream;
    int rc;

    async_begin(L, &c->co);
    if (async_ev_of(L) == NULL)
        async_return(ASYNC_EINVAL); /* the sweeper is a libev timer */
    conn_link(L, hs, c);
    if (hs->cfg.on_connect) {
        async_await_for(&c->to, hs->cfg.head_timeout, rc, hs->cfg.on_connect(L, c));
        if (rc < 0)
            async_return(rc);
    }
    for (;;) {
        request_reset(c);
        if (c->in_len == 0) { /* keep-alive: wait for the next request */
            c->phase = PH_IDLE;
            if (hs->draining)
                break;
            AWAIT_GUARDED(L, c, W_IDLE, rc, async_stream_read(L, s, c->in, c->in_cap));
            if (rc < 0) {
                c->eof = rc == ASYNC_EOF;
                break; /* end, reset, idle timeout, shutdown: close quietly */
            }
            c->in_len = (size_t)rc;
        }
        c->phase = PH_HEAD;
        rc = parse_head(c);
        if (rc == 0) { /* a head in pieces: all of it within head_timeout */
            c->since = async_now(L);
            c->waiting = W_HEAD;
            for (;;) {
                async_await_rc(rc, async_stream_read(L, s, c->in + c->in_len,
                                                     c->in_cap - c->in_len));
                if (rc < 0)
                    break;
                c->in_len += (size_t)rc;
                if ((rc = parse_head(c)) != 0)
                    break;
            }
            c->waiting = W_NONE;
            if (rc == ASYNC_ETIMEDOUT) {
                c->err = 408;
            } else if (rc < 0) {
                c->eof = rc == ASYNC_EOF;
                break; /* the client left (or we were cancelled) mid-head */
            }
        }
        c->phase = PH_HANDLER;
        c->head_only = false;
        c->close = !c->req.keep_alive || hs->draining;
        if (rc == 1) {
            c->head_only = c->req.method == HTTP_HEAD;
            if (c->req.major != 1) {
                c->err = 505;
            } else if (c->req.chunked) {
                c->bstate = B_CHUNKED;
                c->in_pos = c->head_len - 1; /* the parser resumes at the final LF */
                http_parser_pause(&c->parser, 0);
            } else if (c->req.content_length) {
                c->bstate = B_LENGTH;
                c->body_left = c->req.content_length;
                if (c->body_left > hs->cfg.body_max)
                    c->err = 413;
            } else {
                c->bstate = B_DONE;
            }
        }
        if (c->err == 0) {
            async_await_rc(rc, hs->cfg.handler(L, c));
            if (rc < 0 && c->rstate == R_NONE) {
                c->err = status_of_error(rc);
            } else if (rc < 0) {
                c->close = true; /* the answer is cut short */
            } else if (c->rstate == R_NONE) {
                c->err = 500; /* the handler gave no answer */
            } else if (c->rstate == R_STREAM) {
                async_await_rc(rc, async_http_end(L, c));
                if (rc < 0)
                    c->close = true;
            }
        }
        if (c->err) { /* the module's own answer, then close */
            c->close = true;
            c->out_len = ASYNC_HTTP_PREFIX; /* drop what the handler added */
            c->rstate = R_NONE;
            c->head_only = c->head_only && c->err != 400;
            async_http_add_header(c, "Content-Type", "text/plain");
            /* arguments from the frame: they are evaluated again on resume */
            async_await_rc(rc, async_http_respond(L, c, c->err, async_http_reason(c->err),
                                                  strlen(async_http_reason(c->err))));
        }
        hs->requests++;
        if (hs->cfg.on_response)
            hs->cfg.on_response(L, c);
        if (c->rstate != R_DONE || c->close)
            break;
        /* Skip what the handler left of the body, if that is cheap. */
        c->discarded = 0;
        while (c->bstate != B_DONE) {
            async_await_rc(rc, async_http_body_read(L, c, c->out, c->out_cap));
            if (rc <= 0)
                break;
            c->discarded += (unsigned)rc;
            if (c->discarded > hs->cfg.discard_max) {
                rc = ASYNC_ETOOLONG;
                break;
            }
        }
        if (c->bstate != B_DONE)
            break;
    }
    /* Lingering close: stop sending, then read (and drop) what the
     * client still sends until it closes, for a short while.          */
    c->phase = PH_CLOSING;
    if (c->abort) {
        /* Reset: close() with a zero linger time sends RST and drops
         * the unsent queue.  A socket option on the stream's fd: a TLS
         * stream is reset the same way (no close_notify to a client
         * that does not read). */
        struct linger lg = {1, 0};
        (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else if (!c->eof && !async_stream_is_closed(s) && async_stream_shutdown(s) == 0) {
        async_timeout_begin(&c->to, LINGER_TICKS);
        for (;;) {
            async_await_rc(rc, async_stream_read(L, s, c->in, c->in_cap));
            if (rc < 0)
                break;
        }
        async_timeout_end(&c->to);
    }
    async_finally;
    conn_unlink(L, hs, c);
    if (!async_stream_is_closed(s))
        async_stream_close(L, s);
    async_end;
}

/* First step of a pool connection: find the buffers, then run. */
static void conn_setup(async_http_server *hs, async_http_conn *c)
{
    unsigned char *frame = (unsigned char *)c - hs->cfg.conn_offset;
    c->hs = hs;
    c->in = frame + hs->cfg.buf_offset;
    c->in_cap = hs->cfg.buf_size - hs->cfg.out_size;
    c->out = (char *)c->in + c->in_cap;
    c->out_cap = hs->cfg.out_size;
    c->in_len = c->in_pos = 0;
    c->eof = false;
    c->abort = false;
    c->opkind = 0;
    memset(&c->co, 0, sizeof c->co);
    memset(&c->op, 0, sizeof c->op);
}

static int pool_conn_main(async_loop *L, async_task *self)
{
    async_http_conn *c = (async_http_conn *)(void *)self;
    if (c->co.lc == 0) /* a new connection in this frame */
        conn_setup((async_http_server *)(void *)c->conn.server, c);
    return conn_main(L, self);
}

int async_http_server_start(async_loop *L, async_http_server *hs, const async_http_config *cfg,
                            void *pool, size_t stride, unsigned count)
{
    int rc;
    if (hs == NULL || cfg == NULL || pool == NULL)
        return ASYNC_EINVAL;
    if ((rc = async_http_server_init(hs, cfg)) < 0)
        return rc;
    if (hs->cfg.buf_offset + hs->cfg.buf_size > stride ||
        hs->cfg.conn_offset + sizeof(async_http_conn) > stride)
        return ASYNC_EINVAL;
    return async_server_start(L, &hs->srv, pool_conn_main, pool, stride, hs->cfg.conn_offset,
                              count);
}

int async_http_serve_fd(async_loop *L, async_http_server *hs, void *frame, int fd)
{
    async_http_conn *c;
    int rc;
    if (L == NULL || hs == NULL || frame == NULL || fd < 0)
        return ASYNC_EINVAL;
    c = (async_http_conn *)(void *)((unsigned char *)frame + hs->cfg.conn_offset);
    if (async_task_state(&c->conn.task) != ASYNC_TASK_IDLE &&
        async_task_state(&c->conn.task) != ASYNC_TASK_DONE)
        return ASYNC_EBUSY;
    if ((rc = async_stream_init(&c->conn.stream, fd, NULL, 0)) < 0)
        return rc;
    conn_setup(hs, c);
    c->conn.server = &hs->srv;
    memset(&c->conn.peer, 0, sizeof c->conn.peer);
    return async_spawn(L, &c->conn.task, conn_main);
}

void async_http_server_close(async_loop *L, async_http_server *hs)
{
    if (L == NULL || hs == NULL)
        return;
    async_server_close(L, &hs->srv);
}

int async_http_server_shutdown(async_loop *L, async_http_server *hs, async_tick grace)
{
    async_http_conn *c;
    int rc;

    if (L == NULL || hs == NULL)
        return ASYNC_EINVAL;
    async_begin(L, &hs->sco);
    hs->draining = true;
    hs->cancelled = 0;
    async_event_clear(&hs->drained);
    if (hs->srv.fd >= 0 && !hs->srv.closed)
        async_server_close(L, &hs->srv);
    async_await(async_yield()); /* connections accepted but not started yet link themselves */
    for (c = hs->live; c; c = c->next)
        if (c->phase == PH_IDLE)
            async_cancel(L, &c->conn.task);
    if (hs->nlive) {
        async_await_for(&hs->sto, grace, rc, async_event_wait(L, &hs->drained));
        if (rc < 0 && rc != ASYNC_ETIMEDOUT)
            async_return(rc);
        if (rc == ASYNC_ETIMEDOUT) {
            for (c = hs->live; c; c = c->next)
                if (async_cancel(L, &c->conn.task) == 0)
                    hs->cancelled++;
            if (hs->nlive)
                async_await(async_event_wait(L, &hs->drained));
        }
    }
    async_return((int)hs->cancelled); /* nothing of the server runs now */
    async_end;
}

/* ======================================================================
 * Server: ops for handlers.
 * ====================================================================== */

/* Every op runs as a child coroutine on c->op; one at a time. */
#define OP_ENTER(L, c, kind)                            \
    do {                                                \
        if ((L) == NULL || (c) == NULL)                 \
            return ASYNC_EINVAL;                        \
        if ((c)->opkind != 0 && (c)->opkind != (kind))  \
            return ASYNC_EBUSY;                         \
        (c)->opkind = (kind);                           \
    } while (0)

/* A write failed: the connection cannot go on.  One that timed out
 * (the client stopped reading) is reset rather than closed, so that
 * the kernel drops what is still queued for it too.                    */
static int write_failed(async_http_conn *c, int rc)
{
    c->close = true;
    if (rc == ASYNC_ETIMEDOUT)
        c->abort = true;
    return rc;
}

/* Word-at-a-time byte tests (exact: they say whether some byte of the
 * word is below b, or equal to b; b <= 0x80).                          */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HAS_LESS(x, b) (((x) - ONES * (b)) & ~(x) & HIGHS)
#define HAS_BYTE(x, b) HAS_LESS((x) ^ (ONES * (b)), 1)

static uint64_t word_at(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* p[0..n) as words: whole ones, then the last 8 bytes (overlapping the
 * word before); shorter than 8, padded with `pad`.  Returns the OR of
 * test(word) over them.                                                */
#define WORDS_ANY(p, n, pad, test)                                          \
    do {                                                                    \
        size_t i_;                                                          \
        uint64_t x_;                                                        \
        if ((n) < 8) {                                                      \
            char tmp_[8];                                                   \
            memset(tmp_, (pad), 8);                                         \
            memcpy(tmp_, (p), (n));                                         \
            x_ = word_at(tmp_);                                             \
            if (test(x_))                                                   \
                return true;                                                \
            break;                                                          \
        }                                                                   \
        for (i_ = 0; i_ + 8 < (n); i_ += 8) {                               \
            x_ = word_at((p) + i_);                                         \
            if (test(x_))                                                   \
                return true;                                                \
        }                                                                   \
        x_ = word_at((p) + (n)-8);                                          \
        if (test(x_))                                                       \
            return true;                                                    \
    } while (0)

/* A header name: no control character, space or ':' (what could end
 * the name or the line).                                               */
#define NAME_BAD(x) (HAS_LESS(x, 0x21) || HAS_BYTE(x, ':'))
static bool bad_name(const char *p, size_t n)
{
    WORDS_ANY(p, n, 'a', NAME_BAD);
    return false;
}

/* Some control character in a value, TAB included (then looked at byte
 * by byte: TAB is allowed, a CR or LF would end the line).             */
#define VALUE_CTL(x) HAS_LESS(x, 0x20)
static bool any_ctl(const char *p, size_t n)
{
    WORDS_ANY(p, n, ' ', VALUE_CTL);
    return false;
}

static bool bad_value(const char *p, size_t n)
{
    size_t i;
    if (n == 0 || !any_ctl(p, n))
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] < ' ' && p[i] != '\t')
            return true;
    return false;
}

int async_http_add_headern(async_http_conn *c, const char *name, size_t nlen, const char *value,
                           size_t vlen)
{
    char *p;
    if (c == NULL || name == NULL || (value == NULL && vlen) || nlen == 0)
        return ASYNC_EINVAL;
    if (c->rstate != R_NONE)
        return ASYNC_EALREADY;
    if (bad_name(name, nlen) || bad_value(value, vlen))
        return ASYNC_EINVAL;
    if (nlen + vlen + 4 > c->out_cap - ASYNC_HTTP_SUFFIX - c->out_len)
        return ASYNC_ENOSPC; /* out_len <= out_cap - SUFFIX always holds */
    p = c->out + c->out_len;
    p = put(p, name, nlen);
    p = PUTS(p, ": ");
    if (vlen)
        p = put(p, value, vlen);
    p = PUTS(p, "\r\n");
    c->out_len = (size_t)(p - c->out);
    return 0;
}

int async_http_add_header(async_http_conn *c, const char *name, const char *value)
{
    if (name == NULL || value == NULL)
        return ASYNC_EINVAL;
    return async_http_add_headern(c, name, strlen(name), value, strlen(value));
}

void async_http_set_close(async_http_conn *c)
{
    if (c)
        c->close = true;
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* How the body is delimited; FRAME_NONE: no body follows and no length
 * is said (a HEAD answer to a streamed response).                      */
enum { FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE, FRAME_NONE };

/* Finish the response head in out[]: the status line and Date in front
 * of the application's headers, the framing after them.  Sets c->wp /
 * c->wn to the whole head.  Decides keep-alive: an unread body that will
 * not be skipped cheaply, or a 100-continue not answered, closes.       */
static void head_finish(async_loop *L, async_http_conn *c, int status, int framing,
                        unsigned long long len)
{
    async_http_server *hs = c->hs;
    char *p;

    if (c->bstate == B_LENGTH || c->bstate == B_CHUNKED) {
        if (c->req.expect_continue && !c->continue_sent)
            c->close = true;
        else if (c->bstate == B_LENGTH && c->body_left > hs->cfg.discard_max)
            c->close = true;
    }
    if (framing == FRAME_CLOSE || hs->draining)
        c->close = true;
    /* status line and Date: one copy, made again only when either changes */
    refresh_prefix(L, hs, status);
    c->wp = (const unsigned char *)c->out + ASYNC_HTTP_PREFIX - hs->prefix_len;
    memcpy((char *)(uintptr_t)c->wp, hs->prefix, hs->prefix_len);
    p = c->out + c->out_len;
    if (hs->server_len)
        p = put(p, hs->server_line, hs->server_len);
    if (framing == FRAME_LENGTH && (status_has_body(status) || len)) {
        p = PUTS(p, "Content-Length: ");
        p = put_dec(p, len);
        p = PUTS(p, "\r\n");
    } else if (framing == FRAME_CHUNKED) {
        p = PUTS(p, "Transfer-Encoding: chunked\r\n");
    }
    if (c->close)
        p = PUTS(p, "Connection: close\r\n");
    else if (c->req.minor == 0)
        p = PUTS(p, "Connection: keep-alive\r\n");
    p = PUTS(p, "\r\n");
    c->wn = (size_t)(p - (const char *)c->wp);
    c->status = status;
}

/* Room behind the finished head for a body copied in. */
static size_t room_after_head(const async_http_conn *c)
{
    return c->out_cap - (size_t)((const char *)c->wp + c->wn - c->out);
}

int async_http_respond(async_loop *L, async_http_conn *c, int status, const void *body,
                       size_t len)
{
    int rc;
    OP_ENTER(L, c, OP_RESPOND);
    async_begin(L, &c->op);
    if (c->rstate != R_NONE)
        async_return(ASYNC_EALREADY);
    if (status < 100 || status > 999 || (body == NULL && len))
        async_return(ASYNC_EINVAL);
    head_finish(L, c, status, FRAME_LENGTH, len);
    c->wbody = NULL;
    c->wbody_n = 0;
    if (!c->head_only && status_has_body(status) && len) {
        if (len <= room_after_head(c)) { /* one write for head and body */
            memcpy((unsigned char *)(uintptr_t)c->wp + c->wn, body, len);
            c->wn += len;
        } else {
            c->wbody = body;
            c->wbody_n = len;
        }
        c->sent = len;
    }
    c->rstate = R_DONE;
    AWAIT_GUARDED(L, c, W_WRITE, rc,
                    async_stream_write(L, &c->conn.stream, c->wp, c->wn));
    if (rc >= 0 && c->wbody_n)
        AWAIT_GUARDED(L, c, W_WRITE, rc,
                        async_stream_write(L, &c->conn.stream, c->wbody, c->wbody_n));
    if (rc < 0)
        async_return(write_failed(c, rc));
    async_finally;
    c->opkind = 0;
    async_end;
}

/* Where a stream that cannot sendfile (TLS) reads the file through: the
 * free end of the input buffer (the request is parsed; only pipelined
 * bytes may sit before it), or, when that is smaller, the output buffer
 * (its head has been sent by the time file bytes go through it).  Both
 * stay put while the op runs, as a retried TLS write needs.            */
static void *scratch_of(async_http_conn *c)
{
    return c->in_cap - c->in_len >= c->out_cap ? (void *)(c->in + c->in_len) : (void *)c->out;
}

static size_t scratch_cap(const async_http_conn *c)
{
    return c->in_cap - c->in_len >= c->out_cap ? c->in_cap - c->in_len : c->out_cap;
}

int async_http_respond_file(async_loop *L, async_http_conn *c, int status, int fd, off_t offset,
                            size_t len)
{
    int rc;
    OP_ENTER(L, c, OP_FILE);
    async_begin(L, &c->op);
    if (c->rstate != R_NONE)
        async_return(ASYNC_EALREADY);
    if (status < 100 || status > 999 || fd < 0 || offset < 0)
        async_return(ASYNC_EINVAL);
    head_finish(L, c, status, FRAME_LENGTH, len);
    c->rstate = R_DONE;
    c->wbody_n = !c->head_only && status_has_body(status) ? len : 0;
    /* the head goes with the file's first bytes (one segment for a small
     * file) */
    AWAIT_GUARDED(L, c, W_WRITE, rc,
                  async_stream_sendfile(L, &c->conn.stream, c->wp, c->wn, fd, offset,
                                        c->wbody_n, scratch_of(c), scratch_cap(c)));
    if (rc >= 0)
        c->sent = c->wbody_n;
    if (rc < 0) /* the length was promised: only a close can say it failed */
        async_return(write_failed(c, rc));
    async_finally;
    c->opkind = 0;
    async_end;
}

int async_http_begin(async_loop *L, async_http_conn *c, int status)
{
    int rc;
    OP_ENTER(L, c, OP_BEGIN);
    async_begin(L, &c->op);
    if (c->rstate != R_NONE)
        async_return(ASYNC_EALREADY);
    if (status < 200 || status > 999)
        async_return(ASYNC_EINVAL);
    c->framing_chunked = c->req.minor >= 1 && !c->head_only && status_has_body(status);
    head_finish(L, c, status,
                c->framing_chunked                         ? FRAME_CHUNKED
                : c->head_only || !status_has_body(status) ? FRAME_NONE
                                                           : FRAME_CLOSE,
                0);
    c->rstate = R_STREAM;
    c->chunk_open = false;
    AWAIT_GUARDED(L, c, W_WRITE, rc,
                    async_stream_write(L, &c->conn.stream, c->wp, c->wn));
    if (rc < 0)
        async_return(write_failed(c, rc));
    async_finally;
    c->opkind = 0;
    async_end;
}

int async_http_write(async_loop *L, async_http_conn *c, const void *data, size_t len)
{
    int rc;
    char *p;
    if (data == NULL && len) /* before OP_ENTER: a refused call changes nothing */
        return ASYNC_EINVAL;
    OP_ENTER(L, c, OP_WRITE);
    async_begin(L, &c->op);
    if (c->rstate != R_STREAM)
        async_return(c->rstate == R_DONE ? ASYNC_EALREADY : ASYNC_EINVAL);
    if (data == NULL && len)
        async_return(ASYNC_EINVAL);
    if (len == 0 || c->head_only || !status_has_body(c->status))
        async_return(0);
    c->wbody = data;
    c->wbody_n = len;
    if (c->framing_chunked) { /* "\r\n" ending the last chunk, then this one's size */
        p = c->out;
        if (c->chunk_open)
            p = PUTS(p, "\r\n");
        p = put_hex(p, len);
        p = PUTS(p, "\r\n");
        c->wp = (const unsigned char *)c->out;
        c->wn = (size_t)(p - c->out);
        if (len <= c->out_cap - c->wn) {
            memcpy(p, data, len);
            c->wn += len;
            c->wbody_n = 0;
        }
        c->chunk_open = true;
        AWAIT_GUARDED(L, c, W_WRITE, rc,
                        async_stream_write(L, &c->conn.stream, c->wp, c->wn));
        if (rc < 0)
            goto failed;
    }
    if (c->wbody_n) {
        AWAIT_GUARDED(L, c, W_WRITE, rc,
                        async_stream_write(L, &c->conn.stream, c->wbody, c->wbody_n));
        if (rc < 0)
            goto failed;
    }
    c->sent += len;
    async_return(0);
failed:
    async_return(write_failed(c, rc));
    async_finally;
    c->opkind = 0;
    async_end;
}

int async_http_end(async_loop *L, async_http_conn *c)
{
    int rc;
    OP_ENTER(L, c, OP_END);
    async_begin(L, &c->op);
    if (c->rstate != R_STREAM)
        async_return(c->rstate == R_DONE ? ASYNC_EALREADY : ASYNC_EINVAL);
    c->rstate = R_DONE;
    if (c->framing_chunked) {
        c->wp = (const unsigned char *)(c->chunk_open ? "\r\n0\r\n\r\n" : "0\r\n\r\n");
        c->wn = c->chunk_open ? 7 : 5;
        AWAIT_GUARDED(L, c, W_WRITE, rc,
                        async_stream_write(L, &c->conn.stream, c->wp, c->wn));
        if (rc < 0) {
            c->close = true;
            async_return(rc);
        }
    }
    async_finally;
    c->opkind = 0;
    async_end;
}

/* What one body read may take: the caller's len, at most INT_MAX, and
 * for a Content-Length body never more than what is left of it.  Op
 * arguments are computed afresh on each resume, so from these only.    */
static size_t body_len_cap(const async_http_conn *c, size_t len)
{
    if (len > (size_t)INT_MAX)
        len = (size_t)INT_MAX;
    if (c->bstate == B_LENGTH && len > c->body_left)
        len = (size_t)c->body_left;
    return len;
}

int async_http_body_read(async_loop *L, async_http_conn *c, void *buf, size_t len)
{
    int rc;
    size_t n;
    if (buf == NULL) /* before OP_ENTER: a refused call changes nothing */
        return ASYNC_EINVAL;
    OP_ENTER(L, c, OP_BODY);
    async_begin(L, &c->op);
    if (buf == NULL || len == 0)
        async_return(ASYNC_EINVAL);
    if (c->bstate == B_DONE || c->bstate == B_NONE)
        async_return(0);
    if (c->req.expect_continue && !c->continue_sent && c->rstate == R_NONE) {
        c->continue_sent = true;
        AWAIT_GUARDED(L, c, W_WRITE, rc,
                        async_stream_write(L, &c->conn.stream, "HTTP/1.1 100 Continue\r\n\r\n", 25));
        if (rc < 0)
            async_return(write_failed(c, rc));
    }
    c->continue_sent = true;
    if (c->bstate == B_LENGTH) {
        if (c->in_pos < c->in_len) { /* buffered with the head */
            n = c->in_len - c->in_pos;
            n = n < body_len_cap(c, len) ? n : body_len_cap(c, len);
            memcpy(buf, c->in + c->in_pos, n);
            c->in_pos += n;
            rc = (int)n;
        } else { /* straight into the caller's buffer, never past the body */
            AWAIT_GUARDED(L, c, W_BODY, rc,
                            async_stream_read(L, &c->conn.stream, buf, body_len_cap(c, len)));
            if (rc == ASYNC_EOF) {
                c->eof = true;
                rc = ASYNC_EPROTO; /* cut short */
            }
            if (rc < 0) {
                c->close = true;
                async_return(rc);
            }
        }
        c->body_left -= (unsigned)rc;
        c->body_got += (unsigned)rc;
        if (c->body_left == 0)
            c->bstate = B_DONE;
        async_return(rc);
    }
    /* chunked: through the parser, fed at most len bytes at a time so
     * that what on_body copies fits */
    for (;;) {
        if (c->in_pos == c->in_len) {
            c->in_pos = c->in_len = c->head_len; /* reuse the room after the head */
            AWAIT_GUARDED(L, c, W_BODY, rc,
                            async_stream_read(L, &c->conn.stream, c->in + c->in_len,
                                              c->in_cap - c->in_len));
            if (rc == ASYNC_EOF) {
                c->eof = true;
                rc = ASYNC_EPROTO;
            }
            if (rc < 0) {
                c->close = true;
                async_return(rc);
            }
            c->in_len += (size_t)rc;
        }
        n = c->in_len - c->in_pos;
        n = n < body_len_cap(c, len) ? n : body_len_cap(c, len);
        c->body_dst = (unsigned char *)buf;
        c->body_n = 0;
        n = http_parser_execute(&c->parser, &srv_body_settings, (const char *)c->in + c->in_pos, n);
        c->in_pos += n;
        if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK && HTTP_PARSER_ERRNO(&c->parser) != HPE_PAUSED) {
            c->close = true;
            c->bstate = B_DONE;
            async_return(ASYNC_EPROTO);
        }
        if (c->body_n) {
            c->body_got += c->body_n;
            if (c->body_got > c->hs->cfg.body_max) {
                c->close = true;
                c->bstate = B_DONE;
                async_return(ASYNC_ETOOLONG);
            }
            async_return((int)c->body_n);
        }
        if (c->bstate == B_DONE)
            async_return(0);
    }
    async_finally;
    c->opkind = 0;
    async_end;
}

/* ======================================================================
 * Client.
 * ====================================================================== */

static int cli_on_header(http_parser *p, int field, const char *at, size_t len)
{
    async_http_client *cl = (async_http_client *)p->data;
    return header_piece(cl->headers, &cl->nheaders, ASYNC_HTTP_MAX_HEADERS, &cl->last_cb, field,
                        at, len) != 0;
}

static int cli_on_field(http_parser *p, const char *at, size_t len)
{
    return cli_on_header(p, 1, at, len);
}

static int cli_on_value(http_parser *p, const char *at, size_t len)
{
    return cli_on_header(p, 0, at, len);
}

enum { C_HEAD, C_INTERIM, C_BODY, C_DONE };

static int cli_on_head_done(http_parser *p)
{
    async_http_client *cl = (async_http_client *)p->data;
    if (p->status_code / 100 == 1 && p->status_code != 101) {
        cl->state = C_INTERIM; /* no body; the answer follows */
        cl->nheaders = 0;
        cl->last_cb = CB_NONE;
        return 0;
    }
    cl->status = (int)p->status_code;
    cl->major = p->http_major;
    cl->minor = p->http_minor;
    cl->chunked = (p->flags & F_CHUNKED) != 0;
    cl->has_length = !cl->chunked && p->content_length != ULLONG_MAX;
    cl->content_length = cl->has_length ? p->content_length : 0;
    cl->keep_alive = http_should_keep_alive(p) != 0;
    trim_values(cl->headers, cl->nheaders);
    cl->state = C_BODY;
    http_parser_pause(p, 1);
    return cl->head_only ? 1 : 0;
}

static int cli_on_msg_done(http_parser *p)
{
    async_http_client *cl = (async_http_client *)p->data;
    if (cl->state == C_INTERIM) {
        cl->state = C_HEAD;
        return 0;
    }
    cl->state = C_DONE;
    cl->done = true;
    http_parser_pause(p, 1); /* one response per request */
    return 0;
}

static int cli_on_body(http_parser *p, const char *at, size_t len)
{
    async_http_client *cl = (async_http_client *)p->data;
    memcpy(cl->dst + cl->dst_n, at, len);
    cl->dst_n += len;
    return 0;
}

static const http_parser_settings cli_head_settings = {
    .on_header_field = cli_on_field,
    .on_header_value = cli_on_value,
    .on_headers_complete = cli_on_head_done,
    .on_message_complete = cli_on_msg_done,
};

/* The body's: trailer fields get no callbacks (the buffer after the
 * head is reused from read to read, so they could not be kept). */
static const http_parser_settings cli_body_settings = {
    .on_body = cli_on_body,
    .on_message_complete = cli_on_msg_done,
};

void async_http_client_init(async_http_client *cl, async_stream *s, void *buf, size_t cap)
{
    if (cl == NULL || s == NULL || buf == NULL)
        return;
    memset(cl, 0, offsetof(async_http_client, headers));
    cl->s = s;
    cl->buf = (unsigned char *)buf;
    cl->cap = cap;
    http_parser_init(&cl->parser, HTTP_RESPONSE);
    cl->parser.data = cl;
}

int async_http_client_request(async_loop *L, async_http_client *cl, const char *method,
                              const char *host, const char *target, const char *extra,
                              const void *body, size_t body_len)
{
    int rc;
    if (L == NULL || cl == NULL || method == NULL || host == NULL || target == NULL)
        return ASYNC_EINVAL;
    async_begin(L, &cl->co);
    if (method == NULL || host == NULL || target == NULL || cl->buf == NULL ||
        (body == NULL && body_len))
        async_return(ASYNC_EINVAL);
    {
        size_t ml = strlen(method), hl = strlen(host), tl = strlen(target),
               el = extra ? strlen(extra) : 0;
        char *p = (char *)cl->buf;
        if (ml + tl + hl + el + 64 > cl->cap)
            async_return(ASYNC_ETOOLONG);
        p = put(p, method, ml);
        *p++ = ' ';
        p = put(p, target, tl);
        p = PUTS(p, " HTTP/1.1\r\nHost: ");
        p = put(p, host, hl);
        p = PUTS(p, "\r\n");
        if (el)
            p = put(p, extra, el);
        if (body || body_len) {
            p = PUTS(p, "Content-Length: ");
            p = put_dec(p, body_len);
            p = PUTS(p, "\r\n");
        }
        p = PUTS(p, "\r\n");
        cl->wdone = (size_t)(p - (char *)cl->buf);
        cl->head_only = ml == 4 && memcmp(method, "HEAD", 4) == 0;
    }
    async_await(async_stream_write(L, cl->s, cl->buf, cl->wdone));
    if (body_len)
        async_await(async_stream_write(L, cl->s, body, body_len));
    rc = 0;
    async_return(rc);
    async_end;
}

/* Feed buffered bytes (at most `limit` when copying body into dst).
 * 0, or ASYNC_EPROTO.                                                  */
static int cli_feed(async_http_client *cl, size_t limit)
{
    size_t n = cl->len - cl->pos, used;
    enum http_errno e;
    if (n > limit)
        n = limit;
    used = http_parser_execute(&cl->parser, cl->state == C_HEAD || cl->state == C_INTERIM
                                                ? &cli_head_settings
                                                : &cli_body_settings,
                               (const char *)cl->buf + cl->pos, n);
    e = HTTP_PARSER_ERRNO(&cl->parser);
    /* Paused at the end of a head (before its last byte, which the
     * body's parse starts with) or of the response: both are fine. */
    if (e != HPE_OK && e != HPE_PAUSED) {
        return ASYNC_EPROTO;
    }
    cl->pos += used;
    return 0;
}

int async_http_client_head(async_loop *L, async_http_client *cl)
{
    int rc;
    if (L == NULL || cl == NULL)
        return ASYNC_EINVAL;
    async_begin(L, &cl->co);
    if (cl->buf == NULL)
        async_return(ASYNC_EINVAL);
    cl->len = cl->pos = 0;
    cl->state = C_HEAD;
    cl->done = false;
    cl->eof = false;
    cl->dst = NULL;
    for (;;) {
        if (cl->pos < cl->len) {
            if ((rc = cli_feed(cl, (size_t)-1)) < 0)
                async_return(rc);
            if (cl->state == C_BODY)
                break;
            continue;
        }
        if (cl->len == cl->cap)
            async_return(ASYNC_ETOOLONG);
        async_await_rc(rc, async_stream_read(L, cl->s, cl->buf + cl->len, cl->cap - cl->len));
        if (rc == ASYNC_EOF)
            async_return(ASYNC_EPROTO); /* ended before the head */
        if (rc < 0)
            async_return(rc);
        cl->len += (size_t)rc;
    }
    /* The head ends one byte on (the LF the parser stopped before). */
    cl->wdone = cl->pos + 1; /* head_len, kept for the body's reads */
    if (cl->head_only || cl->status == 204 || cl->status == 304 ||
        (cl->has_length && cl->content_length == 0)) {
        cl->pos++;
        cl->state = C_DONE;
        cl->done = true;
    } else {
        http_parser_pause(&cl->parser, 0);
    }
    async_return(cl->status);
    async_end;
}

int async_http_client_body(async_loop *L, async_http_client *cl, void *buf, size_t len)
{
    int rc;
    if (L == NULL || cl == NULL || buf == NULL)
        return ASYNC_EINVAL;
    async_begin(L, &cl->co);
    if (buf == NULL || len == 0 || (cl->state != C_BODY && cl->state != C_DONE))
        async_return(ASYNC_EINVAL);
    for (;;) {
        if (cl->done)
            async_return(0);
        if (cl->pos == cl->len) {
            if (cl->eof) { /* the end of a body delimited by the close */
                cl->dst = (unsigned char *)buf;
                cl->dst_n = 0;
                http_parser_execute(&cl->parser, &cli_body_settings, "", 0);
                if (cl->done)
                    async_return(0);
                async_return(ASYNC_EPROTO);
            }
            cl->pos = cl->len = cl->wdone; /* keep the head, reuse the rest */
            if (cl->len >= cl->cap)
                async_return(ASYNC_ETOOLONG);
            async_await_rc(rc, async_stream_read(L, cl->s, cl->buf + cl->len, cl->cap - cl->len));
            if (rc == ASYNC_EOF) {
                cl->eof = true;
                continue;
            }
            if (rc < 0)
                async_return(rc);
            cl->len += (size_t)rc;
        }
        cl->dst = (unsigned char *)buf;
        cl->dst_n = 0;
        if ((rc = cli_feed(cl, len > (size_t)INT_MAX ? (size_t)INT_MAX : len)) < 0)
            async_return(rc);
        if (cl->dst_n) {
            cl->body += cl->dst_n;
            async_return((int)cl->dst_n);
        }
    }
    async_end;
}

const char *async_http_client_header(const async_http_client *cl, const char *name, size_t *len)
{
    return cl && name ? header_find(cl->headers, cl->nheaders, name, len) : NULL;
}
