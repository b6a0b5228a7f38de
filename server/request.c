/* Requests (path segments, header/query lookup, JSON body) and responses (JSON bodies, docs/protocol.md §2.2 errors). */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fwl_req_init(fwl_req *r, const char *method, const char *path, const char *body, size_t body_len,
                 fwl_lookup_fn lookup, void *lookup_ctx)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->path = path;
    r->body = body;
    r->body_len = body_len;
    r->lookup = lookup;
    r->lookup_ctx = lookup_ctx;
    size_t n = 1, len = 0;
    for (const char *p = path; *p; p++, len++)
        n += *p == '/';
    r->path_copy = len < sizeof r->path_buf ? memcpy(r->path_buf, path, len + 1) : strdup(path);
    r->seg = n <= sizeof r->seg_buf / sizeof r->seg_buf[0] ? r->seg_buf : calloc(n, sizeof *r->seg);
    if (!r->path_copy || !r->seg) {
        fwl_req_free(r);
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(r->path_copy, "/", &save); t; t = strtok_r(NULL, "/", &save))
        r->seg[r->nseg++] = t;
    return 0;
}

void fwl_req_free(fwl_req *r)
{
    if (r->seg != r->seg_buf)
        free(r->seg);
    if (r->path_copy != r->path_buf)
        free(r->path_copy);
    r->seg = NULL;
    r->path_copy = NULL;
    r->nseg = 0;
}

const char *fwl_req_query(const fwl_req *r, const char *key)
{
    return r->lookup ? r->lookup(r->lookup_ctx, FWL_LOOKUP_QUERY, key) : NULL;
}

const char *fwl_req_header(const fwl_req *r, const char *key)
{
    return r->lookup ? r->lookup(r->lookup_ctx, FWL_LOOKUP_HEADER, key) : NULL;
}

bool fwl_req_seg_is(const fwl_req *r, size_t i, const char *v)
{
    return i < r->nseg && strcmp(r->seg[i], v) == 0;
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

/* A fixed body needs no allocation: what is left when the allocator has failed. */
static const char OOM_BODY[] = "{\"code\":13,\"message\":\"out of memory\"}";

void fwl_resp_oom(fwl_resp *out)
{
    free(out->body);
    out->status = 500;
    out->body = strdup(OOM_BODY); /* NULL too: http.c answers 500 with an empty body */
}

void fwl_resp_json(fwl_resp *out, int status, cJSON *obj)
{
    char *txt = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!txt) {
        fwl_resp_oom(out);
        return;
    }
    free(out->body);
    out->status = status;
    out->body = txt;
}

/* docs/protocol.md §2.2: {"code": <grpc>, "message": "..."} */
void fwl_resp_error(fwl_resp *out, int http_status, int grpc_code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddNumberToObject(o, "code", grpc_code) || !cJSON_AddStringToObject(o, "message", msg))) {
        cJSON_Delete(o);
        o = NULL;
    }
    fwl_resp_json(out, http_status, o);
}

void fwl_resp_method(fwl_resp *out, const fwl_req *r, const char *what)
{
    fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on %s", r->method, what ? what : r->path);
}
