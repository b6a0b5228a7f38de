/* Internals of the sampling module (sampling.h), shared by src/api/sampling*.c only. */
#ifndef FWT_API_SAMPLING_INTERNAL_H
#define FWT_API_SAMPLING_INTERNAL_H

#include "core/future_impl.h"
#include "core/request.h"
#include "fwtrain/sampling.h"

/* The future result descriptor of fwt_sample (core/future_impl.h): an fwt_completion *. */
extern const fwt__value_type fwt__vt_completion;
#define FWT__VALUE_COMPLETION (&fwt__vt_completion)

/* Defaults of fwt_sample_request (sampling.h documents them). */
#define FWT__SAMPLE_MAX_TOKENS 16
#define FWT__HOTLOAD_RETRY_INTERVAL_MS 5000
#define FWT__HOTLOAD_RETRY_TIMEOUT_MS 60000

/* A validated request, ready to send: what the decoder needs to know about it, plus the wire body. */
typedef struct fwt__sample_spec {
    char *url;                /* {inference}/inference/v1/completions */
    char *deployment_id;
    cJSON *body;
    char idem[37];            /* one X-Idempotency-Key for every attempt of this request */
    int64_t *prompt_tokens;   /* copy of a token prompt, else NULL */
    size_t n_prompt_tokens;
    int32_t n;
    int logprobs, echo;
    int64_t request_timeout_ms; /* resolved: 0 = client default, -1 = none */
    int64_t hl_interval_ms;   /* resolved, > 0 */
    int64_t hl_timeout_ms;    /* resolved: -1 = no limit, else > 0 */
} fwt__sample_spec;

/* Validate `req` and build the spec (sets the last error and returns it on failure). `fn` names the caller. */
int fwt__sample_prepare(fwt__sample_spec *s, fwt_client *c, const char *deployment_id, const fwt_sample_request *req,
                        const char *fn);
void fwt__sample_spec_clear(fwt__sample_spec *s);
/* The engine call of one attempt (borrows from s). */
void fwt__sample_call(const fwt__sample_spec *s, fwt__call *call);
/* True when the status means "the deployment is swapping weights: ask again" (docs/protocol.md §3.9). */
int fwt__sample_hotloading(long http_status);

/* sampling_decode.c: a 200's JSON → completion, checked against what the spec asked for. FWT_EPROTO on any gap. */
int fwt__completion_decode(fwt_completion **out, const cJSON *json, const fwt__sample_spec *s, fwt__err *err);
void fwt__completion_free_v(void *p);

#endif /* FWT_API_SAMPLING_INTERNAL_H */
