/* fwt_training: session bootstrap (docs/protocol.md §4.1), lifetime, accessors. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/jobs_internal.h"
#include "api/training_impl.h"

int fwt_training_options_init(fwt_training_options *opts, unsigned int version)
{
    if (!opts)
        return fwt__last_set(FWT_EINVAL, "fwt_training_options_init: opts is NULL");
    if (version != FWT_TRAINING_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_training_options_init: unknown version %u", version);
    memset(opts, 0, sizeof *opts);
    opts->version = version;
    opts->poll_header_timeout_ms = 45000; /* docs/protocol.md §4.2 */
    opts->poll_body_timeout_ms = 45000;
    return FWT_OK;
}

void fwt__training_ref(fwt_training *t)
{
    pthread_mutex_lock(&t->mu);
    t->refs++;
    pthread_mutex_unlock(&t->mu);
}

static void training_destroy(fwt_training *t)
{
    fwt__free_mem(t->url);
    fwt__free_mem(t->session_id);
    fwt__free_mem(t->model_id);
    fwt__free_mem(t->base_model);
    fwt__free_mem(t->broken);
    fwt__free_mem(t->last_snapshot);
    pthread_mutex_destroy(&t->mu);
    fwt__free_mem(t);
}

void fwt__training_unref(fwt_training *t)
{
    pthread_mutex_lock(&t->mu);
    int last = --t->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (last)
        training_destroy(t);
}

char *fwt__training_route(const fwt_training *t, const char *route)
{
    return fwt__asprintf("%s/api/v1/%s", t->url, route);
}

int fwt__training_usable(fwt_training *t, const char *fn)
{
    if (!t)
        return fwt__last_set(FWT_EINVAL, "%s: training is NULL", fn);
    pthread_mutex_lock(&t->mu);
    int gone = t->client == NULL;
    pthread_mutex_unlock(&t->mu);
    if (gone)
        return fwt__last_set(FWT_ESTATE, "%s: the client of this training session was freed", fn);
    return FWT_OK;
}

/* fwt_client_free ran: the worker is gone, every op and the heartbeat already finished. */
static void on_client_gone(void *ud)
{
    fwt_training *t = ud;
    pthread_mutex_lock(&t->mu);
    t->client = NULL;
    t->eng = NULL;
    t->attach = NULL;
    pthread_mutex_unlock(&t->mu);
}

static int is_hex8(const char *s)
{
    if (strlen(s) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int validate(const fwt_training_options *o)
{
    if (o->version != FWT_TRAINING_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_training_new: unknown options version %u", o->version);
    if (!o->job_id && !o->trainer_url)
        return fwt__last_set(FWT_EINVAL, "fwt_training_new: options must name a job_id or a trainer_url");
    if (!o->trainer_url) {
        int rc = fwt__check_id("job_id", o->job_id); /* §6 ids, the validator the jobs module uses */
        if (rc)
            return rc;
    }
    if (o->lora_rank < 0)
        return fwt__last_set(FWT_EINVAL, "lora_rank must not be negative (got %d)", (int)o->lora_rank);
    if (o->op_timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "op_timeout_ms must be -1 (none), 0 (default: none) or > 0");
    if (o->unload_timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "unload_timeout_ms must be -1 (none), 0 (default) or > 0");
    if (o->poll_header_timeout_ms < -1 || o->poll_body_timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "poll_header_timeout_ms and poll_body_timeout_ms must be -1 (none), "
                                         "0 (default) or > 0");
    if (o->session_suffix && !is_hex8(o->session_suffix))
        return fwt__last_set(FWT_EINVAL, "session_suffix must be exactly 8 lowercase hex characters");
    if (o->base_model && (!*o->base_model || strlen(o->base_model) > 512))
        return fwt__last_set(FWT_EINVAL, "base_model must be non-empty and at most 512 characters");
    return FWT_OK;
}

/* docs/protocol.md §4.1: POST /api/v1/create_session, retried like any submit. */
static int create_session(fwt_training *t)
{
    cJSON *body = cJSON_CreateObject();
    int rc = body ? FWT_OK : FWT_ENOMEM;
    char sdk[64];
    snprintf(sdk, sizeof sdk, "libfwtrain-%s", fwt_version_string());
    if (!rc && (!cJSON_AddArrayToObject(body, "tags") || !cJSON_AddObjectToObject(body, "user_metadata")))
        rc = FWT_ENOMEM;
    if (!rc) rc = fwt__json_add_string(body, "sdk_version", sdk);
    if (!rc) rc = fwt__json_add_string(body, "type", "create_session");
    char *url = rc ? NULL : fwt__training_route(t, "create_session");
    if (!rc && !url)
        rc = FWT_ENOMEM;
    if (rc) {
        cJSON_Delete(body);
        fwt__free_mem(url);
        return fwt__last_set(rc, "create_session: %s", fwt_strerror(rc));
    }
    char key[37];
    fwt__uuid4(key);
    fwt__call call = {.plane = FWT__PLANE_TRAINER, .method = "POST", .url = url, .body = body,
                      .retry = FWT__RC_SUBMIT, .idempotency_key = key};
    fwt__reply r;
    /* docs/protocol.md §2.3: 402 is a billing pause: try again every 5 s for up to an hour (same idempotency key), on the
     * engine clock, cut short when the client shuts down. */
    fwt__backoff billing;
    fwt__backoff_init(&billing, FWT__BILLING_PAUSE_MS, FWT__BILLING_PAUSE_MS, 0);
    uint64_t pause_start = fwt__engine_now_ms(t->eng);
    for (;;) {
        rc = fwt__call_sync(t->client, &call, &r);
        if (rc == FWT_OK || r.transport_failed || r.http_status != 402 ||
            fwt__engine_now_ms(t->eng) - pause_start >= (uint64_t)FWT__BILLING_MAX_MS)
            break;
        int64_t delay = fwt__backoff_next(&billing, fwt__engine_random(t->eng));
        fwt__log(fwt__client_logger(t->client), FWT_LOG_WARN,
                 "create_session: billing pause (HTTP 402); retrying in %lld ms", (long long)delay);
        int prc = fwt__future_pause(t->eng, (uint64_t)delay);
        if (prc != FWT_OK)
            break; /* the client is shutting down: report the 402 */
        fwt__reply_clear(&r);
    }
    cJSON_Delete(body);
    fwt__free_mem(url);
    if (rc) {
        fwt__reply_clear(&r);
        return rc;
    }
    const char *sid = NULL, *msg = NULL;
    if (fwt__json_get_string(r.json, "session_id", &sid) || !*sid) {
        fwt__reply_clear(&r);
        return fwt__last_set(FWT_EPROTO, "create_session: the reply has no session_id string");
    }
    const fwt__logger *lg = fwt__client_logger(t->client);
    if (!fwt__json_get_string(r.json, "warning_message", &msg) && *msg)
        fwt__log(lg, FWT_LOG_WARN, "create_session: %s", msg);
    if (!fwt__json_get_string(r.json, "error_message", &msg) && *msg)
        fwt__log(lg, FWT_LOG_ERROR, "create_session: %s", msg);
    if (!fwt__json_get_string(r.json, "info_message", &msg) && *msg)
        fwt__log(lg, FWT_LOG_INFO, "create_session: %s", msg);
    t->session_id = fwt__strdup(sid);
    fwt__reply_clear(&r);
    return t->session_id ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
}

/* A retrieve_future poll deadline (docs/protocol.md §4.2): 0 = 45 s, -1 = no bound (2^40 ms, as the client's). */
static int64_t poll_deadline(int64_t v)
{
    return v == 0 ? 45000 : v < 0 ? ((int64_t)1 << 40) : v;
}

int fwt_training_new(fwt_training **out, fwt_client *client, const fwt_training_options *opts)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_training_new: out is NULL");
    *out = NULL;
    if (!client)
        return fwt__last_set(FWT_EINVAL, "fwt_training_new: client is NULL");
    if (!opts)
        return fwt__last_set(FWT_EINVAL, "fwt_training_new: opts is NULL (it must name a job_id or a trainer_url)");
    int rc = validate(opts);
    if (rc)
        return rc;
    fwt_training *t = fwt__calloc(1, sizeof *t);
    if (!t)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    pthread_mutex_init(&t->mu, NULL);
    t->refs = 1;
    t->client = client;
    t->eng = fwt__client_engine(client);
    t->lora_rank = opts->lora_rank;
    t->op_timeout_ms = opts->op_timeout_ms > 0 ? opts->op_timeout_ms : 0; /* 0 here = no deadline */
    t->keep_model_on_free = opts->keep_model_on_free != 0;
    t->unload_timeout_ms = opts->unload_timeout_ms;
    t->poll_header_ms = poll_deadline(opts->poll_header_timeout_ms);
    t->poll_body_ms = poll_deadline(opts->poll_body_timeout_ms);
    if (opts->base_model && !(t->base_model = fwt__strdup(opts->base_model)))
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    if (!rc) {
        if (opts->session_suffix)
            memcpy(t->suffix, opts->session_suffix, 9);
        else if (fwt__random_hex(t->suffix, 4))
            rc = fwt__last_set(FWT_EIO, "could not generate a session suffix");
    }
    if (!rc && opts->trainer_url) {
        rc = fwt__check_base_url("trainer_url", opts->trainer_url, fwt__client_options(client)->allow_insecure_http,
                                 &t->url);
    } else if (!rc) {
        const char *acct = NULL;
        rc = fwt__client_account(client, &acct);
        if (!rc) {
            /* docs/protocol.md §1: {control}/training/v1/rlorTrainerJobs/{account}/{job} */
            t->url = fwt__url_join(fwt_client_base_url(client), "/training/v1/rlorTrainerJobs/%s/%s", acct,
                                   opts->job_id);
            if (!t->url)
                rc = fwt__last_set(FWT_ENOMEM, "out of memory");
        }
    }
    if (!rc)
        rc = create_session(t);
    if (!rc && fwt__client_attach(client, on_client_gone, t, &t->attach))
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    if (!rc && (rc = fwt__heartbeat_start(t)) != FWT_OK)
        fwt__client_detach(client, t->attach);
    if (rc) {
        training_destroy(t);
        return rc;
    }
    fwt__log(fwt__client_logger(client), FWT_LOG_INFO, "training session %s on %s", t->session_id, t->url);
    fwt__last_ok();
    *out = t;
    return FWT_OK;
}

void fwt_training_free(fwt_training *t)
{
    if (!t)
        return;
    fwt__training_unload_on_free(t); /* before closing: it is an op of this training */
    pthread_mutex_lock(&t->mu);
    t->closed = 1;
    fwt_client *c = t->client;
    void *attach = t->attach;
    t->attach = NULL;
    pthread_mutex_unlock(&t->mu);
    if (c) {
        fwt__client_detach(c, attach);
        fwt__heartbeat_stop(t);
        fwt__top_cancel_all(t);
    }
    fwt__training_unref(t);
}

const char *fwt_training_session_id(const fwt_training *t) { return t ? t->session_id : NULL; }
const char *fwt_training_session_suffix(const fwt_training *t) { return t ? t->suffix : NULL; }
const char *fwt_training_url(const fwt_training *t) { return t ? t->url : NULL; }
const char *fwt_training_base_model(const fwt_training *t) { return t ? t->base_model : NULL; } /* set once at creation */

fwt_client *fwt_training_client(fwt_training *t)
{
    if (!t)
        return NULL;
    pthread_mutex_lock(&t->mu);
    fwt_client *c = t->client; /* cleared under the lock when the client is freed */
    pthread_mutex_unlock(&t->mu);
    return c;
}

const char *fwt_training_model_id(const fwt_training *t)
{
    if (!t)
        return NULL;
    fwt_training *m = (fwt_training *)t;
    pthread_mutex_lock(&m->mu);
    const char *id = m->model_id; /* set once, never changed afterwards */
    pthread_mutex_unlock(&m->mu);
    return id;
}

/* docs/protocol.md §4.8: DCP names from the live trainer; errors are returned, not swallowed. */
int fwt_training_list_checkpoints(fwt_string_list **out, fwt_training *t)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_training_list_checkpoints: out is NULL");
    *out = NULL;
    int rc = fwt__training_usable(t, "fwt_training_list_checkpoints");
    if (rc)
        return rc;
    char *url = fwt__training_route(t, "list_checkpoints");
    if (!url)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    fwt__call call = {.plane = FWT__PLANE_TRAINER, .method = "GET", .url = url, .retry = FWT__RC_CONTROL};
    fwt__reply r;
    rc = fwt__call_sync(t->client, &call, &r);
    fwt__free_mem(url);
    if (rc) {
        fwt__reply_clear(&r);
        return rc;
    }
    const cJSON *arr = NULL;
    int jr = r.json && cJSON_IsObject(r.json) ? fwt__json_get_array(r.json, "checkpoints", &arr) : FWT_EPROTO;
    if (jr == FWT_EPROTO) {
        fwt__reply_clear(&r);
        return fwt__last_set(FWT_EPROTO, "list_checkpoints: the reply is not {\"checkpoints\": [...]}");
    }
    rc = fwt__string_list_from_json(out, arr);
    fwt__reply_clear(&r);
    if (rc)
        return fwt__last_set(rc, "list_checkpoints: %s", rc == FWT_EPROTO ? "a checkpoint name is not a string"
                                                                          : fwt_strerror(rc));
    fwt__last_ok();
    return FWT_OK;
}

int fwt_training_last_sampler_snapshot(char **out, fwt_training *t)
{
    if (!out || !t)
        return fwt__last_set(FWT_EINVAL, "fwt_training_last_sampler_snapshot: %s is NULL", out ? "training" : "out");
    pthread_mutex_lock(&t->mu);
    char *copy = t->last_snapshot ? fwt__strdup(t->last_snapshot) : NULL;
    int oom = t->last_snapshot && !copy;
    pthread_mutex_unlock(&t->mu);
    if (oom)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    *out = copy;
    fwt__last_ok();
    return FWT_OK;
}
