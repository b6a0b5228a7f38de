/* The route table (route.c): path shape -> handler. */
#ifndef FWL_ROUTE_H
#define FWL_ROUTE_H

#include "request.h"
#include "state.h"

/* Routes one authenticated request; always fills out. The fwl_router passed to fwl_http_start. */
void fwl_route(fwl_server *s, fwl_req *r, fwl_resp *out);

#endif /* FWL_ROUTE_H */
