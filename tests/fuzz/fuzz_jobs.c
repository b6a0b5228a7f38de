/*
 * Trainer-job resources (src/api/jobs_object.c): the body of a job get/create/list row. Properties:
 * a job that parses has a name and an id, and its trainer URL (built from server-supplied
 * account and job ids) stays under the control base with no dot segment.
 */
#include "fuzz.h"

#include "api/jobs_internal.h"
#include "json/json.h"

#define BASE "http://127.0.0.1:8"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = fwt__json_parse((const char *)data, size);
    if (!j)
        return 0;
    for (int hint = 0; hint < 2; hint++) {
        fwt_job *job = NULL;
        if (fwt__job_from_json(&job, j, BASE, hint ? "acct" : NULL, hint ? "fuzz-job" : NULL) != FWT_OK) {
            FUZZ_CHECK(job == NULL);
            continue;
        }
        FUZZ_CHECK(job != NULL);
        fuzz_touch(fwt_job_name(job));
        fuzz_touch(fwt_job_id(job));
        fuzz_touch(fwt_job_account_id(job));
        fuzz_touch(fwt_job_state(job));
        fuzz_touch(fwt_job_status_message(job));
        fuzz_touch(fwt_job_create_time(job));
        fuzz_touch(fwt_job_base_model(job));
        fuzz_touch(fwt_job_hot_load_deployment_id(job));
        fuzz_touch(fwt_job_direct_route_handle(job));
        (void)fwt_job_is_tombstone(job);
        (void)fwt_job_lora_rank(job);
        const char *tu = fwt_job_trainer_url(job);
        if (tu && *tu) {
            FUZZ_CHECK(strncmp(tu, BASE "/", sizeof BASE) == 0);
            FUZZ_CHECK(!strstr(tu, "/../") && !strstr(tu, "/./"));
            size_t n = strlen(tu);
            FUZZ_CHECK(!(n >= 3 && strcmp(tu + n - 3, "/..") == 0) && !(n >= 2 && strcmp(tu + n - 2, "/.") == 0));
        }
        fwt_job_free(job);
    }
    cJSON_Delete(j);
    return 0;
}
