/* SPDX-License-Identifier: MIT */
#include "testlib.h"
#include <string.h>

async_vclock TVC;
async_loop TL;
int t_misuse_count;
int t_misuse_last;

static char log_buf[2048];
static size_t log_len;

void t_misuse(int code, const char *file, int line)
{
    (void)file;
    (void)line;
    t_misuse_count++;
    t_misuse_last = code;
}

void t_reset(async_tick start, bool autojump)
{
    async_vclock_init(&TVC, start, autojump);
    assert_int_equal(async_loop_init(&TL, &TVC.port), 0);
    log_len = 0;
    log_buf[0] = '\0';
    t_misuse_count = 0;
    t_misuse_last = 0;
}

int t_setup(void **state)
{
    (void)state;
    t_reset(1000, false);
    return 0;
}

int t_teardown(void **state)
{
    (void)state;
    return 0;
}

void t_log(const char *word)
{
    size_t n = strlen(word);
    if (log_len + n + 2 >= sizeof log_buf)
        return;
    if (log_len)
        log_buf[log_len++] = ' ';
    memcpy(log_buf + log_len, word, n + 1);
    log_len += n;
}

void t_logi(const char *prefix, long value)
{
    char buf[64], digits[24];
    size_t n = strlen(prefix), k = 0;
    unsigned long v = value < 0 ? (unsigned long)-value : (unsigned long)value;

    if (n > sizeof buf - 26)
        n = sizeof buf - 26;
    memcpy(buf, prefix, n);
    if (value < 0)
        buf[n++] = '-';
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        buf[n++] = digits[--k];
    buf[n] = '\0';
    t_log(buf);
}

const char *t_logged(void)
{
    return log_buf;
}

void t_settle(void)
{
    async_run_ready(&TL);
}

void t_advance(async_tick ticks)
{
    async_vclock_advance(&TVC, ticks);
    async_run_ready(&TL);
}

int t_joiner_fn(async_loop *L, async_task *self)
{
    struct t_joiner *f = async_frame(self, struct t_joiner, task);
    async_begin(L, &f->co);
    async_await_rc(f->rc, async_join(L, f->target));
    t_logi("joined", f->rc);
    async_end;
}

int t_spawn_joiner(struct t_joiner *j, async_task *target)
{
    *j = (struct t_joiner){0};
    j->target = target;
    return async_spawn(&TL, &j->task, t_joiner_fn);
}

int t_sleeper_fn(async_loop *L, async_task *self)
{
    struct t_sleeper *f = async_frame(self, struct t_sleeper, task);
    async_begin(L, &f->co);
    t_log(f->name);
    async_await(async_sleep(L, f->sleep));
    async_return(f->result);
    async_finally;
    if (async_error() == ASYNC_ECANCELED)
        t_logi("cancelled-at", (long)async_now(L));
    async_end;
}
