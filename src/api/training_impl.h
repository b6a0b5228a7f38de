/*
 * Internals of fwt_training (docs/protocol.md §4). Shared by the training*.c files only.
 *
 * Threads: user threads create ops and enqueue them; everything after that
 * (submit, retrieve_future polling, timers, completion) runs on the client's
 * worker thread, except for an op a blocking twin drives on its own thread
 * (fwt__top_caller_begin / fwt__top_result) until it hands it to the worker. `t->mu` guards the queue, the live-op list, the sequence
 * counter and the session state; it is never held while calling into the
 * engine or completing a future.
 */
#ifndef FWT_API_TRAINING_IMPL_H
#define FWT_API_TRAINING_IMPL_H

#include <pthread.h>

#include "backoff.h"
#include "core/future_impl.h"
#include "core/request.h"
#include "fwtrain/training.h"
#include "json/json.h"

/*
 * The session's capacity pause (docs/protocol.md §2.3): a 402 on create_session, a
 * submit or a poll is tried again every 5 s (the one backoff with a fixed
 * ceiling, backoff.h) for up to an hour.
 */
#define FWT__BILLING_PAUSE_MS 5000
#define FWT__BILLING_MAX_MS (3600LL * 1000)

#define FWT__NAME_MAX FWT_CHECKPOINT_NAME_MAX
#define FWT__PATH_MAX FWT_CHECKPOINT_PATH_MAX

typedef enum fwt__op_phase {
    FWT__OP_QUEUED = 0,
    FWT__OP_SUBMITTING = 1,
    FWT__OP_POLLING = 2,
    FWT__OP_FINISHED = 3
} fwt__op_phase;

typedef struct fwt__top fwt__top;

/* Turn a typed result into the future's value; returns FWT_OK or FWT_EPROTO (err filled). */
typedef int (*fwt__top_parse_fn)(fwt__top *op, const cJSON *json, fwt__err *err, fwt__value_kind *kind,
                                 void **value, void (**value_free)(void *));
/* Runs once the op's outcome is known (before the future completes), on the thread driving the op (the
 * worker, or a blocking twin's thread, training_lifecycle.c "On the calling thread"); no lock held. */
typedef void (*fwt__top_finish_fn)(fwt__top *op, int code, void *value);

struct fwt__top {
    fwt_training *t;
    fwt_future *f;
    int refs;                 /* flow + deadline timer; guarded by t->mu */
    const char *route;        /* "forward_backward" */
    const char *rtype;        /* X-Tinker-Request-Type, "ForwardBackward" */
    cJSON *body;              /* owned; seq_id added at submit */
    int sequenced;            /* carries a seq_id (§4.3) */
    int64_t seq_id;
    char idem[37];            /* one idempotency key for every attempt of the submit (§2.3) */
    fwt__op_phase phase;
    int future_done;          /* the future was completed (cancel / timeout / result) */
    uint64_t req_id;          /* engine request in flight (submit or poll) */
    uint64_t timer_id;        /* re-poll wait */
    uint64_t deadline_id;     /* op_timeout_ms */
    uint64_t created_ms;
    char *request_id;         /* the server's promise id */
    uint64_t submit_start_ms;
    double promise_rtt_s;
    int iter;                 /* X-Tinker-Request-Iteration */
    fwt__backoff backoff;     /* re-polls after 429 / connection-class errors: retry_base doubling to retry_cap */
    fwt__backoff billing;     /* the 402 pause */
    int bad400;               /* 400s with a body while polling */
    uint64_t billing_start_ms;/* 0 = not in a billing pause */
    int maybe_accepted;       /* some submit attempt got no definite refusal: the seq_id may be taken */
    uint64_t poll_start_ms;
    fwt__top_parse_fn parse;
    fwt__top_finish_fn finish;
    /* per-op data */
    char *snapshot_name;
    char *prev_snapshot;      /* the training's previous sampler snapshot when this one was submitted */
    fwt_sampler_type ctype;
    fwt__top *qnext;
    fwt__top *lprev, *lnext;
    /* Driven by a blocking call's own thread (training_lifecycle.c "On the calling thread"):
     * direct is set under t->mu when that thread claims the op and cleared, under t->mu,
     * when it hands the op to the worker; dcb/dreply (the step to run next) are that
     * thread's alone. */
    int direct;
    uint64_t ddeadline;       /* CLOCK_MONOTONIC ms the twin's timeout ends (0 = none) */
    fwt__call_done dcb;
    fwt__reply *dreply;
};

struct fwt_training {
    pthread_mutex_t mu;
    int refs;                 /* user + live ops + heartbeat + posted tasks */
    fwt_client *client;       /* NULL once the client was freed */
    fwt__engine *eng;
    void *attach;             /* fwt__client_attach handle */
    int closed;               /* fwt_training_free was called */
    char *url;                /* data-plane base */
    char *session_id;
    char suffix[9];
    char *model_id;
    char *base_model;
    int32_t lora_rank;
    int64_t op_timeout_ms;
    int64_t poll_header_ms, poll_body_ms; /* retrieve_future poll deadlines (options, resolved) */
    int create_model_started;
    int64_t next_request_id;  /* seq_id = request_id + 1 (§4.3) */
    fwt__top *qhead, *qtail;  /* not yet submitted, in call order */
    fwt__top *submitting;     /* at most one submit in flight */
    fwt__top *live;           /* every op not yet released */
    char *broken;             /* why the sequence cannot continue; NULL if fine */
    int sampler_saved;        /* §4.6: a sampler save was submitted (AUTO → delta) */
    /* unload_model (§4.1): requested (no new op may start), done (the server freed the model) */
    int unload_started, unloaded;
    int keep_model_on_free;   /* options: fwt_training_free leaves the model loaded */
    int64_t unload_timeout_ms;/* options: bound of the unload fwt_training_free performs (resolved; -1 none) */
    char *last_snapshot;      /* the last sampler snapshot submitted (a delta is computed against it, §4.6) */
    /* heartbeat (§4.1) */
    int hb_stop;
    int hb_ref;
    uint64_t hb_timer_id, hb_req_id;
    uint64_t hb_fail_since;   /* 0 = healthy */
    int hb_warned;
};

/* training.c */
void fwt__training_ref(fwt_training *t);
void fwt__training_unref(fwt_training *t);
char *fwt__training_route(const fwt_training *t, const char *route);
/* Checks that the training can take ops; sets the last error. */
int fwt__training_usable(fwt_training *t, const char *fn);

/* training_heartbeat.c */
int fwt__heartbeat_start(fwt_training *t);
void fwt__heartbeat_stop(fwt_training *t);

/* training_lifecycle.c: create an op (body ownership moves in) and enqueue it. */
int fwt__top_start(fwt_future **out, fwt_training *t, const char *route, const char *rtype, cJSON *body,
                   int sequenced, fwt__top_parse_fn parse, fwt__top_finish_fn finish, const char *snapshot_name,
                   fwt_sampler_type ctype, const char *prev_snapshot);
/*
 * Blocking twins: fwt__top_caller_begin(t, timeout_ms) before the call that starts the op
 * marks this thread as the one that will wait (when the op may run here: no timeout of
 * the twin's own, no op_timeout_ms, not on the worker); fwt__top_result then drives the
 * op on this thread if fwt__top_start could claim it (nothing queued or submitting ahead
 * of it), and waits and takes as fwt__future_result. Returns what fwt__future_result does.
 */
void fwt__top_caller_begin(fwt_training *t, int64_t timeout_ms);
int fwt__top_result(int start_rc, fwt_future *f, int64_t timeout_ms, fwt__value_kind kind, void **out);
/* Complete the op's future and release the flow's reference (worker). err may be NULL. */
void fwt__top_finish(fwt__top *op, int code, fwt__err *err, fwt__value_kind kind, void *value, void (*vfree)(void *));
/* Release the flow's reference without completing (the future was already completed). */
void fwt__top_release(fwt__top *op);
/* Cancel every live op of t (training_free). */
void fwt__top_cancel_all(fwt_training *t);

/* training_lifecycle.c: start retrieving the promise (worker). */
void fwt__poll_start(fwt__top *op);

/* training_types.c: typed values and their future result descriptors */
extern const fwt__value_type fwt__vt_string, fwt__vt_forward_output, fwt__vt_metrics, fwt__vt_sampler_save;
#define FWT__VALUE_STRING (&fwt__vt_string)                 /* char * (fwt__malloc) */
#define FWT__VALUE_FORWARD_OUTPUT (&fwt__vt_forward_output) /* fwt_forward_output * */
#define FWT__VALUE_METRICS (&fwt__vt_metrics)               /* fwt_metrics * */
#define FWT__VALUE_SAMPLER_SAVE (&fwt__vt_sampler_save)     /* fwt_sampler_save * */
void fwt__forward_output_free_v(void *p);
void fwt__metrics_free_v(void *p);
void fwt__sampler_save_free_v(void *p);
int fwt__parse_forward_output(const cJSON *json, fwt_forward_output **out, fwt__err *err);
int fwt__parse_metrics(const cJSON *obj, fwt_metrics **out, fwt__err *err);
fwt_sampler_save *fwt__sampler_save_new(const char *path, const char *snapshot_name, fwt_sampler_type type,
                                        const char *previous);
/* rl: also send the sampling logprobs and advantages (docs/protocol.md §4.10). */
cJSON *fwt__batch_to_json(const fwt_batch *b, int rl);
/* Every datum has what the loss needs (rl: logprobs + advantages, else weights); FWT_EINVAL naming the gap. */
int fwt__batch_check_inputs(const fwt_batch *b, int rl, const char *loss_name, const char *fn);

/* training_loss.c: loss names and loss_fn_config (docs/protocol.md §4.10). */
int fwt__loss_is_rl(fwt_loss_fn loss);
/* Validate config (NULL = none) and add "loss_fn" and "loss_fn_config" to `input`; sets the last error. */
int fwt__loss_add(cJSON *input, fwt_loss_fn loss, const fwt_loss_config *config, const char *fn);

/* training_unload.c: the blocking unload fwt_training_free performs unless the options keep the model. */
void fwt__training_unload_on_free(fwt_training *t);
/* arr may be NULL (empty list). FWT_EPROTO if an element is not a string. */
int fwt__string_list_from_json(fwt_string_list **out, const cJSON *arr);

#endif /* FWT_API_TRAINING_IMPL_H */
