/*
 * A growing buffer that writes JSON text directly: what the batch encoder uses instead of building
 * a cJSON tree (one node and one printf round trip per number) and printing it.
 *
 * Errors are sticky: after an allocation failure every write is a no-op and fwt__jw_take returns
 * NULL, so a long encoder checks once at the end. Numbers: integers as decimal digits, floats in
 * their shortest round-trip form (jnum.h); a non-finite float marks the writer failed with
 * FWT_EINVAL (JSON has no NaN or Inf) instead of writing something a server would misread.
 */
#ifndef FWT_JSON_JWRITE_H
#define FWT_JSON_JWRITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "json/jnum.h"

typedef struct fwt__jw {
    char *buf;     /* fwt__malloc'd; NUL-terminated by fwt__jw_take */
    size_t len, cap;
    int err;       /* FWT_OK, or the first failure (FWT_ENOMEM, FWT_EINVAL) */
} fwt__jw;

/* An empty writer; `hint` bytes are reserved up front (0: grow on demand). */
void fwt__jw_init(fwt__jw *w, size_t hint);
/* Make room for n more bytes (plus the final NUL); NULL once the writer failed. */
char *fwt__jw_grow(fwt__jw *w, size_t n);
/* The text (NUL-terminated, caller frees with fwt__free_mem) and its length; NULL if the writer failed
 * (w->err says why). Either way the writer is left empty. */
char *fwt__jw_take(fwt__jw *w, size_t *len);
void fwt__jw_free(fwt__jw *w);

static inline char *fwt__jw_room(fwt__jw *w, size_t n)
{
    return w->cap - w->len > n ? w->buf + w->len : fwt__jw_grow(w, n);
}

static inline void fwt__jw_raw(fwt__jw *w, const char *s, size_t n)
{
    char *p = fwt__jw_room(w, n);
    if (p) {
        memcpy(p, s, n);
        w->len += n;
    }
}

/* A string literal known at compile time, already valid JSON. */
#define fwt__jw_lit(w, lit) fwt__jw_raw((w), "" lit "", sizeof(lit) - 1) /* "" lit "": literals only */

static inline void fwt__jw_char(fwt__jw *w, char c)
{
    char *p = fwt__jw_room(w, 1);
    if (p)
        p[0] = c, w->len++;
}

void fwt__jw_int(fwt__jw *w, int64_t v);
void fwt__jw_float(fwt__jw *w, float v);
void fwt__jw_double(fwt__jw *w, double v);
/* A quoted, escaped string (control characters as \u00XX; bytes >= 0x80 pass through). */
void fwt__jw_string(fwt__jw *w, const char *s);
/* A cJSON value and everything under it, compactly (what cJSON_PrintUnformatted writes, with numbers in
 * their shortest round-trip form instead of printf's %1.15g/%1.17g and its sscanf check). Non-finite numbers
 * are written as null, as cJSON does; a raw item is copied as is; an invalid item marks the writer failed
 * (FWT_EINVAL). Recursion is bounded by the tree: the parser caps nesting. */
void fwt__jw_tree(fwt__jw *w, const cJSON *item);
/* Comma-separated elements (no brackets). */
void fwt__jw_int_list(fwt__jw *w, const int64_t *v, size_t n);
void fwt__jw_float_list(fwt__jw *w, const float *v, size_t n);

#endif /* FWT_JSON_JWRITE_H */
