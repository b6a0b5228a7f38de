/* What types.h declares besides the string list: progress stage names and the wait options. */
#include <string.h>

#include "fwt_util.h"
#include "fwtrain/types.h"

const char *fwt_progress_stage_name(int stage)
{
    switch (stage) {
    case FWT_PROGRESS_JOB_PENDING: return "job_pending";
    case FWT_PROGRESS_JOB_STARTING: return "job_starting";
    case FWT_PROGRESS_JOB_HEALTHZ: return "job_healthz";
    case FWT_PROGRESS_JOB_READY: return "job_ready";
    case FWT_PROGRESS_PROMOTE_SUBMITTED: return "promote_submitted";
    case FWT_PROGRESS_PROMOTE_RUNNING: return "promote_running";
    case FWT_PROGRESS_PROMOTE_DONE: return "promote_done";
    case FWT_PROGRESS_HOTLOAD_MANAGER: return "hotload_manager";
    case FWT_PROGRESS_HOTLOAD_LOADING: return "hotload_loading";
    case FWT_PROGRESS_HOTLOAD_DONE: return "hotload_done";
    case FWT_PROGRESS_DEPLOYMENT_DELETING: return "deployment_deleting";
    case FWT_PROGRESS_DEPLOYMENT_STARTING: return "deployment_starting";
    case FWT_PROGRESS_WARMUP: return "warmup";
    default: return "unknown";
    }
}

int fwt_wait_options_init(fwt_wait_options *opts, unsigned int version)
{
    if (!opts)
        return fwt__last_set(FWT_EINVAL, "fwt_wait_options_init: opts is NULL");
    if (version != FWT_WAIT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_wait_options version %u", version);
    memset(opts, 0, sizeof *opts);
    opts->version = version;
    fwt__last_ok();
    return FWT_OK;
}
