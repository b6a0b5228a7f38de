/* fwtrain-local's RL surface over HTTP: the RL losses in forward_backward, sampling parameters of
 * /inference/v1/completions, LoRA session slots (unload_model, the 2-session cap, session expiry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "rl-key"

static fwt_local_server *srv;
static const char *base;

static int setup(void **state)
{
    (void)state;
    static const char *args[] = {"--long-poll-ms", "300", "--job-start-ms", "0", "--model-dim", "8", "--seed", "3",
                                 NULL};
    return srv_group_setup(&srv, &base, KEY, args);
}

static int teardown(void **state)
{
    (void)state;
    return srv_group_teardown(srv);
}

/* "hello w" -> "ello wo" */
static const int TOK[] = {104, 101, 108, 108, 111, 32, 119};
static const int TGT[] = {101, 108, 108, 111, 32, 119, 111};
static const double ADV[] = {1, -1, 0.5, 0, 2, -0.5, 1};
#define N 7

static char *ints(const int *v, size_t n)
{
    char *s = malloc(16 * n + 4), *p = s;
    p += sprintf(p, "[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%d", i ? "," : "", v[i]);
    sprintf(p, "]");
    return s;
}

static char *reals(const double *v, size_t n)
{
    char *s = malloc(32 * n + 4), *p = s;
    p += sprintf(p, "[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%.17g", i ? "," : "", v[i]);
    sprintf(p, "]");
    return s;
}

/* A forward / forward_backward body for one datum; lfi is the loss_fn_inputs object's inside text. */
static char *fb_body(const char *mid, int seq, const char *op, const char *loss, const char *config, const char *lfi)
{
    char *toks = ints(TOK, N);
    size_t len = strlen(lfi) + 1024;
    char *b = malloc(len);
    snprintf(b, len,
             "{\"model_id\":\"%s\",\"seq_id\":%d,\"type\":\"%s\",\"%s_input\":{\"loss_fn\":\"%s\"%s%s,\"data\":[{"
             "\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":%s}]},\"loss_fn_inputs\":{%s}}]}}",
             mid, seq, op, op, loss, config ? ",\"loss_fn_config\":" : "", config ? config : "", toks, lfi);
    free(toks);
    return b;
}

static void logprobs_of(const cJSON *res, double *out)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "loss_fn_outputs"), 0),
                                         "logprobs"),
        "data");
    assert_int_equal(cJSON_GetArraySize(d), N);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, d) out[i++] = v->valuedouble;
}

static double metric(const cJSON *res, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "metrics"), k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* Forward logprobs of the datum under the model's current weights. */
static void current_logprobs(const char *job, const char *mid, int seq, double *lp)
{
    char *tg = ints(TGT, N), lfi[512];
    snprintf(lfi, sizeof lfi, "\"target_tokens\":{\"data\":%s}", tg);
    char *b = fb_body(mid, seq, "forward", "cross_entropy", NULL, lfi);
    cJSON *r = srv_op(base, KEY, job, "forward", b);
    assert_non_null(r);
    logprobs_of(r, lp);
    cJSON_Delete(r);
    free(b);
    free(tg);
}

/* Each RL loss over HTTP: loss:sum is the definition at the returned logprobs, and one optimizer step on it
 * moves the policy the way the advantages say (the objective sum_i A_i lp_i goes up). */
static void test_rl_losses(void **state)
{
    (void)state;
    static const struct {
        const char *loss, *config;
    } cases[] = {{"importance_sampling", NULL},
                 {"ppo", NULL},
                 {"ppo", "{\"clip_low_threshold\":0.9,\"clip_high_threshold\":1.1}"},
                 {"cispo", NULL},
                 {"dro", "{\"beta\":0.05}"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char job[32];
        snprintf(job, sizeof job, "rl-loss-%zu", c);
        char *m = srv_setup_model(base, KEY, job);
        assert_non_null(m);
        int seq = 1;
        double lp0[N], q[N], lp[N], lp1[N];
        current_logprobs(job, m, seq++, lp0);
        /* the sampler's logprobs: a little off the trainer's, so ratios differ from 1 */
        for (size_t i = 0; i < N; i++)
            q[i] = lp0[i] + 0.05 * (double)((int)i - 3);
        char *tg = ints(TGT, N), *qs = reals(q, N), *as = reals(ADV, N), lfi[2048];
        snprintf(lfi, sizeof lfi, "\"target_tokens\":{\"data\":%s},\"logprobs\":{\"data\":%s},\"advantages\":{\"data\":%s}",
                 tg, qs, as);
        char *b = fb_body(m, seq++, "forward_backward", cases[c].loss, cases[c].config, lfi);
        cJSON *r = srv_op(base, KEY, job, "forward_backward", b);
        free(b);
        assert_non_null(r);
        if (cJSON_GetObjectItemCaseSensitive(r, "error"))
            fail_msg("%s: %s", cases[c].loss, cJSON_PrintUnformatted(r));
        logprobs_of(r, lp);
        /* the definition, with this case's thresholds */
        double lo = 0.8, hi = 1.2, beta = 0.05, want = 0;
        if (cases[c].config && strstr(cases[c].config, "0.9"))
            lo = 0.9, hi = 1.1;
        if (!strcmp(cases[c].loss, "cispo"))
            lo = 0.0, hi = 4.0;
        for (size_t i = 0; i < N; i++) {
            double rt = exp(lp[i] - q[i]), cl = rt < lo ? lo : rt > hi ? hi : rt;
            if (!strcmp(cases[c].loss, "importance_sampling"))
                want += -rt * ADV[i];
            else if (!strcmp(cases[c].loss, "ppo"))
                want += -fmin(rt * ADV[i], cl * ADV[i]);
            else if (!strcmp(cases[c].loss, "cispo"))
                want += -cl * lp[i] * ADV[i];
            else
                want += -(lp[i] * ADV[i] - 0.5 * beta * (lp[i] - q[i]) * (lp[i] - q[i]));
        }
        if (fabs(metric(r, "loss:sum") - want) > 1e-9 * (1 + fabs(want)))
            fail_msg("%s: loss:sum %.12g, definition %.12g", cases[c].loss, metric(r, "loss:sum"), want);
        cJSON_Delete(r);
        char ob[512];
        snprintf(ob, sizeof ob,
                 "{\"model_id\":\"%s\",\"seq_id\":%d,\"type\":\"optim_step\",\"adam_params\":{\"learning_rate\":0.003}}",
                 m, seq++);
        cJSON_Delete(srv_op(base, KEY, job, "optim_step", ob));
        current_logprobs(job, m, seq++, lp1);
        double before = 0, after = 0;
        for (size_t i = 0; i < N; i++) {
            before += ADV[i] * lp0[i];
            after += ADV[i] * lp1[i];
        }
        if (!(after > before))
            fail_msg("%s: sum A*lp went from %.9g to %.9g", cases[c].loss, before, after);
        free(tg);
        free(qs);
        free(as);
        free(m);
    }
}

/* ---- sampling --------------------------------------------------------------------------------------- */

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Job + model, a base sampler snapshot of its weights, a deployment attached to the job holding it. */
static char *deploy(const char *b, const char *job, const char *dep, int *seq)
{
    char *m = srv_setup_model(b, KEY, job);
    assert_non_null(m);
    char body[512], path[256];
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s-s0\",\"checkpoint_type\":\"base\"}", m,
             (*seq)++, job);
    cJSON *r = srv_op(b, KEY, job, "save_weights_for_sampler", body);
    assert_non_null(r);
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    snprintf(path, sizeof path, "/v1/accounts/local/deployments?deploymentId=%s", dep);
    snprintf(body, sizeof body,
             "{\"baseModel\":\"accounts/fireworks/models/byte\",\"minReplicaCount\":0,\"maxReplicaCount\":1,"
             "\"enableHotLoad\":true,\"hotLoadTrainerJob\":\"accounts/local/rlorTrainerJobs/%s\"}",
             job);
    srv_resp resp;
    srv_call(&resp, b, KEY, "POST", path, body);
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    char url[512], hdr[256];
    snprintf(url, sizeof url, "%s/hot_load/v1/models/hot_load", b);
    snprintf(hdr, sizeof hdr, "fireworks-deployment: accounts/local/deployments/%s", dep);
    const char *h[] = {hdr, NULL};
    snprintf(body, sizeof body, "{\"identity\":\"%s-s0\"}", job);
    srv_req(&resp, "POST", url, KEY, body, h, 5000);
    assert_int_equal(resp.status, 200);
    srv_resp_free(&resp);
    return m;
}

/* Waits until the deployment serves (completions stop answering 425). */
static void wait_serving(const char *b, const char *dep)
{
    char body[256];
    snprintf(body, sizeof body, "{\"model\":\"accounts/local/deployments/%s\",\"prompt\":\"a\",\"max_tokens\":1}", dep);
    for (int i = 0; i < 6000; i++) {
        srv_resp r;
        srv_call(&r, b, KEY, "POST", "/inference/v1/completions", body);
        long st = r.status;
        srv_resp_free(&r);
        if (st == 200)
            return;
        assert_int_equal(st, 425);
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("deployment %s never served", dep);
}

/* POSTs a completion; returns the status and (in *out, may be NULL) the JSON body. */
static long complete(const char *b, const char *body, cJSON **out)
{
    srv_resp r;
    srv_call(&r, b, KEY, "POST", "/inference/v1/completions", body);
    long st = r.status;
    if (out) {
        *out = r.json;
        r.json = NULL;
    }
    srv_resp_free(&r);
    return st;
}

static const cJSON *choice(const cJSON *res, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "choices"), i);
}

static size_t ids_of(const cJSON *arr, int *out, size_t cap)
{
    size_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        assert_true(n < cap);
        out[n++] = (int)v->valuedouble;
    }
    return n;
}

/* n samples, seeds, the OpenAI shape with token ids, and logprobs equal to the trainer's forward logprobs. */
static void test_completions(void **state)
{
    (void)state;
    int seq = 1;
    char *m = deploy(base, "samp", "dep-samp", &seq);
    wait_serving(base, "dep-samp");
    const char *req = "{\"model\":\"accounts/local/deployments/dep-samp\",\"prompt\":\"hello\",\"n\":4,\"max_tokens\":12,"
                      "\"temperature\":1.0,\"top_p\":0.95,\"top_k\":200,\"seed\":7,\"logprobs\":1}";
    cJSON *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(complete(base, req, &a), 200);
    assert_int_equal(complete(base, req, &b), 200);
    assert_string_equal(str(a, "object"), "text_completion");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "choices")), 4);
    size_t total = 0;
    int ids[4][64];
    size_t nid[4];
    for (int i = 0; i < 4; i++) {
        const cJSON *ch = choice(a, i);
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ch, "index")->valuedouble, i);
        assert_string_equal(str(ch, "finish_reason"), "length");
        nid[i] = ids_of(cJSON_GetObjectItemCaseSensitive(ch, "token_ids"), ids[i], 64);
        assert_int_equal(nid[i], 12);
        total += nid[i];
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(ch, "logprobs");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lp, "tokens")), 12);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs")), 12);
        int lids[64];
        assert_int_equal(ids_of(cJSON_GetObjectItemCaseSensitive(lp, "token_ids"), lids, 64), 12);
        assert_memory_equal(lids, ids[i], 12 * sizeof(int));
        /* same seed, same samples */
        char *ta = cJSON_PrintUnformatted(ch), *tb = cJSON_PrintUnformatted(choice(b, i));
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(a, "usage");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valuedouble, 5);
    assert_int_equal((size_t)cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")->valuedouble, total);
    /* the choices of one request differ, and another seed gives other samples */
    bool differ = false;
    for (int i = 1; i < 4; i++)
        differ |= memcmp(ids[0], ids[i], 12 * sizeof(int)) != 0;
    assert_true(differ);
    char req8[512];
    snprintf(req8, sizeof req8, "%s", req);
    strstr(req8, "\"seed\":7")[7] = '8';
    assert_int_equal(complete(base, req8, &c), 200);
    int other[64];
    ids_of(cJSON_GetObjectItemCaseSensitive(choice(c, 0), "token_ids"), other, 64);
    assert_true(memcmp(other, ids[0], 12 * sizeof(int)) != 0);
    cJSON_Delete(c);
    /* the same prompt as token ids samples the same */
    assert_int_equal(complete(base,
                              "{\"model\":\"accounts/local/deployments/dep-samp\",\"prompt\":[104,101,108,108,111],\"n\":4,"
                              "\"max_tokens\":12,\"temperature\":1.0,\"top_p\":0.95,\"top_k\":200,\"seed\":7,\"logprobs\":1}",
                              &c),
                     200);
    ids_of(cJSON_GetObjectItemCaseSensitive(choice(c, 3), "token_ids"), other, 64);
    assert_memory_equal(other, ids[3], 12 * sizeof(int));
    cJSON_Delete(c);

    /* choice 2's logprobs are the trainer's forward logprobs of the same tokens, exactly */
    int full[17] = {104, 101, 108, 108, 111};
    memcpy(full + 5, ids[2], 12 * sizeof(int));
    char *tk = ints(full, 16), *tg = ints(full + 1, 16), body[2048];
    snprintf(body, sizeof body,
             "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_input\":{\"loss_fn\":\"cross_entropy\",\"data\":[{"
             "\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":%s}]},\"loss_fn_inputs\":{"
             "\"target_tokens\":{\"data\":%s}}}]}}",
             m, seq++, tk, tg);
    cJSON *f = srv_op(base, KEY, "samp", "forward", body);
    assert_non_null(f);
    const cJSON *flp = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(f, "loss_fn_outputs"), 0),
                                         "logprobs"),
        "data");
    const cJSON *slp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(choice(a, 2), "logprobs"),
                                                        "token_logprobs");
    for (int i = 0; i < 12; i++)
        assert_true(cJSON_GetArrayItem(flp, 4 + i)->valuedouble == cJSON_GetArrayItem(slp, i)->valuedouble);
    cJSON_Delete(f);
    free(tk);
    free(tg);

    /* echo: the prompt's tokens and logprobs first (the first has no context: null); no logprobs: null */
    assert_int_equal(complete(base,
                              "{\"model\":\"accounts/local/deployments/dep-samp\",\"prompt\":\"hello\",\"max_tokens\":3,"
                              "\"temperature\":0,\"echo\":true,\"logprobs\":0}",
                              &c),
                     200);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(choice(c, 0), "logprobs");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lp, "tokens")), 8);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs"), 0)));
    assert_int_equal(strncmp(str(choice(c, 0), "text"), "hello", 5), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(choice(c, 0), "token_ids")), 3);
    cJSON_Delete(c);
    assert_int_equal(complete(base, "{\"model\":\"accounts/local/deployments/dep-samp\",\"prompt\":\"hi\",\"max_tokens\":2}",
                              &c),
                     200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(choice(c, 0), "logprobs")));
    cJSON_Delete(c);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(m);
}

/* stop strings end a choice early (finish_reason "stop") without the stop string, unless asked to keep it. */
static void test_stop(void **state)
{
    (void)state;
    int seq = 1;
    char *m = deploy(base, "stop", "dep-stop", &seq);
    wait_serving(base, "dep-stop");
    cJSON *g = NULL;
    assert_int_equal(complete(base,
                              "{\"model\":\"accounts/local/deployments/dep-stop\",\"prompt\":\"ab\",\"max_tokens\":40,"
                              "\"temperature\":0}",
                              &g),
                     200);
    int ids[64];
    size_t n = ids_of(cJSON_GetObjectItemCaseSensitive(choice(g, 0), "token_ids"), ids, 64);
    assert_int_equal(n, 40);
    assert_string_equal(str(choice(g, 0), "finish_reason"), "length");
    /* the first printable byte the greedy run produces becomes the stop string */
    size_t at = 0;
    while (at < n && !(ids[at] >= 'A' && ids[at] <= 'z' && ids[at] != '\\'))
        at++;
    if (at == n)
        fail_msg("no letter in 40 greedy tokens; pick another prompt");
    char body[512];
    for (int keep = 0; keep < 2; keep++) {
        snprintf(body, sizeof body,
                 "{\"model\":\"accounts/local/deployments/dep-stop\",\"prompt\":\"ab\",\"max_tokens\":40,\"temperature\":0,"
                 "\"stop\":[\"\\u00ff\\u00fe\",\"%c\"],\"include_stop_str_in_output\":%s,\"logprobs\":true}",
                 (char)ids[at], keep ? "true" : "false");
        cJSON *c = NULL;
        assert_int_equal(complete(base, body, &c), 200);
        assert_string_equal(str(choice(c, 0), "finish_reason"), "stop");
        int got[64];
        size_t k = ids_of(cJSON_GetObjectItemCaseSensitive(choice(c, 0), "token_ids"), got, 64);
        assert_int_equal(k, at + (size_t)keep);
        assert_memory_equal(got, ids, k * sizeof(int));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(choice(c, 0), "logprobs"), "token_logprobs")),
                         k);
        cJSON_Delete(c);
    }
    cJSON_Delete(g);
    free(m);
}

/* Every bad sampling parameter is a 400 naming it; nothing that does not fit its C type is converted. */
static void test_completion_validation(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *needle;
    } cases[] = {
        {"\"n\":0", "n must"},
        {"\"n\":129", "n must"},
        {"\"n\":1.5", "n must"},
        {"\"temperature\":-0.1", "temperature"},
        {"\"top_p\":0", "top_p"},
        {"\"top_p\":1.5", "top_p"},
        {"\"top_k\":-1", "top_k"},
        {"\"top_k\":1e10", "top_k"},
        {"\"seed\":1e30", "seed"},
        {"\"seed\":9223372036854775808", "seed"},
        {"\"seed\":-1e19", "seed"},
        {"\"seed\":1.5", "seed"},
        {"\"seed\":\"7\"", "seed"},
        {"\"max_tokens\":4097", "max_tokens"},
        {"\"max_tokens\":-1", "max_tokens"},
        {"\"max_tokens\":1e300", "max_tokens"},
        {"\"logprobs\":6", "logprobs"},
        {"\"stop\":\"\"", "stop"},
        {"\"stop\":[1]", "stop"},
        {"\"stop\":7", "stop"},
        {"\"echo\":1", "echo"},
        {"\"stream\":true", "stream"},
        {"\"prompt\":[[1,2]]", "list of prompts"},
        {"\"prompt\":[256]", "0..255"},
        {"\"prompt\":7", "prompt must"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        /* a later duplicate key would be ignored by cJSON, so the case's key goes first */
        snprintf(body, sizeof body, "{%s,\"model\":\"accounts/local/deployments/dep-samp\",\"prompt\":\"x\"}",
                 cases[i].extra);
        cJSON *r = NULL;
        long st = complete(base, body, &r);
        const char *msg = str(r, "message");
        if (st != 400 || !msg || !strstr(msg, cases[i].needle))
            fail_msg("%s: HTTP %ld %s (wanted 400 naming %s)", cases[i].extra, st, msg ? msg : "", cases[i].needle);
        cJSON_Delete(r);
    }
    /* the biggest and smallest int64 seeds are fine */
    assert_int_equal(complete(base,
                              "{\"seed\":-9223372036854775808,\"model\":\"accounts/local/deployments/dep-samp\","
                              "\"prompt\":\"x\",\"max_tokens\":1}",
                              NULL),
                     200);
}

/* create_model: a lora_config.rank that is not an integer 0..65536 is a 400 (never an int overflow). */
static void test_lora_rank_validation(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "rank");
    assert_non_null(m);
    free(m);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/rank/api/v1/create_session", "{}");
    char sid[64];
    snprintf(sid, sizeof sid, "%s", str(r.json, "session_id"));
    srv_resp_free(&r);
    static const char *const bad[] = {"1e300", "-1", "2.5", "65537", "\"8\"", "-1e300"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"base_model\":\"accounts/fireworks/models/byte\","
                 "\"lora_config\":{\"rank\":%s},\"type\":\"create_model\"}", sid, bad[i]);
        srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/rank/api/v1/create_model", body);
        if (r.status != 400 || !strstr(str(r.json, "message") ? str(r.json, "message") : "", "lora_config.rank"))
            fail_msg("rank %s: HTTP %ld %s", bad[i], r.status, r.body ? r.body : "");
        srv_resp_free(&r);
    }
}

/* --faults hotload_busy=404: completions answer 404 while the deployment loads a snapshot. */
static void test_hotload_busy(void **state)
{
    (void)state;
    /* a bad value is refused at start */
    static const char *bad_args[] = {"--faults", "hotload_busy=500", NULL};
    assert_null(srv_start(KEY, bad_args));
    /* a hotload that takes far longer than the test: it is in flight for every request below */
    static const char *args[] = {"--job-start-ms", "0", "--model-dim", "8", "--hotload-ms", "600000", "--faults",
                                 "hotload_busy=404", NULL};
    fwt_local_server *s2 = srv_start(KEY, args);
    assert_non_null(s2);
    const char *b2 = fwt_local_server_url(s2);
    int seq = 1;
    char *m = deploy(b2, "busy", "dep-busy", &seq);
    cJSON *r = NULL;
    long st = complete(b2, "{\"model\":\"accounts/local/deployments/dep-busy\",\"prompt\":\"a\",\"max_tokens\":1}", &r);
    assert_int_equal(st, 404);
    assert_non_null(strstr(str(r, "message"), "hotload in progress"));
    cJSON_Delete(r);
    free(m);
    assert_int_equal(srv_finish(s2), 0);
}

/* ---- LoRA sessions ----------------------------------------------------------------------------------- */

static char *lora_session(const char *b, const char *job)
{
    srv_resp r;
    char path[256];
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/%s/api/v1/create_session", job);
    srv_call(&r, b, KEY, "POST", path, "{\"type\":\"create_session\"}");
    assert_int_equal(r.status, 200);
    char *sid = strdup(str(r.json, "session_id"));
    srv_resp_free(&r);
    return sid;
}

/* create_model with LoRA rank 8 in session sid: the model id, or NULL with the future's error in err. */
static char *lora_model(const char *b, const char *job, const char *sid, char *err, size_t el)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"session_id\":\"%s\",\"base_model\":\"accounts/fireworks/models/byte\",\"lora_config\":{\"rank\":8},"
             "\"type\":\"create_model\"}",
             sid);
    cJSON *r = srv_op(b, KEY, job, "create_model", body);
    assert_non_null(r);
    char *mid = str(r, "model_id") ? strdup(str(r, "model_id")) : NULL;
    snprintf(err, el, "%s", str(r, "error") ? str(r, "error") : "");
    cJSON_Delete(r);
    return mid;
}

static long heartbeat(const char *b, const char *job, const char *sid)
{
    char path[256], body[256];
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/%s/api/v1/session_heartbeat", job);
    snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"type\":\"session_heartbeat\"}", sid);
    srv_resp r;
    srv_call(&r, b, KEY, "POST", path, body);
    long st = r.status;
    srv_resp_free(&r);
    return st;
}

/* A LoRA trainer admits two concurrent models: a third gets the service's error; unload_model frees a slot,
 * and so does a session that stops heartbeating (after --session-timeout-ms), with its models. */
static void test_lora_slots(void **state)
{
    (void)state;
    /* Session a must stay alive across the few requests between its heartbeats below and expire during the
     * sleep: 2 s is far more than a round trip even under valgrind, and the sleep is 2.5 times that. */
    enum { TIMEOUT_MS = 2000 };
    static const char *args[] = {"--job-start-ms", "0", "--model-dim", "4", "--session-timeout-ms", "2000", NULL};
    fwt_local_server *s2 = srv_start(KEY, args);
    assert_non_null(s2);
    const char *b2 = fwt_local_server_url(s2);
    free(srv_setup_model(b2, KEY, "lora")); /* the job (its own full-parameter model holds no LoRA slot) */
    char err[512];
    char *a = lora_session(b2, "lora");
    char *m1 = lora_model(b2, "lora", a, err, sizeof err), *m2 = lora_model(b2, "lora", a, err, sizeof err);
    assert_non_null(m1);
    assert_non_null(m2);
    char *bs = lora_session(b2, "lora");
    assert_int_equal(heartbeat(b2, "lora", a), 200);
    assert_null(lora_model(b2, "lora", bs, err, sizeof err));
    assert_non_null(strstr(err, "maximum of 2 concurrent sessions"));
    /* unload_model frees one */
    char body[256];
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"type\":\"unload_model\"}", m1);
    cJSON *r = srv_op(b2, KEY, "lora", "unload_model", body);
    assert_string_equal(str(r, "type"), "unload_model");
    cJSON_Delete(r);
    char *m3 = lora_model(b2, "lora", bs, err, sizeof err);
    assert_non_null(m3);
    assert_int_equal(heartbeat(b2, "lora", a), 200);
    assert_null(lora_model(b2, "lora", bs, err, sizeof err)); /* full again: m2 (session a) and m3 */
    /* session a goes silent; b keeps working. Once a's timeout has certainly passed (the server stamped a's
     * last request before we got its answer), b's next create_model finds a gone and its slot free. */
    struct timespec ts = {TIMEOUT_MS * 5 / 2 / 1000, (TIMEOUT_MS * 5 / 2 % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    char *m4 = lora_model(b2, "lora", bs, err, sizeof err);
    if (!m4)
        fail_msg("slot of the expired session not freed: %s", err);
    assert_int_equal(heartbeat(b2, "lora", a), 404); /* a is gone, and m2 with it */
    snprintf(body, sizeof body,
             "{\"model_id\":\"%s\",\"seq_id\":1,\"type\":\"optim_step\",\"adam_params\":{\"learning_rate\":0.1}}", m2);
    srv_resp resp;
    srv_call(&resp, b2, KEY, "POST", "/training/v1/rlorTrainerJobs/local/lora/api/v1/optim_step", body);
    assert_int_equal(resp.status, 404);
    srv_resp_free(&resp);
    free(a);
    free(bs);
    free(m1);
    free(m2);
    free(m3);
    free(m4);
    assert_int_equal(srv_finish(s2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rl_losses),           cmocka_unit_test(test_completions),
        cmocka_unit_test(test_stop),                cmocka_unit_test(test_completion_validation),
        cmocka_unit_test(test_lora_rank_validation), cmocka_unit_test(test_hotload_busy),
        cmocka_unit_test(test_lora_slots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
