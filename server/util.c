/* Small helpers with no server state: time, names, random numbers, JSON lookups, logging. */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t fwl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void fwl_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* docs/protocol.md §3.5/§9: the service mixes second and microsecond precision. */
void fwl_format_time(int64_t us, char *buf, size_t len)
{
    time_t sec = (time_t)(us / 1000000);
    int frac = (int)(us % 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac == 0)
        snprintf(buf, len, "%.20sZ", base);
    else
        snprintf(buf, len, "%.20s.%06dZ", base, frac);
}

bool fwl_valid_id(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

bool fwl_valid_ckpt_name(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n < 1 || n > 128 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return strstr(s, ".tmp.") == NULL;
}

uint64_t fwl_rand_u64(uint64_t *st)
{
    /* splitmix64: tiny, seedable, good enough for ids and fault draws */
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double fwl_rand_unit(uint64_t *st)
{
    return (double)(fwl_rand_u64(st) >> 11) / 9007199254740992.0;
}

bool fwl_parse_resource(const char *s, const char *kind, char *id, size_t idlen)
{
    if (!s)
        return false;
    char pfx[96];
    snprintf(pfx, sizeof pfx, "accounts/%s/%s/", FWL_ACCOUNT, kind);
    const char *v = s;
    if (strncmp(s, pfx, strlen(pfx)) == 0)
        v = s + strlen(pfx);
    else if (strchr(s, '/'))
        return false;
    if (!fwl_valid_id(v) || strlen(v) >= idlen)
        return false;
    snprintf(id, idlen, "%s", v);
    return true;
}

const char *fwl_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *fwl_json_str2(const cJSON *o, const char *a, const char *b)
{
    const char *v = fwl_json_str(o, a);
    return v ? v : fwl_json_str(o, b);
}

void fwl_log(const char *fmt, ...)
{
    char ts[48];
    fwl_format_time(fwl_now_us(), ts, sizeof ts);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fwtrain-local %s %s\n", ts, msg);
}

/* Strip internal "_" fields before a resource leaves the server. */
cJSON *fwl_public_copy(const cJSON *o)
{
    cJSON *c = cJSON_Duplicate(o, 1);
    cJSON *it = c ? c->child : NULL;
    while (it) {
        cJSON *next = it->next;
        if (it->string && it->string[0] == '_')
            cJSON_Delete(cJSON_DetachItemViaPointer(c, it));
        it = next;
    }
    return c;
}

bool fwl_json_num_in(const cJSON *v, double lo, double hi, int64_t *out)
{
    /* the range test comes first: converting an out-of-range double to an integer is undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

void fwl_json_put(cJSON *o, const char *k, cJSON *v)
{
    if (!v)
        return;
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
    else if (!cJSON_AddItemToObject(o, k, v))
        cJSON_Delete(v);
}
