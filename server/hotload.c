/* Hotload (protocol §3.8, §3.9): each deployment has one replica holding its own copy of the weights.
 * A base snapshot is loaded whole; a delta is applied to the held weights only if the request names the
 * held snapshot as previous_snapshot_identity and the result's adler32 matches, exactly like the service.
 * Loading runs on the background thread (pending -> downloading -> done | error); the held snapshot is
 * persisted (safetensors + identity) so it survives a restart. */
#include "fwl.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fwl_weights {
    int refs;
    fwl_model m;
    char identity[FWL_NAME_MAX];
};

typedef struct fwl_replica {
    char dep[FWL_ID_MAX];
    fwl_weights *w;
    char stage[16];
    char target[FWL_NAME_MAX];
    char error[400];
    uint64_t gen;
    struct fwl_replica *next;
} fwl_replica;

typedef struct load_task {
    char dep[FWL_ID_MAX];
    char identity[FWL_NAME_MAX];
    char prev[FWL_NAME_MAX];
    bool incremental;
    uint64_t gen;
} load_task;

const struct fwl_model *fwl_weights_model(const fwl_weights *w)
{
    return &w->m;
}

static void weights_unref_locked(fwl_weights *w)
{
    if (w && --w->refs == 0) {
        fwl_model_free(&w->m);
        free(w);
    }
}

void fwl_weights_unref(fwl_server *s, fwl_weights *w)
{
    pthread_mutex_lock(&s->lock);
    weights_unref_locked(w);
    pthread_mutex_unlock(&s->lock);
}

static fwl_weights *weights_from_file(fwl_server *s, const char *file, const char *identity)
{
    char p[4500];
    snprintf(p, sizeof p, "%s/deployments/%s", s->cfg.data_dir, file);
    uint8_t *buf;
    size_t len;
    if (strchr(file, '/') || fwl_read_file(p, &buf, &len) != 0)
        return NULL;
    fwl_weights *w = calloc(1, sizeof *w);
    char err[256];
    if (!w || fwl_safetensors_decode(&w->m, buf, len, err, sizeof err) != 0) {
        fwl_log("deployment weights %s unreadable: %s", file, w ? err : "oom");
        free(w);
        free(buf);
        return NULL;
    }
    free(buf);
    w->refs = 1;
    snprintf(w->identity, sizeof w->identity, "%s", identity);
    return w;
}

/* s->lock held. Creates the replica on first use, restoring the persisted snapshot. */
static fwl_replica *replica_locked(fwl_server *s, const char *dep)
{
    for (fwl_replica *r = s->replicas; r; r = r->next)
        if (!strcmp(r->dep, dep))
            return r;
    cJSON *d = fwl_deployment_load(s, dep);
    if (!d)
        return NULL;
    fwl_replica *r = calloc(1, sizeof *r);
    snprintf(r->dep, sizeof r->dep, "%s", dep);
    snprintf(r->stage, sizeof r->stage, "idle");
    const char *id = fwl_json_str(d, "_currentIdentity"), *file = fwl_json_str(d, "_weightsFile");
    if (id && file) {
        r->w = weights_from_file(s, file, id);
        if (r->w)
            snprintf(r->stage, sizeof r->stage, "done");
    }
    cJSON_Delete(d);
    r->next = s->replicas;
    s->replicas = r;
    return r;
}

fwl_weights *fwl_replica_weights(fwl_server *s, const char *dep)
{
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = replica_locked(s, dep);
    fwl_weights *w = r ? r->w : NULL;
    if (w)
        w->refs++;
    pthread_mutex_unlock(&s->lock);
    return w;
}

bool fwl_replica_loading(fwl_server *s, const char *dep)
{
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = replica_locked(s, dep);
    bool busy = r && (!strcmp(r->stage, "pending") || !strcmp(r->stage, "downloading"));
    pthread_mutex_unlock(&s->lock);
    return busy;
}

void fwl_replica_forget(fwl_server *s, const char *dep)
{
    pthread_mutex_lock(&s->lock);
    for (fwl_replica **pp = &s->replicas; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->dep, dep)) {
            fwl_replica *r = *pp;
            *pp = r->next;
            weights_unref_locked(r->w);
            free(r);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void fwl_replica_reset(fwl_server *s, const char *dep)
{
    pthread_mutex_lock(&s->lock);
    for (fwl_replica *r = s->replicas; r; r = r->next) {
        if (!strcmp(r->dep, dep)) {
            weights_unref_locked(r->w);
            r->w = NULL;
            r->gen++;
            snprintf(r->stage, sizeof r->stage, "idle");
            r->target[0] = 0;
            r->error[0] = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void fwl_replicas_free(fwl_server *s)
{
    while (s->replicas) {
        fwl_replica *r = s->replicas;
        s->replicas = r->next;
        weights_unref_locked(r->w);
        free(r);
    }
}

bool fwl_parse_deployment_header(const char *v, char *dep, size_t len)
{
    return v && fwl_parse_resource(v, "deployments", dep, len);
}

static void set_stage(fwl_server *s, const load_task *t, const char *stage, const char *err)
{
    pthread_mutex_lock(&s->lock);
    for (fwl_replica *r = s->replicas; r; r = r->next) {
        if (!strcmp(r->dep, t->dep) && r->gen == t->gen) {
            snprintf(r->stage, sizeof r->stage, "%s", stage);
            snprintf(r->error, sizeof r->error, "%s", err ? err : "");
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (err)
        fwl_log("hotload of %s on deployment %s failed: %s", t->identity, t->dep, err);
}

static bool current_gen(fwl_server *s, const load_task *t, fwl_weights **held)
{
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    for (fwl_replica *r = s->replicas; r; r = r->next) {
        if (!strcmp(r->dep, t->dep) && r->gen == t->gen) {
            ok = true;
            if (held) {
                *held = r->w;
                if (r->w)
                    r->w->refs++;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void load_run(fwl_server *s, void *arg)
{
    load_task *t = arg;
    fwl_weights *held = NULL;
    if (!current_gen(s, t, NULL))
        return; /* superseded or deleted */
    set_stage(s, t, "downloading", NULL);
    /* the "downloading" time; cut short by shutdown */
    for (int waited = 0; waited < s->cfg.hotload_ms && !s->stopping; waited += 10)
        fwl_sleep_ms(s->cfg.hotload_ms - waited < 10 ? s->cfg.hotload_ms - waited : 10);
    if (s->stopping)
        return;
    char err[400] = "";
    fwl_weights *nw = NULL;
    cJSON *d = fwl_deployment_load(s, t->dep);
    const char *tj = d ? fwl_json_str(d, "hotLoadTrainerJob") : NULL;
    char job[FWL_ID_MAX];
    fwl_ckpt ck;
    if (!d) {
        snprintf(err, sizeof err, "deployment was deleted");
    } else if (!tj || !*tj || !fwl_parse_resource(tj, "rlorTrainerJobs", job, sizeof job)) {
        snprintf(err, sizeof err, "deployment is not attached to a trainer (set hotLoadTrainerJob)");
    } else if (fwl_ckpt_get(s, job, t->identity, &ck) != 0) {
        snprintf(err, sizeof err, "snapshot %s not found in trainer %s's bucket", t->identity, job);
    } else if (ck.kind == FWL_CK_DCP) {
        snprintf(err, sizeof err, "%s is a training (DCP) checkpoint, not a sampler snapshot", t->identity);
    } else if (!current_gen(s, t, &held)) {
        cJSON_Delete(d);
        return;
    } else {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (fwl_ckpt_read_data(s, &ck, &buf, &len) != 0) {
            snprintf(err, sizeof err, "cannot read snapshot %s", t->identity);
        } else if (ck.kind == FWL_CK_BASE && ck.lora_rank > 0 && t->incremental) {
            /* protocol §5: incremental metadata on a LoRA adapter crashes the serving container */
            snprintf(err, sizeof err, "%s is a LoRA adapter: load it without incremental_snapshot_metadata", t->identity);
        } else if (ck.kind == FWL_CK_BASE) {
            nw = calloc(1, sizeof *nw);
            if (fwl_safetensors_decode(&nw->m, buf, len, err, sizeof err) != 0) {
                free(nw);
                nw = NULL;
            }
        } else if (!t->incremental) {
            snprintf(err, sizeof err, "%s is a delta snapshot; load it with incremental_snapshot_metadata", t->identity);
        } else if (!held || strcmp(held->identity, t->prev) != 0) {
            snprintf(err, sizeof err, "previous_snapshot_identity %s is not the snapshot this replica holds (%s)",
                     t->prev, held ? held->identity : "none");
        } else {
            size_t wl = held->m.n_params * sizeof(float);
            uint8_t *out = NULL;
            char derr[256];
            if (fwl_delta_apply((const uint8_t *)held->m.w, wl, buf, len, &out, derr, sizeof derr) != 0) {
                snprintf(err, sizeof err, "delta %.100s does not apply to %.100s: %.150s", t->identity, held->identity, derr);
            } else {
                nw = calloc(1, sizeof *nw);
                if (fwl_model_copy(&nw->m, &held->m) != 0) {
                    free(nw);
                    nw = NULL;
                    snprintf(err, sizeof err, "out of memory");
                } else {
                    memcpy(nw->m.w, out, wl);
                }
                free(out);
            }
        }
        free(buf);
    }
    if (held)
        fwl_weights_unref(s, held);
    if (!nw) {
        cJSON_Delete(d);
        set_stage(s, t, "error", err[0] ? err : "load failed");
        return;
    }
    nw->refs = 1;
    snprintf(nw->identity, sizeof nw->identity, "%s", t->identity);
    /* persist: new weights file, then the deployment record pointing at it, then drop the old file */
    uint8_t *st = NULL;
    size_t stl = 0;
    char file[FWL_NAME_MAX + 96], p[4500];
    snprintf(file, sizeof file, "%s.%lld.safetensors", t->dep, (long long)fwl_now_us());
    snprintf(p, sizeof p, "%s/deployments/%s", s->cfg.data_dir, file);
    bool ok = fwl_safetensors_encode(&nw->m, &st, &stl) == 0 && fwl_write_atomic(p, st, stl) == 0;
    free(st);
    char old[FWL_NAME_MAX + 96] = "";
    pthread_mutex_lock(&s->lock);
    cJSON *cur = fwl_deployment_load(s, t->dep);
    bool still = false;
    for (fwl_replica *r = s->replicas; r; r = r->next)
        if (!strcmp(r->dep, t->dep) && r->gen == t->gen)
            still = true;
    if (ok && cur && still) {
        const char *of = fwl_json_str(cur, "_weightsFile");
        if (of)
            snprintf(old, sizeof old, "%s", of);
        cJSON_DeleteItemFromObjectCaseSensitive(cur, "_weightsFile");
        cJSON_DeleteItemFromObjectCaseSensitive(cur, "_currentIdentity");
        cJSON_AddStringToObject(cur, "_weightsFile", file);
        cJSON_AddStringToObject(cur, "_currentIdentity", t->identity);
        char dp[4500];
        snprintf(dp, sizeof dp, "%s/deployments/%s.json", s->cfg.data_dir, t->dep);
        ok = fwl_write_json(dp, cur) == 0;
    }
    if (ok && cur && still) {
        for (fwl_replica *r = s->replicas; r; r = r->next) {
            if (!strcmp(r->dep, t->dep) && r->gen == t->gen) {
                weights_unref_locked(r->w);
                r->w = nw;
                nw = NULL;
                snprintf(r->stage, sizeof r->stage, "done");
                r->error[0] = 0;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(cur);
    cJSON_Delete(d);
    if (nw) {
        /* superseded, deleted, or not persisted */
        unlink(p);
        weights_unref_locked(nw);
        if (!ok)
            set_stage(s, t, "error", "could not persist the loaded snapshot");
        return;
    }
    if (old[0] && strcmp(old, file) != 0 && !strchr(old, '/')) {
        snprintf(p, sizeof p, "%s/deployments/%s", s->cfg.data_dir, old);
        unlink(p);
    }
}

static bool deployment_from_headers(fwl_server *s, fwl_req *r, fwl_resp *out, char *dep, size_t len, bool *zero)
{
    const char *h = fwl_req_header(r, "fireworks-deployment");
    if (!h) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "header fireworks-deployment is required");
        return false;
    }
    if (!fwl_parse_deployment_header(h, dep, len)) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "fireworks-deployment must be accounts/%s/deployments/<id>", FWL_ACCOUNT);
        return false;
    }
    cJSON *d = fwl_deployment_load(s, dep);
    if (!d) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, dep);
        return false;
    }
    *zero = fwl_deployment_scaled_to_zero(d);
    cJSON_Delete(d);
    return true;
}

static void hotload_status(fwl_server *s, const char *dep, fwl_resp *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *reps = cJSON_AddArrayToObject(o, "replicas");
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = replica_locked(s, dep);
    if (r) {
        cJSON *rep = cJSON_CreateObject();
        if (r->w)
            cJSON_AddStringToObject(rep, "current_snapshot_identity", r->w->identity);
        else
            cJSON_AddNullToObject(rep, "current_snapshot_identity");
        cJSON_AddBoolToObject(rep, "readiness", true);
        cJSON *ls = cJSON_AddObjectToObject(rep, "loading_state");
        cJSON_AddStringToObject(ls, "stage", r->stage);
        if (r->target[0])
            cJSON_AddStringToObject(ls, "target_snapshot_identity", r->target);
        else
            cJSON_AddNullToObject(ls, "target_snapshot_identity");
        if (r->error[0])
            cJSON_AddStringToObject(ls, "error_message", r->error);
        cJSON_AddItemToArray(reps, rep);
    }
    pthread_mutex_unlock(&s->lock);
    fwl_resp_json(out, 200, o);
}

void fwl_hotload_route(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    bool get = !strcmp(r->method, "GET");
    if (!get && strcmp(r->method, "POST") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on the hotload API", r->method);
        return;
    }
    char dep[FWL_ID_MAX];
    bool zero = false;
    if (!deployment_from_headers(s, r, out, dep, sizeof dep, &zero))
        return;
    if (get && zero) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddArrayToObject(o, "replicas");
        fwl_resp_json(out, 200, o);
        return;
    }
    if (get) {
        hotload_status(s, dep, out);
        return;
    }
    if (zero) {
        fwl_resp_error(out, 400, FWL_GRPC_FAILED_PRECONDITION,
                       "deployment %s is scaled to zero (maxReplicaCount 0): no replica to load into", dep);
        return;
    }
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    if (s->cfg.strict_hotload) {
        /* the old body schema: only identity and incremental_snapshot_metadata (pydantic extra="forbid") */
        for (const cJSON *it = body->child; it; it = it->next) {
            if (it->string && strcmp(it->string, "identity") != 0 &&
                strcmp(it->string, "incremental_snapshot_metadata") != 0) {
                fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                               "1 validation error for HotLoadRequest\n%.100s\n  Extra inputs are not permitted", it->string);
                cJSON_Delete(body);
                return;
            }
        }
    }
    const char *identity = fwl_json_str(body, "identity");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "incremental_snapshot_metadata");
    const cJSON *rpc = cJSON_GetObjectItemCaseSensitive(body, "reset_prompt_cache");
    const char *prev = meta ? fwl_json_str(meta, "previous_snapshot_identity") : NULL;
    const char *cks = meta ? fwl_json_str(meta, "checksum_format") : NULL;
    if (!identity || !fwl_valid_ckpt_name(identity)) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "identity (snapshot name) is required");
        return;
    }
    if ((rpc && !cJSON_IsBool(rpc)) || (meta && !cJSON_IsNull(meta) && (!cJSON_IsObject(meta) || !prev))) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT,
                       "reset_prompt_cache must be a boolean; incremental_snapshot_metadata needs previous_snapshot_identity");
        return;
    }
    if (cks && strcmp(cks, "alder32") != 0 && strcmp(cks, "adler32") != 0) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "unsupported checksum_format %.40s (alder32)", cks);
        cJSON_Delete(body);
        return;
    }
    load_task *t = calloc(1, sizeof *t);
    snprintf(t->dep, sizeof t->dep, "%s", dep);
    snprintf(t->identity, sizeof t->identity, "%s", identity);
    if (prev) {
        t->incremental = true;
        snprintf(t->prev, sizeof t->prev, "%s", prev);
    }
    char ident[FWL_NAME_MAX];
    snprintf(ident, sizeof ident, "%s", identity);
    cJSON_Delete(body);
    identity = ident;
    bool post = true;
    pthread_mutex_lock(&s->lock);
    fwl_replica *rep = replica_locked(s, dep);
    if (!rep) {
        post = false;
    } else if ((rep->w && !strcmp(rep->w->identity, identity) && strcmp(rep->stage, "error") != 0 &&
                (!strcmp(rep->stage, "done") || !strcmp(rep->stage, "idle"))) ||
               ((!strcmp(rep->stage, "pending") || !strcmp(rep->stage, "downloading")) &&
                !strcmp(rep->target, identity))) {
        /* already held or already loading it: a retried POST is a no-op */
        post = false;
    } else {
        rep->gen++;
        t->gen = rep->gen;
        snprintf(rep->stage, sizeof rep->stage, "pending");
        snprintf(rep->target, sizeof rep->target, "%s", identity);
        rep->error[0] = 0;
    }
    pthread_mutex_unlock(&s->lock);
    if (post)
        fwl_bg_post(s, 0, load_run, t, free);
    else
        free(t);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "accepted");
    cJSON_AddStringToObject(o, "identity", identity);
    fwl_resp_json(out, 200, o);
}
