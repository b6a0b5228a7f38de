/* The one backoff (see backoff.h). */
#include "backoff.h"

void fwt__backoff_init(fwt__backoff *b, int64_t initial_ms, int64_t cap_ms, int32_t jitter_pct)
{
    b->initial_ms = initial_ms > 0 ? initial_ms : 1;
    b->cap_ms = cap_ms > b->initial_ms ? cap_ms : b->initial_ms;
    b->jitter_pct = jitter_pct < 0 ? 0 : jitter_pct > 100 ? 100 : jitter_pct;
    b->ceiling_ms = b->initial_ms;
    b->full = 0;
}

void fwt__backoff_init_full(fwt__backoff *b, int64_t initial_ms, int64_t cap_ms)
{
    fwt__backoff_init(b, initial_ms, cap_ms, 100);
    b->full = 1;
}

void fwt__backoff_reset(fwt__backoff *b) { b->ceiling_ms = b->initial_ms; }

void fwt__backoff_advance(fwt__backoff *b)
{
    b->ceiling_ms = b->ceiling_ms >= b->cap_ms / 2 ? b->cap_ms : b->ceiling_ms * 2;
}

int64_t fwt__backoff_next(fwt__backoff *b, uint64_t random)
{
    int64_t c = b->ceiling_ms;
    if (b->full) { /* uniform in [0, c] */
        fwt__backoff_advance(b);
        return (int64_t)(random % ((uint64_t)c + 1));
    }
    /* Take off up to jitter_pct % of the ceiling; 53 random bits are plenty for the fraction. */
    double u = (double)(random >> 11) / 9007199254740992.0; /* [0, 1) */
    int64_t off = (int64_t)((double)c * (double)b->jitter_pct / 100.0 * u);
    int64_t d = c - off;
    fwt__backoff_advance(b);
    return d >= 1 ? d : 1;
}

int64_t fwt__backoff_bound(int64_t delay_ms, int64_t left_ms)
{
    if (left_ms < 0)
        return delay_ms;
    if (left_ms == 0)
        return -1;
    return delay_ms < left_ms ? delay_ms : left_ms;
}
