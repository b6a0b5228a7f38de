/*
 * Issue 13 end to end against fwtrain-local started with --no-gateway (the trainer gateway answers 503, the
 * job's directRouteHandle works): the library creates two trainer jobs with default options, waits for each
 * through the failing gateway and the working direct route, trains on the URL the wait returned, hotloads a
 * base from the first trainer, re-attaches the deployment to the second trainer, waits for the new pod, and
 * hotloads a base of the second trainer on it. The deployment then serves exactly the second trainer's weights.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/request.h"
#include "fwtrain/fwtrain.h"
#include "local_server.h"
#include "text_batch.h"

#define BASE_MODEL "accounts/fireworks/models/fwl-tiny"
#define DEP "fidelity-dep"

static const char PROMPT[] = "fidelity: the gateway is down, the direct route is up";

typedef struct env {
    fwt_local_server *srv;
    fwt_client *c;
} env;

static void check(int rc, const char *what)
{
    if (rc != FWT_OK)
        print_error("%s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    assert_int_equal(rc, FWT_OK);
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    static const char *const args[] = {"--no-gateway", "--model-dim", "8", "--job-start-ms", "30", "--hotload-ms", "5",
                                       "--long-poll-ms", "200", NULL};
    fwt_local_server_opts o;
    fwt_local_server_opts_init(&o);
    o.extra_args = args;
    if (!e || fwt_local_server_start(&e->srv, &o) != 0)
        return -1;
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = fwt_local_server_url(e->srv);
    co.api_key = fwt_local_server_api_key(e->srv);
    co.retry_base_ms = 10;
    co.retry_cap_ms = 50;
    co.poll_floor_ms = 1;
    if (fwt_client_new(&e->c, &co) != FWT_OK)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    fwt_client_free(e->c);
    fwt_local_server_free(e->srv);
    free(e);
    return 0;
}

/* A job created with default options (only the base model), ready through the direct route. */
static fwt_job *default_job(env *e)
{
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.base_model = BASE_MODEL;
    fwt_job *created = NULL;
    check(fwt_job_create(&created, e->c, &o), "job create (defaults)");
    assert_int_equal(strncmp(fwt_job_id(created), "training-api-service-", 21), 0);
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    w.wait.timeout_ms = 30000;
    fwt_job *ready = NULL;
    check(fwt_job_wait_ready_result(&ready, e->c, fwt_job_id(created), &w, 60000), "wait ready");
    /* the gateway never answered: readiness came from the direct route, and the job now points there */
    assert_int_equal(fwt_job_ready_route(ready), FWT_JOB_ROUTE_DIRECT);
    char want[256];
    snprintf(want, sizeof want, "%s/direct/%s", fwt_local_server_url(e->srv), fwt_job_id(created));
    assert_string_equal(fwt_job_trainer_url(ready), want);
    fwt_job_free(created);
    return ready;
}

static fwt_training *train(env *e, const fwt_job *j, fwt_batch *b)
{
    fwt_training *t = NULL;
    check(fwt_job_open_training(&t, e->c, j, NULL), "open training on the wait's URL");
    assert_string_equal(fwt_training_url(t), fwt_job_trainer_url(j));
    check(fwt_training_create_model_result(t, 30000), "create_model");
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_backward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward_backward");
    fwt_forward_output_free(fo);
    fwt_adam_params p;
    fwt_adam_params_init(&p, FWT_ADAM_PARAMS_VERSION);
    p.learning_rate = 1e-2;
    check(fwt_training_optim_step_result(NULL, t, &p, 30000), "optim_step");
    return t;
}

/* A full (base) sampler save; its snapshot name, to free with free(). */
static char *save_base(fwt_training *t, const char *name)
{
    fwt_sampler_save *sv = NULL;
    check(fwt_training_save_weights_for_sampler_ext_result(&sv, t, name, FWT_SAMPLER_BASE, 0, 30000), "sampler base");
    char *snap = strdup(fwt_sampler_save_snapshot_name(sv));
    fwt_sampler_save_free(sv);
    assert_non_null(snap);
    return snap;
}

static fwt_wait_options quick_wait(void)
{
    fwt_wait_options w;
    fwt_wait_options_init(&w, FWT_WAIT_OPTIONS_VERSION);
    w.poll_interval_ms = 10;
    w.timeout_ms = 30000;
    return w;
}

static void hotload_base(env *e, const char *snapshot)
{
    fwt_wait_options w = quick_wait();
    check(fwt_deployment_hotload(e->c, DEP, BASE_MODEL, snapshot, NULL), "hotload");
    fwt_hotload_status *st = NULL;
    check(fwt_deployment_wait_hotload_result(&st, e->c, DEP, BASE_MODEL, snapshot, &w, 60000), "wait hotload");
    assert_string_equal(fwt_hotload_status_current_identity(st, 0), snapshot);
    fwt_hotload_status_free(st);
}

/* The deployment's prompt logprobs (echo, temperature 0) equal the trainer's forward logprobs exactly. */
static void expect_serves(env *e, fwt_training *t)
{
    fwt_batch *b = fwt_test_text_batch(PROMPT);
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward");
    size_t n = 0;
    const float *lp = fwt_forward_output_logprobs(fo, 0, &n);
    assert_non_null(lp);
    assert_int_equal(n, strlen(PROMPT) - 1);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "model", "accounts/local/deployments/" DEP);
    cJSON *prompt = cJSON_AddArrayToObject(body, "prompt");
    for (size_t i = 0; PROMPT[i]; i++)
        cJSON_AddItemToArray(prompt, cJSON_CreateNumber((unsigned char)PROMPT[i]));
    cJSON_AddNumberToObject(body, "max_tokens", 0);
    cJSON_AddNumberToObject(body, "temperature", 0);
    cJSON_AddBoolToObject(body, "echo", 1);
    cJSON_AddNumberToObject(body, "logprobs", 1);
    char url[512];
    snprintf(url, sizeof url, "%s/inference/v1/completions", fwt_local_server_url(e->srv));
    fwt__call call = {0};
    call.plane = FWT__PLANE_INFERENCE;
    call.method = "POST";
    call.url = url;
    call.body = body;
    call.retry = FWT__RC_CONTROL;
    fwt__reply r;
    fwt__reply_init(&r);
    check(fwt__call_sync(e->c, &call, &r), "completions");
    cJSON *choices = cJSON_GetObjectItemCaseSensitive(r.json, "choices");
    cJSON *lps = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "logprobs");
    cJSON *tlp = cJSON_GetObjectItemCaseSensitive(lps, "token_logprobs");
    assert_int_equal(cJSON_GetArraySize(tlp), (int)strlen(PROMPT));
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_GetArrayItem(tlp, (int)i + 1);
        assert_true(cJSON_IsNumber(v));
        assert_true((float)v->valuedouble == lp[i]);
    }
    fwt__reply_clear(&r);
    cJSON_Delete(body);
    fwt_forward_output_free(fo);
    fwt_batch_free(b);
}

/* After the re-attach PATCH the pod rolls: wait until replica 0 reports a fresh identity, other than `old`
 * (what the official SDK's reattach_trainer waits for). Bounded by 30 s of 5 ms polls. */
static void wait_new_pod(env *e, const char *old)
{
    for (int i = 0; i < 6000; i++) {
        fwt_hotload_status *st = NULL;
        if (fwt_deployment_hotload_status(&st, e->c, DEP, BASE_MODEL) == FWT_OK) {
            const char *cur = fwt_hotload_status_current_identity(st, 0);
            int fresh = cur && strcmp(cur, old) != 0 && fwt_hotload_status_ready(st, 0);
            fwt_hotload_status_free(st);
            if (fresh)
                return;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("the re-attached deployment never reported a new pod");
}

static void test_end_to_end_through_the_direct_route(void **state)
{
    env *e = *state;
    fwt_batch *b = fwt_test_text_batch("trained through the direct route");

    /* trainer A, a deployment attached to it (default create options), a base from A loaded */
    fwt_job *ja = default_job(e);
    fwt_training *ta = train(e, ja, b);
    fwt_deployment_create_options dopts;
    fwt_deployment_create_options_init(&dopts, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    dopts.base_model = BASE_MODEL;
    dopts.hot_load_trainer_job = fwt_job_id(ja);
    fwt_deployment *d = NULL;
    check(fwt_deployment_create(&d, e->c, DEP, &dopts), "deployment create (defaults)");
    fwt_deployment_free(d);
    fwt_wait_options w = quick_wait();
    check(fwt_deployment_wait_ready_result(NULL, e->c, DEP, &w, 60000), "deployment wait ready");
    check(fwt_deployment_wait_hotload_ready_result(NULL, e->c, DEP, BASE_MODEL, &w, 60000), "hotload manager ready");
    char *snap_a = save_base(ta, "a-base");
    hotload_base(e, snap_a);
    expect_serves(e, ta);

    /* trainer B, trained further so its weights differ from A's */
    fwt_job *jb = default_job(e);
    assert_string_not_equal(fwt_job_id(ja), fwt_job_id(jb));
    fwt_training *tb = train(e, jb, b);
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_backward_result(&fo, tb, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward_backward b");
    fwt_forward_output_free(fo);
    check(fwt_training_optim_step_result(NULL, tb, NULL, 30000), "optim_step b");
    char *snap_b = save_base(tb, "b-base");

    /* re-attach to B: the pod rolls, then B's base is hotloaded on it */
    check(fwt_deployment_reattach(&d, e->c, DEP, fwt_job_id(jb)), "reattach");
    assert_non_null(strstr(fwt_deployment_hot_load_trainer_job(d), fwt_job_id(jb)));
    fwt_deployment_free(d);
    wait_new_pod(e, snap_a);
    hotload_base(e, snap_b);
    expect_serves(e, tb);

    free(snap_a);
    free(snap_b);
    fwt_batch_free(b);
    fwt_training_free(ta);
    fwt_training_free(tb);
    fwt_job_free(ja);
    fwt_job_free(jb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_end_to_end_through_the_direct_route, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
