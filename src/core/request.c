/* API calls over the engine: auth headers per plane (§1), retry classes (§2.3), error mapping (§2.2, §11.1). */
#include <pthread.h>
#include <string.h>

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

/* protocol §11.1 */
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
    case 410: code = FWT_EEXPIRED; break;
    case 429: code = FWT_ERATELIMIT; break;
    default: code = FWT_EHTTP; break;
    }
    char *text = fwt__error_text(r->body, r->body_len, r->json);
    const char *t = text && *text ? text : fwt_strerror(code);
    if (st == 401)
        fwt__err_set(&r->err, code,
                     "%s (HTTP 401; is the API key valid and training-scoped? inference-only keys are rejected)", t);
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

typedef struct call_ctx {
    fwt_client *c;
    fwt__call_done cb;
    void *ud;
    fwt__reply *r;  /* allocated at submit so delivery never fails for memory */
    char *empty;    /* body fallback when copying the body fails */
} call_ctx;

static void on_http_done(fwt__http_result *res, void *ud)
{
    call_ctx *cc = ud;
    fwt__reply *r = cc->r;
    fwt__reply_init(r);
    r->http_status = res->http_status;
    r->attempts = res->attempts;
    r->retry_after_ms = res->retry_after_ms;
    r->body_len = res->body ? res->body_len : 0;
    int oom = 0;
    r->body = fwt__malloc(r->body_len + 1);
    if (r->body) {
        if (r->body_len)
            memcpy(r->body, res->body, r->body_len);
        r->body[r->body_len] = '\0';
        fwt__free_mem(cc->empty);
    } else {
        r->body = cc->empty;
        r->body_len = 0;
        oom = 1;
    }
    cc->empty = NULL;
    if (oom) {
        r->transport_failed = 1;
        fwt__err_set(&r->err, FWT_ENOMEM, "out of memory");
    } else if (res->status != FWT_OK) {
        r->transport_failed = 1;
        char *m = fwt__client_scrub_dup(cc->c, res->message);
        fwt__err_set(&r->err, res->status, "%s", m && *m ? m : fwt_strerror(res->status));
        fwt__free_mem(m);
        r->err.pub.http_status = (int32_t)res->http_status;
        r->err.pub.attempts = res->attempts;
    } else {
        if (r->body_len)
            r->json = fwt__json_parse(r->body, r->body_len);
        if (fwt__reply_map(r) != FWT_OK) {
            /* A server could echo the key back; it must not reach an error message. */
            char *m = fwt__client_scrub_dup(cc->c, r->err.pub.message);
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
    cc->cb(r, cc->ud);
    fwt__free_mem(cc);
}

int fwt__call_async(fwt_client *c, const fwt__call *call, fwt__call_done cb, void *ud, uint64_t *out_id)
{
    if (!c || !call || !call->url || !call->method || !cb)
        return FWT_EINVAL;
    if (!c->engine)
        return FWT_ESTATE;
    size_t nextra = 0;
    if (call->extra_headers)
        while (call->extra_headers[nextra])
            nextra++;
    const char **hdrs = fwt__calloc(nextra + 5, sizeof *hdrs);
    if (!hdrs)
        return FWT_ENOMEM;
    size_t h = 0;
    /* §1, §10.5: X-Api-Key (the trainer's X-API-Key is the same header) and Bearer on every plane. */
    hdrs[h++] = c->hdr_key;
    hdrs[h++] = c->hdr_bearer;
    hdrs[h++] = "Accept: application/json";
    if (call->body)
        hdrs[h++] = "Content-Type: application/json";
    for (size_t i = 0; i < nextra; i++)
        hdrs[h++] = call->extra_headers[i];
    hdrs[h] = NULL;

    char *body = NULL;
    if (call->body) {
        body = fwt__json_print(call->body);
        if (!body) {
            fwt__free_mem(hdrs);
            return FWT_ENOMEM;
        }
    }
    char key[37];
    const char *idem = call->idempotency_key;
    if (!idem && strcmp(call->method, "GET") != 0) {
        if (fwt__uuid4(key) != FWT_OK) {
            fwt__free_mem(body);
            fwt__free_mem(hdrs);
            return FWT_EIO;
        }
        idem = key;
    }
    fwt__http_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.method = call->method;
    spec.url = call->url;
    spec.headers = hdrs;
    spec.body = body;
    spec.body_len = body ? strlen(body) : 0;
    spec.idempotency_key = idem;
    spec.connect_timeout_ms = c->opts.connect_timeout_ms;
    spec.header_timeout_ms = call->header_timeout_ms ? call->header_timeout_ms : c->opts.header_timeout_ms;
    spec.body_timeout_ms = call->body_timeout_ms ? call->body_timeout_ms : c->opts.body_timeout_ms;
    spec.deadline_ms = call->deadline_ms;
    spec.max_response_bytes = c->opts.max_response_bytes;
    policy_for(c, call->retry, &spec.retry);
    spec.allow_insecure_http = c->opts.allow_insecure_http != 0;

    call_ctx *cc = fwt__calloc(1, sizeof *cc);
    int rc = cc ? FWT_OK : FWT_ENOMEM;
    if (cc) {
        cc->r = fwt__malloc(sizeof *cc->r);
        cc->empty = fwt__calloc(1, 1);
        if (!cc->r || !cc->empty) {
            fwt__free_mem(cc->r);
            fwt__free_mem(cc->empty);
            fwt__free_mem(cc);
            cc = NULL;
            rc = FWT_ENOMEM;
        }
    }
    if (cc) {
        cc->c = c;
        cc->cb = cb;
        cc->ud = ud;
        fwt__log(&c->logger, FWT_LOG_DEBUG, "%s %s", call->method, call->url);
        rc = fwt__engine_submit(c->engine, &spec, on_http_done, cc, out_id);
        if (rc) {
            fwt__free_mem(cc->r);
            fwt__free_mem(cc->empty);
            fwt__free_mem(cc);
        }
    }
    fwt__free_mem(body);
    fwt__free_mem(hdrs);
    return rc;
}

typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    fwt__reply *reply;
} sync_wait;

static void sync_done(fwt__reply *r, void *ud)
{
    sync_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->reply = r;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int fwt__call_sync(fwt_client *c, const fwt__call *call, fwt__reply *out)
{
    fwt__reply_init(out);
    if (!c || !call)
        return fwt__last_set(FWT_EINVAL, "internal: NULL call");
    if (c->engine && fwt__engine_on_worker(c->engine))
        return fwt__last_set(FWT_ESTATE, "a blocking call was made on the worker thread (from a callback?)");
    sync_wait w = {.done = 0, .reply = NULL};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = fwt__call_async(c, call, sync_done, &w, NULL);
    if (rc == FWT_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (rc != FWT_OK)
        return fwt__last_set(rc, "could not submit %s %s: %s", call->method, call->url, fwt_strerror(rc));
    *out = *w.reply;
    fwt__free_mem(w.reply); /* contents moved to *out */
    if (out->err.pub.code != FWT_OK)
        return fwt__last_set_err(&out->err);
    fwt__last_ok();
    return FWT_OK;
}
