/* fwt_job: a trainer job resource parsed from the control plane (docs/protocol.md §3.2). */
#include "api/jobs_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/future_impl.h"
#include "json/json.h"

int fwt__job_state_is_tombstone(const char *state)
{
    return state && (strcmp(state, "JOB_STATE_DELETED") == 0 || strcmp(state, "JOB_STATE_ARCHIVED") == 0);
}

/* Account segment of "accounts/<a>/..."; a fresh copy or NULL. */
static char *account_of(const char *name)
{
    if (!name || strncmp(name, "accounts/", 9) != 0)
        return NULL;
    const char *a = name + 9;
    const char *slash = strchr(a, '/');
    size_t n = slash ? (size_t)(slash - a) : strlen(a);
    return n ? fwt__strndup(a, n) : NULL;
}

/* trainingConfig.maxContextLength: a JSON number, or the decimal string proto3 JSON uses for 64-bit ints. */
static int32_t context_length_of(const cJSON *tc)
{
    const cJSON *v = tc ? fwt__json_get(tc, "maxContextLength") : NULL;
    if (!v)
        v = tc ? fwt__json_get(tc, "max_context_length") : NULL;
    double d = 0;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring[0] >= '0' && v->valuestring[0] <= '9' &&
             strspn(v->valuestring, "0123456789") == strlen(v->valuestring) && strlen(v->valuestring) <= 10)
        d = strtod(v->valuestring, NULL);
    return d >= 1 && d <= INT32_MAX && d == (double)(int64_t)d ? (int32_t)d : 0;
}

/*
 * Only what names the job is required, and a caller that asked for a job knows its id (`id_hint`): a body
 * without `name` is read as that job (docs/protocol.md §3.2: the readiness wait needs only `state`). Every
 * other field is optional; a missing or mistyped one reads as absent.
 */
int fwt__job_from_json(fwt_job **out, const cJSON *obj, const char *control_base, const char *account_hint,
                       const char *id_hint)
{
    *out = NULL;
    if (!cJSON_IsObject(obj))
        return fwt__last_set(FWT_EPROTO, "job response is not a JSON object");
    const char *name = NULL;
    char *made = NULL;
    if (fwt__json_get_string(obj, "name", &name) != FWT_OK || !*name) {
        if (!id_hint || !*id_hint)
            return fwt__last_set(FWT_EPROTO, "job response has no name");
        made = fwt__asprintf("accounts/%s/rlorTrainerJobs/%s", account_hint ? account_hint : "", id_hint);
        if (!made)
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        name = made;
    }
    const char *id = fwt__last_segment(name);
    if (!*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        int rc = fwt__last_set(FWT_EPROTO, "job name \"%.200s\" has no usable id", name);
        fwt__free_mem(made);
        return rc;
    }
    fwt_job *j = fwt__calloc(1, sizeof *j);
    if (!j) {
        fwt__free_mem(made);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    j->name = fwt__strdup(name);
    j->id = fwt__strdup(id);
    j->account = account_of(name);
    fwt__free_mem(made);
    name = id = NULL;
    if (!j->account)
        j->account = fwt__strdup(account_hint ? account_hint : "");
    j->state = fwt__json_dup(obj, "state", NULL);
    const cJSON *status = NULL;
    const char *msg = NULL;
    if (fwt__json_get_object(obj, "status", &status) == FWT_OK)
        (void)fwt__json_get_string(status, "message", &msg);
    if (!msg || !*msg)
        (void)fwt__json_get_string2(obj, "statusMessage", "message", &msg);
    j->status_message = fwt__strdup(msg ? msg : "");
    j->create_time = fwt__json_dup(obj, "createTime", "create_time");
    const cJSON *tc = NULL;
    (void)fwt__json_get_object(obj, "trainingConfig", &tc);
    j->base_model = fwt__json_dup(tc, "baseModel", "base_model");
    int64_t rank = 0;
    if (tc && fwt__json_get_int64(tc, "loraRank", &rank) == FWT_OK && rank > 0 && rank < INT32_MAX)
        j->lora_rank = (int32_t)rank;
    j->max_context_length = context_length_of(tc);
    j->hot_load_deployment_id = fwt__json_dup(obj, "hotLoadDeploymentId", "hot_load_deployment_id");
    j->direct_route_handle = fwt__json_dup(obj, "directRouteHandle", "direct_route_handle");
    char *acc_esc = fwt__url_escape(j->account ? j->account : "");
    char *id_esc = fwt__url_escape(j->id ? j->id : "");
    if (acc_esc && id_esc && control_base)
        j->trainer_url = fwt__asprintf("%s/training/v1/rlorTrainerJobs/%s/%s", control_base, acc_esc, id_esc);
    fwt__free_mem(acc_esc);
    fwt__free_mem(id_esc);
    if (!j->name || !j->id || !j->account || !j->state || !j->status_message || !j->create_time || !j->base_model ||
        !j->hot_load_deployment_id || !j->direct_route_handle || !j->trainer_url) {
        fwt_job_free(j);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    *out = j;
    return FWT_OK;
}

void fwt_job_free(fwt_job *j)
{
    if (!j)
        return;
    fwt__free_mem(j->name);
    fwt__free_mem(j->id);
    fwt__free_mem(j->account);
    fwt__free_mem(j->state);
    fwt__free_mem(j->status_message);
    fwt__free_mem(j->create_time);
    fwt__free_mem(j->base_model);
    fwt__free_mem(j->hot_load_deployment_id);
    fwt__free_mem(j->direct_route_handle);
    fwt__free_mem(j->trainer_url);
    fwt__free_mem(j);
}

#define JOB_GETTER(fn, field)                                                                                          \
    const char *fn(const fwt_job *j) { return j && j->field ? j->field : ""; }
JOB_GETTER(fwt_job_name, name)
JOB_GETTER(fwt_job_id, id)
JOB_GETTER(fwt_job_account_id, account)
JOB_GETTER(fwt_job_state, state)
JOB_GETTER(fwt_job_status_message, status_message)
JOB_GETTER(fwt_job_create_time, create_time)
JOB_GETTER(fwt_job_base_model, base_model)
JOB_GETTER(fwt_job_hot_load_deployment_id, hot_load_deployment_id)
JOB_GETTER(fwt_job_direct_route_handle, direct_route_handle)
JOB_GETTER(fwt_job_trainer_url, trainer_url)

int fwt_job_is_tombstone(const fwt_job *j)
{
    return j ? fwt__job_state_is_tombstone(j->state) : 0;
}

int32_t fwt_job_lora_rank(const fwt_job *j)
{
    return j ? j->lora_rank : 0;
}

int32_t fwt_job_max_context_length(const fwt_job *j)
{
    return j ? j->max_context_length : 0;
}

int fwt_job_ready_route(const fwt_job *j)
{
    return j ? j->ready_route : FWT_JOB_ROUTE_NONE;
}

int fwt_future_take_job(fwt_job **out, fwt_future *f)
{
    if (!out || !f)
        return fwt__last_set(FWT_EINVAL, "out and future are required");
    *out = NULL;
    void *v = NULL;
    int rc = fwt__future_take(f, FWT__VALUE_JOB, &v);
    if (rc == FWT_OK)
        *out = v;
    return rc;
}

const fwt__value_type fwt__vt_job = {"job"};
