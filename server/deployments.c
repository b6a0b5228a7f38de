/* Deployments (protocol §3.7): create / get / list / patch / delete. The serving state (weights, hotload
 * stage) lives in hotload.c; this file only keeps the resource. */
#include "fwl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void dep_path(fwl_server *s, const char *dep, char *buf, size_t len)
{
    snprintf(buf, len, "%s/deployments/%s.json", s->cfg.data_dir, dep);
}

bool fwl_deployment_scaled_to_zero(const cJSON *d)
{
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(d, "maxReplicaCount");
    return cJSON_IsNumber(mx) && mx->valuedouble == 0;
}

cJSON *fwl_deployment_load(fwl_server *s, const char *dep)
{
    if (!fwl_valid_id(dep))
        return NULL;
    char p[4200];
    dep_path(s, dep, p, sizeof p);
    return fwl_read_json(p);
}


static void put(cJSON *o, const char *k, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
    else
        cJSON_AddItemToObject(o, k, v);
}

/* Fields a client may set, camelCase with their snake_case twin (protocol §2.1 accepts both). */
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
    if (type == 1)
        return cJSON_IsNumber(v) && v->valuedouble >= 0;
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
            fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "field %s has the wrong type", FIELDS[i].camel);
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
            put(dst, "hotLoadTrainerJob", cJSON_CreateString(full));
            continue;
        }
        if (!strcmp(FIELDS[i].camel, "hotLoadTrainerJob") && fwl_json_str(dst, "hotLoadTrainerJob"))
            *trainer_changed = true;
        put(dst, FIELDS[i].camel, cJSON_Duplicate(v, 1));
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
    dep_path(s, id, p, sizeof p);
    pthread_mutex_lock(&s->lock);
    cJSON *ex = fwl_read_json(p);
    int rc = ex ? 1 : fwl_write_json(p, d);
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(ex);
    if (rc == 1) {
        cJSON_Delete(d);
        fwl_resp_error(out, 409, FWL_GRPC_ALREADY_EXISTS, "deployment %s already exists", name);
        return;
    }
    if (rc != 0) {
        cJSON_Delete(d);
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the deployment");
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

static void dep_one(fwl_server *s, fwl_req *r, fwl_resp *out, const char *id)
{
    char p[4200];
    if (!fwl_valid_id(id)) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment %.64s not found", id);
        return;
    }
    dep_path(s, id, p, sizeof p);
    if (!strcmp(r->method, "GET")) {
        cJSON *d = fwl_deployment_load(s, id);
        if (!d) {
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, id);
            return;
        }
        fwl_resp_json(out, 200, fwl_public_copy(d));
        cJSON_Delete(d);
        return;
    }
    if (!strcmp(r->method, "DELETE")) {
        pthread_mutex_lock(&s->lock);
        cJSON *d = fwl_read_json(p);
        if (d)
            unlink(p);
        pthread_mutex_unlock(&s->lock);
        if (!d) {
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, id);
            return;
        }
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/deployments", s->cfg.data_dir);
        fwl_fsync_dir(dir);
        const char *wf = fwl_json_str(d, "_weightsFile");
        if (wf && !strchr(wf, '/')) {
            char wp[4500];
            snprintf(wp, sizeof wp, "%s/%s", dir, wf);
            unlink(wp);
        }
        cJSON_Delete(d);
        fwl_replica_forget(s, id);
        fwl_resp_json(out, 200, cJSON_CreateObject());
        return;
    }
    if (!strcmp(r->method, "PATCH")) {
        cJSON *body = fwl_req_json(r, out);
        if (!body)
            return;
        const char *mask = fwl_req_query(r, "updateMask");
        pthread_mutex_lock(&s->lock);
        cJSON *d = fwl_read_json(p);
        if (!d) {
            pthread_mutex_unlock(&s->lock);
            cJSON_Delete(body);
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, id);
            return;
        }
        bool changed = false;
        int rc = apply_fields(d, body, mask && *mask ? mask : NULL, out, &changed);
        if (rc == 0) {
            char ts[48];
            fwl_format_time(fwl_now_us(), ts, sizeof ts);
            put(d, "updateTime", cJSON_CreateString(ts));
            const cJSON *mx = cJSON_GetObjectItemCaseSensitive(d, "maxReplicaCount");
            if (cJSON_IsNumber(mx) && mx->valuedouble == 0)
                changed = true; /* scaled to zero: the replica goes away with its weights */
            if (changed) {
                /* re-attach: the serving pod rolls and comes back without weights (protocol §3.7, §5) */
                cJSON_DeleteItemFromObjectCaseSensitive(d, "_currentIdentity");
                cJSON_DeleteItemFromObjectCaseSensitive(d, "_weightsFile");
            }
            rc = fwl_write_json(p, d) == 0 ? 0 : 2;
        }
        pthread_mutex_unlock(&s->lock);
        cJSON_Delete(body);
        if (rc == 2)
            fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the deployment");
        if (rc != 0) {
            cJSON_Delete(d);
            return;
        }
        if (changed)
            fwl_replica_reset(s, id);
        fwl_resp_json(out, 200, fwl_public_copy(d));
        cJSON_Delete(d);
        return;
    }
    fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on a deployment", r->method);
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
