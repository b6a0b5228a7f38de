/**
 * @file
 * libfwtrain cookbook — the checkpoint registry: the local file
 * `{log_path}/checkpoints.jsonl` in which a training loop records what it
 * saved, so a later run can resume from it and a promotion can find it
 * (docs/protocol.md §7.1). fwt_registry is what a read returns, fwt_registry_entry
 * one of its lines, fwt_checkpoint_kind what the entry's checkpoint holds.
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
#ifndef FWTRAIN_COOKBOOK_REGISTRY_H
#define FWTRAIN_COOKBOOK_REGISTRY_H

#include "../types.h"

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

/** Version of fwt_registry_entry. */
#define FWT_REGISTRY_ENTRY_VERSION 1

/**
 * One line of checkpoints.jsonl. As input (fwt_registry_append) the
 * caller owns the strings; as output (fwt_registry_get and the queries)
 * the struct and its strings are borrowed from the fwt_registry.
 * Absent optional strings are NULL.
 */
typedef struct fwt_registry_entry {
    unsigned int version;       /**< FWT_REGISTRY_ENTRY_VERSION */
    const char *name;           /**< "step-<N>"; required, non-empty */
    int64_t step;               /**< optimizer steps completed; >= 0 */
    int64_t data_consumed;      /**< training examples consumed; >= 0 (0 when absent on read) */
    const char *state_path;     /**< STATE/BOTH: DCP reference to resume from, e.g. "cross_job://<job>/step-10" */
    const char *sampler_path;   /**< SAMPLER/BOTH: session-qualified snapshot name to promote */
    const char *source_job_id;  /**< trainer job that made the checkpoint; required on append */
    const char *base_model;     /**< base model, used by promotion when not given; optional */
} fwt_registry_entry;

/** Zero `e` and set its version. FWT_EINVAL for an unknown version. */
FWT_API int fwt_registry_entry_init(fwt_registry_entry *e, unsigned int version);

/** The entry's kind from the paths it carries; 0 if it has neither (never true of a parsed entry). */
FWT_API int fwt_registry_entry_kind(const fwt_registry_entry *e);
/** 1 if the entry can be resumed from (has state_path), else 0. */
FWT_API int fwt_registry_entry_is_resumable(const fwt_registry_entry *e);
/** 1 if the entry can be promoted (has sampler_path), else 0. */
FWT_API int fwt_registry_entry_is_promotable(const fwt_registry_entry *e);

/* ---- the registry file ---------------------------------------------------- */

/** The parsed contents of a checkpoints.jsonl file (opaque, immutable). */
typedef struct fwt_registry fwt_registry;

/**
 * Read `{log_path}/checkpoints.jsonl`. A missing file or directory gives an
 * empty list (a fresh run). See fwt_registry_read_file for the rules.
 */
FWT_API int fwt_registry_read(fwt_registry **out, const char *log_path);

/**
 * Read one checkpoints.jsonl file by path. A missing file is FWT_EIO.
 *
 * Only the last line may be torn. Ignored, and counted by
 * fwt_registry_torn_bytes (callers should warn when it is non-zero):
 *  - an unterminated last fragment (a record whose '\n' never reached the
 *    disk, or NUL/garbage bytes a crash left without a '\n');
 *  - one '\n'-terminated last line that is not JSON at all (it may have
 *    been a checkpoint: fwt_registry_append refuses to go past it).
 * Blank lines are skipped. Every other bad line fails with FWT_ECORRUPT and
 * the message "<path>:<line>: <reason>" (1-based line number) in
 * fwt_error_last(): an invalid line followed by a valid one, two or more
 * trailing invalid lines (the first one is named), and a JSON line that is
 * not a well-formed entry (even the last one).
 */
FWT_API int fwt_registry_read_file(fwt_registry **out, const char *path);

/** Number of entries, in file order. NULL gives 0. */
FWT_API size_t fwt_registry_count(const fwt_registry *l);
/** Entry i in file order (borrowed), or NULL when out of range. */
FWT_API const fwt_registry_entry *fwt_registry_get(const fwt_registry *l, size_t i);
/** Bytes of torn tail the reader ignored (0 for a clean file). */
FWT_API size_t fwt_registry_torn_bytes(const fwt_registry *l);
/** Free the list. NULL is allowed. */
FWT_API void fwt_registry_free(fwt_registry *l);

/**
 * What an automatic resume loads: among the entries with a state_path, the
 * one with the highest step (on a tie, the later line), or NULL. Never simply
 * the last line: lines out of step order (two writers before the
 * checkpointer's lock, a resume from an earlier step) must not send a run
 * back in training. Borrowed.
 */
FWT_API const fwt_registry_entry *fwt_registry_last_resumable(const fwt_registry *l);
/** The last entry with a sampler_path (what promotion picks by default), or NULL. Borrowed. */
FWT_API const fwt_registry_entry *fwt_registry_latest_promotable(const fwt_registry *l);
/** The last entry whose step equals `step`, or NULL. Borrowed. */
FWT_API const fwt_registry_entry *fwt_registry_find_step(const fwt_registry *l, int64_t step);
/**
 * What a promotion of step `step` uses: among the entries with a
 * sampler_path, the last one whose step equals `step`, or NULL. A STATE
 * entry of the same step written after it (a SAMPLER save, then the periodic
 * STATE save of that step) does not hide it. Borrowed.
 */
FWT_API const fwt_registry_entry *fwt_registry_find_promotable_step(const fwt_registry *l, int64_t step);

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
 * fwt_registry_read_file calls corrupt is refused with FWT_ECORRUPT
 * (appending would hide it).
 */
FWT_API int fwt_registry_append(const char *log_path, const fwt_registry_entry *e);

/** fwt_registry_append to an explicit file path; the parent directory must exist. */
FWT_API int fwt_registry_append_file(const char *path, const fwt_registry_entry *e);

/**
 * Resolve an init_from_checkpoint spec (docs/protocol.md §6): "<job_id>:<name>" is
 * split on the first ':' and resolved to "cross_job://<job_id>/<name>"
 * (as fwt_resolve_checkpoint_path does); "gs://..." and "/..." are returned
 * unchanged. Anything else (no ':', empty job or name) is FWT_EINVAL.
 * *out is freed with fwt_free.
 */
FWT_API int fwt_checkpoint_spec_resolve(char **out, const char *spec);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_COOKBOOK_REGISTRY_H */
