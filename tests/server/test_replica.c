/*
 * A deployment's replica applying sparse (version-3) deltas, in process (fwl_server_open + fwl_route, no sockets)
 * so the test can hold the served weights the way an inference request does. Every load is compared bit for bit
 * with the weights the snapshot stands for, rebuilt from the trainer's files by another path (fwl_snapshot_weights):
 *  - a delta over a base patches the held weights in place when nobody reads them (same buffer afterwards);
 *  - while a reader holds them they are never written: the new weights go into a buffer of their own (also after a
 *    base load, when the spare buffer holds older weights), and the reader keeps its bytes;
 *  - a delta whose base name was overwritten since the replica loaded it is refused (checksum), the replica keeps
 *    serving what it had;
 *  - a chain longer than the stored one writes a base, and a restart restores the exact bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ckpt.h"
#include "config.h"
#include "model.h"
#include "records.h"
#include "replica.h"
#include "replica_store.h"
#include "request.h"
#include "route.h"
#include "server.h"
#include "state.h"
#include "../support/fwl_inproc.h"

#define DIM 16
#define DEP "rd"
#define JOB "rj"
#define API "/training/v1/rlorTrainerJobs/local/" JOB "/api/v1/"

static fwl_server srv;
static char dir[256], model[64];
static int seq = 1, step_no;

/* One request through the route table; the parsed body of a 200 (asserted). */
static cJSON *call(const char *method, const char *path, const fwl_test_lk *l, const char *body)
{
    char *text = NULL;
    int status = fwl_test_route(&srv, method, path, l, body, &text);
    if (status != 200)
        fail_msg("%s %s -> %d %.300s", method, path, status, text ? text : "");
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static const char *jstr(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Submit + retrieve (in process the retrieve waits for the op); the op must succeed. */
static void op(const char *name, const char *body)
{
    char path[256], rb[256];
    snprintf(path, sizeof path, API "%s", name);
    cJSON *j = call("POST", path, NULL, body);
    snprintf(rb, sizeof rb, "{\"request_id\":\"%s\"}", jstr(j, "request_id"));
    cJSON_Delete(j);
    j = call("POST", API "retrieve_future", NULL, rb);
    if (cJSON_GetObjectItemCaseSensitive(j, "error"))
        fail_msg("%s failed: %s", name, jstr(j, "error"));
    cJSON_Delete(j);
}

/* One training step on a window of text that moves with the step (a sparse update). */
static void train(void)
{
    static const char text[] = "the replica applies only the chunks that changed and keeps readers safe; ";
    char b[4096];
    int n = snprintf(b, sizeof b,
                     "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_backward_input\":{\"loss_fn\":\"cross_entropy\","
                     "\"data\":[{\"model_input\":{\"chunks\":[{\"tokens\":[",
                     model, seq++);
    for (int i = 0; i < 24; i++)
        n += snprintf(b + n, sizeof b - (size_t)n, "%s%d", i ? "," : "", text[(step_no * 7 + i) % 70]);
    n += snprintf(b + n, sizeof b - (size_t)n, "]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[");
    for (int i = 0; i < 24; i++)
        n += snprintf(b + n, sizeof b - (size_t)n, "%s%d", i ? "," : "", text[(step_no * 7 + i + 1) % 70]);
    snprintf(b + n, sizeof b - (size_t)n, "]}}}]}}");
    step_no++;
    op("forward_backward", b);
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"adam_params\":{\"learning_rate\":0.01}}", model, seq++);
    op("optim_step", b);
}

static void save(const char *name, const char *type)
{
    char b[256];
    snprintf(b, sizeof b, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"checkpoint_type\":\"%s\"}", model,
             seq++, name, type);
    op("save_weights_for_sampler", b);
}

/* Posts a hotload and waits for it to land (1: the identity held and the stage done, as a reload of the held
 * identity after an error shows the identity at once) or fail (0, err set). */
static int hotload(const char *id, const char *prev, char *err, size_t el)
{
    fwl_test_lk l = {.hname = "fireworks-deployment", .hval = "accounts/local/deployments/" DEP};
    char b[512], want[256];
    if (prev)
        snprintf(b, sizeof b,
                 "{\"identity\":\"%s\",\"incremental_snapshot_metadata\":{\"previous_snapshot_identity\":\"%s\"}}", id,
                 prev);
    else
        snprintf(b, sizeof b, "{\"identity\":\"%s\"}", id);
    snprintf(want, sizeof want, "\"current_snapshot_identity\":\"%s\"", id);
    cJSON_Delete(call("POST", "/hot_load/v1/models/hot_load", &l, b));
    for (int i = 0; i < 600000; i++) {
        cJSON *r = call("GET", "/hot_load/v1/models/hot_load", &l, NULL);
        char *txt = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        assert_non_null(txt);
        bool landed = strstr(txt, want) && strstr(txt, "\"stage\":\"done\"");
        int done = landed ? 1 : strstr(txt, "\"stage\":\"error\"") ? 0 : -1;
        if (done == 0)
            snprintf(err, el, "%s", txt);
        free(txt);
        if (done == 1) {
            /* the record names it and holds no pending marker (written while the load ran, or skipped) */
            cJSON *rec = fwl_deployment_load(&srv, DEP);
            assert_non_null(rec);
            assert_string_equal(jstr(rec, "_currentIdentity"), id);
            assert_null(cJSON_GetObjectItemCaseSensitive(rec, "_pendingLoad"));
            cJSON_Delete(rec);
        }
        if (done >= 0)
            return done;
        struct timespec ts = {0, 100000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("hotload of %s never finished", id);
    return 0;
}

/* The served weights equal what snapshot `name` stands for, rebuilt from the trainer's files. */
static void assert_serves(const char *name)
{
    fwl_ckpt ck;
    fwl_model want = {0};
    char err[256];
    assert_int_equal(fwl_ckpt_get(&srv, JOB, name, &ck), 0);
    if (fwl_snapshot_weights(&srv, &ck, &want, err, sizeof err) != 0)
        fail_msg("snapshot %s: %s", name, err);
    fwl_weights *w = fwl_replica_weights(&srv, DEP);
    assert_non_null(w);
    const fwl_model *m = fwl_weights_model(w);
    assert_int_equal(m->n_params, want.n_params);
    assert_memory_equal(m->w, want.w, want.n_params * sizeof(float));
    fwl_weights_unref(&srv, w);
    fwl_model_free(&want);
}

static const float *served(fwl_weights **w)
{
    *w = fwl_replica_weights(&srv, DEP);
    assert_non_null(*w);
    return fwl_weights_model(*w)->w;
}

static void open_server(void)
{
    memset(&srv, 0, sizeof srv);
    fwl_config_defaults(&srv.cfg);
    snprintf(srv.cfg.data_dir, sizeof srv.cfg.data_dir, "%s", dir);
    srv.cfg.model_dim = DIM;
    srv.cfg.hotload_ms = 0;
    srv.cfg.job_start_ms = 0;
    srv.cfg.long_poll_ms = 600000;
    assert_int_equal(fwl_server_open(&srv), 0);
}

static int setup(void **state)
{
    (void)state;
    seq = 1; /* a new server and model each test */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%.200s/fwl-replica-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    open_server();
    fwl_test_lk q = {.qname = "rlorTrainerJobId", .qval = JOB};
    cJSON_Delete(call("POST", "/v1/accounts/local/rlorTrainerJobs", &q,
                      "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}"));
    cJSON_Delete(call("GET", "/v1/accounts/local/rlorTrainerJobs/" JOB, NULL, NULL)); /* CREATING -> RUNNING */
    cJSON *j = call("POST", API "create_session", NULL, "{}");
    char b[256];
    snprintf(b, sizeof b, "{\"session_id\":\"%s\",\"model_seq_id\":0}", jstr(j, "session_id"));
    cJSON_Delete(j);
    j = call("POST", API "create_model", NULL, b);
    snprintf(b, sizeof b, "{\"request_id\":\"%s\"}", jstr(j, "request_id"));
    cJSON_Delete(j);
    j = call("POST", API "retrieve_future", NULL, b);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");
    snprintf(model, sizeof model, "%s", jstr(res ? res : j, "model_id"));
    cJSON_Delete(j);
    assert_true(model[0] != 0);
    fwl_test_lk dq = {.qname = "deploymentId", .qval = DEP};
    cJSON_Delete(call("POST", "/v1/accounts/local/deployments", &dq,
                      "{\"baseModel\":\"b\",\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/" JOB "\"}"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fwl_server_close(&srv);
    fwl_test_rm_rf(dir);
    return 0;
}

static void test_in_place_and_readers(void **state)
{
    (void)state;
    char err[1024];
    train();
    save("b0", "base");
    assert_int_equal(hotload("b0", NULL, err, sizeof err), 1);
    assert_serves("b0");

    /* nobody reads: patched in place (the same buffer serves the new snapshot) */
    fwl_weights *w0;
    const float *before = served(&w0);
    fwl_weights_unref(&srv, w0);
    train();
    save("d1", "delta");
    assert_int_equal(hotload("d1", "b0", err, sizeof err), 1);
    assert_serves("d1");
    fwl_weights *w1;
    assert_ptr_equal(served(&w1), before);
    fwl_weights_unref(&srv, w1);

    /* a reader holds d1: it keeps d1's bytes, d2 lands in another buffer */
    fwl_weights *reader;
    const float *rw = served(&reader);
    size_t bytes = fwl_weights_model(reader)->n_params * sizeof(float);
    float *copy = malloc(bytes);
    assert_non_null(copy);
    memcpy(copy, rw, bytes);
    train();
    save("d2", "delta");
    assert_int_equal(hotload("d2", "d1", err, sizeof err), 1);
    assert_serves("d2");
    assert_memory_equal(rw, copy, bytes);
    fwl_weights *w2;
    assert_ptr_not_equal(served(&w2), rw);
    fwl_weights_unref(&srv, w2);
    fwl_weights_unref(&srv, reader);

    /* readers gone: the next delta is in place again */
    train();
    save("d3", "delta");
    assert_int_equal(hotload("d3", "d2", err, sizeof err), 1);
    assert_serves("d3");

    /* after a base load the spare holds older weights; a reader forces the copy from the held ones */
    train();
    save("b1", "base");
    assert_int_equal(hotload("b1", NULL, err, sizeof err), 1);
    assert_serves("b1");
    rw = served(&reader);
    memcpy(copy, rw, bytes);
    train();
    save("d4", "delta");
    assert_int_equal(hotload("d4", "b1", err, sizeof err), 1);
    assert_serves("d4");
    assert_memory_equal(rw, copy, bytes);
    fwl_weights_unref(&srv, reader);
    free(copy);
}

static void test_overwritten_base(void **state)
{
    (void)state;
    char err[1024];
    train();
    save("ow", "base");
    assert_int_equal(hotload("ow", NULL, err, sizeof err), 1);
    /* the name is saved again with other weights, and a delta computed against those */
    train();
    save("ow", "base");
    train();
    save("ow-d", "delta");
    assert_int_equal(hotload("ow-d", "ow", err, sizeof err), 0);
    assert_non_null(strstr(err, "checksum mismatch"));
    /* still serving the first "ow": the snapshot now named ow-d's base is not it */
    fwl_weights *w = fwl_replica_weights(&srv, DEP);
    assert_non_null(w);
    fwl_ckpt ck;
    fwl_model now = {0};
    assert_int_equal(fwl_ckpt_get(&srv, JOB, "ow", &ck), 0);
    assert_int_equal(fwl_snapshot_weights(&srv, &ck, &now, err, sizeof err), 0);
    assert_true(memcmp(fwl_weights_model(w)->w, now.w, now.n_params * sizeof(float)) != 0);
    fwl_model_free(&now);
    fwl_weights_unref(&srv, w);
    /* a base load recovers, and deltas follow it */
    assert_int_equal(hotload("ow", NULL, err, sizeof err), 1);
    assert_int_equal(hotload("ow-d", "ow", err, sizeof err), 1);
    assert_serves("ow-d");
}

static void test_long_chain_and_restart(void **state)
{
    (void)state;
    char err[1024], prev[32], name[32];
    train();
    save("c0", "base");
    assert_int_equal(hotload("c0", NULL, err, sizeof err), 1);
    snprintf(prev, sizeof prev, "c0");
    /* past the stored chain's length: one load writes a fresh base from the patched weights */
    for (int k = 1; k <= FWL_REPLICA_CHAIN_MAX + 2; k++) {
        train();
        snprintf(name, sizeof name, "c%d", k);
        save(name, "delta");
        assert_int_equal(hotload(name, prev, err, sizeof err), 1);
        snprintf(prev, sizeof prev, "%s", name);
    }
    assert_serves(prev);
    train();
    save("after", "delta");
    /* a restart restores exactly these bytes, and a delta saved before it applies after it (the root of the
     * restored weights is computed again) */
    fwl_server_close(&srv);
    open_server();
    assert_serves(prev);
    assert_int_equal(hotload("after", prev, err, sizeof err), 1);
    assert_serves("after");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_place_and_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwritten_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_chain_and_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
