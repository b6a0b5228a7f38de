/* fwtrain-local --faults: each kind, seeded determinism, the healthz exemption, and a clean stop while a body
 * is stalled. Status faults replace the response before the handler (nothing committed); drop happens after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "faults-key"
#define JOB_BODY "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}"

static fwt_local_server *start(const char *spec)
{
    const char *args[] = {"--faults", spec, "--job-start-ms", "0", NULL};
    return srv_start(KEY, args);
}

static void finish(fwt_local_server *s)
{
    assert_int_equal(srv_finish(s), 0);
}

static int job_on_disk(fwt_local_server *s, const char *job)
{
    char p[4300];
    struct stat st;
    snprintf(p, sizeof p, "%s/jobs/%s/job.json", fwt_local_server_data_dir(s), job);
    return stat(p, &st) == 0;
}

static void test_status_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        long status;
        const char *retry_after;
    } kinds[] = {
        {"seed=1,http503=1", 503, ""},
        {"seed=1,http429=1,retry_after=3", 429, "3"},
        {"seed=1,http408=1", 408, ""},
        {"seed=1,http410=1", 410, ""},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        fwt_local_server *s = start(kinds[i].spec);
        assert_non_null(s);
        const char *base = fwt_local_server_url(s);
        srv_resp r;
        srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=fj", JOB_BODY);
        assert_int_equal(r.status, kinds[i].status);
        assert_string_equal(r.retry_after, kinds[i].retry_after);
        assert_non_null(r.json); /* a JSON error body, §2.2 */
        assert_non_null(cJSON_GetObjectItemCaseSensitive(r.json, "code"));
        srv_resp_free(&r);
        assert_false(job_on_disk(s, "fj")); /* replaced before any side effect */
        /* the data plane is faulted too */
        srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/fj/api/v1/retrieve_future", "{}");
        assert_int_equal(r.status, kinds[i].status);
        srv_resp_free(&r);
        /* an unauthenticated request is refused before faults are drawn */
        srv_call(&r, base, "bad", "GET", "/v1/accounts", NULL);
        assert_int_equal(r.status, 401);
        srv_resp_free(&r);
        finish(s);
    }
}

static void test_drop_after_side_effect(void **state)
{
    (void)state;
    fwt_local_server *s = start("seed=3,drop=1");
    assert_non_null(s);
    srv_resp r;
    srv_call(&r, fwt_local_server_url(s), KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=dj", JOB_BODY);
    assert_int_equal(r.status, 0);
    assert_int_not_equal(r.curl_code, 0); /* connection closed without a response */
    srv_resp_free(&r);
    assert_true(job_on_disk(s, "dj")); /* the outcome is unknown to the client, but it happened */
    finish(s);
}

static void test_stall_body(void **state)
{
    (void)state;
    fwt_local_server *s = start("seed=4,stall_body_ms=400@1");
    assert_non_null(s);
    srv_resp r;
    srv_call(&r, fwt_local_server_url(s), KEY, "GET", "/v1/accounts", NULL);
    assert_int_equal(r.status, 200);
    assert_true(r.seconds >= 0.35);
    assert_true(r.ttfb < r.seconds - 0.3); /* headers first, then the stall */
    assert_non_null(r.json); /* the whole body arrives, late */
    srv_resp_free(&r);
    /* a stalled body does not hold up a stop */
    fwt_local_server *s2 = start("seed=4,stall_body_ms=60000@1");
    char url[256];
    snprintf(url, sizeof url, "%s/v1/accounts", fwt_local_server_url(s2));
    srv_req(&r, "GET", url, KEY, NULL, NULL, 300); /* gives up after 300 ms, mid-body */
    assert_int_not_equal(r.curl_code, 0);
    srv_resp_free(&r);
    finish(s2);
    finish(s);
}

static void test_drip_and_delay(void **state)
{
    (void)state;
    fwt_local_server *s = start("seed=4,drip_body_ms=5@1");
    assert_non_null(s);
    srv_resp r;
    srv_call(&r, fwt_local_server_url(s), KEY, "GET", "/v1/accounts", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_true(r.seconds >= 0.004 * (double)(r.len - 1)); /* a byte per 5 ms */
    srv_resp_free(&r);
    finish(s);
    s = start("seed=4,delay_ms=400@1");
    assert_non_null(s);
    srv_call(&r, fwt_local_server_url(s), KEY, "GET", "/v1/accounts", NULL);
    assert_int_equal(r.status, 200);
    assert_true(r.ttfb >= 0.35); /* not even the headers before the delay */
    srv_resp_free(&r);
    finish(s);
}

static void sequence(const char *spec, char *out, size_t n)
{
    fwt_local_server *s = start(spec);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        srv_resp r;
        srv_call(&r, fwt_local_server_url(s), KEY, "GET", "/v1/accounts", NULL);
        out[i] = r.status == 200 ? '.' : r.status == 503 ? '5' : r.status == 429 ? '4' : '?';
        srv_resp_free(&r);
    }
    out[n] = 0;
    finish(s);
}

static void test_seeded(void **state)
{
    (void)state;
    char a[41], b[41], c[41];
    sequence("seed=7,http503=0.3,http429=0.2", a, 40);
    sequence("seed=7,http503=0.3,http429=0.2", b, 40);
    sequence("seed=8,http503=0.3,http429=0.2", c, 40);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_non_null(strchr(a, '.'));
    assert_non_null(strchr(a, '5'));
    assert_null(strchr(a, '?'));
}

static void test_healthz_exempt(void **state)
{
    (void)state;
    /* faults only under one prefix, so the job can be created; healthz is never faulted */
    fwt_local_server *s = start("seed=5,http503=1,only=/training/");
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=hj", JOB_BODY);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/training/v1/rlorTrainerJobs/local/hj/api/v1/healthz", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/hj/api/v1/create_session", "{}");
    assert_int_equal(r.status, 503);
    srv_resp_free(&r);
    finish(s);
}

static void test_bad_spec(void **state)
{
    (void)state;
    fwt_local_server_opts o;
    fwt_local_server_opts_init(&o);
    o.start_timeout_ms = 3000;
    const char *args[] = {"--faults", "http503=2", NULL};
    o.extra_args = args;
    fwt_local_server *s = NULL;
    assert_int_not_equal(fwt_local_server_start(&s, &o), 0); /* exits with a usage error */
    fwt_local_server_free(s);
}

/* --strict-hotload / --no-async-promotion: the old servers the library's compatibility fallbacks exist for */
static void test_old_server_compat(void **state)
{
    (void)state;
    const char *args[] = {"--strict-hotload", "--no-async-promotion", "--job-start-ms", "0", "--model-dim", "4", NULL};
    fwt_local_server *s = srv_start(KEY, args);
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *m = srv_setup_model(base, KEY, "old");
    assert_non_null(m);
    char b[512];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":1,\"path\":\"o-00000000\",\"checkpoint_type\":\"base\"}", m);
    cJSON_Delete(srv_op(base, KEY, "old", "save_weights_for_sampler", b));
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/deployments?deploymentId=old-dep",
             "{\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/old\"}");
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    char url[256];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    const char *h[] = {"fireworks-deployment: accounts/local/deployments/old-dep", NULL};
    srv_req(&r, "POST", url, KEY, "{\"identity\":\"o-00000000\",\"reset_prompt_cache\":true}", h, 5000);
    assert_int_equal(r.status, 400);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r.json, "message");
    assert_non_null(strstr(msg->valuestring, "reset_prompt_cache"));
    assert_non_null(strstr(msg->valuestring, "Extra inputs are not permitted"));
    srv_resp_free(&r);
    srv_req(&r, "POST", url, KEY, "{\"identity\":\"o-00000000\"}", h, 5000);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    const char *pb = "{\"output_model\":\"accounts/local/models/old-m\",\"trainer_job_id\":\"accounts/local/"
                     "rlorTrainerJobs/old\",\"base_model\":\"b\"";
    char body[512];
    snprintf(body, sizeof body, "%s,\"async_promotion\":true}", pb);
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/checkpoints/o-00000000:promote", body);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "async_promotion"));
    srv_resp_free(&r);
    snprintf(body, sizeof body, "%s}", pb);
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/checkpoints/o-00000000:promote", body);
    assert_int_equal(r.status, 200);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(r.json, "model"));
    srv_resp_free(&r);
    free(m);
    finish(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_kinds), cmocka_unit_test(test_drop_after_side_effect),
        cmocka_unit_test(test_stall_body),   cmocka_unit_test(test_seeded),
        cmocka_unit_test(test_healthz_exempt), cmocka_unit_test(test_bad_spec),
        cmocka_unit_test(test_old_server_compat), cmocka_unit_test(test_drip_and_delay),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
