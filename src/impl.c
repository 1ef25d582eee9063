/* SPDX-License-Identifier: MIT */
/* The one translation unit of libasync that compiles async.h's bodies. */
#define ASYNC_IMPLEMENTATION
#include "async.h"
