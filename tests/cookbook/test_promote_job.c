/*
 * Promotion without the caller naming the base model (issue 12 item 4), and
 * `fwtrain promote --hot-load-deployment-id` (item 8):
 *  - fwt_promote_checkpoint_by_id_result / fwt_promote_checkpoint with
 *    base_model NULL read the job's trainingConfig.baseModel (fwtrain-local);
 *    an unknown job fails naming it, an empty base_model is refused;
 *  - `fwtrain promote --job-id J` without --base-model, and from a registry
 *    entry that records none, take the job's;
 *  - `--hot-load-deployment-id` reaches the :promote request body (a scripted
 *    server records it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fwtrain/fwtrain.h"
#include "fixture.h"
#include "proc.h"
#include "responder.h"

#define JOB "promote-job"

static char snapshot[128]; /* a promotable (base) sampler snapshot of JOB */

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--job-start-ms", "10", "--promote-ms", "20", NULL};
    fx_opts o = {.root_tag = "promjob", .api_key = "promote-job-key", .server_args = args, .export_env = 1};
    if (fx_start(&o) != 0 || fx_create_job(fx.client, JOB) != FWT_OK)
        return -1;
    fwt_training *t = fx_open_on(fx.client, JOB);
    fwt_sampler_save *ss = NULL;
    int ok = t &&
             fwt_training_save_weights_for_sampler_ext_result(&ss, t, "final", FWT_SAMPLER_BASE, 0, 30000) == FWT_OK;
    if (ok)
        snprintf(snapshot, sizeof snapshot, "%s", fwt_sampler_save_snapshot_name(ss));
    fwt_sampler_save_free(ss);
    fwt_training_free(t);
    return ok ? 0 : -1;
}

static fwt_promote_options fast(void)
{
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 20;
    return po;
}

static void test_library_reads_the_jobs_base_model(void **state)
{
    (void)state;
    fwt_promote_options po = fast();
    fwt_model *m = NULL;
    /* the cookbook's three-argument form: (job, checkpoint id, output model id) */
    int rc = fwt_promote_checkpoint_by_id_result(&m, fx.client, JOB, snapshot, "prom-by-id", NULL, &po, 0);
    if (rc != FWT_OK)
        fail_msg("promote by id without base_model: %s", fwt_error_last()->message);
    assert_non_null(strstr(fwt_model_name(m), "/models/prom-by-id"));
    assert_string_equal(fwt_model_base_model(m), MODEL);
    fwt_model_free(m);

    /* the future form with a 4-segment name */
    char name[256];
    snprintf(name, sizeof name, "accounts/%s/rlorTrainerJobs/%s/checkpoints/%s", fwt_local_server_account(fx.srv), JOB,
             snapshot);
    fwt_future *f = NULL;
    assert_int_equal(fwt_promote_checkpoint(&f, fx.client, name, "prom-by-name", NULL, &po), FWT_OK);
    assert_int_equal(fwt_future_wait(f, -1), FWT_OK);
    assert_int_equal(fwt_future_take_model(&m, f), FWT_OK);
    assert_string_equal(fwt_model_base_model(m), MODEL);
    fwt_model_free(m);
    fwt_future_free(f);

    /* the discard form of the twin */
    assert_int_equal(fwt_promote_checkpoint_by_id_result(NULL, fx.client, JOB, snapshot, "prom-discard", NULL, &po, 0),
                     FWT_OK);

    /* a job that does not exist: the failure says what was being read */
    m = (fwt_model *)1;
    rc = fwt_promote_checkpoint_by_id_result(&m, fx.client, "no-such-job", snapshot, "prom-missing", NULL, &po, 0);
    assert_int_equal(rc, FWT_ENOTFOUND);
    assert_null(m);
    const char *msg = fwt_error_last()->message;
    if (!strstr(msg, "reading it from trainer job no-such-job"))
        fail_msg("message \"%s\" does not say the base model was being read from the job", msg);

    /* an empty base_model is a mistake, not "read it from the job" */
    assert_int_equal(fwt_promote_checkpoint_by_id(&f, fx.client, JOB, snapshot, "prom-empty", "", &po), FWT_EINVAL);
    assert_null(f);
    assert_non_null(strstr(fwt_error_last()->message, "base_model is empty"));
}

static void run_cli(proc_result *r, char *const *args)
{
    char *argv[16] = {FWT_CLI, "promote", "--poll-interval-ms", "50"};
    size_t n = 4;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    assert_int_equal(proc_run(r, argv, 0), 0);
}

static void test_cli_without_base_model(void **state)
{
    (void)state;
    proc_result r;
    char *job_args[] = {"--job-id", JOB, "--output-model-id", "cli-job-no-base", NULL};
    run_cli(&r, job_args);
    if (r.exit_code != 0)
        fail_msg("promote --job-id without --base-model (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.err, "base model " MODEL " (from trainer job " JOB ")"));
    assert_non_null(strstr(r.out, "/models/cli-job-no-base\n"));
    proc_result_free(&r);

    /* a registry entry that records no base_model */
    char jsonl[128];
    snprintf(jsonl, sizeof jsonl, "%s/checkpoints.jsonl", fx.root);
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = "final";
    e.step = 3;
    e.sampler_path = snapshot;
    e.source_job_id = JOB;
    assert_int_equal(fwt_registry_append(fx.root, &e), FWT_OK);
    char *file_args[] = {"--checkpoints-jsonl", jsonl, NULL};
    run_cli(&r, file_args);
    if (r.exit_code != 0)
        fail_msg("promote from an entry without base_model (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.err, "(from trainer job " JOB ")"));
    assert_non_null(strstr(r.out, "/models/fwtrain-local-byte-promote-")); /* the automatic id uses it */
    proc_result_free(&r);

    /* a job that does not exist: exit 3 is for "nothing to promote", this is a failure naming the job */
    char *bad_args[] = {"--job-id", "no-such-job", "--checkpoint-name", "x", NULL};
    run_cli(&r, bad_args);
    assert_int_not_equal(r.exit_code, 0);
    assert_non_null(strstr(r.err, "no-such-job"));
    proc_result_free(&r);
}

/* The scripted control plane: the :promote POST answers with a model; everything else 404. */
static void answer(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    if (!strcmp(req->method, "POST") && strstr(req->path, ":promote")) {
        out->content_type = "application/json";
        out->body = "{\"model\":{\"name\":\"accounts/acct-x/models/hl-model\",\"state\":\"READY\","
                    "\"kind\":\"HF_BASE_MODEL\",\"baseModel\":\"" MODEL "\"}}";
        return;
    }
    out->status = 404;
    out->content_type = "application/json";
    out->body = "{\"error\":{\"code\":404,\"message\":\"not found\",\"status\":\"NOT_FOUND\"}}";
}

static void test_cli_hot_load_deployment_id(void **state)
{
    (void)state;
    fwt_responder *resp = NULL;
    assert_int_equal(fwt_responder_start(&resp, answer, NULL), 0);
    char *url = fwt_responder_url(resp, "");
    char saved_url[256];
    snprintf(saved_url, sizeof saved_url, "%s", getenv("FIREWORKS_BASE_URL"));
    setenv("FIREWORKS_BASE_URL", url, 1);
    setenv("FIREWORKS_ACCOUNT_ID", "acct-x", 1);

    char jsonl[128];
    snprintf(jsonl, sizeof jsonl, "%s/hl.jsonl", fx.root);
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = "step-7";
    e.step = 7;
    e.sampler_path = "step-7-0a1b2c3d";
    e.source_job_id = "old-job";
    e.base_model = MODEL;
    assert_int_equal(fwt_registry_append_file(jsonl, &e), FWT_OK);

    proc_result r;
    char *args[] = {"--checkpoints-jsonl", jsonl, "--output-model-id", "hl-model", "--hot-load-deployment-id",
                    "dep-1", NULL};
    run_cli(&r, args);
    if (r.exit_code != 0)
        fail_msg("promote --hot-load-deployment-id (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.out, "model: accounts/acct-x/models/hl-model\n"));
    proc_result_free(&r);
    size_t n = fwt_responder_request_count(resp);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(resp, i);
        if (!strcmp(q->method, "POST") && strstr(q->path, ":promote")) {
            found = 1;
            if (!strstr(q->body, "\"hot_load_deployment_id\":\"accounts/acct-x/deployments/dep-1\""))
                fail_msg("promote body without the deployment: %s", q->body);
            assert_non_null(strstr(q->body, "\"trainer_job_id\":\"accounts/acct-x/rlorTrainerJobs/old-job\""));
        }
        fwt_resp_request_free(q);
    }
    assert_true(found);

    /* an invalid id is refused before any request */
    size_t before = fwt_responder_request_count(resp);
    char *bad[] = {"--checkpoints-jsonl", jsonl, "--hot-load-deployment-id", "bad id!", NULL};
    run_cli(&r, bad);
    assert_int_not_equal(r.exit_code, 0);
    assert_non_null(strstr(r.err, "hot_load_deployment_id"));
    proc_result_free(&r);
    assert_int_equal(fwt_responder_request_count(resp), before);

    setenv("FIREWORKS_BASE_URL", saved_url, 1);
    unsetenv("FIREWORKS_ACCOUNT_ID");
    free(url);
    fwt_responder_stop(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_reads_the_jobs_base_model),
        cmocka_unit_test(test_cli_without_base_model),
        cmocka_unit_test(test_cli_hot_load_deployment_id),
    };
    return cmocka_run_group_tests(tests, group_setup, fx_teardown);
}
