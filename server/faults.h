/* Seeded fault injection (faults.c): parsing --faults and drawing one fault per request. */
#ifndef FWL_FAULTS_H
#define FWL_FAULTS_H

#include <stddef.h>

#include "state.h"

int fwl_faults_parse(fwl_faults *f, const char *spec, char *err, size_t errlen);
typedef enum { FWL_FAULT_NONE, FWL_FAULT_STATUS, FWL_FAULT_DROP, FWL_FAULT_STALL, FWL_FAULT_DRIP, FWL_FAULT_DELAY } fwl_fault_kind;
/* Draws the fault for one request; for FWL_FAULT_STATUS fills status and retry_after. */
fwl_fault_kind fwl_faults_draw(fwl_server *s, const char *path, int *status, int *retry_after_s);

#endif /* FWL_FAULTS_H */
