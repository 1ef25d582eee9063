/* SPDX-License-Identifier: MIT */
/* read_until_bench MODE LINES ROUNDS: lines read from a socket pair.
 *
 *   lib     a task reads each line with async_stream_read_until(..., "\n")
 *           over a 4096-byte stream buffer, inside read_lines_lib
 *   floor   the same by hand, inside read_lines_floor: recv into a
 *           4096-byte buffer, memchr for the '\n', memcpy the line out,
 *           move the rest to the front when the buffer runs out
 *
 * Each round writes LINES lines of 40 bytes into the pair (blocking, not
 * counted), then reads them back, checking every one.  Prints one
 * RESULT line with the CPU time per line.  tools/bench/run.py runs both
 * under callgrind with --toggle-collect on read_lines_lib /
 * read_lines_floor: user instructions per line, load-independent.      */
#define _GNU_SOURCE
#include "async_ev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE 40

static unsigned lines, rounds;
static int fds[2];
static unsigned long long checked;
static char got[4096][256]; /* a round's lines, checked after it */
static size_t gotn[4096];

static void make_line(char *p, unsigned i)
{
    /* "GET /index-000123.html HTTP/1.1 x-00123\n": 40 bytes, varied */
    snprintf(p, LINE + 1, "GET /index-%06u.html HTTP/1.1 x-%05u\n", i % 1000000u, i % 100000u);
}

static void write_round(unsigned r)
{
    static char buf[LINE * 4096 + 1];
    unsigned i;
    size_t off = 0, n = (size_t)lines * LINE;
    ssize_t w;
    for (i = 0; i < lines; i++)
        make_line(buf + (size_t)i * LINE, r * lines + i);
    while (off < n) {
        w = write(fds[0], buf + off, n - off);
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        off += (size_t)w;
    }
}

static void check(const char *line, size_t n, unsigned idx)
{
    char want[LINE + 1];
    make_line(want, idx);
    if (n != LINE || memcmp(line, want, LINE) != 0) {
        fprintf(stderr, "FAIL read_until_bench: line %u: got %.*s\n", idx, (int)n, line);
        exit(1);
    }
    checked++;
}

/* ---- the library ---- */

struct reader {
    async_task task;
    async_co co, lco;
    async_stream s;
    unsigned r, i;
    int n;
    unsigned char rbuf[4096];
};

/* The counted part: LINES read_until calls (a child coroutine). */
__attribute__((noinline)) int read_lines_lib(async_loop *L, struct reader *f)
{
    async_begin(L, &f->lco);
    for (f->i = 0; f->i < lines; f->i++) {
        async_await_val(f->n, async_stream_read_until(L, &f->s, "\n", 1, got[f->i], 256));
        gotn[f->i] = (size_t)f->n;
    }
    async_end;
}

static void check_round(unsigned r)
{
    unsigned i;
    for (i = 0; i < lines; i++)
        check(got[i], gotn[i], r * lines + i);
}

static int reader_main(async_loop *L, async_task *self)
{
    struct reader *f = async_frame(self, struct reader, task);
    async_begin(L, &f->co);
    async_await(async_stream_init(&f->s, fds[1], f->rbuf, sizeof f->rbuf));
    for (f->r = 0; f->r < rounds; f->r++) {
        write_round(f->r);
        async_await(read_lines_lib(L, f));
        check_round(f->r);
    }
    async_end;
}

/* ---- the floor ---- */

static char fbuf[4096];
static size_t fpos, flen;

__attribute__((noinline)) void read_lines_floor(void)
{
    unsigned i;
    for (i = 0; i < lines; i++) {
        char *nl;
        while ((nl = memchr(fbuf + fpos, '\n', flen - fpos)) == NULL) {
            ssize_t n;
            if (fpos) { /* the partial line to the front */
                memmove(fbuf, fbuf + fpos, flen - fpos);
                flen -= fpos;
                fpos = 0;
            }
            n = recv(fds[1], fbuf + flen, sizeof fbuf - flen, 0);
            if (n <= 0) {
                perror("recv");
                exit(1);
            }
            flen += (size_t)n;
        }
        gotn[i] = (size_t)(nl + 1 - (fbuf + fpos));
        memcpy(got[i], fbuf + fpos, gotn[i]);
        fpos = (size_t)(nl + 1 - fbuf);
        if (fpos == flen)
            fpos = flen = 0;
    }
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    static struct reader f;
    double t0;
    unsigned r;
    int bufsz = 1 << 20;

    if (argc != 4 || (strcmp(argv[1], "lib") != 0 && strcmp(argv[1], "floor") != 0)) {
        fprintf(stderr, "usage: %s lib|floor LINES ROUNDS\n", argv[0]);
        return 2;
    }
    lines = (unsigned)strtoul(argv[2], NULL, 10);
    rounds = (unsigned)strtoul(argv[3], NULL, 10);
    if (lines < 1 || lines > 4096 || rounds < 1)
        return 2;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
        return 1;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    t0 = cpu_now();
    if (argv[1][0] == 'l') {
        int rc = async_ev_main(&f.task, reader_main);
        if (rc < 0) {
            fprintf(stderr, "FAIL read_until_bench: %s\n", async_strerror(rc));
            return 1;
        }
    } else {
        for (r = 0; r < rounds; r++) {
            write_round(r);
            read_lines_floor();
            check_round(r);
        }
    }
    printf("RESULT mode=%s lines=%llu ns_per_line=%.2f\n", argv[1], checked,
           (cpu_now() - t0) * 1e9 / (double)checked);
    return checked == (unsigned long long)lines * rounds ? 0 : 1;
}
