/* SPDX-License-Identifier: MIT */
/* cli.h: strict parsing of the examples' numeric command-line values.
 *
 * strtoul alone accepts "abc" (0), "12x" (12), "-1" (ULONG_MAX) and
 * "4294967296" (wrapped when stored in an unsigned): a typo then becomes a
 * port 0 or a timeout that expires at once.  cli_number accepts only
 * decimal digits, in [min, max]; the caller prints its usage otherwise.
 * Header-only (one static function) for the examples that take numbers. */
#ifndef CLI_H
#define CLI_H

#include <errno.h>
#include <stdlib.h>

/* *out = the decimal number in s.  0, or -1 if s is empty, has anything
 * but digits (a sign, spaces, a suffix), or lies outside [min, max].    */
static int cli_number(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    unsigned long long v;
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

#endif /* CLI_H */
