/*
 * Wait until a trainer job is ready (docs/protocol.md §3.2): poll the job; PENDING is
 * bounded by pending_timeout, any other state starts the post-placement
 * budget; FAILED fails with the job's status message; RUNNING → probe the
 * trainer's healthz until 200.
 */
#include "api/jobs_internal.h"
#include "api/progress_waiter.h"

#include <stdio.h>
#include <string.h>

typedef struct job_wait {
    fwt__waiter w;
    int64_t pending_timeout_ms, healthz_timeout_ms; /* resolved: -1 = none */
    char *job_id, *job_url, *base, *account, *healthz_url;
    fwt_job *job;           /* last job seen (RUNNING while probing healthz) */
    int64_t placed_at_ms;   /* elapsed when first seen outside PENDING; -1 = not yet */
} job_wait;

/* Defaults (docs/protocol.md §3.2). */
#define DEFAULT_READY_MS 3600000
#define DEFAULT_POLL_MS 5000
#define DEFAULT_PENDING_MS (48LL * 3600 * 1000)
#define DEFAULT_HEALTHZ_MS 5000
/* "No bound" for one healthz probe: a day is beyond any real answer. */
#define HEALTHZ_NONE_MS (24LL * 3600 * 1000)

int fwt_job_wait_options_init(fwt_job_wait_options *o, unsigned int version)
{
    if (!o || version != FWT_JOB_WAIT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_job_wait_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    (void)fwt_wait_options_init(&o->wait, FWT_WAIT_OPTIONS_VERSION);
    o->wait.timeout_ms = DEFAULT_READY_MS;
    o->wait.poll_interval_ms = DEFAULT_POLL_MS;
    o->pending_timeout_ms = DEFAULT_PENDING_MS;
    o->healthz_timeout_ms = DEFAULT_HEALTHZ_MS;
    fwt__last_ok();
    return FWT_OK;
}

static void job_wait_destroy(fwt__waiter *w)
{
    job_wait *jw = (job_wait *)w;
    fwt__free_mem(jw->job_id);
    fwt__free_mem(jw->job_url);
    fwt__free_mem(jw->base);
    fwt__free_mem(jw->account);
    fwt__free_mem(jw->healthz_url);
    fwt_job_free(jw->job);
    fwt__free_mem(jw);
}

static void job_wait_step(fwt__waiter *w);

/* Schedule the next poll unless a bound has passed. */
static void job_wait_again(job_wait *jw, const char *why)
{
    int64_t el = fwt__waiter_elapsed(&jw->w);
    if (jw->placed_at_ms < 0) {
        if (fwt__waiter_again_until(&jw->w, jw->pending_timeout_ms))
            fwt__waiter_fail(&jw->w, FWT_ETIMEDOUT, "trainer job \"%s\" still pending after %lld ms (%s)", jw->job_id,
                             (long long)el, why);
    } else if (fwt__waiter_again_until(&jw->w, jw->w.pol.timeout_ms < 0 ? -1 : jw->placed_at_ms + jw->w.pol.timeout_ms)) {
        fwt__waiter_fail(&jw->w, FWT_ETIMEDOUT, "trainer job \"%s\" not ready %lld ms after placement (%s)", jw->job_id,
                         (long long)(el - jw->placed_at_ms), why);
    }
}

static void on_healthz(fwt__waiter *w, fwt__reply *r)
{
    job_wait *jw = (job_wait *)w;
    if (r->http_status == 200) {
        fwt__waiter_progress(w, FWT_PROGRESS_JOB_READY, "trainer job %s is ready", jw->job_id);
        fwt_job *j = jw->job;
        jw->job = NULL;
        fwt__waiter_finish(w, FWT_OK, NULL, FWT__VALUE_JOB, j, (void (*)(void *))fwt_job_free);
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "healthz: %s", r->http_status ? "not 200" : "no response");
    fwt__waiter_progress(w, FWT_PROGRESS_JOB_HEALTHZ, "RUNNING; healthz answered %ld", r->http_status);
    job_wait_again(jw, why);
}

static const char *const terminal_states[] = {"JOB_STATE_COMPLETED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
                                              "JOB_STATE_EARLY_STOPPED", "JOB_STATE_PAUSED", NULL};

static void on_job(fwt__waiter *w, fwt__reply *r)
{
    job_wait *jw = (job_wait *)w;
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        if (fwt__poll_transient(r)) {
            fwt__waiter_log(w, FWT_LOG_WARN, "trainer job %s: %s; polling again", jw->job_id,
                            r->err.message && *r->err.message ? r->err.message : "transient error");
            job_wait_again(jw, "transient error while polling");
            return;
        }
        fwt__waiter_fail_reply(w, r, "polling the trainer job");
        return;
    }
    fwt_job *j = NULL;
    if (fwt__job_from_json(&j, r->json, jw->base, jw->account) != FWT_OK) {
        fwt__waiter_fail(w, FWT_EPROTO, "trainer job \"%s\": unreadable job resource", jw->job_id);
        return;
    }
    fwt_job_free(jw->job);
    jw->job = j;
    const char *st = fwt_job_state(j);
    if (fwt_job_is_tombstone(j)) {
        fwt__waiter_fail(w, FWT_ESTATE, "trainer job \"%s\" is %s (deleted); it cannot become ready", jw->job_id, st);
        return;
    }
    if (strcmp(st, "JOB_STATE_FAILED") == 0) {
        fwt__waiter_fail(w, FWT_EREMOTE, "trainer job \"%s\" failed: %s", jw->job_id,
                         *fwt_job_status_message(j) ? fwt_job_status_message(j) : "(no status message)");
        return;
    }
    for (const char *const *t = terminal_states; *t; t++) {
        if (strcmp(st, *t) == 0) {
            fwt__waiter_fail(w, FWT_ESTATE, "trainer job \"%s\" is %s; resume it first (fwt_job_resume)", jw->job_id, st);
            return;
        }
    }
    if (strcmp(st, "JOB_STATE_PENDING") == 0) {
        fwt__waiter_progress(w, FWT_PROGRESS_JOB_PENDING, "%s", st);
        job_wait_again(jw, st);
        return;
    }
    if (jw->placed_at_ms < 0)
        jw->placed_at_ms = fwt__waiter_elapsed(w);
    if (strcmp(st, "JOB_STATE_RUNNING") != 0) {
        fwt__waiter_progress(w, FWT_PROGRESS_JOB_STARTING, "%s", *st ? st : "(no state)");
        job_wait_again(jw, *st ? st : "no state");
        return;
    }
    fwt__waiter_progress(w, FWT_PROGRESS_JOB_HEALTHZ, "RUNNING; probing healthz");
    fwt__call call = {0};
    call.plane = FWT__PLANE_TRAINER;
    call.method = "GET";
    call.url = jw->healthz_url;
    call.retry = FWT__RC_NONE;
    call.header_timeout_ms = jw->healthz_timeout_ms < 0 ? HEALTHZ_NONE_MS : jw->healthz_timeout_ms;
    call.body_timeout_ms = call.header_timeout_ms;
    fwt__waiter_call(w, &call, on_healthz);
}

static void job_wait_step(fwt__waiter *w)
{
    job_wait *jw = (job_wait *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.method = "GET";
    call.url = jw->job_url;
    call.retry = FWT__RC_NONE;
    call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
    fwt__waiter_call(w, &call, on_job);
}

int fwt_job_wait_ready(fwt_future **out, fwt_client *c, const char *job_id, const fwt_job_wait_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    if (opts && opts->version != FWT_JOB_WAIT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_job_wait_options version %u", opts->version);
    if (opts && (opts->pending_timeout_ms < -1 || opts->healthz_timeout_ms < -1))
        return fwt__last_set(FWT_EINVAL, "fwt_job_wait_ready: pending_timeout_ms and healthz_timeout_ms must be "
                                         "-1 (none), 0 (default) or > 0");
    fwt__wait_policy pol;
    int rc = fwt__wait_policy_resolve(&pol, opts ? &opts->wait : NULL, DEFAULT_READY_MS, DEFAULT_POLL_MS,
                                      "fwt_job_wait_ready");
    if (rc != FWT_OK)
        return rc;
    rc = fwt__check_id("job_id", job_id);
    if (rc != FWT_OK)
        return rc;
    char *job_url = NULL, *healthz_url = NULL;
    if ((rc = fwt__account_url(&job_url, c, NULL, "rlorTrainerJobs", job_id, NULL)) != FWT_OK)
        return rc;
    if ((rc = fwt__trainer_url(&healthz_url, c, job_id, "/api/v1/healthz")) != FWT_OK) {
        fwt__free_mem(job_url);
        return rc;
    }
    const char *account = NULL;
    (void)fwt__client_account(c, &account); /* resolved above */
    job_wait *jw = fwt__calloc(1, sizeof *jw);
    if (!jw) {
        fwt__free_mem(job_url);
        fwt__free_mem(healthz_url);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    jw->job_url = job_url;
    jw->healthz_url = healthz_url;
    jw->pending_timeout_ms = opts && opts->pending_timeout_ms ? opts->pending_timeout_ms : DEFAULT_PENDING_MS;
    jw->healthz_timeout_ms = opts && opts->healthz_timeout_ms ? opts->healthz_timeout_ms : DEFAULT_HEALTHZ_MS;
    jw->placed_at_ms = -1;
    fwt__waiter_init(&jw->w, c, job_wait_step, job_wait_destroy, &pol);
    jw->job_id = fwt__strdup(job_id);
    jw->base = fwt__control_base(c);
    jw->account = fwt__strdup(account ? account : "");
    if (!jw->job_id || !jw->account || !jw->base) {
        job_wait_destroy(&jw->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &jw->w);
}

int fwt_job_wait_ready_result(fwt_job **out, fwt_client *c, const char *job_id, const fwt_job_wait_options *opts,
                              int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_job_wait_ready(&f, c, job_id, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_JOB, (void **)out);
}
