/*
 * Wait until a trainer job is ready (docs/protocol.md §3.2): poll the job; PENDING is
 * bounded by pending_timeout, any other state starts the post-placement
 * budget; FAILED fails with the job's status message; RUNNING → probe the
 * trainer's healthz until 200: the gateway first, then, when it does not
 * answer 200, the job's directRouteHandle (the official waiter's fallback
 * for a gateway that cannot reach the trainer). The job comes back with the
 * base URL that answered.
 */
#include "api/jobs_internal.h"
#include "api/progress_waiter.h"

#include <stdio.h>
#include <string.h>

typedef struct job_wait {
    fwt__waiter w;
    int64_t pending_timeout_ms, healthz_timeout_ms; /* resolved: -1 = none */
    char *job_id, *job_url, *base, *account, *healthz_url;
    char *direct_base;      /* the job's directRouteHandle checked, trailing '/' stripped; NULL = none */
    char *direct_healthz;   /* "{direct_base}/api/v1/healthz" */
    int direct_warned;      /* an unusable directRouteHandle was logged once */
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
    fwt__free_mem(jw->direct_base);
    fwt__free_mem(jw->direct_healthz);
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

static void healthz_call(job_wait *jw, const char *url, fwt__waiter_reply_fn fn)
{
    fwt__call call = {0};
    call.plane = FWT__PLANE_TRAINER;
    call.method = "GET";
    call.url = url;
    call.retry = FWT__RC_NONE;
    call.header_timeout_ms = jw->healthz_timeout_ms < 0 ? HEALTHZ_NONE_MS : jw->healthz_timeout_ms;
    call.body_timeout_ms = call.header_timeout_ms;
    fwt__waiter_call(&jw->w, &call, fn);
}

static void finish_ready(job_wait *jw, int route)
{
    fwt_job *j = jw->job;
    jw->job = NULL;
    j->ready_route = route;
    if (route == FWT_JOB_ROUTE_DIRECT) {
        /* The training client opens where readiness was proven (fwt_job_open_training). */
        fwt__free_mem(j->trainer_url);
        j->trainer_url = jw->direct_base;
        jw->direct_base = NULL;
    }
    fwt__waiter_progress(&jw->w, FWT_PROGRESS_JOB_READY, "trainer job %s is ready (%s answered healthz)", jw->job_id,
                         route == FWT_JOB_ROUTE_DIRECT ? "the direct route" : "the gateway");
    fwt__waiter_finish(&jw->w, FWT_OK, NULL, FWT__VALUE_JOB, j, (void (*)(void *))fwt_job_free);
}

static void on_direct_healthz(fwt__waiter *w, fwt__reply *r)
{
    job_wait *jw = (job_wait *)w;
    if (r->http_status == 200) {
        finish_ready(jw, FWT_JOB_ROUTE_DIRECT);
        return;
    }
    fwt__waiter_progress(w, FWT_PROGRESS_JOB_HEALTHZ, "RUNNING; gateway and direct route healthz answered %ld",
                         r->http_status);
    job_wait_again(jw, r->http_status ? "healthz: not 200 on the gateway nor on the direct route"
                                      : "healthz: not 200 on the gateway, no response on the direct route");
}

/* The job's directRouteHandle as a base URL (docs/protocol.md §3.2), kept in jw; 0 when it has none usable.
 * Rebuilt every round: the handle may change when the trainer pod moves. */
static int direct_route_of(job_wait *jw)
{
    fwt__free_mem(jw->direct_base);
    fwt__free_mem(jw->direct_healthz);
    jw->direct_base = jw->direct_healthz = NULL;
    const char *h = fwt_job_direct_route_handle(jw->job);
    if (!*h)
        return 0;
    /* The same rules as any base URL: the API key never goes to plain http off loopback unless allowed. */
    char *base = NULL;
    if (fwt__check_base_url("directRouteHandle", h, fwt__client_options(jw->w.client)->allow_insecure_http, &base) !=
        FWT_OK) {
        if (!jw->direct_warned)
            fwt__waiter_log(&jw->w, FWT_LOG_WARN, "trainer job %s: directRouteHandle not used: %s", jw->job_id,
                            fwt_error_last()->message);
        jw->direct_warned = 1;
        return 0;
    }
    jw->direct_healthz = fwt__asprintf("%s/api/v1/healthz", base);
    if (!jw->direct_healthz) {
        fwt__free_mem(base);
        return 0;
    }
    jw->direct_base = base;
    return 1;
}

static void on_healthz(fwt__waiter *w, fwt__reply *r)
{
    job_wait *jw = (job_wait *)w;
    if (r->http_status == 200) {
        finish_ready(jw, FWT_JOB_ROUTE_GATEWAY);
        return;
    }
    if (direct_route_of(jw)) {
        fwt__waiter_progress(w, FWT_PROGRESS_JOB_HEALTHZ, "RUNNING; gateway healthz answered %ld; probing the direct route",
                             r->http_status);
        healthz_call(jw, jw->direct_healthz, on_direct_healthz);
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
    if (fwt__job_from_json(&j, r->json, jw->base, jw->account, jw->job_id) != FWT_OK) {
        fwt__waiter_fail(w, fwt_error_last()->code == FWT_ENOMEM ? FWT_ENOMEM : FWT_EPROTO,
                         "trainer job \"%s\": unreadable job resource (%s)", jw->job_id, fwt_error_last()->message);
        return;
    }
    fwt_job_free(jw->job);
    jw->job = j;
    const char *st = fwt_job_state(j);
    if (fwt_job_is_tombstone(j)) {
        const char *why = fwt_job_status_message(j);
        fwt__waiter_fail(w, FWT_ESTATE, "trainer job \"%s\" is %s (deleted%s%.300s); it cannot become ready", jw->job_id,
                         st, *why ? ": " : "", why);
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
    healthz_call(jw, jw->healthz_url, on_healthz);
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
