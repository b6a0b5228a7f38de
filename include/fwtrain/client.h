/**
 * @file
 * libfwtrain — fwt_client: connection settings, credentials, timeouts,
 * retry policy, logging. One client owns one worker thread that drives its
 * asynchronous HTTP traffic (futures), timers and completion callbacks; a
 * blocking call performs its request on the calling thread.
 */
#ifndef FWTRAIN_CLIENT_H
#define FWTRAIN_CLIENT_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Log levels; a message is delivered when its level <= the configured level. */
typedef enum fwt_log_level {
    FWT_LOG_ERROR = 0,
    FWT_LOG_WARN = 1,
    FWT_LOG_INFO = 2,
    FWT_LOG_DEBUG = 3
} fwt_log_level;

/**
 * Log sink. Called from the client's worker or from any thread inside a
 * library call (a blocking call performs its request itself); must not block
 * for long and must not call back into the library. Messages never contain
 * the API key or an Authorization header.
 */
typedef void (*fwt_log_fn)(int level, const char *message, void *payload);

/** Version of fwt_client_options. */
#define FWT_CLIENT_OPTIONS_VERSION 1

/**
 * Client options. Zero / NULL fields take the documented default, which
 * fwt_client_options_init writes. Durations are milliseconds; a
 * *_timeout_ms field set to -1 means no bound.
 */
typedef struct fwt_client_options {
    unsigned int version;          /**< FWT_CLIENT_OPTIONS_VERSION */
    const char *base_url;          /**< control plane; NULL: $FIREWORKS_BASE_URL, else https://api.fireworks.ai */
    const char *api_key;           /**< NULL: $FIREWORKS_API_KEY (required one way or the other) */
    const char *account_id;        /**< NULL: resolved once via GET /v1/accounts?pageSize=2 (docs/protocol.md §1) */
    const char *hotload_base_url;  /**< NULL: base_url (docs/protocol.md §1) */
    const char *inference_base_url;/**< NULL: base_url (docs/protocol.md §1) */
    int32_t allow_insecure_http;   /**< nonzero: allow http:// to non-loopback hosts (default: refuse) */
    int32_t log_level;             /**< fwt_log_level; default FWT_LOG_WARN */
    fwt_log_fn log_fn;             /**< NULL: no logging */
    void *log_payload;             /**< passed to log_fn */
    int64_t connect_timeout_ms;    /**< TCP + TLS connect, per attempt; 0 = 10000, -1 = none */
    int64_t header_timeout_ms;     /**< time to response headers, per attempt; 0 = 45000 (docs/protocol.md §4.2), -1 = none */
    int64_t body_timeout_ms;       /**< time to read the body after headers; 0 = 45000 (docs/protocol.md §4.2), -1 = none */
    int64_t retry_base_ms;         /**< first backoff ceiling; default 1000 */
    int64_t retry_cap_ms;          /**< backoff ceiling cap; default 30000 (docs/protocol.md §2.3) */
    int64_t retry_budget_ms;       /**< total time one logical request may spend retrying; default 300000 */
    int64_t max_response_bytes;    /**< response size cap; default 64 MiB */
    int64_t heartbeat_interval_ms; /**< session heartbeat; default 10000 (docs/protocol.md §4.1) */
    int64_t poll_floor_ms;         /**< minimum delay before re-polling after a fast try_again/408/5xx; default 100 */
    /**
     * How long one request keeps retrying while the server cannot be reached at all
     * (unknown host, connection refused, connect timeout; a TLS failure is never retried):
     * 0 = the default, 30000; -1 = no separate limit (retry_budget_ms applies); >0 = ms.
     * Once any attempt reaches the server, retry_budget_ms applies. Polls of an operation
     * the server accepted (training results, job, hotload, promotion) keep their own long
     * timeouts and are never cut short by this.
     */
    int64_t unreachable_timeout_ms;
    /**
     * Proxy policy. The API key never crosses a proxy in clear text: plain-http requests
     * never use a proxy (http_proxy / all_proxy are ignored for them), and https requests
     * use one only as a CONNECT tunnel, never sending it the API key.
     * NULL (default): https requests use the environment's proxy (https_proxy, all_proxy,
     * honouring no_proxy); "": never use a proxy; a URL such as "http://proxy:3128": https
     * requests use that proxy, and http:// base URLs are refused by fwt_client_new.
     */
    const char *proxy;
    /**
     * Admission control of requests made on the client's worker (futures, polls, training
     * ops): at most this many are in flight at once, each holding one connection; the others
     * wait in submission order, holding no connection, and their cancellation and deadlines
     * act while they wait. 0 = the default, 64; > 0 = that many. Blocking calls made on the
     * calling thread are not counted.
     */
    int32_t max_concurrent_requests;
    /**
     * Of those, at most this many to one origin (scheme, host and port), so one busy server
     * leaves room for requests to the others. 0 = the default, three quarters of
     * max_concurrent_requests (48 by default); > 0 = that many (at most max_concurrent_requests).
     */
    int32_t max_requests_per_host;
} fwt_client_options;

/** Fill `opts` with defaults. Returns FWT_EINVAL if `version` is unknown. */
FWT_API int fwt_client_options_init(fwt_client_options *opts, unsigned int version);

/**
 * Create a client and start its worker thread. `opts` may be NULL (all
 * defaults, key from the environment). No network I/O happens here.
 * Errors: FWT_EINVAL (no API key, malformed or non-http(s) URL, http:// to a
 * non-loopback host without allow_insecure_http), FWT_ENOMEM.
 */
FWT_API int fwt_client_new(fwt_client **out, const fwt_client_options *opts);

/**
 * Cancel everything in flight (futures complete with FWT_ECANCELED and their
 * callbacks run), stop the worker, wipe the API key from memory, free.
 * Futures still held by the caller stay valid and must still be freed.
 * Must not be called from a completion callback, nor while another thread
 * is inside a call on this client. NULL is allowed.
 */
FWT_API void fwt_client_free(fwt_client *client);

/** The control-plane base URL in use (borrowed). */
FWT_API const char *fwt_client_base_url(const fwt_client *client);

/**
 * The account id: the configured one, or resolved once with
 * GET /v1/accounts?pageSize=2 and cached (docs/protocol.md §1). Blocking; thread-safe.
 * `*out` is borrowed from the client. Errors: FWT_ENOTFOUND (no account),
 * FWT_EUNSUPPORTED (several accounts), transport/HTTP errors.
 */
FWT_API int fwt_client_account_id(const char **out, fwt_client *client);

/**
 * Deliver `message` to the client's log callback at `level` (an
 * fwt_log_level), as the library's own messages are: nothing happens when
 * the client has no callback or its configured level is below `level`.
 * For layers built on the library (the cookbook) and applications that
 * want one log stream. Thread-safe. NULL client or message is ignored.
 */
FWT_API void fwt_client_log(fwt_client *client, int level, const char *message);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_CLIENT_H */
