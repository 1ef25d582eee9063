/* SPDX-License-Identifier: MIT */
/* io_bench: the runtime's stream ops beside their floor, in the same
 * binary.  tools/bench/run.py drives it; every mode prints
 * "RESULT key=value ..." lines ("FAIL ..." and exit 1 if a check fails).
 *
 *   io_bench read_until LINES REPS
 *       LINES 40-byte HTTP request lines ("GET /api/v1/items/NNN HTTP/1.1"
 *       and CRLF, each different) are written into a pipe, and a task
 *       reads them back with async_stream_read_until(..., "\r\n", 2, ...)
 *       on the libev runtime.  The first call reads the whole pipe into
 *       the stream's buffer (one read(2)) and is not counted: what is
 *       timed is the op on a buffered line, its search and its copy.  The
 *       floor does the same on the same bytes in a plain buffer: memchr
 *       for the delimiter's first byte, memcmp for the rest, memcpy out.
 *       Both alternate, REPS times, their order swapped each time; every
 *       line read must equal the line written.
 *   io_bench read_until-once LINES
 *       one run of each, for callgrind (--toggle-collect=lib_read_line or
 *       floor_read_line): instructions per line, over LINES - 1 lines.
 *
 * Times are this process's CPU time per line.                           */
#define _GNU_SOURCE
#include "async_ev.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
#define MEASURED __attribute__((noinline, noipa))
#else
#define MEASURED __attribute__((noinline))
#endif

#define LINE_LEN 40u
#define LINE_CAP 1024u    /* the caller's line buffer, as a server has   */
#define PIPE_BYTES 1048576 /* Linux's default pipe-max-size               */
#define MAX_LINES (PIPE_BYTES / LINE_LEN)

static const char delim[] = "\r\n";

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    printf("FAIL %s\n", what);
    exit(1);
}

static unsigned char input[MAX_LINES * LINE_LEN];
static unsigned char output[MAX_LINES * LINE_LEN + LINE_CAP];
static unsigned char rbuf[PIPE_BYTES];

static void make_lines(unsigned lines)
{
    unsigned i;
    for (i = 0; i < lines; i++) {
        char line[LINE_LEN + 1];
        if (snprintf(line, sizeof line, "GET /api/v1/items/%011u HTTP/1.1\r\n", i) != LINE_LEN)
            die("read_until: a request line is not 40 bytes");
        memcpy(input + (size_t)i * LINE_LEN, line, LINE_LEN);
    }
}

/* ---- the floor: search a plain buffer ---- */

struct fbuf {
    const unsigned char *data;
    size_t pos, len;
};

/* The line at b->pos up to and including the delimiter, copied to out:
 * its length, or 0 if no delimiter starts within min(cap, what is left). */
static MEASURED size_t floor_read_line(struct fbuf *b, const unsigned char *d, size_t dlen,
                                       unsigned char *out, size_t cap)
{
    const unsigned char *p = b->data + b->pos, *end, *last;
    size_t left = b->len - b->pos, n;

    end = p + (left < cap ? left : cap);
    if ((size_t)(end - p) < dlen)
        return 0;
    last = end - dlen;
    while ((p = memchr(p, d[0], (size_t)(last - p) + 1)) != NULL) {
        if (memcmp(p + 1, d + 1, dlen - 1) == 0) {
            n = (size_t)(p + dlen - (b->data + b->pos));
            memcpy(out, b->data + b->pos, n);
            b->pos += n;
            return n;
        }
        if (p++ == last)
            break;
    }
    return 0;
}

static double floor_run(unsigned lines)
{
    struct fbuf b = {input, 0, (size_t)lines * LINE_LEN};
    unsigned i;
    double t0;

    memset(output, 0, (size_t)lines * LINE_LEN);
    /* As the library's run: the first line is not counted. */
    if (floor_read_line(&b, (const unsigned char *)delim, 2, output, LINE_CAP) != LINE_LEN)
        die("read_until floor: the first line");
    t0 = cpu_now();
    for (i = 1; i < lines; i++)
        if (floor_read_line(&b, (const unsigned char *)delim, 2, output + (size_t)i * LINE_LEN,
                            LINE_CAP) != LINE_LEN)
            die("read_until floor: a line of the wrong length");
    t0 = cpu_now() - t0;
    if (memcmp(output, input, (size_t)lines * LINE_LEN) != 0)
        die("read_until floor: a line read differs from the line written");
    return t0;
}

/* ---- the library: a task reading the pipe through a stream ---- */

static MEASURED int lib_read_line(async_loop *L, async_stream *s, unsigned char *out)
{
    return async_stream_read_until(L, s, delim, 2, out, LINE_CAP);
}

struct reader {
    async_task task;
    async_co co;
    async_stream s;
    unsigned lines, i;
    int n;
    double t0, elapsed;
};

static int reader(async_loop *L, async_task *self)
{
    struct reader *r = async_frame(self, struct reader, task);
    async_begin(L, &r->co);
    /* The first call reads the whole pipe into rbuf. */
    async_await_val(r->n, async_stream_read_until(L, &r->s, delim, 2, output, LINE_CAP));
    if (r->n != (int)LINE_LEN)
        async_return(ASYNC_EPROTO);
    r->t0 = cpu_now();
    for (r->i = 1; r->i < r->lines; r->i++) {
        async_await_val(r->n, lib_read_line(L, &r->s, output + (size_t)r->i * LINE_LEN));
        if (r->n != (int)LINE_LEN)
            async_return(ASYNC_EPROTO);
    }
    r->elapsed = cpu_now() - r->t0;
    async_finally;
    async_stream_close(L, &r->s);
    async_end;
}

static double lib_run(async_ev *E, unsigned lines)
{
    static struct reader r;
    size_t bytes = (size_t)lines * LINE_LEN;
    int fds[2];

    if (pipe(fds) != 0)
        die("pipe");
    if (fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES) < (int)bytes)
        die("read_until: the pipe cannot hold the lines (fs.pipe-max-size)");
    if (write(fds[1], input, bytes) != (ssize_t)bytes)
        die("read_until: write to the pipe");
    close(fds[1]); /* the reader never needs more */
    memset(output, 0, bytes);
    memset(&r, 0, sizeof r);
    r.lines = lines;
    if (async_stream_init(&r.s, fds[0], rbuf, sizeof rbuf) != 0)
        die("async_stream_init");
    if (async_ev_run(E, &r.task, reader) != 0)
        die("read_until: the reader task failed");
    if (memcmp(output, input, bytes) != 0)
        die("read_until: a line read differs from the line written");
    return r.elapsed;
}

static void bench_read_until(unsigned lines, unsigned reps, bool warm)
{
    static async_ev E;
    unsigned r;

    if (lines < 2 || lines > MAX_LINES)
        die("read_until: LINES must be 2..26214");
    make_lines(lines);
    if (async_ev_init(&E, EV_DEFAULT) != 0)
        die("async_ev_init");
    if (warm) {
        floor_run(lines);
        lib_run(&E, lines);
    }
    for (r = 0; r < reps; r++) {
        double f, l;
        if (r % 2) {
            l = lib_run(&E, lines);
            f = floor_run(lines);
        } else {
            f = floor_run(lines);
            l = lib_run(&E, lines);
        }
        printf("RESULT bench=read_until rep=%u lines=%u line_bytes=%u floor_ns=%.3f lib_ns=%.3f\n",
               r, lines, LINE_LEN, f / (lines - 1) * 1e9, l / (lines - 1) * 1e9);
    }
    async_ev_close(&E);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned long a = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    unsigned long b = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "read_until") && a && b)
        bench_read_until((unsigned)a, (unsigned)b, true);
    else if (!strcmp(mode, "read_until-once") && a)
        bench_read_until((unsigned)a, 1, false);
    else {
        fprintf(stderr, "usage: io_bench read_until LINES REPS | read_until-once LINES\n");
        return 2;
    }
    return 0;
}
