/*
 * The training losses (server/loss.h, server/fwd_batch.h): each loss's value against the formula written
 * out here, its derivative against central differences, and the gradient fwtrain-local's model computes
 * for a whole batch against central differences of an independent double-precision copy of the model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_batch.h"
#include "loss.h"
#include "model.h"

static const char *const NAMES[] = {"cross_entropy", "importance_sampling", "ppo", "cispo", "dro"};
#define NL 5

/* ---- the definitions, written out independently of loss.c ---------------------------------------- */

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* One token's loss, times its weight (fwtrain-local's extension for the RL losses; 1 = Tinker's). For cispo
 * the clipped ratio is a constant for the gradient: cfix >= 0 replaces it (the value at the base point), so
 * differentiating this gives CISPO's gradient. */
static double ref_token(const char *name, double lo, double hi, double beta, double lp, double w, double q, double a,
                        double cfix)
{
    double r = exp(lp - q);
    if (!strcmp(name, "cross_entropy"))
        return -w * lp;
    if (!strcmp(name, "importance_sampling"))
        return w * -r * a;
    if (!strcmp(name, "ppo")) {
        double u = r * a, c = clampd(r, lo, hi) * a;
        return w * -(u < c ? u : c);
    }
    if (!strcmp(name, "cispo"))
        return w * -(cfix >= 0 ? cfix : clampd(r, lo, hi)) * lp * a;
    return w * -(lp * a - 0.5 * beta * (lp - q) * (lp - q)); /* dro */
}

/* importance_sampling goes without weights in the batch tests, the others with them */
static bool sends_weights(const char *name)
{
    return strcmp(name, "importance_sampling") != 0;
}

/* ratios placed on every branch of ppo's min and cispo's clip (0.8 / 1.2 and 0 / 4) */
static const double RATIO[] = {0.5, 0.9, 1.1, 1.5, 3.0, 5.0, 0.5, 2.0, 1.0};
static const double ADV[] = {1.0, -1.0, 0.5, -2.0, 1.5, -0.7, -1.0, 1.0, 0.3};
static const double WEIGHT[] = {1.0, 0.5, 0.0, 2.0, 1.0, 1.0, 0.25, 1.0, 1.0};
#define NT 9

static void test_values_and_derivatives(void **state)
{
    (void)state;
    for (int li = 0; li < NL; li++) {
        fwl_loss l;
        assert_int_equal(fwl_loss_init(&l, NAMES[li]), 0);
        assert_string_equal(fwl_loss_name(l.kind), NAMES[li]);
        double lo = l.clip_low, hi = l.clip_high, beta = l.beta;
        for (int i = 0; i < NT; i++) {
            double lp = -0.3 - 0.4 * i, q = lp - log(RATIO[i]);
            double dlp;
            double got = fwl_loss_token(&l, lp, WEIGHT[i], q, ADV[i], &dlp);
            double want = ref_token(NAMES[li], lo, hi, beta, lp, WEIGHT[i], q, ADV[i], -1);
            assert_true(fabs(got - want) <= 1e-12 * (1 + fabs(want)));
            /* central difference in double, h = 1e-6: truncation ~h^2 |f'''| ~ 1e-11, rounding ~ 1e-16 |f| / h
             * ~ 1e-10; 1e-7 leaves three orders of margin and is far below any real mistake (O(0.1)). */
            double h = 1e-6, cfix = clampd(RATIO[i], lo, hi);
            double fd = (ref_token(NAMES[li], lo, hi, beta, lp + h, WEIGHT[i], q, ADV[i], cfix) -
                         ref_token(NAMES[li], lo, hi, beta, lp - h, WEIGHT[i], q, ADV[i], cfix)) /
                        (2 * h);
            if (fabs(dlp - fd) > 1e-7 * (1 + fabs(fd)))
                fail_msg("%s token %d: d/dlp %.12g, central difference %.12g", NAMES[li], i, dlp, fd);
        }
    }
    /* a zero weight masks a token completely, even one whose ratio overflows */
    fwl_loss is;
    fwl_loss_init(&is, "importance_sampling");
    double dz = 1;
    assert_true(fwl_loss_token(&is, 0.0, 0.0, -1000.0, 1.0, &dz) == 0.0 && dz == 0.0);
    /* so does a zero advantage (the loss is 0 times the ratio) */
    dz = 1;
    assert_true(fwl_loss_token(&is, 0.0, 1.0, -1000.0, 0.0, &dz) == 0.0 && dz == 0.0);
    /* the branches really were taken: ppo's gradient is zero on clipped-and-smaller tokens only */
    fwl_loss ppo;
    fwl_loss_init(&ppo, "ppo");
    double d;
    fwl_loss_token(&ppo, 0.0, 1, -log(3.0), 1.5, &d); /* r = 3, A > 0: clipped */
    assert_true(d == 0.0);
    fwl_loss_token(&ppo, 0.0, 1, -log(0.5), -1.0, &d); /* r = 0.5, A < 0: clipped */
    assert_true(d == 0.0);
    fwl_loss_token(&ppo, 0.0, 1, -log(0.5), 1.0, &d); /* r = 0.5, A > 0: unclipped is smaller */
    assert_true(fabs(d + 0.5) < 1e-12);
}

static void test_config(void **state)
{
    (void)state;
    fwl_loss l;
    char err[256];
    assert_int_equal(fwl_loss_init(&l, "ppo"), 0);
    assert_true(l.clip_low == 0.8 && l.clip_high == 1.2);
    assert_int_equal(fwl_loss_init(&l, "cispo"), 0);
    assert_true(l.clip_low == 0.0 && l.clip_high == 4.0);
    assert_int_equal(fwl_loss_init(&l, "dro"), 0);
    assert_true(l.beta == 0.1);
    assert_int_equal(fwl_loss_init(&l, "grpo"), -1);
    assert_int_equal(fwl_loss_init(&l, NULL), -1);

    struct {
        const char *loss, *config;
        int ok;
        const char *needle;
    } cases[] = {
        {"ppo", "{\"clip_low_threshold\":0.9,\"clip_high_threshold\":1.1}", 0, NULL},
        {"ppo", "null", 0, NULL},
        {"dro", "{\"beta\":0.05}", 0, NULL},
        {"ppo", "{\"beta\":0.05}", -1, "beta"},
        {"dro", "{\"clip_low_threshold\":0.5}", -1, "clip_low_threshold"},
        {"cross_entropy", "{\"x\":1}", -1, "no keys"},
        {"ppo", "{\"clip_low_threshold\":\"0.8\"}", -1, "finite number"},
        {"ppo", "{\"clip_low_threshold\":1.5,\"clip_high_threshold\":1.2}", -1, "clip_low_threshold <="},
        {"cispo", "{\"clip_low_threshold\":-0.1}", -1, "0 <="},
        {"dro", "{\"beta\":-1}", -1, "beta >= 0"},
        {"ppo", "[1]", -1, "object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(fwl_loss_init(&l, cases[i].loss), 0);
        cJSON *c = cJSON_Parse(cases[i].config);
        assert_non_null(c);
        err[0] = 0;
        int rc = fwl_loss_configure(&l, c, err, sizeof err);
        cJSON_Delete(c);
        if (rc != cases[i].ok)
            fail_msg("case %zu (%s %s): rc %d, err %s", i, cases[i].loss, cases[i].config, rc, err);
        if (cases[i].needle && !strstr(err, cases[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
    }
    assert_int_equal(fwl_loss_init(&l, "ppo"), 0);
    cJSON *c = cJSON_Parse("{\"clip_low_threshold\":0.9,\"clip_high_threshold\":1.1}");
    assert_int_equal(fwl_loss_configure(&l, c, err, sizeof err), 0);
    cJSON_Delete(c);
    assert_true(l.clip_low == 0.9 && l.clip_high == 1.1);
}

/* ---- the whole batch through fwtrain-local's model ----------------------------------------------- */

#define DIM 4
/* two datums: 6 and 3 positions */
static const int64_t TOK[NT] = {72, 101, 108, 108, 111, 33, 10, 72, 105};
static const int64_t TGT[NT] = {101, 108, 108, 111, 33, 10, 72, 105, 33};
static const size_t SPLIT = 6;

/* log p(tgt | prev, cur) in double from the float weights, straight from the formula in model.h */
static double ref_lp(const double *w, const fwl_tensor *t, int64_t prev, int64_t cur, int64_t tgt)
{
    const double *E = w + t[0].offset, *C = w + t[1].offset, *W1 = w + t[2].offset, *b1 = w + t[3].offset,
                 *W2 = w + t[4].offset, *b2 = w + t[5].offset;
    double e[DIM], h[DIM], logit[FWL_VOCAB], mx = -INFINITY, sum = 0;
    for (int k = 0; k < DIM; k++)
        e[k] = E[cur * DIM + k] + C[(prev * FWL_VOCAB + cur) * DIM + k];
    for (int j = 0; j < DIM; j++) {
        double z = b1[j];
        for (int k = 0; k < DIM; k++)
            z += W1[j * DIM + k] * e[k];
        h[j] = tanh(z);
    }
    for (int o = 0; o < FWL_VOCAB; o++) {
        double z = b2[o];
        for (int j = 0; j < DIM; j++)
            z += W2[o * DIM + j] * h[j];
        logit[o] = z;
        mx = z > mx ? z : mx;
    }
    for (int o = 0; o < FWL_VOCAB; o++)
        sum += exp(logit[o] - mx);
    return logit[tgt] - (mx + log(sum));
}

static void ref_all_lp(const double *w, const fwl_tensor *t, double *lp)
{
    for (size_t i = 0; i < NT; i++) {
        size_t start = i < SPLIT ? 0 : SPLIT;
        int64_t prev = i == start ? 0 : TOK[i - 1];
        lp[i] = ref_lp(w, t, prev, TOK[i], TGT[i]);
    }
}

static double ref_total(const char *name, const fwl_loss *l, const double *lp, const double *q, const double *cfix)
{
    double tot = 0;
    for (size_t i = 0; i < NT; i++)
        tot += ref_token(name, l->clip_low, l->clip_high, l->beta, lp[i], sends_weights(name) ? WEIGHT[i] : 1.0, q[i],
                         ADV[i], cfix[i]);
    return tot;
}

static void add_tensor(cJSON *o, const char *key, const double *v, size_t n)
{
    cJSON *t = cJSON_AddObjectToObject(o, key);
    cJSON *d = cJSON_AddArrayToObject(t, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(d, cJSON_CreateNumber(v[i]));
}

/* The request body a client would send for this batch. */
static cJSON *batch_body(const char *loss, const double *q)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *in = cJSON_AddObjectToObject(body, "forward_backward_input");
    cJSON_AddStringToObject(in, "loss_fn", loss);
    cJSON *data = cJSON_AddArrayToObject(in, "data");
    size_t starts[2] = {0, SPLIT}, ends[2] = {SPLIT, NT};
    for (int di = 0; di < 2; di++) {
        size_t a = starts[di], n = ends[di] - a;
        double tok[NT], tgt[NT];
        for (size_t i = 0; i < n; i++) {
            tok[i] = (double)TOK[a + i];
            tgt[i] = (double)TGT[a + i];
        }
        cJSON *d = cJSON_CreateObject();
        cJSON *chunk = cJSON_CreateObject();
        cJSON_AddStringToObject(chunk, "type", "encoded_text");
        cJSON *tl = cJSON_AddArrayToObject(chunk, "tokens");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(tl, cJSON_CreateNumber(tok[i]));
        cJSON *chunks = cJSON_AddArrayToObject(cJSON_AddObjectToObject(d, "model_input"), "chunks");
        cJSON_AddItemToArray(chunks, chunk);
        cJSON *lfi = cJSON_AddObjectToObject(d, "loss_fn_inputs");
        add_tensor(lfi, "target_tokens", tgt, n);
        if (sends_weights(loss))
            add_tensor(lfi, "weights", WEIGHT + a, n);
        if (strcmp(loss, "cross_entropy") != 0) {
            add_tensor(lfi, "logprobs", q + a, n);
            add_tensor(lfi, "advantages", ADV + a, n);
        }
        cJSON_AddItemToArray(data, d);
    }
    return body;
}

typedef struct grad_case {
    float *g;       /* the model's gradient */
    double *fd;     /* central differences over the checked parameters */
    double loss;    /* loss:sum the batch reported */
    float lp[NT];   /* the logprobs it reported */
} grad_case;

static void run_batch(const fwl_model *m, const char *loss, const double *q, grad_case *gc)
{
    cJSON *body = batch_body(loss, q);
    fwl_fwd_batch *b = NULL;
    char err[512] = "";
    if (fwl_fwd_batch_parse(&b, body, true, err, sizeof err) != 0)
        fail_msg("%s: %s", loss, err);
    cJSON_Delete(body);
    gc->g = calloc(m->n_params, sizeof(float));
    assert_non_null(gc->g);
    cJSON *res = fwl_fwd_batch_run(b, m, gc->g);
    fwl_fwd_batch_free(b);
    assert_non_null(res);
    gc->loss = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "metrics"), "loss:sum")->valuedouble;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(res, "loss_fn_outputs");
    assert_int_equal(cJSON_GetArraySize(outs), 2);
    size_t k = 0;
    for (int di = 0; di < 2; di++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(outs, di), "logprobs"), "data");
        const cJSON *v;
        cJSON_ArrayForEach(v, d) gc->lp[k++] = (float)v->valuedouble;
    }
    assert_int_equal(k, NT);
    cJSON_Delete(res);
}

static void test_model_gradients(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, DIM, 99), 0);
    /* non-zero biases so every tensor's gradient is exercised away from the init's symmetry */
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(DIM, t);
    for (size_t i = 0; i < FWL_VOCAB; i++)
        m.w[t[5].offset + i] = 0.01f * (float)((i * 37) % 11) - 0.05f;
    for (size_t j = 0; j < DIM; j++)
        m.w[t[3].offset + j] = 0.1f * (float)j - 0.15f;
    double *w = malloc(m.n_params * sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < m.n_params; i++)
        w[i] = m.w[i];

    /* the parameters a batch can move: the rows of E and C it reads, and all of W1, b1, W2, b2 */
    size_t *idx = malloc(m.n_params * sizeof *idx), np = 0;
    assert_non_null(idx);
    char *mark = calloc(m.n_params, 1);
    for (size_t i = 0; i < NT; i++) {
        int64_t prev = (i == 0 || i == SPLIT) ? 0 : TOK[i - 1];
        for (size_t k = 0; k < DIM; k++) {
            mark[t[0].offset + (size_t)TOK[i] * DIM + k] = 1;
            mark[t[1].offset + ((size_t)prev * FWL_VOCAB + (size_t)TOK[i]) * DIM + k] = 1;
        }
    }
    for (size_t i = t[2].offset; i < m.n_params; i++)
        mark[i] = 1;
    for (size_t i = 0; i < m.n_params; i++)
        if (mark[i])
            idx[np++] = i;

    /* sampling logprobs that put each token's ratio at RATIO[i] (from the model's own logprobs) */
    double lp0[NT], q[NT], cfix[NT];
    ref_all_lp(w, t, lp0);
    for (size_t i = 0; i < NT; i++)
        q[i] = lp0[i] - log(RATIO[i]);

    grad_case gc[NL];
    fwl_loss cfg[NL];
    for (int li = 0; li < NL; li++) {
        fwl_loss_init(&cfg[li], NAMES[li]);
        run_batch(&m, NAMES[li], q, &gc[li]);
        gc[li].fd = calloc(np, sizeof(double));
        assert_non_null(gc[li].fd);
        /* logprobs: the float model against the double formula (float32 forward: ~1e-6 absolute) */
        for (size_t i = 0; i < NT; i++)
            assert_true(fabs(gc[li].lp[i] - lp0[i]) < 1e-5);
        /* loss:sum against the definitions at the reported logprobs */
        double want = 0;
        for (size_t i = 0; i < NT; i++)
            want += ref_token(NAMES[li], cfg[li].clip_low, cfg[li].clip_high, cfg[li].beta, (double)gc[li].lp[i],
                              sends_weights(NAMES[li]) ? WEIGHT[i] : 1.0, q[i], ADV[i], -1);
        if (fabs(gc[li].loss - want) > 1e-9 * (1 + fabs(want)))
            fail_msg("%s: loss:sum %.12g, definition %.12g", NAMES[li], gc[li].loss, want);
    }
    for (size_t i = 0; i < NT; i++)
        cfix[i] = clampd(exp(lp0[i] - q[i]), cfg[3].clip_low, cfg[3].clip_high);

    /* central differences of the double model, h = 1e-5 on one weight at a time: truncation h^2 |L'''| and
     * rounding 1e-16 |L| / h are both below 1e-9 here, so fd is exact to far better than float32 */
    const double h = 1e-5;
    double lpp[NT], lpm[NT];
    for (size_t p = 0; p < np; p++) {
        double w0 = w[idx[p]];
        w[idx[p]] = w0 + h;
        ref_all_lp(w, t, lpp);
        w[idx[p]] = w0 - h;
        ref_all_lp(w, t, lpm);
        w[idx[p]] = w0;
        for (int li = 0; li < NL; li++)
            gc[li].fd[p] = (ref_total(NAMES[li], &cfg[li], lpp, q, cfix) - ref_total(NAMES[li], &cfg[li], lpm, q, cfix)) /
                           (2 * h);
    }

    /* Tolerance: the model's gradient is float32 (unit roundoff u = 2^-24). Each entry is a sum of at most
     * K = NT * (FWL_VOCAB + 2 * DIM) products, so its rounding error is below K u times the largest entry's
     * scale (the standard gamma_K bound), here ~1.6e-4 relative; a wrong loss derivative is off by O(1). */
    const double K = (double)NT * (FWL_VOCAB + 2 * DIM), u = ldexp(1.0, -24);
    for (int li = 0; li < NL; li++) {
        double scale = 0;
        for (size_t p = 0; p < np; p++)
            scale = fmax(scale, fabs(gc[li].fd[p]));
        assert_true(scale > 1e-3); /* the batch has a real gradient */
        double tol = K * u * scale, worst = 0;
        size_t at = 0;
        for (size_t p = 0; p < np; p++) {
            double e = fabs((double)gc[li].g[idx[p]] - gc[li].fd[p]);
            if (e > worst) {
                worst = e;
                at = p;
            }
        }
        if (worst > tol)
            fail_msg("%s: gradient entry %zu is %.9g, central difference %.9g (tolerance %.3g)", NAMES[li], idx[at],
                     (double)gc[li].g[idx[at]], gc[li].fd[at], tol);
        /* parameters the batch never reads have exactly zero gradient */
        for (size_t i = 0; i < m.n_params; i++)
            if (!mark[i] && gc[li].g[i] != 0.0f)
                fail_msg("%s: untouched weight %zu has gradient %g", NAMES[li], i, (double)gc[li].g[i]);
        /* and the check can fail: another loss's gradient is far outside this loss's tolerance */
        int other = (li + 1) % NL;
        double miss = 0;
        for (size_t p = 0; p < np; p++)
            miss = fmax(miss, fabs((double)gc[other].g[idx[p]] - gc[li].fd[p]));
        assert_true(miss > 10 * tol);
    }
    for (int li = 0; li < NL; li++) {
        free(gc[li].g);
        free(gc[li].fd);
    }
    free(mark);
    free(idx);
    free(w);
    fwl_model_free(&m);
}

/* cross_entropy through the general path is the old arithmetic, bit for bit */
static double ce_cb(void *ud, size_t i, double lp, double *dlp)
{
    fwl_loss l;
    fwl_loss_init(&l, "cross_entropy");
    return fwl_loss_token(&l, lp, ((const float *)ud)[i], 0, 0, dlp);
}

static void test_cross_entropy_unchanged(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 8, 5), 0);
    float wts[NT];
    for (size_t i = 0; i < NT; i++)
        wts[i] = (float)WEIGHT[i];
    float *g1 = calloc(m.n_params, sizeof(float)), *g2 = calloc(m.n_params, sizeof(float));
    float lp1[NT], lp2[NT];
    double l1 = fwl_model_forward(&m, TOK, TGT, wts, NT, lp1, g1);
    double l2 = fwl_model_forward_loss(&m, TOK, TGT, NT, ce_cb, wts, lp2, g2);
    assert_true(l1 == l2);
    assert_memory_equal(lp1, lp2, sizeof lp1);
    assert_memory_equal(g1, g2, m.n_params * sizeof(float));
    free(g1);
    free(g2);
    fwl_model_free(&m);
}

static void expect_refused(const char *json, const char *needle)
{
    cJSON *body = cJSON_Parse(json);
    assert_non_null(body);
    fwl_fwd_batch *b = (fwl_fwd_batch *)1;
    char err[512] = "";
    int rc = fwl_fwd_batch_parse(&b, body, true, err, sizeof err);
    cJSON_Delete(body);
    if (rc != -1 || b != NULL || !strstr(err, needle))
        fail_msg("%s: rc %d, err \"%s\" (wanted \"%s\")", json, rc, err, needle);
}

#define DATUM(lfi) "{\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":[1,2]}]},\"loss_fn_inputs\":{" lfi "}}"
#define FB(loss, datum) "{\"forward_backward_input\":{\"loss_fn\":\"" loss "\",\"data\":[" datum "]}}"
#define T2 "{\"data\":[2,3]}"
#define F2 "{\"data\":[-0.5,-1.5]}"

static void test_batch_refusals(void **state)
{
    (void)state;
    expect_refused("{}", "forward_backward_input");
    expect_refused("{\"forward_backward_input\":{\"data\":[]}}", "loss_fn (string) is required");
    expect_refused(FB("grpo", ""), "unknown loss_fn \"grpo\"");
    expect_refused("{\"forward_backward_input\":{\"loss_fn\":\"ppo\",\"loss_fn_config\":{\"beta\":1},\"data\":[]}}",
                   "beta");
    expect_refused(FB("ppo", DATUM("\"target_tokens\":" T2 ",\"logprobs\":" F2)),
                   "data[0].loss_fn_inputs.advantages is required by ppo");
    expect_refused(FB("dro", DATUM("\"target_tokens\":" T2 ",\"advantages\":" F2)),
                   "data[0].loss_fn_inputs.logprobs is required by dro");
    expect_refused(FB("importance_sampling", DATUM("\"target_tokens\":" T2 ",\"logprobs\":" F2 ",\"advantages\":"
                                                   "{\"data\":[1]}")),
                   "advantages has 1 entries for 2 input tokens");
    expect_refused(FB("cispo", DATUM("\"target_tokens\":" T2 ",\"logprobs\":" F2 ",\"advantages\":" F2
                                     ",\"mask\":" F2)),
                   "mask is not an input of cispo");
    expect_refused(FB("cross_entropy", DATUM("\"target_tokens\":" T2 ",\"advantages\":" F2)),
                   "advantages is not an input of cross_entropy");
    expect_refused(FB("cross_entropy", DATUM("\"weights\":" F2)), "target_tokens is required");
    expect_refused(FB("cross_entropy", DATUM("\"target_tokens\":" T2 ",\"weights\":{\"data\":[1,1e300]}")),
                   "weights.data[1] does not fit a float32");
    expect_refused(FB("cross_entropy", DATUM("\"target_tokens\":{\"data\":[2,300]}")), "0..255");
    expect_refused(FB("ppo", DATUM("\"target_tokens\":" T2 ",\"logprobs\":{\"data\":[-1,\"x\"]},\"advantages\":" F2)),
                   "logprobs.data[1] must be a finite number");
    /* a good one parses */
    cJSON *body = cJSON_Parse(FB("ppo", DATUM("\"target_tokens\":" T2 ",\"logprobs\":" F2 ",\"advantages\":" F2)));
    fwl_fwd_batch *b = NULL;
    char err[256];
    assert_int_equal(fwl_fwd_batch_parse(&b, body, true, err, sizeof err), 0);
    assert_non_null(b);
    assert_int_equal(b->n, 1);
    assert_int_equal(b->d[0].n, 2);
    assert_true(b->d[0].advantages[1] == -1.5);
    fwl_fwd_batch_free(b);
    cJSON_Delete(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_derivatives), cmocka_unit_test(test_config),
        cmocka_unit_test(test_model_gradients),        cmocka_unit_test(test_cross_entropy_unchanged),
        cmocka_unit_test(test_batch_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
