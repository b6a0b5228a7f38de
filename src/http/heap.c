/* Min-heap of ops ordered by (due, id): timers fire in time order, ties in submission order. */
#include <stdint.h>
#include <stdlib.h>

#include "http/engine_int.h"

static int before(const fwt__op *a, const fwt__op *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void place(fwt__engine *e, size_t i, fwt__op *op)
{
    e->heap[i] = op;
    op->heap_idx = i;
}

static void sift_up(fwt__engine *e, size_t i)
{
    fwt__op *op = e->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(op, e->heap[p]))
            break;
        place(e, i, e->heap[p]);
        i = p;
    }
    place(e, i, op);
}

static void sift_down(fwt__engine *e, size_t i)
{
    fwt__op *op = e->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const fwt__op *best = op;
        if (l < e->heap_len && before(e->heap[l], best)) {
            m = l;
            best = e->heap[l];
        }
        if (l + 1 < e->heap_len && before(e->heap[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        place(e, i, e->heap[m]);
        i = m;
    }
    place(e, i, op);
}

int fwt__heap_reserve(fwt__engine *e, size_t n)
{
    if (n <= e->heap_cap)
        return 0;
    size_t nc = e->heap_cap ? e->heap_cap : 64;
    while (nc < n)
        nc *= 2;
    fwt__op **nh = fwt__realloc(e->heap, nc * sizeof *nh);
    if (!nh)
        return -1;
    e->heap = nh;
    e->heap_cap = nc;
    return 0;
}

int fwt__heap_push(fwt__engine *e, fwt__op *op)
{
    if (fwt__heap_reserve(e, e->heap_len + 1) != 0)
        return -1;
    place(e, e->heap_len++, op);
    sift_up(e, op->heap_idx);
    return 0;
}

void fwt__heap_remove(fwt__engine *e, fwt__op *op)
{
    size_t i = op->heap_idx;
    if (i == SIZE_MAX || i >= e->heap_len || e->heap[i] != op)
        return;
    op->heap_idx = SIZE_MAX;
    e->heap_len--;
    if (i == e->heap_len)
        return;
    fwt__op *moved = e->heap[e->heap_len];
    place(e, i, moved);
    sift_up(e, i);
    if (moved->heap_idx == i)
        sift_down(e, i);
}

void fwt__heap_update(fwt__engine *e, fwt__op *op, uint64_t due)
{
    fwt__heap_remove(e, op);
    op->due = due;
    if (fwt__heap_push(e, op) != 0)
        op->heap_idx = SIZE_MAX;
}

fwt__op *fwt__heap_peek(const fwt__engine *e)
{
    return e->heap_len ? e->heap[0] : NULL;
}

fwt__op *fwt__heap_pop(fwt__engine *e)
{
    fwt__op *top = fwt__heap_peek(e);
    if (top)
        fwt__heap_remove(e, top);
    return top;
}
