/* Default clock and randomness for the engine; tests inject their own (engine.h fwt__clock). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "fwtrain/client.h"
#include "http/engine_int.h"

static uint64_t real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xorshift64*: jitter only needs to be spread, not secret. */
static uint64_t real_random(void *ctx)
{
    fwt__engine *e = ctx;
    pthread_mutex_lock(&e->rng_mu);
    uint64_t x = e->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    e->rng = x;
    pthread_mutex_unlock(&e->rng_mu);
    return x * UINT64_C(2685821657736338717);
}

void fwt__clock_fill_defaults(fwt__engine *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->rng = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)e;
    if (!e->rng)
        e->rng = UINT64_C(0x9E3779B97F4A7C15);
    e->fake_sleep = e->clock.sleep_ms != NULL;
}

uint64_t fwt__engine_random(fwt__engine *e)
{
    if (e->clock.random_u64)
        return e->clock.random_u64(e->clock.ctx);
    return real_random(e);
}

uint64_t fwt__engine_now_ms(const fwt__engine *e)
{
    if (!e)
        return real_now_ms(NULL);
    if (e->clock.now_ms)
        return e->clock.now_ms(e->clock.ctx);
    return real_now_ms(NULL);
}

void fwt__engine_logf(const fwt__engine *e, int level, const char *fmt, ...)
{
    if (!e || !e->log || (level >= FWT_LOG_DEBUG && !e->log_debug))
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->log(level, buf, e->log_ctx);
}
