/*
 * Shared internals of the control-plane api modules (jobs, checkpoint
 * listing, promotion, deployments, hotload, weight syncer).
 */
#ifndef FWT_API_JOBS_INTERNAL_H
#define FWT_API_JOBS_INTERNAL_H

#include <cjson/cJSON.h>

#include "fwt_util.h"
#include "core/future_impl.h"
#include "core/request.h"
#include "fwtrain/deployments.h"
#include "fwtrain/checkpoint_list.h"
#include "fwtrain/jobs.h"

/* Per-request timeouts of the control plane (docs/protocol.md §2.3). */
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
/* Any other path segment (checkpoint id, account): 1-200 chars of [A-Za-z0-9._-], never "." or ".."
 * (libcurl would squash such a dot segment and the request would reach another resource). */
int fwt__check_resource_id(const char *arg, const char *value);
/* "{base}/v1/accounts/{account}/{collection}[/{id}]{suffix}": `account` NULL = the client's (resolved,
 * blocking); the account is checked and it and `id` (validated by the caller, may be NULL) are escaped.
 * Sets the last error on failure. */
int fwt__account_url(char **out, fwt_client *c, const char *account, const char *collection, const char *id,
                     const char *suffix);
/* The trainer data-plane base of a job (docs/protocol.md §1): "{base}/training/v1/rlorTrainerJobs/{account}/{job}{suffix}". */
int fwt__trainer_url(char **out, fwt_client *c, const char *job_id, const char *suffix);
/* True for a resource path safe to append to "/v1/": [A-Za-z0-9._~/-], no "..", no leading '/'. */
int fwt__path_is_safe(const char *path);
/* True if a reply/err code is transient for a poll loop (timeouts, connection, 408/429/5xx). */
int fwt__poll_transient(const fwt__reply *r);
/* A blocking control-plane call with the control retry class (§2.3). `r` is initialised here; the caller
 * clears it. Returns fwt__call_sync's result. */
int fwt__cp_call(fwt_client *c, const char *method, const char *url, const cJSON *body, int64_t timeout_ms,
                 fwt__reply *r);
/* A paged listing (pager.c). on_page reads the rows of one page (a JSON object) into ctx and returns FWT_OK, or
 * an error code with the last error set; the pager reads the next-page token itself. */
typedef struct fwt__pager {
    const char *what;      /* "job listing", "checkpoint listing": the subject of the pager's messages */
    const char *not_found; /* the message of a 404, or NULL for the reply's own */
    int64_t max_pages;     /* stop after this many pages; 0 = until the last */
    int (*on_page)(void *ctx, const cJSON *json);
    void *ctx;
} fwt__pager;
/* GET prefix (which already carries "?pageSize=N") and every next page; *pages counts the pages read.
 * FWT_EPROTO when a page is not an object, a token repeats, or the listing passes 100,000 pages. */
int fwt__list_pages(fwt_client *c, const char *prefix, const fwt__pager *p, size_t *pages);
/* Fill e (initialised by the caller) with r's mapped error, "<context>: " before its message. */
void fwt__err_from_reply(fwt__err *e, const fwt__reply *r, const char *context);
/* Record r's mapped error (HTTP status, request id kept) as the last error with
 * "<context>: " before its message; returns its code. */
int fwt__last_set_reply(const fwt__reply *r, const char *context);
/* Same with a formatted context. */
int fwt__last_set_replyf(const fwt__reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- jobs ---- */
struct fwt_job {
    char *name, *id, *account, *state, *status_message, *create_time, *base_model;
    char *hot_load_deployment_id, *direct_route_handle, *trainer_url;
    int32_t lora_rank, max_context_length;
    int ready_route; /* fwt_job_route: set by the readiness wait */
};
/* Future result descriptors of the control-plane modules (see core/future_impl.h). */
extern const fwt__value_type fwt__vt_job, fwt__vt_model, fwt__vt_deployment, fwt__vt_hotload_status;
#define FWT__VALUE_JOB (&fwt__vt_job)                       /* fwt_job * (jobs_object.c) */
#define FWT__VALUE_MODEL (&fwt__vt_model)                   /* fwt_model * (promote_model.c) */
#define FWT__VALUE_DEPLOYMENT (&fwt__vt_deployment)         /* fwt_deployment * (deployments.c) */
#define FWT__VALUE_HOTLOAD (&fwt__vt_hotload_status)        /* fwt_hotload_status * (hotload_status.c) */

/* `id_hint`: the id the caller asked for, naming a body without `name` (NULL: `name` is required). */
/* Build a job from a resource JSON object; trainer URL from `control_base`. */
int fwt__job_from_json(fwt_job **out, const cJSON *obj, const char *control_base, const char *account_hint,
                       const char *id_hint);
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
/* Validate a hotload target (deployment id, base_model and source_url usable as header values), then build
 * the hotload URL and headers (§3.8: fireworks-model, fireworks-deployment, optional source URL). Sets the
 * last error on failure; on success free *headers with fwt__headers_free and *url with fwt__free_mem. */
int fwt__hotload_prepare(fwt_client *c, const char *deployment_id, const char *base_model, const char *source_url,
                         char ***headers, char **url);
void fwt__headers_free(char **h);

#endif /* FWT_API_JOBS_INTERNAL_H */
