/* Small helpers: time, ids, name validation, JSON lookups, error bodies, logging. */
#include "fwl.h"

#include <errno.h>
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

/* protocol §3.5/§9: the service mixes second and microsecond precision. */
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

void fwl_new_id(fwl_server *s, const char *prefix, char *buf, size_t len)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = ++s->counter;
    pthread_mutex_unlock(&s->lock);
    uint64_t st = n ^ ((uint64_t)s->epoch << 32) ^ (uint64_t)fwl_now_us();
    snprintf(buf, len, "%s%08x-%llu-%04x", prefix, (unsigned)s->epoch, (unsigned long long)n,
             (unsigned)(fwl_rand_u64(&st) & 0xffff));
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

int fwl_http_to_grpc(int st)
{
    switch (st) {
    case 400: return FWL_GRPC_INVALID_ARGUMENT;
    case 401: return FWL_GRPC_UNAUTHENTICATED;
    case 403: return FWL_GRPC_PERMISSION_DENIED;
    case 404: return FWL_GRPC_NOT_FOUND;
    case 405: return FWL_GRPC_UNIMPLEMENTED;
    case 408: return FWL_GRPC_DEADLINE_EXCEEDED;
    case 409: return FWL_GRPC_ALREADY_EXISTS;
    case 410: return FWL_GRPC_NOT_FOUND;
    case 413: return FWL_GRPC_RESOURCE_EXHAUSTED;
    case 425: return FWL_GRPC_UNAVAILABLE;
    case 429: return FWL_GRPC_RESOURCE_EXHAUSTED;
    case 503: return FWL_GRPC_UNAVAILABLE;
    default: return st >= 500 ? FWL_GRPC_INTERNAL : FWL_GRPC_INVALID_ARGUMENT;
    }
}

void fwl_resp_json(fwl_resp *out, int status, cJSON *obj)
{
    free(out->body);
    out->status = status;
    out->body = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
}

/* protocol §2.2: {"code": <grpc>, "message": "..."} */
void fwl_resp_error(fwl_resp *out, int http_status, int grpc_code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "code", grpc_code);
    cJSON_AddStringToObject(o, "message", msg);
    fwl_resp_json(out, http_status, o);
}

cJSON *fwl_req_json(const fwl_req *r, fwl_resp *out)
{
    if (!r->body || r->body_len == 0) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "request body is empty; expected a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(r->body, r->body_len, &end, 0);
    if (!j) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "malformed JSON body (near byte %zu)",
                       end ? (size_t)(end - r->body) : (size_t)0);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "request body must be a JSON object");
        return NULL;
    }
    return j;
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

cJSON *fwl_list_records(const char *dir, const char *key)
{
    size_t n = 0;
    char **files = fwl_list_dir(dir, ".json", &n);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%.4000s/%.255s", dir, files[i]);
        cJSON *rec = fwl_read_json(p);
        if (rec) {
            cJSON_AddItemToArray(arr, fwl_public_copy(rec));
            total++;
        }
        cJSON_Delete(rec);
    }
    fwl_free_list(files, n);
    cJSON_AddStringToObject(o, "nextPageToken", "");
    cJSON_AddNumberToObject(o, "totalSize", total);
    return o;
}
