/* POST /inference/v1/completions (inference.c, docs/protocol.md §3.10), sampled by sample.c. */
#ifndef FWL_INFERENCE_H
#define FWL_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "request.h"
#include "sample.h"
#include "state.h"
#include "util.h"

#define FWL_MAX_STOP 16

/* A validated completions request. */
typedef struct fwl_completion_req {
    char dep[FWL_ID_MAX];      /* from "model": accounts/local/deployments/<id> */
    int64_t *prompt;           /* byte tokens (malloc'd) */
    size_t np;
    size_t max_tokens, n;      /* per choice; choices */
    fwl_sample_params sp;      /* temperature, top_p, top_k */
    uint64_t seed;             /* the request's, else default_seed */
    bool echo, want_lp, include_stop;
    fwl_stop stop[FWL_MAX_STOP]; /* stop strings (each malloc'd) */
    size_t nstop;
} fwl_completion_req;

/* Parses and validates a completions body (no server state touched: fuzzable). NULL when valid, else the 400
 * message. default_seed is used when the body names no seed. Call fwl_completion_free either way. */
const char *fwl_completion_parse(const cJSON *body, uint64_t default_seed, fwl_completion_req *q);
void fwl_completion_free(fwl_completion_req *q);

void fwl_inference_route(fwl_server *s, fwl_req *r, fwl_resp *out);

#endif /* FWL_INFERENCE_H */
