/*
 * The per-training submit queue (protocol §4.3): ops are submitted one at a
 * time in call order, each getting seq_id = request_id + 1 when it goes out;
 * their results are then retrieved concurrently (training_poll.c).
 * A submit is retried by the engine with the same body (same seq_id) and the
 * same idempotency key; an accepted op is never re-submitted.
 */
#include <stdio.h>
#include <string.h>

#include "api/training_impl.h"

static void drive_task(void *ud);
static void submit_abandon(fwt__top *op);

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

/* protocol §2.3: a 402 on a submit is a billing pause: retry every 5 s while inside the pause window. */
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

static void on_submit(fwt__reply *r, void *ud)
{
    fwt__top *op = ud;
    fwt_training *t = op->t;
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
    pthread_mutex_unlock(&t->mu);
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
        rc = fwt__call_async(t->client, &call, on_submit, op, &id);
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
    if (t->qtail)
        t->qtail->qnext = op;
    else
        t->qhead = op;
    t->qtail = op;
    fwt_future *f = op->f; /* the op may be gone once the worker has it */
    pthread_mutex_unlock(&t->mu);
    if (arm && fwt__engine_post(t->eng, 0, arm_deadline, op, NULL) != FWT_OK)
        op_unref(op);
    kick(t);
    *out = f;
    fwt__last_ok();
    return FWT_OK;
}
