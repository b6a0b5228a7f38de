/* The HTTP layer (http.c): libmicrohttpd, body accumulation with a size cap, auth, faults, connection bounds.
 * It knows nothing of routes: the router is passed in. */
#ifndef FWL_HTTP_H
#define FWL_HTTP_H

#include "request.h"
#include "state.h"

typedef void (*fwl_router)(fwl_server *s, fwl_req *r, fwl_resp *out);

/* Binds cfg.host:cfg.port (never shared: no SO_REUSEPORT) and sets s->bound_port; -1 with the reason logged. */
int fwl_http_start(fwl_server *s, fwl_router router);
void fwl_http_stop(fwl_server *s);

#endif /* FWL_HTTP_H */
