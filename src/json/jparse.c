/*
 * fwt__json_parse: every response body becomes a cJSON tree here. cJSON's own parser copies each
 * number into a scratch buffer and runs strtod on it (a quarter of the client's CPU on a forward
 * result's logprob arrays); this one reads numbers with jnum.h's exact fast path and builds the same
 * tree through cJSON's public allocator, so every getter and cJSON_Delete work unchanged.
 *
 * Accepted input is strict JSON (RFC 8259) plus cJSON's leniencies that servers rely on in practice:
 * a UTF-8 byte-order mark, any byte 1..32 as whitespace, raw control characters inside strings, and
 * \u0000 (which ends the C string, as with cJSON). Refused: a NUL byte anywhere, nesting deeper than
 * FWT_JSON_MAX_DEPTH, numbers outside the JSON grammar ("01", "1.", ".5", "+1"), \u escapes that are
 * not four hex digits or pair surrogates wrongly, and anything after the value but whitespace.
 */
#include <string.h>

#include "fwt_util.h"
#include "json/jnum.h"
#include "json/json.h"

#define FWT_JSON_MAX_DEPTH 256

typedef struct parser {
    const char *p, *end;
    int depth;
} parser;

static void skip_ws(parser *s)
{
    while (s->p < s->end && (unsigned char)*s->p <= 32 && *s->p != '\0')
        s->p++;
}

static int hex4(const char *h, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)h[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return 0;
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

/* A string at s->p (the opening quote), unescaped into a cJSON_malloc'd buffer; NULL on error. */
static char *parse_string(parser *s)
{
    const char *start = ++s->p, *q = start;
    while (q < s->end && *q != '"' && *q != '\\' && *q != '\0') /* the common case: nothing to unescape */
        q++;
    if (q >= s->end || *q == '\0')
        return NULL;
    if (*q == '"') {
        size_t n = (size_t)(q - start);
        char *out = cJSON_malloc(n + 1);
        if (!out)
            return NULL;
        memcpy(out, start, n);
        out[n] = '\0';
        s->p = q + 1;
        return out;
    }
    /* Escapes: the output is never longer than the input (\uXXXX is 6 bytes for at most 3; a pair 12 for 4). */
    const char *close = q;
    while (close < s->end && *close != '"') {
        if (*close == '\0')
            return NULL;
        close += *close == '\\' ? 2 : 1;
    }
    if (close >= s->end)
        return NULL;
    char *out = cJSON_malloc((size_t)(close - start) + 1), *o = out;
    if (!out)
        return NULL;
    memcpy(o, start, (size_t)(q - start));
    o += q - start;
    while (q < close) {
        if (*q != '\\') {
            *o++ = *q++;
            continue;
        }
        char c = q[1];
        q += 2;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (close - q < 4 || !hex4(q, &cp))
                goto fail;
            q += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                goto fail; /* a low surrogate first */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (close - q < 6 || q[0] != '\\' || q[1] != 'u' || !hex4(q + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    goto fail;
                q += 6;
                cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | (cp >> 18));
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            goto fail;
        }
    }
    *o = '\0';
    s->p = close + 1;
    return out;
fail:
    cJSON_free(out);
    return NULL;
}

static cJSON *parse_value(parser *s);

/* Elements (or members) until the closing bracket; s->p is past the opening one. */
static cJSON *parse_container(parser *s, int object)
{
    if (++s->depth > FWT_JSON_MAX_DEPTH)
        return NULL;
    cJSON *c = object ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!c)
        return NULL;
    const char close = object ? '}' : ']';
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return c;
    }
    for (;;) {
        char *key = NULL;
        if (object) {
            skip_ws(s);
            if (s->p >= s->end || *s->p != '"' || !(key = parse_string(s)))
                goto fail;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                cJSON_free(key);
                goto fail;
            }
            s->p++;
        }
        cJSON *item = parse_value(s);
        if (!item) {
            cJSON_free(key);
            goto fail;
        }
        item->string = key;
        cJSON_AddItemToArray(c, item); /* appends in O(1); the same link for object members */
        skip_ws(s);
        if (s->p >= s->end)
            goto fail;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p != close)
            goto fail;
        s->p++;
        s->depth--;
        return c;
    }
fail:
    cJSON_Delete(c);
    return NULL;
}

static int literal(parser *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return 0;
    s->p += n;
    return 1;
}

static cJSON *parse_value(parser *s)
{
    skip_ws(s);
    if (s->p >= s->end)
        return NULL;
    char c = *s->p;
    if (c == '"') {
        char *str = parse_string(s);
        cJSON *item = str ? cJSON_CreateNull() : NULL;
        if (!item) {
            cJSON_free(str);
            return NULL;
        }
        item->type = cJSON_String;
        item->valuestring = str;
        return item;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        double d;
        size_t n = fwt__parse_number(s->p, s->end, &d);
        if (!n)
            return NULL;
        s->p += n;
        return cJSON_CreateNumber(d);
    }
    if (c == '{' || c == '[') {
        s->p++;
        return parse_container(s, c == '{');
    }
    if (literal(s, "null", 4))
        return cJSON_CreateNull();
    if (literal(s, "true", 4))
        return cJSON_CreateTrue();
    if (literal(s, "false", 5))
        return cJSON_CreateFalse();
    return NULL;
}

cJSON *fwt__json_parse(const char *text, size_t len)
{
    if (!text || !len)
        return NULL;
    fwt__json_hooks_install();
    parser s = {text, text + len, 0};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        s.p += 3;
    cJSON *j = parse_value(&s);
    if (!j)
        return NULL;
    skip_ws(&s);
    if (s.p != s.end) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
