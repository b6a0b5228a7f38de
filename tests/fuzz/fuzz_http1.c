/*
 * fwtrain-local's HTTP/1.1 request parser (server/h1.c): request heads, chunked bodies, %-unescaping,
 * Content-Length values. The first byte picks the head size limit and how the input is split into pieces.
 * Properties: a parsed head lies inside the input, holds at most FWL_H1_MAX_HEADERS fields and no line
 * breaks in any string, and a lookup finds every field it holds; a chunked body decodes to the same bytes
 * (and the same result) whether fed at once or in pieces, never to more bytes than came in; any bytes encoded
 * as chunks decode back to themselves; unescaping never lengthens; a plain decimal Content-Length is exact.
 */
#include <stdbool.h>
#include <stdio.h>

#include "fuzz.h"

#include "h1.h"

typedef struct sink_buf {
    char *p;
    size_t len, cap;
} sink_buf;

static void sink(void *ctx, const char *data, size_t n)
{
    sink_buf *b = ctx;
    FUZZ_CHECK(b->len + n <= b->cap);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* Feeds in[0..n) in pieces of `step` bytes (0: at once); the result, *used and the decoded bytes in out. */
static int feed(const char *in, size_t n, size_t step, size_t *used, sink_buf *out)
{
    fwl_h1_chunked c;
    memset(&c, 0, sizeof c);
    size_t off = 0;
    for (;;) {
        size_t k = step && n - off > step ? step : n - off, u = 0;
        int rc = fwl_h1_chunked_feed(&c, in + off, k, &u, sink, out);
        if (rc != FWL_H1_MORE || off + k == n) {
            *used = off + u;
            return rc;
        }
        FUZZ_CHECK(u == k);
        off += k;
    }
}

static void check_head(const uint8_t *data, size_t size, size_t max_head)
{
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    buf[size] = 0;
    fwl_h1_head h;
    int rc = fwl_h1_parse_head(buf, size, max_head, &h);
    FUZZ_CHECK(rc == FWL_H1_MORE || rc == FWL_H1_DONE || rc == FWL_H1_BAD || rc == FWL_H1_TOO_LARGE);
    if (rc == FWL_H1_MORE)
        FUZZ_CHECK(size < max_head && (size == 0 || memcmp(buf, data, size) == 0)); /* untouched */
    if (rc == FWL_H1_DONE) {
        FUZZ_CHECK(h.head_len <= size && h.head_len <= max_head);
        FUZZ_CHECK(h.nhdr >= 0 && h.nhdr <= FWL_H1_MAX_HEADERS);
        FUZZ_CHECK(h.minor >= 0 && h.minor <= 9);
        const char *strs[2 + 2 * FWL_H1_MAX_HEADERS];
        int ns = 0;
        strs[ns++] = h.method;
        strs[ns++] = h.target;
        for (int i = 0; i < h.nhdr; i++) {
            strs[ns++] = h.hdr[i].name;
            strs[ns++] = h.hdr[i].value;
            FUZZ_CHECK(*h.hdr[i].name != 0);
            FUZZ_CHECK(fwl_h1_get(&h, h.hdr[i].name) != NULL);
        }
        for (int i = 0; i < ns; i++) {
            FUZZ_CHECK(strs[i] >= buf && strs[i] < buf + h.head_len);
            size_t l = strlen(strs[i]);
            FUZZ_CHECK(strs[i] + l < buf + h.head_len);
            FUZZ_CHECK(!memchr(strs[i], '\r', l) && !memchr(strs[i], '\n', l));
        }
        FUZZ_CHECK(*h.method != 0 && *h.target != 0);
        (void)fwl_h1_list_has(fwl_h1_get(&h, "Connection"), "close");
        char *t = h.target;
        size_t before = strlen(t);
        FUZZ_CHECK(fwl_h1_unescape(t, true) <= before);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    check_head(data, size, 64 + (size_t)(sel & 0x0f) * 1024);

    /* the input as a chunked body: at once and in pieces agree */
    const char *in = (const char *)data;
    sink_buf a = {malloc(size + 1), 0, size}, b = {malloc(size + 1), 0, size};
    if (!a.p || !b.p)
        abort();
    size_t ua = 0, ub = 0;
    int ra = feed(in, size, 0, &ua, &a);
    int rb = feed(in, size, 1 + (sel >> 4), &ub, &b);
    FUZZ_CHECK(ra == rb);
    if (ra != FWL_H1_BAD) {
        FUZZ_CHECK(ua == ub && ua <= size);
        FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
    }
    free(a.p);
    free(b.p);

    /* any bytes, encoded as chunks of (sel & 7) + 1 bytes with an extension and a trailer, decode to themselves */
    size_t csz = (size_t)(sel & 7) + 1, enc_cap = size * 2 + (size / csz + 1) * 32 + 64, e = 0;
    char *enc = malloc(enc_cap);
    if (!enc)
        abort();
    for (size_t off = 0; off < size; off += csz) {
        size_t k = size - off < csz ? size - off : csz;
        e += (size_t)snprintf(enc + e, enc_cap - e, (sel & 8) ? "%zx;x=y\r\n" : "%zX\n", k);
        memcpy(enc + e, in + off, k);
        e += k;
        e += (size_t)snprintf(enc + e, enc_cap - e, "\r\n");
    }
    e += (size_t)snprintf(enc + e, enc_cap - e, "0\r\nTrailer: v\r\n\r\nNEXT");
    sink_buf d = {malloc(size + 1), 0, size};
    if (!d.p)
        abort();
    size_t ud = 0;
    FUZZ_CHECK(feed(enc, e, 1 + (sel >> 5), &ud, &d) == FWL_H1_DONE);
    FUZZ_CHECK(ud == e - 4); /* "NEXT" belongs to the next request */
    FUZZ_CHECK(d.len == size && (size == 0 || memcmp(d.p, in, size) == 0));
    free(d.p);
    free(enc);

    /* unescaping and Content-Length */
    char *s = fuzz_cstr(data, size);
    size_t l = strlen(s);
    bool plain = !strchr(s, '%') && !strchr(s, '+');
    char *copy = fuzz_cstr((const uint8_t *)s, l);
    size_t nl = fwl_h1_unescape(s, (sel & 1) != 0);
    FUZZ_CHECK(nl <= l);
    if (plain)
        FUZZ_CHECK(nl == l && memcmp(s, copy, l) == 0);
    long long cl = fwl_h1_content_length(copy);
    if (l >= 1 && l <= 15 && strspn(copy, "0123456789") == l)
        FUZZ_CHECK(cl == atoll(copy));
    else if (strspn(copy, "0123456789") != l || l == 0)
        FUZZ_CHECK(cl == -1);
    free(copy);
    free(s);
    return 0;
}
