/* fwtrain-local: CLI, auth, accounts, trainer jobs, healthz, sessions, and malformed input of each kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "basic-key"

static fwt_local_server *srv;
static const char *base;

static int setup(void **state)
{
    (void)state;
    static const char *args[] = {"--max-body-mib", "1", "--job-start-ms", "100", NULL};
    return srv_group_setup(&srv, &base, KEY, args);
}

static int teardown(void **state)
{
    (void)state;
    return srv_group_teardown(srv);
}

static long grpc_code(const srv_resp *r)
{
    const cJSON *c = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, "code") : NULL;
    const cJSON *m = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, "message") : NULL;
    if (!cJSON_IsNumber(c) || !cJSON_IsString(m))
        return -1;
    return (long)c->valuedouble;
}

static void test_auth(void **state)
{
    (void)state;
    srv_resp r;
    char url[512];
    snprintf(url, sizeof url, "%s/v1/accounts", base);
    srv_req(&r, "GET", url, NULL, NULL, NULL, 5000);
    assert_int_equal(r.status, 401);
    assert_int_equal(grpc_code(&r), 16);
    assert_null(strstr(r.body, KEY));
    srv_resp_free(&r);
    srv_req(&r, "GET", url, "wrong-key", NULL, NULL, 5000);
    assert_int_equal(r.status, 401);
    srv_resp_free(&r);
    const char *bearer[] = {"Authorization: Bearer " KEY, NULL};
    srv_req(&r, "GET", url, NULL, NULL, bearer, 5000);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    const char *upper[] = {"X-API-Key: " KEY, NULL};
    srv_req(&r, "GET", url, NULL, NULL, upper, 5000);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    const char *badbearer[] = {"Authorization: Bearer nope", NULL};
    srv_req(&r, "GET", url, NULL, NULL, badbearer, 5000);
    assert_int_equal(r.status, 401);
    srv_resp_free(&r);
    /* the data plane needs the key too */
    snprintf(url, sizeof url, "%s/training/v1/rlorTrainerJobs/local/x/api/v1/healthz", base);
    srv_req(&r, "GET", url, NULL, NULL, NULL, 5000);
    assert_int_equal(r.status, 401);
    srv_resp_free(&r);
}

static void test_accounts(void **state)
{
    (void)state;
    srv_resp r;
    srv_call(&r, base, KEY, "GET", "/v1/accounts?pageSize=2", NULL);
    assert_int_equal(r.status, 200);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r.json, "accounts");
    assert_int_equal(cJSON_GetArraySize(a), 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 0), "name")->valuestring, "accounts/local");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/other/rlorTrainerJobs", NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(grpc_code(&r), 5);
    srv_resp_free(&r);
}

static const char *state_of(const srv_resp *r)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r->json, "state");
    return cJSON_IsString(s) ? s->valuestring : "";
}

static void test_jobs(void **state)
{
    (void)state;
    srv_resp r;
    const char *body = "{\"serviceMode\":true,\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/b\","
                       "\"loraRank\":0,\"learningRate\":0.0001},\"displayName\":\"t\"}";
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=job-a", body);
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.json, "name")->valuestring,
                        "accounts/local/rlorTrainerJobs/job-a");
    assert_string_equal(state_of(&r), "JOB_STATE_CREATING");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=job-a", body);
    assert_int_equal(r.status, 409);
    assert_int_equal(grpc_code(&r), 6);
    srv_resp_free(&r);
    int running = 0;
    for (int i = 0; i < 3000 && !running; i++) {
        srv_call(&r, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/job-a", NULL);
        running = !strcmp(state_of(&r), "JOB_STATE_RUNNING");
        srv_resp_free(&r);
        if (!running) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(running);
    srv_call(&r, base, KEY, "GET", "/training/v1/rlorTrainerJobs/local/job-a/api/v1/healthz", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.json, "status")->valuestring, "ok");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs", NULL);
    assert_int_equal(r.status, 200);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "rlorTrainerJobs")) >= 1);
    srv_resp_free(&r);
    /* resume of a running job is a no-op */
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs/job-a:resume", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(state_of(&r), "JOB_STATE_RUNNING");
    srv_resp_free(&r);
    /* soft delete, twice; the tombstone stays and blocks the id */
    srv_call(&r, base, KEY, "DELETE", "/v1/accounts/local/rlorTrainerJobs/job-a", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "DELETE", "/v1/accounts/local/rlorTrainerJobs/job-a", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/job-a", NULL);
    assert_string_equal(state_of(&r), "JOB_STATE_DELETED");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=job-a", body);
    assert_int_equal(r.status, 409);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs/job-a:resume", NULL);
    assert_int_equal(r.status, 400);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/job-a/checkpoints", NULL);
    assert_int_equal(r.status, 200); /* listing works on a tombstone */
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/training/v1/rlorTrainerJobs/local/job-a/api/v1/healthz", NULL);
    assert_int_equal(r.status, 404);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/nope", NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(grpc_code(&r), 5);
    srv_resp_free(&r);
    /* stay-pending knob */
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=job-p",
             "{\"displayName\":\"fwl-stay-pending\",\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/b\"}}");
    assert_string_equal(state_of(&r), "JOB_STATE_PENDING");
    srv_resp_free(&r);
    /* healthz is 503 until RUNNING (a pending job never gets there: deterministic under load) */
    srv_call(&r, base, KEY, "GET", "/training/v1/rlorTrainerJobs/local/job-p/api/v1/healthz", NULL);
    assert_int_equal(r.status, 503);
    srv_resp_free(&r);
}

static void test_sessions(void **state)
{
    (void)state;
    char *mid = srv_setup_model(base, KEY, "job-s");
    assert_non_null(mid);
    free(mid);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/job-s/api/v1/create_session", "{}");
    assert_int_equal(r.status, 200);
    char body[256];
    snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"type\":\"session_heartbeat\"}",
             cJSON_GetObjectItemCaseSensitive(r.json, "session_id")->valuestring);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/job-s/api/v1/session_heartbeat", body);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/job-s/api/v1/session_heartbeat",
             "{\"session_id\":\"sess-unknown\"}");
    assert_int_equal(r.status, 404);
    srv_resp_free(&r);
    /* create_model: unknown session, missing session */
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/job-s/api/v1/create_model",
             "{\"session_id\":\"sess-unknown\",\"model_seq_id\":0}");
    assert_int_equal(r.status, 404);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/job-s/api/v1/create_model", "{}");
    assert_int_equal(r.status, 400);
    srv_resp_free(&r);
}

static void expect(const char *method, const char *path, const char *body, long status)
{
    srv_resp r;
    srv_call(&r, base, KEY, method, path, body);
    if (r.status != status)
        fail_msg("%s %s: want %ld got %ld (%s)", method, path, status, r.status, r.body ? r.body : "");
    if (status >= 400 && grpc_code(&r) < 0)
        fail_msg("%s %s: error body is not {code, message}: %s", method, path, r.body ? r.body : "");
    srv_resp_free(&r);
}

static void test_bad_input(void **state)
{
    (void)state;
    const char *dp = "/training/v1/rlorTrainerJobs/local/job-s/api/v1/";
    char p[256];
    expect("GET", "/nope", NULL, 404);
    expect("GET", "/v1/accounts/local/widgets", NULL, 404);
    expect("PUT", "/v1/accounts/local/rlorTrainerJobs", "{}", 405);
    expect("POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=ok-id", "{not json", 400);
    expect("POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=ok-id", "[1,2]", 400);
    expect("POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=Bad_Id", "{}", 400);
    expect("POST", "/v1/accounts/local/rlorTrainerJobs", "{}", 400);
    expect("POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=ok-id2", "{\"trainingConfig\":7}", 400);
    expect("POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=ok-id3",
           "{\"trainingConfig\":{\"loraRank\":\"x\"}}", 400);
    expect("GET", "/v1/accounts/local/rlorTrainerJobs/job-s/checkpoints?pageSize=abc", NULL, 400);
    expect("GET", "/v1/accounts/local/rlorTrainerJobs/job-s/checkpoints?pageToken=zzz", NULL, 400);
    snprintf(p, sizeof p, "%sno_such_op", dp);
    expect("POST", p, "{}", 404);
    snprintf(p, sizeof p, "%sforward_backward", dp);
    expect("GET", p, NULL, 405);
    expect("POST", p, "", 400);
    expect("POST", p, "{\"seq_id\":1}", 400);                          /* no model_id */
    expect("POST", p, "{\"model_id\":\"m\",\"seq_id\":\"1\"}", 400);     /* mistyped seq_id */
    expect("POST", p, "{\"model_id\":\"nope\",\"seq_id\":1}", 404);     /* unknown model */
    snprintf(p, sizeof p, "%sretrieve_future", dp);
    expect("POST", p, "{}", 400);
    expect("POST", p, "{\"request_id\":\"garbage\"}", 404);
    expect("POST", p, "{\"request_id\":\"req-00000000-1-0000\"}", 410); /* another run's promise */
    expect("POST", "/hot_load/v1/models/hot_load", "{}", 400);          /* no fireworks-deployment */
    expect("POST", "/inference/v1/completions", "{\"model\":\"x\"}", 400);
    expect("GET", "/inference/v1/completions", NULL, 405);
    expect("POST", "/v1/accounts/local/checkpoints/c1:promote", "{\"output_model\":\"accounts/local/models/UPPER\"}", 400);
    expect("GET", "/v1/accounts/local/models/none", NULL, 404);
    expect("GET", "/v1/accounts/local/operations/none", NULL, 404);
    expect("DELETE", "/v1/accounts/local/deployments/none", NULL, 404);

    /* a body over --max-body-mib (1) is 413, and the server keeps serving */
    size_t big = (size_t)1 << 21;
    char *b = malloc(big + 1);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    b[big] = 0;
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=big", b);
    assert_true(r.status == 413 || r.curl_code != 0);
    srv_resp_free(&r);
    free(b);
    expect("GET", "/v1/accounts", NULL, 200);
}

static int run_status(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The command line: --help, usage errors, the first stdout line, and the key never in the log. */
static void test_cli(void **state)
{
    (void)state;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "%s --help | grep -q -- --long-poll-ms", FWL_BINARY);
    assert_int_equal(run_status(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s > /dev/null 2>&1", FWL_BINARY); /* no --data-dir */
    assert_int_equal(run_status(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s --data-dir /tmp/x --port nope > /dev/null 2>&1", FWL_BINARY);
    assert_int_equal(run_status(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s --data-dir /tmp/x --bogus > /dev/null 2>&1", FWL_BINARY);
    assert_int_equal(run_status(cmd), 2);
    /* the public development key is refused off loopback */
    snprintf(cmd, sizeof cmd, "env -u FWL_API_KEY %s --data-dir /tmp/x --host 0.0.0.0 > /dev/null 2>&1", FWL_BINARY);
    assert_int_equal(run_status(cmd), 2);
    const char *log = fwt_local_server_log_path(srv);
    assert_non_null(log);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[512] = {0}, want[128];
    int found = 0, leaked = 0;
    snprintf(want, sizeof want, "listening on http://127.0.0.1:%d\n", fwt_local_server_port(srv));
    while (fgets(line, sizeof line, f)) {
        found |= !strcmp(line, want);
        leaked |= strstr(line, KEY) != NULL;
    }
    fclose(f);
    assert_true(found);
    assert_false(leaked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth),     cmocka_unit_test(test_accounts), cmocka_unit_test(test_jobs),
        cmocka_unit_test(test_sessions), cmocka_unit_test(test_bad_input), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
