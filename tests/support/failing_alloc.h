/*
 * A counting allocator for allocation-failure tests (docs/internals.md reliability §7
 * row M1, curl "torture" style): every allocation made through it is counted,
 * and the one whose number equals fwt_test_alloc_fail_at returns NULL.
 */
#ifndef FWT_TEST_FAILING_ALLOC_H
#define FWT_TEST_FAILING_ALLOC_H

#include <stdatomic.h>

#include "fwtrain/common.h"

extern atomic_long fwt_test_alloc_count;   /* allocations (malloc + realloc) seen so far */
extern atomic_long fwt_test_alloc_fail_at; /* 1-based allocation number to fail; 0 = never */

/* The hooks to pass to fwt_set_allocator. */
fwt_allocator fwt_test_failing_allocator(void);

#endif
