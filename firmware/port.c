/* SPDX-License-Identifier: MIT */
/* port.c - the bare-metal port's functions (port/async_bm.h), in their own
 * translation unit so `make size` can show what the port costs.          */
#define ASYNC_BM_IMPLEMENTATION
#include "async_bm.h"
