/* POST /inference/v1/completions (docs/protocol.md §3.10): OpenAI-style completions from a deployment's current
 * weights, sampled by sample.c (n, temperature, top_p, top_k, seed, stop). Tokens are bytes; a string prompt
 * is its UTF-8 bytes. Logprobs are the model's own, equal to the trainer's forward logprobs; with echo the
 * prompt tokens' logprobs come back too (the first has no context: null). 425 while the deployment holds no
 * weights; with --faults hotload_busy=404|425, that status while a hotload is in flight. */
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
#define MAX_N 128
#define MAX_STOP_LEN 256
#define MAX_LOGPROBS 5

typedef fwl_completion_req creq;

static void token_text(int64_t t, char *buf, size_t len)
{
    if (t >= 32 && t < 127)
        snprintf(buf, len, "%c", (char)t);
    else
        snprintf(buf, len, "bytes:\\x%02x", (unsigned)t);
}

/* Bytes as JSON-safe text: ASCII kept, other bytes as U+FFFD. */
static bool append_text(char **buf, size_t *len, size_t *cap, const int64_t *toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*len + 4 >= *cap) {
            char *nb = realloc(*buf, (*cap + 4) * 2);
            if (!nb)
                return false;
            *buf = nb;
            *cap = (*cap + 4) * 2;
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
    return true;
}

/* An optional integer field in lo..hi (JSON null = absent). Numbers that are not integers or do not fit are
 * refused: converting them would be undefined behaviour in C. */
static const char *int_field(const cJSON *body, const char *k, double lo, double hi, double *out, bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, k);
    *present = v && !cJSON_IsNull(v);
    if (!*present)
        return NULL;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi)
        return "out of range";
    *out = v->valuedouble;
    return NULL;
}

static const char *parse_prompt(const cJSON *pj, creq *q)
{
    if (cJSON_IsString(pj)) {
        q->np = strlen(pj->valuestring);
        if (q->np > MAX_PROMPT)
            return "prompt too long";
        q->prompt = malloc((q->np + 1) * sizeof *q->prompt);
        if (!q->prompt)
            return "out of memory";
        for (size_t i = 0; i < q->np; i++)
            q->prompt[i] = (unsigned char)pj->valuestring[i];
        return NULL;
    }
    if (!cJSON_IsArray(pj))
        return "prompt must be a string or an array of token ids";
    q->np = (size_t)cJSON_GetArraySize(pj);
    if (q->np > MAX_PROMPT)
        return "prompt too long";
    q->prompt = malloc((q->np + 1) * sizeof *q->prompt);
    if (!q->prompt)
        return "out of memory";
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, pj)
    {
        if (cJSON_IsArray(t) || cJSON_IsString(t))
            return "a list of prompts is not supported by fwtrain-local (send one prompt per request)";
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 255 || t->valuedouble != floor(t->valuedouble))
            return "prompt tokens must be integers 0..255 (byte-level model)";
        q->prompt[i++] = (int64_t)t->valuedouble;
    }
    return NULL;
}

static const char *parse_stop(const cJSON *sj, creq *q)
{
    if (!sj || cJSON_IsNull(sj))
        return NULL;
    const cJSON *one = cJSON_IsString(sj) ? sj : NULL;
    if (!one && !cJSON_IsArray(sj))
        return "stop must be a string or an array of strings";
    if (!one && cJSON_GetArraySize(sj) > FWL_MAX_STOP)
        return "stop takes at most 16 strings";
    const cJSON *it = one ? one : sj->child;
    for (; it; it = one ? NULL : it->next) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > MAX_STOP_LEN)
            return "each stop string must be a non-empty string of at most 256 bytes";
        size_t len = strlen(it->valuestring);
        uint8_t *copy = malloc(len);
        if (!copy)
            return "out of memory";
        memcpy(copy, it->valuestring, len);
        q->stop[q->nstop].s = copy;
        q->stop[q->nstop].len = len;
        q->nstop++;
    }
    return NULL;
}

const char *fwl_completion_parse(const cJSON *body, uint64_t default_seed, fwl_completion_req *q)
{
    memset(q, 0, sizeof *q);
    const char *model = fwl_json_str(body, "model");
    if (!model || !fwl_parse_deployment_header(model, q->dep, sizeof q->dep) || !strchr(model, '/'))
        return "model must be accounts/" FWL_ACCOUNT "/deployments/<id>";
    double v;
    bool present;
    q->max_tokens = 16;
    q->n = 1;
    q->seed = default_seed;
    q->sp = (fwl_sample_params){.temperature = 1.0, .top_p = 1.0, .top_k = 0};
    if (int_field(body, "max_tokens", 0, MAX_GEN, &v, &present))
        return "max_tokens must be an integer 0..4096";
    if (present)
        q->max_tokens = (size_t)v;
    if (int_field(body, "n", 1, MAX_N, &v, &present))
        return "n must be an integer 1..128";
    if (present)
        q->n = (size_t)v;
    /* top_k: 0 = off; anything above the vocabulary is off too, but it must fit an int */
    if (int_field(body, "top_k", 0, 2147483647.0, &v, &present))
        return "top_k must be an integer >= 0 that fits 32 bits (0 = off)";
    if (present)
        q->sp.top_k = (int)v;
    /* seed: an int64, as OpenAI and vLLM define it; 2^63 itself does not fit */
    if (int_field(body, "seed", -9223372036854775808.0, 9223372036854775807.0, &v, &present) ||
        (present && v >= 9223372036854775808.0))
        return "seed must be an integer that fits 64 bits (-2^63 .. 2^63-1)";
    if (present)
        q->seed = (uint64_t)(int64_t)v;
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(body, "temperature");
    if (tj && !cJSON_IsNull(tj)) {
        if (!cJSON_IsNumber(tj) || !isfinite(tj->valuedouble) || tj->valuedouble < 0)
            return "temperature must be a finite number >= 0 (0 = greedy)";
        q->sp.temperature = tj->valuedouble;
    }
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(body, "top_p");
    if (pj && !cJSON_IsNull(pj)) {
        if (!cJSON_IsNumber(pj) || !(pj->valuedouble > 0) || pj->valuedouble > 1)
            return "top_p must be a number in (0, 1]";
        q->sp.top_p = pj->valuedouble;
    }
    static const char *const bools[] = {"echo must be a boolean", "include_stop_str_in_output must be a boolean",
                                        "stream must be a boolean"};
    for (size_t i = 0; i < 3; i++) {
        const char *k = i == 0 ? "echo" : i == 1 ? "include_stop_str_in_output" : "stream";
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(body, k);
        if (b && !cJSON_IsBool(b) && !cJSON_IsNull(b))
            return bools[i];
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream")))
        return "stream is not supported by fwtrain-local";
    q->echo = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "echo"));
    q->include_stop = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "include_stop_str_in_output"));
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(body, "logprobs");
    if (cJSON_IsBool(lj)) {
        q->want_lp = cJSON_IsTrue(lj);
    } else if (lj && !cJSON_IsNull(lj)) {
        if (int_field(body, "logprobs", 0, MAX_LOGPROBS, &v, &present))
            return "logprobs must be a boolean or an integer 0..5";
        q->want_lp = true;
    }
    const char *e = parse_stop(cJSON_GetObjectItemCaseSensitive(body, "stop"), q);
    return e ? e : parse_prompt(cJSON_GetObjectItemCaseSensitive(body, "prompt"), q);
}

void fwl_completion_free(fwl_completion_req *q)
{
    free(q->prompt);
    q->prompt = NULL;
    for (size_t i = 0; i < q->nstop; i++)
        free((void *)q->stop[i].s);
    q->nstop = 0;
}

/* One generated choice. */
typedef struct choice {
    int64_t *tok;
    float *lp;
    size_t n;
    bool stopped;
} choice;

static cJSON *choice_json(const creq *q, const choice *c, size_t index, const float *plp)
{
    char *text = calloc(1, 16);
    size_t tl = 0, tc = 16;
    bool ok = text && (!q->echo || append_text(&text, &tl, &tc, q->prompt, q->np)) &&
              append_text(&text, &tl, &tc, c->tok, c->n);
    cJSON *o = cJSON_CreateObject();
    if (!ok || !o) {
        free(text);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "index", (double)index);
    cJSON_AddStringToObject(o, "text", text);
    free(text);
    cJSON_AddStringToObject(o, "finish_reason", c->stopped ? "stop" : "length");
    cJSON *ids = cJSON_AddArrayToObject(o, "token_ids"); /* the generated tokens (never the prompt) */
    for (size_t i = 0; i < c->n; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)c->tok[i]));
    if (!q->want_lp) {
        cJSON_AddNullToObject(o, "logprobs");
        return o;
    }
    cJSON *lp = cJSON_AddObjectToObject(o, "logprobs");
    cJSON *toks = cJSON_AddArrayToObject(lp, "tokens");
    cJSON *tlp = cJSON_AddArrayToObject(lp, "token_logprobs");
    cJSON *lids = cJSON_AddArrayToObject(lp, "token_ids"); /* aligned with tokens: prompt too with echo */
    char tt[32];
    for (size_t i = 0; q->echo && i < q->np; i++) {
        token_text(q->prompt[i], tt, sizeof tt);
        cJSON_AddItemToArray(toks, cJSON_CreateString(tt));
        cJSON_AddItemToArray(lids, cJSON_CreateNumber((double)q->prompt[i]));
        cJSON_AddItemToArray(tlp, i == 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)plp[i]));
    }
    for (size_t i = 0; i < c->n; i++) {
        token_text(c->tok[i], tt, sizeof tt);
        cJSON_AddItemToArray(toks, cJSON_CreateString(tt));
        cJSON_AddItemToArray(lids, cJSON_CreateNumber((double)c->tok[i]));
        cJSON_AddItemToArray(tlp, cJSON_CreateNumber((double)c->lp[i]));
    }
    return o;
}

/* Samples every choice from w's model and builds the response (NULL on OOM). */
static cJSON *complete(fwl_server *s, const creq *q, const fwl_model *m)
{
    uint64_t seed = q->seed;
    choice *cs = calloc(q->n, sizeof *cs);
    float *plp = malloc((q->np + 1) * sizeof *plp);
    cJSON *o = cs && plp ? cJSON_CreateObject() : NULL;
    if (o && q->echo && q->want_lp && q->np > 0)
        fwl_model_prompt_logprobs(m, q->prompt, q->np, plp);
    size_t gen_total = 0;
    for (size_t i = 0; o && i < q->n; i++) {
        cs[i].tok = malloc((q->max_tokens + 1) * sizeof *cs[i].tok);
        cs[i].lp = malloc((q->max_tokens + 1) * sizeof *cs[i].lp);
        if (!cs[i].tok || !cs[i].lp) {
            cJSON_Delete(o);
            o = NULL;
            break;
        }
        uint64_t rng = fwl_sample_rng(seed, i);
        cs[i].n = fwl_sample_generate(m, q->prompt, q->np, q->max_tokens, &q->sp, &rng, q->stop, q->nstop,
                                      q->include_stop, cs[i].tok, cs[i].lp, &cs[i].stopped);
        gen_total += cs[i].n;
    }
    if (o) {
        char id[64];
        fwl_new_id(s, "cmpl-", id, sizeof id);
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "object", "text_completion");
        cJSON_AddNumberToObject(o, "created", (double)(fwl_now_us() / 1000000));
        char mname[128];
        snprintf(mname, sizeof mname, "accounts/%s/deployments/%s", FWL_ACCOUNT, q->dep);
        cJSON_AddStringToObject(o, "model", mname);
        cJSON *choices = cJSON_AddArrayToObject(o, "choices");
        for (size_t i = 0; o && i < q->n; i++) {
            cJSON *c = choice_json(q, &cs[i], i, plp);
            if (!c) {
                cJSON_Delete(o);
                o = NULL;
                break;
            }
            cJSON_AddItemToArray(choices, c);
        }
    }
    if (o) {
        cJSON *u = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(u, "prompt_tokens", (double)q->np);
        cJSON_AddNumberToObject(u, "completion_tokens", (double)gen_total);
        cJSON_AddNumberToObject(u, "total_tokens", (double)(q->np + gen_total));
    }
    for (size_t i = 0; cs && i < q->n; i++) {
        free(cs[i].tok);
        free(cs[i].lp);
    }
    free(cs);
    free(plp);
    return o;
}

/* A fresh seed for a request that names none. */
static uint64_t fresh_seed(fwl_server *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t st = s->cfg.seed ^ (uint64_t)fwl_now_us() ^ (++s->counter << 20);
    uint64_t seed = fwl_rand_u64(&st);
    pthread_mutex_unlock(&s->lock);
    return seed;
}

/* The deployment's weights (a reference), or NULL with out filled (404 / 425, or the hotload_busy fault). */
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
    int busy = s->cfg.faults.hotload_busy;
    if (busy && fwl_replica_loading(s, dep)) {
        fwl_resp_error(out, busy, fwl_http_to_grpc(busy), "deployment %s is loading a snapshot (hotload in progress)",
                       dep);
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
    const char *bad = fwl_completion_parse(body, fresh_seed(s), &q);
    cJSON_Delete(body);
    if (bad) {
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", bad);
        fwl_completion_free(&q);
        return;
    }
    fwl_weights *w = serving_weights(s, q.dep, out);
    if (w) {
        cJSON *o = complete(s, &q, fwl_weights_model(w));
        fwl_weights_unref(s, w);
        if (o)
            fwl_resp_json(out, 200, o);
        else
            fwl_resp_oom(out);
    }
    fwl_completion_free(&q);
}
