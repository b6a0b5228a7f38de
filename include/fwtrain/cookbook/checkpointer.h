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

#include "../jobs.h"
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
    /**
     * Where the automatic resume looks (fwt_resume_source): FWT_RESUME_SOURCE_REGISTRY (0, default) or
     * FWT_RESUME_SOURCE_CONTROL_PLANE. Either way every confirmed save is also appended to checkpoints.jsonl.
     */
    int32_t resume_source;
    /**
     * How many times fwt_checkpointer_recover may replace a lost session over the checkpointer's life:
     * 0 = 8 (default), > 0 = that many, -1 = never (recover returns the failure unchanged).
     */
    int32_t max_recoveries;
    /**
     * TTL of the periodic saves (those fwt_checkpointer_step_done makes), in seconds: the server may delete
     * them after that long. 0 = kept forever (default). The final save and fwt_checkpointer_save are always
     * kept. A resume or recovery needs its checkpoint to exist: keep the TTL well above the save interval.
     */
    int64_t ttl_seconds;
    /**
     * Also make a periodic save when this long has passed since the last save (or the start), checked at
     * each fwt_checkpointer_step_done; 0 = off (default), > 0 = milliseconds. Composes with
     * dcp_save_interval: a step due by either is saved once.
     */
    int64_t save_interval_ms;
    /** Monotonic clock for save_interval_ms, in milliseconds; NULL = CLOCK_MONOTONIC (tests inject one). */
    int64_t (*clock_ms)(void *payload);
    /** Passed to clock_ms. */
    void *clock_payload;
    /**
     * Nonzero: periodic saves are asynchronous. fwt_checkpointer_step_done sends the save and returns; the
     * loop trains on while it is in flight. Each save's line is appended only once the server confirmed it,
     * in step order (checked at every later call, waited for by fwt_checkpointer_save, _finish and _free's
     * caller via fwt_checkpointer_flush), so a crash never leaves a line for an unconfirmed save. A failed
     * save is returned by the next call (and the saves queued behind it are dropped). Default 0: blocking.
     */
    int32_t async_saves;
    /** What to do with a log_path that already holds a run (fwt_log_dir_policy); default FWT_LOG_DIR_RESUME. */
    int32_t log_dir_policy;
    /**
     * Non-NULL: after the final save, fwt_checkpointer_finish promotes its sampler snapshot to the model
     * "accounts/<account>/models/<output_model_id>" (fwt_promote_checkpoint_by_id_result, with `promote`
     * and base_model) and keeps it (fwt_checkpointer_promoted_model). NULL = no promotion (default).
     */
    const char *output_model_id;
    /** Options of that promotion (embedded; fwt_checkpointer_options_init writes its defaults). */
    fwt_promote_options promote;
} fwt_checkpointer_options;

/** What fwt_checkpointer_start does with a log_path that already holds a run (fwt_checkpointer_options.log_dir_policy). */
typedef enum fwt_log_dir_policy {
    /** Resume the run it holds (default): the resume decision of fwt_checkpointer_start. */
    FWT_LOG_DIR_RESUME = 0,
    /**
     * Start afresh: checkpoints.jsonl and dataloader.json are removed and nothing is resumed (also not from
     * the listing); init_from_checkpoint applies. The server's checkpoints are not deleted.
     */
    FWT_LOG_DIR_OVERWRITE = 1,
    /** Refuse (FWT_ECONFLICT, naming the file) when checkpoints.jsonl or dataloader.json exists in log_path. */
    FWT_LOG_DIR_FAIL_IF_EXISTS = 2
} fwt_log_dir_policy;

/** Where fwt_checkpointer_start looks for the state to resume (fwt_checkpointer_options.resume_source). */
typedef enum fwt_resume_source {
    /** The resumable entry of `{log_path}/checkpoints.jsonl` with the highest step (the original cookbook). */
    FWT_RESUME_SOURCE_REGISTRY = 0,
    /**
     * The trainer job's checkpoint listing, as the current cookbook resumes: the newest resumable
     * (DCP) row of job_id by parsed createTime whose logical name (session suffix stripped) is
     * "step-<N>", loaded with load_state_with_optimizer; data_consumed is read from
     * `{log_path}/dataloader.json` (`{"<checkpoint name>": data_consumed, ...}`, the newest 20 names,
     * replaced atomically), which the checkpointer writes before each STATE save.
     */
    FWT_RESUME_SOURCE_CONTROL_PLANE = 1
} fwt_resume_source;

/** Fill with defaults. FWT_EINVAL for an unknown version. */
FWT_API int fwt_checkpointer_options_init(fwt_checkpointer_options *opts, unsigned int version);

/** How fwt_checkpointer_start began the run. */
typedef enum fwt_resume_mode {
    FWT_RESUME_FRESH = 0,    /**< nothing to resume: step 0, data_consumed 0 */
    FWT_RESUME_AUTO = 1,     /**< resumed: the highest resumable step of checkpoints.jsonl
                                  (fwt_registry_last_resumable) or the listing's newest row (resume_source) */
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
 * With resume_source FWT_RESUME_SOURCE_CONTROL_PLANE the "entry" above is
 * the newest resumable "step-<N>" row of job_id's checkpoint listing (its
 * state loaded as "cross_job://<job_id>/step-<N>", data_consumed from
 * dataloader.json; a row without a position there is FWT_ECORRUPT; a newest
 * resumable row that is not named "step-<N>" is FWT_EUNSUPPORTED, never
 * skipped). The listing may lag behind the last save: resuming from the row
 * before it is still exact, only a few more steps are recomputed.
 * A corrupt registry fails with FWT_ECORRUPT; load failures with the error
 * of the load. Details in fwt_error_last().
 */
FWT_API int fwt_checkpointer_start(fwt_checkpointer **out, fwt_training *t, const fwt_checkpointer_options *opts);

/** Free the checkpointer (the training handle is not touched). NULL is allowed. */
FWT_API void fwt_checkpointer_free(fwt_checkpointer *c);

/** How the run started (fwt_resume_mode). */
FWT_API int fwt_checkpointer_mode(const fwt_checkpointer *c);
/**
 * Steps already completed when the run started (the step to continue from);
 * after a successful fwt_checkpointer_recover, the step of the state it
 * reloaded (the loop rewinds to it).
 */
FWT_API int64_t fwt_checkpointer_start_step(const fwt_checkpointer *c);
/** data_consumed when the run started, or at the step fwt_checkpointer_recover rewound to. */
FWT_API int64_t fwt_checkpointer_start_data_consumed(const fwt_checkpointer *c);
/**
 * The path loaded at start (state_path or resolved init ref) or by the last
 * recovery, or NULL if nothing was loaded. Borrowed.
 */
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
 * the DCP of a step is never written twice. Asynchronous saves in flight are
 * recorded first (fwt_checkpointer_flush). With output_model_id, the final
 * sampler snapshot is then promoted (fwt_checkpointer_promoted_model; a model
 * of that id that already exists fails with the promotion's error).
 */
FWT_API int fwt_checkpointer_finish(fwt_checkpointer *c, int64_t step, int64_t data_consumed);

/**
 * Wait for every asynchronous save in flight and append their lines in step
 * order (async_saves). Returns the first failure (the saves after it are
 * dropped). Blocking; a no-op without saves in flight.
 */
FWT_API int fwt_checkpointer_flush(fwt_checkpointer *c);

/** Asynchronous saves sent and not yet recorded (0 for NULL or with async_saves off). */
FWT_API size_t fwt_checkpointer_pending_saves(const fwt_checkpointer *c);

/**
 * The model fwt_checkpointer_finish promoted (output_model_id), or NULL
 * (no promotion asked, or not finished yet). Borrowed.
 */
FWT_API const fwt_model *fwt_checkpointer_promoted_model(const fwt_checkpointer *c);

/* ---- in-process recovery from a lost session ------------------------------ */

/**
 * The training the loop must use (borrowed): the one given to
 * fwt_checkpointer_start until a recovery replaced it, then the replacement,
 * which the checkpointer owns and frees (at the next recovery or in
 * fwt_checkpointer_free). Fetch it again after every successful
 * fwt_checkpointer_recover. NULL for NULL.
 */
FWT_API fwt_training *fwt_checkpointer_training(const fwt_checkpointer *c);

/**
 * Recover in-process after an operation of the loop failed with `failure`
 * (a training op of fwt_checkpointer_training(), or a save of the
 * checkpointer). Blocking.
 *
 * When `failure` means the trainer lost the session or the model (it
 * restarted or forgot them: FWT_ENOTFOUND, FWT_EEXPIRED; the operation
 * sequence broke: FWT_ESTATE; it stayed unreachable: FWT_ECONNECT), the
 * checkpointer opens a new session on the same trainer
 * (fwt_training_copy_options, fwt_training_new), creates its model, and
 * reloads the last confirmed state with its optimizer: the last STATE save
 * the server confirmed in this process, else what fwt_checkpointer_start
 * loaded (an init_from_checkpoint keeps its init_weights_only choice), else
 * nothing (a fresh model). It then returns FWT_OK and logs one warning
 * (client log callback) saying what was lost and where the run continues.
 * The loop must rewind: continue with fwt_checkpointer_training(c) from
 * fwt_checkpointer_start_step(c) and fwt_checkpointer_start_data_consumed(c),
 * recomputing the steps after that point (never skipping them), so the
 * results are those of an uninterrupted run.
 *
 * Any other failure is returned unchanged with fwt_error_last() untouched
 * (not a lost session: the loop should stop). Past max_recoveries, or when
 * the new session, model or load fails, returns that error (details in
 * fwt_error_last()); the checkpointer keeps its previous training then.
 * The training given to start is no longer used after a recovery: the
 * caller may free it at once (its unload fails, the model being gone).
 * FWT_EINVAL for NULL or failure == FWT_OK.
 */
FWT_API int fwt_checkpointer_recover(fwt_checkpointer *c, int failure);

/** Number of successful fwt_checkpointer_recover calls so far (0 for NULL). */
FWT_API int fwt_checkpointer_recoveries(const fwt_checkpointer *c);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_COOKBOOK_CHECKPOINTER_H */
