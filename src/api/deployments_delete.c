/*
 * Delete a deployment and wait until it is gone (docs/protocol.md §3.7):
 * DELETE ?ignoreChecks=true&hard=true, then poll GET until 404 or DELETED.
 */
#include "api/deployments_internal.h"
#include "api/progress_waiter.h"

#include <string.h>

#include "json/json.h"

typedef struct dep_delete {
    fwt__waiter w;
    char *deployment_id, *url, *delete_url;
    int deleted_sent;
} dep_delete;

static void dd_destroy(fwt__waiter *w)
{
    dep_delete *d = (dep_delete *)w;
    fwt__free_mem(d->deployment_id);
    fwt__free_mem(d->url);
    fwt__free_mem(d->delete_url);
    fwt__free_mem(d);
}

static void dd_again(dep_delete *d, const char *state)
{
    fwt__waiter_progress(&d->w, FWT_PROGRESS_DEPLOYMENT_DELETING, "state %s", state);
    if (fwt__waiter_again(&d->w))
        fwt__waiter_fail(&d->w, FWT_ETIMEDOUT, "deployment \"%s\" still present %lld ms after DELETE (state %s)",
                         d->deployment_id, (long long)fwt__waiter_elapsed(&d->w), state);
}

static void dd_on_get(fwt__waiter *w, fwt__reply *r)
{
    dep_delete *d = (dep_delete *)w;
    if (r->http_status == 404) {
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        if (fwt__poll_transient(r)) {
            dd_again(d, "unknown (poll error)");
            return;
        }
        fwt__waiter_fail_reply(w, r, "polling the deleted deployment");
        return;
    }
    const char *state = NULL;
    (void)fwt__json_get_string(r->json, "state", &state);
    if (state && strcmp(state, "DELETED") == 0) {
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    dd_again(d, state ? state : "(none)");
}

static void dd_on_delete(fwt__waiter *w, fwt__reply *r)
{
    dep_delete *d = (dep_delete *)w;
    if (r->http_status == 404) {
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        fwt__waiter_fail_reply(w, r, "deleting the deployment");
        return;
    }
    d->deleted_sent = 1;
    w->step(w); /* first GET right away */
}

static void dd_step(fwt__waiter *w)
{
    dep_delete *d = (dep_delete *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    if (!d->deleted_sent) {
        call.method = "DELETE";
        call.url = d->delete_url;
        call.retry = FWT__RC_CONTROL;
        fwt__waiter_call(w, &call, dd_on_delete);
    } else {
        call.method = "GET";
        call.url = d->url;
        call.retry = FWT__RC_NONE;
        fwt__waiter_call(w, &call, dd_on_get);
    }
}

int fwt_deployment_delete(fwt_future **out, fwt_client *c, const char *deployment_id,
                          const fwt_wait_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    fwt__wait_policy pol;
    int rc = fwt__wait_policy_resolve(&pol, opts, 60000, 2000, "fwt_deployment_delete");
    if (rc != FWT_OK)
        return rc;
    char *url = NULL, *del = NULL;
    rc = fwt__deployment_url(&url, c, deployment_id, "");
    if (rc != FWT_OK)
        return rc;
    if ((rc = fwt__deployment_url(&del, c, deployment_id, "?ignoreChecks=true&hard=true")) != FWT_OK) {
        fwt__free_mem(url);
        return rc;
    }
    dep_delete *d = fwt__calloc(1, sizeof *d);
    if (!d) {
        fwt__free_mem(url);
        fwt__free_mem(del);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__waiter_init(&d->w, c, dd_step, dd_destroy, &pol);
    d->url = url;
    d->delete_url = del;
    d->deployment_id = fwt__strdup(deployment_id);
    if (!d->deployment_id) {
        dd_destroy(&d->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &d->w);
}

int fwt_deployment_delete_result(fwt_client *c, const char *deployment_id, const fwt_wait_options *opts,
                                 int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_deployment_delete(&f, c, deployment_id, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_NONE, NULL);
}
