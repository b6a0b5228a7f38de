/* Helpers shared by the engine tests: a blocking waiter, a fake clock, the responder fixture, a log capture. */
#ifndef FWT_ENGINE_TEST_UTIL_H
#define FWT_ENGINE_TEST_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fwtrain/common.h"
#include "http/engine.h"
#include "responder.h"

/* ---- waiter: collects the completion of one request ---- */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    fwt__http_result *res;
} waiter;

static inline void waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static inline void waiter_destroy(waiter *w)
{
    fwt__http_result_free(w->res);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static inline void waiter_cb(fwt__http_result *res, void *ud)
{
    waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->calls++;
    if (!w->res)
        w->res = res;
    else
        fwt__http_result_free(res);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait up to timeout_ms (real time) for the callback; returns the result or NULL. */
static inline fwt__http_result *waiter_wait(waiter *w, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->calls)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) != 0)
            break;
    fwt__http_result *r = w->res;
    pthread_mutex_unlock(&w->mu);
    return r;
}

static inline int waiter_calls(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->calls;
    pthread_mutex_unlock(&w->mu);
    return n;
}

static inline int under_valgrind(void);

/*
 * Wait like waiter_wait (timeouts x4 under valgrind), but never return while the
 * engine may still call back into `w`: on timeout cancel `id` and wait for the
 * callback, then return NULL so the test fails cleanly instead of leaving the
 * worker a dangling stack pointer.
 */
static inline fwt__http_result *waiter_wait_safe(waiter *w, fwt__engine *e, uint64_t id, int timeout_ms)
{
    if (under_valgrind())
        timeout_ms *= 4;
    fwt__http_result *r = waiter_wait(w, timeout_ms);
    if (waiter_calls(w))
        return r;
    if (e && id)
        fwt__engine_cancel(e, id);
    while (!waiter_calls(w))
        waiter_wait(w, 1000);
    return NULL;
}

/* ---- fake clock: virtual time advanced only by sleep_ms; records every wait ---- */
typedef struct fake_clock {
    pthread_mutex_t mu;
    uint64_t now;
    uint64_t sleeps[256];
    size_t n_sleeps;
    uint64_t rnd;       /* fixed value returned by random_u64 (or a sequence when rnd_seq is set) */
    const uint64_t *rnd_seq;
    size_t rnd_len, rnd_pos;
} fake_clock;

static inline uint64_t fake_now(void *ctx)
{
    fake_clock *c = ctx;
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->now;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static inline void fake_sleep(void *ctx, uint64_t ms)
{
    fake_clock *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->now += ms;
    if (c->n_sleeps < sizeof c->sleeps / sizeof c->sleeps[0])
        c->sleeps[c->n_sleeps++] = ms;
    pthread_mutex_unlock(&c->mu);
}

static inline uint64_t fake_random(void *ctx)
{
    fake_clock *c = ctx;
    pthread_mutex_lock(&c->mu);
    uint64_t v = c->rnd;
    if (c->rnd_seq && c->rnd_len)
        v = c->rnd_seq[c->rnd_pos++ % c->rnd_len];
    pthread_mutex_unlock(&c->mu);
    return v;
}

static inline void fake_clock_init(fake_clock *c, uint64_t start)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->now = start;
}

static inline void fake_clock_destroy(fake_clock *c)
{
    pthread_mutex_destroy(&c->mu);
}

/* Total virtual time slept. */
static inline uint64_t fake_slept(fake_clock *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t t = 0;
    for (size_t i = 0; i < c->n_sleeps; i++)
        t += c->sleeps[i];
    pthread_mutex_unlock(&c->mu);
    return t;
}

static inline fwt__clock fake_clock_iface(fake_clock *c)
{
    fwt__clock k = {fake_now, fake_sleep, fake_random, c};
    return k;
}

static inline uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline int under_valgrind(void)
{
    return getenv("FWT_UNDER_VALGRIND") != NULL;
}

/* An upper bound for "this should be quick", stretched under valgrind. */
static inline uint64_t slack_ms(uint64_t ms)
{
    return under_valgrind() ? ms * 4 : ms;
}

/* ---- fixture: a scripted responder and an engine pointed at it ---- */
typedef struct engine_fx {
    fwt_responder *r;
    fwt__engine *e;
    char *url; /* the responder's /v1/thing?x=1 */
} engine_fx;

/* For cmocka setup functions: 0, or -1 (the test is then reported as failed). */
static inline int engine_fx_start(void **state, const fwt__engine_config *cfg)
{
    engine_fx *f = calloc(1, sizeof *f);
    if (!f || fwt_responder_start(&f->r, NULL, NULL) != 0) {
        free(f);
        return -1;
    }
    f->url = fwt_responder_url(f->r, "/v1/thing?x=1");
    if (!f->url || fwt__engine_new(&f->e, cfg) != FWT_OK) {
        fwt_responder_stop(f->r);
        free(f->url);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int engine_fx_stop(void **state)
{
    engine_fx *f = *state;
    fwt__engine_free(f->e); /* NULL when a test freed it already */
    fwt_responder_stop(f->r);
    free(f->url);
    free(f);
    return 0;
}

/* ---- log capture: an engine log sink that keeps every line ---- */
typedef struct log_cap {
    pthread_mutex_t mu;
    char text[8192];
    size_t len;
    int lines;
} log_cap;

static inline void log_sink(int level, const char *msg, void *ctx)
{
    log_cap *c = ctx;
    (void)level;
    pthread_mutex_lock(&c->mu);
    size_t n = strlen(msg);
    if (c->len + n + 2 < sizeof c->text) {
        memcpy(c->text + c->len, msg, n);
        c->len += n;
        c->text[c->len++] = '\n';
        c->text[c->len] = '\0';
    }
    c->lines++;
    pthread_mutex_unlock(&c->mu);
}

#endif /* FWT_ENGINE_TEST_UTIL_H */
