/* Internals shared by the deployment, hotload and weight-syncer modules. */
#ifndef FWT_API_DEPLOYMENTS_INTERNAL_H
#define FWT_API_DEPLOYMENTS_INTERNAL_H

#include "api/jobs_internal.h"

struct fwt_deployment {
    char *name, *id, *state, *base_model, *trainer_job, *bucket_url;
};

int fwt__deployment_from_json(fwt_deployment **out, const cJSON *obj);
/* "{base}/v1/accounts/{a}/deployments/{dep}" (+ suffix); validates the id; sets last error. */
int fwt__deployment_url(char **out, fwt_client *c, const char *deployment_id, const char *suffix);

/* Replica 0 has a null loading_state: not ready yet (§11.8). */
int fwt__hotload_status_replica0_loading_null(const fwt_hotload_status *s);

/* loading_state.error_message of replica i (a server extension), NULL if absent. */
const char *fwt__hotload_status_error(const fwt_hotload_status *s, size_t i);

#endif /* FWT_API_DEPLOYMENTS_INTERNAL_H */
