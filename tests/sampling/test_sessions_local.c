/*
 * Sessions on a LoRA trainer against fwtrain-local, which (like the service,
 * docs/protocol.md §4.1) serves at most two concurrent LoRA sessions per trainer:
 * a run started and resumed ten times in a row on one trainer works because
 * fwt_training_free unloads the model; keeping the models (keep_model_on_free)
 * makes the third start fail with the service's error.
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
#include "local_server.h"
#include "text_batch.h"

#define BASE_MODEL "accounts/fireworks/models/fwl-tiny"
#define ROUNDS 10

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
    static const char *const args[] = {"--model-dim", "8", "--job-start-ms", "10", "--long-poll-ms", "200", NULL};
    fwt_local_server_opts so;
    fwt_local_server_opts_init(&so);
    so.extra_args = args;
    if (!e || fwt_local_server_start(&e->srv, &so) != 0)
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

static fwt_job *lora_job(env *e, const char *id)
{
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.job_id = id;
    o.base_model = BASE_MODEL;
    o.lora_rank = 8;
    fwt_job *j = NULL;
    check(fwt_job_create(&j, e->c, &o), "job create");
    fwt_job_free(j);
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    check(fwt_job_wait_ready_result(&j, e->c, id, &w, 30000), "wait ready");
    return j;
}

static fwt_training *open_session(env *e, const fwt_job *j, int keep)
{
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.base_model = BASE_MODEL;
    to.lora_rank = 8;
    to.keep_model_on_free = keep;
    fwt_training *t = NULL;
    check(fwt_job_open_training(&t, e->c, j, &to), "open training");
    return t;
}

/* Ten processes' worth of start / resume on one LoRA trainer: each round loads the previous round's state,
 * trains one step, saves, and frees its training (which unloads the model). */
static void test_ten_resumes_on_one_lora_trainer(void **state)
{
    env *e = *state;
    fwt_job *j = lora_job(e, "lora-resume");
    fwt_batch *b = fwt_test_text_batch("the quick brown fox jumps over the lazy dog");
    double first_loss = 0, last_loss = 0;
    for (int round = 0; round < ROUNDS; round++) {
        fwt_training *t = open_session(e, j, 0);
        int rc = fwt_training_create_model_result(t, 30000);
        if (rc != FWT_OK)
            fail_msg("round %d: create_model: %s", round, fwt_error_last()->message);
        if (round > 0) {
            char prev[32];
            snprintf(prev, sizeof prev, "round-%d", round - 1);
            check(fwt_training_load_state_with_optimizer_result(t, prev, 30000), "resume");
        }
        fwt_forward_output *fo = NULL;
        check(fwt_training_forward_backward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward_backward");
        double loss = 0;
        check(fwt_metrics_get(fwt_forward_output_metrics(fo), "loss:sum", &loss), "loss");
        fwt_forward_output_free(fo);
        if (round == 0)
            first_loss = loss;
        last_loss = loss;
        fwt_adam_params p;
        fwt_adam_params_init(&p, FWT_ADAM_PARAMS_VERSION);
        p.learning_rate = 5e-2;
        check(fwt_training_optim_step_result(NULL, t, &p, 30000), "optim_step");
        char name[32];
        snprintf(name, sizeof name, "round-%d", round);
        check(fwt_training_save_state_result(NULL, t, name, 0, 30000), "save_state");
        fwt_training_free(t); /* unloads: the next round gets a slot */
    }
    /* the run really resumed each time: ten steps of training lowered the loss */
    assert_true(last_loss < first_loss);
    fwt_batch_free(b);
    fwt_job_free(j);
}

/* Without unloading, the trainer runs out of sessions at the third start; unloading one frees a slot. */
static void test_without_unload_the_third_start_fails(void **state)
{
    env *e = *state;
    fwt_job *j = lora_job(e, "lora-cap");
    fwt_training *kept[2];
    for (int i = 0; i < 2; i++) {
        kept[i] = open_session(e, j, 1);
        check(fwt_training_create_model_result(kept[i], 30000), "create_model");
    }
    fwt_training *third = open_session(e, j, 1);
    int rc = fwt_training_create_model_result(third, 30000);
    assert_int_equal(rc, FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->category, FWT_CATEGORY_USER);
    assert_non_null(strstr(fwt_error_last()->message, "maximum of 2 concurrent sessions"));
    fwt_training_free(third);
    /* an explicit unload frees a slot */
    check(fwt_training_unload_model_result(kept[0], 30000), "unload");
    third = open_session(e, j, 1);
    check(fwt_training_create_model_result(third, 30000), "create_model after unload");
    fwt_training_free(third);
    fwt_training_free(kept[0]);
    fwt_training_free(kept[1]);
    fwt_job_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ten_resumes_on_one_lora_trainer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_unload_the_third_start_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
