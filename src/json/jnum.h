/*
 * Numbers as JSON text, both ways, without printf or strtod on the common paths.
 *
 * Formatting gives the shortest decimal that reads back to the same value (Ryu for float32, an
 * exact big-integer free-format algorithm for doubles, which are rare on the wire). Reading takes
 * the exact fast path (Clinger: a mantissa of at most 2^53 and a power of ten of at most 10^22 are
 * both exact, so one IEEE operation rounds correctly) and hands anything else to strtod.
 */
#ifndef FWT_JSON_JNUM_H
#define FWT_JSON_JNUM_H

#include <stddef.h>
#include <stdint.h>

/* Room for any number these write, including the sign and the terminating NUL. */
#define FWT__NUM_MAX 32

/* Decimal integer; returns its length (no NUL written). */
size_t fwt__fmt_int64(char *out, int64_t v);
/* Shortest round-trip text of a finite float / double ("-0" for negative zero, "1e-07" style below
 * 1e-6 and from 1e21 on). The caller refuses non-finite values before (JSON has no NaN or Inf);
 * a non-finite value writes nothing and returns 0. No NUL written. */
size_t fwt__fmt_float(char *out, float v);
size_t fwt__fmt_double(char *out, double v);
/* The reference the tests compare fwt__fmt_float against: the exact big-integer algorithm at float
 * precision (slow, same output). */
size_t fwt__fmt_float_exact(char *out, float v);

/* Parse one JSON number (strict grammar) at s, s < end. On success stores the value, returns the
 * number of bytes consumed; 0 if s does not start a valid JSON number. Correctly rounded. */
size_t fwt__parse_number(const char *s, const char *end, double *out);

#endif /* FWT_JSON_JNUM_H */
