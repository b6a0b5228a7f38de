/* Promotion of checkpoints to models, the models collection and long-running operations (promote.c, models.c;
 * docs/protocol.md §3.6). */
#ifndef FWL_PROMOTE_H
#define FWL_PROMOTE_H

#include <stddef.h>

#include "request.h"
#include "state.h"

/* POST .../checkpoints/{ckpt}:promote; job is NULL on the account-level path (the body names the trainer). */
void fwl_promote_route(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *ckpt);
void fwl_models_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
void fwl_operations_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
/* Startup: finishes the async promotions a previous run left not done. */
void fwl_operations_resume(fwl_server *s);

#endif /* FWL_PROMOTE_H */
