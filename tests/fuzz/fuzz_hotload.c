/* Hotload status bodies (src/api/hotload_status.c): every replica field through the accessors. */
#include "fuzz.h"

#include "api/deployments_internal.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = fwt__json_parse((const char *)data, size);
    if (!j)
        return 0;
    fwt_hotload_status *s = NULL;
    int rc = fwt__hotload_status_parse(&s, j);
    FUZZ_CHECK(rc == FWT_OK || rc == FWT_EAGAIN || rc == FWT_EPROTO || rc == FWT_ENOMEM);
    if (rc == FWT_OK) {
        FUZZ_CHECK(s != NULL);
        size_t n = fwt_hotload_status_replica_count(s);
        for (size_t i = 0; i <= n; i++) { /* one past the end must be handled too */
            fuzz_touch(fwt_hotload_status_current_identity(s, i));
            fuzz_touch(fwt_hotload_status_stage(s, i));
            fuzz_touch(fwt_hotload_status_target_identity(s, i));
            fuzz_touch(fwt__hotload_status_error(s, i));
            (void)fwt_hotload_status_ready(s, i);
            (void)fwt_hotload_status_adapter_loaded(s, i, "s-1");
        }
        (void)fwt__hotload_status_replica0_loading_null(s);
        fwt_hotload_status_free(s);
    }
    cJSON_Delete(j);
    return 0;
}
