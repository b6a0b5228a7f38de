/*
 * Waits on the hotload status (docs/protocol.md §3.9, §11.8): until an expected
 * identity is loaded and ready, or (readiness gate) until the hotload
 * manager reports any replica.
 */
#include "api/deployments_internal.h"
#include "api/progress_waiter.h"

#include <string.h>

#include "json/json.h"

typedef struct hotload_wait {
    fwt__waiter w;
    int gate;              /* 1: wait for a non-empty replicas list only */
    char *expected;        /* NULL for the gate */
    char *deployment_id;
    char *url;
    char **headers;
    char *last_current;    /* for the timeout message */
    char *last_problem;    /* last poll error, for the timeout message */
} hotload_wait;

static void hw_destroy(fwt__waiter *w)
{
    hotload_wait *h = (hotload_wait *)w;
    fwt__free_mem(h->expected);
    fwt__free_mem(h->deployment_id);
    fwt__free_mem(h->url);
    fwt__headers_free(h->headers);
    fwt__free_mem(h->last_current);
    fwt__free_mem(h->last_problem);
    fwt__free_mem(h);
}

static void set_str(char **dst, const char *v)
{
    char *n = v ? fwt__strdup(v) : NULL;
    fwt__free_mem(*dst);
    *dst = n;
}

static void hw_again(hotload_wait *h, const char *problem)
{
    if (problem)
        set_str(&h->last_problem, problem);
    if (fwt__waiter_again(&h->w)) {
        if (h->gate)
            fwt__waiter_fail(&h->w, FWT_ETIMEDOUT,
                             "hotload manager of deployment \"%s\" reported no replica within %lld ms%s%s",
                             h->deployment_id, (long long)h->w.pol.timeout_ms, h->last_problem ? "; last: " : "",
                             h->last_problem ? h->last_problem : "");
        else
            fwt__waiter_fail(&h->w, FWT_ETIMEDOUT,
                             "hotload did not complete within %lld ms: deployment \"%s\" expected identity \"%s\", "
                             "current \"%s\"%s%s",
                             (long long)h->w.pol.timeout_ms, h->deployment_id, h->expected,
                             h->last_current ? h->last_current : "(none)", h->last_problem ? "; last: " : "",
                             h->last_problem ? h->last_problem : "");
    }
}

static void hw_on_status(fwt__waiter *w, fwt__reply *r)
{
    hotload_wait *h = (hotload_wait *)w;
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        /* HTTP and network errors while polling are logged and retried until the timeout (§3.9). */
        fwt__waiter_log(w, FWT_LOG_WARN, "hotload status of deployment %s: %s; polling again", h->deployment_id,
                        r->err.message && *r->err.message ? r->err.message : "poll failed");
        hw_again(h, r->err.message && *r->err.message ? r->err.message : "poll failed");
        return;
    }
    fwt_hotload_status *s = NULL;
    int rc = fwt__hotload_status_parse(&s, r->json);
    if (rc == FWT_EPROTO) {
        fwt__waiter_fail(w, FWT_EPROTO, "unrecognized hotload status response format (no replicas list): %.200s",
                         r->body ? r->body : "");
        return;
    }
    if (rc == FWT_ENOMEM) {
        fwt__waiter_fail(w, FWT_ENOMEM, "out of memory");
        return;
    }
    if (rc == FWT_EAGAIN) {
        hw_again(h, "hotload status is not a JSON object");
        return;
    }
    size_t n = fwt_hotload_status_replica_count(s);
    if (h->gate) {
        if (n > 0) {
            fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_HOTLOAD, s, (void (*)(void *))fwt_hotload_status_free);
            return;
        }
        fwt_hotload_status_free(s);
        fwt__waiter_progress(w, FWT_PROGRESS_HOTLOAD_MANAGER, "deployment %s: no replicas yet", h->deployment_id);
        hw_again(h, NULL);
        return;
    }
    if (n == 0) {
        fwt_hotload_status_free(s);
        fwt__waiter_progress(w, FWT_PROGRESS_HOTLOAD_LOADING, "pending (no replicas)");
        hw_again(h, NULL);
        return;
    }
    const char *cur = fwt_hotload_status_current_identity(s, 0);
    const char *stage = fwt_hotload_status_stage(s, 0);
    const char *target = fwt_hotload_status_target_identity(s, 0);
    set_str(&h->last_current, cur);
    /* A null loading_state means "not ready yet" (§11.8). */
    int ready = fwt_hotload_status_ready(s, 0) && !fwt__hotload_status_replica0_loading_null(s);
    if (ready && ((cur && strcmp(cur, h->expected) == 0) || fwt_hotload_status_adapter_loaded(s, 0, h->expected))) {
        fwt__waiter_progress(w, FWT_PROGRESS_HOTLOAD_DONE, "%s loaded", h->expected);
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_HOTLOAD, s, (void (*)(void *))fwt_hotload_status_free);
        return;
    }
    /* An error is ours only if it is about the identity we wait for (§3.9: stale errors ignored). */
    if (strcmp(stage, "error") == 0 && target && strcmp(target, h->expected) == 0) {
        const char *why = fwt__hotload_status_error(s, 0);
        fwt__waiter_fail(w, FWT_EREMOTE,
                         "hotload of \"%s\" into deployment \"%s\" failed on the server (current \"%s\")%s%.300s",
                         h->expected, h->deployment_id, cur ? cur : "(none)", why ? ": " : "", why ? why : "");
        fwt_hotload_status_free(s);
        return;
    }
    fwt__waiter_progress(w, FWT_PROGRESS_HOTLOAD_LOADING, "stage=%s target=%s current=%s ready=%d",
                         *stage ? stage : "(none)", target ? target : "(none)", cur ? cur : "(none)", ready);
    fwt_hotload_status_free(s);
    hw_again(h, NULL);
}

static void hw_step(fwt__waiter *w)
{
    hotload_wait *h = (hotload_wait *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_HOTLOAD;
    call.method = "GET";
    call.url = h->url;
    call.extra_headers = (const char *const *)h->headers;
    call.retry = FWT__RC_NONE;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    int64_t left = h->w.pol.timeout_ms - fwt__waiter_elapsed(w);
    if (h->w.pol.timeout_ms >= 0 && left > 0 && left < call.header_timeout_ms)
        call.header_timeout_ms = left < 1000 ? 1000 : left;
    fwt__waiter_call(w, &call, hw_on_status);
}

static int hw_start(fwt_future **out, fwt_client *c, const char *deployment_id, const char *base_model,
                    const char *expected, const fwt_wait_options *opts, int64_t default_timeout_ms,
                    int64_t default_interval_ms, const char *fn)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    fwt__wait_policy pol;
    int rc = fwt__wait_policy_resolve(&pol, opts, default_timeout_ms, default_interval_ms, fn);
    if (rc != FWT_OK)
        return rc;
    char **headers = NULL;
    char *url = NULL;
    rc = fwt__hotload_prepare(c, deployment_id, base_model, NULL, &headers, &url);
    if (rc != FWT_OK)
        return rc;
    hotload_wait *h = fwt__calloc(1, sizeof *h);
    if (!h) {
        fwt__headers_free(headers);
        fwt__free_mem(url);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__waiter_init(&h->w, c, hw_step, hw_destroy, &pol);
    h->url = url;
    h->headers = headers;
    h->gate = expected == NULL;
    h->expected = expected ? fwt__strdup(expected) : NULL;
    h->deployment_id = fwt__strdup(deployment_id);
    if ((expected && !h->expected) || !h->deployment_id) {
        hw_destroy(&h->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &h->w);
}

int fwt_deployment_wait_hotload(fwt_future **out, fwt_client *c, const char *deployment_id, const char *base_model,
                                const char *expected_identity, const fwt_wait_options *opts)
{
    if (!expected_identity || !*expected_identity)
        return fwt__last_set(FWT_EINVAL, "expected_identity is required");
    return hw_start(out, c, deployment_id, base_model, expected_identity, opts, 400000, 5000,
                    "fwt_deployment_wait_hotload");
}

int fwt_deployment_wait_hotload_ready(fwt_future **out, fwt_client *c, const char *deployment_id,
                                      const char *base_model, const fwt_wait_options *opts)
{
    return hw_start(out, c, deployment_id, base_model, NULL, opts, 300000, 5000, "fwt_deployment_wait_hotload_ready");
}

int fwt_deployment_wait_hotload_result(fwt_hotload_status **out, fwt_client *c, const char *deployment_id,
                                       const char *base_model, const char *expected_identity,
                                       const fwt_wait_options *opts, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_deployment_wait_hotload(&f, c, deployment_id, base_model, expected_identity, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_HOTLOAD, (void **)out);
}

int fwt_deployment_wait_hotload_ready_result(fwt_hotload_status **out, fwt_client *c, const char *deployment_id,
                                             const char *base_model, const fwt_wait_options *opts, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_deployment_wait_hotload_ready(&f, c, deployment_id, base_model, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_HOTLOAD, (void **)out);
}
