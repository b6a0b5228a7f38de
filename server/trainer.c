/* Trainer data plane (protocol §4): sessions, models and routes. Each model has one worker thread that runs its
 * ops strictly in seq_id order (protocol §4.3). A submit is refused without taking its seq_id only when it cannot
 * be ordered (bad JSON, no model, no seq_id). A bad forward batch is answered 400 but still takes its seq_id;
 * every other problem fails the op's future with category "user" (ops.c). Either way a bad op never leaves a hole
 * in the sequence that would stall the ops behind it. Sessions silent for --session-timeout-ms expire with their
 * models (reap_locked). */
#include "trainer.h"

#include "fwd_batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    while (tm->queue) {
        fwl_op *op = tm->queue;
        tm->queue = op->next;
        fwl_future_fail(tm->s, op->fut, "server", "model %s was unloaded before op seq_id %lld ran", tm->id,
                        (long long)op->seq);
        cJSON_Delete(op->body);
        fwl_fwd_batch_free(op->batch);
        free(op);
    }
    pthread_mutex_unlock(&tm->mu);
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
    cJSON_AddStringToObject(o, "request_id", rid);
    if (model_id)
        cJSON_AddStringToObject(o, "model_id", model_id);
    fwl_resp_json(out, 200, o);
}

static void h_create_session(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    cJSON_Delete(body);
    fwl_session *ss = calloc(1, sizeof *ss);
    fwl_new_id(s, "sess-", ss->id, sizeof ss->id);
    ss->last_us = fwl_now_us();
    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = jobrt_locked(s, job, true);
    fwl_tmodel *dead = reap_locked(s, jr, NULL);
    ss->next = jr->sessions;
    jr->sessions = ss;
    pthread_mutex_unlock(&s->lock);
    reap_finish(dead);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "session_id", ss->id);
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

/* protocol §4.1 */
static void h_create_model(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *sid = fwl_json_str(body, "session_id");
    int64_t mseq = 0;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(body, "model_seq_id");
    if (!sid || (ms && !fwl_json_int(body, "model_seq_id", &mseq))) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "session_id (string) is required; model_seq_id must be an integer");
        return;
    }
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(body, "lora_config");
    const char *bm = fwl_json_str(body, "base_model");
    if ((lc && !cJSON_IsObject(lc) && !cJSON_IsNull(lc)) ||
        (cJSON_GetObjectItemCaseSensitive(body, "base_model") && !bm)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "lora_config must be an object and base_model a string");
        return;
    }
    cJSON *jobj = fwl_job_load(s, job);
    const cJSON *tc = jobj ? cJSON_GetObjectItemCaseSensitive(jobj, "trainingConfig") : NULL;
    const char *jbm = tc ? fwl_json_str(tc, "baseModel") : NULL;
    const cJSON *jr_rank = tc ? cJSON_GetObjectItemCaseSensitive(tc, "loraRank") : NULL;
    const cJSON *lc_rank = cJSON_IsObject(lc) ? cJSON_GetObjectItemCaseSensitive(lc, "rank") : NULL;
    /* ranks are converted to int only once known to fit (a float-to-int overflow is undefined behaviour) */
    if (lc_rank && !cJSON_IsNull(lc_rank) &&
        (!cJSON_IsNumber(lc_rank) || !isfinite(lc_rank->valuedouble) || lc_rank->valuedouble < 0 ||
         lc_rank->valuedouble > FWL_MAX_LORA_RANK || lc_rank->valuedouble != floor(lc_rank->valuedouble))) {
        cJSON_Delete(body);
        cJSON_Delete(jobj);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "lora_config.rank must be an integer 0..%d (0 = full-parameter)",
                       FWL_MAX_LORA_RANK);
        return;
    }
    double jrank = cJSON_IsNumber(jr_rank) && isfinite(jr_rank->valuedouble) ? jr_rank->valuedouble : 0;
    int lora_rank = cJSON_IsNumber(lc_rank) && lc_rank->valuedouble > 0 ? (int)lc_rank->valuedouble
                    : jrank > 0 ? (jrank >= FWL_MAX_LORA_RANK ? FWL_MAX_LORA_RANK : (int)jrank)
                                : 0;
    char mismatch[600] = "";
    if (bm && jbm && *bm && *jbm && strcmp(bm, jbm) != 0)
        snprintf(mismatch, sizeof mismatch, "base_model %.200s does not match the trainer's %.200s", bm, jbm);
    cJSON_Delete(jobj);

    pthread_mutex_lock(&s->lock);
    fwl_jobrt *jr = jobrt_locked(s, job, true);
    fwl_session *ss = session_locked(jr, sid);
    fwl_tmodel *dead = reap_locked(s, jr, sid); /* other sessions' expiry frees their LoRA slots */
    if (!ss) {
        pthread_mutex_unlock(&s->lock);
        reap_finish(dead);
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown session %.64s (create_session first)", sid);
        cJSON_Delete(body);
        return;
    }
    ss->last_us = fwl_now_us();
    for (fwl_cm_seen *c = ss->created; c; c = c->next) {
        if (ms && c->model_seq == mseq) {
            /* a retried create_model: same promise */
            char rid[48];
            snprintf(rid, sizeof rid, "%s", c->rid);
            pthread_mutex_unlock(&s->lock);
            reap_finish(dead);
            cJSON_Delete(body);
            reply_future(out, rid, NULL);
            return;
        }
    }
    pthread_mutex_unlock(&s->lock);
    reap_finish(dead);

    fwl_future *f = fwl_future_new(s, job);
    if (!f) {
        cJSON_Delete(body);
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "out of memory");
        return;
    }
    if (mismatch[0]) {
        fwl_future_fail(s, f, "user", "%s", mismatch);
    } else {
        fwl_tmodel *tm = calloc(1, sizeof *tm);
        bool ok = tm != NULL, capped = false;
        if (ok) {
            tm->s = s;
            tm->next_seq = 1;
            tm->lora_rank = lora_rank;
            snprintf(tm->session, sizeof tm->session, "%s", sid);
        }
        ok = ok && fwl_model_init(&tm->m, s->cfg.model_dim, s->cfg.seed) == 0;
        ok = ok && fwl_adam_init(&tm->a, tm->m.n_params) == 0;
        ok = ok && (tm->grad = calloc(tm->m.n_params, sizeof(float))) != NULL;
        if (ok) {
            pthread_mutex_init(&tm->mu, NULL);
            pthread_cond_init(&tm->cv, NULL);
            fwl_new_id(s, "model-", tm->id, sizeof tm->id);
            pthread_mutex_lock(&s->lock);
            jr = jobrt_locked(s, job, true);
            tm->jr = jr;
            int loras = 0;
            for (fwl_tmodel *o = jr->models; o; o = o->next)
                loras += o->lora_rank > 0;
            /* protocol §4.1: the trainer caps concurrent LoRA sessions at 2; unload_model frees one */
            capped = lora_rank > 0 && loras >= 2;
            ok = !capped && pthread_create(&tm->thr, NULL, worker_main, tm) == 0;
            if (ok) {
                tm->next = jr->models;
                jr->models = tm;
            }
            pthread_mutex_unlock(&s->lock);
        }
        if (!ok) {
            if (tm) {
                if (capped) {
                    pthread_mutex_destroy(&tm->mu);
                    pthread_cond_destroy(&tm->cv);
                }
                fwl_model_free(&tm->m);
                fwl_adam_free(&tm->a);
                free(tm->grad);
                free(tm);
            }
            if (capped)
                fwl_future_fail(s, f, "user", "Cannot create LoRA session %.64s: maximum of 2 concurrent sessions reached",
                                sid);
            else
                fwl_future_fail(s, f, "server", "could not create the model (dim %d)", s->cfg.model_dim);
        } else {
            cJSON *res = cJSON_CreateObject();
            cJSON_AddStringToObject(res, "model_id", tm->id);
            cJSON_AddStringToObject(res, "type", "create_model");
            fwl_future_complete(s, f, res);
        }
    }
    if (ms) {
        pthread_mutex_lock(&s->lock);
        fwl_session *ss2 = session_locked(jobrt_locked(s, job, false), sid);
        if (ss2) {
            fwl_cm_seen *c = calloc(1, sizeof *c);
            c->model_seq = mseq;
            snprintf(c->rid, sizeof c->rid, "%s", f->id);
            c->next = ss2->created;
            ss2->created = c;
        }
        pthread_mutex_unlock(&s->lock);
    }
    cJSON_Delete(body);
    reply_future(out, f->id, NULL);
}

/* protocol §4.3: a seq'd training op */
static void h_submit(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *type)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *mid = fwl_json_str(body, "model_id");
    int64_t seq;
    if (!mid || !fwl_json_int(body, "seq_id", &seq) || seq < 1) {
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
    char keybuf[160];
    snprintf(keybuf, sizeof keybuf, "%s", key ? key : "");
    /* A forward batch is checked here so a bad one is a 400 (fwd_batch.h). The op still takes its seq_id and
     * fails its future with the same message: the ops behind it must not wait for a seq_id that never comes. */
    fwl_fwd_batch *batch = NULL;
    char verr[512] = "";
    bool fwd = !strcmp(type, "forward_backward") || !strcmp(type, "forward");
    if (fwd)
        fwl_fwd_batch_parse(&batch, body, !strcmp(type, "forward_backward"), verr, sizeof verr);

    pthread_mutex_lock(&s->lock);
    fwl_tmodel *tm = model_locked(jobrt_locked(s, job, false), mid);
    if (!tm) {
        pthread_mutex_unlock(&s->lock);
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "unknown model_id %.64s on this trainer (create_model first)", mid);
        cJSON_Delete(body);
        fwl_fwd_batch_free(batch);
        return;
    }
    fwl_session *owner = session_locked(tm->jr, tm->session);
    if (owner)
        owner->last_us = fwl_now_us(); /* a working client keeps its session alive even between heartbeats */
    pthread_mutex_lock(&tm->mu);
    for (size_t i = 0; i < tm->nseen; i++) {
        fwl_seen *sn = &tm->seen[i];
        if (sn->seq != seq)
            continue;
        if (!strcmp(sn->key, keybuf) && !strcmp(sn->type, type)) {
            char rid[48], m2[48];
            snprintf(rid, sizeof rid, "%s", sn->rid);
            snprintf(m2, sizeof m2, "%s", tm->id);
            pthread_mutex_unlock(&tm->mu);
            pthread_mutex_unlock(&s->lock);
            cJSON_Delete(body);
            fwl_fwd_batch_free(batch);
            if (verr[0]) /* a retried refused submit: refused again, same text */
                fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", verr);
            else
                reply_future(out, rid, m2); /* a retried submit: the original promise, never a second run */
            return;
        }
        char was[40];
        snprintf(was, sizeof was, "%s", sn->type);
        pthread_mutex_unlock(&tm->mu);
        pthread_mutex_unlock(&s->lock);
        cJSON_Delete(body);
        fwl_fwd_batch_free(batch);
        fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION,
                       "seq_id %lld was already submitted as another request (%s, different idempotency key)",
                       (long long)seq, was);
        return;
    }
    if (seq < tm->next_seq) {
        pthread_mutex_unlock(&tm->mu);
        pthread_mutex_unlock(&s->lock);
        cJSON_Delete(body);
        fwl_fwd_batch_free(batch);
        fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION, "seq_id %lld is behind this model's sequence", (long long)seq);
        return;
    }
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_unlock(&s->lock);

    fwl_future *f = fwl_future_new(s, job);
    fwl_op *op = calloc(1, sizeof *op);
    if (!f || !op) {
        free(op);
        cJSON_Delete(body);
        fwl_fwd_batch_free(batch);
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "out of memory");
        return;
    }
    op->seq = seq;
    op->batch = batch;
    snprintf(op->type, sizeof op->type, "%s", type);
    op->body = body;
    op->fut = f;
    char model_id[48];
    pthread_mutex_lock(&s->lock);
    tm = model_locked(jobrt_locked(s, job, false), mid);
    if (!tm) {
        pthread_mutex_unlock(&s->lock);
        fwl_future_fail(s, f, "server", "model was unloaded");
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "model %.64s was unloaded", mid);
        cJSON_Delete(body);
        fwl_fwd_batch_free(batch);
        free(op);
        return;
    }
    snprintf(model_id, sizeof model_id, "%s", tm->id);
    pthread_mutex_lock(&tm->mu);
    /* re-check under the lock: a concurrent retry of the same seq may have won */
    for (size_t i = 0; i < tm->nseen; i++) {
        if (tm->seen[i].seq == seq) {
            char rid[48];
            bool same = !strcmp(tm->seen[i].key, keybuf) && !strcmp(tm->seen[i].type, type);
            snprintf(rid, sizeof rid, "%s", tm->seen[i].rid);
            pthread_mutex_unlock(&tm->mu);
            pthread_mutex_unlock(&s->lock);
            fwl_future_fail(s, f, "server", "duplicate submit");
            cJSON_Delete(body);
            fwl_fwd_batch_free(batch);
            free(op);
            if (same && verr[0])
                fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", verr);
            else if (same)
                reply_future(out, rid, model_id);
            else
                fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION, "seq_id %lld was already submitted", (long long)seq);
            return;
        }
    }
    if (tm->nseen == tm->capseen) {
        tm->capseen = tm->capseen ? tm->capseen * 2 : 64;
        tm->seen = realloc(tm->seen, tm->capseen * sizeof *tm->seen);
    }
    fwl_seen *sn = &tm->seen[tm->nseen++];
    sn->seq = seq;
    snprintf(sn->key, sizeof sn->key, "%s", keybuf);
    snprintf(sn->type, sizeof sn->type, "%s", type);
    snprintf(sn->rid, sizeof sn->rid, "%s", f->id);
    fwl_op **pp = &tm->queue;
    while (*pp && (*pp)->seq < seq)
        pp = &(*pp)->next;
    op->next = *pp;
    *pp = op;
    pthread_cond_broadcast(&tm->cv);
    pthread_mutex_unlock(&tm->mu);
    pthread_mutex_unlock(&s->lock);
    if (verr[0])
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", verr);
    else
        reply_future(out, f->id, model_id);
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
    for (size_t i = 0; i < n; i++)
        if (cks[i].kind == FWL_CK_DCP)
            names[nd++] = cks[i].name;
    /* protocol §4.8: DCP names only, sorted */
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
    cJSON *jobj = fwl_job_load(s, job);
    if (!jobj) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob %.64s not found", job);
        return;
    }
    char state[64];
    snprintf(state, sizeof state, "%s", fwl_json_str(jobj, "state") ? fwl_json_str(jobj, "state") : "");
    cJSON_Delete(jobj);
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
        fwl_resp_json(out, 200, cJSON_CreateObject());
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
    free(jr->prev_snap);
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
