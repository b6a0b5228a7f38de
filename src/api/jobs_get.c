/* Trainer job get / resume, trainer URL, opening a training session (docs/protocol.md §1, §3.2–§3.4). */
#include "api/jobs_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

/* "{base}/v1/accounts/{a}/rlorTrainerJobs/{job}{suffix}" after validating the id. */
static int job_url(char **url, fwt_client *c, const char *job_id, const char *suffix)
{
    *url = NULL;
    int rc = fwt__check_id("job_id", job_id);
    return rc != FWT_OK ? rc : fwt__account_url(url, c, NULL, "rlorTrainerJobs", job_id, suffix);
}

static int simple_call(fwt_client *c, const char *job_id, const char *method, const char *suffix, int64_t timeout,
                       const char *what)
{
    char *url = NULL;
    int rc = job_url(&url, c, job_id, suffix);
    if (rc != FWT_OK)
        return rc;
    fwt__reply r;
    rc = fwt__cp_call(c, method, url, NULL, timeout, &r);
    if (rc == FWT_ENOTFOUND)
        rc = fwt__last_set_replyf(&r, "trainer job \"%s\" not found (%s)", job_id, what);
    else if (rc == FWT_OK)
        fwt__last_ok();
    fwt__reply_clear(&r);
    fwt__free_mem(url);
    return rc;
}

int fwt_job_get(fwt_job **out, fwt_client *c, const char *job_id)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    char *url = NULL;
    int rc = job_url(&url, c, job_id, "");
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    (void)fwt__client_account(c, &account); /* resolved by job_url */
    char *base = fwt__control_base(c);
    fwt__reply r;
    rc = fwt__cp_call(c, "GET", url, NULL, FWT__CP_GET_TIMEOUT_MS, &r);
    if (rc == FWT_OK) {
        rc = fwt__job_from_json(out, r.json, base, account, job_id);
        if (rc == FWT_OK)
            fwt__last_ok();
    } else if (rc == FWT_ENOTFOUND) {
        rc = fwt__last_set_replyf(&r, "trainer job \"%s\" not found", job_id);
    }
    fwt__reply_clear(&r);
    fwt__free_mem(url);
    fwt__free_mem(base);
    return rc;
}

int fwt_job_resume(fwt_client *c, const char *job_id)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "client is required");
    return simple_call(c, job_id, "POST", ":resume", FWT__CP_CREATE_TIMEOUT_MS, "resume");
}

int fwt_job_trainer_url_build(char **out, fwt_client *c, const char *job_id)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    int rc = fwt__check_id("job_id", job_id);
    if (rc == FWT_OK)
        rc = fwt__trainer_url(out, c, job_id, NULL);
    if (rc == FWT_OK)
        fwt__last_ok();
    return rc;
}

int fwt_job_open_training(fwt_training **out, fwt_client *c, const fwt_job *job, const fwt_training_options *opts)
{
    if (!out || !c || !job)
        return fwt__last_set(FWT_EINVAL, "out, client and job are required");
    *out = NULL;
    fwt_training_options o;
    if (opts) {
        if (opts->version != FWT_TRAINING_OPTIONS_VERSION)
            return fwt__last_set(FWT_EINVAL, "unknown fwt_training_options version %u", opts->version);
        o = *opts;
    } else {
        int rc = fwt_training_options_init(&o, FWT_TRAINING_OPTIONS_VERSION);
        if (rc != FWT_OK)
            return rc;
    }
    /* The training module derives the gateway URL from the job id (docs/protocol.md §1); a job whose readiness
     * the direct route answered (§3.2) opens there, where the trainer was seen alive. */
    o.job_id = fwt_job_id(job);
    o.trainer_url = fwt_job_ready_route(job) == FWT_JOB_ROUTE_DIRECT ? fwt_job_trainer_url(job) : NULL;
    if (!o.base_model || !*o.base_model)
        o.base_model = *fwt_job_base_model(job) ? fwt_job_base_model(job) : NULL;
    if (o.lora_rank == 0)
        o.lora_rank = fwt_job_lora_rank(job);
    return fwt_training_new(out, c, &o);
}
