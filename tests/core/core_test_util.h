/*
 * Test helpers for the core area: a throttled fake clock and a scripted fake
 * trainer (data plane + account lookup) on top of tests/support/responder.h.
 */
#ifndef FWT_CORE_TEST_UTIL_H
#define FWT_CORE_TEST_UTIL_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/request.h"
#include "fwtrain/fwtrain.h"
#include "http/engine.h"
#include "responder.h"

#define TEST_KEY "fw-test-key-SECRET-0123456789"

/* ---- fake clock: virtual time advances only when the worker would sleep ---- */
typedef struct fclock {
    pthread_mutex_t mu;
    uint64_t now;
} fclock;

static inline uint64_t fclock_now(void *ctx)
{
    fclock *c = ctx;
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->now;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static inline void fclock_sleep(void *ctx, uint64_t ms)
{
    fclock *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->now += ms;
    pthread_mutex_unlock(&c->mu);
    usleep(300); /* keep an idle worker (a far-away heartbeat timer) from spinning a core */
}

static inline uint64_t fclock_rand(void *ctx)
{
    (void)ctx;
    return 0x9e3779b97f4a7c15ull;
}

static inline void fclock_init(fclock *c)
{
    pthread_mutex_init(&c->mu, NULL);
    c->now = 1000000;
}

static inline fwt__clock fclock_iface(fclock *c)
{
    fwt__clock k = {fclock_now, fclock_sleep, fclock_rand, c};
    return k;
}

/* ---- fake trainer ---- */
#define TR_MAX 512

typedef struct tr_action {
    int status;
    const char *body; /* static */
    int delay_headers_ms;
} tr_action;

typedef struct tr_submit {
    char route[40];
    int64_t seq_id; /* -1 when absent */
    char idem[48];
    int accepted;
    uint64_t real_ms;
    uint64_t vtime;
} tr_submit;

typedef struct trainer {
    fwt_responder *r;
    fclock *clk;
    pthread_mutex_t mu;
    tr_action poll_q[1024];
    int poll_head, poll_tail;
    tr_action submit_q[1024];
    int submit_head, submit_tail;
    const char *result_override; /* static body for every default result, NULL = per op */
    int n_accounts;
    int account_lookups;
    int hb_count;
    int hb_status; /* nonzero: answer heartbeats with this status */
    const char *list_body; /* NULL: two names */
    int list_status;
    int session_count;
    int session_402; /* answer this many create_session calls with 402 first */
    int submit_delay_ms;
    tr_submit submits[1024];
    int submit_sticky; /* nonzero: every submit answers this status */
    int submit_sticky_after_queue; /* like submit_sticky, once the scripted submit queue is empty */
    int n_submits;
    int polls;
    uint64_t poll_vtime[1024];
    int poll_iter[1024];
    int n_promises;
    char promise_rid[TR_MAX][32];
    char promise_route[TR_MAX][40];
    char promise_path[TR_MAX][160];
    char last_fail_body[64];
    char buf[TR_MAX][512]; /* response bodies that must outlive the handler call */
    int nbuf;
} trainer;

static inline uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline const char *tr_keep(trainer *tr, const char *s)
{
    char *b = tr->buf[tr->nbuf++ % TR_MAX];
    snprintf(b, 512, "%s", s);
    return b;
}

static inline const char *route_of(const char *path)
{
    const char *p = strstr(path, "/api/v1/");
    return p ? p + 8 : NULL;
}

static inline const char *default_result(trainer *tr, const char *rid)
{
    char tmp[512];
    for (int i = 0; i < tr->n_promises; i++) {
        if (strcmp(tr->promise_rid[i], rid) != 0)
            continue;
        const char *rt = tr->promise_route[i];
        if (tr->result_override)
            return tr->result_override;
        if (!strcmp(rt, "create_model"))
            return "{\"model_id\":\"model-1\",\"type\":\"create_model\"}";
        if (!strcmp(rt, "forward_backward") || !strcmp(rt, "forward"))
            return "{\"loss_fn_output_type\":\"cross_entropy\",\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[-1.5,-2.25],"
                   "\"dtype\":\"float32\",\"shape\":[2]}}],\"metrics\":{\"loss:sum\":3.75}}";
        if (!strcmp(rt, "optim_step"))
            return "{\"metrics\":{\"grad_norm\":0.5}}";
        snprintf(tmp, sizeof tmp, "{\"path\":\"%s\",\"type\":\"%s\"}", tr->promise_path[i], rt);
        return tr_keep(tr, tmp);
    }
    return "{\"error\":\"unknown request_id\",\"category\":\"user\"}";
}

static inline void tr_handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    trainer *tr = ud;
    pthread_mutex_lock(&tr->mu);
    out->content_type = "application/json";
    const char *rt = route_of(req->path);
    cJSON *body = req->body_len ? cJSON_Parse(req->body) : NULL;
    if (strncmp(req->path, "/v1/accounts", 12) == 0) {
        tr->account_lookups++;
        out->body = tr->n_accounts == 0   ? "{}"
                    : tr->n_accounts == 1 ? "{\"accounts\":[{\"name\":\"accounts/acct-1\"}]}"
                                          : "{\"accounts\":[{\"name\":\"accounts/a1\"},{\"name\":\"accounts/a2\"}]}";
    } else if (!rt) {
        out->status = 404;
        out->body = "{\"message\":\"no such route\"}";
    } else if (!strcmp(rt, "create_session")) {
        tr->session_count++;
        out->body = "{\"session_id\":\"sess-1\",\"type\":\"create_session\"}";
        if (tr->session_402 > 0) {
            tr->session_402--;
            out->status = 402;
            out->body = "{\"message\":\"billing paused\"}";
        }
    } else if (!strcmp(rt, "session_heartbeat")) {
        tr->hb_count++;
        out->body = "{}";
        if (tr->hb_status)
            out->status = tr->hb_status;
    } else if (!strcmp(rt, "list_checkpoints")) {
        out->body = tr->list_body ? tr->list_body : "{\"checkpoints\":[\"step-1\",\"step-2\"]}";
        out->status = tr->list_status;
    } else if (!strcmp(rt, "retrieve_future")) {
        int i = tr->polls++;
        if (i < 1024) {
            tr->poll_vtime[i] = tr->clk ? fclock_now(tr->clk) : mono_ms();
            const char *it = fwt_resp_request_header(req, "X-Tinker-Request-Iteration");
            tr->poll_iter[i] = it ? atoi(it) : -1;
        }
        if (tr->poll_head < tr->poll_tail) {
            tr_action a = tr->poll_q[tr->poll_head++];
            out->status = a.status;
            out->body = a.body;
            out->delay_headers_ms = a.delay_headers_ms;
            if (a.status == -1) { /* connection dropped mid-body */
                out->status = 200;
                out->body = "{\"type\":";
                out->advertise_len = 100;
            }
        } else {
            cJSON *rid = body ? cJSON_GetObjectItemCaseSensitive(body, "request_id") : NULL;
            out->body = default_result(tr, cJSON_IsString(rid) ? rid->valuestring : "");
        }
    } else {
        int i = tr->n_submits < 1024 ? tr->n_submits++ : 1023;
        tr_submit *s = &tr->submits[i];
        snprintf(s->route, sizeof s->route, "%s", rt);
        cJSON *seq = body ? cJSON_GetObjectItemCaseSensitive(body, "seq_id") : NULL;
        s->seq_id = cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : -1;
        const char *idem = fwt_resp_request_header(req, "X-Idempotency-Key");
        snprintf(s->idem, sizeof s->idem, "%s", idem ? idem : "");
        s->real_ms = mono_ms();
        s->vtime = tr->clk ? fclock_now(tr->clk) : s->real_ms;
        out->delay_headers_ms = tr->submit_delay_ms;
        if (tr->submit_sticky) {
            out->status = tr->submit_sticky;
            out->body = "{}";
        } else if (tr->submit_head < tr->submit_tail) {
            tr_action a = tr->submit_q[tr->submit_head++];
            out->status = a.status;
            out->body = a.body;
        } else if (tr->submit_sticky_after_queue) {
            out->status = tr->submit_sticky_after_queue;
            out->body = "{}";
        } else {
            s->accepted = 1;
            int p = tr->n_promises++ % TR_MAX;
            snprintf(tr->promise_rid[p], 32, "%s-%d", rt, p);
            snprintf(tr->promise_route[p], 40, "%s", rt);
            cJSON *path = body ? cJSON_GetObjectItemCaseSensitive(body, "path") : NULL;
            snprintf(tr->promise_path[p], 160, "%s", cJSON_IsString(path) ? path->valuestring : "");
            char tmp[128];
            snprintf(tmp, sizeof tmp, "{\"request_id\":\"%s\"}", tr->promise_rid[p]);
            out->body = tr_keep(tr, tmp);
        }
    }
    if (body)
        cJSON_Delete(body);
    pthread_mutex_unlock(&tr->mu);
}

static inline trainer *trainer_start(fclock *clk)
{
    trainer *tr = calloc(1, sizeof *tr);
    pthread_mutex_init(&tr->mu, NULL);
    tr->clk = clk;
    tr->n_accounts = 1;
    if (fwt_responder_start(&tr->r, tr_handler, tr) != 0) {
        free(tr);
        return NULL;
    }
    return tr;
}

static inline void trainer_stop(trainer *tr)
{
    if (!tr)
        return;
    fwt_responder_stop(tr->r);
    pthread_mutex_destroy(&tr->mu);
    free(tr);
}

static inline void tr_push_poll(trainer *tr, int status, const char *body)
{
    pthread_mutex_lock(&tr->mu);
    if (tr->poll_tail >= 1024) {
        pthread_mutex_unlock(&tr->mu);
        abort();
    }
    tr->poll_q[tr->poll_tail++] = (tr_action){status, body, 0};
    pthread_mutex_unlock(&tr->mu);
}

static inline void tr_push_submit(trainer *tr, int status, const char *body)
{
    pthread_mutex_lock(&tr->mu);
    if (tr->submit_tail >= 1024) {
        pthread_mutex_unlock(&tr->mu);
        abort();
    }
    tr->submit_q[tr->submit_tail++] = (tr_action){status, body, 0};
    pthread_mutex_unlock(&tr->mu);
}

static inline void tr_set_result(trainer *tr, const char *body)
{
    pthread_mutex_lock(&tr->mu);
    tr->result_override = body;
    pthread_mutex_unlock(&tr->mu);
}

static inline int tr_get(trainer *tr, const int *field)
{
    pthread_mutex_lock(&tr->mu);
    int v = *field;
    pthread_mutex_unlock(&tr->mu);
    return v;
}

/* A client on the fake trainer (fake clock when clk != NULL). */
static inline fwt_client *tr_client(trainer *tr, fclock *clk, fwt_client_options *o_in)
{
    fwt_client_options o;
    if (o_in)
        o = *o_in;
    else
        fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    char *base = fwt_responder_url(tr->r, "");
    o.base_url = base;
    o.api_key = TEST_KEY;
    if (!o.heartbeat_interval_ms)
        o.heartbeat_interval_ms = 3600000; /* out of the way unless a test wants it */
    fwt_client *c = NULL;
    fwt__clock k;
    if (clk)
        k = fclock_iface(clk);
    int rc = fwt__client_new_with_clock(&c, &o, clk ? &k : NULL);
    free(base);
    return rc ? NULL : c;
}

static inline fwt_training *tr_training(trainer *tr, fwt_client *c, int lora_rank, int64_t op_timeout_ms)
{
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    char *url = fwt_responder_url(tr->r, "/t");
    to.trainer_url = url;
    to.base_model = "accounts/fireworks/models/tiny";
    to.lora_rank = lora_rank;
    to.op_timeout_ms = op_timeout_ms;
    to.session_suffix = "0a1b2c3d";
    fwt_training *t = NULL;
    int rc = fwt_training_new(&t, c, &to);
    free(url);
    return rc ? NULL : t;
}

#endif /* FWT_CORE_TEST_UTIL_H */
