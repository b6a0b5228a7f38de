/*
 * Shared bits of the libFuzzer targets in tests/fuzz/ (see README.md there).
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with FWT_FUZZ=ON (clang) it links
 * -fsanitize=fuzzer; otherwise replay.c supplies main() and the target replays its
 * committed corpus as an ordinary ctest test, so every lane keeps the seeds (and the
 * inputs of fixed bugs) as regression tests.
 */
#ifndef FWT_FUZZ_H
#define FWT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (parsers of header values and URLs take C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Read every byte of a string a parser handed back, so ASan sees a dangling or unterminated one. */
static inline size_t fuzz_touch(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Abort (a finding) when a property of the parser's output does not hold. */
#define FUZZ_CHECK(cond)                                                                                              \
    do {                                                                                                              \
        if (!(cond))                                                                                                  \
            abort();                                                                                                  \
    } while (0)

#endif /* FWT_FUZZ_H */
