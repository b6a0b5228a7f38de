/*
 * How the commands print resources: "key: value" lines by default, one JSON object with
 * --json. Both show the same fields under the same names (the library's getters), so a
 * script can switch between them; a field the server did not send is "" (or 0).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

int cli_print_json(cJSON *o)
{
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        cli_error("out of memory");
        return CLI_EXIT_FAILED;
    }
    puts(text);
    cJSON_free(text);
    return CLI_EXIT_OK;
}

/* Adds each pair; returns the object, or NULL (and frees it) if any allocation failed. */
static cJSON *with_strings(cJSON *o, const char *const *kv, size_t n)
{
    for (size_t i = 0; o && i + 1 < n; i += 2)
        if (!cJSON_AddStringToObject(o, kv[i], kv[i + 1])) {
            cJSON_Delete(o);
            o = NULL;
        }
    return o;
}

cJSON *cli_job_json(const fwt_job *j)
{
    const char *kv[] = {"name",          fwt_job_name(j),
                        "job_id",        fwt_job_id(j),
                        "account_id",    fwt_job_account_id(j),
                        "state",         fwt_job_state(j),
                        "status_message", fwt_job_status_message(j),
                        "create_time",   fwt_job_create_time(j),
                        "base_model",    fwt_job_base_model(j),
                        "hot_load_deployment_id", fwt_job_hot_load_deployment_id(j),
                        "trainer_url",   fwt_job_trainer_url(j)};
    cJSON *o = with_strings(cJSON_CreateObject(), kv, sizeof kv / sizeof kv[0]);
    if (o && (!cJSON_AddNumberToObject(o, "lora_rank", fwt_job_lora_rank(j)) ||
              !cJSON_AddBoolToObject(o, "tombstone", fwt_job_is_tombstone(j)))) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

void cli_print_job(const fwt_job *j)
{
    printf("job: %s\nname: %s\nstate: %s\n", fwt_job_id(j), fwt_job_name(j), fwt_job_state(j));
    if (*fwt_job_status_message(j))
        printf("status_message: %s\n", fwt_job_status_message(j));
    printf("base_model: %s\nlora_rank: %d\ncreate_time: %s\n", fwt_job_base_model(j), (int)fwt_job_lora_rank(j),
           fwt_job_create_time(j));
    if (*fwt_job_hot_load_deployment_id(j))
        printf("hot_load_deployment_id: %s\n", fwt_job_hot_load_deployment_id(j));
    printf("trainer_url: %s\n", fwt_job_trainer_url(j));
}

cJSON *cli_deployment_json(const fwt_deployment *d)
{
    const char *kv[] = {"name",               fwt_deployment_name(d),
                        "deployment_id",      fwt_deployment_id(d),
                        "state",              fwt_deployment_state(d),
                        "base_model",         fwt_deployment_base_model(d),
                        "hot_load_trainer_job", fwt_deployment_hot_load_trainer_job(d),
                        "hot_load_bucket_url", fwt_deployment_hot_load_bucket_url(d)};
    return with_strings(cJSON_CreateObject(), kv, sizeof kv / sizeof kv[0]);
}

void cli_print_deployment(const fwt_deployment *d)
{
    printf("deployment: %s\nname: %s\nstate: %s\nbase_model: %s\n", fwt_deployment_id(d), fwt_deployment_name(d),
           fwt_deployment_state(d), fwt_deployment_base_model(d));
    if (*fwt_deployment_hot_load_trainer_job(d))
        printf("hot_load_trainer_job: %s\n", fwt_deployment_hot_load_trainer_job(d));
    if (*fwt_deployment_hot_load_bucket_url(d))
        printf("hot_load_bucket_url: %s\n", fwt_deployment_hot_load_bucket_url(d));
}

cJSON *cli_hotload_status_json(const fwt_hotload_status *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "replicas") : NULL;
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < fwt_hotload_status_replica_count(s); i++) {
        cJSON *r = cJSON_CreateObject();
        const char *cur = fwt_hotload_status_current_identity(s, i);
        const char *target = fwt_hotload_status_target_identity(s, i);
        ok = r && cJSON_AddItemToArray(arr, r);
        ok = ok && (cur ? cJSON_AddStringToObject(r, "current_snapshot_identity", cur) != NULL
                        : cJSON_AddNullToObject(r, "current_snapshot_identity") != NULL);
        ok = ok && cJSON_AddBoolToObject(r, "readiness", fwt_hotload_status_ready(s, i)) &&
             cJSON_AddStringToObject(r, "stage", fwt_hotload_status_stage(s, i));
        ok = ok && (target ? cJSON_AddStringToObject(r, "target_snapshot_identity", target) != NULL
                           : cJSON_AddNullToObject(r, "target_snapshot_identity") != NULL);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void cli_print_hotload_status(const fwt_hotload_status *s)
{
    size_t n = fwt_hotload_status_replica_count(s);
    printf("replicas: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *cur = fwt_hotload_status_current_identity(s, i);
        const char *target = fwt_hotload_status_target_identity(s, i);
        printf("replica %zu: identity %s, %s, stage %s, target %s\n", i, cur ? cur : "(none)",
               fwt_hotload_status_ready(s, i) ? "ready" : "not ready",
               *fwt_hotload_status_stage(s, i) ? fwt_hotload_status_stage(s, i) : "(none)", target ? target : "(none)");
    }
}

int cli_parse_int32(const char *opt, const char *s, int32_t min, int32_t max, int32_t *out)
{
    int64_t v = 0;
    int neg = s && s[0] == '-';
    if (cli_parse_count(neg ? s + 1 : s, &v) != 0 || (neg ? -v : v) < min || (neg ? -v : v) > max) {
        cli_error("%s needs an integer from %" PRId32 " to %" PRId32 ", got '%s'", opt, min, max, s ? s : "");
        return -1;
    }
    *out = (int32_t)(neg ? -v : v);
    return 0;
}

int cli_parse_seconds(const char *opt, const char *s, int64_t *out_ms)
{
    char *end = NULL;
    errno = 0;
    double secs = s && *s ? strtod(s, &end) : 0;
    if (!s || !*s || errno || *end || !(secs > 0) || secs > 86400.0 * 7) {
        cli_error("%s needs a number of seconds above 0 (at most a week), got '%s'", opt, s ? s : "");
        return -1;
    }
    *out_ms = (int64_t)(secs * 1000.0 + 0.5);
    if (*out_ms < 1)
        *out_ms = 1;
    return 0;
}
