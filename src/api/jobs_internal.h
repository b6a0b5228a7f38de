/*
 * Shared internals of the control-plane api modules (jobs, checkpoint
 * listing, promotion, deployments, hotload, weight syncer).
 */
#ifndef FWT_API_JOBS_INTERNAL_H
#define FWT_API_JOBS_INTERNAL_H

#include <cjson/cJSON.h>

#include "core/core.h"
#include "core/request.h"
#include "fwtrain/deployments.h"
#include "fwtrain/jobs.h"

/* Per-request timeouts of the control plane (protocol §2.3). */
#define FWT__CP_GET_TIMEOUT_MS 30000
#define FWT__CP_CREATE_TIMEOUT_MS 60000
#define FWT__CP_SLOW_TIMEOUT_MS 300000

/* Pointer to the last '/'-separated segment of `name` (never NULL for a non-NULL name). */
const char *fwt__last_segment(const char *name);
/* Case-insensitive substring test; NULL-safe (NULL never matches). */
int fwt__contains_ci(const char *hay, const char *needle);
/* Duplicate a JSON string field (or the first present of two spellings), "" when absent; NULL only on OOM. */
char *fwt__json_dup(const cJSON *obj, const char *key, const char *key2);
/* The control base without a trailing '/'; freshly allocated. */
char *fwt__control_base(fwt_client *c);
/* Validate a resource id segment: non-empty, <= 63 chars, [A-Za-z0-9._-] only. Sets last error. */
int fwt__check_resource_id(const char *arg, const char *value);
/* True for a resource path safe to append to "/v1/": [A-Za-z0-9._~/-], no "..", no leading '/'. */
int fwt__path_is_safe(const char *path);
/* True if a reply/err code is transient for a poll loop (timeouts, connection, 408/429/5xx). */
int fwt__poll_transient(const fwt__reply *r);
/* Record r's mapped error (HTTP status, request id kept) as the last error with
 * "<context>: " before its message; returns its code. */
int fwt__last_set_reply(const fwt__reply *r, const char *context);
/* Same with a formatted context. */
int fwt__last_set_replyf(const fwt__reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- jobs ---- */
struct fwt_job {
    char *name, *id, *account, *state, *status_message, *create_time, *base_model;
    char *hot_load_deployment_id, *direct_route_handle, *trainer_url;
    int32_t lora_rank;
};
/* Build a job from a resource JSON object; trainer URL from `control_base`. */
int fwt__job_from_json(fwt_job **out, const cJSON *obj, const char *control_base, const char *account_hint);
int fwt__job_state_is_tombstone(const char *state);

/* ---- models ---- */
struct fwt_model {
    char *name, *state, *kind, *base_model;
};
int fwt__model_from_json(fwt_model **out, const cJSON *obj);

/* ---- hotload ---- */
struct fwt_hotload_status;
/* Parse a status body (§3.9, §11.8). FWT_OK with *out; FWT_EAGAIN for a not-an-object body
 * (not ready yet); FWT_EPROTO for an object without a replicas list. */
int fwt__hotload_status_parse(fwt_hotload_status **out, const cJSON *json);
/* Headers for the hotload plane (§3.8); NULL-terminated, free with fwt__headers_free. */
char **fwt__hotload_headers(fwt_client *c, const char *account, const char *deployment_id, const char *base_model,
                            const char *source_url);
void fwt__headers_free(char **h);
/* "{hotload_base}/hot_load/v1/models/hot_load" */
char *fwt__hotload_url(fwt_client *c);

#endif /* FWT_API_JOBS_INTERNAL_H */
