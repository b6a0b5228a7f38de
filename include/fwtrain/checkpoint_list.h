/**
 * @file
 * libfwtrain — the control plane's checkpoint listing of one trainer job
 * (docs/protocol.md §3.5, §11.5): every row as the server sent it, in server order,
 * with createTime parsed, plus the queries promotion and resumption need
 * (newest promotable / resumable row, lookup by name).
 *
 * An fwt_checkpoint_list owns its rows; an fwt_checkpoint_row is always
 * borrowed from the list it came from.
 */
#ifndef FWTRAIN_CHECKPOINT_LIST_H
#define FWTRAIN_CHECKPOINT_LIST_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of fwt_checkpoint_list_options. */
#define FWT_CHECKPOINT_LIST_OPTIONS_VERSION 1

/** Options of fwt_job_list_checkpoints. */
typedef struct fwt_checkpoint_list_options {
    unsigned int version;    /**< FWT_CHECKPOINT_LIST_OPTIONS_VERSION */
    int32_t page_size;       /**< `pageSize`; default 200 */
    int32_t max_pages;       /**< stop after this many pages; 0 = until no next token */
} fwt_checkpoint_list_options;

/** Fill with defaults. Returns FWT_EINVAL for an unknown version. */
FWT_API int fwt_checkpoint_list_options_init(fwt_checkpoint_list_options *opts, unsigned int version);

/**
 * List the job's checkpoints (blocking), following `nextPageToken` /
 * `next_page_token` until none. Accepts `checkpoints` and
 * `rlorTrainerJobCheckpoints`. Rows keep server order across pages. Works for
 * deleted jobs within retention. `opts` may be NULL.
 */
FWT_API int fwt_job_list_checkpoints(fwt_checkpoint_list **out, fwt_client *client, const char *job_id,
                                     const fwt_checkpoint_list_options *opts);

/** Number of rows. */
FWT_API size_t fwt_checkpoint_list_count(const fwt_checkpoint_list *l);
/** Row i (borrowed), NULL if out of range. */
FWT_API const fwt_checkpoint_row *fwt_checkpoint_list_get(const fwt_checkpoint_list *l, size_t i);
/** Number of pages fetched to build the list. */
FWT_API size_t fwt_checkpoint_list_pages(const fwt_checkpoint_list *l);

/** Row filters for fwt_checkpoint_list_newest / _filter (bits). */
typedef enum fwt_checkpoint_filter {
    FWT_CHECKPOINT_FILTER_ALL = 0,
    FWT_CHECKPOINT_FILTER_PROMOTABLE = 1, /**< `promotable` is true */
    FWT_CHECKPOINT_FILTER_RESUMABLE = 2   /**< checkpointType ends in TRAINING or TRAINING_LORA (DCP) */
} fwt_checkpoint_filter;

/**
 * The newest row matching `filter` by parsed createTime (mixed second and
 * sub-second precision; unparseable times sort oldest; ties → later in
 * server order). NULL if none matches (borrowed).
 */
FWT_API const fwt_checkpoint_row *fwt_checkpoint_list_newest(const fwt_checkpoint_list *l, unsigned int filter);

/** A new list holding copies of the rows matching `filter`, in the same order. */
FWT_API int fwt_checkpoint_list_filter(fwt_checkpoint_list **out, const fwt_checkpoint_list *l, unsigned int filter);

/**
 * A new list holding copies of the rows matching `filter`, newest first by parsed createTime
 * (docs/protocol.md §11.5: second and sub-second precision mixed, never a string comparison).
 * Rows whose createTime is absent or unparseable come last; equal times keep the rule of
 * fwt_checkpoint_list_newest (the later row in server order first). Row 0 of the result is
 * fwt_checkpoint_list_newest(l, filter). The source list is unchanged.
 */
FWT_API int fwt_checkpoint_list_newest_first(fwt_checkpoint_list **out, const fwt_checkpoint_list *l,
                                             unsigned int filter);

/**
 * The newest row whose checkpoint id equals `name`, or whose logical name
 * (id with the 8-hex session suffix stripped) equals `name`. NULL if none.
 */
FWT_API const fwt_checkpoint_row *fwt_checkpoint_list_find(const fwt_checkpoint_list *l, const char *name);

/** Release a list and its rows. NULL is allowed. */
FWT_API void fwt_checkpoint_list_free(fwt_checkpoint_list *l);

/** "accounts/<a>/rlorTrainerJobs/<job>/checkpoints/<ckpt>" (borrowed). */
FWT_API const char *fwt_checkpoint_row_name(const fwt_checkpoint_row *r);
/** The checkpoint id: last segment of the name (borrowed). */
FWT_API const char *fwt_checkpoint_row_id(const fwt_checkpoint_row *r);
/** The job id parsed from the name, "" if the name is not 4-segment (borrowed). */
FWT_API const char *fwt_checkpoint_row_job_id(const fwt_checkpoint_row *r);
/** createTime as sent, "" if absent (borrowed); fwt_checkpoint_row_fields tells absent from "". */
FWT_API const char *fwt_checkpoint_row_create_time(const fwt_checkpoint_row *r);
/** updateTime as sent, "" if absent (borrowed). */
FWT_API const char *fwt_checkpoint_row_update_time(const fwt_checkpoint_row *r);
/** createTime parsed to microseconds since the Unix epoch; INT64_MIN if unparseable. */
FWT_API int64_t fwt_checkpoint_row_create_time_us(const fwt_checkpoint_row *r);
/** checkpointType as sent (opaque, e.g. "INFERENCE_BASE"), "" if absent (borrowed); see fwt_checkpoint_row_fields. */
FWT_API const char *fwt_checkpoint_row_type(const fwt_checkpoint_row *r);
/** 1 if the server marked the row promotable, else 0 (also when absent: see fwt_checkpoint_row_fields). */
FWT_API int fwt_checkpoint_row_promotable(const fwt_checkpoint_row *r);

/** Bits of fwt_checkpoint_row_fields: the optional row fields the server sent. */
typedef enum fwt_checkpoint_field {
    FWT_CHECKPOINT_FIELD_CREATE_TIME = 1, /**< `createTime` (or `create_time`) is a string */
    FWT_CHECKPOINT_FIELD_UPDATE_TIME = 2, /**< `updateTime` (or `update_time`) is a string */
    FWT_CHECKPOINT_FIELD_TYPE = 4,        /**< `checkpointType` (or `checkpoint_type`) is a string */
    FWT_CHECKPOINT_FIELD_PROMOTABLE = 8   /**< `promotable` is a boolean */
} fwt_checkpoint_field;

/**
 * Which optional fields the row carried (fwt_checkpoint_field bits), so an absent `promotable`,
 * `createTime` or `checkpointType` is told apart from false / "". 0 for NULL.
 */
FWT_API unsigned int fwt_checkpoint_row_fields(const fwt_checkpoint_row *r);

/**
 * The row as the server sent it, as compact JSON text (borrowed): every field, the unknown ones
 * included. "{}" for NULL.
 */
FWT_API const char *fwt_checkpoint_row_json(const fwt_checkpoint_row *r);
/** 1 if checkpointType ends in TRAINING or TRAINING_LORA (resumable DCP state). */
FWT_API int fwt_checkpoint_row_resumable(const fwt_checkpoint_row *r);

/**
 * Parse an RFC 3339 UTC timestamp ("2026-01-02T03:04:05Z",
 * "...05.123456Z", "+hh:mm" offsets) into microseconds since the epoch.
 * FWT_EINVAL if it cannot be parsed.
 */
FWT_API int fwt_checkpoint_parse_time(int64_t *out_us, const char *timestamp);

/**
 * Strip a trailing 8-hex session suffix (`-[0-9a-f]{8}$`) from a snapshot
 * name: "step-5-45dda197" → "step-5"; other names are copied unchanged.
 * *out is freed with fwt_free.
 */
FWT_API int fwt_checkpoint_logical_name(char **out, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_CHECKPOINT_LIST_H */
