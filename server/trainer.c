/* Trainer data plane (docs/protocol.md §4): sessions, models and routes. Each model has one worker thread that runs its
 * ops strictly in seq_id order (docs/protocol.md §4.3). A submit is refused without taking its seq_id only when it cannot
 * be ordered (bad JSON, no model, no seq_id). A bad forward batch is answered 400 but still takes its seq_id;
 * every other problem fails the op's future with category "user" (ops.c). Either way a bad op never leaves a hole
 * in the sequence that would stall the ops behind it. Sessions silent for --session-timeout-ms expire with their
 * models (reap_locked). */
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "fwd_batch.h"
#include "records.h"
#include "request.h"

/* ---- live state lookup (s->lock held) ------------------------------------ */

static fwl_jobrt *jobrt_locked(fwl_server *s, const char *job, bool create)
{
    for (fwl_jobrt *j = s->jobs; j; j = j->next)
        if (!strcmp(j->job, job))
            return j;
    if (!create)
        return NULL;
    fwl_jobrt *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->job, sizeof j->job, "%s", job);
    pthread_mutex_init(&j->snap_mu, NULL);
    j->next = s->jobs;
    s->jobs = j;
    return j;
}

static fwl_tmodel *model_locked(fwl_jobrt *jr, const char *id)
{
    for (fwl_tmodel *m = jr ? jr->models : NULL; m; m = m->next)
        if (!strcmp(m->id, id))
            return m;
    return NULL;
}


static void *worker_main(void *p)
{
    fwl_tmodel *tm = p;
    pthread_mutex_lock(&tm->mu);
    for (;;) {
        if (tm->stop)
            break;
        fwl_op *op = tm->queue;
        if (!op || op->seq != tm->next_seq) {
            pthread_cond_wait(&tm->cv, &tm->mu);
            continue;
        }
        tm->queue = op->next;
        pthread_mutex_unlock(&tm->mu);
        fwl_run_op(tm, op);
        cJSON_Delete(op->body);
        fwl_fwd_batch_free(op->batch);
        free(op);
        pthread_mutex_lock(&tm->mu);
        tm->next_seq++;
    }
    /* the ops that never ran fail after tm->mu is released: completing a future takes s->lock, which the
     * submit path holds while it takes tm->mu */
    fwl_op *left = tm->queue;
    tm->queue = NULL;
    pthread_mutex_unlock(&tm->mu);
    while (left) {
        fwl_op *op = left;
        left = op->next;
        fwl_future_fail(tm->s, op->fut, "server", "model %s was unloaded before op seq_id %lld ran", tm->id,
                        (long long)op->seq);
        cJSON_Delete(op->body);
        fwl_fwd_batch_free(op->batch);
        free(op);
    }
    return NULL;
}

static void model_destroy(fwl_tmodel *tm)
{
    pthread_mutex_lock(&tm->mu);
    tm->stop = true;
    pthread_cond_broadcast(&tm->cv);
    pthread_mutex_unlock(&tm->mu);
    pthread_join(tm->thr, NULL);
    pthread_mutex_destroy(&tm->mu);
    pthread_cond_destroy(&tm->cv);
    fwl_model_free(&tm->m);
    fwl_adam_free(&tm->a);
    free(tm->grad);
    free(tm->seen);
    free(tm);
}

/* ---- sessions ---------------------------------------------------------------- */

static fwl_session *session_locked(fwl_jobrt *jr, const char *id)
{
    for (fwl_session *ss = jr ? jr->sessions : NULL; ss; ss = ss->next)
        if (!strcmp(ss->id, id))
            return ss;
    return NULL;
}

/* s->lock held. A session with no heartbeat, create_model or submit for --session-timeout-ms is gone, with its
 * models (so a LoRA slot held by a dead client comes back). Unlinks them (except session `keep`) and returns the
 * models for reap_finish, which must run without the lock: a worker's running op takes it. */
static fwl_tmodel *reap_locked(fwl_server *s, fwl_jobrt *jr, const char *keep)
{
    fwl_tmodel *dead = NULL;
    int64_t now = fwl_now_us(), limit = (int64_t)s->cfg.session_timeout_ms * 1000;
    for (fwl_session **pp = jr && limit > 0 ? &jr->sessions : NULL; pp && *pp;) {
        fwl_session *ss = *pp;
        if ((keep && !strcmp(ss->id, keep)) || now - ss->last_us <= limit) {
            pp = &ss->next;
            continue;
        }
        *pp = ss->next;
        for (fwl_tmodel **mp = &jr->models; *mp;) {
            fwl_tmodel *tm = *mp;
            if (!strcmp(tm->session, ss->id)) {
                *mp = tm->next;
                tm->next = dead;
                dead = tm;
            } else {
                mp = &tm->next;
            }
        }
        if (s->cfg.verbose)
            fwl_log("session %s of %s expired (no heartbeat for %d ms); its models are unloaded", ss->id, jr->job,
                    s->cfg.session_timeout_ms);
        while (ss->created) {
            fwl_cm_seen *c = ss->created;
            ss->created = c->next;
            free(c);
        }
        free(ss);
    }
    return dead;
}

static void reap_finish(fwl_tmodel *dead)
{
    while (dead) {
        fwl_tmodel *n = dead->next;
        model_destroy(dead);
        dead = n;
    }
}

/* ---- HTTP handlers ---------------------------------------------------------- */

static void reply_future(fwl_resp *out, const char *rid, const char *model_id)
{
    cJSON *o = cJSON_CreateObject();
    if (!cJSON_AddStringToObject(o, "request_id", rid) || (model_id && !cJSON_AddStringToObject(o, "model_id", model_id))) {
        cJSON_Delete(o);
        o = NULL;
    }
    fwl_resp_json(out, 200, o);
}

static void h_create_session(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    cJSON_Delete(body);
    fwl_session *ss = calloc(1, sizeof *ss);
    if (!ss) {
        fwl_resp_oom(out);
        return;
    }
    char id[48];
    fwl_new_id(s, "sess-", id, sizeof id);
    memcpy(ss->id, id, sizeof id);
    ss->last_us = fwl_now_us();
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = jobrt_locked(s, job, true);
    fwl_tmodel *dead = reap_locked(s, jr, NULL);
    if (jr) {
        ss->next = jr->sessions;
        jr->sessions = ss;
    }
    pthread_mutex_unlock(&s->lock);
    reap_finish(dead);
    if (!jr) {
        free(ss);
        fwl_resp_oom(out);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "session_id", id);
    cJSON_AddStringToObject(o, "type", "create_session");
    fwl_resp_json(out, 200, o);
}

static void h_heartbeat(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *sid = fwl_json_str(body, "session_id");
    if (!sid) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "session_id (string) is required");
        return;
    }
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = jobrt_locked(s, job, false);
    fwl_tmodel *dead = reap_locked(s, jr, NULL); /* a heartbeat after the timeout is too late */
    fwl_session *ss = session_locked(jr, sid);
    if (ss)
        ss->last_us = fwl_now_us();
    pthread_mutex_unlock(&s->lock);
    reap_finish(dead);
    if (!ss)
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown session %.64s (the trainer may have restarted)", sid);
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "session_heartbeat");
        fwl_resp_json(out, 200, o);
    }
    cJSON_Delete(body);
}

/* A create_model request, validated. */
typedef struct cm_req {
    char sid[256];
    bool has_mseq;
    int64_t mseq;
    int lora_rank;
    char mismatch[600]; /* non-empty: the op fails with this (category user) */
} cm_req;

/* Parses a create_model body against the job's record; NULL when fine, else the 400 message. */
static const char *cm_parse(fwl_server *s, const char *job, const cJSON *body, cm_req *cm)
{
    memset(cm, 0, sizeof *cm);
    const char *sid = fwl_json_str(body, "session_id");
    cm->has_mseq = cJSON_GetObjectItemCaseSensitive(body, "model_seq_id") != NULL;
    if (!sid || (cm->has_mseq && !fwl_json_int(body, "model_seq_id", &cm->mseq)))
        return "session_id (string) is required; model_seq_id must be an integer";
    if (strlen(sid) >= sizeof cm->sid)
        return "session_id is too long";
    snprintf(cm->sid, sizeof cm->sid, "%s", sid);
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(body, "lora_config");
    const char *bm = fwl_json_str(body, "base_model");
    if ((lc && !cJSON_IsObject(lc) && !cJSON_IsNull(lc)) || (cJSON_GetObjectItemCaseSensitive(body, "base_model") && !bm))
        return "lora_config must be an object and base_model a string";
    cJSON *jobj = fwl_job_load(s, job);
    const cJSON *tc = jobj ? cJSON_GetObjectItemCaseSensitive(jobj, "trainingConfig") : NULL;
    const char *jbm = tc ? fwl_json_str(tc, "baseModel") : NULL;
    const cJSON *jr_rank = tc ? cJSON_GetObjectItemCaseSensitive(tc, "loraRank") : NULL;
    const cJSON *lc_rank = cJSON_IsObject(lc) ? cJSON_GetObjectItemCaseSensitive(lc, "rank") : NULL;
    /* ranks are converted to int only once known to fit (a float-to-int overflow is undefined behaviour) */
    if (lc_rank && !cJSON_IsNull(lc_rank) &&
        (!cJSON_IsNumber(lc_rank) || !isfinite(lc_rank->valuedouble) || lc_rank->valuedouble < 0 ||
         lc_rank->valuedouble > FWL_MAX_LORA_RANK || lc_rank->valuedouble != floor(lc_rank->valuedouble))) {
        cJSON_Delete(jobj);
        return "lora_config.rank must be an integer 0..65536 (0 = full-parameter)";
    }
    double jrank = cJSON_IsNumber(jr_rank) && isfinite(jr_rank->valuedouble) ? jr_rank->valuedouble : 0;
    cm->lora_rank = cJSON_IsNumber(lc_rank) && lc_rank->valuedouble > 0 ? (int)lc_rank->valuedouble
                    : jrank > 0 ? (jrank >= FWL_MAX_LORA_RANK ? FWL_MAX_LORA_RANK : (int)jrank)
                                : 0;
    if (bm && jbm && *bm && *jbm && strcmp(bm, jbm) != 0)
        snprintf(cm->mismatch, sizeof cm->mismatch, "base_model %.200s does not match the trainer's %.200s", bm, jbm);
    cJSON_Delete(jobj);
    return NULL;
}

/* A retried create_model (same model_seq_id in the session) gets the same promise: 1 with rid filled; 0 new;
 * -1 unknown session. */
static int cm_seen(fwl_server *s, const char *job, const cm_req *cm, char *rid, size_t rl)
{
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = jobrt_locked(s, job, true);
    fwl_session *ss = session_locked(jr, cm->sid);
    fwl_tmodel *dead = reap_locked(s, jr, cm->sid); /* other sessions' expiry frees their LoRA slots */
    int rc = ss ? 0 : -1;
    if (ss) {
        ss->last_us = fwl_now_us();
        for (fwl_cm_seen *c = ss->created; c && rc == 0; c = c->next) {
            if (cm->has_mseq && c->model_seq == cm->mseq) {
                snprintf(rid, rl, "%s", c->rid);
                rc = 1;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    reap_finish(dead);
    return rc;
}

static void cm_remember(fwl_server *s, const char *job, const cm_req *cm, const char *rid)
{
    if (!cm->has_mseq)
        return;
    fwl_cm_seen *c = calloc(1, sizeof *c);
    if (!c) {
        fwl_log("out of memory: a retry of create_model %lld will create another model", (long long)cm->mseq);
        return;
    }
    c->model_seq = cm->mseq;
    snprintf(c->rid, sizeof c->rid, "%s", rid);
    pthread_mutex_lock(&s->lock);
    fwl_session *ss = session_locked(jobrt_locked(s, job, false), cm->sid);
    if (ss) {
        c->next = ss->created;
        ss->created = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(c);
}

static void model_free_unstarted(fwl_tmodel *tm, bool sync_init)
{
    if (!tm)
        return;
    if (sync_init) {
        pthread_mutex_destroy(&tm->mu);
        pthread_cond_destroy(&tm->cv);
    }
    fwl_model_free(&tm->m);
    fwl_adam_free(&tm->a);
    free(tm->grad);
    free(tm);
}

/* Creates the model, starts its worker and registers it with the job; completes or fails f. */
static void cm_create(fwl_server *s, const char *job, const cm_req *cm, fwl_future *f)
{
    fwl_tmodel *tm = calloc(1, sizeof *tm);
    bool ok = tm != NULL, capped = false, sync_init = false;
    if (ok) {
        tm->s = s;
        tm->next_seq = 1;
        tm->lora_rank = cm->lora_rank;
        snprintf(tm->session, sizeof tm->session, "%s", cm->sid);
    }
    ok = ok && fwl_model_init(&tm->m, s->cfg.model_dim, s->cfg.seed) == 0;
    ok = ok && fwl_adam_init(&tm->a, tm->m.n_params) == 0;
    ok = ok && (tm->grad = calloc(tm->m.n_params, sizeof(float))) != NULL;
    if (ok) {
        pthread_mutex_init(&tm->mu, NULL);
        pthread_cond_init(&tm->cv, NULL);
        sync_init = true;
        fwl_new_id(s, "model-", tm->id, sizeof tm->id);
        pthread_mutex_lock(&s->lock);
        fwl_jobrt *jr = jobrt_locked(s, job, true);
        int loras = 0;
        for (fwl_tmodel *o = jr ? jr->models : NULL; o; o = o->next)
            loras += o->lora_rank > 0;
        /* docs/protocol.md §4.1: the trainer caps concurrent LoRA sessions at 2; unload_model frees one */
        capped = cm->lora_rank > 0 && loras >= 2;
        tm->jr = jr;
        ok = jr && !capped && pthread_create(&tm->thr, NULL, worker_main, tm) == 0;
        if (ok) {
            tm->next = jr->models;
            jr->models = tm;
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (ok) {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "model_id", tm->id);
        cJSON_AddStringToObject(res, "type", "create_model");
        fwl_future_complete(s, f, res);
        return;
    }
    model_free_unstarted(tm, sync_init);
    if (capped)
        fwl_future_fail(s, f, "user", "Cannot create LoRA session %.64s: maximum of 2 concurrent sessions reached", cm->sid);
    else
        fwl_future_fail(s, f, "server", "could not create the model (dim %d)", s->cfg.model_dim);
}

/* docs/protocol.md §4.1 */
static void h_create_model(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    cm_req cm;
    const char *err = cm_parse(s, job, body, &cm);
    cJSON_Delete(body);
    if (err) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", err);
        return;
    }
    char rid[48];
    int seen = cm_seen(s, job, &cm, rid, sizeof rid);
    if (seen < 0) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown session %.64s (create_session first)", cm.sid);
        return;
    }
    if (seen > 0) {
        reply_future(out, rid, NULL);
        return;
    }
    fwl_future *f = fwl_future_new(s, job);
    if (!f) {
        fwl_resp_oom(out);
        return;
    }
    if (cm.mismatch[0])
        fwl_future_fail(s, f, "user", "%s", cm.mismatch);
    else
        cm_create(s, job, &cm, f);
    cm_remember(s, job, &cm, f->id);
    reply_future(out, f->id, NULL);
}

/* seq_id's entry in the model's submit log, or NULL. tm->mu held. */
static const fwl_seen *seen_find(const fwl_tmodel *tm, int64_t seq)
{
    for (size_t i = 0; i < tm->nseen; i++)
        if (tm->seen[i].seq == seq)
            return &tm->seen[i];
    return NULL;
}

/* A submit as the model's ordering sees it. */
typedef struct submit {
    const char *job, *type, *mid;
    int64_t seq;
    char key[160];        /* X-Idempotency-Key ("" when absent) */
    char model_id[48];
    fwl_fwd_batch *batch; /* forward / forward_backward: the parsed batch (NULL if refused) */
    char verr[512];       /* non-empty: the batch was refused (a 400, though the op still takes its seq_id) */
} submit;

/* s->lock and tm->mu held: has this seq been submitted before? 0 no (and it is not behind the sequence);
 * 1 the same request again (rid filled: the original promise, never a second run); -1 refused (out filled). */
static int submit_dedupe_locked(const fwl_tmodel *tm, const submit *sb, char *rid, size_t rl, fwl_resp *out)
{
    const fwl_seen *sn = seen_find(tm, sb->seq);
    if (sn && !strcmp(sn->key, sb->key) && !strcmp(sn->type, sb->type)) {
        snprintf(rid, rl, "%s", sn->rid);
        return 1;
    }
    if (sn) {
        fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION,
                       "seq_id %lld was already submitted as another request (%s, different idempotency key)",
                       (long long)sb->seq, sn->type);
        return -1;
    }
    if (sb->seq < tm->next_seq) {
        fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION, "seq_id %lld is behind this model's sequence",
                       (long long)sb->seq);
        return -1;
    }
    return 0;
}

/* The model a submit names, with s->lock and tm->mu HELD; NULL (no lock held) with out filled. */
static fwl_tmodel *submit_model_lock(fwl_server *s, const submit *sb, fwl_resp *out)
{
    pthread_mutex_lock(&s->lock);
    fwl_tmodel *tm = model_locked(jobrt_locked(s, sb->job, false), sb->mid);
    if (!tm) {
        pthread_mutex_unlock(&s->lock);
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown model_id %.64s on this trainer (create_model first)",
                       sb->mid);
        return NULL;
    }
    fwl_session *owner = session_locked(tm->jr, tm->session);
    if (owner)
        owner->last_us = fwl_now_us(); /* a working client keeps its session alive even between heartbeats */
    pthread_mutex_lock(&tm->mu);
    return tm;
}

static void submit_unlock(fwl_server *s, fwl_tmodel *tm)
{
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_unlock(&s->lock);
}

/* Records the submit and queues op in seq order; both locks held. -1 when out of memory. */
static int submit_enqueue_locked(fwl_tmodel *tm, const submit *sb, fwl_op *op)
{
    if (tm->nseen == tm->capseen) {
        size_t nc = tm->capseen ? tm->capseen * 2 : 64;
        fwl_seen *nv = realloc(tm->seen, nc * sizeof *nv);
        if (!nv)
            return -1;
        tm->seen = nv;
        tm->capseen = nc;
    }
    fwl_seen *sn = &tm->seen[tm->nseen++];
    sn->seq = sb->seq;
    snprintf(sn->key, sizeof sn->key, "%s", sb->key);
    snprintf(sn->type, sizeof sn->type, "%s", sb->type);
    snprintf(sn->rid, sizeof sn->rid, "%s", op->fut->id);
    fwl_op **pp = &tm->queue;
    while (*pp && (*pp)->seq < sb->seq)
        pp = &(*pp)->next;
    op->next = *pp;
    *pp = op;
    pthread_cond_broadcast(&tm->cv);
    return 0;
}

/* The answer to an accepted submit: its promise, or the 400 of a refused forward batch. */
static void reply_submit(fwl_resp *out, const submit *sb, const char *rid)
{
    if (sb->verr[0])
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", sb->verr);
    else
        reply_future(out, rid, sb->model_id);
}

/* Queues the op (takes body and sb->batch); the future's id goes into out. */
static void submit_queue(fwl_server *s, submit *sb, cJSON *body, fwl_resp *out)
{
    fwl_future *f = fwl_future_new(s, sb->job);
    fwl_op *op = calloc(1, sizeof *op);
    if (!f || !op) {
        if (f)
            fwl_future_fail(s, f, "server", "out of memory");
        free(op);
        cJSON_Delete(body);
        fwl_fwd_batch_free(sb->batch);
        fwl_resp_oom(out);
        return;
    }
    char fid[48], rid[48];
    snprintf(fid, sizeof fid, "%s", f->id); /* once queued, the op may run and free body before we reply */
    op->seq = sb->seq;
    snprintf(op->type, sizeof op->type, "%s", sb->type);
    op->body = body;
    op->batch = sb->batch;
    op->fut = f;
    fwl_tmodel *tm = submit_model_lock(s, sb, out);
    /* re-check under the lock: a concurrent retry of the same seq may have won */
    int dup = tm ? submit_dedupe_locked(tm, sb, rid, sizeof rid, out) : -1;
    if (dup == 0 && submit_enqueue_locked(tm, sb, op) != 0) {
        fwl_resp_oom(out);
        dup = -1;
    }
    if (tm) {
        snprintf(sb->model_id, sizeof sb->model_id, "%s", tm->id);
        submit_unlock(s, tm);
    }
    if (dup == 0) {
        reply_submit(out, sb, fid);
        return;
    }
    fwl_future_fail(s, f, "server", tm ? "duplicate submit" : "model was unloaded");
    cJSON_Delete(body);
    fwl_fwd_batch_free(op->batch);
    free(op);
    if (dup == 1)
        reply_submit(out, sb, rid);
}

/* docs/protocol.md §4.3: a seq'd training op */
static void h_submit(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *type)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    submit sb = {.job = job, .type = type, .mid = fwl_json_str(body, "model_id")};
    if (!sb.mid || !fwl_json_int(body, "seq_id", &sb.seq) || sb.seq < 1) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "model_id (string) and seq_id (integer >= 1) are required");
        return;
    }
    const char *bt = fwl_json_str(body, "type");
    if (bt && strcmp(bt, type) != 0) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "body type \"%.40s\" does not match the route %s", bt, type);
        cJSON_Delete(body);
        return;
    }
    const char *key = fwl_req_header(r, "X-Idempotency-Key");
    snprintf(sb.key, sizeof sb.key, "%s", key ? key : "");
    /* A forward batch is checked here so a bad one is a 400 (fwd_batch.h). The op still takes its seq_id and
     * fails its future with the same message: the ops behind it must not wait for a seq_id that never comes. */
    if (!strcmp(type, "forward_backward") || !strcmp(type, "forward"))
        fwl_fwd_batch_parse(&sb.batch, body, !strcmp(type, "forward_backward"), sb.verr, sizeof sb.verr);
    char rid[48];
    fwl_tmodel *tm = submit_model_lock(s, &sb, out);
    int dup = tm ? submit_dedupe_locked(tm, &sb, rid, sizeof rid, out) : -1;
    if (tm) {
        snprintf(sb.model_id, sizeof sb.model_id, "%s", tm->id);
        submit_unlock(s, tm);
    }
    if (dup == 1) /* a retried submit: the original promise (or the same 400), never a second run */
        reply_submit(out, &sb, rid);
    if (dup != 0) {
        cJSON_Delete(body);
        fwl_fwd_batch_free(sb.batch);
        return;
    }
    submit_queue(s, &sb, body, out); /* sb.mid points into body: queued with it */
}

static void h_unload(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *mid = fwl_json_str(body, "model_id");
    if (!mid) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "model_id (string) is required");
        return;
    }
    char id[64];
    snprintf(id, sizeof id, "%s", mid);
    cJSON_Delete(body);
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = jobrt_locked(s, job, false);
    fwl_tmodel *tm = NULL;
    for (fwl_tmodel **pp = jr ? &jr->models : NULL; pp && *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->id, id)) {
            tm = *pp;
            *pp = tm->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    fwl_future *f = fwl_future_new(s, job);
    if (!f) {
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "out of memory");
        return;
    }
    if (!tm) {
        fwl_future_fail(s, f, "user", "unknown model_id %s", id);
    } else {
        model_destroy(tm);
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "model_id", id);
        cJSON_AddStringToObject(res, "type", "unload_model");
        fwl_future_complete(s, f, res);
    }
    reply_future(out, f->id, id);
}

static void h_list_checkpoints(fwl_server *s, fwl_resp *out, const char *job)
{
    size_t n = 0;
    fwl_ckpt *cks = fwl_ckpt_list(s, job, &n);
    size_t nd = 0;
    const char **names = calloc(n + 1, sizeof *names);
    if (!names) {
        free(cks);
        fwl_resp_oom(out);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (cks[i].kind == FWL_CK_DCP)
            names[nd++] = cks[i].name;
    /* docs/protocol.md §4.8: DCP names only, sorted */
    for (size_t i = 1; i < nd; i++)
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            const char *t = names[k];
            names[k] = names[k - 1];
            names[k - 1] = t;
        }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "checkpoints");
    for (size_t i = 0; i < nd; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
    free(names);
    free(cks);
    fwl_resp_json(out, 200, o);
}

void fwl_trainer_route(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *op)
{
    static const char *post_ops[] = {"create_session", "session_heartbeat", "create_model", "forward_backward",
                                     "forward", "optim_step", "save_weights", "load_weights",
                                     "save_weights_for_sampler", "retrieve_future", "unload_model", "telemetry", NULL};
    bool is_get = !strcmp(op, "healthz") || !strcmp(op, "list_checkpoints");
    bool known = is_get;
    for (size_t i = 0; post_ops[i] && !known; i++)
        known = !strcmp(op, post_ops[i]);
    if (!known) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown trainer route /api/v1/%.64s", op);
        return;
    }
    if (strcmp(r->method, is_get ? "GET" : "POST") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on /api/v1/%s (use %s)", r->method, op,
                       is_get ? "GET" : "POST");
        return;
    }
    char state[64];
    if (!fwl_job_state(s, job, state, sizeof state)) { /* the cached state: no file read per request */
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob %.64s not found", job);
        return;
    }
    if (!strcmp(state, "JOB_STATE_DELETED") || !strcmp(state, "JOB_STATE_ARCHIVED")) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "trainer %s was deleted", job);
        return;
    }
    if (!strcmp(op, "retrieve_future")) {
        fwl_retrieve_future(s, r, out);
        return;
    }
    if (strcmp(state, "JOB_STATE_RUNNING") != 0) {
        fwl_resp_error(out, 503, FWL_GRPC_UNAVAILABLE, "trainer %s is not running (state %s)", job, state);
        return;
    }
    if (!strcmp(op, "healthz")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        fwl_resp_json(out, 200, o);
    } else if (!strcmp(op, "list_checkpoints")) {
        h_list_checkpoints(s, out, job);
    } else if (!strcmp(op, "create_session")) {
        h_create_session(s, r, out, job);
    } else if (!strcmp(op, "session_heartbeat")) {
        h_heartbeat(s, r, out, job);
    } else if (!strcmp(op, "create_model")) {
        h_create_model(s, r, out, job);
    } else if (!strcmp(op, "unload_model")) {
        h_unload(s, r, out, job);
    } else if (!strcmp(op, "telemetry")) {
        /* the official client re-sends a batch (once a second, for the whole session) unless it reads this */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "accepted");
        fwl_resp_json(out, 200, o);
    } else {
        h_submit(s, r, out, job, op);
    }
}

static void jobrt_free(fwl_jobrt *jr)
{
    while (jr->models) {
        fwl_tmodel *tm = jr->models;
        jr->models = tm->next;
        model_destroy(tm);
    }
    while (jr->sessions) {
        fwl_session *ss = jr->sessions;
        jr->sessions = ss->next;
        while (ss->created) {
            fwl_cm_seen *c = ss->created;
            ss->created = c->next;
            free(c);
        }
        free(ss);
    }
    fwl_model_free(&jr->prev);
    pthread_mutex_destroy(&jr->snap_mu);
    free(jr);
}

void fwl_trainer_drop_job(fwl_server *s, const char *job)
{
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = NULL;
    for (fwl_jobrt **pp = &s->jobs; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->job, job)) {
            jr = *pp;
            *pp = jr->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (jr)
        jobrt_free(jr);
}

void fwl_trainer_shutdown(fwl_server *s)
{
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *all = s->jobs;
    s->jobs = NULL;
    pthread_mutex_unlock(&s->lock);
    while (all) {
        fwl_jobrt *n = all->next;
        jobrt_free(all);
        all = n;
    }
}
