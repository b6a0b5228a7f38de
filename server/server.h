/* Server lifecycle (server.c): lock the data dir, create its layout, start the background thread, resume
 * operations, listen; and the orderly stop. */
#ifndef FWL_SERVER_H
#define FWL_SERVER_H

#include "state.h"

int fwl_server_start(fwl_server *s);   /* binds, sets s->bound_port; -1 with the reason logged */
void fwl_server_stop(fwl_server *s);

#endif /* FWL_SERVER_H */
