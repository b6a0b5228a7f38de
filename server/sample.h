/*
 * Sampling from fwtrain-local's model for /inference/v1/completions: temperature, top-k, top-p, a seeded
 * RNG and stop strings. Pure functions of the weights, the prompt and the seed: the same request with the
 * same seed gives the same tokens on every run and platform. The logprob reported for a sampled token is the
 * model's own log p(token | context) (temperature 1, no truncation), computed by the trainer's arithmetic,
 * so it equals the trainer's forward logprob bit for bit whatever the sampling parameters.
 */
#ifndef FWL_SAMPLE_H
#define FWL_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct fwl_sample_params {
    double temperature; /* >= 0; 0 = greedy (argmax, lowest id on ties) */
    double top_p;       /* (0, 1]; 1 = off */
    int top_k;          /* >= 0; 0 = off */
} fwl_sample_params;

/*
 * The next token from logits (FWL_VOCAB floats). Sampling at temperature T > 0 weighs each token
 * exp((l - max) / T) (in double) and takes one uniform draw from *rng. With top_k or top_p the tokens are
 * first ranked by logit (ties: lower id first), the top_k best kept, then the shortest prefix whose share of
 * the kept weight reaches top_p, and the draw walks that ranking; without them it walks ids in order.
 * Returns -1 on bad parameters.
 */
int fwl_sample_pick(const float *logits, const fwl_sample_params *p, uint64_t *rng);

/* The RNG state for choice `index` of a request with this seed (choices of one request differ). */
uint64_t fwl_sample_rng(uint64_t seed, size_t index);

/* Stop strings: raw bytes compared with the generated tokens (token id = byte). */
typedef struct fwl_stop {
    const uint8_t *s;
    size_t len; /* >= 1 */
} fwl_stop;

/*
 * Generates up to max_tokens tokens after prompt (np tokens, 0..255) into out_tokens / out_logprobs
 * (max_tokens entries each; logprobs may be NULL), drawing from *rng. Stops early when the generated tokens
 * end with one of the stop strings: *stopped is set and, unless include_stop, that string's tokens are
 * dropped from the output (as OpenAI drops them from the text). Returns the number of tokens written;
 * 0 with *stopped false on bad arguments or OOM (max_tokens 0 also gives 0).
 */
size_t fwl_sample_generate(const fwl_model *m, const int64_t *prompt, size_t np, size_t max_tokens,
                           const fwl_sample_params *p, uint64_t *rng, const fwl_stop *stop, size_t nstop,
                           bool include_stop, int64_t *out_tokens, float *out_logprobs, bool *stopped);

#endif /* FWL_SAMPLE_H */
