/* Trainer job get / resume / delete, trainer URL, opening a training session (protocol §1, §3.2–§3.4). */
#include "api/jobs_internal.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

/* "{base}/v1/accounts/{a}/rlorTrainerJobs/{job}{suffix}" for a validated job id. */
static int job_url(char **url, char **base_out, const char **account_out, fwt_client *c, const char *job_id,
                   const char *suffix)
{
    *url = NULL;
    int rc = fwt__check_resource_id("job_id", job_id);
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    if ((rc = fwt__client_account(c, &account)) != FWT_OK)
        return rc;
    char *base = fwt__control_base(c);
    char *acc = fwt__url_escape(account);
    char *job = fwt__url_escape(job_id);
    if (base && acc && job)
        *url = fwt__asprintf("%s/v1/accounts/%s/rlorTrainerJobs/%s%s", base, acc, job, suffix);
    fwt__free_mem(acc);
    fwt__free_mem(job);
    if (!*url) {
        fwt__free_mem(base);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (base_out)
        *base_out = base;
    else
        fwt__free_mem(base);
    if (account_out)
        *account_out = account;
    return FWT_OK;
}

static int simple_call(fwt_client *c, const char *job_id, const char *method, const char *suffix, int64_t timeout,
                       const char *what)
{
    char *url = NULL;
    int rc = job_url(&url, NULL, NULL, c, job_id, suffix);
    if (rc != FWT_OK)
        return rc;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.method = method;
    call.url = url;
    call.retry = FWT__RC_CONTROL;
    call.header_timeout_ms = timeout;
    fwt__reply r;
    fwt__reply_init(&r);
    rc = fwt__call_sync(c, &call, &r);
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
    char *url = NULL, *base = NULL;
    const char *account = NULL;
    int rc = job_url(&url, &base, &account, c, job_id, "");
    if (rc != FWT_OK)
        return rc;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.method = "GET";
    call.url = url;
    call.retry = FWT__RC_CONTROL;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    fwt__reply r;
    fwt__reply_init(&r);
    rc = fwt__call_sync(c, &call, &r);
    if (rc == FWT_OK) {
        rc = fwt__job_from_json(out, r.json, base, account);
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

int fwt_job_delete(fwt_client *c, const char *job_id)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "client is required");
    return simple_call(c, job_id, "DELETE", "", FWT__CP_GET_TIMEOUT_MS, "delete");
}

int fwt_job_trainer_url_build(char **out, fwt_client *c, const char *job_id)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    int rc = fwt__check_resource_id("job_id", job_id);
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    if ((rc = fwt__client_account(c, &account)) != FWT_OK)
        return rc;
    char *base = fwt__control_base(c);
    char *acc = fwt__url_escape(account);
    char *job = fwt__url_escape(job_id);
    if (base && acc && job)
        *out = fwt__asprintf("%s/training/v1/rlorTrainerJobs/%s/%s", base, acc, job);
    fwt__free_mem(base);
    fwt__free_mem(acc);
    fwt__free_mem(job);
    if (!*out)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__last_ok();
    return FWT_OK;
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
    /* The training module derives the data-plane URL from the job id (protocol §1). */
    o.job_id = fwt_job_id(job);
    o.trainer_url = NULL;
    if (!o.base_model || !*o.base_model)
        o.base_model = *fwt_job_base_model(job) ? fwt_job_base_model(job) : NULL;
    if (o.lora_rank == 0)
        o.lora_rank = fwt_job_lora_rank(job);
    return fwt_training_new(out, c, &o);
}
