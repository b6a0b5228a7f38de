/*
 * The training losses fwtrain-local computes, defined the way Tinker documents its built-in losses
 * (docs/protocol.md §4.10). Every loss is a sum over tokens of a function of the token's target logprob
 * lp = log p_theta(target), so the model only needs, per token, the loss value and d loss / d lp;
 * the backward pass (model.c) turns that into weight gradients. With q the sampling logprob
 * (loss_fn_inputs.logprobs), A the advantage, r = exp(lp - q) and w the weight:
 *
 *   cross_entropy        -w * lp
 *   importance_sampling  -r * A
 *   ppo                  -min(r * A, clip(r, clip_low, clip_high) * A)     defaults 0.8 / 1.2
 *   cispo                -sg(clip(r, clip_low, clip_high)) * lp * A        defaults 0.0 / 4.0 (sg: no gradient)
 *   dro                  -(lp * A - beta / 2 * (lp - q)^2)                 default beta 0.1
 *
 * clip_low / clip_high are thresholds on the ratio itself (0.8 means 1 - 0.2), as in Tinker's
 * loss_fn_config keys clip_low_threshold / clip_high_threshold; DRO's key is beta. Tinker's RL losses take no
 * weights; fwtrain-local accepts optional weights for them too and multiplies each token's loss (and gradient)
 * by its weight, so without weights (all 1) they are exactly Tinker's. Pure functions: no allocation, no
 * global state.
 */
#ifndef FWL_LOSS_H
#define FWL_LOSS_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef enum fwl_loss_kind {
    FWL_LOSS_CROSS_ENTROPY,
    FWL_LOSS_IMPORTANCE_SAMPLING,
    FWL_LOSS_PPO,
    FWL_LOSS_CISPO,
    FWL_LOSS_DRO
} fwl_loss_kind;

/* Bits of fwl_loss_inputs(): which loss_fn_inputs (besides target_tokens, always required) a loss reads. */
enum { FWL_LOSS_IN_WEIGHTS = 1, FWL_LOSS_IN_LOGPROBS = 2, FWL_LOSS_IN_ADVANTAGES = 4 };

/* A loss and its configuration. */
typedef struct fwl_loss {
    fwl_loss_kind kind;
    double clip_low, clip_high; /* ppo, cispo: ratio thresholds */
    double beta;                /* dro: weight of the quadratic penalty */
} fwl_loss;

/* The loss called name with its documented defaults. 0 ok, -1 for an unknown name (l untouched). */
int fwl_loss_init(fwl_loss *l, const char *name);
/* "cross_entropy", "importance_sampling", ... */
const char *fwl_loss_name(fwl_loss_kind k);
/* The accepted names, comma-separated (for error messages). */
const char *fwl_loss_names(void);
/* Inputs the loss reads. Every loss: weights, optional (1 when absent); the RL losses also logprobs and
 * advantages, both required. */
unsigned fwl_loss_inputs(fwl_loss_kind k);

/* Applies loss_fn_config (NULL or JSON null = defaults): an object of numbers with only the keys this loss
 * takes (clip_low_threshold / clip_high_threshold for ppo and cispo, beta for dro). Thresholds must satisfy
 * 0 <= low <= high, finite; beta >= 0, finite. 0 ok; -1 with err text naming the key (l may be partly set). */
int fwl_loss_configure(fwl_loss *l, const cJSON *config, char *err, size_t errlen);

/* One token: returns its loss and stores d loss / d lp in *dlp. weight multiplies both (a weight of 0 gives
 * exactly 0, even where the loss would overflow); sampling_lp (q) and advantage (A) are read by the RL losses.
 * Arithmetic in double. */
double fwl_loss_token(const fwl_loss *l, double lp, double weight, double sampling_lp, double advantage, double *dlp);

#endif /* FWL_LOSS_H */
