/*
 * unload_model (docs/protocol.md §4.1): POST /api/v1/unload_model {model_id}. A LoRA
 * trainer serves at most two concurrent sessions; a session that never
 * unloads keeps its slot until the trainer's inactivity cleanup, so the third
 * start (or resume) on that trainer fails. fwt_training_free therefore
 * unloads by default.
 */
#include <string.h>

#include "api/training_impl.h"

#define UNLOAD_ON_FREE_DEFAULT_MS 30000

static int parse_unload(fwt__top *op, const cJSON *j, fwt__err *err, fwt__value_kind *kind, void **value,
                        void (**vfree)(void *))
{
    const cJSON *ty = fwt__json_get(j, "type");
    if (ty && !cJSON_IsNull(ty) && !cJSON_IsString(ty))
        return fwt__err_set(err, FWT_EPROTO, "%s: result \"type\" is not a string", op->route);
    *kind = FWT__VALUE_NONE;
    *value = NULL;
    *vfree = NULL;
    return FWT_OK;
}

static void finish_unload(fwt__top *op, int code, void *value)
{
    (void)value;
    fwt_training *t = op->t;
    pthread_mutex_lock(&t->mu);
    if (code == FWT_OK)
        t->unloaded = 1;
    else
        t->unload_started = 0; /* the model may still be loaded: allow another try */
    pthread_mutex_unlock(&t->mu);
}

int fwt_training_unload_model(fwt_future **out, fwt_training *t)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_training_unload_model: out is NULL");
    *out = NULL;
    int rc = fwt__training_usable(t, "fwt_training_unload_model");
    if (rc)
        return rc;
    pthread_mutex_lock(&t->mu);
    char *mid = t->model_id ? fwt__strdup(t->model_id) : NULL;
    int have = t->model_id != NULL, busy = t->unload_started;
    if (have && mid && !busy)
        t->unload_started = 1;
    pthread_mutex_unlock(&t->mu);
    if (!have)
        return fwt__last_set(FWT_ESTATE, "fwt_training_unload_model: no model (create_model has not completed)");
    if (busy) {
        fwt__free_mem(mid);
        return fwt__last_set(FWT_ESTATE, "fwt_training_unload_model: the model is already unloaded or unloading");
    }
    cJSON *b = mid ? cJSON_CreateObject() : NULL;
    rc = b ? fwt__json_add_string(b, "model_id", mid) : FWT_ENOMEM;
    if (!rc)
        rc = fwt__json_add_string(b, "type", "unload_model");
    fwt__free_mem(mid);
    if (!rc)
        rc = fwt__top_start(out, t, "unload_model", "UnloadModel", b, 0, parse_unload, finish_unload, NULL,
                            FWT_SAMPLER_AUTO, NULL);
    else {
        cJSON_Delete(b);
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (rc) {
        pthread_mutex_lock(&t->mu);
        t->unload_started = 0;
        pthread_mutex_unlock(&t->mu);
    }
    return rc;
}

int fwt_training_unload_model_result(fwt_training *t, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_training_unload_model(&f, t);
    return rc ? rc : fwt__future_wait_take(f, timeout_ms, FWT__VALUE_NONE, NULL);
}

void fwt__training_unload_on_free(fwt_training *t)
{
    pthread_mutex_lock(&t->mu);
    int go = t->client && !t->closed && t->model_id && !t->keep_model_on_free && !t->unload_started;
    int64_t timeout = t->unload_timeout_ms ? t->unload_timeout_ms : UNLOAD_ON_FREE_DEFAULT_MS;
    pthread_mutex_unlock(&t->mu);
    if (!go)
        return;
    /* The caller's last error survives free. */
    int saved_code = fwt_error_last()->code;
    char *saved_msg = fwt__strdup(fwt_error_last()->message);
    fwt__top_cancel_all(t); /* queued ops would only delay the unload; free cancels them anyway */
    int rc = fwt_training_unload_model_result(t, timeout);
    if (rc != FWT_OK)
        fwt__log(fwt__client_logger(t->client), FWT_LOG_WARN,
                 "fwt_training_free: could not unload model %s (%s): %s; the trainer keeps its session slot until "
                 "its inactivity cleanup",
                 t->model_id, fwt_strerror(rc), fwt_error_last()->message);
    if (saved_code == FWT_OK)
        fwt__last_ok();
    else
        fwt__last_set(saved_code, "%s", saved_msg ? saved_msg : "");
    fwt__free_mem(saved_msg);
}
