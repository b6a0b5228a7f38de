/*
 * In-process recovery from a lost session (the cookbook's reconnecting
 * client): when the trainer restarted or forgot the session or the model,
 * a new session and model are opened on the same trainer and the last state
 * the server confirmed is reloaded with its optimizer. The loop then rewinds
 * to that state's step and recomputes what followed: nothing after the last
 * confirmed checkpoint survived on the server, so replaying it is the only
 * way to stay bit-identical with an uninterrupted run.
 *
 * Only failures that mean "the session or model is gone" are recovered; an
 * op that ran and failed (FWT_EREMOTE), a bad argument or a cancellation
 * would fail again after a rewind, so they are handed back unchanged.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checkpointer_impl.h"
#include "fwt_util.h"

static int lost_session(int code)
{
    switch (code) {
    case FWT_ENOTFOUND: /* 404: unknown session / model_id / promise (the trainer restarted) */
    case FWT_EEXPIRED:  /* 410: the promise is gone with the session */
    case FWT_ESTATE:    /* a lost submit broke the operation sequence of the session */
    case FWT_ECONNECT:  /* the trainer stayed unreachable past the retries: try a new session once it is back */
        return 1;
    default:
        return 0;
    }
}

int fwt__ckpt_confirm(fwt_checkpointer *c, const char *path, int with_optimizer, int64_t step, int64_t data)
{
    char *copy = fwt__strdup(path);
    if (path && !copy)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__free_mem(c->conf_path);
    c->conf_path = copy;
    c->conf_with_optimizer = with_optimizer;
    c->conf_step = step;
    c->conf_data = data;
    return FWT_OK;
}

fwt_training *fwt_checkpointer_training(const fwt_checkpointer *c)
{
    return c ? c->t : NULL;
}

int fwt_checkpointer_recoveries(const fwt_checkpointer *c)
{
    return c ? c->recoveries : 0;
}

/* A new session and model on t's trainer with the confirmed state loaded; *out NULL on failure. */
static int reopen(fwt_training **out, fwt_checkpointer *c, fwt_client *client)
{
    *out = NULL;
    fwt_training_options o;
    fwt_training *nt = NULL;
    int rc = fwt_training_copy_options(&o, c->t); /* strings borrowed from c->t, which outlives this call */
    if (rc == FWT_OK)
        rc = fwt_training_new(&nt, client, &o);
    if (rc == FWT_OK)
        rc = fwt_training_create_model_result(nt, c->timeout_ms);
    if (rc == FWT_OK && c->conf_path)
        rc = c->conf_with_optimizer ? fwt_training_load_state_with_optimizer_result(nt, c->conf_path, c->timeout_ms)
                                    : fwt_training_load_state_result(nt, c->conf_path, c->timeout_ms);
    if (rc != FWT_OK) {
        char msg[512]; /* copied first: the free below may overwrite fwt_error_last() */
        snprintf(msg, sizeof msg, "%s", fwt_error_last()->message);
        fwt_training_free(nt);
        return fwt__last_set(rc, "in-process recovery failed: %s", msg[0] ? msg : fwt_strerror(rc));
    }
    *out = nt;
    return FWT_OK;
}

int fwt_checkpointer_recover(fwt_checkpointer *c, int failure)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_recover: checkpointer is NULL");
    if (failure == FWT_OK)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_recover: failure is FWT_OK (nothing failed)");
    if (!lost_session(failure))
        return failure; /* not ours to recover: fwt_error_last() still describes it */
    char why[512];
    snprintf(why, sizeof why, "%s", fwt_error_last()->message[0] ? fwt_error_last()->message : fwt_strerror(failure));
    if (c->max_recoveries < 0 || c->recoveries >= c->max_recoveries)
        return fwt__last_set(failure, "%s (the session is lost; no in-process recovery left: %d of %d used)", why,
                             c->recoveries, c->max_recoveries < 0 ? 0 : c->max_recoveries);
    fwt_client *client = fwt_training_client(c->t);
    if (!client)
        return fwt__last_set(FWT_ESTATE, "fwt_checkpointer_recover: the client of the training was freed");
    /* Saves the server confirmed before the loss are recorded (and reloaded, being newer); the others died with
     * the session and get no line. */
    (void)fwt__ckpt_async_collect(c, 0);
    fwt__ckpt_async_drop(c);
    fwt_training *nt = NULL;
    int rc = reopen(&nt, c, client);
    if (rc != FWT_OK)
        return rc;
    char *loaded = fwt__strdup(c->conf_path);
    if (c->conf_path && !loaded) {
        fwt_training_free(nt);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt__ckpt_names_clear(c); /* names are per session */
    fwt_training *old = c->owned;
    c->t = c->owned = nt;
    fwt__free_mem(c->loaded_path);
    c->loaded_path = loaded;
    c->start_step = c->conf_step;
    c->start_data = c->conf_data;
    c->recoveries++;
    char *msg = fwt__asprintf(
        "the trainer lost the session (%s: %s); recovered in-process (%d of %d): new session %s, model %s, %s%s%s; "
        "the run continues from step %" PRId64 " (data_consumed %" PRId64 "), recomputing the steps after it",
        fwt_strerror(failure), why, c->recoveries, c->max_recoveries, fwt_training_session_id(nt),
        fwt_training_model_id(nt) ? fwt_training_model_id(nt) : "?",
        c->conf_path ? "reloaded " : "no checkpoint yet: a fresh model", c->conf_path ? c->conf_path : "",
        c->conf_path ? (c->conf_with_optimizer ? " with its optimizer" : " (weights only)") : "", c->start_step,
        c->start_data);
    if (msg)
        fwt_client_log(client, FWT_LOG_WARN, msg);
    fwt__free_mem(msg);
    fwt_training_free(old); /* a dead session: its unload fails fast and is only logged */
    fwt__last_ok();
    return FWT_OK;
}
