/* Trainer jobs and checkpoint listing against the scripted responder (docs/protocol.md §3.1–§3.5, §11.4, §11.5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

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

static void test_create_sends_id_and_body(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/server-side-id\",\"state\":\"JOB_STATE_CREATING\","
                     "\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/tiny\",\"loraRank\":0}}");
    fwt_job_create_options o = create_opts("my-job");
    o.display_name = "hello";
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    /* §11.4: the id is the last segment of the returned name. */
    assert_string_equal(fwt_job_id(j), "server-side-id");
    assert_string_equal(fwt_job_state(j), "JOB_STATE_CREATING");
    assert_non_null(strstr(fwt_job_trainer_url(j), "/training/v1/rlorTrainerJobs/acct/server-side-id"));
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->method, "POST");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?skipValidations=true&rlorTrainerJobId=my-job");
    assert_non_null(q.json);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q.json, "serviceMode")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(q.json, "keepAlive")));
    cJSON *tc = cJSON_GetObjectItemCaseSensitive(q.json, "trainingConfig");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tc, "baseModel")->valuestring, "accounts/fireworks/models/tiny");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q.json, "displayName")->valuestring, "hello");
    assert_non_null(fwt_resp_request_header(q.raw, "X-Api-Key"));
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void test_create_default_id(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("x", "JOB_STATE_CREATING"));
    fwt_job_create_options o = create_opts(NULL);
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    cfx_req q = cfx_req_get(f, 0);
    const char *p = strstr(q.raw->path, "rlorTrainerJobId=training-api-service-"); /* docs/protocol.md §3.1 */
    assert_non_null(p);
    p += strlen("rlorTrainerJobId=training-api-service-");
    assert_int_equal(strlen(p), 8);
    for (int i = 0; i < 8; i++)
        assert_non_null(strchr("0123456789abcdef", p[i]));
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void test_create_409_reuses(void **state)
{
    cfx *f = *state;
    cfx_push(f, 409, "{\"code\":6,\"message\":\"already exists\"}");
    cfx_push(f, 200, JOB("my-job", "JOB_STATE_RUNNING"));
    fwt_job_create_options o = create_opts("my-job");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_OK);
    assert_string_equal(fwt_job_state(j), "JOB_STATE_RUNNING");
    cfx_req q = cfx_req_get(f, 1);
    assert_string_equal(q.raw->method, "GET");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs/my-job");
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void test_create_409_tombstone(void **state)
{
    cfx *f = *state;
    cfx_push(f, 409, "{\"code\":6,\"message\":\"already exists\"}");
    cfx_push(f, 200, JOB("gone-job", "JOB_STATE_DELETED"));
    fwt_job_create_options o = create_opts("gone-job");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_ECONFLICT);
    assert_null(j);
    const char *m = fwt_error_last()->message;
    assert_non_null(strstr(m, "gone-job"));
    assert_non_null(strstr(m, "cannot be recreated"));
}

static void test_create_409_then_404_keeps_409(void **state)
{
    cfx *f = *state;
    cfx_push(f, 409, "{\"code\":10,\"message\":\"job is transitioning\"}");
    cfx_push(f, 404, "{\"code\":5,\"message\":\"not found\"}");
    fwt_job_create_options o = create_opts("racy-job");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_ECONFLICT);
    assert_non_null(strstr(fwt_error_last()->message, "job is transitioning"));
    assert_int_equal(fwt_error_last()->http_status, 409);
}

static void test_create_invalid_inputs_send_nothing(void **state)
{
    cfx *f = *state;
    fwt_job_create_options o = create_opts("Bad_ID");
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_EINVAL);
    o = create_opts("ok-id");
    o.base_model = NULL;
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_EINVAL);
    o = create_opts("ok-id");
    o.training_shape = "accounts/x/trainingShapes/s";
    o.accelerator_type = "NVIDIA_H200_141GB";
    assert_int_equal(fwt_job_create(&j, f->c, &o), FWT_EINVAL);
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

/* Ids that would reach another resource (dot segments, '/', '?') or break §6 are refused before any request. */
static void test_bad_ids_send_nothing(void **state)
{
    cfx *f = *state;
    const char *bad[] = {"..", ".", "", "a/b", "a?b", "A", "x%2F..", "a b", NULL};
    for (int i = 0; i < 9; i++) {
        const char *id = bad[i];
        fwt_job *j = NULL;
        fwt_deployment *d = NULL;
        fwt_checkpoint_list *l = NULL;
        fwt_future *fut = NULL;
        char *url = NULL;
        assert_int_equal(fwt_job_get(&j, f->c, id), FWT_EINVAL);
        assert_int_equal(fwt_job_delete_result(f->c, id, -1), FWT_EINVAL);
        assert_int_equal(fwt_job_resume(f->c, id), FWT_EINVAL);
        assert_int_equal(fwt_job_trainer_url_build(&url, f->c, id), FWT_EINVAL);
        assert_int_equal(fwt_job_list_checkpoints(&l, f->c, id, NULL), FWT_EINVAL);
        assert_int_equal(fwt_job_wait_ready(&fut, f->c, id, NULL), FWT_EINVAL);
        assert_int_equal(fwt_deployment_get(&d, f->c, id), FWT_EINVAL);
        assert_int_equal(fwt_deployment_delete_result(f->c, id, NULL, 1000), FWT_EINVAL);
        assert_int_equal(fwt_deployment_reattach(NULL, f->c, id, "j"), FWT_EINVAL);
        assert_int_equal(fwt_deployment_reattach(NULL, f->c, "d1", id), FWT_EINVAL);
        assert_int_equal(fwt_deployment_hotload(f->c, id, "m", "s", NULL), FWT_EINVAL);
        assert_int_equal(fwt_deployment_wait_ready(&fut, f->c, id, NULL), FWT_EINVAL);
        assert_int_equal(fwt_deployment_warmup(&fut, f->c, id, NULL), FWT_EINVAL);
        assert_int_equal(fwt_promote_checkpoint_by_id(&fut, f->c, id, "ck", "m", "b", NULL), FWT_EINVAL);
        if (id && strcmp(id, "A") != 0 && strcmp(id, "x%2F..") != 0) /* checkpoint ids may hold capitals */
            assert_int_equal(fwt_promote_checkpoint_by_id(&fut, f->c, "j", id, "m", "b", NULL), FWT_EINVAL);
        assert_null(fut);
    }
    fwt_future *fut = NULL;
    assert_int_equal(fwt_promote_checkpoint(&fut, f->c, "accounts/../rlorTrainerJobs/j/checkpoints/c", "m", "b", NULL),
                     FWT_EINVAL);
    assert_int_equal(fwt_promote_checkpoint(&fut, f->c, "accounts/a/rlorTrainerJobs/j/checkpoints/..", "m", "b", NULL),
                     FWT_EINVAL);
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

/* ---- wait_ready ---- */

typedef struct seen {
    int stages[64];
    int n;
} seen;

static void on_progress(int stage, int64_t elapsed_ms, const char *message, void *payload)
{
    seen *s = payload;
    (void)elapsed_ms;
    assert_non_null(message);
    if (s->n < 64)
        s->stages[s->n++] = stage;
}

static int saw(const seen *s, int stage)
{
    for (int i = 0; i < s->n; i++)
        if (s->stages[i] == stage)
            return 1;
    return 0;
}

static fwt_job_wait_options fast_wait(seen *s)
{
    fwt_job_wait_options o;
    fwt_job_wait_options_init(&o, FWT_JOB_WAIT_OPTIONS_VERSION);
    o.wait.poll_interval_ms = 5;
    o.wait.timeout_ms = 5000;
    o.pending_timeout_ms = 5000;
    o.wait.progress = s ? on_progress : NULL;
    o.wait.progress_payload = s;
    return o;
}

static void test_wait_ready_sequence(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("j1", "JOB_STATE_PENDING"));
    cfx_push(f, 200, JOB("j1", "JOB_STATE_CREATING"));
    cfx_push(f, 200, JOB("j1", "JOB_STATE_RUNNING"));
    cfx_push(f, 503, "{}");
    cfx_push(f, 200, JOB("j1", "JOB_STATE_RUNNING"));
    cfx_push(f, 200, "{\"status\":\"ok\"}");
    seen s = {{0}, 0};
    fwt_job_wait_options o = fast_wait(&s);
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j1", &o, 10000), FWT_OK);
    assert_string_equal(fwt_job_id(j), "j1");
    assert_true(saw(&s, FWT_PROGRESS_JOB_PENDING));
    assert_true(saw(&s, FWT_PROGRESS_JOB_STARTING));
    assert_true(saw(&s, FWT_PROGRESS_JOB_HEALTHZ));
    assert_true(saw(&s, FWT_PROGRESS_JOB_READY));
    cfx_req q = cfx_req_get(f, 3);
    assert_string_equal(q.raw->path, "/training/v1/rlorTrainerJobs/acct/j1/api/v1/healthz");
    cfx_req_free(&q);
    fwt_job_free(j);
}

static void test_wait_ready_failed(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"name\":\"accounts/acct/rlorTrainerJobs/j2\",\"state\":\"JOB_STATE_FAILED\","
                     "\"status\":{\"code\":\"INTERNAL\",\"message\":\"OOM on node 3\"}}");
    fwt_job_wait_options o = fast_wait(NULL);
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j2", &o, 10000), FWT_EREMOTE);
    assert_non_null(strstr(fwt_error_last()->message, "OOM on node 3"));
}

static void test_wait_ready_pending_bound(void **state)
{
    cfx *f = *state;
    cfx_default(f, 200, JOB("j3", "JOB_STATE_PENDING"));
    fwt_job_wait_options o = fast_wait(NULL);
    o.pending_timeout_ms = 100;
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j3", &o, 10000), FWT_ETIMEDOUT);
    assert_non_null(strstr(fwt_error_last()->message, "pending"));
}

static void test_wait_ready_cancel(void **state)
{
    cfx *f = *state;
    cfx_default(f, 200, JOB("j4", "JOB_STATE_CREATING"));
    fwt_job_wait_options o = fast_wait(NULL);
    o.wait.poll_interval_ms = 20;
    fwt_future *fut = NULL;
    assert_int_equal(fwt_job_wait_ready(&fut, f->c, "j4", &o), FWT_OK);
    usleep(60 * 1000);
    assert_int_equal(fwt_future_is_done(fut), 0);
    assert_int_equal(fwt_future_cancel(fut), FWT_OK);
    assert_int_equal(fwt_future_wait(fut, 2000), FWT_OK);
    assert_int_equal(fwt_future_status(fut), FWT_ECANCELED);
    fwt_job *j = NULL;
    assert_int_equal(fwt_future_take_job(&j, fut), FWT_ECANCELED);
    fwt_future_free(fut);
}

static void test_client_freed_under_a_wait(void **state)
{
    cfx *f = *state;
    cfx_default(f, 200, JOB("j6", "JOB_STATE_CREATING"));
    fwt_job_wait_options o = fast_wait(NULL);
    o.wait.poll_interval_ms = 10;
    fwt_future *fut = NULL;
    assert_int_equal(fwt_job_wait_ready(&fut, f->c, "j6", &o), FWT_OK);
    usleep(30 * 1000);
    fwt_client_free(f->c); /* cancels the wait; the future stays valid */
    f->c = NULL;
    assert_int_equal(fwt_future_is_done(fut), 1);
    assert_int_equal(fwt_future_status(fut), FWT_ECANCELED);
    fwt_future_free(fut);
}

static void test_wait_ready_tombstone(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, JOB("j5", "JOB_STATE_ARCHIVED"));
    fwt_job_wait_options o = fast_wait(NULL);
    fwt_job *j = NULL;
    assert_int_equal(fwt_job_wait_ready_result(&j, f->c, "j5", &o, 10000), FWT_ESTATE);
}

/* ---- listing ---- */

static void test_list_paging_and_newest(void **state)
{
    cfx *f = *state;
    /* Page 1: "checkpoints" + nextPageToken; page 2: the other spellings; page 3: last. The newest row is the
     * second-precision one: a string sort would pick the ".9" row. */
    cfx_push(f, 200, "{\"checkpoints\":[{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/step-1-0a0b0c0d\","
                     "\"createTime\":\"2026-01-01T10:00:00.900000Z\",\"checkpointType\":\"INFERENCE_BASE\",\"promotable\":true},"
                     "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/step-1\",\"createTime\":\"2026-01-01T10:00:01Z\","
                     "\"checkpointType\":\"CHECKPOINT_TYPE_TRAINING\"}],\"nextPageToken\":\"tok/1\"}");
    cfx_push(f, 200, "{\"rlorTrainerJobCheckpoints\":[{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/step-2-0a0b0c0d\","
                     "\"createTime\":\"2026-01-01T10:00:05Z\",\"checkpointType\":\"INFERENCE_BASE\",\"promotable\":true},"
                     "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/bad-time\",\"createTime\":\"yesterday\","
                     "\"promotable\":true}],\"next_page_token\":\"tok2\"}");
    cfx_push(f, 200, "{\"checkpoints\":[{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/step-3-0a0b0c0d\","
                     "\"createTime\":\"2026-01-01T10:00:04.999999Z\",\"checkpointType\":\"INFERENCE_DELTA\",\"promotable\":false}]}");
    fwt_checkpoint_list_options o;
    fwt_checkpoint_list_options_init(&o, FWT_CHECKPOINT_LIST_OPTIONS_VERSION);
    o.page_size = 2;
    fwt_checkpoint_list *l = NULL;
    assert_int_equal(fwt_job_list_checkpoints(&l, f->c, "j", &o), FWT_OK);
    assert_int_equal(fwt_checkpoint_list_count(l), 5);
    assert_int_equal(fwt_checkpoint_list_pages(l), 3);
    /* server order, unchanged (§11.5) */
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_get(l, 0)), "step-1-0a0b0c0d");
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_get(l, 4)), "step-3-0a0b0c0d");
    assert_string_equal(fwt_checkpoint_row_job_id(fwt_checkpoint_list_get(l, 0)), "j");
    assert_int_equal(fwt_checkpoint_row_create_time_us(fwt_checkpoint_list_get(l, 3)), INT64_MIN);
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_newest(l, 0)), "step-2-0a0b0c0d");
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_newest(l, FWT_CHECKPOINT_FILTER_PROMOTABLE)),
                        "step-2-0a0b0c0d");
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_newest(l, FWT_CHECKPOINT_FILTER_RESUMABLE)), "step-1");
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_find(l, "step-2")), "step-2-0a0b0c0d");
    assert_string_equal(fwt_checkpoint_row_id(fwt_checkpoint_list_find(l, "step-1")), "step-1");
    assert_null(fwt_checkpoint_list_find(l, "step-9"));
    fwt_checkpoint_list *p = NULL;
    assert_int_equal(fwt_checkpoint_list_filter(&p, l, FWT_CHECKPOINT_FILTER_PROMOTABLE), FWT_OK);
    assert_int_equal(fwt_checkpoint_list_count(p), 3);
    fwt_checkpoint_list_free(p);
    cfx_req q = cfx_req_get(f, 1);
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs/j/checkpoints?pageSize=2&pageToken=tok%2F1");
    cfx_req_free(&q);
    fwt_checkpoint_list_free(l);
}

static void test_list_errors(void **state)
{
    cfx *f = *state;
    cfx_push(f, 404, "{\"code\":5,\"message\":\"job not found\"}");
    fwt_checkpoint_list *l = NULL;
    assert_int_equal(fwt_job_list_checkpoints(&l, f->c, "nope", NULL), FWT_ENOTFOUND);
    assert_int_equal(fwt_error_last()->http_status, 404);
    assert_non_null(strstr(fwt_error_last()->message, "job not found"));
    assert_non_null(strstr(fwt_error_last()->message, "\"nope\""));
    cfx_push(f, 200, "{\"checkpoints\":{\"not\":\"a list\"}}");
    assert_int_equal(fwt_job_list_checkpoints(&l, f->c, "j", NULL), FWT_EPROTO);
    cfx_push(f, 200, "{\"checkpoints\":[],\"nextPageToken\":\"same\"}");
    cfx_push(f, 200, "{\"checkpoints\":[],\"nextPageToken\":\"same\"}");
    assert_int_equal(fwt_job_list_checkpoints(&l, f->c, "j", NULL), FWT_EPROTO);
    assert_int_equal(fwt_job_list_checkpoints(&l, f->c, "../x", NULL), FWT_EINVAL);
    assert_null(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_sends_id_and_body, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_default_id, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_409_reuses, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_409_tombstone, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_409_then_404_keeps_409, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_create_invalid_inputs_send_nothing, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids_send_nothing, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_ready_sequence, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_ready_failed, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_ready_pending_bound, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_ready_cancel, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_wait_ready_tombstone, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_client_freed_under_a_wait, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_list_paging_and_newest, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, cfx_setup, cfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
