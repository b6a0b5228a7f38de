/* Tinker's built-in losses, per token (see loss.h for the definitions and where the defaults come from). */
#include "loss.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RL_INPUTS (FWL_LOSS_IN_WEIGHTS | FWL_LOSS_IN_LOGPROBS | FWL_LOSS_IN_ADVANTAGES)

static const struct {
    const char *name;
    fwl_loss_kind kind;
    unsigned inputs;
    double clip_low, clip_high, beta;
} LOSSES[] = {
    {"cross_entropy", FWL_LOSS_CROSS_ENTROPY, FWL_LOSS_IN_WEIGHTS, 0, 0, 0},
    {"importance_sampling", FWL_LOSS_IMPORTANCE_SAMPLING, RL_INPUTS, 0, 0, 0},
    /* Tinker's PPO clips the ratio to [1 - 0.2, 1 + 0.2] unless told otherwise */
    {"ppo", FWL_LOSS_PPO, RL_INPUTS, 0.8, 1.2, 0},
    /* CISPO's default is one-sided: no lower bound, the coefficient capped at 4 */
    {"cispo", FWL_LOSS_CISPO, RL_INPUTS, 0.0, 4.0, 0},
    /* Tinker documents beta as configurable without giving its default; 0.1 is ours */
    {"dro", FWL_LOSS_DRO, RL_INPUTS, 0, 0, 0.1},
};
#define NLOSSES (sizeof LOSSES / sizeof LOSSES[0])

int fwl_loss_init(fwl_loss *l, const char *name)
{
    for (size_t i = 0; name && i < NLOSSES; i++) {
        if (!strcmp(name, LOSSES[i].name)) {
            l->kind = LOSSES[i].kind;
            l->clip_low = LOSSES[i].clip_low;
            l->clip_high = LOSSES[i].clip_high;
            l->beta = LOSSES[i].beta;
            return 0;
        }
    }
    return -1;
}

const char *fwl_loss_name(fwl_loss_kind k)
{
    for (size_t i = 0; i < NLOSSES; i++)
        if (LOSSES[i].kind == k)
            return LOSSES[i].name;
    return "?";
}

const char *fwl_loss_names(void)
{
    return "cross_entropy, importance_sampling, ppo, cispo, dro";
}

unsigned fwl_loss_inputs(fwl_loss_kind k)
{
    for (size_t i = 0; i < NLOSSES; i++)
        if (LOSSES[i].kind == k)
            return LOSSES[i].inputs;
    return 0;
}

int fwl_loss_configure(fwl_loss *l, const cJSON *config, char *err, size_t errlen)
{
    const char *name = fwl_loss_name(l->kind);
    if (!config || cJSON_IsNull(config))
        return 0;
    if (!cJSON_IsObject(config)) {
        snprintf(err, errlen, "loss_fn_config must be an object");
        return -1;
    }
    bool clips = l->kind == FWL_LOSS_PPO || l->kind == FWL_LOSS_CISPO;
    const cJSON *it;
    cJSON_ArrayForEach(it, config)
    {
        const char *k = it->string ? it->string : "";
        double *dst = NULL;
        if (clips && !strcmp(k, "clip_low_threshold"))
            dst = &l->clip_low;
        else if (clips && !strcmp(k, "clip_high_threshold"))
            dst = &l->clip_high;
        else if (l->kind == FWL_LOSS_DRO && !strcmp(k, "beta"))
            dst = &l->beta;
        if (!dst) {
            snprintf(err, errlen, "loss_fn_config key \"%.60s\" is not used by %s (it takes %s)", k, name,
                     clips ? "clip_low_threshold, clip_high_threshold"
                     : l->kind == FWL_LOSS_DRO ? "beta"
                                               : "no keys");
            return -1;
        }
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
            snprintf(err, errlen, "loss_fn_config.%s must be a finite number", k);
            return -1;
        }
        *dst = it->valuedouble;
    }
    if (clips && !(l->clip_low >= 0 && l->clip_low <= l->clip_high)) {
        snprintf(err, errlen, "%s needs 0 <= clip_low_threshold <= clip_high_threshold (got %g and %g)", name,
                 l->clip_low, l->clip_high);
        return -1;
    }
    if (l->kind == FWL_LOSS_DRO && !(l->beta >= 0)) {
        snprintf(err, errlen, "dro needs beta >= 0 (got %g)", l->beta);
        return -1;
    }
    return 0;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Tinker's per-token RL loss (weight 1). */
static double rl_token(const fwl_loss *l, double lp, double q, double a, double *dlp)
{
    double r, c;
    switch (l->kind) {
    case FWL_LOSS_CROSS_ENTROPY:
        break;
    case FWL_LOSS_IMPORTANCE_SAMPLING:
        r = exp(lp - q); /* d r / d lp = r */
        *dlp = -r * a;
        return -r * a;
    case FWL_LOSS_PPO:
        r = exp(lp - q);
        c = clamp(r, l->clip_low, l->clip_high);
        /* The gradient flows through whichever term the min picks; the clipped term is constant outside
         * [low, high] and equals the unclipped one inside, so only "clipped and smaller" has no gradient. */
        *dlp = (r >= l->clip_low && r <= l->clip_high) || r * a <= c * a ? -r * a : 0.0;
        return -fmin(r * a, c * a);
    case FWL_LOSS_CISPO:
        c = clamp(exp(lp - q), l->clip_low, l->clip_high); /* a constant for the gradient (stop-gradient) */
        *dlp = -c * a;
        return -c * lp * a;
    case FWL_LOSS_DRO:
        *dlp = -(a - l->beta * (lp - q));
        return -(lp * a - 0.5 * l->beta * (lp - q) * (lp - q));
    }
    *dlp = 0.0;
    return NAN;
}

double fwl_loss_token(const fwl_loss *l, double lp, double weight, double q, double a, double *dlp)
{
    if (l->kind == FWL_LOSS_CROSS_ENTROPY) {
        *dlp = -weight;
        return weight * -lp;
    }
    if (weight == 0.0) { /* masked: no value, no gradient (even where the loss itself would be inf) */
        *dlp = 0.0;
        return 0.0;
    }
    if (a == 0.0 && l->kind != FWL_LOSS_DRO) { /* 0 exactly, also where the ratio overflows (inf * 0) */
        *dlp = 0.0;
        return 0.0;
    }
    double v = rl_token(l, lp, q, a, dlp);
    if (weight != 1.0) { /* exactly Tinker's loss without weights */
        *dlp *= weight;
        v *= weight;
    }
    return v;
}
