/* Ids that are unique within a run and across runs (the epoch differs per run). */
#include "state.h"

#include <stdio.h>

#include "util.h"

void fwl_new_id(fwl_server *s, const char *prefix, char *buf, size_t len)
{
    uint64_t n = (uint64_t)atomic_fetch_add(&s->counter, 1) + 1;
    uint64_t st = n ^ ((uint64_t)s->epoch << 32) ^ (uint64_t)fwl_now_us();
    snprintf(buf, len, "%s%08x-%llu-%04x", prefix, (unsigned)s->epoch, (unsigned long long)n,
             (unsigned)(fwl_rand_u64(&st) & 0xffff));
}
