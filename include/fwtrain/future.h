/**
 * @file
 * libfwtrain — fwt_future: a pollable handle on an asynchronous operation.
 *
 * A future is single-owner: whoever received it through `**out` frees it.
 * Its result is read once with a typed fwt_future_take_*() function declared
 * next to the call that produced it (training.h, jobs.h, ...).
 */
#ifndef FWTRAIN_FUTURE_H
#define FWTRAIN_FUTURE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Completion callback. Runs exactly once per registration, on the client's
 * worker thread, with no library lock held. It may inspect `f` and take its
 * result, but must not free `f`, block on another future, or make blocking
 * library calls.
 */
typedef void (*fwt_future_cb)(fwt_future *f, void *payload);

/** 1 if the future has completed (success, failure or cancellation), else 0. NULL gives 0. */
FWT_API int fwt_future_is_done(const fwt_future *f);

/**
 * Wait for completion. timeout_ms = 0 polls, -1 waits forever.
 * Returns FWT_OK once the future is done (whatever its outcome — see
 * fwt_future_status), FWT_ETIMEDOUT if it is still pending, FWT_EINVAL for
 * NULL, FWT_ESTATE if called from the worker thread (it would deadlock).
 */
FWT_API int fwt_future_wait(fwt_future *f, int64_t timeout_ms);

/** The outcome: FWT_OK, a negative fwt_status, or FWT_EAGAIN while pending. */
FWT_API int fwt_future_status(const fwt_future *f);

/**
 * Stop local work (the API has no server-side cancel) and complete the future
 * with FWT_ECANCELED, unless it has already completed. The callback still
 * runs exactly once. Returns FWT_OK, or FWT_ESTATE if it was already done.
 */
FWT_API int fwt_future_cancel(fwt_future *f);

/**
 * Register the completion callback (at most one per future). If the future
 * is already done, the callback is scheduled at once on the worker thread.
 * Returns FWT_ESTATE if a callback is already registered.
 */
FWT_API int fwt_future_on_done(fwt_future *f, fwt_future_cb cb, void *payload);

/**
 * The failure detail once the future completed with an error; NULL while
 * pending or after success. Borrowed: valid until fwt_future_free.
 */
FWT_API const fwt_error *fwt_future_error(const fwt_future *f);

/**
 * Release the future. Safe in any state: a pending future is cancelled first
 * and this call returns after its callback (if any) has finished. NULL is
 * allowed. Must not be called from the future's own callback.
 */
FWT_API void fwt_future_free(fwt_future *f);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_FUTURE_H */
