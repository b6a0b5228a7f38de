/* Parsing, validation and execution of forward / forward_backward batches (fwd_batch.h). */
#include "fwd_batch.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TensorData (docs/protocol.md §4.10): dense {"data": [...], "dtype", "shape"?}; n values expected. */
static int tensor_read(const cJSON *t, bool ints, size_t n, double *out, const char *what, char *err, size_t el)
{
    if (!cJSON_IsObject(t)) {
        snprintf(err, el, "%s must be a TensorData object", what);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(t, "sparse_crow_indices")) {
        snprintf(err, el, "%s: sparse TensorData is not supported by fwtrain-local", what);
        return -1;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "data");
    if (!cJSON_IsArray(d)) {
        snprintf(err, el, "%s.data must be an array", what);
        return -1;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(d);
    if (cnt != n) {
        snprintf(err, el, "%s has %zu entries for %zu input tokens", what, cnt, n);
        return -1;
    }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, d)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || (ints && e->valuedouble != floor(e->valuedouble))) {
            snprintf(err, el, "%s.data[%zu] must be %s", what, i, ints ? "an integer" : "a finite number");
            return -1;
        }
        out[i++] = e->valuedouble;
    }
    return 0;
}

/* model_input.chunks: encoded_text chunks of byte tokens, concatenated. */
static int read_tokens(const cJSON *chunks, size_t di, fwl_fwd_datum *dd, char *err, size_t el)
{
    size_t n = 0, cap = 16;
    dd->tokens = malloc(cap * sizeof *dd->tokens);
    if (!dd->tokens) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    const cJSON *ch;
    cJSON_ArrayForEach(ch, chunks)
    {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(ch, "type");
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(ch, "tokens");
        if ((ty && (!cJSON_IsString(ty) || strcmp(ty->valuestring, "encoded_text") != 0)) || !cJSON_IsArray(tl)) {
            snprintf(err, el, "data[%zu]: only encoded_text chunks with a tokens array are supported", di);
            return -1;
        }
        const cJSON *t;
        cJSON_ArrayForEach(t, tl)
        {
            if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) || t->valuedouble < 0 ||
                t->valuedouble > 255) {
                snprintf(err, el, "data[%zu]: tokens must be integers 0..255 (byte-level model)", di);
                return -1;
            }
            if (n == cap) {
                int64_t *nt = realloc(dd->tokens, 2 * cap * sizeof *nt);
                if (!nt) {
                    snprintf(err, el, "out of memory");
                    return -1;
                }
                dd->tokens = nt;
                cap *= 2;
            }
            dd->tokens[n++] = (int64_t)t->valuedouble;
        }
    }
    dd->n = n;
    return 0;
}

/* Every loss_fn_inputs key must be an input of the loss (a typo is an error, never silently ignored). */
static int check_input_keys(const fwl_loss *loss, const cJSON *lfi, size_t di, char *err, size_t el)
{
    unsigned uses = fwl_loss_inputs(loss->kind);
    const cJSON *it;
    cJSON_ArrayForEach(it, lfi)
    {
        const char *k = it->string ? it->string : "";
        bool known = !strcmp(k, "target_tokens") || (!strcmp(k, "weights") && (uses & FWL_LOSS_IN_WEIGHTS)) ||
                     (!strcmp(k, "logprobs") && (uses & FWL_LOSS_IN_LOGPROBS)) ||
                     (!strcmp(k, "advantages") && (uses & FWL_LOSS_IN_ADVANTAGES));
        if (!known) {
            snprintf(err, el, "data[%zu].loss_fn_inputs.%.60s is not an input of %s (it takes %s)", di, k,
                     fwl_loss_name(loss->kind),
                     (uses & FWL_LOSS_IN_ADVANTAGES) ? "target_tokens, logprobs, advantages, weights"
                                                     : "target_tokens, weights");
            return -1;
        }
    }
    return 0;
}

/* target_tokens (required): byte ids. tmp holds n doubles of scratch. */
static int read_targets(const cJSON *lfi, size_t di, fwl_fwd_datum *dd, double *tmp, char *err, size_t el)
{
    size_t n = dd->n;
    char what[96];
    snprintf(what, sizeof what, "data[%zu].loss_fn_inputs.target_tokens", di);
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(lfi, "target_tokens");
    if (!tt) {
        snprintf(err, el, "%s is required", what);
        return -1;
    }
    if (tensor_read(tt, true, n, tmp, what, err, el) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] < 0 || tmp[i] > 255) {
            snprintf(err, el, "%s must be 0..255 (byte-level model)", what);
            return -1;
        }
        dd->targets[i] = (int64_t)tmp[i];
    }
    return 0;
}

/* weights (optional): float32 per token. tmp holds n doubles of scratch. */
static int read_weights(const cJSON *lfi, size_t di, fwl_fwd_datum *dd, double *tmp, char *err, size_t el)
{
    const cJSON *wj = cJSON_GetObjectItemCaseSensitive(lfi, "weights");
    if (!wj)
        return 0;
    size_t n = dd->n;
    char what[96];
    snprintf(what, sizeof what, "data[%zu].loss_fn_inputs.weights", di);
    if (tensor_read(wj, false, n, tmp, what, err, el) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (fabs(tmp[i]) > FLT_MAX) { /* stored as float32: a bigger one does not fit */
            snprintf(err, el, "%s.data[%zu] does not fit a float32", what, i);
            return -1;
        }
    }
    if (!(dd->weights = malloc((n ? n : 1) * sizeof *dd->weights))) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        dd->weights[i] = (float)tmp[i];
    return 0;
}

/* logprobs and advantages, when the loss takes them (then they are required). */
static int read_rl_inputs(const fwl_loss *loss, const cJSON *lfi, size_t di, fwl_fwd_datum *dd, char *err, size_t el)
{
    static const struct {
        unsigned bit;
        const char *key;
    } RL[] = {{FWL_LOSS_IN_LOGPROBS, "logprobs"}, {FWL_LOSS_IN_ADVANTAGES, "advantages"}};
    unsigned uses = fwl_loss_inputs(loss->kind);
    size_t n = dd->n;
    for (size_t k = 0; k < 2; k++) {
        if (!(uses & RL[k].bit))
            continue;
        char what[96];
        snprintf(what, sizeof what, "data[%zu].loss_fn_inputs.%s", di, RL[k].key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(lfi, RL[k].key);
        if (!v) {
            snprintf(err, el, "%s is required by %s", what, fwl_loss_name(loss->kind));
            return -1;
        }
        double *dst = malloc((n ? n : 1) * sizeof *dst);
        if (!dst) {
            snprintf(err, el, "out of memory");
            return -1;
        }
        if (k == 0)
            dd->logprobs = dst;
        else
            dd->advantages = dst;
        if (tensor_read(v, false, n, dst, what, err, el) != 0)
            return -1;
    }
    return 0;
}

/* One datum: tokens, then the loss inputs. On failure what was allocated stays in dd (the batch frees it). */
static int read_datum(const fwl_loss *loss, const cJSON *d, size_t di, fwl_fwd_datum *dd, char *err, size_t el)
{
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(d, "model_input");
    const cJSON *chunks = mi ? cJSON_GetObjectItemCaseSensitive(mi, "chunks") : NULL;
    const cJSON *lfi = cJSON_GetObjectItemCaseSensitive(d, "loss_fn_inputs");
    if (!cJSON_IsArray(chunks) || !cJSON_IsObject(lfi)) {
        snprintf(err, el, "data[%zu] needs model_input.chunks (array) and loss_fn_inputs (object)", di);
        return -1;
    }
    if (read_tokens(chunks, di, dd, err, el) != 0 || check_input_keys(loss, lfi, di, err, el) != 0)
        return -1;
    size_t n = dd->n;
    double *tmp = malloc((n ? n : 1) * sizeof *tmp);
    dd->targets = malloc((n ? n : 1) * sizeof *dd->targets);
    if (!tmp || !dd->targets) {
        free(tmp);
        snprintf(err, el, "out of memory");
        return -1;
    }
    int rc = read_targets(lfi, di, dd, tmp, err, el) || read_weights(lfi, di, dd, tmp, err, el) ||
                     read_rl_inputs(loss, lfi, di, dd, err, el)
                 ? -1
                 : 0;
    free(tmp);
    return rc;
}

void fwl_fwd_batch_free(fwl_fwd_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->d[i].tokens);
        free(b->d[i].targets);
        free(b->d[i].weights);
        free(b->d[i].logprobs);
        free(b->d[i].advantages);
    }
    free(b->d);
    free(b);
}

int fwl_fwd_batch_parse(fwl_fwd_batch **out, const cJSON *body, bool backward, char *err, size_t el)
{
    *out = NULL;
    const char *key = backward ? "forward_backward_input" : "forward_input";
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!cJSON_IsObject(in)) {
        snprintf(err, el, "%s (object) is required", key);
        return -1;
    }
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(in, "loss_fn");
    if (!cJSON_IsString(lj)) {
        snprintf(err, el, "%s.loss_fn (string) is required (%s)", key, fwl_loss_names());
        return -1;
    }
    fwl_fwd_batch *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    if (fwl_loss_init(&b->loss, lj->valuestring) != 0) {
        snprintf(err, el, "unknown loss_fn \"%.60s\" (fwtrain-local has %s)", lj->valuestring, fwl_loss_names());
        goto fail;
    }
    if (fwl_loss_configure(&b->loss, cJSON_GetObjectItemCaseSensitive(in, "loss_fn_config"), err, el) != 0)
        goto fail;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (!cJSON_IsArray(data)) {
        snprintf(err, el, "%s.data must be an array of Datum", key);
        goto fail;
    }
    size_t nd = (size_t)cJSON_GetArraySize(data);
    b->d = calloc(nd ? nd : 1, sizeof *b->d);
    if (!b->d) {
        snprintf(err, el, "out of memory");
        goto fail;
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, data)
    {
        size_t di = b->n++; /* counted first so fwl_fwd_batch_free releases a half-read datum */
        if (read_datum(&b->loss, d, di, &b->d[di], err, el) != 0)
            goto fail;
    }
    *out = b;
    return 0;
fail:
    fwl_fwd_batch_free(b);
    return -1;
}

static cJSON *tensor_json(const float *v, size_t n)
{
    cJSON *t = cJSON_CreateObject();
    cJSON *d = cJSON_AddArrayToObject(t, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(d, cJSON_CreateNumber((double)v[i]));
    cJSON_AddStringToObject(t, "dtype", "float32");
    cJSON *sh = cJSON_AddArrayToObject(t, "shape");
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)n));
    return t;
}

typedef struct tok_ctx {
    const fwl_loss *loss;
    const fwl_fwd_datum *d;
} tok_ctx;

static double token_loss(void *ud, size_t i, double lp, double *dlp)
{
    const tok_ctx *c = ud;
    const fwl_fwd_datum *d = c->d;
    return fwl_loss_token(c->loss, lp, d->weights ? (double)d->weights[i] : 1.0, d->logprobs ? d->logprobs[i] : 0.0,
                          d->advantages ? d->advantages[i] : 0.0, dlp);
}

cJSON *fwl_fwd_batch_run(const fwl_fwd_batch *b, const fwl_model *m, float *grad)
{
    cJSON *res = cJSON_CreateObject();
    if (!res)
        return NULL;
    cJSON_AddStringToObject(res, "loss_fn_output_type", "TensorData");
    cJSON *outs = cJSON_AddArrayToObject(res, "loss_fn_outputs");
    double total = 0, count = 0;
    for (size_t i = 0; i < b->n; i++) {
        const fwl_fwd_datum *d = &b->d[i];
        float *lp = malloc((d->n ? d->n : 1) * sizeof *lp);
        if (!lp) {
            cJSON_Delete(res);
            return NULL;
        }
        tok_ctx c = {&b->loss, d};
        /* cross_entropy through fwl_model_forward: the exact arithmetic it always had */
        total += b->loss.kind == FWL_LOSS_CROSS_ENTROPY
                     ? fwl_model_forward(m, d->tokens, d->targets, d->weights, d->n, lp, grad)
                     : fwl_model_forward_loss(m, d->tokens, d->targets, d->n, token_loss, &c, lp, grad);
        /* tokens counted: the weights' sum (every position when there are no weights) */
        for (size_t k = 0; k < d->n; k++)
            count += d->weights ? d->weights[k] : 1.0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "logprobs", tensor_json(lp, d->n));
        cJSON_AddItemToArray(outs, o);
        free(lp);
    }
    cJSON *metrics = cJSON_AddObjectToObject(res, "metrics");
    cJSON_AddNumberToObject(metrics, "loss:sum", total);
    cJSON_AddNumberToObject(metrics, "loss:mean", count > 0 ? total / count : 0.0);
    cJSON_AddNumberToObject(metrics, "num_tokens:sum", count);
    cJSON_AddStringToObject(res, "type", grad ? "forward_backward" : "forward");
    return res;
}
