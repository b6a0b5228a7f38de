/* Engine-timer poll loop shared by the long waits (see progress_waiter.h). */
#include "api/progress_waiter.h"

#include "api/jobs_internal.h"

#include <stdarg.h>
#include <stdio.h>

static void waiter_release_if_idle(fwt__waiter *w)
{
    if (w->finished && !w->busy && !w->timer_pending && !w->call_pending)
        w->destroy(w);
}

static void waiter_cancel_hook(fwt_future *f, void *op)
{
    fwt__waiter *w = op;
    (void)f;
    if (w->finished)
        return;
    w->busy++;
    if (w->timer_pending && w->timer_id && fwt__engine_cancel(w->engine, w->timer_id))
        w->timer_pending = 0;
    if (w->call_pending && w->call_id)
        fwt__engine_cancel(w->engine, w->call_id); /* its callback still runs and releases the reply */
    fwt__waiter_fail(w, FWT_ECANCELED, "wait cancelled");
    w->busy--;
    waiter_release_if_idle(w);
}

static void waiter_tick(void *ud)
{
    fwt__waiter *w = ud;
    w->timer_pending = 0;
    w->timer_id = 0;
    if (w->finished) {
        waiter_release_if_idle(w);
        return;
    }
    w->busy++;
    if (fwt__engine_stopping(w->engine))
        fwt__waiter_fail(w, FWT_ECANCELED, "client is shutting down");
    else
        w->step(w);
    w->busy--;
    waiter_release_if_idle(w);
}

int fwt__wait_policy_resolve(fwt__wait_policy *p, const fwt_wait_options *o, int64_t default_timeout_ms,
                             int64_t default_interval_ms, const char *fn)
{
    p->timeout_ms = default_timeout_ms;
    p->interval_ms = default_interval_ms;
    p->initial_ms = FWT__WAIT_INITIAL_MS;
    p->progress = NULL;
    p->progress_payload = NULL;
    if (!o)
        return FWT_OK;
    if (o->version != FWT_WAIT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "%s: unknown fwt_wait_options version %u", fn, o->version);
    if (o->timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "%s: timeout_ms must be -1 (none), 0 (default) or > 0", fn);
    if (o->poll_interval_ms < 0 || o->poll_initial_ms < 0)
        return fwt__last_set(FWT_EINVAL, "%s: poll_interval_ms and poll_initial_ms must be 0 (default) or > 0", fn);
    if (o->timeout_ms != 0)
        p->timeout_ms = o->timeout_ms;
    if (o->poll_interval_ms > 0)
        p->interval_ms = o->poll_interval_ms;
    if (o->poll_initial_ms > 0)
        p->initial_ms = o->poll_initial_ms;
    if (p->initial_ms > p->interval_ms)
        p->initial_ms = p->interval_ms;
    p->progress = o->progress;
    p->progress_payload = o->progress_payload;
    return FWT_OK;
}

void fwt__waiter_init(fwt__waiter *w, fwt_client *c, fwt__waiter_step_fn step, void (*destroy)(fwt__waiter *w),
                      const fwt__wait_policy *pol)
{
    w->client = c;
    w->engine = fwt__client_engine(c);
    w->future = NULL;
    w->start_ms = 0;
    w->timer_id = w->call_id = 0;
    w->timer_pending = w->call_pending = 0;
    w->finished = 0;
    w->busy = 0;
    w->pol = *pol;
    /* Half jitter: a wait at its interval never polls faster than half of it (backoff.h). */
    fwt__backoff_init(&w->poll_backoff, pol->initial_ms, pol->interval_ms, 50);
    w->step = step;
    w->on_reply = NULL;
    w->destroy = destroy;
}

int fwt__waiter_start(fwt_future **out, fwt__waiter *w)
{
    fwt_future *f = NULL;
    int rc = fwt__future_new(&f, w->engine, waiter_cancel_hook, w);
    if (rc != FWT_OK) {
        w->destroy(w);
        return fwt__last_set(rc, "cannot create a future");
    }
    w->future = f;
    w->start_ms = fwt__engine_now_ms(w->engine);
    /* The first tick carries no id: the worker may run it before post() returns
     * to this thread, and all later state is touched on the worker only. */
    w->timer_pending = 1;
    rc = fwt__engine_post(w->engine, 0, waiter_tick, w, NULL);
    if (rc != FWT_OK) {
        w->timer_pending = 0;
        fwt__future_fail(f, rc, "cannot schedule the wait");
        w->finished = 1;
        w->destroy(w);
        fwt_future_free(f);
        return fwt__last_set(rc, "cannot schedule the wait");
    }
    *out = f;
    fwt__last_ok();
    return FWT_OK;
}

void fwt__waiter_schedule(fwt__waiter *w, int64_t delay_ms)
{
    if (w->finished)
        return;
    w->timer_pending = 1;
    w->timer_id = 0;
    int rc = fwt__engine_post(w->engine, delay_ms > 0 ? (uint64_t)delay_ms : 0, waiter_tick, w, &w->timer_id);
    if (rc != FWT_OK) {
        w->timer_pending = 0;
        fwt__waiter_fail(w, rc, "cannot schedule the next poll");
    }
}

int fwt__waiter_again_until(fwt__waiter *w, int64_t deadline_ms)
{
    int64_t left = -1;
    if (deadline_ms >= 0) {
        int64_t el = fwt__waiter_elapsed(w);
        left = el >= deadline_ms ? 0 : deadline_ms - el;
    }
    int64_t d = fwt__backoff_bound(fwt__backoff_next(&w->poll_backoff, fwt__engine_random(w->engine)), left);
    if (d < 0)
        return 1;
    fwt__waiter_schedule(w, d);
    return 0;
}

int fwt__waiter_again(fwt__waiter *w) { return fwt__waiter_again_until(w, w->pol.timeout_ms); }

static void waiter_call_done(fwt__reply *reply, void *ud)
{
    fwt__waiter *w = ud;
    w->call_pending = 0;
    w->call_id = 0;
    if (w->finished) {
        fwt__reply_free(reply);
        waiter_release_if_idle(w);
        return;
    }
    fwt__waiter_reply_fn fn = w->on_reply;
    w->on_reply = NULL;
    w->busy++;
    fn(w, reply);
    w->busy--;
    fwt__reply_free(reply);
    waiter_release_if_idle(w);
}

void fwt__waiter_call(fwt__waiter *w, const fwt__call *call, fwt__waiter_reply_fn fn)
{
    if (w->finished)
        return;
    w->on_reply = fn;
    w->call_pending = 1;
    w->call_id = 0;
    uint64_t id = 0;
    int rc = fwt__call_async(w->client, call, waiter_call_done, w, &id);
    if (rc != FWT_OK) {
        w->call_pending = 0;
        w->on_reply = NULL;
        fwt__waiter_fail(w, rc, "cannot submit %s %s", call->method, "request");
        return;
    }
    if (w->call_pending)
        w->call_id = id;
}

void fwt__waiter_finish(fwt__waiter *w, int code, fwt__err *err, fwt__value_kind kind, void *value,
                        void (*value_free)(void *))
{
    if (w->finished) {
        if (value && value_free)
            value_free(value);
        if (err)
            fwt__err_clear(err);
        return;
    }
    w->finished = 1;
    fwt__future_complete(w->future, code, err, kind, value, value_free);
    w->future = NULL;
    waiter_release_if_idle(w);
}

void fwt__waiter_fail(fwt__waiter *w, int code, const char *fmt, ...)
{
    fwt__err e;
    fwt__err_init(&e);
    va_list ap;
    va_start(ap, fmt);
    fwt__err_setv(&e, code, fmt, ap);
    va_end(ap);
    fwt__waiter_finish(w, code, &e, FWT__VALUE_NONE, NULL, NULL);
    fwt__err_clear(&e);
}

void fwt__waiter_fail_reply(fwt__waiter *w, fwt__reply *r, const char *context)
{
    fwt__err e;
    fwt__err_init(&e);
    fwt__err_from_reply(&e, r, context);
    int code = e.pub.code;
    fwt__waiter_finish(w, code, &e, FWT__VALUE_NONE, NULL, NULL);
    fwt__err_clear(&e);
}

int64_t fwt__waiter_elapsed(const fwt__waiter *w)
{
    return (int64_t)(fwt__engine_now_ms(w->engine) - w->start_ms);
}

void fwt__waiter_progress(fwt__waiter *w, int stage, const char *fmt, ...)
{
    if (!w->pol.progress)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    w->pol.progress(stage, fwt__waiter_elapsed(w), buf, w->pol.progress_payload);
}

void fwt__waiter_log(fwt__waiter *w, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fwt__vlog(fwt__client_logger(w->client), level, fmt, ap);
    va_end(ap);
}
