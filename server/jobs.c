/* Control plane: the account, RLOR trainer jobs, and the control-plane checkpoint listing (docs/protocol.md §1, §3.1–§3.5). */
#include "jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "dataplane.h"
#include "promote.h"
#include "records.h"
#include "shapes.h"
#include "store.h"
#include "util.h"

/* The job as it leaves the server: no internal "_" fields; while it runs, its directRouteHandle (docs/protocol.md §3.2:
 * the trainer reached without the gateway, at /direct/<job> on this server; computed, since the port changes
 * between runs). NULL when out of memory. */
static cJSON *job_public(fwl_server *s, const cJSON *j)
{
    cJSON *o = fwl_public_copy(j);
    const char *st = fwl_json_str(j, "state"), *name = fwl_json_str(j, "name");
    const char *id = name ? strrchr(name, '/') : NULL;
    if (o && st && !strcmp(st, "JOB_STATE_RUNNING") && id) {
        char url[256];
        bool v6 = strchr(s->cfg.host, ':') != NULL;
        snprintf(url, sizeof url, "http://%s%s%s:%d/direct/%s", v6 ? "[" : "", s->cfg.host, v6 ? "]" : "",
                 s->bound_port, id + 1);
        fwl_json_put(o, "directRouteHandle", cJSON_CreateString(url));
    }
    return o;
}

/* 404 unless the job exists (any state, tombstones included). */
static bool job_exists(fwl_server *s, const char *job, fwl_resp *out)
{
    char st[40];
    if (!fwl_job_state(s, job, st, sizeof st)) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob accounts/%s/rlorTrainerJobs/%.64s not found",
                       FWL_ACCOUNT, job);
        return false;
    }
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
    /* docs/protocol.md §1: GET /v1/accounts?pageSize=2 -> exactly one account */
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

/* What a create request asked for, validated (pointers into the parsed body). */
typedef struct job_spec {
    const char *id;
    const cJSON *tc;        /* trainingConfig (either casing) */
    const cJSON *dn;        /* displayName, may be NULL */
    const fwl_shape *shape; /* ?trainingShape=..., may be NULL */
} job_spec;

static const cJSON *either(const cJSON *o, const char *camel, const char *snake)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, camel);
    return v ? v : cJSON_GetObjectItemCaseSensitive(o, snake);
}

/* Integer fields and their ranges: a value outside (or not integral) is a 400, never a silent conversion. */
static const struct {
    bool in_tc; /* inside trainingConfig, else at the top level */
    const char *camel, *snake;
    double lo, hi;
} INT_FIELDS[] = {
    {true, "loraRank", "lora_rank", 0, 1024},
    {true, "maxContextLength", "max_context_length", 0, 16777216},
    {true, "acceleratorCount", "accelerator_count", 0, 1024},
    {false, "nodeCount", "node_count", 0, 1024},
    {false, "trainerReplicaCount", "trainer_replica_count", 0, 1024},
};

/* Validates the numeric fields; NULL when fine, else the message (in msg). */
static const char *job_numbers_check(const cJSON *body, const cJSON *tc, char *msg, size_t ml)
{
    for (size_t i = 0; i < sizeof INT_FIELDS / sizeof INT_FIELDS[0]; i++) {
        const cJSON *v = either(INT_FIELDS[i].in_tc ? tc : body, INT_FIELDS[i].camel, INT_FIELDS[i].snake);
        int64_t x;
        if (v && !cJSON_IsNull(v) && !fwl_json_num_in(v, INT_FIELDS[i].lo, INT_FIELDS[i].hi, &x)) {
            snprintf(msg, ml, "%s%s must be an integer in %.0f..%.0f", INT_FIELDS[i].in_tc ? "trainingConfig." : "",
                     INT_FIELDS[i].camel, INT_FIELDS[i].lo, INT_FIELDS[i].hi);
            return msg;
        }
    }
    const cJSON *lr = either(tc, "learningRate", "learning_rate");
    if (lr && !cJSON_IsNull(lr) && (!cJSON_IsNumber(lr) || !(lr->valuedouble >= 0 && lr->valuedouble <= 1e6)))
        return "trainingConfig.learningRate must be a number in 0..1e6";
    return NULL;
}

/* Validates the body of a create; NULL error text when fine (msg holds it when it needs the request's text). */
static const char *job_create_check(const cJSON *body, job_spec *sp, char *msg, size_t ml)
{
    sp->tc = either(body, "trainingConfig", "training_config");
    if (sp->tc && !cJSON_IsObject(sp->tc))
        return "trainingConfig must be an object";
    sp->dn = cJSON_GetObjectItemCaseSensitive(body, "displayName");
    if (sp->dn && (!cJSON_IsString(sp->dn) || strlen(sp->dn->valuestring) >= 64))
        return "displayName must be a string shorter than 64 characters";
    const cJSON *bm = sp->tc ? either(sp->tc, "baseModel", "base_model") : NULL;
    if (bm && !cJSON_IsString(bm))
        return "trainingConfig.baseModel must be a string";
    /* docs/protocol.md §3.1: the trainer needs to know what it trains */
    if (!bm || !*bm->valuestring)
        return "trainingConfig.baseModel is required (e.g. accounts/fireworks/models/<model>)";
    return job_numbers_check(body, sp->tc, msg, ml);
}

/* The stored record of a new job (with the internal _readyUs); NULL when out of memory. */
static cJSON *job_record_new(fwl_server *s, const cJSON *body, const job_spec *sp)
{
    int64_t now = fwl_now_us();
    char name[128], ts[48];
    snprintf(name, sizeof name, "accounts/%s/rlorTrainerJobs/%s", FWL_ACCOUNT, sp->id);
    fwl_format_time(now, ts, sizeof ts);
    cJSON *job = cJSON_CreateObject();
    cJSON_AddStringToObject(job, "name", name);
    if (sp->dn)
        cJSON_AddStringToObject(job, "displayName", sp->dn->valuestring);
    /* displayName "fwl-stay-pending" keeps a job in the capacity queue forever (tests of wait/cancel) */
    bool stay = sp->dn && !strcmp(sp->dn->valuestring, "fwl-stay-pending");
    cJSON_AddStringToObject(job, "state", stay                      ? "JOB_STATE_PENDING"
                                          : s->cfg.job_start_ms > 0 ? "JOB_STATE_CREATING"
                                                                    : "JOB_STATE_RUNNING");
    cJSON *status = cJSON_AddObjectToObject(job, "status");
    cJSON_AddStringToObject(status, "code", "OK");
    cJSON_AddStringToObject(status, "message", "");
    cJSON_AddStringToObject(job, "createTime", ts);
    cJSON_AddStringToObject(job, "updateTime", ts);
    cJSON *tcc = cJSON_AddObjectToObject(job, "trainingConfig");
    copy_field(tcc, sp->tc, "baseModel", "base_model");
    copy_field(tcc, sp->tc, "loraRank", "lora_rank");
    copy_field(tcc, sp->tc, "learningRate", "learning_rate");
    copy_field(tcc, sp->tc, "maxContextLength", "max_context_length");
    copy_field(tcc, sp->tc, "region", NULL);
    cJSON_AddBoolToObject(job, "serviceMode", true);
    if (sp->shape) {
        /* docs/protocol.md §3.1: on the shape path the shape decides the hardware */
        char ref[160];
        snprintf(ref, sizeof ref, "accounts/fireworks/trainingShapes/%s", sp->shape->id);
        cJSON_AddStringToObject(job, "trainingShape", ref);
        cJSON_AddStringToObject(tcc, "acceleratorType", sp->shape->accelerator_type);
        cJSON_AddNumberToObject(tcc, "acceleratorCount", sp->shape->accelerator_count);
        cJSON_AddNumberToObject(job, "nodeCount", sp->shape->node_count);
        if (!cJSON_GetObjectItemCaseSensitive(tcc, "maxContextLength"))
            cJSON_AddNumberToObject(tcc, "maxContextLength", sp->shape->max_context_length);
    } else {
        copy_field(tcc, sp->tc, "acceleratorType", "accelerator_type");
        copy_field(tcc, sp->tc, "acceleratorCount", "accelerator_count");
        copy_field(job, body, "nodeCount", "node_count");
    }
    if (!cJSON_GetObjectItemCaseSensitive(tcc, "maxContextLength"))
        cJSON_AddNumberToObject(tcc, "maxContextLength", 4096);
    copy_field(job, body, "hotLoadDeploymentId", "hot_load_deployment_id");
    copy_field(job, body, "forwardOnly", "forward_only");
    copy_field(job, body, "inactivityTimeout", "inactivity_timeout");
    copy_field(job, body, "purpose", NULL);
    cJSON_AddNumberToObject(job, "acceleratorSeconds", 0);
    if (!cJSON_AddNumberToObject(job, "_readyUs", (double)(now + (int64_t)s->cfg.job_start_ms * 1000)) || !tcc) {
        cJSON_Delete(job);
        return NULL;
    }
    return job;
}

/* Stores job unless the id is taken: 0 stored, 1 taken (*tomb: by a deleted job), -1 store failed. */
static int job_store_new(fwl_server *s, const char *id, const cJSON *job, bool *tomb)
{
    char st[40];
    int rc = fwl_job_create(s, id, job, st, sizeof st);
    *tomb = rc == 1 && (!strcmp(st, "JOB_STATE_DELETED") || !strcmp(st, "JOB_STATE_ARCHIVED"));
    return rc;
}

static void job_create(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    job_spec sp = {.id = fwl_req_query(r, "rlorTrainerJobId")};
    if (!sp.id || !*sp.id) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "query parameter rlorTrainerJobId is required");
        return;
    }
    if (!fwl_valid_id(sp.id)) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "invalid rlorTrainerJobId \"%.80s\": must match ^[a-z0-9-]{1,63}$", sp.id);
        return;
    }
    const char *shape = fwl_req_query(r, "trainingShape");
    if (shape && !(sp.shape = fwl_shape_find(shape))) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "training shape \"%.200s\" not found (GET /v1/accounts/local/trainingShapes lists them)", shape);
        return;
    }
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    char msg[160];
    const char *err = job_create_check(body, &sp, msg, sizeof msg);
    if (err) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", err);
        cJSON_Delete(body);
        return;
    }
    cJSON *job = job_record_new(s, body, &sp);
    cJSON_Delete(body);
    bool tomb = false;
    int rc = job ? job_store_new(s, sp.id, job, &tomb) : -2;
    if (rc == 1)
        fwl_resp_error(out, 409, FWL_GRPC_ALREADY_EXISTS, "RlorTrainerJob accounts/%s/rlorTrainerJobs/%s already exists%s",
                       FWL_ACCOUNT, sp.id, tomb ? " (deleted; the id cannot be reused)" : "");
    else if (rc == -2)
        fwl_resp_oom(out);
    else if (rc != 0)
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the job (see the server log)");
    else
        fwl_resp_json(out, 200, job_public(s, job));
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
        cJSON_AddItemToArray(arr, job_public(s, j));
        cJSON_Delete(j);
        total++;
    }
    fwl_free_list(names, n);
    cJSON_AddStringToObject(o, "nextPageToken", "");
    cJSON_AddNumberToObject(o, "totalSize", total);
    fwl_resp_json(out, 200, o);
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
        /* docs/protocol.md §3.3 */
        static const char *const resumable[] = {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED",
                                          "JOB_STATE_COMPLETED", "JOB_STATE_EXPIRED", NULL};
        if (!fwl_job_set_state(s, job, resumable, "JOB_STATE_CREATING", was, sizeof was) &&
            strcmp(was, "JOB_STATE_RUNNING") != 0 && strcmp(was, "JOB_STATE_CREATING") != 0) {
            fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION, "cannot resume job in state: %s", was);
            return;
        }
    } else if (!strcmp(r->method, "DELETE")) {
        /* docs/protocol.md §3.4: soft delete, second delete is a no-op */
        static const char *const any[] = {"JOB_STATE_UNSPECIFIED", "JOB_STATE_CREATING", "JOB_STATE_RUNNING",
                                    "JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                                    "JOB_STATE_PAUSED", "JOB_STATE_PENDING", "JOB_STATE_EXPIRED", "JOB_STATE_IDLE", NULL};
        fwl_job_set_state(s, job, any, "JOB_STATE_DELETED", was, sizeof was);
        fwl_trainer_drop_job(s, job);
        fwl_resp_json(out, 200, cJSON_CreateObject());
        return;
    }
    cJSON *j = fwl_job_load(s, job);
    if (!j) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob %.64s not found", job);
        return;
    }
    fwl_resp_json(out, 200, job_public(s, j));
    cJSON_Delete(j);
}

/* docs/protocol.md §3.5: oldest first, pageSize/pageToken, 4-segment names. */
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
        errno = 0;
        page = strtol(ps, &end, 10);
        if (*end || end == ps || errno == ERANGE || page < 0) {
            fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "pageSize must be a non-negative integer");
            return;
        }
        if (page == 0 || page > 1000)
            page = page == 0 ? 200 : 1000;
    }
    const char *pt = fwl_req_query(r, "pageToken");
    if (pt && *pt) {
        char *end;
        errno = 0;
        if (strncmp(pt, "o", 1) != 0 || (start = strtol(pt + 1, &end, 10)) < 0 || *end || end == pt + 1 ||
            errno == ERANGE || start > 1000000000L) {
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
            /* legacy job-level promote path (docs/protocol.md §3.6 endpoint history) */
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
