/*
 * Caller-thread runs (fwt__engine_run): a blocking request performed on the
 * thread that asked for it. Handing a request to the worker and the result
 * back costs two thread wake-ups, and on a small VM each costs more than a
 * whole loopback round trip (README "Benchmarks"); a blocking call has a
 * thread that is waiting anyway, so it does the transfer itself.
 *
 * Each run borrows a lane: a private multi handle, whose connection cache
 * keeps connections open between calls, and one easy handle. Lanes are
 * pooled under the engine mutex. Retries, deadlines, safety options and logs
 * are the worker's (transfer.c, settle.c); only the waiting differs.
 * fwt__engine_free wakes busy lanes (their runs end with FWT_ECANCELED) and
 * waits for every run to hand its lane back.
 */
#include <stdint.h>

#include "fwtrain/common.h"
#include "http/engine_int.h"

static void lane_free(fwt__lane *l)
{
    if (!l)
        return;
    if (l->easy)
        curl_easy_cleanup(l->easy);
    if (l->multi)
        curl_multi_cleanup(l->multi);
    fwt__free_mem(l);
}

static fwt__lane *lane_new(const fwt__engine *e)
{
    fwt__lane *l = fwt__calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->multi = curl_multi_init();
    l->easy = fwt__easy_new(e);
    if (!l->multi || !l->easy) {
        lane_free(l);
        return NULL;
    }
    return l;
}

/* Count the run first, so fwt__engine_free waits for it whatever happens next. */
static fwt__lane *lane_acquire(fwt__engine *e, int *err)
{
    pthread_mutex_lock(&e->mu);
    if (atomic_load(&e->stopping)) {
        pthread_mutex_unlock(&e->mu);
        *err = FWT_ECANCELED;
        return NULL;
    }
    e->direct_running++;
    fwt__lane *l = e->lanes_idle;
    if (l) { /* the common case: one critical section */
        e->lanes_idle = l->next;
        e->lanes_idle_n--;
        l->next = e->lanes_busy;
        e->lanes_busy = l;
        pthread_mutex_unlock(&e->mu);
        return l;
    }
    pthread_mutex_unlock(&e->mu);
    l = lane_new(e);
    pthread_mutex_lock(&e->mu);
    if (l) {
        l->next = e->lanes_busy;
        e->lanes_busy = l;
    } else if (--e->direct_running == 0) {
        pthread_cond_broadcast(&e->direct_cv);
    }
    pthread_mutex_unlock(&e->mu);
    *err = FWT_ENOMEM;
    return l;
}

/* After this returns the engine may be gone: touch nothing of it. */
static void lane_release(fwt__engine *e, fwt__lane *l)
{
    fwt__lane *drop = NULL;
    pthread_mutex_lock(&e->mu);
    for (fwt__lane **pp = &e->lanes_busy; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (!atomic_load(&e->stopping) && e->lanes_idle_n < e->max_idle_lanes) {
        l->next = e->lanes_idle;
        e->lanes_idle = l;
        e->lanes_idle_n++;
    } else {
        drop = l;
    }
    if (--e->direct_running == 0)
        pthread_cond_broadcast(&e->direct_cv);
    pthread_mutex_unlock(&e->mu);
    lane_free(drop);
}

void fwt__engine_lanes_shutdown(fwt__engine *e)
{
    pthread_mutex_lock(&e->mu);
    for (fwt__lane *l = e->lanes_busy; l; l = l->next)
        curl_multi_wakeup(l->multi);
    while (e->direct_running > 0)
        pthread_cond_wait(&e->direct_cv, &e->mu);
    fwt__lane *idle = e->lanes_idle;
    e->lanes_idle = NULL;
    e->lanes_idle_n = 0;
    pthread_mutex_unlock(&e->mu);
    while (idle) {
        fwt__lane *next = idle->next;
        lane_free(idle);
        idle = next;
    }
}

static uint64_t poll_ms(uint64_t wait)
{
    return wait > FWT__POLL_MAX_MS ? FWT__POLL_MAX_MS : wait;
}

enum { ATTEMPT_DONE, ATTEMPT_TIMER, ATTEMPT_STOPPED };

/* Drive the attached attempt until curl finishes it, one of its timers fires or the engine stops. */
static int drive_attempt(fwt__engine *e, fwt__lane *l, fwt__op *op, fwt__http_result **res, int *conn_class)
{
    fwt__req *r = op->req;
    for (;;) {
        int still = 0;
        curl_multi_perform(l->multi, &still);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE || m->easy_handle != r->easy)
                continue;
            *res = fwt__transfer_outcome(e, op, m->data.result, conn_class);
            fwt__transfer_detach(op, l->multi);
            return ATTEMPT_DONE;
        }
        if (atomic_load(&e->stopping)) {
            fwt__transfer_detach(op, l->multi);
            return ATTEMPT_STOPPED;
        }
        uint64_t now = fwt__engine_now_ms(e);
        uint64_t due = fwt__transfer_deadline(r);
        if (due && now >= due) {
            fwt__transfer_detach(op, l->multi);
            return ATTEMPT_TIMER;
        }
        /* curl_multi_poll also wakes for libcurl's own timers and for curl_multi_wakeup. */
        curl_multi_poll(l->multi, NULL, 0, (int)poll_ms(due ? due - now : FWT__POLL_MAX_MS), NULL);
    }
}

/* Wait out a backoff; 0 if the engine began stopping meanwhile. */
static int backoff(fwt__engine *e, fwt__lane *l, int64_t delay_ms)
{
    uint64_t due = fwt__engine_now_ms(e) + (uint64_t)delay_ms;
    for (;;) {
        if (atomic_load(&e->stopping))
            return 0;
        uint64_t now = fwt__engine_now_ms(e);
        if (now >= due)
            return 1;
        if (e->fake_sleep)
            e->clock.sleep_ms(e->clock.ctx, due - now);
        else
            curl_multi_poll(l->multi, NULL, 0, (int)poll_ms(due - now), NULL);
    }
}

/* Every attempt of the request; returns the final result (NULL: out of memory). */
static fwt__http_result *run_attempts(fwt__engine *e, fwt__lane *l, fwt__op *op)
{
    fwt__req *r = op->req;
    for (;;) {
        if (atomic_load(&e->stopping))
            return fwt__result_new_error(FWT_ECANCELED, "engine shutting down");
        if (fwt__transfer_attach(e, op, l->multi, l->easy) != FWT_OK)
            return fwt__result_new_error(FWT_ENOMEM, "could not start the transfer");
        fwt__http_result *res = NULL, *final = NULL;
        int conn_class = 0;
        int how = drive_attempt(e, l, op, &res, &conn_class);
        if (how == ATTEMPT_STOPPED)
            return fwt__result_new_error(FWT_ECANCELED, "engine shutting down");
        uint64_t now = fwt__engine_now_ms(e);
        if (how == ATTEMPT_TIMER) {
            if (fwt__req_timer_outcome(e, r, now, &res))
                return res;
            conn_class = 1;
        }
        int64_t delay;
        if (fwt__req_settle(e, r, res, conn_class, now, &final, &delay))
            return final;
        if (!backoff(e, l, delay)) {
            fwt__http_result_free(r->last);
            r->last = NULL;
            return fwt__result_new_error(FWT_ECANCELED, "engine shutting down");
        }
    }
}

int fwt__engine_run(fwt__engine *e, const fwt__http_spec *spec, fwt__http_result **out)
{
    if (out)
        *out = NULL;
    if (!e || !spec || !out)
        return FWT_EINVAL;
    if (fwt__engine_on_worker(e))
        return FWT_ESTATE; /* it would stall every other request for the whole transfer */
    if (atomic_load(&e->stopping))
        return FWT_ECANCELED;
    int err;
    fwt__req *r = fwt__req_new(spec, e, fwt__engine_now_ms(e), 1, &err);
    if (!r)
        return err;
    /* No fallback result (r->fallback): out of memory is this function's return code. */
    fwt__op op = {.kind = FWT__OP_REQ, .heap_idx = SIZE_MAX, .req = r};
    r->op = &op;
    fwt__lane *l = lane_acquire(e, &err);
    if (!l) {
        fwt__req_free(r);
        return err;
    }
    fwt__http_result *res = run_attempts(e, l, &op);
    lane_release(e, l);
    if (res)
        res->attempts = r->attempts;
    fwt__req_free(r);
    *out = res;
    return res ? FWT_OK : FWT_ENOMEM;
}
