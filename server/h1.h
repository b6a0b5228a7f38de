/* HTTP/1.1 request parsing for the event-driven front (front.c), with no I/O and no allocation, so a fuzz target
 * (tests/fuzz/fuzz_http1.c) drives it exactly as the server does. RFC 9112, read leniently where clients differ
 * (a bare LF ends a line, empty lines before a request line are skipped) and strictly where a lenient reading
 * could smuggle a second request (obsolete line folding, a space before the colon, two framings). */
#ifndef FWL_H1_H
#define FWL_H1_H

#include <stdbool.h>
#include <stddef.h>

#define FWL_H1_MAX_HEADERS 64

/* Results of the parsers. */
enum { FWL_H1_MORE = 0, FWL_H1_DONE = 1, FWL_H1_BAD = -1, FWL_H1_TOO_LARGE = -2 };

typedef struct fwl_h1_header {
    const char *name;  /* NUL-terminated, inside the parsed buffer */
    const char *value; /* NUL-terminated, leading and trailing blanks removed */
} fwl_h1_header;

typedef struct fwl_h1_head {
    char *method;
    char *target;      /* the request target as sent (origin form expected: "/path?query") */
    int minor;         /* HTTP/1.<minor> */
    fwl_h1_header hdr[FWL_H1_MAX_HEADERS];
    int nhdr;
    size_t head_len;   /* bytes of buf the head took, the blank line included */
} fwl_h1_head;

/* Parses the request head at the front of buf[0..len), writing NULs into it (the head's strings point there).
 * FWL_H1_MORE: no complete head yet (and it still fits in max_head bytes); FWL_H1_TOO_LARGE: the head is or
 * would be longer than max_head, or has more than FWL_H1_MAX_HEADERS fields (431); FWL_H1_BAD: malformed (400);
 * FWL_H1_DONE: *h is filled. buf is left untouched unless the result is DONE. */
int fwl_h1_parse_head(char *buf, size_t len, size_t max_head, fwl_h1_head *h);

/* The first value of header `name` (ASCII case-insensitive), NULL when absent. */
const char *fwl_h1_get(const fwl_h1_head *h, const char *name);

/* Whether the comma-separated list `value` holds `token` (ASCII case-insensitive, blanks ignored). */
bool fwl_h1_list_has(const char *value, const char *token);

/* Content-Length: a run of digits that fits in 2^53; -1 otherwise. */
long long fwl_h1_content_length(const char *value);

/* The chunked transfer coding, decoded incrementally. Trailer fields are read and dropped. */
typedef struct fwl_h1_chunked {
    int state;
    unsigned long long left; /* bytes of the current chunk still to come */
    int digits;              /* hex digits of the size line so far */
    size_t line;             /* bytes of the current size or trailer line (bounded) */
} fwl_h1_chunked;

/* Feeds in[0..n): the chunks' data goes to sink (in pieces, possibly none). *used gets the bytes consumed.
 * FWL_H1_DONE: the last chunk and the trailers are in (*used may be < n: the next request's bytes);
 * FWL_H1_MORE: all n consumed, more needed; FWL_H1_BAD: malformed (*used is then meaningless). */
int fwl_h1_chunked_feed(fwl_h1_chunked *c, const char *in, size_t n, size_t *used,
                        void (*sink)(void *ctx, const char *data, size_t len), void *ctx);

/* Decodes %XX escapes in place (a '%' not followed by two hex digits stays as it is); with plus, '+' becomes a
 * space first (query strings). Returns the new length. A decoded NUL ends the string early: callers that care
 * compare lengths. */
size_t fwl_h1_unescape(char *s, bool plus);

#endif /* FWL_H1_H */
