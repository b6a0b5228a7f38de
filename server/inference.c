/* POST /inference/v1/completions (protocol §3.10): OpenAI-style completions from a deployment's current
 * weights. Tokens are bytes; a string prompt is its UTF-8 bytes. With echo + logprobs the prompt tokens'
 * logprobs come back too (the first has no context: null), so a client can compare them with the trainer's
 * forward logprobs. 425 while the deployment holds no weights. */
#include "inference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "records.h"
#include "replica.h"
#include "state.h"
#include "util.h"

#define MAX_PROMPT (1u << 20)
#define MAX_GEN 4096

static void token_text(int64_t t, char *buf, size_t len)
{
    if (t >= 32 && t < 127)
        snprintf(buf, len, "%c", (char)t);
    else
        snprintf(buf, len, "bytes:\\x%02x", (unsigned)t);
}

/* Bytes as JSON-safe text: ASCII kept, other bytes as U+FFFD. -1 when out of memory. */
static int append_text(char **buf, size_t *len, size_t *cap, const int64_t *toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*len + 4 >= *cap) {
            size_t nc = (*cap + 4) * 2;
            char *nb = realloc(*buf, nc);
            if (!nb)
                return -1;
            *buf = nb;
            *cap = nc;
        }
        if (toks[i] < 128 && toks[i] > 0) {
            (*buf)[(*len)++] = (char)toks[i];
        } else if (toks[i] == 0) {
            (*buf)[(*len)++] = ' ';
        } else {
            memcpy(*buf + *len, "\xEF\xBF\xBD", 3);
            *len += 3;
        }
        (*buf)[*len] = 0;
    }
    return 0;
}

/* The prompt as byte tokens (a string's bytes, or an array of integers 0..255). NULL + *bad on a bad one. */
static int64_t *parse_prompt(const cJSON *pj, size_t *np, const char **bad)
{
    int64_t *prompt = NULL;
    *np = 0;
    if (cJSON_IsString(pj)) {
        size_t n = strlen(pj->valuestring);
        if (n > MAX_PROMPT) {
            *bad = "prompt too long";
            return NULL;
        }
        if (!(prompt = malloc((n + 1) * sizeof *prompt))) {
            *bad = "out of memory";
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            prompt[i] = (unsigned char)pj->valuestring[i];
        *np = n;
        return prompt;
    }
    if (!cJSON_IsArray(pj)) {
        *bad = "prompt must be a string or an array of token ids";
        return NULL;
    }
    size_t n = (size_t)cJSON_GetArraySize(pj);
    if (n > MAX_PROMPT) {
        *bad = "prompt too long";
        return NULL;
    }
    if (!(prompt = malloc((n + 1) * sizeof *prompt))) {
        *bad = "out of memory";
        return NULL;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, pj)
    {
        if (!fwl_json_num_in(t, 0, 255, &prompt[*np])) {
            *bad = "prompt tokens must be integers 0..255 (byte-level model)";
            free(prompt);
            *np = 0;
            return NULL;
        }
        (*np)++;
    }
    return prompt;
}

const char *fwl_completion_parse(const cJSON *body, uint64_t default_seed, fwl_completion_req *q)
{
    memset(q, 0, sizeof *q);
    q->temperature = 1.0;
    q->max_tokens = 16;
    q->seed = default_seed;
    const char *model = fwl_json_str(body, "model");
    if (!model || !fwl_parse_deployment_header(model, q->dep, sizeof q->dep) || !strchr(model, '/'))
        return "model must be accounts/" FWL_ACCOUNT "/deployments/<id>";
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(body, "temperature");
    const cJSON *ej = cJSON_GetObjectItemCaseSensitive(body, "echo");
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(body, "logprobs");
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(body, "seed");
    const char *bad = NULL;
    int64_t v;
    if (mt && !cJSON_IsNull(mt)) {
        if (!fwl_json_num_in(mt, 0, MAX_GEN, &v))
            bad = "max_tokens must be an integer 0..4096";
        else
            q->max_tokens = (long)v;
    }
    if (tj && !cJSON_IsNull(tj)) {
        if (!cJSON_IsNumber(tj) || !(tj->valuedouble >= 0 && tj->valuedouble <= 100))
            bad = "temperature must be a number 0..100";
        else
            q->temperature = tj->valuedouble;
    }
    if (ej && !cJSON_IsBool(ej) && !cJSON_IsNull(ej))
        bad = "echo must be a boolean";
    if (lj && !cJSON_IsNull(lj) && !cJSON_IsBool(lj) && !cJSON_IsNumber(lj))
        bad = "logprobs must be an integer or a boolean";
    if (sj && !cJSON_IsNull(sj) && !cJSON_IsNumber(sj))
        bad = "seed must be an integer";
    if (bad)
        return bad;
    q->echo = cJSON_IsTrue(ej);
    q->want_lp = lj && (cJSON_IsTrue(lj) || (cJSON_IsNumber(lj) && lj->valuedouble >= 0));
    if (sj && cJSON_IsNumber(sj))
        q->seed = (uint64_t)sj->valuedouble;
    q->prompt = parse_prompt(cJSON_GetObjectItemCaseSensitive(body, "prompt"), &q->np, &bad);
    return bad;
}

void fwl_completion_free(fwl_completion_req *q)
{
    free(q->prompt);
    q->prompt = NULL;
}

/* What the model produced for one request. */
typedef struct completion {
    int64_t *gen;
    float *glp, *plp;
    size_t ng;
} completion;

static void completion_free(completion *c)
{
    free(c->gen);
    free(c->glp);
    free(c->plp);
}

static int completion_run(const fwl_model *m, const fwl_completion_req *q, completion *c)
{
    memset(c, 0, sizeof *c);
    c->gen = malloc(((size_t)q->max_tokens + 1) * sizeof *c->gen);
    c->glp = malloc(((size_t)q->max_tokens + 1) * sizeof *c->glp);
    c->plp = malloc((q->np + 1) * sizeof *c->plp);
    if (!c->gen || !c->glp || !c->plp)
        return -1;
    c->ng = q->max_tokens > 0
                ? fwl_model_generate(m, q->prompt, q->np, (size_t)q->max_tokens, q->temperature, q->seed, c->gen, c->glp)
                : 0;
    if (q->echo && q->want_lp && q->np > 0)
        fwl_model_prompt_logprobs(m, q->prompt, q->np, c->plp);
    return 0;
}

static void add_token(cJSON *toks, cJSON *ids, cJSON *tlp, int64_t tok, cJSON *lp)
{
    char tt[32];
    token_text(tok, tt, sizeof tt);
    cJSON_AddItemToArray(toks, cJSON_CreateString(tt));
    cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)tok));
    cJSON_AddItemToArray(tlp, lp);
}

/* choices[0]: text, finish_reason and (asked for) logprobs. NULL when out of memory. */
static cJSON *completion_choice(const fwl_completion_req *q, const completion *c)
{
    char *text = calloc(1, 16);
    size_t tl = 0, tc = 16;
    if (!text || (q->echo && append_text(&text, &tl, &tc, q->prompt, q->np) != 0) ||
        append_text(&text, &tl, &tc, c->gen, c->ng) != 0) {
        free(text);
        return NULL;
    }
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON_AddStringToObject(ch, "text", text);
    cJSON_AddStringToObject(ch, "finish_reason", "length");
    free(text);
    if (q->want_lp) {
        cJSON *lp = cJSON_AddObjectToObject(ch, "logprobs");
        cJSON *toks = cJSON_AddArrayToObject(lp, "tokens");
        cJSON *tlp = cJSON_AddArrayToObject(lp, "token_logprobs");
        cJSON *ids = cJSON_AddArrayToObject(lp, "token_ids");
        for (size_t i = 0; q->echo && i < q->np; i++)
            add_token(toks, ids, tlp, q->prompt[i], i == 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)c->plp[i]));
        for (size_t i = 0; i < c->ng; i++)
            add_token(toks, ids, tlp, c->gen[i], cJSON_CreateNumber((double)c->glp[i]));
    }
    return ch;
}

static cJSON *completion_json(fwl_server *s, const fwl_completion_req *q, const completion *c)
{
    cJSON *ch = completion_choice(q, c);
    cJSON *o = ch ? cJSON_CreateObject() : NULL;
    if (!o) {
        cJSON_Delete(ch);
        return NULL;
    }
    char id[64], mname[128];
    fwl_new_id(s, "cmpl-", id, sizeof id);
    snprintf(mname, sizeof mname, "accounts/%s/deployments/%s", FWL_ACCOUNT, q->dep);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)(fwl_now_us() / 1000000));
    cJSON_AddStringToObject(o, "model", mname);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    if (!cJSON_AddItemToArray(choices, ch))
        cJSON_Delete(ch);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)q->np);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)c->ng);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(q->np + c->ng));
    return o;
}

/* The deployment's weights (a reference), or NULL with out filled (404 / 425). */
static fwl_weights *serving_weights(fwl_server *s, const char *dep, fwl_resp *out)
{
    cJSON *d = fwl_deployment_load(s, dep);
    if (!d) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, dep);
        return NULL;
    }
    bool zero = fwl_deployment_scaled_to_zero(d);
    cJSON_Delete(d);
    if (zero) {
        fwl_resp_error(out, 425, FWL_GRPC_UNAVAILABLE, "deployment %s is scaled to zero", dep);
        return NULL;
    }
    fwl_weights *w = fwl_replica_weights(s, dep);
    if (!w)
        fwl_resp_error(out, 425, FWL_GRPC_UNAVAILABLE, "deployment %s holds no weights yet (hotload a snapshot)", dep);
    return w;
}

void fwl_inference_route(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    if (strcmp(r->method, "POST") != 0) {
        fwl_resp_method(out, r, "completions");
        return;
    }
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    fwl_completion_req q;
    const char *bad = fwl_completion_parse(body, s->cfg.seed, &q);
    cJSON_Delete(body);
    if (bad) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", bad);
        fwl_completion_free(&q);
        return;
    }
    fwl_weights *w = serving_weights(s, q.dep, out);
    if (!w) {
        fwl_completion_free(&q);
        return;
    }
    completion c;
    int rc = completion_run(fwl_weights_model(w), &q, &c);
    fwl_weights_unref(s, w);
    if (rc == 0)
        fwl_resp_json(out, 200, completion_json(s, &q, &c));
    else
        fwl_resp_oom(out);
    completion_free(&c);
    fwl_completion_free(&q);
}
