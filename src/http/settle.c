/*
 * What follows one attempt of a request: log it, then either complete or wait
 * and try again (protocol §2.3, reliability-anchors §1). Shared by the worker
 * (engine.c) and caller-thread runs (direct.c) so both retry exactly alike.
 */
#include <stdio.h>

#include "fwtrain/client.h"
#include "fwtrain/common.h"
#include "http/engine_int.h"

#define FWT__HINT_CLAMP_MS 60000 /* Retry-After honoured up to 60 s (reliability-anchors §1) */

static void log_attempt(fwt__engine *e, const fwt__req *r, const fwt__http_result *res, uint64_t now)
{
    if (!e->log_debug)
        return;
    unsigned long long ms = (unsigned long long)(now - r->attempt_start_ms);
    if (res->status == FWT_OK)
        fwt__engine_logf(e, FWT_LOG_DEBUG, "http %s %s -> %ld (%llu ms, attempt %d)", r->method, r->url_log,
                         res->http_status, ms, r->attempts);
    else
        fwt__engine_logf(e, FWT_LOG_DEBUG, "http %s %s -> error %d: %s (%llu ms, attempt %d)", r->method,
                         r->url_log, res->status, res->message, ms, r->attempts);
}

/* Returns the delay before the next attempt, or -1 when no retry may start. */
static int64_t next_delay(fwt__engine *e, fwt__req *r, int64_t hint, uint64_t now)
{
    const fwt__retry_policy *p = &r->retry;
    if (p->max_attempts > 0 && r->attempts >= p->max_attempts)
        return -1;
    int64_t budget = fwt__retry_budget(p, r->deadline_at ? 1 : 0);
    int64_t elapsed = (int64_t)(now - r->first_attempt_ms);
    if (budget > 0 && elapsed >= budget)
        return -1;
    int64_t delay;
    if (hint >= 0) {
        /* A server asking for more time than we have left will not be ready in time. */
        if (budget > 0 && hint > budget - elapsed)
            return -1;
        if (r->deadline_at && now + (uint64_t)hint >= r->deadline_at)
            return -1;
        delay = hint < FWT__HINT_CLAMP_MS ? hint : FWT__HINT_CLAMP_MS;
    } else {
        uint64_t ceil = fwt__backoff_ceiling(p, r->retry_n);
        delay = (int64_t)(fwt__engine_random(e) % (ceil + 1)); /* full jitter */
    }
    if (budget > 0 && elapsed + delay > budget)
        return -1;
    if (r->deadline_at && now + (uint64_t)delay >= r->deadline_at)
        return -1;
    return delay;
}

int fwt__req_settle(fwt__engine *e, fwt__req *r, fwt__http_result *res, int conn_class, uint64_t now,
                    fwt__http_result **final, int64_t *delay_ms)
{
    *final = NULL;
    *delay_ms = 0;
    if (!res) {
        *final = fwt__result_new_error(FWT_ENOMEM, "out of memory");
        return 1;
    }
    log_attempt(e, r, res, now);
    int retryable = fwt__retry_retryable(&r->retry, res, conn_class);
    if (res->status == FWT_OK && r->should_retry == 0)
        retryable = 0; /* x-should-retry: false */
    if (!retryable) {
        *final = res;
        return 1;
    }
    /* Only this attempt's own response may set the wait (not an older one kept below). */
    int64_t hint = res->status == FWT_OK ? res->retry_after_ms : -1;
    /* Keep the latest HTTP response; a transport error only replaces another error. */
    if (res->status == FWT_OK || !r->last || r->last->status != FWT_OK) {
        fwt__http_result_free(r->last);
        r->last = res;
    } else {
        fwt__http_result_free(res);
    }
    int64_t delay = next_delay(e, r, hint, now);
    if (delay < 0) {
        *final = r->last;
        r->last = NULL;
        return 1;
    }
    r->retry_n++;
    *delay_ms = delay;
    return 0;
}

int fwt__req_timer_outcome(fwt__engine *e, fwt__req *r, uint64_t now, fwt__http_result **res)
{
    char msg[128];
    if (r->deadline_at && now >= r->deadline_at) {
        snprintf(msg, sizeof msg, "deadline exceeded after %d attempt(s)", r->attempts);
        *res = fwt__result_new_error(FWT_ETIMEDOUT, msg);
        if (*res)
            log_attempt(e, r, *res, now);
        return 1;
    }
    if (!r->headers_done)
        snprintf(msg, sizeof msg, "no response headers within %lld ms", (long long)r->header_timeout_ms);
    else
        snprintf(msg, sizeof msg, "response body not complete within %lld ms", (long long)r->body_timeout_ms);
    *res = fwt__result_new_error(FWT_ECONNECT, msg);
    return 0;
}
