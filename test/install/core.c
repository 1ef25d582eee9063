/* SPDX-License-Identifier: MIT */
/* An installed program using only the header-only core (pkg-config
 * async, CMake async::core): no libasync, no libev.  A task sleeps three
 * times 10 s on the virtual clock port, so the run takes no real time,
 * and prints where the clock ended and the header's version.            */
#define ASYNC_IMPLEMENTATION
#include "async.h"
#include "port/async_vclock.h"

#include <stdio.h>

struct sleeper {
    async_task task;
    async_co co;
    int laps;
};

static int sleeper(async_loop *L, async_task *self)
{
    struct sleeper *f = async_frame(self, struct sleeper, task);
    async_begin(L, &f->co);
    for (f->laps = 0; f->laps < 3; f->laps++)
        async_await(async_sleep(L, ASYNC_SEC(10)));
    async_return(f->laps);
    async_end;
}

int main(void)
{
    static async_vclock vc;
    static async_loop L;
    static struct sleeper s;
    int rc;

    async_vclock_init(&vc, 0, true);
    async_loop_init(&L, &vc.port);
    rc = async_run(&L, &s.task, sleeper);
    if (rc < 0) {
        printf("core: %s\n", async_strerror(rc));
        return 1;
    }
    printf("core: %d sleeps of 10 s, virtual clock at %lu ticks, async.h %s\n", rc,
           (unsigned long)async_now(&L), ASYNC_VERSION_STRING);
    return 0;
}
