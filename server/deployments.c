/* Deployments (docs/protocol.md §3.7): create / get / list / patch / delete. The serving state (weights, hotload
 * stage) lives in hotload.c; this file only keeps the resource. */
#include "deployments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records.h"
#include "replica.h"
#include "replica_store.h"
#include "store.h"
#include "util.h"

/* Fields a client may set, camelCase with their snake_case twin (docs/protocol.md §2.1 accepts both). */
static const struct {
    const char *camel, *snake;
    int type; /* 0 string, 1 number, 2 bool, 3 any */
} FIELDS[] = {
    {"displayName", "display_name", 0},         {"description", "description", 0},
    {"baseModel", "base_model", 0},             {"minReplicaCount", "min_replica_count", 1},
    {"maxReplicaCount", "max_replica_count", 1}, {"enableHotLoad", "enable_hot_load", 2},
    {"forTraining", "for_training", 2},         {"hotLoadTrainerJob", "hot_load_trainer_job", 0},
    {"hotLoadBucketType", "hot_load_bucket_type", 0}, {"deploymentShape", "deployment_shape", 0},
    {"acceleratorType", "accelerator_type", 0}, {"placement", "placement", 3},
    {"extraArgs", "extra_args", 3},             {"extraValues", "extra_values", 3},
    {"annotations", "annotations", 3},
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

static int check_field(const cJSON *v, int type)
{
    if (type == 0)
        return cJSON_IsString(v) || cJSON_IsNull(v);
    int64_t x;
    if (type == 1)
        return fwl_json_num_in(v, 0, 1000, &x); /* replica counts: integers that fit */
    if (type == 2)
        return cJSON_IsBool(v);
    return 1;
}

/* Copies the client fields present in body (all, or only those in mask) into dst. -1 + 400 on a bad one. */
static int apply_fields(cJSON *dst, const cJSON *body, const char *mask, fwl_resp *out, bool *trainer_changed)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        if (mask) {
            /* updateMask names paths in snake_case or camelCase, comma-separated */
            bool in = false;
            char m[512];
            snprintf(m, sizeof m, "%s", mask);
            char *save = NULL;
            for (char *t = strtok_r(m, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                while (*t == ' ')
                    t++;
                if (!strcmp(t, FIELDS[i].camel) || !strcmp(t, FIELDS[i].snake))
                    in = true;
            }
            if (!in)
                continue;
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, FIELDS[i].camel);
        if (!v)
            v = cJSON_GetObjectItemCaseSensitive(body, FIELDS[i].snake);
        if (!v)
            continue;
        if (!check_field(v, FIELDS[i].type)) {
            fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "field %s has the wrong type%s", FIELDS[i].camel,
                           FIELDS[i].type == 1 ? " (an integer 0..1000)" : "");
            return -1;
        }
        if (!strcmp(FIELDS[i].camel, "hotLoadTrainerJob") && cJSON_IsString(v) && v->valuestring[0]) {
            char job[FWL_ID_MAX];
            if (!fwl_parse_resource(v->valuestring, "rlorTrainerJobs", job, sizeof job)) {
                fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                               "hotLoadTrainerJob must be accounts/%s/rlorTrainerJobs/<id>", FWL_ACCOUNT);
                return -1;
            }
            const char *old = fwl_json_str(dst, "hotLoadTrainerJob");
            char full[128];
            snprintf(full, sizeof full, "accounts/%s/rlorTrainerJobs/%s", FWL_ACCOUNT, job);
            if (!old || strcmp(old, full) != 0)
                *trainer_changed = true;
            fwl_json_put(dst, "hotLoadTrainerJob", cJSON_CreateString(full));
            continue;
        }
        if (!strcmp(FIELDS[i].camel, "hotLoadTrainerJob") && fwl_json_str(dst, "hotLoadTrainerJob"))
            *trainer_changed = true;
        fwl_json_put(dst, FIELDS[i].camel, cJSON_Duplicate(v, 1));
    }
    return 0;
}

static void dep_create(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    const char *id = fwl_req_query(r, "deploymentId");
    if (!id || !fwl_valid_id(id)) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "query parameter deploymentId is required and must match ^[a-z0-9-]{1,63}$");
        return;
    }
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    int64_t now = fwl_now_us();
    char name[128], ts[48];
    snprintf(name, sizeof name, "accounts/%s/deployments/%s", FWL_ACCOUNT, id);
    fwl_format_time(now, ts, sizeof ts);
    cJSON *d = cJSON_CreateObject();
    if (!d) {
        cJSON_Delete(body);
        fwl_resp_oom(out);
        return;
    }
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "state", "READY");
    cJSON_AddNumberToObject(d, "minReplicaCount", 0);
    cJSON_AddNumberToObject(d, "maxReplicaCount", 1);
    cJSON_AddBoolToObject(d, "enableHotLoad", true);
    cJSON_AddStringToObject(d, "hotLoadBucketType", "FW_HOSTED");
    bool changed = false;
    if (apply_fields(d, body, NULL, out, &changed) != 0) {
        cJSON_Delete(d);
        cJSON_Delete(body);
        return;
    }
    cJSON_Delete(body);
    cJSON_AddStringToObject(d, "createTime", ts);
    cJSON_AddStringToObject(d, "updateTime", ts);
    char p[4200];
    fwl_deployment_path(s, id, p, sizeof p);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *ex = fwl_read_json(p);
    int rc = ex ? 1 : fwl_write_json(p, d);
    pthread_mutex_unlock(&s->rec_lock);
    cJSON_Delete(ex);
    if (rc == 1) {
        cJSON_Delete(d);
        fwl_resp_error(out, 409, FWL_GRPC_ALREADY_EXISTS, "deployment %s already exists", name);
        return;
    }
    if (rc != 0) {
        cJSON_Delete(d);
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the deployment (see the server log)");
        return;
    }
    fwl_replica_forget(s, id); /* a recreated id starts empty */
    fwl_resp_json(out, 200, fwl_public_copy(d));
    cJSON_Delete(d);
}

static void dep_list(fwl_server *s, fwl_resp *out)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/deployments", s->cfg.data_dir);
    fwl_resp_json(out, 200, fwl_list_records(dir, "deployments"));
}

static void dep_not_found(fwl_resp *out, const char *id)
{
    fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%.64s not found", FWL_ACCOUNT, id);
}

static void dep_get(fwl_server *s, fwl_resp *out, const char *id)
{
    cJSON *d = fwl_deployment_load(s, id);
    if (!d) {
        dep_not_found(out, id);
        return;
    }
    fwl_resp_json(out, 200, fwl_public_copy(d));
    cJSON_Delete(d);
}

static void dep_delete(fwl_server *s, fwl_resp *out, const char *id)
{
    char p[4200], dir[4200];
    fwl_deployment_path(s, id, p, sizeof p);
    snprintf(dir, sizeof dir, "%s/deployments", s->cfg.data_dir);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *d = fwl_read_json(p);
    if (d && unlink(p) == 0)
        fwl_fsync_dir(dir);
    pthread_mutex_unlock(&s->rec_lock);
    if (!d) {
        dep_not_found(out, id);
        return;
    }
    fwl_replica_unlink_files(s, d, NULL); /* its base and delta chain */
    cJSON_Delete(d);
    fwl_replica_forget(s, id);
    fwl_resp_json(out, 200, cJSON_CreateObject());
}

/* The serving pod rolls (docs/protocol.md §3.7): a re-attach to another trainer brings up a new pod that holds the base
 * weights under a fresh identity (so a client sees "the new pod is up"), and drops the old snapshot, so the next
 * delta has nothing to apply to: the delta chain starts again from a base. Scaling to zero, or detaching, leaves
 * no pod. Updates the record; *pod gets the new pod's identity ("" when none). */
static void dep_roll(fwl_server *s, cJSON *d, char *pod, size_t pl)
{
    cJSON_DeleteItemFromObjectCaseSensitive(d, "_currentIdentity");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "_weightsFile");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "_deltaFiles");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "_podIdentity");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "_pendingLoad"); /* a load in flight is superseded */
    const char *tj = fwl_json_str(d, "hotLoadTrainerJob");
    pod[0] = 0;
    if (tj && *tj && !fwl_deployment_scaled_to_zero(d)) {
        fwl_new_id(s, "pod-", pod, pl);
        fwl_json_put(d, "_podIdentity", cJSON_CreateString(pod));
    }
}

/* Applies the PATCH to the stored record; 0 done (*d the new record), -1 out already filled. */
static int dep_patch_store(fwl_server *s, const char *id, const cJSON *body, const char *mask, fwl_resp *out,
                           cJSON **dp, bool *changed, char *pod, size_t pl)
{
    char p[4200];
    fwl_deployment_path(s, id, p, sizeof p);
    pthread_mutex_lock(&s->rec_lock);
    cJSON *d = fwl_read_json(p);
    int rc = d ? apply_fields(d, body, mask, out, changed) : -1;
    if (!d)
        dep_not_found(out, id);
    if (rc == 0) {
        char ts[48];
        fwl_format_time(fwl_now_us(), ts, sizeof ts);
        fwl_json_put(d, "updateTime", cJSON_CreateString(ts));
        if (fwl_deployment_scaled_to_zero(d))
            *changed = true; /* scaled to zero: the replica goes away with its weights */
        if (*changed)
            dep_roll(s, d, pod, pl);
        if (fwl_write_json(p, d) != 0) {
            fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the deployment (see the server log)");
            rc = -1;
        }
    }
    pthread_mutex_unlock(&s->rec_lock);
    if (rc != 0) {
        cJSON_Delete(d);
        return -1;
    }
    *dp = d;
    return 0;
}

static void dep_patch(fwl_server *s, fwl_req *r, fwl_resp *out, const char *id)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *mask = fwl_req_query(r, "updateMask");
    cJSON *d = NULL;
    bool changed = false;
    char pod[48] = "";
    int rc = dep_patch_store(s, id, body, mask && *mask ? mask : NULL, out, &d, &changed, pod, sizeof pod);
    cJSON_Delete(body);
    if (rc != 0)
        return;
    if (changed)
        fwl_replica_roll(s, id, pod[0] ? pod : NULL);
    fwl_resp_json(out, 200, fwl_public_copy(d));
    cJSON_Delete(d);
}

static void dep_one(fwl_server *s, fwl_req *r, fwl_resp *out, const char *id)
{
    if (!fwl_valid_id(id))
        dep_not_found(out, id);
    else if (!strcmp(r->method, "GET"))
        dep_get(s, out, id);
    else if (!strcmp(r->method, "DELETE"))
        dep_delete(s, out, id);
    else if (!strcmp(r->method, "PATCH"))
        dep_patch(s, r, out, id);
    else
        fwl_resp_method(out, r, "a deployment");
}

void fwl_deployments_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i)
{
    size_t rest = r->nseg - i;
    if (rest == 0) {
        if (!strcmp(r->method, "POST"))
            dep_create(s, r, out);
        else if (!strcmp(r->method, "GET"))
            dep_list(s, out);
        else
            fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on %s", r->method, r->path);
        return;
    }
    if (rest == 1) {
        dep_one(s, r, out, r->seg[i]);
        return;
    }
    fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
}
