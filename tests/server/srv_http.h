/* Tiny libcurl client for fwtrain-local's own tests: one request, status + parsed JSON body. */
#ifndef FWL_TEST_SRV_HTTP_H
#define FWL_TEST_SRV_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "local_server.h"

typedef struct srv_resp {
    long status;        /* 0 when the transfer failed */
    int curl_code;      /* CURLcode */
    char *body;
    size_t len;
    cJSON *json;        /* NULL when the body is not JSON */
    char retry_after[32];
    double seconds;     /* total time */
    double ttfb;        /* time to the first response byte (headers) */
} srv_resp;

/* headers: NULL-terminated "Name: value" list or NULL. key: sent as X-Api-Key unless NULL. */
int srv_req(srv_resp *r, const char *method, const char *url, const char *key, const char *body,
            const char *const *headers, long timeout_ms);
void srv_resp_free(srv_resp *r);

/* Convenience for the common case: method + base + path, the test key, JSON body text (may be NULL). */
int srv_call(srv_resp *r, const char *base, const char *key, const char *method, const char *path, const char *body);

/* A training op: submit and retrieve until not try_again. Returns the result JSON (caller frees) or NULL. */
cJSON *srv_op(const char *base, const char *key, const char *job, const char *op, const char *body);
/* Submit only: returns the request_id (malloc'd) or NULL. */
char *srv_submit(const char *base, const char *key, const char *job, const char *op, const char *body,
                 const char *idem_key);
cJSON *srv_wait(const char *base, const char *key, const char *job, const char *request_id);

/* Creates job `job` and waits for healthz; creates a session and a model; returns the model_id (malloc'd). */
char *srv_setup_model(const char *base, const char *key, const char *job);

/* Starts fwtrain-local with this key and NULL-terminated extra args; NULL on failure (nothing to free). */
fwt_local_server *srv_start(const char *key, const char *const *args);
/* SIGTERM + free; returns 0 when the server exited cleanly (status 0). NULL is fine (returns -1). */
int srv_finish(fwt_local_server *s);

/* cmocka group setup/teardown: curl_global_init + srv_start (*base = its URL); teardown fails unless the
 * server exits cleanly on SIGTERM (a clean stop is part of the contract). */
int srv_group_setup(fwt_local_server **srv, const char **base, const char *key, const char *const *args);
int srv_group_teardown(fwt_local_server *srv);

#endif
