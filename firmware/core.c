/* SPDX-License-Identifier: MIT */
/* core.c - the one translation unit that compiles async.h's function
 * bodies.  `make size` measures this object on each target as "the core
 * alone": every function in async.h, at -Os, nothing removed.          */
#define ASYNC_IMPLEMENTATION
#include "async.h"
