/* Control-plane routes for the account and RLOR trainer jobs (jobs.c, docs/protocol.md §1, §3.1–§3.5). */
#ifndef FWL_JOBS_H
#define FWL_JOBS_H

#include <stddef.h>

#include "request.h"
#include "state.h"

/* /v1/accounts/local/rlorTrainerJobs/... with r->seg[i] the first segment after the collection. */
void fwl_jobs_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);
/* /v1/accounts and /v1/accounts/{a} */
void fwl_accounts_route(fwl_server *s, fwl_req *r, fwl_resp *out);

#endif /* FWL_JOBS_H */
