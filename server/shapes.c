/* Training shapes: a fixed catalogue, one version each ("1", validated), under any account the client names
 * (the service keeps public shapes under accounts/fireworks; this server answers for accounts/local too). */
#include "shapes.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static const fwl_shape SHAPES[] = {
    {"fwl-full", "fwtrain-local full-parameter trainer", "NVIDIA_H100_80GB", 8, 1, 4096, "POLICY_TRAINER"},
    {"fwl-full-2node", "fwtrain-local full-parameter trainer, 2 nodes", "NVIDIA_H200_141GB", 8, 2, 8192,
     "POLICY_TRAINER"},
    {"fwl-lora", "fwtrain-local LoRA trainer", "NVIDIA_H100_80GB", 4, 1, 4096, "LORA_TRAINER"},
    /* The shape the official docs' quickstart names, so their snippets run unchanged here (tests/python). */
    {"qwen3-8b-128k-h200", "fwtrain-local stand-in for the documented Qwen3-8B shape", "NVIDIA_H200_141GB", 8, 1,
     131072, "POLICY_TRAINER"},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])
#define SHAPE_VERSION "1"

static const fwl_shape *by_id(const char *id)
{
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(SHAPES[i].id, id))
            return &SHAPES[i];
    return NULL;
}

const fwl_shape *fwl_shape_find(const char *ref)
{
    if (!ref)
        return NULL;
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", ref) >= (int)sizeof buf)
        return NULL;
    char *seg[6] = {0};
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save))
        if (n < 6)
            seg[n++] = t;
        else
            return NULL;
    if (n == 1)
        return by_id(seg[0]);
    if ((n != 4 && n != 6) || strcmp(seg[0], "accounts") != 0 || strcmp(seg[2], "trainingShapes") != 0)
        return NULL;
    if (n == 6 && (strcmp(seg[4], "versions") != 0 || strcmp(seg[5], SHAPE_VERSION) != 0))
        return NULL;
    return by_id(seg[3]);
}

static cJSON *version_json(const char *account, const fwl_shape *sh)
{
    char name[256];
    snprintf(name, sizeof name, "accounts/%s/trainingShapes/%s/versions/%s", account, sh->id, SHAPE_VERSION);
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "name", name);
    cJSON_AddBoolToObject(v, "latestValidated", true);
    cJSON *snap = cJSON_AddObjectToObject(v, "snapshot");
    cJSON_AddStringToObject(snap, "trainerImageTag", "fwtrain-local");
    cJSON_AddNumberToObject(snap, "maxSupportedContextLength", sh->max_context_length);
    cJSON_AddNumberToObject(snap, "nodeCount", sh->node_count);
    cJSON_AddStringToObject(snap, "acceleratorType", sh->accelerator_type);
    cJSON_AddNumberToObject(snap, "acceleratorCount", sh->accelerator_count);
    cJSON_AddStringToObject(snap, "baseModelWeightPrecision", "float32");
    cJSON *tss = cJSON_AddObjectToObject(snap, "trainerShardingScheme");
    cJSON_AddNumberToObject(tss, "pipelineParallelism", 1);
    cJSON_AddStringToObject(snap, "trainerMode", sh->trainer_mode);
    return v;
}

static cJSON *shape_json(const char *account, const fwl_shape *sh)
{
    char name[256], ver[300];
    snprintf(name, sizeof name, "accounts/%s/trainingShapes/%s", account, sh->id);
    snprintf(ver, sizeof ver, "%s/versions/%s", name, SHAPE_VERSION);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "displayName", sh->display_name);
    cJSON_AddStringToObject(o, "latestValidatedVersion", ver);
    cJSON *v = version_json(account, sh);
    cJSON *snap = v ? cJSON_DetachItemFromObjectCaseSensitive(v, "snapshot") : NULL;
    cJSON_Delete(v);
    if (snap && !cJSON_AddItemToObject(o, "snapshot", snap))
        cJSON_Delete(snap);
    return o;
}

/* {<key>: [items], "nextPageToken": "", "totalSize": n} over the catalogue (all shapes, or one shape's versions). */
static cJSON *listing(const char *account, const char *key, const fwl_shape *one)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    size_t n = one ? 1 : N_SHAPES;
    for (size_t i = 0; i < n; i++) {
        cJSON *it = one ? version_json(account, one) : shape_json(account, &SHAPES[i]);
        if (!cJSON_AddItemToArray(arr, it))
            cJSON_Delete(it);
    }
    cJSON_AddStringToObject(o, "nextPageToken", "");
    cJSON_AddNumberToObject(o, "totalSize", (double)n);
    return o;
}

void fwl_shapes_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i)
{
    (void)s;
    size_t rest = r->nseg - i;
    const char *account = r->seg[i - 2];
    if (strcmp(r->method, "GET") != 0) {
        fwl_resp_method(out, r, "training shapes");
        return;
    }
    if (rest == 0) {
        /* filters and page sizes are accepted; the catalogue is one short page */
        fwl_resp_json(out, 200, listing(account, "trainingShapes", NULL));
        return;
    }
    const fwl_shape *sh = by_id(r->seg[i]);
    if (!sh) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "training shape accounts/%.64s/trainingShapes/%.64s not found",
                       account, r->seg[i]);
        return;
    }
    if (rest == 1)
        fwl_resp_json(out, 200, shape_json(account, sh));
    else if (rest == 2 && !strcmp(r->seg[i + 1], "versions"))
        fwl_resp_json(out, 200, listing(account, "trainingShapeVersions", sh));
    else if (rest == 3 && !strcmp(r->seg[i + 1], "versions") && !strcmp(r->seg[i + 2], SHAPE_VERSION))
        fwl_resp_json(out, 200, version_json(account, sh));
    else
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
}
