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
#include "checkpointer_impl.h"
#include "fwt_util.h"
#include "registry_impl.h"

/* Cookbook DCP_TIMEOUT_S (docs/protocol.md §4.2). */
#define DEFAULT_OP_TIMEOUT_MS 2700000

int fwt_checkpointer_options_init(fwt_checkpointer_options *opts, unsigned int version)
{
    if (!opts)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_options_init: opts is NULL");
    if (version != FWT_CHECKPOINTER_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_options_init: unknown version %u", version);
    memset(opts, 0, sizeof *opts);
    opts->version = version;
    opts->op_timeout_ms = DEFAULT_OP_TIMEOUT_MS;
    return fwt_promote_options_init(&opts->promote, FWT_PROMOTE_OPTIONS_VERSION);
}

void fwt_checkpointer_free(fwt_checkpointer *c)
{
    if (!c)
        return;
    fwt__free_mem(c->log_path);
    fwt__free_mem(c->job_id);
    fwt__free_mem(c->base_model);
    fwt__free_mem(c->loaded_path);
    fwt__free_mem(c->conf_path);
    fwt__free_mem(c->state_ref);
    fwt__log_unlock(c->lock_fd);
    fwt__ckpt_async_drop(c); /* unconfirmed saves get no line (fwt_checkpointer_flush records them) */
    fwt__ckpt_names_clear(c);
    fwt__free_mem(c->output_model_id);
    fwt__free_mem(c->final_sampler);
    fwt_model_free(c->promoted);
    fwt_training_free(c->owned); /* a recovery's replacement; the caller's training stays the caller's */
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
    if (o->resume_source != FWT_RESUME_SOURCE_REGISTRY && o->resume_source != FWT_RESUME_SOURCE_CONTROL_PLANE)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: unknown resume_source %d", (int)o->resume_source);
    if (o->max_recoveries < -1)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: max_recoveries must be -1 (never), 0 (default) or > 0");
    if (o->ttl_seconds < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: ttl_seconds must be >= 0 (0 = kept forever)");
    if (o->save_interval_ms < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: save_interval_ms must be >= 0 (0 = off)");
    if (o->log_dir_policy < FWT_LOG_DIR_RESUME || o->log_dir_policy > FWT_LOG_DIR_FAIL_IF_EXISTS)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: unknown log_dir_policy %d", (int)o->log_dir_policy);
    if (o->output_model_id && fwt_promote_validate_output_model_id(o->output_model_id) != FWT_OK) {
        char why[256]; /* a copy: the last error is about to be replaced */
        snprintf(why, sizeof why, "%s", fwt_error_last()->message);
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: output_model_id: %s", why);
    }
    if (o->output_model_id && o->promote.version != FWT_PROMOTE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_start: promote options: unknown version %u "
                             "(fwt_checkpointer_options_init fills them)", o->promote.version);
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

/* The state an automatic resume would continue from, whichever source it comes from. */
typedef struct resume_point {
    char *name;        /* checkpoint name; NULL = nothing to resume */
    char *state_path;  /* what to load */
    int64_t step, data_consumed;
} resume_point;

static void resume_point_clear(resume_point *p)
{
    fwt__free_mem(p->name);
    fwt__free_mem(p->state_path);
    memset(p, 0, sizeof *p);
}

/* The registry's resumable entry (and its torn tail, which is warned about). */
static int point_from_registry(fwt_checkpointer *c, const fwt_checkpointer_options *o, resume_point *p)
{
    fwt_registry *l = NULL;
    int rc = fwt_registry_read(&l, o->log_path);
    if (rc != FWT_OK)
        return rc;
    const fwt_registry_entry *last = fwt_registry_last_resumable(l);
    c->torn_bytes = fwt_registry_torn_bytes(l);
    if (c->torn_bytes)
        warn_torn(c, o->log_path, last);
    if (last) {
        p->name = fwt__strdup(last->name);
        p->state_path = fwt__strdup(last->state_path);
        p->step = entry_step(last); /* a line without `step` resumes at its `batch` */
        p->data_consumed = last->data_consumed;
        if (!p->name || !p->state_path)
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    fwt_registry_free(l);
    return rc;
}

/* The listing's newest resumable step-<N> row and its data position from dataloader.json. */
static int point_from_control_plane(fwt_checkpointer *c, const fwt_checkpointer_options *o, resume_point *p)
{
    fwt_client *client = fwt_training_client(c->t);
    if (!client)
        return fwt__last_set(FWT_ESTATE, "fwt_checkpointer_start: the client of the training was freed");
    int rc = fwt__cp_newest(&p->name, &p->step, client, o->job_id);
    if (rc != FWT_OK || !p->name)
        return rc;
    int found = 0;
    rc = fwt__dataloader_get(o->log_path, p->name, &p->data_consumed, &found);
    if (rc == FWT_OK && !found)
        rc = fwt__last_set(FWT_ECORRUPT,
                           "the newest resumable checkpoint of job %s is %s, but %s/dataloader.json has no data position "
                           "for it, so the run cannot resume at the right example (restore the file, or use a new "
                           "log_path and job)",
                           o->job_id, p->name, o->log_path);
    if (rc == FWT_OK)
        rc = fwt_resolve_checkpoint_path(&p->state_path, p->name, o->job_id);
    return rc;
}

/* Decide how the run begins (see checkpointer.h) and restore it. */
static int begin(fwt_checkpointer *c, const fwt_checkpointer_options *o)
{
    resume_point last = {0};
    int rc = FWT_OK;
    if (o->log_dir_policy == FWT_LOG_DIR_OVERWRITE)
        ; /* a fresh run by request: nothing is resumed, not even from the listing */
    else if (o->resume_source == FWT_RESUME_SOURCE_CONTROL_PLANE)
        rc = point_from_control_plane(c, o, &last);
    else
        rc = point_from_registry(c, o, &last);
    const char *where = o->resume_source == FWT_RESUME_SOURCE_CONTROL_PLANE ? "the checkpoint listing of job"
                                                                            : "the registry in";
    const char *init = o->init_from_checkpoint && o->init_from_checkpoint[0] ? o->init_from_checkpoint : NULL;
    if (rc != FWT_OK) {
        /* fwt_error_last() says why */
    } else if (last.name && c->total > 0 && last.step >= c->total) {
        /* A finished run: nothing to load and nothing to train. */
        c->mode = FWT_RESUME_COMPLETE;
        c->complete = 1;
        c->start_step = last.step;
        c->start_data = last.data_consumed;
    } else if (last.name && init) {
        rc = fwt__last_set(FWT_EINVAL,
                           "init_from_checkpoint \"%s\" and the automatic resume from %s %s (%s, step %" PRId64
                           ") are mutually exclusive: drop init_from_checkpoint to resume this run, or use a new "
                           "log_path to start from %s",
                           init, where, o->resume_source == FWT_RESUME_SOURCE_CONTROL_PLANE ? o->job_id : o->log_path,
                           last.name, last.step, init);
    } else if (last.name) {
        rc = load(c, last.state_path, 1);
        if (rc == FWT_OK)
            rc = remember_state(c, last.step, last.state_path); /* step_done/finish of this step save no DCP */
        if (rc == FWT_OK) {
            c->mode = FWT_RESUME_AUTO;
            c->start_step = last.step;
            c->start_data = last.data_consumed;
            rc = fwt__ckpt_confirm(c, last.state_path, 1, last.step, last.data_consumed);
        }
    } else if (init) {
        char *ref = NULL;
        rc = fwt_checkpoint_spec_resolve_for_job(&ref, init, c->job_id); /* a bare name: this job's */
        if (rc == FWT_OK)
            rc = load(c, ref, !o->init_weights_only);
        if (rc == FWT_OK) {
            c->mode = FWT_RESUME_INIT; /* step and data_consumed restart at 0 */
            rc = fwt__ckpt_confirm(c, ref, !o->init_weights_only, 0, 0);
        }
        fwt__free_mem(ref);
    } else {
        c->mode = FWT_RESUME_FRESH;
    }
    resume_point_clear(&last);
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
    c->source = opts->resume_source;
    c->max_recoveries = opts->max_recoveries == 0 ? FWT__CKPT_DEFAULT_MAX_RECOVERIES : opts->max_recoveries;
    c->ttl_seconds = opts->ttl_seconds;
    c->save_interval_ms = opts->save_interval_ms;
    c->clock_ms = opts->clock_ms;
    c->clock_payload = opts->clock_payload;
    c->async_saves = opts->async_saves != 0;
    c->dir_policy = opts->log_dir_policy;
    c->promote = opts->promote;
    c->log_path = fwt__strdup(opts->log_path);
    c->job_id = fwt__strdup(opts->job_id);
    c->output_model_id = fwt__strdup(opts->output_model_id);
    if (!c->log_path || !c->job_id || (opts->output_model_id && !c->output_model_id)) {
        fwt_checkpointer_free(c);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    /* The lock first: the registry must not change under the policy or the resume decision. */
    rc = fwt__log_lock(&c->lock_fd, c->log_path);
    if (rc == FWT_OK)
        rc = fwt__ckpt_apply_dir_policy(c->log_path, c->dir_policy);
    if (rc == FWT_OK)
        rc = find_base_model(c, opts);
    if (rc == FWT_OK)
        rc = begin(c, opts);
    c->last_save_ms = fwt__ckpt_now_ms(c);
    if (rc != FWT_OK) {
        fwt_checkpointer_free(c);
        return rc;
    }
    *out = c;
    fwt__last_ok();
    return FWT_OK;
}

int fwt__ckpt_record(fwt_checkpointer *c, const char *name, int64_t step, int64_t data_consumed,
                     const char *state_path, const char *sampler_path)
{
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = name;
    e.step = step;
    e.data_consumed = data_consumed;
    e.state_path = state_path;
    e.sampler_path = sampler_path;
    e.source_job_id = c->job_id;
    e.base_model = c->base_model;
    return fwt_registry_append(c->log_path, &e);
}

/* A blocking save of `kind` with the given TTL; the line once the server confirmed every part. */
static int save_now(fwt_checkpointer *c, int64_t step, int64_t data_consumed, fwt_checkpoint_kind kind,
                    int64_t ttl_seconds)
{
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
        fwt__ckpt_name_used(c, "DCP", name);
        /* The data position first: a checkpoint the listing shows must have one (dataloader.c). */
        if (c->source == FWT_RESUME_SOURCE_CONTROL_PLANE)
            rc = fwt__dataloader_put(c->log_path, name, data_consumed);
        if (rc == FWT_OK)
            rc = fwt_training_save_state_result(&server_path, c->t, name, ttl_seconds, c->timeout_ms);
        /* Recorded as a cross-job reference so any later trainer can load it (docs/protocol.md §7.1). */
        if (rc == FWT_OK)
            rc = fwt_resolve_checkpoint_path(&state_path, name, c->job_id);
        /* The server holds it now: a recovery reloads this state, whatever happens to the registry line. */
        if (rc == FWT_OK)
            rc = fwt__ckpt_confirm(c, state_path, 1, step, data_consumed);
    }
    if (rc == FWT_OK && (kind & FWT_CHECKPOINT_KIND_SAMPLER)) {
        fwt__ckpt_name_used(c, "sampler", name);
        /* Always a base snapshot: deltas are not promotable (docs/protocol.md §3.6). */
        rc = fwt_training_save_weights_for_sampler_ext_result(&ss, c->t, name, FWT_SAMPLER_BASE, ttl_seconds,
                                                              c->timeout_ms);
    }
    if (rc == FWT_OK)
        rc = fwt__ckpt_record(c, name, step, data_consumed, state_path, ss ? fwt_sampler_save_snapshot_name(ss) : NULL);
    if (rc == FWT_OK && state_path && remember_state(c, step, state_path) != FWT_OK)
        fwt__last_ok(); /* only the memo failed: the entry is durable; at worst a later call saves the DCP again */
    if (rc == FWT_OK && ss) {
        char *snap = fwt__strdup(fwt_sampler_save_snapshot_name(ss));
        if (snap) {
            fwt__free_mem(c->final_sampler);
            c->final_sampler = snap;
        }
    }
    fwt_free(server_path);
    fwt__free_mem(state_path);
    fwt_sampler_save_free(ss);
    return rc;
}

int fwt_checkpointer_flush(fwt_checkpointer *c)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_flush: checkpointer is NULL");
    return fwt__ckpt_async_collect(c, 1);
}

int fwt_checkpointer_save(fwt_checkpointer *c, int64_t step, int64_t data_consumed, fwt_checkpoint_kind kind)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_save: checkpointer is NULL");
    if (!fwt_checkpoint_kind_name(kind))
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_save: unknown kind %d", (int)kind);
    if (step < 0 || data_consumed < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_save: step and data_consumed must be >= 0");
    /* Lines stay in step order: the saves in flight are recorded first. */
    int rc = fwt__ckpt_async_collect(c, 1);
    if (rc == FWT_OK)
        rc = save_now(c, step, data_consumed, kind, 0);
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
    /* Record what the server confirmed meanwhile; a failed save in flight is reported here. */
    int rc = fwt__ckpt_async_collect(c, 0);
    if (rc != FWT_OK)
        return rc;
    int64_t now = fwt__ckpt_now_ms(c);
    int by_steps = c->interval > 0 && step % c->interval == 0;
    int by_time = c->save_interval_ms > 0 && now - c->last_save_ms >= c->save_interval_ms;
    /*
     * The last step's checkpoint is the final BOTH save (fwt_checkpointer_finish),
     * and a step whose state is already saved (or was resumed from) is not saved again.
     */
    if (step == 0 || !(by_steps || by_time) || (c->total > 0 && step >= c->total) || step == c->state_step) {
        fwt__last_ok();
        return FWT_OK;
    }
    c->last_save_ms = now;
    rc = c->async_saves ? fwt__ckpt_async_start(c, step, data_consumed, c->ttl_seconds)
                        : save_now(c, step, data_consumed, FWT_CHECKPOINT_KIND_STATE, c->ttl_seconds);
    if (rc == FWT_OK && saved)
        *saved = 1;
    if (rc == FWT_OK)
        fwt__last_ok();
    return rc;
}

/* output_model_id: promote the final sampler snapshot (by job and checkpoint id). */
static int promote_final(fwt_checkpointer *c, const char *snapshot)
{
    fwt_client *client = fwt_training_client(c->t);
    if (!client)
        return fwt__last_set(FWT_ESTATE, "fwt_checkpointer_finish: the client of the training was freed");
    fwt_model *m = NULL;
    int rc = fwt_promote_checkpoint_by_id_result(&m, client, c->job_id, snapshot, c->output_model_id, c->base_model,
                                                 &c->promote, 0);
    if (rc != FWT_OK)
        return rc;
    fwt_model_free(c->promoted);
    c->promoted = m;
    return FWT_OK;
}

const fwt_model *fwt_checkpointer_promoted_model(const fwt_checkpointer *c)
{
    return c ? c->promoted : NULL;
}

int fwt_checkpointer_finish(fwt_checkpointer *c, int64_t step, int64_t data_consumed)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_finish: checkpointer is NULL");
    if (step < 0 || data_consumed < 0)
        return fwt__last_set(FWT_EINVAL, "fwt_checkpointer_finish: step and data_consumed must be >= 0");
    int rc = fwt__ckpt_async_collect(c, 1); /* every periodic line before the final one */
    if (rc != FWT_OK)
        return rc;
    fwt_registry *l = NULL;
    rc = fwt_registry_read(&l, c->log_path);
    if (rc != FWT_OK)
        return rc;
    int done = 0;
    const fwt_registry_entry *state = NULL, *both = NULL;
    for (size_t i = 0; i < fwt_registry_count(l); i++) {
        const fwt_registry_entry *e = fwt_registry_get(l, i);
        if (e->step != step)
            continue;
        if (fwt_registry_entry_kind(e) == FWT_CHECKPOINT_KIND_BOTH) {
            done = 1;
            both = e;
        }
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
    char *snapshot = done ? fwt__strdup(both->sampler_path) : NULL;
    fwt_registry_free(l);
    if (rc != FWT_OK || (done && !snapshot)) {
        fwt__free_mem(snapshot);
        return rc != FWT_OK ? rc : fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (!done) {
        rc = save_now(c, step, data_consumed, FWT_CHECKPOINT_KIND_BOTH, 0);
        if (rc == FWT_OK && !(snapshot = fwt__strdup(c->final_sampler)))
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (rc == FWT_OK && c->output_model_id)
        rc = promote_final(c, snapshot);
    fwt__free_mem(snapshot);
    if (rc == FWT_OK) {
        c->complete = 1;
        fwt__last_ok();
    }
    return rc;
}
