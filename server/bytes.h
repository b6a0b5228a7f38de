/*
 * Little-endian field access, error-text formatting and a growable output buffer shared by the
 * server's binary formats (safetensors/DCP in serialize.c, deltas in delta.c and delta_sparse.c).
 */
#ifndef FWL_BYTES_H
#define FWL_BYTES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void fwl_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t fwl_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline void fwl_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t fwl_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Write a decoder's error text into err (if given) and return -1, so callers can `return fwl_errf(...)`. */
__attribute__((format(printf, 3, 4))) static inline int fwl_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A growable output buffer (the delta encoders' header space and zstd frames). */
typedef struct fwl_obuf {
    uint8_t *p;
    size_t len, cap;
} fwl_obuf;

/* Room for `more` bytes past len (doubling from 64 KiB); 0, or -1 when out of memory (o unchanged). */
static inline int fwl_obuf_reserve(fwl_obuf *o, size_t more)
{
    if (o->cap - o->len >= more)
        return 0;
    size_t cap = o->cap ? o->cap : (size_t)1 << 16;
    while (cap - o->len < more)
        cap *= 2;
    uint8_t *np = realloc(o->p, cap);
    if (!np)
        return -1;
    o->p = np;
    o->cap = cap;
    return 0;
}

#endif /* FWL_BYTES_H */
