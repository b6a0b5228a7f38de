/* URL building with percent-encoded path segments. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/request.h"

char *fwt__url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = fwt__malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    /* A segment of only dots would be resolved as "." / ".." by URL normalisation: encode its dots. */
    int dots_only = n > 0 && strspn(s, ".") == n;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            (ch == '.' && !dots_only) || ch == '_' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
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
