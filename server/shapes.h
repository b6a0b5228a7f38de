/* Training shapes (shapes.c, docs/protocol.md §3.1, §3.11): a fixed catalogue the cookbook's shape-based job creation can
 * resolve (GET the shape, its versions, the latest validated version), and what a job created with one takes. */
#ifndef FWL_SHAPES_H
#define FWL_SHAPES_H

#include <stddef.h>

#include "request.h"
#include "state.h"

typedef struct fwl_shape {
    const char *id;
    const char *display_name;
    const char *accelerator_type;
    int accelerator_count;
    int node_count;
    int max_context_length;
    const char *trainer_mode;   /* "LORA_TRAINER" for LoRA-capable shapes */
} fwl_shape;

/* The shape a reference names: "accounts/<a>/trainingShapes/<s>[/versions/<v>]" or a bare id. NULL when unknown
 * or malformed (the version, when given, must exist: every shape has version 1). */
const fwl_shape *fwl_shape_find(const char *ref);
/* GET /v1/accounts/{a}/trainingShapes[/{s}[/versions[/{v}]]] with r->seg[i] the first segment after the collection. */
void fwl_shapes_route(fwl_server *s, fwl_req *r, fwl_resp *out, size_t i);

#endif /* FWL_SHAPES_H */
