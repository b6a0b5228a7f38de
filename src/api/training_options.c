/*
 * fwt_training_copy_options: the options a training was opened with, so a
 * caller that lost the session (a restarted trainer, docs/protocol.md §4.1)
 * can open a replacement on the same trainer with fwt_training_new, without
 * having kept the original options around (the checkpointer's in-process
 * recovery does this).
 */
#include <string.h>

#include "api/training_impl.h"

int fwt_training_copy_options(fwt_training_options *out, const fwt_training *t)
{
    if (!out || !t)
        return fwt__last_set(FWT_EINVAL, "fwt_training_copy_options: out and t are required");
    memset(out, 0, sizeof *out);
    out->version = FWT_TRAINING_OPTIONS_VERSION;
    /* Every field read here is written once by fwt_training_new and never changes: no lock needed. */
    out->trainer_url = t->url;
    out->base_model = t->base_model;
    out->lora_rank = t->lora_rank;
    out->op_timeout_ms = t->op_timeout_ms;
    out->keep_model_on_free = t->keep_model_on_free;
    out->unload_timeout_ms = t->unload_timeout_ms;
    out->session_suffix = NULL; /* a new session draws its own suffix */
    fwt__last_ok();
    return FWT_OK;
}
