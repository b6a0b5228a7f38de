/**
 * @file
 * libfwtrain — trainer jobs on the control plane (docs/protocol.md §3.1–§3.6):
 * create / get / wait_ready / resume / delete, and promotion of a sampler
 * checkpoint to a model. The job's checkpoint listing is checkpoint_list.h.
 *
 * Long waits (job readiness, promotion) return an fwt_future: it can be
 * polled, waited on, or cancelled with fwt_future_cancel, which cuts the wait
 * short. Each has a blocking twin named *_result (start + wait + take).
 */
#ifndef FWTRAIN_JOBS_H
#define FWTRAIN_JOBS_H

#include "client.h"
#include "future.h"
#include "training.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- jobs --------------------------------------------------------------- */

/** Version of fwt_job_create_options. */
#define FWT_JOB_CREATE_OPTIONS_VERSION 1

/**
 * Options of fwt_job_create (docs/protocol.md §3.1). Zero / NULL fields are omitted
 * from the request (the server default applies) unless noted.
 *
 * Path selection, as the official SDK does it:
 * - training_shape set → shape path: `trainingShape=`, plus `skipValidations=true` only if
 *   skip_validations. The shape fixes the hardware and context: accelerator_type,
 *   accelerator_count, node_count, max_context_length and auto_shape are refused.
 * - auto_shape nonzero → auto-shape path: neither `skipValidations` nor `nodeCount` is sent; the
 *   service picks the hardware. accelerator_type, accelerator_count, node_count and
 *   skip_validations are refused.
 * - neither (the default) → manual path: `skipValidations=true`, `nodeCount` (node_count, 1 when 0),
 *   and acceleratorType / acceleratorCount / maxContextLength when set.
 *
 * A field the chosen path cannot carry is FWT_EINVAL before any request: nothing set is ever dropped.
 */
typedef struct fwt_job_create_options {
    unsigned int version;          /**< FWT_JOB_CREATE_OPTIONS_VERSION */
    const char *job_id;            /**< client-chosen id (`rlorTrainerJobId`); NULL = "training-api-service-<8 hex>" */
    const char *base_model;        /**< required: "accounts/fireworks/models/..." */
    int32_t lora_rank;             /**< 0 = full-parameter */
    int32_t max_context_length;    /**< 0 = server default; manual and auto-shape paths only */
    double learning_rate;          /**< 0 = 1e-5 */
    const char *display_name;      /**< < 64 chars */
    const char *training_shape;    /**< "accounts/x/trainingShapes/s[/versions/v]": the shape path */
    int32_t skip_validations;      /**< shape path: also send `skipValidations=true` (superuser); the manual path
                                        always sends it; refused on the auto-shape path */
    int32_t accelerator_count;     /**< manual path only */
    const char *accelerator_type;  /**< manual path only, e.g. "NVIDIA_H200_141GB" */
    int32_t node_count;            /**< manual path only; 0 = 1 */
    int32_t trainer_replica_count; /**< 0 = omitted */
    const char *region;            /**< placement region; NULL = server's choice */
    const char *custom_image_tag;  /**< trainer image tag; NULL = the service's */
    const char *hot_load_deployment_id; /**< PER_DEPLOYMENT hotload scope (legacy) */
    const char *extra_args;        /**< space-separated; sent as a list */
    const char *purpose;           /**< free-form purpose label; NULL = omitted */
    int64_t inactivity_timeout_s;  /**< 0 = server default (60 min) */
    int32_t forward_only;          /**< nonzero: `forwardOnly: true` */
    int32_t disable_inactivity_cleanup; /**< nonzero: `disableInactivityCleanup: true` */
    int32_t auto_shape;            /**< nonzero: the auto-shape path (the service picks the shape); default 0 = manual */
    int32_t reserved0;             /**< must be 0 */
} fwt_job_create_options;

/** Fill with defaults. Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_job_create_options_init(fwt_job_create_options *opts, unsigned int version);

/**
 * Create a trainer job with a client-chosen id (blocking; control-plane
 * retries). A 409 is resolved by fetching the job with that id and returning
 * it; a tombstoned id (JOB_STATE_DELETED / JOB_STATE_ARCHIVED) gives
 * FWT_ECONFLICT with a message naming the id; if the follow-up GET is 404 the
 * original 409 error is returned (docs/protocol.md §3.1, §11.4). The job id is the
 * last segment of the returned name, which may differ from the requested id.
 * The tombstone error carries the job's own status message when it has one.
 * Errors: FWT_EINVAL (no base_model, bad id, a field the chosen path cannot
 * carry), HTTP-mapped errors.
 */
FWT_API int fwt_job_create(fwt_job **out, fwt_client *client, const fwt_job_create_options *opts);

/** GET the job (blocking). FWT_ENOTFOUND if it does not exist. */
FWT_API int fwt_job_get(fwt_job **out, fwt_client *client, const char *job_id);

/**
 * POST `:resume` (blocking, no body; docs/protocol.md §3.3). Resumable from FAILED,
 * CANCELLED, PAUSED, COMPLETED. Follow with fwt_job_wait_ready.
 */
FWT_API int fwt_job_resume(fwt_client *client, const char *job_id);

/**
 * DELETE the job (docs/protocol.md §3.4). A soft delete: the job becomes
 * JOB_STATE_DELETED and its checkpoints stay listable and promotable during
 * retention. The future completes without a value once the server accepted
 * the delete (check fwt_future_status); FWT_ENOTFOUND if the job does not
 * exist. Invalid arguments fail at once with FWT_EINVAL (no future).
 */
FWT_API int fwt_job_delete(fwt_future **out, fwt_client *client, const char *job_id);

/** Blocking fwt_job_delete: start, wait up to timeout_ms (0 or -1 = no bound of its own), free the future. */
FWT_API int fwt_job_delete_result(fwt_client *client, const char *job_id, int64_t timeout_ms);

/** Release a job. NULL is allowed. */
FWT_API void fwt_job_free(fwt_job *job);

/** Full resource name "accounts/<a>/rlorTrainerJobs/<id>" (borrowed). */
FWT_API const char *fwt_job_name(const fwt_job *job);
/** The job id: last segment of the name (borrowed). */
FWT_API const char *fwt_job_id(const fwt_job *job);
/** The account id parsed from the name (borrowed). */
FWT_API const char *fwt_job_account_id(const fwt_job *job);
/** The state string, e.g. "JOB_STATE_RUNNING"; "" if absent (borrowed). */
FWT_API const char *fwt_job_state(const fwt_job *job);
/** 1 if the state is JOB_STATE_DELETED or JOB_STATE_ARCHIVED, else 0. */
FWT_API int fwt_job_is_tombstone(const fwt_job *job);
/** status.message, or statusMessage / message; "" if absent (borrowed). */
FWT_API const char *fwt_job_status_message(const fwt_job *job);
/** createTime as sent; "" if absent (borrowed). */
FWT_API const char *fwt_job_create_time(const fwt_job *job);
/** trainingConfig.baseModel; "" if absent (borrowed). */
FWT_API const char *fwt_job_base_model(const fwt_job *job);
/** trainingConfig.loraRank; 0 if absent. */
FWT_API int32_t fwt_job_lora_rank(const fwt_job *job);
/** trainingConfig.maxContextLength (a JSON number or a decimal string); 0 if absent or not a positive int32. */
FWT_API int32_t fwt_job_max_context_length(const fwt_job *job);
/** hotLoadDeploymentId; "" if absent (borrowed). */
FWT_API const char *fwt_job_hot_load_deployment_id(const fwt_job *job);
/** directRouteHandle (legacy fallback route); "" if absent (borrowed). */
FWT_API const char *fwt_job_direct_route_handle(const fwt_job *job);
/**
 * The trainer data-plane base URL to open a training session on (borrowed). Normally the gateway,
 * "{control_base}/training/v1/rlorTrainerJobs/{account}/{job}" (docs/protocol.md §1); for a job
 * returned by fwt_job_wait_ready whose readiness was answered by the direct route
 * (fwt_job_ready_route() == FWT_JOB_ROUTE_DIRECT), the directRouteHandle without its trailing '/'.
 */
FWT_API const char *fwt_job_trainer_url(const fwt_job *job);

/** Which endpoint answered the readiness probe of fwt_job_wait_ready (docs/protocol.md §3.2). */
typedef enum fwt_job_route {
    FWT_JOB_ROUTE_NONE = 0,    /**< the job did not come from a completed readiness wait */
    FWT_JOB_ROUTE_GATEWAY = 1, /**< `{gateway}/api/v1/healthz` answered 200 */
    FWT_JOB_ROUTE_DIRECT = 2   /**< the gateway did not; `{directRouteHandle}/api/v1/healthz` answered 200 */
} fwt_job_route;

/** The fwt_job_route (as int) that answered the readiness probe; FWT_JOB_ROUTE_NONE for NULL. */
FWT_API int fwt_job_ready_route(const fwt_job *job);

/**
 * Build the trainer data-plane base URL of a job id without fetching it
 * (resolves the account, blocking). *out is freed with fwt_free.
 */
FWT_API int fwt_job_trainer_url_build(char **out, fwt_client *client, const char *job_id);

/** Version of fwt_job_wait_options. */
#define FWT_JOB_WAIT_OPTIONS_VERSION 1

/**
 * Options of fwt_job_wait_ready (docs/protocol.md §3.2): the common wait options
 * plus the bounds only a job has.
 */
typedef struct fwt_job_wait_options {
    unsigned int version;        /**< FWT_JOB_WAIT_OPTIONS_VERSION */
    int32_t reserved0;           /**< must be 0 */
    fwt_wait_options wait;       /**< timeout_ms bounds the wait once the job left PENDING (default 3600000);
                                      poll_interval_ms default 5000; progress gets the job stages */
    int64_t pending_timeout_ms;  /**< bound on JOB_STATE_PENDING; 0 = 172800000 (48 h), -1 = none */
    int64_t healthz_timeout_ms;  /**< per healthz probe; 0 = 5000, -1 = none */
} fwt_job_wait_options;

/** Fill with the defaults above (concrete values, wait included). Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_job_wait_options_init(fwt_job_wait_options *opts, unsigned int version);

/**
 * Wait until the job is RUNNING and its trainer answers `GET {trainer_url}/api/v1/healthz` with 200
 * (docs/protocol.md §3.2). While RUNNING, each round probes the gateway first; when it does not answer
 * 200 and the job has a directRouteHandle, `{directRouteHandle}/api/v1/healthz` (trailing '/' stripped)
 * is probed next, and its 200 makes the direct route the job's fwt_job_trainer_url.
 * fwt_job_ready_route says which endpoint answered, and fwt_job_open_training opens on it.
 * The future completes with the job (fwt_future_take_job). Only `state` is needed from the job
 * resource: a body without `name` is read as the job asked for, and a missing optional field never
 * fails the wait. Failures: FWT_EREMOTE for JOB_STATE_FAILED (message = the job's status message),
 * FWT_ESTATE for a tombstone (message carries the job's status message) or a terminal state,
 * FWT_ETIMEDOUT (pending or ready bound), FWT_ENOTFOUND, FWT_ECANCELED. Transient poll errors are
 * retried.
 */
FWT_API int fwt_job_wait_ready(fwt_future **out, fwt_client *client, const char *job_id,
                               const fwt_job_wait_options *opts);

/** Take the job of a completed fwt_job_wait_ready future. */
FWT_API int fwt_future_take_job(fwt_job **out, fwt_future *f);

/**
 * Blocking fwt_job_wait_ready: start, wait up to timeout_ms (0 or -1 = no
 * bound beyond the options'), take. `out` may be NULL to discard the job.
 */
FWT_API int fwt_job_wait_ready_result(fwt_job **out, fwt_client *client, const char *job_id,
                                      const fwt_job_wait_options *opts, int64_t timeout_ms);

/**
 * Open an fwt_training session on the job's trainer (blocking). `opts` may
 * be NULL; its job_id / trainer_url are replaced by the job's (the direct
 * route when the readiness wait was answered there, see fwt_job_trainer_url),
 * and base_model / lora_rank default to the job's when unset.
 */
FWT_API int fwt_job_open_training(fwt_training **out, fwt_client *client, const fwt_job *job,
                                  const fwt_training_options *opts);

/* ---- the account's jobs (docs/protocol.md §3.2, "Listing") ----------------- */

/** The account's trainer jobs, as fwt_job_list_all fetched them (opaque; owns its jobs). */
typedef struct fwt_job_list fwt_job_list;

/** Version of fwt_job_list_options. */
#define FWT_JOB_LIST_OPTIONS_VERSION 1

/** Options of fwt_job_list_all. */
typedef struct fwt_job_list_options {
    unsigned int version; /**< FWT_JOB_LIST_OPTIONS_VERSION */
    int32_t page_size;    /**< `pageSize`; default 200 */
    int32_t max_pages;    /**< stop after this many pages; 0 = until no next token */
} fwt_job_list_options;

/** Fill with defaults. Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_job_list_options_init(fwt_job_list_options *opts, unsigned int version);

/**
 * List the account's trainer jobs (blocking), following `nextPageToken` until
 * none; jobs keep server order across pages, tombstones included. `opts` may
 * be NULL. A server that repeats a page token fails with FWT_EPROTO.
 */
FWT_API int fwt_job_list_all(fwt_job_list **out, fwt_client *client, const fwt_job_list_options *opts);
/** Number of jobs (0 for NULL). */
FWT_API size_t fwt_job_list_count(const fwt_job_list *l);
/** Job i (borrowed, valid until the list is freed); NULL if out of range. */
FWT_API const fwt_job *fwt_job_list_get(const fwt_job_list *l, size_t i);
/** Number of pages fetched. */
FWT_API size_t fwt_job_list_pages(const fwt_job_list *l);
/** Free the list and its jobs. NULL is allowed. */
FWT_API void fwt_job_list_free(fwt_job_list *l);

/* ---- promotion (docs/protocol.md §3.6, §6, §11.7) ------------------------------ */

/** "accounts/<a>/models/<id>" (borrowed). */
FWT_API const char *fwt_model_name(const fwt_model *m);
/** "UPLOADING", "READY", ...; "" if absent (borrowed). */
FWT_API const char *fwt_model_state(const fwt_model *m);
/** "HF_BASE_MODEL", "HF_PEFT_ADDON", ...; "" if absent (borrowed). */
FWT_API const char *fwt_model_kind(const fwt_model *m);
/** peftDetails.baseModel or baseModel; "" if absent (borrowed). */
FWT_API const char *fwt_model_base_model(const fwt_model *m);
/** Release a model. NULL is allowed. */
FWT_API void fwt_model_free(fwt_model *m);

/** Version of fwt_promote_options. */
#define FWT_PROMOTE_OPTIONS_VERSION 1

/** Options of fwt_promote_checkpoint. NULL = defaults. */
typedef struct fwt_promote_options {
    unsigned int version;               /**< FWT_PROMOTE_OPTIONS_VERSION */
    int32_t disable_async;              /**< nonzero: never send `async_promotion: true` */
    const char *hot_load_deployment_id; /**< deprecated; only for pre-bucket-URL jobs */
    fwt_wait_options wait;              /**< the operation wait: timeout_ms default 7200000, poll_interval_ms
                                             default 10000 (also the cap of the backoff after a failed poll);
                                             progress gets the promotion stages */
} fwt_promote_options;

/** Fill with the defaults above (concrete values, wait included). Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_promote_options_init(fwt_promote_options *opts, unsigned int version);

/**
 * Validate an output model id: `^[a-z0-9-]{1,63}$` (docs/protocol.md §6). Returns
 * FWT_OK or FWT_EINVAL with a message saying what is wrong (last error).
 */
FWT_API int fwt_promote_validate_output_model_id(const char *output_model_id);

/**
 * Promote a sampler checkpoint, named by its 4-segment row name
 * ("accounts/<a>/rlorTrainerJobs/<job>/checkpoints/<ckpt>"), to the model
 * "accounts/<a>/models/<output_model_id>". Inputs are validated before any
 * request (FWT_EINVAL, nothing sent). Sends `async_promotion: true` and
 * falls back without it when an old server rejects the field; polls the
 * returned operation. The future completes with an fwt_model
 * (fwt_future_take_model). Refusals: a delta checkpoint → FWT_EHTTP whose
 * message says delta checkpoints are not promotable.
 */
FWT_API int fwt_promote_checkpoint(fwt_future **out, fwt_client *client, const char *checkpoint_name,
                                   const char *output_model_id, const char *base_model,
                                   const fwt_promote_options *opts);

/** As fwt_promote_checkpoint, naming the checkpoint by (job id, checkpoint id) in the client's account. */
FWT_API int fwt_promote_checkpoint_by_id(fwt_future **out, fwt_client *client, const char *job_id,
                                         const char *checkpoint_id, const char *output_model_id,
                                         const char *base_model, const fwt_promote_options *opts);

/** Take the model of a completed promotion future. */
FWT_API int fwt_future_take_model(fwt_model **out, fwt_future *f);

/**
 * Blocking fwt_promote_checkpoint: start, wait up to timeout_ms (0 or -1 =
 * no bound beyond the options'), take. `out` may be NULL to discard the model.
 */
FWT_API int fwt_promote_checkpoint_result(fwt_model **out, fwt_client *client, const char *checkpoint_name,
                                          const char *output_model_id, const char *base_model,
                                          const fwt_promote_options *opts, int64_t timeout_ms);

/** Blocking fwt_promote_checkpoint_by_id, as fwt_promote_checkpoint_result. */
FWT_API int fwt_promote_checkpoint_by_id_result(fwt_model **out, fwt_client *client, const char *job_id,
                                                const char *checkpoint_id, const char *output_model_id,
                                                const char *base_model, const fwt_promote_options *opts,
                                                int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_JOBS_H */
