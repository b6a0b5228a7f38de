/*
 * Asynchronous periodic saves (fwt_checkpointer_options.async_saves): the
 * save_state request goes out and the training loop continues; the save's
 * line is appended to checkpoints.jsonl only once the server confirmed it,
 * in step order.
 *
 * Why it stays exact: training ops of a session run in seq_id order
 * (docs/protocol.md §4.3), so a save submitted after step N's optim_step
 * captures exactly step N's weights and optimizer, whatever is submitted
 * after it. Why a crash can never leave a line for an unconfirmed save: a
 * line is written from the confirmed result only, and the queue is drained
 * head first, so a later save is never recorded before an earlier one (a
 * reader that takes the highest step would otherwise skip a gap it cannot
 * see). A failed save drops the saves queued behind it: their lines would
 * follow a hole; they are reported through the failure (and a recovery
 * rewinds to the last confirmed state anyway).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checkpointer_impl.h"
#include "fwt_util.h"

struct fwt__pending_save {
    int64_t step, data_consumed;
    char name[40];
    fwt_future *f; /* save_state; completes with the server's path */
    fwt__pending_save *next;
};

int fwt__ckpt_async_start(fwt_checkpointer *c, int64_t step, int64_t data_consumed, int64_t ttl_seconds)
{
    fwt__pending_save *p = fwt__calloc(1, sizeof *p);
    if (!p)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    p->step = step;
    p->data_consumed = data_consumed;
    snprintf(p->name, sizeof p->name, "step-%" PRId64, step);
    int rc = FWT_OK;
    fwt__ckpt_name_used(c, "DCP", p->name);
    /* The data position first, as for a blocking save (dataloader.c). */
    if (c->source == FWT_RESUME_SOURCE_CONTROL_PLANE)
        rc = fwt__dataloader_put(c->log_path, p->name, data_consumed);
    if (rc == FWT_OK)
        rc = fwt_training_save_state(&p->f, c->t, p->name, ttl_seconds);
    if (rc != FWT_OK) {
        fwt__free_mem(p);
        return rc;
    }
    if (c->pending_tail)
        c->pending_tail->next = p;
    else
        c->pending = p;
    c->pending_tail = p;
    c->npending++;
    return FWT_OK;
}

void fwt__ckpt_async_drop(fwt_checkpointer *c)
{
    fwt__pending_save *p = c->pending;
    while (p) {
        fwt__pending_save *next = p->next;
        fwt_future_free(p->f); /* cancels it locally if still pending: its line is never written */
        fwt__free_mem(p);
        p = next;
    }
    c->pending = c->pending_tail = NULL;
    c->npending = 0;
}

static int failed_save(int code, fwt_future *f, const char *name)
{
    const fwt_error *e = fwt_future_error(f);
    return fwt__last_set(code, "asynchronous save of %s failed: %s", name,
                         e && e->message[0] ? e->message : fwt_strerror(code));
}

/* Record the head save, which completed; pops it. */
static int record_head(fwt_checkpointer *c)
{
    fwt__pending_save *p = c->pending;
    char *server_path = NULL, *state_path = NULL;
    int rc = fwt_future_status(p->f);
    if (rc == FWT_OK)
        rc = fwt_future_take_string(&server_path, p->f);
    else
        rc = failed_save(rc, p->f, p->name);
    if (rc == FWT_OK)
        rc = fwt_resolve_checkpoint_path(&state_path, p->name, c->job_id);
    if (rc == FWT_OK)
        rc = fwt__ckpt_confirm(c, state_path, 1, p->step, p->data_consumed);
    if (rc == FWT_OK)
        rc = fwt__ckpt_record(c, p->name, p->step, p->data_consumed, state_path, NULL);
    fwt_free(server_path);
    fwt_free(state_path);
    c->pending = p->next;
    if (!c->pending)
        c->pending_tail = NULL;
    c->npending--;
    fwt_future_free(p->f);
    fwt__free_mem(p);
    return rc;
}

int fwt__ckpt_async_collect(fwt_checkpointer *c, int wait)
{
    while (c->pending) {
        if (wait) {
            int rc = fwt_future_wait(c->pending->f, c->timeout_ms);
            if (rc != FWT_OK) {
                if (rc == FWT_ETIMEDOUT)
                    rc = fwt__last_set(FWT_ETIMEDOUT, "asynchronous save of %s: no answer within %lld ms",
                                       c->pending->name, (long long)c->timeout_ms);
                fwt__ckpt_async_drop(c); /* cancels it: a timed-out wait leaves nothing running */
                return rc;
            }
        } else if (!fwt_future_is_done(c->pending->f)) {
            break;
        }
        int rc = record_head(c);
        if (rc != FWT_OK) {
            fwt__ckpt_async_drop(c); /* later lines would follow a hole */
            return rc;
        }
    }
    fwt__last_ok();
    return FWT_OK;
}

size_t fwt_checkpointer_pending_saves(const fwt_checkpointer *c)
{
    return c ? c->npending : 0;
}
