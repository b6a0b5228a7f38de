/*
 * Fidelity with the official client (issue 13, library items 1-8) against the scripted responder: for each
 * item the exact request sent, the outcome and the message (docs/protocol.md §3.1, §3.2, §3.5, §3.7, §4.1,
 * §4.2, §11.4, §11.5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "control_test_util.h"

#define JOB(id, state) "{\"name\":\"accounts/acct/rlorTrainerJobs/" id "\",\"state\":\"" state "\"}"

static fwt_job_create_options create_opts(const char *id)
{
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.job_id = id;
    o.base_model = "accounts/fireworks/models/tiny";
    return o;
}

static cJSON *obj(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* ==== item 1: trainer job creation paths ==================================== */

static void test_create_default_is_manual_path(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("x", "JOB_STATE_CREATING"));
    fwt_job_create_options o = create_opts(NULL);
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    /* manual path: skipValidations=true, then the generated id in the official pattern */
    const char *pre = "/v1/accounts/acct/rlorTrainerJobs?skipValidations=true&rlorTrainerJobId=training-api-service-";
    assert_int_equal(strncmp(q.raw->path, pre, strlen(pre)), 0);
    const char *hex = q.raw->path + strlen(pre);
    assert_int_equal(strlen(hex), 8);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 8);
    /* nodeCount defaults to 1 on the manual path; no acceleratorType unless set */
    assert_int_equal(obj(q.json, "nodeCount")->valueint, 1);
    assert_null(obj(obj(q.json, "trainingConfig"), "acceleratorType"));
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void test_create_manual_carries_every_field(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("m1", "JOB_STATE_CREATING"));
    fwt_job_create_options o = create_opts("m1");
    o.node_count = 4;
    o.accelerator_type = "NVIDIA_B200_180GB";
    o.accelerator_count = 8;
    o.max_context_length = 32768;
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?skipValidations=true&rlorTrainerJobId=m1");
    cJSON *tc = obj(q.json, "trainingConfig");
    assert_int_equal(obj(q.json, "nodeCount")->valueint, 4);
    assert_string_equal(obj(tc, "acceleratorType")->valuestring, "NVIDIA_B200_180GB");
    assert_int_equal(obj(tc, "acceleratorCount")->valueint, 8);
    assert_int_equal(obj(tc, "maxContextLength")->valueint, 32768);
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void test_create_auto_shape_is_explicit(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("a1", "JOB_STATE_CREATING"));
    fwt_job_create_options o = create_opts("a1");
    o.auto_shape = 1;
    o.max_context_length = 8192;
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?rlorTrainerJobId=a1");
    assert_null(obj(q.json, "nodeCount"));
    assert_int_equal(obj(obj(q.json, "trainingConfig"), "maxContextLength")->valueint, 8192);
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void expect_refused(cfx *f, const fwt_job_create_options *o, const char *field)
{
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, o), FWT_EINVAL);
    assert_null(j);
    const char *m = fwt_error_last()->message;
    if (!strstr(m, field))
        fail_msg("message \"%s\" does not name %s", m, field);
}

/* A field the chosen path cannot carry is refused, never dropped; nothing is sent. */
static void test_create_never_drops_a_field(void **state)
{
    cfx *f = *state;
    fwt_job_create_options o = create_opts("r1");
    o.auto_shape = 1;
    o.node_count = 2;
    expect_refused(f, &o, "node_count");
    o = create_opts("r1");
    o.auto_shape = 1;
    o.accelerator_type = "NVIDIA_H200_141GB";
    expect_refused(f, &o, "accelerator_type");
    o = create_opts("r1");
    o.auto_shape = 1;
    o.accelerator_count = 8;
    expect_refused(f, &o, "accelerator_count");
    o = create_opts("r1");
    o.auto_shape = 1;
    o.skip_validations = 1;
    expect_refused(f, &o, "skip_validations");
    o = create_opts("r1");
    o.training_shape = "accounts/x/trainingShapes/s";
    o.max_context_length = 4096;
    expect_refused(f, &o, "max_context_length");
    o = create_opts("r1");
    o.training_shape = "accounts/x/trainingShapes/s";
    o.auto_shape = 1;
    expect_refused(f, &o, "auto_shape");
    o = create_opts("r1");
    o.training_shape = "accounts/x/trainingShapes/s";
    o.node_count = 1;
    expect_refused(f, &o, "node_count");
    o = create_opts("r1");
    o.inactivity_timeout_s = -5;
    expect_refused(f, &o, "inactivity_timeout_s");
    o = create_opts("r1");
    o.reserved0 = 1;
    expect_refused(f, &o, "reserved0");
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

static void test_create_shape_path(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("s1", "JOB_STATE_CREATING"));
    fwt_job_create_options o = create_opts("s1");
    o.training_shape = "accounts/x/trainingShapes/s/versions/v1";
    o.skip_validations = 1;
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?trainingShape=accounts%2Fx%2FtrainingShapes%2Fs"
                                     "%2Fversions%2Fv1&skipValidations=true&rlorTrainerJobId=s1");
    assert_null(obj(q.json, "nodeCount"));
    cfx_req_free(&q);
    fwt_job_free(j);
}

/* ==== item 2: readiness through the direct route ============================ */

/* A path-routed responder: the first rule whose path prefix matches answers. */
typedef struct rule {
    const char *prefix;
    int status;
    const char *body;
} rule;

typedef struct routes {
    rule rules[8];
    char bodies[8][512];
} routes;

static void routes_handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    routes *rt = ud;
    out->content_type = "application/json";
    for (int i = 0; i < 8 && rt->rules[i].prefix; i++) {
        if (strncmp(req->path, rt->rules[i].prefix, strlen(rt->rules[i].prefix)) == 0) {
            out->status = rt->rules[i].status;
            out->body = rt->rules[i].body;
            return;
        }
    }
    out->status = 404;
    out->body = "{\"message\":\"no route\"}";
}

typedef struct rfx {
    fwt_responder *r;
    fwt_client *c;
    char *base;
    routes rt;
} rfx;

static int rfx_setup(void **state)
{
    rfx *f = calloc(1, sizeof *f);
    if (!f || fwt_responder_start(&f->r, routes_handler, &f->rt) != 0)
        return -1;
    f->base = fwt_responder_url(f->r, "");
    fwt_client_options o = cfx_client_options(f->base, "test-key-fidelity");
    if (fwt_client_new(&f->c, &o) != FWT_OK)
        return -1;
    *state = f;
    return 0;
}

static int rfx_teardown(void **state)
{
    rfx *f = *state;
    fwt_client_free(f->c);
    fwt_responder_stop(f->r);
    free(f->base);
    free(f);
    return 0;
}

static void rfx_rule(rfx *f, int i, const char *prefix, int status, const char *body)
{
    snprintf(f->rt.bodies[i], sizeof f->rt.bodies[i], "%s", body);
    f->rt.rules[i] = (rule){prefix, status, f->rt.bodies[i]};
}

/* Index of the first request whose path is `path`, or -1. */
static int find_request(fwt_responder *r, const char *path)
{
    size_t n = fwt_responder_request_count(r);
    for (size_t i = 0; i < n; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(r, i);
        int hit = q && strcmp(q->path, path) == 0;
        fwt_resp_request_free(q);
        if (hit)
            return (int)i;
    }
    return -1;
}

static fwt_job_wait_options fast_wait(void)
{
    fwt_job_wait_options o;
    fwt_job_wait_options_init(&o, FWT_JOB_WAIT_OPTIONS_VERSION);
    o.wait.poll_interval_ms = 5;
    o.wait.poll_initial_ms = 1;
    o.wait.timeout_ms = 20000;
    return o;
}

static void test_wait_falls_back_to_direct_route(void **state)
{
    rfx *f = *state;
    char job[512];
    /* trailing '/' on the handle: stripped before appending /api/v1/healthz */
    snprintf(job, sizeof job,
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j1\",\"state\":\"JOB_STATE_RUNNING\","
             "\"directRouteHandle\":\"%s/direct/j1/\",\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/tiny\"}}",
             f->base);
    rfx_rule(f, 0, "/v1/accounts/acct/rlorTrainerJobs/j1", 200, job);
    rfx_rule(f, 1, "/training/v1/rlorTrainerJobs/acct/j1/", 503, "{\"message\":\"gateway cannot reach the trainer\"}");
    rfx_rule(f, 2, "/direct/j1/api/v1/healthz", 200, "{\"status\":\"ok\"}");
    rfx_rule(f, 3, "/direct/j1/api/v1/create_session", 200, "{\"session_id\":\"sess-d\",\"type\":\"create_session\"}");
    rfx_rule(f, 4, "/direct/j1/api/v1/", 200, "{}");
    fwt_job_wait_options o = fast_wait();
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j1", &o, 30000), FWT_OK);
    assert_int_equal(fwt_job_ready_route(j), FWT_JOB_ROUTE_DIRECT);
    char want[256];
    snprintf(want, sizeof want, "%s/direct/j1", f->base);
    assert_string_equal(fwt_job_trainer_url(j), want);
    /* the gateway was probed first, then the direct route */
    int g = find_request(f->r, "/training/v1/rlorTrainerJobs/acct/j1/api/v1/healthz");
    int d = find_request(f->r, "/direct/j1/api/v1/healthz");
    assert_true(g >= 0 && d > g);
    /* a training client opens on the URL the wait returned */
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.keep_model_on_free = 1;
    fwt_training *t = NULL;
    assert_int_equal(fwt_job_open_training(&t, f->c, j, &to), FWT_OK);
    assert_string_equal(fwt_training_url(t), want);
    assert_true(find_request(f->r, "/direct/j1/api/v1/create_session") > d);
    fwt_training_free(t);
    fwt_job_free(j);
}

static void test_wait_gateway_answers(void **state)
{
    rfx *f = *state;
    char job[512];
    snprintf(job, sizeof job,
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j2\",\"state\":\"JOB_STATE_RUNNING\",\"directRouteHandle\":"
             "\"%s/direct/j2\"}",
             f->base);
    rfx_rule(f, 0, "/v1/accounts/acct/rlorTrainerJobs/j2", 200, job);
    rfx_rule(f, 1, "/training/v1/rlorTrainerJobs/acct/j2/api/v1/healthz", 200, "{\"status\":\"ok\"}");
    fwt_job_wait_options o = fast_wait();
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j2", &o, 30000), FWT_OK);
    assert_int_equal(fwt_job_ready_route(j), FWT_JOB_ROUTE_GATEWAY);
    assert_non_null(strstr(fwt_job_trainer_url(j), "/training/v1/rlorTrainerJobs/acct/j2"));
    assert_int_equal(find_request(f->r, "/direct/j2/api/v1/healthz"), -1); /* never probed */
    fwt_job_free(j);
    /* a job that did not come from a wait says so */
    assert_int_equal(fwt_job_get(&j, f->c, "j2"), FWT_OK);
    assert_int_equal(fwt_job_ready_route(j), FWT_JOB_ROUTE_NONE);
    fwt_job_free(j);
    assert_int_equal(fwt_job_ready_route(NULL), FWT_JOB_ROUTE_NONE);
}

static void test_wait_neither_route_times_out(void **state)
{
    rfx *f = *state;
    char job[512];
    snprintf(job, sizeof job,
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j3\",\"state\":\"JOB_STATE_RUNNING\",\"directRouteHandle\":"
             "\"%s/direct/j3\"}",
             f->base);
    rfx_rule(f, 0, "/v1/accounts/acct/rlorTrainerJobs/j3", 200, job);
    rfx_rule(f, 1, "/training/", 503, "{}");
    rfx_rule(f, 2, "/direct/", 502, "{}");
    fwt_job_wait_options o = fast_wait();
    o.wait.timeout_ms = 200;
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j3", &o, 30000), FWT_ETIMEDOUT);
    assert_non_null(strstr(fwt_error_last()->message, "direct route"));
    assert_true(find_request(f->r, "/direct/j3/api/v1/healthz") >= 0);
}

/* ==== item 3: the wait needs only `state`; maxContextLength ================== */

static void test_wait_job_without_name(void **state)
{
    cfx *f = *state;
    /* no name, optional fields of unexpected types: the wait still reads the state */
    cfx_push(f, 200, "{\"state\":\"JOB_STATE_CREATING\",\"trainingConfig\":\"odd\",\"status\":5}");
    cfx_push(f, 200, "{\"state\":\"JOB_STATE_RUNNING\",\"trainingConfig\":{\"maxContextLength\":\"131072\"}}");
    cfx_push(f, 200, "{\"status\":\"ok\"}");
    fwt_job_wait_options o = fast_wait();
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "nameless", &o, 30000), FWT_OK);
    assert_string_equal(fwt_job_id(j), "nameless");
    assert_string_equal(fwt_job_name(j), "accounts/acct/rlorTrainerJobs/nameless");
    assert_int_equal(fwt_job_max_context_length(j), 131072);
    assert_non_null(strstr(fwt_job_trainer_url(j), "/training/v1/rlorTrainerJobs/acct/nameless"));
    fwt_job_free(j);
    /* a body without a state is "not running yet", never a failure */
    cfx_push(f, 200, "{}");
    cfx_push(f, 200, JOB("n2", "JOB_STATE_RUNNING"));
    cfx_push(f, 200, "{\"status\":\"ok\"}");
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "n2", &o, 30000), FWT_OK);
    assert_int_equal(fwt_job_max_context_length(j), 0);
    fwt_job_free(j);
}

static void test_job_max_context_length(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/c1\",\"trainingConfig\":{\"maxContextLength\":65536}}");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_get(&j, f->c, "c1"), FWT_OK);
    assert_int_equal(fwt_job_max_context_length(j), 65536);
    fwt_job_free(j);
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/c1\",\"trainingConfig\":{\"maxContextLength\":1e30}}");
    assert_int_equal(fwt_job_get(&j, f->c, "c1"), FWT_OK);
    assert_int_equal(fwt_job_max_context_length(j), 0); /* does not fit: reads as absent */
    fwt_job_free(j);
    assert_int_equal(fwt_job_max_context_length(NULL), 0);
}

/* ==== item 4: deployment create defaults ===================================== */

static void test_deployment_create_defaults(void **state)
{
    cfx *f = *state;
    cfx_push(f, 404, "{\"code\":5,\"message\":\"not found\"}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"CREATING\"}");
    fwt_deployment_create_options o;
    fwt_deployment_create_options_init(&o, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    assert_string_equal(o.hot_load_bucket_type, "FW_HOSTED");
    assert_int_equal(o.for_training, 0);
    o.base_model = "accounts/fireworks/models/tiny";
    fwt_deployment *d = NULL;
    assert_int_equal(fwt_deployment_create(&d, f->c, "d1", &o), FWT_OK);
    cfx_req q = cfx_req_get(f, 1);
    assert_string_equal(q.raw->method, "POST");
    assert_true(cJSON_IsFalse(obj(q.json, "forTraining")));
    assert_string_equal(obj(q.json, "hotLoadBucketType")->valuestring, "FW_HOSTED");
    cfx_req_free(&q);
    fwt_deployment_free(d);

    /* asked for: forTraining true, another bucket type; "" omits the field */
    cfx_push(f, 404, "{\"code\":5,\"message\":\"not found\"}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d2\",\"state\":\"CREATING\"}");
    o.for_training = 1;
    o.hot_load_bucket_type = "S3";
    assert_int_equal(fwt_deployment_create(&d, f->c, "d2", &o), FWT_OK);
    q = cfx_req_get(f, 3);
    assert_true(cJSON_IsTrue(obj(q.json, "forTraining")));
    assert_string_equal(obj(q.json, "hotLoadBucketType")->valuestring, "S3");
    cfx_req_free(&q);
    fwt_deployment_free(d);
    cfx_push(f, 404, "{\"code\":5,\"message\":\"not found\"}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d3\",\"state\":\"CREATING\"}");
    o.hot_load_bucket_type = "";
    assert_int_equal(fwt_deployment_create(&d, f->c, "d3", &o), FWT_OK);
    q = cfx_req_get(f, 5);
    assert_null(obj(q.json, "hotLoadBucketType"));
    cfx_req_free(&q);
    fwt_deployment_free(d);
}

/* ==== item 5: error text ===================================================== */

static void test_several_accounts_named(void **state)
{
    cfx *f = *state;
    fwt_client_options o = cfx_client_options(f->base, "test-key-fidelity");
    o.account_id = NULL;
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    cfx_push(f, 200, "{\"accounts\":[{\"name\":\"accounts/team-a\"},{\"name\":\"accounts/team-b\"}],"
                     "\"nextPageToken\":\"more\"}");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_get(&j, c, "j"), FWT_EUNSUPPORTED);
    const char *m = fwt_error_last()->message;
    assert_non_null(strstr(m, "\"team-a\""));
    assert_non_null(strstr(m, "\"team-b\""));
    assert_non_null(strstr(m, "and more"));
    assert_non_null(strstr(m, "account_id"));
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->path, "/v1/accounts?pageSize=2");
    cfx_req_free(&q);
    fwt_client_free(c);
}

static void test_tombstone_messages(void **state)
{
    cfx *f = *state;
    /* on create: 409, then the follow-up GET shows the tombstone and its status message */
    cfx_push(f, 409, "{\"code\":6,\"message\":\"already exists\"}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/t1\",\"state\":\"JOB_STATE_DELETED\","
                     "\"status\":{\"code\":\"OK\",\"message\":\"deleted by alice on 2026-01-02\"}}");
    fwt_job_create_options o = create_opts("t1");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_ECONFLICT);
    const char *m = fwt_error_last()->message;
    assert_non_null(strstr(m, "deleted by alice on 2026-01-02"));
    assert_non_null(strstr(m, "JOB_STATE_DELETED"));
    assert_non_null(strstr(m, "cannot be recreated"));
    /* during a wait */
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/t2\",\"state\":\"JOB_STATE_ARCHIVED\","
                     "\"statusMessage\":\"archived after 30 days\"}");
    fwt_job_wait_options w = fast_wait();
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "t2", &w, 30000), FWT_ESTATE);
    m = fwt_error_last()->message;
    assert_non_null(strstr(m, "archived after 30 days"));
    assert_non_null(strstr(m, "JOB_STATE_ARCHIVED"));
}

/* A 410 outside retrieve_future is reported as what it is, not as an expired promise. */
static void test_410_is_not_a_promise_elsewhere(void **state)
{
    cfx *f = *state;
    cfx_push(f, 410, "{\"message\":\"this API version was retired\"}");
    fwt_job *j = NULL;
    int rc = fwt_job_get(&j, f->c, "g1");
    assert_int_equal(rc, FWT_EHTTP);
    assert_int_equal(fwt_error_last()->http_status, 410);
    const char *m = fwt_error_last()->message;
    assert_non_null(strstr(m, "this API version was retired"));
    assert_null(strstr(m, "promise"));
}

/* ==== item 6: checkpoint rows as sent ======================================== */

static void test_checkpoint_rows_as_sent(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200,
             "{\"checkpoints\":["
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/bare\"},"
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/us\",\"createTime\":\"2026-01-01T10:00:00.900000Z\","
             "\"updateTime\":\"2026-01-01T10:05:00Z\",\"checkpointType\":\"\",\"promotable\":false,\"sizeBytes\":\"123\"},"
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/sec\",\"createTime\":\"2026-01-01T10:00:01Z\","
             "\"checkpointType\":\"INFERENCE_BASE\",\"promotable\":true},"
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/junk\",\"createTime\":\"soon\",\"promotable\":true},"
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/tie\",\"createTime\":\"2026-01-01T10:00:01.000000Z\"},"
             "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/old\",\"createTime\":\"2025-12-31T23:59:59.999999Z\","
             "\"promotable\":true}"
             "]}");
    fwt_checkpoint_list *l = NULL;
    assert_int_equal(fwt_job_list_checkpoints(&l, f->c, "j", NULL), FWT_OK);
    const fwt_checkpoint_row *bare = fwt_checkpoint_list_get(l, 0), *us = fwt_checkpoint_list_get(l, 1);
    /* absence is distinguishable from false / "" */
    assert_int_equal(fwt_checkpoint_row_fields(bare), 0);
    assert_int_equal(fwt_checkpoint_row_fields(us), FWT_CHECKPOINT_FIELD_CREATE_TIME | FWT_CHECKPOINT_FIELD_UPDATE_TIME |
                                                        FWT_CHECKPOINT_FIELD_TYPE | FWT_CHECKPOINT_FIELD_PROMOTABLE);
    assert_string_equal(fwt_checkpoint_row_type(bare), "");
    assert_string_equal(fwt_checkpoint_row_type(us), "");
    assert_int_equal(fwt_checkpoint_row_promotable(us), 0);
    assert_string_equal(fwt_checkpoint_row_update_time(us), "2026-01-01T10:05:00Z");
    assert_string_equal(fwt_checkpoint_row_update_time(bare), "");
    /* unknown fields reachable through the row's JSON text */
    cJSON *row = cJSON_Parse(fwt_checkpoint_row_json(us));
    assert_non_null(row);
    assert_string_equal(obj(row, "sizeBytes")->valuestring, "123");
    cJSON_Delete(row);
    assert_string_equal(fwt_checkpoint_row_json(NULL), "{}");
    assert_int_equal(fwt_checkpoint_row_fields(NULL), 0);

    /* newest first by parsed time: "tie" equals "sec" and comes later in server order, so first; the
     * microsecond row is older than both second-precision ones; unparseable and absent last */
    fwt_checkpoint_list *s = NULL;
    assert_int_equal(fwt_checkpoint_list_newest_first(&s, l, FWT_CHECKPOINT_FILTER_ALL), FWT_OK);
    const char *want[] = {"tie", "sec", "us", "old", "junk", "bare"};
    assert_int_equal(fwt_checkpoint_list_count(s), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_get(s, i)), want[i]);
    assert_ptr_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_newest(l, 0)), fwt_checkpoint_row_id(fwt_checkpoint_list_get(l, 4)));
    /* copies keep what was sent */
    const fwt_checkpoint_row *c = fwt_checkpoint_list_get(s, 2);
    assert_int_equal(fwt_checkpoint_row_fields(c), fwt_checkpoint_row_fields(us));
    assert_string_equal(fwt_checkpoint_row_json(c), fwt_checkpoint_row_json(us));
    assert_int_equal(fwt_checkpoint_row_fields(fwt_checkpoint_list_get(s, 5)), 0);
    fwt_checkpoint_list_free(s);
    assert_int_equal(fwt_checkpoint_list_newest_first(&s, l, FWT_CHECKPOINT_FILTER_PROMOTABLE), FWT_OK);
    const char *pwant[] = {"sec", "old", "junk"};
    assert_int_equal(fwt_checkpoint_list_count(s), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_get(s, i)), pwant[i]);
    fwt_checkpoint_list_free(s);
    /* the source is unchanged (server order) */
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_get(l, 0)), "bare");
    assert_int_equal(fwt_checkpoint_list_newest_first(&s, NULL, 0), FWT_EINVAL);
    fwt_checkpoint_list_free(l);
}

/* ==== items 7 and 8: training polls and create_model ========================= */

typedef struct tscript {
    pthread_mutex_t mu;
    int polls;
    int first_poll; /* 0 answer, 1 stall headers, 2 stall body, 3 answer after 3000 ms, 4 answer 410 */
} tscript;

static void training_handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    tscript *ts = ud;
    out->content_type = "application/json";
    const char *p = strstr(req->path, "/api/v1/");
    const char *route = p ? p + 8 : "";
    if (!strcmp(route, "create_session")) {
        out->body = "{\"session_id\":\"sess-f\",\"type\":\"create_session\"}";
    } else if (!strcmp(route, "session_heartbeat")) {
        out->body = "{}";
    } else if (!strcmp(route, "create_model")) {
        out->body = "{\"request_id\":\"rq-1\",\"model_id\":\"model-f\"}";
    } else if (!strcmp(route, "retrieve_future")) {
        pthread_mutex_lock(&ts->mu);
        int n = ts->polls++;
        pthread_mutex_unlock(&ts->mu);
        out->body = "{\"model_id\":\"model-f\",\"type\":\"create_model\"}";
        if (n == 0 && ts->first_poll == 1)
            out->delay_headers_ms = -1;
        else if (n == 0 && ts->first_poll == 2)
            out->delay_body_ms = -1;
        else if (n == 0 && ts->first_poll == 3)
            out->delay_headers_ms = 3000;
        else if (n == 0 && ts->first_poll == 4) {
            out->status = 410;
            out->body = "{\"message\":\"promise gone\"}";
        }
    } else {
        out->status = 404;
        out->body = "{\"message\":\"no route\"}";
    }
}

typedef struct tfx {
    fwt_responder *r;
    fwt_client *c;
    char *base;
    tscript ts;
} tfx;

/* A client whose own header/body deadlines are `client_ms`; the training sets its poll deadlines. */
static tfx *tfx_new(int64_t client_ms, int first_poll)
{
    tfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->ts.mu, NULL);
    f->ts.first_poll = first_poll;
    assert_int_equal(fwt_responder_start(&f->r, training_handler, &f->ts), 0);
    f->base = fwt_responder_url(f->r, "");
    fwt_client_options o = cfx_client_options(f->base, "test-key-fidelity");
    o.header_timeout_ms = client_ms;
    o.body_timeout_ms = client_ms;
    assert_int_equal(fwt_client_new(&f->c, &o), FWT_OK);
    return f;
}

static void tfx_free(tfx *f)
{
    fwt_client_free(f->c);
    fwt_responder_stop(f->r);
    pthread_mutex_destroy(&f->ts.mu);
    free(f->base);
    free(f);
}

static fwt_training *open_training(tfx *f, int32_t rank, int64_t poll_header_ms, int64_t poll_body_ms)
{
    fwt_training_options o;
    fwt_training_options_init(&o, FWT_TRAINING_OPTIONS_VERSION);
    assert_int_equal(o.poll_header_timeout_ms, 45000); /* _init writes the documented defaults */
    assert_int_equal(o.poll_body_timeout_ms, 45000);
    o.job_id = "tj";
    o.base_model = "accounts/fireworks/models/tiny";
    o.lora_rank = rank;
    o.keep_model_on_free = 1;
    o.poll_header_timeout_ms = poll_header_ms;
    o.poll_body_timeout_ms = poll_body_ms;
    fwt_training *t = NULL;
    assert_int_equal(fwt_training_new(&t, f->c, &o), FWT_OK);
    return t;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static cJSON *request_body(fwt_responder *r, const char *route)
{
    size_t n = fwt_responder_request_count(r);
    for (size_t i = 0; i < n; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(r, i);
        cJSON *b = q && strstr(q->path, route) ? cJSON_Parse(q->body) : NULL;
        fwt_resp_request_free(q);
        if (b)
            return b;
    }
    return NULL;
}

static void test_create_model_full_param_sends_rank_0(void **state)
{
    (void)state;
    tfx *f = tfx_new(0, 0);
    fwt_training *t = open_training(f, 0, 0, 0);
    assert_int_equal(fwt_training_create_model_result(t, 20000), FWT_OK);
    cJSON *b = request_body(f->r, "/api/v1/create_model");
    cJSON *lc = obj(b, "lora_config");
    assert_non_null(lc);
    assert_true(cJSON_IsNumber(obj(lc, "rank")));
    assert_int_equal(obj(lc, "rank")->valueint, 0);
    assert_null(obj(lc, "alpha")); /* alpha only for LoRA */
    cJSON_Delete(b);
    fwt_training_free(t);
    tfx_free(f);
    /* LoRA keeps its rank and alpha */
    f = tfx_new(0, 0);
    t = open_training(f, 16, 0, 0);
    assert_int_equal(fwt_training_create_model_result(t, 20000), FWT_OK);
    b = request_body(f->r, "/api/v1/create_model");
    assert_int_equal(obj(obj(b, "lora_config"), "rank")->valueint, 16);
    assert_int_equal(obj(obj(b, "lora_config"), "alpha")->valueint, 32);
    cJSON_Delete(b);
    fwt_training_free(t);
    tfx_free(f);
}

/* A stalled poll is cut by the poll deadline (200 ms), not by the client-wide one (120 s), and re-polled. */
static void poll_deadline_case(int stall)
{
    tfx *f = tfx_new(120000, stall);
    fwt_training *t = open_training(f, 0, stall == 1 ? 200 : 0, stall == 2 ? 200 : 0);
    uint64_t t0 = now_ms();
    assert_int_equal(fwt_training_create_model_result(t, 100000), FWT_OK);
    uint64_t took = now_ms() - t0;
    assert_int_equal(f->ts.polls, 2);
    /* The client-wide deadline would have held the op for 120 s: well under that means the poll's own
     * deadline cut the stall (a loose bound, immune to a loaded machine). */
    assert_true(took < 60000);
    fwt_training_free(t);
    tfx_free(f);
}

static void test_poll_header_deadline(void **state)
{
    (void)state;
    poll_deadline_case(1);
}

static void test_poll_body_deadline(void **state)
{
    (void)state;
    poll_deadline_case(2);
}

/* The other way round: a short client-wide deadline does not cut a slow poll that its own deadline allows. */
static void test_poll_deadline_independent_of_client(void **state)
{
    (void)state;
    tfx *f = tfx_new(1000, 3);
    fwt_training *t = open_training(f, 0, 60000, 60000);
    assert_int_equal(fwt_training_create_model_result(t, 100000), FWT_OK);
    assert_int_equal(f->ts.polls, 1); /* answered after 3000 ms, not cut at the client's 1000 ms */
    fwt_training_free(t);
    tfx_free(f);
    /* bad values are refused */
    f = tfx_new(0, 0);
    fwt_training_options o;
    fwt_training_options_init(&o, FWT_TRAINING_OPTIONS_VERSION);
    o.job_id = "tj";
    o.poll_body_timeout_ms = -2;
    fwt_training *bad = NULL;
    assert_int_equal(fwt_training_new(&bad, f->c, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "poll_body_timeout_ms"));
    tfx_free(f);
}

/* On retrieve_future, and only there, a 410 is an expired promise. */
static void test_410_on_retrieve_future_is_expired(void **state)
{
    (void)state;
    tfx *f = tfx_new(0, 4);
    fwt_training *t = open_training(f, 0, 0, 0);
    assert_int_equal(fwt_training_create_model_result(t, 20000), FWT_EEXPIRED);
    assert_non_null(strstr(fwt_error_last()->message, "promise expired"));
    fwt_training_free(t);
    tfx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_default_is_manual_path, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_manual_carries_every_field, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_auto_shape_is_explicit, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_never_drops_a_field, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_shape_path, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_falls_back_to_direct_route, rfx_setup, rfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_gateway_answers, rfx_setup, rfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_neither_route_times_out, rfx_setup, rfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_job_without_name, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_job_max_context_length, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_create_defaults, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_several_accounts_named, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_messages, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_410_is_not_a_promise_elsewhere, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_rows_as_sent, cfx_setup, cfx_teardown),
        cmocka_unit_test(test_create_model_full_param_sends_rank_0),
        cmocka_unit_test(test_poll_header_deadline),
        cmocka_unit_test(test_poll_body_deadline),
        cmocka_unit_test(test_poll_deadline_independent_of_client),
        cmocka_unit_test(test_410_on_retrieve_future_is_expired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
