/* SPDX-License-Identifier: MIT */
/*
 * fuzz_input.h - how the fuzz targets read their input: a cursor over
 * libFuzzer's bytes that gives 0 once they run out, so a generator can
 * take as many decisions as it likes from any input, short ones included.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>

struct fuzz_reader {
    const unsigned char *p;
    size_t n; /* bytes left */
};

/* The next input byte, or 0 at the end. */
static inline unsigned fuzz_byte(struct fuzz_reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

#endif
