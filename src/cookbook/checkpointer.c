/*
 * fwt_checkpointer: the cookbook's resume policy and periodic saves as a
 * library component (docs/protocol.md §7.1; seed "checkpoints and resume").
 *
 * A line is appended to checkpoints.jsonl only after the server confirmed
 * every save it describes, so a line always names checkpoints that exist. A
 * crash between the save and the append costs a few steps of retraining and
 * re-saving the same name, never a resume from a checkpoint that is not there.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fwtrain/cookbook/checkpointer.h"
#include "fwtrain/client.h"
#include "fwtrain/jobs.h"
#include "fwt_util.h"
#include "registry_impl.h"

/* Cookbook DCP_TIMEOUT_S (docs/protocol.md §4.2). */
#define DEFAULT_OP_TIMEOUT_MS 2700000

struct fwt_checkpointer {
    fwt_training *t;
    char *log_path, *job_id, *base_model;
    int64_t interval, total, timeout_ms;
    int mode;
    int complete;
    int64_t start_step, start_data;
    char *loaded_path;
    size_t torn_bytes;
    int lock_fd;       /* exclusive lock of log_path, held for the checkpointer's life */
    /*
     * The step whose DCP state is already on the server and in the registry
     * (saved by this checkpointer or resumed from), -1 if none, and its
     * reference: a step's state is never saved twice.
     */
    int64_t state_step;
    char *state_ref;
};

int fwt_checkpointer_options_init(fwt_checkpointer_options *opts, unsigned int version)
{
    if (!opts)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_options_init: opts is NULL");
    if (version != FWT_CHECKPOINTER_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_options_init: unknown version %u", version);
    memset(opts, 0, sizeof *opts);
    opts->version = version;
    opts->op_timeout_ms = DEFAULT_OP_TIMEOUT_MS;
    return FWT_OK;
}

void fwt_checkpointer_free(fwt_checkpointer *c)
{
    if (!c)
        return;
    fwt__free_mem(c->log_path);
    fwt__free_mem(c->job_id);
    fwt__free_mem(c->base_model);
    fwt__free_mem(c->loaded_path);
    fwt__free_mem(c->state_ref);
    fwt__log_unlock(c->lock_fd);
    fwt__free_mem(c);
}

int fwt_checkpointer_mode(const fwt_checkpointer *c)
{
    return c ? c->mode : FWT_RESUME_FRESH;
}

int64_t fwt_checkpointer_start_step(const fwt_checkpointer *c)
{
    return c ? c->start_step : 0;
}

int64_t fwt_checkpointer_start_data_consumed(const fwt_checkpointer *c)
{
    return c ? c->start_data : 0;
}

const char *fwt_checkpointer_loaded_path(const fwt_checkpointer *c)
{
    return c ? c->loaded_path : NULL;
}

size_t fwt_checkpointer_torn_bytes(const fwt_checkpointer *c)
{
    return c ? c->torn_bytes : 0;
}

/* Through the client's log callback; the logger lives as long as the client the training uses. */
static void warn_torn(fwt_checkpointer *c, const char *log_path, const fwt_registry_entry *last)
{
    fwt_client *client = fwt_training_client(c->t);
    if (!client)
        return;
    char *msg = fwt__asprintf(
        "%s/%s: ignored %zu bytes of torn tail after the last valid line (the last resumable entry is %s); "
        "if the tail is an invalid line ending in a newline, the next save fails until it is removed or fixed",
        log_path, FWT__CKPT_FILE, c->torn_bytes, last ? last->name : "none");
    if (msg)
        fwt_client_log(client, FWT_LOG_WARN, msg);
    fwt__free_mem(msg);
}

int fwt_checkpointer_is_complete(const fwt_checkpointer *c)
{
    return c ? c->complete : 0;
}

static int check_options(const fwt_training *t, const fwt_checkpointer_options *o)
{
    if (!t)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: training is NULL");
    if (!o)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: options are required (log_path, job_id)");
    if (o->version != FWT_CHECKPOINTER_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: unknown options version %u", o->version);
    if (!o->log_path || !o->log_path[0])
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: log_path is required");
    if (!o->job_id || !o->job_id[0] || strchr(o->job_id, '/'))
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: job_id must be the trainer job id (no '/')");
    if (o->dcp_save_interval < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: dcp_save_interval %" PRId64 " is negative (0 = off)",
                             o->dcp_save_interval);
    if (o->total_steps < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: total_steps %" PRId64 " is negative (0 = unknown)",
                             o->total_steps);
    if (o->op_timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: op_timeout_ms must be >= -1");
    if (o->base_model && !o->base_model[0])
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: base_model is empty (use NULL)");
    return FWT_OK;
}

/* Record that `step`'s state is on the server at `ref` and in the registry. */
static int remember_state(fwt_checkpointer *c, int64_t step, const char *ref)
{
    char *copy = fwt__strdup(ref);
    if (!copy)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__free_mem(c->state_ref);
    c->state_ref = copy;
    c->state_step = step;
    return FWT_OK;
}

static int load(fwt_checkpointer *c, const char *path, int with_optimizer)
{
    int rc = with_optimizer ? fwt_training_load_state_with_optimizer_result(c->t, path, c->timeout_ms)
                            : fwt_training_load_state_result(c->t, path, c->timeout_ms);
    if (rc != FWT_OK)
        return rc; /* fwt_error_last() holds the load's failure */
    c->loaded_path = fwt__strdup(path);
    if (!c->loaded_path)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    return FWT_OK;
}

/*
 * The step an entry was saved at. A line without `step` (the tinker
 * cookbook's) records the loop position as `batch`; neither → 0.
 */
static int64_t entry_step(const fwt_registry_entry *e)
{
    int64_t batch = 0;
    if (e->step >= 0)
        return e->step;
    if (fwt_registry_entry_extra_int(&batch, e, "batch") == FWT_OK && batch >= 0)
        return batch;
    return 0;
}

/* Decide how the run begins (see checkpointer.h) and restore it. */
static int begin(fwt_checkpointer *c, const fwt_checkpointer_options *o)
{
    fwt_registry *l = NULL;
    int rc = fwt_registry_read(&l, o->log_path);
    if (rc != FWT_OK)
        return rc;
    const fwt_registry_entry *last = fwt_registry_last_resumable(l);
    c->torn_bytes = fwt_registry_torn_bytes(l);
    if (c->torn_bytes)
        warn_torn(c, o->log_path, last);
    const char *init = o->init_from_checkpoint && o->init_from_checkpoint[0] ? o->init_from_checkpoint : NULL;
    if (last && c->total > 0 && last->step >= c->total) {
        /* A finished run: nothing to load and nothing to train. */
        c->mode = FWT_RESUME_COMPLETE;
        c->complete = 1;
        c->start_step = last->step;
        c->start_data = last->data_consumed;
    } else if (last && init) {
        rc = fwt__last_set(FWT_EINVAL,
                           "init_from_checkpoint \"%s\" and the automatic resume from %s/%s (%s, step %" PRId64
                           ") are mutually exclusive: drop init_from_checkpoint to resume this run, or use a new "
                           "log_path to start from %s",
                           init, o->log_path, FWT__CKPT_FILE, last->name, last->step, init);
    } else if (last) {
        rc = load(c, last->state_path, 1);
        if (rc == FWT_OK)
            rc = remember_state(c, entry_step(last), last->state_path); /* its step saves no DCP again */
        if (rc == FWT_OK) {
            c->mode = FWT_RESUME_AUTO;
            c->start_step = entry_step(last);
            c->start_data = last->data_consumed;
        }
    } else if (init) {
        char *ref = NULL;
        rc = fwt_checkpoint_spec_resolve_for_job(&ref, init, c->job_id); /* a bare name: this job's */
        if (rc == FWT_OK)
            rc = load(c, ref, !o->init_weights_only);
        fwt__free_mem(ref);
        if (rc == FWT_OK)
            c->mode = FWT_RESUME_INIT; /* step and data_consumed restart at 0 */
    } else {
        c->mode = FWT_RESUME_FRESH;
    }
    fwt_registry_free(l);
    return rc;
}

/*
 * base_model for every entry without the caller repeating it: the option,
 * else what the training was opened with, else the job's
 * trainingConfig.baseModel. Not knowing it is no reason to refuse training
 * (promotion can still read it from the job), so that case only warns.
 */
static int find_base_model(fwt_checkpointer *c, const fwt_checkpointer_options *o)
{
    const char *bm = o->base_model;
    if (!bm || !bm[0])
        bm = fwt_training_base_model(c->t);
    fwt_job *job = NULL;
    fwt_client *client = fwt_training_client(c->t);
    if ((!bm || !bm[0]) && client && fwt_job_get(&job, client, c->job_id) == FWT_OK)
        bm = fwt_job_base_model(job);
    if (bm && bm[0]) {
        c->base_model = fwt__strdup(bm);
        fwt_job_free(job);
        return c->base_model ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt_job_free(job);
    if (client) {
        char *msg = fwt__asprintf("checkpointer on %s: the base model of job %s is unknown (neither the training nor "
                                  "the job names it); entries will not record base_model",
                                  c->log_path, c->job_id);
        if (msg)
            fwt_client_log(client, FWT_LOG_WARN, msg);
        fwt__free_mem(msg);
    }
    return FWT_OK;
}

int fwt_checkpointer_start(fwt_checkpointer **out, fwt_training *t, const fwt_checkpointer_options *opts)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: out is NULL");
    *out = NULL;
    int rc = check_options(t, opts);
    if (rc != FWT_OK)
        return rc;
    fwt_checkpointer *c = fwt__calloc(1, sizeof *c);
    if (!c)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    c->t = t;
    c->lock_fd = -1;
    c->state_step = -1;
    c->interval = opts->dcp_save_interval;
    c->total = opts->total_steps;
    c->timeout_ms = opts->op_timeout_ms == 0 ? DEFAULT_OP_TIMEOUT_MS : opts->op_timeout_ms;
    c->log_path = fwt__strdup(opts->log_path);
    c->job_id = fwt__strdup(opts->job_id);
    if (!c->log_path || !c->job_id) {
        fwt_checkpointer_free(c);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    /* The lock first: the registry must not change under the resume decision. */
    rc = fwt__log_lock(&c->lock_fd, c->log_path);
    if (rc == FWT_OK)
        rc = find_base_model(c, opts);
    if (rc == FWT_OK)
        rc = begin(c, opts);
    if (rc != FWT_OK) {
        fwt_checkpointer_free(c);
        return rc;
    }
    *out = c;
    fwt__last_ok();
    return FWT_OK;
}

int fwt_checkpointer_save(fwt_checkpointer *c, int64_t step, int64_t data_consumed, fwt_checkpoint_kind kind)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_save: checkpointer is NULL");
    if (!fwt_checkpoint_kind_name(kind))
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_save: unknown kind %d", (int)kind);
    if (step < 0 || data_consumed < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_save: step and data_consumed must be >= 0");
    char name[40];
    snprintf(name, sizeof name, "step-%" PRId64, step);

    /* Never the same step's DCP twice: the registry already holds that state. */
    int have_state = (kind & FWT_CHECKPOINT_KIND_STATE) && c->state_ref && c->state_step == step;
    if (have_state && kind == FWT_CHECKPOINT_KIND_STATE) {
        fwt__last_ok();
        return FWT_OK; /* its entry exists: nothing new to record */
    }
    char *state_path = NULL, *server_path = NULL;
    fwt_sampler_save *ss = NULL;
    int rc = FWT_OK;
    if (have_state) {
        state_path = fwt__strdup(c->state_ref);
        if (!state_path)
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    } else if (kind & FWT_CHECKPOINT_KIND_STATE) {
        rc = fwt_training_save_state_result(&server_path, c->t, name, 0, c->timeout_ms);
        /* Recorded as a cross-job reference so any later trainer can load it (docs/protocol.md §7.1). */
        if (rc == FWT_OK)
            rc = fwt_resolve_checkpoint_path(&state_path, name, c->job_id);
    }
    if (rc == FWT_OK && (kind & FWT_CHECKPOINT_KIND_SAMPLER)) {
        /* Always a base snapshot: deltas are not promotable (docs/protocol.md §3.6). */
        rc = fwt_training_save_weights_for_sampler_ext_result(&ss, c->t, name, FWT_SAMPLER_BASE, 0, c->timeout_ms);
    }
    if (rc == FWT_OK) {
        fwt_registry_entry e;
        fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
        e.name = name;
        e.step = step;
        e.data_consumed = data_consumed;
        e.state_path = state_path;
        e.sampler_path = ss ? fwt_sampler_save_snapshot_name(ss) : NULL;
        e.source_job_id = c->job_id;
        e.base_model = c->base_model;
        rc = fwt_registry_append(c->log_path, &e);
    }
    if (rc == FWT_OK && state_path && remember_state(c, step, state_path) != FWT_OK)
        fwt__last_ok(); /* only the memo failed: the entry is durable; at worst a later call saves the DCP again */
    fwt_free(server_path);
    fwt__free_mem(state_path);
    fwt_sampler_save_free(ss);
    return rc;
}

int fwt_checkpointer_step_done(fwt_checkpointer *c, int64_t step, int64_t data_consumed, int *saved)
{
    if (saved)
        *saved = 0;
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_step_done: checkpointer is NULL");
    if (step < 0 || data_consumed < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_step_done: step and data_consumed must be >= 0");
    /*
     * The last step's checkpoint is the final BOTH save (fwt_checkpointer_finish),
     * and a step whose state is already saved (or was resumed from) is not saved again.
     */
    if (c->interval <= 0 || step == 0 || step % c->interval != 0 || (c->total > 0 && step >= c->total) ||
        step == c->state_step) {
        fwt__last_ok();
        return FWT_OK;
    }
    int rc = fwt_checkpointer_save(c, step, data_consumed, FWT_CHECKPOINT_KIND_STATE);
    if (rc == FWT_OK && saved)
        *saved = 1;
    return rc;
}

int fwt_checkpointer_finish(fwt_checkpointer *c, int64_t step, int64_t data_consumed)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_finish: checkpointer is NULL");
    if (step < 0 || data_consumed < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_finish: step and data_consumed must be >= 0");
    fwt_registry *l = NULL;
    int rc = fwt_registry_read(&l, c->log_path);
    if (rc != FWT_OK)
        return rc;
    int done = 0;
    const fwt_registry_entry *state = NULL;
    for (size_t i = 0; i < fwt_registry_count(l); i++) {
        const fwt_registry_entry *e = fwt_registry_get(l, i);
        if (e->step != step)
            continue;
        done |= fwt_registry_entry_kind(e) == FWT_CHECKPOINT_KIND_BOTH;
        if (e->state_path)
            state = e;
    }
    /*
     * When total_steps was not given, step_done already saved the last
     * step's state if it was a multiple of the interval: the final save then
     * adds only the sampler snapshot and records it with that state (BOTH).
     */
    if (!done && state && c->state_step != step)
        rc = remember_state(c, step, state->state_path);
    fwt_registry_free(l);
    if (rc == FWT_OK && !done)
        rc = fwt_checkpointer_save(c, step, data_consumed, FWT_CHECKPOINT_KIND_BOTH);
    if (rc == FWT_OK) {
        c->complete = 1;
        fwt__last_ok();
    }
    return rc;
}
