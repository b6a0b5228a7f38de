/* Training client against a scripted fake trainer (real sockets): session, ops, bodies, results, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "trainer_fx.h"

typedef trainer_fx fx;

static int setup(void **state)
{
    *state = trainer_fx_new(NULL, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    trainer_fx_free(*state);
    return 0;
}

static fwt_resp_request *last_request(trainer *tr, const char *route)
{
    size_t n = fwt_responder_request_count(tr->r);
    for (size_t i = n; i-- > 0;) {
        fwt_resp_request *q = fwt_responder_request_copy(tr->r, i);
        const char *rt = route_of(q->path);
        if (rt && !strcmp(rt, route))
            return q;
        fwt_resp_request_free(q);
    }
    return NULL;
}

static cJSON *last_body(trainer *tr, const char *route)
{
    fwt_resp_request *q = last_request(tr, route);
    assert_non_null(q);
    cJSON *j = cJSON_Parse(q->body);
    fwt_resp_request_free(q);
    assert_non_null(j);
    return j;
}

static fwt_batch *small_batch(void)
{
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    int64_t tok[2] = {10, 11}, tgt[2] = {11, 12};
    float w[2] = {1.0f, 0.5f};
    assert_int_equal(fwt_batch_add(b, tok, 2, tgt, 2, w, 2), FWT_OK);
    return b;
}

static void test_session_and_headers(void **state)
{
    fx *f = *state;
    assert_string_equal(fwt_training_session_id(f->t), "sess-1");
    assert_string_equal(fwt_training_session_suffix(f->t), "0a1b2c3d");
    assert_null(fwt_training_model_id(f->t));
    fwt_resp_request *q = last_request(f->tr, "create_session");
    assert_non_null(q);
    assert_string_equal(q->method, "POST");
    assert_string_equal(fwt_resp_request_header(q, "X-Api-Key"), TEST_KEY);
    assert_string_equal(fwt_resp_request_header(q, "Authorization"), "Bearer " TEST_KEY);
    assert_non_null(strstr(fwt_resp_request_header(q, "User-Agent"), "libfwtrain/"));
    cJSON *j = cJSON_Parse(q->body);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "type")->valuestring, "create_session");
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "tags")));
    cJSON_Delete(j);
    fwt_resp_request_free(q);
}

static void test_full_flow(void **state)
{
    fx *f = *state;
    /* ops before create_model are refused without a request */
    fwt_future *fu = NULL;
    assert_int_equal(fwt_training_optim_step(&fu, f->t, NULL), FWT_ESTATE);
    assert_null(fu);
    assert_int_equal(fwt_training_create_model_result(f->t, 10000), FWT_OK);
    assert_string_equal(fwt_training_model_id(f->t), "model-1");
    cJSON *cm = last_body(f->tr, "create_model");
    /* full-param: lora_config with rank 0 and no alpha, as the official SDK sends it (docs/protocol.md §4.1) */
    cJSON *lc0 = cJSON_GetObjectItemCaseSensitive(cm, "lora_config");
    assert_non_null(lc0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(lc0, "rank")->valueint, 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(lc0, "alpha"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cm, "base_model")->valuestring, "accounts/fireworks/models/tiny");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cm, "session_id")->valuestring, "sess-1");
    assert_null(cJSON_GetObjectItemCaseSensitive(cm, "seq_id"));
    cJSON_Delete(cm);
    assert_int_equal(fwt_training_create_model(&fu, f->t), FWT_ESTATE); /* one model per training */

    fwt_batch *b = small_batch();
    fwt_forward_output *o = NULL;
    assert_int_equal(fwt_training_forward_backward_result(&o, f->t, b, FWT_LOSS_CROSS_ENTROPY, 10000), FWT_OK);
    assert_string_equal(fwt_forward_output_type(o), "cross_entropy");
    assert_int_equal(fwt_forward_output_count(o), 1);
    size_t n = 0;
    const float *lp = fwt_forward_output_logprobs(o, 0, &n);
    assert_int_equal(n, 2);
    assert_true(lp[0] == -1.5f && lp[1] == -2.25f);
    assert_null(fwt_forward_output_logprobs(o, 1, &n));
    double loss = 0;
    assert_int_equal(fwt_metrics_get(fwt_forward_output_metrics(o), "loss:sum", &loss), FWT_OK);
    assert_true(loss == 3.75);
    assert_int_equal(fwt_metrics_get(fwt_forward_output_metrics(o), "nope", &loss), FWT_ENOTFOUND);
    fwt_forward_output_free(o);
    cJSON *fb = last_body(f->tr, "forward_backward");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(fb, "type")->valuestring, "forward_backward");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(fb, "model_id")->valuestring, "model-1");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(fb, "seq_id")->valuedouble, 1);
    cJSON *in = cJSON_GetObjectItemCaseSensitive(fb, "forward_backward_input");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(in, "loss_fn")->valuestring, "cross_entropy");
    cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(in, "data"), 0);
    cJSON *chunk = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d0, "model_input"), "chunks"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(chunk, "type")->valuestring, "encoded_text");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(chunk, "tokens")), 2);
    cJSON *lfi = cJSON_GetObjectItemCaseSensitive(d0, "loss_fn_inputs");
    cJSON *tt = cJSON_GetObjectItemCaseSensitive(lfi, "target_tokens");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tt, "dtype")->valuestring, "int64");
    cJSON *w = cJSON_GetObjectItemCaseSensitive(lfi, "weights");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(w, "dtype")->valuestring, "float32");
    assert_true(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "data"), 1)->valuedouble == 0.5);
    cJSON_Delete(fb);

    assert_int_equal(fwt_training_forward_result(&o, f->t, b, FWT_LOSS_CROSS_ENTROPY, 10000), FWT_OK);
    fwt_forward_output_free(o);
    cJSON *fw = last_body(f->tr, "forward");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(fw, "forward_input"));
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(fw, "seq_id")->valuedouble, 2);
    cJSON_Delete(fw);
    fwt_batch_free(b);

    fwt_metrics *m = NULL;
    fwt_adam_params ap;
    fwt_adam_params_init(&ap, FWT_ADAM_PARAMS_VERSION);
    ap.learning_rate = 0.01;
    assert_int_equal(fwt_training_optim_step_result(&m, f->t, &ap, 10000), FWT_OK);
    assert_int_equal(fwt_metrics_count(m), 1);
    assert_string_equal(fwt_metrics_name(m, 0), "grad_norm");
    fwt_metrics_free(m);
    cJSON *os = last_body(f->tr, "optim_step");
    cJSON *adam = cJSON_GetObjectItemCaseSensitive(os, "adam_params");
    assert_true(cJSON_GetObjectItemCaseSensitive(adam, "learning_rate")->valuedouble == 0.01);
    assert_true(cJSON_GetObjectItemCaseSensitive(adam, "beta2")->valuedouble == 0.95);
    cJSON_Delete(os);

    char *path = NULL;
    assert_int_equal(fwt_training_save_state_result(&path, f->t, "step-1", 0, 10000), FWT_OK);
    assert_string_equal(path, "step-1");
    fwt_free(path);
    cJSON *sw = last_body(f->tr, "save_weights");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(sw, "overwrite")));
    assert_null(cJSON_GetObjectItemCaseSensitive(sw, "ttl_seconds"));
    cJSON_Delete(sw);
    assert_int_equal(fwt_training_save_state_result(NULL, f->t, "step-2", 60, 10000), FWT_OK);
    sw = last_body(f->tr, "save_weights");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(sw, "ttl_seconds")->valuedouble, 60);
    cJSON_Delete(sw);

    assert_int_equal(fwt_training_load_state_with_optimizer_result(f->t, "cross_job://j/step-1", 10000), FWT_OK);
    cJSON *lw = last_body(f->tr, "load_weights");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lw, "optimizer")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(lw, "path")->valuestring, "cross_job://j/step-1");
    cJSON_Delete(lw);
    assert_int_equal(fwt_training_load_state_result(f->t, "step-1", 10000), FWT_OK);
    lw = last_body(f->tr, "load_weights");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(lw, "optimizer")));
    cJSON_Delete(lw);

    /* sampler saves: AUTO → base, then delta; explicit wins */
    fwt_sampler_save *s = NULL;
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "step-3", FWT_SAMPLER_AUTO, 0, 10000),
                     FWT_OK);
    assert_string_equal(fwt_sampler_save_snapshot_name(s), "step-3-0a1b2c3d");
    assert_string_equal(fwt_sampler_save_path(s), "step-3-0a1b2c3d");
    assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_BASE);
    assert_null(fwt_sampler_save_previous_snapshot_name(s));
    fwt_sampler_save_free(s);
    cJSON *sv = last_body(f->tr, "save_weights_for_sampler");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(sv, "checkpoint_type")->valuestring, "base");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(sv, "path")->valuestring, "step-3-0a1b2c3d");
    cJSON_Delete(sv);
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "step-4", FWT_SAMPLER_AUTO, 0, 10000),
                     FWT_OK);
    assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_DELTA);
    assert_string_equal(fwt_sampler_save_previous_snapshot_name(s), "step-3-0a1b2c3d");
    fwt_sampler_save_free(s);
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "step-5", FWT_SAMPLER_BASE, 0, 10000),
                     FWT_OK);
    assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_BASE);
    assert_null(fwt_sampler_save_previous_snapshot_name(s));
    fwt_sampler_save_free(s);
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "step-6", FWT_SAMPLER_DELTA, 0, 10000),
                     FWT_OK);
    assert_string_equal(fwt_sampler_save_previous_snapshot_name(s), "step-5-0a1b2c3d"); /* a delta of a delta chain */
    fwt_sampler_save_free(s);
    assert_null(fwt_sampler_save_previous_snapshot_name(NULL));

    fwt_string_list *l = NULL;
    assert_int_equal(fwt_training_list_checkpoints(&l, f->t), FWT_OK);
    assert_int_equal(fwt_string_list_count(l), 2);
    assert_string_equal(fwt_string_list_get(l, 1), "step-2");
    assert_null(fwt_string_list_get(l, 2));
    fwt_string_list_free(l);

    /* every sequenced submit carried seq_id 1, 2, 3, ... in order */
    pthread_mutex_lock(&f->tr->mu);
    int64_t expect = 1;
    for (int i = 0; i < f->tr->n_submits; i++) {
        if (f->tr->submits[i].seq_id < 0)
            continue;
        assert_int_equal(f->tr->submits[i].seq_id, expect);
        expect++;
    }
    assert_int_equal(expect, 12);
    pthread_mutex_unlock(&f->tr->mu);
}

static void test_sampler_failure_resets_auto(void **state)
{
    fx *f = *state;
    assert_int_equal(fwt_training_create_model_result(f->t, 10000), FWT_OK);
    fwt_sampler_save *s = NULL;
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "a", FWT_SAMPLER_AUTO, 0, 10000), FWT_OK);
    fwt_sampler_save_free(s);
    tr_push_poll(f->tr, 200, "{\"error\":\"disk full\",\"category\":\"server\"}");
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "b", FWT_SAMPLER_AUTO, 0, 10000),
                     FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->category, FWT_CATEGORY_SERVER);
    assert_non_null(strstr(fwt_error_last()->message, "disk full"));
    assert_non_null(strstr(fwt_error_last()->request_id, "save_weights_for_sampler"));
    cJSON *sv = last_body(f->tr, "save_weights_for_sampler");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(sv, "checkpoint_type")->valuestring, "delta");
    cJSON_Delete(sv);
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "c", FWT_SAMPLER_AUTO, 0, 10000), FWT_OK);
    assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_BASE); /* chain restarted */
    fwt_sampler_save_free(s);
    /* the failed "b" did not move the server's previous snapshot; explicit delta after a failure: */
    tr_push_poll(f->tr, 200, "{\"error\":\"disk full\",\"category\":\"server\"}");
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "d", FWT_SAMPLER_DELTA, 0, 10000),
                     FWT_EREMOTE);
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "e", FWT_SAMPLER_DELTA, 0, 10000),
                     FWT_OK);
    assert_string_equal(fwt_sampler_save_previous_snapshot_name(s), "c-0a1b2c3d");
    fwt_sampler_save_free(s);
    char *last = NULL;
    assert_int_equal(fwt_training_last_sampler_snapshot(&last, f->t), FWT_OK);
    assert_string_equal(last, "e-0a1b2c3d");
    fwt_free(last);
    assert_int_equal(fwt_training_last_sampler_snapshot(NULL, f->t), FWT_EINVAL);
}

static void test_lora(void **state)
{
    fx *f = *state;
    fwt_training *t = tr_training(f->tr, f->c, 8, 0);
    assert_non_null(t);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    cJSON *cm = last_body(f->tr, "create_model");
    cJSON *lc = cJSON_GetObjectItemCaseSensitive(cm, "lora_config");
    assert_non_null(lc);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(lc, "rank")->valuedouble, 8);
    cJSON_Delete(cm);
    fwt_sampler_save *s = NULL;
    char *last = (char *)"x";
    assert_int_equal(fwt_training_last_sampler_snapshot(&last, t), FWT_OK);
    assert_null(last); /* none yet */
    for (int i = 0; i < 2; i++) { /* LoRA: AUTO is always base */
        assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, t, "x", FWT_SAMPLER_AUTO, 0, 10000), FWT_OK);
        assert_int_equal(fwt_sampler_save_type(s), FWT_SAMPLER_BASE);
        fwt_sampler_save_free(s);
    }
    fwt_training_free(t);
}

typedef struct vcase {
    int rc;
    const char *needle;
} vcase;

static void test_validation_sends_nothing(void **state)
{
    fx *f = *state;
    assert_int_equal(fwt_training_create_model_result(f->t, 10000), FWT_OK);
    size_t before = fwt_responder_request_count(f->tr->r);
    fwt_future *fu = NULL;
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    vcase r[16];
    int k = 0;
    r[k++] = (vcase){fwt_training_save_state(&fu, f->t, NULL, 0), "name"};
    r[k++] = (vcase){fwt_training_save_state(&fu, f->t, "", 0), "name"};
    r[k++] = (vcase){fwt_training_save_state(&fu, f->t, long_name, 0), "name"};
    r[k++] = (vcase){fwt_training_save_state(&fu, f->t, "a/b", 0), "name"};
    r[k++] = (vcase){fwt_training_save_state(&fu, f->t, "ok", -1), "ttl_seconds"};
    r[k++] = (vcase){fwt_training_save_weights_for_sampler_ext(&fu, f->t, "a/b", FWT_SAMPLER_AUTO, 0), "name"};
    r[k++] = (vcase){fwt_training_save_weights_for_sampler_ext(&fu, f->t, "ok", (fwt_sampler_type)7, 0), "type"};
    r[k++] = (vcase){fwt_training_save_weights_for_sampler_ext(&fu, f->t, "ok", FWT_SAMPLER_AUTO, -5), "ttl_seconds"};
    r[k++] = (vcase){fwt_training_load_state(&fu, f->t, NULL), "path"};
    r[k++] = (vcase){fwt_training_load_state_with_optimizer(&fu, f->t, ""), "path"};
    r[k++] = (vcase){fwt_training_forward_backward(&fu, f->t, NULL, FWT_LOSS_CROSS_ENTROPY), "batch"};
    r[k++] = (vcase){fwt_training_optim_step(NULL, f->t, NULL), "out"};
    r[k++] = (vcase){fwt_training_save_state(&fu, NULL, "x", 0), "training"};
    fwt_adam_params ap;
    fwt_adam_params_init(&ap, FWT_ADAM_PARAMS_VERSION);
    ap.learning_rate = -1;
    r[k++] = (vcase){fwt_training_optim_step(&fu, f->t, &ap), "learning_rate"};
    fwt_batch *b = NULL;
    fwt_batch_new(&b);
    r[k++] = (vcase){fwt_training_forward(&fu, f->t, b, FWT_LOSS_CROSS_ENTROPY), "empty"};
    fwt_batch_free(b);
    for (int i = 0; i < k; i++) {
        if (r[i].rc != FWT_EINVAL)
            fail_msg("case %d: rc %d", i, r[i].rc);
    }
    /* messages name the argument (checked on the last one here; each assert above sets it) */
    assert_int_equal(fwt_training_save_state(&fu, f->t, "ok", -1), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "ttl_seconds"));
    assert_int_equal(fwt_training_save_state(&fu, f->t, "x/y", 0), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "name"));
    assert_null(fu);
    usleep(50000);
    assert_int_equal(fwt_responder_request_count(f->tr->r), before);

    /* fwt_training_new validation */
    fwt_training *t2 = NULL;
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL); /* neither job_id nor trainer_url */
    to.job_id = "a/b";
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL);
    to.job_id = "..";
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "job_id"));
    to.job_id = ".";
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL);
    to.job_id = "job";
    to.session_suffix = "XYZ";
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL);
    to.session_suffix = NULL;
    to.lora_rank = -1;
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL);
    to.lora_rank = 0;
    to.trainer_url = "http://example.com/t";
    assert_int_equal(fwt_training_new(&t2, f->c, &to), FWT_EINVAL);
    assert_int_equal(fwt_training_new(&t2, f->c, NULL), FWT_EINVAL);
    assert_int_equal(fwt_training_new(&t2, NULL, &to), FWT_EINVAL);
    assert_null(t2);
    usleep(20000);
    assert_int_equal(fwt_responder_request_count(f->tr->r), before);
}

static void expect_eproto(fx *f, const char *result)
{
    tr_set_result(f->tr, result);
    fwt_forward_output *o = NULL;
    fwt_batch *b = small_batch();
    int rc = fwt_training_forward_backward_result(&o, f->t, b, FWT_LOSS_CROSS_ENTROPY, 10000);
    fwt_batch_free(b);
    if (rc != FWT_EPROTO)
        fail_msg("result %s gave %d", result, rc);
    assert_null(o);
}

static void test_malformed_results(void **state)
{
    fx *f = *state;
    assert_int_equal(fwt_training_create_model_result(f->t, 10000), FWT_OK);
    expect_eproto(f, "{\"loss_fn_outputs\":\"nope\"}");
    expect_eproto(f, "{\"metrics\":{}}");
    expect_eproto(f, "{\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[\"x\"]}}]}");
    expect_eproto(f, "{\"loss_fn_outputs\":[{\"logprobs\":7}]}");
    expect_eproto(f, "{\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[1e300]}}]}");
    expect_eproto(f, "{\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[-1e39]}}]}");
    expect_eproto(f, "{\"loss_fn_outputs\":[],\"metrics\":{\"a\":\"b\"}}");
    expect_eproto(f, "{\"loss_fn_outputs\":[],\"type\":5}");
    expect_eproto(f, "[1,2,3]");
    expect_eproto(f, "not json at all");
    expect_eproto(f, "{\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[1]}}]");
    /* sampler result with a null path */
    tr_set_result(f->tr, "{\"path\":null}");
    fwt_sampler_save *s = NULL;
    assert_int_equal(fwt_training_save_weights_for_sampler_ext_result(&s, f->t, "n", FWT_SAMPLER_BASE, 0, 10000),
                     FWT_EPROTO);
    tr_set_result(f->tr, "{\"Path\":\"x\"}"); /* case-sensitive */
    char *p = NULL;
    assert_int_equal(fwt_training_save_state_result(&p, f->t, "n", 0, 10000), FWT_EPROTO);
    assert_null(p);
    tr_set_result(f->tr, NULL);
    /* submit reply without request_id */
    tr_push_submit(f->tr, 200, "{\"nope\":1}");
    assert_int_equal(fwt_training_save_state_result(&p, f->t, "n", 0, 10000), FWT_EPROTO);
    /* the sequence continues: that op was accepted */
    assert_int_equal(fwt_training_save_state_result(&p, f->t, "n2", 0, 10000), FWT_OK);
    fwt_free(p);
}

static void test_take_mismatch_and_twice(void **state)
{
    fx *f = *state;
    assert_int_equal(fwt_training_create_model_result(f->t, 10000), FWT_OK);
    fwt_future *fu = NULL;
    assert_int_equal(fwt_training_save_state(&fu, f->t, "s", 0), FWT_OK);
    assert_int_equal(fwt_future_wait(fu, 10000), FWT_OK);
    assert_int_equal(fwt_future_status(fu), FWT_OK);
    assert_null(fwt_future_error(fu));
    fwt_metrics *m = NULL;
    assert_int_equal(fwt_future_take_metrics(&m, fu), FWT_EINVAL);
    char *p = NULL;
    assert_int_equal(fwt_future_take_string(&p, fu), FWT_OK);
    assert_string_equal(p, "s");
    fwt_free(p);
    assert_int_equal(fwt_future_take_string(&p, fu), FWT_ESTATE);
    fwt_future_free(fu);
}

static void test_list_checkpoints_errors(void **state)
{
    fx *f = *state;
    fwt_string_list *l = NULL;
    assert_int_equal(fwt_training_list_checkpoints(NULL, f->t), FWT_EINVAL);
    assert_int_equal(fwt_training_list_checkpoints(&l, NULL), FWT_EINVAL);
    /* a client that gives up on 503 quickly */
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.retry_base_ms = 5;
    o.retry_cap_ms = 10;
    o.retry_budget_ms = 100;
    fwt_client *c = tr_client(f->tr, NULL, &o);
    fwt_training *t = tr_training(f->tr, c, 0, 0);
    assert_non_null(t);
    static const struct { int status; const char *body; int rc; size_t n; } cases[] = {
        {503, "{\"message\":\"pod gone\"}", FWT_EHTTP, 0},
        {404, "{}", FWT_ENOTFOUND, 0},
        {200, "{\"checkpoints\":[1]}", FWT_EPROTO, 0},
        {200, "{\"checkpoints\":\"x\"}", FWT_EPROTO, 0},
        {200, "[]", FWT_EPROTO, 0},
        {200, "{}", FWT_OK, 0},
        {200, "{\"checkpoints\":[]}", FWT_OK, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pthread_mutex_lock(&f->tr->mu);
        f->tr->list_status = cases[i].status;
        f->tr->list_body = cases[i].body;
        pthread_mutex_unlock(&f->tr->mu);
        l = NULL;
        int rc = fwt_training_list_checkpoints(&l, t);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %d", i, rc);
        if (rc == FWT_OK)
            assert_int_equal(fwt_string_list_count(l), cases[i].n);
        else
            assert_null(l);
        fwt_string_list_free(l);
    }
    fwt_training_free(t);
    fwt_client_free(c);
}

static atomic_long g_a, g_f;
static void *c_malloc(size_t n, void *ctx) { (void)ctx; atomic_fetch_add(&g_a, 1); return malloc(n); }
static void *c_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    if (!p)
        atomic_fetch_add(&g_a, 1);
    return realloc(p, n);
}
static void c_free(void *p, void *ctx)
{
    (void)ctx;
    if (p)
        atomic_fetch_add(&g_f, 1);
    free(p);
}

/* With custom hooks, the library's (and cJSON's) allocations go through them and all come back. */
static void test_custom_allocator_balanced(void **state)
{
    (void)state;
    fwt_allocator a = {FWT_ALLOCATOR_VERSION, c_malloc, c_realloc, c_free, NULL};
    assert_int_equal(fwt_set_allocator(&a), FWT_OK);
    trainer *tr = trainer_start(NULL);
    fwt_client *c = tr_client(tr, NULL, NULL);
    fwt_training *t = tr_training(tr, c, 0, 0);
    assert_non_null(t);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    fwt_batch *b = small_batch();
    fwt_forward_output *o = NULL;
    assert_int_equal(fwt_training_forward_backward_result(&o, t, b, FWT_LOSS_CROSS_ENTROPY, 10000), FWT_OK);
    fwt_forward_output_free(o);
    fwt_batch_free(b);
    char *p = NULL;
    assert_int_equal(fwt_training_save_state_result(&p, t, "x", 0, 10000), FWT_OK);
    fwt_free(p);
    fwt_training_free(t);
    fwt_client_free(c);
    trainer_stop(tr);
    assert_int_equal(fwt_set_allocator(NULL), FWT_OK);
    assert_true(atomic_load(&g_a) > 50);
    assert_int_equal(atomic_load(&g_a), atomic_load(&g_f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sampler_failure_resets_auto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lora, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_sends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_mismatch_and_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_checkpoints_errors, setup, teardown),
        cmocka_unit_test(test_custom_allocator_balanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
