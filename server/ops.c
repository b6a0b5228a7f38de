/* The training ops (protocol §4.4-§4.10): forward / forward_backward (cross_entropy), optim_step (Adam),
 * save_weights (DCP), load_weights, save_weights_for_sampler (base / delta). They run on the model's worker
 * thread; a failure is reported through the op's future as {"error", "category"}. */
#include "trainer.h"

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

static cJSON *tensor_json(const float *v, size_t n)
{
    cJSON *t = cJSON_CreateObject();
    cJSON *d = cJSON_AddArrayToObject(t, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(d, cJSON_CreateNumber((double)v[i]));
    cJSON_AddStringToObject(t, "dtype", "float32");
    cJSON *sh = cJSON_AddArrayToObject(t, "shape");
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)n));
    return t;
}

/* TensorData (protocol §4.10): dense {"data": [...], "dtype", "shape"?}. */
static int tensor_read(const cJSON *t, bool ints, double **out, size_t *n, char *err, size_t el, const char *what)
{
    *out = NULL;
    *n = 0;
    if (!cJSON_IsObject(t)) {
        snprintf(err, el, "%s must be a TensorData object", what);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(t, "sparse_crow_indices")) {
        snprintf(err, el, "%s: sparse TensorData is not supported by fwtrain-local", what);
        return -1;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "data");
    if (!cJSON_IsArray(d)) {
        snprintf(err, el, "%s.data must be an array", what);
        return -1;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(d);
    double *v = malloc((cnt ? cnt : 1) * sizeof *v);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, d)
    {
        if (!cJSON_IsNumber(e) || (ints && e->valuedouble != floor(e->valuedouble))) {
            snprintf(err, el, "%s.data[%zu] must be %s", what, i, ints ? "an integer" : "a number");
            free(v);
            return -1;
        }
        v[i++] = e->valuedouble;
    }
    *out = v;
    *n = cnt;
    return 0;
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

/* protocol §4.10: forward_backward / forward with loss cross_entropy */
static cJSON *exec_forward(fwl_tmodel *tm, const cJSON *body, bool backward, op_err *e)
{
    const char *key = backward ? "forward_backward_input" : "forward_input";
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!cJSON_IsObject(in)) {
        USER_ERR(e, "%s (object) is required", key);
        return NULL;
    }
    const char *loss = fwl_json_str(in, "loss_fn");
    if (!loss) {
        USER_ERR(e, "%s.loss_fn (string) is required", key);
        return NULL;
    }
    if (strcmp(loss, "cross_entropy") != 0) {
        USER_ERR(e, "loss_fn \"%.40s\" is not supported by fwtrain-local (only cross_entropy)", loss);
        return NULL;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (!cJSON_IsArray(data)) {
        USER_ERR(e, "%s.data must be an array of Datum", key);
        return NULL;
    }
    /* parse and validate every datum before touching the gradient: a bad batch changes nothing */
    size_t nd = (size_t)cJSON_GetArraySize(data);
    int64_t **toks = calloc(nd + 1, sizeof *toks), **tgts = calloc(nd + 1, sizeof *tgts);
    float **wts = calloc(nd + 1, sizeof *wts);
    size_t *lens = calloc(nd + 1, sizeof *lens);
    cJSON *res = NULL;
    size_t di = 0;
    const cJSON *d;
    char err[400];
    cJSON_ArrayForEach(d, data)
    {
        const cJSON *mi = cJSON_GetObjectItemCaseSensitive(d, "model_input");
        const cJSON *chunks = mi ? cJSON_GetObjectItemCaseSensitive(mi, "chunks") : NULL;
        const cJSON *lfi = cJSON_GetObjectItemCaseSensitive(d, "loss_fn_inputs");
        if (!cJSON_IsArray(chunks) || !cJSON_IsObject(lfi)) {
            USER_ERR(e, "data[%zu] needs model_input.chunks (array) and loss_fn_inputs (object)", di);
            goto out;
        }
        size_t n = 0, cap = 16;
        int64_t *tk = malloc(cap * sizeof *tk);
        toks[di] = tk;
        const cJSON *ch;
        cJSON_ArrayForEach(ch, chunks)
        {
            const char *ty = fwl_json_str(ch, "type");
            const cJSON *tl = cJSON_GetObjectItemCaseSensitive(ch, "tokens");
            if ((ty && strcmp(ty, "encoded_text") != 0) || !cJSON_IsArray(tl)) {
                USER_ERR(e, "data[%zu]: only encoded_text chunks with a tokens array are supported", di);
                goto out;
            }
            const cJSON *t;
            cJSON_ArrayForEach(t, tl)
            {
                if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) || t->valuedouble < 0 ||
                    t->valuedouble > 255) {
                    USER_ERR(e, "data[%zu]: tokens must be integers 0..255 (byte-level model)", di);
                    goto out;
                }
                if (n == cap) {
                    cap *= 2;
                    tk = realloc(tk, cap * sizeof *tk);
                    toks[di] = tk;
                }
                tk[n++] = (int64_t)t->valuedouble;
            }
        }
        double *tv = NULL, *wv = NULL;
        size_t tn = 0, wn = 0;
        snprintf(err, sizeof err, "data[%zu].loss_fn_inputs.target_tokens", di);
        if (tensor_read(cJSON_GetObjectItemCaseSensitive(lfi, "target_tokens"), true, &tv, &tn, e->msg,
                        sizeof e->msg, err) != 0) {
            snprintf(e->cat, sizeof e->cat, "user");
            goto out;
        }
        tgts[di] = malloc((tn ? tn : 1) * sizeof(int64_t));
        for (size_t i = 0; i < tn; i++)
            tgts[di][i] = (int64_t)tv[i];
        free(tv);
        if (tn != n) {
            USER_ERR(e, "data[%zu]: target_tokens has %zu entries for %zu input tokens", di, tn, n);
            goto out;
        }
        for (size_t i = 0; i < tn; i++)
            if (tgts[di][i] < 0 || tgts[di][i] > 255) {
                USER_ERR(e, "data[%zu]: target_tokens must be 0..255", di);
                goto out;
            }
        wts[di] = malloc((n ? n : 1) * sizeof(float));
        const cJSON *wj = cJSON_GetObjectItemCaseSensitive(lfi, "weights");
        if (wj) {
            snprintf(err, sizeof err, "data[%zu].loss_fn_inputs.weights", di);
            if (tensor_read(wj, false, &wv, &wn, e->msg, sizeof e->msg, err) != 0) {
                snprintf(e->cat, sizeof e->cat, "user");
                goto out;
            }
            if (wn != n) {
                free(wv);
                USER_ERR(e, "data[%zu]: weights has %zu entries for %zu tokens", di, wn, n);
                goto out;
            }
            for (size_t i = 0; i < n; i++)
                wts[di][i] = (float)wv[i];
            free(wv);
        } else {
            for (size_t i = 0; i < n; i++)
                wts[di][i] = 1.0f;
        }
        lens[di] = n;
        di++;
    }
    res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "loss_fn_output_type", "TensorData");
    cJSON *outs = cJSON_AddArrayToObject(res, "loss_fn_outputs");
    double total = 0, wsum = 0;
    for (size_t i = 0; i < nd; i++) {
        float *lp = malloc((lens[i] ? lens[i] : 1) * sizeof *lp);
        double l = fwl_model_forward(&tm->m, toks[i], tgts[i], wts[i], lens[i], lp, backward ? tm->grad : NULL);
        total += l;
        for (size_t k = 0; k < lens[i]; k++)
            wsum += wts[i][k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "logprobs", tensor_json(lp, lens[i]));
        cJSON_AddItemToArray(outs, o);
        free(lp);
    }
    cJSON *metrics = cJSON_AddObjectToObject(res, "metrics");
    cJSON_AddNumberToObject(metrics, "loss:sum", total);
    cJSON_AddNumberToObject(metrics, "loss:mean", wsum > 0 ? total / wsum : 0.0);
    cJSON_AddNumberToObject(metrics, "num_tokens:sum", wsum);
    cJSON_AddStringToObject(res, "type", backward ? "forward_backward" : "forward");
out:
    for (size_t i = 0; i <= nd; i++) {
        free(toks[i]);
        free(tgts[i]);
        free(wts[i]);
    }
    free(toks);
    free(tgts);
    free(wts);
    free(lens);
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

/* protocol §4.9 */
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

/* protocol §4.4: DCP = weights + Adam moments + step */
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

/* protocol §4.5: a bare name of this job, cross_job://<job>/<name>, or an absolute path in the data dir */
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

/* The job's latest sampler snapshot as raw bytes (after a restart the in-memory copy is gone). */
static int latest_snapshot(fwl_server *s, fwl_jobrt *jr, op_err *e)
{
    if (jr->prev_snap)
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
        if (fwl_snapshot_bytes(s, last, &jr->prev_snap, &jr->prev_len, err, sizeof err) != 0) {
            USER_ERR(e, "cannot rebuild the previous snapshot %s for a delta: %s; save a base", last->name, err);
        } else {
            snprintf(jr->prev_name, sizeof jr->prev_name, "%s", last->name);
            rc = 0;
        }
    }
    free(cks);
    return rc;
}

/* protocol §4.6: base = safetensors of the full weights; delta = zstd(prev XOR cur) + adler32 */
static cJSON *exec_sampler(fwl_tmodel *tm, const cJSON *body, op_err *e)
{
    const char *name = fwl_json_str(body, "path");
    if (!name || !fwl_valid_ckpt_name(name)) {
        USER_ERR(e, "path must be a snapshot name of 1-128 characters [A-Za-z0-9._-]");
        return NULL;
    }
    const char *type = fwl_json_str(body, "checkpoint_type");
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(body, "checkpoint_type");
    if (tj && !cJSON_IsNull(tj) && !type) {
        USER_ERR(e, "checkpoint_type must be a string");
        return NULL;
    }
    bool delta, merged = false;
    if (!type || !strcasecmp(type, "base"))
        delta = false;
    else if (!strcasecmp(type, "delta"))
        delta = tm->lora_rank == 0; /* LoRA saves are always full adapters, whatever the type (§4.6) */
    else if (!strcasecmp(type, "merged_base")) {
        if (tm->lora_rank == 0) {
            USER_ERR(e, "checkpoint_type merged_base is only for LoRA trainers");
            return NULL;
        }
        delta = false;
        merged = true;
    } else {
        USER_ERR(e, "unknown checkpoint_type \"%.40s\" (base, delta)", type);
        return NULL;
    }
    fwl_ckpt ck = {0};
    if (!ttl_of(body, &ck.expire_us, e))
        return NULL;
    snprintf(ck.job, sizeof ck.job, "%s", tm->jr->job);
    snprintf(ck.name, sizeof ck.name, "%s", name);
    const uint8_t *cur = (const uint8_t *)tm->m.w;
    size_t len = tm->m.n_params * sizeof(float);
    fwl_jobrt *jr = tm->jr;
    pthread_mutex_lock(&jr->snap_mu);
    uint8_t *buf = NULL;
    size_t blen = 0;
    int rc;
    if (!delta) {
        ck.kind = FWL_CK_BASE;
        ck.lora_rank = merged ? 0 : tm->lora_rank; /* merged_base promotes as a base model */
        rc = fwl_safetensors_encode(&tm->m, &buf, &blen);
    } else {
        if (latest_snapshot(tm->s, jr, e) != 0) {
            pthread_mutex_unlock(&jr->snap_mu);
            return NULL;
        }
        if (jr->prev_len != len) {
            USER_ERR(e, "the previous snapshot %s has another size; save a base", jr->prev_name);
            pthread_mutex_unlock(&jr->snap_mu);
            return NULL;
        }
        ck.kind = FWL_CK_DELTA;
        snprintf(ck.prev, sizeof ck.prev, "%s", jr->prev_name);
        rc = fwl_delta_encode(jr->prev_snap, cur, len, 3, &buf, &blen);
    }
    if (rc == 0)
        rc = fwl_ckpt_write(tm->s, &ck, buf, blen);
    free(buf);
    if (rc != 0) {
        pthread_mutex_unlock(&jr->snap_mu);
        SERVER_ERR(e, "could not write sampler snapshot %s", name);
        return NULL;
    }
    uint8_t *copy = malloc(len);
    if (copy) {
        memcpy(copy, cur, len);
        free(jr->prev_snap);
        jr->prev_snap = copy;
        jr->prev_len = len;
        snprintf(jr->prev_name, sizeof jr->prev_name, "%s", name);
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
        res = exec_forward(tm, op->body, true, &e);
    else if (!strcmp(op->type, "forward"))
        res = exec_forward(tm, op->body, false, &e);
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
