/* Server lifecycle (server.c): lock the data dir, create its layout, start the background thread, resume
 * operations, listen; and the orderly stop. */
#ifndef FWL_SERVER_H
#define FWL_SERVER_H

#include "state.h"

int fwl_server_start(fwl_server *s);   /* open + listen, sets s->bound_port; -1 with the reason logged */
void fwl_server_stop(fwl_server *s);

/* Everything but HTTP: lock and lay out the data dir, start the background thread, resume operations. With it
 * a fuzz target or unit test drives requests straight through fwl_route (fwl_req_init + fwl_route +
 * fwl_req_free) without sockets; fwl_server_close undoes it. -1 with the reason logged. */
int fwl_server_open(fwl_server *s);
void fwl_server_close(fwl_server *s);

#endif /* FWL_SERVER_H */
