/*
 * Sampling (sampling.h) against the scripted responder: validation before
 * any request, the wire body, decoding of every accepted response shape,
 * FWT_EPROTO on every missing field, 404/425 hotload retries with their own
 * interval and budget, engine retries, cancellation, and hundreds of
 * futures in flight on one client.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "fwtrain/fwtrain.h"
#include "responder.h"

#define DEP "dep-1"

typedef struct fx {
    fwt_responder *r;
    fwt_client *c;
    char *base;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || fwt_responder_start(&f->r, NULL, NULL) != 0)
        return -1;
    f->base = fwt_responder_url(f->r, "");
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.base_url = "http://127.0.0.1:1"; /* the inference plane is configured separately: nothing goes here */
    o.inference_base_url = f->base;
    o.api_key = "test-key-sampling";
    o.account_id = "acct";
    o.retry_base_ms = 5;
    o.retry_cap_ms = 20;
    o.retry_budget_ms = 2000;
    if (fwt_client_new(&f->c, &o) != FWT_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt_client_free(f->c);
    fwt_responder_stop(f->r);
    free(f->base);
    free(f);
    return 0;
}

static void push(fx *f, int status, const char *json)
{
    fwt_resp_action a;
    memset(&a, 0, sizeof a);
    a.status = status;
    a.content_type = "application/json";
    a.body = json;
    fwt_responder_push(f->r, &a);
}

static cJSON *req_json(fx *f, size_t i)
{
    fwt_resp_request *q = fwt_responder_request_copy(f->r, i);
    assert_non_null(q);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->path, "/inference/v1/completions");
    cJSON *j = cJSON_Parse(q->body);
    fwt_resp_request_free(q);
    assert_non_null(j);
    return j;
}

static fwt_sample_request text_req(const char *prompt)
{
    fwt_sample_request r;
    assert_int_equal(fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION), FWT_OK);
    r.prompt_text = prompt;
    r.hotload_retry_interval_ms = 10;
    r.hotload_retry_timeout_ms = 2000;
    return r;
}

/* ---- validation ---- */

typedef struct bad_case {
    const char *arg;
    void (*mutate)(fwt_sample_request *r);
} bad_case;

static const int64_t TOKS[] = {72, 105};
static const char *const EMPTY_STOP[] = {""};
static void m_no_prompt(fwt_sample_request *r) { r->prompt_text = NULL; }
static void m_both(fwt_sample_request *r) { r->prompt_tokens = TOKS, r->n_prompt_tokens = 2; }
static void m_empty(fwt_sample_request *r) { r->prompt_text = ""; }
static void m_utf8(fwt_sample_request *r) { r->prompt_text = "bad \xC3\x28 byte"; }
static void m_ntok0(fwt_sample_request *r) { r->prompt_text = NULL, r->prompt_tokens = TOKS, r->n_prompt_tokens = 0; }
static void m_neg_tok(fwt_sample_request *r)
{
    static const int64_t t[] = {1, -3};
    r->prompt_text = NULL, r->prompt_tokens = t, r->n_prompt_tokens = 2;
}
static void m_n0(fwt_sample_request *r) { r->n = 0; }
static void m_nneg(fwt_sample_request *r) { r->n = -4; }
static void m_temp(fwt_sample_request *r) { r->temperature = -0.5; }
static void m_temp_nan(fwt_sample_request *r) { r->temperature = NAN; }
static void m_top_p0(fwt_sample_request *r) { r->top_p = 0; }
static void m_top_p_big(fwt_sample_request *r) { r->top_p = 1.5; }
static void m_top_k(fwt_sample_request *r) { r->top_k = -1; }
static void m_max_tokens(fwt_sample_request *r) { r->max_tokens = -1; }
static void m_max_tokens0(fwt_sample_request *r) { r->max_tokens = 0; }
static void m_seed(fwt_sample_request *r) { r->has_seed = 1, r->seed = -2; }
static void m_stop_null(fwt_sample_request *r) { r->n_stop = 2; }
static void m_stop_empty(fwt_sample_request *r) { r->stop = EMPTY_STOP, r->n_stop = 1; }
static void m_timeout(fwt_sample_request *r) { r->request_timeout_ms = -2; }
static void m_hl_interval(fwt_sample_request *r) { r->hotload_retry_interval_ms = -1; }
static void m_hl_timeout(fwt_sample_request *r) { r->hotload_retry_timeout_ms = -5; }
static void m_version(fwt_sample_request *r) { r->version = 99; }

static void test_bad_input_sends_nothing(void **state)
{
    fx *f = *state;
    const bad_case cases[] = {
        {"prompt", m_no_prompt},       {"prompt_text and prompt_tokens", m_both}, {"prompt_text is empty", m_empty},
        {"UTF-8", m_utf8},             {"n_prompt_tokens", m_ntok0},              {"prompt_tokens[1]", m_neg_tok},
        {"n must be", m_n0},           {"n must be", m_nneg},                     {"temperature", m_temp},
        {"temperature", m_temp_nan},   {"top_p", m_top_p0},                       {"top_p", m_top_p_big},
        {"top_k", m_top_k},            {"max_tokens", m_max_tokens},              {"max_tokens", m_max_tokens0},
        {"seed", m_seed},              {"stop is NULL", m_stop_null},             {"stop[0]", m_stop_empty},
        {"request_timeout_ms", m_timeout}, {"hotload_retry_interval_ms", m_hl_interval},
        {"hotload_retry_timeout_ms", m_hl_timeout}, {"version", m_version},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fwt_sample_request r = text_req("Hi");
        cases[i].mutate(&r);
        fwt_future *fu = (fwt_future *)0x1;
        assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_EINVAL);
        assert_null(fu);
        if (!strstr(fwt_error_last()->message, cases[i].arg))
            fail_msg("case %zu: \"%s\" does not name %s", i, fwt_error_last()->message, cases[i].arg);
        fwt_completion *c = (fwt_completion *)0x1;
        assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, -1), FWT_EINVAL);
        assert_null(c);
        assert_non_null(strstr(fwt_error_last()->message, cases[i].arg));
    }
    fwt_sample_request r = text_req("Hi");
    fwt_future *fu = NULL;
    assert_int_equal(fwt_sample(&fu, f->c, "Bad_Id", &r), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "deployment_id"));
    assert_int_equal(fwt_sample(&fu, f->c, NULL, &r), FWT_EINVAL);
    assert_int_equal(fwt_sample(&fu, NULL, DEP, &r), FWT_EINVAL);
    assert_int_equal(fwt_sample(&fu, f->c, DEP, NULL), FWT_EINVAL);
    assert_int_equal(fwt_sample(NULL, f->c, DEP, &r), FWT_EINVAL);
    assert_int_equal(fwt_sample_result(NULL, f->c, DEP, &r, -7), FWT_EINVAL);
    assert_int_equal(fwt_sample_request_init(NULL, FWT_SAMPLE_REQUEST_VERSION), FWT_EINVAL);
    assert_int_equal(fwt_sample_request_init(&r, 7), FWT_EINVAL);
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    fwt_sample_request r;
    memset(&r, 0x5a, sizeof r);
    assert_int_equal(fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION), FWT_OK);
    assert_null(r.prompt_text);
    assert_null(r.prompt_tokens);
    assert_int_equal(r.max_tokens, 16);
    assert_int_equal(r.n, 1);
    assert_true(r.temperature == 1.0);
    assert_true(r.top_p == 1.0);
    assert_int_equal(r.top_k, 0);
    assert_int_equal(r.logprobs, 0);
    assert_int_equal(r.echo, 0);
    assert_int_equal(r.has_seed, 0);
    assert_null(r.stop);
    assert_int_equal(r.request_timeout_ms, 0);
    assert_int_equal(r.hotload_retry_interval_ms, 0);
    assert_int_equal(r.hotload_retry_timeout_ms, 0);
}

/* ---- the wire body and decoding ---- */

#define OK_TWO                                                                                                    \
    "{\"id\":\"c1\",\"choices\":["                                                                                \
    "{\"index\":1,\"text\":\"yo\",\"finish_reason\":\"stop\",\"logprobs\":{\"tokens\":[\"y\",\"o\"],"             \
    "\"token_logprobs\":[-0.5,-0.25],\"token_ids\":[121,111]}},"                                                  \
    "{\"index\":0,\"text\":\"abc\",\"finish_reason\":\"length\",\"logprobs\":{\"tokens\":[\"a\",\"b\",\"c\"],"    \
    "\"token_logprobs\":[-1,-2,-3],\"token_ids\":[97,98,99]}}],"                                                  \
    "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5,\"total_tokens\":7}}"

static void test_body_and_decode(void **state)
{
    fx *f = *state;
    push(f, 200, OK_TWO);
    static const char *const stops[] = {"\n\n", "END"};
    fwt_sample_request r = text_req("H\xC3\xA9");
    r.n = 2;
    r.max_tokens = 3;
    r.temperature = 0.7;
    r.top_p = 0.9;
    r.top_k = 40;
    r.has_seed = 1;
    r.seed = 1234;
    r.stop = stops;
    r.n_stop = 2;
    r.logprobs = 1;
    fwt_completion *c = NULL;
    assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, -1), FWT_OK);
    cJSON *j = req_json(f, 0);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "accounts/acct/deployments/dep-1");
    assert_string_equal(cJSON_GetObjectItem(j, "prompt")->valuestring, "H\xC3\xA9");
    assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, 2);
    assert_true(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.7);
    assert_true(cJSON_GetObjectItem(j, "top_p")->valuedouble == 0.9);
    assert_int_equal(cJSON_GetObjectItem(j, "top_k")->valueint, 40);
    assert_int_equal(cJSON_GetObjectItem(j, "seed")->valueint, 1234);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "stop")), 2);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "stop"), 1)->valuestring, "END");
    assert_int_equal(cJSON_GetObjectItem(j, "logprobs")->valueint, 1);
    assert_null(cJSON_GetObjectItem(j, "echo"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "raw_output")));
    cJSON_Delete(j);
    /* both auth headers of the inference plane (docs/protocol.md §1) */
    fwt_resp_request *q = fwt_responder_request_copy(f->r, 0);
    assert_string_equal(fwt_resp_request_header(q, "X-Api-Key"), "test-key-sampling");
    assert_string_equal(fwt_resp_request_header(q, "Authorization"), "Bearer test-key-sampling");
    assert_non_null(fwt_resp_request_header(q, "X-Idempotency-Key"));
    fwt_resp_request_free(q);

    /* choices ordered by index */
    assert_int_equal(fwt_completion_count(c), 2);
    assert_string_equal(fwt_completion_text(c, 0), "abc");
    assert_string_equal(fwt_completion_finish_reason(c, 0), "length");
    assert_string_equal(fwt_completion_text(c, 1), "yo");
    assert_string_equal(fwt_completion_finish_reason(c, 1), "stop");
    size_t n = 0;
    const int64_t *t = fwt_completion_tokens(c, 0, &n);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 97);
    assert_int_equal(t[2], 99);
    const float *lp = fwt_completion_logprobs(c, 1, &n);
    assert_int_equal(n, 2);
    assert_true(lp[0] == -0.5f && lp[1] == -0.25f);
    int64_t up = 0, uc = 0;
    assert_int_equal(fwt_completion_usage(c, &up, &uc), FWT_OK);
    assert_int_equal(up, 2);
    assert_int_equal(uc, 5);
    /* text prompt without echo: no prompt tokens known */
    assert_null(fwt_completion_prompt_tokens(c, &n));
    assert_int_equal(n, 0);
    assert_null(fwt_completion_prompt_logprobs(c, &n));
    /* out of range */
    assert_null(fwt_completion_text(c, 2));
    assert_null(fwt_completion_tokens(c, 2, &n));
    assert_int_equal(n, 0);
    assert_null(fwt_completion_logprobs(c, 5, &n));
    assert_null(fwt_completion_finish_reason(c, 9));
    assert_int_equal(fwt_completion_count(NULL), 0);
    assert_int_equal(fwt_completion_usage(NULL, &up, &uc), FWT_EINVAL);
    fwt_completion_free(c);
    fwt_completion_free(NULL);
}

/* Token prompt + echo + logprobs, token ids from raw_output (the service's field), logprobs in content[] form. */
static void test_tokens_echo_raw_output(void **state)
{
    fx *f = *state;
    push(f, 200,
         "{\"choices\":[{\"text\":\"Hi!\",\"finish_reason\":\"length\","
         "\"raw_output\":{\"completion_token_ids\":[72,105,33]},"
         "\"logprobs\":{\"content\":[{\"token\":\"H\",\"logprob\":null},{\"token\":\"i\",\"logprob\":-1.5},"
         "{\"token\":\"!\",\"logprob\":-0.125}]}}],"
         "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}");
    fwt_sample_request r = text_req(NULL);
    r.prompt_text = NULL;
    r.prompt_tokens = TOKS;
    r.n_prompt_tokens = 2;
    r.max_tokens = 1;
    r.echo = 1;
    r.logprobs = 1;
    fwt_future *fu = NULL;
    assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_OK);
    assert_int_equal(fwt_future_wait(fu, -1), FWT_OK);
    assert_int_equal(fwt_future_status(fu), FWT_OK);
    fwt_completion *c = NULL;
    assert_int_equal(fwt_future_take_completion(&c, fu), FWT_OK);
    assert_int_equal(fwt_future_take_completion(&c, fu), FWT_ESTATE);
    fwt_future_free(fu);
    cJSON *j = req_json(f, 0);
    cJSON *p = cJSON_GetObjectItem(j, "prompt");
    assert_true(cJSON_IsArray(p));
    assert_int_equal(cJSON_GetArraySize(p), 2);
    assert_int_equal(cJSON_GetArrayItem(p, 1)->valueint, 105);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "echo")));
    cJSON_Delete(j);
    size_t n = 0;
    const int64_t *t = fwt_completion_tokens(c, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 33);
    const float *lp = fwt_completion_logprobs(c, 0, &n);
    assert_int_equal(n, 1);
    assert_true(lp[0] == -0.125f);
    const int64_t *pt = fwt_completion_prompt_tokens(c, &n);
    assert_int_equal(n, 2);
    assert_int_equal(pt[0], 72);
    const float *plp = fwt_completion_prompt_logprobs(c, &n);
    assert_int_equal(n, 2);
    assert_true(isnan(plp[0]));
    assert_true(plp[1] == -1.5f);
    fwt_completion_free(c);
}

/* fwtrain-local's shape: generated ids in choices[].token_ids, logprobs.token_ids with the prompt first (echo). */
static void test_choice_token_ids(void **state)
{
    fx *f = *state;
    push(f, 200,
         "{\"choices\":[{\"index\":0,\"text\":\"Hey\",\"finish_reason\":\"stop\",\"token_ids\":[121],"
         "\"logprobs\":{\"tokens\":[\"H\",\"e\",\"y\"],\"token_logprobs\":[null,-2,-3],\"token_ids\":[72,101,121]}}],"
         "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}");
    push(f, 200,
         "{\"choices\":[{\"index\":0,\"text\":\"Hey\",\"finish_reason\":\"length\",\"token_ids\":[121],"
         "\"logprobs\":null}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}");
    fwt_sample_request r = text_req("He");
    r.max_tokens = 1;
    r.echo = 1;
    r.logprobs = 1;
    fwt_completion *c = NULL;
    assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, 5000), FWT_OK);
    size_t n = 0;
    const int64_t *t = fwt_completion_tokens(c, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 121);
    const int64_t *pt = fwt_completion_prompt_tokens(c, &n);
    assert_int_equal(n, 2);
    assert_int_equal(pt[0], 72);
    const float *plp = fwt_completion_prompt_logprobs(c, &n);
    assert_int_equal(n, 2);
    assert_true(isnan(plp[0]) && plp[1] == -2.0f);
    const float *lp = fwt_completion_logprobs(c, 0, &n);
    assert_int_equal(n, 1);
    assert_true(lp[0] == -3.0f);
    fwt_completion_free(c);
    /* no logprobs asked: the ids alone; a text prompt echoed without ids has no known prompt tokens */
    r.logprobs = 0;
    assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, 5000), FWT_OK);
    t = fwt_completion_tokens(c, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 121);
    assert_null(fwt_completion_prompt_tokens(c, &n));
    assert_null(fwt_completion_logprobs(c, 0, &n));
    fwt_completion_free(c);
}

/* A text prompt with echo: the split comes from usage.prompt_tokens; the echoed ids become the prompt tokens. */
static void test_text_echo_split_by_usage(void **state)
{
    fx *f = *state;
    push(f, 200,
         "{\"choices\":[{\"text\":\"Hey\",\"finish_reason\":\"length\",\"logprobs\":{\"tokens\":[\"H\",\"e\",\"y\"],"
         "\"token_logprobs\":[null,-2,-3],\"token_ids\":[72,101,121]}}],"
         "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}");
    fwt_sample_request r = text_req("He");
    r.max_tokens = 1;
    r.echo = 1;
    r.logprobs = 1;
    fwt_completion *c = NULL;
    assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, 5000), FWT_OK);
    size_t n = 0;
    const int64_t *pt = fwt_completion_prompt_tokens(c, &n);
    assert_int_equal(n, 2);
    assert_int_equal(pt[1], 101);
    const int64_t *t = fwt_completion_tokens(c, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 121);
    assert_string_equal(fwt_completion_text(c, 0), "Hey");
    fwt_completion_free(c);
}

/* ---- FWT_EPROTO: never a partial result ---- */

static void test_missing_fields_are_eproto(void **state)
{
    fx *f = *state;
    static const struct {
        const char *why, *body;
        int logprobs, echo;
    } cases[] = {
        {"choices", "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 0, 0},
        {"usage", "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\",\"raw_output\":"
                  "{\"completion_token_ids\":[97]}}]}", 0, 0},
        {"text", "{\"choices\":[{\"finish_reason\":\"length\",\"raw_output\":{\"completion_token_ids\":[97]}}],"
                 "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 0, 0},
        {"finish_reason", "{\"choices\":[{\"text\":\"a\",\"raw_output\":{\"completion_token_ids\":[97]}}],"
                          "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 0, 0},
        {"token ids", "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\"}],"
                      "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 0, 0},
        {"token id", "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\",\"raw_output\":"
                     "{\"completion_token_ids\":[-1]}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 0, 0},
        {"logprobs", "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\",\"raw_output\":"
                     "{\"completion_token_ids\":[97]}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 1, 0},
        {"1 logprobs for 2 tokens",
         "{\"choices\":[{\"text\":\"ab\",\"finish_reason\":\"length\",\"logprobs\":{\"token_logprobs\":[-1],"
         "\"token_ids\":[97,98]}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", 1, 0},
        {"not a finite number",
         "{\"choices\":[{\"text\":\"ab\",\"finish_reason\":\"length\",\"logprobs\":{\"token_logprobs\":[-1,null],"
         "\"token_ids\":[97,98]}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", 1, 0},
        {"fewer than the",
         "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\",\"raw_output\":{\"completion_token_ids\":[]}}],"
         "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 0, 1},
        {"2 choices for n = 1",
         "{\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\",\"raw_output\":{\"completion_token_ids\":[1]}},"
         "{\"text\":\"b\",\"finish_reason\":\"length\",\"raw_output\":{\"completion_token_ids\":[2]}}],"
         "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", 0, 0},
        {"does not end with",
         "{\"choices\":[{\"text\":\"ab\",\"finish_reason\":\"length\",\"token_ids\":[98],\"logprobs\":{"
         "\"token_logprobs\":[null,-1],\"token_ids\":[97,99]}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}",
         1, 1},
        {"not a JSON object", "[1,2]", 0, 0},
        {"not JSON", "<html>oops</html>", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int async = 0; async < 2; async++) {
            push(f, 200, cases[i].body);
            fwt_sample_request r = text_req("a");
            r.logprobs = cases[i].logprobs;
            r.echo = cases[i].echo;
            fwt_completion *c = (fwt_completion *)0x1;
            if (async) {
                fwt_future *fu = NULL;
                assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_OK);
                assert_int_equal(fwt_future_wait(fu, -1), FWT_OK);
                assert_int_equal(fwt_future_status(fu), FWT_EPROTO);
                const fwt_error *e = fwt_future_error(fu);
                if (!strstr(e->message, cases[i].why))
                    fail_msg("case %zu (%s): message \"%s\"", i, cases[i].why, e->message);
                assert_int_equal(e->http_status, 200);
                assert_int_equal(fwt_future_take_completion(&c, fu), FWT_EPROTO);
                fwt_future_free(fu);
            } else {
                assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, -1), FWT_EPROTO);
                assert_null(c);
                if (!strstr(fwt_error_last()->message, cases[i].why))
                    fail_msg("case %zu (%s): message \"%s\"", i, cases[i].why, fwt_error_last()->message);
            }
        }
    }
}

/* ---- retries ---- */

static void test_hotload_404_425_retried_then_ok(void **state)
{
    fx *f = *state;
    for (int async = 0; async < 2; async++) {
        size_t before = fwt_responder_request_count(f->r);
        push(f, 425, "{\"error\":{\"message\":\"deployment is hotloading\"}}");
        push(f, 404, "{\"error\":\"Model not found\"}");
        push(f, 503, "{\"error\":\"busy\"}"); /* an engine retry in between */
        push(f, 200, OK_TWO);
        fwt_sample_request r = text_req("x");
        r.n = 2;
        r.hotload_retry_interval_ms = 30;
        fwt_completion *c = NULL;
        if (async) {
            fwt_future *fu = NULL;
            assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_OK);
            assert_int_equal(fwt_future_wait(fu, -1), FWT_OK);
            assert_int_equal(fwt_future_take_completion(&c, fu), FWT_OK);
            fwt_future_free(fu);
        } else {
            assert_int_equal(fwt_sample_result(&c, f->c, DEP, &r, -1), FWT_OK);
        }
        assert_int_equal(fwt_completion_count(c), 2);
        fwt_completion_free(c);
        assert_int_equal(fwt_responder_request_count(f->r) - before, 4);
        /* the same idempotency key on every attempt of one logical request */
        fwt_resp_request *a = fwt_responder_request_copy(f->r, before);
        fwt_resp_request *b = fwt_responder_request_copy(f->r, before + 3);
        assert_string_equal(fwt_resp_request_header(a, "X-Idempotency-Key"),
                            fwt_resp_request_header(b, "X-Idempotency-Key"));
        fwt_resp_request_free(a);
        fwt_resp_request_free(b);
    }
}

/* The hotload budget ends the retries: the last answer's error comes back (404 → FWT_ENOTFOUND). */
static void test_hotload_budget_exhausted(void **state)
{
    fx *f = *state;
    fwt_resp_action a;
    memset(&a, 0, sizeof a);
    a.status = 404;
    a.content_type = "application/json";
    a.body = "{\"error\":{\"message\":\"deployment not found\"}}";
    fwt_responder_set_default(f->r, &a);
    for (int async = 0; async < 2; async++) {
        size_t before = fwt_responder_request_count(f->r);
        fwt_sample_request r = text_req("x");
        r.hotload_retry_interval_ms = 20;
        r.hotload_retry_timeout_ms = 100; /* at most 100 / 20 = 5 retries after the first 404 */
        int rc;
        const fwt_error *e;
        fwt_future *fu = NULL;
        if (async) {
            assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_OK);
            assert_int_equal(fwt_future_wait(fu, -1), FWT_OK);
            rc = fwt_future_status(fu);
            e = fwt_future_error(fu);
        } else {
            rc = fwt_sample_result(NULL, f->c, DEP, &r, -1);
            e = fwt_error_last();
        }
        assert_int_equal(rc, FWT_ENOTFOUND);
        assert_int_equal(e->http_status, 404);
        assert_non_null(strstr(e->message, "deployment not found"));
        assert_non_null(strstr(e->message, DEP));
        size_t n = fwt_responder_request_count(f->r) - before;
        assert_true(n >= 2 && n <= 6);
        fwt_future_free(fu);
    }
    /* other 4xx are not retried */
    a.status = 400;
    a.body = "{\"error\":{\"message\":\"prompt too long\"}}";
    fwt_responder_set_default(f->r, &a);
    size_t before = fwt_responder_request_count(f->r);
    fwt_sample_request r = text_req("x");
    assert_int_equal(fwt_sample_result(NULL, f->c, DEP, &r, -1), FWT_EHTTP);
    assert_non_null(strstr(fwt_error_last()->message, "prompt too long"));
    assert_int_equal(fwt_responder_request_count(f->r) - before, 1);
}

/* out == NULL discards the result of the blocking twin. */
static void test_result_discard(void **state)
{
    fx *f = *state;
    push(f, 200, OK_TWO);
    fwt_sample_request r = text_req("x");
    r.n = 2;
    assert_int_equal(fwt_sample_result(NULL, f->c, DEP, &r, -1), FWT_OK);
    assert_int_equal(fwt_error_last()->code, FWT_OK);
}

/* A blocking call's overall timeout cuts a stalled answer; a future can be cancelled. */
static void test_timeout_and_cancel(void **state)
{
    fx *f = *state;
    fwt_resp_action a;
    memset(&a, 0, sizeof a);
    a.delay_headers_ms = -1; /* stall */
    fwt_responder_set_default(f->r, &a);
    fwt_sample_request r = text_req("x");
    assert_int_equal(fwt_sample_result(NULL, f->c, DEP, &r, 100), FWT_ETIMEDOUT);
    fwt_future *fu = NULL;
    assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_OK);
    assert_int_equal(fwt_future_wait(fu, 20), FWT_ETIMEDOUT);
    assert_int_equal(fwt_future_cancel(fu), FWT_OK);
    assert_int_equal(fwt_future_wait(fu, -1), FWT_OK); /* the cancel completes it on the worker */
    assert_int_equal(fwt_future_status(fu), FWT_ECANCELED);
    fwt_future_free(fu);
    /* a future left pending is cancelled by free */
    assert_int_equal(fwt_sample(&fu, f->c, DEP, &r), FWT_OK);
    fwt_future_free(fu);
    /* per-attempt request timeout: a connection-class failure, retried within the budget, then reported */
    r.request_timeout_ms = 30;
    int rc = fwt_sample_result(NULL, f->c, DEP, &r, -1);
    assert_true(rc == FWT_ECONNECT || rc == FWT_ETIMEDOUT);
}

/* ---- hundreds in flight ---- */

#define MANY 300

/* Echo the prompt's single token back as the generated token, so each future can check it got its own answer. */
static void echo_handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    static __thread char body[512];
    cJSON *j = cJSON_Parse(req->body);
    int tok = j ? cJSON_GetArrayItem(cJSON_GetObjectItem(j, "prompt"), 0)->valueint : -1;
    cJSON_Delete(j);
    snprintf(body, sizeof body,
             "{\"choices\":[{\"index\":0,\"text\":\"t\",\"finish_reason\":\"length\","
             "\"logprobs\":{\"token_logprobs\":[-%d.5],\"token_ids\":[%d]}}],"
             "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}",
             tok % 7, tok);
    out->status = 200;
    out->content_type = "application/json";
    out->body = body;
    out->delay_headers_ms = 20; /* long enough for every request to be in flight at once */
}

static void test_many_in_flight(void **state)
{
    (void)state;
    fwt_responder *resp = NULL;
    assert_int_equal(fwt_responder_start(&resp, echo_handler, NULL), 0);
    char *base = fwt_responder_url(resp, "");
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.base_url = base;
    o.api_key = "k";
    o.account_id = "acct";
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    fwt_future **fs = calloc(MANY, sizeof *fs);
    for (int i = 0; i < MANY; i++) {
        int64_t tok = i;
        fwt_sample_request r;
        fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
        r.prompt_tokens = &tok;
        r.n_prompt_tokens = 1;
        r.max_tokens = 1;
        r.logprobs = 1;
        assert_int_equal(fwt_sample(&fs[i], c, DEP, &r), FWT_OK);
    }
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(fwt_future_wait(fs[i], -1), FWT_OK);
        fwt_completion *cm = NULL;
        if (fwt_future_take_completion(&cm, fs[i]) != FWT_OK)
            fail_msg("future %d: %s", i, fwt_future_error(fs[i])->message);
        size_t n = 0;
        const int64_t *t = fwt_completion_tokens(cm, 0, &n);
        assert_int_equal(n, 1);
        assert_int_equal(t[0], i);
        const float *lp = fwt_completion_logprobs(cm, 0, &n);
        assert_true(lp[0] == -(float)(i % 7) - 0.5f);
        fwt_completion_free(cm);
        fwt_future_free(fs[i]);
    }
    free(fs);
    assert_int_equal(fwt_responder_request_count(resp), MANY);
    fwt_client_free(c);
    fwt_responder_stop(resp);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_input_sends_nothing, setup, teardown),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_body_and_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_echo_raw_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_echo_split_by_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choice_token_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_fields_are_eproto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hotload_404_425_retried_then_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hotload_budget_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_cancel, setup, teardown),
        cmocka_unit_test(test_many_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
