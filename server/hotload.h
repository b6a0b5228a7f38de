/* The hotload API (hotload.c, docs/protocol.md §3.8, §3.9): POST a snapshot to load, GET the replicas' state. */
#ifndef FWL_HOTLOAD_H
#define FWL_HOTLOAD_H

#include "request.h"
#include "state.h"

void fwl_hotload_route(fwl_server *s, fwl_req *r, fwl_resp *out);

#endif /* FWL_HOTLOAD_H */
