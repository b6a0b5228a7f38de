/*
 * The producer side of fwt_future. An operation creates a future, drives its
 * work on the engine's worker thread, and completes it exactly once.
 *
 * Lifetime: the future is reference-counted: one reference for the user
 * handle (dropped by fwt_future_free), one for the in-flight operation
 * (dropped by fwt__future_complete). Cancellation calls the operation's
 * cancel hook on the worker thread; the hook must stop its engine requests
 * and timers and then call fwt__future_complete(f, FWT_ECANCELED...).
 */
#ifndef FWT_CORE_FUTURE_IMPL_H
#define FWT_CORE_FUTURE_IMPL_H

#include "fwt_util.h"
#include "fwtrain/future.h"
#include "http/engine.h"

/*
 * What a completed future holds, checked by the typed take functions. Core
 * knows no result type: each API module defines a descriptor for each of its
 * results (FWT__VALUE_JOB in jobs_internal.h, ...) and compares by address.
 */
typedef struct fwt__value_type {
    const char *name; /* for messages: "job", "forward output", ... */
} fwt__value_type;
typedef const fwt__value_type *fwt__value_kind;
/* A future that completes without a value. */
#define FWT__VALUE_NONE ((fwt__value_kind)0)

/* Called on the worker thread when the user cancels (or the owner shuts down). */
typedef void (*fwt__cancel_fn)(fwt_future *f, void *op);

/* A pending future bound to `engine` (callbacks run on its worker). */
int fwt__future_new(fwt_future **out, fwt__engine *engine, fwt__cancel_fn cancel, void *op);

/*
 * Complete exactly once (later calls are ignored and return FWT_ESTATE).
 * On success pass code FWT_OK and the value (ownership moves to the future;
 * value_free releases it if never taken). On failure pass err (moved from)
 * and value NULL. Drops the operation's reference. Any thread.
 */
int fwt__future_complete(fwt_future *f, int code, fwt__err *err, fwt__value_kind kind, void *value,
                         void (*value_free)(void *));
/* Convenience: fail with a code and formatted message. */
int fwt__future_fail(fwt_future *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Take the value: on success returns FWT_OK and moves the value to *out
 * (the future keeps nothing). FWT_EAGAIN while pending, the failure code if
 * it failed (also recorded as last error), FWT_EINVAL for a kind mismatch,
 * FWT_ESTATE if already taken.
 */
int fwt__future_take(fwt_future *f, fwt__value_kind kind, void **out);

/* Extra references for code that must keep a future alive across callbacks. */
void fwt__future_ref(fwt_future *f);
void fwt__future_unref(fwt_future *f);

/* True once fwt__future_complete ran or cancellation was requested (for cooperative producers). */
int fwt__future_cancel_requested(const fwt_future *f);

/*
 * Block the calling thread for `ms` on the engine's (injectable) clock: a
 * worker timer completes a private future. FWT_OK after the pause,
 * FWT_ECANCELED when the engine shuts down first, FWT_ESTATE on the worker.
 */
int fwt__future_pause(fwt__engine *e, uint64_t ms);

/*
 * The one wait-and-take, behind every blocking _result twin: wait up to
 * timeout_ms (0 or -1: no bound of its own), on timeout CANCEL the operation
 * locally and fail with FWT_ETIMEDOUT (a timed-out twin leaves nothing
 * running), else take the value of `kind` into *out (out == NULL: the future
 * frees it), and free the future in every case.
 */
int fwt__future_wait_take(fwt_future *f, int64_t timeout_ms, fwt__value_kind kind, void **out);
/* As fwt__future_wait_take for a twin: *out = NULL first; start_rc != FWT_OK is returned as is (no future). */
int fwt__future_result(int start_rc, fwt_future *f, int64_t timeout_ms, fwt__value_kind kind, void **out);

/*
 * The client registers its engine while it lives, so a future that outlives
 * its client never posts to a freed engine (on_done after fwt_client_free
 * then runs the callback on the calling thread).
 */
void fwt__future_engine_alive(fwt__engine *e);
void fwt__future_engine_gone(fwt__engine *e);

#endif /* FWT_CORE_FUTURE_IMPL_H */
