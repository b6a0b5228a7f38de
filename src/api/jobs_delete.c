/*
 * Delete a trainer job (docs/protocol.md §3.4): one DELETE with control-plane
 * retries, run as a future like every call that waits on the server, so it
 * agrees with fwt_deployment_delete (future + blocking _result twin).
 */
#include "api/jobs_internal.h"
#include "api/progress_waiter.h"

#include <stdio.h>

typedef struct job_delete {
    fwt__waiter w;
    char *job_id, *url;
    int sent;
} job_delete;

static void jd_destroy(fwt__waiter *w)
{
    job_delete *d = (job_delete *)w;
    fwt__free_mem(d->job_id);
    fwt__free_mem(d->url);
    fwt__free_mem(d);
}

static void jd_on_reply(fwt__waiter *w, fwt__reply *r)
{
    job_delete *d = (job_delete *)w;
    if (r->err.pub.code == FWT_OK && r->http_status >= 200 && r->http_status <= 299) {
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    char ctx[128];
    snprintf(ctx, sizeof ctx, r->http_status == 404 ? "trainer job \"%s\" not found (delete)" : "deleting trainer job \"%s\"",
             d->job_id);
    fwt__waiter_fail_reply(w, r, ctx);
}

static void jd_step(fwt__waiter *w)
{
    job_delete *d = (job_delete *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.method = "DELETE";
    call.url = d->url;
    call.retry = FWT__RC_CONTROL;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    d->sent = 1;
    fwt__waiter_call(w, &call, jd_on_reply);
}

int fwt_job_delete(fwt_future **out, fwt_client *c, const char *job_id)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    int rc = fwt__check_id("job_id", job_id);
    if (rc != FWT_OK)
        return rc;
    char *url = NULL;
    if ((rc = fwt__account_url(&url, c, NULL, "rlorTrainerJobs", job_id, "")) != FWT_OK)
        return rc;
    job_delete *d = fwt__calloc(1, sizeof *d);
    if (!d) {
        fwt__free_mem(url);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__wait_policy pol;
    (void)fwt__wait_policy_resolve(&pol, NULL, -1, FWT__WAIT_INITIAL_MS, "fwt_job_delete");
    fwt__waiter_init(&d->w, c, jd_step, jd_destroy, &pol);
    d->url = url;
    d->job_id = fwt__strdup(job_id);
    if (!d->job_id) {
        jd_destroy(&d->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &d->w);
}

int fwt_job_delete_result(fwt_client *c, const char *job_id, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_job_delete(&f, c, job_id);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_NONE, NULL);
}
