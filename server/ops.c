/* The training ops (docs/protocol.md §4.4-§4.10): forward / forward_backward (any loss of loss.h, via fwd_batch.c),
 * optim_step (Adam), save_weights (DCP), load_weights, save_weights_for_sampler (base / delta). They run on the
 * model's worker thread; a failure is reported through the op's future as {"error", "category"}. */
#include "trainer.h"

#include "fwd_batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small JSON helpers --------------------------------------------------- */

bool fwl_json_int(const cJSON *o, const char *k, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9007199254740992.0)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* ---- the ops ---------------------------------------------------------------- */

typedef struct op_err {
    char cat[16];
    char msg[512];
} op_err;

#define USER_ERR(e, ...)                                                                                               \
    do {                                                                                                               \
        snprintf((e)->cat, sizeof (e)->cat, "user");                                                                   \
        snprintf((e)->msg, sizeof (e)->msg, __VA_ARGS__);                                                              \
    } while (0)
#define SERVER_ERR(e, ...)                                                                                             \
    do {                                                                                                               \
        snprintf((e)->cat, sizeof (e)->cat, "server");                                                                 \
        snprintf((e)->msg, sizeof (e)->msg, __VA_ARGS__);                                                              \
    } while (0)

/* docs/protocol.md §4.10: forward_backward / forward. The batch was parsed when the op was submitted (fwd_batch.c);
 * an op refused there still holds its seq_id and fails here with the same message. */
static cJSON *exec_forward(fwl_tmodel *tm, fwl_op *op, bool backward, op_err *e)
{
    fwl_fwd_batch *b = op->batch;
    if (!b && fwl_fwd_batch_parse(&b, op->body, backward, e->msg, sizeof e->msg) != 0) {
        snprintf(e->cat, sizeof e->cat, "user");
        return NULL;
    }
    cJSON *res = fwl_fwd_batch_run(b, &tm->m, backward ? tm->grad : NULL);
    if (!res)
        SERVER_ERR(e, "out of memory");
    if (b != op->batch)
        fwl_fwd_batch_free(b);
    return res;
}

static bool num_field(const cJSON *o, const char *k, double *v, op_err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!x)
        return true;
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
        USER_ERR(e, "adam_params.%s must be a finite number", k);
        return false;
    }
    *v = x->valuedouble;
    return true;
}

/* docs/protocol.md §4.9 */
static cJSON *exec_optim(fwl_tmodel *tm, const cJSON *body, op_err *e)
{
    fwl_adam_params p = {.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-12, .weight_decay = 0, .grad_clip_norm = 0};
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(body, "adam_params");
    if (ap && !cJSON_IsObject(ap)) {
        USER_ERR(e, "adam_params must be an object");
        return NULL;
    }
    if (ap && !(num_field(ap, "learning_rate", &p.lr, e) && num_field(ap, "beta1", &p.beta1, e) &&
                num_field(ap, "beta2", &p.beta2, e) && num_field(ap, "eps", &p.eps, e) &&
                num_field(ap, "weight_decay", &p.weight_decay, e) && num_field(ap, "grad_clip_norm", &p.grad_clip_norm, e)))
        return NULL;
    if (p.lr < 0 || p.beta1 < 0 || p.beta1 >= 1 || p.beta2 < 0 || p.beta2 >= 1 || p.eps < 0) {
        USER_ERR(e, "adam_params out of range (learning_rate >= 0, 0 <= beta < 1, eps >= 0)");
        return NULL;
    }
    double norm = fwl_adam_step(&tm->m, &tm->a, tm->grad, &p);
    cJSON *res = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(res, "metrics");
    if (isfinite(norm))
        cJSON_AddNumberToObject(m, "grad_norm", norm);
    cJSON_AddNumberToObject(m, "step", (double)tm->a.step);
    cJSON_AddStringToObject(res, "type", "optim_step");
    return res;
}

static bool ttl_of(const cJSON *body, int64_t *expire_us, op_err *e)
{
    *expire_us = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "ttl_seconds");
    if (!t || cJSON_IsNull(t))
        return true;
    if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 1e9) {
        USER_ERR(e, "ttl_seconds must be a non-negative number");
        return false;
    }
    if (t->valuedouble > 0)
        *expire_us = fwl_now_us() + (int64_t)(t->valuedouble * 1e6);
    return true;
}

/* docs/protocol.md §4.4: DCP = weights + Adam moments + step */
static cJSON *exec_save(fwl_tmodel *tm, const cJSON *body, op_err *e)
{
    const char *name = fwl_json_str(body, "path");
    if (!name || !fwl_valid_ckpt_name(name)) {
        USER_ERR(e, "path must be a checkpoint name of 1-128 characters [A-Za-z0-9._-]");
        return NULL;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "overwrite"))) {
        USER_ERR(e, "overwrite=true is not supported; use a new checkpoint name");
        return NULL;
    }
    fwl_ckpt ck = {0};
    if (!ttl_of(body, &ck.expire_us, e))
        return NULL;
    uint8_t *buf;
    size_t len;
    if (fwl_dcp_encode(&tm->m, &tm->a, &buf, &len) != 0) {
        SERVER_ERR(e, "could not encode the checkpoint");
        return NULL;
    }
    snprintf(ck.job, sizeof ck.job, "%s", tm->jr->job);
    snprintf(ck.name, sizeof ck.name, "%s", name);
    ck.kind = FWL_CK_DCP;
    ck.lora_rank = tm->lora_rank;
    int rc = fwl_ckpt_write(tm->s, &ck, buf, len);
    free(buf);
    if (rc != 0) {
        SERVER_ERR(e, "could not write checkpoint %s", name);
        return NULL;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "path", name);
    cJSON_AddStringToObject(res, "type", "save_weights");
    return res;
}

/* docs/protocol.md §4.5: a bare name of this job, cross_job://<job>/<name>, or an absolute path in the data dir */
static bool resolve_path(fwl_server *s, const char *job, const char *path, char *rjob, char *rname, op_err *e)
{
    const char *cj = "cross_job://";
    if (!strncmp(path, cj, strlen(cj))) {
        const char *rest = path + strlen(cj);
        const char *sl = strchr(rest, '/');
        if (!sl || (size_t)(sl - rest) >= FWL_ID_MAX) {
            USER_ERR(e, "malformed cross_job reference \"%.200s\" (want cross_job://<job>/<name>)", path);
            return false;
        }
        snprintf(rjob, FWL_ID_MAX, "%.*s", (int)(sl - rest), rest);
        snprintf(rname, FWL_NAME_MAX, "%s", sl + 1);
    } else if (path[0] == '/') {
        char pfx[4200];
        snprintf(pfx, sizeof pfx, "%s/jobs/", s->cfg.data_dir);
        if (strncmp(path, pfx, strlen(pfx)) != 0 || strstr(path, "/../") || strstr(path, "/./")) {
            USER_ERR(e, "path %.200s is outside the server's data directory", path);
            return false;
        }
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s", path + strlen(pfx));
        char *a = strtok(tmp, "/"), *b = strtok(NULL, "/"), *c = strtok(NULL, "/"), *d = strtok(NULL, "/");
        if (!a || !b || strcmp(b, "checkpoints") != 0 || !c || d) {
            USER_ERR(e, "path %.200s is not a checkpoint (want %.200s<job>/checkpoints/<name>)", path, pfx);
            return false;
        }
        size_t cl = strlen(c);
        if (cl > 5 && !strcmp(c + cl - 5, ".json"))
            c[cl - 5] = 0;
        snprintf(rjob, FWL_ID_MAX, "%s", a);
        snprintf(rname, FWL_NAME_MAX, "%s", c);
    } else {
        if (strchr(path, '/') || strchr(path, ':')) {
            USER_ERR(e, "unsupported checkpoint path \"%.200s\" (use a name, cross_job://<job>/<name> or an absolute path)",
                     path);
            return false;
        }
        snprintf(rjob, FWL_ID_MAX, "%s", job);
        snprintf(rname, FWL_NAME_MAX, "%s", path);
    }
    if (!fwl_valid_id(rjob) || !fwl_valid_ckpt_name(rname)) {
        USER_ERR(e, "checkpoint \"%.200s\" not found", path);
        return false;
    }
    return true;
}

static cJSON *exec_load(fwl_tmodel *tm, const cJSON *body, op_err *e)
{
    const char *path = fwl_json_str(body, "path");
    if (!path || !*path) {
        USER_ERR(e, "path (string) is required");
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(body, "weights_access_token")) {
        USER_ERR(e, "weights_access_token is not supported");
        return NULL;
    }
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(body, "optimizer");
    if (opt && !cJSON_IsBool(opt)) {
        USER_ERR(e, "optimizer must be a boolean");
        return NULL;
    }
    bool with_opt = cJSON_IsTrue(opt);
    char rjob[FWL_ID_MAX], rname[FWL_NAME_MAX];
    if (!resolve_path(tm->s, tm->jr->job, path, rjob, rname, e))
        return NULL;
    fwl_ckpt ck;
    if (fwl_ckpt_get(tm->s, rjob, rname, &ck) != 0) {
        USER_ERR(e, "checkpoint \"%.200s\" not found (job %s)", path, rjob);
        return NULL;
    }
    if (ck.kind != FWL_CK_DCP) {
        USER_ERR(e, "\"%.200s\" is a sampler snapshot; load_weights needs a DCP checkpoint saved with save_weights", path);
        return NULL;
    }
    uint8_t *buf;
    size_t len;
    if (fwl_ckpt_read_data(tm->s, &ck, &buf, &len) != 0) {
        SERVER_ERR(e, "could not read checkpoint %s", path);
        return NULL;
    }
    fwl_model m;
    fwl_adam a;
    char err[256];
    int rc = fwl_dcp_decode(&m, &a, buf, len, err, sizeof err);
    free(buf);
    if (rc != 0) {
        SERVER_ERR(e, "checkpoint %.200s is damaged: %s", path, err);
        return NULL;
    }
    if (m.dim != tm->m.dim) {
        USER_ERR(e, "checkpoint %.200s has model dim %d, this server runs dim %d", path, m.dim, tm->m.dim);
        fwl_model_free(&m);
        fwl_adam_free(&a);
        return NULL;
    }
    fwl_model_free(&tm->m);
    tm->m = m;
    fwl_adam_free(&tm->a);
    tm->a = a;
    if (!with_opt)
        fwl_adam_reset(&tm->a);
    memset(tm->grad, 0, tm->m.n_params * sizeof(float));
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "path", path);
    cJSON_AddStringToObject(res, "type", "load_weights");
    return res;
}

/* The job's latest sampler snapshot into jr->prev (after a restart the in-memory copy is gone). */
static int latest_snapshot(fwl_server *s, fwl_jobrt *jr, op_err *e)
{
    if (jr->prev.w)
        return 0;
    size_t n = 0;
    fwl_ckpt *cks = fwl_ckpt_list(s, jr->job, &n);
    const fwl_ckpt *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (cks[i].kind != FWL_CK_DCP)
            last = &cks[i];
    int rc = -1;
    if (!last) {
        USER_ERR(e, "a delta needs a previous sampler snapshot of this job; save a base first");
    } else {
        char err[256];
        if (fwl_snapshot_weights(s, last, &jr->prev, err, sizeof err) != 0) {
            USER_ERR(e, "cannot rebuild the previous snapshot %s for a delta: %s; save a base", last->name, err);
        } else {
            snprintf(jr->prev_name, sizeof jr->prev_name, "%s", last->name);
            jr->prev_create_us = last->create_us;
            jr->prev_root.known = false;
            rc = 0;
        }
    }
    free(cks);
    return rc;
}

/* checkpoint_type → delta (else base) and merged; false with e set when the type is refused. */
static bool sampler_type(const fwl_tmodel *tm, const cJSON *body, bool *delta, bool *merged, op_err *e)
{
    const char *type = fwl_json_str(body, "checkpoint_type");
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(body, "checkpoint_type");
    *merged = false;
    if (tj && !cJSON_IsNull(tj) && !type) {
        USER_ERR(e, "checkpoint_type must be a string");
        return false;
    }
    if (!type || !strcasecmp(type, "base")) {
        *delta = false;
    } else if (!strcasecmp(type, "delta")) {
        *delta = tm->lora_rank == 0; /* LoRA saves are always full adapters, whatever the type (§4.6) */
    } else if (!strcasecmp(type, "merged_base")) {
        if (tm->lora_rank == 0) {
            USER_ERR(e, "checkpoint_type merged_base is only for LoRA trainers");
            return false;
        }
        *delta = false;
        *merged = true;
    } else {
        USER_ERR(e, "unknown checkpoint_type \"%.40s\" (base, delta)", type);
        return false;
    }
    return true;
}

/* Writes the snapshot: a base as safetensors straight from the weights (header + weights, no joined copy), a
 * delta as zstd(prev XOR cur) against jr->prev. Caller holds jr->snap_mu. */
static int write_snapshot(fwl_tmodel *tm, fwl_ckpt *ck, bool delta, op_err *e)
{
    fwl_jobrt *jr = tm->jr;
    size_t len = tm->m.n_params * sizeof(float);
    if (!delta) {
        uint8_t hdr[4096];
        size_t hlen = 0;
        if (fwl_safetensors_header(&tm->m, hdr, sizeof hdr, &hlen) != 0)
            return -1;
        fwl_part parts[2] = {{hdr, hlen}, {tm->m.w, len}};
        return fwl_ckpt_write_parts(tm->s, ck, parts, 2);
    }
    if (latest_snapshot(tm->s, jr, e) != 0)
        return -1;
    if (jr->prev.n_params * sizeof(float) != len) {
        USER_ERR(e, "the previous snapshot %s has another size; save a base", jr->prev_name);
        return -1;
    }
    snprintf(ck->prev, sizeof ck->prev, "%s", jr->prev_name);
    ck->prev_create_us = jr->prev_create_us;
    uint8_t *buf = NULL;
    size_t blen = 0;
    /* prev advances to cur while it is encoded (only the changed chunks are written), and its root with it */
    int rc = fwl_delta_encode_advance((uint8_t *)jr->prev.w, (const uint8_t *)tm->m.w, len, FWL_DELTA_LEVEL,
                                      &jr->prev_root, &buf, &blen);
    if (rc == 0)
        rc = fwl_ckpt_write(tm->s, ck, buf, blen);
    free(buf);
    if (rc != 0)
        fwl_model_free(&jr->prev); /* advanced but not saved: the next delta rebuilds its base from disk */
    return rc;
}

/* docs/protocol.md §4.6: base = safetensors of the full weights; delta = zstd(prev XOR cur) + XXH3 (delta.c) */
static cJSON *exec_sampler(fwl_tmodel *tm, const cJSON *body, op_err *e)
{
    const char *name = fwl_json_str(body, "path");
    if (!name || !fwl_valid_ckpt_name(name)) {
        USER_ERR(e, "path must be a snapshot name of 1-128 characters [A-Za-z0-9._-]");
        return NULL;
    }
    bool delta, merged;
    if (!sampler_type(tm, body, &delta, &merged, e))
        return NULL;
    fwl_ckpt ck = {0};
    if (!ttl_of(body, &ck.expire_us, e))
        return NULL;
    snprintf(ck.job, sizeof ck.job, "%s", tm->jr->job);
    snprintf(ck.name, sizeof ck.name, "%s", name);
    ck.kind = delta ? FWL_CK_DELTA : FWL_CK_BASE;
    ck.lora_rank = delta || merged ? 0 : tm->lora_rank; /* merged_base promotes as a base model */
    fwl_jobrt *jr = tm->jr;
    pthread_mutex_lock(&jr->snap_mu);
    if (write_snapshot(tm, &ck, delta, e) != 0) {
        pthread_mutex_unlock(&jr->snap_mu);
        if (!e->cat[0])
            SERVER_ERR(e, "could not write sampler snapshot %s", name);
        return NULL;
    }
    /* the next delta's base: a delta advanced it already; a base is copied into the same buffer every time (no
     * fresh, page-faulting allocation) */
    if (!delta && jr->prev.w && jr->prev.dim != tm->m.dim)
        fwl_model_free(&jr->prev);
    if (!delta && (jr->prev.w || fwl_model_alloc(&jr->prev, tm->m.dim) == 0))
        memcpy(jr->prev.w, tm->m.w, tm->m.n_params * sizeof(float));
    if (!delta)
        jr->prev_root.known = false; /* computed by the next delta save, in its own pass */
    if (jr->prev.w) {
        snprintf(jr->prev_name, sizeof jr->prev_name, "%s", name);
        jr->prev_create_us = ck.create_us;
    }
    pthread_mutex_unlock(&jr->snap_mu);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "path", name);
    cJSON_AddNullToObject(res, "sampling_session_id");
    cJSON_AddStringToObject(res, "type", "save_weights_for_sampler");
    return res;
}

void fwl_run_op(fwl_tmodel *tm, fwl_op *op)
{
    op_err e = {{0}, {0}};
    cJSON *res = NULL;
    if (!strcmp(op->type, "forward_backward"))
        res = exec_forward(tm, op, true, &e);
    else if (!strcmp(op->type, "forward"))
        res = exec_forward(tm, op, false, &e);
    else if (!strcmp(op->type, "optim_step"))
        res = exec_optim(tm, op->body, &e);
    else if (!strcmp(op->type, "save_weights"))
        res = exec_save(tm, op->body, &e);
    else if (!strcmp(op->type, "load_weights"))
        res = exec_load(tm, op->body, &e);
    else if (!strcmp(op->type, "save_weights_for_sampler"))
        res = exec_sampler(tm, op->body, &e);
    if (res) {
        fwl_future_complete(tm->s, op->fut, res);
    } else {
        if (!e.cat[0])
            SERVER_ERR(&e, "%s failed", op->type);
        if (tm->s->cfg.verbose || !strcmp(e.cat, "server"))
            fwl_log("op %s seq %lld on %s failed (%s): %s", op->type, (long long)op->seq, tm->id, e.cat, e.msg);
        fwl_future_fail(tm->s, op->fut, e.cat, "%s", e.msg);
    }
}
