/* Reference batch encoder: the tree the library built before the direct writer (batch_cjson.h). */
#include <string.h>

#include "batch_cjson.h"

static cJSON *tensor(const void *data, size_t n, int is_float)
{
    cJSON *t = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(t, "data");
    for (size_t i = 0; arr && i < n; i++) {
        double v = is_float ? (double)((const float *)data)[i] : (double)((const int64_t *)data)[i];
        if (!cJSON_AddItemToArray(arr, cJSON_CreateNumber(v)))
            arr = NULL;
    }
    cJSON *shape = arr ? (cJSON_AddStringToObject(t, "dtype", is_float ? "float32" : "int64"),
                          cJSON_AddArrayToObject(t, "shape"))
                       : NULL;
    if (!shape || !cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)n))) {
        cJSON_Delete(t);
        return NULL;
    }
    return t;
}

cJSON *fwt_test_batch_cjson(const fwt_test_datum *d, size_t count, int rl)
{
    cJSON *data = cJSON_CreateArray();
    for (size_t i = 0; data && i < count; i++) {
        cJSON *dj = cJSON_CreateObject();
        cJSON_AddItemToArray(data, dj);
        cJSON *chunks = cJSON_AddArrayToObject(cJSON_AddObjectToObject(dj, "model_input"), "chunks");
        cJSON *chunk = cJSON_CreateObject();
        cJSON_AddItemToArray(chunks, chunk);
        cJSON_AddStringToObject(chunk, "type", "encoded_text");
        cJSON *toks = cJSON_AddArrayToObject(chunk, "tokens");
        for (size_t k = 0; toks && k < d[i].n; k++)
            cJSON_AddItemToArray(toks, cJSON_CreateNumber((double)d[i].tokens[k]));
        cJSON *lfi = cJSON_AddObjectToObject(dj, "loss_fn_inputs");
        const struct {
            const char *name;
            const void *v;
            int is_float;
        } in[] = {{"target_tokens", d[i].targets, 0},
                  {"weights", d[i].weights, 1},
                  {"logprobs", rl ? d[i].logprobs : NULL, 1},
                  {"advantages", rl ? d[i].advantages : NULL, 1}};
        for (size_t k = 0; lfi && k < sizeof in / sizeof in[0]; k++)
            if (in[k].v)
                cJSON_AddItemToObject(lfi, in[k].name, tensor(in[k].v, d[i].n, in[k].is_float));
    }
    return data;
}

int fwt_test_cjson_same(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if ((a->type & 0xff) != (b->type & 0xff))
        return 0;
    if ((a->string == NULL) != (b->string == NULL) || (a->string && strcmp(a->string, b->string) != 0))
        return 0;
    if (cJSON_IsNumber(a))
        return memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble) == 0 && a->valueint == b->valueint;
    if (cJSON_IsString(a) || cJSON_IsRaw(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        if (!fwt_test_cjson_same(x, y))
            return 0;
    return x == NULL && y == NULL;
}
