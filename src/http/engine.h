/*
 * The HTTP engine: one worker thread per engine driving a curl multi handle.
 * It knows HTTP (methods, headers, deadlines, retries, backoff, size caps),
 * never the Fireworks API: no route names, no JSON.
 *
 * Threading: every callback (request completion, timers) runs on the worker
 * thread. fwt__engine_submit / _post / _cancel are callable from any thread,
 * including the worker itself. fwt__engine_run performs a request on the
 * calling thread instead (any thread but the worker).
 */
#ifndef FWT_HTTP_ENGINE_H
#define FWT_HTTP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fwt__engine fwt__engine;

/**
 * Injectable time and randomness so backoff tests never sleep.
 * now_ms: monotonic milliseconds. sleep_ms: called by the worker when it has
 * nothing to do but wait `ms` for a timer (no transfer in flight, no queued
 * submission), and by a caller-thread run (fwt__engine_run) waiting out a
 * backoff; a fake clock advances itself and returns at once. Being shared,
 * that virtual time also moves for the worker's transfers in flight: a test
 * should not mix both kinds of waits with tight timeouts. NULL fields take the
 * real implementation (CLOCK_MONOTONIC, curl_multi_poll, a seeded xorshift).
 */
typedef struct fwt__clock {
    uint64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, uint64_t ms);
    uint64_t (*random_u64)(void *ctx);
    void *ctx;
} fwt__clock;

typedef void (*fwt__log_sink)(int level, const char *msg, void *ctx);

typedef struct fwt__engine_config {
    fwt__clock clock;
    const char *user_agent;        /* copied; e.g. "libfwtrain/0.1.0" */
    int64_t max_response_bytes;    /* default per request when the spec has 0 */
    fwt__log_sink log;             /* may be NULL; must never be given secrets */
    void *log_ctx;
    int skip_debug_log;            /* nonzero: the sink drops FWT_LOG_DEBUG, so never build those lines */
    int max_pooled_handles;        /* worker easy handles kept for reuse; 0 = max_transfers */
    int max_idle_lanes;            /* caller-thread lanes kept for reuse (fwt__engine_run); 0 = 16 */
    /* Admission control of worker requests: at most max_transfers attempts live in the multi
     * handle (0 = 64), at most max_per_host of them to one origin, scheme://authority (0 = three
     * quarters of max_transfers, at least 1, so one busy origin leaves slots for the others).
     * The rest wait in FIFO order holding no easy handle and no socket; a queued request's
     * deadline and cancellation act at once. Caller-thread runs (fwt__engine_run) are not counted. */
    int max_transfers;
    int max_per_host;
    /* Proxy policy (README "Safety"): plain-http requests never use a proxy (curl is told "" so
     * http_proxy / all_proxy are ignored); https requests use one only as a CONNECT tunnel.
     * NULL: the environment's (https_proxy, all_proxy, no_proxy as curl reads them) for https;
     * "": never a proxy; else this proxy URL for https, and plain-http requests are refused
     * (FWT_EINVAL at submit) since the proxy would see them in clear text. Copied. */
    const char *proxy;
    /* A secret (the API key) that must never be kept from a response: every response header
     * value the engine stores and every transport error text has it replaced by "[REDACTED]"
     * before any cut, so not even a fragment of it survives. NULL = none. Copied, wiped on free. */
    const char *redact;
} fwt__engine_config;

/* Which failures a request retries (docs/protocol.md §2.3). */
enum {
    FWT__RETRY_408 = 1u << 0,
    FWT__RETRY_409 = 1u << 1,
    FWT__RETRY_429 = 1u << 2,
    FWT__RETRY_5XX_COMMON = 1u << 3, /* 500, 502, 503, 504 */
    FWT__RETRY_5XX_ANY = 1u << 4,    /* every 5xx */
    FWT__RETRY_CONN = 1u << 5,       /* connect errors, resets, header/body timeouts */
    FWT__RETRY_EMPTY_400 = 1u << 6   /* 400 with an empty body: proxy rejection (§2.3) */
};

typedef struct fwt__retry_policy {
    uint32_t on;            /* FWT__RETRY_* bits; 0 = single attempt */
    int max_attempts;       /* 0 = unlimited within the budget */
    int64_t base_ms;        /* backoff ceiling for retry n is min(cap, base * 2^n), full jitter */
    int64_t cap_ms;
    int64_t budget_ms;      /* total time from first attempt; no retry starts after it */
    int64_t unreachable_ms; /* tighter budget while no attempt has reached the server (every attempt so
                               far failed to resolve or to connect); 0 = none. The last wait is cut
                               short so the last attempt starts 1 s before the budget ends, and each
                               attempt's connect timeout is clamped to the time left, so the request
                               ends within it. */
} fwt__retry_policy;
/*
 * Retry rules as implemented (src/http/retry.c, settle.c):
 *  - Defaults: base_ms 0 = 500, cap_ms 0 = 30000. budget_ms 0 = no budget, except
 *    when max_attempts and deadline_ms are 0 too: then 300000 (docs/protocol.md §2.3).
 *  - The wait before retry n (n = 0 for the first retry) is uniform[0, min(cap, base*2^n)]
 *    drawn from fwt__clock.random_u64, unless the retryable response carried
 *    retry-after-ms or Retry-After (seconds or HTTP-date, the latter read against the
 *    response's Date header when present): then exactly the hint, clamped to 60 s.
 *    A hint longer than the budget left ends the retries at once (the caller gets
 *    that response, e.g. the 429 with Retry-After: 86400).
 *  - No retry starts when max_attempts is reached, when the budget is spent, or when
 *    the wait would cross the budget or deadline_ms. The request then completes with
 *    the latest HTTP response (status FWT_OK + its http_status) or, if none came,
 *    the latest transport error. "x-should-retry: false" on a response disables
 *    its retry.
 *  - Transport errors: connect/resolve/send/recv/reset/partial body/empty reply and
 *    header or body timeouts are connection-class (FWT_ECONNECT, retried only with
 *    FWT__RETRY_CONN); TLS failures (FWT_ETLS) and the size caps (FWT_ETOOLARGE: the body
 *    cap, and response headers over FWT__MAX_HEADER_BYTES or a header line libcurl refuses)
 *    are never retried. Only deadline_ms yields FWT_ETIMEDOUT.
 *  - unreachable_ms: while no attempt has reached the server (could not resolve, could not
 *    connect, connect timeout), retries stop at that budget instead of budget_ms.
 *  - Every retry is logged at FWT_LOG_WARN ("retrying GET <url> in 1.2 s (attempt 2): ...").
 *    The final transport error says what was tried, how often and for how long, e.g.
 *    "connection refused to 127.0.0.1:9 after 7 attempts over 30.0 s".
 *  - Every attempt sends the same body, headers and X-Idempotency-Key.
 */

typedef struct fwt__http_spec {
    const char *method;                /* "GET", "POST", "PATCH", "DELETE" */
    const char *url;                   /* absolute http(s) URL */
    const char *const *headers;        /* NULL-terminated "Name: value" list; copied */
    const void *body;                  /* copied; NULL with body_len 0 = no body */
    size_t body_len;
    const char *idempotency_key;       /* sent as X-Idempotency-Key on every attempt; NULL = none */
    int64_t connect_timeout_ms;        /* 0 = 10000 */
    int64_t header_timeout_ms;         /* from attempt start to the status line + headers; 0 = none */
    int64_t body_timeout_ms;           /* from headers to the end of the body; 0 = none */
    int64_t deadline_ms;               /* overall, across attempts and backoff, relative to submit; 0 = none */
    int64_t max_response_bytes;        /* 0 = engine default */
    fwt__retry_policy retry;
    int allow_insecure_http;           /* http:// to a non-loopback host allowed */
} fwt__http_spec;

/* Outcome of one logical request (after retries). */
typedef struct fwt__http_result {
    int status;            /* fwt_status: FWT_OK when an HTTP response was received (any code),
                              else FWT_ETIMEDOUT / FWT_ECONNECT / FWT_ETOOLARGE / FWT_ETLS /
                              FWT_ECANCELED / FWT_EINVAL / FWT_ENOMEM */
    long http_status;      /* 0 when no response */
    char *body;            /* NUL-terminated (not counted in body_len); never NULL */
    size_t body_len;
    char *content_type;    /* never NULL ("" when absent) */
    char *request_id;      /* x-request-id response header, "" when absent */
    int64_t retry_after_ms;/* parsed Retry-After / retry-after-ms of the last response, -1 if none */
    int attempts;
    char message[256];     /* transport error text when status != FWT_OK; never holds secrets */
} fwt__http_result;

/*
 * Completion. Runs exactly once on the worker thread. The callback owns
 * `res` and releases it with fwt__http_result_free.
 */
typedef void (*fwt__http_done_fn)(fwt__http_result *res, void *ud);
typedef void (*fwt__task_fn)(void *ud);

int fwt__engine_new(fwt__engine **out, const fwt__engine_config *cfg);
/* Cancels what is in flight (callbacks run with FWT_ECANCELED; fwt__engine_run calls
 * under way return FWT_ECANCELED results), joins the worker, waits until those runs
 * have handed their lanes back, frees. Must not be called on the worker thread, nor
 * while another thread may still enter fwt__engine_submit/_post/_run. */
void fwt__engine_free(fwt__engine *e);

/* Submit a request. *out_id (optional) receives a nonzero id for cancellation.
 * Returns FWT_OK (cb will run) or an error (cb will not run): FWT_EINVAL for a bad
 * spec (unknown method, non-http(s) URL, http:// to a non-loopback host without
 * allow_insecure_http, a "." or ".." path segment (also %2e-encoded; it would address
 * another resource), CR/LF in a header or the idempotency key, negative times),
 * FWT_ENOMEM, FWT_ECANCELED once fwt__engine_free has begun.
 * Safety defaults on every attempt: TLS >= 1.2 with peer and host verification,
 * no redirects followed, the path sent exactly as given (never dot-normalised),
 * protocols http/https only, no signals, no Expect:
 * 100-continue, response size capped in the write callback. Header values are
 * never logged; the DEBUG line per attempt names method, URL without query,
 * status or error, elapsed ms and the attempt number. */
int fwt__engine_submit(fwt__engine *e, const fwt__http_spec *spec, fwt__http_done_fn cb, void *ud, uint64_t *out_id);

/*
 * Perform a request on the calling thread and wait for its outcome: the same
 * validation, attempts, retries, deadlines, safety defaults and logging as
 * fwt__engine_submit, without handing anything to the worker (a sequential
 * call then costs one round trip, not two extra thread wake-ups). The
 * transfer runs on a lane (a private multi handle with its own connection
 * cache, pooled across calls: up to max_idle_lanes kept), so concurrent runs
 * from several threads proceed in parallel and reuse connections.
 * The spec's url and body are used in place (not copied) while the call runs.
 * Returns FWT_OK with *out set (the caller frees it with fwt__http_result_free;
 * its status is FWT_ECANCELED if fwt__engine_free began meanwhile: free wakes
 * the run and waits for its lane); otherwise *out is NULL and the code is
 * one of fwt__engine_submit's, FWT_ESTATE on the worker thread (it would stall
 * every other request) or FWT_ENOMEM when memory ran out along the way.
 * Backoff waits use the engine clock's sleep_ms when given.
 */
int fwt__engine_run(fwt__engine *e, const fwt__http_spec *spec, fwt__http_result **out);

/* Run fn(ud) on the worker after delay_ms (0 = as soon as possible). When the engine is
 * freed first, fn still runs once (so owners can release ud) with fwt__engine_stopping()
 * returning true. *out_id (optional) allows cancellation. Tasks due at the same time
 * run in post order. Posting from a callback during shutdown is accepted (the task
 * runs before fwt__engine_free returns) for up to 1000 drain rounds, so a task that
 * re-posts itself cannot hang the shutdown; after that, and after the worker has
 * exited: FWT_ESTATE (fn will not run). */
int fwt__engine_post(fwt__engine *e, uint64_t delay_ms, fwt__task_fn fn, void *ud, uint64_t *out_id);

/* Cancel a request (its callback runs with FWT_ECANCELED) or a timer (it never runs).
 * Any thread. Unknown, finished or already-running ids are ignored. Returns 1 if
 * something was cancelled, 0 otherwise (the callback ran or is running). */
int fwt__engine_cancel(fwt__engine *e, uint64_t id);

/* True when called on this engine's worker thread. */
int fwt__engine_on_worker(const fwt__engine *e);
/* True when the clock's sleep_ms is injected: the worker then moves (virtual) time whenever it
 * idles, so a sequence of steps whose timing matters must run on the worker, not across threads. */
int fwt__engine_virtual_time(const fwt__engine *e);
/* True while the engine is shutting down. */
int fwt__engine_stopping(const fwt__engine *e);
/* The engine clock, for callers that schedule on the same time base. */
uint64_t fwt__engine_now_ms(const fwt__engine *e);
/* The engine's (injectable) randomness, for callers that draw backoff jitter. */
uint64_t fwt__engine_random(fwt__engine *e);

void fwt__http_result_free(fwt__http_result *res);

/* Parse a Retry-After value (delta-seconds or HTTP-date, relative to now_unix_s) or a
 * retry-after-ms value. Returns -1 when unparseable. Exposed for tests. */
int64_t fwt__parse_retry_after(const char *value, int64_t now_unix_s);
int64_t fwt__parse_retry_after_ms(const char *value);

/* Copy in[0, len) to out (cap bytes with the NUL; cap > 0), every occurrence of
 * secret[0, slen) replaced by "[REDACTED]", stopping when out is full (redact.c). The
 * match is made on the whole input before anything is cut, so a secret straddling the
 * cut leaves no fragment. slen 0 = plain bounded copy. Returns the length written. */
size_t fwt__redact_copy(char *out, size_t cap, const char *in, size_t len, const char *secret, size_t slen);

/* True if the URL's host is a loopback address (127.0.0.0/8, ::1, localhost). */
int fwt__url_is_loopback(const char *url);

#endif /* FWT_HTTP_ENGINE_H */
