/**
 * @file
 * libfwtrain cookbook — umbrella header of the orchestration layer: the
 * weight syncer, the checkpoint registry and the checkpointer. The cookbook
 * is built only on the public wire SDK (fwtrain/fwtrain.h includes both).
 */
#ifndef FWTRAIN_COOKBOOK_COOKBOOK_H
#define FWTRAIN_COOKBOOK_COOKBOOK_H

#include "registry.h"
#include "checkpointer.h"
#include "weight_syncer.h"

#endif /* FWTRAIN_COOKBOOK_COOKBOOK_H */
