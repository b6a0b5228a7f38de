/*
 * A poll loop driven by engine timers: the base of every long wait (job
 * readiness, promotion, hotload, deployment delete, warmup). All of its
 * state is touched on the worker thread only once started, so it needs no
 * lock; cancellation (the future's cancel hook) also runs there.
 */
#ifndef FWT_API_PROGRESS_WAITER_H
#define FWT_API_PROGRESS_WAITER_H

#include "backoff.h"
#include "core/future_impl.h"
#include "core/request.h"
#include "fwtrain/types.h"

/* First poll gap of every wait when fwt_wait_options.poll_initial_ms is 0. */
#define FWT__WAIT_INITIAL_MS 100

/* A wait's policy: fwt_wait_options with the call's defaults applied. */
typedef struct fwt__wait_policy {
    int64_t timeout_ms;       /* -1 = none */
    int64_t interval_ms;      /* cap of the poll backoff */
    int64_t initial_ms;       /* first poll gap */
    fwt_progress_fn progress;
    void *progress_payload;
} fwt__wait_policy;

/*
 * Apply the rule (0 = the call's default, -1 = none, > 0 = ms) to `o`
 * (NULL = all defaults). FWT_EINVAL naming `fn` for a bad version or value.
 */
int fwt__wait_policy_resolve(fwt__wait_policy *p, const fwt_wait_options *o, int64_t default_timeout_ms,
                             int64_t default_interval_ms, const char *fn);

typedef struct fwt__waiter fwt__waiter;
typedef void (*fwt__waiter_step_fn)(fwt__waiter *w);
/* Reply handler: the reply is owned by the waiter and released after the call. */
typedef void (*fwt__waiter_reply_fn)(fwt__waiter *w, fwt__reply *r);

struct fwt__waiter {
    fwt_client *client;
    fwt__engine *engine;
    fwt_future *future;
    uint64_t start_ms;
    uint64_t timer_id, call_id;
    int timer_pending, call_pending;
    int finished;
    int busy;                       /* inside one of our callbacks: release deferred */
    fwt__wait_policy pol;
    fwt__backoff poll_backoff;      /* poll gaps: initial_ms doubling to interval_ms */
    fwt__waiter_step_fn step;       /* run at start and on every scheduled tick */
    fwt__waiter_reply_fn on_reply;  /* current call's handler */
    void (*destroy)(fwt__waiter *w);/* frees the containing object */
};

/* Initialise the base fields (client, step, destroy, the resolved policy). */
void fwt__waiter_init(fwt__waiter *w, fwt_client *c, fwt__waiter_step_fn step, void (*destroy)(fwt__waiter *w),
                      const fwt__wait_policy *pol);
/* Create the future and schedule the first step. On failure w is destroyed and the error recorded as last error. */
int fwt__waiter_start(fwt_future **out, fwt__waiter *w);
/* Worker thread: run step after delay_ms. */
void fwt__waiter_schedule(fwt__waiter *w, int64_t delay_ms);
/* Worker thread: schedule the next poll after the backoff's next gap, cut to end at the policy's timeout
 * (from the start). Returns 1 (nothing scheduled) once the timeout has passed: the caller fails with its
 * own message. */
int fwt__waiter_again(fwt__waiter *w);
/* As fwt__waiter_again with another bound: `deadline_ms` after the start of the wait (-1 = none). */
int fwt__waiter_again_until(fwt__waiter *w, int64_t deadline_ms);
/* Worker thread: issue a call; `fn` gets the reply. Submit failure finishes the waiter. */
void fwt__waiter_call(fwt__waiter *w, const fwt__call *call, fwt__waiter_reply_fn fn);
/* Complete the future (value ownership moves) and release the waiter when idle. */
void fwt__waiter_finish(fwt__waiter *w, int code, fwt__err *err, fwt__value_kind kind, void *value,
                        void (*value_free)(void *));
void fwt__waiter_fail(fwt__waiter *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Fail with the reply's mapped error, prefixed with context. */
void fwt__waiter_fail_reply(fwt__waiter *w, fwt__reply *r, const char *context);
int64_t fwt__waiter_elapsed(const fwt__waiter *w);
void fwt__waiter_progress(fwt__waiter *w, int stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Log through the client's logger (never pass secrets). */
void fwt__waiter_log(fwt__waiter *w, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* FWT_API_PROGRESS_WAITER_H */
