/*
 * Whole server responses through the public API, over a loopback socket to the scripted
 * responder (tests/support/responder.h). This reaches the decoders that live inside the
 * clients' state machines: checkpoint listing pages, the promotion operation envelope,
 * job / deployment / hotload waits, warmup, sampling (the 404/425 hotload retries around the
 * completions decoder), and the training flow's submit and retrieve_future envelopes
 * (try_again, error, result).
 *
 * Input: one selector byte (which call), then responses separated by NUL bytes. Each response
 * is a status byte (mapped through `statuses`) followed by the body. Requests are answered in
 * arrival order; once the script runs out every request gets 404 "{}", which ends any flow.
 * Property: every call returns FWT_OK or an error code, never crashes, hangs or leaks.
 */
#include <pthread.h>
#include <stdio.h>

#include "fuzz.h"

#include "fwtrain/fwtrain.h"
#include "responder.h"

static const int statuses[8] = {200, 200, 200, 404, 409, 400, 503, 429}; /* by status byte & 7: "0" = 200, "4" = 409 */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *script;
static size_t script_len, script_pos;
static fwt_responder *resp;
static char *base;
static int trace; /* FUZZ_WIRE_TRACE=1: print each request and the answer it got (for writing seeds) */

/* Serves the next scripted response (the responder copies the body before the call returns). */
static void handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&mu);
    out->content_type = "application/json";
    if (!script || script_pos >= script_len) {
        out->status = 404;
        out->body = "{}";
    } else {
        const uint8_t *p = script + script_pos;
        size_t left = script_len - script_pos;
        const uint8_t *nul = memchr(p, 0, left);
        size_t n = nul ? (size_t)(nul - p) : left;
        script_pos += n + (nul ? 1 : 0);
        out->status = n ? statuses[p[0] & 7] : 200;
        out->body = n > 1 ? (const char *)p + 1 : "";
        out->body_len = n > 1 ? n - 1 : 0;
        if (n <= 1)
            out->body = NULL;
    }
    if (trace)
        fprintf(stderr, "wire: %s %s -> %d %.*s\n", req->method, req->path, out->status ? out->status : 200,
                (int)(out->body ? (out->body_len ? out->body_len : strlen(out->body)) : 0), out->body ? out->body : "");
    pthread_mutex_unlock(&mu);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trace = getenv("FUZZ_WIRE_TRACE") != NULL;
    if (fwt_responder_start(&resp, handler, NULL) != 0)
        abort();
    base = fwt_responder_url(resp, "");
    return 0;
}

static fwt_client *client(void)
{
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.base_url = base;
    o.api_key = "fuzz-key";
    o.account_id = "acct";
    o.retry_base_ms = 1;
    o.retry_cap_ms = 2;
    o.retry_budget_ms = 20;
    o.poll_floor_ms = 1;
    o.heartbeat_interval_ms = 3600000;
    fwt_client *c = NULL;
    if (fwt_client_new(&c, &o) != FWT_OK)
        abort();
    return c;
}

#define WAIT_MS 3000
/* Every call ends in FWT_OK or a negative fwt_status. */
static void rc_ok(int rc)
{
    FUZZ_CHECK(rc == FWT_OK || rc < 0);
}

static void list_checkpoints(fwt_client *c)
{
    fwt_checkpoint_list_options lo;
    fwt_checkpoint_list_options_init(&lo, FWT_CHECKPOINT_LIST_OPTIONS_VERSION);
    lo.page_size = 2;
    fwt_checkpoint_list *l = NULL;
    int rc = fwt_job_list_checkpoints(&l, c, "j", &lo);
    rc_ok(rc);
    if (rc == FWT_OK) {
        fwt_checkpoint_list *p = NULL;
        if (fwt_checkpoint_list_filter(&p, l, FWT_CHECKPOINT_FILTER_PROMOTABLE) == FWT_OK)
            fwt_checkpoint_list_free(p);
    }
    fwt_checkpoint_list_free(l);
}

static void promote(fwt_client *c)
{
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 1;
    po.wait.timeout_ms = WAIT_MS;
    fwt_model *m = NULL;
    rc_ok(fwt_promote_checkpoint_result(&m, c, "accounts/acct/rlorTrainerJobs/j/checkpoints/c", "m", "b", &po, WAIT_MS));
    fwt_model_free(m);
}

static void job(fwt_client *c)
{
    fwt_job *j = NULL;
    rc_ok(fwt_job_get(&j, c, "j"));
    fwt_job_free(j);
    fwt_job_wait_options jw;
    fwt_job_wait_options_init(&jw, FWT_JOB_WAIT_OPTIONS_VERSION);
    jw.wait.poll_interval_ms = 1;
    jw.wait.timeout_ms = WAIT_MS;
    j = NULL;
    rc_ok(fwt_job_wait_ready_result(&j, c, "j", &jw, WAIT_MS));
    fwt_job_free(j);
}

static void job_create(fwt_client *c)
{
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = "j";
    jo.base_model = "b";
    fwt_job *j = NULL;
    rc_ok(fwt_job_create(&j, c, &jo));
    fwt_job_free(j);
}

static void deployment(fwt_client *c)
{
    fwt_deployment *d = NULL;
    rc_ok(fwt_deployment_get(&d, c, "d1"));
    fwt_deployment_free(d);
    fwt_wait_options dw;
    fwt_wait_options_init(&dw, FWT_WAIT_OPTIONS_VERSION);
    dw.poll_interval_ms = 1;
    dw.timeout_ms = WAIT_MS;
    d = NULL;
    rc_ok(fwt_deployment_wait_ready_result(&d, c, "d1", &dw, WAIT_MS));
    fwt_deployment_free(d);
}

static void hotload(fwt_client *c)
{
    fwt_wait_options hw;
    fwt_wait_options_init(&hw, FWT_WAIT_OPTIONS_VERSION);
    hw.poll_interval_ms = 1;
    hw.timeout_ms = WAIT_MS;
    fwt_hotload_status *s = NULL;
    rc_ok(fwt_deployment_wait_hotload_result(&s, c, "d1", "b", "s-1", &hw, WAIT_MS));
    fwt_hotload_status_free(s);
}

static void warmup(fwt_client *c)
{
    fwt_warmup_options wo;
    fwt_warmup_options_init(&wo, FWT_WARMUP_OPTIONS_VERSION);
    wo.retry_interval_ms = 1;
    wo.max_tries = 3;
    rc_ok(fwt_deployment_warmup_result(c, "d1", &wo, WAIT_MS));
}

static void sample(fwt_client *c)
{
    static const int64_t prompt[] = {72, 105, 33};
    fwt_sample_request rq;
    fwt_sample_request_init(&rq, FWT_SAMPLE_REQUEST_VERSION);
    rq.prompt_tokens = prompt;
    rq.n_prompt_tokens = 3;
    rq.max_tokens = 2;
    rq.n = 2;
    rq.logprobs = 1;
    rq.echo = 1;
    rq.hotload_retry_interval_ms = 1;
    rq.hotload_retry_timeout_ms = 50;
    fwt_completion *out = NULL;
    rc_ok(fwt_sample_result(&out, c, "d1", &rq, WAIT_MS));
    fwt_completion_free(out);
}

static void training(fwt_client *c)
{
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    char *url = fwt_responder_url(resp, "/t");
    to.trainer_url = url;
    to.base_model = "accounts/fireworks/models/tiny";
    to.op_timeout_ms = WAIT_MS;
    to.session_suffix = "0a1b2c3d";
    fwt_training *t = NULL;
    int rc = fwt_training_new(&t, c, &to);
    free(url);
    rc_ok(rc);
    if (rc != FWT_OK)
        return;
    if (fwt_training_create_model_result(t, WAIT_MS) == FWT_OK) {
        char *p = NULL;
        rc_ok(fwt_training_save_state_result(&p, t, "h", 0, WAIT_MS));
        fwt_free(p);
        fwt_string_list *l = NULL;
        rc_ok(fwt_training_list_checkpoints(&l, t));
        fwt_string_list_free(l);
    }
    fwt_training_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void (*const calls[])(fwt_client *) = {list_checkpoints, promote, job, job_create, deployment,
                                                  hotload, warmup, training, sample};
    if (size < 1)
        return 0;
    pthread_mutex_lock(&mu);
    script = data + 1;
    script_len = size - 1;
    script_pos = 0;
    pthread_mutex_unlock(&mu);
    fwt_client *c = client();
    calls[(data[0] & 15) % (sizeof calls / sizeof calls[0])](c); /* "0".."8" pick calls 0..8 */
    fwt_client_free(c);
    /* Nothing may keep pointing into this input once the run is over. */
    pthread_mutex_lock(&mu);
    script = NULL;
    script_len = script_pos = 0;
    pthread_mutex_unlock(&mu);
    return 0;
}
