/**
 * @file
 * libfwtrain cookbook — fwt_weight_syncer: saves sampler checkpoints on a training
 * client and hotloads them into a deployment, keeping the base/delta chain
 * consistent (docs/protocol.md §5).
 *
 * Chain rules: the first checkpoint is first_sampler_type (default base),
 * later ones are deltas against the identity the deployment last loaded;
 * lora_rank > 0 always saves base (adapters are not delta-compressed). Beyond
 * the Python SDK: after any failed save or hotload the next checkpoint is
 * forced to base so the chain restarts, and a deployment found holding a
 * snapshot other than this syncer's last one gets a full load.
 *
 * One training client may feed several deployments: save once with
 * fwt_weight_syncer_save_only, then call fwt_weight_syncer_hotload on one
 * syncer per deployment. If one of those hotloads fails, call
 * fwt_weight_syncer_reset_delta_chain on the saving syncer so the next save
 * is a base every deployment can load.
 *
 * The calls block the calling thread; fwt_weight_syncer_cancel from another
 * thread cuts short the current wait for a save or for the deployment. A
 * syncer is used by one thread at a time. Built only on the public API.
 */
#ifndef FWTRAIN_COOKBOOK_WEIGHT_SYNCER_H
#define FWTRAIN_COOKBOOK_WEIGHT_SYNCER_H

#include "../client.h"
#include "../deployments.h"
#include "../training.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Sampler saves plus hotloads with a consistent base/delta chain (opaque). */
typedef struct fwt_weight_syncer fwt_weight_syncer;

/** Version of fwt_weight_syncer_options. */
#define FWT_WEIGHT_SYNCER_OPTIONS_VERSION 1

/**
 * Options of fwt_weight_syncer_new. The calls the syncer makes take their
 * options from the structs embedded here, as given; fwt_weight_syncer_options_init
 * fills them with the syncer's defaults (below). NULL = all defaults.
 */
typedef struct fwt_weight_syncer_options {
    unsigned int version;            /**< FWT_WEIGHT_SYNCER_OPTIONS_VERSION */
    int32_t lora_rank;               /**< > 0: every checkpoint is base, no incremental metadata */
    const char *deployment_id;       /**< NULL: save only, never hotload */
    const char *base_model;          /**< required with a deployment (fireworks-model header) */
    int32_t first_sampler_type;      /**< fwt_sampler_type of the first checkpoint; AUTO (0) = BASE */
    int32_t disable_warmup;          /**< nonzero: no warmup after a hotload */
    int64_t save_timeout_ms;         /**< each sampler save; 0 = default (none), -1 = none */
    int64_t save_ttl_seconds;        /**< sampler checkpoint TTL; 0 = keep */
    fwt_wait_options manager_wait;   /**< readiness gate before the first hotload
                                          (fwt_deployment_wait_hotload_ready); init: 300000 ms bound, 5000 ms poll */
    fwt_hotload_options hotload;     /**< each hotload request (fwt_deployment_hotload); the syncer sets
                                          previous_snapshot_identity itself, the value here is ignored */
    fwt_wait_options hotload_wait;   /**< each hotload wait (fwt_deployment_wait_hotload);
                                          init: 600000 ms bound, 5000 ms poll */
    fwt_warmup_options warmup;       /**< the warmup after a hotload (fwt_deployment_warmup); init: its defaults */
} fwt_weight_syncer_options;

/** Fill with the defaults above (embedded structs included). Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_weight_syncer_options_init(fwt_weight_syncer_options *opts, unsigned int version);

/**
 * Create a syncer on a training client. `client` (normally the one the
 * training runs on) is used for the deployment calls. Both are borrowed and
 * must outlive the syncer.
 */
FWT_API int fwt_weight_syncer_new(fwt_weight_syncer **out, fwt_client *client, fwt_training *training,
                                  const fwt_weight_syncer_options *opts);

/** Release. Must not race a call in progress on the same syncer. NULL is allowed. */
FWT_API void fwt_weight_syncer_free(fwt_weight_syncer *s);

/**
 * Save a sampler checkpoint `name` and hotload it into the deployment.
 * `type` FWT_SAMPLER_AUTO follows the chain rules; an explicit type is
 * used as given (except lora_rank > 0 forces base). On success *snapshot_out
 * (may be NULL) receives the snapshot name "<name>-<8hex>" (free with
 * fwt_free). A warmup failure is not an error (see
 * fwt_weight_syncer_last_warmup_status). On failure the next checkpoint will
 * be base. Before a delta the syncer reads what the deployment holds (one
 * hotload-status GET): when a hotload made outside this syncer replaced its
 * last snapshot (or the status cannot be read), an FWT_SAMPLER_AUTO
 * checkpoint is saved as a base instead, and an explicit FWT_SAMPLER_DELTA
 * is refused with FWT_ESTATE before anything is saved. A delta that applies
 * on top of a snapshot the deployment does not hold (another sampler save on
 * the same training came in between) is not sent: FWT_ESTATE. Without a
 * deployment this is save_only.
 */
FWT_API int fwt_weight_syncer_save_and_hotload(char **snapshot_out, fwt_weight_syncer *s, const char *name,
                                               fwt_sampler_type type);

/**
 * Save only (no hotload); the chain state advances as for a save. The type
 * used is reported in *type_out (may be NULL) so other syncers can hotload
 * the same snapshot with fwt_weight_syncer_hotload.
 */
FWT_API int fwt_weight_syncer_save_only(char **snapshot_out, fwt_sampler_type *type_out, fwt_weight_syncer *s,
                                        const char *name, fwt_sampler_type type);

/**
 * Hotload an existing snapshot into this syncer's deployment and wait. A
 * delta is sent with incremental metadata against the identity this
 * deployment last loaded; if none is known (or the deployment holds another
 * snapshot) it is sent as a full load, which the server may reject for a
 * delta — then the next save of this syncer's training is forced to base.
 */
FWT_API int fwt_weight_syncer_hotload(fwt_weight_syncer *s, const char *snapshot_name, fwt_sampler_type type);

/**
 * Forget the chain (next checkpoint base, next hotload full). Call after
 * re-attaching the deployment to another trainer.
 */
FWT_API void fwt_weight_syncer_reset_delta_chain(fwt_weight_syncer *s);

/**
 * Cancel the wait in progress (from another thread); the blocked call
 * returns FWT_ECANCELED and the chain restarts with a base. FWT_OK also when
 * nothing is in progress.
 */
FWT_API int fwt_weight_syncer_cancel(fwt_weight_syncer *s);

/** The identity the deployment last loaded through this syncer, NULL if none (borrowed). */
FWT_API const char *fwt_weight_syncer_base_identity(const fwt_weight_syncer *s);

/** The type the next FWT_SAMPLER_AUTO save will use (BASE or DELTA). */
FWT_API fwt_sampler_type fwt_weight_syncer_next_type(const fwt_weight_syncer *s);

/** Version of fwt_sync_timing. */
#define FWT_SYNC_TIMING_VERSION 1

/** Durations of the last save_and_hotload / save_only / hotload call, in milliseconds (0 = step not run). */
typedef struct fwt_sync_timing {
    unsigned int version;  /**< FWT_SYNC_TIMING_VERSION */
    int32_t type;          /**< fwt_sampler_type actually used */
    int64_t save_ms;       /**< the sampler save, submit to result */
    int64_t hotload_ms;    /**< readiness gate (first time), POST and wait */
    int64_t warmup_ms;     /**< the warmup probe */
    int64_t total_ms;      /**< the whole call */
} fwt_sync_timing;

/** Copy the timings of the last call into *out (out->version must be set). */
FWT_API int fwt_weight_syncer_last_timing(const fwt_weight_syncer *s, fwt_sync_timing *out);

/** Outcome of the last warmup: FWT_OK, an error code, or FWT_EAGAIN if none ran. */
FWT_API int fwt_weight_syncer_last_warmup_status(const fwt_weight_syncer *s);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_COOKBOOK_WEIGHT_SYNCER_H */
