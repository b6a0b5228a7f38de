/*
 * The training client against fwtrain-local (real server, real model):
 * session → create_model → forward_backward → optim_step (loss goes down) →
 * save_state → load_state_with_optimizer → sampler save base then delta →
 * list_checkpoints. The session is opened with a job_id so the data-plane URL
 * and the account lookup are exercised too.
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

static void check(int rc, const char *what)
{
    if (rc != FWT_OK)
        print_error("%s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    assert_int_equal(rc, FWT_OK);
}

static double loss_of(fwt_forward_output *o)
{
    double v = 0;
    check(fwt_metrics_get(fwt_forward_output_metrics(o), "loss:sum", &v), "loss:sum metric");
    return v;
}

static void test_training_cycle(void **state)
{
    (void)state;
    static const char *const args[] = {"--model-dim", "8", "--job-start-ms", "20", "--long-poll-ms", "200", NULL};
    fwt_local_server_opts so;
    fwt_local_server_opts_init(&so);
    so.extra_args = args;
    fwt_local_server *srv = NULL;
    assert_int_equal(fwt_local_server_start(&srv, &so), 0);
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = fwt_local_server_url(srv);
    co.api_key = fwt_local_server_api_key(srv);
    co.retry_base_ms = 10;
    co.retry_cap_ms = 50;
    co.poll_floor_ms = 1;
    co.heartbeat_interval_ms = 200;
    fwt_client *c = NULL;
    check(fwt_client_new(&c, &co), "client");

    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = "core-it";
    jo.base_model = BASE_MODEL;
    fwt_job *j = NULL;
    check(fwt_job_create(&j, c, &jo), "job create");
    fwt_job_free(j);
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    w.wait.timeout_ms = 20000;
    check(fwt_job_wait_ready_result(&j, c, "core-it", &w, 30000), "wait ready");
    fwt_job_free(j);

    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.job_id = "core-it";
    to.base_model = BASE_MODEL;
    fwt_training *t = NULL;
    check(fwt_training_new(&t, c, &to), "session");
    assert_non_null(fwt_training_session_id(t));
    check(fwt_training_create_model_result(t, 30000), "create_model");
    assert_non_null(fwt_training_model_id(t));

    fwt_batch *b = fwt_test_text_batch("the quick brown fox jumps over the lazy dog");
    fwt_adam_params ap;
    fwt_adam_params_init(&ap, FWT_ADAM_PARAMS_VERSION);
    ap.learning_rate = 0.05;
    double first = 0, last = 0;
    for (int step = 0; step < 8; step++) {
        fwt_forward_output *o = NULL;
        check(fwt_training_forward_backward_result(&o, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward_backward");
        assert_int_equal(fwt_forward_output_count(o), 1);
        size_t n = 0;
        assert_non_null(fwt_forward_output_logprobs(o, 0, &n));
        assert_int_equal(n, 42);
        last = loss_of(o);
        if (step == 0)
            first = last;
        fwt_forward_output_free(o);
        fwt_metrics *m = NULL;
        check(fwt_training_optim_step_result(&m, t, &ap, 30000), "optim_step");
        fwt_metrics_free(m);
    }
    assert_true(last < first); /* the model learns */

    char *path = NULL;
    check(fwt_training_save_state_result(&path, t, "step-8", 0, 30000), "save_state");
    assert_non_null(path);
    assert_true(path[0] != '\0');
    check(fwt_training_load_state_with_optimizer_result(t, path, 30000), "load_state_with_optimizer");
    fwt_free(path);

    fwt_sampler_save *s = NULL;
    check(fwt_training_save_weights_for_sampler_ext_result(&s, t, "samp-1", FWT_SAMPLER_AUTO, 0, 30000), "sampler base");
    assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_BASE);
    char want[64];
    snprintf(want, sizeof want, "samp-1-%s", fwt_training_session_suffix(t));
    assert_string_equal(fwt_sampler_save_snapshot_name(s), want);
    fwt_sampler_save_free(s);
    fwt_forward_output *o = NULL;
    check(fwt_training_forward_backward_result(&o, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward_backward");
    fwt_forward_output_free(o);
    check(fwt_training_optim_step_result(NULL, t, &ap, 30000), "optim_step");
    check(fwt_training_save_weights_for_sampler_ext_result(&s, t, "samp-2", FWT_SAMPLER_AUTO, 0, 30000), "sampler delta");
    assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_DELTA);
    snprintf(want, sizeof want, "samp-1-%s", fwt_training_session_suffix(t));
    assert_string_equal(fwt_sampler_save_previous_snapshot_name(s), want);
    fwt_sampler_save_free(s);

    fwt_string_list *l = NULL;
    check(fwt_training_list_checkpoints(&l, t), "list_checkpoints");
    assert_true(fwt_string_list_count(l) >= 1);
    fwt_string_list_free(l);

    /* A sampler snapshot is not a DCP checkpoint: the server refuses it as a user error. */
    snprintf(want, sizeof want, "samp-1-%s", fwt_training_session_suffix(t));
    int rc = fwt_training_load_state_result(t, want, 30000);
    assert_int_not_equal(rc, FWT_OK);

    fwt_batch_free(b);
    fwt_training_free(t);
    fwt_client_free(c);
    fwt_local_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
