/* fwl_adam_step: the update rule, sparse rows, clipping, decay, bad gradients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct fixture {
    fwl_model m;
    fwl_adam a;
    float *g;
} fixture;

static void fx_init(fixture *f, int dim)
{
    assert_int_equal(fwl_model_init(&f->m, dim, 3), 0);
    assert_int_equal(fwl_adam_init(&f->a, f->m.n_params), 0);
    f->g = calloc(f->m.n_params, sizeof(float));
    assert_non_null(f->g);
}

static void fx_free(fixture *f)
{
    free(f->g);
    fwl_adam_free(&f->a);
    fwl_model_free(&f->m);
}

static int all_zero(const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (g[i] != 0.0f)
            return 0;
    return 1;
}

/* Reference AdamW for one scalar, written from the textbook formula. */
static double ref_adam(double w, double *m, double *v, double g, int t, const fwl_adam_params *p)
{
    w -= p->lr * p->weight_decay * w;
    *m = p->beta1 * *m + (1 - p->beta1) * g;
    *v = p->beta2 * *v + (1 - p->beta2) * g * g;
    double mh = *m / (1 - pow(p->beta1, t)), vh = *v / (1 - pow(p->beta2, t));
    return w - p->lr * mh / (sqrt(vh) + p->eps);
}

static void test_update_rule_and_sparsity(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 3);
    float *before = malloc(f.m.n_params * sizeof(float));
    assert_non_null(before);
    memcpy(before, f.m.w, f.m.n_params * sizeof(float));
    fwl_adam_params p = fwl_adam_defaults();
    p.lr = 1e-2;
    const size_t ia = 10, ib = 300000 % f.m.n_params, ic = f.m.n_params - 1;
    double wa = f.m.w[ia], ma = 0, va = 0, wb = f.m.w[ib], mb = 0, vb = 0;
    /* Step 1: gradient on ia and ib; step 2: only on ia. ib must then stay put (sparse rule). */
    f.g[ia] = 0.5f;
    f.g[ib] = -2.0f;
    double norm = fwl_adam_step(&f.m, &f.a, f.g, &p);
    assert_true(fabs(norm - sqrt(0.25 + 4.0)) < 1e-12);
    assert_true(all_zero(f.g, f.m.n_params));
    wa = ref_adam(wa, &ma, &va, 0.5, 1, &p);
    wb = ref_adam(wb, &mb, &vb, -2.0, 1, &p);
    assert_true(fabs(f.m.w[ia] - wa) < 1e-6);
    assert_true(fabs(f.m.w[ib] - wb) < 1e-6);
    float wb_after1 = f.m.w[ib];
    f.g[ia] = 0.25f;
    fwl_adam_step(&f.m, &f.a, f.g, &p);
    wa = ref_adam(wa, &ma, &va, 0.25, 2, &p);
    assert_true(fabs(f.m.w[ia] - wa) < 1e-6);
    assert_true(f.m.w[ib] == wb_after1);
    assert_int_equal(f.a.step, 2);
    /* Every weight that never had a gradient is bit-identical. */
    for (size_t i = 0; i < f.m.n_params; i++)
        if (i != ia && i != ib && memcmp(&f.m.w[i], &before[i], sizeof(float)) != 0)
            fail_msg("weight %zu moved without gradient", i);
    /* -0.0 counts as zero gradient. */
    f.g[ic] = -0.0f;
    fwl_adam_step(&f.m, &f.a, f.g, &p);
    assert_memory_equal(&f.m.w[ic], &before[ic], sizeof(float));
    free(before);
    fx_free(&f);
}

static void test_clipping(void **state)
{
    (void)state;
    fixture a, b;
    fx_init(&a, 2);
    fx_init(&b, 2);
    fwl_adam_params p = fwl_adam_defaults();
    p.lr = 1e-3;
    p.grad_clip_norm = 1.0;
    a.g[5] = 3.0f;
    a.g[9] = 4.0f;
    double norm = fwl_adam_step(&a.m, &a.a, a.g, &p);
    assert_true(fabs(norm - 5.0) < 1e-12); /* pre-clip norm */
    p.grad_clip_norm = 0.0;
    b.g[5] = 0.6f;
    b.g[9] = 0.8f;
    fwl_adam_step(&b.m, &b.a, b.g, &p);
    assert_true(fabsf(a.m.w[5] - b.m.w[5]) < 1e-7f);
    assert_true(fabsf(a.a.m[9] - b.a.m[9]) < 1e-7f);
    assert_true(fabsf(a.a.v[9] - b.a.v[9]) < 1e-7f);
    fx_free(&a);
    fx_free(&b);
}

static void test_weight_decay(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 2);
    fwl_adam_params p = fwl_adam_defaults();
    p.lr = 0.1;
    p.weight_decay = 0.5;
    float w0 = f.m.w[100], w1 = f.m.w[101];
    double m = 0, v = 0;
    f.g[101] = 1.0f;
    fwl_adam_step(&f.m, &f.a, f.g, &p);
    assert_true(fabs(f.m.w[100] - (double)w0 * 0.95) < 1e-7); /* no gradient: only decayed */
    assert_true(fabs(f.m.w[101] - ref_adam(w1, &m, &v, 1.0, 1, &p)) < 1e-6);
    fx_free(&f);
}

static void test_bad_gradients(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, 2);
    fwl_adam_params p = fwl_adam_defaults();
    float *w = malloc(f.m.n_params * sizeof(float));
    assert_non_null(w);
    memcpy(w, f.m.w, f.m.n_params * sizeof(float));
    f.g[1] = 1.0f;
    f.g[2] = NAN;
    double norm = fwl_adam_step(&f.m, &f.a, f.g, &p);
    assert_true(!isfinite(norm));
    assert_memory_equal(w, f.m.w, f.m.n_params * sizeof(float));
    assert_int_equal(f.a.step, 0);
    assert_true(f.g[1] == 0.0f && f.g[2] == 0.0f);
    f.g[3] = INFINITY;
    assert_true(isinf(fwl_adam_step(&f.m, &f.a, f.g, &p)));
    /* Size mismatch: nothing touched. */
    fwl_adam small;
    assert_int_equal(fwl_adam_init(&small, 10), 0);
    f.g[4] = 1.0f;
    assert_true(isnan(fwl_adam_step(&f.m, &small, f.g, &p)));
    assert_true(f.g[4] == 1.0f);
    assert_true(isnan(fwl_adam_step(&f.m, &f.a, f.g, NULL)));
    fwl_adam_free(&small);
    fwl_adam_free(&small);
    assert_int_equal(fwl_adam_init(&small, 0), -1);
    /* Reset zeroes moments and step. */
    f.g[4] = 1.0f;
    fwl_adam_step(&f.m, &f.a, f.g, &p);
    assert_int_equal(f.a.step, 1);
    fwl_adam_reset(&f.a);
    assert_int_equal(f.a.step, 0);
    assert_true(all_zero(f.a.m, f.a.n) && all_zero(f.a.v, f.a.n));
    fwl_adam_reset(NULL);
    fwl_adam_free(NULL);
    free(w);
    fx_free(&f);
}

static void test_deterministic(void **state)
{
    (void)state;
    fixture a, b;
    fx_init(&a, 4);
    fx_init(&b, 4);
    fwl_adam_params p = fwl_adam_defaults();
    int64_t tok[] = {'a', 'b', 'c', 'a', 'b'}, tgt[] = {'b', 'c', 'a', 'b', 'd'};
    for (int s = 0; s < 3; s++) {
        fwl_model_forward(&a.m, tok, tgt, NULL, 5, NULL, a.g);
        fwl_model_forward(&b.m, tok, tgt, NULL, 5, NULL, b.g);
        double na = fwl_adam_step(&a.m, &a.a, a.g, &p), nb = fwl_adam_step(&b.m, &b.a, b.g, &p);
        assert_true(na == nb);
    }
    assert_memory_equal(a.m.w, b.m.w, a.m.n_params * sizeof(float));
    assert_memory_equal(a.a.v, b.a.v, a.m.n_params * sizeof(float));
    fx_free(&a);
    fx_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_rule_and_sparsity),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_weight_decay),
        cmocka_unit_test(test_bad_gradients),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
