/* HTTP/1.1 request heads and chunked bodies (h1.h): pure functions over caller-owned bytes. */
#include "h1.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 §5.6.2 token characters */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value or target byte that may not appear: controls (but tab) and DEL. */
static bool is_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Where the head that starts at buf[start] ends (just past its blank line), 0 when not within buf[0..lim). */
static size_t head_end(const char *buf, size_t start, size_t len)
{
    const char *p = buf + start, *e = buf + len;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl)
            return 0;
        if (nl + 1 < e && nl[1] == '\n')
            return (size_t)(nl + 2 - buf);
        if (nl + 2 < e && nl[1] == '\r' && nl[2] == '\n')
            return (size_t)(nl + 3 - buf);
        p = nl + 1;
    }
    return 0;
}

/* The request line in [p, e) (its terminator excluded). */
static int parse_request_line(char *p, char *e, fwl_h1_head *h)
{
    char *m = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p >= e || *p != ' ')
        return FWL_H1_BAD;
    *p++ = 0;
    char *t = p;
    while (p < e && *p != ' ' && !is_bad_ctl((unsigned char)*p))
        p++;
    if (p == t || p >= e || *p != ' ')
        return FWL_H1_BAD;
    *p++ = 0;
    if (e - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
        return FWL_H1_BAD;
    h->method = m;
    h->target = t;
    h->minor = p[7] - '0';
    return FWL_H1_DONE;
}

/* One field line in [p, e) (its terminator excluded; *e may be overwritten). */
static int parse_field(char *p, char *e, fwl_h1_head *h)
{
    if (*p == ' ' || *p == '\t')
        return FWL_H1_BAD; /* obsolete line folding */
    char *n = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    if (p == n || p >= e || *p != ':')
        return FWL_H1_BAD; /* no name, or a blank before the colon */
    *p++ = 0;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    char *v = p;
    for (char *q = p; q < e; q++)
        if (is_bad_ctl((unsigned char)*q))
            return FWL_H1_BAD;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = 0;
    if (h->nhdr == FWL_H1_MAX_HEADERS)
        return FWL_H1_TOO_LARGE;
    h->hdr[h->nhdr].name = n;
    h->hdr[h->nhdr].value = v;
    h->nhdr++;
    return FWL_H1_DONE;
}

int fwl_h1_parse_head(char *buf, size_t len, size_t max_head, fwl_h1_head *h)
{
    size_t start = 0;
    while (start < len && (buf[start] == '\r' || buf[start] == '\n'))
        start++; /* RFC 9112 §2.2: empty lines before a request line are ignored */
    size_t end = head_end(buf, start, len);
    if (end == 0)
        return len >= max_head ? FWL_H1_TOO_LARGE : FWL_H1_MORE;
    if (end > max_head)
        return FWL_H1_TOO_LARGE;
    memset(h, 0, sizeof *h);
    h->head_len = end;
    char *p = buf + start, *stop = buf + end;
    bool first = true;
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(stop - p)); /* (always found: the head ends with one) */
        char *e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (e == p)
            break; /* the blank line */
        if (memchr(p, '\r', (size_t)(e - p)) || memchr(p, 0, (size_t)(e - p)))
            return FWL_H1_BAD; /* a bare CR or a NUL inside a line */
        int rc = first ? parse_request_line(p, e, h) : parse_field(p, e, h);
        if (rc != FWL_H1_DONE)
            return rc;
        *e = 0;
        first = false;
        p = nl + 1;
    }
    return first ? FWL_H1_BAD : FWL_H1_DONE;
}

const char *fwl_h1_get(const fwl_h1_head *h, const char *name)
{
    for (int i = 0; i < h->nhdr; i++)
        if (!strcasecmp(h->hdr[i].name, name))
            return h->hdr[i].value;
    return NULL;
}

bool fwl_h1_list_has(const char *value, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && !strncasecmp(s, token, tl))
            return true;
    }
    return false;
}

long long fwl_h1_content_length(const char *value)
{
    long long n = 0;
    if (!value || !*value)
        return -1;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9' || n > (1LL << 53) / 10)
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n > (1LL << 53) ? -1 : n;
}

enum { C_SIZE, C_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER_START, C_TRAILER, C_END_LF };

/* A size line, an extension or the trailers may not run on for ever. */
#define CHUNK_LINE_MAX 16384

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int fwl_h1_chunked_feed(fwl_h1_chunked *c, const char *in, size_t n, size_t *used,
                        void (*sink)(void *ctx, const char *data, size_t len), void *ctx)
{
    size_t i = 0;
    while (i < n) {
        char ch = in[i];
        if (c->state == C_DATA) {
            size_t take = n - i;
            if (take > c->left)
                take = (size_t)c->left;
            sink(ctx, in + i, take);
            c->left -= take;
            i += take;
            if (c->left == 0)
                c->state = C_DATA_CR;
            continue;
        }
        i++;
        if (c->state != C_DATA_CR && c->state != C_DATA_LF && ++c->line > CHUNK_LINE_MAX)
            return FWL_H1_BAD;
        switch (c->state) {
        case C_SIZE: {
            int v = hexval(ch);
            if (v >= 0) {
                if (++c->digits > 15)
                    return FWL_H1_BAD;
                c->left = c->left * 16 + (unsigned)v;
                break;
            }
            if (c->digits == 0)
                return FWL_H1_BAD;
            if (ch == ';' || ch == ' ' || ch == '\t')
                c->state = C_EXT;
            else if (ch == '\r')
                c->state = C_SIZE_LF;
            else if (ch == '\n')
                goto size_line_done;
            else
                return FWL_H1_BAD;
            break;
        }
        case C_EXT:
            if (ch == '\n')
                goto size_line_done;
            break;
        case C_SIZE_LF:
            if (ch != '\n')
                return FWL_H1_BAD;
        size_line_done:
            c->digits = 0;
            c->state = c->left ? C_DATA : C_TRAILER_START;
            if (c->left)
                c->line = 0; /* (trailers count on from the last size line) */
            break;
        case C_DATA_CR:
            if (ch == '\r')
                c->state = C_DATA_LF;
            else if (ch == '\n')
                c->state = C_SIZE;
            else
                return FWL_H1_BAD;
            break;
        case C_DATA_LF:
            if (ch != '\n')
                return FWL_H1_BAD;
            c->state = C_SIZE;
            break;
        case C_TRAILER_START:
            if (ch == '\n') {
                *used = i;
                return FWL_H1_DONE;
            }
            c->state = ch == '\r' ? C_END_LF : C_TRAILER;
            break;
        case C_TRAILER:
            if (ch == '\n')
                c->state = C_TRAILER_START;
            break;
        case C_END_LF:
            if (ch != '\n')
                return FWL_H1_BAD;
            *used = i;
            return FWL_H1_DONE;
        default:
            return FWL_H1_BAD;
        }
    }
    *used = n;
    return FWL_H1_MORE;
}

size_t fwl_h1_unescape(char *s, bool plus)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = plus && *r == '+' ? ' ' : *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}
