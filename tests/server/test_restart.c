/* fwtrain-local durability: kill -9 (also in the middle of saves) and restart on the same data dir.
 * Jobs, checkpoints, deployments' snapshots, models and operations survive; no partial checkpoint is listed;
 * live state (models, sessions, promises) is gone and says so (404 / 410). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "restart-key"

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static fwt_local_server *start(const char *promote_ms)
{
    const char *args[] = {"--job-start-ms", "0", "--hotload-ms", "0", "--promote-ms", promote_ms, "--model-dim", "8",
                          "--long-poll-ms", "2000", NULL};
    return srv_start(KEY, args);
}

static cJSON *opf(const char *base, const char *job, const char *op, const char *mid, int seq, const char *extra)
{
    char b[1024];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d%s}", mid, seq, extra);
    return srv_op(base, KEY, job, op, b);
}

static char *completion(const char *base, const char *dep)
{
    char b[512];
    snprintf(b, sizeof b,
             "{\"model\":\"accounts/local/deployments/%s\",\"prompt\":[5,6,7,8,9],\"max_tokens\":3,\"temperature\":0,"
             "\"echo\":true,\"logprobs\":1}",
             dep);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/inference/v1/completions", b);
    char *out = NULL;
    if (r.status == 200)
        out = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "choices"), 0),
                                             "logprobs"),
            "token_logprobs"));
    srv_resp_free(&r);
    return out;
}

static void test_state_survives_kill9(void **state)
{
    (void)state;
    fwt_local_server *s = start("60000"); /* the async promotion stays pending until after the crash */
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *m = srv_setup_model(base, KEY, "dur");
    assert_non_null(m);
    cJSON *r;
    r = opf(base, "dur", "forward_backward", m, 1,
            ",\"forward_backward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{\"model_input\":{\"chunks\":[{"
            "\"tokens\":[5,6,7]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[6,7,8]}}}]}");
    cJSON_Delete(r);
    cJSON_Delete(opf(base, "dur", "optim_step", m, 2, ",\"adam_params\":{\"learning_rate\":0.1}"));
    cJSON_Delete(opf(base, "dur", "save_weights", m, 3, ",\"path\":\"dcp-a\""));
    cJSON_Delete(opf(base, "dur", "save_weights_for_sampler", m, 4, ",\"path\":\"sa-00000001\",\"checkpoint_type\":\"base\""));
    r = opf(base, "dur", "forward_backward", m, 5,
            ",\"forward_backward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{\"model_input\":{\"chunks\":[{"
            "\"tokens\":[9,9,9]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[1,2,3]}}}]}");
    cJSON_Delete(r);
    cJSON_Delete(opf(base, "dur", "optim_step", m, 6, ",\"adam_params\":{\"learning_rate\":0.1}"));
    /* sb differs from sa, so a delta computed against sb cannot apply to sa */
    cJSON_Delete(opf(base, "dur", "save_weights_for_sampler", m, 7, ",\"path\":\"sb-00000001\",\"checkpoint_type\":\"delta\""));
    srv_resp resp;
    srv_call(&resp, base, KEY, "POST", "/v1/accounts/local/deployments?deploymentId=dur-dep",
             "{\"baseModel\":\"b\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/dur\"}");
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    char url[512];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    const char *h[] = {"fireworks-deployment: accounts/local/deployments/dur-dep", NULL};
    srv_req(&resp, "POST", url, KEY, "{\"identity\":\"sa-00000001\"}", h, 5000);
    srv_resp_free(&resp);
    char *before = NULL;
    for (int i = 0; i < 3000 && !before; i++) {
        before = completion(base, "dur-dep");
        if (!before) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_non_null(before);
    srv_call(&resp, base, KEY, "POST", "/v1/accounts/local/checkpoints/sa-00000001:promote",
             "{\"output_model\":\"accounts/local/models/dur-model\",\"trainer_job_id\":\"accounts/local/rlorTrainerJobs/dur\","
             "\"base_model\":\"b\",\"async_promotion\":true}");
    assert_int_equal(resp.status, 200);
    char op[256];
    snprintf(op, sizeof op, "/v1/%s", str(cJSON_GetObjectItemCaseSensitive(resp.json, "operation"), "name"));
    srv_resp_free(&resp);
    char *pending = srv_submit(base, KEY, "dur", "forward", "{\"model_id\":\"x\",\"seq_id\":1}", NULL);
    assert_null(pending); /* unknown model: 404 */
    /* a promise from before the crash */
    char *rid = srv_submit(base, KEY, "dur", "optim_step", "", NULL);
    assert_null(rid);
    char body[1024];
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"seq_id\":8}", m);
    rid = srv_submit(base, KEY, "dur", "optim_step", body, NULL);
    assert_non_null(rid);

    assert_int_equal(fwt_local_server_kill9(s), 0);
    assert_int_equal(fwt_local_server_restart(s), 0);
    base = fwt_local_server_url(s);

    srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/dur", NULL);
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/dur/checkpoints", NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp.json, "checkpoints")), 3);
    srv_resp_free(&resp);
    /* the deployment serves the same weights */
    char *after = completion(base, "dur-dep");
    assert_non_null(after);
    assert_string_equal(before, after);
    free(after);
    /* live state is gone: the old promise is 410, the old model 404 */
    snprintf(body, sizeof body, "{\"request_id\":\"%s\"}", rid);
    srv_call(&resp, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/dur/api/v1/retrieve_future", body);
    assert_int_equal(resp.status, 410);
    srv_resp_free(&resp);
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"seq_id\":9}", m);
    srv_call(&resp, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/dur/api/v1/optim_step", body);
    assert_int_equal(resp.status, 404);
    srv_resp_free(&resp);
    /* the pending promotion finishes after the restart */
    int done = 0;
    for (int i = 0; i < 3000 && !done; i++) {
        srv_call(&resp, base, KEY, "GET", op, NULL);
        assert_int_equal(resp.status, 200);
        done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp.json, "done"));
        srv_resp_free(&resp);
        if (!done) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(done);
    srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/models/dur-model", NULL);
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    /* a new model on the restarted trainer: a delta continues the chain from disk, the DCP loads */
    char *m2 = NULL;
    srv_call(&resp, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/dur/api/v1/create_session", "{}");
    snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"model_seq_id\":0}", str(resp.json, "session_id"));
    srv_resp_free(&resp);
    r = srv_op(base, KEY, "dur", "create_model", body);
    m2 = strdup(str(r, "model_id"));
    cJSON_Delete(r);
    r = opf(base, "dur", "load_weights", m2, 1, ",\"path\":\"dcp-a\",\"optimizer\":true");
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    r = opf(base, "dur", "save_weights_for_sampler", m2, 2, ",\"path\":\"sc-00000002\",\"checkpoint_type\":\"delta\"");
    if (str(r, "error"))
        fail_msg("delta after restart: %s", str(r, "error"));
    cJSON_Delete(r);
    srv_req(&resp, "POST", url, KEY, NULL, h, 5000); /* url has the old port: rebuild */
    srv_resp_free(&resp);
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    srv_req(&resp, "POST", url, KEY,
            "{\"identity\":\"sc-00000002\",\"incremental_snapshot_metadata\":{\"previous_snapshot_identity\":\"sa-00000001\"}}",
            h, 5000);
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    /* sb was never loaded: sc is a delta against sb, so the replica (holding sa) must refuse it */
    int settled = 0;
    for (int i = 0; i < 3000 && !settled; i++) {
        srv_req(&resp, "GET", url, KEY, NULL, h, 5000);
        settled = strstr(resp.body, "\"stage\":\"error\"") != NULL;
        assert_null(strstr(resp.body, "\"current_snapshot_identity\":\"sc-00000002\""));
        srv_resp_free(&resp);
        if (!settled) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(settled);
    free(m2);
    free(rid);
    free(before);
    free(m);
    assert_int_equal(srv_finish(s), 0);
}

typedef struct saver {
    const char *base;
    const char *mid;
    int stop;
    int saves;
} saver;

static void *saver_main(void *p)
{
    saver *sv = p;
    for (int seq = 1; !__atomic_load_n(&sv->stop, __ATOMIC_SEQ_CST); seq++) {
        char b[256];
        snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"k-%d\"%s}", sv->mid, seq, seq % 4,
                 seq % 3 == 0 ? ",\"type\":\"save_weights\"" : "");
        char *id = srv_submit(sv->base, KEY, "crash", seq % 2 ? "save_weights" : "save_weights_for_sampler", b, NULL);
        if (!id)
            break;
        free(id);
        __atomic_add_fetch(&sv->saves, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_kill9_mid_save(void **state)
{
    (void)state;
    const char *args[] = {"--job-start-ms", "0", "--model-dim", "16", NULL};
    fwt_local_server *s = srv_start(KEY, args);
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *m = srv_setup_model(base, KEY, "crash");
    assert_non_null(m);
    saver sv = {base, m, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, saver_main, &sv);
    /* crash while saves are in flight, after at least one completed (robust to a slow machine) */
    srv_resp resp;
    int listed = 0;
    for (int i = 0; i < 2000 && !listed; i++) {
        srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/crash/checkpoints", NULL);
        listed = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp.json, "checkpoints")) > 0;
        srv_resp_free(&resp);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(listed);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(fwt_local_server_kill9(s), 0);
    __atomic_store_n(&sv.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    assert_true(sv.saves > 0);
    assert_int_equal(fwt_local_server_restart(s), 0);
    base = fwt_local_server_url(s);
    /* every listed checkpoint is complete: DCPs load, base sampler snapshots promote */
    srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/crash/checkpoints", NULL);
    assert_int_equal(resp.status, 200);
    cJSON *rows = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(resp.json, "checkpoints"), 1);
    srv_resp_free(&resp);
    char *m2 = srv_setup_model(base, KEY, "crash2"); /* another job, loading cross_job */
    assert_non_null(m2);
    int seq = 1, dcp = 0, base_rows = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        const char *name = strrchr(str(row, "name"), '/') + 1;
        if (strstr(str(row, "checkpointType"), "TRAINING")) {
            char extra[256];
            snprintf(extra, sizeof extra, ",\"path\":\"cross_job://crash/%s\",\"optimizer\":true", name);
            cJSON *r = opf(base, "crash2", "load_weights", m2, seq++, extra);
            if (str(r, "error"))
                fail_msg("listed checkpoint %s does not load: %s", name, str(r, "error"));
            cJSON_Delete(r);
            dcp++;
        } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "promotable"))) {
            char path[256], body[512];
            snprintf(path, sizeof path, "/v1/accounts/local/checkpoints/%s:promote", name);
            snprintf(body, sizeof body,
                     "{\"output_model\":\"accounts/local/models/crash-%d\",\"trainer_job_id\":\"accounts/local/"
                     "rlorTrainerJobs/crash\",\"base_model\":\"b\"}",
                     base_rows);
            srv_call(&resp, base, KEY, "POST", path, body);
            assert_int_equal(resp.status, 200);
            srv_resp_free(&resp);
            base_rows++;
        }
    }
    assert_true(dcp + base_rows > 0);
    cJSON_Delete(rows);
    /* no temp file is mistaken for a checkpoint, and each meta points at an existing data file */
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/jobs/crash/checkpoints", fwt_local_server_data_dir(s));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && !strstr(e->d_name, ".tmp.")) {
            char p[4600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            FILE *f = fopen(p, "r");
            char buf[2048] = {0};
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            cJSON *meta = cJSON_Parse(buf);
            assert_non_null(meta);
            snprintf(p, sizeof p, "%s/%s", dir, str(meta, "file"));
            FILE *df = fopen(p, "r");
            assert_non_null(df);
            fclose(df);
            cJSON_Delete(meta);
        }
    }
    closedir(d);
    /* and the restart removed every leftover: no temp file, no data file without a meta */
    d = opendir(dir);
    int bins = 0, metas = 0;
    while ((e = readdir(d)) != NULL) {
        assert_null(strstr(e->d_name, ".tmp."));
        size_t l = strlen(e->d_name);
        bins += l > 4 && !strcmp(e->d_name + l - 4, ".bin");
        metas += l > 5 && !strcmp(e->d_name + l - 5, ".json");
    }
    closedir(d);
    assert_int_equal(bins, metas);
    free(m);
    free(m2);
    assert_int_equal(srv_finish(s), 0);
}

/* Waits for the deployment to hold `id` (fails on stage error); the hotload status body as seen last. */
static void wait_identity(const char *base, const char *dep, const char *id)
{
    char url[512], hdr[256], want[256];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    snprintf(want, sizeof want, "\"current_snapshot_identity\":\"%s\"", id);
    const char *h[] = {hdr, NULL};
    for (int i = 0; i < 6000; i++) {
        srv_resp r;
        srv_req(&r, "GET", url, KEY, NULL, h, 5000);
        bool done = r.body && strstr(r.body, want) != NULL;
        if (r.body && strstr(r.body, "\"stage\":\"error\""))
            fail_msg("hotload of %s failed: %s", id, r.body);
        srv_resp_free(&r);
        if (done)
            return;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("hotload of %s never finished", id);
}

/* POSTs a load of `id` (incremental over prev when not NULL) and returns once the server accepted it. */
static void hotload_start(const char *base, const char *dep, const char *id, const char *prev)
{
    char url[512], hdr[256], body[512];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    if (prev)
        snprintf(body, sizeof body,
                 "{\"identity\":\"%s\",\"incremental_snapshot_metadata\":{\"previous_snapshot_identity\":\"%s\"}}", id,
                 prev);
    else
        snprintf(body, sizeof body, "{\"identity\":\"%s\"}", id);
    const char *h[] = {hdr, NULL};
    srv_resp r;
    srv_req(&r, "POST", url, KEY, body, h, 5000);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
}

static void hotload(const char *base, const char *dep, const char *id, const char *prev)
{
    hotload_start(base, dep, id, prev);
    wait_identity(base, dep, id);
}

/* Files in DATA/deployments ending in suffix. */
static int count_files(fwt_local_server *s, const char *suffix)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/deployments", fwt_local_server_data_dir(s));
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    size_t sl = strlen(suffix);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t l = strlen(e->d_name);
        n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* A replica that followed a long delta chain is stored as a base plus the deltas since (not one full copy per
 * hotload), and after kill -9 it serves exactly the same weights: the same logprobs, and the next delta of the
 * chain (whose checksum covers the whole result) applies to the restored bytes. */
static void test_delta_chain_survives_kill9(void **state)
{
    (void)state;
    fwt_local_server *s = start("200");
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *m = srv_setup_model(base, KEY, "chain");
    assert_non_null(m);
    srv_resp resp;
    srv_call(&resp, base, KEY, "POST", "/v1/accounts/local/deployments?deploymentId=chain-dep",
             "{\"baseModel\":\"b\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/chain\"}");
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    const int n = 22; /* longer than the stored chain's bound (16): a fresh base is written along the way */
    int seq = 1;
    char name[64], prev[64];
    for (int k = 0; k <= n; k++) {
        cJSON_Delete(opf(base, "chain", "forward_backward", m, seq++,
                         ",\"forward_backward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{\"model_input\":{"
                         "\"chunks\":[{\"tokens\":[5,6,7,8,9]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[6,7,8,9,"
                         "10]}}}]}"));
        cJSON_Delete(opf(base, "chain", "optim_step", m, seq++, ",\"adam_params\":{\"learning_rate\":0.01}"));
        snprintf(name, sizeof name, "c-%08d", k);
        char extra[128];
        snprintf(extra, sizeof extra, ",\"path\":\"%s\",\"checkpoint_type\":\"%s\"", name, k ? "delta" : "base");
        cJSON *r = opf(base, "chain", "save_weights_for_sampler", m, seq++, extra);
        assert_null(str(r, "error"));
        cJSON_Delete(r);
        if (k < n) /* the last one is loaded after the restart */
            hotload(base, "chain-dep", name, k ? prev : NULL);
        snprintf(prev, sizeof prev, "%s", name);
    }
    int deltas = count_files(s, ".delta"), bases = count_files(s, ".safetensors");
    printf("stored chain after %d hotloads: 1 base + %d deltas on disk (%d .safetensors)\n", n, deltas, bases);
    assert_int_equal(bases, 1);
    assert_true(deltas >= 1 && deltas <= 16);
    char *before = completion(base, "chain-dep");
    assert_non_null(before);
    assert_int_equal(fwt_local_server_kill9(s), 0);
    assert_int_equal(fwt_local_server_restart(s), 0);
    base = fwt_local_server_url(s);
    char *after = completion(base, "chain-dep");
    assert_non_null(after);
    assert_string_equal(before, after);
    char last_loaded[64];
    snprintf(last_loaded, sizeof last_loaded, "c-%08d", n - 1);
    hotload(base, "chain-dep", prev, last_loaded); /* c-n over the restored c-(n-1): exact bytes or a checksum error */
    char *next = completion(base, "chain-dep");
    assert_non_null(next);
    assert_string_not_equal(next, after); /* it moved on (the prompt's contexts were trained) */
    free(next);
    free(after);
    free(before);
    free(m);
    assert_int_equal(srv_finish(s), 0);
}

/* A load the deployment accepted and had not finished when the server was killed is resumed by the restart (on the
 * service a trainer restart does not drop the deployment's hotload): a client waiting for it sees it land. The
 * load takes 2 s, so the kill normally interrupts it; if the machine was slower than that, the test says so and
 * checks only that the restart serves it. */
static void test_accepted_hotload_survives_kill9(void **state)
{
    (void)state;
    const char *args[] = {"--job-start-ms", "0", "--hotload-ms", "2000", "--model-dim", "8", NULL};
    fwt_local_server *s = srv_start(KEY, args);
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *m = srv_setup_model(base, KEY, "pend");
    assert_non_null(m);
    srv_resp resp;
    srv_call(&resp, base, KEY, "POST", "/v1/accounts/local/deployments?deploymentId=pend-dep",
             "{\"baseModel\":\"b\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/pend\"}");
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    cJSON *r = opf(base, "pend", "save_weights_for_sampler", m, 1, ",\"path\":\"p-00000001\",\"checkpoint_type\":\"base\"");
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    hotload_start(base, "pend-dep", "p-00000001", NULL);
    srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/deployments/pend-dep", NULL); /* the record hides it */
    assert_int_equal(resp.status, 200);
    assert_null(strstr(resp.body, "_pendingLoad"));
    srv_resp_free(&resp);
    char url[512];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", base);
    const char *h[] = {"fireworks-deployment: accounts/local/deployments/pend-dep", NULL};
    srv_req(&resp, "GET", url, KEY, NULL, h, 5000);
    bool in_flight = resp.body && !strstr(resp.body, "\"current_snapshot_identity\":\"p-00000001\"");
    srv_resp_free(&resp);
    assert_int_equal(fwt_local_server_kill9(s), 0);
    assert_int_equal(fwt_local_server_restart(s), 0);
    printf("# the kill came %s the load finished\n", in_flight ? "before" : "after");
    wait_identity(fwt_local_server_url(s), "pend-dep", "p-00000001");
    free(m);
    assert_int_equal(srv_finish(s), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_survives_kill9),
        cmocka_unit_test(test_kill9_mid_save),
        cmocka_unit_test(test_delta_chain_survives_kill9),
        cmocka_unit_test(test_accepted_hotload_survives_kill9),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
