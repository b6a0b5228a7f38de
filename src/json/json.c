/* Typed, case-sensitive accessors over cJSON (docs/internals.md reliability §3). The parser is jparse.c. */
#include <math.h>
#include <string.h>

#include "fwt_util.h"
#include "json/json.h"
#include "json/jwrite.h"

const cJSON *fwt__json_get(const cJSON *obj, const char *key)
{
    if (!obj || !key || !cJSON_IsObject(obj))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int lookup(const cJSON *obj, const char *key, const cJSON **out)
{
    if (!obj || !cJSON_IsObject(obj))
        return FWT_EPROTO;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return FWT_ENOTFOUND;
    *out = it;
    return FWT_OK;
}

int fwt__json_get_string(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *it;
    int rc = lookup(obj, key, &it);
    if (rc)
        return rc;
    if (!cJSON_IsString(it) || !it->valuestring)
        return FWT_EPROTO;
    *out = it->valuestring;
    return FWT_OK;
}

int fwt__json_get_int64(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *it;
    int rc = lookup(obj, key, &it);
    if (rc)
        return rc;
    if (!cJSON_IsNumber(it))
        return FWT_EPROTO;
    double d = it->valuedouble;
    /* Range first so the cast is defined; then integral (no libm needed). */
    if (!isfinite(d) || d > 9007199254740992.0 || d < -9007199254740992.0 || d != (double)(int64_t)d)
        return FWT_EPROTO;
    *out = (int64_t)d;
    return FWT_OK;
}

int fwt__json_get_double(const cJSON *obj, const char *key, double *out)
{
    const cJSON *it;
    int rc = lookup(obj, key, &it);
    if (rc)
        return rc;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return FWT_EPROTO;
    *out = it->valuedouble;
    return FWT_OK;
}

int fwt__json_get_bool(const cJSON *obj, const char *key, int *out)
{
    const cJSON *it;
    int rc = lookup(obj, key, &it);
    if (rc)
        return rc;
    if (!cJSON_IsBool(it))
        return FWT_EPROTO;
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return FWT_OK;
}

int fwt__json_get_object(const cJSON *obj, const char *key, const cJSON **out)
{
    const cJSON *it;
    int rc = lookup(obj, key, &it);
    if (rc)
        return rc;
    if (!cJSON_IsObject(it))
        return FWT_EPROTO;
    *out = it;
    return FWT_OK;
}

int fwt__json_get_array(const cJSON *obj, const char *key, const cJSON **out)
{
    const cJSON *it;
    int rc = lookup(obj, key, &it);
    if (rc)
        return rc;
    if (!cJSON_IsArray(it))
        return FWT_EPROTO;
    *out = it;
    return FWT_OK;
}

int fwt__json_get_string2(const cJSON *obj, const char *key1, const char *key2, const char **out)
{
    int rc = fwt__json_get_string(obj, key1, out);
    if (rc != FWT_ENOTFOUND)
        return rc;
    return fwt__json_get_string(obj, key2, out);
}

static int add_item(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return FWT_ENOMEM;
    if (!obj || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return obj ? FWT_ENOMEM : FWT_EINVAL;
    }
    return FWT_OK;
}

int fwt__json_add_string(cJSON *obj, const char *key, const char *value)
{
    if (!value)
        return FWT_EINVAL;
    fwt__json_hooks_install();
    return add_item(obj, key, cJSON_CreateString(value));
}

int fwt__json_add_int64(cJSON *obj, const char *key, int64_t value)
{
    return add_item(obj, key, cJSON_CreateNumber((double)value));
}

int fwt__json_add_double(cJSON *obj, const char *key, double value)
{
    return add_item(obj, key, cJSON_CreateNumber(value));
}

int fwt__json_add_bool(cJSON *obj, const char *key, int value)
{
    return add_item(obj, key, cJSON_CreateBool(value ? 1 : 0));
}

char *fwt__json_print(const cJSON *item)
{
    if (!item)
        return NULL;
    fwt__jw w;
    fwt__jw_init(&w, 256);
    fwt__jw_tree(&w, item);
    return fwt__jw_take(&w, NULL);
}
