/*
 * Warmup probe (docs/protocol.md §3.10): a tiny completion against the deployment,
 * retried up to max_tries with retry_interval between tries.
 */
#include "api/deployments_internal.h"
#include "api/progress_waiter.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

typedef struct warmup {
    fwt__waiter w;
    fwt_warmup_options o;
    char *url;
    cJSON *body;
    int tries;
} warmup;

int fwt_warmup_options_init(fwt_warmup_options *o, unsigned int version)
{
    if (!o || version != FWT_WARMUP_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_warmup_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->max_tries = 10;
    o->max_tokens = 4;
    o->retry_interval_ms = 10000;
    o->request_timeout_ms = 30000;
    return FWT_OK;
}

static void wu_destroy(fwt__waiter *w)
{
    warmup *u = (warmup *)w;
    fwt__free_mem(u->url);
    cJSON_Delete(u->body);
    fwt__free_mem(u);
}

static void wu_on_reply(fwt__waiter *w, fwt__reply *r)
{
    warmup *u = (warmup *)w;
    if (r->http_status == 200) {
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    u->tries++;
    if (u->tries >= u->o.max_tries) {
        char ctx[96];
        snprintf(ctx, sizeof ctx, "warmup failed after %d tries", u->tries);
        fwt__waiter_fail_reply(w, r, ctx);
        return;
    }
    fwt__waiter_progress(w, FWT_PROGRESS_WARMUP, "try %d/%d: %s", u->tries, (int)u->o.max_tries,
                         r->err.message && *r->err.message ? r->err.message : "not ready");
    fwt__waiter_schedule(w, u->o.retry_interval_ms);
}

static void wu_step(fwt__waiter *w)
{
    warmup *u = (warmup *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_INFERENCE;
    call.method = "POST";
    call.url = u->url;
    call.body = u->body;
    call.retry = FWT__RC_NONE;
    /* -1: no bound of its own; a day is beyond any real answer. */
    call.header_timeout_ms = u->o.request_timeout_ms < 0 ? 24LL * 3600 * 1000 : u->o.request_timeout_ms;
    call.body_timeout_ms = call.header_timeout_ms;
    fwt__waiter_call(w, &call, wu_on_reply);
}

int fwt_deployment_warmup(fwt_future **out, fwt_client *c, const char *deployment_id, const fwt_warmup_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    if (opts && opts->version != FWT_WARMUP_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_warmup_options version %u", opts->version);
    if (opts && (opts->request_timeout_ms < -1 || opts->retry_interval_ms < 0 || opts->max_tries < 0 ||
                 opts->max_tokens < 0))
        return fwt__last_set(FWT_EINVAL, "fwt_deployment_warmup: request_timeout_ms must be -1, 0 or > 0; "
                                         "retry_interval_ms, max_tries and max_tokens must be >= 0");
    int rc = fwt__check_id("deployment_id", deployment_id);
    if (rc != FWT_OK)
        return rc;
    const char *account = NULL;
    if ((rc = fwt__client_account(c, &account)) != FWT_OK)
        return rc;
    warmup *u = fwt__calloc(1, sizeof *u);
    if (!u)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt_warmup_options_init(&u->o, FWT_WARMUP_OPTIONS_VERSION);
    if (opts) {
        if (opts->max_tries > 0) u->o.max_tries = opts->max_tries;
        if (opts->max_tokens > 0) u->o.max_tokens = opts->max_tokens;
        if (opts->retry_interval_ms > 0) u->o.retry_interval_ms = opts->retry_interval_ms;
        if (opts->request_timeout_ms != 0) u->o.request_timeout_ms = opts->request_timeout_ms;
        u->o.progress = opts->progress;
        u->o.progress_payload = opts->progress_payload;
    }
    /* Not a poll: a fixed gap between failed tries, bounded by max_tries. */
    fwt__wait_policy pol = {.timeout_ms = -1, .interval_ms = u->o.retry_interval_ms, .initial_ms = u->o.retry_interval_ms,
                            .progress = u->o.progress, .progress_payload = u->o.progress_payload};
    fwt__waiter_init(&u->w, c, wu_step, wu_destroy, &pol);
    const char *ib = fwt__client_inference_url(c);
    size_t n = ib ? strlen(ib) : 0;
    while (n > 0 && ib[n - 1] == '/')
        n--;
    u->url = ib ? fwt__asprintf("%.*s/inference/v1/completions", (int)n, ib) : NULL;
    char *model = fwt__asprintf("accounts/%s/deployments/%s", account, deployment_id);
    u->body = cJSON_CreateObject();
    int ok = u->url && model && u->body;
    if (ok) {
        ok &= fwt__json_add_string(u->body, "model", model) == FWT_OK;
        cJSON *prompt = cJSON_AddArrayToObject(u->body, "prompt");
        ok &= prompt != NULL;
        if (prompt) {
            cJSON *a = cJSON_CreateNumber(1), *b = cJSON_CreateNumber(2);
            ok &= a && b;
            if (a) cJSON_AddItemToArray(prompt, a);
            if (b) cJSON_AddItemToArray(prompt, b);
        }
        ok &= fwt__json_add_int64(u->body, "max_tokens", u->o.max_tokens) == FWT_OK;
        ok &= fwt__json_add_double(u->body, "temperature", 0.0) == FWT_OK;
    }
    fwt__free_mem(model);
    if (!ok) {
        wu_destroy(&u->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &u->w);
}

int fwt_deployment_warmup_result(fwt_client *c, const char *deployment_id, const fwt_warmup_options *opts,
                                 int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_deployment_warmup(&f, c, deployment_id, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_NONE, NULL);
}
