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
#define FWT__DEFAULT_MAX_TRANSFERS 64
#define FWT__IDX_MIN 256 /* id index buckets at start */
#define FWT__SHUTDOWN_ROUNDS 1000

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_rc = CURLE_FAILED_INIT;
static _Thread_local const fwt__engine *tl_worker;

static void curl_init_once(void)
{
    g_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------- lists and queues ---------- */

/* Push op on the list `which` (worker only). */
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

/* ---------- id index (mu) ----------
 * Every op not finished, by id, so fwt__engine_cancel finds one in O(1) however many
 * are pending (ids are sequential: the low bits spread them evenly). */

static void idx_grow(fwt__engine *e)
{
    size_t nc = e->idx_cap * 2;
    fwt__op **nb = fwt__calloc(nc, sizeof *nb);
    if (!nb)
        return; /* longer chains: slower, still correct */
    for (size_t i = 0; i < e->idx_cap; i++) {
        fwt__op *op = e->idx[i];
        while (op) {
            fwt__op *next = op->hnext;
            size_t k = (size_t)op->id & (nc - 1);
            op->hnext = nb[k];
            nb[k] = op;
            op = next;
        }
    }
    fwt__free_mem(e->idx);
    e->idx = nb;
    e->idx_cap = nc;
}

static void idx_add(fwt__engine *e, fwt__op *op)
{
    if (e->idx_len >= e->idx_cap)
        idx_grow(e);
    size_t k = (size_t)op->id & (e->idx_cap - 1);
    op->hnext = e->idx[k];
    e->idx[k] = op;
    e->idx_len++;
}

static void idx_del(fwt__engine *e, fwt__op *op)
{
    for (fwt__op **pp = &e->idx[(size_t)op->id & (e->idx_cap - 1)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == op) {
            *pp = op->hnext;
            e->idx_len--;
            break;
        }
    }
    op->hnext = NULL;
}

static fwt__op *idx_find(const fwt__engine *e, uint64_t id)
{
    fwt__op *op = e->idx[(size_t)id & (e->idx_cap - 1)];
    while (op && op->id != id)
        op = op->hnext;
    return op;
}

/* Mark finished and drop from the index. Returns 1 if the op may be freed now. */
static int retire(fwt__engine *e, fwt__op *op, int *was_cancelled)
{
    pthread_mutex_lock(&e->mu);
    if (was_cancelled)
        *was_cancelled = op->cancelled;
    op->finished = 1;
    idx_del(e, op);
    int can_free = !op->in_cancel_q;
    if (!can_free)
        op->zombie = 1;
    pthread_mutex_unlock(&e->mu);
    return can_free;
}

/* ---------- admission (worker) ----------
 * At most max_transfers attempts in the multi handle, max_per_host per origin; the other
 * requests wait in their origin's FIFO (state ADMIT) with no easy handle and no socket.
 * A queued request is on the timer heap only for its deadline, and on the id index like
 * any other, so cancelling or timing out one costs O(1) (O(log n) for the heap). */

static fwt__host *host_get(fwt__engine *e, const fwt__req *r)
{
    for (fwt__host *h = e->hosts; h; h = h->next) {
        if (h->origin_len == r->origin_len && memcmp(h->origin, r->url, r->origin_len) == 0) {
            h->refs++;
            return h;
        }
    }
    fwt__host *h = fwt__calloc(1, sizeof *h);
    char *origin = fwt__malloc(r->origin_len + 1);
    if (!h || !origin) {
        fwt__free_mem(h);
        fwt__free_mem(origin);
        return NULL;
    }
    memcpy(origin, r->url, r->origin_len);
    origin[r->origin_len] = '\0';
    h->origin = origin;
    h->origin_len = r->origin_len;
    h->refs = 1;
    h->next = e->hosts;
    e->hosts = h;
    return h;
}

static void host_put(fwt__engine *e, fwt__host *h)
{
    if (!h || --h->refs)
        return;
    for (fwt__host **pp = &e->hosts; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    fwt__free_mem(h->origin);
    fwt__free_mem(h);
}

static int has_room(const fwt__engine *e, const fwt__host *h)
{
    return e->n_running < e->max_transfers && h->running < e->max_per_host;
}

/* Queue a request for a slot: a new one at the tail, a retry at the head (it was admitted
 * before every request now queued for its origin, so the FIFO stays ordered by id). */
static void admit_wait(fwt__engine *e, fwt__op *op, int at_head)
{
    fwt__host *h = op->req->host;
    op->req->state = FWT__RS_ADMIT;
    if (at_head) {
        op->link[FWT__LIST_ADMIT].prev = NULL;
        op->link[FWT__LIST_ADMIT].next = h->qhead;
        if (h->qhead)
            h->qhead->link[FWT__LIST_ADMIT].prev = op;
        else
            h->qtail = op;
        h->qhead = op;
    } else {
        op->link[FWT__LIST_ADMIT].next = NULL;
        op->link[FWT__LIST_ADMIT].prev = h->qtail;
        if (h->qtail)
            h->qtail->link[FWT__LIST_ADMIT].next = op;
        else
            h->qhead = op;
        h->qtail = op;
    }
    e->n_admit++;
    if (op->req->deadline_at)
        fwt__heap_update(e, op, op->req->deadline_at);
}

static void admit_unlink(fwt__engine *e, fwt__op *op)
{
    fwt__host *h = op->req->host;
    fwt__op *prev = op->link[FWT__LIST_ADMIT].prev, *next = op->link[FWT__LIST_ADMIT].next;
    if (prev)
        prev->link[FWT__LIST_ADMIT].next = next;
    else
        h->qhead = next;
    if (next)
        next->link[FWT__LIST_ADMIT].prev = prev;
    else
        h->qtail = prev;
    op->link[FWT__LIST_ADMIT].prev = op->link[FWT__LIST_ADMIT].next = NULL;
    e->n_admit--;
    fwt__heap_remove(e, op);
}

/* ---------- completion ---------- */

static void finish_req(fwt__engine *e, fwt__op *op, fwt__http_result *res)
{
    fwt__req *r = op->req;
    if (r->state == FWT__RS_ADMIT)
        admit_unlink(e, op);
    fwt__heap_remove(e, op);
    if (r->easy)
        fwt__transfer_stop(e, op);
    list_unlink(&e->active, op, FWT__LIST_ACTIVE);
    host_put(e, r->host);
    r->host = NULL;
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

/* An attempt is due: start it if a slot is free, else queue for one. A new request never
 * overtakes the queue of its origin; a retry goes first (at_head). */
static void attempt_due(fwt__engine *e, fwt__op *op, int retry)
{
    fwt__host *h = op->req->host;
    if (has_room(e, h) && (retry || !h->qhead))
        start_attempt(e, op);
    else
        admit_wait(e, op, retry);
}

/* Give free slots to the oldest queued requests among the origins with room. Returns how many
 * attempts were started (the loop then polls without sleeping). */
static int admit(fwt__engine *e)
{
    int started = 0;
    while (e->n_admit && e->n_running < e->max_transfers) {
        fwt__host *best = NULL;
        for (fwt__host *h = e->hosts; h; h = h->next)
            if (h->qhead && h->running < e->max_per_host && (!best || h->qhead->id < best->qhead->id))
                best = h;
        if (!best)
            break;
        fwt__op *op = best->qhead;
        admit_unlink(e, op);
        start_attempt(e, op);
        started++;
    }
    return started;
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
            attempt_due(e, op, 1);
        else if (op->req->state == FWT__RS_RUNNING)
            transfer_timer(e, op, now);
        else if (op->req->state == FWT__RS_ADMIT) /* a queued request's only timer: its deadline */
            finish_error(e, op, FWT_ETIMEDOUT,
                         "deadline exceeded while queued for a connection slot (max_concurrent_requests)");
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
            else if (!(op->req->host = host_get(e, op->req)))
                finish_error(e, op, FWT_ENOMEM, "out of memory");
            else
                attempt_due(e, op, 0);
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
        admit(e);
        int still = 0;
        curl_multi_perform(e->multi, &still);
        process_done(e);
        if (admit(e))
            continue; /* drive the new transfers at once */
        if (e->self_posted) {
            e->self_posted = 0;
            continue; /* callbacks above posted to the inbox: take it before sleeping */
        }

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
    if (cfg && (cfg->max_response_bytes < 0 || cfg->max_pooled_handles < 0 || cfg->max_idle_lanes < 0 ||
                cfg->max_transfers < 0 || cfg->max_per_host < 0))
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
    e->max_idle_lanes = cfg && cfg->max_idle_lanes ? cfg->max_idle_lanes : 16;
    e->max_transfers = cfg && cfg->max_transfers ? cfg->max_transfers : FWT__DEFAULT_MAX_TRANSFERS;
    /* As many handles as can be busy at once: below that, every admission past the pool built a handle
     * (all of its constant options) and every completion past it freed one. The pool (and its array) only
     * grows to the concurrency the client actually reached: max_transfers may be set far above it. */
    e->max_pooled = cfg && cfg->max_pooled_handles ? cfg->max_pooled_handles : e->max_transfers;
    e->max_per_host = cfg && cfg->max_per_host ? cfg->max_per_host : e->max_transfers - e->max_transfers / 4;
    if (e->max_per_host > e->max_transfers)
        e->max_per_host = e->max_transfers;
    e->idx_cap = FWT__IDX_MIN;
    e->idx = fwt__calloc(e->idx_cap, sizeof *e->idx);
    e->multi = curl_multi_init();
    if (e->multi) /* idle connections kept: no more than can be busy at once */
        curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->max_transfers);
    e->next_id = 1;
    fwt__clock_fill_defaults(e);
    atomic_init(&e->stopping, 0);
    if (!e->user_agent || !e->idx || !e->multi || !copies_ok)
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
    fwt__free_mem(e->idx);
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
    fwt__free_mem(e->idx);
    fwt__free_mem(e->heap);
    fwt__free_mem(e->user_agent);
    fwt__free_mem(e->proxy);
    fwt__free_secret(e->redact);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->rng_mu);
    pthread_cond_destroy(&e->direct_cv);
    fwt__free_mem(e);
}

/* After an op went into the inbox or the cancel queue. A post or cancel from the worker itself (a completion
 * callback submitting the next request or cancelling another, a task re-posting) needs no wakeup: it only
 * marks the queues, and the worker takes both before it polls again. That saves a write to the wakeup pipe
 * and an extra trip through curl_multi_poll per op. */
static void wake_worker(fwt__engine *e)
{
    if (fwt__engine_on_worker(e))
        e->self_posted = 1;
    else
        curl_multi_wakeup(e->multi);
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
    idx_add(e, op);
    inbox_push(e, op);
    uint64_t id = op->id;
    pthread_mutex_unlock(&e->mu);
    wake_worker(e);
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
    idx_add(e, op);
    inbox_push(e, op);
    uint64_t id = op->id;
    pthread_mutex_unlock(&e->mu);
    wake_worker(e);
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
    fwt__op *op = idx_find(e, id);
    if (op && !op->finished && !op->cancelled) {
        op->cancelled = 1;
        op->in_cancel_q = 1;
        op->cnext = e->cancel_q;
        e->cancel_q = op;
        hit = 1;
    }
    pthread_mutex_unlock(&e->mu);
    if (hit)
        wake_worker(e);
    return hit;
}

int fwt__engine_on_worker(const fwt__engine *e)
{
    return e && tl_worker == e;
}

int fwt__engine_virtual_time(const fwt__engine *e)
{
    return e && e->fake_sleep;
}

int fwt__engine_stopping(const fwt__engine *e)
{
    return e ? atomic_load(&((fwt__engine *)e)->stopping) : 0;
}
