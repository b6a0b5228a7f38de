/*
 * Completions responses (src/api/sampling_decode.c), checked against what the request asked
 * for. Input: one byte that shapes the request (n = 1..4, logprobs, echo, a token prompt),
 * then the response body. Properties: a decoded completion has exactly n choices, each with
 * text, a finish reason and token ids; logprobs, when asked for, come one per token id.
 */
#include "fuzz.h"

#include "api/sampling_internal.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t shape = data[0];
    int64_t prompt[3] = {72, 105, 33};
    fwt__sample_spec s;
    memset(&s, 0, sizeof s);
    s.n = 1 + (shape & 3);
    s.logprobs = (shape >> 2) & 1;
    s.echo = (shape >> 3) & 1;
    if ((shape >> 4) & 1) {
        s.prompt_tokens = prompt;
        s.n_prompt_tokens = 3;
    }
    cJSON *j = fwt__json_parse((const char *)data + 1, size - 1);
    if (!j)
        return 0;
    fwt_completion *c = NULL;
    fwt__err err;
    fwt__err_init(&err);
    int rc = fwt__completion_decode(&c, j, &s, &err);
    if (rc == FWT_OK) {
        FUZZ_CHECK(c != NULL);
        FUZZ_CHECK(fwt_completion_count(c) == (size_t)s.n);
        for (size_t i = 0; i < fwt_completion_count(c); i++) {
            FUZZ_CHECK(fwt_completion_text(c, i) != NULL);
            FUZZ_CHECK(fwt_completion_finish_reason(c, i) != NULL);
            size_t nt = 0, nl = 0;
            const int64_t *t = fwt_completion_tokens(c, i, &nt);
            for (size_t k = 0; t && k < nt; k++)
                FUZZ_CHECK(t[k] >= 0 && t[k] <= INT32_MAX);
            const float *lp = fwt_completion_logprobs(c, i, &nl);
            if (s.logprobs)
                FUZZ_CHECK(lp != NULL && nl == nt);
            volatile float sum = 0;
            for (size_t k = 0; lp && k < nl; k++)
                sum += lp[k];
            (void)sum;
        }
        size_t np = 0, npl = 0;
        const int64_t *pt = fwt_completion_prompt_tokens(c, &np);
        const float *pl = fwt_completion_prompt_logprobs(c, &npl);
        for (size_t k = 0; pt && k < np; k++)
            FUZZ_CHECK(pt[k] >= 0);
        FUZZ_CHECK(!pl || npl == np);
        int64_t up = -1, uc = -1;
        FUZZ_CHECK(fwt_completion_usage(c, &up, &uc) == FWT_OK && up >= 0 && uc >= 0);
        fwt_completion_free(c);
    } else {
        FUZZ_CHECK(c == NULL);
        FUZZ_CHECK(rc < 0);
    }
    fwt__err_clear(&err);
    cJSON_Delete(j);
    return 0;
}
