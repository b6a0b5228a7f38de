/*
 * What follows one attempt of a request: log it, then either complete or wait
 * and try again (docs/protocol.md §2.3, docs/internals.md reliability §1). Shared by the worker
 * (engine.c) and caller-thread runs (direct.c) so both retry exactly alike.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fwtrain/client.h"
#include "fwtrain/common.h"
#include "http/engine_int.h"

#define FWT__HINT_CLAMP_MS 60000 /* Retry-After honoured up to 60 s (docs/internals.md reliability §1) */
#define FWT__LAST_TRY_MS 1000    /* room left for the last attempt inside the unreachable budget */

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

/*
 * What a failed attempt tried and how it failed, without curl's per-attempt timing
 * (curl's "Failed to connect to 127.0.0.1 port 9 after 0 ms" reads as if nothing
 * was waited for), e.g. "connection refused to 127.0.0.1:9".
 */
static void describe_failure(const fwt__req *r, const fwt__http_result *res, char *out, size_t n)
{
    char hp[200];
    fwt__url_host_port(r->url, hp, sizeof hp);
    if (res->status == FWT_OK) {
        snprintf(out, n, "HTTP %ld from %s", res->http_status, hp);
        return;
    }
    switch (res->status == FWT_ECONNECT ? r->last_rc : -1) {
    case CURLE_COULDNT_RESOLVE_HOST: {
        char *colon = strrchr(hp, ':');
        if (colon && hp[0] != '[')
            *colon = '\0';
        snprintf(out, n, "could not resolve host %s", hp);
        return;
    }
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(out, n, "could not resolve the proxy host (for %s)", hp);
        return;
    case CURLE_COULDNT_CONNECT:
        switch (r->last_os_errno) {
        case ECONNREFUSED: snprintf(out, n, "connection refused to %s", hp); return;
        case ETIMEDOUT: snprintf(out, n, "connection timed out to %s", hp); return;
        case ENETUNREACH: snprintf(out, n, "network unreachable for %s", hp); return;
        case EHOSTUNREACH: snprintf(out, n, "host unreachable: %s", hp); return;
        default: snprintf(out, n, "could not connect to %s", hp); return;
        }
    case CURLE_OPERATION_TIMEDOUT:
        if (!r->reached) {
            snprintf(out, n, "connection timed out to %s", hp);
            return;
        }
        break;
    default:
        break;
    }
    /* Two bounded steps: the message, then the host when it fits (a cut keeps the message readable). */
    int k = snprintf(out, n, "%s", res->message);
    if (k >= 0 && (size_t)k + 1 < n)
        snprintf(out + k, n - (size_t)k, " (%s)", hp);
}

/* A transport failure is final: say what was tried, how many attempts and for how long. */
static void final_message(const fwt__req *r, fwt__http_result *res, uint64_t now)
{
    if (res->status != FWT_ECONNECT && res->status != FWT_ETLS && res->status != FWT_ETIMEDOUT)
        return;
    char what[sizeof res->message];
    describe_failure(r, res, what, sizeof what);
    double secs = r->attempts ? (double)(now - r->first_attempt_ms) / 1000.0 : 0.0;
    if (snprintf(res->message, sizeof res->message, "%s after %d attempt%s over %.1f s", what, r->attempts,
                 r->attempts == 1 ? "" : "s", secs) >= (int)sizeof res->message)
        return; /* cut: rare, the head says what failed */
}

/* Every retry is visible at WARN (a default log level shows it): what failed, when the next try is. */
static void log_retry(fwt__engine *e, const fwt__req *r, const char *what, int64_t delay, uint64_t now)
{
    if (!e->log)
        return;
    char *u = r->url_log ? NULL : fwt__url_for_log(r->url);
    const char *url = r->url_log ? r->url_log : u ? u : "(url)";
    fwt__engine_logf(e, FWT_LOG_WARN, "retrying %s %s in %.1f s (attempt %d: %s; %.1f s elapsed)", r->method, url,
                     (double)delay / 1000.0, r->attempts, what, (double)(now - r->first_attempt_ms) / 1000.0);
    fwt__free_mem(u);
}

/* Returns the delay before the next attempt, or -1 when no retry may start. */
static int64_t next_delay(fwt__engine *e, fwt__req *r, int64_t hint, uint64_t now)
{
    const fwt__retry_policy *p = &r->retry;
    if (p->max_attempts > 0 && r->attempts >= p->max_attempts)
        return -1;
    int64_t budget = fwt__retry_budget(p, r->deadline_at ? 1 : 0);
    int64_t elapsed = (int64_t)(now - r->first_attempt_ms);
    if (!r->reached && p->unreachable_ms > 0 && (budget <= 0 || p->unreachable_ms <= budget)) {
        /* Nothing answered yet: the short budget. The last attempt starts FWT__LAST_TRY_MS
         * before its end (its connect timeout is clamped to the time left, transfer.c), so the
         * request ends within the budget and that attempt still has time to resolve and connect. */
        int64_t last_start = p->unreachable_ms > FWT__LAST_TRY_MS ? p->unreachable_ms - FWT__LAST_TRY_MS : 0;
        if (elapsed >= last_start)
            return -1;
        int64_t delay = fwt__backoff_next(&r->backoff, fwt__engine_random(e)); /* full jitter */
        if (elapsed + delay > last_start)
            delay = last_start - elapsed;
        if (r->deadline_at && now + (uint64_t)delay >= r->deadline_at)
            return -1;
        return delay;
    }
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
        fwt__backoff_advance(&r->backoff); /* the hint stood in for this retry's draw */
    } else {
        delay = fwt__backoff_next(&r->backoff, fwt__engine_random(e)); /* full jitter */
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
        final_message(r, res, now);
        *final = res;
        return 1;
    }
    char what[256] = "";
    if (e->log)
        describe_failure(r, res, what, sizeof what); /* before res may be freed below */
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
        final_message(r, *final, now);
        return 1;
    }
    log_retry(e, r, what, delay, now);
    r->retry_n++;
    *delay_ms = delay;
    return 0;
}

int fwt__req_timer_outcome(fwt__engine *e, fwt__req *r, uint64_t now, fwt__http_result **res)
{
    char msg[128];
    if (r->deadline_at && now >= r->deadline_at) {
        *res = fwt__result_new_error(FWT_ETIMEDOUT, "deadline exceeded");
        if (*res) {
            final_message(r, *res, now);
            log_attempt(e, r, *res, now);
        }
        return 1;
    }
    if (!r->headers_done)
        snprintf(msg, sizeof msg, "no response headers within %lld ms", (long long)r->header_timeout_ms);
    else
        snprintf(msg, sizeof msg, "response body not complete within %lld ms", (long long)r->body_timeout_ms);
    *res = fwt__result_new_error(FWT_ECONNECT, msg);
    return 0;
}
