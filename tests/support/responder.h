/*
 * A scripted HTTP/1.1 test server on 127.0.0.1, for tests that need real sockets.
 *
 * One accept thread plus one thread per connection. Keep-alive is supported
 * (several requests per connection), as are concurrent connections and stalls:
 * a stalled connection never blocks another one nor fwt_responder_stop.
 *
 * What to answer is decided per request, in this order:
 *   1. the handler given to fwt_responder_start (if any);
 *   2. else the next action pushed with fwt_responder_push (consumed in order);
 *   3. else the default action (fwt_responder_set_default), initially a 404
 *      with an empty body.
 *
 * Every request received is recorded (method, path, headers, body, connection
 * id) and can be inspected with fwt_responder_request_copy. A request is
 * counted only together with choosing its answer (one critical section): the
 * Nth request counted gets the Nth queued action, and once
 * fwt_responder_wait_requests sees a request its answer is already decided.
 *
 * Usage:
 *   fwt_responder *r;
 *   fwt_responder_start(&r, NULL, NULL);
 *   fwt_resp_action a = { .status = 503 };
 *   fwt_responder_push(r, &a);
 *   char *url = fwt_responder_url(r, "/v1/x");   // "http://127.0.0.1:PORT/v1/x"
 *   ...
 *   free(url);
 *   fwt_responder_stop(r);
 */
#ifndef FWT_TEST_RESPONDER_H
#define FWT_TEST_RESPONDER_H

#include <stddef.h>

typedef struct fwt_responder fwt_responder;

/** One request as received. Header names keep the case the client sent. */
typedef struct fwt_resp_request {
    char *method;
    char *path;            /**< request target, including the query string */
    char *body;            /**< NUL-terminated copy (the NUL is not counted); never NULL */
    size_t body_len;
    char **header_names;
    char **header_values;  /**< leading/trailing blanks trimmed */
    size_t n_headers;
    int conn_id;           /**< 0-based, in accept order */
    int index;             /**< 0-based, in arrival order across all connections */
} fwt_resp_request;

/**
 * What to answer. Zero-initialise, then set what you need; status 0 means 200.
 * Actions given to fwt_responder_push / _set_default and those a handler
 * fills are deep-copied, so any pointer will do.
 */
typedef struct fwt_resp_action {
    int status;                 /**< 0 = 200 */
    const char *content_type;   /**< NULL = no Content-Type header */
    const char *extra_headers;  /**< raw "Name: value\r\n..." lines, each ending in CRLF; NULL = none */
    const char *body;           /**< NULL = empty */
    size_t body_len;            /**< 0 with a non-NULL body = strlen(body) */
    int delay_headers_ms;       /**< wait before sending anything; -1 = stall until the client goes away or stop */
    int delay_body_ms;          /**< wait between the headers and the body; -1 = stall forever */
    int close_without_response; /**< read the request, then close the connection without a byte */
    int close_after_headers;    /**< send the headers (full Content-Length), then close */
    long advertise_len;         /**< > 0: send Content-Length: advertise_len but only the body, then close */
    int close_connection;       /**< send "Connection: close" and close after the response */
    int chunked;                /**< send the body with Transfer-Encoding: chunked (no Content-Length) */
} fwt_resp_action;

/**
 * Decide the answer to `req`. Runs on a connection thread, serialized with
 * every other handler call of the same responder (no locking needed in
 * `ud` as long as only the handler touches it). Must not block: express
 * stalls with the delay fields. `out` arrives zeroed; its strings are copied
 * when the handler returns, so they need only stay valid during the call.
 */
typedef void (*fwt_resp_handler)(const fwt_resp_request *req, fwt_resp_action *out, void *ud);

/** Start listening on 127.0.0.1 with an ephemeral port. `h` may be NULL. Returns 0 or -1. */
int fwt_responder_start(fwt_responder **out, fwt_resp_handler h, void *ud);

/** The TCP port it listens on. */
int fwt_responder_port(const fwt_responder *r);

/** "http://127.0.0.1:PORT" + path (path may be NULL or ""). Caller frees with free(). */
char *fwt_responder_url(const fwt_responder *r, const char *path);

/** Queue an action (deep-copied) for the next request not answered by a handler. */
void fwt_responder_push(fwt_responder *r, const fwt_resp_action *a);

/** Replace the action used when neither a handler nor a queued action applies (deep-copied). */
void fwt_responder_set_default(fwt_responder *r, const fwt_resp_action *a);

/** Requests received so far (counted once their body has been read and their answer chosen). */
size_t fwt_responder_request_count(fwt_responder *r);

/** Wait until at least n requests arrived or timeout_ms passed. Returns the count. */
size_t fwt_responder_wait_requests(fwt_responder *r, size_t n, int timeout_ms);

/** Deep copy of request i (0-based), or NULL if out of range. Free with fwt_resp_request_free. */
fwt_resp_request *fwt_responder_request_copy(fwt_responder *r, size_t i);

/** Frees a copy from fwt_responder_request_copy. Accepts NULL. */
void fwt_resp_request_free(fwt_resp_request *req);

/** Value of the first header named `name` (case-insensitive), or NULL. Borrowed from req. */
const char *fwt_resp_request_header(const fwt_resp_request *req, const char *name);

/** TCP connections accepted so far. */
int fwt_responder_connection_count(fwt_responder *r);

/** Connections currently open. */
int fwt_responder_open_connections(fwt_responder *r);

/** Closes every connection (stalls included), joins all threads, frees. Accepts NULL. */
void fwt_responder_stop(fwt_responder *r);

#endif /* FWT_TEST_RESPONDER_H */
