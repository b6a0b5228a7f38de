/* Deployments' serving state. Each deployment has one replica holding its own copy of the weights. A base
 * snapshot is loaded whole; a delta is applied to the held weights only if the request names the held snapshot
 * as previous_snapshot_identity and the result's checksum matches, exactly like the service. Loading runs on the
 * background thread (pending -> downloading -> done | error); the held snapshot is persisted (a base plus the
 * deltas applied since, replica_store.h) so it survives a restart, and so does an accepted load that had not
 * finished (`_pendingLoad` in the record, resumed at startup): a restart of the server, like a trainer restart
 * on the service, does not drop a hotload the deployment accepted, so a client waiting for it sees it land.
 *
 * No weight-sized copies: each replica keeps the buffer it served before as a spare (when nothing else still
 * reads it). A base load decodes into that spare, which then becomes the held weights. A sparse (version-3)
 * delta is decoded and checked against the held weights without writing them (a patch of the changed chunks);
 * once persisted it is written into the held weights in place, under s->lock, when nothing but the replica and
 * the load reference them, so no reader ever sees them change; while an inference request reads them it goes
 * into the spare instead (a copy of the held weights plus the patch). Older whole-XOR deltas are applied into the
 * spare (held XOR delta).
 *
 * Durability: a hotload's own writes (the pending marker, the linked snapshot file, the record naming it) are
 * atomic and survive kill -9 (the page cache outlives the process), but only the record's data is fsynced: no
 * directory fsync, no second fsync of the snapshot bytes (the trainer's save fsynced them). The link comes
 * before the record's rename and a journaling file system keeps that order, so after a power loss the record
 * names files that exist; it may be an earlier record (an earlier snapshot of the chain, or no pending load),
 * which the hotload status then reports. Three fsyncs of five were most of a delta hotload's time; the pending
 * marker is written while the load already runs (pending_save), so its fsync overlaps the load's.
 *
 * s->lock guards the replica list and is held only for memory work: files are read before it is taken and
 * written after it is released (the record write under s->rec_lock). A replica's `gen` changes whenever it is
 * reset or asked for another load, so a load that finished for an older generation is dropped. */
#include "replica.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bg.h"
#include "ckpt.h"
#include "model.h"
#include "records.h"
#include "replica_store.h"
#include "store.h"
#include "util.h"

struct fwl_weights {
    int refs;
    fwl_model m;
    char identity[FWL_NAME_MAX];
    int64_t stamp;   /* create_us of the snapshot loaded (0: unknown): a delta naming it may vouch for its root */
    fwl_wroot root;  /* content root of m's bytes when known (after a version-3 delta, or a restore) */
};

typedef struct fwl_replica {
    char dep[FWL_ID_MAX];
    fwl_weights *w;
    fwl_weights *spare;    /* the previous weights, recycled by the next load (nobody else references it) */
    char stage[16];
    char target[FWL_NAME_MAX];
    char error[400];
    uint64_t gen;
    bool rolling;          /* a new pod is coming up: not ready, holds nothing */
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

/* The weights the deployment record says it served (a base plus its deltas), or NULL (logged). */
static fwl_weights *weights_from_record(const cJSON *d, fwl_server *s, const char *dep, const char *identity)
{
    fwl_weights *w = calloc(1, sizeof *w);
    char err[300];
    if (!w || fwl_replica_restore_weights(s, d, &w->m, &w->root, err, sizeof err) != 0) {
        fwl_log("deployment %s: its weights are unreadable: %s", dep, w ? err : "out of memory");
        if (w)
            fwl_model_free(&w->m);
        free(w);
        return NULL;
    }
    w->refs = 1;
    snprintf(w->identity, sizeof w->identity, "%s", identity);
    return w;
}

/* The base weights (what a fresh trainer model starts from) under `identity`: what a new pod serves. */
static fwl_weights *weights_base(fwl_server *s, const char *identity)
{
    fwl_weights *w = calloc(1, sizeof *w);
    if (!w || fwl_model_init(&w->m, s->cfg.model_dim, s->cfg.seed) != 0) {
        fwl_log("out of memory bringing up a pod %s", identity);
        free(w);
        return NULL;
    }
    w->refs = 1;
    snprintf(w->identity, sizeof w->identity, "%s", identity);
    return w;
}

static fwl_replica *find_locked(fwl_server *s, const char *dep)
{
    for (fwl_replica *r = s->replicas; r; r = r->next)
        if (!strcmp(r->dep, dep))
            return r;
    return NULL;
}

/* A new replica restoring the persisted snapshot (disk reads: called without s->lock). */
static fwl_replica *replica_restore(fwl_server *s, const char *dep)
{
    cJSON *d = fwl_deployment_load(s, dep);
    if (!d)
        return NULL;
    fwl_replica *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(d);
        return NULL;
    }
    snprintf(r->dep, sizeof r->dep, "%s", dep);
    snprintf(r->stage, sizeof r->stage, "idle");
    const char *id = fwl_json_str(d, "_currentIdentity"), *file = fwl_json_str(d, "_weightsFile");
    const char *pod = fwl_json_str(d, "_podIdentity");
    if (id && file) {
        r->w = weights_from_record(d, s, dep, id);
        if (r->w)
            snprintf(r->stage, sizeof r->stage, "done");
    } else if (pod) {
        r->w = weights_base(s, pod); /* a rolled pod that has loaded nothing yet */
    }
    cJSON_Delete(d);
    return r;
}

/* Returns with s->lock HELD and the deployment's replica (created on first use), or NULL (lock still held)
 * when the deployment is unknown or memory ran out. */
static fwl_replica *replica_acquire(fwl_server *s, const char *dep)
{
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = find_locked(s, dep);
    if (r)
        return r;
    pthread_mutex_unlock(&s->lock);
    fwl_replica *nr = replica_restore(s, dep);
    pthread_mutex_lock(&s->lock);
    r = find_locked(s, dep); /* another thread may have restored it meanwhile */
    if (r || !nr) {
        if (nr) {
            weights_unref_locked(nr->w);
            weights_unref_locked(nr->spare);
            free(nr);
        }
        return r;
    }
    nr->next = s->replicas;
    s->replicas = nr;
    return nr;
}

fwl_weights *fwl_replica_weights(fwl_server *s, const char *dep)
{
    fwl_replica *r = replica_acquire(s, dep);
    fwl_weights *w = r ? r->w : NULL;
    if (w)
        w->refs++;
    pthread_mutex_unlock(&s->lock);
    return w;
}

bool fwl_replica_loading(fwl_server *s, const char *dep)
{
    fwl_replica *r = replica_acquire(s, dep);
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
            weights_unref_locked(r->spare);
            free(r);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

typedef struct pod_task {
    char dep[FWL_ID_MAX];
    char pod[48];
    uint64_t gen;
} pod_task;

/* The new pod is up (unless the replica rolled again or loaded something meanwhile). */
static void pod_up(fwl_server *s, void *arg)
{
    pod_task *t = arg;
    fwl_weights *w = weights_base(s, t->pod);
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = find_locked(s, t->dep);
    if (r && r->gen == t->gen && r->rolling) {
        r->rolling = false;
        r->w = w;
        w = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (w)
        fwl_weights_unref(s, w);
}

void fwl_replica_roll(fwl_server *s, const char *dep, const char *pod)
{
    pod_task *t = pod ? calloc(1, sizeof *t) : NULL;
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = find_locked(s, dep);
    if (r) {
        weights_unref_locked(r->w);
        r->w = NULL;
        r->gen++;
        r->rolling = pod != NULL;
        snprintf(r->stage, sizeof r->stage, "idle");
        r->target[0] = 0;
        r->error[0] = 0;
    }
    if (r && t) {
        snprintf(t->dep, sizeof t->dep, "%s", dep);
        snprintf(t->pod, sizeof t->pod, "%s", pod);
        t->gen = r->gen;
    }
    pthread_mutex_unlock(&s->lock);
    if (r && t)
        fwl_bg_post(s, s->cfg.hotload_ms, pod_up, t, free);
    else
        free(t); /* not in memory: the first use restores the pod from the record */
}

void fwl_replicas_free(fwl_server *s)
{
    while (s->replicas) {
        fwl_replica *r = s->replicas;
        s->replicas = r->next;
        weights_unref_locked(r->w);
        weights_unref_locked(r->spare);
        free(r);
    }
}

bool fwl_parse_deployment_header(const char *v, char *dep, size_t len)
{
    return v && fwl_parse_resource(v, "deployments", dep, len);
}

/* s->lock held: the replica this task was posted for, unless it was reset, re-targeted or deleted since. */
static fwl_replica *task_replica_locked(fwl_server *s, const load_task *t)
{
    fwl_replica *r = find_locked(s, t->dep);
    return r && r->gen == t->gen ? r : NULL;
}

static void set_stage(fwl_server *s, const load_task *t, const char *stage, const char *err)
{
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = task_replica_locked(s, t);
    if (r) {
        snprintf(r->stage, sizeof r->stage, "%s", stage);
        snprintf(r->error, sizeof r->error, "%s", err ? err : "");
    }
    pthread_mutex_unlock(&s->lock);
    if (err)
        fwl_log("hotload of %s on deployment %s failed: %s", t->identity, t->dep, err);
}

/* Still current? With held != NULL, also takes a reference to the weights the replica holds now. */
static bool current_gen(fwl_server *s, const load_task *t, fwl_weights **held)
{
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = task_replica_locked(s, t);
    if (r && held) {
        *held = r->w;
        if (r->w)
            r->w->refs++;
    }
    pthread_mutex_unlock(&s->lock);
    return r != NULL;
}

/* The replica's spare weights (taken: the caller owns them now), or fresh ones. NULL when out of memory. */
static fwl_weights *take_spare(fwl_server *s, const load_task *t)
{
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = task_replica_locked(s, t);
    fwl_weights *w = r ? r->spare : NULL;
    if (r)
        r->spare = NULL;
    pthread_mutex_unlock(&s->lock);
    if (!w)
        w = calloc(1, sizeof *w);
    if (w) {
        w->refs = 1;
        w->stamp = 0; /* its bytes are about to change */
        w->root.known = false;
    }
    return w;
}

/* What a load produced: the new weights, or for a sparse (version-3) delta the patch to the held weights
 * (`held`, referenced until the load is installed); for a delta also the bytes applied. */
typedef struct load_out {
    fwl_weights *w;
    fwl_weights *held;
    fwl_delta_patch patch;
    bool patched;
    uint8_t *delta;
    size_t dlen;
} load_out;

static bool held_is_prev(const load_task *t, const fwl_weights *held, char *err, size_t el)
{
    if (!held || strcmp(held->identity, t->prev) != 0) {
        snprintf(err, el, "previous_snapshot_identity %s is not the snapshot this replica holds (%s)", t->prev,
                 held ? held->identity : "none");
        return false;
    }
    return true;
}

/* A sparse delta checked against the held weights (only read) into out->patch. The root of the held weights is
 * known after a sparse delta; after a base load it is not, and computing it reads every byte, so the delta may
 * vouch for it instead when it names, by creation stamp, exactly the snapshot the replica loaded (the trainer's
 * base for it was those bytes); its changed chunks are still checked against them (delta_sparse.c). */
static int patch_delta(const load_task *t, const fwl_ckpt *ck, fwl_weights *held, load_out *out, char *err,
                       size_t el)
{
    if (!held_is_prev(t, held, err, el))
        return -1;
    size_t bytes = held->m.n_params * sizeof(float);
    fwl_wroot r = held->root;
    char derr[256];
    if (!r.known && held->stamp && ck->prev_create_us == held->stamp && !strcmp(ck->prev, held->identity) &&
        fwl_delta_roots(out->delta, out->dlen, bytes, &r.sum, NULL, derr, sizeof derr) == 0)
        r.known = true;
    if (fwl_delta_patch_prepare((const uint8_t *)held->m.w, bytes, &r, out->delta, out->dlen, &out->patch, derr,
                                sizeof derr) != 0) {
        snprintf(err, el, "delta %.100s does not apply to %.100s: %.150s", t->identity, held->identity, derr);
        return -1;
    }
    out->patched = true;
    return 0;
}

/* nw = held XOR delta, written into nw's own (recycled) buffer; held is only read. 0, or -1 with err. */
static int apply_delta(const load_task *t, const fwl_weights *held, fwl_weights *nw, const uint8_t *buf, size_t len,
                       char *err, size_t el)
{
    if (!held_is_prev(t, held, err, el))
        return -1;
    if (fwl_model_fit(&nw->m, held->m.dim) != 0) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    char derr[256];
    if (fwl_delta_apply_into((const uint8_t *)held->m.w, (uint8_t *)nw->m.w, held->m.n_params * sizeof(float), buf,
                             len, derr, sizeof derr) != 0) {
        snprintf(err, el, "delta %.100s does not apply to %.100s: %.150s", t->identity, held->identity, derr);
        return -1;
    }
    return 0;
}

/* A base snapshot decoded into nw's buffer, read through a read-only mapping (no heap copy of the file). */
static int load_base(fwl_server *s, const load_task *t, const fwl_ckpt *ck, fwl_weights *nw, char *err, size_t el)
{
    char dir[4200], p[4500];
    fwl_ckpt_dir(s, ck->job, dir, sizeof dir);
    snprintf(p, sizeof p, "%s/%s", dir, ck->file);
    const uint8_t *buf = NULL;
    size_t len = 0;
    if (fwl_map_file(p, &buf, &len) != 0) {
        snprintf(err, el, "cannot read snapshot %s", t->identity);
        return -1;
    }
    int rc = fwl_safetensors_decode_into(&nw->m, buf, len, err, el);
    fwl_unmap_file(buf, len);
    return rc;
}

/* The weights snapshot `ck` stands for into out: a decoded base, a version 1-2 delta over held (a new buffer), or a
 * version-3 delta's patch to held (which out then references). -1 + err on failure. */
static int weights_from_ckpt(fwl_server *s, const load_task *t, const fwl_ckpt *ck, fwl_weights *held,
                             load_out *out, char *err, size_t el)
{
    if (ck->kind == FWL_CK_BASE && ck->lora_rank > 0 && t->incremental) {
        /* docs/protocol.md §5: incremental metadata on a LoRA adapter crashes the serving container */
        snprintf(err, el, "%s is a LoRA adapter: load it without incremental_snapshot_metadata", t->identity);
        return -1;
    }
    if (ck->kind != FWL_CK_BASE && !t->incremental) {
        snprintf(err, el, "%s is a delta snapshot; load it with incremental_snapshot_metadata", t->identity);
        return -1;
    }
    if (ck->kind != FWL_CK_BASE) {
        if (fwl_ckpt_read_data(s, ck, &out->delta, &out->dlen) != 0) {
            snprintf(err, el, "cannot read snapshot %s", t->identity);
            return -1;
        }
        if (fwl_delta_version(out->delta, out->dlen) == 3) {
            if (patch_delta(t, ck, held, out, err, el) != 0) {
                free(out->delta);
                out->delta = NULL;
                return -1;
            }
            pthread_mutex_lock(&s->lock);
            held->refs++;
            pthread_mutex_unlock(&s->lock);
            out->held = held;
            return 0;
        }
    }
    fwl_weights *nw = take_spare(s, t);
    if (!nw) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    int rc;
    if (ck->kind == FWL_CK_BASE)
        rc = load_base(s, t, ck, nw, err, el);
    else
        rc = apply_delta(t, held, nw, out->delta, out->dlen, err, el);
    if (rc != 0) {
        fwl_model_free(&nw->m);
        free(nw);
        free(out->delta);
        out->delta = NULL;
        return -1;
    }
    out->w = nw;
    return 0;
}

/* Finds the snapshot the task names in the attached trainer's bucket; -1 + err when it cannot be loaded. */
static int find_snapshot(fwl_server *s, const load_task *t, fwl_ckpt *ck, char *err, size_t el)
{
    cJSON *d = fwl_deployment_load(s, t->dep);
    const char *tj = d ? fwl_json_str(d, "hotLoadTrainerJob") : NULL;
    char job[FWL_ID_MAX];
    int rc = -1;
    if (!d)
        snprintf(err, el, "deployment was deleted");
    else if (!tj || !*tj || !fwl_parse_resource(tj, "rlorTrainerJobs", job, sizeof job))
        snprintf(err, el, "deployment is not attached to a trainer (set hotLoadTrainerJob)");
    else if (fwl_ckpt_get(s, job, t->identity, ck) != 0)
        snprintf(err, el, "snapshot %s not found in trainer %s's bucket", t->identity, job);
    else if (ck->kind == FWL_CK_DCP)
        snprintf(err, el, "%s is a training (DCP) checkpoint, not a sampler snapshot", t->identity);
    else
        rc = 0;
    cJSON_Delete(d);
    return rc;
}

/* Installs nw as the replica's weights; the weights it held become its spare when nothing else reads them.
 * false when the task is no longer current (nw untouched). s->lock held. */
static bool install_locked(fwl_server *s, const load_task *t, fwl_weights *nw)
{
    fwl_replica *r = task_replica_locked(s, t);
    if (!r)
        return false;
    fwl_weights *old = r->w;
    r->w = nw;
    if (old && old->refs == 1 && !r->spare)
        r->spare = old; /* recycled by the next load */
    else
        weights_unref_locked(old);
    snprintf(r->stage, sizeof r->stage, "done");
    r->error[0] = 0;
    return true;
}

/* The replica's spare weights (or fresh ones) with a buffer for `dim`, or NULL when out of memory. */
static fwl_weights *spare_for(fwl_server *s, const load_task *t, int dim)
{
    fwl_weights *nw = take_spare(s, t);
    if (nw && fwl_model_fit(&nw->m, dim) != 0) {
        free(nw);
        nw = NULL;
    }
    return nw;
}

/* A patched load made whole in nw: held + the patch, under the new identity. For when the held weights cannot
 * change in place (someone reads them) or a full base must be written. */
static void materialize(const load_task *t, const fwl_ckpt *ck, load_out *o, fwl_weights *nw)
{
    const fwl_model *hm = &o->held->m;
    memcpy(nw->m.w, hm->w, hm->n_params * sizeof(float));
    fwl_delta_patch_apply(&o->patch, (uint8_t *)nw->m.w);
    nw->root.sum = o->patch.root;
    nw->root.known = true;
    nw->stamp = ck->create_us;
    snprintf(nw->identity, sizeof nw->identity, "%s", t->identity);
    o->w = nw;
}

/* s->lock held: a patched load written into the held weights themselves, when the replica still holds them and
 * nothing else reads them (refs: the replica's and this load's), so nobody sees them change. */
static bool install_in_place_locked(fwl_server *s, const load_task *t, const fwl_ckpt *ck, load_out *o)
{
    fwl_replica *r = task_replica_locked(s, t);
    fwl_weights *h = o->held;
    if (!r || r->w != h || h->refs != 2)
        return false;
    fwl_delta_patch_apply(&o->patch, (uint8_t *)h->m.w);
    h->root.sum = o->patch.root;
    h->root.known = true;
    h->stamp = ck->create_us;
    snprintf(h->identity, sizeof h->identity, "%s", t->identity);
    snprintf(r->stage, sizeof r->stage, "done");
    r->error[0] = 0;
    return true;
}

/* Persists the load (its file, then the record pointing at it) and installs it in the replica. A patched load
 * goes in place when it can; else, and for the other loads, as new weights (o->w, taken). A patched load holds a
 * buffer in reserve (the spare: usually there already) before the record changes, so that once the record names
 * the new snapshot nothing can fail. */
static void load_commit(fwl_server *s, const load_task *t, const fwl_ckpt *ck, load_out *o)
{
    char file[FWL_NAME_MAX + 96] = "", dp[4500];
    fwl_deployment_path(s, t->dep, dp, sizeof dp);
    cJSON *before = fwl_deployment_load(s, t->dep); /* loads run one at a time: its chain is still current below */
    bool ok = true, is_delta = false;
    fwl_weights *reserve = NULL;
    if (o->patched) {
        reserve = spare_for(s, t, o->held->m.dim);
        ok = reserve != NULL; /* (out of memory: reported as a failed load) */
        if (ok && fwl_replica_store_wants_base(before, true)) {
            materialize(t, ck, o, reserve); /* the chain is full: a base is written from these */
            reserve = NULL;
        }
    } else if (o->w) {
        snprintf(o->w->identity, sizeof o->w->identity, "%s", t->identity);
        o->w->stamp = ck->create_us;
    }
    ok = ok && fwl_replica_store_files(s, t->dep, before, ck, o->w ? &o->w->m : NULL, o->delta, o->dlen, file,
                                       sizeof file, &is_delta) == 0;
    cJSON_Delete(before);
    cJSON *old = cJSON_CreateArray();
    if (!old)
        ok = false; /* (out of memory: reported as a failed load) */
    /* rec_lock keeps a PATCH/DELETE of the record out until the replica holds what the record says */
    pthread_mutex_lock(&s->rec_lock);
    cJSON *cur = fwl_deployment_load(s, t->dep);
    bool still = cur && current_gen(s, t, NULL);
    if (ok && still) {
        fwl_replica_record_files(cur, file, is_delta, old);
        fwl_json_put(cur, "_currentIdentity", cJSON_CreateString(t->identity));
        cJSON_DeleteItemFromObjectCaseSensitive(cur, "_pendingLoad"); /* this load (a later one bumps gen) */
        ok = fwl_write_json_unsynced_dir(dp, cur) == 0;
    }
    pthread_mutex_lock(&s->lock);
    bool installed = false;
    if (ok && still && !o->w) {
        installed = install_in_place_locked(s, t, ck, o);
        if (!installed && reserve && task_replica_locked(s, t)) {
            /* someone reads the held weights: the new ones go into the reserve (the loads run one at a time, so
             * the held weights cannot change meanwhile; rec_lock still keeps the record as written) */
            pthread_mutex_unlock(&s->lock);
            materialize(t, ck, o, reserve);
            reserve = NULL;
            pthread_mutex_lock(&s->lock);
        }
    }
    if (ok && still && o->w)
        installed = install_locked(s, t, o->w);
    fwl_replica *r = reserve ? task_replica_locked(s, t) : NULL;
    if (r && !r->spare) {
        r->spare = reserve; /* not needed after all: the spare again */
        reserve = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&s->rec_lock);
    cJSON_Delete(cur);
    if (reserve)
        fwl_weights_unref(s, reserve);
    if (!installed) {
        /* superseded, deleted, or not persisted */
        cJSON *mine = file[0] ? cJSON_CreateArray() : NULL;
        if (mine)
            cJSON_AddItemToArray(mine, cJSON_CreateString(file));
        fwl_replica_unlink_files(s, NULL, mine);
        cJSON_Delete(mine);
        if (o->w)
            fwl_weights_unref(s, o->w);
        if (!ok)
            set_stage(s, t, "error", "could not persist the loaded snapshot (see the server log)");
    } else {
        fwl_replica_unlink_files(s, NULL, old); /* what the record no longer names */
    }
    o->w = NULL;
    cJSON_Delete(old);
}

static void load_run(fwl_server *s, void *arg)
{
    load_task *t = arg;
    if (!current_gen(s, t, NULL))
        return; /* superseded or deleted */
    set_stage(s, t, "downloading", NULL);
    /* the "downloading" time; cut short by shutdown */
    for (int waited = 0; waited < s->cfg.hotload_ms && !s->stopping; waited += 10)
        fwl_sleep_ms(s->cfg.hotload_ms - waited < 10 ? s->cfg.hotload_ms - waited : 10);
    if (s->stopping)
        return;
    char err[400] = "";
    fwl_ckpt ck;
    fwl_weights *held = NULL;
    load_out o = {0};
    int rc = -1;
    if (find_snapshot(s, t, &ck, err, sizeof err) == 0) {
        if (!current_gen(s, t, &held))
            return;
        rc = weights_from_ckpt(s, t, &ck, held, &o, err, sizeof err);
    }
    if (held)
        fwl_weights_unref(s, held);
    if (rc != 0) {
        set_stage(s, t, "error", err[0] ? err : "load failed");
        return;
    }
    load_commit(s, t, &ck, &o);
    if (o.held)
        fwl_weights_unref(s, o.held);
    fwl_delta_patch_free(&o.patch);
    free(o.delta);
}

/* Records the accepted load in the deployment record, so a restart resumes it; written while the load already
 * runs (both write the record under rec_lock), so the load's own work and fsync overlap this one. Not written once
 * the load has landed or another load has replaced it (its marker would be stale). Failing to write it costs only
 * that (logged): the load itself goes ahead. */
static void pending_save(fwl_server *s, const load_task *t)
{
    char dp[4500];
    fwl_deployment_path(s, t->dep, dp, sizeof dp);
    pthread_mutex_lock(&s->rec_lock);
    pthread_mutex_lock(&s->lock);
    fwl_replica *r = task_replica_locked(s, t);
    bool wanted = r && !(r->w && !strcmp(r->w->identity, t->identity) && !strcmp(r->stage, "done"));
    pthread_mutex_unlock(&s->lock);
    cJSON *d = wanted ? fwl_deployment_load(s, t->dep) : NULL, *p = wanted ? cJSON_CreateObject() : NULL;
    if (d && p) {
        cJSON_AddStringToObject(p, "identity", t->identity);
        if (t->incremental)
            cJSON_AddStringToObject(p, "previous", t->prev);
        fwl_json_put(d, "_pendingLoad", p);
        p = NULL;
        if (fwl_write_json_unsynced_dir(dp, d) != 0)
            fwl_log("deployment %s: could not record the load of %s (a restart will not resume it)", t->dep,
                    t->identity);
    }
    pthread_mutex_unlock(&s->rec_lock);
    cJSON_Delete(p);
    cJSON_Delete(d);
}

int fwl_replica_load(fwl_server *s, const char *dep, const char *identity, const char *prev)
{
    load_task *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dep, sizeof t->dep, "%s", dep);
    snprintf(t->identity, sizeof t->identity, "%s", identity);
    if (prev) {
        t->incremental = true;
        snprintf(t->prev, sizeof t->prev, "%s", prev);
    }
    bool post = true;
    fwl_replica *rep = replica_acquire(s, dep);
    if (!rep) {
        pthread_mutex_unlock(&s->lock);
        free(t);
        return -1;
    }
    bool loading = !strcmp(rep->stage, "pending") || !strcmp(rep->stage, "downloading");
    if ((rep->w && !strcmp(rep->w->identity, identity) && (!strcmp(rep->stage, "done") || !strcmp(rep->stage, "idle"))) ||
        (loading && !strcmp(rep->target, identity))) {
        /* already held or already loading it: a retried POST is a no-op */
        post = false;
    } else {
        rep->gen++;
        rep->rolling = false; /* a load lands on whatever pod is there */
        t->gen = rep->gen;
        snprintf(rep->stage, sizeof rep->stage, "pending");
        snprintf(rep->target, sizeof rep->target, "%s", identity);
        rep->error[0] = 0;
    }
    pthread_mutex_unlock(&s->lock);
    if (!post) {
        free(t);
        return 0;
    }
    load_task mark = *t; /* t belongs to the background thread once posted */
    if (fwl_bg_post(s, 0, load_run, t, free) != 0)
        return -1;
    pending_save(s, &mark); /* before the answer: an accepted load survives a restart */
    return 0;
}

void fwl_replica_resume_loads(fwl_server *s)
{
    char dir[4200], p[4500];
    snprintf(dir, sizeof dir, "%s/deployments", s->cfg.data_dir);
    size_t n = 0;
    char **recs = fwl_list_dir(dir, ".json", &n);
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, recs[i]);
        cJSON *d = fwl_read_json(p);
        const cJSON *pl = d ? cJSON_GetObjectItemCaseSensitive(d, "_pendingLoad") : NULL;
        const char *id = pl ? fwl_json_str(pl, "identity") : NULL, *prev = pl ? fwl_json_str(pl, "previous") : NULL;
        const char *held = d ? fwl_json_str(d, "_currentIdentity") : NULL;
        char dep[FWL_ID_MAX];
        snprintf(dep, sizeof dep, "%.*s", (int)(strlen(recs[i]) - 5), recs[i]); /* "<id>.json" */
        if (id && (!held || strcmp(held, id) != 0) && fwl_replica_load(s, dep, id, prev) == 0)
            fwl_log("deployment %s: resuming the load of %s accepted before the restart", dep, id);
        cJSON_Delete(d);
    }
    fwl_free_list(recs, n);
}

cJSON *fwl_replica_status(fwl_server *s, const char *dep)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *reps = cJSON_AddArrayToObject(o, "replicas");
    cJSON *rep = cJSON_CreateObject();
    cJSON *ls = cJSON_AddObjectToObject(rep, "loading_state");
    if (!reps || !ls) {
        cJSON_Delete(o);
        cJSON_Delete(rep);
        return NULL;
    }
    fwl_replica *r = replica_acquire(s, dep);
    if (r) {
        if (r->w)
            cJSON_AddStringToObject(rep, "current_snapshot_identity", r->w->identity);
        else
            cJSON_AddNullToObject(rep, "current_snapshot_identity");
        cJSON_AddBoolToObject(rep, "readiness", !r->rolling);
        cJSON_AddStringToObject(ls, "stage", r->stage);
        if (r->target[0])
            cJSON_AddStringToObject(ls, "target_snapshot_identity", r->target);
        else
            cJSON_AddNullToObject(ls, "target_snapshot_identity");
        if (r->error[0])
            cJSON_AddStringToObject(ls, "error_message", r->error);
    }
    pthread_mutex_unlock(&s->lock);
    if (r)
        cJSON_AddItemToArray(reps, rep);
    else
        cJSON_Delete(rep);
    return o;
}
