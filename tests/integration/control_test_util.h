/* Helpers for the control-plane tests against the scripted responder. */
#ifndef FWT_CONTROL_TEST_UTIL_H
#define FWT_CONTROL_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fwtrain/fwtrain.h"
#include "responder.h"

typedef struct cfx {
    fwt_responder *r;
    fwt_client *c;
    char *base;
} cfx;

/* Client options for a scripted server at `base`: account "acct", short retry backoff. */
static inline fwt_client_options cfx_client_options(const char *base, const char *key)
{
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.base_url = base;
    o.api_key = key;
    o.account_id = "acct";
    o.retry_base_ms = 5;
    o.retry_cap_ms = 20;
    o.retry_budget_ms = 2000;
    o.poll_floor_ms = 1;
    return o;
}

/* Responder + client. */
static inline int cfx_setup(void **state)
{
    cfx *f = calloc(1, sizeof *f);
    if (!f || fwt_responder_start(&f->r, NULL, NULL) != 0)
        return -1;
    f->base = fwt_responder_url(f->r, "");
    fwt_client_options o = cfx_client_options(f->base, "test-key-control");
    if (fwt_client_new(&f->c, &o) != FWT_OK)
        return -1;
    *state = f;
    return 0;
}

static inline int cfx_teardown(void **state)
{
    cfx *f = *state;
    fwt_client_free(f->c);
    fwt_responder_stop(f->r);
    free(f->base);
    free(f);
    return 0;
}

static inline void cfx_push(cfx *f, int status, const char *json)
{
    fwt_resp_action a;
    memset(&a, 0, sizeof a);
    a.status = status;
    a.content_type = "application/json";
    a.body = json;
    fwt_responder_push(f->r, &a);
}

static inline void cfx_default(cfx *f, int status, const char *json)
{
    fwt_resp_action a;
    memset(&a, 0, sizeof a);
    a.status = status;
    a.content_type = "application/json";
    a.body = json;
    fwt_responder_set_default(f->r, &a);
}

/* Request i parsed: method/path copies and the JSON body (NULL if none). Free with cfx_req_free. */
typedef struct cfx_req {
    fwt_resp_request *raw;
    cJSON *json;
} cfx_req;

static inline cfx_req cfx_req_get(cfx *f, size_t i)
{
    cfx_req q;
    q.raw = fwt_responder_request_copy(f->r, i);
    q.json = q.raw && q.raw->body_len ? cJSON_Parse(q.raw->body) : NULL;
    return q;
}

static inline void cfx_req_free(cfx_req *q)
{
    fwt_resp_request_free(q->raw);
    cJSON_Delete(q->json);
}

#endif
