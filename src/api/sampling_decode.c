/*
 * Completions response → fwt_completion (sampling.h).
 *
 * The wire contract, as this decoder expects it (the OpenAI-style completions
 * shape the service answers, docs/protocol.md §3.10; fwtrain-local must match it):
 *
 * Request (sampling.c builds it):
 *   {"model": "accounts/{a}/deployments/{d}",
 *    "prompt": "text" | [token ids],
 *    "max_tokens": int, "n": int, "temperature": num, "top_p": num, "top_k": int,
 *    "seed"?: int, "stop"?: ["str", ...],
 *    "logprobs"?: 1            (only when logprobs are asked for),
 *    "echo"?: true             (only when the prompt should come back),
 *    "raw_output": true}       (asks the service for choices[].raw_output token ids)
 *
 * Response (200):
 *   {"choices": [ n objects, each:
 *       {"index": int (optional; when present, 0..n-1, each once; the choices are ordered by it),
 *        "text": "string" (required; with echo it starts with the prompt's text),
 *        "finish_reason": "length" | "stop" | ... (required string),
 *        token ids (required), from the first of:
 *          "raw_output": {"completion_token_ids": [int...], "prompt_token_ids"?: [int...]}
 *                        (the service's field; with echo the prompt's ids come first)
 *          "token_ids": [int...]   (the generated ids only, never the prompt's)
 *          "logprobs":  {"token_ids": [int...]}   (aligned with the logprob entries: with echo the
 *                        prompt's ids first)
 *        "logprobs" (required when asked for), in either form:
 *          legacy: {"tokens": [str...], "token_logprobs": [num | null ...], "token_ids"?: [int...]}
 *          newer:  {"content": [{"logprob": num, ...}, ...]}
 *        one entry per token: with echo the prompt's tokens, then the generated ones; only the
 *        first prompt token's entry may be null (it has no context).
 *       }],
 *    "usage": {"prompt_tokens": int, "completion_tokens": int, "total_tokens"?: int} (required)}
 *
 * Anything missing, of the wrong type, or of a length that does not match the
 * token ids is FWT_EPROTO naming the field; no partial result is returned.
 * Token ids are integers in [0, 2^31-1]; on fwtrain-local's byte-level model
 * they are the bytes of the text (0..255), so a text prompt and the same bytes
 * as token ids sample the same thing.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "api/sampling_internal.h"
#include "json/json.h"

typedef struct fwt__choice {
    char *text;
    char *finish_reason;
    int64_t *tokens;
    size_t n_tokens;
    float *logprobs;  /* n_tokens entries, or NULL when not asked for */
} fwt__choice;

struct fwt_completion {
    fwt__choice *choices;
    size_t n;
    int64_t *prompt_tokens;
    size_t n_prompt;
    float *prompt_logprobs; /* n_prompt_logprobs entries (element 0 NaN), or NULL */
    size_t n_prompt_logprobs;
    int64_t usage_prompt, usage_completion;
};

/* ---- accessors ---- */

size_t fwt_completion_count(const fwt_completion *c) { return c ? c->n : 0; }

const char *fwt_completion_text(const fwt_completion *c, size_t i)
{
    return c && i < c->n ? c->choices[i].text : NULL;
}

const char *fwt_completion_finish_reason(const fwt_completion *c, size_t i)
{
    return c && i < c->n ? c->choices[i].finish_reason : NULL;
}

const int64_t *fwt_completion_tokens(const fwt_completion *c, size_t i, size_t *n)
{
    int ok = c && i < c->n;
    if (n)
        *n = ok ? c->choices[i].n_tokens : 0;
    return ok ? c->choices[i].tokens : NULL;
}

const float *fwt_completion_logprobs(const fwt_completion *c, size_t i, size_t *n)
{
    int ok = c && i < c->n && c->choices[i].logprobs;
    if (n)
        *n = ok ? c->choices[i].n_tokens : 0;
    return ok ? c->choices[i].logprobs : NULL;
}

const int64_t *fwt_completion_prompt_tokens(const fwt_completion *c, size_t *n)
{
    int ok = c && c->prompt_tokens;
    if (n)
        *n = ok ? c->n_prompt : 0;
    return ok ? c->prompt_tokens : NULL;
}

const float *fwt_completion_prompt_logprobs(const fwt_completion *c, size_t *n)
{
    int ok = c && c->prompt_logprobs;
    if (n)
        *n = ok ? c->n_prompt_logprobs : 0;
    return ok ? c->prompt_logprobs : NULL;
}

int fwt_completion_usage(const fwt_completion *c, int64_t *prompt_tokens, int64_t *completion_tokens)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_completion_usage: c is NULL");
    if (prompt_tokens)
        *prompt_tokens = c->usage_prompt;
    if (completion_tokens)
        *completion_tokens = c->usage_completion;
    return FWT_OK;
}

void fwt_completion_free(fwt_completion *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        fwt__free_mem(c->choices[i].text);
        fwt__free_mem(c->choices[i].finish_reason);
        fwt__free_mem(c->choices[i].tokens);
        fwt__free_mem(c->choices[i].logprobs);
    }
    fwt__free_mem(c->choices);
    fwt__free_mem(c->prompt_tokens);
    fwt__free_mem(c->prompt_logprobs);
    fwt__free_mem(c);
}

void fwt__completion_free_v(void *p) { fwt_completion_free(p); }

int fwt_future_take_completion(fwt_completion **out, fwt_future *f)
{
    return fwt__future_take(f, FWT__VALUE_COMPLETION, (void **)out);
}

/* ---- decoding ---- */

#define MAX_TOKEN_ID 2147483647.0

/* An array of token ids → fresh int64 array (n may be 0). */
static int read_ids(const cJSON *arr, int64_t **out, size_t *n, fwt__err *err, size_t ci, const char *field)
{
    *out = NULL;
    *n = 0;
    size_t len = (size_t)cJSON_GetArraySize(arr);
    int64_t *v = fwt__calloc(len ? len : 1, sizeof *v);
    if (!v)
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    size_t k = 0;
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, arr)
    {
        double d = cJSON_IsNumber(x) ? x->valuedouble : -1;
        if (!(d >= 0 && d <= MAX_TOKEN_ID) || d != floor(d)) {
            fwt__free_mem(v);
            return fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu].%s[%zu] is not a token id", ci, field, k);
        }
        v[k++] = (int64_t)d;
    }
    *out = v;
    *n = k;
    return FWT_OK;
}

/* The per-token logprob entries of a choice: legacy token_logprobs or newer content[].logprob. */
static int logprob_entries(const cJSON *lp, const cJSON **arr, int *content_form)
{
    const cJSON *a = fwt__json_get(lp, "token_logprobs");
    *content_form = 0;
    if (!a) {
        a = fwt__json_get(lp, "content");
        *content_form = 1;
    }
    *arr = cJSON_IsArray(a) ? a : NULL;
    return *arr != NULL;
}

/* One logprob entry: a finite number in float range, or (allow_null) null → NaN. */
static int logprob_value(const cJSON *e, int content_form, int allow_null, float *out)
{
    if (content_form)
        e = fwt__json_get(e, "logprob");
    if (allow_null && (!e || cJSON_IsNull(e))) {
        *out = NAN;
        return 1;
    }
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble > FLT_MAX || e->valuedouble < -FLT_MAX)
        return 0;
    *out = (float)e->valuedouble;
    return 1;
}

/*
 * A choice's token ids: the generated ones (*gen) and, with echo, the prompt's (*prompt, NULL when the
 * response does not say them). Sources, first present wins (see the contract at the top):
 * raw_output.completion_token_ids (prompt first with echo), token_ids (generated only),
 * logprobs.token_ids (prompt first with echo).
 */
static int choice_ids(const cJSON *ch, const fwt__sample_spec *s, int64_t usage_prompt, int64_t **gen, size_t *ng,
                      int64_t **prompt, size_t *np, fwt__err *err, size_t ci)
{
    const cJSON *raw = fwt__json_get(ch, "raw_output");
    const cJSON *lp = fwt__json_get(ch, "logprobs");
    const cJSON *raw_ids = fwt__json_get(raw, "completion_token_ids");
    const cJSON *gen_ids = fwt__json_get(ch, "token_ids");
    const cJSON *lp_ids = fwt__json_get(lp, "token_ids");
    *gen = *prompt = NULL;
    *ng = *np = 0;
    int64_t *all = NULL;
    size_t n_all = 0;
    int rc;
    if (cJSON_IsArray(gen_ids) && !cJSON_IsArray(raw_ids)) {
        if ((rc = read_ids(gen_ids, gen, ng, err, ci, "token_ids")))
            return rc;
        if (!s->echo)
            return FWT_OK;
        /* The prompt's ids: the given ones, or where the response lists them. */
        const cJSON *pt = fwt__json_get(raw, "prompt_token_ids");
        if (cJSON_IsArray(pt))
            return read_ids(pt, prompt, np, err, ci, "raw_output.prompt_token_ids");
        if (!cJSON_IsArray(lp_ids))
            return FWT_OK; /* unknown unless given (the caller fills those in) */
        if ((rc = read_ids(lp_ids, &all, &n_all, err, ci, "logprobs.token_ids")))
            return rc;
        if (n_all < *ng + 1 || memcmp(all + (n_all - *ng), *gen, *ng * sizeof *all) != 0) {
            fwt__free_mem(all);
            return fwt__err_set(err, FWT_EPROTO,
                                "completions: choices[%zu].logprobs.token_ids does not end with its token_ids", ci);
        }
        *np = n_all - *ng;
        *prompt = all;
        return FWT_OK;
    }
    const cJSON *ids = cJSON_IsArray(raw_ids) ? raw_ids : lp_ids;
    const char *field = cJSON_IsArray(raw_ids) ? "raw_output.completion_token_ids" : "logprobs.token_ids";
    if (!cJSON_IsArray(ids))
        return fwt__err_set(err, FWT_EPROTO,
                            "completions: choices[%zu] has no token ids (none of raw_output.completion_token_ids, "
                            "token_ids, logprobs.token_ids is a list)",
                            ci);
    if ((rc = read_ids(ids, &all, &n_all, err, ci, field)))
        return rc;
    size_t split = 0;
    if (s->echo) {
        const cJSON *pt = fwt__json_get(raw, "prompt_token_ids");
        split = s->prompt_tokens                ? s->n_prompt_tokens
                : cJSON_IsArray(pt)             ? (size_t)cJSON_GetArraySize(pt)
                                                : (size_t)usage_prompt;
        if (split > n_all || split == 0) {
            fwt__free_mem(all);
            return fwt__err_set(err, FWT_EPROTO,
                                "completions: choices[%zu] echoes %zu token ids, fewer than the %zu prompt tokens", ci,
                                n_all, split);
        }
    }
    *ng = n_all - split;
    *gen = fwt__calloc(*ng ? *ng : 1, sizeof **gen);
    if (split)
        *prompt = fwt__calloc(split, sizeof **prompt);
    if (!*gen || (split && !*prompt)) {
        fwt__free_mem(all);
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    }
    memcpy(*gen, all + split, *ng * sizeof *all);
    memcpy(*prompt ? *prompt : *gen, all, split * sizeof *all);
    *np = split;
    fwt__free_mem(all);
    return FWT_OK;
}

static int decode_choice(fwt_completion *c, size_t slot, const cJSON *ch, const fwt__sample_spec *s, fwt__err *err,
                         size_t ci)
{
    fwt__choice *out = &c->choices[slot];
    const char *text = NULL, *fr = NULL;
    if (!cJSON_IsObject(ch))
        return fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu] is not an object", ci);
    if (fwt__json_get_string(ch, "text", &text))
        return fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu].text is missing or not a string", ci);
    if (fwt__json_get_string(ch, "finish_reason", &fr))
        return fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu].finish_reason is missing or not a string", ci);
    out->text = fwt__strdup(text);
    out->finish_reason = fwt__strdup(fr);
    if (!out->text || !out->finish_reason)
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");

    int64_t *prompt = NULL;
    size_t np = 0;
    int rc = choice_ids(ch, s, c->usage_prompt, &out->tokens, &out->n_tokens, &prompt, &np, err, ci);
    if (!rc && s->echo && prompt && s->prompt_tokens &&
        (np != s->n_prompt_tokens || memcmp(prompt, s->prompt_tokens, np * sizeof *prompt) != 0))
        rc = fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu] echoes token ids that are not the prompt", ci);
    if (!rc && s->echo && !prompt && s->prompt_tokens) { /* not echoed as ids: they are the given ones */
        np = s->n_prompt_tokens;
        if (!(prompt = fwt__calloc(np, sizeof *prompt)))
            rc = fwt__err_set(err, FWT_ENOMEM, "out of memory");
        else
            memcpy(prompt, s->prompt_tokens, np * sizeof *prompt);
    }
    /* The echoed prompt is the same for every choice: keep the first one's, compare the others. */
    if (!rc && prompt && slot == 0) {
        c->prompt_tokens = prompt;
        c->n_prompt = np;
        prompt = NULL;
    } else if (!rc && prompt && (np != c->n_prompt || !c->prompt_tokens ||
                                 memcmp(prompt, c->prompt_tokens, np * sizeof *prompt) != 0)) {
        rc = fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu] echoes another prompt than choices[0]", ci);
    }
    fwt__free_mem(prompt);
    if (rc || !s->logprobs)
        return rc;

    const cJSON *lp = fwt__json_get(ch, "logprobs");
    const cJSON *arr = NULL;
    int content_form = 0;
    if (!cJSON_IsObject(lp) || !logprob_entries(lp, &arr, &content_form))
        return fwt__err_set(err, FWT_EPROTO,
                            "completions: choices[%zu].logprobs (token_logprobs or content) is missing although "
                            "logprobs were asked for",
                            ci);
    size_t n_lp = (size_t)cJSON_GetArraySize(arr);
    size_t ng = out->n_tokens;
    /* With echo the entries cover the prompt too: as many as the prompt's ids when known. */
    size_t lp_np = s->echo ? (n_lp > ng ? n_lp - ng : 0) : 0;
    if (n_lp != lp_np + ng || (s->echo && lp_np == 0) || (s->echo && c->prompt_tokens && lp_np != c->n_prompt))
        return fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu] has %zu logprobs for %zu%s tokens", ci, n_lp,
                            ng + (s->echo && c->prompt_tokens ? c->n_prompt : 0),
                            s->echo ? " prompt and generated" : "");
    out->logprobs = fwt__calloc(ng ? ng : 1, sizeof *out->logprobs);
    float *plp = NULL;
    if (s->echo && slot == 0)
        plp = c->prompt_logprobs = fwt__calloc(lp_np, sizeof *plp);
    if (!out->logprobs || (s->echo && slot == 0 && !plp))
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    if (s->echo && slot == 0)
        c->n_prompt_logprobs = lp_np;
    size_t k = 0;
    const cJSON *e = NULL;
    cJSON_ArrayForEach(e, arr)
    {
        float v = 0;
        if (!logprob_value(e, content_form, k == 0 && lp_np > 0, &v))
            return fwt__err_set(err, FWT_EPROTO, "completions: choices[%zu] logprob %zu is not a finite number", ci,
                                k);
        if (k < lp_np) {
            if (plp)
                plp[k] = v;
        } else {
            out->logprobs[k - lp_np] = v;
        }
        k++;
    }
    if (plp)
        plp[0] = NAN; /* no context: never a number, whatever the server put there */
    return FWT_OK;
}

int fwt__completion_decode(fwt_completion **out, const cJSON *json, const fwt__sample_spec *s, fwt__err *err)
{
    *out = NULL;
    if (!cJSON_IsObject(json))
        return fwt__err_set(err, FWT_EPROTO, "completions: the response is not a JSON object");
    const cJSON *choices = NULL, *usage = NULL;
    if (fwt__json_get_array(json, "choices", &choices))
        return fwt__err_set(err, FWT_EPROTO, "completions: \"choices\" is missing or not a list");
    int64_t up = 0, uc = 0;
    if (fwt__json_get_object(json, "usage", &usage) || fwt__json_get_int64(usage, "prompt_tokens", &up) ||
        fwt__json_get_int64(usage, "completion_tokens", &uc) || up < 0 || uc < 0)
        return fwt__err_set(err, FWT_EPROTO,
                            "completions: \"usage\" with prompt_tokens and completion_tokens is missing or invalid");
    size_t n = (size_t)cJSON_GetArraySize(choices);
    if (n != (size_t)s->n)
        return fwt__err_set(err, FWT_EPROTO, "completions: %zu choices for n = %d", n, (int)s->n);
    fwt_completion *c = fwt__calloc(1, sizeof *c);
    if (c)
        c->choices = fwt__calloc(n, sizeof *c->choices);
    if (!c || !c->choices) {
        fwt__free_mem(c);
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    }
    c->n = n;
    c->usage_prompt = up;
    c->usage_completion = uc;
    /* Order by "index" when every choice has one (each of 0..n-1 once), else as listed. */
    int indexed = 1;
    unsigned char *seen = fwt__calloc(n, 1);
    if (!seen) {
        fwt_completion_free(c);
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    }
    const cJSON *ch = NULL;
    cJSON_ArrayForEach(ch, choices)
    {
        int64_t idx = -1;
        if (fwt__json_get_int64(ch, "index", &idx) || idx < 0 || (size_t)idx >= n || seen[idx]) {
            indexed = 0;
            break;
        }
        seen[idx] = 1;
    }
    fwt__free_mem(seen);
    /* Slot 0 first: the prompt echo is kept from it and compared with the others. */
    int rc = FWT_OK;
    for (size_t pass = 0; pass < 2 && rc == FWT_OK; pass++) {
        size_t ci = 0;
        cJSON_ArrayForEach(ch, choices)
        {
            int64_t idx = (int64_t)ci;
            if (indexed)
                fwt__json_get_int64(ch, "index", &idx);
            if ((pass == 0) == (idx == 0))
                rc = decode_choice(c, (size_t)idx, ch, s, err, ci);
            ci++;
            if (rc)
                break;
        }
    }
    if (rc) {
        fwt_completion_free(c);
        return rc;
    }
    *out = c;
    return FWT_OK;
}

const fwt__value_type fwt__vt_completion = {"completion"};
