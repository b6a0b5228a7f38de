/*
 * The life of one training op (docs/protocol.md §4.2, §4.3 as refined by §11.6), all
 * of it in this file. Ops of one training are submitted one at a time in
 * call order, each taking seq_id = request_id + 1 when it goes out; their
 * results are then retrieved concurrently. Everything after fwt__top_start
 * runs on the client's worker thread; every wait is an engine timer, so
 * cancellation cuts it short and an injected clock applies.
 *
 *   fwt_training_<op>() ── fwt__top_start: future created, op appended to t's queue
 *        │
 *        ▼
 *   QUEUED ──(kick: first in the queue, no submit in flight)──▶ SUBMITTING
 *
 *   SUBMITTING  POST /api/v1/<route> {seq_id, ...} + idempotency key; the engine
 *        │      retries with the same body and key (408, 409, 429, 5xx, connection)
 *        ├── 402 ─▶ capacity pause: the same submit again every 5 s, up to 1 h
 *        ├── refused ─▶ FINISHED (error; a sequenced op marks the training broken,
 *        │              unless no attempt can have been accepted)
 *        ▼ accepted: request_id (never submitted again, only polled)
 *   POLLING     POST /api/v1/retrieve_future {request_id}
 *        ├── try_again, 408, 5xx ─▶ again after the client's poll floor
 *        ├── 429, connection, empty 400 ─▶ again after retry_base doubling to retry_cap
 *        ├── 402 ─▶ again every 5 s, up to 1 h
 *        ├── 410 ─▶ FINISHED (FWT_EEXPIRED: the promise is lost, never re-submitted)
 *        ▼ a result or a RequestFailedResponse
 *   FINISHED    the future completes exactly once; the op is released with its
 *               last reference (flow, deadline timer)
 *
 * Cancellation or op_timeout_ms completes the future at once (FWT_ECANCELED /
 * FWT_ETIMEDOUT) in any state: a QUEUED op leaves the queue; a SUBMITTING op
 * in a capacity pause gives its seq_id back when no attempt can have been
 * accepted (so the sequence has no hole), else it keeps going so later ops
 * stay in order; a POLLING op stops polling.
 *
 * On the calling thread. A blocking twin (fwt_training_<op>_result) whose op
 * has nothing queued or submitting ahead of it claims the op in fwt__top_start
 * (QUEUED is skipped: the seq_id is taken under t->mu exactly as drive_task
 * takes it, and t->submitting holds the queue for everyone else) and runs the
 * same steps on its own thread: every request goes through op_send, which
 * performs it there (fwt__call_run, the engine's caller-thread lane) and
 * leaves the reply for direct_run's loop to hand to the same on_submit /
 * on_poll, so there is one state machine and no recursion. Any step that has
 * to wait (a re-poll sooner than the poll floor allows, a capacity pause)
 * hands the op to the worker (op->direct cleared under t->mu, then the timer
 * posted) and the twin waits on the future as before. A cancel that arrives
 * while the thread drives (training or client free) completes the future;
 * the thread sees it before its next step, ends a poll, and lets a submit
 * finish so the sequence keeps no hole.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/training_impl.h"

/* ==== queue and submit ==================================================== */

static void drive_task(void *ud);
static void submit_abandon(fwt__top *op);

/* Set by fwt__top_caller_begin for the next fwt__top_start of this thread; the op it claimed. */
static _Thread_local int tl_caller_waits;
static _Thread_local uint64_t tl_caller_deadline; /* mono_ms() the twin's timeout ends; 0 = none */
static _Thread_local fwt__top *tl_claimed;

/* The clock fwt_future_wait bounds a twin's wait with. */
static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Send a request of op: on the worker (the reply goes to cb there), or on this thread for an
 * op the calling thread drives (the reply is left in op->dcb / op->dreply for direct_run). */
static void handover(fwt__top *op);

static int op_send(fwt__top *op, const fwt__call *call, fwt__call_done cb, uint64_t *id)
{
    *id = 0;
    fwt__call bounded;
    if (op->direct && op->ddeadline) {
        /* The twin's timeout bounds this request too; when it is spent, the worker carries on
         * (the twin's wait then times out and cancels as usual). */
        uint64_t now = mono_ms();
        if (now >= op->ddeadline) {
            handover(op);
        } else {
            bounded = *call;
            bounded.deadline_ms = (int64_t)(op->ddeadline - now);
            call = &bounded;
        }
    }
    if (op->direct) {
        fwt__reply *r = NULL;
        int rc = fwt__call_run(op->t->client, call, &r);
        if (rc == FWT_OK) {
            op->dcb = cb;
            op->dreply = r;
        }
        return rc;
    }
    return fwt__call_async(op->t->client, call, cb, op, id);
}

/* The calling thread stops driving op before a worker timer takes over its next step. */
static void handover(fwt__top *op)
{
    if (!op->direct)
        return;
    pthread_mutex_lock(&op->t->mu);
    op->direct = 0;
    pthread_mutex_unlock(&op->t->mu);
}

static void op_unref(fwt__top *op)
{
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    int last = --op->refs == 0;
    if (last) {
        if (op->lprev)
            op->lprev->lnext = op->lnext;
        else if (t->live == op)
            t->live = op->lnext;
        if (op->lnext)
            op->lnext->lprev = op->lprev;
    }
    pthread_mutex_unlock(&t->mu);
    if (!last)
        return;
    if (op->body)
        cJSON_Delete(op->body);
    fwt__future_unref(op->f);
    fwt__free_mem(op->request_id);
    fwt__free_mem(op->snapshot_name);
    fwt__free_mem(op->prev_snapshot);
    fwt__free_mem(op);
    fwt__training_unref(t);
}

/* Ask the worker to run the queue (any thread). */
static void kick(fwt_training *t)
{
    fwt__training_ref(t);
    if (!t->eng || fwt__engine_post(t->eng, 0, drive_task, t, NULL) != FWT_OK)
        fwt__training_unref(t);
}

void fwt__top_release(fwt__top *op)
{
    fwt__engine *eng = op->t->eng;
    pthread_mutex_lock(&op->t->mu);
    op->phase = FWT__OP_FINISHED;
    uint64_t dl = op->deadline_id;
    op->deadline_id = 0;
    pthread_mutex_unlock(&op->t->mu);
    if (dl && eng && fwt__engine_cancel(eng, dl) == 1)
        op_unref(op); /* the deadline timer will never run */
    op_unref(op);
}

static void complete_future(fwt__top *op, int code, fwt__err *err, fwt__value_kind kind, void *value,
                            void (*vfree)(void *))
{
    if (op->future_done) {
        if (value && vfree)
            vfree(value);
        if (err)
            fwt__err_clear(err);
        return;
    }
    op->future_done = 1;
    if (op->finish)
        op->finish(op, code, value);
    fwt__err e;
    fwt__err_init(&e);
    if (code != FWT_OK) {
        if (err && err->pub.code != FWT_OK)
            fwt__err_move(&e, err);
        else
            fwt__err_set(&e, code, "%s", fwt_strerror(code));
        e.pub.code = code;
        if (op->request_id && !*e.pub.request_id)
            fwt__err_set_request_id(&e, op->request_id);
    } else if (err) {
        fwt__err_clear(err);
    }
    fwt__future_complete(op->f, code, &e, kind, value, vfree);
}

void fwt__top_finish(fwt__top *op, int code, fwt__err *err, fwt__value_kind kind, void *value, void (*vfree)(void *))
{
    complete_future(op, code, err, kind, value, vfree);
    fwt__top_release(op);
}

/* Cancellation or op_timeout_ms (worker). Completes the future at once; the flow releases the op later. */
static void op_abort(fwt__top *op, int code, const char *why)
{
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    if (op->direct) { /* its thread sees the completed future before its next step (direct_run) */
        pthread_mutex_unlock(&t->mu);
        return;
    }
    fwt__op_phase phase = op->phase;
    int dequeued = 0;
    if (phase == FWT__OP_QUEUED) {
        for (fwt__top **pp = &t->qhead; *pp; pp = &(*pp)->qnext) {
            if (*pp == op) {
                *pp = op->qnext;
                if (t->qtail == op) {
                    t->qtail = NULL;
                    for (fwt__top *q = t->qhead; q; q = q->qnext)
                        t->qtail = q;
                }
                dequeued = 1;
                break;
            }
        }
    }
    uint64_t req = op->req_id, tim = op->timer_id;
    pthread_mutex_unlock(&t->mu);

    if (phase == FWT__OP_FINISHED)
        return;
    fwt__err e;
    fwt__err_init(&e);
    fwt__err_set(&e, code, "%s", why);
    if (dequeued) { /* never submitted: no seq_id consumed, nothing to stop */
        fwt__top_finish(op, code, &e, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    complete_future(op, code, &e, FWT__VALUE_NONE, NULL, NULL);
    if (phase == FWT__OP_SUBMITTING) {
        /* Waiting out a billing pause with every attempt refused: stop now and return the seq_id. */
        if (tim && !op->maybe_accepted && fwt__engine_cancel(t->eng, tim) == 1)
            submit_abandon(op);
        return; /* else let the submit finish so the sequence has no hole; its reply releases the op */
    }
    if (req) {
        fwt__engine_cancel(t->eng, req); /* its callback runs with ECANCELED and releases */
    } else if (tim) {
        if (fwt__engine_cancel(t->eng, tim) == 1) {
            pthread_mutex_lock(&t->mu);
            op->timer_id = 0;
            pthread_mutex_unlock(&t->mu);
            fwt__top_release(op);
        }
    }
}

static void op_cancel_hook(fwt_future *f, void *ud)
{
    (void)f;
    op_abort(ud, FWT_ECANCELED, "cancelled");
}

static void op_deadline(void *ud)
{
    fwt__top *op = ud;
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    op->deadline_id = 0;
    pthread_mutex_unlock(&t->mu);
    if (!fwt__engine_stopping(t->eng) && !op->future_done) {
        char why[160];
        snprintf(why, sizeof why, "%s: no result within op_timeout_ms (%lld ms)", op->route,
                 (long long)t->op_timeout_ms);
        op_abort(op, FWT_ETIMEDOUT, why);
    }
    op_unref(op);
}

/* Runs on the worker so the deadline id is only ever touched there and under t->mu. */
static void arm_deadline(void *ud)
{
    fwt__top *op = ud;
    fwt_training *t = op->t;
    if (op->future_done || fwt__engine_stopping(t->eng)) {
        op_unref(op);
        return;
    }
    uint64_t now = fwt__engine_now_ms(t->eng);
    uint64_t spent = now > op->created_ms ? now - op->created_ms : 0;
    uint64_t left = spent >= (uint64_t)t->op_timeout_ms ? 0 : (uint64_t)t->op_timeout_ms - spent;
    uint64_t id = 0;
    if (fwt__engine_post(t->eng, left, op_deadline, op, &id) != FWT_OK) {
        op_unref(op);
        return;
    }
    pthread_mutex_lock(&t->mu);
    op->deadline_id = id;
    pthread_mutex_unlock(&t->mu);
}

void fwt__top_cancel_all(fwt_training *t)
{
    size_t n = 0, i = 0;
    pthread_mutex_lock(&t->mu);
    for (fwt__top *op = t->live; op; op = op->lnext)
        n++;
    fwt_future **fs = n ? fwt__calloc(n, sizeof *fs) : NULL;
    for (fwt__top *op = t->live; op && fs; op = op->lnext) {
        fwt__future_ref(op->f);
        fs[i++] = op->f;
    }
    pthread_mutex_unlock(&t->mu);
    for (size_t k = 0; k < i; k++) {
        if (!fwt_future_is_done(fs[k]))
            fwt_future_cancel(fs[k]);
        fwt__future_unref(fs[k]);
    }
    fwt__free_mem(fs);
}

static void submit(fwt__top *op);

/*
 * Give up a submit the server never accepted (cancelled during a billing
 * pause): its seq_id goes back, so the next op takes it and the sequence has
 * no hole. Valid because no later op has a seq_id while this one submits.
 */
static void submit_abandon(fwt__top *op)
{
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    if (t->submitting == op)
        t->submitting = NULL;
    if (op->sequenced && t->next_request_id == op->seq_id)
        t->next_request_id--;
    op->timer_id = 0;
    pthread_mutex_unlock(&t->mu);
    kick(t);
    fwt__top_finish(op, FWT_ECANCELED, NULL, FWT__VALUE_NONE, NULL, NULL);
}

static void billing_retry(void *ud)
{
    fwt__top *op = ud;
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    op->timer_id = 0;
    pthread_mutex_unlock(&t->mu);
    if (fwt__engine_stopping(t->eng) || (op->future_done && !op->maybe_accepted)) {
        submit_abandon(op);
        return;
    }
    /* Same body (same seq_id) and idempotency key. A cancelled op whose seq_id may already be taken keeps
     * going until the server answers definitely, so the sequence never gets a hole or a duplicate. */
    submit(op);
}

/* docs/protocol.md §2.3: a 402 on a submit is a billing pause: retry every 5 s while inside the pause window. */
static int billing_pause(fwt__top *op, const fwt__reply *r)
{
    fwt_training *t = op->t;
    if (r->transport_failed || r->http_status != 402)
        return 0;
    if (r->attempts > 1) /* an earlier attempt (timeout, 5xx, 409...) may have been accepted */
        op->maybe_accepted = 1;
    if (op->future_done && !op->maybe_accepted) { /* cancelled: every attempt was refused, so the seq_id is free */
        submit_abandon(op);
        return 1;
    }
    uint64_t now = fwt__engine_now_ms(t->eng);
    if (!op->billing_start_ms)
        op->billing_start_ms = now ? now : 1;
    if (now - op->billing_start_ms >= (uint64_t)FWT__BILLING_MAX_MS)
        return 0;
    uint64_t id = 0;
    uint64_t delay = (uint64_t)fwt__backoff_next(&op->billing, fwt__engine_random(t->eng));
    handover(op); /* a long pause: the worker's timer, not this thread, waits it out */
    if (fwt__engine_post(t->eng, delay, billing_retry, op, &id) != FWT_OK)
        return 0;
    fwt__log(fwt__client_logger(t->client), FWT_LOG_WARN, "%s: billing pause (HTTP 402); submitting again in 5 s",
             op->route);
    pthread_mutex_lock(&t->mu);
    op->req_id = 0;
    op->timer_id = id;
    pthread_mutex_unlock(&t->mu);
    return 1;
}

static void submit(fwt__top *op);

static void on_submit(fwt__reply *r, void *ud)
{
    fwt__top *op = ud;
    fwt_training *t = op->t;
    if (op->direct && op->ddeadline && r->transport_failed && r->err.pub.code == FWT_ETIMEDOUT) {
        /* The twin's timeout cut this thread's submit short; an attempt may have been accepted,
         * so the worker submits again (same body, seq_id and key) until the answer is definite,
         * as for any op cancelled while submitting. */
        op->maybe_accepted = 1;
        fwt__reply_free(r);
        handover(op);
        submit(op);
        return;
    }
    if (billing_pause(op, r)) { /* t->submitting stays op: the queue waits */
        fwt__reply_free(r);
        return;
    }
    uint64_t now = fwt__engine_now_ms(t->eng);
    int ok = r->err.pub.code == FWT_OK;
    pthread_mutex_lock(&t->mu);
    op->req_id = 0;
    t->submitting = NULL;
    if (!ok && op->sequenced && !t->broken) {
        t->broken = fwt__asprintf("the submit of %s (seq_id %lld) failed (%s), so later operations cannot run "
                                  "in sequence; recreate the training session",
                                  op->route, (long long)op->seq_id, r->err.pub.message);
    }
    int more = t->qhead != NULL; /* fwt__top_start kicks for ops queued later */
    pthread_mutex_unlock(&t->mu);
    if (more)
        kick(t);
    if (op->body) { /* accepted or failed for good: never sent again */
        cJSON_Delete(op->body);
        op->body = NULL;
    }

    if (!ok) {
        fwt__top_finish(op, r->err.pub.code, &r->err, FWT__VALUE_NONE, NULL, NULL);
        fwt__reply_free(r);
        return;
    }
    const char *rid = NULL;
    int jr = fwt__json_get_string(r->json, "request_id", &rid);
    if (jr || !*rid) {
        fwt__err e;
        fwt__err_init(&e);
        fwt__err_set(&e, FWT_EPROTO, "%s: the submit reply has no request_id string", op->route);
        fwt__top_finish(op, FWT_EPROTO, &e, FWT__VALUE_NONE, NULL, NULL);
        fwt__reply_free(r);
        return;
    }
    op->request_id = fwt__strdup(rid);
    fwt__reply_free(r);
    if (!op->request_id) {
        fwt__top_finish(op, FWT_ENOMEM, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    if (op->future_done) { /* cancelled or timed out while the submit was in flight */
        fwt__top_release(op);
        return;
    }
    op->billing_start_ms = 0; /* the poll loop has its own billing window */
    op->promise_rtt_s = (double)(now - op->submit_start_ms) / 1000.0;
    fwt__poll_start(op);
}

static void submit(fwt__top *op)
{
    fwt_training *t = op->t;
    int rc = FWT_OK;
    if (op->sequenced && !fwt__json_get(op->body, "seq_id") &&
        !cJSON_AddNumberToObject(op->body, "seq_id", (double)op->seq_id))
        rc = FWT_ENOMEM;
    char *url = rc ? NULL : fwt__training_route(t, op->route);
    if (!rc && !url)
        rc = FWT_ENOMEM;
    uint64_t id = 0;
    if (!rc) {
        fwt__call call = {.plane = FWT__PLANE_TRAINER, .method = "POST", .url = url, .body = op->body,
                          .retry = FWT__RC_SUBMIT, .idempotency_key = op->idem};
        if (!op->submit_start_ms)
            op->submit_start_ms = fwt__engine_now_ms(t->eng);
        rc = op_send(op, &call, on_submit, &id);
    }
    fwt__free_mem(url);
    if (rc) {
        fwt__reply *r = fwt__calloc(1, sizeof *r);
        if (r) {
            fwt__reply_init(r);
            r->body = fwt__strdup("");
            r->transport_failed = 1;
            fwt__err_set(&r->err, rc, "%s: could not submit: %s", op->route, fwt_strerror(rc));
            on_submit(r, op);
        } else {
            pthread_mutex_lock(&t->mu);
            t->submitting = NULL;
            pthread_mutex_unlock(&t->mu);
            fwt__top_finish(op, rc, NULL, FWT__VALUE_NONE, NULL, NULL);
        }
        return;
    }
    pthread_mutex_lock(&t->mu);
    op->req_id = id;
    pthread_mutex_unlock(&t->mu);
}

static void drive_task(void *ud)
{
    fwt_training *t = ud;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        if (t->submitting || !t->qhead) {
            pthread_mutex_unlock(&t->mu);
            break;
        }
        fwt__top *op = t->qhead;
        t->qhead = op->qnext;
        if (!t->qhead)
            t->qtail = NULL;
        op->qnext = NULL;
        int stopping = !t->eng || fwt__engine_stopping(t->eng);
        char *broken = (op->sequenced && t->broken) ? fwt__strdup(t->broken) : NULL;
        int fail = stopping || (op->sequenced && t->broken);
        if (!fail) {
            if (op->sequenced)
                op->seq_id = ++t->next_request_id; /* seq_id = request_id + 1, 1-based (§4.3) */
            op->phase = FWT__OP_SUBMITTING;
            t->submitting = op;
        }
        pthread_mutex_unlock(&t->mu);
        if (fail) {
            fwt__err e;
            fwt__err_init(&e);
            if (stopping)
                fwt__err_set(&e, FWT_ECANCELED, "cancelled: the client is shutting down");
            else
                fwt__err_set(&e, FWT_ESTATE, "%s", broken ? broken : "the operation sequence is broken");
            fwt__free_mem(broken);
            fwt__top_finish(op, e.pub.code, &e, FWT__VALUE_NONE, NULL, NULL);
            continue;
        }
        submit(op);
        break;
    }
    fwt__training_unref(t);
}

int fwt__top_start(fwt_future **out, fwt_training *t, const char *route, const char *rtype, cJSON *body,
                   int sequenced, fwt__top_parse_fn parse, fwt__top_finish_fn finish, const char *snapshot_name,
                   fwt_sampler_type ctype, const char *prev_snapshot)
{
    *out = NULL;
    fwt__top *op = fwt__calloc(1, sizeof *op);
    if (!op || fwt__uuid4(op->idem) != FWT_OK) {
        fwt__free_mem(op);
        cJSON_Delete(body);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    op->t = t;
    op->route = route;
    op->rtype = rtype;
    op->body = body;
    op->sequenced = sequenced;
    op->parse = parse;
    op->finish = finish;
    op->refs = 1;
    op->phase = FWT__OP_QUEUED;
    const fwt_client_options *co = t->client ? fwt__client_options(t->client) : NULL;
    fwt__backoff_init(&op->backoff, co ? co->retry_base_ms : 1000, co ? co->retry_cap_ms : 30000, 0);
    fwt__backoff_init(&op->billing, FWT__BILLING_PAUSE_MS, FWT__BILLING_PAUSE_MS, 0);
    if (fwt__future_new(&op->f, t->eng, op_cancel_hook, op) != FWT_OK) {
        cJSON_Delete(body);
        fwt__free_mem(op);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__future_ref(op->f); /* the op's own, so op->f stays valid until the op is destroyed */
    op->ctype = ctype;
    if ((snapshot_name && !(op->snapshot_name = fwt__strdup(snapshot_name))) ||
        (prev_snapshot && !(op->prev_snapshot = fwt__strdup(prev_snapshot)))) {
        fwt__free_mem(op->snapshot_name);
        fwt_future *f = op->f;
        cJSON_Delete(body);
        fwt__free_mem(op);
        fwt__future_unref(f);
        fwt__future_unref(f);
        fwt__future_unref(f);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&t->mu);
    if (!t->client || t->closed) {
        pthread_mutex_unlock(&t->mu);
        fwt_future *f = op->f;
        cJSON_Delete(body);
        fwt__free_mem(op->snapshot_name);
        fwt__free_mem(op->prev_snapshot);
        fwt__free_mem(op);
        fwt__future_unref(f);
        fwt__future_unref(f);
        fwt__future_unref(f);
        return fwt__last_set(FWT_ESTATE, "%s: the training session is closed or its client was freed", route);
    }
    t->refs++; /* released when the op is */
    op->lnext = t->live;
    if (t->live)
        t->live->lprev = op;
    t->live = op;
    int arm = t->op_timeout_ms > 0;
    if (arm) {
        op->refs++; /* the deadline's; armed on the worker */
        op->created_ms = fwt__engine_now_ms(t->eng);
    }
    /* A blocking twin's thread runs the op itself when nothing is ahead of it: it takes the
     * seq_id and the submit slot here, as drive_task would (see "On the calling thread"). */
    int claim = tl_caller_waits && !arm && !t->qhead && !t->submitting && !(sequenced && t->broken) &&
                !fwt__engine_stopping(t->eng);
    tl_caller_waits = 0;
    if (claim) {
        if (sequenced)
            op->seq_id = ++t->next_request_id; /* seq_id = request_id + 1, 1-based (§4.3) */
        op->phase = FWT__OP_SUBMITTING;
        t->submitting = op;
        op->direct = 1;
        op->ddeadline = tl_caller_deadline;
        op->refs++; /* direct_run's, so the op outlives the step that releases the flow */
    } else {
        if (t->qtail)
            t->qtail->qnext = op;
        else
            t->qhead = op;
        t->qtail = op;
    }
    fwt_future *f = op->f; /* the op may be gone once the worker has it */
    pthread_mutex_unlock(&t->mu);
    if (arm && fwt__engine_post(t->eng, 0, arm_deadline, op, NULL) != FWT_OK)
        op_unref(op);
    if (claim)
        tl_claimed = op;
    else
        kick(t);
    *out = f;
    fwt__last_ok();
    return FWT_OK;
}

/* ==== retrieve_future ===================================================== */

#define BAD400_RETRIES 3

static void poll_send(fwt__top *op);

static void timer_fire(void *ud)
{
    fwt__top *op = ud;
    pthread_mutex_lock(&op->t->mu);
    op->timer_id = 0;
    pthread_mutex_unlock(&op->t->mu);
    if (op->future_done) {
        fwt__top_release(op);
        return;
    }
    if (fwt__engine_stopping(op->t->eng)) {
        fwt__top_finish(op, FWT_ECANCELED, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    poll_send(op);
}

static void repoll_after(fwt__top *op, uint64_t delay_ms)
{
    if (delay_ms == 0) {
        poll_send(op);
        return;
    }
    handover(op); /* waits are the worker's timers */
    uint64_t id = 0;
    if (fwt__engine_post(op->t->eng, delay_ms, timer_fire, op, &id) != FWT_OK) {
        fwt__top_finish(op, FWT_ECANCELED, NULL, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    pthread_mutex_lock(&op->t->mu);
    op->timer_id = id;
    pthread_mutex_unlock(&op->t->mu);
}

/* After a fast try_again / 408 / 5xx: wait out the rest of the floor so a server that does not long-poll is not hammered. */
static void repoll_floor(fwt__top *op)
{
    uint64_t floor_ms = (uint64_t)fwt__client_options(op->t->client)->poll_floor_ms;
    uint64_t spent = fwt__engine_now_ms(op->t->eng) - op->poll_start_ms;
    repoll_after(op, spent >= floor_ms ? 0 : floor_ms - spent);
}

/* 429 and connection-class errors: min(base * 2^k, cap) with k consecutive such errors (§11.6), no jitter. */
static void repoll_backoff(fwt__top *op)
{
    uint64_t d = (uint64_t)fwt__backoff_next(&op->backoff, fwt__engine_random(op->t->eng));
    fwt__log(fwt__client_logger(op->t->client), FWT_LOG_DEBUG, "retrieve_future %s: backing off %llu ms",
             op->request_id, (unsigned long long)d);
    repoll_after(op, d);
}

__attribute__((format(printf, 4, 5))) static void fail(fwt__top *op, int code, long st, const char *fmt, ...)
{
    fwt__err e;
    fwt__err_init(&e);
    va_list ap;
    va_start(ap, fmt);
    fwt__err_setv(&e, code, fmt, ap);
    va_end(ap);
    e.pub.http_status = (int32_t)st;
    fwt__top_finish(op, code, &e, FWT__VALUE_NONE, NULL, NULL);
}

static void on_result(fwt__top *op, fwt__reply *r)
{
    const cJSON *j = r->json;
    if (!j || !cJSON_IsObject(j)) {
        fail(op, FWT_EPROTO, r->http_status, "retrieve_future (%s): the reply is not a JSON object", op->route);
        return;
    }
    const char *type = NULL, *status = NULL;
    if (fwt__json_get_string(j, "type", &type) == FWT_OK && strcmp(type, "try_again") == 0) {
        fwt__backoff_reset(&op->backoff);
        repoll_floor(op);
        return;
    }
    if (fwt__json_get_string(j, "status", &status) == FWT_OK && strcmp(status, "complete_metadata") == 0) {
        fwt__backoff_reset(&op->backoff); /* we always send allow_metadata_only:false; re-poll with false (§11.6) */
        repoll_floor(op);
        return;
    }
    const cJSON *err = fwt__json_get(j, "error");
    if (err && !cJSON_IsNull(err)) {
        /* RequestFailedResponse: {"error": msg, "category": "user"|"server"|"unknown"} */
        const char *cat = NULL;
        int category = FWT_CATEGORY_UNKNOWN;
        if (fwt__json_get_string(j, "category", &cat) == FWT_OK) {
            if (strcmp(cat, "user") == 0)
                category = FWT_CATEGORY_USER;
            else if (strcmp(cat, "server") == 0)
                category = FWT_CATEGORY_SERVER;
        }
        char *msg = cJSON_IsString(err) ? fwt__strdup(err->valuestring) : fwt__json_print(err);
        char *clean = fwt__client_scrub_dup(op->t->client, msg ? msg : "");
        /* A canonical code in the error (or beside it) states the kind: NOT_FOUND → FWT_ENOTFOUND, ... */
        int st = fwt__status_from_json(cJSON_IsObject(err) ? err : j, FWT_EREMOTE);
        fwt__err e;
        fwt__err_init(&e);
        fwt__err_set(&e, st, "%s failed on the server (%s error): %s", op->route,
                     category == FWT_CATEGORY_USER ? "user" : category == FWT_CATEGORY_SERVER ? "server" : "unknown",
                     clean ? clean : "");
        fwt__free_mem(msg);
        fwt__free_mem(clean);
        e.pub.category = category;
        e.pub.http_status = (int32_t)r->http_status;
        fwt__err_set_request_id(&e, op->request_id);
        fwt__top_finish(op, st, &e, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    fwt__err e;
    fwt__err_init(&e);
    fwt__value_kind kind = FWT__VALUE_NONE;
    void *value = NULL;
    void (*vfree)(void *) = NULL;
    int rc = op->parse(op, j, &e, &kind, &value, &vfree);
    if (rc != FWT_OK) {
        if (e.pub.code == FWT_OK)
            fwt__err_set(&e, rc, "%s: malformed result", op->route);
        fwt__top_finish(op, rc, &e, FWT__VALUE_NONE, NULL, NULL);
        return;
    }
    fwt__top_finish(op, FWT_OK, NULL, kind, value, vfree);
}

static void on_poll(fwt__reply *r, void *ud)
{
    fwt__top *op = ud;
    pthread_mutex_lock(&op->t->mu);
    op->req_id = 0;
    pthread_mutex_unlock(&op->t->mu);
    if (op->future_done) { /* cancelled or timed out: the future already completed */
        fwt__reply_free(r);
        fwt__top_release(op);
        return;
    }
    long st = r->http_status;
    int code = r->err.pub.code;
    if (r->transport_failed || st == 0) {
        /* No complete HTTP response. Connection-class errors back off; the rest are final. */
        if (code == FWT_ETIMEDOUT || code == FWT_ECONNECT) {
            fwt__reply_free(r);
            repoll_backoff(op);
            return;
        }
        fwt__top_finish(op, code, &r->err, FWT__VALUE_NONE, NULL, NULL);
        fwt__reply_free(r);
        return;
    }
    if (st != 402)
        op->billing_start_ms = 0;
    if (st >= 200 && st < 300) {
        fwt__backoff_reset(&op->backoff);
        on_result(op, r);
    } else if (st == 408) {
        fwt__backoff_reset(&op->backoff);
        if (r->json) /* "try_again pretending to be an HTTP error" resets the 400 budget (§11.6) */
            op->bad400 = 0;
        repoll_floor(op);
    } else if (st >= 500 && st < 600) {
        fwt__backoff_reset(&op->backoff);
        repoll_floor(op);
    } else if (st == 429) {
        repoll_backoff(op);
    } else if (st == 400 && r->body_len == 0) {
        repoll_backoff(op); /* proxy rejection: connection-class (§11.6) */
    } else if (st == 400) {
        fwt__backoff_reset(&op->backoff);
        if (++op->bad400 > BAD400_RETRIES)
            fwt__top_finish(op, r->err.pub.code, &r->err, FWT__VALUE_NONE, NULL, NULL);
        else
            repoll_floor(op);
    } else if (st == 402) {
        fwt__backoff_reset(&op->backoff);
        uint64_t now = fwt__engine_now_ms(op->t->eng);
        if (!op->billing_start_ms)
            op->billing_start_ms = now ? now : 1;
        if (now - op->billing_start_ms >= (uint64_t)FWT__BILLING_MAX_MS) {
            fail(op, FWT_EHTTP, st, "%s: billing pause (HTTP 402) lasted longer than 3600 s", op->route);
        } else {
            fwt__log(fwt__client_logger(op->t->client), FWT_LOG_WARN,
                     "retrieve_future %s: billing pause (HTTP 402); retrying in 5 s", op->request_id);
            repoll_after(op, (uint64_t)fwt__backoff_next(&op->billing, fwt__engine_random(op->t->eng)));
        }
    } else if (st == 410) {
        fail(op, FWT_EEXPIRED, st, "%s: promise expired; the operation is lost and was not re-submitted", op->route);
    } else {
        fwt__top_finish(op, r->err.pub.code ? r->err.pub.code : FWT_EHTTP, &r->err, FWT__VALUE_NONE, NULL, NULL);
    }
    fwt__reply_free(r);
}

static void poll_send(fwt__top *op)
{
    fwt_training *t = op->t;
    char iter[64], rtt[96], rtype[96];
    snprintf(iter, sizeof iter, "X-Tinker-Request-Iteration: %d", op->iter);
    snprintf(rtype, sizeof rtype, "X-Tinker-Request-Type: %s", op->rtype);
    snprintf(rtt, sizeof rtt, "X-Tinker-Create-Promise-Roundtrip-Time: %.6f", op->promise_rtt_s);
    const char *hdrs[4] = {iter, rtype, op->iter == 0 ? rtt : NULL, NULL};
    cJSON *body = cJSON_CreateObject();
    char *url = fwt__training_route(t, "retrieve_future");
    int rc = (body && url) ? FWT_OK : FWT_ENOMEM;
    if (!rc) rc = fwt__json_add_string(body, "request_id", op->request_id);
    if (!rc) rc = fwt__json_add_bool(body, "allow_metadata_only", 0);
    uint64_t id = 0;
    if (!rc) {
        /* Per-poll header and body deadlines are the training's own (45 s + 45 s by default), independent of
         * the client-wide ones (docs/protocol.md §4.2). */
        fwt__call call = {.plane = FWT__PLANE_TRAINER, .method = "POST", .url = url, .body = body,
                          .extra_headers = hdrs, .retry = FWT__RC_NONE, .header_timeout_ms = t->poll_header_ms,
                          .body_timeout_ms = t->poll_body_ms};
        op->poll_start_ms = fwt__engine_now_ms(t->eng);
        op->iter++;
        rc = op_send(op, &call, on_poll, &id);
    }
    cJSON_Delete(body);
    fwt__free_mem(url);
    if (rc) {
        fail(op, rc, 0, "retrieve_future (%s): could not send the poll", op->route);
        return;
    }
    pthread_mutex_lock(&t->mu);
    op->req_id = id;
    op->phase = FWT__OP_POLLING;
    pthread_mutex_unlock(&t->mu);
}

void fwt__poll_start(fwt__top *op)
{
    pthread_mutex_lock(&op->t->mu);
    op->phase = FWT__OP_POLLING;
    pthread_mutex_unlock(&op->t->mu);
    op->iter = 0;
    fwt__backoff_reset(&op->backoff);
    op->bad400 = 0;
    poll_send(op);
}

/* ==== on the calling thread ================================================ */

void fwt__top_caller_begin(fwt_training *t, int64_t timeout_ms)
{
    /* An op deadline needs the worker's timer to cut the op short; the worker itself must never
     * block; and under an injected clock the worker moves virtual time whenever it idles, which
     * would jump under this thread's steps (the poll floor would read as spent). */
    tl_caller_waits = t && t->op_timeout_ms <= 0 && t->eng && !fwt__engine_on_worker(t->eng) &&
                      !fwt__engine_virtual_time(t->eng);
    tl_caller_deadline = timeout_ms > 0 ? mono_ms() + (uint64_t)timeout_ms : 0;
    tl_claimed = NULL;
}

/* Run the steps of an op this thread claimed until it finishes or is handed to the worker. */
static void direct_run(fwt__top *op)
{
    submit(op);
    while (op->dcb) {
        fwt__call_done cb = op->dcb;
        fwt__reply *r = op->dreply;
        op->dcb = NULL;
        op->dreply = NULL;
        if (!op->future_done && fwt_future_is_done(op->f))
            op->future_done = 1; /* cancelled meanwhile (training or client free): on_poll stops */
        cb(r, op);
    }
    handover(op); /* finished: nothing for this thread to keep */
    op_unref(op);
}

int fwt__top_result(int start_rc, fwt_future *f, int64_t timeout_ms, fwt__value_kind kind, void **out)
{
    fwt__top *op = tl_claimed;
    uint64_t op_deadline = tl_caller_deadline;
    tl_claimed = NULL;
    tl_caller_waits = 0;
    if (start_rc == FWT_OK && op && op->f == f) {
        direct_run(op);
        if (timeout_ms > 0) { /* what is left of the twin's bound (> 0: 0 would mean none) */
            uint64_t now = mono_ms();
            timeout_ms = now + 1 < op_deadline ? (int64_t)(op_deadline - now) : 1;
        }
    }
    return fwt__future_result(start_rc, f, timeout_ms, kind, out);
}
