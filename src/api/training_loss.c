/* Loss names and loss_fn_config (docs/protocol.md §4.10): the client-side half of the RL losses. */
#include <math.h>
#include <string.h>

#include "api/training_impl.h"

static const char *const NAMES[] = {"cross_entropy", "importance_sampling", "ppo", "cispo", "dro"};
#define N_LOSSES (sizeof NAMES / sizeof NAMES[0])
#define MAX_KEY 64

const char *fwt_loss_fn_name(fwt_loss_fn loss)
{
    return (unsigned)loss < N_LOSSES ? NAMES[loss] : NULL;
}

int fwt_loss_fn_parse(fwt_loss_fn *out, const char *name)
{
    if (!out || !name)
        return fwt__last_set(FWT_EINVAL, "fwt_loss_fn_parse: %s is NULL", out ? "name" : "out");
    for (size_t i = 0; i < N_LOSSES; i++) {
        if (strcmp(name, NAMES[i]) == 0) {
            *out = (fwt_loss_fn)i;
            return FWT_OK;
        }
    }
    return fwt__last_set(FWT_EINVAL,
                         "unknown loss \"%.64s\" (cross_entropy, importance_sampling, ppo, cispo or dro)", name);
}

int fwt_loss_config_init(fwt_loss_config *c, unsigned int version)
{
    if (!c)
        return fwt__last_set(FWT_EINVAL, "fwt_loss_config_init: c is NULL");
    if (version != FWT_LOSS_CONFIG_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_loss_config_init: unknown version %u", version);
    memset(c, 0, sizeof *c);
    c->version = version;
    return FWT_OK;
}

int fwt__loss_is_rl(fwt_loss_fn loss) { return loss != FWT_LOSS_CROSS_ENTROPY; }

static int check_config(const fwt_loss_config *c, const char *fn)
{
    if (c->version != FWT_LOSS_CONFIG_VERSION)
        return fwt__last_set(FWT_EINVAL, "%s: unknown fwt_loss_config version %u", fn, c->version);
    if (c->n && (!c->keys || !c->values))
        return fwt__last_set(FWT_EINVAL, "%s: loss_fn_config has n = %zu but no %s", fn, c->n,
                             c->keys ? "values" : "keys");
    for (size_t i = 0; i < c->n; i++) {
        const char *k = c->keys[i];
        if (!k || !*k || strlen(k) > MAX_KEY)
            return fwt__last_set(FWT_EINVAL, "%s: loss_fn_config key %zu must be 1 to %d characters", fn, i, MAX_KEY);
        for (const unsigned char *p = (const unsigned char *)k; *p; p++)
            if (*p < 0x20 || *p >= 0x7f)
                return fwt__last_set(FWT_EINVAL, "%s: loss_fn_config key %zu must be printable ASCII", fn, i);
        if (!isfinite(c->values[i]))
            return fwt__last_set(FWT_EINVAL, "%s: loss_fn_config \"%s\" is not a finite number", fn, k);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->keys[j], k) == 0)
                return fwt__last_set(FWT_EINVAL, "%s: loss_fn_config \"%s\" is given twice", fn, k);
    }
    return FWT_OK;
}

int fwt__loss_add(cJSON *input, fwt_loss_fn loss, const fwt_loss_config *config, const char *fn)
{
    const char *name = fwt_loss_fn_name(loss);
    if (!name)
        return fwt__last_set(FWT_EINVAL, "%s: unknown loss %d (not a fwt_loss_fn)", fn, (int)loss);
    int rc = config ? check_config(config, fn) : FWT_OK;
    if (rc)
        return rc;
    if (fwt__json_add_string(input, "loss_fn", name))
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    if (!config || !config->n)
        return FWT_OK;
    cJSON *cj = cJSON_AddObjectToObject(input, "loss_fn_config");
    for (size_t i = 0; cj && i < config->n; i++)
        if (fwt__json_add_double(cj, config->keys[i], config->values[i]))
            cj = NULL;
    return cj ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
}
