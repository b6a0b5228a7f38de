/* Temperature / top-k / top-p sampling and stop strings over fwtrain-local's model (sample.h). */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, seedable, identical on every platform */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fwl_sample_rng(uint64_t seed, size_t index)
{
    uint64_t s = seed ^ (0xD1B54A32D192ED03ull * ((uint64_t)index + 1));
    return splitmix(&s);
}

typedef struct ranked {
    float logit;
    int id;
} ranked;

static int by_rank(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id - y->id;
}

int fwl_sample_pick(const float *logits, const fwl_sample_params *p, uint64_t *rng)
{
    if (!logits || !p || !rng || !(p->temperature >= 0) || !isfinite(p->temperature) || !(p->top_p > 0) ||
        p->top_p > 1 || p->top_k < 0)
        return -1;
    if (p->temperature == 0.0) {
        int pick = 0;
        for (int o = 1; o < FWL_VOCAB; o++)
            if (logits[o] > logits[pick])
                pick = o; /* strict >: the lowest id wins a tie */
        return pick;
    }
    if (p->top_k == 0 && p->top_p >= 1.0) { /* no truncation: no ranking needed, the draw walks ids in order */
        float mx = logits[0];
        for (int o = 1; o < FWL_VOCAB; o++)
            mx = logits[o] > mx ? logits[o] : mx;
        double w[FWL_VOCAB], tot = 0.0;
        int last = 0;
        for (int o = 0; o < FWL_VOCAB; o++) {
            w[o] = exp(((double)logits[o] - (double)mx) / p->temperature);
            tot += w[o];
            if (w[o] > 0.0)
                last = o; /* if rounding puts the draw at the very top */
        }
        double u = (double)(splitmix(rng) >> 11) * (1.0 / 9007199254740992.0) * tot, acc = 0.0;
        for (int o = 0; o < FWL_VOCAB; o++) {
            acc += w[o];
            if (u < acc && w[o] > 0.0)
                return o;
        }
        return last;
    }
    ranked r[FWL_VOCAB];
    for (int o = 0; o < FWL_VOCAB; o++) {
        r[o].logit = logits[o];
        r[o].id = o;
    }
    qsort(r, FWL_VOCAB, sizeof r[0], by_rank);
    size_t k = p->top_k > 0 && p->top_k < FWL_VOCAB ? (size_t)p->top_k : FWL_VOCAB;
    double w[FWL_VOCAB], tot = 0.0;
    for (size_t i = 0; i < k; i++) {
        w[i] = exp(((double)r[i].logit - (double)r[0].logit) / p->temperature);
        tot += w[i];
    }
    if (p->top_p < 1.0) { /* the shortest prefix reaching top_p of the mass (always at least one token) */
        double need = p->top_p * tot, cum = 0.0;
        size_t keep = 0;
        while (keep < k && (keep == 0 || cum < need))
            cum += w[keep++];
        k = keep;
        tot = cum;
    }
    double u = (double)(splitmix(rng) >> 11) * (1.0 / 9007199254740992.0) * tot, acc = 0.0;
    for (size_t i = 0; i < k; i++) {
        acc += w[i];
        if (u < acc && w[i] > 0.0)
            return r[i].id;
    }
    /* rounding put the draw at the very top: the last token with weight */
    for (size_t i = k; i-- > 0;)
        if (w[i] > 0.0)
            return r[i].id;
    return r[0].id;
}

/* length of the stop string the output ends with, 0 if none */
static size_t ends_with_stop(const int64_t *out, size_t n, const fwl_stop *stop, size_t nstop)
{
    for (size_t s = 0; s < nstop; s++) {
        size_t len = stop[s].len;
        if (len == 0 || len > n)
            continue;
        size_t i = 0;
        while (i < len && out[n - len + i] == (int64_t)stop[s].s[i])
            i++;
        if (i == len)
            return len;
    }
    return 0;
}

size_t fwl_sample_generate(const fwl_model *m, const int64_t *prompt, size_t np, size_t max_tokens,
                           const fwl_sample_params *p, uint64_t *rng, const fwl_stop *stop, size_t nstop,
                           bool include_stop, int64_t *out_tokens, float *out_logprobs, bool *stopped)
{
    *stopped = false;
    if (!m || !m->w || !p || !rng || (np > 0 && !prompt) || (max_tokens > 0 && !out_tokens) || (nstop && !stop))
        return 0;
    for (size_t i = 0; i < np; i++)
        if (prompt[i] < 0 || prompt[i] >= FWL_VOCAB)
            return 0;
    if (max_tokens == 0)
        return 0;
    float *scratch = malloc(fwl_model_scratch_len(m->dim) * sizeof *scratch);
    if (!scratch)
        return 0;
    int64_t prev = np >= 2 ? prompt[np - 2] : 0, cur = np >= 1 ? prompt[np - 1] : 0;
    size_t n = 0;
    while (n < max_tokens) {
        float lse;
        const float *logits = fwl_model_next_logits(m, prev, cur, scratch, &lse);
        int pick = logits ? fwl_sample_pick(logits, p, rng) : -1;
        if (pick < 0)
            break;
        out_tokens[n] = pick;
        if (out_logprobs)
            out_logprobs[n] = logits[pick] - lse; /* the trainer's expression, same float arithmetic */
        n++;
        prev = cur;
        cur = pick;
        size_t hit = ends_with_stop(out_tokens, n, stop, nstop);
        if (hit) {
            *stopped = true;
            if (!include_stop)
                n -= hit;
            break;
        }
    }
    free(scratch);
    return n;
}
