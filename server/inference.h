/* POST /inference/v1/completions (inference.c, protocol §3.10). */
#ifndef FWL_INFERENCE_H
#define FWL_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "request.h"
#include "state.h"
#include "util.h"

/* A validated completions request. */
typedef struct fwl_completion_req {
    char dep[FWL_ID_MAX];  /* from "model": accounts/local/deployments/<id> */
    int64_t *prompt;       /* byte tokens (malloc'd) */
    size_t np;
    long max_tokens;
    double temperature;
    uint64_t seed;
    bool echo, want_lp;
} fwl_completion_req;

/* Parses and validates a completions body (no server state touched: fuzzable). NULL when valid, else the 400
 * message. Call fwl_completion_free either way. */
const char *fwl_completion_parse(const cJSON *body, uint64_t default_seed, fwl_completion_req *q);
void fwl_completion_free(fwl_completion_req *q);

void fwl_inference_route(fwl_server *s, fwl_req *r, fwl_resp *out);

#endif /* FWL_INFERENCE_H */
