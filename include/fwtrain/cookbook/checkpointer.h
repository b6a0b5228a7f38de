/**
 * @file
 * libfwtrain cookbook — fwt_checkpointer: turns a training loop into a
 * resumable one (the cookbook's sft_loop Config: log_path,
 * dcp_save_interval, init_from_checkpoint). It decides how a run starts
 * (fresh, resumed from the registry, or initialised from another job's
 * checkpoint), saves periodic and final checkpoints on an fwt_training and
 * records each one in the registry (registry.h) once the server confirmed it.
 * Built only on the public API.
 */
#ifndef FWTRAIN_COOKBOOK_CHECKPOINTER_H
#define FWTRAIN_COOKBOOK_CHECKPOINTER_H

#include "../training.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A training run's resume policy and checkpoint saver (opaque). */
typedef struct fwt_checkpointer fwt_checkpointer;

/** Version of fwt_checkpointer_options. */
#define FWT_CHECKPOINTER_OPTIONS_VERSION 1

/** Checkpointer settings (the cookbook Config fields). Zero / NULL fields take the documented default. */
typedef struct fwt_checkpointer_options {
    unsigned int version;              /**< FWT_CHECKPOINTER_OPTIONS_VERSION */
    const char *log_path;              /**< required: directory holding checkpoints.jsonl */
    const char *job_id;                /**< required: the trainer job of `t` (source_job_id, cross_job:// refs) */
    const char *base_model;            /**< recorded in every entry; NULL = the training's base model
                                            (fwt_training_base_model), else the job's trainingConfig.baseModel */
    int64_t dcp_save_interval;         /**< save STATE every N completed steps; 0 = off (default) */
    int64_t total_steps;               /**< length of the run; 0 = unknown (the run is never "complete") */
    const char *init_from_checkpoint;  /**< "job_id:checkpoint_name", a bare "checkpoint_name" of job_id itself,
                                            or gs://, /path (fwt_checkpoint_spec_resolve_for_job); NULL = none */
    int32_t init_weights_only;         /**< nonzero: init_from_checkpoint uses load_state (optimizer reset)
                                            instead of load_state_with_optimizer (the cookbook's default) */
    int32_t reserved0;                 /**< must be 0 */
    int64_t op_timeout_ms;             /**< deadline of each save/load; 0 = 2700000 (docs/protocol.md §4.2), -1 = none */
} fwt_checkpointer_options;

/** Fill with defaults. FWT_EINVAL for an unknown version. */
FWT_API int fwt_checkpointer_options_init(fwt_checkpointer_options *opts, unsigned int version);

/** How fwt_checkpointer_start began the run. */
typedef enum fwt_resume_mode {
    FWT_RESUME_FRESH = 0,    /**< nothing to resume: step 0, data_consumed 0 */
    FWT_RESUME_AUTO = 1,     /**< resumed from checkpoints.jsonl (fwt_registry_last_resumable: the highest step) */
    FWT_RESUME_INIT = 2,     /**< weights loaded from init_from_checkpoint; step 0, data_consumed 0 */
    FWT_RESUME_COMPLETE = 3  /**< the registry already holds step >= total_steps: nothing to train */
} fwt_resume_mode;

/**
 * Decide how the run starts and restore it (blocking). `t` must have a model
 * (fwt_training_create_model completed) and must outlive the checkpointer.
 *
 * First takes an exclusive lock on log_path (the file checkpointer.lock in
 * it, created with the directory if missing) and holds it until
 * fwt_checkpointer_free: while another checkpointer, in this process or
 * another, holds it, the start fails at once with FWT_ECONFLICT naming the
 * directory and the holder's pid. The lock goes away with its holder, even
 * when that process is killed.
 *
 * The resume decision uses the resumable entry with the highest step (on a
 * tie the later line; fwt_registry_last_resumable), never simply the last
 * line:
 *  - that entry has step >= total_steps → FWT_RESUME_COMPLETE, nothing is
 *    loaded;
 *  - such an entry exists and init_from_checkpoint is also set → FWT_EINVAL
 *    (they are mutually exclusive: use a new log_path or drop the option);
 *  - such an entry exists → load_state_with_optimizer(state_path), restore
 *    step and data_consumed (FWT_RESUME_AUTO); an entry without `step` (the
 *    tinker cookbook's lines) restores its integer `batch` key, else 0;
 *  - init_from_checkpoint set → resolve it (fwt_checkpoint_spec_resolve_for_job
 *    with job_id: a bare name is a checkpoint of this job),
 *    load it, step and data_consumed 0 (FWT_RESUME_INIT);
 *  - else FWT_RESUME_FRESH.
 * A corrupt registry fails with FWT_ECORRUPT; load failures with the error
 * of the load. Details in fwt_error_last().
 */
FWT_API int fwt_checkpointer_start(fwt_checkpointer **out, fwt_training *t, const fwt_checkpointer_options *opts);

/** Free the checkpointer (the training handle is not touched). NULL is allowed. */
FWT_API void fwt_checkpointer_free(fwt_checkpointer *c);

/** How the run started (fwt_resume_mode). */
FWT_API int fwt_checkpointer_mode(const fwt_checkpointer *c);
/** Steps already completed when the run started (the step to continue from). */
FWT_API int64_t fwt_checkpointer_start_step(const fwt_checkpointer *c);
/** data_consumed when the run started. */
FWT_API int64_t fwt_checkpointer_start_data_consumed(const fwt_checkpointer *c);
/** The path loaded at start (state_path or resolved init ref), or NULL if nothing was loaded. Borrowed. */
FWT_API const char *fwt_checkpointer_loaded_path(const fwt_checkpointer *c);
/**
 * Bytes of torn tail fwt_checkpointer_start found and ignored in
 * checkpoints.jsonl (fwt_registry_torn_bytes); 0 for a clean registry.
 * When non-zero the start was also logged as a warning (client log
 * callback): the run may have resumed from an earlier checkpoint than the
 * torn record meant, and a '\n'-terminated invalid last line makes the next
 * save fail until it is removed or fixed.
 */
FWT_API size_t fwt_checkpointer_torn_bytes(const fwt_checkpointer *c);
/** 1 if the run is complete: started as FWT_RESUME_COMPLETE or fwt_checkpointer_finish succeeded. */
FWT_API int fwt_checkpointer_is_complete(const fwt_checkpointer *c);

/**
 * Report that `step` steps are now completed, having consumed `data_consumed`
 * examples. When dcp_save_interval > 0 and step is a multiple of it (and
 * step < total_steps, whose checkpoint fwt_checkpointer_finish writes), saves
 * a STATE checkpoint "step-<step>" and appends its line, unless this step's
 * state is already saved (by this checkpointer, or it is the step the run
 * resumed from). Blocking.
 * `*saved` (may be NULL) is set to 1 if a checkpoint was written, else 0.
 */
FWT_API int fwt_checkpointer_step_done(fwt_checkpointer *c, int64_t step, int64_t data_consumed, int *saved);

/**
 * Save a checkpoint "step-<step>" of the given kind now and append its line
 * once the server confirmed every part. STATE: save_state; SAMPLER: a BASE
 * sampler snapshot (save_weights_for_sampler_ext, so it stays promotable);
 * BOTH: both. Blocking. On failure nothing is appended.
 * A step's state is never saved twice: when this checkpointer already saved
 * (or resumed from) the state of `step`, STATE does nothing and BOTH saves
 * only the sampler snapshot and records it with that state.
 */
FWT_API int fwt_checkpointer_save(fwt_checkpointer *c, int64_t step, int64_t data_consumed, fwt_checkpoint_kind kind);

/**
 * The final checkpoint: a BOTH entry "step-<step>" (resumable and
 * promotable), then the run counts as complete. If the registry already holds
 * a BOTH entry of this step, nothing is saved again; if it holds a STATE entry
 * of this step (step_done saved it because total_steps was not given), only
 * the sampler snapshot is saved and the BOTH entry records the existing state:
 * the DCP of a step is never written twice.
 */
FWT_API int fwt_checkpointer_finish(fwt_checkpointer *c, int64_t step, int64_t data_consumed);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_COOKBOOK_CHECKPOINTER_H */
