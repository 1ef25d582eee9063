/* SPDX-License-Identifier: MIT */
/* The one translation unit that compiles async.h's function bodies. */
#define ASYNC_IMPLEMENTATION
#include "testlib.h"
