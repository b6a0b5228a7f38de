/* Training operations (docs/protocol.md §4.1, §4.4–§4.6, §4.9, §4.10): validation, request bodies, result parsing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/training_impl.h"

/* The "type" discriminator of a result, when present, must be a string. */
static int check_type(const cJSON *j, fwt__err *err, const char *route)
{
    const cJSON *ty = fwt__json_get(j, "type");
    if (ty && !cJSON_IsNull(ty) && !cJSON_IsString(ty))
        return fwt__err_set(err, FWT_EPROTO, "%s: result \"type\" is not a string", route);
    return FWT_OK;
}

/* ---- result parsers ---- */

static int parse_model_id(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                          void (**vfree)(void *))
{
    const char *id = NULL;
    if (check_type(j, err, op->route))
        return FWT_EPROTO;
    if (fwt__json_get_string(j, "model_id", &id) || !*id)
        return fwt__err_set(err, FWT_EPROTO, "create_model: the result has no model_id string");
    if (!(*value = fwt__strdup(id)))
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    *kind = FWT__VALUE_STRING;
    *vfree = fwt__free_mem;
    return FWT_OK;
}

static void finish_create_model(fwt__top *op, int code, void *value)
{
    fwt_training *t = op->t;
    char *copy = code == FWT_OK ? fwt__strdup(value) : NULL;
    pthread_mutex_lock(&t->mu);
    if (code == FWT_OK && !t->model_id)
        t->model_id = copy, copy = NULL;
    else if (code != FWT_OK && !t->model_id)
        t->create_model_started = 0; /* allow another attempt */
    pthread_mutex_unlock(&t->mu);
    fwt__free_mem(copy);
}

/* path required (save_state) */
static int parse_path(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                      void (**vfree)(void *), int required)
{
    const char *path = NULL;
    if (check_type(j, err, op->route))
        return FWT_EPROTO;
    int rc = fwt__json_get_string(j, "path", &path);
    if (rc == FWT_EPROTO || (rc == FWT_ENOTFOUND && required))
        return fwt__err_set(err, FWT_EPROTO, "%s: the result has no \"path\" string", op->route);
    if (!(*value = fwt__strdup(rc == FWT_OK ? path : "")))
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    *kind = FWT__VALUE_STRING;
    *vfree = fwt__free_mem;
    return FWT_OK;
}

static int parse_save_path(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                           void (**vfree)(void *))
{
    return parse_path(op, j, err, kind, value, vfree, 1);
}

static int parse_load_path(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                           void (**vfree)(void *))
{
    return parse_path(op, j, err, kind, value, vfree, 0);
}

static int parse_forward(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                         void (**vfree)(void *))
{
    fwt_forward_output *o = NULL;
    if (check_type(j, err, op->route))
        return FWT_EPROTO;
    int rc = fwt__parse_forward_output(j, &o, err);
    if (rc)
        return rc;
    *value = o;
    *kind = FWT__VALUE_FORWARD_OUTPUT;
    *vfree = fwt__forward_output_free_v;
    return FWT_OK;
}

static int parse_optim(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                       void (**vfree)(void *))
{
    fwt_metrics *m = NULL;
    if (check_type(j, err, op->route))
        return FWT_EPROTO;
    const cJSON *metrics = fwt__json_get(j, "metrics");
    if (metrics && cJSON_IsNull(metrics))
        metrics = NULL;
    int rc = fwt__parse_metrics(metrics, &m, err);
    if (rc)
        return rc;
    *value = m;
    *kind = FWT__VALUE_METRICS;
    *vfree = fwt__metrics_free_v;
    return FWT_OK;
}

static int parse_sampler(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                         void (**vfree)(void *))
{
    const char *path = NULL;
    if (check_type(j, err, op->route))
        return FWT_EPROTO;
    /* docs/protocol.md §4.6: the client asserts path is non-null */
    if (fwt__json_get_string(j, "path", &path) || !*path)
        return fwt__err_set(err, FWT_EPROTO, "save_weights_for_sampler: the result has no \"path\" string");
    /* A full-parameter delta applies on top of the training's previous sampler snapshot (§4.6). */
    int delta = op->ctype == FWT_SAMPLER_DELTA && op->t->lora_rank == 0;
    fwt_sampler_save *s = fwt__sampler_save_new(path, op->snapshot_name, op->ctype, delta ? op->prev_snapshot : NULL);
    if (!s)
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    *value = s;
    *kind = FWT__VALUE_SAMPLER_SAVE;
    *vfree = fwt__sampler_save_free_v;
    return FWT_OK;
}

static void finish_sampler(fwt__top *op, int code, void *value)
{
    (void)value;
    if (code == FWT_OK)
        return;
    /* §4.6: after a failed sampler save the deployment may lack the base, so AUTO starts over with base;
     * the server's previous snapshot did not move, so neither does ours (unless a later save already did). */
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    t->sampler_saved = 0;
    if (t->last_snapshot && op->snapshot_name && !strcmp(t->last_snapshot, op->snapshot_name)) {
        fwt__free_mem(t->last_snapshot);
        t->last_snapshot = op->prev_snapshot ? fwt__strdup(op->prev_snapshot) : NULL;
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- helpers ---- */

static cJSON *body_new(fwt_training *t, const char *type, int with_model, int *rc)
{
    cJSON *b = cJSON_CreateObject();
    *rc = b ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
    if (*rc)
        return NULL;
    if (with_model) {
        pthread_mutex_lock(&t->mu);
        char *mid = t->model_id ? fwt__strdup(t->model_id) : NULL;
        int have = t->model_id != NULL;
        int unloaded = t->unload_started;
        pthread_mutex_unlock(&t->mu);
        if (unloaded) {
            fwt__free_mem(mid);
            cJSON_Delete(b);
            *rc = fwt__last_set(FWT_ESTATE, "%s: the model was unloaded (fwt_training_unload_model)", type);
            return NULL;
        }
        if (!have) {
            cJSON_Delete(b);
            *rc = fwt__last_set(FWT_ESTATE, "%s: no model yet; call fwt_training_create_model and wait for it first",
                                type);
            return NULL;
        }
        *rc = mid ? fwt__json_add_string(b, "model_id", mid) : FWT_ENOMEM;
        fwt__free_mem(mid);
    }
    if (!*rc)
        *rc = fwt__json_add_string(b, "type", type);
    if (*rc) {
        cJSON_Delete(b);
        *rc = fwt__last_set(*rc, "out of memory");
        return NULL;
    }
    return b;
}

static int start_checks(fwt_future **out, fwt_training *t, const char *fn)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    return fwt__training_usable(t, fn);
}

static int check_ttl(int64_t ttl)
{
    if (ttl < 0)
        return fwt__last_set(FWT_EINVAL, "ttl_seconds must not be negative (got %lld)", (long long)ttl);
    return FWT_OK;
}

/* ---- create_model (§4.1) ---- */

int fwt_training_create_model(fwt_future **out, fwt_training *t)
{
    int rc = start_checks(out, t, "fwt_training_create_model");
    if (rc)
        return rc;
    if (!t->base_model)
        return fwt__last_set(FWT_EINVAL, "fwt_training_create_model: options.base_model is required");
    pthread_mutex_lock(&t->mu);
    int busy = t->create_model_started || t->model_id;
    if (!busy)
        t->create_model_started = 1;
    pthread_mutex_unlock(&t->mu);
    if (busy)
        return fwt__last_set(FWT_ESTATE, "fwt_training_create_model: this training already has (or is creating) its model");
    cJSON *b = body_new(t, "create_model", 0, &rc);
    if (!rc) rc = fwt__json_add_string(b, "session_id", t->session_id);
    if (!rc) rc = fwt__json_add_int64(b, "model_seq_id", 0);
    if (!rc) rc = fwt__json_add_string(b, "base_model", t->base_model);
    if (!rc) { /* as the official SDK: full-param sends rank 0 and no alpha (docs/protocol.md §4.1) */
        cJSON *lc = cJSON_AddObjectToObject(b, "lora_config");
        rc = lc ? FWT_OK : FWT_ENOMEM;
        if (!rc) rc = fwt__json_add_int64(lc, "rank", t->lora_rank);
        if (!rc && t->lora_rank > 0) rc = fwt__json_add_int64(lc, "alpha", 32);
        if (!rc) rc = fwt__json_add_bool(lc, "train_mlp", 1);
        if (!rc) rc = fwt__json_add_bool(lc, "train_attn", 1);
        if (!rc) rc = fwt__json_add_bool(lc, "train_unembed", 1);
    }
    if (rc) {
        cJSON_Delete(b);
        pthread_mutex_lock(&t->mu);
        t->create_model_started = 0;
        pthread_mutex_unlock(&t->mu);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    rc = fwt__top_start(out, t, "create_model", "CreateModel", b, 0, parse_model_id, finish_create_model, NULL,
                        FWT_SAMPLER_AUTO, NULL);
    if (rc) {
        pthread_mutex_lock(&t->mu);
        t->create_model_started = 0;
        pthread_mutex_unlock(&t->mu);
    }
    return rc;
}

/* ---- forward / forward_backward (§4.10) ---- */

static int fwd(fwt_future **out, fwt_training *t, const fwt_batch *batch, fwt_loss_fn loss,
               const fwt_loss_config *config, int backward, const char *fn)
{
    int rc = start_checks(out, t, fn);
    if (rc)
        return rc;
    if (!batch)
        return fwt__last_set(FWT_EINVAL, "%s: batch is NULL", fn);
    if (fwt_batch_count(batch) == 0)
        return fwt__last_set(FWT_EINVAL, "%s: batch is empty", fn);
    const char *name = fwt_loss_fn_name(loss);
    if (!name)
        return fwt__last_set(FWT_EINVAL, "%s: unknown loss %d (not a fwt_loss_fn)", fn, (int)loss);
    int rl = fwt__loss_is_rl(loss);
    if ((rc = fwt__batch_check_inputs(batch, rl, name, fn)) != FWT_OK)
        return rc;
    const char *type = backward ? "forward_backward" : "forward";
    cJSON *b = body_new(t, type, 1, &rc);
    if (rc)
        return rc;
    cJSON *input = cJSON_AddObjectToObject(b, backward ? "forward_backward_input" : "forward_input");
    cJSON *data = input ? fwt__batch_to_json(batch, rl) : NULL;
    if (!data || !cJSON_AddItemToObject(input, "data", data)) {
        cJSON_Delete(b);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if ((rc = fwt__loss_add(input, loss, config, fn)) != FWT_OK) {
        cJSON_Delete(b);
        return rc;
    }
    return fwt__top_start(out, t, type, backward ? "ForwardBackward" : "Forward", b, 1, parse_forward, NULL, NULL,
                          FWT_SAMPLER_AUTO, NULL);
}

int fwt_training_forward_backward(fwt_future **out, fwt_training *t, const fwt_batch *batch, fwt_loss_fn loss)
{
    return fwd(out, t, batch, loss, NULL, 1, "fwt_training_forward_backward");
}

int fwt_training_forward_backward_config(fwt_future **out, fwt_training *t, const fwt_batch *batch,
                                         fwt_loss_fn loss, const fwt_loss_config *config)
{
    return fwd(out, t, batch, loss, config, 1, "fwt_training_forward_backward_config");
}

int fwt_training_forward(fwt_future **out, fwt_training *t, const fwt_batch *batch, fwt_loss_fn loss)
{
    return fwd(out, t, batch, loss, NULL, 0, "fwt_training_forward");
}

/* ---- optim_step (§4.9) ---- */

int fwt_adam_params_init(fwt_adam_params *p, unsigned int version)
{
    if (!p)
        return fwt__last_set(FWT_EINVAL, "fwt_adam_params_init: p is NULL");
    if (version != FWT_ADAM_PARAMS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_adam_params_init: unknown version %u", version);
    memset(p, 0, sizeof *p);
    p->version = version;
    p->learning_rate = 1e-4;
    p->beta1 = 0.9;
    p->beta2 = 0.95;
    p->eps = 1e-12;
    return FWT_OK;
}

int fwt_training_optim_step(fwt_future **out, fwt_training *t, const fwt_adam_params *params)
{
    int rc = start_checks(out, t, "fwt_training_optim_step");
    if (rc)
        return rc;
    fwt_adam_params p;
    fwt_adam_params_init(&p, FWT_ADAM_PARAMS_VERSION);
    if (params) {
        if (params->version != FWT_ADAM_PARAMS_VERSION)
            return fwt__last_set(FWT_EINVAL, "fwt_training_optim_step: unknown params version %u", params->version);
        p = *params;
    }
    const double v[6] = {p.learning_rate, p.beta1, p.beta2, p.eps, p.weight_decay, p.grad_clip_norm};
    static const char *const names[6] = {"learning_rate", "beta1", "beta2", "eps", "weight_decay", "grad_clip_norm"};
    for (int i = 0; i < 6; i++)
        if (!isfinite(v[i]) || v[i] < 0)
            return fwt__last_set(FWT_EINVAL, "fwt_training_optim_step: %s must be a finite number >= 0", names[i]);
    cJSON *b = body_new(t, "optim_step", 1, &rc);
    if (rc)
        return rc;
    cJSON *ap = cJSON_AddObjectToObject(b, "adam_params");
    rc = ap ? FWT_OK : FWT_ENOMEM;
    for (int i = 0; !rc && i < 6; i++)
        rc = fwt__json_add_double(ap, names[i], v[i]);
    if (rc) {
        cJSON_Delete(b);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__top_start(out, t, "optim_step", "OptimStep", b, 1, parse_optim, NULL, NULL, FWT_SAMPLER_AUTO, NULL);
}

/* ---- save_state / load_state (§4.4, §4.5) ---- */

int fwt_training_save_state(fwt_future **out, fwt_training *t, const char *name, int64_t ttl_seconds)
{
    int rc = start_checks(out, t, "fwt_training_save_state");
    if (!rc) rc = fwt__check_name("name", name, FWT__NAME_MAX);
    if (!rc) rc = check_ttl(ttl_seconds);
    if (rc)
        return rc;
    cJSON *b = body_new(t, "save_weights", 1, &rc);
    if (rc)
        return rc;
    rc = fwt__json_add_string(b, "path", name);
    if (!rc && ttl_seconds > 0) rc = fwt__json_add_int64(b, "ttl_seconds", ttl_seconds);
    if (!rc) rc = fwt__json_add_bool(b, "overwrite", 0); /* overwrite=true is unsupported on Fireworks */
    if (rc) {
        cJSON_Delete(b);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__top_start(out, t, "save_weights", "SaveWeights", b, 1, parse_save_path, NULL, NULL,
                          FWT_SAMPLER_AUTO, NULL);
}

static int load(fwt_future **out, fwt_training *t, const char *path, int optimizer)
{
    const char *fn = optimizer ? "fwt_training_load_state_with_optimizer" : "fwt_training_load_state";
    int rc = start_checks(out, t, fn);
    if (rc)
        return rc;
    if (!path)
        return fwt__last_set(FWT_EINVAL, "%s: path is NULL", fn);
    if (!*path)
        return fwt__last_set(FWT_EINVAL, "%s: path is empty", fn);
    if (strlen(path) > FWT__PATH_MAX)
        return fwt__last_set(FWT_EINVAL, "%s: path is longer than %d characters", fn, FWT__PATH_MAX);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return fwt__last_set(FWT_EINVAL, "%s: path contains control characters", fn);
    cJSON *b = body_new(t, "load_weights", 1, &rc);
    if (rc)
        return rc;
    rc = fwt__json_add_string(b, "path", path);
    if (!rc) rc = fwt__json_add_bool(b, "optimizer", optimizer);
    if (rc) {
        cJSON_Delete(b);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__top_start(out, t, "load_weights", "LoadWeights", b, 1, parse_load_path, NULL, NULL,
                          FWT_SAMPLER_AUTO, NULL);
}

int fwt_training_load_state(fwt_future **out, fwt_training *t, const char *path) { return load(out, t, path, 0); }

int fwt_training_load_state_with_optimizer(fwt_future **out, fwt_training *t, const char *path)
{
    return load(out, t, path, 1);
}

/* ---- save_weights_for_sampler_ext (§4.6) ---- */

int fwt_training_save_weights_for_sampler_ext(fwt_future **out, fwt_training *t, const char *name,
                                              fwt_sampler_type type, int64_t ttl_seconds)
{
    int rc = start_checks(out, t, "fwt_training_save_weights_for_sampler_ext");
    if (!rc) rc = fwt__check_name("name", name, FWT__NAME_MAX);
    if (!rc) rc = check_ttl(ttl_seconds);
    if (!rc && !fwt_sampler_type_name(type))
        rc = fwt__last_set(FWT_EINVAL, "checkpoint type %d is not a fwt_sampler_type", (int)type);
    if (rc)
        return rc;
    cJSON *b = body_new(t, "save_weights_for_sampler", 1, &rc);
    if (rc)
        return rc;
    char *snap = fwt__asprintf("%s-%s", name, t->suffix); /* "-" not "/": the trainer takes basename() */
    /* Resolve AUTO now, in call order (§4.6): explicit wins; LoRA → base; base until a save was submitted, then delta. */
    pthread_mutex_lock(&t->mu);
    fwt_sampler_type resolved = type;
    if (type == FWT_SAMPLER_AUTO)
        resolved = t->lora_rank > 0 ? FWT_SAMPLER_BASE : t->sampler_saved ? FWT_SAMPLER_DELTA : FWT_SAMPLER_BASE;
    int prev = t->sampler_saved;
    t->sampler_saved = 1;
    /* Submissions go out in call order, so the snapshot saved before this one is the server's "previous". */
    char *prev_snap = t->last_snapshot; /* ownership moves to this call */
    t->last_snapshot = snap ? fwt__strdup(snap) : NULL;
    pthread_mutex_unlock(&t->mu);
    rc = snap ? fwt__json_add_string(b, "path", snap) : FWT_ENOMEM;
    if (!rc && ttl_seconds > 0) rc = fwt__json_add_int64(b, "ttl_seconds", ttl_seconds);
    if (!rc) rc = fwt__json_add_string(b, "checkpoint_type", fwt_sampler_type_name(resolved));
    if (!rc)
        rc = fwt__top_start(out, t, "save_weights_for_sampler", "SaveWeightsForSampler", b, 1, parse_sampler,
                            finish_sampler, snap, resolved, prev_snap);
    else {
        cJSON_Delete(b);
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (rc) { /* nothing was queued: undo */
        pthread_mutex_lock(&t->mu);
        t->sampler_saved = prev;
        fwt__free_mem(t->last_snapshot);
        t->last_snapshot = prev_snap;
        prev_snap = NULL;
        pthread_mutex_unlock(&t->mu);
    }
    fwt__free_mem(prev_snap);
    fwt__free_mem(snap);
    return rc;
}

/* ---- blocking forms: submit + wait + take + free on the same handle ---- */

int fwt_training_create_model_result(fwt_training *t, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_create_model(&f, t);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_STRING, NULL); /* the id is fwt_training_model_id */
}

int fwt_training_forward_backward_result(fwt_forward_output **out, fwt_training *t, const fwt_batch *batch,
                                         fwt_loss_fn loss, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_forward_backward(&f, t, batch, loss);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_FORWARD_OUTPUT, (void **)out);
}

int fwt_training_forward_backward_config_result(fwt_forward_output **out, fwt_training *t, const fwt_batch *batch,
                                                fwt_loss_fn loss, const fwt_loss_config *config, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    if (out)
        *out = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_forward_backward_config(&f, t, batch, loss, config);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_FORWARD_OUTPUT, (void **)out);
}

int fwt_training_forward_result(fwt_forward_output **out, fwt_training *t, const fwt_batch *batch, fwt_loss_fn loss,
                                int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_forward(&f, t, batch, loss);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_FORWARD_OUTPUT, (void **)out);
}

int fwt_training_optim_step_result(fwt_metrics **out, fwt_training *t, const fwt_adam_params *params,
                                   int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_optim_step(&f, t, params);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_METRICS, (void **)out);
}

int fwt_training_save_state_result(char **path_out, fwt_training *t, const char *name, int64_t ttl_seconds,
                                   int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_save_state(&f, t, name, ttl_seconds);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_STRING, (void **)path_out);
}

int fwt_training_load_state_result(fwt_training *t, const char *path, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_load_state(&f, t, path);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_STRING, NULL);
}

int fwt_training_load_state_with_optimizer_result(fwt_training *t, const char *path, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_load_state_with_optimizer(&f, t, path);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_STRING, NULL);
}

int fwt_training_save_weights_for_sampler_ext_result(fwt_sampler_save **out, fwt_training *t, const char *name,
                                                     fwt_sampler_type type, int64_t ttl_seconds,
                                                     int64_t timeout_ms)
{
    fwt_future *f = NULL;
    fwt__top_caller_begin(t, timeout_ms);
    int rc = fwt_training_save_weights_for_sampler_ext(&f, t, name, type, ttl_seconds);
    return fwt__top_result(rc, f, timeout_ms, FWT__VALUE_SAMPLER_SAVE, (void **)out);
}
