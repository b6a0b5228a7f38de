/*
 * Trainer job create with a client-chosen id (docs/protocol.md §3.1, §11.4). Three paths, as the official
 * SDK has them: shape, auto-shape (opt-in) and manual (the default). A field the chosen path cannot carry is
 * refused rather than dropped, so what the caller set is either sent or reported.
 */
#include "api/jobs_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

int fwt_job_create_options_init(fwt_job_create_options *o, unsigned int version)
{
    if (!o || version != FWT_JOB_CREATE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_job_create_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->learning_rate = 1e-5;
    return FWT_OK;
}

static int add_extra_args(cJSON *tc, const char *args)
{
    cJSON *arr = cJSON_AddArrayToObject(tc, "extraArgs");
    if (!arr)
        return FWT_ENOMEM;
    const char *p = args;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p > s) {
            char *tok = fwt__strndup(s, (size_t)(p - s));
            cJSON *item = tok ? cJSON_CreateString(tok) : NULL;
            fwt__free_mem(tok);
            if (!item)
                return FWT_ENOMEM;
            cJSON_AddItemToArray(arr, item);
        }
    }
    return FWT_OK;
}

typedef enum { PATH_MANUAL, PATH_AUTO, PATH_SHAPE } create_path;

static create_path path_of(const fwt_job_create_options *o)
{
    if (o->training_shape && *o->training_shape)
        return PATH_SHAPE;
    return o->auto_shape ? PATH_AUTO : PATH_MANUAL;
}

static cJSON *build_body(const fwt_job_create_options *o)
{
    int ok = 1;
    cJSON *b = cJSON_CreateObject();
    cJSON *tc = b ? cJSON_AddObjectToObject(b, "trainingConfig") : NULL;
    if (!tc) {
        cJSON_Delete(b);
        return NULL;
    }
    /* validate() refused every field the path cannot carry: the tests below only skip unset fields. */
    int manual = path_of(o) == PATH_MANUAL;
    ok &= fwt__json_add_bool(b, "serviceMode", 1) == FWT_OK;
    ok &= fwt__json_add_bool(b, "keepAlive", 0) == FWT_OK;
    ok &= fwt__json_add_string(b, "dataset", "") == FWT_OK;
    ok &= fwt__json_add_string(tc, "baseModel", o->base_model) == FWT_OK;
    ok &= fwt__json_add_int64(tc, "loraRank", o->lora_rank) == FWT_OK;
    ok &= fwt__json_add_double(tc, "learningRate", o->learning_rate > 0 ? o->learning_rate : 1e-5) == FWT_OK;
    if (o->max_context_length > 0)
        ok &= fwt__json_add_int64(tc, "maxContextLength", o->max_context_length) == FWT_OK;
    if (o->custom_image_tag && *o->custom_image_tag)
        ok &= fwt__json_add_string(tc, "customImageTag", o->custom_image_tag) == FWT_OK;
    if (o->accelerator_type && *o->accelerator_type)
        ok &= fwt__json_add_string(tc, "acceleratorType", o->accelerator_type) == FWT_OK;
    if (o->accelerator_count > 0)
        ok &= fwt__json_add_int64(tc, "acceleratorCount", o->accelerator_count) == FWT_OK;
    if (o->region && *o->region)
        ok &= fwt__json_add_string(tc, "region", o->region) == FWT_OK;
    if (o->extra_args && *o->extra_args)
        ok &= add_extra_args(tc, o->extra_args) == FWT_OK;
    if (manual)
        ok &= fwt__json_add_int64(b, "nodeCount", o->node_count > 0 ? o->node_count : 1) == FWT_OK;
    if (o->trainer_replica_count > 0)
        ok &= fwt__json_add_int64(b, "trainerReplicaCount", o->trainer_replica_count) == FWT_OK;
    if (o->display_name && *o->display_name)
        ok &= fwt__json_add_string(b, "displayName", o->display_name) == FWT_OK;
    if (o->hot_load_deployment_id && *o->hot_load_deployment_id)
        ok &= fwt__json_add_string(b, "hotLoadDeploymentId", o->hot_load_deployment_id) == FWT_OK;
    if (o->forward_only)
        ok &= fwt__json_add_bool(b, "forwardOnly", 1) == FWT_OK;
    if (o->purpose && *o->purpose)
        ok &= fwt__json_add_string(b, "purpose", o->purpose) == FWT_OK;
    if (o->inactivity_timeout_s > 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llds", (long long)o->inactivity_timeout_s);
        ok &= fwt__json_add_string(b, "inactivityTimeout", buf) == FWT_OK;
    }
    if (o->disable_inactivity_cleanup)
        ok &= fwt__json_add_bool(b, "disableInactivityCleanup", 1) == FWT_OK;
    if (!ok) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

static int validate(const fwt_job_create_options *o)
{
    if (o->version != FWT_JOB_CREATE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_job_create_options version %u", o->version);
    if (!o->base_model || !*o->base_model)
        return fwt__last_set(FWT_EINVAL, "base_model is required");
    if (o->job_id && fwt__check_id("job_id", o->job_id) != FWT_OK)
        return FWT_EINVAL;
    if (o->display_name && strlen(o->display_name) >= 64)
        return fwt__last_set(FWT_EINVAL, "display_name must be shorter than 64 characters");
    if (o->reserved0)
        return fwt__last_set(FWT_EINVAL, "fwt_job_create_options.reserved0 must be 0");
    if (o->lora_rank < 0 || o->max_context_length < 0 || o->accelerator_count < 0 || o->node_count < 0 ||
        o->trainer_replica_count < 0 || o->inactivity_timeout_s < 0)
        return fwt__last_set(FWT_EINVAL, "lora_rank, max_context_length, accelerator_count, node_count, "
                                         "trainer_replica_count and inactivity_timeout_s must be >= 0");
    int has_type = o->accelerator_type && *o->accelerator_type;
    /* Never drop a set field: name the first one the chosen path cannot carry (docs/protocol.md §3.1). */
    const char *stray = NULL;
    switch (path_of(o)) {
    case PATH_SHAPE:
        stray = o->auto_shape ? "auto_shape"
                : has_type ? "accelerator_type"
                : o->accelerator_count ? "accelerator_count"
                : o->node_count ? "node_count"
                : o->max_context_length ? "max_context_length"
                : NULL;
        if (stray)
            return fwt__last_set(FWT_EINVAL, "training_shape cannot be combined with %s: the shape fixes it", stray);
        break;
    case PATH_AUTO:
        stray = has_type ? "accelerator_type"
                : o->accelerator_count ? "accelerator_count"
                : o->node_count ? "node_count"
                : o->skip_validations ? "skip_validations"
                : NULL;
        if (stray)
            return fwt__last_set(FWT_EINVAL,
                                 "auto_shape cannot be combined with %s: the auto-shape path does not send it", stray);
        break;
    case PATH_MANUAL:
        break;
    }
    return FWT_OK;
}

/* 409: the follow-up GET decides (§11.4). */
static int resolve_conflict(fwt_job **out, fwt_client *c, const char *job_id, fwt__reply *conflict)
{
    fwt__err orig;
    fwt__err_init(&orig);
    fwt__err_copy(&orig, &conflict->err);
    fwt_job *j = NULL;
    int rc = fwt_job_get(&j, c, job_id);
    if (rc == FWT_ENOTFOUND) {
        fwt__last_set_err(&orig);
        rc = orig.pub.code;
        fwt__err_clear(&orig);
        return rc;
    }
    fwt__err_clear(&orig);
    if (rc != FWT_OK)
        return rc;
    if (fwt_job_is_tombstone(j)) {
        const char *why = fwt_job_status_message(j);
        rc = fwt__last_set(FWT_ECONFLICT,
                           "trainer job id \"%s\" was deleted or archived (%s%s%.300s) and cannot be recreated with the "
                           "same ID; choose another job_id",
                           job_id, fwt_job_state(j), *why ? ": " : "", why);
        fwt_job_free(j);
        return rc;
    }
    *out = j;
    fwt__last_ok();
    return FWT_OK;
}

int fwt_job_create(fwt_job **out, fwt_client *c, const fwt_job_create_options *opts)
{
    if (!out || !c || !opts)
        return fwt__last_set(FWT_EINVAL, "out, client and opts are required");
    *out = NULL;
    int rc = validate(opts);
    if (rc != FWT_OK)
        return rc;
    char gen[40];
    const char *job_id = opts->job_id;
    if (!job_id) {
        /* The official SDK's default id pattern (docs/protocol.md §3.1). */
        char hex[9];
        if (fwt__random_hex(hex, 4) != FWT_OK)
            return fwt__last_set(FWT_EIO, "cannot generate a job id");
        snprintf(gen, sizeof gen, "training-api-service-%s", hex);
        job_id = gen;
    }
    char *query = NULL;
    switch (path_of(opts)) {
    case PATH_SHAPE: {
        char *shape = fwt__url_escape(opts->training_shape);
        query = shape ? fwt__asprintf("?trainingShape=%s%s&rlorTrainerJobId=%s", shape,
                                      opts->skip_validations ? "&skipValidations=true" : "", job_id)
                      : NULL;
        fwt__free_mem(shape);
        break;
    }
    case PATH_AUTO: query = fwt__asprintf("?rlorTrainerJobId=%s", job_id); break;
    case PATH_MANUAL: query = fwt__asprintf("?skipValidations=true&rlorTrainerJobId=%s", job_id); break;
    }
    if (!query)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    char *url = NULL;
    rc = fwt__account_url(&url, c, NULL, "rlorTrainerJobs", NULL, query);
    fwt__free_mem(query);
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    (void)fwt__client_account(c, &account); /* resolved above */
    char *base = fwt__control_base(c);
    cJSON *body = build_body(opts);
    if (!base || !body) {
        fwt__free_mem(url);
        fwt__free_mem(base);
        cJSON_Delete(body);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__reply r;
    rc = fwt__cp_call(c, "POST", url, body, FWT__CP_CREATE_TIMEOUT_MS, &r);
    if (rc == FWT_OK) {
        rc = fwt__job_from_json(out, r.json, base, account, job_id);
        if (rc == FWT_OK)
            fwt__last_ok();
    } else if (r.http_status == 409) {
        rc = resolve_conflict(out, c, job_id, &r);
    }
    fwt__reply_clear(&r);
    fwt__free_mem(url);
    fwt__free_mem(base);
    cJSON_Delete(body);
    return rc;
}
