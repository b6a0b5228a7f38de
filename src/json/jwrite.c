/* The direct JSON writer (jwrite.h). */
#include <math.h>

#include "fwt_util.h"
#include "json/jwrite.h"

void fwt__jw_init(fwt__jw *w, size_t hint)
{
    w->buf = NULL;
    w->len = w->cap = 0;
    w->err = FWT_OK;
    if (hint)
        (void)fwt__jw_grow(w, hint);
}

char *fwt__jw_grow(fwt__jw *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->cap - w->len > n)
        return w->buf + w->len;
    size_t need = w->len + n + 1;
    if (need < n) { /* overflow */
        w->err = FWT_ENOMEM;
        return NULL;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2; /* doubling: amortised O(1) per byte */
    char *b = fwt__realloc(w->buf, cap);
    if (!b) {
        w->err = FWT_ENOMEM;
        return NULL;
    }
    w->buf = b;
    w->cap = cap;
    return b + w->len;
}

char *fwt__jw_take(fwt__jw *w, size_t *len)
{
    char *out = NULL;
    if (!w->err && fwt__jw_room(w, 0)) {
        w->buf[w->len] = '\0';
        out = w->buf;
        if (len)
            *len = w->len;
        w->buf = NULL;
    }
    fwt__free_mem(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    return out;
}

void fwt__jw_free(fwt__jw *w)
{
    fwt__free_mem(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

void fwt__jw_int(fwt__jw *w, int64_t v)
{
    char *p = fwt__jw_room(w, FWT__NUM_MAX);
    if (p)
        w->len += fwt__fmt_int64(p, v);
}

void fwt__jw_float(fwt__jw *w, float v)
{
    char *p = fwt__jw_room(w, FWT__NUM_MAX);
    if (!p)
        return;
    size_t n = fwt__fmt_float(p, v);
    if (!n)
        w->err = FWT_EINVAL;
    w->len += n;
}

void fwt__jw_double(fwt__jw *w, double v)
{
    char *p = fwt__jw_room(w, FWT__NUM_MAX);
    if (!p)
        return;
    size_t n = fwt__fmt_double(p, v);
    if (!n)
        w->err = FWT_EINVAL;
    w->len += n;
}

void fwt__jw_string(fwt__jw *w, const char *s)
{
    static const char HEX[] = "0123456789abcdef";
    size_t n = strlen(s);
    char *p = fwt__jw_room(w, n * 6 + 2); /* worst case: every byte as \u00XX */
    if (!p)
        return;
    char *q = p;
    *q++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *q++ = '\\';
            *q++ = (char)*c;
        } else if (*c < 0x20) {
            const char *esc = *c == '\n' ? "\\n" : *c == '\t' ? "\\t" : *c == '\r' ? "\\r" : NULL;
            if (esc) {
                *q++ = esc[0];
                *q++ = esc[1];
            } else {
                memcpy(q, "\\u00", 4);
                q[4] = HEX[*c >> 4];
                q[5] = HEX[*c & 15];
                q += 6;
            }
        } else {
            *q++ = (char)*c;
        }
    }
    *q++ = '"';
    w->len += (size_t)(q - p);
}

void fwt__jw_int_list(fwt__jw *w, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = fwt__jw_room(w, FWT__NUM_MAX + 1);
        if (!p)
            return;
        size_t k = 0;
        if (i)
            p[k++] = ',';
        w->len += k + fwt__fmt_int64(p + k, v[i]);
    }
}

void fwt__jw_float_list(fwt__jw *w, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = fwt__jw_room(w, FWT__NUM_MAX + 1);
        if (!p)
            return;
        size_t k = 0;
        if (i)
            p[k++] = ',';
        size_t m = fwt__fmt_float(p + k, v[i]);
        if (!m) {
            w->err = FWT_EINVAL;
            return;
        }
        w->len += k + m;
    }
}

void fwt__jw_tree(fwt__jw *w, const cJSON *item)
{
    switch (item->type & 0xff) {
    case cJSON_False:
        fwt__jw_lit(w, "false");
        return;
    case cJSON_True:
        fwt__jw_lit(w, "true");
        return;
    case cJSON_NULL:
        fwt__jw_lit(w, "null");
        return;
    case cJSON_Number:
        if (isfinite(item->valuedouble))
            fwt__jw_double(w, item->valuedouble);
        else
            fwt__jw_lit(w, "null");
        return;
    case cJSON_String:
        if (item->valuestring)
            fwt__jw_string(w, item->valuestring);
        else
            w->err = w->err ? w->err : FWT_EINVAL;
        return;
    case cJSON_Raw:
        if (item->valuestring)
            fwt__jw_raw(w, item->valuestring, strlen(item->valuestring));
        else
            w->err = w->err ? w->err : FWT_EINVAL;
        return;
    case cJSON_Array:
    case cJSON_Object: {
        int obj = (item->type & 0xff) == cJSON_Object;
        fwt__jw_char(w, obj ? '{' : '[');
        for (const cJSON *c = item->child; c; c = c->next) {
            if (c != item->child)
                fwt__jw_char(w, ',');
            if (obj) {
                fwt__jw_string(w, c->string ? c->string : "");
                fwt__jw_char(w, ':');
            }
            fwt__jw_tree(w, c);
        }
        fwt__jw_char(w, obj ? '}' : ']');
        return;
    }
    default:
        w->err = w->err ? w->err : FWT_EINVAL;
    }
}
