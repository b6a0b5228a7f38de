/* Hotload status of a deployment's replicas (docs/protocol.md §3.9, §11.8). */
#include "api/deployments_internal.h"

#include <string.h>

#include "core/future_impl.h"
#include "json/json.h"

typedef struct replica {
    char *current;   /* NULL when null/absent */
    char *stage;     /* "" when absent */
    char *target;    /* NULL when absent */
    char *error;     /* loading_state.error_message, NULL when absent */
    int ready;
    int loading_null; /* loading_state present and null */
    char **adapters; /* identities with status "loaded" */
    size_t n_adapters;
} replica;

struct fwt_hotload_status {
    replica *r;
    size_t n;
};

static char *opt_dup(const cJSON *obj, const char *key)
{
    const char *v = NULL;
    if (fwt__json_get_string(obj, key, &v) != FWT_OK)
        return NULL;
    return fwt__strdup(v);
}

void fwt_hotload_status_free(fwt_hotload_status *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        replica *r = &s->r[i];
        fwt__free_mem(r->current);
        fwt__free_mem(r->stage);
        fwt__free_mem(r->target);
        fwt__free_mem(r->error);
        for (size_t k = 0; k < r->n_adapters; k++)
            fwt__free_mem(r->adapters[k]);
        fwt__free_mem(r->adapters);
    }
    fwt__free_mem(s->r);
    fwt__free_mem(s);
}

static int parse_replica(replica *r, const cJSON *obj)
{
    if (!cJSON_IsObject(obj)) {
        r->stage = fwt__strdup("");
        return r->stage ? FWT_OK : FWT_ENOMEM;
    }
    r->current = opt_dup(obj, "current_snapshot_identity");
    (void)fwt__json_get_bool(obj, "readiness", &r->ready);
    const cJSON *ls = NULL;
    const cJSON *raw = fwt__json_get(obj, "loading_state");
    r->loading_null = raw != NULL && cJSON_IsNull(raw);
    if (fwt__json_get_object(obj, "loading_state", &ls) == FWT_OK) {
        r->stage = opt_dup(ls, "stage");
        r->target = opt_dup(ls, "target_snapshot_identity");
        r->error = opt_dup(ls, "error_message");
    }
    if (!r->stage)
        r->stage = fwt__strdup("");
    if (!r->stage)
        return FWT_ENOMEM;
    const cJSON *ad = NULL, *a = NULL;
    if (fwt__json_get_array(obj, "loaded_adapters", &ad) == FWT_OK) {
        size_t n = (size_t)cJSON_GetArraySize(ad);
        r->adapters = n ? fwt__calloc(n, sizeof *r->adapters) : NULL;
        if (n && !r->adapters)
            return FWT_ENOMEM;
        cJSON_ArrayForEach(a, ad)
        {
            const char *id = NULL, *st = NULL;
            if (fwt__json_get_string(a, "identity", &id) == FWT_OK && fwt__json_get_string(a, "status", &st) == FWT_OK &&
                strcmp(st, "loaded") == 0 && r->n_adapters < n) {
                r->adapters[r->n_adapters] = fwt__strdup(id);
                if (!r->adapters[r->n_adapters])
                    return FWT_ENOMEM;
                r->n_adapters++;
            }
        }
    }
    return FWT_OK;
}

int fwt__hotload_status_parse(fwt_hotload_status **out, const cJSON *json)
{
    *out = NULL;
    if (!cJSON_IsObject(json))
        return FWT_EAGAIN;
    const cJSON *reps = NULL;
    if (fwt__json_get_array(json, "replicas", &reps) != FWT_OK)
        return FWT_EPROTO;
    fwt_hotload_status *s = fwt__calloc(1, sizeof *s);
    if (!s)
        return FWT_ENOMEM;
    size_t n = (size_t)cJSON_GetArraySize(reps);
    if (n) {
        s->r = fwt__calloc(n, sizeof *s->r);
        if (!s->r) {
            fwt__free_mem(s);
            return FWT_ENOMEM;
        }
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, reps)
    {
        if (s->n >= n)
            break;
        int rc = parse_replica(&s->r[s->n], it);
        s->n++;
        if (rc != FWT_OK) {
            fwt_hotload_status_free(s);
            return rc;
        }
    }
    *out = s;
    return FWT_OK;
}

int fwt__hotload_status_replica0_loading_null(const fwt_hotload_status *s)
{
    return s && s->n > 0 && s->r[0].loading_null;
}

size_t fwt_hotload_status_replica_count(const fwt_hotload_status *s)
{
    return s ? s->n : 0;
}

const char *fwt_hotload_status_current_identity(const fwt_hotload_status *s, size_t i)
{
    return s && i < s->n ? s->r[i].current : NULL;
}

int fwt_hotload_status_ready(const fwt_hotload_status *s, size_t i)
{
    return s && i < s->n ? s->r[i].ready : 0;
}

const char *fwt_hotload_status_stage(const fwt_hotload_status *s, size_t i)
{
    return s && i < s->n && s->r[i].stage ? s->r[i].stage : "";
}

const char *fwt_hotload_status_target_identity(const fwt_hotload_status *s, size_t i)
{
    return s && i < s->n ? s->r[i].target : NULL;
}

int fwt_hotload_status_adapter_loaded(const fwt_hotload_status *s, size_t i, const char *identity)
{
    if (!s || i >= s->n || !identity)
        return 0;
    for (size_t k = 0; k < s->r[i].n_adapters; k++)
        if (strcmp(s->r[i].adapters[k], identity) == 0)
            return 1;
    return 0;
}

int fwt_future_take_hotload_status(fwt_hotload_status **out, fwt_future *f)
{
    if (!out || !f)
        return fwt__last_set(FWT_EINVAL, "out and future are required");
    *out = NULL;
    void *v = NULL;
    int rc = fwt__future_take(f, FWT__VALUE_HOTLOAD, &v);
    if (rc == FWT_OK)
        *out = v;
    return rc;
}

int fwt_deployment_hotload_status(fwt_hotload_status **out, fwt_client *c, const char *deployment_id,
                                  const char *base_model)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    char **headers = NULL;
    char *url = NULL;
    int rc = fwt__hotload_prepare(c, deployment_id, base_model, NULL, &headers, &url);
    if (rc != FWT_OK)
        return rc;
    fwt__call call = {0};
    call.plane = FWT__PLANE_HOTLOAD;
    call.method = "GET";
    call.url = url;
    call.extra_headers = (const char *const *)headers;
    call.retry = FWT__RC_NONE;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    fwt__reply r;
    fwt__reply_init(&r);
    rc = fwt__call_sync(c, &call, &r);
    if (rc == FWT_OK) {
        rc = fwt__hotload_status_parse(out, r.json);
        if (rc == FWT_EAGAIN || rc == FWT_EPROTO)
            rc = fwt__last_set(FWT_EPROTO, "unrecognized hotload status response format");
        else if (rc == FWT_ENOMEM)
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
        else
            fwt__last_ok();
    }
    fwt__reply_clear(&r);
    fwt__headers_free(headers);
    fwt__free_mem(url);
    return rc;
}

const char *fwt__hotload_status_error(const fwt_hotload_status *s, size_t i)
{
    return s && i < s->n ? s->r[i].error : NULL;
}

const fwt__value_type fwt__vt_hotload_status = {"hotload status"};
