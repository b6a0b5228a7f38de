/* Control-plane routes for deployments (deployments.c, docs/protocol.md §3.7). */
#ifndef FWL_DEPLOYMENTS_H
#define FWL_DEPLOYMENTS_H

#include <stddef.h>

#include "request.h"
#include "state.h"

void fwl_deployments_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);

#endif /* FWL_DEPLOYMENTS_H */
