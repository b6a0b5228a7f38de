/* URL building with percent-encoded path segments. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "core/request.h"

/*
 * Percent-encode one path segment or query value with libcurl
 * (curl_easy_escape keeps only RFC 3986 unreserved characters), into our
 * allocator. The one addition: a segment of only dots would be resolved as
 * "." / ".." by URL normalisation, so its dots are encoded too.
 */
char *fwt__url_escape(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n > 0 && strspn(s, ".") == n) {
        char *out = fwt__malloc(n * 3 + 1);
        if (!out)
            return NULL;
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * 3, "%2E", 3);
        out[n * 3] = '\0';
        return out;
    }
    if (n > INT_MAX / 3)
        return NULL;
    char *e = curl_easy_escape(NULL, s, (int)n);
    if (!e)
        return NULL;
    char *out = fwt__strdup(e);
    curl_free(e);
    return out;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = fwt__realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

char *fwt__url_join(const char *base, const char *path_fmt, ...)
{
    if (!base || !path_fmt)
        return NULL;
    sbuf b = {0};
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    sb_add(&b, base, bl);
    if (path_fmt[0] && path_fmt[0] != '/')
        sb_add(&b, "/", 1);
    va_list ap;
    va_start(ap, path_fmt);
    for (const char *f = path_fmt; *f; f++) {
        if (*f != '%') {
            sb_add(&b, f, 1);
            continue;
        }
        char num[32];
        if (f[1] == 's') {
            char *e = fwt__url_escape(va_arg(ap, const char *));
            if (!e)
                b.oom = 1;
            else
                sb_add(&b, e, strlen(e));
            fwt__free_mem(e);
            f++;
        } else if (f[1] == 'd') {
            int k = snprintf(num, sizeof num, "%d", va_arg(ap, int));
            sb_add(&b, num, (size_t)k);
            f++;
        } else if (f[1] == 'l' && f[2] == 'l' && f[3] == 'd') {
            int k = snprintf(num, sizeof num, "%lld", va_arg(ap, long long));
            sb_add(&b, num, (size_t)k);
            f += 3;
        } else if (f[1] == '%') {
            sb_add(&b, "%", 1);
            f++;
        } else {
            sb_add(&b, f, 1);
        }
    }
    va_end(ap);
    if (b.oom) {
        fwt__free_mem(b.p);
        return NULL;
    }
    return b.p;
}
