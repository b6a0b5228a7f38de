/*
 * The one backoff of the library. Every wait and poll (job readiness,
 * promotion operation, deployment, hotload status, retrieve_future after an
 * error) and the session's capacity (HTTP 402) pause draw their next delay
 * here, so the rule is written once:
 *
 *   ceiling_0 = initial_ms, ceiling_k+1 = min(2 * ceiling_k, cap_ms)
 *   delay_k   = ceiling_k - jitter * ceiling_k * u,   u uniform in [0, 1)
 *
 * jitter 1 takes up to the whole ceiling off (a delay in (0, ceiling]). The
 * engine's request retries use the full-jitter form (fwt__backoff_init_full),
 * uniform in [0, ceiling] (0 = at once; docs/internals.md reliability §1),
 * so clients that failed together do not come back together. The waits
 * use 1/2, so a wait that reached its interval never polls faster than half
 * of it while different waits still spread out. Time and randomness come from the
 * caller (the engine's injectable clock), and a delay is always cut to the
 * caller's deadline (fwt__backoff_bound); cancellation cancels the timer the
 * delay was scheduled on.
 */
#ifndef FWT_UTIL_BACKOFF_H
#define FWT_UTIL_BACKOFF_H

#include <stdint.h>

typedef struct fwt__backoff {
    int64_t initial_ms;  /* first ceiling (> 0) */
    int64_t cap_ms;      /* largest ceiling (>= initial_ms) */
    int32_t jitter_pct;  /* 0..100: how much of the ceiling the draw may take off */
    int32_t full;        /* nonzero: full jitter, uniform in [0, ceiling] (fwt__backoff_init_full) */
    int64_t ceiling_ms;  /* the next draw's ceiling */
} fwt__backoff;

/* Start at initial_ms; values are clamped to sane bounds (initial >= 1, cap >= initial). */
void fwt__backoff_init(fwt__backoff *b, int64_t initial_ms, int64_t cap_ms, int32_t jitter_pct);
/* Full jitter: each draw uniform in [0, ceiling] (random % (ceiling + 1)), ceilings as above. */
void fwt__backoff_init_full(fwt__backoff *b, int64_t initial_ms, int64_t cap_ms);
/* Back to the first ceiling (after a success that ends a run of failures). */
void fwt__backoff_reset(fwt__backoff *b);
/* The next delay, >= 1 ms (full jitter: >= 0); `random` is a uniformly drawn 64-bit value.
 * Advances the ceiling. */
int64_t fwt__backoff_next(fwt__backoff *b, uint64_t random);
/* Advance the ceiling without a draw: a retry that waited out a server's hint instead still
 * counts, so the next computed delay has the ceiling of its retry number. */
void fwt__backoff_advance(fwt__backoff *b);
/*
 * Cut `delay_ms` so it ends at the deadline: `left_ms` is the time left
 * (-1 = no deadline). Returns the delay to sleep, or -1 when no time is
 * left (the caller fails with its own timeout message).
 */
int64_t fwt__backoff_bound(int64_t delay_ms, int64_t left_ms);

#endif /* FWT_UTIL_BACKOFF_H */
