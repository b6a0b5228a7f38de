/* Route table: path shape -> handler. Unknown shapes are 404; known shapes with another method are 405. */
#include "route.h"

#include <string.h>

#include "dataplane.h"
#include "deployments.h"
#include "hotload.h"
#include "inference.h"
#include "jobs.h"
#include "promote.h"
#include "shapes.h"
#include "util.h"

/* /v1/accounts... (docs/protocol.md §3) */
static void route_accounts(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    if (r->nseg <= 3) {
        fwl_accounts_route(s, r, out);
        return;
    }
    if (r->nseg >= 4 && !strcmp(r->seg[3], "trainingShapes") &&
        (!strcmp(r->seg[2], FWL_ACCOUNT) || !strcmp(r->seg[2], "fireworks"))) {
        fwl_shapes_route(s, r, out, 4); /* public shapes live under accounts/fireworks */
        return;
    }
    if (strcmp(r->seg[2], FWL_ACCOUNT) != 0) {
        fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "account \"%s\" not found (this server has only accounts/%s)",
                       r->seg[2], FWL_ACCOUNT);
        return;
    }
    const char *coll = r->seg[3];
    if (!strcmp(coll, "rlorTrainerJobs")) {
        fwl_jobs_route(s, r, out, 4);
        return;
    }
    if (!strcmp(coll, "deployments")) {
        fwl_deployments_route(s, r, out, 4);
        return;
    }
    if (!strcmp(coll, "models")) {
        fwl_models_route(s, r, out, 4);
        return;
    }
    if (!strcmp(coll, "operations")) {
        fwl_operations_route(s, r, out, 4);
        return;
    }
    if (!strcmp(coll, "checkpoints") && r->nseg == 5) {
        /* docs/protocol.md §3.6: POST /v1/accounts/{a}/checkpoints/{ckpt}:promote */
        char *colon = strrchr(r->seg[4], ':');
        if (!colon || strcmp(colon, ":promote") != 0) {
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
            return;
        }
        if (strcmp(r->method, "POST") != 0) {
            fwl_resp_error(out, 405, FWL_GRPC_UNIMPLEMENTED, "method %s not allowed on %s", r->method, r->path);
            return;
        }
        *colon = 0;
        fwl_promote_route(s, r, out, NULL, r->seg[4]);
        return;
    }
    fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
}

void fwl_route(fwl_server *s, fwl_req *r, fwl_resp *out)
{
    if (fwl_req_seg_is(r, 0, "v1") && fwl_req_seg_is(r, 1, "accounts")) {
        route_accounts(s, r, out);
        return;
    }
    /* /training/v1/rlorTrainerJobs/{a}/{job}/api/v1/{op} (docs/protocol.md §1, §4) */
    if (fwl_req_seg_is(r, 0, "training") && fwl_req_seg_is(r, 1, "v1") && fwl_req_seg_is(r, 2, "rlorTrainerJobs") && r->nseg == 8 &&
        fwl_req_seg_is(r, 5, "api") && fwl_req_seg_is(r, 6, "v1")) {
        if (s->cfg.no_gateway) {
            /* a gateway that cannot reach the trainer: clients fall back to the job's directRouteHandle */
            fwl_resp_error(out, 503, FWL_GRPC_UNAVAILABLE,
                           "trainer gateway unavailable (fwtrain-local --no-gateway): use the job's directRouteHandle");
            return;
        }
        if (strcmp(r->seg[3], FWL_ACCOUNT) != 0) {
            fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "account \"%s\" not found", r->seg[3]);
            return;
        }
        fwl_trainer_route(s, r, out, r->seg[4], r->seg[7]);
        return;
    }
    /* {directRouteHandle}/api/v1/{op}: the same trainer without the gateway (docs/protocol.md §3.2) */
    if (r->nseg == 5 && fwl_req_seg_is(r, 0, "direct") && fwl_req_seg_is(r, 2, "api") && fwl_req_seg_is(r, 3, "v1")) {
        fwl_trainer_route(s, r, out, r->seg[1], r->seg[4]);
        return;
    }
    /* docs/protocol.md §3.8/§3.9 */
    if (r->nseg == 4 && fwl_req_seg_is(r, 0, "hot_load") && fwl_req_seg_is(r, 1, "v1") && fwl_req_seg_is(r, 2, "models") &&
        fwl_req_seg_is(r, 3, "hot_load")) {
        fwl_hotload_route(s, r, out);
        return;
    }
    /* docs/protocol.md §3.10 */
    if (r->nseg == 3 && fwl_req_seg_is(r, 0, "inference") && fwl_req_seg_is(r, 1, "v1") && fwl_req_seg_is(r, 2, "completions")) {
        fwl_inference_route(s, r, out);
        return;
    }
    fwl_resp_error(out, 404, FWL_GRPC_NOT_FOUND, "no route for %s", r->path);
}
