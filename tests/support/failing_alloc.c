/* Counting allocator that fails one chosen allocation; see failing_alloc.h. */
#include "failing_alloc.h"

#include <stdlib.h>

atomic_long fwt_test_alloc_count;
atomic_long fwt_test_alloc_fail_at;

static int should_fail(void)
{
    long k = atomic_fetch_add(&fwt_test_alloc_count, 1) + 1;
    return atomic_load(&fwt_test_alloc_fail_at) == k;
}

static void *failing_malloc(size_t n, void *ctx)
{
    (void)ctx;
    return should_fail() ? NULL : malloc(n);
}

static void *failing_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    return should_fail() ? NULL : realloc(p, n);
}

static void passthrough_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

fwt_allocator fwt_test_failing_allocator(void)
{
    fwt_allocator a = {FWT_ALLOCATOR_VERSION, failing_malloc, failing_realloc, passthrough_free, NULL};
    return a;
}
