/**
 * @file
 * libfwtrain — deployments (docs/protocol.md §3.7–§3.10): get / create / delete /
 * re-attach to a trainer, hotload a snapshot, hotload status and wait,
 * the hotload-manager readiness gate, and the warmup probe.
 *
 * Hotload and inference requests go to the client's hotload_base_url and
 * inference_base_url (both default to the control base, docs/protocol.md §1).
 * Long waits return an fwt_future that fwt_future_cancel cuts short; each has
 * a blocking *_result twin.
 */
#ifndef FWTRAIN_DEPLOYMENTS_H
#define FWTRAIN_DEPLOYMENTS_H

#include "client.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/** "accounts/<a>/deployments/<id>" — also the inference model string (borrowed). */
FWT_API const char *fwt_deployment_name(const fwt_deployment *d);
/** The deployment id: last segment of the name (borrowed). */
FWT_API const char *fwt_deployment_id(const fwt_deployment *d);
/** "READY", "CREATING", ...; "" if absent (borrowed). */
FWT_API const char *fwt_deployment_state(const fwt_deployment *d);
/** baseModel; "" if absent (borrowed). */
FWT_API const char *fwt_deployment_base_model(const fwt_deployment *d);
/** hotLoadTrainerJob (either casing), "accounts/<a>/rlorTrainerJobs/<j>"; "" if absent (borrowed). */
FWT_API const char *fwt_deployment_hot_load_trainer_job(const fwt_deployment *d);
/** hotLoadBucketUrl; "" if absent (borrowed). */
FWT_API const char *fwt_deployment_hot_load_bucket_url(const fwt_deployment *d);
/** Release. NULL is allowed. */
FWT_API void fwt_deployment_free(fwt_deployment *d);

/** GET the deployment (blocking). FWT_ENOTFOUND if absent. */
FWT_API int fwt_deployment_get(fwt_deployment **out, fwt_client *client, const char *deployment_id);

/** Version of fwt_deployment_create_options. */
#define FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION 1

/**
 * Options of fwt_deployment_create (docs/protocol.md §3.7). The defaults are the official SDK's:
 * `forTraining` false unless for_training is set, `hotLoadBucketType` "FW_HOSTED" unless set otherwise.
 */
typedef struct fwt_deployment_create_options {
    unsigned int version;            /**< FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION */
    const char *base_model;          /**< required */
    const char *description;         /**< NULL: "Fireworks training deployment" (the server requires one) */
    int32_t min_replica_count;       /**< default 0 */
    int32_t max_replica_count;       /**< 0 = 1 */
    const char *hot_load_trainer_job;/**< job id or "accounts/<a>/rlorTrainerJobs/<j>" (PER_TRAINER scope) */
    const char *deployment_shape;    /**< versioned shape; when NULL acceleratorType is sent */
    const char *accelerator_type;    /**< NULL: "NVIDIA_H200_141GB" (ignored with a shape) */
    const char *region;              /**< placement.region */
    const char *hot_load_bucket_type;/**< `hotLoadBucketType`; NULL (the default): "FW_HOSTED"; "" = omitted */
    int32_t disable_hot_load;        /**< nonzero: enableHotLoad false */
    int32_t for_training;            /**< nonzero: `forTraining: true`; default 0 sends false, as the official SDK */
    int32_t skip_shape_validation;   /**< query skipShapeValidation=true */
    int32_t disable_speculative_decoding; /**< query disableSpeculativeDecoding=true */
} fwt_deployment_create_options;

/**
 * Fill with defaults (max_replica_count 1, description, accelerator_type "NVIDIA_H200_141GB",
 * hot_load_bucket_type "FW_HOSTED", for_training 0). Returns FWT_EINVAL for an unknown version.
 */
FWT_API int fwt_deployment_create_options_init(fwt_deployment_create_options *opts, unsigned int version);

/**
 * Get-or-create (blocking; docs/protocol.md §3.7, §11.2): GET first; 404 → POST
 * (control-plane retries); a 409 on the POST → GET again and return it.
 * An existing deployment is returned as is.
 */
FWT_API int fwt_deployment_create(fwt_deployment **out, fwt_client *client, const char *deployment_id,
                                  const fwt_deployment_create_options *opts);

/*
 * The deployment waits take an fwt_wait_options (types.h; NULL = defaults).
 * Their defaults when a duration is 0:
 *   fwt_deployment_delete              poll 2000 ms,  bound 60000 ms
 *   fwt_deployment_wait_ready          poll 15000 ms, bound 600000 ms
 *   fwt_deployment_wait_hotload_ready  poll 5000 ms,  bound 300000 ms
 *   fwt_deployment_wait_hotload        poll 5000 ms,  bound 400000 ms
 * Every wait polls first after poll_initial_ms (default 100 ms) and backs
 * off to its poll interval.
 */

/**
 * DELETE `?ignoreChecks=true&hard=true`, then poll until the deployment is
 * 404 or DELETED (bounded). A deployment that is already gone succeeds.
 * The future completes without a value (check fwt_future_status).
 */
FWT_API int fwt_deployment_delete(fwt_future **out, fwt_client *client, const char *deployment_id,
                                  const fwt_wait_options *opts);

/** Blocking fwt_deployment_delete. */
FWT_API int fwt_deployment_delete_result(fwt_client *client, const char *deployment_id,
                                         const fwt_wait_options *opts, int64_t timeout_ms);

/**
 * Re-attach the deployment to another trainer job (blocking):
 * PATCH `?updateMask=hot_load_trainer_job` body `{hotLoadTrainerJob}`.
 * `job_id` may be a bare id or a full name. The serving pod rolls; a
 * WeightSyncer on it must call fwt_weight_syncer_reset_delta_chain.
 * `out` may be NULL.
 */
FWT_API int fwt_deployment_reattach(fwt_deployment **out, fwt_client *client, const char *deployment_id,
                                    const char *job_id);

/**
 * Wait until the deployment is READY (docs/protocol.md §3.7): poll the deployment
 * (default every 15 s, bounded by 600 s);
 * a CREATING deployment that already answers an inference probe counts as
 * ready. FAILED, DELETING and DELETED fail with FWT_ESTATE; a missing
 * deployment with FWT_ENOTFOUND. Completes with the deployment
 * (fwt_future_take_deployment).
 */
FWT_API int fwt_deployment_wait_ready(fwt_future **out, fwt_client *client, const char *deployment_id,
                                      const fwt_wait_options *opts);

/** Take the deployment of a completed fwt_deployment_wait_ready future. */
FWT_API int fwt_future_take_deployment(fwt_deployment **out, fwt_future *f);

/** Blocking fwt_deployment_wait_ready. */
FWT_API int fwt_deployment_wait_ready_result(fwt_deployment **out, fwt_client *client, const char *deployment_id,
                                             const fwt_wait_options *opts, int64_t timeout_ms);

/* ---- hotload (docs/protocol.md §3.8, §3.9, §11.3, §11.8) ------------------------ */

/** Version of fwt_hotload_options. */
#define FWT_HOTLOAD_OPTIONS_VERSION 1

/** Options of fwt_deployment_hotload. NULL = a full (base) load. */
typedef struct fwt_hotload_options {
    unsigned int version;                  /**< FWT_HOTLOAD_OPTIONS_VERSION */
    const char *previous_snapshot_identity;/**< set: delta load with incremental metadata; NULL: full load */
    const char *compression_format;        /**< NULL: "arc_v2" */
    const char *checksum_format;           /**< NULL: "alder32" (sic, the wire value) */
    int32_t no_reset_prompt_cache;         /**< nonzero: reset_prompt_cache false */
    int32_t reserved0;                     /**< must be 0 */
    const char *source_url;                /**< optional x-fireworks-hot-load-source-url header */
} fwt_hotload_options;

/** Fill with defaults. Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_hotload_options_init(fwt_hotload_options *opts, unsigned int version);

/**
 * POST {hotload_base}/hot_load/v1/models/hot_load (blocking) with the
 * fireworks-model / fireworks-deployment headers. Retried like control-plane
 * calls (408/429/5xx/connection), 425 is not retried. If the server rejects
 * `reset_prompt_cache` ("extra inputs are not permitted") the call is resent
 * without it and the client remembers that for later hotloads.
 * Acceptance only: follow with fwt_deployment_wait_hotload.
 */
FWT_API int fwt_deployment_hotload(fwt_client *client, const char *deployment_id, const char *base_model,
                                   const char *identity, const fwt_hotload_options *opts);

/** Number of replicas reported. */
FWT_API size_t fwt_hotload_status_replica_count(const fwt_hotload_status *s);
/** current_snapshot_identity of replica i; NULL if null/absent or out of range (borrowed). */
FWT_API const char *fwt_hotload_status_current_identity(const fwt_hotload_status *s, size_t i);
/** readiness of replica i (0/1). */
FWT_API int fwt_hotload_status_ready(const fwt_hotload_status *s, size_t i);
/** loading_state.stage of replica i ("idle", "downloading", "done", "error", ...); "" if absent (borrowed). */
FWT_API const char *fwt_hotload_status_stage(const fwt_hotload_status *s, size_t i);
/** loading_state.target_snapshot_identity of replica i; NULL if absent (borrowed). */
FWT_API const char *fwt_hotload_status_target_identity(const fwt_hotload_status *s, size_t i);
/** 1 if replica i has loaded_adapters[] with this identity and status "loaded". */
FWT_API int fwt_hotload_status_adapter_loaded(const fwt_hotload_status *s, size_t i, const char *identity);
/** Release. NULL is allowed. */
FWT_API void fwt_hotload_status_free(fwt_hotload_status *s);

/**
 * GET the hotload status (blocking, one attempt). FWT_EPROTO if the body is
 * a JSON object without a `replicas` list.
 */
FWT_API int fwt_deployment_hotload_status(fwt_hotload_status **out, fwt_client *client, const char *deployment_id,
                                          const char *base_model);

/**
 * Poll the hotload status until replica 0 is ready and holds
 * `expected_identity` (current_snapshot_identity, or a loaded adapter)
 * (docs/protocol.md §3.9, §11.8). A replica at stage "error" fails the wait with
 * FWT_EREMOTE only if its target is `expected_identity` (stale errors for
 * another identity are ignored); a JSON
 * object without `replicas` fails with FWT_EPROTO; any other odd body, a
 * null loading_state and HTTP/network errors are polled again. Timeout →
 * FWT_ETIMEDOUT naming expected and current identity. Completes with the
 * last fwt_hotload_status (fwt_future_take_hotload_status).
 */
FWT_API int fwt_deployment_wait_hotload(fwt_future **out, fwt_client *client, const char *deployment_id,
                                        const char *base_model, const char *expected_identity,
                                        const fwt_wait_options *opts);

/**
 * The readiness gate before a first hotload: poll the hotload status until
 * `replicas` is non-empty (default 300 s, 5 s poll). Sending a hotload
 * earlier can crash the serving container (docs/protocol.md §3.9). Completes with
 * the status seen (fwt_future_take_hotload_status).
 */
FWT_API int fwt_deployment_wait_hotload_ready(fwt_future **out, fwt_client *client, const char *deployment_id,
                                              const char *base_model, const fwt_wait_options *opts);

/** Take the status of a completed wait_hotload / wait_hotload_ready future. */
FWT_API int fwt_future_take_hotload_status(fwt_hotload_status **out, fwt_future *f);

/** Blocking fwt_deployment_wait_hotload_ready. `out` may be NULL to discard the status. */
FWT_API int fwt_deployment_wait_hotload_ready_result(fwt_hotload_status **out, fwt_client *client,
                                                     const char *deployment_id, const char *base_model,
                                                     const fwt_wait_options *opts, int64_t timeout_ms);

/** Blocking fwt_deployment_wait_hotload. `out` may be NULL. */
FWT_API int fwt_deployment_wait_hotload_result(fwt_hotload_status **out, fwt_client *client,
                                               const char *deployment_id, const char *base_model,
                                               const char *expected_identity,
                                               const fwt_wait_options *opts, int64_t timeout_ms);

/* ---- warmup (docs/protocol.md §3.10) ------------------------------------------ */

/** Version of fwt_warmup_options. */
#define FWT_WARMUP_OPTIONS_VERSION 1

/** Options of fwt_deployment_warmup. */
typedef struct fwt_warmup_options {
    unsigned int version;        /**< FWT_WARMUP_OPTIONS_VERSION */
    int32_t max_tries;           /**< 0 = 10 */
    int32_t max_tokens;          /**< 0 = 4 */
    int32_t reserved0;           /**< must be 0 */
    int64_t retry_interval_ms;   /**< gap between failed tries; 0 = 10000 */
    int64_t request_timeout_ms;  /**< per try; 0 = 30000, -1 = none */
    fwt_progress_fn progress;    /**< optional: called after each failed try */
    void *progress_payload;      /**< passed to `progress` */
} fwt_warmup_options;

/** Fill with defaults. Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_warmup_options_init(fwt_warmup_options *opts, unsigned int version);

/**
 * Warmup probe: POST {inference}/inference/v1/completions with
 * `{model: <deployment name>, prompt: [1, 2], max_tokens, temperature: 0}`
 * until a 200, up to max_tries. The future completes without a value.
 */
FWT_API int fwt_deployment_warmup(fwt_future **out, fwt_client *client, const char *deployment_id,
                                  const fwt_warmup_options *opts);

/** Blocking fwt_deployment_warmup. */
FWT_API int fwt_deployment_warmup_result(fwt_client *client, const char *deployment_id,
                                         const fwt_warmup_options *opts, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_DEPLOYMENTS_H */
