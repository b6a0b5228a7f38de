/* The trainer data plane as the rest of the server sees it (trainer.c; its internals are in trainer.h). */
#ifndef FWL_DATAPLANE_H
#define FWL_DATAPLANE_H

#include "request.h"
#include "state.h"

/* /training/v1/rlorTrainerJobs/local/{job}/api/v1/{op} (docs/protocol.md §4). */
void fwl_trainer_route(fwl_server *s, fwl_req *r, fwl_resp *out, const char *job, const char *op);
/* The job was deleted: its sessions and models go (their queued ops fail). */
void fwl_trainer_drop_job(fwl_server *s, const char *job);
void fwl_trainer_shutdown(fwl_server *s);

#endif /* FWL_DATAPLANE_H */
