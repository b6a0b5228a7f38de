/* fwtrain-local answers as the service does where the official client depends on it: telemetry, re-attaching a
 * deployment to a new trainer (a new pod with a fresh identity, the delta chain restarting from a base),
 * training shapes, validation of job bodies and numeric fields, and the delta rows' checkpoint type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "fidelity-key"
#define JOBS "/v1/accounts/local/rlorTrainerJobs"
#define BM "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}"

static fwt_local_server *srv;
static const char *base;

static int setup(void **state)
{
    (void)state;
    static const char *args[] = {"--job-start-ms", "0", "--hotload-ms", "20", "--model-dim", "8", NULL};
    return srv_group_setup(&srv, &base, KEY, args);
}

static int teardown(void **state)
{
    (void)state;
    return srv_group_teardown(srv);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* method path body -> expected status; for 4xx the body must be a docs/protocol.md §2.2 error naming `needle`. */
static void expect(const char *method, const char *path, const char *body, long status, const char *needle)
{
    srv_resp r;
    srv_call(&r, base, KEY, method, path, body);
    if (r.status != status)
        fail_msg("%s %s: want %ld, got %ld %s", method, path, status, r.status, r.body ? r.body : "");
    if (status >= 400) {
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r.json, "code")));
        assert_non_null(str(r.json, "message"));
        if (needle && !strstr(str(r.json, "message"), needle))
            fail_msg("%s %s: message \"%s\" does not name %s", method, path, str(r.json, "message"), needle);
    }
    srv_resp_free(&r);
}

static void sampler_save(const char *job, const char *m, int *seq, const char *name, const char *type)
{
    char b[512];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"checkpoint_type\":\"%s\"}", m, (*seq)++,
             name, type);
    cJSON *r = srv_op(base, KEY, job, "save_weights_for_sampler", b);
    assert_non_null(r);
    if (str(r, "error"))
        fail_msg("sampler save %s: %s", name, str(r, "error"));
    cJSON_Delete(r);
}

static void train_step(const char *job, const char *m, int *seq)
{
    char b[1024];
    snprintf(b, sizeof b,
             "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_backward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{"
             "\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":[97,98,99]}]},\"loss_fn_inputs\":{"
             "\"target_tokens\":{\"data\":[98,99,100],\"dtype\":\"int64\"}}}]}}",
             m, (*seq)++);
    cJSON *r = srv_op(base, KEY, job, "forward_backward", b);
    assert_non_null(r);
    cJSON_Delete(r);
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"adam_params\":{\"learning_rate\":0.1}}", m, (*seq)++);
    r = srv_op(base, KEY, job, "optim_step", b);
    assert_non_null(r);
    cJSON_Delete(r);
}

/* The deployment's replica as the hotload status reports it (caller frees), or NULL when it lists none. */
static cJSON *replica(const char *dep)
{
    char url[512], hdr[256];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    const char *h[] = {hdr, NULL};
    srv_resp r;
    srv_req(&r, "GET", url, KEY, NULL, h, 5000);
    assert_int_equal(r.status, 200);
    cJSON *rep = cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(r.json, "replicas"), 0);
    srv_resp_free(&r);
    return rep;
}

static void hotload(const char *dep, const char *identity, const char *prev)
{
    char url[512], hdr[256], body[512];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    const char *h[] = {hdr, NULL};
    if (prev)
        snprintf(body, sizeof body,
                 "{\"identity\":\"%s\",\"incremental_snapshot_metadata\":{\"previous_snapshot_identity\":\"%s\","
                 "\"compression_format\":\"arc_v2\",\"checksum_format\":\"alder32\"}}",
                 identity, prev);
    else
        snprintf(body, sizeof body, "{\"identity\":\"%s\"}", identity);
    srv_resp r;
    srv_req(&r, "POST", url, KEY, body, h, 5000);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
}

/* Polls until the replica settles on `identity`: 1 held, 0 error. */
static int hotload_wait(const char *dep, const char *identity)
{
    for (int i = 0; i < 4000; i++) {
        cJSON *rep = replica(dep);
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(rep, "loading_state");
        const char *cur = str(rep, "current_snapshot_identity"), *stage = str(ls, "stage");
        const char *target = str(ls, "target_snapshot_identity");
        int done = -1;
        if (cur && !strcmp(cur, identity) && stage && !strcmp(stage, "done"))
            done = 1;
        else if (stage && !strcmp(stage, "error") && target && !strcmp(target, identity))
            done = 0;
        cJSON_Delete(rep);
        if (done >= 0)
            return done;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("hotload of %s never settled", identity);
    return -1;
}

/* item 9: POST /api/v1/telemetry answers {"status":"accepted"} (anything else makes the official client resend). */
static void test_telemetry(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "tel-job");
    assert_non_null(m);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/tel-job/api/v1/telemetry",
             "{\"events\":[{\"event\":\"SESSION_START\"}],\"platform\":\"python\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "accepted");
    srv_resp_free(&r);
    free(m);
}

/* item 10: re-attaching rolls the pod: the new one reports a fresh non-null identity once up (what the official
 * reattach_trainer waits for), and a delta against the old chain fails until a base is loaded. */
static void test_reattach_rolls_pod(void **state)
{
    (void)state;
    char *ma = srv_setup_model(base, KEY, "ra-a"), *mb = srv_setup_model(base, KEY, "ra-b");
    assert_non_null(ma);
    assert_non_null(mb);
    int sa = 1, sb = 1;
    expect("POST", "/v1/accounts/local/deployments?deploymentId=ra-dep",
           "{\"baseModel\":\"accounts/fireworks/models/byte\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/ra-a\"}",
           200, NULL);
    sampler_save("ra-a", ma, &sa, "ra-a0", "base");
    hotload("ra-dep", "ra-a0", NULL);
    assert_int_equal(hotload_wait("ra-dep", "ra-a0"), 1);
    /* trainer b: a base and a delta over it */
    sampler_save("ra-b", mb, &sb, "ra-b0", "base");
    train_step("ra-b", mb, &sb);
    sampler_save("ra-b", mb, &sb, "ra-b1", "delta");
    /* re-attaching to the same trainer does not roll (the service does not either) */
    expect("PATCH", "/v1/accounts/local/deployments/ra-dep?updateMask=hot_load_trainer_job",
           "{\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/ra-a\"}", 200, NULL);
    cJSON *rep = replica("ra-dep");
    assert_string_equal(str(rep, "current_snapshot_identity"), "ra-a0");
    cJSON_Delete(rep);
    expect("PATCH", "/v1/accounts/local/deployments/ra-dep?updateMask=hot_load_trainer_job",
           "{\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/ra-b\"}", 200, NULL);
    char pod[128] = "";
    for (int i = 0; i < 4000 && !pod[0]; i++) {
        rep = replica("ra-dep");
        const char *cur = str(rep, "current_snapshot_identity");
        assert_true(!cur || strcmp(cur, "ra-a0") != 0); /* the old snapshot is gone at once */
        if (cur && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "readiness")))
            snprintf(pod, sizeof pod, "%s", cur);
        cJSON_Delete(rep);
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(pod[0] != 0);
    /* the new pod serves (the base weights) */
    expect("POST", "/inference/v1/completions",
           "{\"model\":\"accounts/local/deployments/ra-dep\",\"prompt\":[1,2],\"max_tokens\":2,\"temperature\":0}", 200,
           NULL);
    /* the delta chain restarts from a base: a delta first fails, the base then the delta succeed */
    hotload("ra-dep", "ra-b1", "ra-b0");
    assert_int_equal(hotload_wait("ra-dep", "ra-b1"), 0);
    hotload("ra-dep", "ra-b0", NULL);
    assert_int_equal(hotload_wait("ra-dep", "ra-b0"), 1);
    hotload("ra-dep", "ra-b1", "ra-b0");
    assert_int_equal(hotload_wait("ra-dep", "ra-b1"), 1);
    /* rolling again gives another fresh identity */
    expect("PATCH", "/v1/accounts/local/deployments/ra-dep?updateMask=hot_load_trainer_job",
           "{\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/ra-a\"}", 200, NULL);
    char pod2[128] = "";
    for (int i = 0; i < 4000 && !pod2[0]; i++) {
        rep = replica("ra-dep");
        const char *cur = str(rep, "current_snapshot_identity");
        if (cur && strcmp(cur, "ra-b1") != 0)
            snprintf(pod2, sizeof pod2, "%s", cur);
        cJSON_Delete(rep);
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(pod2[0] != 0);
    assert_string_not_equal(pod, pod2);
    free(ma);
    free(mb);
}

/* item 11: training shapes, and a job created with one takes its accelerator and node count. */
static void test_training_shapes(void **state)
{
    (void)state;
    srv_resp r;
    srv_call(&r, base, KEY, "GET", "/v1/accounts/fireworks/trainingShapes", NULL);
    assert_int_equal(r.status, 200);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "trainingShapes")) >= 2);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/trainingShapes/fwl-full-2node", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "name"), "accounts/local/trainingShapes/fwl-full-2node");
    srv_resp_free(&r);
    /* how the cookbook resolves a shape: the latest validated version, then its snapshot */
    srv_call(&r, base, KEY, "GET",
             "/v1/accounts/fireworks/trainingShapes/fwl-full-2node/versions?filter=latest_validated%3Dtrue&pageSize=1",
             NULL);
    assert_int_equal(r.status, 200);
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "trainingShapeVersions"), 0);
    assert_non_null(v);
    char vname[256];
    snprintf(vname, sizeof vname, "%s", str(v, "name"));
    const cJSON *snap = cJSON_GetObjectItemCaseSensitive(v, "snapshot");
    assert_int_equal((int)num(snap, "nodeCount"), 2);
    char accel[64];
    snprintf(accel, sizeof accel, "%s", str(snap, "acceleratorType"));
    srv_resp_free(&r);
    char path[512];
    snprintf(path, sizeof path, "/v1/%s", vname);
    srv_call(&r, base, KEY, "GET", path, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "name"), vname);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/trainingShapes/fwl-lora/versions/1", NULL);
    assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(r.json, "snapshot"), "trainerMode"), "LORA_TRAINER");
    srv_resp_free(&r);
    expect("GET", "/v1/accounts/local/trainingShapes/nope", NULL, 404, "nope");
    expect("POST", "/v1/accounts/local/trainingShapes", "{}", 405, NULL);
    /* create on the shape path */
    snprintf(path, sizeof path, JOBS "?trainingShape=%s&rlorTrainerJobId=shaped", vname);
    srv_call(&r, base, KEY, "POST", path, BM);
    assert_int_equal(r.status, 200);
    assert_int_equal((int)num(r.json, "nodeCount"), 2);
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(r.json, "trainingConfig");
    assert_string_equal(str(tc, "acceleratorType"), accel);
    assert_true(num(tc, "acceleratorCount") > 0);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", JOBS "/shaped", NULL);
    assert_int_equal((int)num(r.json, "nodeCount"), 2);
    srv_resp_free(&r);
    expect("POST", JOBS "?trainingShape=accounts/fireworks/trainingShapes/none&rlorTrainerJobId=shaped2", BM, 400,
           "none");
    expect("POST", JOBS "?trainingShape=accounts/fireworks/trainingShapes/fwl-full/versions/9&rlorTrainerJobId=shaped3",
           BM, 400, "fwl-full");
}

/* item 12: a trainer job needs trainingConfig.baseModel; numbers that do not fit their type are 400. */
static void test_validation(void **state)
{
    (void)state;
    expect("POST", JOBS "?rlorTrainerJobId=v-none", "{}", 400, "baseModel");
    expect("POST", JOBS "?rlorTrainerJobId=v-none", "{\"trainingConfig\":{\"loraRank\":8}}", 400, "baseModel");
    expect("POST", JOBS "?rlorTrainerJobId=v-none", "{\"trainingConfig\":{\"baseModel\":\"\"}}", 400, "baseModel");
    expect("GET", JOBS "/v-none", NULL, 404, NULL); /* nothing was stored */
    expect("POST", JOBS "?rlorTrainerJobId=v-snake", "{\"training_config\":{\"base_model\":\"accounts/x/models/y\"}}",
           200, NULL);
    expect("POST", JOBS "?rlorTrainerJobId=v-big",
           "{\"trainingConfig\":{\"baseModel\":\"m\",\"loraRank\":1e300}}", 400, "loraRank");
    expect("POST", JOBS "?rlorTrainerJobId=v-big", "{\"trainingConfig\":{\"baseModel\":\"m\",\"loraRank\":-1}}", 400,
           "loraRank");
    expect("POST", JOBS "?rlorTrainerJobId=v-big", "{\"trainingConfig\":{\"baseModel\":\"m\",\"loraRank\":2.5}}", 400,
           "loraRank");
    expect("POST", JOBS "?rlorTrainerJobId=v-big", "{\"nodeCount\":1e20," "\"trainingConfig\":{\"baseModel\":\"m\"}}",
           400, "nodeCount");
    expect("POST", JOBS "?rlorTrainerJobId=v-big",
           "{\"trainingConfig\":{\"baseModel\":\"m\",\"maxContextLength\":9.3e18}}", 400, "maxContextLength");
    expect("POST", JOBS "?rlorTrainerJobId=v-big",
           "{\"trainingConfig\":{\"baseModel\":\"m\",\"learningRate\":-1}}", 400, "learningRate");
    expect("GET", JOBS "/v-big", NULL, 404, NULL);
    expect("POST", "/v1/accounts/local/deployments?deploymentId=v-dep", "{\"maxReplicaCount\":1e300}", 400,
           "maxReplicaCount");
    expect("POST", "/v1/accounts/local/deployments?deploymentId=v-dep", "{\"minReplicaCount\":0.5}", 400,
           "minReplicaCount");
    expect("GET", JOBS "/v-snake/checkpoints?pageSize=99999999999999999999999", NULL, 400, "pageSize");
    expect("GET", JOBS "/v-snake/checkpoints?pageToken=o99999999999999999999999", NULL, 400, "pageToken");
    expect("GET", JOBS "/v-snake/checkpoints?pageSize=5", NULL, 200, NULL);
}

/* item 13: delta sampler rows carry the service's type name (arc_v2) and are not promotable. */
static void test_delta_row_type(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "dt-job");
    assert_non_null(m);
    int seq = 1;
    sampler_save("dt-job", m, &seq, "dt-base", "base");
    train_step("dt-job", m, &seq);
    sampler_save("dt-job", m, &seq, "dt-delta", "delta");
    srv_resp r;
    srv_call(&r, base, KEY, "GET", JOBS "/dt-job/checkpoints", NULL);
    assert_int_equal(r.status, 200);
    int seen = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r.json, "checkpoints"))
    {
        const char *name = str(row, "name"), *type = str(row, "checkpointType");
        bool promotable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "promotable"));
        if (strstr(name, "/dt-delta")) {
            assert_string_equal(type, "CHECKPOINT_TYPE_INFERENCE_ARC_V2");
            assert_false(promotable);
            seen++;
        } else if (strstr(name, "/dt-base")) {
            assert_string_equal(type, "CHECKPOINT_TYPE_INFERENCE_BASE");
            assert_true(promotable);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    srv_resp_free(&r);
    free(m);
}

/* The direct route (issue 13 item 2's server side): a running job reports its directRouteHandle; with
 * --no-gateway the gateway path answers 503 while the trainer works through the direct route. */
static void test_direct_route(void **state)
{
    (void)state;
    static const char *args[] = {"--job-start-ms", "0", "--no-gateway", NULL};
    fwt_local_server *s2 = srv_start(KEY, args);
    assert_non_null(s2);
    const char *b2 = fwt_local_server_url(s2);
    srv_resp r;
    srv_call(&r, b2, KEY, "POST", JOBS "?rlorTrainerJobId=gw-job", BM);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, b2, KEY, "GET", JOBS "/gw-job", NULL);
    assert_int_equal(r.status, 200);
    char direct[256], want[256];
    snprintf(direct, sizeof direct, "%s", str(r.json, "directRouteHandle") ? str(r.json, "directRouteHandle") : "");
    snprintf(want, sizeof want, "%s/direct/gw-job", b2);
    assert_string_equal(direct, want);
    srv_resp_free(&r);
    srv_call(&r, b2, KEY, "GET", "/training/v1/rlorTrainerJobs/local/gw-job/api/v1/healthz", NULL);
    assert_int_equal(r.status, 503);
    srv_resp_free(&r);
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/healthz", direct);
    srv_req(&r, "GET", url, KEY, NULL, NULL, 5000);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    snprintf(url, sizeof url, "%s/api/v1/create_session", direct);
    srv_req(&r, "POST", url, KEY, "{}", NULL, 5000);
    assert_int_equal(r.status, 200);
    assert_non_null(str(r.json, "session_id"));
    srv_resp_free(&r);
    srv_req(&r, "POST", url, NULL, "{}", NULL, 5000); /* the key is needed there too */
    assert_int_equal(r.status, 401);
    srv_resp_free(&r);
    assert_int_equal(srv_finish(s2), 0);
    /* without --no-gateway both paths reach the same trainer */
    srv_call(&r, base, KEY, "POST", JOBS "?rlorTrainerJobId=gw-both", BM);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/training/v1/rlorTrainerJobs/local/gw-both/api/v1/healthz", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/direct/gw-both/api/v1/healthz", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    expect("GET", "/direct/no-such-job/api/v1/healthz", NULL, 404, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_telemetry),       cmocka_unit_test(test_reattach_rolls_pod),
        cmocka_unit_test(test_training_shapes), cmocka_unit_test(test_validation),
        cmocka_unit_test(test_delta_row_type),  cmocka_unit_test(test_direct_route),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
