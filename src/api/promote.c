/*
 * Promote a sampler checkpoint to a model (docs/protocol.md §3.6, §6, §11.7):
 * validate everything before any request; without a base_model, GET the
 * trainer job first and take its trainingConfig.baseModel (the cookbook's
 * three-argument promote_checkpoint); POST :promote with
 * `async_promotion: true` (resent without it when an old server rejects the
 * field), then poll the returned operation with its own backoff and deadline.
 */
#include "api/jobs_internal.h"
#include "api/progress_waiter.h"

#include <stdio.h>
#include <string.h>

#include "json/json.h"

typedef struct promote_op {
    fwt__waiter w;
    fwt_promote_options o;
    char *checkpoint;   /* 4-segment name, for messages */
    char *job;          /* the trainer job id, for messages */
    char *job_url;      /* set while base_model is still to be read from the job */
    char *post_url;
    cJSON *body;
    int async_sent;
    char *op_name;
    char *op_url;
    fwt__backoff error_backoff; /* after transient poll errors: poll interval doubling to ERROR_CAP_FACTOR x */
} promote_op;

/* Defaults of the operation wait (docs/protocol.md §3.6). */
#define DEFAULT_TIMEOUT_MS 7200000
#define DEFAULT_POLL_MS 10000
/* Transient poll errors back off from the poll interval up to this many intervals (60 s by default, §3.6). */
#define ERROR_CAP_FACTOR 6

int fwt_promote_options_init(fwt_promote_options *o, unsigned int version)
{
    if (!o || version != FWT_PROMOTE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_promote_options version %u", version);
    memset(o, 0, sizeof *o);
    o->version = version;
    (void)fwt_wait_options_init(&o->wait, FWT_WAIT_OPTIONS_VERSION);
    o->wait.timeout_ms = DEFAULT_TIMEOUT_MS;
    o->wait.poll_interval_ms = DEFAULT_POLL_MS;
    fwt__last_ok();
    return FWT_OK;
}

int fwt_promote_validate_output_model_id(const char *id)
{
    if (!id || !*id)
        return fwt__last_set(FWT_EINVAL, "output_model_id is required");
    size_t n = strlen(id);
    if (n > 63)
        return fwt__last_set(FWT_EINVAL, "output_model_id \"%.80s\" is %zu characters; the limit is 63", id, n);
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return fwt__last_set(FWT_EINVAL,
                                 "output_model_id \"%.80s\" has '%c' at position %zu; only lowercase letters, digits and "
                                 "'-' are allowed (^[a-z0-9-]{1,63}$)",
                                 id, (ch >= 32 && ch < 127) ? ch : '?', i);
    }
    return FWT_OK;
}

/* Split "accounts/<a>/rlorTrainerJobs/<job>/checkpoints/<ckpt>" (each segment non-empty, no extra '/'). */
static int split_checkpoint_name(const char *name, char **acc, char **job, char **ckpt)
{
    *acc = *job = *ckpt = NULL;
    const char *segs[6];
    size_t lens[6];
    const char *p = name;
    for (int i = 0; i < 6; i++) {
        const char *e = strchr(p, '/');
        if ((i < 5) != (e != NULL))
            return 0;
        segs[i] = p;
        lens[i] = e ? (size_t)(e - p) : strlen(p);
        if (lens[i] == 0)
            return 0;
        p = e ? e + 1 : p + lens[i];
    }
    if (lens[0] != 8 || strncmp(segs[0], "accounts", 8) != 0 || lens[2] != 15 ||
        strncmp(segs[2], "rlorTrainerJobs", 15) != 0 || lens[4] != 11 || strncmp(segs[4], "checkpoints", 11) != 0)
        return 0;
    *acc = fwt__strndup(segs[1], lens[1]);
    *job = fwt__strndup(segs[3], lens[3]);
    *ckpt = fwt__strndup(segs[5], lens[5]);
    return 1;
}

static void promote_destroy(fwt__waiter *w)
{
    promote_op *p = (promote_op *)w;
    fwt__free_mem(p->checkpoint);
    fwt__free_mem(p->job);
    fwt__free_mem(p->job_url);
    fwt__free_mem(p->post_url);
    cJSON_Delete(p->body);
    fwt__free_mem(p->op_name);
    fwt__free_mem(p->op_url);
    fwt__free_mem(p);
}

static void finish_model(promote_op *p, const cJSON *model_json)
{
    fwt_model *m = NULL;
    int rc = fwt__model_from_json(&m, model_json);
    if (rc != FWT_OK) {
        fwt__waiter_fail(&p->w, rc, "promotion of %s returned no usable model", p->checkpoint);
        return;
    }
    fwt__waiter_progress(&p->w, FWT_PROGRESS_PROMOTE_DONE, "%s (%s)", fwt_model_name(m), fwt_model_state(m));
    fwt__waiter_finish(&p->w, FWT_OK, NULL, FWT__VALUE_MODEL, m, (void (*)(void *))fwt_model_free);
}

static const char *status_text(const cJSON *op)
{
    const cJSON *md = NULL, *val = NULL;
    const char *s = NULL;
    if (fwt__json_get_object(op, "metadata", &md) != FWT_OK)
        return "";
    if (fwt__json_get_string2(md, "status_message", "statusMessage", &s) == FWT_OK)
        return s;
    if (fwt__json_get_object(md, "value", &val) == FWT_OK &&
        fwt__json_get_string2(val, "status_message", "statusMessage", &s) == FWT_OK)
        return s;
    return "";
}

/* One operation object (§3.6 response B, §11.7). */
static void handle_operation(promote_op *p, const cJSON *op)
{
    const char *name = NULL;
    if (fwt__json_get_string(op, "name", &name) != FWT_OK || !*name) {
        fwt__waiter_fail(&p->w, FWT_EPROTO, "promotion of %s: the server returned an operation without a name",
                         p->checkpoint);
        return;
    }
    int done = 0;
    if (fwt__json_get_bool(op, "done", &done) == FWT_EPROTO) {
        fwt__waiter_fail(&p->w, FWT_EPROTO, "promotion operation %.200s: \"done\" is not a boolean", name);
        return;
    }
    if (done) {
        const cJSON *err = NULL, *resp = NULL, *res = NULL, *model = NULL;
        if (fwt__json_get_object(op, "error", &err) == FWT_OK) {
            const char *msg = NULL;
            (void)fwt__json_get_string(err, "message", &msg);
            /* The operation's canonical code decides the status (ALREADY_EXISTS → FWT_ECONFLICT, ...). */
            fwt__waiter_fail(&p->w, fwt__status_from_json(err, FWT_EREMOTE), "promotion of %s failed: %s", p->checkpoint,
                             msg && *msg ? msg : "(no message)");
            return;
        }
        if (fwt__json_get_object(op, "response", &resp) == FWT_OK) {
            finish_model(p, resp); /* "@type" is simply not read */
            return;
        }
        if (fwt__json_get_object(op, "result", &res) == FWT_OK && fwt__json_get_object(res, "model", &model) == FWT_OK) {
            finish_model(p, model);
            return;
        }
        fwt__waiter_fail(&p->w, FWT_EPROTO, "promotion operation %.200s is done but carries no model", name);
        return;
    }
    if (!p->op_name || strcmp(p->op_name, name) != 0) {
        if (!fwt__path_is_safe(name)) {
            fwt__waiter_fail(&p->w, FWT_EPROTO, "promotion operation name \"%.200s\" is not a resource path", name);
            return;
        }
        char *base = fwt__control_base(p->w.client);
        char *u = base ? fwt__asprintf("%s/v1/%s", base, name) : NULL;
        fwt__free_mem(base);
        char *n = fwt__strdup(name);
        if (!u || !n) {
            fwt__free_mem(u);
            fwt__free_mem(n);
            fwt__waiter_fail(&p->w, FWT_ENOMEM, "out of memory");
            return;
        }
        fwt__free_mem(p->op_url);
        fwt__free_mem(p->op_name);
        p->op_url = u;
        p->op_name = n;
    }
    fwt__waiter_progress(&p->w, FWT_PROGRESS_PROMOTE_RUNNING, "%s", status_text(op));
    if (fwt__waiter_again(&p->w))
        fwt__waiter_fail(&p->w, FWT_ETIMEDOUT, "promotion operation %s not done after %lld ms (%s)", p->op_name,
                         (long long)fwt__waiter_elapsed(&p->w), status_text(op));
}

static void on_poll(fwt__waiter *w, fwt__reply *r)
{
    promote_op *p = (promote_op *)w;
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        if (!fwt__poll_transient(r)) {
            fwt__waiter_fail_reply(w, r, "polling the promotion operation");
            return;
        }
        fwt__waiter_log(w, FWT_LOG_WARN, "promotion operation %s: %s; retrying", p->op_name ? p->op_name : "",
                        r->err.message && *r->err.message ? r->err.message : "transient error");
        /* the interval doubling up to its cap (§3.6), with the one backoff */
        int64_t delay = fwt__backoff_next(&p->error_backoff, fwt__engine_random(w->engine));
        int64_t el = fwt__waiter_elapsed(w);
        if (w->pol.timeout_ms >= 0 && el + delay > w->pol.timeout_ms) {
            fwt__waiter_fail_reply(w, r, "promotion operation deadline reached while the server kept failing");
            return;
        }
        fwt__waiter_schedule(w, delay);
        return;
    }
    fwt__backoff_reset(&p->error_backoff);
    const cJSON *op = r->json, *inner = NULL;
    if (fwt__json_get_object(op, "operation", &inner) == FWT_OK)
        op = inner;
    if (!cJSON_IsObject(op)) {
        fwt__waiter_fail(w, FWT_EPROTO, "promotion operation poll: the answer is not a JSON object");
        return;
    }
    handle_operation(p, op);
}

static void promote_step(fwt__waiter *w);

static void on_post(fwt__waiter *w, fwt__reply *r)
{
    promote_op *p = (promote_op *)w;
    if (r->err.pub.code == FWT_OK && r->http_status >= 200 && r->http_status <= 299) {
        const cJSON *model = NULL, *op = NULL;
        fwt__waiter_progress(w, FWT_PROGRESS_PROMOTE_SUBMITTED, "%s", p->checkpoint);
        if (fwt__json_get_object(r->json, "model", &model) == FWT_OK) {
            finish_model(p, model);
            return;
        }
        if (fwt__json_get_object(r->json, "operation", &op) == FWT_OK) {
            handle_operation(p, op);
            return;
        }
        fwt__waiter_fail(w, FWT_EPROTO, "promotion of %s: the answer holds neither a model nor an operation",
                         p->checkpoint);
        return;
    }
    const char *msg = r->err.message ? r->err.message : "";
    if (r->http_status == 400 && p->async_sent &&
        (fwt__contains_ci(msg, "async_promotion") || fwt__contains_ci(msg, "asyncpromotion"))) {
        /* Old server: resend the same body without the field (§3.6). */
        fwt__waiter_log(w, FWT_LOG_INFO, "server rejected async_promotion; promoting synchronously");
        cJSON_DeleteItemFromObjectCaseSensitive(p->body, "async_promotion");
        p->async_sent = 0;
        fwt__client_compat_set(w->client, FWT__COMPAT_NO_ASYNC_PROMOTION);
        promote_step(w);
        return;
    }
    if (r->http_status >= 400 && r->http_status < 500 && fwt__contains_ci(msg, "delta")) {
        fwt__waiter_fail(w, r->err.pub.code ? r->err.pub.code : FWT_EHTTP,
                         "cannot promote %s: delta checkpoints are not promotable; promote a base snapshot "
                         "(server said: %s)",
                         p->checkpoint, msg);
        return;
    }
    if (r->http_status >= 400 && r->http_status < 500) {
        char ctx[600];
        snprintf(ctx, sizeof ctx,
                 "promotion of %s refused (use a name from fwt_job_list_checkpoints, make sure the row is promotable "
                 "and base_model matches)",
                 p->checkpoint);
        fwt__waiter_fail_reply(w, r, ctx);
        return;
    }
    fwt__waiter_fail_reply(w, r, r->http_status >= 500 ? "promotion failed on the server; retry the promotion"
                                                       : "promotion request failed");
}

/* The job's answer: its trainingConfig.baseModel goes into the body, then the POST. */
static void on_job(fwt__waiter *w, fwt__reply *r)
{
    promote_op *p = (promote_op *)w;
    if (r->err.pub.code != FWT_OK || r->http_status < 200 || r->http_status > 299) {
        char ctx[600];
        snprintf(ctx, sizeof ctx,
                 "promotion of %s: no base_model was given, and reading it from trainer job %s failed (pass "
                 "base_model to skip this)",
                 p->checkpoint, p->job);
        fwt__waiter_fail_reply(w, r, ctx);
        return;
    }
    const cJSON *tc = NULL;
    const char *bm = NULL;
    if (fwt__json_get_object(r->json, "trainingConfig", &tc) == FWT_OK)
        (void)fwt__json_get_string2(tc, "baseModel", "base_model", &bm);
    if (!bm || !*bm) {
        fwt__waiter_fail(w, FWT_EINVAL,
                         "promotion of %s: no base_model was given and trainer job %s records no "
                         "trainingConfig.baseModel; pass the base model the checkpoint was trained from",
                         p->checkpoint, p->job);
        return;
    }
    if (fwt__json_add_string(p->body, "base_model", bm) != FWT_OK) {
        fwt__waiter_fail(w, FWT_ENOMEM, "out of memory");
        return;
    }
    fwt__waiter_log(w, FWT_LOG_DEBUG, "promotion of %s: base model %s (trainer job %s)", p->checkpoint, bm, p->job);
    fwt__free_mem(p->job_url);
    p->job_url = NULL;
    promote_step(w);
}

static void promote_step(fwt__waiter *w)
{
    promote_op *p = (promote_op *)w;
    fwt__call call = {0};
    call.plane = FWT__PLANE_CONTROL;
    call.retry = p->op_url ? FWT__RC_NONE : FWT__RC_CONTROL;
    if (p->job_url) {
        call.method = "GET";
        call.url = p->job_url;
        call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
        fwt__waiter_call(w, &call, on_job);
    } else if (p->op_url) {
        call.method = "GET";
        call.url = p->op_url;
        call.header_timeout_ms = FWT__CP_GET_TIMEOUT_MS;
        fwt__waiter_call(w, &call, on_poll);
    } else {
        call.method = "POST";
        call.url = p->post_url;
        call.body = p->body;
        call.header_timeout_ms = FWT__CP_SLOW_TIMEOUT_MS;
        fwt__waiter_call(w, &call, on_post);
    }
}

static int start(fwt_future **out, fwt_client *c, const char *acc, const char *job, const char *ckpt,
                 const char *output_model_id, const char *base_model, const fwt_promote_options *opts)
{
    fwt__wait_policy pol;
    int rc = fwt__wait_policy_resolve(&pol, opts ? &opts->wait : NULL, DEFAULT_TIMEOUT_MS, DEFAULT_POLL_MS,
                                      "fwt_promote_checkpoint");
    if (rc != FWT_OK)
        return rc;
    promote_op *p = fwt__calloc(1, sizeof *p);
    if (!p)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt_promote_options_init(&p->o, FWT_PROMOTE_OPTIONS_VERSION);
    if (opts)
        p->o = *opts;
    p->o.hot_load_deployment_id = NULL; /* a borrowed string: read from opts during this call only */
    fwt__waiter_init(&p->w, c, promote_step, promote_destroy, &pol);
    fwt__backoff_init(&p->error_backoff, pol.interval_ms, pol.interval_ms * ERROR_CAP_FACTOR, 50);
    p->checkpoint = fwt__asprintf("accounts/%s/rlorTrainerJobs/%s/checkpoints/%s", acc, job, ckpt);
    p->job = fwt__strdup(job);
    if (fwt__account_url(&p->post_url, c, acc, "checkpoints", ckpt, ":promote") != FWT_OK ||
        (!base_model && fwt__account_url(&p->job_url, c, acc, "rlorTrainerJobs", job, "") != FWT_OK)) {
        int code = fwt_error_last()->code;
        promote_destroy(&p->w);
        return code;
    }
    char *output_model = fwt__asprintf("accounts/%s/models/%s", acc, output_model_id);
    char *trainer = fwt__asprintf("accounts/%s/rlorTrainerJobs/%s", acc, job);
    char *hl = NULL;
    if (opts && opts->hot_load_deployment_id && *opts->hot_load_deployment_id)
        hl = strchr(opts->hot_load_deployment_id, '/') ? fwt__strdup(opts->hot_load_deployment_id)
                                                         : fwt__asprintf("accounts/%s/deployments/%s", acc,
                                                                         opts->hot_load_deployment_id);
    p->body = cJSON_CreateObject();
    int ok = p->checkpoint && p->job && p->post_url && output_model && trainer && p->body &&
             (hl || !(opts && opts->hot_load_deployment_id && *opts->hot_load_deployment_id));
    if (ok) {
        ok &= fwt__json_add_string(p->body, "output_model", output_model) == FWT_OK;
        ok &= fwt__json_add_string(p->body, "trainer_job_id", trainer) == FWT_OK;
        if (base_model) /* else read from the job first (on_job) */
            ok &= fwt__json_add_string(p->body, "base_model", base_model) == FWT_OK;
        if (hl)
            ok &= fwt__json_add_string(p->body, "hot_load_deployment_id", hl) == FWT_OK;
        if (!p->o.disable_async && !(fwt__client_compat(c) & FWT__COMPAT_NO_ASYNC_PROMOTION)) {
            ok &= fwt__json_add_bool(p->body, "async_promotion", 1) == FWT_OK;
            p->async_sent = 1;
        }
    }
    fwt__free_mem(output_model);
    fwt__free_mem(trainer);
    fwt__free_mem(hl);
    if (!ok) {
        promote_destroy(&p->w);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    return fwt__waiter_start(out, &p->w);
}

static int check_common(fwt_future **out, fwt_client *c, const char *output_model_id, const char *base_model,
                        const fwt_promote_options *opts)
{
    if (!out || !c)
        return fwt__last_set(FWT_EINVAL, "out and client are required");
    *out = NULL;
    if (opts && opts->version != FWT_PROMOTE_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "unknown fwt_promote_options version %u", opts->version);
    int rc = fwt_promote_validate_output_model_id(output_model_id);
    if (rc != FWT_OK)
        return rc;
    if (base_model && !*base_model)
        return fwt__last_set(FWT_EINVAL, "base_model is empty: pass NULL to read it from the trainer job, or the base "
                                         "model (e.g. \"accounts/fireworks/models/...\")");
    if (opts && opts->hot_load_deployment_id && *opts->hot_load_deployment_id && !strchr(opts->hot_load_deployment_id, '/') &&
        fwt__check_id("hot_load_deployment_id", opts->hot_load_deployment_id) != FWT_OK)
        return FWT_EINVAL;
    return FWT_OK;
}

int fwt_promote_checkpoint(fwt_future **out, fwt_client *c, const char *checkpoint_name, const char *output_model_id,
                           const char *base_model, const fwt_promote_options *opts)
{
    int rc = check_common(out, c, output_model_id, base_model, opts);
    if (rc != FWT_OK)
        return rc;
    if (!checkpoint_name)
        return fwt__last_set(FWT_EINVAL, "checkpoint_name is required");
    char *acc = NULL, *job = NULL, *ckpt = NULL;
    if (!split_checkpoint_name(checkpoint_name, &acc, &job, &ckpt)) {
        return fwt__last_set(FWT_EINVAL,
                             "checkpoint_name \"%.200s\" is not \"accounts/<a>/rlorTrainerJobs/<job>/checkpoints/<ckpt>\"; "
                             "use fwt_checkpoint_row_name or fwt_promote_checkpoint_by_id",
                             checkpoint_name);
    }
    if (!acc || !job || !ckpt)
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    else if (fwt__check_resource_id("checkpoint account", acc) != FWT_OK ||
             fwt__check_id("checkpoint job id", job) != FWT_OK ||
             fwt__check_resource_id("checkpoint id", ckpt) != FWT_OK)
        rc = FWT_EINVAL;
    else
        rc = start(out, c, acc, job, ckpt, output_model_id, base_model, opts);
    fwt__free_mem(acc);
    fwt__free_mem(job);
    fwt__free_mem(ckpt);
    return rc;
}

int fwt_promote_checkpoint_by_id(fwt_future **out, fwt_client *c, const char *job_id, const char *checkpoint_id,
                                 const char *output_model_id, const char *base_model, const fwt_promote_options *opts)
{
    int rc = check_common(out, c, output_model_id, base_model, opts);
    if (rc != FWT_OK)
        return rc;
    if ((rc = fwt__check_id("job_id", job_id)) != FWT_OK ||
        (rc = fwt__check_resource_id("checkpoint_id", checkpoint_id)) != FWT_OK)
        return rc;
    const char *account = NULL;
    if ((rc = fwt__client_account(c, &account)) != FWT_OK)
        return rc;
    return start(out, c, account, job_id, checkpoint_id, output_model_id, base_model, opts);
}

int fwt_promote_checkpoint_result(fwt_model **out, fwt_client *c, const char *checkpoint_name,
                                  const char *output_model_id, const char *base_model, const fwt_promote_options *opts,
                                  int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_promote_checkpoint(&f, c, checkpoint_name, output_model_id, base_model, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_MODEL, (void **)out);
}

int fwt_promote_checkpoint_by_id_result(fwt_model **out, fwt_client *c, const char *job_id, const char *checkpoint_id,
                                        const char *output_model_id, const char *base_model,
                                        const fwt_promote_options *opts, int64_t timeout_ms)
{
    fwt_future *f = NULL;
    int rc = fwt_promote_checkpoint_by_id(&f, c, job_id, checkpoint_id, output_model_id, base_model, opts);
    return fwt__future_result(rc, f, timeout_ms, FWT__VALUE_MODEL, (void **)out);
}
