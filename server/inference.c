/* POST /inference/v1/completions (protocol §3.10): OpenAI-style completions from a deployment's current
 * weights. Tokens are bytes; a string prompt is its UTF-8 bytes. With echo + logprobs the prompt tokens'
 * logprobs come back too (the first has no context: null), so a client can compare them with the trainer's
 * forward logprobs. 425 while the deployment holds no weights. */
#include "fwl.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROMPT (1u << 20)
#define MAX_GEN 4096

static void token_text(int64_t t, char *buf, size_t len)
{
    if (t >= 32 && t < 127)
        snprintf(buf, len, "%c", (char)t);
    else
        snprintf(buf, len, "bytes:\\x%02x", (unsigned)t);
}

/* Bytes as JSON-safe text: ASCII kept, other bytes as U+FFFD. */
static void append_text(char **buf, size_t *len, size_t *cap, const int64_t *toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*len + 4 >= *cap) {
            *cap = (*cap + 4) * 2;
            *buf = realloc(*buf, *cap);
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
}

void fwl_inference_route(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    if (strcmp(r->method, "POST") != 0) {
        fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on completions", r->method);
        return;
    }
    cJSON *body = fwl_req_json(r, out);
    if (!body)
        return;
    const char *model = fwl_json_str(body, "model");
    char dep[FWL_ID_MAX];
    if (!model || !fwl_parse_deployment_header(model, dep, sizeof dep) || !strchr(model, '/')) {
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "model must be accounts/%s/deployments/<id>", FWL_ACCOUNT);
        return;
    }
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(body, "temperature");
    const cJSON *ej = cJSON_GetObjectItemCaseSensitive(body, "echo");
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(body, "logprobs");
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(body, "seed");
    double temperature = 1.0;
    long max_tokens = 16;
    const char *bad = NULL;
    if (mt && !cJSON_IsNull(mt)) {
        if (!cJSON_IsNumber(mt) || mt->valuedouble < 0 || mt->valuedouble > MAX_GEN ||
            mt->valuedouble != floor(mt->valuedouble))
            bad = "max_tokens must be an integer 0..4096";
        else
            max_tokens = (long)mt->valuedouble;
    }
    if (tj && !cJSON_IsNull(tj)) {
        if (!cJSON_IsNumber(tj) || tj->valuedouble < 0 || tj->valuedouble > 100)
            bad = "temperature must be a number 0..100";
        else
            temperature = tj->valuedouble;
    }
    if (ej && !cJSON_IsBool(ej) && !cJSON_IsNull(ej))
        bad = "echo must be a boolean";
    if (lj && !cJSON_IsNull(lj) && !cJSON_IsBool(lj) && !cJSON_IsNumber(lj))
        bad = "logprobs must be an integer or a boolean";
    if (sj && !cJSON_IsNull(sj) && !cJSON_IsNumber(sj))
        bad = "seed must be an integer";
    int64_t *prompt = NULL;
    size_t np = 0;
    if (!bad) {
        if (cJSON_IsString(pj)) {
            np = strlen(pj->valuestring);
            if (np > MAX_PROMPT)
                bad = "prompt too long";
            else {
                prompt = malloc((np + 1) * sizeof *prompt);
                for (size_t i = 0; i < np; i++)
                    prompt[i] = (unsigned char)pj->valuestring[i];
            }
        } else if (cJSON_IsArray(pj)) {
            np = (size_t)cJSON_GetArraySize(pj);
            if (np > MAX_PROMPT)
                bad = "prompt too long";
            prompt = malloc((np + 1) * sizeof *prompt);
            size_t i = 0;
            const cJSON *t;
            cJSON_ArrayForEach(t, pj)
            {
                if (bad)
                    break;
                if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 255 ||
                    t->valuedouble != floor(t->valuedouble))
                    bad = "prompt tokens must be integers 0..255 (byte-level model)";
                else
                    prompt[i++] = (int64_t)t->valuedouble;
            }
        } else {
            bad = "prompt must be a string or an array of token ids";
        }
    }
    if (bad) {
        free(prompt);
        cJSON_Delete(body);
        fwl_resp_error(out, 400, FWL_GRPC_INVALID_ARGUMENT, "%s", bad);
        return;
    }
    bool echo = cJSON_IsTrue(ej);
    bool want_lp = lj && (cJSON_IsTrue(lj) || (cJSON_IsNumber(lj) && lj->valuedouble >= 0));
    uint64_t seed = sj && cJSON_IsNumber(sj) ? (uint64_t)sj->valuedouble : s->cfg.seed;
    cJSON_Delete(body);

    cJSON *d = fwl_deployment_load(s, dep);
    if (!d) {
        free(prompt);
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "deployment accounts/%s/deployments/%s not found", FWL_ACCOUNT, dep);
        return;
    }
    bool zero = fwl_deployment_scaled_to_zero(d);
    cJSON_Delete(d);
    if (zero) {
        free(prompt);
        fwl_resp_error(out, 425, FWL_GRPC_UNAVAILABLE, "deployment %s is scaled to zero", dep);
        return;
    }
    fwl_weights *w = fwl_replica_weights(s, dep);
    if (!w) {
        free(prompt);
        fwl_resp_error(out, 425, FWL_GRPC_UNAVAILABLE, "deployment %s holds no weights yet (hotload a snapshot)", dep);
        return;
    }
    const fwl_model *m = fwl_weights_model(w);
    int64_t *gen = malloc(((size_t)max_tokens + 1) * sizeof *gen);
    float *glp = malloc(((size_t)max_tokens + 1) * sizeof *glp);
    float *plp = malloc((np + 1) * sizeof *plp);
    size_t ng = max_tokens > 0 ? fwl_model_generate(m, prompt, np, (size_t)max_tokens, temperature, seed, gen, glp) : 0;
    if (echo && want_lp && np > 0)
        fwl_model_prompt_logprobs(m, prompt, np, plp);
    fwl_weights_unref(s, w);

    char *text = calloc(1, 16);
    size_t tl = 0, tc = 16;
    if (echo)
        append_text(&text, &tl, &tc, prompt, np);
    append_text(&text, &tl, &tc, gen, ng);

    cJSON *o = cJSON_CreateObject();
    char id[64];
    fwl_new_id(s, "cmpl-", id, sizeof id);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)(fwl_now_us() / 1000000));
    char mname[128];
    snprintf(mname, sizeof mname, "accounts/%s/deployments/%s", FWL_ACCOUNT, dep);
    cJSON_AddStringToObject(o, "model", mname);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON_AddStringToObject(c, "text", text);
    cJSON_AddStringToObject(c, "finish_reason", "length");
    if (want_lp) {
        cJSON *lp = cJSON_AddObjectToObject(c, "logprobs");
        cJSON *toks = cJSON_AddArrayToObject(lp, "tokens");
        cJSON *tlp = cJSON_AddArrayToObject(lp, "token_logprobs");
        cJSON *ids = cJSON_AddArrayToObject(lp, "token_ids");
        char tt[32];
        if (echo) {
            for (size_t i = 0; i < np; i++) {
                token_text(prompt[i], tt, sizeof tt);
                cJSON_AddItemToArray(toks, cJSON_CreateString(tt));
                cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)prompt[i]));
                cJSON_AddItemToArray(tlp, i == 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)plp[i]));
            }
        }
        for (size_t i = 0; i < ng; i++) {
            token_text(gen[i], tt, sizeof tt);
            cJSON_AddItemToArray(toks, cJSON_CreateString(tt));
            cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)gen[i]));
            cJSON_AddItemToArray(tlp, cJSON_CreateNumber((double)glp[i]));
        }
    }
    cJSON_AddItemToArray(choices, c);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)np);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)ng);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(np + ng));
    free(text);
    free(gen);
    free(glp);
    free(plp);
    free(prompt);
    fwl_resp_json(out, 200, o);
}
