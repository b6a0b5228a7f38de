/* fwt_future: refcounted, mutex + condvar; callbacks run once on the worker with no lock held. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "core/future_impl.h"

struct fwt_future {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    fwt__engine *engine;
    fwt__cancel_fn cancel;
    void *op;

    int done;
    int code;
    int taken;
    int cancel_requested;
    fwt__err err;
    fwt__value_kind kind;
    void *value;
    void (*value_free)(void *);

    fwt_future_cb cb;
    void *cb_payload;
    int cb_registered;
    int cb_pending; /* scheduled or running */
};

/* ---- live engines: a done future may outlive its client (and engine) ---- */
typedef struct live_engine {
    fwt__engine *e;
    struct live_engine *next;
} live_engine;

static pthread_mutex_t g_live_mu = PTHREAD_MUTEX_INITIALIZER;
static live_engine *g_live;

void fwt__future_engine_alive(fwt__engine *e)
{
    live_engine *n = fwt__malloc(sizeof *n);
    if (!n)
        return; /* only degrades on_done-after-free to an inline call */
    pthread_mutex_lock(&g_live_mu);
    n->e = e;
    n->next = g_live;
    g_live = n;
    pthread_mutex_unlock(&g_live_mu);
}

void fwt__future_engine_gone(fwt__engine *e)
{
    pthread_mutex_lock(&g_live_mu);
    for (live_engine **pp = &g_live; *pp; pp = &(*pp)->next) {
        if ((*pp)->e == e) {
            live_engine *dead = *pp;
            *pp = dead->next;
            fwt__free_mem(dead);
            break;
        }
    }
    pthread_mutex_unlock(&g_live_mu);
}

static int engine_is_live_locked(const fwt__engine *e)
{
    for (live_engine *n = g_live; n; n = n->next)
        if (n->e == e)
            return 1;
    return 0;
}

static int on_worker(const fwt__engine *e)
{
    pthread_mutex_lock(&g_live_mu);
    int r = engine_is_live_locked(e) && fwt__engine_on_worker(e);
    pthread_mutex_unlock(&g_live_mu);
    return r;
}

/* Post to the worker if the engine lives; returns nonzero when posted. */
static int post_if_live(fwt__engine *e, fwt__task_fn fn, void *ud)
{
    pthread_mutex_lock(&g_live_mu);
    int ok = engine_is_live_locked(e) && fwt__engine_post(e, 0, fn, ud, NULL) == FWT_OK;
    pthread_mutex_unlock(&g_live_mu);
    return ok;
}

/* ---- lifetime ---- */

int fwt__future_new(fwt_future **out, fwt__engine *engine, fwt__cancel_fn cancel, void *op)
{
    fwt_future *f = fwt__calloc(1, sizeof *f);
    if (!f)
        return FWT_ENOMEM;
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    f->refs = 2; /* user handle + in-flight operation */
    f->engine = engine;
    f->cancel = cancel;
    f->op = op;
    f->code = FWT_EAGAIN;
    fwt__err_init(&f->err);
    *out = f;
    return FWT_OK;
}

void fwt__future_ref(fwt_future *f)
{
    pthread_mutex_lock(&f->mu);
    f->refs++;
    pthread_mutex_unlock(&f->mu);
}

static void future_destroy(fwt_future *f)
{
    if (f->value && f->value_free)
        f->value_free(f->value);
    fwt__err_clear(&f->err);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    fwt__free_mem(f);
}

void fwt__future_unref(fwt_future *f)
{
    pthread_mutex_lock(&f->mu);
    int last = --f->refs == 0;
    pthread_mutex_unlock(&f->mu);
    if (last)
        future_destroy(f);
}

/* ---- callbacks ---- */

static void run_callback(void *ud)
{
    fwt_future *f = ud;
    pthread_mutex_lock(&f->mu);
    fwt_future_cb cb = f->cb;
    void *payload = f->cb_payload;
    pthread_mutex_unlock(&f->mu);
    if (cb)
        cb(f, payload);
    pthread_mutex_lock(&f->mu);
    f->cb_pending = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    fwt__future_unref(f); /* the reference taken when scheduling */
}

/* Called with f->mu NOT held, after cb_pending was set and a ref taken. */
static void schedule_callback(fwt_future *f, int may_run_inline)
{
    if (may_run_inline && on_worker(f->engine)) {
        run_callback(f);
        return;
    }
    if (!post_if_live(f->engine, run_callback, f))
        run_callback(f); /* no worker left (client freed): run here rather than never */
}

/* ---- producer side ---- */

int fwt__future_complete(fwt_future *f, int code, fwt__err *err, fwt__value_kind kind, void *value,
                         void (*value_free)(void *))
{
    pthread_mutex_lock(&f->mu);
    if (f->done) {
        pthread_mutex_unlock(&f->mu);
        if (value && value_free)
            value_free(value);
        if (err)
            fwt__err_clear(err);
        return FWT_ESTATE;
    }
    f->done = 1;
    f->code = code;
    if (code == FWT_OK) {
        f->kind = kind;
        f->value = value;
        f->value_free = value_free;
        if (err)
            fwt__err_clear(err);
    } else {
        if (value && value_free)
            value_free(value);
        if (err && err->pub.code != FWT_OK)
            fwt__err_move(&f->err, err);
        else {
            if (err)
                fwt__err_clear(err);
            fwt__err_set(&f->err, code, "%s", fwt_strerror(code));
        }
        f->err.pub.code = code;
    }
    int run_cb = f->cb_registered;
    if (run_cb) {
        f->cb_pending = 1;
        f->refs++;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (run_cb)
        schedule_callback(f, 1);
    fwt__future_unref(f); /* the operation's reference */
    return FWT_OK;
}

int fwt__future_fail(fwt_future *f, int code, const char *fmt, ...)
{
    fwt__err e;
    fwt__err_init(&e);
    va_list ap;
    va_start(ap, fmt);
    fwt__err_setv(&e, code, fmt, ap);
    va_end(ap);
    return fwt__future_complete(f, code, &e, FWT__VALUE_NONE, NULL, NULL);
}

int fwt__future_cancel_requested(const fwt_future *f)
{
    fwt_future *m = (fwt_future *)f;
    pthread_mutex_lock(&m->mu);
    int r = m->done || m->cancel_requested;
    pthread_mutex_unlock(&m->mu);
    return r;
}

/* ---- consumer side ---- */

int fwt_future_is_done(const fwt_future *f)
{
    if (!f)
        return 0;
    fwt_future *m = (fwt_future *)f;
    pthread_mutex_lock(&m->mu);
    int d = m->done;
    pthread_mutex_unlock(&m->mu);
    return d;
}

int fwt_future_status(const fwt_future *f)
{
    if (!f)
        return FWT_EINVAL;
    fwt_future *m = (fwt_future *)f;
    pthread_mutex_lock(&m->mu);
    int c = m->done ? m->code : FWT_EAGAIN;
    pthread_mutex_unlock(&m->mu);
    return c;
}

const fwt_error *fwt_future_error(const fwt_future *f)
{
    if (!f)
        return NULL;
    fwt_future *m = (fwt_future *)f;
    pthread_mutex_lock(&m->mu);
    const fwt_error *e = (m->done && m->code != FWT_OK) ? &m->err.pub : NULL;
    pthread_mutex_unlock(&m->mu);
    return e;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int fwt_future_wait(fwt_future *f, int64_t timeout_ms)
{
    if (!f)
        return fwt__last_set(FWT_EINVAL, "fwt_future_wait: future is NULL");
    if (timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "fwt_future_wait: timeout_ms must be >= -1");
    pthread_mutex_lock(&f->mu);
    if (f->done) {
        pthread_mutex_unlock(&f->mu);
        return FWT_OK;
    }
    pthread_mutex_unlock(&f->mu);
    if (timeout_ms != 0 && on_worker(f->engine))
        return fwt__last_set(FWT_ESTATE, "fwt_future_wait: called on the worker thread (would deadlock)");
    struct timespec ts;
    if (timeout_ms > 0)
        deadline_after(&ts, timeout_ms);
    pthread_mutex_lock(&f->mu);
    int rc = FWT_OK;
    while (!f->done) {
        if (timeout_ms == 0) {
            rc = FWT_ETIMEDOUT;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&f->cv, &f->mu);
        } else if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT && !f->done) {
            rc = FWT_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void cancel_task(void *ud)
{
    fwt_future *f = ud;
    pthread_mutex_lock(&f->mu);
    int done = f->done;
    pthread_mutex_unlock(&f->mu);
    /* Producers complete on the worker, so `done` cannot change under us here. */
    if (!done && f->cancel)
        f->cancel(f, f->op);
    if (!fwt_future_is_done(f))
        fwt__future_fail(f, FWT_ECANCELED, "cancelled");
    fwt__future_unref(f);
}

int fwt_future_cancel(fwt_future *f)
{
    if (!f)
        return fwt__last_set(FWT_EINVAL, "fwt_future_cancel: future is NULL");
    pthread_mutex_lock(&f->mu);
    if (f->done) {
        pthread_mutex_unlock(&f->mu);
        return fwt__last_set(FWT_ESTATE, "fwt_future_cancel: the future has already completed");
    }
    if (f->cancel_requested) {
        pthread_mutex_unlock(&f->mu);
        return FWT_OK;
    }
    f->cancel_requested = 1;
    f->refs++;
    pthread_mutex_unlock(&f->mu);
    if (on_worker(f->engine))
        cancel_task(f);
    else if (!post_if_live(f->engine, cancel_task, f)) {
        /* No worker: nothing can be running for this future any more. */
        fwt__future_fail(f, FWT_ECANCELED, "cancelled");
        fwt__future_unref(f);
    }
    return FWT_OK;
}

int fwt_future_on_done(fwt_future *f, fwt_future_cb cb, void *payload)
{
    if (!f || !cb)
        return fwt__last_set(FWT_EINVAL, "fwt_future_on_done: %s is NULL", f ? "cb" : "future");
    pthread_mutex_lock(&f->mu);
    if (f->cb_registered) {
        pthread_mutex_unlock(&f->mu);
        return fwt__last_set(FWT_ESTATE, "fwt_future_on_done: a callback is already registered");
    }
    f->cb_registered = 1;
    f->cb = cb;
    f->cb_payload = payload;
    int now = f->done;
    if (now) {
        f->cb_pending = 1;
        f->refs++;
    }
    pthread_mutex_unlock(&f->mu);
    if (now)
        schedule_callback(f, 0);
    return FWT_OK;
}

void fwt_future_free(fwt_future *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    int pending = !f->done;
    pthread_mutex_unlock(&f->mu);
    if (pending)
        fwt_future_cancel(f);
    int worker = on_worker(f->engine);
    pthread_mutex_lock(&f->mu);
    /* On the worker the cancel ran inline; waiting there for a posted callback would deadlock. */
    while (!worker && (!f->done || f->cb_pending))
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    fwt__future_unref(f);
}

int fwt__future_take(fwt_future *f, fwt__value_kind kind, void **out)
{
    if (!f || !out)
        return fwt__last_set(FWT_EINVAL, "take: %s is NULL", f ? "out" : "future");
    pthread_mutex_lock(&f->mu);
    int rc;
    if (!f->done) {
        rc = fwt__last_set(FWT_EAGAIN, "the future is not done yet");
    } else if (f->code != FWT_OK) {
        rc = fwt__last_set_err(&f->err);
    } else if (f->taken) {
        rc = fwt__last_set(FWT_ESTATE, "the result was already taken");
    } else if (f->kind != kind) {
        rc = fwt__last_set(FWT_EINVAL, "the future holds a different kind of result (%s, asked for %s)",
                           f->kind ? f->kind->name : "none", kind ? kind->name : "none");
    } else {
        *out = f->value;
        f->value = NULL;
        f->taken = 1;
        rc = FWT_OK;
        fwt__last_ok();
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int fwt__future_result(int start_rc, fwt_future *f, int64_t timeout_ms, fwt__value_kind kind, void **out)
{
    if (out)
        *out = NULL;
    if (start_rc != FWT_OK)
        return start_rc;
    void *v = NULL;
    int rc = fwt__future_wait_take(f, timeout_ms, kind, out ? &v : NULL);
    if (out && rc == FWT_OK)
        *out = v;
    return rc;
}

int fwt__future_wait_take(fwt_future *f, int64_t timeout_ms, fwt__value_kind kind, void **out)
{
    /* The timeout rule of every _result twin: 0 = no bound of its own (as -1); the op keeps its own deadline. */
    int rc = fwt_future_wait(f, timeout_ms == 0 ? -1 : timeout_ms);
    if (rc == FWT_ETIMEDOUT) {
        fwt_future_cancel(f);
        fwt_future_free(f);
        return fwt__last_set(FWT_ETIMEDOUT, "no result within %lld ms; the operation was cancelled locally",
                             (long long)timeout_ms);
    }
    if (rc != FWT_OK) { /* EINVAL / ESTATE: already recorded as the last error */
        fwt_future_free(f);
        return rc;
    }
    void *v = NULL;
    rc = fwt__future_take(f, kind, &v);
    if (rc == FWT_OK) {
        if (out)
            *out = v;
        else if (v) {
            /* The caller does not want it: let the future release it. */
            pthread_mutex_lock(&f->mu);
            f->value = v;
            f->taken = 0;
            pthread_mutex_unlock(&f->mu);
        }
    }
    fwt_future_free(f);
    return rc;
}

/* ---- a pause on the engine clock for a blocked caller (see future_impl.h) ---- */

typedef struct pause_task {
    fwt_future *f;
    fwt__engine *e;
} pause_task;

static void pause_fire(void *ud)
{
    pause_task *p = ud;
    if (fwt__engine_stopping(p->e))
        fwt__future_fail(p->f, FWT_ECANCELED, "the client is shutting down");
    else
        fwt__future_complete(p->f, FWT_OK, NULL, FWT__VALUE_NONE, NULL, NULL);
    fwt__future_unref(p->f);
    fwt__free_mem(p);
}

int fwt__future_pause(fwt__engine *e, uint64_t ms)
{
    pause_task *p = fwt__calloc(1, sizeof *p);
    if (!p)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    p->e = e;
    if (fwt__future_new(&p->f, e, NULL, NULL) != FWT_OK) {
        fwt__free_mem(p);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt_future *f = p->f;
    fwt__future_ref(f); /* the task's: it may fire after a cancel completed f */
    int rc = fwt__engine_post(e, ms, pause_fire, p, NULL);
    if (rc != FWT_OK) {
        fwt__future_fail(f, rc, "cannot schedule the pause");
        fwt__future_unref(f);
        fwt__free_mem(p);
        fwt_future_free(f);
        return fwt__last_set(rc, "cannot schedule the pause");
    }
    rc = fwt_future_wait(f, -1);
    if (rc == FWT_OK)
        rc = fwt_future_status(f);
    fwt_future_free(f);
    return rc;
}
