/*
 * Sampling from a deployment (sampling.h; docs/protocol.md §3.10): request validation,
 * the wire body (its shape is documented in sampling_decode.c), the future
 * (driven on the worker by the poll-loop base, progress_waiter.h) and the
 * blocking twin (on the calling thread). A 404/425 while a hotload swaps the
 * weights is retried on its own interval and budget (docs/protocol.md §3.9).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/jobs_internal.h"
#include "api/progress_waiter.h"
#include "api/sampling_internal.h"
#include "json/json.h"
#include "json/jwrite.h"

#define MAX_TOKEN_ID 2147483647
#define MAX_SEED 9007199254740992LL /* 2^53: a JSON number holds it exactly */

int fwt_sample_request_init(fwt_sample_request *req, unsigned int version)
{
    if (!req)
        return fwt__last_set(FWT_EINVAL, "fwt_sample_request_init: req is NULL");
    if (version != FWT_SAMPLE_REQUEST_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_sample_request_init: unknown version %u", version);
    memset(req, 0, sizeof *req);
    req->version = version;
    req->max_tokens = FWT__SAMPLE_MAX_TOKENS;
    req->n = 1;
    req->temperature = 1.0;
    req->top_p = 1.0;
    return FWT_OK;
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF): JSON strings must be. */
static int utf8_valid(const unsigned char *p)
{
    while (*p) {
        unsigned c = *p++;
        int more;
        unsigned min;
        if (c < 0x80)
            continue;
        else if ((c & 0xE0) == 0xC0)
            more = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            more = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            more = 3, min = 0x10000, c &= 0x07;
        else
            return 0;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (*p & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
    }
    return 1;
}

static int bad(const char *fn, const char *what) { return fwt__last_set(FWT_EINVAL, "%s: %s", fn, what); }

/* Every field, before anything is sent (sampling.h documents each rule). */
static int validate(const fwt_sample_request *r, const char *fn)
{
    if (r->version != FWT_SAMPLE_REQUEST_VERSION)
        return fwt__last_set(FWT_EINVAL, "%s: unknown fwt_sample_request version %u", fn, r->version);
    if (!r->prompt_text == !r->prompt_tokens)
        return bad(fn, r->prompt_text ? "set only one of prompt_text and prompt_tokens"
                                      : "a prompt is required (prompt_text or prompt_tokens)");
    if (r->prompt_text && !*r->prompt_text)
        return bad(fn, "prompt_text is empty");
    if (r->prompt_text && !utf8_valid((const unsigned char *)r->prompt_text))
        return bad(fn, "prompt_text is not valid UTF-8");
    if (r->prompt_tokens && r->n_prompt_tokens == 0)
        return bad(fn, "n_prompt_tokens is 0");
    if (!r->prompt_tokens && r->n_prompt_tokens)
        return bad(fn, "n_prompt_tokens is set without prompt_tokens");
    for (size_t i = 0; r->prompt_tokens && i < r->n_prompt_tokens; i++)
        if (r->prompt_tokens[i] < 0 || r->prompt_tokens[i] > MAX_TOKEN_ID)
            return fwt__last_set(FWT_EINVAL, "%s: prompt_tokens[%zu] = %lld is not a token id (0..2^31-1)", fn, i,
                                 (long long)r->prompt_tokens[i]);
    if (r->max_tokens < 0)
        return fwt__last_set(FWT_EINVAL, "%s: max_tokens must be >= 0 (got %d)", fn, (int)r->max_tokens);
    if (r->max_tokens == 0 && !r->echo)
        return bad(fn, "max_tokens is 0 without echo: nothing would come back");
    if (r->n < 1)
        return fwt__last_set(FWT_EINVAL, "%s: n must be >= 1 (got %d)", fn, (int)r->n);
    if (!isfinite(r->temperature) || r->temperature < 0)
        return fwt__last_set(FWT_EINVAL, "%s: temperature must be a finite number >= 0 (got %g)", fn, r->temperature);
    if (!isfinite(r->top_p) || r->top_p <= 0 || r->top_p > 1)
        return fwt__last_set(FWT_EINVAL, "%s: top_p must be in (0, 1] (got %g)", fn, r->top_p);
    if (r->top_k < 0)
        return fwt__last_set(FWT_EINVAL, "%s: top_k must be >= 0 (got %d)", fn, (int)r->top_k);
    if (r->has_seed && (r->seed < 0 || r->seed > MAX_SEED))
        return fwt__last_set(FWT_EINVAL, "%s: seed must be in [0, 2^53] (got %lld)", fn, (long long)r->seed);
    if (r->n_stop && !r->stop)
        return bad(fn, "n_stop is set but stop is NULL");
    for (size_t i = 0; i < r->n_stop; i++) {
        if (!r->stop[i] || !*r->stop[i])
            return fwt__last_set(FWT_EINVAL, "%s: stop[%zu] is NULL or empty", fn, i);
        if (!utf8_valid((const unsigned char *)r->stop[i]))
            return fwt__last_set(FWT_EINVAL, "%s: stop[%zu] is not valid UTF-8", fn, i);
    }
    if (r->request_timeout_ms < -1)
        return bad(fn, "request_timeout_ms must be -1 (none), 0 (the client's) or > 0");
    if (r->hotload_retry_interval_ms < 0)
        return bad(fn, "hotload_retry_interval_ms must be 0 (default) or > 0");
    if (r->hotload_retry_timeout_ms < -1)
        return bad(fn, "hotload_retry_timeout_ms must be -1 (no limit), 0 (default) or > 0");
    return FWT_OK;
}

/* The wire body (its shape is documented in sampling_decode.c), written once as text: each attempt then only
 * copies it, where a cJSON tree cost a printf and sscanf round trip per number on every attempt. A raw cJSON
 * item carries it so the call layer prints it as it is. NULL when out of memory. */
static cJSON *build_body(const fwt_sample_request *r, const char *model)
{
    fwt__jw w;
    fwt__jw_init(&w, 256 + (r->prompt_text ? strlen(r->prompt_text) * 2 : r->n_prompt_tokens * 12));
    fwt__jw_lit(&w, "{\"model\":");
    fwt__jw_string(&w, model);
    fwt__jw_lit(&w, ",\"prompt\":");
    if (r->prompt_text) {
        fwt__jw_string(&w, r->prompt_text);
    } else {
        fwt__jw_char(&w, '[');
        fwt__jw_int_list(&w, r->prompt_tokens, r->n_prompt_tokens);
        fwt__jw_char(&w, ']');
    }
    fwt__jw_lit(&w, ",\"max_tokens\":");
    fwt__jw_int(&w, r->max_tokens);
    fwt__jw_lit(&w, ",\"n\":");
    fwt__jw_int(&w, r->n);
    fwt__jw_lit(&w, ",\"temperature\":");
    fwt__jw_double(&w, r->temperature);
    fwt__jw_lit(&w, ",\"top_p\":");
    fwt__jw_double(&w, r->top_p);
    fwt__jw_lit(&w, ",\"top_k\":");
    fwt__jw_int(&w, r->top_k);
    if (r->has_seed) {
        fwt__jw_lit(&w, ",\"seed\":");
        fwt__jw_int(&w, r->seed);
    }
    if (r->n_stop) {
        fwt__jw_lit(&w, ",\"stop\":[");
        for (size_t i = 0; i < r->n_stop; i++) {
            if (i)
                fwt__jw_char(&w, ',');
            fwt__jw_string(&w, r->stop[i]);
        }
        fwt__jw_char(&w, ']');
    }
    if (r->logprobs)
        fwt__jw_lit(&w, ",\"logprobs\":1");
    if (r->echo)
        fwt__jw_lit(&w, ",\"echo\":true");
    fwt__jw_lit(&w, ",\"raw_output\":true}");
    char *text = fwt__jw_take(&w, NULL);
    if (!text)
        return NULL;
    fwt__json_hooks_install();
    cJSON *raw = cJSON_CreateRaw("");
    if (!raw) {
        fwt__free_mem(text);
        return NULL;
    }
    cJSON_free(raw->valuestring); /* same allocator: the hooks route cJSON through fwt__malloc */
    raw->valuestring = text;
    return raw;
}

void fwt__sample_spec_clear(fwt__sample_spec *s)
{
    fwt__free_mem(s->url);
    fwt__free_mem(s->deployment_id);
    cJSON_Delete(s->body);
    fwt__free_mem(s->prompt_tokens);
    memset(s, 0, sizeof *s);
}

int fwt__sample_prepare(fwt__sample_spec *s, fwt_client *c, const char *deployment_id, const fwt_sample_request *req,
                        const char *fn)
{
    memset(s, 0, sizeof *s);
    if (!c)
        return bad(fn, "client is NULL");
    if (!req)
        return bad(fn, "req is NULL");
    int rc = fwt__check_id("deployment_id", deployment_id);
    if (!rc)
        rc = validate(req, fn);
    if (rc)
        return rc;
    const char *account = NULL;
    if ((rc = fwt__client_account(c, &account)) != FWT_OK)
        return rc;
    const char *ib = fwt__client_inference_url(c);
    size_t n = ib ? strlen(ib) : 0;
    while (n > 0 && ib[n - 1] == '/')
        n--;
    char *model = fwt__asprintf("accounts/%s/deployments/%s", account, deployment_id);
    s->url = ib ? fwt__asprintf("%.*s/inference/v1/completions", (int)n, ib) : NULL;
    s->deployment_id = fwt__strdup(deployment_id);
    s->body = model ? build_body(req, model) : NULL;
    fwt__free_mem(model);
    if (req->prompt_tokens) {
        s->prompt_tokens = fwt__calloc(req->n_prompt_tokens, sizeof *s->prompt_tokens);
        if (s->prompt_tokens)
            memcpy(s->prompt_tokens, req->prompt_tokens, req->n_prompt_tokens * sizeof *s->prompt_tokens);
        s->n_prompt_tokens = req->n_prompt_tokens;
    }
    if (!s->url || !s->deployment_id || !s->body || (req->prompt_tokens && !s->prompt_tokens)) {
        fwt__sample_spec_clear(s);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (fwt__uuid4(s->idem) != FWT_OK) {
        fwt__sample_spec_clear(s);
        return fwt__last_set(FWT_EIO, "%s: no randomness for the idempotency key", fn);
    }
    s->n = req->n;
    s->logprobs = req->logprobs != 0;
    s->echo = req->echo != 0;
    s->request_timeout_ms = req->request_timeout_ms;
    s->hl_interval_ms = req->hotload_retry_interval_ms > 0 ? req->hotload_retry_interval_ms
                                                           : FWT__HOTLOAD_RETRY_INTERVAL_MS;
    s->hl_timeout_ms = req->hotload_retry_timeout_ms ? req->hotload_retry_timeout_ms : FWT__HOTLOAD_RETRY_TIMEOUT_MS;
    return FWT_OK;
}

void fwt__sample_call(const fwt__sample_spec *s, fwt__call *call)
{
    memset(call, 0, sizeof *call);
    call->plane = FWT__PLANE_INFERENCE;
    call->method = "POST";
    call->url = s->url;
    call->body = s->body;
    call->retry = FWT__RC_CONTROL; /* connection errors, 408, 429, 500/502/503/504 (§2.3) */
    call->idempotency_key = s->idem;
    /* -1 = none: the engine's per-phase timeouts take 0 as "none", the call layer takes 0 as "the client's". */
    if (s->request_timeout_ms) {
        int64_t t = s->request_timeout_ms > 0 ? s->request_timeout_ms : INT64_C(1) << 50;
        call->header_timeout_ms = t;
        call->body_timeout_ms = t;
    }
}

int fwt__sample_hotloading(long http_status) { return http_status == 404 || http_status == 425; }

/* ---- the future: one op on the worker ---- */

typedef struct sample_op {
    fwt__waiter w;
    fwt__sample_spec s;
    uint64_t hl_since_ms; /* first 404/425, 0 = none yet */
    int hl_retries;
} sample_op;

static void op_destroy(fwt__waiter *w)
{
    sample_op *op = (sample_op *)w;
    fwt__sample_spec_clear(&op->s);
    fwt__free_mem(op);
}

static void op_step(fwt__waiter *w);

static void op_reply(fwt__waiter *w, fwt__reply *r)
{
    sample_op *op = (sample_op *)w;
    if (r->err.pub.code == FWT_OK) {
        fwt_completion *c = NULL;
        fwt__err e;
        fwt__err_init(&e);
        int rc = r->json ? fwt__completion_decode(&c, r->json, &op->s, &e)
                         : fwt__err_set(&e, FWT_EPROTO, "completions: the response body is not JSON");
        if (rc == FWT_OK) {
            fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_COMPLETION, c, fwt__completion_free_v);
        } else {
            fwt__err_set_request_id(&e, r->err.pub.request_id);
            e.pub.http_status = (int32_t)r->http_status;
            e.pub.attempts = r->attempts;
            fwt__waiter_finish(w, rc, &e, FWT__VALUE_NONE, NULL, NULL);
        }
        fwt__err_clear(&e);
        return;
    }
    if (!r->transport_failed && fwt__sample_hotloading(r->http_status)) {
        uint64_t now = fwt__engine_now_ms(w->engine);
        if (!op->hl_since_ms)
            op->hl_since_ms = now ? now : 1;
        int64_t spent = (int64_t)(now - op->hl_since_ms);
        if (op->s.hl_timeout_ms < 0 || spent + op->s.hl_interval_ms <= op->s.hl_timeout_ms) {
            op->hl_retries++;
            fwt__waiter_log(w, FWT_LOG_INFO, "deployment %s answered HTTP %ld (hotload in progress?): retry %d in %lld ms",
                            op->s.deployment_id, r->http_status, op->hl_retries, (long long)op->s.hl_interval_ms);
            fwt__waiter_schedule(w, op->s.hl_interval_ms);
            return;
        }
    }
    char ctx[160];
    snprintf(ctx, sizeof ctx, "completions from deployment \"%s\"", op->s.deployment_id);
    fwt__waiter_fail_reply(w, r, ctx);
}

static void op_step(fwt__waiter *w)
{
    sample_op *op = (sample_op *)w;
    fwt__call call;
    fwt__sample_call(&op->s, &call);
    fwt__waiter_call(w, &call, op_reply);
}

int fwt_sample(fwt_future **out, fwt_client *client, const char *deployment_id, const fwt_sample_request *req)
{
    if (!out)
        return bad("fwt_sample", "out is NULL");
    *out = NULL;
    sample_op *op = fwt__calloc(1, sizeof *op);
    if (!op)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    int rc = fwt__sample_prepare(&op->s, client, deployment_id, req, "fwt_sample");
    if (rc) {
        fwt__free_mem(op);
        return rc;
    }
    fwt__wait_policy pol; /* one request, no polling: no bound of its own, no progress */
    (void)fwt__wait_policy_resolve(&pol, NULL, -1, FWT__WAIT_INITIAL_MS, "fwt_sample");
    fwt__waiter_init(&op->w, client, op_step, op_destroy, &pol);
    return fwt__waiter_start(out, &op->w);
}
