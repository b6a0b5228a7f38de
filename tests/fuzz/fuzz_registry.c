/*
 * checkpoints.jsonl reader (src/cookbook/registry.c): the whole file image as input. Properties:
 * a parse either fails or yields entries that satisfy what the reader promises (name present,
 * step >= 0, a state or sampler path), and the tail never points past the input.
 */
#include "fuzz.h"

#include "cookbook/registry.h"
#include "fwtrain/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fwt_checkpoints *l = NULL;
    fwt__ckpt_tail tail;
    memset(&tail, 0, sizeof tail);
    int rc = fwt__ckpt_parse(&l, &tail, "fuzz/checkpoints.jsonl", (const char *)data, size);
    if (rc != FWT_OK) {
        FUZZ_CHECK(l == NULL);
        return 0;
    }
    FUZZ_CHECK(tail.valid_end <= size);
    FUZZ_CHECK(tail.valid_end + fwt_checkpoints_torn_bytes(l) <= size);
    for (size_t i = 0; i < fwt_checkpoints_count(l); i++) {
        const fwt_checkpoint_entry *e = fwt_checkpoints_get(l, i);
        FUZZ_CHECK(e && e->name && *e->name);
        FUZZ_CHECK(e->step >= 0 && e->data_consumed >= 0);
        FUZZ_CHECK(e->state_path || e->sampler_path);
        fuzz_touch(e->state_path);
        fuzz_touch(e->sampler_path);
        fuzz_touch(e->source_job_id);
        fuzz_touch(e->base_model);
    }
    fwt_checkpoints_last_resumable(l);
    fwt_checkpoints_latest_promotable(l);
    fwt_checkpoints_free(l);
    return 0;
}
