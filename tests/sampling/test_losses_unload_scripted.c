/*
 * The RL losses and unload_model, client side, against the scripted fake
 * trainer (tests/core/core_test_util.h): loss names, datum inputs and
 * loss_fn_config on the wire, FWT_EINVAL before any request for every bad
 * input, unload_model and the unload fwt_training_free performs by default.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "trainer_fx.h"

typedef trainer_fx fx;

static int setup(void **state)
{
    *state = trainer_fx_new(NULL, NULL, 10000);
    return 0;
}

static int teardown(void **state)
{
    trainer_fx_free(*state);
    return 0;
}

static int count_route(trainer *tr, const char *route)
{
    int n = 0;
    pthread_mutex_lock(&tr->mu);
    for (int i = 0; i < tr->n_submits && i < 1024; i++)
        n += strcmp(tr->submits[i].route, route) == 0;
    pthread_mutex_unlock(&tr->mu);
    return n;
}

static cJSON *last_body(trainer *tr, const char *route)
{
    size_t n = fwt_responder_request_count(tr->r);
    for (size_t i = n; i-- > 0;) {
        fwt_resp_request *q = fwt_responder_request_copy(tr->r, i);
        const char *rt = route_of(q->path);
        if (rt && !strcmp(rt, route)) {
            cJSON *j = cJSON_Parse(q->body);
            fwt_resp_request_free(q);
            assert_non_null(j);
            return j;
        }
        fwt_resp_request_free(q);
    }
    fail_msg("no %s request", route);
    return NULL;
}

static const int64_t TOK[3] = {10, 11, 12}, TGT[3] = {11, 12, 13};
static const float LP[3] = {-1.0f, -2.0f, -0.5f}, ADV[3] = {0.0f, 1.5f, -0.5f}, W[3] = {0, 1, 1};

static fwt_datum rl_datum(void)
{
    fwt_datum d;
    assert_int_equal(fwt_datum_init(&d, FWT_DATUM_VERSION), FWT_OK);
    d.tokens = TOK;
    d.n_tokens = 3;
    d.target_tokens = TGT;
    d.n_target_tokens = 3;
    d.logprobs = LP;
    d.n_logprobs = 3;
    d.advantages = ADV;
    d.n_advantages = 3;
    return d;
}

static void test_loss_names(void **state)
{
    (void)state;
    static const char *const names[] = {"cross_entropy", "importance_sampling", "ppo", "cispo", "dro"};
    for (int i = 0; i < 5; i++) {
        fwt_loss_fn l = (fwt_loss_fn)-1;
        assert_string_equal(fwt_loss_fn_name((fwt_loss_fn)i), names[i]);
        assert_int_equal(fwt_loss_fn_parse(&l, names[i]), FWT_OK);
        assert_int_equal(l, i);
    }
    fwt_loss_fn l;
    assert_null(fwt_loss_fn_name((fwt_loss_fn)5));
    assert_null(fwt_loss_fn_name((fwt_loss_fn)-1));
    assert_int_equal(fwt_loss_fn_parse(&l, "grpo"), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "grpo"));
    assert_int_equal(fwt_loss_fn_parse(&l, "PPO"), FWT_EINVAL);
    assert_int_equal(fwt_loss_fn_parse(NULL, "ppo"), FWT_EINVAL);
    assert_int_equal(fwt_loss_fn_parse(&l, NULL), FWT_EINVAL);
    fwt_loss_config c;
    assert_int_equal(fwt_loss_config_init(&c, 9), FWT_EINVAL);
    assert_int_equal(fwt_datum_init(NULL, FWT_DATUM_VERSION), FWT_EINVAL);
}

/* Bad datums never enter the batch; the message names the argument. */
static void test_datum_validation(void **state)
{
    (void)state;
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    static const float NAN3[3] = {0, NAN, 0};
    struct {
        const char *arg;
        fwt_datum d;
    } cases[6];
    for (int i = 0; i < 6; i++)
        cases[i].d = rl_datum();
    cases[0].arg = "logprobs", cases[0].d.n_logprobs = 2;
    cases[1].arg = "advantages", cases[1].d.n_advantages = 4;
    cases[2].arg = "advantages[1]", cases[2].d.advantages = NAN3;
    cases[3].arg = "n_targets", cases[3].d.n_target_tokens = 2;
    cases[4].arg = "weights", cases[4].d.weights = W, cases[4].d.n_weights = 1;
    cases[5].arg = "version", cases[5].d.version = 7;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(fwt_batch_add_datum(b, &cases[i].d), FWT_EINVAL);
        if (!strstr(fwt_error_last()->message, cases[i].arg))
            fail_msg("case %d: \"%s\" does not name %s", i, fwt_error_last()->message, cases[i].arg);
    }
    assert_int_equal(fwt_batch_add_datum(b, NULL), FWT_EINVAL);
    assert_int_equal(fwt_batch_count(b), 0);
    fwt_datum ok = rl_datum();
    assert_int_equal(fwt_batch_add_datum(b, &ok), FWT_OK);
    assert_int_equal(fwt_batch_count(b), 1);
    fwt_batch_free(b);
}

/* A loss that needs an input the batch lacks, an unknown loss, a bad config: FWT_EINVAL, nothing sent. */
static void test_loss_inputs_checked_before_any_request(void **state)
{
    fx *f = *state;
    int before = count_route(f->tr, "forward_backward");
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    fwt_datum d = rl_datum();
    d.advantages = NULL;
    d.n_advantages = 0;
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
    fwt_future *fu = NULL;
    assert_int_equal(fwt_training_forward_backward(&fu, f->t, b, FWT_LOSS_PPO), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "advantages"));
    assert_non_null(strstr(fwt_error_last()->message, "ppo"));
    fwt_batch_free(b);

    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    d = rl_datum();
    d.logprobs = NULL;
    d.n_logprobs = 0;
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
    assert_int_equal(fwt_training_forward_backward(&fu, f->t, b, FWT_LOSS_IMPORTANCE_SAMPLING), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "logprobs"));
    /* cross_entropy needs weights */
    assert_int_equal(fwt_training_forward_backward(&fu, f->t, b, FWT_LOSS_CROSS_ENTROPY), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "weights"));
    assert_int_equal(fwt_training_forward(&fu, f->t, b, FWT_LOSS_DRO), FWT_EINVAL);
    fwt_batch_free(b);

    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    d = rl_datum();
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
    assert_int_equal(fwt_training_forward_backward(&fu, f->t, b, (fwt_loss_fn)42), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "unknown loss"));
    static const char *const keys[] = {"clip_low_threshold", "clip_low_threshold", ""};
    static const double vals[] = {0.8, 0.9, NAN};
    fwt_loss_config c;
    assert_int_equal(fwt_loss_config_init(&c, FWT_LOSS_CONFIG_VERSION), FWT_OK);
    c.keys = keys;
    c.values = vals;
    c.n = 2;
    assert_int_equal(fwt_training_forward_backward_config(&fu, f->t, b, FWT_LOSS_PPO, &c), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "given twice"));
    c.keys = keys + 1;
    c.values = vals + 1;
    assert_int_equal(fwt_training_forward_backward_config(&fu, f->t, b, FWT_LOSS_PPO, &c), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "key 1"));
    c.n = 1;
    c.keys = keys;
    c.values = vals + 2;
    assert_int_equal(fwt_training_forward_backward_config(&fu, f->t, b, FWT_LOSS_PPO, &c), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "clip_low_threshold"));
    c.values = NULL;
    assert_int_equal(fwt_training_forward_backward_config(&fu, f->t, b, FWT_LOSS_PPO, &c), FWT_EINVAL);
    c.version = 3;
    assert_int_equal(fwt_training_forward_backward_config(&fu, f->t, b, FWT_LOSS_PPO, &c), FWT_EINVAL);
    assert_null(fu);
    fwt_batch_free(b);
    assert_int_equal(count_route(f->tr, "forward_backward"), before);
}

static void expect_tensor(const cJSON *lfi, const char *name, const double *want, int n)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(lfi, name);
    if (!want) {
        assert_null(t);
        return;
    }
    assert_non_null(t);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(t, "data");
    assert_int_equal(cJSON_GetArraySize(data), n);
    for (int i = 0; i < n; i++)
        assert_true(cJSON_GetArrayItem(data, i)->valuedouble == want[i]);
}

/* The wire: loss_fn, loss_fn_config, and the datum inputs each loss gets (docs/protocol.md §4.10). */
static void test_rl_body(void **state)
{
    fx *f = *state;
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    fwt_datum d = rl_datum();
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
    d.weights = W;
    d.n_weights = 3;
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
    static const char *const keys[] = {"clip_low_threshold", "clip_high_threshold"};
    static const double vals[] = {0.75, 1.25};
    fwt_loss_config c;
    fwt_loss_config_init(&c, FWT_LOSS_CONFIG_VERSION);
    c.keys = keys;
    c.values = vals;
    c.n = 2;
    assert_int_equal(fwt_training_forward_backward_config_result(NULL, f->t, b, FWT_LOSS_PPO, &c, 10000), FWT_OK);
    cJSON *j = last_body(f->tr, "forward_backward");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "forward_backward_input");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(in, "loss_fn")->valuestring, "ppo");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(in, "loss_fn_config");
    assert_true(cJSON_GetObjectItemCaseSensitive(cfg, "clip_low_threshold")->valuedouble == 0.75);
    assert_true(cJSON_GetObjectItemCaseSensitive(cfg, "clip_high_threshold")->valuedouble == 1.25);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    assert_int_equal(cJSON_GetArraySize(data), 2);
    const double tgt[] = {11, 12, 13}, lp[] = {-1, -2, -0.5}, adv[] = {0, 1.5, -0.5}, w[] = {0, 1, 1};
    const cJSON *l0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "loss_fn_inputs");
    expect_tensor(l0, "target_tokens", tgt, 3);
    expect_tensor(l0, "logprobs", lp, 3);
    expect_tensor(l0, "advantages", adv, 3);
    expect_tensor(l0, "weights", NULL, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(l0, "advantages"),
                                                         "dtype")->valuestring,
                        "float32");
    const cJSON *l1 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 1), "loss_fn_inputs");
    expect_tensor(l1, "weights", w, 3);
    cJSON_Delete(j);

    /* no config: no loss_fn_config; cross_entropy never carries the RL inputs */
    fwt_batch_free(b);
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
    assert_int_equal(fwt_training_forward_backward_result(NULL, f->t, b, FWT_LOSS_CROSS_ENTROPY, 10000), FWT_OK);
    j = last_body(f->tr, "forward_backward");
    in = cJSON_GetObjectItemCaseSensitive(j, "forward_backward_input");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(in, "loss_fn")->valuestring, "cross_entropy");
    assert_null(cJSON_GetObjectItemCaseSensitive(in, "loss_fn_config"));
    l0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(in, "data"), 0),
                                          "loss_fn_inputs");
    expect_tensor(l0, "weights", w, 3);
    expect_tensor(l0, "logprobs", NULL, 0);
    expect_tensor(l0, "advantages", NULL, 0);
    cJSON_Delete(j);
    assert_int_equal(fwt_training_forward_result(NULL, f->t, b, FWT_LOSS_CISPO, 10000), FWT_OK);
    j = last_body(f->tr, "forward");
    in = cJSON_GetObjectItemCaseSensitive(j, "forward_input");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(in, "loss_fn")->valuestring, "cispo");
    cJSON_Delete(j);
    fwt_batch_free(b);
}

static void test_unload_model(void **state)
{
    fx *f = *state;
    assert_int_equal(fwt_training_unload_model_result(f->t, 10000), FWT_OK);
    cJSON *j = last_body(f->tr, "unload_model");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "model_id")->valuestring, "model-1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "type")->valuestring, "unload_model");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "seq_id"));
    cJSON_Delete(j);
    /* no op after the unload, no second unload */
    fwt_future *fu = NULL;
    assert_int_equal(fwt_training_optim_step(&fu, f->t, NULL), FWT_ESTATE);
    assert_non_null(strstr(fwt_error_last()->message, "unloaded"));
    assert_int_equal(fwt_training_unload_model(&fu, f->t), FWT_ESTATE);
    assert_null(fu);
    /* free does not unload again */
    fwt_training_free(f->t);
    f->t = NULL;
    assert_int_equal(count_route(f->tr, "unload_model"), 1);
}

/* A failed unload can be tried again. */
static void test_unload_failure_retry(void **state)
{
    fx *f = *state;
    tr_push_submit(f->tr, 400, "{\"error\":{\"message\":\"model busy\"}}");
    assert_int_equal(fwt_training_unload_model_result(f->t, 10000), FWT_EHTTP);
    assert_non_null(strstr(fwt_error_last()->message, "model busy"));
    assert_int_equal(fwt_training_unload_model_result(f->t, 10000), FWT_OK);
    assert_int_equal(count_route(f->tr, "unload_model"), 2);
}

/* fwt_training_free unloads by default, keeps the model with keep_model_on_free, and never without a model. */
static void test_free_unloads_by_default(void **state)
{
    fx *f = *state;
    fwt_training_free(f->t);
    f->t = NULL;
    assert_int_equal(count_route(f->tr, "unload_model"), 1);

    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    char *url = fwt_responder_url(f->tr->r, "/t");
    to.trainer_url = url;
    to.base_model = "accounts/fireworks/models/tiny";
    to.keep_model_on_free = 1;
    fwt_training *t = NULL;
    assert_int_equal(fwt_training_new(&t, f->c, &to), FWT_OK);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    fwt_training_free(t);
    assert_int_equal(count_route(f->tr, "unload_model"), 1);
    to.keep_model_on_free = 0;
    assert_int_equal(fwt_training_new(&t, f->c, &to), FWT_OK); /* no model: nothing to unload */
    fwt_training_free(t);
    assert_int_equal(count_route(f->tr, "unload_model"), 1);
    to.unload_timeout_ms = -2;
    assert_int_equal(fwt_training_new(&t, f->c, &to), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "unload_timeout_ms"));
    /* the caller's last error survives the unload of free */
    to.unload_timeout_ms = 0;
    assert_int_equal(fwt_training_new(&t, f->c, &to), FWT_OK);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    fwt_loss_fn l;
    assert_int_equal(fwt_loss_fn_parse(&l, "nope"), FWT_EINVAL);
    fwt_training_free(t);
    assert_int_equal(fwt_error_last()->code, FWT_EINVAL);
    assert_int_equal(count_route(f->tr, "unload_model"), 2);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_names),
        cmocka_unit_test(test_datum_validation),
        cmocka_unit_test_setup_teardown(test_loss_inputs_checked_before_any_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rl_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_failure_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_unloads_by_default, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
