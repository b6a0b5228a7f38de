/* fwt_model: the model resource a promotion produces (docs/protocol.md §3.6). */
#include "api/jobs_internal.h"

#include "core/future_impl.h"
#include "json/json.h"

int fwt__model_from_json(fwt_model **out, const cJSON *obj)
{
    *out = NULL;
    const char *name = NULL;
    if (!cJSON_IsObject(obj) || fwt__json_get_string(obj, "name", &name) != FWT_OK || !*name)
        return FWT_EPROTO;
    fwt_model *m = fwt__calloc(1, sizeof *m);
    if (!m)
        return FWT_ENOMEM;
    m->name = fwt__strdup(name);
    m->state = fwt__json_dup(obj, "state", NULL);
    m->kind = fwt__json_dup(obj, "kind", NULL);
    const cJSON *peft = NULL;
    const char *bm = NULL;
    if (fwt__json_get_object(obj, "peftDetails", &peft) == FWT_OK || fwt__json_get_object(obj, "peft_details", &peft) == FWT_OK)
        (void)fwt__json_get_string2(peft, "baseModel", "base_model", &bm);
    if (!bm)
        (void)fwt__json_get_string2(obj, "baseModel", "base_model", &bm);
    m->base_model = fwt__strdup(bm ? bm : "");
    if (!m->name || !m->state || !m->kind || !m->base_model) {
        fwt_model_free(m);
        return FWT_ENOMEM;
    }
    *out = m;
    return FWT_OK;
}

void fwt_model_free(fwt_model *m)
{
    if (!m)
        return;
    fwt__free_mem(m->name);
    fwt__free_mem(m->state);
    fwt__free_mem(m->kind);
    fwt__free_mem(m->base_model);
    fwt__free_mem(m);
}

const char *fwt_model_name(const fwt_model *m) { return m && m->name ? m->name : ""; }
const char *fwt_model_state(const fwt_model *m) { return m && m->state ? m->state : ""; }
const char *fwt_model_kind(const fwt_model *m) { return m && m->kind ? m->kind : ""; }
const char *fwt_model_base_model(const fwt_model *m) { return m && m->base_model ? m->base_model : ""; }

int fwt_future_take_model(fwt_model **out, fwt_future *f)
{
    if (!out || !f)
        return fwt__last_set(FWT_EINVAL, "out and future are required");
    *out = NULL;
    void *v = NULL;
    int rc = fwt__future_take(f, FWT__VALUE_MODEL, &v);
    if (rc == FWT_OK)
        *out = v;
    return rc;
}

const fwt__value_type fwt__vt_model = {"model"};
