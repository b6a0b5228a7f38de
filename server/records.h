/* Job and deployment records (records.c): loading them, and the job state changes that rewrite them.
 * Every module that needs "does this job / deployment exist, in which state" reads it here, so the handler
 * modules never call each other for it. */
#ifndef FWL_RECORDS_H
#define FWL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "state.h"

void fwl_job_path(fwl_server *s, const char *job, char *buf, size_t len);
void fwl_deployment_path(fwl_server *s, const char *dep, char *buf, size_t len);
/* Loads the job resource (state CREATING promoted to RUNNING when due). NULL when unknown. Caller holds no lock. */
cJSON *fwl_job_load(fwl_server *s, const char *job);
/* The job's state ("JOB_STATE_RUNNING", ...) into state; false when the job is unknown. From the in-memory
 * cache when it can (no file read, no copy): the data plane's per-request check. */
bool fwl_job_state(fwl_server *s, const char *job, char *state, size_t len);
bool fwl_job_running(fwl_server *s, const char *job, bool *exists);
/* Stores a new job record unless the id is taken: 0 stored, 1 taken (`was` = its state), -1 store failed.
 * Every job record write goes through records.c (file first, then the in-memory cache). */
int fwl_job_create(fwl_server *s, const char *job, const cJSON *rec, char *was, size_t wl);
/* Drops the job cache (server shutdown). */
void fwl_job_cache_free(fwl_server *s);
/* Moves the job to `to` if its state is one of from_ok (NULL-terminated); `was` gets the state it had ("" when
 * the job is unknown). true when moved and stored. */
bool fwl_job_set_state(fwl_server *s, const char *job, const char *const from_ok[], const char *to, char *was,
                       size_t wl);
cJSON *fwl_deployment_load(fwl_server *s, const char *dep);
/* maxReplicaCount == 0: no replica serves (hotload status lists none, inference 425, hotload refused). */
bool fwl_deployment_scaled_to_zero(const cJSON *d);

#endif /* FWL_RECORDS_H */
