/* fwtrain-local deployments, hotload, inference, promotion, models and operations.
 * The delta chain test checks what the service guarantees: after a base and five deltas the deployment's
 * weights are bit-identical to the trainer's (prompt logprobs from completions == forward logprobs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "hotload-key"

static fwt_local_server *srv;
static const char *base;

static int setup(void **state)
{
    (void)state;
    static const char *args[] = {"--job-start-ms", "0", "--hotload-ms", "20", "--promote-ms", "100", "--model-dim",
                                 "8", "--long-poll-ms", "2000", NULL};
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

static const int PROMPT[] = {84, 104, 101, 32, 113, 117, 105, 99, 107, 32, 98, 114, 111, 119, 110, 200, 7};
#define NP ((int)(sizeof PROMPT / sizeof PROMPT[0]))

static char *tokens_json(int from, int to)
{
    char *b = malloc(1024);
    size_t l = 0;
    l += (size_t)snprintf(b + l, 1024 - l, "[");
    for (int i = from; i < to; i++)
        l += (size_t)snprintf(b + l, 1024 - l, "%s%d", i > from ? "," : "", PROMPT[i]);
    snprintf(b + l, 1024 - l, "]");
    return b;
}

static void train_step(const char *job, const char *m, int *seq, int variant)
{
    char b[2048];
    /* different data each step so the weights really move between snapshots */
    snprintf(b, sizeof b,
             "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_backward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{"
             "\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":[%d,%d,%d]}]},\"loss_fn_inputs\":{"
             "\"target_tokens\":{\"data\":[%d,%d,%d],\"dtype\":\"int64\"}}}]}}",
             m, (*seq)++, 97 + variant, 98, 99 + variant, 98, 99 + variant, 100);
    cJSON *r = srv_op(base, KEY, job, "forward_backward", b);
    assert_non_null(r);
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"adam_params\":{\"learning_rate\":0.1}}", m, (*seq)++);
    r = srv_op(base, KEY, job, "optim_step", b);
    assert_null(str(r, "error"));
    cJSON_Delete(r);
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
    assert_string_equal(str(r, "path"), name);
    cJSON_Delete(r);
}

static void hotload_post(const char *dep, const char *identity, const char *prev)
{
    char url[512], hdr[256], body[512];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    const char *h[] = {hdr, "fireworks-model: accounts/fireworks/models/byte", NULL};
    if (prev)
        snprintf(body, sizeof body,
                 "{\"identity\":\"%s\",\"reset_prompt_cache\":true,\"incremental_snapshot_metadata\":{"
                 "\"previous_snapshot_identity\":\"%s\",\"compression_format\":\"arc_v2\",\"checksum_format\":\"alder32\"}}",
                 identity, prev);
    else
        snprintf(body, sizeof body, "{\"identity\":\"%s\",\"reset_prompt_cache\":true}", identity);
    srv_resp r;
    srv_req(&r, "POST", url, KEY, body, h, 5000);
    if (r.status != 200)
        fail_msg("hotload POST %s: %ld %s", identity, r.status, r.body ? r.body : "");
    srv_resp_free(&r);
}

/* Polls status until the replica holds `identity` (1) or reports error for it (0). */
static int hotload_wait(const char *dep, const char *identity, char *err, size_t el)
{
    char url[512], hdr[256];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    const char *h[] = {hdr, NULL};
    for (int i = 0; i < 6000; i++) {
        srv_resp r;
        srv_req(&r, "GET", url, KEY, NULL, h, 5000);
        assert_int_equal(r.status, 200);
        const cJSON *rep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "replicas"), 0);
        assert_non_null(rep);
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(rep, "loading_state");
        const char *cur = str(rep, "current_snapshot_identity");
        const char *stage = str(ls, "stage");
        const char *target = str(ls, "target_snapshot_identity");
        int done = -1;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "readiness")) && cur && !strcmp(cur, identity) &&
            stage && !strcmp(stage, "done"))
            done = 1;
        else if (stage && !strcmp(stage, "error") && target && !strcmp(target, identity)) {
            snprintf(err, el, "%s", str(ls, "error_message") ? str(ls, "error_message") : "");
            done = 0;
        }
        srv_resp_free(&r);
        if (done >= 0)
            return done;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("hotload of %s never settled", identity);
    return -1;
}

/* The trainer's forward logprobs of PROMPT[1..] vs the deployment's echo logprobs, as JSON number text. */
static void assert_same_weights(const char *job, const char *m, int *seq, const char *dep)
{
    char *toks = tokens_json(0, NP - 1), *tgts = tokens_json(1, NP);
    char b[4096];
    snprintf(b, sizeof b,
             "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{"
             "\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":%s}]},\"loss_fn_inputs\":{"
             "\"target_tokens\":{\"data\":%s,\"dtype\":\"int64\"}}}]}}",
             m, (*seq)++, toks, tgts);
    cJSON *fw = srv_op(base, KEY, job, "forward", b);
    assert_non_null(fw);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(fw, "loss_fn_outputs"), 0),
                                         "logprobs"),
        "data");
    assert_int_equal(cJSON_GetArraySize(lp), NP - 1);
    char *all = tokens_json(0, NP);
    snprintf(b, sizeof b,
             "{\"model\":\"accounts/local/deployments/%s\",\"prompt\":%s,\"max_tokens\":0,\"temperature\":0,"
             "\"echo\":true,\"logprobs\":1}",
             dep, all);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/inference/v1/completions", b);
    assert_int_equal(r.status, 200);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "choices"), 0);
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "logprobs"), "token_logprobs");
    assert_int_equal(cJSON_GetArraySize(tl), NP);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(tl, 0)));
    for (int i = 1; i < NP; i++) {
        char *x = cJSON_PrintUnformatted(cJSON_GetArrayItem(tl, i));
        char *y = cJSON_PrintUnformatted(cJSON_GetArrayItem(lp, i - 1));
        if (strcmp(x, y) != 0)
            fail_msg("token %d: deployment %s != trainer %s", i, x, y);
        free(x);
        free(y);
    }
    srv_resp_free(&r);
    cJSON_Delete(fw);
    free(toks);
    free(tgts);
    free(all);
}

static void create_deployment(const char *dep, const char *job)
{
    char path[256], body[512];
    snprintf(path, sizeof path, "/v1/accounts/local/deployments?deploymentId=%s", dep);
    snprintf(body, sizeof body,
             "{\"baseModel\":\"accounts/fireworks/models/byte\",\"description\":\"t\",\"minReplicaCount\":0,"
             "\"maxReplicaCount\":1,\"enableHotLoad\":true,\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/%s\"}",
             job);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", path, body);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "state"), "READY");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", path, body);
    assert_int_equal(r.status, 409);
    srv_resp_free(&r);
}

static void test_delta_chain(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "chain");
    int seq = 1;
    create_deployment("dep-chain", "chain");
    /* 425 while it holds nothing */
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/inference/v1/completions",
             "{\"model\":\"accounts/local/deployments/dep-chain\",\"prompt\":[1,2],\"max_tokens\":4,\"temperature\":0}");
    assert_int_equal(r.status, 425);
    srv_resp_free(&r);
    char err[512];
    train_step("chain", m, &seq, 0);
    sampler_save("chain", m, &seq, "s0-0000abcd", "base");
    hotload_post("dep-chain", "s0-0000abcd", NULL);
    assert_int_equal(hotload_wait("dep-chain", "s0-0000abcd", err, sizeof err), 1);
    assert_same_weights("chain", m, &seq, "dep-chain");
    char prev[64] = "s0-0000abcd";
    for (int k = 1; k <= 5; k++) {
        train_step("chain", m, &seq, k);
        char name[64];
        snprintf(name, sizeof name, "s%d-0000abcd", k);
        sampler_save("chain", m, &seq, name, "delta");
        hotload_post("dep-chain", name, prev);
        assert_int_equal(hotload_wait("dep-chain", name, err, sizeof err), 1);
        snprintf(prev, sizeof prev, "%s", name);
    }
    assert_same_weights("chain", m, &seq, "dep-chain");
    /* a retried POST of what it holds is a no-op */
    hotload_post("dep-chain", "s5-0000abcd", "s4-0000abcd");
    assert_int_equal(hotload_wait("dep-chain", "s5-0000abcd", err, sizeof err), 1);

    /* a delta whose previous identity is not what the replica holds -> stage error for that target */
    train_step("chain", m, &seq, 9);
    sampler_save("chain", m, &seq, "s6-0000abcd", "delta");
    hotload_post("dep-chain", "s6-0000abcd", "s3-0000abcd");
    assert_int_equal(hotload_wait("dep-chain", "s6-0000abcd", err, sizeof err), 0);
    assert_non_null(strstr(err, "previous_snapshot_identity"));
    /* a delta against the wrong base (the metadata lies): the checksum catches it */
    train_step("chain", m, &seq, 10);
    sampler_save("chain", m, &seq, "s7-0000abcd", "delta"); /* computed against s6 */
    hotload_post("dep-chain", "s7-0000abcd", "s5-0000abcd");
    assert_int_equal(hotload_wait("dep-chain", "s7-0000abcd", err, sizeof err), 0);
    assert_non_null(strstr(err, "checksum"));
    /* an unknown identity, and a DCP */
    hotload_post("dep-chain", "no-such-snap", NULL);
    assert_int_equal(hotload_wait("dep-chain", "no-such-snap", err, sizeof err), 0);
    /* the replica still serves s5 */
    char url[256], hdr[128];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/dep-chain");
    const char *h[] = {hdr, NULL};
    srv_req(&r, "GET", url, KEY, NULL, h, 5000);
    assert_non_null(strstr(r.body, "\"current_snapshot_identity\":\"s5-0000abcd\""));
    srv_resp_free(&r);
    /* a full base load recovers */
    sampler_save("chain", m, &seq, "s8-0000abcd", "base");
    hotload_post("dep-chain", "s8-0000abcd", NULL);
    assert_int_equal(hotload_wait("dep-chain", "s8-0000abcd", err, sizeof err), 1);
    assert_same_weights("chain", m, &seq, "dep-chain");
    /* greedy sampling is deterministic */
    const char *gb = "{\"model\":\"accounts/local/deployments/dep-chain\",\"prompt\":\"abc\",\"max_tokens\":5,"
                     "\"temperature\":0,\"logprobs\":1}";
    srv_resp a, c;
    srv_call(&a, base, KEY, "POST", "/inference/v1/completions", gb);
    srv_call(&c, base, KEY, "POST", "/inference/v1/completions", gb);
    assert_int_equal(a.status, 200);
    const cJSON *ca = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a.json, "choices"), 0);
    const cJSON *cc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c.json, "choices"), 0);
    assert_string_equal(str(ca, "text"), str(cc, "text"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ca, "logprobs"),
                                                                         "tokens")),
                     5);
    srv_resp_free(&a);
    srv_resp_free(&c);
    free(m);
}

static void test_deployments(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "dj-a");
    char *m2 = srv_setup_model(base, KEY, "dj-b");
    int seq = 1, seq2 = 1;
    create_deployment("dep-x", "dj-a");
    srv_resp r;
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/deployments/dep-x", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "hotLoadTrainerJob"), "accounts/local/rlorTrainerJobs/dj-a");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/deployments", NULL);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "deployments")) >= 1);
    srv_resp_free(&r);
    char err[256];
    sampler_save("dj-a", m, &seq, "a0-11112222", "base");
    hotload_post("dep-x", "a0-11112222", NULL);
    assert_int_equal(hotload_wait("dep-x", "a0-11112222", err, sizeof err), 1);
    /* a snapshot of another trainer is not in this deployment's bucket */
    train_step("dj-b", m2, &seq2, 3);
    sampler_save("dj-b", m2, &seq2, "b0-11112222", "base");
    hotload_post("dep-x", "b0-11112222", NULL);
    assert_int_equal(hotload_wait("dep-x", "b0-11112222", err, sizeof err), 0);
    /* re-attach to dj-b: the pod rolls (the old snapshot is gone; the new pod serves the base weights under a
     * fresh identity, see test_fidelity), then b0 loads */
    srv_call(&r, base, KEY, "PATCH", "/v1/accounts/local/deployments/dep-x?updateMask=hot_load_trainer_job",
             "{\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/dj-b\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "hotLoadTrainerJob"), "accounts/local/rlorTrainerJobs/dj-b");
    srv_resp_free(&r);
    char hsurl[256];
    snprintf(hsurl, sizeof hsurl, "%s/hot_load/v1/models/hot_load", base);
    const char *hsh[] = {"fireworks-deployment: accounts/local/deployments/dep-x", NULL};
    srv_req(&r, "GET", hsurl, KEY, NULL, hsh, 5000);
    assert_null(strstr(r.body, "a0-11112222"));
    srv_resp_free(&r);
    hotload_post("dep-x", "b0-11112222", NULL);
    assert_int_equal(hotload_wait("dep-x", "b0-11112222", err, sizeof err), 1);
    assert_same_weights("dj-b", m2, &seq2, "dep-x");
    /* a mask limits what changes */
    srv_call(&r, base, KEY, "PATCH", "/v1/accounts/local/deployments/dep-x?updateMask=description",
             "{\"description\":\"new\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/dj-a\"}");
    assert_string_equal(str(r.json, "description"), "new");
    assert_string_equal(str(r.json, "hotLoadTrainerJob"), "accounts/local/rlorTrainerJobs/dj-b");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "PATCH", "/v1/accounts/local/deployments/dep-x", "{\"maxReplicaCount\":\"x\"}");
    assert_int_equal(r.status, 400);
    srv_resp_free(&r);
    /* scale to zero (no mask, docs/protocol.md §3.7): no replica, no inference, no hotload; scaling up starts empty */
    srv_call(&r, base, KEY, "PATCH", "/v1/accounts/local/deployments/dep-x", "{\"maxReplicaCount\":0,\"minReplicaCount\":0}");
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    char hurl[256];
    snprintf(hurl, sizeof hurl, "%s/hot_load/v1/models/hot_load", base);
    const char *hh[] = {"fireworks-deployment: accounts/local/deployments/dep-x", NULL};
    srv_req(&r, "GET", hurl, KEY, NULL, hh, 5000);
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "replicas")), 0);
    srv_resp_free(&r);
    srv_req(&r, "POST", hurl, KEY, "{\"identity\":\"b0-11112222\"}", hh, 5000);
    assert_int_equal(r.status, 400);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/inference/v1/completions",
             "{\"model\":\"accounts/local/deployments/dep-x\",\"prompt\":[1],\"max_tokens\":1}");
    assert_int_equal(r.status, 425);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "PATCH", "/v1/accounts/local/deployments/dep-x", "{\"maxReplicaCount\":1}");
    srv_resp_free(&r);
    srv_req(&r, "GET", hurl, KEY, NULL, hh, 5000);
    assert_non_null(strstr(r.body, "\"current_snapshot_identity\":null"));
    srv_resp_free(&r);
    /* delete: then 404 everywhere */
    srv_call(&r, base, KEY, "DELETE", "/v1/accounts/local/deployments/dep-x?ignoreChecks=true&hard=true", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/deployments/dep-x", NULL);
    assert_int_equal(r.status, 404);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/inference/v1/completions",
             "{\"model\":\"accounts/local/deployments/dep-x\",\"prompt\":[1],\"max_tokens\":1}");
    assert_int_equal(r.status, 404);
    srv_resp_free(&r);
    free(m);
    free(m2);
}

static cJSON *promote(const char *ckpt, const char *job, const char *model, int async, long *status)
{
    char path[256], body[512];
    snprintf(path, sizeof path, "/v1/accounts/local/checkpoints/%s:promote", ckpt);
    snprintf(body, sizeof body,
             "{\"name\":\"accounts/local/rlorTrainerJobs/%s/checkpoints/%s\",\"output_model\":\"accounts/local/models/%s\","
             "\"trainer_job_id\":\"accounts/local/rlorTrainerJobs/%s\",\"base_model\":\"accounts/fireworks/models/byte\"%s}",
             job, ckpt, model, job, async ? ",\"async_promotion\":true" : "");
    srv_resp r;
    srv_call(&r, base, KEY, "POST", path, body);
    *status = r.status;
    cJSON *j = r.json;
    r.json = NULL;
    srv_resp_free(&r);
    return j;
}

static void test_promote(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "pr-a");
    int seq = 1;
    sampler_save("pr-a", m, &seq, "p0-abcdef01", "base");
    train_step("pr-a", m, &seq, 1);
    sampler_save("pr-a", m, &seq, "p1-abcdef01", "delta");
    char b[256];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"dcp-1\"}", m, seq++);
    cJSON_Delete(srv_op(base, KEY, "pr-a", "save_weights", b));
    long st;
    cJSON *j = promote("p0-abcdef01", "pr-a", "model-sync", 0, &st);
    assert_int_equal(st, 200);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    assert_string_equal(str(model, "name"), "accounts/local/models/model-sync");
    assert_string_equal(str(model, "state"), "READY");
    assert_string_equal(str(model, "kind"), "HF_BASE_MODEL");
    cJSON_Delete(j);
    /* the same promotion again is idempotent; another checkpoint into the same id conflicts */
    cJSON_Delete(promote("p0-abcdef01", "pr-a", "model-sync", 0, &st));
    assert_int_equal(st, 200);
    /* refusals */
    cJSON_Delete(j = promote("p1-abcdef01", "pr-a", "model-delta", 0, &st));
    assert_int_equal(st, 400);
    j = promote("p1-abcdef01", "pr-a", "model-delta", 1, &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(str(j, "message"), "delta"));
    cJSON_Delete(j);
    cJSON_Delete(promote("dcp-1", "pr-a", "model-dcp", 0, &st));
    assert_int_equal(st, 400);
    cJSON_Delete(promote("nope-abcdef01", "pr-a", "model-none", 0, &st));
    assert_int_equal(st, 400);
    cJSON_Delete(promote("p0-abcdef01", "pr-a", "Bad_Model", 0, &st));
    assert_int_equal(st, 400);
    char longid[80];
    memset(longid, 'a', 64);
    longid[64] = 0;
    cJSON_Delete(promote("p0-abcdef01", "pr-a", longid, 0, &st));
    assert_int_equal(st, 400);
    cJSON_Delete(promote("p0-abcdef01", "no-such-job", "model-x", 0, &st));
    assert_int_equal(st, 404);
    /* async: an operation polled until done, response = the model; works after the job is deleted */
    srv_resp r;
    srv_call(&r, base, KEY, "DELETE", "/v1/accounts/local/rlorTrainerJobs/pr-a", NULL);
    srv_resp_free(&r);
    j = promote("p0-abcdef01", "pr-a", "model-async", 1, &st);
    assert_int_equal(st, 200);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "operation");
    assert_non_null(op);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(op, "done")));
    char path[256];
    snprintf(path, sizeof path, "/v1/%s", str(op, "name"));
    assert_non_null(strstr(path, "/v1/accounts/local/operations/"));
    cJSON_Delete(j);
    int done = 0;
    for (int i = 0; i < 3000 && !done; i++) {
        srv_call(&r, base, KEY, "GET", path, NULL);
        assert_int_equal(r.status, 200);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "done"))) {
            done = 1;
            const cJSON *resp = cJSON_GetObjectItemCaseSensitive(r.json, "response");
            assert_string_equal(str(resp, "name"), "accounts/local/models/model-async");
            assert_string_equal(str(resp, "state"), "READY");
        }
        srv_resp_free(&r);
        if (!done) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(done);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/models/model-async", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "kind"), "HF_BASE_MODEL");
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/models", NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "models")), 2);
    srv_resp_free(&r);
    free(m);
}

static char *lora_model(const char *job, const char *sid, int model_seq, const char **err_out)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"session_id\":\"%s\",\"model_seq_id\":%d,\"base_model\":\"accounts/fireworks/models/byte\","
             "\"lora_config\":{\"rank\":8,\"alpha\":32,\"train_mlp\":true,\"train_attn\":true,\"train_unembed\":true}}",
             sid, model_seq);
    static char err[512];
    cJSON *r = srv_op(base, KEY, job, "create_model", body);
    char *mid = str(r, "model_id") ? strdup(str(r, "model_id")) : NULL;
    snprintf(err, sizeof err, "%s", str(r, "error") ? str(r, "error") : "");
    *err_out = err;
    cJSON_Delete(r);
    return mid;
}

/* LoRA trainers (docs/protocol.md §4.1, §4.6, §3.6, §5): 2 concurrent sessions, adapters always saved whole and promotable,
 * PEFT add-on models, and no incremental metadata on hotload. */
static void test_lora(void **state)
{
    (void)state;
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=lora-a",
             "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\",\"loraRank\":8}}");
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/lora-a/api/v1/create_session", "{}");
    assert_int_equal(r.status, 200);
    char sid[128];
    snprintf(sid, sizeof sid, "%s", str(r.json, "session_id"));
    srv_resp_free(&r);
    const char *err;
    char *m1 = lora_model("lora-a", sid, 0, &err);
    char *m2 = lora_model("lora-a", sid, 1, &err);
    assert_non_null(m1);
    assert_non_null(m2);
    char *m3 = lora_model("lora-a", sid, 2, &err);
    assert_null(m3);
    assert_non_null(strstr(err, "maximum of 2 concurrent sessions"));
    char ub[256];
    snprintf(ub, sizeof ub, "{\"model_id\":\"%s\",\"type\":\"unload_model\"}", m2);
    cJSON_Delete(srv_op(base, KEY, "lora-a", "unload_model", ub));
    m3 = lora_model("lora-a", sid, 3, &err);
    assert_non_null(m3);
    int seq = 1;
    train_step("lora-a", m1, &seq, 1);
    sampler_save("lora-a", m1, &seq, "l0-12345678", "base");
    train_step("lora-a", m1, &seq, 2);
    sampler_save("lora-a", m1, &seq, "l1-12345678", "delta"); /* stored whole */
    char b[256];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"lora-dcp\"}", m1, seq++);
    cJSON_Delete(srv_op(base, KEY, "lora-a", "save_weights", b));
    srv_call(&r, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/lora-a/checkpoints", NULL);
    const cJSON *row;
    int n = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(r.json, "checkpoints"))
    {
        n++;
        const char *name = str(row, "name"), *type = str(row, "checkpointType");
        if (strstr(name, "lora-dcp")) {
            assert_string_equal(type, "CHECKPOINT_TYPE_TRAINING_LORA");
            assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(row, "promotable")));
        } else {
            assert_string_equal(type, "CHECKPOINT_TYPE_INFERENCE_LORA");
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "promotable")));
        }
    }
    assert_int_equal(n, 3);
    srv_resp_free(&r);
    long st;
    cJSON *j = promote("l1-12345678", "lora-a", "lora-addon", 0, &st);
    assert_int_equal(st, 200);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    assert_string_equal(str(model, "kind"), "HF_PEFT_ADDON");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(model, "peftDetails"), "r")
                         ->valuedouble,
                     8);
    cJSON_Delete(j);
    /* hotload: whole loads work, incremental metadata is refused */
    create_deployment("dep-lora", "lora-a");
    char e2[512];
    hotload_post("dep-lora", "l0-12345678", NULL);
    assert_int_equal(hotload_wait("dep-lora", "l0-12345678", e2, sizeof e2), 1);
    hotload_post("dep-lora", "l1-12345678", "l0-12345678");
    assert_int_equal(hotload_wait("dep-lora", "l1-12345678", e2, sizeof e2), 0);
    assert_non_null(strstr(e2, "LoRA"));
    hotload_post("dep-lora", "l1-12345678", NULL);
    assert_int_equal(hotload_wait("dep-lora", "l1-12345678", e2, sizeof e2), 1);
    free(m1);
    free(m2);
    free(m3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delta_chain),
        cmocka_unit_test(test_deployments),
        cmocka_unit_test(test_promote),
        cmocka_unit_test(test_lora),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
