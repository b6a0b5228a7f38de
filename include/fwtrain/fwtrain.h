/**
 * @file
 * libfwtrain — umbrella header: the wire SDK (one header per module) and
 * the cookbook layer built on it (fwtrain/cookbook/cookbook.h).
 */
#ifndef FWTRAIN_FWTRAIN_H
#define FWTRAIN_FWTRAIN_H

/* the wire SDK */
#include "common.h"
#include "types.h"
#include "client.h"
#include "future.h"
#include "training.h"
#include "jobs.h"
#include "checkpoint_list.h"
#include "deployments.h"
#include "sampling.h"
/* Wire modules added by later work append their #include here. */

/* orchestration and local policy, built on the headers above */
#include "cookbook/cookbook.h"

#endif /* FWTRAIN_FWTRAIN_H */
