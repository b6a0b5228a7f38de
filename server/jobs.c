/* Control plane: the account, RLOR trainer jobs, and the control-plane checkpoint listing (protocol §1, §3.1–§3.5). */
#include "fwl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void job_path(fwl_server *s, const char *job, char *buf, size_t len)
{
    snprintf(buf, len, "%s/jobs/%s/job.json", s->cfg.data_dir, job);
}


static void set_str(cJSON *o, const char *k, const char *v)
{
    cJSON *n = cJSON_CreateString(v);
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, n);
    else
        cJSON_AddItemToObject(o, k, n);
}

static void set_num(cJSON *o, const char *k, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, n);
    else
        cJSON_AddItemToObject(o, k, n);
}

static void touch(cJSON *job)
{
    char ts[48];
    fwl_format_time(fwl_now_us(), ts, sizeof ts);
    set_str(job, "updateTime", ts);
}

cJSON *fwl_job_load(fwl_server *s, const char *job)
{
    if (!fwl_valid_id(job))
        return NULL;
    char p[4200];
    job_path(s, job, p, sizeof p);
    pthread_mutex_lock(&s->lock);
    cJSON *j = fwl_read_json(p);
    if (j) {
        const char *st = fwl_json_str(j, "state");
        cJSON *ready = cJSON_GetObjectItemCaseSensitive(j, "_readyUs");
        if (st && !strcmp(st, "JOB_STATE_CREATING") && cJSON_IsNumber(ready) && fwl_now_us() >= (int64_t)ready->valuedouble) {
            set_str(j, "state", "JOB_STATE_RUNNING");
            touch(j);
            if (fwl_write_json(p, j) != 0)
                fwl_log("could not persist job %s state", job);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return j;
}

bool fwl_job_running(fwl_server *s, const char *job, bool *exists)
{
    cJSON *j = fwl_job_load(s, job);
    *exists = j != NULL;
    bool run = j && !strcmp(fwl_json_str(j, "state") ? fwl_json_str(j, "state") : "", "JOB_STATE_RUNNING");
    cJSON_Delete(j);
    return run;
}

/* 404 unless the job exists (any state, tombstones included). */
static bool job_exists(fwl_server *s, const char *job, fwl_resp *out)
{
    cJSON *j = fwl_job_load(s, job);
    if (!j) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob accounts/%s/rlorTrainerJobs/%.64s not found",
                       FWL_ACCOUNT, job);
        return false;
    }
    cJSON_Delete(j);
    return true;
}

void fwl_accounts_route(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    (void)s;
    if (strcmp(r->method, "GET") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on %s", r->method, r->path);
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "accounts/%s", FWL_ACCOUNT);
    cJSON *acct = cJSON_CreateObject();
    cJSON_AddStringToObject(acct, "name", name);
    cJSON_AddStringToObject(acct, "displayName", "fwtrain-local");
    cJSON_AddStringToObject(acct, "state", "READY");
    if (r->nseg == 3) {
        if (strcmp(r->seg[2], FWL_ACCOUNT) != 0) {
            cJSON_Delete(acct);
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "account \"%s\" not found", r->seg[2]);
            return;
        }
        fwl_resp_json(out, 200, acct);
        return;
    }
    /* protocol §1: GET /v1/accounts?pageSize=2 -> exactly one account */
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "accounts");
    cJSON_AddItemToArray(arr, acct);
    cJSON_AddStringToObject(o, "nextPageToken", "");
    cJSON_AddNumberToObject(o, "totalSize", 1);
    fwl_resp_json(out, 200, o);
}

static void copy_field(cJSON *dst, const cJSON *src, const char *camel, const char *snake)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, camel);
    if (!v && snake)
        v = cJSON_GetObjectItemCaseSensitive(src, snake);
    if (v)
        cJSON_AddItemToObject(dst, camel, cJSON_Duplicate(v, 1));
}

static void job_create(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    const char *id = fwl_req_query(r, "rlorTrainerJobId");
    if (!id || !*id) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "query parameter rlorTrainerJobId is required");
        return;
    }
    if (!fwl_valid_id(id)) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "invalid rlorTrainerJobId \"%.80s\": must match ^[a-z0-9-]{1,63}$", id);
        return;
    }
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(body, "trainingConfig");
    if (!tc)
        tc = cJSON_GetObjectItemCaseSensitive(body, "training_config");
    if (tc && !cJSON_IsObject(tc)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "trainingConfig must be an object");
        return;
    }
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    if (dn && (!cJSON_IsString(dn) || strlen(dn->valuestring) >= 64)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "displayName must be a string shorter than 64 characters");
        return;
    }
    const cJSON *lr = tc ? cJSON_GetObjectItemCaseSensitive(tc, "loraRank") : NULL;
    if (lr && !cJSON_IsNumber(lr)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "trainingConfig.loraRank must be a number");
        return;
    }
    const cJSON *bm = tc ? cJSON_GetObjectItemCaseSensitive(tc, "baseModel") : NULL;
    if (bm && !cJSON_IsString(bm)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "trainingConfig.baseModel must be a string");
        return;
    }

    char p[4200];
    job_path(s, id, p, sizeof p);
    pthread_mutex_lock(&s->lock);
    cJSON *existing = fwl_read_json(p);
    if (existing) {
        pthread_mutex_unlock(&s->lock);
        const char *st = fwl_json_str(existing, "state");
        bool tomb = st && (!strcmp(st, "JOB_STATE_DELETED") || !strcmp(st, "JOB_STATE_ARCHIVED"));
        fwl_resp_error(out, 409, FWL_GRPC_ALREADY_EXISTS, "RlorTrainerJob accounts/%s/rlorTrainerJobs/%s already exists%s",
                       FWL_ACCOUNT, id, tomb ? " (deleted; the id cannot be reused)" : "");
        cJSON_Delete(existing);
        cJSON_Delete(body);
        return;
    }
    int64_t now = fwl_now_us();
    char name[128], ts[48];
    snprintf(name, sizeof name, "accounts/%s/rlorTrainerJobs/%s", FWL_ACCOUNT, id);
    fwl_format_time(now, ts, sizeof ts);
    cJSON *job = cJSON_CreateObject();
    cJSON_AddStringToObject(job, "name", name);
    if (dn)
        cJSON_AddStringToObject(job, "displayName", dn->valuestring);
    /* displayName "fwl-stay-pending" keeps a job in the capacity queue forever (tests of wait/cancel) */
    bool stay = dn && !strcmp(dn->valuestring, "fwl-stay-pending");
    cJSON_AddStringToObject(job, "state", stay                      ? "JOB_STATE_PENDING"
                                          : s->cfg.job_start_ms > 0 ? "JOB_STATE_CREATING"
                                                                    : "JOB_STATE_RUNNING");
    cJSON *status = cJSON_AddObjectToObject(job, "status");
    cJSON_AddStringToObject(status, "code", "OK");
    cJSON_AddStringToObject(status, "message", "");
    cJSON_AddStringToObject(job, "createTime", ts);
    cJSON_AddStringToObject(job, "updateTime", ts);
    cJSON *tcc = cJSON_AddObjectToObject(job, "trainingConfig");
    if (tc) {
        copy_field(tcc, tc, "baseModel", "base_model");
        copy_field(tcc, tc, "loraRank", "lora_rank");
        copy_field(tcc, tc, "learningRate", "learning_rate");
        copy_field(tcc, tc, "maxContextLength", "max_context_length");
        copy_field(tcc, tc, "region", NULL);
    }
    if (!cJSON_GetObjectItemCaseSensitive(tcc, "maxContextLength"))
        cJSON_AddNumberToObject(tcc, "maxContextLength", 4096);
    cJSON_AddBoolToObject(job, "serviceMode", true);
    copy_field(job, body, "nodeCount", "node_count");
    copy_field(job, body, "hotLoadDeploymentId", "hot_load_deployment_id");
    copy_field(job, body, "forwardOnly", "forward_only");
    copy_field(job, body, "inactivityTimeout", "inactivity_timeout");
    copy_field(job, body, "purpose", NULL);
    cJSON_AddNumberToObject(job, "acceleratorSeconds", 0);
    cJSON_AddNumberToObject(job, "_readyUs", (double)(now + (int64_t)s->cfg.job_start_ms * 1000));
    int rc = fwl_write_json(p, job);
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(body);
    if (rc != 0) {
        cJSON_Delete(job);
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the job");
        return;
    }
    fwl_resp_json(out, 200, fwl_public_copy(job));
    cJSON_Delete(job);
}

static void job_list(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    (void)r;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/jobs", s->cfg.data_dir);
    size_t n = 0;
    char **names = fwl_list_dir(dir, NULL, &n);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "rlorTrainerJobs");
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *j = fwl_job_load(s, names[i]);
        if (!j)
            continue;
        cJSON_AddItemToArray(arr, fwl_public_copy(j));
        cJSON_Delete(j);
        total++;
    }
    fwl_free_list(names, n);
    cJSON_AddStringToObject(o, "nextPageToken", "");
    cJSON_AddNumberToObject(o, "totalSize", total);
    fwl_resp_json(out, 200, o);
}

static bool set_state(fwl_server *s, const char *job, const char *from_ok[], const char *to, char *was, size_t wl)
{
    char p[4200];
    job_path(s, job, p, sizeof p);
    pthread_mutex_lock(&s->lock);
    cJSON *j = fwl_read_json(p);
    bool ok = false;
    if (j) {
        const char *st = fwl_json_str(j, "state");
        snprintf(was, wl, "%s", st ? st : "");
        for (size_t i = 0; from_ok[i]; i++)
            if (st && !strcmp(st, from_ok[i]))
                ok = true;
        if (ok) {
            set_str(j, "state", to);
            touch(j);
            if (!strcmp(to, "JOB_STATE_CREATING"))
                set_num(j, "_readyUs", (double)(fwl_now_us() + (int64_t)s->cfg.job_start_ms * 1000));
            ok = fwl_write_json(p, j) == 0;
        }
    } else {
        was[0] = 0;
    }
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(j);
    return ok;
}

static void job_one(fwl_server *s, fwl_req *r, fwl_resp *out, char *seg)
{
    char *colon = strchr(seg, ':');
    const char *verb = NULL;
    if (colon) {
        *colon = 0;
        verb = colon + 1;
    }
    const char *job = seg;
    if (verb && strcmp(verb, "resume") != 0) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown job method :%s", verb);
        return;
    }
    if (verb && strcmp(r->method, "POST") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on :resume", r->method);
        return;
    }
    if (!verb && strcmp(r->method, "GET") != 0 && strcmp(r->method, "DELETE") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on a job", r->method);
        return;
    }
    if (!job_exists(s, job, out))
        return;
    char was[64];
    if (verb) {
        /* protocol §3.3 */
        static const char *resumable[] = {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED",
                                          "JOB_STATE_COMPLETED", "JOB_STATE_EXPIRED", NULL};
        if (!set_state(s, job, resumable, "JOB_STATE_CREATING", was, sizeof was) &&
            strcmp(was, "JOB_STATE_RUNNING") != 0 && strcmp(was, "JOB_STATE_CREATING") != 0) {
            fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION, "cannot resume job in state: %s", was);
            return;
        }
    } else if (!strcmp(r->method, "DELETE")) {
        /* protocol §3.4: soft delete, second delete is a no-op */
        static const char *any[] = {"JOB_STATE_UNSPECIFIED", "JOB_STATE_CREATING", "JOB_STATE_RUNNING",
                                    "JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                                    "JOB_STATE_PAUSED", "JOB_STATE_PENDING", "JOB_STATE_EXPIRED", "JOB_STATE_IDLE", NULL};
        set_state(s, job, any, "JOB_STATE_DELETED", was, sizeof was);
        fwl_trainer_drop_job(s, job);
        fwl_resp_json(out, 200, cJSON_CreateObject());
        return;
    }
    cJSON *j = fwl_job_load(s, job);
    if (!j) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob %.64s not found", job);
        return;
    }
    fwl_resp_json(out, 200, fwl_public_copy(j));
    cJSON_Delete(j);
}

/* protocol §3.5: oldest first, pageSize/pageToken, 4-segment names. */
static void ckpt_listing(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    if (strcmp(r->method, "GET") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on checkpoints", r->method);
        return;
    }
    if (!job_exists(s, job, out))
        return;
    long page = 200, start = 0;
    const char *ps = fwl_req_query(r, "pageSize");
    if (ps) {
        char *end;
        page = strtol(ps, &end, 10);
        if (*end || page < 0) {
            fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "pageSize must be a non-negative integer");
            return;
        }
        if (page == 0 || page > 1000)
            page = page == 0 ? 200 : 1000;
    }
    const char *pt = fwl_req_query(r, "pageToken");
    if (pt && *pt) {
        char *end;
        if (strncmp(pt, "o", 1) != 0 || (start = strtol(pt + 1, &end, 10)) < 0 || *end) {
            fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "invalid pageToken");
            return;
        }
    }
    size_t n = 0;
    fwl_ckpt *cks = fwl_ckpt_list(s, job, &n);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "checkpoints");
    size_t end = (size_t)start + (size_t)page;
    for (size_t i = (size_t)start; i < n && i < end; i++) {
        cJSON *row = cJSON_CreateObject();
        char name[512], ts[48];
        snprintf(name, sizeof name, "accounts/%s/rlorTrainerJobs/%s/checkpoints/%s", FWL_ACCOUNT, job, cks[i].name);
        fwl_format_time(cks[i].create_us, ts, sizeof ts);
        cJSON_AddStringToObject(row, "name", name);
        cJSON_AddStringToObject(row, "createTime", ts);
        cJSON_AddStringToObject(row, "updateTime", ts);
        cJSON_AddStringToObject(row, "checkpointType", fwl_ckpt_type_name(&cks[i]));
        cJSON_AddBoolToObject(row, "promotable", fwl_ckpt_promotable(&cks[i]));
        if (cks[i].expire_us) {
            fwl_format_time(cks[i].expire_us, ts, sizeof ts);
            cJSON_AddStringToObject(row, "expireTime", ts);
        }
        cJSON_AddItemToArray(arr, row);
    }
    if (end < n) {
        char tok[32];
        snprintf(tok, sizeof tok, "o%zu", end);
        cJSON_AddStringToObject(o, "nextPageToken", tok);
    }
    cJSON_AddNumberToObject(o, "totalSize", (double)n);
    free(cks);
    fwl_resp_json(out, 200, o);
}

void fwl_jobs_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i)
{
    size_t rest = r->nseg - i;
    if (rest == 0) {
        if (!strcmp(r->method, "POST"))
            job_create(s, r, out);
        else if (!strcmp(r->method, "GET"))
            job_list(s, r, out);
        else
            fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on %s", r->method, r->path);
        return;
    }
    if (rest == 1) {
        job_one(s, r, out, r->seg[i]);
        return;
    }
    if (rest >= 2 && !strcmp(r->seg[i + 1], "checkpoints")) {
        if (rest == 2) {
            ckpt_listing(s, r, out, r->seg[i]);
            return;
        }
        if (rest == 3) {
            /* legacy job-level promote path (protocol §3.6 endpoint history) */
            char *colon = strrchr(r->seg[i + 2], ':');
            if (colon && !strcmp(colon, ":promote")) {
                if (strcmp(r->method, "POST") != 0) {
                    fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed", r->method);
                    return;
                }
                *colon = 0;
                fwl_promote_route(s, r, out, r->seg[i], r->seg[i + 2]);
                return;
            }
        }
    }
    fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
}
