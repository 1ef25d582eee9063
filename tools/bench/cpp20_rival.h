/* SPDX-License-Identifier: MIT */
/* cpp20_rival.h: the C++20 coroutine rival of tools/bench/core_bench.c,
 * seen from C.  The bodies are in cpp20_rival.cpp (g++ -std=c++20
 * -fcoroutines); core_bench links them so that async.h, the switch floor
 * and this rival are measured alternately in one process.
 *
 * Each benchmark is split into a setup, a run (what is timed, and what
 * callgrind collects with --toggle-collect=cpp20_*_run) and a check.
 * Every check returns 0, or -1 if the rival did not do the work (a task
 * that did not finish its rounds, a child that did not run).             */
#ifndef CPP20_RIVAL_H
#define CPP20_RIVAL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* switch: TASKS coroutines each `co_await yield` ROUNDS times through a
 * ring of ready handles.                                                 */
void cpp20_switch_setup(unsigned tasks, unsigned rounds);
void cpp20_switch_run(void);
int cpp20_switch_check(void); /* also frees the frames */

/* spawn: a coroutine creates an empty child COUNT times (operator new:
 * malloc), queues it on the ring, co_awaits it, destroys it (free).      */
void cpp20_spawn_setup(unsigned count);
void cpp20_spawn_run(void);
int cpp20_spawn_check(void);

/* memory: TASKS coroutines started and parked on one event (each frame
 * malloc'd); then the event is set and every task must finish.  prepare
 * allocates the array of handles that lets the check see each task (8 B
 * a task, which a detached task would not need): measure from after it. */
void cpp20_memory_prepare(unsigned tasks);
void cpp20_memory_park(void);
int cpp20_memory_check_parked(void);
int cpp20_memory_finish(void);
/* The size operator new was asked for the last coroutine frame.         */
size_t cpp20_frame_bytes(void);

#ifdef __cplusplus
}
#endif

#endif
