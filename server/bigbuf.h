/* Weight-sized buffers (bigbuf.c): zeroed anonymous memory, 2 MiB aligned, with transparent huge pages asked for
 * (madvise MADV_HUGEPAGE; honoured where the kernel allows it). A first touch then costs one fault per 2 MiB
 * instead of one per 4 KiB page, which is most of what a fresh weight-sized buffer used to cost. */
#ifndef FWL_BIGBUF_H
#define FWL_BIGBUF_H

#include <stddef.h>

/* len bytes of zeroes (pages are only materialised when touched); NULL when out of memory or len == 0.
 * Free with fwl_big_free and the same len. */
void *fwl_big_alloc(size_t len);
void fwl_big_free(void *p, size_t len);

#endif /* FWL_BIGBUF_H */
