/*
 * Wait until a deployment is ready (docs/protocol.md §3.7): READY, or CREATING and
 * already answering an inference probe; FAILED / DELETING / DELETED fail.
 */
#include "api/deployments_internal.h"
#include "api/progress_waiter.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

typedef struct dep_wait {
    fwt__waiter w;
    char *deployment_id, *url, *probe_url;
    cJSON *probe_body;
    fwt_deployment *seen;  /* CREATING deployment waiting for its probe */
} dep_wait;

static void dw_destroy(fwt__waiter *w)
{
    dep_wait *d = (dep_wait *)w;
    fwt__free_mem(d->deployment_id);
    fwt__free_mem(d->url);
    fwt__free_mem(d->probe_url);
    cJSON_Delete(d->probe_body);
    fwt_deployment_free(d->seen);
    fwt__free_mem(d);
}

static void dw_again(dep_wait *d, const char *state)
{
    fwt__waiter_progress(&d->w, FWT_PROGRESS_DEPLOYMENT_STARTING, "state %s", state);
    if (fwt__waiter_again(&d->w))
        fwt__waiter_fail(&d->w, FWT_ETIMEDOUT, "deployment \"%s\" not ready after %lld ms (state %s)", d->deployment_id,
                         (long long)fwt__waiter_elapsed(&d->w), state);
}

static void dw_finish(dep_wait *d, fwt_deployment *dep)
{
    fwt__waiter_finish(&d->w, FWT_OK, NULL, FWT__VALUE_DEPLOYMENT, dep, (void (*)(void *))fwt_deployment_free);
}

static void dw_on_probe(fwt__waiter *w, fwt__reply *r)
{
    dep_wait *d = (dep_wait *)w;
    if (r->http_status == 200) {
        fwt_deployment *dep = d->seen;
        d->seen = NULL;
        dw_finish(d, dep);
        return;
    }
    dw_again(d, "CREATING (inference probe not answering yet)");
}

static void dw_on_get(fwt__waiter *w, fwt__reply *r)
{
    dep_wait *d = (dep_wait *)w;
    if (r->http_status == 404) {
        fwt__waiter_fail(w, FWT_ENOTFOUND, "deployment \"%s\" not found", d->deployment_id);
        return;
    }
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        if (fwt__poll_transient(r)) {
            dw_again(d, "unknown (poll error)");
            return;
        }
        fwt__waiter_fail_reply(w, r, "polling the deployment");
        return;
    }
    fwt_deployment *dep = NULL;
    if (fwt__deployment_from_json(&dep, r->json) != FWT_OK) {
        fwt__waiter_fail(w, FWT_EPROTO, "deployment \"%s\": unreadable deployment resource", d->deployment_id);
        return;
    }
    const char *st = fwt_deployment_state(dep);
    if (strcmp(st, "READY") == 0) {
        dw_finish(d, dep);
        return;
    }
    if (strcmp(st, "FAILED") == 0 || strcmp(st, "DELETING") == 0 || strcmp(st, "DELETED") == 0) {
        fwt__waiter_fail(w, FWT_ESTATE, "deployment \"%s\" is %s; it will not become ready", d->deployment_id, st);
        fwt_deployment_free(dep);
        return;
    }
    if (strcmp(st, "CREATING") == 0) {
        /* A CREATING deployment that already serves counts as ready (§3.7). */
        fwt_deployment_free(d->seen);
        d->seen = dep;
        fwt__call call = {0};
        call.plane = FWT__PLANE_INFERENCE;
        call.method = "POST";
        call.url = d->probe_url;
        call.body = d->probe_body;
        call.retry = FWT__RC_NONE;
        call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
        fwt__waiter_call(w, &call, dw_on_probe);
        return;
    }
    char state[64];
    snprintf(state, sizeof state, "%s", *st ? st : "(none)");
    fwt_deployment_free(dep);
    dw_again(d, state);
}

static void dw_step(fwt__waiter *w)
{
    dep_wait *d = (dep_wait *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.method = "GET";
    call.url = d->url;
    call.retry = FWT__RC_NONE;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    fwt__waiter_call(w, &call, dw_on_get);
}

int fwt_deployment_wait_ready(fwt_future **out, fwt_client *c, const char *deployment_id,
                              const fwt_wait_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    fwt__wait_policy pol;
    int rc = fwt__wait_policy_resolve(&pol, opts, 600000, 15000, "fwt_deployment_wait_ready");
    if (rc != FWT_OK)
        return rc;
    char *url = NULL;
    rc = fwt__deployment_url(&url, c, deployment_id, "");
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    (void)fwt__client_account(c, &account);
    dep_wait *d = fwt__calloc(1, sizeof *d);
    if (!d) {
        fwt__free_mem(url);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__waiter_init(&d->w, c, dw_step, dw_destroy, &pol);
    d->url = url;
    d->deployment_id = fwt__strdup(deployment_id);
    const char *ib = fwt__client_inference_url(c);
    size_t n = ib ? strlen(ib) : 0;
    while (n > 0 && ib[n - 1] == '/')
        n--;
    d->probe_url = ib ? fwt__asprintf("%.*s/inference/v1/completions", (int)n, ib) : NULL;
    char *model = account ? fwt__asprintf("accounts/%s/deployments/%s", account, deployment_id) : NULL;
    d->probe_body = cJSON_CreateObject();
    int ok = d->deployment_id && d->probe_url && model && d->probe_body &&
             fwt__json_add_string(d->probe_body, "model", model) == FWT_OK &&
             fwt__json_add_string(d->probe_body, "prompt", "hi") == FWT_OK &&
             fwt__json_add_int64(d->probe_body, "max_tokens", 1) == FWT_OK &&
             fwt__json_add_double(d->probe_body, "temperature", 0.0) == FWT_OK;
    fwt__free_mem(model);
    if (!ok) {
        dw_destroy(&d->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &d->w);
}

int fwt_future_take_deployment(fwt_deployment **out, fwt_future *f)
{
    if (!out || !f)
        return fwt__last_set(FWT_EINVAL, "out and future are required");
    *out = NULL;
    void *v = NULL;
    int rc = fwt__future_take(f, FWT__VALUE_DEPLOYMENT, &v);
    if (rc == FWT_OK)
        *out = v;
    return rc;
}

int fwt_deployment_wait_ready_result(fwt_deployment **out, fwt_client *c, const char *deployment_id,
                                     const fwt_wait_options *opts, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_deployment_wait_ready(&f, c, deployment_id, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_DEPLOYMENT, (void **)out);
}
