/* Deployment resources (src/api/deployments.c): the body of a deployment get. */
#include "fuzz.h"

#include "api/deployments_internal.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = fwt__json_parse((const char *)data, size);
    if (!j)
        return 0;
    fwt_deployment *d = NULL;
    if (fwt__deployment_from_json(&d, j) == FWT_OK) {
        FUZZ_CHECK(d != NULL);
        fuzz_touch(fwt_deployment_name(d));
        fuzz_touch(fwt_deployment_id(d));
        fuzz_touch(fwt_deployment_state(d));
        fuzz_touch(fwt_deployment_base_model(d));
        fuzz_touch(fwt_deployment_hot_load_trainer_job(d));
        fuzz_touch(fwt_deployment_hot_load_bucket_url(d));
        fwt_deployment_free(d);
    } else {
        FUZZ_CHECK(d == NULL);
    }
    cJSON_Delete(j);
    return 0;
}
