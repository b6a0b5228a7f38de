/*
 * fwt_weight_syncer: sampler save + hotload with a consistent base/delta
 * chain (docs/protocol.md §5). Every wait is a future the caller's thread blocks on;
 * fwt_weight_syncer_cancel cancels the one in progress.
 */
#include "fwtrain/cookbook/weight_syncer.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "fwt_util.h"

struct fwt_weight_syncer {
    fwt_client *client;
    fwt_training *training;
    fwt_weight_syncer_options o; /* strings point at the copies below */
    char *deployment_id, *base_model, *compression, *checksum, *source_url;
    int base_saved;          /* a sampler checkpoint was saved in this chain */
    char *base_identity;     /* identity the deployment last loaded through us */
    int deployment_checked;  /* readiness gate + current identity read */
    int force_base;          /* a save or hotload failed: restart the chain */
    fwt_sync_timing last;
    int last_warmup;
    pthread_mutex_t lock;    /* guards current / cancel_requested */
    fwt_future *current;
    int cancel_requested;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fwt_weight_syncer_options_init(fwt_weight_syncer_options *o, unsigned int version)
{
    if (!o || version != FWT_WEIGHT_SYNCER_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_weight_syncer_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    o->first_sampler_type = FWT_SAMPLER_BASE;
    (void)fwt_wait_options_init(&o->manager_wait, FWT_WAIT_OPTIONS_VERSION);
    o->manager_wait.timeout_ms = 300000;
    o->manager_wait.poll_interval_ms = 5000;
    (void)fwt_hotload_options_init(&o->hotload, FWT_HOTLOAD_OPTIONS_VERSION);
    (void)fwt_wait_options_init(&o->hotload_wait, FWT_WAIT_OPTIONS_VERSION);
    o->hotload_wait.timeout_ms = 600000;
    o->hotload_wait.poll_interval_ms = 5000;
    (void)fwt_warmup_options_init(&o->warmup, FWT_WARMUP_OPTIONS_VERSION);
    fwt__last_ok();
    return FWT_OK;
}

static int check_options(const fwt_weight_syncer_options *o)
{
    if (o->version != FWT_WEIGHT_SYNCER_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_weight_syncer_options version %u", o->version);
    if (o->lora_rank < 0)
        return fwt__last_set(FWT_EINVAL, "lora_rank must be >= 0");
    if (o->first_sampler_type < 0 || o->first_sampler_type > FWT_SAMPLER_MERGED_BASE)
        return fwt__last_set(FWT_EINVAL, "first_sampler_type is not a fwt_sampler_type");
    if (o->save_timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "save_timeout_ms must be -1, 0 or > 0");
    if (o->manager_wait.version != FWT_WAIT_OPTIONS_VERSION || o->hotload_wait.version != FWT_WAIT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "manager_wait and hotload_wait must be initialised with fwt_wait_options_init");
    if (o->hotload.version != FWT_HOTLOAD_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "hotload must be initialised with fwt_hotload_options_init");
    if (o->warmup.version != FWT_WARMUP_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "warmup must be initialised with fwt_warmup_options_init");
    if (o->deployment_id) {
        int rc = fwt__check_id("deployment_id", o->deployment_id);
        if (rc != FWT_OK)
            return rc;
        if (!o->base_model || !*o->base_model)
            return fwt__last_set(FWT_EINVAL, "base_model is required with a deployment_id");
    }
    return FWT_OK;
}

static void syncer_release(fwt_weight_syncer *s)
{
    fwt__free_mem(s->deployment_id);
    fwt__free_mem(s->base_model);
    fwt__free_mem(s->compression);
    fwt__free_mem(s->checksum);
    fwt__free_mem(s->source_url);
    fwt__free_mem(s->base_identity);
    fwt__free_mem(s);
}

/* Copy an optional input string; 0 on OOM. */
static int copy_opt(char **dst, const char *src)
{
    *dst = src ? fwt__strdup(src) : NULL;
    return !src || *dst;
}

int fwt_weight_syncer_new(fwt_weight_syncer **out, fwt_client *client, fwt_training *training,
                          const fwt_weight_syncer_options *opts)
{
    if (!out || !client || !training)
        return fwt__last_set(FWT_EINVAL, "out, client and training are required");
    *out = NULL;
    fwt_weight_syncer_options o;
    if (opts)
        o = *opts;
    else
        (void)fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    int rc = check_options(&o);
    if (rc != FWT_OK)
        return rc;
    if (o.first_sampler_type == FWT_SAMPLER_AUTO)
        o.first_sampler_type = FWT_SAMPLER_BASE;
    fwt_weight_syncer *s = fwt__calloc(1, sizeof *s);
    if (!s)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    s->client = client;
    s->training = training;
    s->last_warmup = FWT_EAGAIN;
    s->last.version = FWT_SYNC_TIMING_VERSION;
    if (!copy_opt(&s->deployment_id, o.deployment_id) || !copy_opt(&s->base_model, o.base_model) ||
        !copy_opt(&s->compression, o.hotload.compression_format) ||
        !copy_opt(&s->checksum, o.hotload.checksum_format) || !copy_opt(&s->source_url, o.hotload.source_url) ||
        pthread_mutex_init(&s->lock, NULL) != 0) {
        syncer_release(s);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    /* The options as given, their strings pointing at our copies. */
    s->o = o;
    s->o.deployment_id = s->deployment_id;
    s->o.base_model = s->base_model;
    s->o.hotload.compression_format = s->compression;
    s->o.hotload.checksum_format = s->checksum;
    s->o.hotload.source_url = s->source_url;
    *out = s;
    fwt__last_ok();
    return FWT_OK;
}

void fwt_weight_syncer_free(fwt_weight_syncer *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    syncer_release(s);
}

int fwt_weight_syncer_cancel(fwt_weight_syncer *s)
{
    if (!s)
        return fwt__last_set(FWT_EINVAL, "syncer is required");
    pthread_mutex_lock(&s->lock);
    s->cancel_requested = 1;
    if (s->current)
        (void)fwt_future_cancel(s->current);
    pthread_mutex_unlock(&s->lock);
    return FWT_OK;
}

/*
 * Block on f until it is done, cancellable through the syncer. FWT_OK once
 * done (the caller takes the value and frees f); on FWT_ETIMEDOUT f was
 * cancelled and freed.
 */
static int wait_done(fwt_weight_syncer *s, fwt_future *f, int64_t timeout_ms)
{
    pthread_mutex_lock(&s->lock);
    s->current = f;
    int pre = s->cancel_requested;
    pthread_mutex_unlock(&s->lock);
    if (pre)
        (void)fwt_future_cancel(f);
    int rc = fwt_future_wait(f, timeout_ms > 0 ? timeout_ms : -1);
    pthread_mutex_lock(&s->lock);
    s->current = NULL;
    pthread_mutex_unlock(&s->lock);
    if (rc == FWT_ETIMEDOUT) {
        (void)fwt_future_cancel(f);
        (void)fwt_future_wait(f, -1);
        fwt_future_free(f);
        return fwt__last_set(FWT_ETIMEDOUT, "timed out after %lld ms", (long long)timeout_ms);
    }
    return FWT_OK;
}

/* Wait for a future that completes without a value; its outcome, f freed. */
static int wait_status(fwt_weight_syncer *s, fwt_future *f)
{
    int rc = wait_done(s, f, -1);
    if (rc != FWT_OK)
        return rc;
    rc = fwt_future_status(f);
    if (rc != FWT_OK) {
        const fwt_error *e = fwt_future_error(f);
        rc = fwt__last_set(rc, "%s", e ? e->message : fwt_strerror(rc));
    }
    fwt_future_free(f);
    return rc;
}

/* Wait for a hotload-status future; the status into *out (NULL: freed), f freed. */
static int wait_hotload_status(fwt_weight_syncer *s, fwt_future *f, fwt_hotload_status **out)
{
    int rc = wait_done(s, f, -1);
    if (rc != FWT_OK)
        return rc;
    fwt_hotload_status *st = NULL;
    rc = fwt_future_take_hotload_status(&st, f);
    fwt_future_free(f);
    if (out)
        *out = st;
    else
        fwt_hotload_status_free(st);
    return rc;
}

static void set_identity(fwt_weight_syncer *s, const char *id)
{
    char *n = id ? fwt__strdup(id) : NULL;
    fwt__free_mem(s->base_identity);
    s->base_identity = n;
}

/* First time only: the hotload-manager readiness gate, then what the deployment holds (§5 step 3). */
static int check_deployment(fwt_weight_syncer *s)
{
    if (!s->deployment_id || s->deployment_checked)
        return FWT_OK;
    fwt_future *f = NULL;
    int rc = fwt_deployment_wait_hotload_ready(&f, s->client, s->deployment_id, s->base_model, &s->o.manager_wait);
    if (rc != FWT_OK)
        return rc;
    fwt_hotload_status *st = NULL;
    rc = wait_hotload_status(s, f, &st);
    if (rc != FWT_OK)
        return rc;
    const char *cur = fwt_hotload_status_current_identity(st, 0);
    if (cur && *cur && !(s->base_identity && strcmp(cur, s->base_identity) == 0)) {
        /* Holds a snapshot from elsewhere (a previous session): our chain does not apply. */
        set_identity(s, NULL);
        s->force_base = 1;
    }
    fwt_hotload_status_free(st);
    s->deployment_checked = 1;
    return FWT_OK;
}

/*
 * Before a delta: does every replica still hold the snapshot it applies to?
 * A hotload made outside this syncer (another syncer, a rollback by hand)
 * replaces it, and a delta against it can then only be rejected. 1 yes,
 * 0 no (*held names what replica 0 holds, caller frees), < 0 the status
 * could not be read (error set).
 */
static int deployment_holds_ours(fwt_weight_syncer *s, char **held)
{
    *held = NULL;
    fwt_hotload_status *st = NULL;
    int rc = fwt_deployment_hotload_status(&st, s->client, s->deployment_id, s->base_model);
    if (rc != FWT_OK)
        return rc;
    size_t n = fwt_hotload_status_replica_count(st);
    int ours = n > 0 && s->base_identity;
    for (size_t i = 0; ours && i < n; i++) {
        const char *cur = fwt_hotload_status_current_identity(st, i);
        ours = cur && strcmp(cur, s->base_identity) == 0;
    }
    if (!ours) {
        const char *cur = fwt_hotload_status_current_identity(st, 0);
        *held = fwt__strdup(cur ? cur : "(nothing)");
    }
    fwt_hotload_status_free(st);
    return ours;
}

fwt_sampler_type fwt_weight_syncer_next_type(const fwt_weight_syncer *s)
{
    if (!s)
        return FWT_SAMPLER_BASE;
    if (s->o.lora_rank > 0 || s->force_base)
        return FWT_SAMPLER_BASE;
    if (!s->base_saved)
        return (fwt_sampler_type)s->o.first_sampler_type;
    /* With a deployment, a delta only makes sense against what it holds. */
    if (s->deployment_id && !s->base_identity)
        return FWT_SAMPLER_BASE;
    return FWT_SAMPLER_DELTA;
}

static fwt_sampler_type resolve_type(const fwt_weight_syncer *s, fwt_sampler_type type)
{
    if (s->o.lora_rank > 0)
        return FWT_SAMPLER_BASE;
    if (type != FWT_SAMPLER_AUTO)
        return type;
    return fwt_weight_syncer_next_type(s);
}

/* *previous: for a delta, the snapshot it applies on top of (fwt_sampler_save_previous_snapshot_name), else NULL. */
static int do_save(fwt_weight_syncer *s, const char *name, fwt_sampler_type type, char **snapshot, char **previous)
{
    *snapshot = NULL;
    *previous = NULL;
    int64_t t0 = now_ms();
    fwt_future *f = NULL;
    int rc = fwt_training_save_weights_for_sampler_ext(&f, s->training, name, type, s->o.save_ttl_seconds);
    if (rc == FWT_OK) {
        fwt_sampler_save *sv = NULL;
        rc = wait_done(s, f, s->o.save_timeout_ms);
        if (rc == FWT_OK) {
            rc = fwt_future_take_sampler_save(&sv, f);
            fwt_future_free(f);
        }
        if (rc == FWT_OK) {
            const char *sn = fwt_sampler_save_snapshot_name(sv);
            const char *pv = fwt_sampler_save_previous_snapshot_name(sv);
            *snapshot = fwt__strdup(sn ? sn : "");
            *previous = pv ? fwt__strdup(pv) : NULL;
            fwt_sampler_save_free(sv);
            if (!*snapshot || (pv && !*previous)) {
                fwt__free_mem(*snapshot);
                fwt__free_mem(*previous);
                *snapshot = *previous = NULL;
                rc = fwt__last_set(FWT_ENOMEM, "out of memory");
            }
        }
    }
    s->last.save_ms = now_ms() - t0;
    if (rc != FWT_OK) {
        s->force_base = 1; /* the trainer's chain may now differ from ours */
        return rc;
    }
    s->base_saved = 1;
    if (type == FWT_SAMPLER_BASE || type == FWT_SAMPLER_MERGED_BASE)
        s->force_base = 0;
    return FWT_OK;
}

static int do_hotload(fwt_weight_syncer *s, const char *snapshot, fwt_sampler_type type)
{
    int64_t t0 = now_ms();
    int rc = check_deployment(s);
    fwt_hotload_options ho = s->o.hotload;
    ho.previous_snapshot_identity =
        s->o.lora_rank == 0 && type == FWT_SAMPLER_DELTA && s->base_identity ? s->base_identity : NULL;
    if (rc == FWT_OK)
        rc = fwt_deployment_hotload(s->client, s->deployment_id, s->base_model, snapshot, &ho);
    if (rc == FWT_OK) {
        fwt_future *f = NULL;
        rc = fwt_deployment_wait_hotload(&f, s->client, s->deployment_id, s->base_model, snapshot, &s->o.hotload_wait);
        if (rc == FWT_OK)
            rc = wait_hotload_status(s, f, NULL);
    }
    s->last.hotload_ms = now_ms() - t0;
    if (rc != FWT_OK) {
        /* What the deployment holds is unknown now: next checkpoint base, next load full. */
        set_identity(s, NULL);
        s->force_base = 1;
        return rc;
    }
    set_identity(s, snapshot);
    if (!s->base_identity)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    if (!s->o.disable_warmup) {
        int64_t w0 = now_ms();
        fwt_future *f = NULL;
        int wrc = fwt_deployment_warmup(&f, s->client, s->deployment_id, &s->o.warmup);
        if (wrc == FWT_OK)
            wrc = wait_status(s, f);
        s->last_warmup = wrc; /* not fatal (§5) */
        if (wrc != FWT_OK) {
            char *msg = fwt__asprintf("warmup of deployment %s after loading %s failed: %s", s->deployment_id,
                                      snapshot, fwt_error_last()->message);
            if (msg)
                fwt_client_log(s->client, FWT_LOG_WARN, msg);
            fwt__free_mem(msg);
        }
        s->last.warmup_ms = now_ms() - w0;
    }
    fwt__last_ok();
    return FWT_OK;
}

static void begin(fwt_weight_syncer *s)
{
    pthread_mutex_lock(&s->lock);
    s->cancel_requested = 0;
    pthread_mutex_unlock(&s->lock);
    memset(&s->last, 0, sizeof s->last);
    s->last.version = FWT_SYNC_TIMING_VERSION;
}

static int check_name(const char *name)
{
    if (!name || !*name)
        return fwt__last_set(FWT_EINVAL, "name is required");
    if (strlen(name) > 200 || strchr(name, '/'))
        return fwt__last_set(FWT_EINVAL, "name must be at most 200 characters without '/'");
    return FWT_OK;
}

static int check_type(fwt_sampler_type type)
{
    if ((int)type < FWT_SAMPLER_AUTO || (int)type > FWT_SAMPLER_MERGED_BASE)
        return fwt__last_set(FWT_EINVAL, "type is not a fwt_sampler_type");
    return FWT_OK;
}

/* save (and with `hotload`, load into the deployment): the body of save_only and save_and_hotload. */
static int save_call(char **snapshot_out, fwt_sampler_type *type_out, fwt_weight_syncer *s, const char *name,
                     fwt_sampler_type type, int hotload)
{
    if (snapshot_out)
        *snapshot_out = NULL;
    if (!s)
        return fwt__last_set(FWT_EINVAL, "syncer is required");
    int rc;
    if ((rc = check_name(name)) != FWT_OK || (rc = check_type(type)) != FWT_OK)
        return rc;
    begin(s);
    int64_t t0 = now_ms();
    /* Learn what the deployment holds before choosing the type, so a foreign
     * snapshot makes this checkpoint a base. */
    if (hotload && (rc = check_deployment(s)) != FWT_OK) {
        s->force_base = 1;
        s->last.total_ms = now_ms() - t0;
        return rc;
    }
    fwt_sampler_type t = resolve_type(s, type);
    if (hotload && s->o.lora_rank == 0 && t == FWT_SAMPLER_DELTA) {
        char *held = NULL;
        int ours = deployment_holds_ours(s, &held);
        if (ours < 0) {
            /* Unknown holdings: a base always applies. */
            char *msg = fwt__asprintf("weight syncer: cannot read what deployment %s holds (%s); sending a base",
                                      s->deployment_id, fwt_error_last()->message);
            if (msg)
                fwt_client_log(s->client, FWT_LOG_WARN, msg);
            fwt__free_mem(msg);
        } else if (!ours) {
            char *msg = fwt__asprintf("weight syncer: deployment %s holds %s, not %s (a hotload outside this syncer); "
                                      "sending a base instead of a delta",
                                      s->deployment_id, held ? held : "another snapshot",
                                      s->base_identity ? s->base_identity : "(none)");
            if (msg && type == FWT_SAMPLER_AUTO)
                fwt_client_log(s->client, FWT_LOG_INFO, msg);
            fwt__free_mem(msg);
        }
        if (ours != 1 && type == FWT_SAMPLER_DELTA) {
            /* An explicit delta cannot apply: refuse before saving anything. */
            rc = fwt__last_set(FWT_ESTATE,
                               "deployment %s holds %s, but a delta applies on top of %s (the last snapshot this "
                               "syncer loaded); save a base (FWT_SAMPLER_AUTO or FWT_SAMPLER_BASE)",
                               s->deployment_id, held ? held : "an unknown snapshot",
                               s->base_identity ? s->base_identity : "(none)");
            fwt__free_mem(held);
            s->force_base = 1;
            s->last.total_ms = now_ms() - t0;
            return rc;
        }
        fwt__free_mem(held);
        if (ours != 1) {
            set_identity(s, NULL);
            s->force_base = 1;
            t = FWT_SAMPLER_BASE;
        }
    }
    s->last.type = t;
    char *snap = NULL, *prev = NULL;
    rc = do_save(s, name, t, &snap, &prev);
    if (rc == FWT_OK && hotload && prev && s->o.lora_rank == 0 && t == FWT_SAMPLER_DELTA &&
        !(s->base_identity && strcmp(prev, s->base_identity) == 0)) {
        /* The trainer's delta applies on top of a snapshot the deployment does not hold (another save on this
         * training came in between): loading it can only fail, so do not send it and restart with a base. */
        rc = fwt__last_set(FWT_ESTATE,
                           "delta chain broken: %s applies on top of %s but deployment %s holds %s; not hotloading it, "
                           "the next checkpoint will be a base",
                           snap, prev, s->deployment_id, s->base_identity ? s->base_identity : "(unknown)");
        s->force_base = 1;
    } else if (rc == FWT_OK && hotload) {
        rc = do_hotload(s, snap, t);
    }
    fwt__free_mem(prev);
    s->last.total_ms = now_ms() - t0;
    if (rc != FWT_OK) {
        fwt__free_mem(snap);
        return rc;
    }
    if (type_out)
        *type_out = t;
    if (snapshot_out)
        *snapshot_out = snap;
    else
        fwt__free_mem(snap);
    fwt__last_ok();
    return FWT_OK;
}

int fwt_weight_syncer_save_only(char **snapshot_out, fwt_sampler_type *type_out, fwt_weight_syncer *s,
                                const char *name, fwt_sampler_type type)
{
    return save_call(snapshot_out, type_out, s, name, type, 0);
}

int fwt_weight_syncer_save_and_hotload(char **snapshot_out, fwt_weight_syncer *s, const char *name,
                                       fwt_sampler_type type)
{
    return save_call(snapshot_out, NULL, s, name, type, s && s->deployment_id);
}

int fwt_weight_syncer_hotload(fwt_weight_syncer *s, const char *snapshot_name, fwt_sampler_type type)
{
    if (!s)
        return fwt__last_set(FWT_EINVAL, "syncer is required");
    if (!s->deployment_id)
        return fwt__last_set(FWT_ESTATE, "this syncer has no deployment_id");
    if (!snapshot_name || !*snapshot_name)
        return fwt__last_set(FWT_EINVAL, "snapshot_name is required");
    int rc = check_type(type);
    if (rc != FWT_OK)
        return rc;
    begin(s);
    int64_t t0 = now_ms();
    s->last.type = type == FWT_SAMPLER_AUTO ? FWT_SAMPLER_BASE : type;
    rc = do_hotload(s, snapshot_name, type);
    s->last.total_ms = now_ms() - t0;
    return rc;
}

void fwt_weight_syncer_reset_delta_chain(fwt_weight_syncer *s)
{
    if (!s)
        return;
    s->base_saved = 0;
    set_identity(s, NULL);
    /* A re-attached deployment rolls its pod: pass the readiness gate again. */
    s->deployment_checked = 0;
}

const char *fwt_weight_syncer_base_identity(const fwt_weight_syncer *s)
{
    return s ? s->base_identity : NULL;
}

int fwt_weight_syncer_last_timing(const fwt_weight_syncer *s, fwt_sync_timing *out)
{
    if (!s || !out)
        return fwt__last_set(FWT_EINVAL, "syncer and out are required");
    if (out->version != FWT_SYNC_TIMING_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_sync_timing version %u", out->version);
    *out = s->last;
    return FWT_OK;
}

int fwt_weight_syncer_last_warmup_status(const fwt_weight_syncer *s)
{
    return s ? s->last_warmup : FWT_EINVAL;
}
