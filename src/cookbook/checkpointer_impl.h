/*
 * Internals of fwt_checkpointer shared by its files: checkpointer.c (start,
 * saves), control_plane.c and dataloader.c (control-plane resume),
 * recover.c (in-process recovery from a lost session).
 */
#ifndef FWT_COOKBOOK_CHECKPOINTER_IMPL_H
#define FWT_COOKBOOK_CHECKPOINTER_IMPL_H

#include <stdint.h>

#include "fwtrain/checkpoint_list.h"
#include "fwtrain/client.h"
#include "fwtrain/cookbook/checkpointer.h"
#include "fwtrain/jobs.h"

typedef struct fwt__pending_save fwt__pending_save;

/* Recoveries allowed when max_recoveries is 0. */
#define FWT__CKPT_DEFAULT_MAX_RECOVERIES 8

struct fwt_checkpointer {
    fwt_training *t;        /* in use: the caller's, or `owned` after a recovery */
    fwt_training *owned;    /* the replacement opened by the last recovery (ours to free); NULL before */
    char *log_path, *job_id, *base_model;
    int64_t interval, total, timeout_ms;
    int source;             /* fwt_resume_source */
    int mode;
    int complete;
    int64_t start_step, start_data;
    char *loaded_path;
    size_t torn_bytes;
    int lock_fd;            /* exclusive lock of log_path, held for the checkpointer's life */
    /*
     * The step whose DCP state is already on the server and in the registry
     * (saved by this checkpointer or resumed from), -1 if none, and its
     * reference: a step's state is never saved twice.
     */
    int64_t state_step;
    char *state_ref;
    /* The last state the server confirmed (what a recovery reloads); conf_path NULL = a fresh model. */
    int64_t conf_step, conf_data;
    char *conf_path;
    int conf_with_optimizer;
    int max_recoveries;     /* resolved: -1 never, else the limit */
    int recoveries;
    /* issue 12.5 options */
    int64_t ttl_seconds;        /* of periodic saves */
    int64_t save_interval_ms;   /* time-based periodic saves; 0 = off */
    int64_t (*clock_ms)(void *payload);
    void *clock_payload;
    int64_t last_save_ms;       /* clock at the last save started (or the start) */
    int async_saves;
    int dir_policy;
    char *output_model_id;
    fwt_promote_options promote;
    fwt_model *promoted;
    char *final_sampler;        /* the final save's sampler snapshot name (what finish promotes) */
    /* asynchronous saves in flight, oldest first (checkpointer_async.c) */
    fwt__pending_save *pending, *pending_tail;
    size_t npending;
    /* "<kind>/<name>" saved in the current session (checkpointer_names.c) */
    char **names;
    size_t nnames, cap_names;
};

/* checkpointer.c: append the line of a confirmed save (state_path and/or sampler_path). */
int fwt__ckpt_record(fwt_checkpointer *c, const char *name, int64_t step, int64_t data_consumed,
                     const char *state_path, const char *sampler_path);

/* checkpointer_async.c */
int fwt__ckpt_async_start(fwt_checkpointer *c, int64_t step, int64_t data_consumed, int64_t ttl_seconds);
/* Record the completed saves at the head of the queue (wait: all of them, waiting). First failure returned. */
int fwt__ckpt_async_collect(fwt_checkpointer *c, int wait);
/* Cancel and forget every save in flight (none of them gets a line). */
void fwt__ckpt_async_drop(fwt_checkpointer *c);

/* checkpointer_names.c: warn when "<kind>/<name>" was already saved in this session; remember it. */
void fwt__ckpt_name_used(fwt_checkpointer *c, const char *kind, const char *name);
void fwt__ckpt_names_clear(fwt_checkpointer *c);

/* checkpointer_policy.c */
int fwt__ckpt_apply_dir_policy(const char *log_path, int policy);
int64_t fwt__ckpt_now_ms(const fwt_checkpointer *c);

/* The last confirmed state is now `path` (copied) at step/data; FWT_ENOMEM leaves the old one. */
int fwt__ckpt_confirm(fwt_checkpointer *c, const char *path, int with_optimizer, int64_t step, int64_t data);

/* control_plane.c: "step-<N>" → 1 and *step; anything else 0. */
int fwt__ckpt_parse_step_name(const char *name, int64_t *step);
/*
 * The newest resumable row of job_id's listing by parsed createTime, named "step-<N>":
 * *out_name its logical name (fwt_free) and *out_step N, or *out_name NULL
 * when the job has no resumable row. A newest row of another name is
 * FWT_EUNSUPPORTED; listing failures are returned (fwt_error_last()).
 */
int fwt__cp_newest(char **out_name, int64_t *out_step, fwt_client *client, const char *job_id);

/* dataloader.c: {log_path}/dataloader.json. A missing file or name is *found = 0; a bad file FWT_ECORRUPT. */
int fwt__dataloader_get(const char *log_path, const char *name, int64_t *data_consumed, int *found);
/* Record name → data_consumed as the newest name (keeps 20), replacing the file atomically and durably. */
int fwt__dataloader_put(const char *log_path, const char *name, int64_t data_consumed);

#endif /* FWT_COOKBOOK_CHECKPOINTER_IMPL_H */
