/* Deployments: get, get-or-create, re-attach to a trainer (docs/protocol.md §3.7, §11.2). */
#include "api/deployments_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

int fwt__deployment_from_json(fwt_deployment **out, const cJSON *obj)
{
    *out = NULL;
    const char *name = NULL;
    if (!cJSON_IsObject(obj) || fwt__json_get_string(obj, "name", &name) != FWT_OK || !*name)
        return fwt__last_set(FWT_EPROTO, "deployment response has no name");
    fwt_deployment *d = fwt__calloc(1, sizeof *d);
    if (!d)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    d->name = fwt__strdup(name);
    d->id = fwt__strdup(fwt__last_segment(name));
    d->state = fwt__json_dup(obj, "state", NULL);
    d->base_model = fwt__json_dup(obj, "baseModel", "base_model");
    d->trainer_job = fwt__json_dup(obj, "hotLoadTrainerJob", "hot_load_trainer_job");
    d->bucket_url = fwt__json_dup(obj, "hotLoadBucketUrl", "hot_load_bucket_url");
    if (!d->name || !d->id || !d->state || !d->base_model || !d->trainer_job || !d->bucket_url) {
        fwt_deployment_free(d);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    *out = d;
    return FWT_OK;
}

void fwt_deployment_free(fwt_deployment *d)
{
    if (!d)
        return;
    fwt__free_mem(d->name);
    fwt__free_mem(d->id);
    fwt__free_mem(d->state);
    fwt__free_mem(d->base_model);
    fwt__free_mem(d->trainer_job);
    fwt__free_mem(d->bucket_url);
    fwt__free_mem(d);
}

#define DEP_GETTER(fn, field)                                                                                          \
    const char *fn(const fwt_deployment *d) { return d && d->field ? d->field : ""; }
DEP_GETTER(fwt_deployment_name, name)
DEP_GETTER(fwt_deployment_id, id)
DEP_GETTER(fwt_deployment_state, state)
DEP_GETTER(fwt_deployment_base_model, base_model)
DEP_GETTER(fwt_deployment_hot_load_trainer_job, trainer_job)
DEP_GETTER(fwt_deployment_hot_load_bucket_url, bucket_url)

int fwt__deployment_url(char **out, fwt_client *c, const char *deployment_id, const char *suffix)
{
    *out = NULL;
    int rc = fwt__check_id("deployment_id", deployment_id);
    return rc != FWT_OK ? rc : fwt__account_url(out, c, NULL, "deployments", deployment_id, suffix);
}

static int fetch(fwt_deployment **out, fwt_client *c, const char *deployment_id, const char *method, const char *suffix,
                 const cJSON *body)
{
    char *url = NULL;
    int rc = fwt__deployment_url(&url, c, deployment_id, suffix);
    if (rc != FWT_OK)
        return rc;
    fwt__reply r;
    int64_t timeout = strcmp(method, "GET") == 0 ? FWT__CP_GET_TIMEOUT_MS : FWT__CP_CREATE_TIMEOUT_MS;
    rc = fwt__cp_call(c, method, url, body, timeout, &r);
    if (rc == FWT_OK) {
        if (out)
            rc = fwt__deployment_from_json(out, r.json);
        if (rc == FWT_OK)
            fwt__last_ok();
    } else if (rc == FWT_ENOTFOUND) {
        rc = fwt__last_set_replyf(&r, "deployment \"%s\" not found", deployment_id);
    }
    fwt__reply_clear(&r);
    fwt__free_mem(url);
    return rc;
}

int fwt_deployment_get(fwt_deployment **out, fwt_client *c, const char *deployment_id)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    return fetch(out, c, deployment_id, "GET", "", NULL);
}

int fwt_deployment_create_options_init(fwt_deployment_create_options *o, unsigned int version)
{
    if (!o || version != FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_deployment_create_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->max_replica_count = 1;
    o->description = "Fireworks training deployment";
    o->accelerator_type = "NVIDIA_H200_141GB";
    o->hot_load_bucket_type = "FW_HOSTED"; /* the official SDK's default (docs/protocol.md §3.7) */
    return FWT_OK;
}

/* "accounts/<a>/rlorTrainerJobs/<j>" from a bare id or a full name. */
static char *trainer_job_name(fwt_client *c, const char *job)
{
    if (strchr(job, '/'))
        return strncmp(job, "accounts/", 9) == 0 && strstr(job, "/rlorTrainerJobs/") ? fwt__strdup(job) : NULL;
    if (fwt__check_id("job_id", job) != FWT_OK)
        return NULL;
    const char *account = NULL;
    if (fwt__client_account(c, &account) != FWT_OK)
        return NULL;
    return fwt__asprintf("accounts/%s/rlorTrainerJobs/%s", account, job);
}

static cJSON *create_body(fwt_client *c, const fwt_deployment_create_options *o, int *bad_job)
{
    *bad_job = 0;
    cJSON *b = cJSON_CreateObject();
    if (!b)
        return NULL;
    int ok = 1;
    ok &= fwt__json_add_string(b, "baseModel", o->base_model) == FWT_OK;
    ok &= fwt__json_add_string(b, "description",
                               o->description && *o->description ? o->description : "Fireworks training deployment") ==
          FWT_OK;
    ok &= fwt__json_add_int64(b, "minReplicaCount", o->min_replica_count) == FWT_OK;
    ok &= fwt__json_add_int64(b, "maxReplicaCount", o->max_replica_count > 0 ? o->max_replica_count : 1) == FWT_OK;
    ok &= fwt__json_add_bool(b, "enableHotLoad", !o->disable_hot_load) == FWT_OK;
    ok &= fwt__json_add_bool(b, "forTraining", o->for_training != 0) == FWT_OK;
    if (o->region && *o->region) {
        cJSON *pl = cJSON_AddObjectToObject(b, "placement");
        ok &= pl && fwt__json_add_string(pl, "region", o->region) == FWT_OK;
    }
    /* NULL = the default; "" = the caller asked for none. */
    const char *bucket = o->hot_load_bucket_type ? o->hot_load_bucket_type : "FW_HOSTED";
    if (*bucket)
        ok &= fwt__json_add_string(b, "hotLoadBucketType", bucket) == FWT_OK;
    if (o->hot_load_trainer_job && *o->hot_load_trainer_job) {
        char *tj = trainer_job_name(c, o->hot_load_trainer_job);
        if (!tj) {
            *bad_job = 1;
            cJSON_Delete(b);
            return NULL;
        }
        ok &= fwt__json_add_string(b, "hotLoadTrainerJob", tj) == FWT_OK;
        fwt__free_mem(tj);
    }
    if (o->deployment_shape && *o->deployment_shape)
        ok &= fwt__json_add_string(b, "deploymentShape", o->deployment_shape) == FWT_OK;
    else
        ok &= fwt__json_add_string(b, "acceleratorType", o->accelerator_type && *o->accelerator_type
                                                             ? o->accelerator_type
                                                             : "NVIDIA_H200_141GB") == FWT_OK;
    if (!ok) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

int fwt_deployment_create(fwt_deployment **out, fwt_client *c, const char *deployment_id,
                          const fwt_deployment_create_options *opts)
{
    if (!out || !c || !opts)
        return fwt__last_set(FWT_EINVAL, "out, client and opts are required");
    *out = NULL;
    if (opts->version != FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_deployment_create_options version %u", opts->version);
    if (!opts->base_model || !*opts->base_model)
        return fwt__last_set(FWT_EINVAL, "base_model is required");
    if (opts->min_replica_count < 0 || opts->max_replica_count < 0)
        return fwt__last_set(FWT_EINVAL, "replica counts must be >= 0");
    int rc = fwt__check_id("deployment_id", deployment_id);
    if (rc != FWT_OK)
        return rc;
    /* GET first (§11.2). */
    rc = fetch(out, c, deployment_id, "GET", "", NULL);
    if (rc != FWT_ENOTFOUND)
        return rc;
    int bad_job = 0;
    cJSON *body = create_body(c, opts, &bad_job);
    if (!body)
        return bad_job ? fwt__last_set(FWT_EINVAL, "hot_load_trainer_job \"%.200s\" is neither a job id nor "
                                                   "\"accounts/<a>/rlorTrainerJobs/<job>\"",
                                       opts->hot_load_trainer_job)
                       : fwt__last_set(FWT_ENOMEM, "out of memory");
    char *query = fwt__asprintf("?deploymentId=%s%s%s", deployment_id,
                                opts->skip_shape_validation ? "&skipShapeValidation=true" : "",
                                opts->disable_speculative_decoding ? "&disableSpeculativeDecoding=true" : "");
    char *url = NULL;
    rc = query ? fwt__account_url(&url, c, NULL, "deployments", NULL, query)
               : fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__free_mem(query);
    if (rc != FWT_OK) {
        cJSON_Delete(body);
        return rc;
    }
    fwt__reply r;
    rc = fwt__cp_call(c, "POST", url, body, FWT__CP_CREATE_TIMEOUT_MS, &r);
    if (rc == FWT_OK) {
        rc = fwt__deployment_from_json(out, r.json);
        if (rc == FWT_OK)
            fwt__last_ok();
    } else if (r.http_status == 409) {
        /* Created concurrently (or by our own retried POST): use it (§11.2). */
        rc = fetch(out, c, deployment_id, "GET", "", NULL);
    }
    fwt__reply_clear(&r);
    fwt__free_mem(url);
    cJSON_Delete(body);
    return rc;
}

int fwt_deployment_reattach(fwt_deployment **out, fwt_client *c, const char *deployment_id, const char *job_id)
{
    if (out)
        *out = NULL;
    if (!c || !job_id || !*job_id)
        return fwt__last_set(FWT_EINVAL, "client and job_id are required");
    int rc = fwt__check_id("deployment_id", deployment_id);
    if (rc != FWT_OK)
        return rc;
    char *tj = trainer_job_name(c, job_id);
    if (!tj)
        return fwt__last_set(FWT_EINVAL, "job_id \"%.200s\" is neither a job id nor \"accounts/<a>/rlorTrainerJobs/<job>\"",
                             job_id);
    cJSON *body = cJSON_CreateObject();
    if (!body || fwt__json_add_string(body, "hotLoadTrainerJob", tj) != FWT_OK) {
        cJSON_Delete(body);
        fwt__free_mem(tj);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__free_mem(tj);
    fwt_deployment *d = NULL;
    rc = fetch(&d, c, deployment_id, "PATCH", "?updateMask=hot_load_trainer_job", body);
    cJSON_Delete(body);
    if (rc == FWT_OK && out)
        *out = d;
    else
        fwt_deployment_free(d);
    return rc;
}

const fwt__value_type fwt__vt_deployment = {"deployment"};
