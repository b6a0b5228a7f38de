/*
 * Promotion, deployments and hotload against the scripted responder
 * (docs/protocol.md §3.6–§3.10, §6, §11.2, §11.3, §11.7, §11.8).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>

#include "control_test_util.h"

#define CKPT "accounts/acct/rlorTrainerJobs/j/checkpoints/step-1-0a0b0c0d"
#define BASE_MODEL "accounts/fireworks/models/tiny"
#define MODEL_OK "{\"name\":\"accounts/acct/models/m1\",\"state\":\"READY\",\"kind\":\"HF_BASE_MODEL\"}"

static fwt_promote_options fast_promote(void)
{
    fwt_promote_options o;
    fwt_promote_options_init(&o, FWT_PROMOTE_OPTIONS_VERSION);
    o.wait.poll_interval_ms = 5;
    o.wait.timeout_ms = 3000;
    return o;
}

static void test_promote_invalid_output_id_sends_nothing(void **state)
{
    cfx *f = *state;
    fwt_model *m = NULL;
    const char *bad[] = {"", "Upper", "has_underscore", "dot.dot",
                         "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, bad[i], BASE_MODEL, NULL, 1000), FWT_EINVAL);
        assert_non_null(strstr(fwt_error_last()->message, "output_model_id"));
    }
    assert_int_equal(fwt_promote_validate_output_model_id("ok-model-1"), FWT_OK);
    assert_int_equal(fwt_promote_validate_output_model_id(
                         "a23456789012345678901234567890123456789012345678901234567890123"),
                     FWT_OK);
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, "not/a/checkpoint", "ok", BASE_MODEL, NULL, 1000),
                     FWT_EINVAL);
    /* an empty base model (NULL means: read the job's) */
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "ok", "", NULL, 1000), FWT_EINVAL);
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

static void test_promote_sync_model_and_body(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"model\":" MODEL_OK "}");
    fwt_promote_options o = fast_promote();
    fwt_model *m = NULL;
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_OK);
    assert_string_equal(fwt_model_name(m), "accounts/acct/models/m1");
    assert_string_equal(fwt_model_state(m), "READY");
    assert_string_equal(fwt_model_kind(m), "HF_BASE_MODEL");
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->path, "/v1/accounts/acct/checkpoints/step-1-0a0b0c0d:promote");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "output_model")->valuestring, "accounts/acct/models/m1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "trainer_job_id")->valuestring,
                        "accounts/acct/rlorTrainerJobs/j");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "base_model")->valuestring, BASE_MODEL);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q.json, "async_promotion")));
    cfx_req_free(&q);
    fwt_model_free(m);
}

static void test_promote_async_fallback(void **state)
{
    cfx *f = *state;
    cfx_push(f, 400, "{\"error\":{\"message\":\"unknown field asyncPromotion in request\",\"code\":400}}");
    cfx_push(f, 200, "{\"model\":" MODEL_OK "}");
    fwt_promote_options o = fast_promote();
    fwt_model *m = NULL;
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_OK);
    cfx_req q = cfx_req_get(f, 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(q.json, "async_promotion"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(q.json, "output_model"));
    cfx_req_free(&q);
    fwt_model_free(m);
}

typedef struct prog {
    int stages[32];
    char msgs[32][64];
    int n;
} prog;

static void on_progress(int stage, int64_t elapsed_ms, const char *message, void *payload)
{
    prog *p = payload;
    assert_true(elapsed_ms >= 0);
    if (p->n < 32) {
        p->stages[p->n] = stage;
        snprintf(p->msgs[p->n], 64, "%s", message);
        p->n++;
    }
}

static int prog_find(const prog *p, int stage, const char *msg)
{
    for (int i = 0; i < p->n; i++)
        if (p->stages[i] == stage && (!msg || strstr(p->msgs[i], msg)))
            return 1;
    return 0;
}

static void test_promote_operation_polling(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"operation\":{\"name\":\"accounts/acct/operations/op-1\",\"done\":false,"
                     "\"metadata\":{\"status_message\":\"staging\"}}}");
    cfx_push(f, 503, "{\"message\":\"busy\"}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/operations/op-1\",\"done\":false,"
                     "\"metadata\":{\"value\":{\"statusMessage\":\"uploading\"}}}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/operations/op-1\",\"done\":true,"
                     "\"response\":{\"@type\":\"type.googleapis.com/Model\",\"name\":\"accounts/acct/models/m1\","
                     "\"state\":\"READY\",\"kind\":\"HF_BASE_MODEL\"}}");
    fwt_promote_options o = fast_promote();
    prog pr;
    memset(&pr, 0, sizeof pr);
    o.wait.progress = on_progress;
    o.wait.progress_payload = &pr;
    fwt_model *m = NULL;
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_OK);
    assert_string_equal(fwt_model_state(m), "READY");
    assert_true(prog_find(&pr, FWT_PROGRESS_PROMOTE_SUBMITTED, NULL));
    assert_true(prog_find(&pr, FWT_PROGRESS_PROMOTE_RUNNING, "staging"));
    assert_true(prog_find(&pr, FWT_PROGRESS_PROMOTE_RUNNING, "uploading"));
    assert_true(prog_find(&pr, FWT_PROGRESS_PROMOTE_DONE, "accounts/acct/models/m1"));
    cfx_req q = cfx_req_get(f, 1);
    assert_string_equal(q.raw->method, "GET");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/operations/op-1");
    cfx_req_free(&q);
    fwt_model_free(m);
}

static void test_promote_operation_without_name(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"operation\":{\"done\":true,\"response\":" MODEL_OK "}}");
    fwt_promote_options o = fast_promote();
    fwt_model *m = NULL;
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_EPROTO);
    assert_non_null(strstr(fwt_error_last()->message, "without a name"));
}

static void test_promote_operation_error(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"operation\":{\"name\":\"accounts/acct/operations/op-2\",\"done\":true,"
                     "\"error\":{\"code\":13,\"message\":\"blob copy failed\"}}}");
    fwt_promote_options o = fast_promote();
    fwt_model *m = NULL;
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_EREMOTE);
    assert_non_null(strstr(fwt_error_last()->message, "blob copy failed"));
}

static void test_promote_delta_refused_clearly(void **state)
{
    cfx *f = *state;
    cfx_push(f, 400, "{\"code\":3,\"message\":\"checkpoint step-2-0a0b0c0d is a full-parameter delta\"}");
    fwt_promote_options o = fast_promote();
    fwt_model *m = NULL;
    assert_int_not_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_OK);
    assert_non_null(strstr(fwt_error_last()->message, "delta checkpoints are not promotable; promote a base snapshot"));
}

static void test_promote_deadline_and_cancel(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"operation\":{\"name\":\"accounts/acct/operations/op-3\",\"done\":false}}");
    cfx_default(f, 200, "{\"name\":\"accounts/acct/operations/op-3\",\"done\":false}");
    fwt_promote_options o = fast_promote();
    o.wait.timeout_ms = 80;
    fwt_model *m = NULL;
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_ETIMEDOUT);
    assert_non_null(strstr(fwt_error_last()->message, "op-3"));

    o.wait.timeout_ms = 60000;
    o.wait.poll_interval_ms = 20;
    cfx_push(f, 200, "{\"operation\":{\"name\":\"accounts/acct/operations/op-3\",\"done\":false}}");
    fwt_future *fut = NULL;
    assert_int_equal(fwt_promote_checkpoint_by_id(&fut, f->c, "j", "step-1-0a0b0c0d", "m1", BASE_MODEL, &o), FWT_OK);
    usleep(80 * 1000);
    assert_int_equal(fwt_future_is_done(fut), 0);
    assert_int_equal(fwt_future_cancel(fut), FWT_OK);
    assert_int_equal(fwt_future_wait(fut, 2000), FWT_OK);
    assert_int_equal(fwt_future_take_model(&m, fut), FWT_ECANCELED);
    fwt_future_free(fut);
}

/* ---- deployments ---- */

static void test_deployment_create_get_first_and_409(void **state)
{
    cfx *f = *state;
    cfx_push(f, 404, "{\"code\":5,\"message\":\"not found\"}");
    cfx_push(f, 503, "{\"message\":\"try later\"}");
    cfx_push(f, 409, "{\"code\":6,\"message\":\"exists\"}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"READY\",\"baseModel\":\"" BASE_MODEL "\","
                     "\"hotLoadTrainerJob\":\"accounts/acct/rlorTrainerJobs/j\"}");
    fwt_deployment_create_options o;
    fwt_deployment_create_options_init(&o, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    o.base_model = BASE_MODEL;
    o.hot_load_trainer_job = "j";
    fwt_deployment *d = NULL;
    assert_int_equal(fwt_deployment_create(&d, f->c, "d1", &o), FWT_OK);
    assert_string_equal(fwt_deployment_id(d), "d1");
    assert_string_equal(fwt_deployment_hot_load_trainer_job(d), "accounts/acct/rlorTrainerJobs/j");
    assert_int_equal(fwt_responder_request_count(f->r), 4);
    cfx_req q = cfx_req_get(f, 1);
    assert_string_equal(q.raw->method, "POST");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/deployments?deploymentId=d1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "hotLoadTrainerJob")->valuestring,
                        "accounts/acct/rlorTrainerJobs/j");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(q.json, "description"));
    cfx_req_free(&q);
    fwt_deployment_free(d);
}

static void test_deployment_delete_waits(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"DELETING\"}");
    cfx_push(f, 404, "{\"code\":5}");
    fwt_wait_options o;
    fwt_wait_options_init(&o, FWT_WAIT_OPTIONS_VERSION);
    o.poll_interval_ms = 5;
    assert_int_equal(fwt_deployment_delete_result(f->c, "d1", &o, 5000), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->method, "DELETE");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/deployments/d1?ignoreChecks=true&hard=true");
    cfx_req_free(&q);
    assert_int_equal(fwt_responder_request_count(f->r), 3);
}

static void test_deployment_wait_ready(void **state)
{
    cfx *f = *state;
    fwt_wait_options o;
    fwt_wait_options_init(&o, FWT_WAIT_OPTIONS_VERSION);
    o.poll_interval_ms = 5;
    o.timeout_ms = 5000;
    /* CREATING + a probe that fails, then CREATING + a probe that answers: ready */
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"CREATING\"}");
    cfx_push(f, 425, "{}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"CREATING\"}");
    cfx_push(f, 200, "{\"choices\":[]}");
    fwt_deployment *d = NULL;
    assert_int_equal(fwt_deployment_wait_ready_result(&d, f->c, "d1", &o, 5000), FWT_OK);
    assert_string_equal(fwt_deployment_state(d), "CREATING");
    fwt_deployment_free(d);
    cfx_req q = cfx_req_get(f, 3);
    assert_string_equal(q.raw->path, "/inference/v1/completions");
    cfx_req_free(&q);
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"UPDATING\"}");
    cfx_push(f, 503, "{}");
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"READY\"}");
    assert_int_equal(fwt_deployment_wait_ready_result(&d, f->c, "d1", &o, 5000), FWT_OK);
    assert_string_equal(fwt_deployment_state(d), "READY");
    fwt_deployment_free(d);
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"FAILED\"}");
    assert_int_equal(fwt_deployment_wait_ready_result(&d, f->c, "d1", &o, 5000), FWT_ESTATE);
    cfx_push(f, 404, "{\"code\":5}");
    assert_int_equal(fwt_deployment_wait_ready_result(&d, f->c, "d1", &o, 5000), FWT_ENOTFOUND);
    cfx_default(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"UPDATING\"}");
    o.timeout_ms = 60;
    assert_int_equal(fwt_deployment_wait_ready_result(&d, f->c, "d1", &o, 5000), FWT_ETIMEDOUT);
    assert_null(d);
}

static void test_deployment_reattach(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"hotLoadTrainerJob\":\"accounts/acct/rlorTrainerJobs/j2\"}");
    assert_int_equal(fwt_deployment_reattach(NULL, f->c, "d1", "j2"), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->method, "PATCH");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/deployments/d1?updateMask=hot_load_trainer_job");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "hotLoadTrainerJob")->valuestring,
                        "accounts/acct/rlorTrainerJobs/j2");
    cfx_req_free(&q);
}

/* ---- hotload ---- */

static void test_hotload_headers_body_and_compat(void **state)
{
    cfx *f = *state;
    cfx_push(f, 400, "{\"error\":{\"message\":\"reset_prompt_cache: Extra inputs are not permitted\"}}");
    cfx_push(f, 200, "{}");
    cfx_push(f, 200, "{}");
    fwt_hotload_options o;
    fwt_hotload_options_init(&o, FWT_HOTLOAD_OPTIONS_VERSION);
    o.previous_snapshot_identity = "s-base-0a0b0c0d";
    assert_int_equal(fwt_deployment_hotload(f->c, "d1", BASE_MODEL, "s-2-0a0b0c0d", &o), FWT_OK);
    cfx_req q0 = cfx_req_get(f, 0), q1 = cfx_req_get(f, 1);
    assert_string_equal(q0.raw->path, "/hot_load/v1/models/hot_load");
    assert_string_equal(fwt_resp_request_header(q0.raw, "fireworks-model"), BASE_MODEL);
    assert_string_equal(fwt_resp_request_header(q0.raw, "fireworks-deployment"), "accounts/acct/deployments/d1");
    assert_non_null(fwt_resp_request_header(q0.raw, "Authorization"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q0.json, "reset_prompt_cache")));
    assert_null(cJSON_GetObjectItemCaseSensitive(q1.json, "reset_prompt_cache"));
    cJSON *md = cJSON_GetObjectItemCaseSensitive(q1.json, "incremental_snapshot_metadata");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(md, "previous_snapshot_identity")->valuestring, "s-base-0a0b0c0d");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(md, "compression_format")->valuestring, "arc_v2");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(md, "checksum_format")->valuestring, "alder32");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q1.json, "identity")->valuestring, "s-2-0a0b0c0d");
    cfx_req_free(&q0);
    cfx_req_free(&q1);
    /* remembered for this client: a full load now goes without the field at once */
    assert_int_equal(fwt_deployment_hotload(f->c, "d1", BASE_MODEL, "s-3-0a0b0c0d", NULL), FWT_OK);
    cfx_req q2 = cfx_req_get(f, 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(q2.json, "reset_prompt_cache"));
    assert_null(cJSON_GetObjectItemCaseSensitive(q2.json, "incremental_snapshot_metadata"));
    cfx_req_free(&q2);
    assert_int_equal(fwt_responder_request_count(f->r), 3);
}

static void test_hotload_retry_classes(void **state)
{
    cfx *f = *state;
    cfx_push(f, 503, "{}");
    cfx_push(f, 200, "{}");
    assert_int_equal(fwt_deployment_hotload(f->c, "d1", BASE_MODEL, "s-1", NULL), FWT_OK);
    assert_int_equal(fwt_responder_request_count(f->r), 2);
    cfx_push(f, 425, "{\"message\":\"hotloading\"}");
    cfx_push(f, 200, "{}");
    assert_int_not_equal(fwt_deployment_hotload(f->c, "d1", BASE_MODEL, "s-1", NULL), FWT_OK);
    assert_int_equal(fwt_responder_request_count(f->r), 3); /* 425 not retried (§11.3) */
    assert_int_equal(fwt_error_last()->http_status, 425);
}

static fwt_wait_options fast_hw(int64_t timeout)
{
    fwt_wait_options o;
    fwt_wait_options_init(&o, FWT_WAIT_OPTIONS_VERSION);
    o.poll_interval_ms = 5;
    o.timeout_ms = timeout;
    return o;
}

static void test_wait_hotload_rules(void **state)
{
    cfx *f = *state;
    /* stale error for another identity: ignored */
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"old\","
                     "\"loading_state\":{\"stage\":\"error\",\"target_snapshot_identity\":\"older\"}}]}");
    cfx_push(f, 200, "[1,2]");                 /* not an object: not ready yet */
    cfx_push(f, 500, "{}");                    /* HTTP error: polled again */
    cfx_push(f, 200, "{\"replicas\":[]}");     /* pending */
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"want\",\"loading_state\":null}]}");
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"want\","
                     "\"loading_state\":{\"stage\":\"done\",\"target_snapshot_identity\":\"want\"}}]}");
    fwt_wait_options o = fast_hw(5000);
    prog pr;
    memset(&pr, 0, sizeof pr);
    o.progress = on_progress;
    o.progress_payload = &pr;
    fwt_hotload_status *s = NULL;
    assert_int_equal(fwt_deployment_wait_hotload_result(&s, f->c, "d1", BASE_MODEL, "want", &o, 10000), FWT_OK);
    assert_true(prog_find(&pr, FWT_PROGRESS_HOTLOAD_LOADING, "stage=error"));
    assert_true(prog_find(&pr, FWT_PROGRESS_HOTLOAD_DONE, "want"));
    assert_int_equal(fwt_hotload_status_replica_count(s), 1);
    assert_string_equal(fwt_hotload_status_current_identity(s, 0), "want");
    assert_int_equal(fwt_responder_request_count(f->r), 6);
    fwt_hotload_status_free(s);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Default options poll fast at first (about 100 ms, doubling): three "not yet" answers cost well under a
 * second, where polling at the 5 s interval would take at least 7.5 s (15 s before the backoff existed). */
static void test_wait_hotload_default_polls_fast(void **state)
{
    cfx *f = *state;
    for (int i = 0; i < 3; i++)
        cfx_push(f, 200, "{\"replicas\":[{\"readiness\":false,\"current_snapshot_identity\":\"old\","
                         "\"loading_state\":{\"stage\":\"downloading\",\"target_snapshot_identity\":\"want\"}}]}");
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"want\","
                     "\"loading_state\":{\"stage\":\"done\",\"target_snapshot_identity\":\"want\"}}]}");
    int64_t t0 = mono_ms();
    assert_int_equal(fwt_deployment_wait_hotload_result(NULL, f->c, "d1", BASE_MODEL, "want", NULL, 0), FWT_OK);
    int64_t el = mono_ms() - t0;
    assert_int_equal(fwt_responder_request_count(f->r), 4);
    if (el >= 5000)
        print_error("the wait took %lld ms\n", (long long)el);
    assert_true(el < 5000);
}

static void test_wait_hotload_adapter_and_errors(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":null,"
                     "\"loading_state\":{\"stage\":\"done\"},"
                     "\"loaded_adapters\":[{\"identity\":\"lora-1\",\"status\":\"loaded\"}]}]}");
    fwt_wait_options o = fast_hw(5000);
    assert_int_equal(fwt_deployment_wait_hotload_result(NULL, f->c, "d1", BASE_MODEL, "lora-1", &o, 10000), FWT_OK);
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":false,\"current_snapshot_identity\":\"old\","
                     "\"loading_state\":{\"stage\":\"error\",\"target_snapshot_identity\":\"mine\"}}]}");
    assert_int_equal(fwt_deployment_wait_hotload_result(NULL, f->c, "d1", BASE_MODEL, "mine", &o, 10000), FWT_EREMOTE);
    cfx_push(f, 200, "{\"status\":\"weird\"}");
    assert_int_equal(fwt_deployment_wait_hotload_result(NULL, f->c, "d1", BASE_MODEL, "mine", &o, 10000), FWT_EPROTO);
    assert_non_null(strstr(fwt_error_last()->message, "nrecognized"));
}

static void test_wait_hotload_timeout_and_cancel(void **state)
{
    cfx *f = *state;
    cfx_default(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"old-snap\","
                        "\"loading_state\":{\"stage\":\"downloading\",\"target_snapshot_identity\":\"new-snap\"}}]}");
    fwt_wait_options o = fast_hw(100);
    assert_int_equal(fwt_deployment_wait_hotload_result(NULL, f->c, "d1", BASE_MODEL, "new-snap", &o, 10000),
                     FWT_ETIMEDOUT);
    const char *m = fwt_error_last()->message;
    assert_non_null(strstr(m, "new-snap"));
    assert_non_null(strstr(m, "old-snap"));

    o = fast_hw(60000);
    o.poll_interval_ms = 20;
    fwt_future *fut = NULL;
    assert_int_equal(fwt_deployment_wait_hotload(&fut, f->c, "d1", BASE_MODEL, "new-snap", &o), FWT_OK);
    usleep(60 * 1000);
    assert_int_equal(fwt_future_cancel(fut), FWT_OK);
    assert_int_equal(fwt_future_wait(fut, 2000), FWT_OK);
    assert_int_equal(fwt_future_status(fut), FWT_ECANCELED);
    fwt_future_free(fut);
}

static void test_gate_and_warmup(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"replicas\":[]}");
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":null}]}");
    fwt_wait_options wo;
    fwt_wait_options_init(&wo, FWT_WAIT_OPTIONS_VERSION);
    wo.poll_interval_ms = 5;
    fwt_future *fut = NULL;
    assert_int_equal(fwt_deployment_wait_hotload_ready(&fut, f->c, "d1", BASE_MODEL, &wo), FWT_OK);
    assert_int_equal(fwt_future_wait(fut, 5000), FWT_OK);
    fwt_hotload_status *s = NULL;
    assert_int_equal(fwt_future_take_hotload_status(&s, fut), FWT_OK);
    assert_int_equal(fwt_hotload_status_replica_count(s), 1);
    assert_null(fwt_hotload_status_current_identity(s, 0));
    fwt_hotload_status_free(s);
    fwt_future_free(fut);

    cfx_push(f, 425, "{}");
    cfx_push(f, 404, "{}");
    cfx_push(f, 200, "{\"choices\":[]}");
    fwt_warmup_options u;
    fwt_warmup_options_init(&u, FWT_WARMUP_OPTIONS_VERSION);
    u.retry_interval_ms = 5;
    assert_int_equal(fwt_deployment_warmup_result(f->c, "d1", &u, 5000), FWT_OK);
    cfx_req q = cfx_req_get(f, 4);
    assert_string_equal(q.raw->path, "/inference/v1/completions");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "model")->valuestring, "accounts/acct/deployments/d1");
    cfx_req_free(&q);
    u.max_tries = 2;
    cfx_push(f, 503, "{}");
    cfx_push(f, 503, "{}");
    assert_int_not_equal(fwt_deployment_warmup_result(f->c, "d1", &u, 5000), FWT_OK);
}

typedef struct logcap {
    pthread_mutex_t mu;
    char text[8192];
    size_t len;
} logcap;

static void capture_log(int level, const char *message, void *payload)
{
    logcap *lc = payload;
    (void)level;
    pthread_mutex_lock(&lc->mu);
    int n = snprintf(lc->text + lc->len, sizeof lc->text - lc->len, "%s\n", message);
    if (n > 0 && lc->len + (size_t)n < sizeof lc->text)
        lc->len += (size_t)n;
    pthread_mutex_unlock(&lc->mu);
}

/* Poll errors and compatibility fallbacks are logged; the key never is. */
static void test_logging(void **state)
{
    cfx *f = *state;
    static logcap lc = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
    fwt_client_options o = cfx_client_options(f->base, "secret-key-must-not-leak");
    o.log_level = FWT_LOG_DEBUG;
    o.log_fn = capture_log;
    o.log_payload = &lc;
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    cfx_push(f, 400, "{\"error\":{\"message\":\"reset_prompt_cache: Extra inputs are not permitted\"}}");
    cfx_push(f, 200, "{}");
    assert_int_equal(fwt_deployment_hotload(c, "d1", BASE_MODEL, "s-1", NULL), FWT_OK);
    cfx_push(f, 500, "{\"message\":\"flaky\"}");
    cfx_push(f, 200, "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"s-1\"}]}");
    fwt_wait_options w = fast_hw(5000);
    assert_int_equal(fwt_deployment_wait_hotload_result(NULL, c, "d1", BASE_MODEL, "s-1", &w, 5000), FWT_OK);
    fwt_client_free(c);
    pthread_mutex_lock(&lc.mu);
    assert_non_null(strstr(lc.text, "reset_prompt_cache"));
    assert_non_null(strstr(lc.text, "polling again"));
    assert_null(strstr(lc.text, "secret-key-must-not-leak"));
    pthread_mutex_unlock(&lc.mu);
}

static void cancel_soon(fwt_future *fut)
{
    usleep(40 * 1000);
    assert_int_equal(fwt_future_is_done(fut), 0);
    assert_int_equal(fwt_future_cancel(fut), FWT_OK);
    assert_int_equal(fwt_future_wait(fut, 2000), FWT_OK);
    assert_int_equal(fwt_future_status(fut), FWT_ECANCELED);
    fwt_future_free(fut);
}

/* Every other long wait is cut short by fwt_future_cancel too. */
static void test_cancel_deployment_waits(void **state)
{
    cfx *f = *state;
    fwt_wait_options o;
    fwt_wait_options_init(&o, FWT_WAIT_OPTIONS_VERSION);
    o.poll_interval_ms = 10;
    o.timeout_ms = 60000;
    fwt_future *fut = NULL;
    cfx_default(f, 200, "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"UPDATING\",\"replicas\":[]}");
    assert_int_equal(fwt_deployment_wait_ready(&fut, f->c, "d1", &o), FWT_OK);
    cancel_soon(fut);
    assert_int_equal(fwt_deployment_delete(&fut, f->c, "d1", &o), FWT_OK); /* DELETE 200, then never gone */
    cancel_soon(fut);
    cfx_default(f, 200, "{\"replicas\":[]}");
    assert_int_equal(fwt_deployment_wait_hotload_ready(&fut, f->c, "d1", BASE_MODEL, &o), FWT_OK);
    cancel_soon(fut);
    cfx_default(f, 503, "{}");
    fwt_warmup_options u;
    fwt_warmup_options_init(&u, FWT_WARMUP_OPTIONS_VERSION);
    u.retry_interval_ms = 10;
    u.max_tries = 1000;
    assert_int_equal(fwt_deployment_warmup(&fut, f->c, "d1", &u), FWT_OK);
    cancel_soon(fut);
}

/* Malformed answers give FWT_EPROTO (never a crash, hang or a half-filled object). */
static void test_malformed_answers(void **state)
{
    cfx *f = *state;
    fwt_promote_options o = fast_promote();
    fwt_model *m = NULL;
    const char *bad_posts[] = {"not json", "[]", "{\"operation\":\"x\"}", "{\"model\":{\"state\":\"READY\"}}",
                               "{\"operation\":{\"name\":\"accounts/acct/operations/o\",\"done\":\"yes\"}}",
                               "{\"operation\":{\"name\":\"../../etc\",\"done\":false}}",
                               "{\"operation\":{\"name\":\"accounts/acct/operations/o\",\"done\":true}}"};
    for (size_t i = 0; i < sizeof bad_posts / sizeof bad_posts[0]; i++) {
        cfx_push(f, 200, bad_posts[i]);
        assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", BASE_MODEL, &o, 5000), FWT_EPROTO);
        assert_null(m);
    }
    fwt_deployment *d = NULL;
    cfx_push(f, 200, "{\"name\":7}");
    assert_int_equal(fwt_deployment_get(&d, f->c, "d1"), FWT_EPROTO);
    cfx_push(f, 200, "[1]");
    assert_int_equal(fwt_deployment_get(&d, f->c, "d1"), FWT_EPROTO);
    assert_null(d);
    fwt_hotload_status *s = NULL;
    cfx_push(f, 200, "{\"replicas\":{}}");
    assert_int_equal(fwt_deployment_hotload_status(&s, f->c, "d1", BASE_MODEL), FWT_EPROTO);
    cfx_push(f, 200, "{\"replicas\":[7,{\"readiness\":\"yes\",\"loading_state\":[],\"loaded_adapters\":[1,{}]}]}");
    assert_int_equal(fwt_deployment_hotload_status(&s, f->c, "d1", BASE_MODEL), FWT_OK);
    assert_int_equal(fwt_hotload_status_replica_count(s), 2);
    assert_int_equal(fwt_hotload_status_ready(s, 1), 0);
    assert_null(fwt_hotload_status_current_identity(s, 0));
    assert_string_equal(fwt_hotload_status_stage(s, 1), "");
    assert_null(fwt_hotload_status_current_identity(s, 9));
    fwt_hotload_status_free(s);
    fwt_job *j = NULL;
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/\"}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_EPROTO);
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/j\",\"state\":5,\"trainingConfig\":[]}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_OK);
    assert_string_equal(fwt_job_state(j), "");
    assert_string_equal(fwt_job_base_model(j), "");
    fwt_job_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_promote_invalid_output_id_sends_nothing, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_hotload_default_polls_fast, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_sync_model_and_body, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_async_fallback, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_operation_polling, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_operation_without_name, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_operation_error, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_delta_refused_clearly, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_promote_deadline_and_cancel, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_create_get_first_and_409, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_delete_waits, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_wait_ready, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_reattach, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_hotload_headers_body_and_compat, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_hotload_retry_classes, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_hotload_rules, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_hotload_adapter_and_errors, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_hotload_timeout_and_cancel, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_gate_and_warmup, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_answers, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_logging, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_deployment_waits, cfx_setup, cfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
