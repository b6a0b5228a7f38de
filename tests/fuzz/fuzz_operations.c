/*
 * Long-running operation results: the model a finished promotion returns
 * (src/api/promote_model.c), read from "response" or "result.model" of the operation body.
 * The operation envelope itself runs inside the promotion state machine and is fuzzed
 * through the wire (fuzz_wire.c).
 */
#include "fuzz.h"

#include "api/jobs_internal.h"
#include "json/json.h"

static void one(const cJSON *obj)
{
    fwt_model *m = NULL;
    if (fwt__model_from_json(&m, obj) != FWT_OK) {
        FUZZ_CHECK(m == NULL);
        return;
    }
    FUZZ_CHECK(m != NULL);
    fuzz_touch(fwt_model_name(m));
    fuzz_touch(fwt_model_state(m));
    fuzz_touch(fwt_model_kind(m));
    fuzz_touch(fwt_model_base_model(m));
    fwt_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = fwt__json_parse((const char *)data, size);
    if (!j)
        return 0;
    one(j);
    const cJSON *resp = NULL, *res = NULL, *model = NULL;
    if (fwt__json_get_object(j, "response", &resp) == FWT_OK)
        one(resp);
    if (fwt__json_get_object(j, "result", &res) == FWT_OK && fwt__json_get_object(res, "model", &model) == FWT_OK)
        one(model);
    cJSON_Delete(j);
    return 0;
}
