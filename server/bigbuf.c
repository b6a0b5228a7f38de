/* Weight-sized buffers: see bigbuf.h. Small ones (below FWL_BIG_MIN) come from calloc. */
#include "bigbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define FWL_BIG_MIN ((size_t)1 << 20)
#define FWL_HUGE ((size_t)2 << 20)

static size_t mapped_len(size_t len)
{
    return (len + FWL_HUGE - 1) & ~(FWL_HUGE - 1);
}

void *fwl_big_alloc(size_t len)
{
    if (len == 0)
        return NULL;
    if (len < FWL_BIG_MIN)
        return calloc(1, len);
    size_t ml = mapped_len(len);
    if (ml < len) /* overflow */
        return NULL;
    /* over-map by one huge page and trim both ends so the buffer starts on a 2 MiB boundary */
    uint8_t *raw = mmap(NULL, ml + FWL_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t at = ((uintptr_t)raw + FWL_HUGE - 1) & ~(uintptr_t)(FWL_HUGE - 1);
    uint8_t *p = (uint8_t *)at;
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + ml + FWL_HUGE - (p + ml));
    if (tail)
        munmap(p + ml, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, ml, MADV_HUGEPAGE); /* a hint: without THP (or with it disabled) the pages are simply small */
#endif
    return p;
}

void fwl_big_free(void *p, size_t len)
{
    if (!p)
        return;
    if (len < FWL_BIG_MIN)
        free(p);
    else
        munmap(p, mapped_len(len));
}
