/*
 * forward / forward_backward input (docs/protocol.md §4.10), parsed and validated once when the op is submitted,
 * then run on the model's worker thread: per-datum logprobs, the loss (loss.h) and its gradient.
 */
#ifndef FWL_FWD_BATCH_H
#define FWL_FWD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "loss.h"
#include "model.h"

/* One Datum: n input tokens and, per position, its target and the loss inputs the loss uses
 * (NULL when the loss does not read them; weights NULL = all 1). */
typedef struct fwl_fwd_datum {
    size_t n;
    int64_t *tokens, *targets;
    float *weights;
    double *logprobs, *advantages;
} fwl_fwd_datum;

typedef struct fwl_fwd_batch {
    fwl_loss loss;
    size_t n;
    fwl_fwd_datum *d;
} fwl_fwd_batch;

/* Parses body.forward_backward_input (backward) or body.forward_input into a new batch (*out, free with
 * fwl_fwd_batch_free). Everything is checked: the loss name and loss_fn_config, chunk types, tokens and
 * targets in 0..255, the inputs the loss needs present, no others, each as long as the datum's tokens,
 * finite numbers. 0 ok; -1 with err text naming the field (*out NULL). */
int fwl_fwd_batch_parse(fwl_fwd_batch **out, const cJSON *body, bool backward, char *err, size_t errlen);
void fwl_fwd_batch_free(fwl_fwd_batch *b);

/* Runs the batch: ForwardBackwardOutput {loss_fn_output_type, loss_fn_outputs: [{logprobs: TensorData}],
 * metrics: {loss:sum, loss:mean, num_tokens:sum}, type}. grad (may be NULL: forward) gets the gradient
 * added. NULL on OOM. */
cJSON *fwl_fwd_batch_run(const fwl_fwd_batch *b, const fwl_model *m, float *grad);

#endif /* FWL_FWD_BATCH_H */
