/*
 * Sampling while a hotload is in flight, against fwtrain-local started with
 * --faults hotload_busy=425 (or 404): the deployment answers that status until
 * the new weights are in (docs/protocol.md §3.9). The library retries on its own
 * interval and gets the new weights' answer; with a retry budget shorter than
 * the hotload it gives up with the deployment's error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include "fwtrain/fwtrain.h"
#include "local_server.h"

#define BASE_MODEL "accounts/fireworks/models/fwl-tiny"
#define JOB "hl-job"
#define DEP "hl-dep"
#define HOTLOAD_MS "1000"
static const char PROBE[] = "hotloads take a while";

typedef struct env {
    fwt_local_server *srv;
    fwt_client *c;
    fwt_job *job;
    fwt_training *t;
    pthread_mutex_t mu;
    int busy_logs; /* INFO lines of 404/425 retries */
} env;

static void on_log(int level, const char *msg, void *payload)
{
    env *e = payload;
    if (level == FWT_LOG_INFO && strstr(msg, "hotload in progress")) {
        pthread_mutex_lock(&e->mu);
        e->busy_logs++;
        pthread_mutex_unlock(&e->mu);
    }
}

static void check(int rc, const char *what)
{
    if (rc != FWT_OK)
        print_error("%s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    assert_int_equal(rc, FWT_OK);
}

static env *start(const char *busy_status)
{
    env *e = calloc(1, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    char faults[64];
    snprintf(faults, sizeof faults, "hotload_busy=%s", busy_status);
    const char *args[] = {"--model-dim", "8", "--job-start-ms", "10", "--hotload-ms", HOTLOAD_MS, "--faults", faults,
                          NULL};
    fwt_local_server_opts so;
    fwt_local_server_opts_init(&so);
    so.extra_args = args;
    assert_int_equal(fwt_local_server_start(&e->srv, &so), 0);
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = fwt_local_server_url(e->srv);
    co.api_key = fwt_local_server_api_key(e->srv);
    co.log_level = FWT_LOG_INFO;
    co.log_fn = on_log;
    co.log_payload = e;
    check(fwt_client_new(&e->c, &co), "client");
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = JOB;
    jo.base_model = BASE_MODEL;
    fwt_job *j = NULL;
    check(fwt_job_create(&j, e->c, &jo), "job");
    fwt_job_free(j);
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    check(fwt_job_wait_ready_result(&e->job, e->c, JOB, &w, 30000), "job ready");
    check(fwt_job_open_training(&e->t, e->c, e->job, NULL), "training");
    check(fwt_training_create_model_result(e->t, 30000), "model");
    fwt_deployment_create_options d;
    fwt_deployment_create_options_init(&d, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    d.base_model = BASE_MODEL;
    d.hot_load_trainer_job = JOB;
    fwt_deployment *dep = NULL;
    check(fwt_deployment_create(&dep, e->c, DEP, &d), "deployment");
    fwt_deployment_free(dep);
    return e;
}

static void stop(env *e)
{
    fwt_training_free(e->t);
    fwt_job_free(e->job);
    fwt_client_free(e->c);
    fwt_local_server_free(e->srv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* Save a base snapshot and start its hotload without waiting for it. */
static void start_hotload(env *e, const char *name)
{
    fwt_sampler_save *s = NULL;
    check(fwt_training_save_weights_for_sampler_ext_result(&s, e->t, name, FWT_SAMPLER_BASE, 0, 30000), "save");
    check(fwt_deployment_hotload(e->c, DEP, BASE_MODEL, fwt_sampler_save_snapshot_name(s), NULL), "hotload");
    fwt_sampler_save_free(s);
}

static fwt_sample_request probe_req(int64_t retry_timeout_ms)
{
    fwt_sample_request r;
    fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
    r.prompt_text = PROBE;
    r.max_tokens = 0;
    r.echo = 1;
    r.logprobs = 1;
    r.hotload_retry_interval_ms = 50;
    r.hotload_retry_timeout_ms = retry_timeout_ms;
    return r;
}

/* The deployment's echo logprobs equal the trainer's forward logprobs: the new weights answered. */
static void expect_trainer_weights(env *e, const fwt_completion *c)
{
    size_t n = strlen(PROBE), nl = 0, nf = 0;
    int64_t tok[sizeof PROBE], tgt[sizeof PROBE];
    float w[sizeof PROBE];
    for (size_t i = 0; i + 1 < n; i++)
        tok[i] = (unsigned char)PROBE[i], tgt[i] = (unsigned char)PROBE[i + 1], w[i] = 1;
    fwt_batch *b = NULL;
    check(fwt_batch_new(&b), "batch");
    check(fwt_batch_add(b, tok, n - 1, tgt, n - 1, w, n - 1), "batch add");
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_result(&fo, e->t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward");
    const float *lp = fwt_forward_output_logprobs(fo, 0, &nf);
    const float *plp = fwt_completion_prompt_logprobs(c, &nl);
    assert_int_equal(nl, n);
    assert_int_equal(nf, n - 1);
    for (size_t i = 0; i < nf; i++)
        assert_true(plp[i + 1] == lp[i]);
    fwt_forward_output_free(fo);
    fwt_batch_free(b);
}

static void run(const char *busy, int fail_code)
{
    env *e = start(busy);
    /* blocking twin: retried through the hotload */
    start_hotload(e, "a");
    fwt_sample_request r = probe_req(20000);
    fwt_completion *c = NULL;
    check(fwt_sample_result(&c, e->c, DEP, &r, 30000), "sample during hotload");
    expect_trainer_weights(e, c);
    fwt_completion_free(c);
    pthread_mutex_lock(&e->mu);
    int retried = e->busy_logs;
    pthread_mutex_unlock(&e->mu);
    assert_true(retried >= 1);
    /* a future: the same */
    start_hotload(e, "b");
    fwt_future *f = NULL;
    check(fwt_sample(&f, e->c, DEP, &r), "sample");
    assert_int_equal(fwt_future_wait(f, 30000), FWT_OK);
    check(fwt_future_take_completion(&c, f), "take");
    fwt_future_free(f);
    fwt_completion_free(c);
    pthread_mutex_lock(&e->mu);
    assert_true(e->busy_logs > retried);
    pthread_mutex_unlock(&e->mu);
    /* a budget shorter than the hotload: the deployment's status comes back */
    start_hotload(e, "c");
    r = probe_req(60);
    int rc = fwt_sample_result(NULL, e->c, DEP, &r, 30000);
    assert_int_equal(rc, fail_code);
    assert_int_equal(fwt_error_last()->http_status, atoi(busy));
    stop(e);
}

static void test_hotload_425(void **state)
{
    (void)state;
    run("425", FWT_EHTTP);
}

static void test_hotload_404(void **state)
{
    (void)state;
    run("404", FWT_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotload_425),
        cmocka_unit_test(test_hotload_404),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
