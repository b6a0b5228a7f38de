/**
 * @file
 * libfwtrain — sampling: completions from a deployment
 * (POST {inference_base_url}/inference/v1/completions, docs/protocol.md §3.10).
 *
 * One call samples `n` completions of one prompt (text or token ids) from the
 * weights the deployment currently serves, with the sampling logprobs an RL
 * loss needs and, with `echo`, the deployment's logprobs of the prompt itself
 * (to compare with the trainer's). Each call is a future, so hundreds can be
 * in flight on one client; the blocking twin runs on the calling thread.
 *
 * Key, base URL, TLS and retry rules are the client's (fwt_client_options):
 * the inference plane is `inference_base_url`. Requests are retried like
 * every other call (connection errors, 408, 429, 500/502/503/504 within the
 * client's retry budget); on top of that a 404 or 425, which the service
 * answers while a hotload swaps the deployment's weights (docs/protocol.md §3.9), is
 * retried every `hotload_retry_interval_ms` until `hotload_retry_timeout_ms`.
 */
#ifndef FWTRAIN_SAMPLING_H
#define FWTRAIN_SAMPLING_H

#include "client.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The current version of fwt_sample_request (its `version` field). */
#define FWT_SAMPLE_REQUEST_VERSION 1

/**
 * What to sample. Initialise with fwt_sample_request_init (which writes the
 * defaults below), then set the prompt and what you need. Every field is
 * validated before any request is sent: a bad one fails with FWT_EINVAL and
 * fwt_error_last() names it. Arrays and strings are copied by the call.
 */
typedef struct fwt_sample_request {
    unsigned int version;             /**< FWT_SAMPLE_REQUEST_VERSION */
    /** The prompt as text (valid UTF-8, non-empty). Exactly one of prompt_text and prompt_tokens is set. */
    const char *prompt_text;
    /** The prompt as token ids (each in [0, 2^31-1]); n_prompt_tokens > 0. */
    const int64_t *prompt_tokens;
    size_t n_prompt_tokens;           /**< number of prompt_tokens */
    int32_t max_tokens;               /**< tokens to generate per choice; default 16; >= 0 (0 only with echo) */
    int32_t n;                        /**< completions of this prompt; default 1; >= 1 */
    double temperature;               /**< default 1.0; finite, >= 0 (0 = greedy) */
    /**
     * Nucleus sampling; default 1.0 (off); in (0, 1]. top_p and top_k are
     * always sent, so the deployment samples from exactly the distribution
     * asked for (a serving default would otherwise truncate it silently and
     * the sampling logprobs would no longer be the policy's).
     */
    double top_p;
    int32_t top_k;                    /**< keep the k most likely tokens; default 0 (off); >= 0 */
    int32_t logprobs;                 /**< nonzero: per-token logprobs of the sampled tokens; default 0 */
    /**
     * Nonzero: the deployment also returns the prompt (its token ids and, with
     * logprobs, the logprob of each prompt token given the ones before it);
     * default 0. The choices' tokens and logprobs stay the generated ones only.
     */
    int32_t echo;
    int32_t has_seed;                 /**< nonzero: send `seed` (the same seed gives the same samples) */
    int64_t seed;                     /**< in [0, 2^53]; used when has_seed */
    /** Stop sequences (n_stop non-empty UTF-8 strings), or NULL with n_stop 0 (default). */
    const char *const *stop;
    size_t n_stop;                    /**< number of stop strings */
    /** Per attempt, to the response headers and then to the end of the body: 0 = the client's, -1 = none, > 0 ms. */
    int64_t request_timeout_ms;
    /** Wait between retries of a 404/425 (hotload in progress): default (0) 5000 ms; > 0 ms. */
    int64_t hotload_retry_interval_ms;
    /** How long 404/425 answers are retried in all: 0 = 60000 ms (default), -1 = no limit, > 0 ms. */
    int64_t hotload_retry_timeout_ms;
} fwt_sample_request;

/** Fill `req` with the defaults (no prompt). FWT_EINVAL for NULL or an unknown version. */
FWT_API int fwt_sample_request_init(fwt_sample_request *req, unsigned int version);

/** The sampled completions of one request (opaque; free with fwt_completion_free). */
typedef struct fwt_completion fwt_completion;

/**
 * Sample from `deployment_id` (the id, as in fwt_deployment_id; the request
 * names the model "accounts/{account}/deployments/{id}"). The future
 * completes with an fwt_completion (take it with fwt_future_take_completion).
 * A response without a field asked for (a choice, its text, token ids,
 * finish reason, the logprobs when requested, the usage) fails the future
 * with FWT_EPROTO: never a partial result.
 * Errors before any request: FWT_EINVAL (naming the argument), FWT_ENOMEM,
 * and the account lookup's errors (fwt_client_account_id).
 */
FWT_API int fwt_sample(fwt_future **out, fwt_client *client, const char *deployment_id,
                       const fwt_sample_request *req);

/**
 * Blocking twin: the same request performed on the calling thread, waiting
 * at most timeout_ms in all (-1 = no limit; 0 = none either: the request's
 * own timeouts and retry budgets bound it). *out (free with
 * fwt_completion_free) may be NULL to discard the result; it is NULL on
 * failure. The failure's detail is in fwt_error_last(). Must not be called
 * from a completion callback.
 */
FWT_API int fwt_sample_result(fwt_completion **out, fwt_client *client, const char *deployment_id,
                              const fwt_sample_request *req, int64_t timeout_ms);

/**
 * Take the completion of a finished fwt_sample future (once). FWT_OK;
 * FWT_EAGAIN while pending; the failure code if it failed; FWT_EINVAL for
 * NULL or a future of another kind; FWT_ESTATE if already taken.
 */
FWT_API int fwt_future_take_completion(fwt_completion **out, fwt_future *f);

/** Number of choices (= the request's n; 0 for NULL). */
FWT_API size_t fwt_completion_count(const fwt_completion *c);
/**
 * Text of choice i as the deployment returned it (with echo it begins with
 * the prompt's text, as the completions API does). Borrowed; NULL if i is
 * out of range.
 */
FWT_API const char *fwt_completion_text(const fwt_completion *c, size_t i);
/** Generated token ids of choice i (borrowed); *n receives the count. NULL (and *n = 0) if i is out of range. */
FWT_API const int64_t *fwt_completion_tokens(const fwt_completion *c, size_t i, size_t *n);
/**
 * Logprob of each generated token of choice i under the deployment's
 * sampling distribution, one per token (borrowed; *n = the token count).
 * NULL (and *n = 0) unless the request asked for logprobs, or if i is out of range.
 */
FWT_API const float *fwt_completion_logprobs(const fwt_completion *c, size_t i, size_t *n);
/** Why choice i ended: "length", "stop", ... as the deployment said (borrowed). NULL if i is out of range. */
FWT_API const char *fwt_completion_finish_reason(const fwt_completion *c, size_t i);
/**
 * The prompt's token ids (borrowed; *n receives the count): the ones given,
 * or for a text prompt the ones the deployment echoed. NULL (and *n = 0) for
 * a text prompt without echo.
 */
FWT_API const int64_t *fwt_completion_prompt_tokens(const fwt_completion *c, size_t *n);
/**
 * With echo and logprobs: the deployment's logprob of each prompt token given
 * the ones before it, one per prompt token; element 0 is NaN (the first token
 * has no context), so element k + 1 matches element k of the trainer's
 * forward logprobs on the same tokens. Borrowed; NULL (and *n = 0) otherwise.
 */
FWT_API const float *fwt_completion_prompt_logprobs(const fwt_completion *c, size_t *n);
/** Usage as reported: prompt tokens (prompt_tokens) and generated tokens over all choices (completion_tokens). */
FWT_API int fwt_completion_usage(const fwt_completion *c, int64_t *prompt_tokens, int64_t *completion_tokens);
/** Free a completion. NULL is allowed. */
FWT_API void fwt_completion_free(fwt_completion *c);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_SAMPLING_H */
