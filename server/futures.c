/* The request table behind retrieve_future, with long-poll (docs/protocol.md §4.2).
 * Request ids carry this run's epoch: an id from an earlier run (the server restarted) or one evicted
 * from the table answers 410 "promise expired", an id never issued answers 404. */
#include "futures.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define FWL_MAX_FUTURES 20000
#define FWL_FUT_BUCKETS 32768 /* a power of two, above FWL_MAX_FUTURES: chains stay about one long */

/* The table is a list in creation order plus a hash of the ids, so a lookup is O(1) at any size (a linear
 * scan of 20,000 ids cost more than the rest of a retrieve_future) and so is an eviction (no memmove). */
static size_t bucket(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (FWL_FUT_BUCKETS - 1);
}

/* s->lock held: f leaves the list and its hash chain. */
static void unlink_locked(fwl_server *s, fwl_future *f)
{
    for (fwl_future **pp = &s->fut_index[bucket(f->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == f) {
            *pp = f->hnext;
            break;
        }
    }
    if (f->older)
        f->older->newer = f->newer;
    else
        s->fut_oldest = f->newer;
    if (f->newer)
        f->newer->older = f->older;
    else
        s->fut_newest = f->older;
    s->n_futs--;
}

fwl_future *fwl_future_new(fwl_server *s, const char *job)
{
    fwl_future *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    fwl_new_id(s, "req-", f->id, sizeof f->id);
    snprintf(f->job, sizeof f->job, "%s", job);
    pthread_mutex_lock(&s->lock);
    if (!s->fut_index && !(s->fut_index = calloc(FWL_FUT_BUCKETS, sizeof *s->fut_index))) {
        pthread_mutex_unlock(&s->lock);
        free(f);
        return NULL;
    }
    if (s->n_futs >= FWL_MAX_FUTURES) {
        /* evict the oldest completed future (its id then answers 410) */
        for (fwl_future *o = s->fut_oldest; o; o = o->newer) {
            if (o->done) {
                unlink_locked(s, o);
                free(o->result);
                free(o);
                break;
            }
        }
    }
    size_t b = bucket(f->id);
    f->hnext = s->fut_index[b];
    s->fut_index[b] = f;
    f->older = s->fut_newest;
    if (s->fut_newest)
        s->fut_newest->newer = f;
    else
        s->fut_oldest = f;
    s->fut_newest = f;
    s->n_futs++;
    pthread_mutex_unlock(&s->lock);
    return f;
}

/* A parked retrieve_future: `token` is http.c's connection; `f` is compared, never dereferenced, once due. */
typedef struct fwl_park {
    void *token;
    fwl_future *f;
    int64_t deadline_us;
    bool suspended; /* http.c has suspended the connection: the park thread resumes it */
    bool due;       /* answer now: the future completed, the deadline passed or the server stops */
    struct fwl_park *next;
} fwl_park;

/* s->lock held: the parks waiting on f are due (a completed future may be evicted later: never looked at again). */
static void park_due_locked(fwl_server *s, const fwl_future *f)
{
    bool wake = false;
    for (fwl_park *p = s->parks; p; p = p->next) {
        if (!p->due && p->f == f) {
            p->due = true;
            wake = wake || p->suspended;
        }
    }
    if (wake)
        pthread_cond_broadcast(&s->park_cond);
}

/* What a future whose result could not be kept (out of memory) answers. */
static const char OOM_RESULT[] = "{\"error\":\"the server ran out of memory keeping this result\",\"category\":\"server\"}";

void fwl_future_complete(fwl_server *s, fwl_future *f, cJSON *result)
{
    char *txt = result ? cJSON_PrintUnformatted(result) : NULL; /* NULL: OOM_RESULT */
    cJSON_Delete(result);
    pthread_mutex_lock(&s->lock);
    if (!f->done) {
        f->result = txt;
        txt = NULL;
        f->done = 1;
        f->done_us = fwl_now_us();
        park_due_locked(s, f);
    }
    pthread_cond_broadcast(&s->fut_cond);
    pthread_mutex_unlock(&s->lock);
    free(txt);
}

/* docs/protocol.md §4.2 case 3: {"error": "...", "category": "user"|"server"|"unknown"} */
void fwl_future_fail(fwl_server *s, fwl_future *f, const char *category, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "category", category);
    fwl_future_complete(s, f, o);
}

static fwl_future *find_locked(fwl_server *s, const char *id)
{
    if (!s->fut_index)
        return NULL;
    for (fwl_future *f = s->fut_index[bucket(id)]; f; f = f->hnext)
        if (!strcmp(f->id, id))
            return f;
    return NULL;
}

void fwl_retrieve_future(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *id = fwl_json_str(body, "request_id");
    if (!id) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "request_id (string) is required");
        return;
    }
    char rid[64];
    snprintf(rid, sizeof rid, "%s", id);
    const cJSON *amo = cJSON_GetObjectItemCaseSensitive(body, "allow_metadata_only");
    bool meta_only = cJSON_IsTrue(amo);
    if (amo && !cJSON_IsBool(amo)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "allow_metadata_only must be a boolean");
        return;
    }
    cJSON_Delete(body);
    char ep[16];
    snprintf(ep, sizeof ep, "req-%08x", (unsigned)s->epoch);
    bool ours = strncmp(rid, ep, strlen(ep)) == 0;

    int64_t deadline = r->park_deadline_us ? r->park_deadline_us : fwl_now_us() + (int64_t)s->cfg.long_poll_ms * 1000;
    pthread_mutex_lock(&s->lock);
    fwl_future *f = find_locked(s, rid);
    if (!f) {
        pthread_mutex_unlock(&s->lock);
        if (!strncmp(rid, "req-", 4) && !ours)
            fwl_resp_error(out, 410, FWL_GRPC_NOT_FOUND,
                           "promise %s expired: the trainer restarted and lost it; resume from the last checkpoint", rid);
        else if (ours)
            fwl_resp_error(out, 410, FWL_GRPC_NOT_FOUND, "promise %s expired", rid);
        else
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown request_id %.80s", rid);
        return;
    }
    if (r->park && !f->done && !s->stopping && fwl_now_us() < deadline) {
        fwl_park *p = calloc(1, sizeof *p);
        if (p) { /* (out of memory: block below instead) */
            p->token = r->park;
            p->f = f;
            p->deadline_us = deadline;
            p->next = s->parks;
            s->parks = p;
            pthread_mutex_unlock(&s->lock);
            out->parked = true;
            out->park_deadline_us = deadline;
            return;
        }
    }
    while (!f->done && !s->stopping) {
        int64_t now = fwl_now_us();
        if (now >= deadline)
            break;
        struct timespec ts = {(time_t)(deadline / 1000000), (long)(deadline % 1000000) * 1000};
        pthread_cond_timedwait(&s->fut_cond, &s->lock, &ts);
    }
    if (f->done && meta_only) {
        /* docs/protocol.md §4.2 case 2: the client asked for metadata first; it re-polls with false for the payload */
        size_t n = strlen(f->result ? f->result : OOM_RESULT);
        pthread_mutex_unlock(&s->lock);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "complete_metadata");
        cJSON_AddNumberToObject(o, "response_payload_size", (double)n);
        cJSON_AddStringToObject(o, "request_id", rid);
        fwl_resp_json(out, 200, o);
        return;
    }
    if (f->done) {
        out->status = 200;
        out->body = strdup(f->result ? f->result : OOM_RESULT);
        pthread_mutex_unlock(&s->lock);
        if (!out->body)
            fwl_resp_oom(out);
        return;
    }
    pthread_mutex_unlock(&s->lock);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "try_again");
    cJSON_AddStringToObject(o, "request_id", rid);
    cJSON_AddStringToObject(o, "queue_state", "active");
    fwl_resp_json(out, 200, o);
}

void fwl_futures_free(fwl_server *s)
{
    while (s->fut_oldest) {
        fwl_future *f = s->fut_oldest;
        s->fut_oldest = f->newer;
        free(f->result);
        free(f);
    }
    free(s->fut_index);
    s->fut_index = NULL;
    s->fut_newest = NULL;
    s->n_futs = 0;
}

/* Unlinks and returns the first suspended, due park (marking expired ones due first); NULL when none. With
 * *wake: the earliest deadline still pending. s->lock held. */
static fwl_park *park_take_due_locked(fwl_server *s, int64_t *wake)
{
    int64_t now = fwl_now_us();
    for (fwl_park **pp = &s->parks; *pp; pp = &(*pp)->next) {
        fwl_park *p = *pp;
        if (!p->due && (now >= p->deadline_us || s->stopping || s->park_quit))
            p->due = true;
        if (p->due && p->suspended) {
            *pp = p->next;
            return p;
        }
        if (!p->due && p->deadline_us < *wake)
            *wake = p->deadline_us;
    }
    return NULL;
}

static bool any_suspended_locked(const fwl_server *s)
{
    for (const fwl_park *p = s->parks; p; p = p->next)
        if (p->suspended)
            return true;
    return false;
}

/* Resumes due parks; sleeps until the next deadline or a completion. Exits on quit once none is suspended. */
static void *park_main(void *arg)
{
    fwl_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        int64_t wake = fwl_now_us() + 1000000;
        fwl_park *p = park_take_due_locked(s, &wake);
        if (p) {
            /* resumed outside s->lock: libmicrohttpd takes its own locks */
            pthread_mutex_unlock(&s->lock);
            s->park_resume(p->token);
            free(p);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->park_quit && !any_suspended_locked(s))
            break;
        struct timespec ts = {(time_t)(wake / 1000000), (long)(wake % 1000000) * 1000};
        pthread_cond_timedwait(&s->park_cond, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int fwl_park_start(fwl_server *s, void (*resume)(void *token))
{
    /* (s->park_cond is made by fwl_server_open and lives as long as the server: completions signal it) */
    s->park_resume = resume;
    s->park_quit = false;
    if (pthread_create(&s->park_thread, NULL, park_main, s) != 0)
        return -1;
    s->park_started = true; /* read by HTTP threads: changed only while none runs */
    return 0;
}

void fwl_park_suspended(fwl_server *s, void *token)
{
    fwl_park *now = NULL;
    pthread_mutex_lock(&s->lock);
    for (fwl_park **pp = &s->parks; *pp; pp = &(*pp)->next) {
        fwl_park *p = *pp;
        if (p->token != token)
            continue;
        if (p->due || s->park_quit || s->stopping) {
            /* due before the suspend, or the park thread is gone (stopping): resume it here, unlinked first so
             * the park thread cannot resume it twice */
            *pp = p->next;
            now = p;
        } else {
            p->suspended = true;
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    if (now) {
        s->park_resume(token);
        free(now);
    }
}

void fwl_park_drop(fwl_server *s, void *token)
{
    pthread_mutex_lock(&s->lock);
    for (fwl_park **pp = &s->parks; *pp; pp = &(*pp)->next) {
        if ((*pp)->token == token) {
            fwl_park *p = *pp;
            *pp = p->next;
            free(p);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void fwl_park_stop(fwl_server *s)
{
    if (!s->park_started)
        return;
    pthread_mutex_lock(&s->lock);
    s->park_quit = true;
    pthread_cond_broadcast(&s->park_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->park_thread, NULL);
    /* parks not suspended yet are resumed by their own thread right after suspending (park_quit) */
}
