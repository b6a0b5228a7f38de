/* Session heartbeat on the worker (docs/protocol.md §4.1): no retries, 10 s timeout, warn after 120 s of failures. */
#include "api/training_impl.h"

#define HB_TIMEOUT_MS 10000
#define HB_WARN_AFTER_MS 120000

static void hb_send(void *ud);

/* Drop the heartbeat's reference (it is the last thing the heartbeat touches). */
static void hb_drop(fwt_training *t)
{
    pthread_mutex_lock(&t->mu);
    t->hb_ref = 0;
    pthread_mutex_unlock(&t->mu);
    fwt__training_unref(t);
}

static void hb_schedule(fwt_training *t)
{
    uint64_t id = 0;
    int64_t every = fwt__client_options(t->client)->heartbeat_interval_ms;
    if (fwt__engine_post(t->eng, (uint64_t)every, hb_send, t, &id) != FWT_OK) {
        hb_drop(t);
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->hb_timer_id = id;
    pthread_mutex_unlock(&t->mu);
}

static void hb_done(fwt__reply *r, void *ud)
{
    fwt_training *t = ud;
    pthread_mutex_lock(&t->mu);
    t->hb_req_id = 0;
    int stop = t->hb_stop;
    pthread_mutex_unlock(&t->mu);
    if (stop || fwt__engine_stopping(t->eng)) {
        fwt__reply_free(r);
        hb_drop(t);
        return;
    }
    const fwt__logger *lg = fwt__client_logger(t->client);
    uint64_t now = fwt__engine_now_ms(t->eng);
    if (r->err.pub.code == FWT_OK) {
        if (t->hb_warned)
            fwt__log(lg, FWT_LOG_INFO, "session heartbeat recovered");
        t->hb_fail_since = 0;
        t->hb_warned = 0;
    } else {
        if (!t->hb_fail_since)
            t->hb_fail_since = now ? now : 1;
        fwt__log(lg, FWT_LOG_DEBUG, "session heartbeat failed: %s", r->err.pub.message);
        if (!t->hb_warned && now - t->hb_fail_since >= HB_WARN_AFTER_MS) {
            t->hb_warned = 1;
            fwt__log(lg, FWT_LOG_WARN,
                     "session heartbeats have failed for %llu s (last: %s); the trainer may reclaim the session",
                     (unsigned long long)((now - t->hb_fail_since) / 1000), r->err.pub.message);
        }
    }
    fwt__reply_free(r);
    hb_schedule(t);
}

static void hb_send(void *ud)
{
    fwt_training *t = ud;
    pthread_mutex_lock(&t->mu);
    t->hb_timer_id = 0;
    int stop = t->hb_stop;
    pthread_mutex_unlock(&t->mu);
    if (stop || fwt__engine_stopping(t->eng)) {
        hb_drop(t);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    char *url = fwt__training_route(t, "session_heartbeat");
    int rc = (body && url) ? FWT_OK : FWT_ENOMEM;
    if (!rc) rc = fwt__json_add_string(body, "session_id", t->session_id);
    if (!rc) rc = fwt__json_add_string(body, "type", "session_heartbeat");
    uint64_t id = 0;
    if (!rc) {
        fwt__call call = {.plane = FWT__PLANE_TRAINER, .method = "POST", .url = url, .body = body,
                          .retry = FWT__RC_NONE, .header_timeout_ms = HB_TIMEOUT_MS,
                          .body_timeout_ms = HB_TIMEOUT_MS, .deadline_ms = HB_TIMEOUT_MS};
        rc = fwt__call_async(t->client, &call, hb_done, t, &id);
    }
    cJSON_Delete(body);
    fwt__free_mem(url);
    if (rc) {
        hb_schedule(t); /* try again next interval */
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->hb_req_id = id;
    pthread_mutex_unlock(&t->mu);
}

int fwt__heartbeat_start(fwt_training *t)
{
    pthread_mutex_lock(&t->mu);
    t->refs++;
    t->hb_ref = 1;
    pthread_mutex_unlock(&t->mu);
    uint64_t id = 0;
    int64_t every = fwt__client_options(t->client)->heartbeat_interval_ms;
    int rc = fwt__engine_post(t->eng, (uint64_t)every, hb_send, t, &id);
    if (rc) {
        pthread_mutex_lock(&t->mu);
        t->refs--;
        t->hb_ref = 0;
        pthread_mutex_unlock(&t->mu);
        return fwt__last_set(rc, "could not schedule the session heartbeat");
    }
    pthread_mutex_lock(&t->mu);
    if (t->hb_ref) /* the first beat may already have run on the worker */
        t->hb_timer_id = t->hb_timer_id ? t->hb_timer_id : id;
    pthread_mutex_unlock(&t->mu);
    return FWT_OK;
}

void fwt__heartbeat_stop(fwt_training *t)
{
    pthread_mutex_lock(&t->mu);
    t->hb_stop = 1;
    uint64_t tid = t->hb_timer_id, rid = t->hb_req_id;
    pthread_mutex_unlock(&t->mu);
    /* A cancelled timer never runs, so its reference is ours to drop; a cancelled request still calls back. */
    if (tid && fwt__engine_cancel(t->eng, tid) == 1)
        hb_drop(t);
    if (rid)
        fwt__engine_cancel(t->eng, rid);
}
