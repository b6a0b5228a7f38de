/* Deployments' serving state (replica.c): each deployment has one replica holding its own copy of the weights,
 * loaded on the background thread (pending -> downloading -> done | error) and persisted so it survives a
 * restart. The hotload routes (hotload.c), deployments (deployments.c) and inference (inference.c) use it. */
#ifndef FWL_REPLICA_H
#define FWL_REPLICA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "state.h"

struct fwl_model;
typedef struct fwl_weights fwl_weights;

/* The deployment's current weights with a reference taken (NULL while it holds none). */
fwl_weights *fwl_replica_weights(fwl_server *s, const char *dep);
/* true while the deployment's replica loads a snapshot (stage pending or downloading) */
bool fwl_replica_loading(fwl_server *s, const char *dep);
const struct fwl_model *fwl_weights_model(const fwl_weights *w);
void fwl_weights_unref(fwl_server *s, fwl_weights *w);

/* The replica rolls: it drops what it holds at once; with pod != NULL (re-attached to another trainer) a new
 * pod comes up after cfg.hotload_ms holding the base weights under identity `pod`; with NULL (scaled to zero,
 * detached) it stays empty until the next load. Any load in flight is superseded. */
void fwl_replica_roll(fwl_server *s, const char *dep, const char *pod);
/* The deployment is gone (deleted, or recreated under the same id). */
void fwl_replica_forget(fwl_server *s, const char *dep);
void fwl_replicas_free(fwl_server *s);

/* Starts loading snapshot `identity` (prev != NULL: incremental over the held snapshot `prev`). A load of the
 * held identity, or of the one already loading, is a no-op. -1 when the deployment is unknown or out of memory. */
int fwl_replica_load(fwl_server *s, const char *dep, const char *identity, const char *prev);
/* Startup: starts again every load a deployment record says was accepted and not finished (`_pendingLoad`). */
void fwl_replica_resume_loads(fwl_server *s);
/* {"replicas": [{current_snapshot_identity, readiness, loading_state{stage, target_snapshot_identity,
 * error_message?}}]} for the hotload status route; NULL when out of memory. */
cJSON *fwl_replica_status(fwl_server *s, const char *dep);

bool fwl_parse_deployment_header(const char *v, char *dep, size_t len);

#endif /* FWL_REPLICA_H */
