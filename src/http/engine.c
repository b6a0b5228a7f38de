/*
 * The engine's worker: one thread per engine driving a curl multi handle.
 * Other threads only append to the inbox / cancel queue under `mu` and wake
 * the worker with curl_multi_wakeup; everything else happens here.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fwtrain/client.h"
#include "fwtrain/common.h"
#include "http/engine_int.h"

#define FWT__DEFAULT_MAX_BYTES (64 * 1024 * 1024)
#define FWT__SHUTDOWN_ROUNDS 1000

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_rc = CURLE_FAILED_INIT;
static _Thread_local const fwt__engine *tl_worker;

static void curl_init_once(void)
{
    g_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------- lists and queues ---------- */

/* Push op on the list `which` (FWT__LIST_LIVE under mu, FWT__LIST_ACTIVE on the worker). */
static void list_push(fwt__op **head, fwt__op *op, int which)
{
    op->link[which].prev = NULL;
    op->link[which].next = *head;
    if (*head)
        (*head)->link[which].prev = op;
    *head = op;
}

static void list_unlink(fwt__op **head, fwt__op *op, int which)
{
    fwt__op *prev = op->link[which].prev, *next = op->link[which].next;
    if (prev)
        prev->link[which].next = next;
    else if (*head == op)
        *head = next;
    if (next)
        next->link[which].prev = prev;
    op->link[which].prev = op->link[which].next = NULL;
}

static void inbox_push(fwt__engine *e, fwt__op *op)
{
    op->qnext = NULL;
    if (e->inbox_tail)
        e->inbox_tail->qnext = op;
    else
        e->inbox_head = op;
    e->inbox_tail = op;
}

/* Mark finished and drop from the live list. Returns 1 if the op may be freed now. */
static int retire(fwt__engine *e, fwt__op *op, int *was_cancelled)
{
    pthread_mutex_lock(&e->mu);
    if (was_cancelled)
        *was_cancelled = op->cancelled;
    op->finished = 1;
    list_unlink(&e->live, op, FWT__LIST_LIVE);
    int can_free = !op->in_cancel_q;
    if (!can_free)
        op->zombie = 1;
    pthread_mutex_unlock(&e->mu);
    return can_free;
}

/* ---------- completion ---------- */

static void finish_req(fwt__engine *e, fwt__op *op, fwt__http_result *res)
{
    fwt__req *r = op->req;
    fwt__heap_remove(e, op);
    if (r->easy)
        fwt__transfer_stop(e, op);
    list_unlink(&e->active, op, FWT__LIST_ACTIVE);
    e->n_owned--;
    r->state = FWT__RS_DONE;
    int cancelled = 0;
    int can_free = retire(e, op, &cancelled);
    if (res && cancelled && res->status != FWT_ECANCELED) {
        /* cancel() already told its caller it won: the outcome is ECANCELED. */
        fwt__http_result_free(res);
        res = fwt__result_new_error(FWT_ECANCELED, "request cancelled");
    }
    if (!res)
        res = r->fallback;
    else
        fwt__http_result_free(r->fallback);
    r->fallback = NULL;
    res->attempts = r->attempts;
    fwt__http_done_fn cb = r->cb;
    void *ud = r->ud;
    op->req = NULL;
    fwt__req_free(r);
    if (can_free)
        fwt__free_mem(op);
    cb(res, ud);
}

static void finish_error(fwt__engine *e, fwt__op *op, int status, const char *msg)
{
    finish_req(e, op, fwt__result_new_error(status, msg));
}

static void run_task(fwt__engine *e, fwt__op *op)
{
    fwt__heap_remove(e, op);
    e->n_owned--;
    int cancelled = 0;
    int can_free = retire(e, op, &cancelled);
    fwt__task_fn fn = op->fn;
    void *ud = op->ud;
    if (can_free)
        fwt__free_mem(op);
    if (!cancelled)
        fn(ud);
}

/* ---------- attempts ---------- */

/* An attempt ended with `res` (owned). Retry or complete (settle.c decides). */
static void attempt_ended(fwt__engine *e, fwt__op *op, fwt__http_result *res, int conn_class)
{
    fwt__req *r = op->req;
    uint64_t now = fwt__engine_now_ms(e);
    fwt__http_result *final;
    int64_t delay;
    if (fwt__req_settle(e, r, res, conn_class, now, &final, &delay)) {
        finish_req(e, op, final);
        return;
    }
    r->state = FWT__RS_WAITING;
    fwt__heap_update(e, op, now + (uint64_t)delay);
}

static void start_attempt(fwt__engine *e, fwt__op *op)
{
    int rc = fwt__transfer_start(e, op);
    if (rc != FWT_OK)
        finish_error(e, op, rc, "could not start the transfer");
}

/* A running transfer's timer fired: overall deadline, header or body timeout. */
static void transfer_timer(fwt__engine *e, fwt__op *op, uint64_t now)
{
    fwt__transfer_stop(e, op);
    fwt__http_result *res;
    if (fwt__req_timer_outcome(e, op->req, now, &res))
        finish_req(e, op, res);
    else
        attempt_ended(e, op, res, 1);
}

/* ---------- worker loop ---------- */

static void run_timers(fwt__engine *e)
{
    uint64_t now = fwt__engine_now_ms(e);
    fwt__op *op;
    while ((op = fwt__heap_peek(e)) && op->due <= now) {
        fwt__heap_pop(e);
        if (op->kind == FWT__OP_TASK)
            run_task(e, op);
        else if (op->req->state == FWT__RS_WAITING)
            start_attempt(e, op);
        else if (op->req->state == FWT__RS_RUNNING)
            transfer_timer(e, op, now);
        now = fwt__engine_now_ms(e);
    }
}

static void take_inbox(fwt__engine *e, fwt__op *list)
{
    while (list) {
        fwt__op *op = list;
        list = op->qnext;
        op->qnext = NULL;
        int room = fwt__heap_reserve(e, e->n_owned + 1) == 0;
        e->n_owned++;
        if (op->kind == FWT__OP_TASK) {
            op->due = fwt__engine_now_ms(e) + op->delay_ms;
            if (!room || fwt__heap_push(e, op) != 0)
                run_task(e, op); /* no memory for the timer: run it early rather than never */
        } else {
            list_push(&e->active, op, FWT__LIST_ACTIVE);
            if (!room)
                finish_error(e, op, FWT_ENOMEM, "out of memory");
            else if (atomic_load(&e->stopping))
                finish_error(e, op, FWT_ECANCELED, "engine shutting down");
            else
                start_attempt(e, op);
        }
    }
}

static void take_cancels(fwt__engine *e, fwt__op *list)
{
    while (list) {
        fwt__op *op = list;
        list = op->cnext;
        op->cnext = NULL;
        pthread_mutex_lock(&e->mu);
        op->in_cancel_q = 0;
        int zombie = op->zombie;
        pthread_mutex_unlock(&e->mu);
        if (zombie) {
            fwt__free_mem(op);
            continue;
        }
        if (op->kind == FWT__OP_TASK)
            run_task(e, op); /* sees `cancelled` and only releases the op */
        else
            finish_error(e, op, FWT_ECANCELED, "request cancelled");
    }
}

/* Detach inbox and cancel queue. Returns 1 if both were empty. */
enum { GRAB_OPEN = 0, GRAB_CLOSE_IF_EMPTY, GRAB_CLOSE };

static int grab(fwt__engine *e, fwt__op **inbox, fwt__op **cancels, int close_mode)
{
    pthread_mutex_lock(&e->mu);
    *inbox = e->inbox_head;
    *cancels = e->cancel_q;
    e->inbox_head = e->inbox_tail = NULL;
    e->cancel_q = NULL;
    int empty = !*inbox && !*cancels;
    if ((empty && close_mode == GRAB_CLOSE_IF_EMPTY) || close_mode == GRAB_CLOSE)
        e->closed = 1;
    pthread_mutex_unlock(&e->mu);
    return empty;
}

/* Cancel every request and run every pending task once. Tasks may post more
 * tasks while this runs; after FWT__SHUTDOWN_ROUNDS rounds the engine closes
 * (further posts get FWT_ESTATE) so a task that re-posts itself cannot keep
 * fwt__engine_free from returning. */
static void shutdown_all(fwt__engine *e)
{
    for (int round = 0;; round++) {
        while (e->active)
            finish_error(e, e->active, FWT_ECANCELED, "engine shutting down");
        fwt__op *op;
        while ((op = fwt__heap_pop(e)) != NULL)
            if (op->kind == FWT__OP_TASK)
                run_task(e, op);
        fwt__op *inbox, *cancels;
        int mode = round < FWT__SHUTDOWN_ROUNDS ? GRAB_CLOSE_IF_EMPTY : GRAB_CLOSE;
        if (grab(e, &inbox, &cancels, mode) && mode == GRAB_CLOSE_IF_EMPTY)
            break;
        take_inbox(e, inbox);
        take_cancels(e, cancels);
        if (mode == GRAB_CLOSE)
            break;
    }
    /* Closed: nothing new can arrive; finish what the last round took. Cancels can
     * still name ops finished meanwhile (zombies), so drain until quiet. */
    for (;;) {
        while (e->active)
            finish_error(e, e->active, FWT_ECANCELED, "engine shutting down");
        fwt__op *op;
        while ((op = fwt__heap_pop(e)) != NULL)
            if (op->kind == FWT__OP_TASK)
                run_task(e, op);
        fwt__op *inbox, *cancels;
        if (grab(e, &inbox, &cancels, GRAB_CLOSE))
            break;
        take_inbox(e, inbox);
        take_cancels(e, cancels);
    }
}

static void process_done(fwt__engine *e)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        fwt__op *op = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&op);
        CURLcode rc = m->data.result;
        if (!op || !op->req || op->req->easy != m->easy_handle)
            continue;
        int conn_class = 0;
        fwt__http_result *res = fwt__transfer_outcome(e, op, rc, &conn_class);
        fwt__transfer_stop(e, op);
        attempt_ended(e, op, res, conn_class);
    }
}

static void *worker_main(void *arg)
{
    fwt__engine *e = arg;
    tl_worker = e;
    for (;;) {
        fwt__op *inbox, *cancels;
        grab(e, &inbox, &cancels, GRAB_OPEN);
        take_inbox(e, inbox);
        take_cancels(e, cancels);
        if (atomic_load(&e->stopping)) {
            shutdown_all(e);
            break;
        }
        run_timers(e);
        int still = 0;
        curl_multi_perform(e->multi, &still);
        process_done(e);

        fwt__op *top = fwt__heap_peek(e);
        uint64_t now = fwt__engine_now_ms(e);
        uint64_t wait = top ? (top->due > now ? top->due - now : 0) : FWT__POLL_MAX_MS;
        if (wait > FWT__POLL_MAX_MS)
            wait = FWT__POLL_MAX_MS;
        if (wait == 0)
            continue;
        if (e->fake_sleep && e->n_running == 0 && top) {
            pthread_mutex_lock(&e->mu);
            int idle = !e->inbox_head && !e->cancel_q;
            pthread_mutex_unlock(&e->mu);
            if (idle && !atomic_load(&e->stopping))
                e->clock.sleep_ms(e->clock.ctx, wait);
            continue;
        }
        curl_multi_poll(e->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

/* ---------- public ---------- */

int fwt__engine_new(fwt__engine **out, const fwt__engine_config *cfg)
{
    if (!out)
        return FWT_EINVAL;
    *out = NULL;
    if (cfg && (cfg->max_response_bytes < 0 || cfg->max_pooled_handles < 0 || cfg->max_idle_lanes < 0))
        return FWT_EINVAL;
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_rc != CURLE_OK)
        return FWT_ENOMEM;
    fwt__engine *e = fwt__calloc(1, sizeof *e);
    if (!e)
        return FWT_ENOMEM;
    if (cfg) {
        e->clock = cfg->clock;
        e->log = cfg->log;
        e->log_ctx = cfg->log_ctx;
        e->log_debug = cfg->log && !cfg->skip_debug_log;
    }
    e->user_agent = fwt__strdup(cfg && cfg->user_agent ? cfg->user_agent : "libfwtrain");
    int copies_ok = 1;
    if (cfg && cfg->proxy)
        copies_ok = (e->proxy = fwt__strdup(cfg->proxy)) != NULL;
    if (copies_ok && cfg && cfg->redact && *cfg->redact) {
        copies_ok = (e->redact = fwt__strdup(cfg->redact)) != NULL;
        e->redact_len = e->redact ? strlen(e->redact) : 0;
    }
    e->max_response_bytes = cfg && cfg->max_response_bytes ? cfg->max_response_bytes : FWT__DEFAULT_MAX_BYTES;
    e->max_pooled = cfg && cfg->max_pooled_handles ? cfg->max_pooled_handles : 16;
    e->max_idle_lanes = cfg && cfg->max_idle_lanes ? cfg->max_idle_lanes : 16;
    e->pool = fwt__calloc((size_t)e->max_pooled, sizeof *e->pool);
    e->multi = curl_multi_init();
    e->next_id = 1;
    fwt__clock_fill_defaults(e);
    atomic_init(&e->stopping, 0);
    if (!e->user_agent || !e->pool || !e->multi || !copies_ok)
        goto fail;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->rng_mu, NULL);
    pthread_cond_init(&e->direct_cv, NULL);
    if (pthread_create(&e->thread, NULL, worker_main, e) != 0) {
        pthread_mutex_destroy(&e->mu);
        pthread_mutex_destroy(&e->rng_mu);
        pthread_cond_destroy(&e->direct_cv);
        goto fail;
    }
    *out = e;
    return FWT_OK;
fail:
    if (e->multi)
        curl_multi_cleanup(e->multi);
    fwt__free_mem(e->pool);
    fwt__free_mem(e->user_agent);
    fwt__free_mem(e->proxy);
    fwt__free_secret(e->redact);
    fwt__free_mem(e);
    return FWT_ENOMEM;
}

void fwt__engine_free(fwt__engine *e)
{
    if (!e)
        return;
    if (fwt__engine_on_worker(e)) {
        /* Joining ourselves would deadlock; leaking is the lesser evil. */
        fwt__engine_logf(e, FWT_LOG_ERROR, "fwt__engine_free called on the worker thread; ignored");
        return;
    }
    atomic_store(&e->stopping, 1);
    curl_multi_wakeup(e->multi);
    pthread_join(e->thread, NULL);
    fwt__engine_lanes_shutdown(e);
    for (int i = 0; i < e->pool_len; i++)
        curl_easy_cleanup(e->pool[i]);
    curl_multi_cleanup(e->multi);
    fwt__free_mem(e->pool);
    fwt__free_mem(e->heap);
    fwt__free_mem(e->user_agent);
    fwt__free_mem(e->proxy);
    fwt__free_secret(e->redact);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->rng_mu);
    pthread_cond_destroy(&e->direct_cv);
    fwt__free_mem(e);
}

int fwt__engine_submit(fwt__engine *e, const fwt__http_spec *spec, fwt__http_done_fn cb, void *ud, uint64_t *out_id)
{
    if (out_id)
        *out_id = 0;
    if (!e || !spec || !cb)
        return FWT_EINVAL;
    if (atomic_load(&e->stopping))
        return FWT_ECANCELED;
    int err;
    fwt__req *r = fwt__req_new(spec, e, fwt__engine_now_ms(e), 0, &err);
    if (!r)
        return err;
    r->fallback = fwt__result_new_error(FWT_ENOMEM, "out of memory");
    fwt__op *op = fwt__calloc(1, sizeof *op);
    if (!op || !r->fallback) {
        fwt__free_mem(op);
        fwt__req_free(r);
        return FWT_ENOMEM;
    }
    op->kind = FWT__OP_REQ;
    op->heap_idx = SIZE_MAX;
    op->req = r;
    r->op = op;
    r->cb = cb;
    r->ud = ud;
    pthread_mutex_lock(&e->mu);
    if (e->closed || atomic_load(&e->stopping)) {
        pthread_mutex_unlock(&e->mu);
        fwt__req_free(r);
        fwt__free_mem(op);
        return FWT_ECANCELED;
    }
    op->id = e->next_id++;
    list_push(&e->live, op, FWT__LIST_LIVE);
    inbox_push(e, op);
    uint64_t id = op->id;
    pthread_mutex_unlock(&e->mu);
    curl_multi_wakeup(e->multi);
    if (out_id)
        *out_id = id;
    return FWT_OK;
}

int fwt__engine_post(fwt__engine *e, uint64_t delay_ms, fwt__task_fn fn, void *ud, uint64_t *out_id)
{
    if (out_id)
        *out_id = 0;
    if (!e || !fn)
        return FWT_EINVAL;
    fwt__op *op = fwt__calloc(1, sizeof *op);
    if (!op)
        return FWT_ENOMEM;
    op->kind = FWT__OP_TASK;
    op->heap_idx = SIZE_MAX;
    op->fn = fn;
    op->ud = ud;
    /* Keep due times far from overflow. */
    op->delay_ms = delay_ms > UINT64_MAX / 4 ? UINT64_MAX / 4 : delay_ms;
    pthread_mutex_lock(&e->mu);
    if (e->closed) {
        pthread_mutex_unlock(&e->mu);
        fwt__free_mem(op);
        return FWT_ESTATE;
    }
    op->id = e->next_id++;
    list_push(&e->live, op, FWT__LIST_LIVE);
    inbox_push(e, op);
    uint64_t id = op->id;
    pthread_mutex_unlock(&e->mu);
    curl_multi_wakeup(e->multi);
    if (out_id)
        *out_id = id;
    return FWT_OK;
}

int fwt__engine_cancel(fwt__engine *e, uint64_t id)
{
    if (!e || !id)
        return 0;
    int hit = 0;
    pthread_mutex_lock(&e->mu);
    for (fwt__op *op = e->live; op; op = op->link[FWT__LIST_LIVE].next) {
        if (op->id != id)
            continue;
        if (!op->finished && !op->cancelled) {
            op->cancelled = 1;
            op->in_cancel_q = 1;
            op->cnext = e->cancel_q;
            e->cancel_q = op;
            hit = 1;
        }
        break;
    }
    pthread_mutex_unlock(&e->mu);
    if (hit)
        curl_multi_wakeup(e->multi);
    return hit;
}

int fwt__engine_on_worker(const fwt__engine *e)
{
    return e && tl_worker == e;
}

int fwt__engine_stopping(const fwt__engine *e)
{
    return e ? atomic_load(&((fwt__engine *)e)->stopping) : 0;
}
