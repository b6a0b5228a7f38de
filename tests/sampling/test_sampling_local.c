/*
 * Sampling (sampling.h) against fwtrain-local: a real trainer pushes its
 * weights into a real deployment, then the deployment is sampled through the
 * library. Text and token-id prompts agree (the model is byte-level), the
 * echoed prompt logprobs equal the trainer's forward logprobs, the sampling
 * logprobs are the policy's, a seed makes samples repeatable, and hundreds of
 * requests run in flight on one client.
 */
#include <math.h>
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
#define JOB "sampling-job"
#define DEP "sampling-dep"

static const char PROMPT[] = "the quick brown fox";

typedef struct env {
    fwt_local_server *srv;
    fwt_client *c;
    fwt_job *job;
    fwt_training *t;
    fwt_weight_syncer *sync;
} env;

static void check(int rc, const char *what)
{
    if (rc != FWT_OK)
        print_error("%s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    assert_int_equal(rc, FWT_OK);
}

static int group_setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    static const char *const args[] = {"--model-dim", "8", "--job-start-ms", "10", "--hotload-ms", "5",
                                       "--long-poll-ms", "200", NULL};
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
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = JOB;
    jo.base_model = BASE_MODEL;
    fwt_job *j = NULL;
    if (fwt_job_create(&j, e->c, &jo) != FWT_OK)
        return -1;
    fwt_job_free(j);
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    if (fwt_job_wait_ready_result(&e->job, e->c, JOB, &w, 30000) != FWT_OK ||
        fwt_job_open_training(&e->t, e->c, e->job, NULL) != FWT_OK ||
        fwt_training_create_model_result(e->t, 30000) != FWT_OK)
        return -1;
    fwt_deployment_create_options d;
    fwt_deployment_create_options_init(&d, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    d.base_model = BASE_MODEL;
    d.hot_load_trainer_job = JOB;
    fwt_deployment *dep = NULL;
    if (fwt_deployment_create(&dep, e->c, DEP, &d) != FWT_OK)
        return -1;
    fwt_deployment_free(dep);
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = DEP;
    o.base_model = BASE_MODEL;
    o.hotload_wait.poll_interval_ms = o.manager_wait.poll_interval_ms = 5;
    o.warmup.retry_interval_ms = 10;
    char *snap = NULL;
    if (fwt_weight_syncer_new(&e->sync, e->c, e->t, &o) != FWT_OK ||
        fwt_weight_syncer_save_and_hotload(&snap, e->sync, "base", FWT_SAMPLER_AUTO) != FWT_OK) {
        fprintf(stderr, "setup: %s\n", fwt_error_last()->message);
        return -1;
    }
    fwt_free(snap);
    *state = e;
    return 0;
}

static int group_teardown(void **state)
{
    env *e = *state;
    fwt_weight_syncer_free(e->sync);
    fwt_training_free(e->t);
    fwt_job_free(e->job);
    fwt_client_free(e->c);
    fwt_local_server_free(e->srv);
    free(e);
    return 0;
}

static fwt_sample_request base_req(void)
{
    fwt_sample_request r;
    fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
    r.hotload_retry_interval_ms = 10;
    return r;
}

/* The byte-level model: a text prompt and its bytes as token ids sample the same tokens with the same logprobs. */
static void test_text_and_tokens_agree(void **state)
{
    env *e = *state;
    int64_t toks[sizeof PROMPT];
    for (size_t i = 0; PROMPT[i]; i++)
        toks[i] = (unsigned char)PROMPT[i];
    fwt_sample_request r = base_req();
    r.prompt_text = PROMPT;
    r.max_tokens = 12;
    r.has_seed = 1;
    r.seed = 77;
    r.logprobs = 1;
    fwt_completion *a = NULL, *b = NULL;
    check(fwt_sample_result(&a, e->c, DEP, &r, 30000), "text prompt");
    r.prompt_text = NULL;
    r.prompt_tokens = toks;
    r.n_prompt_tokens = strlen(PROMPT);
    check(fwt_sample_result(&b, e->c, DEP, &r, 30000), "token prompt");
    size_t na = 0, nb = 0;
    const int64_t *ta = fwt_completion_tokens(a, 0, &na), *tb = fwt_completion_tokens(b, 0, &nb);
    assert_int_equal(na, 12);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, na * sizeof *ta);
    const float *la = fwt_completion_logprobs(a, 0, &na), *lb = fwt_completion_logprobs(b, 0, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(la, lb, na * sizeof *la);
    for (size_t i = 0; i < na; i++) {
        assert_true(ta[i] >= 0 && ta[i] <= 255); /* bytes */
        assert_true(la[i] <= 0 && isfinite(la[i]));
    }
    /* the text is those bytes where they are printable ASCII */
    const char *text = fwt_completion_text(a, 0);
    size_t k = 0;
    for (size_t i = 0; i < na; i++)
        if (ta[i] >= 32 && ta[i] < 127) {
            const char *hit = strchr(text + k, (int)ta[i]);
            assert_non_null(hit);
            k = (size_t)(hit - text) + 1;
        }
    int64_t up = 0, uc = 0;
    check(fwt_completion_usage(a, &up, &uc), "usage");
    assert_int_equal(up, (int64_t)strlen(PROMPT));
    assert_int_equal(uc, 12);
    fwt_completion_free(a);
    fwt_completion_free(b);
}

/* Forward logprobs on prompt (+ completion) of the trainer. */
static fwt_forward_output *forward_on(env *e, const int64_t *toks, size_t n)
{
    int64_t tok[256], tgt[256];
    float w[256];
    assert_true(n >= 2 && n <= 256);
    for (size_t i = 0; i + 1 < n; i++) {
        tok[i] = toks[i];
        tgt[i] = toks[i + 1];
        w[i] = 1;
    }
    fwt_batch *b = NULL;
    check(fwt_batch_new(&b), "batch");
    check(fwt_batch_add(b, tok, n - 1, tgt, n - 1, w, n - 1), "batch add");
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_result(&fo, e->t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward");
    fwt_batch_free(b);
    return fo;
}

/* Echo: the deployment's prompt logprobs equal the trainer's forward logprobs, bit for bit. */
static void test_echo_equals_trainer(void **state)
{
    env *e = *state;
    fwt_sample_request r = base_req();
    r.prompt_text = PROMPT;
    r.max_tokens = 0;
    r.echo = 1;
    r.logprobs = 1;
    r.temperature = 0;
    fwt_completion *c = NULL;
    check(fwt_sample_result(&c, e->c, DEP, &r, 30000), "echo");
    size_t np = 0, nl = 0, n = 0;
    const int64_t *pt = fwt_completion_prompt_tokens(c, &np);
    const float *plp = fwt_completion_prompt_logprobs(c, &nl);
    assert_int_equal(np, strlen(PROMPT));
    assert_int_equal(nl, np);
    assert_true(isnan(plp[0]));
    for (size_t i = 0; i < np; i++)
        assert_int_equal(pt[i], (unsigned char)PROMPT[i]);
    assert_int_equal(fwt_completion_tokens(c, 0, &n) != NULL, 1);
    assert_int_equal(n, 0);
    fwt_forward_output *fo = forward_on(e, pt, np);
    const float *lp = fwt_forward_output_logprobs(fo, 0, &n);
    assert_int_equal(n, np - 1);
    for (size_t i = 0; i < n; i++)
        if (plp[i + 1] != lp[i])
            fail_msg("prompt token %zu: deployment %.9g, trainer %.9g", i + 1, (double)plp[i + 1], (double)lp[i]);
    fwt_forward_output_free(fo);
    fwt_completion_free(c);
}

/* At temperature 1 (no top-p/top-k) the sampling logprobs are the policy's: the trainer agrees on them. */
static void test_sampling_logprobs_are_the_policys(void **state)
{
    env *e = *state;
    fwt_sample_request r = base_req();
    r.prompt_text = PROMPT;
    r.max_tokens = 10;
    r.logprobs = 1;
    r.echo = 1;
    r.has_seed = 1;
    r.seed = 5;
    fwt_completion *c = NULL;
    check(fwt_sample_result(&c, e->c, DEP, &r, 30000), "sample");
    size_t np = 0, ng = 0, n = 0;
    const int64_t *pt = fwt_completion_prompt_tokens(c, &np);
    const int64_t *gt = fwt_completion_tokens(c, 0, &ng);
    const float *glp = fwt_completion_logprobs(c, 0, &n);
    assert_int_equal(n, ng);
    assert_int_equal(ng, 10);
    int64_t all[64];
    memcpy(all, pt, np * sizeof *pt);
    memcpy(all + np, gt, ng * sizeof *gt);
    fwt_forward_output *fo = forward_on(e, all, np + ng);
    const float *lp = fwt_forward_output_logprobs(fo, 0, &n);
    assert_int_equal(n, np + ng - 1);
    for (size_t i = 0; i < ng; i++)
        if (fabsf(glp[i] - lp[np - 1 + i]) > 1e-4f)
            fail_msg("generated token %zu: deployment %.9g, trainer %.9g", i, (double)glp[i], (double)lp[np - 1 + i]);
    fwt_forward_output_free(fo);
    fwt_completion_free(c);
}

/* The same seed gives the same samples; another seed (almost surely) others. */
static void test_seed_repeatable(void **state)
{
    env *e = *state;
    fwt_sample_request r = base_req();
    r.prompt_text = PROMPT;
    r.max_tokens = 24; /* no logprobs: the token ids come anyway */
    r.has_seed = 1;
    r.seed = 4242;
    fwt_completion *a = NULL, *b = NULL, *d = NULL;
    check(fwt_sample_result(&a, e->c, DEP, &r, 30000), "a");
    check(fwt_sample_result(&b, e->c, DEP, &r, 30000), "b");
    r.seed = 4243;
    check(fwt_sample_result(&d, e->c, DEP, &r, 30000), "d");
    size_t na, nb, nd;
    const int64_t *ta = fwt_completion_tokens(a, 0, &na), *tb = fwt_completion_tokens(b, 0, &nb);
    const int64_t *td = fwt_completion_tokens(d, 0, &nd);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, na * sizeof *ta);
    assert_true(nd != na || memcmp(ta, td, na * sizeof *ta) != 0);
    fwt_completion_free(a);
    fwt_completion_free(b);
    fwt_completion_free(d);
}

/* n choices of one request; each a different sample; stop ends a choice with finish_reason "stop". */
static void test_n_choices_and_stop(void **state)
{
    env *e = *state;
    fwt_sample_request r = base_req();
    r.prompt_text = PROMPT;
    r.n = 6;
    r.max_tokens = 40;
    r.logprobs = 1;
    r.has_seed = 1;
    r.seed = 9;
    fwt_completion *c = NULL;
    check(fwt_sample_result(&c, e->c, DEP, &r, 30000), "n = 6");
    assert_int_equal(fwt_completion_count(c), 6);
    int distinct = 0;
    size_t n0 = 0;
    const int64_t *t0 = fwt_completion_tokens(c, 0, &n0);
    for (size_t i = 0; i < 6; i++) {
        size_t n = 0, nl = 0;
        const int64_t *t = fwt_completion_tokens(c, i, &n);
        fwt_completion_logprobs(c, i, &nl);
        assert_int_equal(n, 40);
        assert_int_equal(nl, n);
        assert_string_equal(fwt_completion_finish_reason(c, i), "length");
        distinct += i > 0 && memcmp(t, t0, n * sizeof *t) != 0;
    }
    assert_true(distinct >= 4);
    /* stop at the first byte the first choice generated after its 3rd token: that choice stops there */
    char stop[2] = {(char)t0[3], 0};
    if (t0[3] > 0 && t0[3] < 128) {
        const char *stops[] = {stop};
        r.stop = stops;
        r.n_stop = 1;
        fwt_completion *d = NULL;
        check(fwt_sample_result(&d, e->c, DEP, &r, 30000), "stop");
        size_t n = 0;
        fwt_completion_tokens(d, 0, &n);
        assert_true(n <= 4);
        assert_string_equal(fwt_completion_finish_reason(d, 0), "stop");
        fwt_completion_free(d);
    }
    /* top_k = 1 is greedy: every choice is the same */
    r.stop = NULL;
    r.n_stop = 0;
    r.top_k = 1;
    fwt_completion *g = NULL;
    check(fwt_sample_result(&g, e->c, DEP, &r, 30000), "top_k 1");
    const int64_t *g0 = fwt_completion_tokens(g, 0, &n0);
    for (size_t i = 1; i < 6; i++) {
        size_t n = 0;
        const int64_t *t = fwt_completion_tokens(g, i, &n);
        assert_int_equal(n, n0);
        assert_memory_equal(t, g0, n * sizeof *t);
    }
    fwt_completion_free(g);
    fwt_completion_free(c);
}

/* A deployment that does not exist: 404 retried for the hotload budget, then FWT_ENOTFOUND. */
static void test_unknown_deployment(void **state)
{
    env *e = *state;
    fwt_sample_request r = base_req();
    r.prompt_text = PROMPT;
    r.hotload_retry_interval_ms = 10;
    r.hotload_retry_timeout_ms = 50;
    assert_int_equal(fwt_sample_result(NULL, e->c, "no-such-dep", &r, 30000), FWT_ENOTFOUND);
    assert_non_null(strstr(fwt_error_last()->message, "no-such-dep"));
}

#define MANY 256

static void test_many_in_flight(void **state)
{
    env *e = *state;
    fwt_future **fs = calloc(MANY, sizeof *fs);
    int64_t *seeds = calloc(MANY, sizeof *seeds);
    for (int i = 0; i < MANY; i++) {
        fwt_sample_request r = base_req();
        r.prompt_text = PROMPT;
        r.max_tokens = 8;
        r.logprobs = 1;
        r.has_seed = 1;
        r.seed = seeds[i] = i % 16; /* 16 distinct answers, each repeated: same seed, same tokens */
        check(fwt_sample(&fs[i], e->c, DEP, &r), "sample");
    }
    fwt_completion *first[16] = {0};
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(fwt_future_wait(fs[i], -1), FWT_OK);
        fwt_completion *c = NULL;
        if (fwt_future_take_completion(&c, fs[i]) != FWT_OK)
            fail_msg("future %d: %s", i, fwt_future_error(fs[i])->message);
        fwt_future_free(fs[i]);
        size_t n = 0, m = 0;
        const int64_t *t = fwt_completion_tokens(c, 0, &n);
        assert_int_equal(n, 8);
        if (!first[seeds[i]]) {
            first[seeds[i]] = c;
            continue;
        }
        const int64_t *t0 = fwt_completion_tokens(first[seeds[i]], 0, &m);
        assert_memory_equal(t, t0, n * sizeof *t);
        fwt_completion_free(c);
    }
    for (int i = 0; i < 16; i++)
        fwt_completion_free(first[i]);
    free(fs);
    free(seeds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_tokens_agree),
        cmocka_unit_test(test_echo_equals_trainer),
        cmocka_unit_test(test_sampling_logprobs_are_the_policys),
        cmocka_unit_test(test_seed_repeatable),
        cmocka_unit_test(test_n_choices_and_stop),
        cmocka_unit_test(test_unknown_deployment),
        cmocka_unit_test(test_many_in_flight),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
