/* Promotion of a base sampler snapshot to a model (docs/protocol.md §3.6), models, and long-running operations.
 * A promotion copies the snapshot's safetensors to DATA/models/<id>.safetensors and then writes the model
 * record; both are atomic, and a promotion is idempotent (same output model from the same checkpoint returns
 * the existing model), so a retried or restarted promotion never duplicates or damages anything. */
#include "promote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg.h"
#include "ckpt.h"
#include "records.h"
#include "store.h"
#include "util.h"

static void model_path(fwl_server *s, const char *id, const char *ext, char *buf, size_t len)
{
    snprintf(buf, len, "%s/models/%s.%s", s->cfg.data_dir, id, ext);
}

static void op_path(fwl_server *s, const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/operations/%s.json", s->cfg.data_dir, id);
}


/* Serialises promotions: the model-id check-and-write and the operation lookup-or-create are atomic. */
static pthread_mutex_t g_promo_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct promo {
    char job[FWL_ID_MAX];
    char ckpt[FWL_NAME_MAX];
    char model[FWL_ID_MAX];
    char base_model[256];
    char op[FWL_ID_MAX + 16];
} promo;

/* Performs the promotion. Returns the model record (caller frees) or NULL with http status + message. */
static cJSON *do_promote(fwl_server *s, const promo *p, int *status, char *msg, size_t ml)
{
    char mp[4200];
    model_path(s, p->model, "json", mp, sizeof mp);
    cJSON *ex = fwl_read_json(mp);
    if (ex) {
        const char *src = fwl_json_str(ex, "_source");
        char want[512];
        snprintf(want, sizeof want, "%s/%s", p->job, p->ckpt);
        if (src && !strcmp(src, want))
            return ex; /* the same promotion again */
        cJSON_Delete(ex);
        *status = 409;
        snprintf(msg, ml, "model accounts/%s/models/%s already exists", FWL_ACCOUNT, p->model);
        return NULL;
    }
    fwl_ckpt ck;
    if (fwl_ckpt_get(s, p->job, p->ckpt, &ck) != 0) {
        *status = 400;
        snprintf(msg, ml, "checkpoint \"%s\" not found in trainer %s", p->ckpt, p->job);
        return NULL;
    }
    if (ck.kind != FWL_CK_BASE) {
        *status = 400;
        snprintf(msg, ml, "checkpoint %s is not promotable: %s", p->ckpt,
                 ck.kind == FWL_CK_DELTA ? "a full-parameter delta snapshot is never promotable, save a base"
                                         : "a training (DCP) checkpoint; promote a base sampler snapshot");
        return NULL;
    }
    uint8_t *buf;
    size_t len;
    char wp[4200];
    model_path(s, p->model, "safetensors", wp, sizeof wp);
    if (fwl_ckpt_read_data(s, &ck, &buf, &len) != 0) {
        *status = 500;
        snprintf(msg, ml, "cannot read checkpoint %s", p->ckpt);
        return NULL;
    }
    int rc = fwl_write_atomic(wp, buf, len);
    free(buf);
    char name[128], ts[48], src[512];
    snprintf(name, sizeof name, "accounts/%s/models/%s", FWL_ACCOUNT, p->model);
    fwl_format_time(fwl_now_us(), ts, sizeof ts);
    snprintf(src, sizeof src, "%s/%s", p->job, p->ckpt);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "displayName", p->model);
    cJSON_AddStringToObject(m, "state", "READY");
    /* docs/protocol.md §3.6: a LoRA adapter promotes as a PEFT add-on; merged_base and full-param bases as HF_BASE_MODEL */
    cJSON_AddStringToObject(m, "kind", ck.lora_rank > 0 ? "HF_PEFT_ADDON" : "HF_BASE_MODEL");
    if (p->base_model[0])
        cJSON_AddStringToObject(m, "baseModel", p->base_model);
    if (ck.lora_rank > 0) {
        cJSON *pd = cJSON_AddObjectToObject(m, "peftDetails");
        cJSON_AddStringToObject(pd, "baseModel", p->base_model);
        cJSON_AddNumberToObject(pd, "r", ck.lora_rank);
        cJSON *tmods = cJSON_AddArrayToObject(pd, "targetModules");
        cJSON_AddItemToArray(tmods, cJSON_CreateString("all-linear"));
    }
    cJSON_AddStringToObject(m, "createTime", ts);
    cJSON_AddStringToObject(m, "updateTime", ts);
    char ckname[512];
    snprintf(ckname, sizeof ckname, "accounts/%s/rlorTrainerJobs/%s/checkpoints/%s", FWL_ACCOUNT, p->job, p->ckpt);
    cJSON_AddStringToObject(m, "sourceCheckpoint", ckname);
    cJSON_AddStringToObject(m, "_source", src);
    if (rc == 0)
        rc = fwl_write_json(mp, m);
    if (rc != 0) {
        cJSON_Delete(m);
        *status = 500;
        snprintf(msg, ml, "could not store model %s (see the server log)", p->model);
        return NULL;
    }
    return m;
}

static void op_finish(fwl_server *s, void *arg)
{
    promo *p = arg;
    int st = 0;
    char msg[512];
    pthread_mutex_lock(&g_promo_lock);
    cJSON *m = do_promote(s, p, &st, msg, sizeof msg);
    char path[4200];
    op_path(s, p->op, path, sizeof path);
    cJSON *op = fwl_read_json(path);
    if (!op) {
        pthread_mutex_unlock(&g_promo_lock);
        cJSON_Delete(m);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(op, "done");
    cJSON_AddBoolToObject(op, "done", true);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(op, "metadata");
    if (meta) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "status_message");
        cJSON_AddStringToObject(meta, "status_message", m ? "promotion complete" : "promotion failed");
    }
    if (m) {
        cJSON *resp = fwl_public_copy(m);
        cJSON_AddStringToObject(resp, "@type", "type.googleapis.com/gateway.Model");
        cJSON_AddItemToObject(op, "response", resp);
    } else {
        cJSON *e = cJSON_AddObjectToObject(op, "error");
        cJSON_AddNumberToObject(e, "code", fwl_http_to_grpc(st));
        cJSON_AddStringToObject(e, "message", msg);
    }
    if (fwl_write_json(path, op) != 0)
        fwl_log("could not store operation %s", p->op);
    pthread_mutex_unlock(&g_promo_lock);
    cJSON_Delete(op);
    cJSON_Delete(m);
}

/* Parses the body into p; NULL when fine, else the 400 message. *async gets async_promotion. */
static const char *promote_parse(fwl_server *s, const cJSON *body, const char *job, const char *ckpt, promo *p,
                                 bool *async)
{
    memset(p, 0, sizeof *p);
    const char *om = fwl_json_str2(body, "output_model", "outputModel");
    const char *tj = fwl_json_str2(body, "trainer_job_id", "trainerJobId");
    const char *bm = fwl_json_str2(body, "base_model", "baseModel");
    const cJSON *aj = cJSON_GetObjectItemCaseSensitive(body, "async_promotion");
    if (!aj)
        aj = cJSON_GetObjectItemCaseSensitive(body, "asyncPromotion");
    if (aj && s->cfg.no_async_promote)
        return "invalid JSON payload: unknown field \"async_promotion\"";
    if (!om)
        return "output_model (accounts/local/models/<id>) is required";
    if (!fwl_parse_resource(om, "models", p->model, sizeof p->model))
        return "invalid output_model: the model id must match ^[a-z0-9-]{1,63}$";
    if (aj && !cJSON_IsBool(aj))
        return "async_promotion must be a boolean";
    if (bm && strlen(bm) >= sizeof p->base_model)
        return "base_model too long";
    if (job)
        snprintf(p->job, sizeof p->job, "%s", job);
    else if (!tj)
        return "trainer_job_id (accounts/local/rlorTrainerJobs/<id>) is required";
    else if (!fwl_parse_resource(tj, "rlorTrainerJobs", p->job, sizeof p->job))
        return "invalid trainer_job_id";
    if (!fwl_valid_ckpt_name(ckpt))
        return "invalid checkpoint id";
    snprintf(p->ckpt, sizeof p->ckpt, "%s", ckpt);
    if (bm)
        snprintf(p->base_model, sizeof p->base_model, "%s", bm);
    *async = cJSON_IsTrue(aj);
    return NULL;
}

/* Refuses now what do_promote would refuse, so a refused promotion is a 400 in both modes and never stages
 * anything. false with out filled. */
static bool promote_precheck(fwl_server *s, const promo *p, fwl_resp *out)
{
    cJSON *jobj = fwl_job_load(s, p->job);
    if (!jobj) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "RlorTrainerJob accounts/%s/rlorTrainerJobs/%s not found",
                       FWL_ACCOUNT, p->job);
        return false;
    }
    cJSON_Delete(jobj);
    char mp[4200];
    model_path(s, p->model, "json", mp, sizeof mp);
    cJSON *ex = fwl_read_json(mp);
    if (ex) {
        cJSON_Delete(ex); /* an existing model: do_promote decides (same source: idempotent; else 409) */
        return true;
    }
    fwl_ckpt ck;
    if (fwl_ckpt_get(s, p->job, p->ckpt, &ck) != 0) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "checkpoint \"%s\" not found in trainer %s", p->ckpt,
                       p->job);
        return false;
    }
    if (ck.kind != FWL_CK_BASE) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "checkpoint %s is not promotable (%s)", p->ckpt,
                       ck.kind == FWL_CK_DELTA ? "full-parameter delta" : "training checkpoint");
        return false;
    }
    return true;
}

static void promote_sync(fwl_server *s, const promo *p, fwl_resp *out)
{
    int st = 0;
    char msg[512];
    pthread_mutex_lock(&g_promo_lock);
    cJSON *m = do_promote(s, p, &st, msg, sizeof msg);
    pthread_mutex_unlock(&g_promo_lock);
    if (!m) {
        fwl_resp_error(out, st, fwl_http_to_grpc(st), "%s", msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (!cJSON_AddItemToObject(o, "model", fwl_public_copy(m))) {
        cJSON_Delete(o);
        o = NULL;
    }
    cJSON_Delete(m);
    fwl_resp_json(out, 200, o);
}

/* g_promo_lock held: the not-done operation already promoting to this output model, or NULL. */
static cJSON *op_find_running(fwl_server *s, const char *model)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/operations", s->cfg.data_dir);
    size_t n = 0;
    char **files = fwl_list_dir(dir, ".json", &n);
    cJSON *found = NULL;
    for (size_t i = 0; i < n && !found; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        cJSON *op = fwl_read_json(path);
        const char *om2 = op ? fwl_json_str(op, "_model") : NULL;
        if (om2 && !strcmp(om2, model) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(op, "done")))
            found = op;
        else
            cJSON_Delete(op);
    }
    fwl_free_list(files, n);
    return found;
}

/* g_promo_lock held: stores a new not-done operation for p (p->op gets its id) and schedules its finish.
 * NULL with out filled on failure. */
static cJSON *op_start(fwl_server *s, promo *p, fwl_resp *out)
{
    fwl_new_id(s, "op-", p->op, sizeof p->op);
    char name[160], path[4200];
    snprintf(name, sizeof name, "accounts/%s/operations/%s", FWL_ACCOUNT, p->op);
    cJSON *op = cJSON_CreateObject();
    cJSON_AddStringToObject(op, "name", name);
    cJSON_AddBoolToObject(op, "done", false);
    cJSON *meta = cJSON_AddObjectToObject(op, "metadata");
    cJSON_AddStringToObject(meta, "@type", "type.googleapis.com/gateway.PromoteCheckpointMetadata");
    cJSON_AddStringToObject(meta, "status_message", "promoting checkpoint");
    cJSON_AddStringToObject(op, "_job", p->job);
    cJSON_AddStringToObject(op, "_ckpt", p->ckpt);
    cJSON_AddStringToObject(op, "_model", p->model);
    promo *cp = malloc(sizeof *cp);
    if (!cJSON_AddStringToObject(op, "_baseModel", p->base_model) || !meta || !cp) {
        free(cp);
        cJSON_Delete(op);
        fwl_resp_oom(out);
        return NULL;
    }
    op_path(s, p->op, path, sizeof path);
    if (fwl_write_json(path, op) != 0) {
        free(cp);
        cJSON_Delete(op);
        fwl_resp_error(out, 500, FWL_GRPC_INTERNAL, "could not store the operation (see the server log)");
        return NULL;
    }
    *cp = *p;
    fwl_bg_post(s, s->cfg.promote_ms, op_finish, cp, free);
    return op;
}

static void promote_async(fwl_server *s, promo *p, fwl_resp *out)
{
    /* a retried async promotion gets the operation already running for the same output model */
    pthread_mutex_lock(&g_promo_lock);
    cJSON *op = op_find_running(s, p->model);
    if (!op)
        op = op_start(s, p, out);
    pthread_mutex_unlock(&g_promo_lock);
    if (!op)
        return;
    cJSON *o = cJSON_CreateObject();
    if (!cJSON_AddItemToObject(o, "operation", fwl_public_copy(op))) {
        cJSON_Delete(o);
        o = NULL;
    }
    cJSON_Delete(op);
    fwl_resp_json(out, 200, o);
}

void fwl_promote_route(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *ckpt)
{
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    promo p;
    bool async = false;
    const char *err = promote_parse(s, body, job, ckpt, &p, &async);
    if (err) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", err);
        cJSON_Delete(body);
        return;
    }
    cJSON_Delete(body);
    if (!promote_precheck(s, &p, out))
        return;
    if (async)
        promote_async(s, &p, out);
    else
        promote_sync(s, &p, out);
}

void fwl_operations_resume(fwl_server *s)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/operations", s->cfg.data_dir);
    size_t n = 0;
    char **files = fwl_list_dir(dir, ".json", &n);
    for (size_t i = 0; i < n; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        cJSON *op = fwl_read_json(path);
        if (op && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(op, "done"))) {
            promo *p = calloc(1, sizeof *p);
            if (!p) {
                fwl_log("out of memory resuming operation %s", files[i]);
                cJSON_Delete(op);
                break;
            }
            snprintf(p->job, sizeof p->job, "%s", fwl_json_str(op, "_job") ? fwl_json_str(op, "_job") : "");
            snprintf(p->ckpt, sizeof p->ckpt, "%s", fwl_json_str(op, "_ckpt") ? fwl_json_str(op, "_ckpt") : "");
            snprintf(p->model, sizeof p->model, "%s", fwl_json_str(op, "_model") ? fwl_json_str(op, "_model") : "");
            snprintf(p->base_model, sizeof p->base_model, "%s",
                     fwl_json_str(op, "_baseModel") ? fwl_json_str(op, "_baseModel") : "");
            snprintf(p->op, sizeof p->op, "%.*s", (int)(strlen(files[i]) - 5), files[i]);
            fwl_bg_post(s, 0, op_finish, p, free);
        }
        cJSON_Delete(op);
    }
    fwl_free_list(files, n);
}

void fwl_operations_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i)
{
    if (r->nseg - i != 1) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
        return;
    }
    if (strcmp(r->method, "GET") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on an operation", r->method);
        return;
    }
    const char *id = r->seg[i];
    char path[4200];
    cJSON *op = NULL;
    if (strlen(id) < 100 && !strchr(id, '.')) {
        op_path(s, id, path, sizeof path);
        op = fwl_read_json(path);
    }
    if (!op) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "operation accounts/%s/operations/%.100s not found", FWL_ACCOUNT, id);
        return;
    }
    fwl_resp_json(out, 200, fwl_public_copy(op));
    cJSON_Delete(op);
}

void fwl_models_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i)
{
    size_t rest = r->nseg - i;
    if (rest > 1) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
        return;
    }
    if (strcmp(r->method, "GET") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on models", r->method);
        return;
    }
    if (rest == 1) {
        char mp[4200];
        cJSON *m = NULL;
        if (fwl_valid_id(r->seg[i])) {
            model_path(s, r->seg[i], "json", mp, sizeof mp);
            m = fwl_read_json(mp);
        }
        if (!m) {
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "model accounts/%s/models/%.64s not found", FWL_ACCOUNT, r->seg[i]);
            return;
        }
        fwl_resp_json(out, 200, fwl_public_copy(m));
        cJSON_Delete(m);
        return;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/models", s->cfg.data_dir);
    fwl_resp_json(out, 200, fwl_list_records(dir, "models"));
}
