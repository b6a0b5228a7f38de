/**
 * @file
 * libfwtrain — fwt_training: one session and one model on a trainer's data
 * plane (docs/protocol.md §4). Training ops return futures; their submissions go out
 * strictly in seq_id order while their results are retrieved concurrently
 * (docs/protocol.md §4.3).
 */
#ifndef FWTRAIN_TRAINING_H
#define FWTRAIN_TRAINING_H

#include "client.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of fwt_training_options. */
#define FWT_TRAINING_OPTIONS_VERSION 1

/** Where the trainer is and how to talk to it. */
typedef struct fwt_training_options {
    unsigned int version;        /**< FWT_TRAINING_OPTIONS_VERSION */
    const char *job_id;          /**< trainer job; the data-plane base is derived from it (docs/protocol.md §1) */
    const char *trainer_url;     /**< explicit data-plane base URL; overrides job_id */
    const char *base_model;      /**< "accounts/fireworks/models/..."; required for create_model */
    int32_t lora_rank;           /**< 0 = full-parameter (enables the delta chain) */
    int32_t reserved0;           /**< must be 0 */
    int64_t op_timeout_ms;       /**< overall deadline of each training future; 0 = default (none), -1 = none */
    const char *session_suffix;  /**< 8 lowercase hex used to qualify snapshot names; NULL = random (docs/protocol.md §4.6) */
    /**
     * Nonzero: fwt_training_free leaves the model loaded on the trainer.
     * Default 0: free unloads it (unload_model), so the trainer's session
     * slot is released (a LoRA trainer holds at most 2 concurrent sessions,
     * docs/protocol.md §4.1) and a later process can start or resume on it.
     */
    int32_t keep_model_on_free;
    int32_t reserved1;           /**< must be 0 */
    /** Bound of the unload fwt_training_free performs: 0 = 30000 ms (default), -1 = none, > 0 ms. */
    int64_t unload_timeout_ms;
    /**
     * Deadline of each retrieve_future poll for the response headers: 0 = 45000 ms (default), -1 = none,
     * > 0 ms. Applies to polls only and is independent of the client-wide header_timeout_ms
     * (docs/protocol.md §4.2: the official SDK's poll deadlines).
     */
    int64_t poll_header_timeout_ms;
    /** Deadline of each retrieve_future poll for the body once the headers arrived: as poll_header_timeout_ms. */
    int64_t poll_body_timeout_ms;
} fwt_training_options;

/** Fill with defaults. Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_training_options_init(fwt_training_options *opts, unsigned int version);

/**
 * Open a training session: POST /api/v1/create_session (blocking, retried),
 * then a heartbeat every heartbeat_interval_ms on the worker thread.
 * `opts` must name a job_id or a trainer_url.
 */
FWT_API int fwt_training_new(fwt_training **out, fwt_client *client, const fwt_training_options *opts);

/**
 * Cancel pending ops, unload the model (unless options.keep_model_on_free,
 * or it was unloaded already; bounded by options.unload_timeout_ms; a failed
 * unload is logged as a warning), stop the heartbeat, free. Blocks for the
 * unload. Outstanding futures stay valid. NULL is allowed. Must not be
 * called from a completion callback.
 */
FWT_API void fwt_training_free(fwt_training *t);

/** The session id from create_session (borrowed). */
FWT_API const char *fwt_training_session_id(const fwt_training *t);

/** The 8-hex suffix appended to snapshot names (borrowed). */
FWT_API const char *fwt_training_session_suffix(const fwt_training *t);

/** The model id once create_model completed, else NULL (borrowed). */
FWT_API const char *fwt_training_model_id(const fwt_training *t);

/** The data-plane base URL in use (borrowed). */
FWT_API const char *fwt_training_url(const fwt_training *t);

/** options.base_model as given to fwt_training_new, or NULL if none was given (borrowed). Thread-safe. */
FWT_API const char *fwt_training_base_model(const fwt_training *t);

/**
 * The client the training runs on (borrowed), or NULL once that client was
 * freed or for a NULL training. Thread-safe.
 */
FWT_API fwt_client *fwt_training_client(fwt_training *t);

/**
 * Fill `out` with the options `t` was opened with, so that fwt_training_new
 * can open a replacement session on the same trainer (e.g. after the trainer
 * restarted and forgot the session): trainer_url (the data-plane base in
 * use; job_id NULL), base_model, lora_rank, op_timeout_ms,
 * keep_model_on_free, unload_timeout_ms; session_suffix NULL (a new session
 * draws its own). The strings are borrowed from `t`: valid until it is
 * freed. FWT_EINVAL for NULL arguments. Thread-safe.
 */
FWT_API int fwt_training_copy_options(fwt_training_options *out, const fwt_training *t);

/* ---- create_model (docs/protocol.md §4.1) ------------------------------------- */

/**
 * POST /api/v1/create_model. The future completes with the model id (take it
 * with fwt_future_take_string, or read fwt_training_model_id afterwards).
 * Only one model per fwt_training. Requires options.base_model.
 */
FWT_API int fwt_training_create_model(fwt_future **out, fwt_training *t);

/* ---- unload_model (docs/protocol.md §4.1) ------------------------------------- */

/**
 * POST /api/v1/unload_model {model_id}: the trainer frees the model and its
 * session slot. Completes with no value (fwt_future_status). After the call
 * no other op can start on this training (FWT_ESTATE); a failed unload can be
 * tried again. Requires a created model (FWT_ESTATE otherwise).
 */
FWT_API int fwt_training_unload_model(fwt_future **out, fwt_training *t);
/** unload_model + wait up to timeout_ms (-1 = forever). */
FWT_API int fwt_training_unload_model_result(fwt_training *t, int64_t timeout_ms);

/* ---- training data (docs/protocol.md §4.10) ----------------------------------- */

/** A batch of datums for forward / forward_backward (opaque builder). */
typedef struct fwt_batch fwt_batch;

/** Create an empty batch. *out is the caller's; free it with fwt_batch_free. FWT_EINVAL for NULL, FWT_ENOMEM. */
FWT_API int fwt_batch_new(fwt_batch **out);
/** Free a batch and the arrays it copied. NULL is allowed. */
FWT_API void fwt_batch_free(fwt_batch *b);
/**
 * Append one datum: model input tokens, target tokens (int64) and per-token
 * loss weights (float32). One target and one weight per input token:
 * n_tokens == n_targets == n_weights (> 0). Token ids must be in
 * [0, 2^53]; weights finite. Arrays are copied. FWT_EINVAL (naming the
 * argument) otherwise; the batch is left unchanged on error.
 */
FWT_API int fwt_batch_add(fwt_batch *b, const int64_t *tokens, size_t n_tokens,
                          const int64_t *target_tokens, size_t n_targets,
                          const float *weights, size_t n_weights);
/** Number of datums in the batch (0 for NULL). */
FWT_API size_t fwt_batch_count(const fwt_batch *b);

/** Named scalar metrics (e.g. "loss:sum"). */
typedef struct fwt_metrics fwt_metrics;
/** Number of metrics (0 for NULL). */
FWT_API size_t fwt_metrics_count(const fwt_metrics *m);
/** Name of metric i in server order (borrowed, valid until the metrics are freed); NULL if i is out of range. */
FWT_API const char *fwt_metrics_name(const fwt_metrics *m, size_t i);
/** Value of metric i; NaN if i is out of range or m is NULL. */
FWT_API double fwt_metrics_value(const fwt_metrics *m, size_t i);
/** Look up by name (case-sensitive). FWT_ENOTFOUND if absent. */
FWT_API int fwt_metrics_get(const fwt_metrics *m, const char *name, double *out);
/** Free metrics taken from a future (fwt_future_take_metrics). NULL is allowed. Never free borrowed metrics. */
FWT_API void fwt_metrics_free(fwt_metrics *m);

/** Output of forward / forward_backward. */
typedef struct fwt_forward_output fwt_forward_output;
/** The server's loss_fn_output_type (e.g. "cross_entropy"; "" if absent). Borrowed; NULL for NULL. */
FWT_API const char *fwt_forward_output_type(const fwt_forward_output *o);
/** Number of per-datum outputs (one per datum of the batch; 0 for NULL). */
FWT_API size_t fwt_forward_output_count(const fwt_forward_output *o);
/** Per-datum logprobs (borrowed); *n receives the length. NULL if i is out of range. */
FWT_API const float *fwt_forward_output_logprobs(const fwt_forward_output *o, size_t i, size_t *n);
/** The op's metrics (e.g. "loss:sum"), possibly empty. Borrowed: valid until the output is freed; do not free. */
FWT_API const fwt_metrics *fwt_forward_output_metrics(const fwt_forward_output *o);
/** Free an output taken from a future. NULL is allowed. */
FWT_API void fwt_forward_output_free(fwt_forward_output *o);

/**
 * Supported losses (docs/protocol.md §4.10), with the datum inputs each needs:
 * cross_entropy: target_tokens, weights. The RL losses (importance_sampling,
 * ppo, cispo, dro): target_tokens, logprobs (the sampling logprobs of the
 * targets, e.g. fwt_completion_logprobs) and advantages; weights optional.
 * Their definitions are Tinker's; fwt_loss_config passes their parameters.
 */
typedef enum fwt_loss_fn {
    FWT_LOSS_CROSS_ENTROPY = 0,
    FWT_LOSS_IMPORTANCE_SAMPLING = 1,
    FWT_LOSS_PPO = 2,
    FWT_LOSS_CISPO = 3,
    FWT_LOSS_DRO = 4
} fwt_loss_fn;

/** The wire name ("cross_entropy", "importance_sampling", "ppo", "cispo", "dro"); NULL for an unknown value. */
FWT_API const char *fwt_loss_fn_name(fwt_loss_fn loss);
/** Parse a wire name (exact). FWT_EINVAL naming it if unknown. */
FWT_API int fwt_loss_fn_parse(fwt_loss_fn *out, const char *name);

/** The current version of fwt_datum (its `version` field). */
#define FWT_DATUM_VERSION 1
/**
 * One datum with every input a loss may use (docs/protocol.md §4.10). All arrays have
 * one element per input token (n_tokens); the optional ones are NULL with 0.
 * Initialise with fwt_datum_init.
 */
typedef struct fwt_datum {
    unsigned int version;          /**< FWT_DATUM_VERSION */
    const int64_t *tokens;         /**< model input tokens (ids in [0, 2^53]) */
    size_t n_tokens;               /**< length of tokens (> 0) */
    const int64_t *target_tokens;  /**< the token each position predicts */
    size_t n_target_tokens;        /**< length of target_tokens (= n_tokens) */
    const float *weights;          /**< per-token loss weights; required by cross_entropy, optional otherwise */
    size_t n_weights;              /**< length of weights (= n_tokens, or 0 with NULL) */
    const float *logprobs;         /**< sampling logprobs of the targets; required by the RL losses */
    size_t n_logprobs;             /**< length of logprobs (= n_tokens, or 0 with NULL) */
    const float *advantages;       /**< per-token advantages; required by the RL losses */
    size_t n_advantages;           /**< length of advantages (= n_tokens, or 0 with NULL) */
} fwt_datum;

/** Zero `d` and set its version. FWT_EINVAL for NULL or an unknown version. */
FWT_API int fwt_datum_init(fwt_datum *d, unsigned int version);
/**
 * Append a datum (arrays copied). Lengths must all equal n_tokens (> 0) and
 * values be finite; FWT_EINVAL naming the argument otherwise, the batch
 * unchanged. Whether the inputs suit the loss is checked by the call.
 */
FWT_API int fwt_batch_add_datum(fwt_batch *b, const fwt_datum *d);

/** The current version of fwt_loss_config (its `version` field). */
#define FWT_LOSS_CONFIG_VERSION 1
/**
 * loss_fn_config (docs/protocol.md §4.10): named numeric parameters of the loss, e.g.
 * {"clip_low_threshold", 0.8}, {"clip_high_threshold", 1.2} for ppo.
 * Names are sent as given (the server checks them); values must be finite.
 */
typedef struct fwt_loss_config {
    unsigned int version;          /**< FWT_LOSS_CONFIG_VERSION */
    const char *const *keys;       /**< n non-empty names, each at most 64 characters, no duplicates */
    const double *values;          /**< n finite values */
    size_t n;                      /**< number of parameters (0: keys and values may be NULL) */
} fwt_loss_config;

/** Zero `c` (no parameters: the server's defaults) and set its version. FWT_EINVAL for NULL or an unknown version. */
FWT_API int fwt_loss_config_init(fwt_loss_config *c, unsigned int version);

/**
 * POST /api/v1/forward_backward; completes with an fwt_forward_output. The
 * batch is copied. Before any request: an unknown loss, a datum without an
 * input the loss needs (see fwt_loss_fn) fail with FWT_EINVAL naming it.
 */
FWT_API int fwt_training_forward_backward(fwt_future **out, fwt_training *t, const fwt_batch *batch, fwt_loss_fn loss);
/** forward_backward with loss_fn_config (NULL = none); validated before any request (FWT_EINVAL naming the key). */
FWT_API int fwt_training_forward_backward_config(fwt_future **out, fwt_training *t, const fwt_batch *batch,
                                                 fwt_loss_fn loss, const fwt_loss_config *config);
/** POST /api/v1/forward (no gradient kept); completes with an fwt_forward_output. */
FWT_API int fwt_training_forward(fwt_future **out, fwt_training *t, const fwt_batch *batch, fwt_loss_fn loss);

/** Version of fwt_adam_params. */
#define FWT_ADAM_PARAMS_VERSION 1
/** Adam hyper-parameters (docs/protocol.md §4.9). */
typedef struct fwt_adam_params {
    unsigned int version;      /**< FWT_ADAM_PARAMS_VERSION */
    double learning_rate;      /**< default 1e-4 */
    double beta1;              /**< default 0.9 */
    double beta2;              /**< default 0.95 */
    double eps;                /**< default 1e-12 */
    double weight_decay;       /**< default 0 */
    double grad_clip_norm;     /**< default 0 (off) */
} fwt_adam_params;
/** Fill with the defaults above. FWT_EINVAL for NULL or an unknown version. */
FWT_API int fwt_adam_params_init(fwt_adam_params *p, unsigned int version);

/** POST /api/v1/optim_step; completes with fwt_metrics (possibly empty). NULL params = defaults. */
FWT_API int fwt_training_optim_step(fwt_future **out, fwt_training *t, const fwt_adam_params *params);

/* ---- checkpoints (docs/protocol.md §4.4–§4.8) ---------------------------------- */

/*
 * Checkpoint names (save_state, save_weights_for_sampler_ext) must be 1 to
 * FWT_CHECKPOINT_NAME_MAX characters, without '/' or control characters;
 * paths given to load_state* must be 1 to FWT_CHECKPOINT_PATH_MAX characters
 * without control characters ('/' allowed, e.g. "cross_job://job/step-4").
 * ttl_seconds must be >= 0. Violations fail with FWT_EINVAL before any request
 * is sent; fwt_error_last() names the argument.
 */
/** Longest checkpoint name accepted (characters). */
#define FWT_CHECKPOINT_NAME_MAX 200
/** Longest checkpoint path or reference accepted (characters). */
#define FWT_CHECKPOINT_PATH_MAX 1024

/**
 * save_state: POST /api/v1/save_weights (DCP: weights + optimizer).
 * ttl_seconds 0 = keep forever. Completes with the server's path string.
 */
FWT_API int fwt_training_save_state(fwt_future **out, fwt_training *t, const char *name, int64_t ttl_seconds);

/** load_state: POST /api/v1/load_weights optimizer=false (moments reset). Completes with a string (maybe ""). */
FWT_API int fwt_training_load_state(fwt_future **out, fwt_training *t, const char *path);

/** load_state_with_optimizer: POST /api/v1/load_weights optimizer=true. */
FWT_API int fwt_training_load_state_with_optimizer(fwt_future **out, fwt_training *t, const char *path);

/** Sampler checkpoint type (docs/protocol.md §4.6). */
typedef enum fwt_sampler_type {
    FWT_SAMPLER_AUTO = 0,        /**< base until one snapshot was saved (or LoRA), then delta */
    FWT_SAMPLER_BASE = 1,
    FWT_SAMPLER_DELTA = 2,
    FWT_SAMPLER_MERGED_BASE = 3
} fwt_sampler_type;

/** "base", "delta", "merged_base", "auto"; NULL for an unknown value. */
FWT_API const char *fwt_sampler_type_name(fwt_sampler_type type);
/** Parse a type name (case-insensitive). FWT_EINVAL if unknown. */
FWT_API int fwt_sampler_type_parse(fwt_sampler_type *out, const char *name);

/** Result of a sampler save. */
typedef struct fwt_sampler_save fwt_sampler_save;
/** The server's path for the snapshot (never NULL for a taken result; NULL for NULL). Borrowed. */
FWT_API const char *fwt_sampler_save_path(const fwt_sampler_save *s);
/** Session-qualified name "<name>-<8hex>" used for hotload and promotion. */
FWT_API const char *fwt_sampler_save_snapshot_name(const fwt_sampler_save *s);
/** The type actually sent (AUTO resolved at call time, docs/protocol.md §4.6); FWT_SAMPLER_AUTO for NULL. */
FWT_API fwt_sampler_type fwt_sampler_save_type(const fwt_sampler_save *s);
/**
 * For a full-parameter delta: the snapshot name the delta applies on top of,
 * i.e. the training's previous sampler snapshot when this save was submitted
 * (docs/protocol.md §4.6; a deployment can load the delta only if it holds exactly
 * that snapshot). NULL for base / merged_base saves and for LoRA trainers.
 * Borrowed, valid until fwt_sampler_save_free.
 */
FWT_API const char *fwt_sampler_save_previous_snapshot_name(const fwt_sampler_save *s);
/** Free a sampler-save result. NULL is allowed. */
FWT_API void fwt_sampler_save_free(fwt_sampler_save *s);

/**
 * save_weights_for_sampler_ext: POST /api/v1/save_weights_for_sampler with
 * path "<name>-<session suffix>" and the resolved checkpoint_type.
 * Completes with an fwt_sampler_save.
 */
FWT_API int fwt_training_save_weights_for_sampler_ext(fwt_future **out, fwt_training *t, const char *name,
                                                      fwt_sampler_type type, int64_t ttl_seconds);

/**
 * resolve_checkpoint_path (docs/protocol.md §4.7, no request): "gs://..." and "/..."
 * unchanged; with a source_job_id → "cross_job://<job>/<name>" (both trimmed,
 * non-empty, name without '/'); else name unchanged. *out is freed with fwt_free.
 */
FWT_API int fwt_resolve_checkpoint_path(char **out, const char *name, const char *source_job_id);

/** GET /api/v1/list_checkpoints (docs/protocol.md §4.8): DCP names of the live trainer. Blocking. */
FWT_API int fwt_training_list_checkpoints(fwt_string_list **out, fwt_training *t);

/**
 * The training's latest sampler snapshot name: the last
 * save_weights_for_sampler_ext submitted on this training, in call order
 * (a failed save rolls it back to the one before), i.e. what the next
 * full-parameter delta will be computed against (docs/protocol.md §4.6).
 * *out is a copy (free with fwt_free), NULL when no sampler save was made.
 * Thread-safe. FWT_EINVAL for NULL arguments.
 */
FWT_API int fwt_training_last_sampler_snapshot(char **out, fwt_training *t);

/* ---- typed results ------------------------------------------------------ */

/*
 * Every take moves the result out of a completed future exactly once. Returns
 * FWT_OK; FWT_EAGAIN while pending; the op's failure code if it failed (detail
 * also in fwt_error_last() and fwt_future_error()); FWT_EINVAL for NULL
 * arguments or a future of another kind; FWT_ESTATE if already taken.
 * *out is untouched unless FWT_OK.
 */
/** Take a string result (create_model: model id; save_state: path; load_state*: path, maybe ""). Free with fwt_free. */
FWT_API int fwt_future_take_string(char **out, fwt_future *f);
/** Take a forward / forward_backward result. Free with fwt_forward_output_free. */
FWT_API int fwt_future_take_forward_output(fwt_forward_output **out, fwt_future *f);
/** Take an optim_step result (possibly empty metrics). Free with fwt_metrics_free. */
FWT_API int fwt_future_take_metrics(fwt_metrics **out, fwt_future *f);
/** Take a save_weights_for_sampler_ext result. Free with fwt_sampler_save_free. */
FWT_API int fwt_future_take_sampler_save(fwt_sampler_save **out, fwt_future *f);

/*
 * Blocking forms: submit, wait up to timeout_ms (-1 = forever), take, free the
 * future. On FWT_ETIMEDOUT the op is cancelled locally. Details of a failure
 * are in fwt_error_last(). Each returns FWT_OK or the code the async form or
 * the op returned; an `out` result is the caller's (free as noted), and is
 * set to NULL on failure. Must not be called from a completion callback.
 */
/** create_model + wait; the model id is then fwt_training_model_id(t). */
FWT_API int fwt_training_create_model_result(fwt_training *t, int64_t timeout_ms);
/** forward_backward + wait; *out (free with fwt_forward_output_free) may be NULL to discard the output. */
FWT_API int fwt_training_forward_backward_result(fwt_forward_output **out, fwt_training *t, const fwt_batch *batch,
                                                 fwt_loss_fn loss, int64_t timeout_ms);
/** forward_backward_config + wait; *out (free with fwt_forward_output_free) may be NULL to discard the output. */
FWT_API int fwt_training_forward_backward_config_result(fwt_forward_output **out, fwt_training *t,
                                                        const fwt_batch *batch, fwt_loss_fn loss,
                                                        const fwt_loss_config *config, int64_t timeout_ms);
/** forward + wait; *out (free with fwt_forward_output_free) may be NULL to discard the output. */
FWT_API int fwt_training_forward_result(fwt_forward_output **out, fwt_training *t, const fwt_batch *batch,
                                        fwt_loss_fn loss, int64_t timeout_ms);
/** optim_step + wait; *out (free with fwt_metrics_free) may be NULL. */
FWT_API int fwt_training_optim_step_result(fwt_metrics **out, fwt_training *t, const fwt_adam_params *params,
                                           int64_t timeout_ms);
/** save_state + wait; *path_out (free with fwt_free) may be NULL. */
FWT_API int fwt_training_save_state_result(char **path_out, fwt_training *t, const char *name, int64_t ttl_seconds,
                                           int64_t timeout_ms);
/** load_state + wait. */
FWT_API int fwt_training_load_state_result(fwt_training *t, const char *path, int64_t timeout_ms);
/** load_state_with_optimizer + wait. */
FWT_API int fwt_training_load_state_with_optimizer_result(fwt_training *t, const char *path, int64_t timeout_ms);
/** save_weights_for_sampler_ext + wait; *out (free with fwt_sampler_save_free) may be NULL. */
FWT_API int fwt_training_save_weights_for_sampler_ext_result(fwt_sampler_save **out, fwt_training *t, const char *name,
                                                             fwt_sampler_type type, int64_t ttl_seconds,
                                                             int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_TRAINING_H */
