/* fwtrain-local's RL surface over HTTP: the RL losses in forward_backward, sampling parameters of
 * /inference/v1/completions, LoRA session slots (unload_model, the 2-session cap, session expiry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rl_losses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
