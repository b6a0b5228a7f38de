/* The hotload API (docs/protocol.md §3.8, §3.9): POST {identity, incremental_snapshot_metadata?} starts a load on the
 * deployment's replica (replica.c), GET reports the replicas' state. The deployment comes from the
 * fireworks-deployment header. */
#include "hotload.h"

#include <stdio.h>
#include <string.h>

#include "records.h"
#include "replica.h"
#include "util.h"

static bool deployment_from_headers(fwl_server *s, fwl_req *r, fwl_resp *out, char *dep, size_t len, bool *zero)
{
    const char *h = fwl_req_header(r, "fireworks-deployment");
    if (!h) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "header fireworks-deployment is required");
        return false;
    }
    if (!fwl_parse_deployment_header(h, dep, len)) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "fireworks-deployment must be accounts/%s/deployments/<id>", FWL_ACCOUNT);
        return false;
    }
    cJSON *d = fwl_deployment_load(s, dep);
    if (!d) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, dep);
        return false;
    }
    *zero = fwl_deployment_scaled_to_zero(d);
    cJSON_Delete(d);
    return true;
}

/* The old body schema (--strict-hotload): only identity and incremental_snapshot_metadata (pydantic
 * extra="forbid"). The offending field, or NULL. */
static const char *strict_extra_field(const cJSON *body)
{
    for (const cJSON *it = body->child; it; it = it->next)
        if (it->string && strcmp(it->string, "identity") != 0 && strcmp(it->string, "incremental_snapshot_metadata") != 0)
            return it->string;
    return NULL;
}

/* Validates a load request; fills identity/prev (prev "" when not incremental). NULL when fine, else the 400
 * message (written into msg when it needs the request's text). */
static const char *hotload_parse(const cJSON *body, char *identity, size_t il, char *prev, size_t pl, char *msg,
                                 size_t ml)
{
    const char *id = fwl_json_str(body, "identity");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "incremental_snapshot_metadata");
    const cJSON *rpc = cJSON_GetObjectItemCaseSensitive(body, "reset_prompt_cache");
    const char *pv = meta ? fwl_json_str(meta, "previous_snapshot_identity") : NULL;
    const char *cks = meta ? fwl_json_str(meta, "checksum_format") : NULL;
    if (!id || !fwl_valid_ckpt_name(id))
        return "identity (snapshot name) is required";
    if ((rpc && !cJSON_IsBool(rpc)) || (meta && !cJSON_IsNull(meta) && (!cJSON_IsObject(meta) || !pv)))
        return "reset_prompt_cache must be a boolean; incremental_snapshot_metadata needs previous_snapshot_identity";
    if (pv && strlen(pv) >= pl)
        return "previous_snapshot_identity is too long";
    if (cks && strcmp(cks, "alder32") != 0 && strcmp(cks, "adler32") != 0) {
        snprintf(msg, ml, "unsupported checksum_format %.40s (alder32)", cks);
        return msg;
    }
    snprintf(identity, il, "%s", id);
    snprintf(prev, pl, "%s", pv ? pv : "");
    return NULL;
}

static void hotload_post(fwl_server *s, fwl_req *r, fwl_resp *out, const char *dep)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *extra = s->cfg.strict_hotload ? strict_extra_field(body) : NULL;
    if (extra) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "1 validation error for HotLoadRequest\n%.100s\n  Extra inputs are not permitted", extra);
        cJSON_Delete(body);
        return;
    }
    char identity[FWL_NAME_MAX], prev[FWL_NAME_MAX], msg[128];
    const char *err = hotload_parse(body, identity, sizeof identity, prev, sizeof prev, msg, sizeof msg);
    cJSON_Delete(body);
    if (err) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", err);
        return;
    }
    if (fwl_replica_load(s, dep, identity, prev[0] ? prev : NULL) != 0) {
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not start loading %s on deployment %s", identity, dep);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "accepted");
    cJSON_AddStringToObject(o, "identity", identity);
    fwl_resp_json(out, 200, o);
}

void fwl_hotload_route(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    bool get = !strcmp(r->method, "GET");
    if (!get && strcmp(r->method, "POST") != 0) {
        fwl_resp_method(out, r, "the hotload API");
        return;
    }
    char dep[FWL_ID_MAX];
    bool zero = false;
    if (!deployment_from_headers(s, r, out, dep, sizeof dep, &zero))
        return;
    if (get && zero) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddArrayToObject(o, "replicas");
        fwl_resp_json(out, 200, o);
    } else if (get) {
        fwl_resp_json(out, 200, fwl_replica_status(s, dep));
    } else if (zero) {
        fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION,
                       "deployment %s is scaled to zero (maxReplicaCount 0): no replica to load into", dep);
    } else {
        hotload_post(s, r, out, dep);
    }
}
