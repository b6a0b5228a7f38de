/* libfwtrain — umbrella header: includes every public module. */
#ifndef FWTRAIN_FWTRAIN_H
#define FWTRAIN_FWTRAIN_H

#include "common.h"
#include "client.h"
#include "future.h"
#include "training.h"
#include "jobs.h"
#include "deployments.h"
#include "weight_syncer.h"
#include "checkpoints.h"
#include "sampling.h"
/* Modules added by later work append their #include here. */

#endif /* FWTRAIN_FWTRAIN_H */
