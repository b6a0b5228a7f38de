/*
 * Sampling for fwtrain-local's completions (server/sample.h): greedy, temperature, top-k, top-p, seeds,
 * stop strings, and the property the RL loop relies on: every sampled token's logprob equals the model's
 * (the trainer's) logprob of that token, bit for bit, whatever the sampling parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "sample.h"

static const fwl_sample_params GREEDY = {0.0, 1.0, 0};

static size_t gen(const fwl_model *m, const int64_t *prompt, size_t np, size_t max, fwl_sample_params p, uint64_t seed,
                  int64_t *out, float *lp)
{
    uint64_t rng = fwl_sample_rng(seed, 0);
    bool stopped = true;
    size_t n = fwl_sample_generate(m, prompt, np, max, &p, &rng, NULL, 0, false, out, lp, &stopped);
    assert_false(stopped);
    return n;
}

static void test_greedy(void **state)
{
    (void)state;
    /* all-zero weights: uniform, so greedy picks the lowest id with logprob -log 256 */
    fwl_model z;
    assert_int_equal(fwl_model_alloc(&z, 4), 0);
    int64_t prompt[] = {'a', 'b'}, out[8];
    float lps[8];
    assert_int_equal(gen(&z, prompt, 2, 5, GREEDY, 0, out, lps), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(out[i], 0);
        assert_true(fabsf(lps[i] + logf(256.0f)) < 1e-5f);
    }
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(4, t);
    z.w[t[5].offset + 7] = 1.0f;
    z.w[t[5].offset + 3] = 1.0f;
    assert_int_equal(gen(&z, prompt, 2, 3, GREEDY, 0, out, NULL), 3);
    assert_int_equal(out[0], 3); /* tie between 3 and 7: lowest id */
    fwl_model_free(&z);
}

/* The sampled tokens' logprobs are what the trainer computes for the same sequence. */
static void expect_trainer_logprobs(const fwl_model *m, const int64_t *prompt, size_t np, const int64_t *g,
                                    const float *lp, size_t n)
{
    int64_t full[80];
    float pl[80];
    memcpy(full, prompt, np * sizeof *prompt);
    memcpy(full + np, g, n * sizeof *g);
    fwl_model_prompt_logprobs(m, full, np + n, pl);
    assert_memory_equal(pl + np, lp, n * sizeof *lp);
}

static void test_seeds_and_logprobs(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 8, 5), 0);
    int64_t prompt[] = {'h', 'i'}, g1[64], g2[64], g3[64];
    float l1[64];
    assert_int_equal(gen(&m, prompt, 2, 16, GREEDY, 1, g1, l1), 16);
    assert_int_equal(gen(&m, prompt, 2, 16, GREEDY, 2, g2, NULL), 16);
    assert_memory_equal(g1, g2, 16 * sizeof *g1); /* greedy ignores the seed */
    expect_trainer_logprobs(&m, prompt, 2, g1, l1, 16);

    const fwl_sample_params ps[] = {{1.0, 1.0, 0}, {0.7, 0.9, 0}, {1.3, 1.0, 20}, {2.0, 0.5, 7}};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        assert_int_equal(gen(&m, prompt, 2, 64, ps[k], 11, g1, l1), 64);
        assert_int_equal(gen(&m, prompt, 2, 64, ps[k], 11, g2, NULL), 64);
        assert_int_equal(gen(&m, prompt, 2, 64, ps[k], 12, g3, NULL), 64);
        assert_memory_equal(g1, g2, sizeof g1); /* same seed, same tokens */
        assert_true(memcmp(g1, g3, sizeof g1) != 0);
        expect_trainer_logprobs(&m, prompt, 2, g1, l1, 64);
    }
    /* the choices of one request get different streams */
    assert_true(fwl_sample_rng(11, 0) != fwl_sample_rng(11, 1));
    /* an empty prompt starts from context (0, 0); max_tokens 0 gives nothing */
    assert_int_equal(gen(&m, NULL, 0, 4, GREEDY, 0, g1, NULL), 4);
    assert_int_equal(gen(&m, prompt, 2, 0, GREEDY, 0, NULL, NULL), 0);
    fwl_model_free(&m);
}

/* Every sampled token is allowed by top_k / top_p at its position (recomputed from the logits). */
static void test_truncation_respected(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 8, 21), 0);
    float *scratch = malloc(fwl_model_scratch_len(8) * sizeof *scratch);
    const fwl_sample_params ps[] = {{1.0, 1.0, 3}, {5.0, 0.3, 0}, {3.0, 0.6, 10}, {0.5, 1.0, 1}};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        int64_t prompt[] = {'x', 'y'}, g[64];
        assert_int_equal(gen(&m, prompt, 2, 64, ps[k], 100 + k, g, NULL), 64);
        int64_t prev = 'x', cur = 'y';
        for (size_t i = 0; i < 64; i++) {
            float lse;
            const float *lg = fwl_model_next_logits(&m, prev, cur, scratch, &lse);
            assert_non_null(lg);
            /* rank of the chosen token (ties: lower id first) and the mass of the tokens ranked above it */
            size_t rank = 0;
            double above = 0, tot = 0, mx = -INFINITY;
            for (int o = 0; o < FWL_VOCAB; o++)
                mx = fmax(mx, lg[o]);
            /* the top_k-th best logit (with its id, for ties): the cut of the kept set */
            float cut = INFINITY;
            int cut_id = -1;
            for (int j = 0; ps[k].top_k && j < ps[k].top_k; j++) {
                int best = -1;
                for (int o = 0; o < FWL_VOCAB; o++) {
                    bool below_cut = lg[o] < cut || (lg[o] == cut && o > cut_id);
                    if (below_cut && (best < 0 || lg[o] > lg[best]))
                        best = o;
                }
                cut = lg[best];
                cut_id = best;
            }
            for (int o = 0; o < FWL_VOCAB; o++) {
                double w = exp((lg[o] - mx) / ps[k].temperature);
                bool before = lg[o] > lg[g[i]] || (lg[o] == lg[g[i]] && o < g[i]);
                bool kept = !ps[k].top_k || lg[o] > cut || (lg[o] == cut && o <= cut_id);
                if (!kept)
                    continue;
                tot += w;
                if (before) {
                    rank++;
                    above += w;
                }
            }
            if (ps[k].top_k)
                assert_true(rank < (size_t)ps[k].top_k && (lg[g[i]] > cut || (lg[g[i]] == cut && g[i] <= cut_id)));
            /* top_p keeps the shortest prefix reaching top_p: the mass strictly above a kept token is < top_p */
            assert_true(above < ps[k].top_p * tot + 1e-12);
            prev = cur;
            cur = g[i];
        }
    }
    free(scratch);
    fwl_model_free(&m);
}

/* Frequencies over many draws from fixed logits match the intended distribution (5 sigma; the RNG is
 * seeded, so the counts are the same on every run: this cannot flake). */
static void expect_freq(const float *logits, fwl_sample_params p, const double *want, int nwant)
{
    int counts[FWL_VOCAB] = {0};
    const int draws = 8000;
    uint64_t rng = fwl_sample_rng(42, 0);
    for (int i = 0; i < draws; i++) {
        int t = fwl_sample_pick(logits, &p, &rng);
        assert_true(t >= 0 && t < FWL_VOCAB);
        counts[t]++;
    }
    for (int t = 0; t < FWL_VOCAB; t++) {
        double pt = t < nwant ? want[t] : 0.0;
        double sd = sqrt(draws * pt * (1 - pt));
        if (fabs(counts[t] - draws * pt) > 5 * sd + (pt == 0 ? 0 : 1))
            fail_msg("T=%g top_p=%g top_k=%d: token %d drawn %d times, expected %.1f", p.temperature, p.top_p, p.top_k,
                     t, counts[t], draws * pt);
    }
}

static void test_distribution(void **state)
{
    (void)state;
    float lg[FWL_VOCAB];
    for (int o = 0; o < FWL_VOCAB; o++)
        lg[o] = -40.0f; /* e^-40: never drawn in 8000 */
    lg[0] = 2.0f;
    lg[1] = 1.0f;
    lg[2] = 0.0f;
    double e2 = exp(2), e1 = exp(1), z = e2 + e1 + 1;
    double t1[] = {e2 / z, e1 / z, 1 / z};
    expect_freq(lg, (fwl_sample_params){1.0, 1.0, 0}, t1, 3);
    double z2 = exp(4) + exp(2) + 1; /* temperature 0.5 doubles the logits */
    double t05[] = {exp(4) / z2, exp(2) / z2, 1 / z2};
    expect_freq(lg, (fwl_sample_params){0.5, 1.0, 0}, t05, 3);
    double k2[] = {e2 / (e2 + e1), e1 / (e2 + e1)}; /* top_k 2: renormalised over the best two */
    expect_freq(lg, (fwl_sample_params){1.0, 1.0, 2}, k2, 2);
    expect_freq(lg, (fwl_sample_params){1.0, 0.7, 0}, k2, 2); /* p0 = 0.665 < 0.7 <= p0 + p1 */
    double only0[] = {1.0};
    expect_freq(lg, (fwl_sample_params){1.0, 0.5, 0}, only0, 1);
    expect_freq(lg, (fwl_sample_params){1.0, 1.0, 1}, only0, 1);
    expect_freq(lg, (fwl_sample_params){0.0, 1.0, 0}, only0, 1);
    /* bad parameters */
    uint64_t rng = 1;
    const fwl_sample_params bad[] = {{-1, 1, 0}, {NAN, 1, 0}, {INFINITY, 1, 0}, {1, 0, 0}, {1, 1.5, 0}, {1, 1, -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fwl_sample_pick(lg, &bad[i], &rng), -1);
}

static void test_stop(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 8, 5), 0);
    int64_t prompt[] = {'s', 't'}, g[32], o[32];
    float l[32];
    assert_int_equal(gen(&m, prompt, 2, 32, GREEDY, 0, g, NULL), 32);
    /* stop on the 3 bytes at g[5..7]: generation ends where they first occur, without them */
    uint8_t s3[3] = {(uint8_t)g[5], (uint8_t)g[6], (uint8_t)g[7]};
    size_t first = 0;
    while (!(g[first] == s3[0] && g[first + 1] == s3[1] && g[first + 2] == s3[2]))
        first++;
    fwl_stop stops[2] = {{(const uint8_t *)"\xff\xfe\xfd\xfc", 4}, {s3, 3}}; /* the first never occurs */
    bool stopped = false;
    uint64_t rng = 0;
    size_t n = fwl_sample_generate(&m, prompt, 2, 32, &GREEDY, &rng, stops, 2, false, o, l, &stopped);
    assert_true(stopped);
    assert_int_equal(n, first);
    assert_memory_equal(o, g, n * sizeof *g);
    n = fwl_sample_generate(&m, prompt, 2, 32, &GREEDY, &rng, stops, 2, true, o, l, &stopped);
    assert_true(stopped);
    assert_int_equal(n, first + 3);
    expect_trainer_logprobs(&m, prompt, 2, o, l, n);
    /* a stop string never produced: full length, not stopped */
    n = fwl_sample_generate(&m, prompt, 2, 32, &GREEDY, &rng, stops, 1, false, o, l, &stopped);
    assert_false(stopped);
    assert_int_equal(n, 32);
    /* bad arguments */
    int64_t badp[] = {1, 300};
    assert_int_equal(fwl_sample_generate(&m, badp, 2, 4, &GREEDY, &rng, NULL, 0, false, o, l, &stopped), 0);
    fwl_sample_params neg = {-1, 1, 0};
    assert_int_equal(fwl_sample_generate(&m, prompt, 2, 4, &neg, &rng, NULL, 0, false, o, l, &stopped), 0);
    fwl_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),       cmocka_unit_test(test_seeds_and_logprobs),
        cmocka_unit_test(test_truncation_respected), cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
