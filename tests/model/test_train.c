/* The model learns: cross-entropy on English text falls substantially under Adam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "model.h"

#define SEQ 64
#define BATCH 8

/* Mean per-token loss over fixed evaluation windows. */
static double eval_loss(const fwl_model *m, size_t len)
{
    int64_t tok[SEQ], tgt[SEQ];
    double tot = 0.0;
    size_t count = 0;
    for (size_t start = 0; start + SEQ + 1 < len; start += 7 * SEQ) {
        for (size_t i = 0; i < SEQ; i++) {
            tok[i] = (unsigned char)fwl_test_corpus[start + i];
            tgt[i] = (unsigned char)fwl_test_corpus[start + i + 1];
        }
        tot += fwl_model_forward(m, tok, tgt, NULL, SEQ, NULL, NULL);
        count += SEQ;
    }
    return tot / (double)count;
}

static void test_loss_falls(void **state)
{
    (void)state;
    size_t len = sizeof(fwl_test_corpus) - 1;
    assert_true(len > 3000);
    fwl_model m;
    fwl_adam a;
    assert_int_equal(fwl_model_init(&m, 32, 1234), 0);
    assert_int_equal(fwl_adam_init(&a, m.n_params), 0);
    float *g = calloc(m.n_params, sizeof(float));
    assert_non_null(g);
    fwl_adam_params p = fwl_adam_defaults();
    p.lr = 1e-2;
    p.grad_clip_norm = 1.0;
    double before = eval_loss(&m, len);
    assert_true(fabs(before - log(256.0)) < 0.5); /* starts near uniform */
    uint64_t pos = 0;
    int64_t tok[SEQ], tgt[SEQ];
    for (int step = 0; step < 60; step++) {
        double loss = 0.0;
        for (int b = 0; b < BATCH; b++) {
            pos = (pos * 6364136223846793005ull + 1442695040888963407ull);
            size_t start = (size_t)((pos >> 33) % (len - SEQ - 1));
            for (size_t i = 0; i < SEQ; i++) {
                tok[i] = (unsigned char)fwl_test_corpus[start + i];
                tgt[i] = (unsigned char)fwl_test_corpus[start + i + 1];
            }
            loss += fwl_model_forward(&m, tok, tgt, NULL, SEQ, NULL, g);
        }
        (void)loss;
        double norm = fwl_adam_step(&m, &a, g, &p);
        assert_true(isfinite(norm) && norm > 0.0);
    }
    double after = eval_loss(&m, len);
    printf("# eval loss %.3f -> %.3f nats/byte after 60 steps\n", before, after);
    assert_int_equal(a.step, 60);
    assert_true(after < 0.6 * before);
    free(g);
    fwl_adam_free(&a);
    fwl_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
