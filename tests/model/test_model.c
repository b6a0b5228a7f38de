/* fwl_model: init, exact gradients (finite differences), prompt logprobs, generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static float *tensor_ptr(fwl_model *m, int which)
{
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(m->dim, t);
    return m->w + t[which].offset;
}

static void test_layout(void **state)
{
    (void)state;
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(5, t);
    size_t off = 0;
    for (int i = 0; i < FWL_TENSORS; i++) {
        assert_int_equal(t[i].offset, off);
        off += t[i].rows * (t[i].cols ? t[i].cols : 1);
    }
    assert_int_equal(off, fwl_model_param_count(5));
    assert_int_equal(fwl_model_param_count(5), 256 * 5 + 65536 * 5 + 25 + 5 + 256 * 5 + 256);
    assert_string_equal(t[1].name, "context.weight");
    assert_int_equal(t[1].rows, 65536);
    assert_int_equal(fwl_model_param_count(0), 0);
    assert_int_equal(fwl_model_param_count(FWL_MAX_DIM + 1), 0);
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 0, 1), -1);
    assert_int_equal(fwl_model_init(&m, -3, 1), -1);
}

static void test_init_deterministic(void **state)
{
    (void)state;
    fwl_model a, b, c;
    assert_int_equal(fwl_model_init(&a, 6, 42), 0);
    assert_int_equal(fwl_model_init(&b, 6, 42), 0);
    assert_int_equal(fwl_model_init(&c, 6, 43), 0);
    assert_memory_equal(a.w, b.w, a.n_params * sizeof(float));
    assert_true(memcmp(a.w, c.w, a.n_params * sizeof(float)) != 0);
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(6, t);
    float lim = 1.0f / sqrtf(6.0f);
    double sum = 0.0;
    for (int i = 0; i < FWL_TENSORS; i++) {
        size_t cnt = t[i].rows * (t[i].cols ? t[i].cols : 1);
        for (size_t k = 0; k < cnt; k++) {
            float w = a.w[t[i].offset + k];
            if (t[i].cols == 0) {
                assert_true(w == 0.0f);
            } else {
                assert_true(fabsf(w) <= lim);
                sum += w;
            }
        }
    }
    /* Roughly centred: the mean of ~400k uniform draws is tiny. */
    assert_true(fabs(sum / (double)a.n_params) < 0.01);
    fwl_model d;
    assert_int_equal(fwl_model_copy(&d, &a), 0);
    assert_memory_equal(a.w, d.w, a.n_params * sizeof(float));
    fwl_model_free(&a);
    fwl_model_free(&b);
    fwl_model_free(&c);
    fwl_model_free(&d);
    fwl_model_free(&d); /* idempotent */
    fwl_model_free(NULL);
}

/* Central differences on a sample of parameters from every tensor. */
static void test_gradient_finite_differences(void **state)
{
    (void)state;
    const int D = 6;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, D, 7), 0);
    /* Non-zero biases so their gradients are exercised away from the symmetric start. */
    float *b1 = tensor_ptr(&m, 3), *b2 = tensor_ptr(&m, 5);
    for (int j = 0; j < D; j++)
        b1[j] = 0.05f * (float)(j - 2);
    for (int o = 0; o < 256; o++)
        b2[o] = 0.01f * (float)(o % 7);
    const int64_t tok[] = {'h', 'e', 'l', 'l', 'o', ' ', 'h', 'e'};
    const int64_t tgt[] = {'e', 'l', 'l', 'o', ' ', 'h', 'e', 'y'};
    const float wts[] = {1.0f, 0.5f, 2.0f, 1.0f, 0.0f, 1.5f, 1.0f, 0.75f};
    const size_t n = 8;
    float *g = calloc(m.n_params, sizeof(float));
    assert_non_null(g);
    float lp[8];
    double loss = fwl_model_forward(&m, tok, tgt, wts, n, lp, g);
    double check = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(lp[i] < 0.0f);
        check += (double)wts[i] * -(double)lp[i];
    }
    assert_true(fabs(loss - check) < 1e-9);

    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(D, t);
    /* Parameters that matter: rows of the tokens/contexts used, plus dense tensors. */
    size_t idx[64];
    size_t ni = 0;
    for (int k = 0; k < D; k += 2) {
        idx[ni++] = t[0].offset + (size_t)'l' * D + (size_t)k;               /* embed row of 'l' */
        idx[ni++] = t[1].offset + ((size_t)'e' * 256 + 'l') * D + (size_t)k; /* context (e,l) */
        idx[ni++] = t[1].offset + ((size_t)0 * 256 + 'h') * D + (size_t)k;   /* first position: prev = 0 */
        idx[ni++] = t[2].offset + (size_t)k * D + (size_t)(k + 1) % D;       /* hidden.weight */
        idx[ni++] = t[3].offset + (size_t)k;                                 /* hidden.bias */
        idx[ni++] = t[4].offset + (size_t)'l' * D + (size_t)k;               /* lm_head row */
        idx[ni++] = t[5].offset + (size_t)'y';                               /* lm_head.bias */
        idx[ni++] = t[5].offset + (size_t)'q';                               /* bias of an unused token */
    }
    const float h = 1e-2f;
    int big = 0;
    for (size_t q = 0; q < ni; q++) {
        float keep = m.w[idx[q]];
        m.w[idx[q]] = keep + h;
        double lp_ = fwl_model_forward(&m, tok, tgt, wts, n, NULL, NULL);
        m.w[idx[q]] = keep - h;
        double lm_ = fwl_model_forward(&m, tok, tgt, wts, n, NULL, NULL);
        m.w[idx[q]] = keep;
        double num = (lp_ - lm_) / (2.0 * ((double)(keep + h) - (double)keep));
        double ana = g[idx[q]];
        if (fabs(ana) > 1e-2)
            big++;
        assert_true(fabs(num - ana) <= 2e-3 + 2e-2 * fabs(ana));
    }
    assert_true(big >= 10); /* the check must not pass on all-zero gradients */

    /* The zero-weight position (token 'o' after 'l', context (l,o)) is that row's only user: no gradient. */
    const float *crow = g + t[1].offset + ((size_t)'l' * 256 + 'o') * D;
    for (int k = 0; k < D; k++)
        assert_true(crow[k] == 0.0f);
    /* An untouched context row has exactly zero gradient. */
    const float *cfar = g + t[1].offset + ((size_t)'z' * 256 + 'z') * D;
    for (int k = 0; k < D; k++)
        assert_true(cfar[k] == 0.0f);

    /* The gradient is added, not stored. */
    float *g2 = malloc(m.n_params * sizeof(float));
    assert_non_null(g2);
    memcpy(g2, g, m.n_params * sizeof(float));
    double loss2 = fwl_model_forward(&m, tok, tgt, wts, n, NULL, g2);
    assert_true(loss2 == loss);
    /* Position by position into the same buffer, so equal to 2g up to float rounding. */
    for (size_t q = 0; q < m.n_params; q++)
        if (fabsf(g2[q] - 2.0f * g[q]) > 1e-5f * (1.0f + fabsf(g[q])))
            fail_msg("grad not accumulated at %zu", q);
    free(g2);
    free(g);
    fwl_model_free(&m);
}

static void test_bad_tokens(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 4, 1), 0);
    int64_t tok[] = {1, 256}, tgt[] = {2, 3}, tgt_bad[] = {-1, 3};
    assert_true(isnan(fwl_model_forward(&m, tok, tgt, NULL, 2, NULL, NULL)));
    tok[1] = 5;
    assert_true(isnan(fwl_model_forward(&m, tok, tgt_bad, NULL, 2, NULL, NULL)));
    assert_true(fwl_model_forward(&m, tok, tgt, NULL, 0, NULL, NULL) == 0.0);
    assert_true(isnan(fwl_model_forward(NULL, tok, tgt, NULL, 2, NULL, NULL)));
    float out[3] = {1, 1, 1};
    int64_t p[] = {1, 300, 2};
    fwl_model_prompt_logprobs(&m, p, 3, out);
    assert_true(out[0] == 0.0f);
    assert_true(isnan(out[1]) && isnan(out[2]));
    fwl_model_free(&m);
}

static void test_prompt_logprobs_match_forward(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 8, 99), 0);
    const char *s = "the quick brown fox";
    size_t n = strlen(s);
    int64_t p[32], tok[32], tgt[32];
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)s[i];
    for (size_t i = 0; i + 1 < n; i++) {
        tok[i] = p[i];
        tgt[i] = p[i + 1];
    }
    float a[32], b[32];
    fwl_model_forward(&m, tok, tgt, NULL, n - 1, a, NULL);
    fwl_model_prompt_logprobs(&m, p, n, b);
    assert_true(b[0] == 0.0f);
    assert_memory_equal(a, b + 1, (n - 1) * sizeof(float));
    fwl_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_init_deterministic),
        cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_prompt_logprobs_match_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
