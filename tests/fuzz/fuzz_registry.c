/*
 * checkpoints.jsonl reader (src/cookbook/registry.c): the whole file image as input. Properties:
 * a parse either fails or yields entries that satisfy what the reader promises (name present,
 * step >= 0 or -1 for a line without `step`, a state or sampler path), and the tail never points past
 * the input.
 */
#include "fuzz.h"

#include "cookbook/registry_impl.h"
#include "fwtrain/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fwt_registry *l = NULL;
    fwt__ckpt_tail tail;
    memset(&tail, 0, sizeof tail);
    int rc = fwt__ckpt_parse(&l, &tail, "fuzz/checkpoints.jsonl", (const char *)data, size);
    if (rc != FWT_OK) {
        FUZZ_CHECK(l == NULL);
        return 0;
    }
    FUZZ_CHECK(tail.valid_end <= size);
    FUZZ_CHECK(tail.valid_end + fwt_registry_torn_bytes(l) <= size);
    for (size_t i = 0; i < fwt_registry_count(l); i++) {
        const fwt_registry_entry *e = fwt_registry_get(l, i);
        FUZZ_CHECK(e && e->name && *e->name);
        FUZZ_CHECK(e->step >= -1 && e->data_consumed >= 0); /* -1: the line has no `step` (registry.h) */
        FUZZ_CHECK(e->state_path || e->sampler_path);
        fuzz_touch(e->state_path);
        fuzz_touch(e->sampler_path);
        fuzz_touch(e->source_job_id);
        fuzz_touch(e->base_model);
    }
    fwt_registry_last_resumable(l);
    fwt_registry_latest_promotable(l);
    fwt_registry_free(l);
    return 0;
}
