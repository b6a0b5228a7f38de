/*
 * libfwtrain — the cookbook layer: the `{log_path}/checkpoints.jsonl`
 * registry, checkpoint kinds, and fwt_checkpointer, which turns a training
 * loop into a resumable one (protocol §7.1, the cookbook's sft_loop Config:
 * log_path, dcp_save_interval, init_from_checkpoint).
 *
 * One JSON object per line; the '\n' ending a line is its commit marker:
 *
 *   {"name":"step-10","step":10,"data_consumed":40,"state_path":"cross_job://job-abc/step-10",
 *    "source_job_id":"job-abc","base_model":"accounts/fireworks/models/qwen3-8b"}
 *
 * Kinds and the fields they write:
 *   STATE   (DCP: weights + optimizer)  state_path          resumable, not promotable
 *   SAMPLER (HF base weights)           sampler_path        promotable, not resumable
 *   BOTH                                state_path + sampler_path   resumable and promotable
 * name, step, data_consumed and source_job_id are always written; base_model
 * when known. Unknown keys written by other tools are ignored on read.
 */
#ifndef FWTRAIN_CHECKPOINTS_H
#define FWTRAIN_CHECKPOINTS_H

#include "common.h"
#include "training.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a checkpoint holds (the cookbook's CheckpointKind). Values are bit sets: BOTH = STATE | SAMPLER. */
typedef enum fwt_checkpoint_kind {
    FWT_CHECKPOINT_KIND_STATE = 1,   /**< DCP state: resumable, not promotable */
    FWT_CHECKPOINT_KIND_SAMPLER = 2, /**< base sampler snapshot: promotable, not resumable */
    FWT_CHECKPOINT_KIND_BOTH = 3     /**< both: resumable and promotable */
} fwt_checkpoint_kind;

/** "STATE", "SAMPLER", "BOTH"; NULL for any other value. */
FWT_API const char *fwt_checkpoint_kind_name(fwt_checkpoint_kind kind);
/** Parse a kind name (case-insensitive). FWT_EINVAL if unknown. */
FWT_API int fwt_checkpoint_kind_parse(fwt_checkpoint_kind *out, const char *name);

#define FWT_CHECKPOINT_ENTRY_VERSION 1

/**
 * One line of checkpoints.jsonl. As input (fwt_checkpoints_append) the
 * caller owns the strings; as output (fwt_checkpoints_get and the queries)
 * the struct and its strings are borrowed from the fwt_checkpoints list.
 * Absent optional strings are NULL.
 */
typedef struct fwt_checkpoint_entry {
    unsigned int version;       /**< FWT_CHECKPOINT_ENTRY_VERSION */
    const char *name;           /**< "step-<N>"; required, non-empty */
    int64_t step;               /**< optimizer steps completed; >= 0 */
    int64_t data_consumed;      /**< training examples consumed; >= 0 (0 when absent on read) */
    const char *state_path;     /**< STATE/BOTH: DCP reference to resume from, e.g. "cross_job://<job>/step-10" */
    const char *sampler_path;   /**< SAMPLER/BOTH: session-qualified snapshot name to promote */
    const char *source_job_id;  /**< trainer job that made the checkpoint; required on append */
    const char *base_model;     /**< base model, used by promotion when not given; optional */
} fwt_checkpoint_entry;

/** Zero `e` and set its version. FWT_EINVAL for an unknown version. */
FWT_API int fwt_checkpoint_entry_init(fwt_checkpoint_entry *e, unsigned int version);

/** The entry's kind from the paths it carries; 0 if it has neither (never true of a parsed entry). */
FWT_API int fwt_checkpoint_entry_kind(const fwt_checkpoint_entry *e);
/** 1 if the entry can be resumed from (has state_path), else 0. */
FWT_API int fwt_checkpoint_entry_is_resumable(const fwt_checkpoint_entry *e);
/** 1 if the entry can be promoted (has sampler_path), else 0. */
FWT_API int fwt_checkpoint_entry_is_promotable(const fwt_checkpoint_entry *e);

/* ---- the registry file ---------------------------------------------------- */

/** The parsed contents of a checkpoints.jsonl file (opaque, immutable). */
typedef struct fwt_checkpoints fwt_checkpoints;

/**
 * Read `{log_path}/checkpoints.jsonl`. A missing file or directory gives an
 * empty list (a fresh run). See fwt_checkpoints_read_file for the rules.
 */
FWT_API int fwt_checkpoints_read(fwt_checkpoints **out, const char *log_path);

/**
 * Read one checkpoints.jsonl file by path. A missing file is FWT_EIO.
 *
 * Only the last line may be torn. Ignored, and counted by
 * fwt_checkpoints_torn_bytes (callers should warn when it is non-zero):
 *  - an unterminated last fragment (a record whose '\n' never reached the
 *    disk, or NUL/garbage bytes a crash left without a '\n');
 *  - one '\n'-terminated last line that is not JSON at all (it may have
 *    been a checkpoint: fwt_checkpoints_append refuses to go past it).
 * Blank lines are skipped. Every other bad line fails with FWT_ECORRUPT and
 * the message "<path>:<line>: <reason>" (1-based line number) in
 * fwt_error_last(): an invalid line followed by a valid one, two or more
 * trailing invalid lines (the first one is named), and a JSON line that is
 * not a well-formed entry (even the last one).
 */
FWT_API int fwt_checkpoints_read_file(fwt_checkpoints **out, const char *path);

/** Number of entries, in file order. NULL gives 0. */
FWT_API size_t fwt_checkpoints_count(const fwt_checkpoints *l);
/** Entry i in file order (borrowed), or NULL when out of range. */
FWT_API const fwt_checkpoint_entry *fwt_checkpoints_get(const fwt_checkpoints *l, size_t i);
/** Bytes of torn tail the reader ignored (0 for a clean file). */
FWT_API size_t fwt_checkpoints_torn_bytes(const fwt_checkpoints *l);
/** Free the list. NULL is allowed. */
FWT_API void fwt_checkpoints_free(fwt_checkpoints *l);

/** The last entry with a state_path (what an automatic resume loads), or NULL. Borrowed. */
FWT_API const fwt_checkpoint_entry *fwt_checkpoints_last_resumable(const fwt_checkpoints *l);
/** The last entry with a sampler_path (what promotion picks by default), or NULL. Borrowed. */
FWT_API const fwt_checkpoint_entry *fwt_checkpoints_latest_promotable(const fwt_checkpoints *l);
/** The last entry whose step equals `step`, or NULL. Borrowed. */
FWT_API const fwt_checkpoint_entry *fwt_checkpoints_find_step(const fwt_checkpoints *l, int64_t step);

/**
 * Durably append one entry to `{log_path}/checkpoints.jsonl`.
 *
 * The directory is created if missing (its parent fsynced). The file is
 * opened O_APPEND and locked (flock) against other appenders. An
 * unterminated fragment left by an earlier crash (never committed) is cut
 * off first, so the record always starts on a fresh line. Bytes ending in
 * '\n' are never cut: when the last line is invalid (a torn tail the reader
 * tolerates), the append fails with FWT_ECORRUPT
 * "<path>:<line>: invalid line; remove it or fix it" and the file is left
 * untouched. The line is serialised into one buffer, written with a loop
 * that survives short writes and EINTR, then fsynced (and the directory too
 * when the file was created). On a failed write or fsync the record is
 * withdrawn and FWT_EIO returned: it is not durable and must be appended
 * again.
 *
 * Requires name, step >= 0, data_consumed >= 0, source_job_id, and at least
 * one of state_path / sampler_path (FWT_EINVAL otherwise). A file that
 * fwt_checkpoints_read_file calls corrupt is refused with FWT_ECORRUPT
 * (appending would hide it).
 */
FWT_API int fwt_checkpoints_append(const char *log_path, const fwt_checkpoint_entry *e);

/** fwt_checkpoints_append to an explicit file path; the parent directory must exist. */
FWT_API int fwt_checkpoints_append_file(const char *path, const fwt_checkpoint_entry *e);

/**
 * Resolve an init_from_checkpoint spec (protocol §6): "<job_id>:<name>" is
 * split on the first ':' and resolved to "cross_job://<job_id>/<name>"
 * (fwt_resolve_checkpoint_path); "gs://..." and "/..." are returned
 * unchanged. Anything else (no ':', empty job or name) is FWT_EINVAL.
 * *out is freed with fwt_free.
 */
FWT_API int fwt_checkpoint_spec_resolve(char **out, const char *spec);

/* ---- fwt_checkpointer: resume policy and periodic saves ------------------- */

typedef struct fwt_checkpointer fwt_checkpointer;

#define FWT_CHECKPOINTER_OPTIONS_VERSION 1

/** Checkpointer settings (the cookbook Config fields). Zero / NULL fields take the documented default. */
typedef struct fwt_checkpointer_options {
    unsigned int version;              /**< FWT_CHECKPOINTER_OPTIONS_VERSION */
    const char *log_path;              /**< required: directory holding checkpoints.jsonl */
    const char *job_id;                /**< required: the trainer job of `t` (source_job_id, cross_job:// refs) */
    const char *base_model;            /**< recorded in every entry; NULL = not recorded */
    int64_t dcp_save_interval;         /**< save STATE every N completed steps; 0 = off (default) */
    int64_t total_steps;               /**< length of the run; 0 = unknown (the run is never "complete") */
    const char *init_from_checkpoint;  /**< "job_id:checkpoint_name" (or gs://, /path); NULL = none */
    int32_t init_weights_only;         /**< nonzero: init_from_checkpoint uses load_state (optimizer reset)
                                            instead of load_state_with_optimizer (the cookbook's default) */
    int32_t reserved0;
    int64_t op_timeout_ms;             /**< deadline of each save/load; 0 = 2700000 (protocol §4.2), -1 = none */
} fwt_checkpointer_options;

/** Fill with defaults. FWT_EINVAL for an unknown version. */
FWT_API int fwt_checkpointer_options_init(fwt_checkpointer_options *opts, unsigned int version);

/** How fwt_checkpointer_start began the run. */
typedef enum fwt_resume_mode {
    FWT_RESUME_FRESH = 0,    /**< nothing to resume: step 0, data_consumed 0 */
    FWT_RESUME_AUTO = 1,     /**< resumed from the last resumable entry of checkpoints.jsonl */
    FWT_RESUME_INIT = 2,     /**< weights loaded from init_from_checkpoint; step 0, data_consumed 0 */
    FWT_RESUME_COMPLETE = 3  /**< the registry already holds step >= total_steps: nothing to train */
} fwt_resume_mode;

/**
 * Decide how the run starts and restore it (blocking). `t` must have a model
 * (fwt_training_create_model completed) and must outlive the checkpointer.
 *  - the last entry of checkpoints.jsonl with a state_path has step >=
 *    total_steps → FWT_RESUME_COMPLETE, nothing is loaded;
 *  - such an entry exists and init_from_checkpoint is also set → FWT_EINVAL
 *    (they are mutually exclusive: use a new log_path or drop the option);
 *  - such an entry exists → load_state_with_optimizer(state_path), restore
 *    step and data_consumed (FWT_RESUME_AUTO);
 *  - init_from_checkpoint set → resolve it (fwt_checkpoint_spec_resolve),
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
 * checkpoints.jsonl (fwt_checkpoints_torn_bytes); 0 for a clean registry.
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
 * a STATE checkpoint "step-<step>" and appends its line. Blocking.
 * `*saved` (may be NULL) is set to 1 if a checkpoint was written, else 0.
 */
FWT_API int fwt_checkpointer_step_done(fwt_checkpointer *c, int64_t step, int64_t data_consumed, int *saved);

/**
 * Save a checkpoint "step-<step>" of the given kind now and append its line
 * once the server confirmed every part. STATE: save_state; SAMPLER: a BASE
 * sampler snapshot (save_weights_for_sampler_ext, so it stays promotable);
 * BOTH: both. Blocking. On failure nothing is appended.
 */
FWT_API int fwt_checkpointer_save(fwt_checkpointer *c, int64_t step, int64_t data_consumed, fwt_checkpoint_kind kind);

/**
 * The final checkpoint: a BOTH save of "step-<step>" (resumable and
 * promotable), then the run counts as complete. If the registry's last entry
 * already is a BOTH entry of this step, nothing is saved again.
 */
FWT_API int fwt_checkpointer_finish(fwt_checkpointer *c, int64_t step, int64_t data_consumed);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_CHECKPOINTS_H */
