/**
 * @file
 * libfwtrain — what the modules share: forward declarations of every opaque
 * handle, the progress callback of long waits, the string list, and the one
 * wait-option struct (fwt_wait_options) that every wait takes or embeds.
 */
#ifndef FWTRAIN_TYPES_H
#define FWTRAIN_TYPES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A connection to the service: settings, credentials, worker thread (client.h). */
typedef struct fwt_client fwt_client;
/** A pollable handle on an asynchronous operation (future.h). */
typedef struct fwt_future fwt_future;
/** One session and one model on a trainer (training.h). */
typedef struct fwt_training fwt_training;
/** A trainer job resource (jobs.h). */
typedef struct fwt_job fwt_job;
/** A model resource, the outcome of a promotion (jobs.h). */
typedef struct fwt_model fwt_model;
/** A deployment resource (deployments.h). */
typedef struct fwt_deployment fwt_deployment;
/** Hotload status of a deployment's replicas (deployments.h). */
typedef struct fwt_hotload_status fwt_hotload_status;
/** The control plane's checkpoint listing of one job (checkpoint_list.h). */
typedef struct fwt_checkpoint_list fwt_checkpoint_list;
/** One row of a checkpoint listing, borrowed from its list (checkpoint_list.h). */
typedef struct fwt_checkpoint_row fwt_checkpoint_row;

/* ---- string list --------------------------------------------------------- */

/** A list of strings (opaque). */
typedef struct fwt_string_list fwt_string_list;
/** Number of strings (0 for NULL). */
FWT_API size_t fwt_string_list_count(const fwt_string_list *l);
/** String i (borrowed, valid until the list is freed); NULL if i is out of range. */
FWT_API const char *fwt_string_list_get(const fwt_string_list *l, size_t i);
/** Free the list and its strings. NULL is allowed. */
FWT_API void fwt_string_list_free(fwt_string_list *l);

/* ---- progress of long waits --------------------------------------------- */

/** Stages reported by long waits through an fwt_progress_fn. Append-only. */
typedef enum fwt_progress_stage {
    FWT_PROGRESS_JOB_PENDING = 1,          /**< job queued for capacity (JOB_STATE_PENDING) */
    FWT_PROGRESS_JOB_STARTING = 2,         /**< placed, not RUNNING yet (CREATING, ...) */
    FWT_PROGRESS_JOB_HEALTHZ = 3,          /**< RUNNING; probing the trainer's healthz */
    FWT_PROGRESS_JOB_READY = 4,            /**< healthz answered 200 */
    FWT_PROGRESS_PROMOTE_SUBMITTED = 10,   /**< promote request accepted */
    FWT_PROGRESS_PROMOTE_RUNNING = 11,     /**< operation polled, not done; message = status text */
    FWT_PROGRESS_PROMOTE_DONE = 12,        /**< model available */
    FWT_PROGRESS_HOTLOAD_MANAGER = 20,     /**< waiting for the hotload manager (no replicas yet) */
    FWT_PROGRESS_HOTLOAD_LOADING = 21,     /**< replica loading; message = stage and identities */
    FWT_PROGRESS_HOTLOAD_DONE = 22,        /**< expected identity loaded and ready */
    FWT_PROGRESS_DEPLOYMENT_DELETING = 30, /**< deployment still present after DELETE */
    FWT_PROGRESS_DEPLOYMENT_STARTING = 31, /**< deployment not READY yet; message = its state */
    FWT_PROGRESS_WARMUP = 40               /**< warmup probe attempt failed; retrying */
} fwt_progress_stage;

/**
 * Progress callback of a long wait. Runs on the client's worker thread after
 * each poll; must return quickly and must not make blocking library calls.
 * `stage` is an fwt_progress_stage, `elapsed_ms` the time since the wait
 * began, `message` is borrowed for the duration of the call (never NULL).
 */
typedef void (*fwt_progress_fn)(int stage, int64_t elapsed_ms, const char *message, void *payload);

/** A static name for a stage, e.g. "job_pending". Never NULL ("unknown"). */
FWT_API const char *fwt_progress_stage_name(int stage);

/* ---- the wait options --------------------------------------------------- */

/** Version of fwt_wait_options. */
#define FWT_WAIT_OPTIONS_VERSION 1

/**
 * How a long wait polls the server and for how long. Every wait takes this
 * struct (NULL = defaults) or embeds it in its own options.
 *
 * Durations follow the library's one rule: 0 = the waiting call's documented
 * default, -1 = no bound, > 0 = milliseconds. A wait polls first after
 * `poll_initial_ms`, then backs off (doubling, with full jitter) up to
 * `poll_interval_ms`, so a fast server answers fast and a slow one is not
 * polled more often than `poll_interval_ms` once the wait has run a while.
 */
typedef struct fwt_wait_options {
    unsigned int version;      /**< FWT_WAIT_OPTIONS_VERSION */
    int32_t reserved0;         /**< must be 0 */
    int64_t timeout_ms;        /**< bound on the whole wait; 0 = the call's default, -1 = none */
    int64_t poll_interval_ms;  /**< the longest gap between polls; 0 = the call's default, -1 is invalid */
    int64_t poll_initial_ms;   /**< the first gap; 0 = 100 (capped at poll_interval_ms), -1 is invalid */
    fwt_progress_fn progress;  /**< optional: called after each poll */
    void *progress_payload;    /**< passed to `progress` */
} fwt_wait_options;

/**
 * Fill `opts` with the defaults: every duration 0 (the waiting call's
 * documented default), no progress callback. FWT_EINVAL for NULL or an
 * unknown version.
 */
FWT_API int fwt_wait_options_init(fwt_wait_options *opts, unsigned int version);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_TYPES_H */
