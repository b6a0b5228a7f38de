/*
 * retrieve_future (protocol §4.2 as refined by §11.6), one state machine per
 * op, on the worker thread. Every wait is an engine timer so cancellation
 * cuts it short and a fake clock applies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/training_impl.h"

#define BAD400_RETRIES 3

static void poll_send(fwt__top *op);

static void timer_fire(void *ud)
{
    fwt__top *op = ud;
    pthread_mutex_lock(&op->t->mu);
    op->timer_id = 0;
    pthread_mutex_unlock(&op->t->mu);
    if (op->future_done) {
        fwt__top_release(op);
        return;
    }
    if (fwt__engine_stopping(op->t->eng)) {
        fwt__top_finish(op, FWT_ECANCELED, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    poll_send(op);
}

static void repoll_after(fwt__top *op, uint64_t delay_ms)
{
    if (delay_ms == 0) {
        poll_send(op);
        return;
    }
    uint64_t id = 0;
    if (fwt__engine_post(op->t->eng, delay_ms, timer_fire, op, &id) != FWT_OK) {
        fwt__top_finish(op, FWT_ECANCELED, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    pthread_mutex_lock(&op->t->mu);
    op->timer_id = id;
    pthread_mutex_unlock(&op->t->mu);
}

/* After a fast try_again / 408 / 5xx: wait out the rest of the floor so a server that does not long-poll is not hammered. */
static void repoll_floor(fwt__top *op)
{
    uint64_t floor_ms = (uint64_t)fwt__client_options(op->t->client)->poll_floor_ms;
    uint64_t spent = fwt__engine_now_ms(op->t->eng) - op->poll_start_ms;
    repoll_after(op, spent >= floor_ms ? 0 : floor_ms - spent);
}

/* 429 and connection-class errors: min(base * 2^k, cap) with k consecutive such errors (§11.6), no jitter. */
static void repoll_backoff(fwt__top *op)
{
    uint64_t d = (uint64_t)fwt__backoff_next(&op->backoff, fwt__engine_random(op->t->eng));
    fwt__log(fwt__client_logger(op->t->client), FWT_LOG_DEBUG, "retrieve_future %s: backing off %llu ms",
             op->request_id, (unsigned long long)d);
    repoll_after(op, d);
}

__attribute__((format(printf, 4, 5))) static void fail(fwt__top *op, int code, long st, const char *fmt, ...)
{
    fwt__err e;
    fwt__err_init(&e);
    va_list ap;
    va_start(ap, fmt);
    char *msg = fwt__vasprintf(fmt, ap);
    va_end(ap);
    fwt__err_set(&e, code, "%s", msg ? msg : fwt_strerror(code));
    fwt__free_mem(msg);
    e.pub.http_status = (int32_t)st;
    fwt__top_finish(op, code, &e, FWT__VALUE_NONE, NULL, NULL);
}

static void on_result(fwt__top *op, fwt__reply *r)
{
    const cJSON *j = r->json;
    if (!j || !cJSON_IsObject(j)) {
        fail(op, FWT_EPROTO, r->http_status, "retrieve_future (%s): the reply is not a JSON object", op->route);
        return;
    }
    const char *type = NULL, *status = NULL;
    if (fwt__json_get_string(j, "type", &type) == FWT_OK && strcmp(type, "try_again") == 0) {
        fwt__backoff_reset(&op->backoff);
        repoll_floor(op);
        return;
    }
    if (fwt__json_get_string(j, "status", &status) == FWT_OK && strcmp(status, "complete_metadata") == 0) {
        fwt__backoff_reset(&op->backoff); /* we always send allow_metadata_only:false; re-poll with false (§11.6) */
        repoll_floor(op);
        return;
    }
    const cJSON *err = fwt__json_get(j, "error");
    if (err && !cJSON_IsNull(err)) {
        /* RequestFailedResponse: {"error": msg, "category": "user"|"server"|"unknown"} */
        const char *cat = NULL;
        int category = FWT_CATEGORY_UNKNOWN;
        if (fwt__json_get_string(j, "category", &cat) == FWT_OK) {
            if (strcmp(cat, "user") == 0)
                category = FWT_CATEGORY_USER;
            else if (strcmp(cat, "server") == 0)
                category = FWT_CATEGORY_SERVER;
        }
        char *msg = cJSON_IsString(err) ? fwt__strdup(err->valuestring) : fwt__json_print(err);
        char *clean = fwt__client_scrub_dup(op->t->client, msg ? msg : "");
        fwt__err e;
        fwt__err_init(&e);
        fwt__err_set(&e, FWT_EREMOTE, "%s failed on the server (%s error): %s", op->route,
                     category == FWT_CATEGORY_USER ? "user" : category == FWT_CATEGORY_SERVER ? "server" : "unknown",
                     clean ? clean : "");
        fwt__free_mem(msg);
        fwt__free_mem(clean);
        e.pub.category = category;
        e.pub.http_status = (int32_t)r->http_status;
        fwt__err_set_request_id(&e, op->request_id);
        fwt__top_finish(op, FWT_EREMOTE, &e, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    fwt__err e;
    fwt__err_init(&e);
    fwt__value_kind kind = FWT__VALUE_NONE;
    void *value = NULL;
    void (*vfree)(void *) = NULL;
    int rc = op->parse(op, j, &e, &kind, &value, &vfree);
    if (rc != FWT_OK) {
        if (e.pub.code == FWT_OK)
            fwt__err_set(&e, rc, "%s: malformed result", op->route);
        fwt__top_finish(op, rc, &e, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    fwt__top_finish(op, FWT_OK, NULL, kind, value, vfree);
}

static void on_poll(fwt__reply *r, void *ud)
{
    fwt__top *op = ud;
    pthread_mutex_lock(&op->t->mu);
    op->req_id = 0;
    pthread_mutex_unlock(&op->t->mu);
    if (op->future_done) { /* cancelled or timed out: the future already completed */
        fwt__reply_free(r);
        fwt__top_release(op);
        return;
    }
    long st = r->http_status;
    int code = r->err.pub.code;
    if (r->transport_failed || st == 0) {
        /* No complete HTTP response. Connection-class errors back off; the rest are final. */
        if (code == FWT_ETIMEDOUT || code == FWT_ECONNECT) {
            fwt__reply_free(r);
            repoll_backoff(op);
            return;
        }
        fwt__top_finish(op, code, &r->err, FWT__VALUE_NONE, NULL, NULL);
        fwt__reply_free(r);
        return;
    }
    if (st != 402)
        op->billing_start_ms = 0;
    if (st >= 200 && st < 300) {
        fwt__backoff_reset(&op->backoff);
        on_result(op, r);
    } else if (st == 408) {
        fwt__backoff_reset(&op->backoff);
        if (r->json) /* "try_again pretending to be an HTTP error" resets the 400 budget (§11.6) */
            op->bad400 = 0;
        repoll_floor(op);
    } else if (st >= 500 && st < 600) {
        fwt__backoff_reset(&op->backoff);
        repoll_floor(op);
    } else if (st == 429) {
        repoll_backoff(op);
    } else if (st == 400 && r->body_len == 0) {
        repoll_backoff(op); /* proxy rejection: connection-class (§11.6) */
    } else if (st == 400) {
        fwt__backoff_reset(&op->backoff);
        if (++op->bad400 > BAD400_RETRIES)
            fwt__top_finish(op, r->err.pub.code, &r->err, FWT__VALUE_NONE, NULL, NULL);
        else
            repoll_floor(op);
    } else if (st == 402) {
        fwt__backoff_reset(&op->backoff);
        uint64_t now = fwt__engine_now_ms(op->t->eng);
        if (!op->billing_start_ms)
            op->billing_start_ms = now ? now : 1;
        if (now - op->billing_start_ms >= (uint64_t)FWT__BILLING_MAX_MS) {
            fail(op, FWT_EHTTP, st, "%s: billing pause (HTTP 402) lasted longer than 3600 s", op->route);
        } else {
            fwt__log(fwt__client_logger(op->t->client), FWT_LOG_WARN,
                     "retrieve_future %s: billing pause (HTTP 402); retrying in 5 s", op->request_id);
            repoll_after(op, (uint64_t)fwt__backoff_next(&op->billing, fwt__engine_random(op->t->eng)));
        }
    } else if (st == 410) {
        fail(op, FWT_EEXPIRED, st, "%s: promise expired; the operation is lost and was not re-submitted", op->route);
    } else {
        fwt__top_finish(op, r->err.pub.code ? r->err.pub.code : FWT_EHTTP, &r->err, FWT__VALUE_NONE, NULL, NULL);
    }
    fwt__reply_free(r);
}

static void poll_send(fwt__top *op)
{
    fwt_training *t = op->t;
    char iter[64], rtt[96], rtype[96];
    snprintf(iter, sizeof iter, "X-Tinker-Request-Iteration: %d", op->iter);
    snprintf(rtype, sizeof rtype, "X-Tinker-Request-Type: %s", op->rtype);
    snprintf(rtt, sizeof rtt, "X-Tinker-Create-Promise-Roundtrip-Time: %.6f", op->promise_rtt_s);
    const char *hdrs[4] = {iter, rtype, op->iter == 0 ? rtt : NULL, NULL};
    cJSON *body = cJSON_CreateObject();
    char *url = fwt__training_route(t, "retrieve_future");
    int rc = (body && url) ? FWT_OK : FWT_ENOMEM;
    if (!rc) rc = fwt__json_add_string(body, "request_id", op->request_id);
    if (!rc) rc = fwt__json_add_bool(body, "allow_metadata_only", 0);
    uint64_t id = 0;
    if (!rc) {
        /* Per-poll header and body deadlines come from the client options (45 s + 45 s by default). */
        fwt__call call = {.plane = FWT__PLANE_TRAINER, .method = "POST", .url = url, .body = body,
                          .extra_headers = hdrs, .retry = FWT__RC_NONE};
        op->poll_start_ms = fwt__engine_now_ms(t->eng);
        op->iter++;
        rc = fwt__call_async(t->client, &call, on_poll, op, &id);
    }
    cJSON_Delete(body);
    fwt__free_mem(url);
    if (rc) {
        fail(op, rc, 0, "retrieve_future (%s): could not send the poll", op->route);
        return;
    }
    pthread_mutex_lock(&t->mu);
    op->req_id = id;
    op->phase = FWT__OP_POLLING;
    pthread_mutex_unlock(&t->mu);
}

void fwt__poll_start(fwt__top *op)
{
    pthread_mutex_lock(&op->t->mu);
    op->phase = FWT__OP_POLLING;
    pthread_mutex_unlock(&op->t->mu);
    op->iter = 0;
    fwt__backoff_reset(&op->backoff);
    op->bad400 = 0;
    poll_send(op);
}
