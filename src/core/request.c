/* API calls over the engine: auth headers per plane (§1), retry classes (§2.3), error mapping (§2.2, §11.1). */
#include <string.h>
#include <strings.h>

#include "core/client_impl.h"
#include "json/json.h"

void fwt__reply_init(fwt__reply *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
    fwt__err_init(&r->err);
}

void fwt__reply_clear(fwt__reply *r)
{
    if (!r)
        return;
    if (r->json)
        cJSON_Delete(r->json);
    fwt__free_mem(r->body);
    fwt__err_clear(&r->err);
    fwt__reply_init(r);
}

void fwt__reply_free(fwt__reply *r)
{
    if (!r)
        return;
    fwt__reply_clear(r);
    fwt__free_mem(r);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Not an fwt_status: "the JSON states no code". */
#define FWT__STATUS_NONE 1

/* docs/protocol.md §11.1 */
char *fwt__error_text(const char *body, size_t len, const cJSON *json)
{
    cJSON *own = NULL;
    if (!body)
        body = "";
    if (!json && len)
        json = own = fwt__json_parse(body, len);
    char *out = NULL;
    if (json && cJSON_IsObject(json)) {
        const cJSON *err = fwt__json_get(json, "error");
        const cJSON *msg = fwt__json_get(json, "message");
        if (err && cJSON_IsObject(err)) {
            const cJSON *em = fwt__json_get(err, "message");
            if (em && cJSON_IsString(em))
                out = fwt__strdup(em->valuestring);
            else
                out = fwt__json_print(err);
        } else if (err && cJSON_IsString(err)) {
            out = fwt__strdup(err->valuestring);
        } else if (msg && cJSON_IsString(msg)) {
            out = fwt__strdup(msg->valuestring);
        } else {
            out = fwt__strndup(body, len);
        }
    } else if (json) {
        out = fwt__strndup(body, len);
    } else {
        size_t s = 0, e = len;
        while (s < e && is_ws(body[s]))
            s++;
        while (e > s && is_ws(body[e - 1]))
            e--;
        size_t n = e - s > 200 ? 200 : e - s;
        out = fwt__strndup(body + s, n);
    }
    if (own)
        cJSON_Delete(own);
    return out;
}

/*
 * The service's canonical status codes (google.rpc.Code, by name or number) to
 * fwt_status, so an error says what kind of failure the server stated (an
 * existing model id is a conflict, a missing resource not found) whatever
 * path it came by: HTTP body, operation error, future error.
 */
int fwt__status_from_canonical(const char *name, int number, int fallback)
{
    static const struct {
        const char *name;
        int status;
    } map[] = {
        {"OK", FWT_OK},
        {"CANCELLED", FWT_EREMOTE},           /* cancelled on the server, not by fwt_future_cancel */
        {"UNKNOWN", FWT_EREMOTE},
        {"INVALID_ARGUMENT", FWT_EINVAL},
        {"DEADLINE_EXCEEDED", FWT_ETIMEDOUT},
        {"NOT_FOUND", FWT_ENOTFOUND},
        {"ALREADY_EXISTS", FWT_ECONFLICT},
        {"PERMISSION_DENIED", FWT_EAUTH},
        {"RESOURCE_EXHAUSTED", FWT_ERATELIMIT},
        {"FAILED_PRECONDITION", FWT_ESTATE},
        {"ABORTED", FWT_ECONFLICT},
        {"OUT_OF_RANGE", FWT_EINVAL},
        {"UNIMPLEMENTED", FWT_EUNSUPPORTED},
        {"INTERNAL", FWT_EREMOTE},
        {"UNAVAILABLE", FWT_EREMOTE},
        {"DATA_LOSS", FWT_EREMOTE},
        {"UNAUTHENTICATED", FWT_EAUTH},
    };
    const size_t n = sizeof map / sizeof map[0];
    int st;
    if (name && *name) {
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(name, map[i].name) == 0) {
                st = map[i].status;
                return st == FWT_OK ? fallback : st;
            }
        return fallback;
    }
    if (number > 0 && (size_t)number < n)
        return map[number].status;
    return fallback;
}

static int status_of_code(const cJSON *code, int fallback)
{
    if (cJSON_IsString(code))
        return fwt__status_from_canonical(code->valuestring, -1, fallback);
    if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 100)
        return fwt__status_from_canonical(NULL, (int)code->valuedouble, fallback);
    return fallback;
}

int fwt__status_from_json(const cJSON *obj, int fallback)
{
    if (!obj || !cJSON_IsObject(obj))
        return fallback;
    int st = status_of_code(fwt__json_get(obj, "code"), FWT__STATUS_NONE);
    if (st == FWT__STATUS_NONE)
        st = status_of_code(fwt__json_get(obj, "status"), FWT__STATUS_NONE);
    const cJSON *err = fwt__json_get(obj, "error");
    if (st == FWT__STATUS_NONE && err && cJSON_IsObject(err))
        st = fwt__status_from_json(err, FWT__STATUS_NONE);
    return st == FWT__STATUS_NONE ? fallback : st;
}

int fwt__reply_map(fwt__reply *r)
{
    long st = r->http_status;
    if (st >= 200 && st < 300) {
        r->err.pub.code = FWT_OK;
        return FWT_OK;
    }
    int code;
    switch (st) {
    case 401:
    case 403: code = FWT_EAUTH; break;
    case 404: code = FWT_ENOTFOUND; break;
    case 409: code = FWT_ECONFLICT; break;
    /* 410 is not mapped here: "promise expired" (FWT_EEXPIRED) belongs to retrieve_future alone, which maps it
     * itself (docs/protocol.md §4.2); elsewhere a 410 is what its body says (FWT_EHTTP with status 410). */
    case 429: code = FWT_ERATELIMIT; break;
    /* The status alone says little: the body's canonical code, when it states one, says more. A generic
     * server-side kind (UNAVAILABLE, INTERNAL, ...) says no more than the status, and FWT_EREMOTE means "an
     * op ran and failed": such an answer stays FWT_EHTTP with its status (e.g. 425 while a hotload runs). */
    default:
        code = fwt__status_from_json(r->json, FWT_EHTTP);
        if (code == FWT_EREMOTE)
            code = FWT_EHTTP;
        break;
    }
    char *text = fwt__error_text(r->body, r->body_len, r->json);
    const char *t = text && *text ? text : fwt_strerror(code);
    if (st == 401)
        fwt__err_set(&r->err, code,
                     "%s (HTTP 401; is the API key valid and training-scoped? inference-only keys are rejected)", t);
    else if (st == 403)
        /* Not the key's validity: a permission it lacks, or a proxy's refusal; the body says whose. */
        fwt__err_set(&r->err, code, "permission denied: %s (HTTP 403)",
                     text && *text ? text : "the server gave no reason");
    else
        fwt__err_set(&r->err, code, "%s (HTTP %ld)", t, st);
    fwt__free_mem(text);
    r->err.pub.http_status = (int32_t)st;
    r->err.pub.attempts = r->attempts;
    return code;
}

static void policy_for(const fwt_client *c, fwt__retry_class rc, fwt__retry_policy *p)
{
    memset(p, 0, sizeof *p);
    p->base_ms = c->opts.retry_base_ms;
    p->cap_ms = c->opts.retry_cap_ms;
    p->budget_ms = c->opts.retry_budget_ms;
    /* A request that never reached the server gives up sooner (client.h unreachable_timeout_ms).
     * Single-attempt calls (polls of accepted operations) carry their own loops and budgets. */
    p->unreachable_ms = c->opts.unreachable_timeout_ms > 0 ? c->opts.unreachable_timeout_ms : 0;
    switch (rc) {
    case FWT__RC_CONTROL: /* §2.3, §11.2–3: 425 is not retried */
        p->on = FWT__RETRY_408 | FWT__RETRY_429 | FWT__RETRY_5XX_COMMON | FWT__RETRY_CONN;
        break;
    case FWT__RC_SUBMIT: /* §2.3 Tinker execute_with_retries */
        p->on = FWT__RETRY_408 | FWT__RETRY_409 | FWT__RETRY_429 | FWT__RETRY_5XX_ANY | FWT__RETRY_CONN |
                FWT__RETRY_EMPTY_400;
        break;
    default:
        p->on = 0;
        break;
    }
}

/* ---- one call: its engine spec, and the reply built from the engine's result ---- */

/* The engine spec of a call and the buffers it points into. */
typedef struct call_spec {
    fwt__http_spec spec;
    const char **hdrs;
    char *body;
    char key[37];
} call_spec;

static void call_spec_clear(call_spec *cs)
{
    fwt__free_mem(cs->body);
    fwt__free_mem(cs->hdrs);
    cs->body = NULL;
    cs->hdrs = NULL;
}

static int call_spec_build(fwt_client *c, const fwt__call *call, call_spec *cs)
{
    memset(cs, 0, sizeof *cs);
    size_t nextra = 0;
    if (call->extra_headers)
        while (call->extra_headers[nextra])
            nextra++;
    cs->hdrs = fwt__calloc(nextra + 5, sizeof *cs->hdrs);
    if (!cs->hdrs)
        return FWT_ENOMEM;
    size_t h = 0;
    /* §1, §10.5: X-Api-Key (the trainer's X-API-Key is the same header) and Bearer on every plane. */
    cs->hdrs[h++] = c->hdr_key;
    cs->hdrs[h++] = c->hdr_bearer;
    cs->hdrs[h++] = "Accept: application/json";
    if (call->body)
        cs->hdrs[h++] = "Content-Type: application/json";
    for (size_t i = 0; i < nextra; i++)
        cs->hdrs[h++] = call->extra_headers[i];
    cs->hdrs[h] = NULL;

    if (call->body) {
        cs->body = fwt__json_print(call->body);
        if (!cs->body) {
            call_spec_clear(cs);
            return FWT_ENOMEM;
        }
    }
    const char *idem = call->idempotency_key;
    if (!idem && strcmp(call->method, "GET") != 0) {
        if (fwt__uuid4(cs->key) != FWT_OK) {
            call_spec_clear(cs);
            return FWT_EIO;
        }
        idem = cs->key;
    }
    fwt__http_spec *spec = &cs->spec;
    spec->method = call->method;
    spec->url = call->url;
    spec->headers = cs->hdrs;
    spec->body = cs->body;
    spec->body_len = cs->body ? strlen(cs->body) : 0;
    spec->idempotency_key = idem;
    spec->connect_timeout_ms = c->opts.connect_timeout_ms;
    spec->header_timeout_ms = call->header_timeout_ms ? call->header_timeout_ms : c->opts.header_timeout_ms;
    spec->body_timeout_ms = call->body_timeout_ms ? call->body_timeout_ms : c->opts.body_timeout_ms;
    spec->deadline_ms = call->deadline_ms;
    spec->max_response_bytes = c->opts.max_response_bytes;
    policy_for(c, call->retry, &spec->retry);
    spec->allow_insecure_http = c->opts.allow_insecure_http != 0;
    fwt__log(&c->logger, FWT_LOG_DEBUG, "%s %s", call->method, call->url);
    return FWT_OK;
}

/*
 * A server can echo the key back in any body (an error text, an operation message, a
 * future's error): replace it before anything reads, keeps, cuts or logs the body, so
 * what derives from it (error messages, progress text, registry lines) never holds the
 * key nor a piece of it. Bodies without the key (all but hostile ones) cost one scan.
 * Out of memory: the body is dropped rather than kept with the key. Keys shorter than
 * FWT__SCRUB_MIN_KEY (test keys such as "k"; real keys are far longer) would match
 * ordinary JSON: for them only error texts and log lines are scrubbed.
 */
static void scrub_body(const fwt_client *c, char **body, size_t *len)
{
    size_t klen = c->api_key ? strlen(c->api_key) : 0;
    if (klen < FWT__SCRUB_MIN_KEY || !*body || *len < klen)
        return;
    size_t count = 0;
    for (const char *p = *body, *end = *body + *len; (p = memmem(p, (size_t)(end - p), c->api_key, klen)) != NULL;
         p += klen)
        count++;
    if (!count)
        return;
    size_t old = *len, cap = old + count * 10 + 1;
    char *out = fwt__malloc(cap);
    *len = out ? fwt__redact_copy(out, cap, *body, old, c->api_key, klen) : 0;
    if (out) {
        explicit_bzero(*body, old);
        fwt__free_mem(*body);
        *body = out;
    } else {
        explicit_bzero(*body, old + 1); /* keep the (now empty) buffer: the body is never NULL */
    }
}

/* Turn the engine's result (consumed; its body moves to *r) into *r. Never fails. */
static void reply_fill(fwt_client *c, fwt__http_result *res, fwt__reply *r)
{
    fwt__reply_init(r);
    r->http_status = res->http_status;
    r->attempts = res->attempts;
    r->retry_after_ms = res->retry_after_ms;
    r->body = res->body; /* engine.h: NUL-terminated, never NULL */
    r->body_len = res->body_len;
    res->body = NULL;
    scrub_body(c, &r->body, &r->body_len);
    if (res->status != FWT_OK) {
        r->transport_failed = 1;
        char *m = fwt__client_scrub_dup(c, res->message);
        fwt__err_set(&r->err, res->status, "%s", m && *m ? m : fwt_strerror(res->status));
        fwt__free_mem(m);
        r->err.pub.http_status = (int32_t)res->http_status;
        r->err.pub.attempts = res->attempts;
    } else {
        if (r->body_len)
            r->json = fwt__json_parse(r->body, r->body_len);
        if (fwt__reply_map(r) != FWT_OK) {
            /* A server could echo the key back; it must not reach an error message. */
            char *m = fwt__client_scrub_dup(c, r->err.pub.message);
            if (m) {
                fwt__err_set(&r->err, r->err.pub.code, "%s", m);
                fwt__free_mem(m);
            }
        }
    }
    if (res->request_id && *res->request_id)
        fwt__err_set_request_id(&r->err, res->request_id);
    r->err.pub.http_status = (int32_t)r->http_status;
    r->err.pub.attempts = r->attempts;
    fwt__http_result_free(res);
}

/* ---- asynchronous: through the worker ---- */

typedef struct call_ctx {
    fwt_client *c;
    fwt__call_done cb;
    void *ud;
    fwt__reply *r;  /* allocated at submit so delivery never fails for memory */
} call_ctx;

static void on_http_done(fwt__http_result *res, void *ud)
{
    call_ctx *cc = ud;
    reply_fill(cc->c, res, cc->r);
    cc->cb(cc->r, cc->ud);
    fwt__free_mem(cc);
}

int fwt__call_async(fwt_client *c, const fwt__call *call, fwt__call_done cb, void *ud, uint64_t *out_id)
{
    if (!c || !call || !call->url || !call->method || !cb)
        return FWT_EINVAL;
    if (!c->engine)
        return FWT_ESTATE;
    call_spec cs;
    int rc = call_spec_build(c, call, &cs);
    if (rc)
        return rc;
    call_ctx *cc = fwt__calloc(1, sizeof *cc);
    if (cc)
        cc->r = fwt__malloc(sizeof *cc->r);
    if (!cc || !cc->r) {
        if (cc)
            fwt__free_mem(cc->r);
        fwt__free_mem(cc);
        call_spec_clear(&cs);
        return FWT_ENOMEM;
    }
    cc->c = c;
    cc->cb = cb;
    cc->ud = ud;
    rc = fwt__engine_submit(c->engine, &cs.spec, on_http_done, cc, out_id);
    if (rc) {
        fwt__free_mem(cc->r);
        fwt__free_mem(cc);
    }
    call_spec_clear(&cs);
    return rc;
}

/* ---- blocking: on the caller's thread (no hand-off to the worker; engine.h fwt__engine_run) ---- */

int fwt__call_run(fwt_client *c, const fwt__call *call, fwt__reply **out)
{
    *out = NULL;
    if (!c || !call || !call->url || !call->method)
        return FWT_EINVAL;
    if (!c->engine || fwt__engine_on_worker(c->engine))
        return FWT_ESTATE;
    fwt__reply *r = fwt__malloc(sizeof *r);
    if (!r)
        return FWT_ENOMEM;
    call_spec cs;
    int rc = call_spec_build(c, call, &cs);
    fwt__http_result *res = NULL;
    if (!rc)
        rc = fwt__engine_run(c->engine, &cs.spec, &res);
    call_spec_clear(&cs);
    if (rc != FWT_OK) {
        fwt__free_mem(r);
        return rc;
    }
    reply_fill(c, res, r);
    *out = r;
    return FWT_OK;
}

int fwt__call_sync(fwt_client *c, const fwt__call *call, fwt__reply *out)
{
    fwt__reply_init(out);
    if (!c || !call || !call->url || !call->method)
        return fwt__last_set(FWT_EINVAL, "internal: NULL call");
    if (!c->engine)
        return fwt__last_set(FWT_ESTATE, "the client has no engine");
    if (fwt__engine_on_worker(c->engine))
        return fwt__last_set(FWT_ESTATE, "a blocking call was made on the worker thread (from a callback?)");
    call_spec cs;
    int rc = call_spec_build(c, call, &cs);
    fwt__http_result *res = NULL;
    if (!rc)
        rc = fwt__engine_run(c->engine, &cs.spec, &res);
    call_spec_clear(&cs);
    if (rc != FWT_OK)
        return fwt__last_set(rc, "could not submit %s %s: %s", call->method, call->url, fwt_strerror(rc));
    reply_fill(c, res, out);
    if (out->err.pub.code != FWT_OK)
        return fwt__last_set_err(&out->err);
    fwt__last_ok();
    return FWT_OK;
}
